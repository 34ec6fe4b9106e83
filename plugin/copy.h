/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copying and verifying the files of a save-image archive: sparse-aware copies that compute
 * the file's digest on the way, digests of files at rest, small directory trees (TPM state).
 * Everything here blocks and runs in the caller's thread (archive and restore jobs have their
 * own); cancellation and progress are checked at least every FERRY_COPY_CHUNK bytes. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The digest, "xxh128-z64k" (a contract: archive manifests store it, verify and restore
 * recompute it, virt-ferry(1) documents it).
 *
 * Cut the file's logical content (holes read as zeros) into blocks of 64 KiB (65536 bytes);
 * the last block is shorter when the size is not a multiple of 64 KiB. XXH3-128 (xxHash,
 * seed 0) is computed over, for each block whose bytes are not all zero, in increasing order:
 *     the block's index (offset / 65536) as 8 bytes little-endian, then the block's bytes
 *     (the last block's actual bytes, not padded);
 * followed by the file's size in bytes as 8 bytes little-endian. The checksum is the string
 * "xxh128-z64k:" followed by the 32 lower-case hex digits of that hash in its canonical
 * (big-endian) form, as xxh128sum prints it.
 *
 * Why blocks: a block of zeros contributes nothing, so a hole and explicitly written zeros
 * give the same digest whatever the file system allocates, and holes are never read, so
 * digesting a mostly empty 100 GiB disk costs what its data costs; the index keeps data from
 * moving between blocks unnoticed, and the trailing size keeps a file from growing or
 * shrinking by zeros unnoticed. Any flipped byte changes the digest.
 * Why XXH3-128 and not SHA-256: the digest guards against corruption (storage, transfer,
 * a truncated copy), not against someone who can write the library, who could rewrite the
 * manifest too. XXH3 hashes at memory speed (above 10 GB/s) where SHA-256 runs at 370 MB/s
 * (GLib) or 1.6 GB/s (with the CPU's SHA instructions): with it the copy is bound by the
 * disks, verifying an archive before a restore costs its reading, and the copy leaves the
 * CPU to QEMU and libvirt, which save the guest's memory at the same time.
 *
 * To recompute it without virt-ferry, in Python (Debian package python3-xxhash):
 *     h = xxhash.xxh3_128(); i = 0
 *     while (b := f.read(65536)):
 *         if b.count(0) != len(b): h.update(i.to_bytes(8, 'little') + b)
 *         i += 1
 *     h.update(size.to_bytes(8, 'little')); "xxh128-z64k:" + h.hexdigest()
 */
#define FERRY_DIGEST_ALGORITHM "xxh128-z64k"
#define FERRY_DIGEST_BLOCK_SIZE 65536
/* Length of FerryFileDigest.checksum without its terminating NUL. */
#define FERRY_DIGEST_CHECKSUM_LEN (sizeof(FERRY_DIGEST_ALGORITHM ":") - 1 + 32)

/* Bytes read (and written) per system call; progress and cancellation are checked at
 * least this often. */
#define FERRY_COPY_CHUNK (4 * 1024 * 1024)

typedef struct {
    guint64 size;       /* logical size in bytes */
    guint64 allocated;  /* bytes of non-zero blocks: what a copy writes, the rest stays holes */
    char checksum[FERRY_DIGEST_CHECKSUM_LEN + 1]; /* "xxh128-z64k:<32 hex digits>" */
} FerryFileDigest;

/* Called with the bytes of the file's data extents handled so far (the unit of
 * ferry_file_data_size's @data_bytes; a file system that cannot report holes counts every
 * byte): increasing, ending at the data size. Return FALSE to stop, which is reported like
 * a cancellation. */
typedef gboolean (*FerryCopyProgress)(guint64 done_bytes, gpointer user_data);

/* TRUE if @checksum looks like a FerryFileDigest.checksum (for reading manifests). */
gboolean ferry_digest_checksum_is_valid(const char *checksum);

/* Copies the regular file @src to @dst, which is created (O_EXCL: an existing file is never
 * touched, the call fails) with exactly @mode (the umask does not apply). Only @src's data
 * extents are read (SEEK_DATA/SEEK_HOLE; everything when the file system cannot tell) and
 * blocks of zeros are not written, so holes stay holes and zeros become holes. Where @src and
 * @dst share a file system with reflinks (btrfs, XFS), @dst is a clone of @src instead (FICLONE:
 * it shares @src's extents, copy on write; its blocks of zeros are punched into holes) and the
 * digest is computed by reading @dst. @dst gets
 * @src's size and is fdatasync'ed before returning; syncing the directory that holds it is
 * the caller's business (ferry_fsync_dir). @digest (may be NULL) is computed during the copy.
 * On failure or cancellation @dst is removed. Errors: G_IO_ERROR_CANCELLED;
 * FERRY_ERROR_NO_CAPACITY when the destination's file system is full (or over quota);
 * FERRY_ERROR_UNSUPPORTED when @src is not a regular file; FERRY_ERROR_FAILED otherwise.
 * Messages name the file and the reason. */
gboolean ferry_copy_file(const char *src, const char *dst, guint mode, GCancellable *cancellable,
                         FerryCopyProgress progress, gpointer user_data, FerryFileDigest *digest,
                         GError **error);

/* The same, but a symbolic link at @src is refused (FERRY_ERROR_UNSUPPORTED), never followed:
 * for the files of an archive. */
gboolean ferry_copy_file_nofollow(const char *src, const char *dst, guint mode, GCancellable *cancellable,
                                  FerryCopyProgress progress, gpointer user_data, FerryFileDigest *digest,
                                  GError **error);

/* The digest of a regular file, reading only its data extents. A symbolic link is refused,
 * not followed (digests are of archive files). */
gboolean ferry_digest_file(const char *path, GCancellable *cancellable, FerryCopyProgress progress,
                           gpointer user_data, FerryFileDigest *digest, GError **error);

/* Bytes in @path's data extents (what a copy or digest reads, the total of its progress) and
 * its logical size; either pointer may be NULL. */
gboolean ferry_file_data_size(const char *path, guint64 *data_bytes, guint64 *logical_size,
                              GError **error);

/* fsync()s a directory, so entries created or renamed in it survive a crash. */
gboolean ferry_fsync_dir(const char *path, GError **error);

/* fsync()s every regular file and directory under @path (children first), then @path: what
 * must be on the disk before a rename publishes the tree. Anything else (a link) is
 * FERRY_ERROR_UNSUPPORTED. */
gboolean ferry_fsync_tree(const char *path, GError **error);

/* FERRY_ERROR_NO_CAPACITY for ENOSPC and EDQUOT, FERRY_ERROR_FAILED for anything else: lack
 * of space has one answer wherever it is met. */
int ferry_error_code_for_errno(int err);

/* Creates @path (never an existing file or through a link) with exactly @mode, writes @data
 * and fsyncs it. NoCapacity when the file system is full, else Failed; nothing left behind. */
gboolean ferry_write_new_file(const char *path, const char *data, gsize len, guint mode, GError **error);

/* Reads a small file that someone else may have put there (a library shared with other
 * hosts): opened without following a link and without blocking (a FIFO), regular files only,
 * at most @max_size bytes, NUL-terminated. Failed naming the file and what is wrong with it
 * ("is missing", "is not a regular file", "is too large"). */
gboolean ferry_read_untrusted_file(const char *path, gsize max_size, char **contents, gsize *length, GError **error);

/* One regular file of a copied tree. */
typedef struct {
    char *path;             /* relative to the tree's root, '/'-separated */
    guint mode;             /* permission bits (07777) */
    FerryFileDigest digest;
} FerryTreeFile;

void ferry_tree_file_free(FerryTreeFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryTreeFile, ferry_tree_file_free)

/* Copies the directory tree @src (small files: swtpm state) to @dst, which must not exist,
 * keeping permission bits and, when running as root, owners. Directories and regular files
 * only: anything else (symlinks, sockets, devices) is FERRY_ERROR_UNSUPPORTED, so neither an
 * archive nor a restore follows a link out of the tree. The walk goes through directory
 * descriptors opened with O_NOFOLLOW, so a link swapped in during the copy (the tree's owner
 * may be swtpm's user) is refused too. Every file and directory is synced. Returns the
 * regular files (FerryTreeFile) in depth-first, name-sorted order, or NULL with @error set
 * and nothing of @dst left behind. */
GPtrArray *ferry_copy_tree(const char *src, const char *dst, GCancellable *cancellable, GError **error);
/* The same, every file and directory owned by @uid:@gid (restoring swtpm state). */
GPtrArray *ferry_copy_tree_owned(const char *src, const char *dst, uid_t uid, gid_t gid, GCancellable *cancellable,
                                 GError **error);

/* For tests: pretend that file systems cannot report holes, so every byte is read. */
void ferry_copy_set_hole_detection(gboolean enabled);
/* For tests: never clone (FICLONE), always copy. */
void ferry_copy_set_reflinks(gboolean enabled);

/* Removes a file or a directory tree (what a failed copy created, a partial archive, an
 * archive); best effort, warning about what cannot be removed. Link-safe: every directory
 * is opened with O_NOFOLLOW relative to its parent, so a symbolic link anywhere in the
 * tree (@path itself included) is removed as a link, never followed. */
void ferry_remove_tree(const char *path);

/* The same digest, fed the file's content in order in chunks of any size: for a file that
 * someone else is still writing. */
typedef struct _FerryDigester FerryDigester;
FerryDigester *ferry_digester_new(void);
void ferry_digester_update(FerryDigester *digester, const guchar *data, gsize len);
/* Bytes fed so far. */
guint64 ferry_digester_size(FerryDigester *digester);
/* Fills @digest and frees @digester. */
void ferry_digester_finish(FerryDigester *digester, FerryFileDigest *digest);
void ferry_digester_free(FerryDigester *digester);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryDigester, ferry_digester_free)

G_END_DECLS
