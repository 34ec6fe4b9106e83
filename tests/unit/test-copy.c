/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive file copier: sparse copies, the xxh128-z64k digest, failures that leave nothing
 * behind, progress, directory trees. In temporary directories; the out-of-space test mounts
 * a small tmpfs in a private mount namespace (root only, skipped otherwise). With `-m perf`
 * it also times the copier against `cp --sparse=always` (a diagnostic, not a check). */
#define _GNU_SOURCE
#include "copy.h"
#include "ferry-error.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <xxhash.h>

#define KiB 1024ULL
#define MiB (1024ULL * 1024ULL)
#define BLOCK FERRY_DIGEST_BLOCK_SIZE

typedef struct {
    char *dir;
} Fixture;

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    f->dir = g_dir_make_tmp("ferry-copy-XXXXXX", &error);
    g_assert_no_error(error);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    ferry_remove_tree(f->dir);
    g_free(f->dir);
}

static char *path_in(Fixture *f, const char *name)
{
    return g_build_filename(f->dir, name, NULL);
}

/* ------------------------------------------------------------------ building files */

static void fill_random(guchar *buf, gsize len, guint32 seed)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
    for (gsize i = 0; i < len; i++)
        buf[i] = (guchar)g_rand_int(rand);
    /* A random 64 KiB block is never all zeros, but make the start sure anyway. */
    if (len)
        buf[0] |= 1;
}

static void write_at(const char *path, guint64 offset, const void *data, gsize len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pwrite(fd, data, len, (off_t)offset), ==, (gssize)len);
    g_assert_cmpint(close(fd), ==, 0);
}

static void set_size(const char *path, guint64 size)
{
    g_assert_cmpint(truncate(path, (off_t)size), ==, 0);
}

static void write_random_at(const char *path, guint64 offset, gsize len, guint32 seed)
{
    g_autofree guchar *buf = g_malloc(len);
    fill_random(buf, len, seed);
    write_at(path, offset, buf, len);
}

static void write_zeros_at(const char *path, guint64 offset, gsize len)
{
    g_autofree guchar *buf = g_malloc0(len);
    write_at(path, offset, buf, len);
}

/* A 64 MiB (+100 bytes) sparse file: data at the start, an extent at an odd offset with a
 * 1 MiB run of written zeros inside it, an extent spanning several copy chunks, and a
 * trailing hole. */
#define SPARSE_SIZE (64 * MiB + 100)
#define ZERO_RUN_START (11 * MiB)
#define ZERO_RUN_LEN MiB
static void make_sparse(const char *path)
{
    write_random_at(path, 0, MiB, 1);
    write_random_at(path, 10 * MiB + 12345, MiB - 12345, 2);
    write_zeros_at(path, ZERO_RUN_START, ZERO_RUN_LEN);
    write_random_at(path, 12 * MiB, MiB + 777, 3);
    write_random_at(path, 40 * MiB, 9 * MiB + 5, 4);
    set_size(path, SPARSE_SIZE);
}

/* The same content, every zero written. */
static void make_dense_copy_of(const char *sparse, const char *dense)
{
    g_autofree char *content = NULL;
    gsize len;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_get_contents(sparse, &content, &len, &error));
    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(dense, content, (gssize)len, &error));
    g_assert_no_error(error);
}

static guint64 allocated_bytes(const char *path)
{
    struct stat st;
    g_assert_cmpint(stat(path, &st), ==, 0);
    return (guint64)st.st_blocks * 512;
}

static void assert_same_content(const char *a, const char *b)
{
    g_autofree char *ca = NULL, *cb = NULL;
    gsize la, lb;
    g_assert_true(g_file_get_contents(a, &ca, &la, NULL));
    g_assert_true(g_file_get_contents(b, &cb, &lb, NULL));
    g_assert_cmpuint(la, ==, lb);
    g_assert_true(memcmp(ca, cb, la) == 0);
}

static void flip_byte(const char *path, guint64 offset)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    guchar c;
    g_assert_cmpint(pread(fd, &c, 1, (off_t)offset), ==, 1);
    c ^= 0x01;
    g_assert_cmpint(pwrite(fd, &c, 1, (off_t)offset), ==, 1);
    g_assert_cmpint(close(fd), ==, 0);
}

/* The digest as copy.h defines it, the slow way: every block read, holes included. */
static void reference_digest(const char *path, FerryFileDigest *out)
{
    g_autofree char *content = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &content, &len, NULL));
    XXH3_state_t *state = XXH3_createState();
    XXH3_128bits_reset(state);
    static const char zeros[BLOCK];
    out->allocated = 0;
    for (gsize off = 0; off < len; off += BLOCK) {
        gsize n = MIN((gsize)BLOCK, len - off);
        if (memcmp(content + off, zeros, n) == 0)
            continue;
        guint64 index = GUINT64_TO_LE(off / BLOCK);
        XXH3_128bits_update(state, &index, 8);
        XXH3_128bits_update(state, content + off, n);
        out->allocated += n;
    }
    guint64 size = GUINT64_TO_LE((guint64)len);
    XXH3_128bits_update(state, &size, 8);
    XXH128_canonical_t sum;
    XXH128_canonicalFromHash(&sum, XXH3_128bits_digest(state));
    XXH3_freeState(state);
    out->size = len;
    GString *s = g_string_new("xxh128-z64k:");
    for (gsize i = 0; i < sizeof sum.digest; i++)
        g_string_append_printf(s, "%02x", sum.digest[i]);
    g_assert_cmpuint(s->len, ==, FERRY_DIGEST_CHECKSUM_LEN);
    memcpy(out->checksum, s->str, s->len + 1);
    g_string_free(s, TRUE);
}

static void digest_of(const char *path, FerryFileDigest *digest)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_digest_file(path, NULL, NULL, NULL, digest, &error));
    g_assert_no_error(error);
    g_assert_true(ferry_digest_checksum_is_valid(digest->checksum));
}

static void copy_ok(const char *src, const char *dst, FerryFileDigest *digest)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_copy_file(src, dst, 0640, NULL, NULL, NULL, digest, &error));
    g_assert_no_error(error);
}

/* ------------------------------------------------------------------ tests */

/* Fixed vectors computed with the Python recipe in copy.h: the contract, independent of
 * this implementation and of the reference function above. */
static void test_known_answers(Fixture *f, gconstpointer data)
{
    g_autofree char *empty = path_in(f, "empty"), *abc = path_in(f, "abc"), *holes = path_in(f, "holes");
    FerryFileDigest d;
    g_assert_true(g_file_set_contents(empty, "", 0, NULL));
    digest_of(empty, &d);
    g_assert_cmpstr(d.checksum, ==, "xxh128-z64k:2c0a8a99dc147d5445c3b49d035665b2");
    g_assert_true(g_file_set_contents(abc, "abc", 3, NULL));
    digest_of(abc, &d);
    g_assert_cmpstr(d.checksum, ==, "xxh128-z64k:72d438915325008cc367a020cf478187");
    write_at(holes, 131072, "x", 1);
    write_at(holes, 199999, "y", 1);
    digest_of(holes, &d);
    g_assert_cmpstr(d.checksum, ==, "xxh128-z64k:7f7a8028226d37efefa6529b0c48409d");
    g_assert_cmpuint(d.size, ==, 200000);
    g_assert_cmpuint(d.allocated, ==, BLOCK + (200000 - 3 * BLOCK));

    g_assert_true(ferry_digest_checksum_is_valid("xxh128-z64k:7f7a8028226d37efefa6529b0c48409d"));
    g_assert_false(ferry_digest_checksum_is_valid("xxh128-z64k:7F7A8028226D37EFEFA6529B0C48409D"));
    g_assert_false(ferry_digest_checksum_is_valid("xxh128-z64k:7f7a8028226d37efefa6529b0c48409"));
    g_assert_false(ferry_digest_checksum_is_valid("sha256:7f7a8028226d37efefa6529b0c48409d"));
    g_assert_false(ferry_digest_checksum_is_valid(NULL));
}

static void test_sparse_copy(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    make_sparse(src);
    mode_t old_umask = umask(077);
    FerryFileDigest copied, of_src, of_dst, reference;
    copy_ok(src, dst, &copied);
    umask(old_umask);

    assert_same_content(src, dst);
    struct stat st;
    g_assert_cmpint(stat(dst, &st), ==, 0);
    g_assert_cmpuint(st.st_size, ==, SPARSE_SIZE);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0640); /* the umask did not apply */

    /* Holes stayed holes and the written zeros became one. */
    guint64 data_written = MiB + (MiB - 12345) + (MiB + 777) + (9 * MiB + 5);
    g_assert_cmpuint(allocated_bytes(dst), <=, data_written + 4 * BLOCK);
    g_assert_cmpuint(allocated_bytes(dst), <, allocated_bytes(src));
    int fd = open(dst, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(lseek(fd, ZERO_RUN_START, SEEK_HOLE), ==, ZERO_RUN_START);
    g_assert_cmpint(lseek(fd, 20 * MiB, SEEK_DATA), ==, 40 * MiB);
    close(fd);

    digest_of(src, &of_src);
    digest_of(dst, &of_dst);
    reference_digest(src, &reference);
    g_assert_cmpstr(copied.checksum, ==, reference.checksum);
    g_assert_cmpstr(of_src.checksum, ==, reference.checksum);
    g_assert_cmpstr(of_dst.checksum, ==, reference.checksum);
    g_assert_cmpuint(copied.size, ==, SPARSE_SIZE);
    g_assert_cmpuint(copied.allocated, ==, reference.allocated);
    g_assert_cmpuint(of_src.allocated, ==, reference.allocated);
}

/* Whether the file system of @dir can clone files (FICLONE). */
static gboolean has_reflinks(const char *dir)
{
    g_autofree char *a = g_build_filename(dir, "probe-a", NULL), *b = g_build_filename(dir, "probe-b", NULL);
    write_random_at(a, 0, BLOCK, 9);
    int src = open(a, O_RDONLY | O_CLOEXEC), dst = open(b, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    gboolean ok = src >= 0 && dst >= 0 && ioctl(dst, FICLONE, src) == 0;
    close(src);
    close(dst);
    g_unlink(a);
    g_unlink(b);
    return ok;
}

/* On a file system with reflinks the copy is a clone digested from the destination: the same
 * content and digest as a written copy, written zeros made holes, the mode as asked. */
static void test_reflink_clone(Fixture *f, gconstpointer data)
{
    if (!has_reflinks(f->dir)) {
        g_test_skip("the file system of the temporary directory cannot clone files (FICLONE); "
                    "set TMPDIR to a btrfs or XFS (reflink=1) directory to run this test");
        return;
    }
    g_autofree char *src = path_in(f, "src"), *cloned = path_in(f, "cloned"), *written = path_in(f, "written");
    make_sparse(src);
    FerryFileDigest by_clone, by_write, reference;
    copy_ok(src, cloned, &by_clone);
    ferry_copy_set_reflinks(FALSE);
    copy_ok(src, written, &by_write);
    ferry_copy_set_reflinks(TRUE);
    reference_digest(src, &reference);
    assert_same_content(src, cloned);
    g_assert_cmpstr(by_clone.checksum, ==, reference.checksum);
    g_assert_cmpstr(by_write.checksum, ==, reference.checksum);
    g_assert_cmpuint(by_clone.allocated, ==, reference.allocated);
    struct stat st;
    g_assert_cmpint(stat(cloned, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0640);
    int fd = open(cloned, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(lseek(fd, ZERO_RUN_START, SEEK_HOLE), ==, ZERO_RUN_START);
    close(fd);
    /* A flipped byte in the source after the clone does not show in the clone (copy on write). */
    flip_byte(src, 40 * MiB + 3);
    FerryFileDigest after;
    digest_of(cloned, &after);
    g_assert_cmpstr(after.checksum, ==, reference.checksum);
}

static void test_dense_same_digest(Fixture *f, gconstpointer data)
{
    g_autofree char *sparse = path_in(f, "sparse"), *dense = path_in(f, "dense"), *dst = path_in(f, "dst");
    make_sparse(sparse);
    make_dense_copy_of(sparse, dense);
    g_assert_cmpuint(allocated_bytes(dense), >=, SPARSE_SIZE - 4 * KiB);

    FerryFileDigest of_sparse, of_dense, copied;
    digest_of(sparse, &of_sparse);
    digest_of(dense, &of_dense);
    g_assert_cmpstr(of_dense.checksum, ==, of_sparse.checksum);
    g_assert_cmpuint(of_dense.allocated, ==, of_sparse.allocated);

    /* A copy of the dense file is sparse. */
    copy_ok(dense, dst, &copied);
    g_assert_cmpstr(copied.checksum, ==, of_sparse.checksum);
    g_assert_cmpuint(allocated_bytes(dst), <=, 13 * MiB);
    assert_same_content(dense, dst);
}

static void test_flipped_byte(Fixture *f, gconstpointer data)
{
    g_autofree char *path = path_in(f, "file");
    make_sparse(path);
    write_random_at(path, SPARSE_SIZE - 1000, 1000, 5); /* so the last byte is data */
    FerryFileDigest original;
    digest_of(path, &original);

    const guint64 offsets[] = {
        0,                          /* the first byte */
        40 * MiB + 4 * MiB + 3,     /* inside a data extent, past the first copy chunk */
        10 * MiB + 12345,           /* an extent's first byte at an odd offset */
        ZERO_RUN_START + 5,         /* written zeros */
        30 * MiB,                   /* a hole */
        SPARSE_SIZE - 1,            /* the last byte */
    };
    for (gsize i = 0; i < G_N_ELEMENTS(offsets); i++) {
        FerryFileDigest changed, back;
        flip_byte(path, offsets[i]);
        digest_of(path, &changed);
        g_assert_cmpstr(changed.checksum, !=, original.checksum);
        flip_byte(path, offsets[i]);
        digest_of(path, &back);
        g_assert_cmpstr(back.checksum, ==, original.checksum);
    }
}

static void test_size_changes_digest(Fixture *f, gconstpointer data)
{
    g_autofree char *path = path_in(f, "file");
    write_random_at(path, 0, 100 * KiB, 6);
    FerryFileDigest before, longer, much_longer;
    digest_of(path, &before);
    set_size(path, 100 * KiB + 1);
    digest_of(path, &longer);
    set_size(path, 10 * MiB);
    digest_of(path, &much_longer);
    g_assert_cmpstr(longer.checksum, !=, before.checksum);
    g_assert_cmpstr(much_longer.checksum, !=, before.checksum);
    g_assert_cmpstr(much_longer.checksum, !=, longer.checksum);
    /* allocated counts whole non-zero blocks: the second one is now 64 KiB long. */
    g_assert_cmpuint(before.allocated, ==, 100 * KiB);
    g_assert_cmpuint(longer.allocated, ==, 100 * KiB + 1);
    g_assert_cmpuint(much_longer.allocated, ==, 2 * BLOCK);
}

static void test_empty(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    g_assert_true(g_file_set_contents(src, "", 0, NULL));
    FerryFileDigest copied, reference;
    copy_ok(src, dst, &copied);
    reference_digest(src, &reference);
    g_assert_cmpstr(copied.checksum, ==, reference.checksum);
    g_assert_cmpuint(copied.size, ==, 0);
    g_assert_cmpuint(copied.allocated, ==, 0);
    g_assert_true(g_file_test(dst, G_FILE_TEST_IS_REGULAR));
    assert_same_content(src, dst);

    /* All holes: same digest as an empty file of that size written with zeros. */
    g_autofree char *holes = path_in(f, "holes"), *zeros = path_in(f, "zeros"), *holes_copy = path_in(f, "hc");
    g_assert_true(g_file_set_contents(holes, "", 0, NULL));
    set_size(holes, 5 * MiB + 3);
    write_zeros_at(zeros, 0, 5 * MiB + 3);
    FerryFileDigest of_holes, of_zeros;
    digest_of(holes, &of_holes);
    digest_of(zeros, &of_zeros);
    g_assert_cmpstr(of_holes.checksum, ==, of_zeros.checksum);
    copy_ok(zeros, holes_copy, &copied);
    g_assert_cmpuint(allocated_bytes(holes_copy), ==, 0);
    g_assert_cmpuint(copied.allocated, ==, 0);
    assert_same_content(zeros, holes_copy);
}

static void test_odd_size(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    write_random_at(src, 0, 3 * BLOCK + 1000, 7);
    FerryFileDigest copied, reference;
    copy_ok(src, dst, &copied);
    reference_digest(src, &reference);
    assert_same_content(src, dst);
    g_assert_cmpstr(copied.checksum, ==, reference.checksum);
    g_assert_cmpuint(copied.size, ==, 3 * BLOCK + 1000);
    g_assert_cmpuint(copied.allocated, ==, 3 * BLOCK + 1000);
}

/* The streaming digester, fed in chunks of any size, agrees with the file digest: for data,
 * zero runs inside and across blocks, and a short last block. */
static void test_digester(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src");
    write_random_at(src, 0, 2 * BLOCK + 17, 3);
    write_zeros_at(src, 2 * BLOCK + 17, 3 * BLOCK);
    write_random_at(src, 6 * BLOCK, BLOCK / 2, 4);
    write_random_at(src, 9 * BLOCK + 5, 1000, 5);
    FerryFileDigest reference, streamed;
    reference_digest(src, &reference);
    g_autofree char *content = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(src, &content, &len, NULL));
    const gsize chunks[] = { 1, 7, 4096, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK };
    for (gsize c = 0; c < G_N_ELEMENTS(chunks); c++) {
        FerryDigester *d = ferry_digester_new();
        for (gsize off = 0; off < len; off += chunks[c])
            ferry_digester_update(d, (const guchar *)content + off, MIN(chunks[c], len - off));
        g_assert_cmpuint(ferry_digester_size(d), ==, len);
        ferry_digester_finish(d, &streamed);
        g_assert_cmpstr(streamed.checksum, ==, reference.checksum);
        g_assert_cmpuint(streamed.size, ==, reference.size);
        g_assert_cmpuint(streamed.allocated, ==, reference.allocated);
    }
    /* One flipped byte still changes it. */
    content[6 * BLOCK + 3] ^= 1;
    FerryDigester *d = ferry_digester_new();
    ferry_digester_update(d, (const guchar *)content, len);
    ferry_digester_finish(d, &streamed);
    g_assert_cmpstr(streamed.checksum, !=, reference.checksum);
}

/* With hole detection off every byte is read, but zeros still stay holes in the copy and
 * the digest does not change. */
static void test_without_hole_detection(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    make_sparse(src);
    FerryFileDigest with_holes, copied;
    digest_of(src, &with_holes);

    ferry_copy_set_hole_detection(FALSE);
    guint64 data_bytes = 0, logical = 0;
    g_assert_true(ferry_file_data_size(src, &data_bytes, &logical, NULL));
    copy_ok(src, dst, &copied);
    ferry_copy_set_hole_detection(TRUE);

    g_assert_cmpuint(data_bytes, ==, SPARSE_SIZE);
    g_assert_cmpuint(logical, ==, SPARSE_SIZE);
    g_assert_cmpstr(copied.checksum, ==, with_holes.checksum);
    g_assert_cmpuint(allocated_bytes(dst), <=, 13 * MiB);
    assert_same_content(src, dst);
}

static void test_destination_exists(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    write_random_at(src, 0, MiB, 8);
    g_assert_true(g_file_set_contents(dst, "keep me", -1, NULL));
    g_assert_cmpint(chmod(dst, 0604), ==, 0);

    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_copy_file(src, dst, 0600, NULL, NULL, NULL, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, dst));

    g_autofree char *content = NULL;
    g_assert_true(g_file_get_contents(dst, &content, NULL, NULL));
    g_assert_cmpstr(content, ==, "keep me");
    struct stat st;
    g_assert_cmpint(stat(dst, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0604);
}

static void test_not_regular(Fixture *f, gconstpointer data)
{
    g_autofree char *dst = path_in(f, "dst"), *missing = path_in(f, "missing");
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_copy_file(f->dir, dst, 0600, NULL, NULL, NULL, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_assert_false(g_file_test(dst, G_FILE_TEST_EXISTS));
    g_clear_error(&error);

    FerryFileDigest d;
    g_assert_false(ferry_digest_file(missing, NULL, NULL, NULL, &d, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, missing));
    g_assert_nonnull(strstr(error->message, g_strerror(ENOENT)));
}

typedef struct {
    GArray *calls;              /* guint64 */
    GCancellable *cancel_at_half;
    guint64 half;
    gboolean stop_at_half;
} ProgressLog;

static gboolean log_progress(guint64 done, gpointer user_data)
{
    ProgressLog *log = user_data;
    g_array_append_val(log->calls, done);
    if (log->half && done >= log->half) {
        if (log->cancel_at_half)
            g_cancellable_cancel(log->cancel_at_half);
        if (log->stop_at_half)
            return FALSE;
    }
    return TRUE;
}

static void assert_progress_sane(GArray *calls, guint64 data_bytes)
{
    g_assert_cmpuint(calls->len, >, 0);
    guint64 last = 0;
    for (guint i = 0; i < calls->len; i++) {
        guint64 done = g_array_index(calls, guint64, i);
        g_assert_cmpuint(done, >, last);
        g_assert_cmpuint(done - last, <=, FERRY_COPY_CHUNK);
        last = done;
    }
    g_assert_cmpuint(last, ==, data_bytes);
}

static void test_progress(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    make_sparse(src);
    guint64 data_bytes = 0, logical = 0;
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_file_data_size(src, &data_bytes, &logical, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(logical, ==, SPARSE_SIZE);
    /* At least what was written, at most that rounded out to file system blocks. */
    g_assert_cmpuint(data_bytes, >=, MiB + (MiB - 12345) + ZERO_RUN_LEN + (MiB + 777) + (9 * MiB + 5));
    g_assert_cmpuint(data_bytes, <=, 14 * MiB);

    ProgressLog log = { g_array_new(FALSE, FALSE, sizeof(guint64)) };
    g_assert_true(ferry_copy_file(src, dst, 0600, NULL, log_progress, &log, NULL, &error));
    g_assert_no_error(error);
    assert_progress_sane(log.calls, data_bytes);

    g_array_set_size(log.calls, 0);
    FerryFileDigest d;
    g_assert_true(ferry_digest_file(src, NULL, log_progress, &log, &d, &error));
    assert_progress_sane(log.calls, data_bytes);

    /* Two extents in one 64 KiB block: the second is read with the first, and counted too. */
    g_autofree char *close_extents = path_in(f, "close");
    write_random_at(close_extents, 0, 4 * KiB, 15);
    write_random_at(close_extents, 20 * KiB, 4 * KiB, 16);
    set_size(close_extents, MiB);
    g_assert_true(ferry_file_data_size(close_extents, &data_bytes, NULL, &error));
    g_assert_cmpuint(data_bytes, ==, 8 * KiB);
    g_array_set_size(log.calls, 0);
    g_assert_true(ferry_digest_file(close_extents, NULL, log_progress, &log, &d, &error));
    assert_progress_sane(log.calls, data_bytes);
    g_array_unref(log.calls);
}

static void assert_cancelled_midway(Fixture *f, gboolean by_callback)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    write_random_at(src, 0, 32 * MiB, 9);
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    ProgressLog log = { g_array_new(FALSE, FALSE, sizeof(guint64)), by_callback ? NULL : cancellable, 16 * MiB,
                        by_callback };
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_copy_file(src, dst, 0600, cancellable, log_progress, &log, NULL, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_false(g_file_test(dst, G_FILE_TEST_EXISTS));
    /* It stopped at the next chunk, not at the end. */
    g_assert_cmpuint(log.calls->len, >, 0);
    g_assert_cmpuint(g_array_index(log.calls, guint64, log.calls->len - 1), <, 32 * MiB);
    g_assert_cmpuint(g_array_index(log.calls, guint64, log.calls->len - 1), >=, 16 * MiB);
    g_array_unref(log.calls);
}

static void test_cancel(Fixture *f, gconstpointer data)
{
    assert_cancelled_midway(f, FALSE);
}

static void test_progress_stops(Fixture *f, gconstpointer data)
{
    assert_cancelled_midway(f, TRUE);
}

static void test_cancelled_before(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *dst = path_in(f, "dst");
    write_random_at(src, 0, MiB, 10);
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    g_cancellable_cancel(cancellable);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_copy_file(src, dst, 0600, cancellable, NULL, NULL, NULL, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_false(g_file_test(dst, G_FILE_TEST_EXISTS));
    g_clear_error(&error);
    FerryFileDigest d;
    g_assert_false(ferry_digest_file(src, cancellable, NULL, NULL, &d, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* A small tmpfs in a mount namespace of our own: nobody else sees it, and it goes away with
 * this process even if an assertion fails. */
static gboolean mount_small_tmpfs(const char *dir, char **why)
{
    if (geteuid() != 0) {
        *why = g_strdup("mounting a tmpfs needs root");
        return FALSE;
    }
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m") < 0) {
        *why = g_strdup_printf("cannot mount a tmpfs: %s", g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static void test_no_space(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "src"), *mnt = path_in(f, "small"), *why = NULL;
    g_assert_cmpint(g_mkdir(mnt, 0700), ==, 0);
    if (!mount_small_tmpfs(mnt, &why)) {
        g_test_skip(why);
        return;
    }
    g_autofree char *dst = g_build_filename(mnt, "dst", NULL);
    write_random_at(src, 0, 12 * MiB, 11);
    write_random_at(src, 30 * MiB, 4 * MiB, 12);
    struct statvfs before, after;
    g_assert_cmpint(statvfs(mnt, &before), ==, 0);

    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_copy_file(src, dst, 0600, NULL, NULL, NULL, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    g_test_message("%s", error->message);
    g_assert_nonnull(strstr(error->message, dst));
    g_assert_nonnull(strstr(error->message, "16777216 bytes")); /* what it needed: its data */
    g_assert_false(g_file_test(dst, G_FILE_TEST_EXISTS));
    g_assert_cmpint(statvfs(mnt, &after), ==, 0);
    g_assert_cmpuint(after.f_bfree, ==, before.f_bfree);

    /* The tree copy cleans up the same way. */
    g_autofree char *tree = path_in(f, "tree"), *big = g_build_filename(tree, "big", NULL);
    g_autofree char *tree_dst = g_build_filename(mnt, "tree", NULL);
    g_assert_cmpint(g_mkdir(tree, 0700), ==, 0);
    g_assert_cmpint(link(src, big), ==, 0);
    g_clear_error(&error);
    g_assert_null(ferry_copy_tree(tree, tree_dst, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    g_assert_false(g_file_test(tree_dst, G_FILE_TEST_EXISTS));

    g_assert_cmpint(umount(mnt), ==, 0);
}

static void assert_mode(const char *path, guint mode)
{
    struct stat st;
    g_assert_cmpint(lstat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, mode);
}

/* Like swtpm's state: a directory of a few small private files. */
static void make_tree(Fixture *f, const char *root)
{
    g_autofree char *sub = g_build_filename(root, "tpm2", NULL);
    g_autofree char *deeper = g_build_filename(sub, "empty-dir", NULL);
    g_autofree char *permall = g_build_filename(sub, "tpm2-00.permall", NULL);
    g_autofree char *lock = g_build_filename(sub, ".lock", NULL);
    g_autofree char *top = g_build_filename(root, "top", NULL);
    g_assert_cmpint(g_mkdir(root, 0711), ==, 0);
    g_assert_cmpint(g_mkdir(sub, 0700), ==, 0);
    g_assert_cmpint(g_mkdir(deeper, 0750), ==, 0);
    write_random_at(permall, 0, 100 * KiB + 5, 13);
    g_assert_cmpint(chmod(permall, 0600), ==, 0);
    g_assert_true(g_file_set_contents(lock, "", 0, NULL));
    g_assert_cmpint(chmod(lock, 0640), ==, 0);
    write_random_at(top, 0, 10, 14);
    g_assert_cmpint(chmod(top, 0604), ==, 0);
    g_assert_cmpint(chmod(deeper, 0750), ==, 0);
    g_assert_cmpint(chmod(root, 0711), ==, 0);
}

static void test_tree(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "state"), *dst = path_in(f, "copy");
    make_tree(f, src);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) files = ferry_copy_tree(src, dst, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(files);

    const struct { const char *path; guint mode; } expected[] = {
        { "top", 0604 },
        { "tpm2/.lock", 0640 },
        { "tpm2/tpm2-00.permall", 0600 },
    };
    g_assert_cmpuint(files->len, ==, G_N_ELEMENTS(expected));
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
        FerryTreeFile *file = g_ptr_array_index(files, i);
        g_assert_cmpstr(file->path, ==, expected[i].path);
        g_assert_cmpuint(file->mode, ==, expected[i].mode);
        g_autofree char *in_src = g_build_filename(src, file->path, NULL);
        g_autofree char *in_dst = g_build_filename(dst, file->path, NULL);
        assert_same_content(in_src, in_dst);
        assert_mode(in_dst, expected[i].mode);
        FerryFileDigest reference;
        reference_digest(in_src, &reference);
        g_assert_cmpstr(file->digest.checksum, ==, reference.checksum);
        g_assert_cmpuint(file->digest.size, ==, reference.size);
    }
    assert_mode(dst, 0711);
    g_autofree char *sub = g_build_filename(dst, "tpm2", NULL);
    g_autofree char *deeper = g_build_filename(dst, "tpm2", "empty-dir", NULL);
    assert_mode(sub, 0700);
    assert_mode(deeper, 0750);

    /* An existing destination is refused and left alone. */
    g_autoptr(GPtrArray) again = ferry_copy_tree(src, dst, NULL, &error);
    g_assert_null(again);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_autofree char *still = g_build_filename(dst, "tpm2", "tpm2-00.permall", NULL);
    g_assert_true(g_file_test(still, G_FILE_TEST_IS_REGULAR));
}

static void test_tree_refuses_links(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "state"), *dst = path_in(f, "copy");
    make_tree(f, src);
    g_autofree char *link_path = g_build_filename(src, "tpm2", "zz-link", NULL);
    g_assert_cmpint(symlink("/etc/passwd", link_path), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) files = ferry_copy_tree(src, dst, NULL, &error);
    g_assert_null(files);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, link_path));
    g_assert_false(g_file_test(dst, G_FILE_TEST_EXISTS));
}

static void test_fsync_dir(Fixture *f, gconstpointer data)
{
    g_autofree char *missing = path_in(f, "missing");
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_fsync_dir(f->dir, &error));
    g_assert_no_error(error);
    g_assert_false(ferry_fsync_dir(missing, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, missing));
}

/* What someone else may have put where a file is read: a FIFO would block the thread for
 * ever (alarm() turns that into a failure), a link would be followed to any file of the host. */
static void test_untrusted_sources(Fixture *f, gconstpointer data)
{
    g_autofree char *fifo = path_in(f, "fifo"), *link_path = path_in(f, "link"), *real = path_in(f, "real");
    g_autofree char *dst = path_in(f, "dst");
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    write_random_at(real, 0, 100 * KiB, 21);
    g_assert_cmpint(symlink(real, link_path), ==, 0);
    alarm(20);
    g_autoptr(GError) error = NULL;
    FerryFileDigest d;
    g_assert_false(ferry_digest_file(fifo, NULL, NULL, NULL, &d, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    g_assert_false(ferry_copy_file(fifo, dst, 0600, NULL, NULL, NULL, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    g_assert_false(ferry_digest_file(link_path, NULL, NULL, NULL, &d, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, link_path));
    g_clear_error(&error);
    g_assert_false(ferry_copy_file_nofollow(link_path, dst, 0600, NULL, NULL, NULL, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_assert_false(g_file_test(dst, G_FILE_TEST_EXISTS));
    /* A disk's own path may be a link: the plain copy follows it. */
    g_assert_true(ferry_copy_file(link_path, dst, 0600, NULL, NULL, NULL, NULL, NULL));
    alarm(0);
}

static void test_read_untrusted(Fixture *f, gconstpointer data)
{
    g_autofree char *small = path_in(f, "small"), *big = path_in(f, "big"), *fifo = path_in(f, "fifo");
    g_autofree char *link_path = path_in(f, "link"), *missing = path_in(f, "missing");
    g_assert_true(g_file_set_contents(small, "abc", 3, NULL));
    g_assert_true(g_file_set_contents(big, "", 0, NULL));
    g_assert_cmpint(truncate(big, 2 * MiB), ==, 0);
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_assert_cmpint(symlink(small, link_path), ==, 0);
    alarm(20);
    g_autofree char *data_read = NULL;
    gsize len = 0;
    g_assert_true(ferry_read_untrusted_file(small, 3, &data_read, &len, NULL));
    g_assert_cmpstr(data_read, ==, "abc");
    g_assert_cmpuint(len, ==, 3);
    const struct { const char *path, *problem; } bad[] = {
        { small, "too large" }, /* bound 2 below */
        { big, "too large" },
        { fifo, "not a regular file" },
        { link_path, "symbolic link" },
        { missing, "missing" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *out = NULL;
        g_assert_false(ferry_read_untrusted_file(bad[i].path, i == 0 ? 2 : MiB, &out, NULL, &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
        g_assert_nonnull(strstr(error->message, bad[i].path));
        g_assert_nonnull(strstr(error->message, bad[i].problem));
        g_assert_null(out);
    }
    alarm(0);
}

static void test_tree_owned(Fixture *f, gconstpointer data)
{
    if (geteuid() != 0) {
        g_test_skip("giving files an owner needs root");
        return;
    }
    g_autofree char *src = path_in(f, "state"), *dst = path_in(f, "copy");
    make_tree(f, src);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) files = ferry_copy_tree_owned(src, dst, 65534, 65533, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(files->len, ==, 3);
    const char *paths[] = { "", "tpm2", "tpm2/empty-dir", "top", "tpm2/.lock", "tpm2/tpm2-00.permall" };
    for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_autofree char *in_dst = g_build_filename(dst, paths[i], NULL);
        g_autofree char *in_src = g_build_filename(src, paths[i], NULL);
        struct stat st, orig;
        g_assert_cmpint(lstat(in_dst, &st), ==, 0);
        g_assert_cmpint(lstat(in_src, &orig), ==, 0);
        g_assert_cmpuint(st.st_uid, ==, 65534);
        g_assert_cmpuint(st.st_gid, ==, 65533);
        g_assert_cmpuint(st.st_mode & 07777, ==, orig.st_mode & 07777);
    }
}

/* A link in place of the tree's root or of a directory in it is refused, not walked into. */
static void test_tree_refuses_dir_links(Fixture *f, gconstpointer data)
{
    g_autofree char *src = path_in(f, "state"), *dst = path_in(f, "copy"), *root_link = path_in(f, "root-link");
    make_tree(f, src);
    g_assert_cmpint(symlink(src, root_link), ==, 0);
    g_autoptr(GError) error = NULL;
    g_assert_null(ferry_copy_tree(root_link, dst, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    g_autofree char *sub_link = g_build_filename(src, "etc", NULL);
    g_assert_cmpint(symlink("/etc", sub_link), ==, 0);
    g_assert_null(ferry_copy_tree(src, dst, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_assert_false(g_file_test(dst, G_FILE_TEST_EXISTS));
}

static void test_fsync_tree(Fixture *f, gconstpointer data)
{
    g_autofree char *tree = path_in(f, "state");
    make_tree(f, tree);
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_fsync_tree(tree, &error));
    g_assert_no_error(error);
    g_autofree char *link_path = g_build_filename(tree, "tpm2", "link", NULL);
    g_assert_cmpint(symlink("/etc/passwd", link_path), ==, 0);
    g_assert_false(ferry_fsync_tree(tree, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, link_path));
}

/* Lack of space is NoCapacity for a written file as for a copy; an existing file is never
 * replaced. */
static void test_write_new_file(Fixture *f, gconstpointer data)
{
    g_autofree char *mnt = path_in(f, "small"), *why = NULL, *existing = path_in(f, "existing");
    g_assert_true(g_file_set_contents(existing, "old", -1, NULL));
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_write_new_file(existing, "new", 3, 0640, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_clear_error(&error);
    g_autofree char *fresh = path_in(f, "fresh");
    g_assert_true(ferry_write_new_file(fresh, "new", 3, 0640, &error));
    assert_mode(fresh, 0640);
    g_assert_cmpint(g_mkdir(mnt, 0700), ==, 0);
    if (!mount_small_tmpfs(mnt, &why)) {
        g_test_skip(why);
        return;
    }
    g_autofree char *big = g_build_filename(mnt, "big", NULL);
    gsize size = 9 * MiB;
    g_autofree char *payload = g_malloc(size);
    memset(payload, 'x', size);
    g_assert_false(ferry_write_new_file(big, payload, size, 0640, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    g_assert_nonnull(strstr(error->message, big));
    g_assert_false(g_file_test(big, G_FILE_TEST_EXISTS));
    g_assert_cmpint(ferry_error_code_for_errno(EDQUOT), ==, FERRY_ERROR_NO_CAPACITY);
    g_assert_cmpint(umount(mnt), ==, 0);
}

/* ------------------------------------------------------------------ timing (-m perf) */

static double now(void)
{
    return (double)g_get_monotonic_time() / G_USEC_PER_SEC;
}

/* Cold: the source is not in the page cache; warm: it all is. */
static void prepare_source(const char *path, gboolean cold)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    if (cold) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    } else {
        /* Every data extent read (not with ferry_digest_file: it drops what it read). */
        g_autofree char *buf = g_malloc(FERRY_COPY_CHUNK);
        for (off_t data = 0; (data = lseek(fd, data, SEEK_DATA)) >= 0;) {
            off_t hole = lseek(fd, data, SEEK_HOLE);
            for (ssize_t n; data < hole && (n = pread(fd, buf, MIN(FERRY_COPY_CHUNK, hole - data), data)) > 0;)
                data += n;
        }
    }
    close(fd);
}

static void run_shell(const char *command)
{
    int status;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_command_line_sync(command, NULL, NULL, &status, &error));
    g_assert_no_error(error);
    g_assert_true(g_spawn_check_wait_status(status, NULL));
}

static int compare_doubles(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { CP, CP_SYNC, COPY_DIGEST, COPY_ONLY, DIGEST_ONLY, N_MEASURES };
static const char *const measure_names[] = {
    "cp --sparse=always", "cp --sparse=always + sync", "ferry_copy_file with digest",
    "ferry_copy_file without digest", "ferry_digest_file",
};

static void time_round(const char *src, const char *dst, gboolean cold, double *times)
{
    g_autofree char *cp = g_strdup_printf("cp --sparse=always '%s' '%s'", src, dst);
    g_autofree char *sync_dst = g_strdup_printf("sync '%s'", dst);
    g_autoptr(GError) error = NULL;
    FerryFileDigest d;

    prepare_source(src, cold);
    double t = now();
    run_shell(cp);
    times[CP] = now() - t;
    run_shell(sync_dst);
    times[CP_SYNC] = now() - t;
    g_unlink(dst);
    sync();

    for (int with_digest = 1; with_digest >= 0; with_digest--) {
        prepare_source(src, cold);
        t = now();
        g_assert_true(ferry_copy_file(src, dst, 0600, NULL, NULL, NULL, with_digest ? &d : NULL, &error));
        times[with_digest ? COPY_DIGEST : COPY_ONLY] = now() - t;
        g_unlink(dst);
        sync();
    }

    prepare_source(src, cold);
    t = now();
    g_assert_true(ferry_digest_file(src, NULL, NULL, NULL, &d, &error));
    times[DIGEST_ONLY] = now() - t;
}

/* A 2 GiB sparse file holding 512 MiB of random data (256 extents of 2 MiB, 8 MiB apart).
 * FERRY_COPY_BENCH_DIR picks the file system (default: the temporary directory). */
static void test_perf(Fixture *f, gconstpointer data)
{
    const char *where = g_getenv("FERRY_COPY_BENCH_DIR");
    g_autofree char *dir = where ? g_build_filename(where, "ferry-copy-bench", NULL) : path_in(f, "bench");
    g_autofree char *src = g_build_filename(dir, "src", NULL), *dst = g_build_filename(dir, "dst", NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    for (guint i = 0; i < 256; i++)
        write_random_at(src, i * 8 * MiB, 2 * MiB, 100 + i);
    set_size(src, 2048 * MiB);
    sync();

    enum { ROUNDS = 5 };
    for (int cold = 0; cold <= 1; cold++) {
        double times[N_MEASURES][ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            double one[N_MEASURES];
            time_round(src, dst, cold, one);
            for (int m = 0; m < N_MEASURES; m++)
                times[m][r] = one[m];
        }
        g_test_message("%s source, 2 GiB file with 512 MiB of data, median of %d:", cold ? "cold" : "warm",
                       ROUNDS);
        for (int m = 0; m < N_MEASURES; m++) {
            qsort(times[m], ROUNDS, sizeof(double), compare_doubles);
            g_test_message("  %-32s %6.3f s  %6.0f MB/s of data  (%.2fx cp+sync)", measure_names[m],
                           times[m][ROUNDS / 2], 512 * MiB / times[m][ROUNDS / 2] / 1e6,
                           times[m][ROUNDS / 2] / times[CP_SYNC][ROUNDS / 2]);
        }
    }
    ferry_remove_tree(dir);
}

/* Removing a tree (a partial or a deleted archive) never follows a link out of it: a link
 * to a directory elsewhere, inside the tree or as the tree itself, goes as a link and what
 * it points at stays. */
static void test_remove_tree_links(Fixture *f, gconstpointer data)
{
    g_autofree char *victim = path_in(f, "victim");
    g_autofree char *kept = path_in(f, "victim/keep");
    g_autofree char *tree = path_in(f, "tree");
    g_autofree char *sub = path_in(f, "tree/sub");
    g_autofree char *deep = path_in(f, "tree/sub/deeper");
    g_assert_cmpint(g_mkdir(victim, 0755), ==, 0);
    g_assert_true(g_file_set_contents(kept, "precious", -1, NULL));
    g_assert_cmpint(g_mkdir_with_parents(deep, 0755), ==, 0);
    g_autofree char *file = path_in(f, "tree/sub/file");
    g_assert_true(g_file_set_contents(file, "x", -1, NULL));
    g_autofree char *link_dir = path_in(f, "tree/etc");
    g_autofree char *link_deep = path_in(f, "tree/sub/deeper/etc");
    g_autofree char *link_file = path_in(f, "tree/keep");
    g_assert_cmpint(symlink(victim, link_dir), ==, 0);
    g_assert_cmpint(symlink(victim, link_deep), ==, 0);
    g_assert_cmpint(symlink(kept, link_file), ==, 0);
    ferry_remove_tree(tree);
    g_assert_false(g_file_test(tree, G_FILE_TEST_EXISTS));
    g_assert_true(g_file_test(kept, G_FILE_TEST_IS_REGULAR));

    g_autofree char *tree_link = path_in(f, "tree-link");
    g_assert_cmpint(symlink(victim, tree_link), ==, 0);
    ferry_remove_tree(tree_link);
    GStatBuf st;
    g_assert_cmpint(g_lstat(tree_link, &st), <, 0);
    g_assert_true(g_file_test(kept, G_FILE_TEST_IS_REGULAR));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
    ADD("/copy/known-answers", test_known_answers);
    ADD("/copy/sparse", test_sparse_copy);
    ADD("/copy/dense-same-digest", test_dense_same_digest);
    ADD("/copy/reflink-clone", test_reflink_clone);
    ADD("/copy/flipped-byte", test_flipped_byte);
    ADD("/copy/size-changes-digest", test_size_changes_digest);
    ADD("/copy/empty", test_empty);
    ADD("/copy/odd-size", test_odd_size);
    ADD("/copy/digester", test_digester);
    ADD("/copy/without-hole-detection", test_without_hole_detection);
    ADD("/copy/destination-exists", test_destination_exists);
    ADD("/copy/not-regular", test_not_regular);
    ADD("/copy/progress", test_progress);
    ADD("/copy/cancel", test_cancel);
    ADD("/copy/progress-stops", test_progress_stops);
    ADD("/copy/cancelled-before", test_cancelled_before);
    ADD("/copy/tree", test_tree);
    ADD("/copy/tree-refuses-links", test_tree_refuses_links);
    ADD("/copy/fsync-dir", test_fsync_dir);
    ADD("/copy/no-space", test_no_space);
    ADD("/copy/untrusted-sources", test_untrusted_sources);
    ADD("/copy/read-untrusted", test_read_untrusted);
    ADD("/copy/tree-owned", test_tree_owned);
    ADD("/copy/tree-refuses-dir-links", test_tree_refuses_dir_links);
    ADD("/copy/fsync-tree", test_fsync_tree);
    ADD("/copy/remove-tree-links", test_remove_tree_links);
    ADD("/copy/write-new-file", test_write_new_file);
    if (g_test_perf())
        ADD("/copy/perf", test_perf);
#undef ADD
    return g_test_run();
}
