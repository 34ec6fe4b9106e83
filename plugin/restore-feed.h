/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The memory state of an archive, fed to libvirt's restore through a pipe by the reader that
 * verifies it, so that the image is read once. The last block is held back until the caller
 * opens the gate (its disks are in place) and the digest matched: QEMU cannot finish loading,
 * let alone run, a guest from a damaged image or from disks still being copied. When either
 * fails the pipe is closed short, QEMU's load fails and libvirt's restore with it. */
#pragma once

#include <gio/gio.h>

#include "job.h"
#include "library.h"

G_BEGIN_DECLS

typedef struct _FerryMemoryFeed FerryMemoryFeed;

/* Starts feeding @file of the archive in @archive_dir (the id @archive_id names it in errors)
 * into a FIFO made in a new private directory under @run_dir. @cancellable's cancel stops it
 * as ferry_memory_feed_open_gate(FALSE) does; @bytes (may be NULL) takes its progress. */
FerryMemoryFeed *ferry_memory_feed_start(const char *run_dir, const char *archive_dir, const char *archive_id,
                                         const FerryManifestFile *file, GCancellable *cancellable,
                                         FerryJobBytes *bytes, GError **error);
/* The FIFO to give libvirt as the save image. */
const char *ferry_memory_feed_path(FerryMemoryFeed *feed);
/* The disks are in place (@ok): the tail goes out once the digest matched. Or they will not
 * be: the feed stops at once (also while libvirt has yet to open the FIFO), the pipe closed
 * short. */
void ferry_memory_feed_open_gate(FerryMemoryFeed *feed, gboolean ok);
/* Waits for the feeder: FALSE with its error when the image did not match its manifest (or
 * could not be fed); G_IO_ERROR_CANCELLED when it was stopped or the gate stayed shut. */
gboolean ferry_memory_feed_finish(FerryMemoryFeed *feed, GError **error);
/* Stops feeding (the pipe is closed short), waits for the feeder, removes the FIFO. */
void ferry_memory_feed_free(FerryMemoryFeed *feed);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryMemoryFeed, ferry_memory_feed_free)

G_END_DECLS
