/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Restore: an archive of the library back onto this host, as a job,
 * crash-safe like archiving (archive.h). */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "config.h"
#include "job.h"
#include "journal.h"

G_BEGIN_DECLS

typedef struct {
    char *name;        /* NULL: the archived name */
    char *network;     /* NULL: each NIC's own network, else one of its switch kind */
    int start;         /* -1: as archived; 0: paused (memory state) or defined only; 1: running */
    gboolean copy;     /* a copy under @name: new UUID and MACs, booted from its disks */
    gboolean break_lock;          /* take over another host's restore lock (restore-lock.h) */
    gboolean ignore_unreachable;  /* restore although a peer cannot be asked whether it runs there */
} FerryRestoreOptions;

/* Restores the archive @id on this host. NotFound / InvalidArgument for the id at once. */
FerryJob *ferry_restore_start(FerryJobs *jobs, FerryConfig *config, const char *id,
                              const FerryRestoreOptions *options, GError **error);

/* Finishes or rolls back the restore job of journal entry @journal. Blocking. */
void ferry_restore_recover_journal(const FerryConfig *config, virConnectPtr conn, FerryJournal *journal);

G_END_DECLS
