/* What the archive, restore and verify jobs share (internal to plugin/). */
#pragma once

#include <libvirt/libvirt.h>

#include "libvirt-autoptr.h"

#include "copy.h"
#include "job.h"
#include "library.h"
#include "libvirt-open.h"


/* Byte accounting for a job that moves several files: total known up front, each copy
 * reports into it. */
typedef struct {
    FerryJob *job;
    guint64 total;
    guint64 done_before;   /* bytes of files finished */
    guint64 extra;         /* bytes moved elsewhere (the memory save) */
    gsize side;            /* bytes moved by a second thread (atomic) */
} FerryJobBytes;

gboolean ferry_job_bytes_progress(guint64 done, gpointer data);
/* For a second thread working for the same job: @done is its own running total. */
gboolean ferry_job_bytes_side_progress(guint64 done, gpointer data);
void ferry_job_bytes_file_done(FerryJobBytes *bytes, guint64 size);

/* The archive's file copied to @dst (created, never overwriting), digest checked against
 * the manifest as it is copied. */
gboolean ferry_copy_from_archive(const char *archive_dir, const FerryManifestFile *file, const char *dst,
                                 FerryJobBytes *bytes, GError **error);

/* Metadata namespace of the pending-deletion mark. */
#define FERRY_ARCHIVE_MARK_KEY "ferryarchive"
