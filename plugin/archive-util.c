/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "archive-util.h"

#include "libvirt-error.h"

#include <glib/gstdio.h>

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
