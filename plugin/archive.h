/* Save-image archiving (MISSION A1-A4) and restore (B1, B4), as jobs, crash-safe: each
 * job journals its steps, and ferry_archive_recover() finishes or rolls back whatever a
 * killed virt-ferryd left half done. */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "job.h"

G_BEGIN_DECLS

/* Archives the domain (running, paused or shut off) into the library. Busy when the domain
 * has a job; the other checks run in the job and fail it. */
FerryJob *ferry_archive_start(FerryJobs *jobs, const FerryConfig *config, const char *domain_uuid,
                              const char *domain_name, GError **error);

typedef struct {
    char *name;        /* NULL: the archived name */
    char *network;     /* NULL: each NIC's own network, else one of its switch kind */
    int start;         /* -1: as archived; 0: paused (memory state) or defined only; 1: running */
    gboolean copy;     /* a copy under @name: new UUID and MACs, booted from its disks */
    gboolean break_lock;          /* take over another host's restore lock (restore-lock.h) */
    gboolean ignore_unreachable;  /* restore although a peer cannot be asked whether it runs there */
} FerryRestoreOptions;

/* Restores the archive @id on this host. NotFound / InvalidArgument for the id at once. */
FerryJob *ferry_restore_start(FerryJobs *jobs, const FerryConfig *config, const char *id,
                              const FerryRestoreOptions *options, GError **error);

/* Reads every file of the archive against its manifest. */
FerryJob *ferry_verify_start(FerryJobs *jobs, const FerryConfig *config, const char *id, GError **error);

/* Verifies the domain's archive, then undefines the domain and deletes the disk files the
 * archive holds copies of. Blocking: call it in a thread (the caller holds the domain). */
gboolean ferry_purge(const FerryConfig *config, const char *domain_uuid, GError **error);

/* Finishes or rolls back the jobs a previous virt-ferryd left in the journal. Blocking:
 * call it in a thread at start. */
void ferry_archive_recover(const FerryConfig *config);
/* Removes the restore locks this host's earlier virt-ferryd left in the library (after
 * ferry_archive_recover rolled their restores back). Blocking. */
void ferry_restore_locks_sweep(const FerryConfig *config);

G_END_DECLS
