/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the archive, restore and verify jobs share (internal to plugin/). */
#pragma once

#include <libvirt/libvirt.h>

#include "libvirt-autoptr.h"

#include "copy.h"
#include "job.h"
#include "library.h"
#include "libvirt-open.h"


/* The archive's file copied to @dst (created, never overwriting), digest checked against
 * the manifest as it is copied; @progress as ferry_copy_file's. */
gboolean ferry_copy_from_archive(const char *archive_dir, const FerryManifestFile *file, const char *dst,
                                 GCancellable *cancellable, FerryCopyProgress progress, gpointer progress_data,
                                 GError **error);

/* Metadata namespace of the pending-deletion mark. */
#define FERRY_ARCHIVE_MARK_KEY "ferryarchive"
