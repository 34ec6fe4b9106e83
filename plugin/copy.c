/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SEEK_DATA, SEEK_HOLE, sync_file_range. */
#define _GNU_SOURCE

#include "copy.h"

#include "ferry-error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <xxhash.h>

#define BLOCK FERRY_DIGEST_BLOCK_SIZE
G_STATIC_ASSERT(FERRY_COPY_CHUNK % BLOCK == 0);

/* Dirty pages of the destination are pushed to the disk in windows of this many bytes of
 * file offsets, so the disk writes while we read, the final fdatasync has little left to do,
 * and a copy of a 100 GiB disk does not fill the page cache with an archive nobody reads. */
#define WRITEBACK_WINDOW (32 * 1024 * 1024)

static gboolean hole_detection = TRUE;
static gboolean reflinks = TRUE;

void ferry_copy_set_reflinks(gboolean enabled)
{
    g_atomic_int_set(&reflinks, enabled);
}

void ferry_copy_set_hole_detection(gboolean enabled)
{
    g_atomic_int_set(&hole_detection, enabled);
}

gboolean ferry_digest_checksum_is_valid(const char *checksum)
{
    const char *prefix = FERRY_DIGEST_ALGORITHM ":";
    if (!checksum || !g_str_has_prefix(checksum, prefix) || strlen(checksum) != FERRY_DIGEST_CHECKSUM_LEN)
        return FALSE;
    for (const char *c = checksum + strlen(prefix); *c; c++)
        if (!g_ascii_isdigit(*c) && !(*c >= 'a' && *c <= 'f'))
            return FALSE;
    return TRUE;
}

/* ------------------------------------------------------------------ errors */

static gboolean is_out_of_space(int err)
{
    return err == ENOSPC || err == EDQUOT;
}

static gboolean fail_errno(GError **error, int err, const char *what, const char *path)
{
    g_set_error(error, FERRY_ERROR, is_out_of_space(err) ? FERRY_ERROR_NO_CAPACITY : FERRY_ERROR_FAILED,
                "cannot %s %s: %s", what, path, g_strerror(err));
    return FALSE;
}

/* ------------------------------------------------------------------ one pass over a file */

/* Reading a file's data extents in chunks of whole 64 KiB blocks, digesting them, and
 * (for a copy) writing the blocks that are not all zeros. */
typedef struct {
    const char *src_path;
    int src_fd;
    guint64 size;
    gboolean holes_unknown;   /* the file system cannot report holes: read everything */

    const char *dst_path;     /* NULL for a digest only */
    int dst_fd;
    guint64 writeback_from;   /* offsets not yet handed to writeback start here */
    guint64 waiting_from, waiting_to; /* handed to writeback, not yet waited for */
    guint64 written;

    GCancellable *cancellable;
    FerryCopyProgress progress;
    gpointer user_data;
    guint64 done;             /* data-extent bytes handled, what progress reports */
    guint64 reported;

    GArray *zero_blocks;      /* digesting a clone: the offsets of its blocks of zeros, made
                               * holes once the digest is known */

    XXH3_state_t *hash;       /* NULL when nobody wants the digest */
    guint64 nonzero;          /* bytes of non-zero blocks */
    guchar *buf;              /* FERRY_COPY_CHUNK bytes, or the file's size in whole blocks */
} Pass;

static void pass_init(Pass *p, const char *src_path, int src_fd, guint64 size, gboolean digest,
                      GCancellable *cancellable, FerryCopyProgress progress, gpointer user_data)
{
    memset(p, 0, sizeof *p);
    p->src_path = src_path;
    p->src_fd = src_fd;
    p->size = size;
    p->holes_unknown = !g_atomic_int_get(&hole_detection);
    p->dst_fd = -1;
    p->cancellable = cancellable;
    p->progress = progress;
    p->user_data = user_data;
    if (digest) {
        p->hash = XXH3_createState();
        if (!p->hash)
            g_error("out of memory for a hash state");
        XXH3_128bits_reset(p->hash);
    }
    /* Page-aligned, so the kernel copies whole pages; no bigger than the file needs, for the
     * small files of TPM state and NVRAM. */
    gsize buf_size = (gsize)MIN((guint64)FERRY_COPY_CHUNK, (size + BLOCK - 1) / BLOCK * BLOCK);
    p->buf = g_aligned_alloc(1, MAX(buf_size, (gsize)BLOCK), 4096);
}

static void pass_clear(Pass *p)
{
    g_aligned_free(p->buf);
    p->buf = NULL;
    if (p->hash)
        XXH3_freeState(p->hash);
    p->hash = NULL;
}

/* Block-wise zero test: the first 16 bytes are zero and every byte equals the one 16 bytes
 * before it. memcmp runs at memory speed, and data blocks fail on their first bytes. */
static gboolean block_is_zero(const guchar *p, gsize len)
{
    static const guchar zero[16];
    if (len <= sizeof zero)
        return memcmp(p, zero, len) == 0;
    return memcmp(p, zero, sizeof zero) == 0 && memcmp(p, p + sizeof zero, len - sizeof zero) == 0;
}

static void put_le64(guchar out[8], guint64 v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (guchar)(v >> (8 * i));
}

static void digest_block(Pass *p, guint64 index, const guchar *data, gsize len)
{
    guchar le[8];
    if (!p->hash)
        return;
    put_le64(le, index);
    XXH3_128bits_update(p->hash, le, sizeof le);
    XXH3_128bits_update(p->hash, data, len);
}

static void digest_finish(Pass *p, FerryFileDigest *digest)
{
    guchar le[8];
    put_le64(le, p->size);
    XXH3_128bits_update(p->hash, le, sizeof le);
    XXH128_canonical_t sum;
    XXH128_canonicalFromHash(&sum, XXH3_128bits_digest(p->hash));

    digest->size = p->size;
    digest->allocated = p->nonzero;
    char *out = g_stpcpy(digest->checksum, FERRY_DIGEST_ALGORITHM ":");
    for (gsize i = 0; i < sizeof sum.digest; i++, out += 2)
        g_snprintf(out, 3, "%02x", sum.digest[i]);
}

/* ------------------------------------------------------------------ streaming digest */

struct _FerryDigester {
    Pass pass;               /* only its hash, size and nonzero are used */
    guchar block[BLOCK];
    gsize fill;              /* bytes of the current block buffered */
};

FerryDigester *ferry_digester_new(void)
{
    FerryDigester *d = g_new0(FerryDigester, 1);
    d->pass.hash = XXH3_createState();
    if (!d->pass.hash)
        g_error("out of memory for a hash state");
    XXH3_128bits_reset(d->pass.hash);
    return d;
}

static void digester_block(FerryDigester *d, const guchar *data, gsize len)
{
    if (!block_is_zero(data, len)) {
        digest_block(&d->pass, d->pass.size / BLOCK, data, len);
        d->pass.nonzero += len;
    }
    d->pass.size += len;
}

void ferry_digester_update(FerryDigester *d, const guchar *data, gsize len)
{
    while (len > 0) {
        if (d->fill == 0 && len >= BLOCK) {
            digester_block(d, data, BLOCK);
            data += BLOCK;
            len -= BLOCK;
            continue;
        }
        gsize n = MIN(BLOCK - d->fill, len);
        memcpy(d->block + d->fill, data, n);
        d->fill += n;
        data += n;
        len -= n;
        if (d->fill == BLOCK) {
            digester_block(d, d->block, BLOCK);
            d->fill = 0;
        }
    }
}

guint64 ferry_digester_size(FerryDigester *d)
{
    return d->pass.size + d->fill;
}

void ferry_digester_free(FerryDigester *d)
{
    if (!d)
        return;
    if (d->pass.hash)
        XXH3_freeState(d->pass.hash);
    g_free(d);
}

void ferry_digester_finish(FerryDigester *d, FerryFileDigest *digest)
{
    if (d->fill)
        digester_block(d, d->block, d->fill);
    digest_finish(&d->pass, digest);
    ferry_digester_free(d);
}

/* A run of data in the source, [start, end); found is FALSE past the last one. */
typedef struct {
    gboolean found;
    guint64 start, end;
} Extent;

/* The first data extent at or after @from, clamped to the size read at the start. */
static gboolean next_data_extent(Pass *p, guint64 from, Extent *extent, GError **error)
{
    extent->found = FALSE;
    if (from >= p->size)
        return TRUE;
    if (p->holes_unknown) {
        *extent = (Extent){ TRUE, from, p->size };
        return TRUE;
    }
    off_t data = lseek(p->src_fd, (off_t)from, SEEK_DATA);
    if (data < 0 && errno == ENXIO)
        return TRUE;
    if (data < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
        p->holes_unknown = TRUE;
        return next_data_extent(p, from, extent, error);
    }
    if (data < 0)
        return fail_errno(error, errno, "find the data in", p->src_path);
    if ((guint64)data >= p->size)
        return TRUE;
    off_t hole = lseek(p->src_fd, data, SEEK_HOLE);
    if (hole < 0)
        return fail_errno(error, errno, "find the holes in", p->src_path);
    *extent = (Extent){ TRUE, (guint64)data, MIN((guint64)hole, p->size) };
    return TRUE;
}

/* Sum of the data extents' lengths. */
static gboolean data_size(Pass *p, guint64 *total, GError **error)
{
    Extent e = { TRUE, 0, 0 };
    *total = 0;
    while (TRUE) {
        if (!next_data_extent(p, e.end, &e, error))
            return FALSE;
        if (!e.found)
            return TRUE;
        *total += e.end - e.start;
    }
}

static gboolean read_chunk(Pass *p, guint64 offset, gsize len, GError **error)
{
    gsize got = 0;
    while (got < len) {
        ssize_t n = pread(p->src_fd, p->buf + got, len - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_errno(error, errno, "read", p->src_path);
        if (n == 0) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                        "%s shrank while it was read (it had %" G_GUINT64_FORMAT " bytes): is something "
                        "still writing to it?", p->src_path, p->size);
            return FALSE;
        }
        got += (gsize)n;
    }
    return TRUE;
}

static gboolean fail_no_space(Pass *p, int err, GError **error)
{
    guint64 needed = 0;
    /* The source is still open: its data size is the most the copy can need. */
    data_size(p, &needed, NULL);
    g_autofree char *needed_text = g_format_size(needed);
    g_autofree char *written_text = g_format_size(p->written);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY,
                "not enough space for %s: copying %s needs up to %s (%" G_GUINT64_FORMAT " bytes), "
                "the file system was full after %s (%s)", p->dst_path, p->src_path, needed_text, needed,
                written_text, g_strerror(err));
    return FALSE;
}

static gboolean fail_write(Pass *p, int err, GError **error)
{
    if (is_out_of_space(err))
        return fail_no_space(p, err, error);
    return fail_errno(error, err, "write", p->dst_path);
}

static gboolean write_run(Pass *p, const guchar *data, gsize len, guint64 offset, GError **error)
{
    while (len > 0) {
        ssize_t n = pwrite(p->dst_fd, data, len, (off_t)offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_write(p, errno, error);
        data += n;
        p->written += (guint64)n;
        len -= (gsize)n;
        offset += (guint64)n;
    }
    return TRUE;
}

/* Hands what was written up to @upto to writeback once a window's worth piled up, then
 * waits for the previous window and drops it from the page cache. */
static gboolean push_writeback(Pass *p, guint64 upto, GError **error)
{
    if (upto - p->writeback_from < WRITEBACK_WINDOW)
        return TRUE;
    if (sync_file_range(p->dst_fd, (off_t)p->writeback_from, (off_t)(upto - p->writeback_from),
                        SYNC_FILE_RANGE_WRITE) < 0)
        return fail_write(p, errno, error);
    if (p->waiting_to > p->waiting_from) {
        off_t len = (off_t)(p->waiting_to - p->waiting_from);
        if (sync_file_range(p->dst_fd, (off_t)p->waiting_from, len,
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) < 0)
            return fail_write(p, errno, error);
        posix_fadvise(p->dst_fd, (off_t)p->waiting_from, len, POSIX_FADV_DONTNEED);
    }
    p->waiting_from = p->writeback_from;
    p->waiting_to = upto;
    p->writeback_from = upto;
    return TRUE;
}

/* Digests the chunk in the buffer (read from @offset) and writes its runs of non-zero
 * blocks; zero blocks are neither hashed nor written. */
static gboolean handle_chunk(Pass *p, guint64 offset, gsize len, GError **error)
{
    gsize run = 0, run_len = 0;
    for (gsize b = 0; b < len; b += BLOCK) {
        gsize n = MIN((gsize)BLOCK, len - b);
        if (block_is_zero(p->buf + b, n)) {
            if (run_len && p->dst_path && !write_run(p, p->buf + run, run_len, offset + run, error))
                return FALSE;
            if (p->zero_blocks)
                g_array_append_val(p->zero_blocks, (guint64){ offset + b });
            run_len = 0;
            continue;
        }
        digest_block(p, (offset + b) / BLOCK, p->buf + b, n);
        p->nonzero += n;
        if (!run_len)
            run = b;
        run_len += n;
    }
    if (run_len && p->dst_path && !write_run(p, p->buf + run, run_len, offset + run, error))
        return FALSE;
    if (p->dst_path && !push_writeback(p, offset + len, error))
        return FALSE;
    /* What a copy read is not read again: leave the cache to the guests. A file only
     * digested is often read next by someone else (libvirt restoring a verified save image),
     * so its pages stay. */
    if (p->dst_path)
        posix_fadvise(p->src_fd, (off_t)offset, (off_t)len, POSIX_FADV_DONTNEED);
    return TRUE;
}

/* G_IO_ERROR_CANCELLED, saying what was cancelled. */
static gboolean fail_cancelled(Pass *p, GError **error)
{
    if (p->dst_path)
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the copy of %s to %s was cancelled", p->src_path,
                    p->dst_path);
    else
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "reading %s was cancelled", p->src_path);
    return FALSE;
}

static gboolean report_progress(Pass *p, GError **error)
{
    if (!p->progress || p->done == p->reported)
        return TRUE;
    p->reported = p->done;
    return p->progress(p->done, p->user_data) || fail_cancelled(p, error);
}

static guint64 block_floor(guint64 offset)
{
    return offset / BLOCK * BLOCK;
}

/* Asks the kernel to start reading the chunk after [@pos, @region_end) (the next one in the
 * region, else the first of @next) while we digest and write this one: without it each
 * chunk's reading waits for the disk, and a sparse file's short extents defeat readahead. */
static void prefetch_next_chunk(Pass *p, guint64 pos, guint64 region_end, const Extent *next)
{
    guint64 from = pos;
    if (from >= region_end) {
        if (!next->found)
            return;
        from = MAX(region_end, block_floor(next->start));
        region_end = MIN(p->size, block_floor(next->end + BLOCK - 1));
    }
    if (from < region_end)
        posix_fadvise(p->src_fd, (off_t)from, (off_t)MIN((guint64)FERRY_COPY_CHUNK, region_end - from),
                      POSIX_FADV_WILLNEED);
}

/* Reads every data extent in whole 64 KiB blocks (a block that an extent only touches is
 * read whole: its hole part reads as zeros), each block once, in increasing order. */
static gboolean pass_run(Pass *p, GError **error)
{
    Extent cur, next;
    guint64 pos = 0;           /* blocks before this were handled; a block boundary or the size */
    guint64 before = 0;        /* data bytes of the extents before the current one */
    posix_fadvise(p->src_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (!next_data_extent(p, 0, &cur, error))
        return FALSE;
    for (; cur.found; cur = next) {
        if (!next_data_extent(p, cur.end, &next, error))
            return FALSE;
        guint64 region_end = MIN(p->size, block_floor(cur.end + BLOCK - 1));
        for (pos = MAX(pos, block_floor(cur.start)); pos < region_end;) {
            if (g_cancellable_is_cancelled(p->cancellable))
                return fail_cancelled(p, error);
            gsize len = (gsize)MIN((guint64)FERRY_COPY_CHUNK, region_end - pos);
            prefetch_next_chunk(p, pos + len, region_end, &next);
            if (!read_chunk(p, pos, len, error) || !handle_chunk(p, pos, len, error))
                return FALSE;
            pos += len;
            p->done = before + MIN(pos, cur.end) - cur.start;
            if (!report_progress(p, error))
                return FALSE;
        }
        before += cur.end - cur.start;
        p->done = before;
    }
    return report_progress(p, error);
}

/* O_NONBLOCK: a FIFO put where a file is expected must not hang the thread; fstat then
 * refuses it. @nofollow for files of an archive or of swtpm's directory, where a link is
 * never legitimate (a disk's own path may well be one). */
static int open_source_at(int dirfd, const char *name, const char *path, gboolean nofollow, guint64 *size,
                          GError **error)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
    if (fd < 0 && nofollow && errno == ELOOP) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED, "%s is a symbolic link, not a regular file", path);
        return -1;
    }
    if (fd < 0) {
        fail_errno(error, errno, "open", path);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        fail_errno(error, errno, "read the size of", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED, "%s is not a regular file", path);
        close(fd);
        return -1;
    }
    *size = (guint64)st.st_size;
    return fd;
}

static int open_source(const char *path, gboolean nofollow, guint64 *size, GError **error)
{
    return open_source_at(AT_FDCWD, path, path, nofollow, size, error);
}

/* ------------------------------------------------------------------ the public calls */

gboolean ferry_digest_file(const char *path, GCancellable *cancellable, FerryCopyProgress progress,
                           gpointer user_data, FerryFileDigest *digest, GError **error)
{
    guint64 size;
    int fd = open_source(path, TRUE, &size, error);
    if (fd < 0)
        return FALSE;
    Pass p;
    pass_init(&p, path, fd, size, TRUE, cancellable, progress, user_data);
    gboolean ok = pass_run(&p, error);
    if (ok)
        digest_finish(&p, digest);
    pass_clear(&p);
    close(fd);
    return ok;
}

/* The end of a copy: the full size (trailing holes included), then the data on the disk. */
static gboolean finish_destination(Pass *p, GError **error)
{
    if (ftruncate(p->dst_fd, (off_t)p->size) < 0)
        return fail_write(p, errno, error);
    if (fdatasync(p->dst_fd) < 0)
        return fail_write(p, errno, error);
    int fd = p->dst_fd;
    p->dst_fd = -1;
    if (close(fd) < 0)
        return fail_write(p, errno, error);
    return TRUE;
}

/* Where source and destination share a file system that can (btrfs, XFS with reflink, bcachefs),
 * the destination shares the source's extents: nothing is written, and only the digest reads the
 * data. Anything else (ext4, another file system, NFS) copies. */
static gboolean clone_file(int src_fd, int dst_fd)
{
    if (!g_atomic_int_get(&reflinks))
        return FALSE;
    return ioctl(dst_fd, FICLONE, src_fd) == 0;
}

/* A clone's blocks of zeros become holes, as a written copy's do (the whole block: a short
 * last one's file system block goes too); only space is at stake if that fails. After the
 * digest, so that it reads the extents the clone came with. */
static void punch_zero_blocks(int fd, GArray *offsets)
{
    for (guint i = 0; i < offsets->len; i++)
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)g_array_index(offsets, guint64, i), BLOCK);
}

/* Copies the open @src_fd to @dst_name, created in @dst_dirfd; closes @src_fd. */
static gboolean copy_opened(int src_fd, guint64 size, const char *src, int dst_dirfd, const char *dst_name,
                            const char *dst, guint mode, GCancellable *cancellable, FerryCopyProgress progress,
                            gpointer user_data, FerryFileDigest *digest, GError **error)
{
    /* O_EXCL|O_NOFOLLOW: neither an existing file nor a link planted at @dst is written through.
     * Read too: a clone is digested from it. */
    int dst_fd = openat(dst_dirfd, dst_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (dst_fd < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, is_out_of_space(err) ? FERRY_ERROR_NO_CAPACITY : FERRY_ERROR_FAILED,
                    "cannot create %s: %s", dst, g_strerror(err));
        close(src_fd);
        return FALSE;
    }

    Pass p;
    gboolean cloned = clone_file(src_fd, dst_fd);
    /* A clone is digested from the destination: what is checked is what was placed. */
    pass_init(&p, src, cloned ? dst_fd : src_fd, size, digest != NULL, cancellable, progress, user_data);
    p.dst_path = cloned ? NULL : dst;
    p.zero_blocks = cloned ? g_array_new(FALSE, FALSE, sizeof(guint64)) : NULL;
    p.dst_fd = dst_fd;
    gboolean ok = TRUE;
    /* fchmod, not open's mode: the umask must not change what the archive records. */
    if (fchmod(dst_fd, mode & 07777) < 0)
        ok = fail_errno(error, errno, "set the mode of", dst);
    ok = ok && pass_run(&p, error);
    if (ok && cloned)
        punch_zero_blocks(dst_fd, p.zero_blocks);
    g_clear_pointer(&p.zero_blocks, g_array_unref);
    p.dst_path = dst;
    ok = ok && finish_destination(&p, error);
    if (ok && digest)
        digest_finish(&p, digest);
    if (!ok) {
        if (p.dst_fd >= 0)
            close(p.dst_fd);
        if (unlinkat(dst_dirfd, dst_name, 0) < 0 && errno != ENOENT)
            g_warning("cannot remove the incomplete copy %s: %s", dst, g_strerror(errno));
    }
    pass_clear(&p);
    close(src_fd);
    return ok;
}

static gboolean copy_file(const char *src, gboolean nofollow, const char *dst, guint mode, GCancellable *cancellable,
                          FerryCopyProgress progress, gpointer user_data, FerryFileDigest *digest, GError **error)
{
    guint64 size;
    int src_fd = open_source(src, nofollow, &size, error);
    if (src_fd < 0)
        return FALSE;
    return copy_opened(src_fd, size, src, AT_FDCWD, dst, dst, mode, cancellable, progress, user_data, digest, error);
}

gboolean ferry_copy_file(const char *src, const char *dst, guint mode, GCancellable *cancellable,
                         FerryCopyProgress progress, gpointer user_data, FerryFileDigest *digest,
                         GError **error)
{
    return copy_file(src, FALSE, dst, mode, cancellable, progress, user_data, digest, error);
}

gboolean ferry_copy_file_nofollow(const char *src, const char *dst, guint mode, GCancellable *cancellable,
                                  FerryCopyProgress progress, gpointer user_data, FerryFileDigest *digest,
                                  GError **error)
{
    return copy_file(src, TRUE, dst, mode, cancellable, progress, user_data, digest, error);
}

gboolean ferry_file_data_size(const char *path, guint64 *data_bytes, guint64 *logical_size, GError **error)
{
    guint64 size;
    int fd = open_source(path, FALSE, &size, error);
    if (fd < 0)
        return FALSE;
    Pass p;
    memset(&p, 0, sizeof p);
    p.src_path = path;
    p.src_fd = fd;
    p.size = size;
    p.holes_unknown = !g_atomic_int_get(&hole_detection);
    guint64 total = 0;
    gboolean ok = data_size(&p, &total, error);
    close(fd);
    if (ok && data_bytes)
        *data_bytes = total;
    if (ok && logical_size)
        *logical_size = size;
    return ok;
}

gboolean ferry_fsync_dir(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(error, errno, "open the directory", path);
    if (fsync(fd) < 0) {
        int err = errno;
        close(fd);
        return fail_errno(error, err, "sync the directory", path);
    }
    close(fd);
    return TRUE;
}

/* ------------------------------------------------------------------ directory trees */

void ferry_tree_file_free(FerryTreeFile *file)
{
    if (!file)
        return;
    g_free(file->path);
    g_free(file);
}

/* Deeper than this is no tree virt-ferry wrote: what is below stays (with a warning) rather
 * than the walk holding a descriptor per level without end. */
#define REMOVE_MAX_DEPTH 64

static void remove_at(int parent, const char *name, const char *path, guint depth);

/* Removes what the directory @fd (taken) holds. */
static void remove_children(int fd, const char *path, guint depth)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        g_warning("cannot read %s: %s", path, g_strerror(errno));
        close(fd);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (g_str_equal(entry->d_name, ".") || g_str_equal(entry->d_name, ".."))
            continue;
        g_autofree char *child = g_build_filename(path, entry->d_name, NULL);
        remove_at(dirfd(dir), entry->d_name, child, depth + 1);
    }
    closedir(dir);
}

/* @name in the directory @parent: a directory is opened with O_NOFOLLOW, so a link (even
 * one swapped in for a directory meanwhile) is removed as a link, never followed out. */
static void remove_at(int parent, const char *name, const char *path, guint depth)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        if (depth >= REMOVE_MAX_DEPTH) {
            g_warning("not removing %s: deeper than %d levels", path, REMOVE_MAX_DEPTH);
            close(fd);
            return;
        }
        remove_children(fd, path, depth);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
            g_warning("cannot remove %s: %s", path, g_strerror(errno));
    } else if (unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
    }
}

void ferry_remove_tree(const char *path)
{
    g_autofree char *parent_path = g_path_get_dirname(path);
    g_autofree char *name = g_path_get_basename(path);
    int parent = open(parent_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0)
        return;
    remove_at(parent, name, path, 0);
    close(parent);
}

/* ------------------------------------------------------------------ directory trees, link-safe
 *
 * The tree is walked through directory descriptors, every step opened with O_NOFOLLOW: the
 * owner of the source tree (swtpm's user for TPM state) can swap a file or directory for a
 * link at any moment, and must never get virt-ferryd (root) to read or write through it. */

typedef struct {
    GCancellable *cancellable;
    GPtrArray *files;          /* FerryTreeFile */
    gboolean set_owner;        /* as root: files and directories get an owner */
    gboolean keep_owner;       /* ... the source's (else uid, gid) */
    uid_t uid;
    gid_t gid;
} TreeCopy;

static gboolean refuse_link(GError **error, const char *path)
{
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                "%s is neither a regular file nor a directory (a symbolic link, a socket or a device): it is not "
                "copied", path);
    return FALSE;
}

static int open_dir_at(int dirfd, const char *name, const char *path, GError **error)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
        refuse_link(error, path);
    else if (fd < 0)
        fail_errno(error, errno, "open the directory", path);
    return fd;
}

/* Owner (chown first: it clears set-id bits), then mode, of the open @fd as @st says. */
static gboolean set_attributes(TreeCopy *t, int fd, const struct stat *st, const char *path, GError **error)
{
    if (t->set_owner && fchown(fd, t->keep_owner ? st->st_uid : t->uid, t->keep_owner ? st->st_gid : t->gid) < 0)
        return fail_errno(error, errno, "set the owner of", path);
    if (fchmod(fd, st->st_mode & 07777) < 0)
        return fail_errno(error, errno, "set the mode of", path);
    return TRUE;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static GPtrArray *sorted_names(int dirfd, const char *dir_path, GError **error)
{
    int fd = dup(dirfd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        fail_errno(error, errno, "read the directory", dir_path);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    rewinddir(dir);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    struct dirent *e;
    while ((e = readdir(dir)))
        if (!g_str_equal(e->d_name, ".") && !g_str_equal(e->d_name, ".."))
            g_ptr_array_add(names, g_strdup(e->d_name));
    closedir(dir);
    g_ptr_array_sort(names, compare_names);
    return names;
}

static gboolean copy_dir(TreeCopy *t, int src_fd, int dst_fd, const char *src, const char *dst, const char *rel,
                         GError **error);

static gboolean copy_subdir(TreeCopy *t, int src_dir, int dst_dir, const char *name, const char *src,
                            const char *dst, const char *rel, GError **error)
{
    /* Created private; it gets its own mode once complete. */
    if (mkdirat(dst_dir, name, 0700) < 0)
        return fail_errno(error, errno, "create the directory", dst);
    int src_fd = open_dir_at(src_dir, name, src, error);
    int dst_fd = src_fd >= 0 ? open_dir_at(dst_dir, name, dst, error) : -1;
    gboolean ok = src_fd >= 0 && dst_fd >= 0 && copy_dir(t, src_fd, dst_fd, src, dst, rel, error);
    if (src_fd >= 0)
        close(src_fd);
    if (dst_fd >= 0)
        close(dst_fd);
    return ok;
}

static gboolean copy_regular(TreeCopy *t, int src_dir, int dst_dir, const char *name, const char *src,
                             const char *dst, const char *rel, GError **error)
{
    guint64 size;
    int fd = open_source_at(src_dir, name, src, TRUE, &size, error);
    if (fd < 0)
        return FALSE;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return fail_errno(error, errno, "read", src);
    }
    g_autoptr(FerryTreeFile) file = g_new0(FerryTreeFile, 1);
    file->path = g_strdup(rel);
    file->mode = st.st_mode & 07777;
    if (!copy_opened(fd, size, src, dst_dir, name, dst, file->mode, t->cancellable, NULL, NULL, &file->digest, error))
        return FALSE;
    int out = openat(dst_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (out < 0)
        return fail_errno(error, errno, "open", dst);
    gboolean ok = set_attributes(t, out, &st, dst, error);
    close(out);
    if (ok)
        g_ptr_array_add(t->files, g_steal_pointer(&file));
    return ok;
}

/* Copies the entries of the directory @src_fd into the new directory @dst_fd, then gives it
 * @src_fd's mode (and owner) and syncs it. */
static gboolean copy_dir(TreeCopy *t, int src_fd, int dst_fd, const char *src, const char *dst, const char *rel,
                         GError **error)
{
    g_autoptr(GPtrArray) names = sorted_names(src_fd, src, error);
    if (!names)
        return FALSE;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *child_src = g_build_filename(src, name, NULL);
        g_autofree char *child_dst = g_build_filename(dst, name, NULL);
        g_autofree char *child_rel = *rel ? g_strconcat(rel, "/", name, NULL) : g_strdup(name);
        struct stat st;
        if (g_cancellable_set_error_if_cancelled(t->cancellable, error))
            return FALSE;
        if (fstatat(src_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return fail_errno(error, errno, "read", child_src);
        gboolean ok = S_ISDIR(st.st_mode)   ? copy_subdir(t, src_fd, dst_fd, name, child_src, child_dst, child_rel, error)
                      : S_ISREG(st.st_mode) ? copy_regular(t, src_fd, dst_fd, name, child_src, child_dst, child_rel, error)
                                            : refuse_link(error, child_src);
        if (!ok)
            return FALSE;
    }
    struct stat st;
    if (fstat(src_fd, &st) < 0)
        return fail_errno(error, errno, "read", src);
    if (!set_attributes(t, dst_fd, &st, dst, error))
        return FALSE;
    if (fsync(dst_fd) < 0)
        return fail_errno(error, errno, "sync the directory", dst);
    return TRUE;
}

static GPtrArray *copy_tree(TreeCopy *t, const char *src, const char *dst, GError **error)
{
    int src_fd = open_dir_at(AT_FDCWD, src, src, error);
    if (src_fd < 0)
        return NULL;
    /* An existing @dst fails here (EEXIST) and is left alone. */
    if (mkdir(dst, 0700) < 0) {
        fail_errno(error, errno, "create the directory", dst);
        close(src_fd);
        return NULL;
    }
    g_autoptr(GPtrArray) files = t->files = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_tree_file_free);
    int dst_fd = open_dir_at(AT_FDCWD, dst, dst, error);
    gboolean ok = dst_fd >= 0 && copy_dir(t, src_fd, dst_fd, src, dst, "", error);
    close(src_fd);
    if (dst_fd >= 0)
        close(dst_fd);
    if (!ok) {
        ferry_remove_tree(dst);
        return NULL;
    }
    return g_steal_pointer(&files);
}

GPtrArray *ferry_copy_tree(const char *src, const char *dst, GCancellable *cancellable, GError **error)
{
    TreeCopy t = { .cancellable = cancellable, .set_owner = geteuid() == 0, .keep_owner = TRUE };
    return copy_tree(&t, src, dst, error);
}

GPtrArray *ferry_copy_tree_owned(const char *src, const char *dst, uid_t uid, gid_t gid, GCancellable *cancellable,
                                 GError **error)
{
    TreeCopy t = { .cancellable = cancellable, .set_owner = TRUE, .uid = uid, .gid = gid };
    return copy_tree(&t, src, dst, error);
}

/* ------------------------------------------------------------------ durability */

static gboolean fsync_tree_at(int dirfd, const char *path, GError **error)
{
    g_autoptr(GPtrArray) names = sorted_names(dirfd, path, error);
    if (!names)
        return FALSE;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *child = g_build_filename(path, name, NULL);
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return errno == ELOOP ? refuse_link(error, child) : fail_errno(error, errno, "open", child);
        struct stat st;
        gboolean ok = fstat(fd, &st) == 0 || fail_errno(error, errno, "read", child);
        if (ok && S_ISDIR(st.st_mode))
            ok = fsync_tree_at(fd, child, error);
        else if (ok && S_ISREG(st.st_mode) && fsync(fd) < 0)
            ok = fail_errno(error, errno, "sync", child);
        else if (ok && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            ok = refuse_link(error, child);
        close(fd);
        if (!ok)
            return FALSE;
    }
    if (fsync(dirfd) < 0)
        return fail_errno(error, errno, "sync the directory", path);
    return TRUE;
}

gboolean ferry_fsync_tree(const char *path, GError **error)
{
    int fd = open_dir_at(AT_FDCWD, path, path, error);
    if (fd < 0)
        return FALSE;
    gboolean ok = fsync_tree_at(fd, path, error);
    close(fd);
    return ok;
}

int ferry_error_code_for_errno(int err)
{
    return is_out_of_space(err) ? FERRY_ERROR_NO_CAPACITY : FERRY_ERROR_FAILED;
}

gboolean ferry_write_new_file(const char *path, const char *data, gsize len, guint mode, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    int err = 0;
    if (fd < 0)
        err = errno;
    for (gsize done = 0; !err && done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno != EINTR)
            err = errno;
        else if (n > 0)
            done += (gsize)n;
    }
    if (!err && (fchmod(fd, mode & 07777) < 0 || fsync(fd) < 0))
        err = errno;
    if (fd >= 0 && close(fd) < 0 && !err)
        err = errno;
    if (!err)
        return TRUE;
    if (fd >= 0)
        unlink(path);
    g_set_error(error, FERRY_ERROR, ferry_error_code_for_errno(err), "cannot write %s: %s", path, g_strerror(err));
    return FALSE;
}

/* ------------------------------------------------------------------ reading untrusted files */

gboolean ferry_read_untrusted_file(const char *path, gsize max_size, char **contents, gsize *length, GError **error)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%s %s", path,
                    err == ENOENT ? "is missing"
                    : err == ELOOP ? "is a symbolic link, not a regular file"
                                   : g_strerror(err));
        return FALSE;
    }
    struct stat st;
    const char *problem = fstat(fd, &st) < 0       ? g_strerror(errno)
                          : !S_ISREG(st.st_mode)     ? "is not a regular file"
                          : (guint64)st.st_size > max_size ? "is too large"
                                                     : NULL;
    if (problem) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%s %s (at most %" G_GSIZE_FORMAT " bytes)", path, problem,
                    max_size);
        close(fd);
        return FALSE;
    }
    /* Read at most @max_size + 1 bytes: a file that grows meanwhile is still bounded. */
    g_autofree char *buf = g_malloc((gsize)st.st_size + 2);
    gsize len = 0, cap = MIN(max_size + 1, (gsize)st.st_size + 1);
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return fail_errno(error, err, "read", path);
        }
        if (n == 0)
            break;
        len += (gsize)n;
    }
    close(fd);
    if (len > max_size) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%s is too large (at most %" G_GSIZE_FORMAT " bytes)",
                    path, max_size);
        return FALSE;
    }
    buf[len] = '\0';
    *contents = g_steal_pointer(&buf);
    if (length)
        *length = len;
    return TRUE;
}
