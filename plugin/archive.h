/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Save-image archiving, verify and purge, as jobs, crash-safe: each job
 * journals its steps, and ferry_archive_recover_journal() finishes or rolls back what a
 * killed virt-ferryd left half done (recover.c calls it). Restore is restore.h. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "config.h"
#include "job.h"
#include "journal.h"

G_BEGIN_DECLS

/* Archives the domain (running, paused or shut off) into the library. Busy when the domain
 * has a job; the other checks run in the job and fail it. */
FerryJob *ferry_archive_start(FerryJobs *jobs, FerryConfig *config, const char *domain_uuid,
                              const char *domain_name, GError **error);

/* Reads every file of the archive against its manifest. */
FerryJob *ferry_verify_start(FerryJobs *jobs, FerryConfig *config, const char *id, GError **error);

/* Verifies the domain's archive, then undefines the domain and deletes the disk files the
 * archive holds copies of. Blocking: call it in a thread (the caller holds the domain). */
gboolean ferry_purge(const FerryConfig *config, const char *domain_uuid, GError **error);

/* Finishes or rolls back the archive job of journal entry @journal. Blocking. */
void ferry_archive_recover_journal(const FerryConfig *config, virConnectPtr conn, FerryJournal *journal);

G_END_DECLS
