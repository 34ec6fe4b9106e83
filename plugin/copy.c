/* SEEK_DATA, SEEK_HOLE, sync_file_range. */
#define _GNU_SOURCE

#include "copy.h"

#include "ferry-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

static gboolean fail_errno(GError **error, int err, const char *what, const char *path)
{
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot %s %s: %s", what, path, g_strerror(err));
    return FALSE;
}

static gboolean is_out_of_space(int err)
{
    return err == ENOSPC || err == EDQUOT;
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

static int open_source(const char *path, guint64 *size, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
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

/* ------------------------------------------------------------------ the public calls */

gboolean ferry_digest_file(const char *path, GCancellable *cancellable, FerryCopyProgress progress,
                           gpointer user_data, FerryFileDigest *digest, GError **error)
{
    guint64 size;
    int fd = open_source(path, &size, error);
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

gboolean ferry_copy_file(const char *src, const char *dst, guint mode, GCancellable *cancellable,
                         FerryCopyProgress progress, gpointer user_data, FerryFileDigest *digest,
                         GError **error)
{
    guint64 size;
    int src_fd = open_source(src, &size, error);
    if (src_fd < 0)
        return FALSE;
    int dst_fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (dst_fd < 0) {
        fail_errno(error, errno, "create", dst);
        close(src_fd);
        return FALSE;
    }

    Pass p;
    pass_init(&p, src, src_fd, size, digest != NULL, cancellable, progress, user_data);
    p.dst_path = dst;
    p.dst_fd = dst_fd;
    gboolean ok = TRUE;
    /* fchmod, not open's mode: the umask must not change what the archive records. */
    if (fchmod(dst_fd, mode & 07777) < 0)
        ok = fail_errno(error, errno, "set the mode of", dst);
    ok = ok && pass_run(&p, error) && finish_destination(&p, error);
    if (ok && digest)
        digest_finish(&p, digest);
    if (!ok) {
        if (p.dst_fd >= 0)
            close(p.dst_fd);
        if (unlink(dst) < 0 && errno != ENOENT)
            g_warning("cannot remove the incomplete copy %s: %s", dst, g_strerror(errno));
    }
    pass_clear(&p);
    close(src_fd);
    return ok;
}

gboolean ferry_file_data_size(const char *path, guint64 *data_bytes, guint64 *logical_size, GError **error)
{
    guint64 size;
    int fd = open_source(path, &size, error);
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

void ferry_remove_tree(const char *path)
{
    GStatBuf st;
    if (g_lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;
        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            ferry_remove_tree(child);
        }
        if (g_rmdir(path) < 0)
            g_warning("cannot remove %s: %s", path, g_strerror(errno));
    } else if (g_unlink(path) < 0) {
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
    }
}

/* Mode and, as root, owner of @path as @st says (chown first: it clears set-id bits). */
static gboolean copy_attributes(const char *path, const struct stat *st, GError **error)
{
    if (geteuid() == 0 && lchown(path, st->st_uid, st->st_gid) < 0)
        return fail_errno(error, errno, "set the owner of", path);
    if (chmod(path, st->st_mode & 07777) < 0)
        return fail_errno(error, errno, "set the mode of", path);
    return TRUE;
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static GPtrArray *sorted_names(const char *dir_path, GError **error)
{
    GError *local = NULL;
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, &local);
    if (!dir) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot read the directory %s: %s", dir_path,
                    local->message);
        g_error_free(local);
        return NULL;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(dir)))
        g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, compare_names);
    return names;
}

static gboolean copy_tree_contents(const char *src, const char *dst, const char *rel, const struct stat *st,
                                   GCancellable *cancellable, GPtrArray *files, GError **error);

/* Directories are created private and get their own mode once complete. */
static gboolean make_private_dir(const char *path, GError **error)
{
    if (mkdir(path, 0700) < 0)
        return fail_errno(error, errno, "create the directory", path);
    return TRUE;
}

static gboolean copy_tree_entry(const char *src, const char *dst, const char *rel, GCancellable *cancellable,
                                GPtrArray *files, GError **error)
{
    struct stat st;
    if (lstat(src, &st) < 0)
        return fail_errno(error, errno, "read", src);
    if (S_ISDIR(st.st_mode))
        return make_private_dir(dst, error) && copy_tree_contents(src, dst, rel, &st, cancellable, files, error);
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "%s is neither a regular file nor a directory: it cannot be archived", src);
        return FALSE;
    }
    g_autoptr(FerryTreeFile) file = g_new0(FerryTreeFile, 1);
    file->path = g_strdup(rel);
    file->mode = st.st_mode & 07777;
    if (!ferry_copy_file(src, dst, file->mode, cancellable, NULL, NULL, &file->digest, error))
        return FALSE;
    if (geteuid() == 0 && !copy_attributes(dst, &st, error))
        return FALSE;
    g_ptr_array_add(files, g_steal_pointer(&file));
    return TRUE;
}

/* Copies the entries of @src into the new directory @dst, then gives @dst the mode and owner
 * in @st and syncs it. */
static gboolean copy_tree_contents(const char *src, const char *dst, const char *rel, const struct stat *st,
                                   GCancellable *cancellable, GPtrArray *files, GError **error)
{
    g_autoptr(GPtrArray) names = sorted_names(src, error);
    if (!names)
        return FALSE;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *child_src = g_build_filename(src, name, NULL);
        g_autofree char *child_dst = g_build_filename(dst, name, NULL);
        g_autofree char *child_rel = *rel ? g_strconcat(rel, "/", name, NULL) : g_strdup(name);
        if (!copy_tree_entry(child_src, child_dst, child_rel, cancellable, files, error))
            return FALSE;
    }
    return copy_attributes(dst, st, error) && ferry_fsync_dir(dst, error);
}

GPtrArray *ferry_copy_tree(const char *src, const char *dst, GCancellable *cancellable, GError **error)
{
    struct stat st;
    if (lstat(src, &st) < 0) {
        fail_errno(error, errno, "read", src);
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED, "%s is not a directory", src);
        return NULL;
    }
    /* An existing @dst fails here (EEXIST) and is left alone. */
    if (!make_private_dir(dst, error))
        return NULL;
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_tree_file_free);
    if (!copy_tree_contents(src, dst, "", &st, cancellable, files, error)) {
        ferry_remove_tree(dst);
        return NULL;
    }
    return g_steal_pointer(&files);
}
