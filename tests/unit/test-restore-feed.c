/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The memory feed on a scratch archive, read through its FIFO as libvirt reads it: all of it
 * when the image matches and the gate opens; never its last chunk when the digest or size
 * differs, the gate stays shut or the caller cancels; no FIFO to wait on once it stopped; a
 * link in place of the image refused. */
#include "ferry-error.h"
#include "restore-feed.h"
#include "scratch.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define IMAGE_BYTES (3 * 1024 * 1024 + 12345) /* three full chunks and a short one */

typedef struct {
    char *dir;
    char *image;
    guchar *data;
    FerryManifestFile file;
} Fixture;

static void setup(Fixture *f, gconstpointer unused)
{
    f->dir = scratch_dir_new("ferry-feed");
    f->image = g_build_filename(f->dir, "memory.save", NULL);
    f->data = g_malloc(IMAGE_BYTES);
    for (gsize i = 0; i < IMAGE_BYTES; i++)
        f->data[i] = (guchar)(i * 7 + i / 4096);
    g_assert_true(g_file_set_contents(f->image, (const char *)f->data, IMAGE_BYTES, NULL));
    FerryFileDigest digest;
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_digest_file(f->image, NULL, NULL, NULL, &digest, &error));
    f->file = (FerryManifestFile){ .path = "memory.save", .role = FERRY_FILE_MEMORY, .size = digest.size,
                                   .allocated = digest.size, .digest = g_strdup(digest.checksum) };
}

static void teardown(Fixture *f, gconstpointer unused)
{
    scratch_dir_remove(f->dir);
    g_free(f->dir);
    g_free(f->image);
    g_free(f->data);
    g_free(f->file.digest);
}

/* libvirt's side: opens the FIFO and reads to its end. */
typedef struct {
    char *fifo;
    GByteArray *got;
} Reader;

static gpointer reader_thread(gpointer data)
{
    Reader *r = data;
    int fd = open(r->fifo, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    guchar buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        g_byte_array_append(r->got, buf, (guint)n);
    g_assert_cmpint(n, ==, 0);
    close(fd);
    return NULL;
}

static GThread *start_reader(FerryMemoryFeed *feed, Reader *r)
{
    r->fifo = g_strdup(ferry_memory_feed_path(feed));
    r->got = g_byte_array_new();
    return g_thread_new("reader", reader_thread, r);
}

static void reader_clear(Reader *r)
{
    g_free(r->fifo);
    g_byte_array_unref(r->got);
}

static FerryMemoryFeed *start(Fixture *f, GCancellable *cancellable)
{
    g_autofree char *run = g_build_filename(f->dir, "run", NULL);
    g_autoptr(GError) error = NULL;
    FerryMemoryFeed *feed = ferry_memory_feed_start(run, f->dir, "db1-20261203T090000Z", &f->file, cancellable,
                                                    NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(feed);
    return feed;
}

/* What the reader got: a prefix of the image, the whole of it only when @whole. */
static void assert_prefix(Fixture *f, Reader *r, gboolean whole)
{
    g_assert_cmpuint(r->got->len, <=, IMAGE_BYTES);
    g_assert_true(memcmp(r->got->data, f->data, r->got->len) == 0);
    if (whole)
        g_assert_cmpuint(r->got->len, ==, IMAGE_BYTES);
    else
        g_assert_cmpuint(r->got->len, <, IMAGE_BYTES);
}

static void test_whole_when_gate_opens(Fixture *f, gconstpointer unused)
{
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    Reader r;
    GThread *reader = start_reader(feed, &r);
    ferry_memory_feed_open_gate(feed, TRUE);
    g_thread_join(reader);
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_memory_feed_finish(feed, &error));
    g_assert_no_error(error);
    assert_prefix(f, &r, TRUE);
    reader_clear(&r);
}

/* The tail waits for the gate: until then the reader has all but the last chunk at most. */
static void test_tail_waits_for_gate(Fixture *f, gconstpointer unused)
{
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    Reader r;
    GThread *reader = start_reader(feed, &r);
    g_usleep(300 * 1000);
    g_assert_cmpuint(r.got->len, <, IMAGE_BYTES);
    ferry_memory_feed_open_gate(feed, TRUE);
    g_thread_join(reader);
    g_assert_true(ferry_memory_feed_finish(feed, NULL));
    assert_prefix(f, &r, TRUE);
    reader_clear(&r);
}

static void damage(Fixture *f, goffset at)
{
    int fd = open(f->image, O_WRONLY);
    g_assert_cmpint(fd, >=, 0);
    guchar flipped = f->data[at] ^ 0x01;
    g_assert_cmpint(pwrite(fd, &flipped, 1, at), ==, 1);
    close(fd);
}

static void assert_refused(Fixture *f, goffset damaged_at)
{
    damage(f, damaged_at);
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    Reader r;
    GThread *reader = start_reader(feed, &r);
    ferry_memory_feed_open_gate(feed, TRUE);
    g_thread_join(reader);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_memory_feed_finish(feed, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "memory.save"));
    g_assert_cmpuint(r.got->len, <, IMAGE_BYTES);
    reader_clear(&r);
}

/* A flipped byte anywhere, the last chunk's too: the reader never gets the end. */
static void test_bad_byte_early(Fixture *f, gconstpointer unused)
{
    assert_refused(f, 10);
}

static void test_bad_byte_in_tail(Fixture *f, gconstpointer unused)
{
    assert_refused(f, IMAGE_BYTES - 1);
}

static void test_size_differs(Fixture *f, gconstpointer unused)
{
    g_assert_cmpint(truncate(f->image, IMAGE_BYTES - 1), ==, 0);
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    Reader r;
    GThread *reader = start_reader(feed, &r);
    ferry_memory_feed_open_gate(feed, TRUE);
    g_thread_join(reader);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_memory_feed_finish(feed, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_cmpuint(r.got->len, <, IMAGE_BYTES - 1);
    reader_clear(&r);
}

static void test_gate_refused(Fixture *f, gconstpointer unused)
{
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    Reader r;
    GThread *reader = start_reader(feed, &r);
    g_usleep(100 * 1000);
    ferry_memory_feed_open_gate(feed, FALSE);
    g_thread_join(reader);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_memory_feed_finish(feed, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    assert_prefix(f, &r, FALSE);
    reader_clear(&r);
}

/* libvirt failed before it opened the FIFO: the refusal still ends the feed. */
static void test_never_opened(Fixture *f, gconstpointer unused)
{
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    g_autofree char *dir = g_path_get_dirname(ferry_memory_feed_path(feed));
    ferry_memory_feed_open_gate(feed, FALSE);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_memory_feed_finish(feed, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_pointer(&feed, ferry_memory_feed_free);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
}

static void test_caller_cancels(Fixture *f, gconstpointer unused)
{
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_autoptr(FerryMemoryFeed) feed = start(f, cancellable);
    Reader r;
    GThread *reader = start_reader(feed, &r);
    g_cancellable_cancel(cancellable);
    g_thread_join(reader);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_memory_feed_finish(feed, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    assert_prefix(f, &r, FALSE);
    reader_clear(&r);
}

/* The reader goes away mid-stream (QEMU died): the feed waits, and ends when refused. */
static void test_reader_goes_away(Fixture *f, gconstpointer unused)
{
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    int fd = open(ferry_memory_feed_path(feed), O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    guchar buf[4096];
    g_assert_cmpint(read(fd, buf, sizeof buf), ==, sizeof buf);
    close(fd);
    ferry_memory_feed_open_gate(feed, FALSE);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_memory_feed_finish(feed, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* The feed stopped before libvirt opened the FIFO: libvirt finds no FIFO rather than waiting
 * for a writer for ever. */
static void test_opened_after_stop(Fixture *f, gconstpointer unused)
{
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    g_autofree char *fifo = g_strdup(ferry_memory_feed_path(feed));
    ferry_memory_feed_open_gate(feed, FALSE);
    g_assert_false(ferry_memory_feed_finish(feed, NULL));
    int fd = open(fifo, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
}

/* An image smaller than the pipe, fed whole before libvirt opens the FIFO: the feed waits
 * until libvirt read it all. */
static void test_opened_after_whole(Fixture *f, gconstpointer unused)
{
    g_assert_cmpint(truncate(f->image, 4096), ==, 0);
    FerryFileDigest digest;
    g_assert_true(ferry_digest_file(f->image, NULL, NULL, NULL, &digest, NULL));
    g_free(f->file.digest);
    f->file.digest = g_strdup(digest.checksum);
    f->file.size = digest.size;
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    ferry_memory_feed_open_gate(feed, TRUE);
    g_usleep(200 * 1000);
    Reader r;
    GThread *reader = start_reader(feed, &r);
    g_thread_join(reader);
    g_assert_true(ferry_memory_feed_finish(feed, NULL));
    g_assert_cmpuint(r.got->len, ==, 4096);
    g_assert_true(memcmp(r.got->data, f->data, 4096) == 0);
    reader_clear(&r);
}

static void test_link_refused(Fixture *f, gconstpointer unused)
{
    g_autofree char *elsewhere = g_build_filename(f->dir, "elsewhere", NULL);
    g_assert_cmpint(g_rename(f->image, elsewhere), ==, 0);
    g_assert_cmpint(symlink(elsewhere, f->image), ==, 0);
    g_autoptr(FerryMemoryFeed) feed = start(f, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_memory_feed_finish(feed, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/restore-feed/whole-when-gate-opens", test_whole_when_gate_opens);
    ADD("/restore-feed/tail-waits-for-gate", test_tail_waits_for_gate);
    ADD("/restore-feed/bad-byte-early", test_bad_byte_early);
    ADD("/restore-feed/bad-byte-in-tail", test_bad_byte_in_tail);
    ADD("/restore-feed/size-differs", test_size_differs);
    ADD("/restore-feed/gate-refused", test_gate_refused);
    ADD("/restore-feed/never-opened", test_never_opened);
    ADD("/restore-feed/caller-cancels", test_caller_cancels);
    ADD("/restore-feed/reader-goes-away", test_reader_goes_away);
    ADD("/restore-feed/opened-after-stop", test_opened_after_stop);
    ADD("/restore-feed/opened-after-whole", test_opened_after_whole);
    ADD("/restore-feed/link-refused", test_link_refused);
    return g_test_run();
}
