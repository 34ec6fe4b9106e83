#include "archive-util.h"

#include "libvirt-error.h"

#include <glib/gstdio.h>

virConnectPtr ferry_job_connect(const char *uri, GError **error)
{
    virConnectPtr conn = virConnectOpen(uri);
    if (!conn)
        ferry_error_from_libvirt(error, "cannot connect to libvirtd at %s", uri);
    return conn;
}

gboolean ferry_job_bytes_progress(guint64 done, gpointer data)
{
    FerryJobBytes *b = data;
    guint64 moved = MIN(b->done_before + b->extra + done + (gsize)g_atomic_pointer_get(&b->side), b->total);
    ferry_job_set_data(b->job, b->total, b->total - moved);
    return !g_cancellable_is_cancelled(ferry_job_cancellable(b->job));
}

gboolean ferry_job_bytes_side_progress(guint64 done, gpointer data)
{
    FerryJobBytes *b = data;
    g_atomic_pointer_set(&b->side, (gsize)done);
    return ferry_job_bytes_progress(0, b);
}

void ferry_job_bytes_file_done(FerryJobBytes *b, guint64 size)
{
    b->done_before += size;
    ferry_job_bytes_progress(0, b);
}

gboolean ferry_copy_from_archive(const char *archive_dir, const FerryManifestFile *file, const char *dst,
                                 FerryJobBytes *bytes, GError **error)
{
    g_autofree char *src = g_build_filename(archive_dir, file->path, NULL);
    FerryFileDigest digest;
    if (!ferry_copy_file_nofollow(src, dst, 0600, ferry_job_cancellable(bytes->job), ferry_job_bytes_progress,
                                  bytes, &digest, error))
        return FALSE;
    if (digest.size != file->size || !g_str_equal(digest.checksum, file->digest)) {
        g_unlink(dst);
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "archive %s: file %s does not match its manifest (%s): the archive is corrupted",
                    archive_dir, file->path, digest.size != file->size ? "size differs" : "digest differs");
        return FALSE;
    }
    ferry_job_bytes_file_done(bytes, file->allocated);
    return TRUE;
}
