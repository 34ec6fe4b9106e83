/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The memory state fed to libvirt through a verifying pipe (see restore-feed.h). */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include "restore-feed.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy.h"
#include "ferry-error.h"

#define FEED_CHUNK (1u << 20)
#define FEED_PIPE_BYTES (1 << 20)   /* the pipe's buffer, when the system allows it */
#define FEED_DRAIN_POLL_MS 5        /* while libvirt reads the last bytes */

typedef enum { GATE_SHUT, GATE_OPEN, GATE_REFUSED } Gate;

struct _FerryMemoryFeed {
    char *dir;               /* private to root: the FIFO's directory */
    char *fifo;
    char *image;             /* the archive's memory state */
    char *archive_id;        /* for errors */
    FerryManifestFile file;  /* what the image must be (path, size and digest) */
    FerryJobBytesSide progress;
    GCancellable *stop;
    GCancellable *caller;    /* whose cancel stops the feed too */
    gulong caller_link;
    int fifo_fd;             /* the feed's end: read and write, see ferry_memory_feed_start */
    GThread *thread;
    GError *error;
    GMutex lock;             /* guards gate */
    GCond changed;
    Gate gate;
};

static gboolean feed_fail(GError **error, int err, const char *what, const char *path)
{
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot %s %s: %s", what, path, g_strerror(err));
    return FALSE;
}

static gboolean stopped(FerryMemoryFeed *f, GError **error)
{
    return g_cancellable_set_error_if_cancelled(f->stop, error);
}

/* Waits until @fd can be written or the feed is stopped. */
static gboolean wait_writable(FerryMemoryFeed *f, int fd, GError **error)
{
    GPollFD fds[2] = { { .fd = fd, .events = G_IO_OUT } };
    gboolean cancellable = g_cancellable_make_pollfd(f->stop, &fds[1]);
    for (;;) {
        if (stopped(f, error))
            break;
        if (g_poll(fds, cancellable ? 2 : 1, -1) < 0 && errno != EINTR) {
            feed_fail(error, errno, "wait for libvirt to read", f->fifo);
            break;
        }
        if (fds[0].revents & (G_IO_OUT | G_IO_ERR | G_IO_HUP)) {
            if (cancellable)
                g_cancellable_release_fd(f->stop);
            return !stopped(f, error);
        }
    }
    if (cancellable)
        g_cancellable_release_fd(f->stop);
    return FALSE;
}

static gboolean write_all(FerryMemoryFeed *f, int fd, const guchar *data, gsize len, GError **error)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EAGAIN) {
            if (!wait_writable(f, fd, error))
                return FALSE;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return feed_fail(error, errno, "write into", f->fifo);
        data += n;
        len -= (gsize)n;
    }
    return TRUE;
}

static int open_image(FerryMemoryFeed *f, GError **error)
{
    int fd = open(f->image, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        feed_fail(error, err, "open", f->image);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "archive %s: %s is not a regular file", f->archive_id,
                    f->file.path);
        return -1;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return fd;
}

/* Waits until libvirt read everything written (the pipe's bytes would go with the feed's
 * end if it had yet to open it), or the feed is stopped. */
static gboolean drained(FerryMemoryFeed *f, int fd, GError **error)
{
    GPollFD stop;
    gboolean cancellable = g_cancellable_make_pollfd(f->stop, &stop);
    int unread = 0;
    while (ioctl(fd, FIONREAD, &unread) == 0 && unread > 0 && !g_cancellable_is_cancelled(f->stop))
        g_poll(&stop, cancellable ? 1 : 0, FEED_DRAIN_POLL_MS);
    if (cancellable)
        g_cancellable_release_fd(f->stop);
    return !stopped(f, error);
}

/* Reads a chunk into @buf: its length, 0 at the end, -1 on error. */
static gssize read_chunk(FerryMemoryFeed *f, int fd, guchar *buf, GError **error)
{
    gsize got = 0;
    while (got < FEED_CHUNK) {
        ssize_t n = read(fd, buf + got, FEED_CHUNK - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            feed_fail(error, errno, "read", f->image);
            return -1;
        }
        if (n == 0)
            break;
        got += (gsize)n;
    }
    return (gssize)got;
}

static void report(FerryMemoryFeed *f, guint64 fed)
{
    if (f->progress.bytes)
        ferry_job_bytes_side_progress(fed, &f->progress);
}

/* Whether the caller let the tail go: waits for its word or the stop. */
static gboolean gate_opens(FerryMemoryFeed *f, GError **error)
{
    g_mutex_lock(&f->lock);
    while (f->gate == GATE_SHUT && !g_cancellable_is_cancelled(f->stop))
        g_cond_wait(&f->changed, &f->lock);
    Gate gate = f->gate;
    g_mutex_unlock(&f->lock);
    if (stopped(f, error))
        return FALSE;
    if (gate != GATE_OPEN) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the memory state was held back");
        return FALSE;
    }
    return TRUE;
}

/* Everything but the last chunk goes out as it is digested; the last one only once the whole
 * image matched its manifest and the gate opened. */
static gboolean feed(FerryMemoryFeed *f, int image, int fifo, GError **error)
{
    g_autofree guchar *held = g_malloc(FEED_CHUNK);
    g_autofree guchar *next = g_malloc(FEED_CHUNK);
    g_autoptr(FerryDigester) digester = ferry_digester_new();
    gssize held_len = read_chunk(f, image, held, error);
    if (held_len < 0)
        return FALSE;
    ferry_digester_update(digester, held, (gsize)held_len);
    for (;;) {
        gssize n = read_chunk(f, image, next, error);
        if (n < 0)
            return FALSE;
        if (n == 0)
            break;
        ferry_digester_update(digester, next, (gsize)n);
        if (ferry_digester_size(digester) > f->file.size)
            break; /* longer than the manifest says: read no further, refused below */
        if (!write_all(f, fifo, held, (gsize)held_len, error))
            return FALSE;
        report(f, ferry_digester_size(digester) - (guint64)n);
        guchar *swap = held;
        held = next;
        next = swap;
        held_len = n;
    }
    FerryFileDigest digest;
    ferry_digester_finish(g_steal_pointer(&digester), &digest);
    if (!ferry_manifest_file_matches(&f->file, &digest, f->archive_id, error) || !gate_opens(f, error) ||
        !write_all(f, fifo, held, (gsize)held_len, error) || !drained(f, fifo, error))
        return FALSE;
    report(f, digest.size);
    return TRUE;
}

static gpointer feed_thread(gpointer data)
{
    FerryMemoryFeed *f = data;
    int image = open_image(f, &f->error);
    if (image >= 0) {
        feed(f, image, f->fifo_fd, &f->error);
        close(image);
    }
    /* The only writer goes: libvirt reads the end of the stream, short when the feed failed
     * (QEMU's load fails then). The name first, so that a libvirt that comes later finds no
     * FIFO rather than waiting for a writer for ever. */
    g_unlink(f->fifo);
    close(f->fifo_fd);
    f->fifo_fd = -1;
    return NULL;
}

static void caller_cancelled(GCancellable *caller, gpointer feed)
{
    ferry_memory_feed_open_gate(feed, FALSE);
}

FerryMemoryFeed *ferry_memory_feed_start(const char *run_dir, const char *archive_dir, const char *archive_id,
                                         const FerryManifestFile *file, GCancellable *cancellable,
                                         FerryJobBytes *bytes, GError **error)
{
    g_autofree char *template = g_build_filename(run_dir, "restore-XXXXXX", NULL);
    if (g_mkdir_with_parents(run_dir, 0700) < 0 || !g_mkdtemp_full(template, 0700)) {
        feed_fail(error, errno, "make a private directory in", run_dir);
        return NULL;
    }
    FerryMemoryFeed *f = g_new0(FerryMemoryFeed, 1);
    g_mutex_init(&f->lock);
    g_cond_init(&f->changed);
    f->stop = g_cancellable_new();
    f->dir = g_steal_pointer(&template);
    f->fifo = g_build_filename(f->dir, "memory.save", NULL);
    f->image = g_build_filename(archive_dir, file->path, NULL);
    f->archive_id = g_strdup(archive_id);
    f->file = (FerryManifestFile){ .path = g_strdup(file->path), .size = file->size, .digest = g_strdup(file->digest) };
    f->progress = (FerryJobBytesSide){ .bytes = bytes };
    /* Opened for reading too: neither the feed nor libvirt ever blocks in open(), whichever
     * comes first or never comes (a libvirt thread waiting for a writer that stopped would
     * hang); and a reader that goes away is no EPIPE, the feed waits until it is stopped. */
    f->fifo_fd = -1;
    if (mkfifo(f->fifo, 0600) < 0 || (f->fifo_fd = open(f->fifo, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        feed_fail(error, errno, "make the pipe", f->fifo);
        ferry_memory_feed_free(f);
        return NULL;
    }
    fcntl(f->fifo_fd, F_SETPIPE_SZ, FEED_PIPE_BYTES); /* best effort: fewer wake-ups */
    if (cancellable) {
        f->caller = g_object_ref(cancellable);
        f->caller_link = g_cancellable_connect(cancellable, G_CALLBACK(caller_cancelled), f, NULL);
    }
    f->thread = g_thread_new("feed", feed_thread, f);
    return f;
}

const char *ferry_memory_feed_path(FerryMemoryFeed *feed)
{
    return feed->fifo;
}

static void set_gate(FerryMemoryFeed *f, Gate gate)
{
    g_mutex_lock(&f->lock);
    if (f->gate == GATE_SHUT)
        f->gate = gate;
    g_cond_broadcast(&f->changed);
    g_mutex_unlock(&f->lock);
}

void ferry_memory_feed_open_gate(FerryMemoryFeed *feed, gboolean ok)
{
    if (!ok)
        g_cancellable_cancel(feed->stop); /* also while libvirt has yet to open the pipe */
    set_gate(feed, ok ? GATE_OPEN : GATE_REFUSED);
}

gboolean ferry_memory_feed_finish(FerryMemoryFeed *feed, GError **error)
{
    if (feed->thread)
        g_thread_join(g_steal_pointer(&feed->thread));
    if (feed->error) {
        g_propagate_error(error, g_steal_pointer(&feed->error));
        return FALSE;
    }
    return TRUE;
}

void ferry_memory_feed_free(FerryMemoryFeed *feed)
{
    if (!feed)
        return;
    if (feed->thread) {
        ferry_memory_feed_open_gate(feed, FALSE);
        g_thread_join(g_steal_pointer(&feed->thread));
    }
    if (feed->caller)
        g_cancellable_disconnect(feed->caller, feed->caller_link);
    g_clear_object(&feed->caller);
    g_clear_error(&feed->error);
    if (feed->fifo_fd >= 0)
        close(feed->fifo_fd);
    if (g_unlink(feed->fifo) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", feed->fifo, g_strerror(errno));
    if (g_rmdir(feed->dir) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", feed->dir, g_strerror(errno));
    g_clear_object(&feed->stop);
    g_mutex_clear(&feed->lock);
    g_cond_clear(&feed->changed);
    g_free(feed->dir);
    g_free(feed->fifo);
    g_free(feed->image);
    g_free(feed->archive_id);
    g_free(feed->file.path);
    g_free(feed->file.digest);
    g_free(feed);
}
