/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "archive-util.h"

#include "libvirt-error.h"

#include <glib/gstdio.h>

gboolean ferry_copy_from_archive(const char *archive_dir, const FerryManifestFile *file, const char *dst,
                                 GCancellable *cancellable, FerryCopyProgress progress, gpointer progress_data,
                                 GError **error)
{
    g_autofree char *src = g_build_filename(archive_dir, file->path, NULL);
    FerryFileDigest digest;
    if (!ferry_copy_file_nofollow(src, dst, 0600, cancellable, progress, progress_data, &digest, error))
        return FALSE;
    if (!ferry_manifest_file_matches(file, &digest, archive_dir, error)) {
        g_unlink(dst);
        return FALSE;
    }
    return TRUE;
}
