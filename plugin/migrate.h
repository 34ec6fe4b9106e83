/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Peer-to-peer migration: this host's libvirtd moves a domain straight to a
 * peer's, by the first of the user's methods, in canonical order, whose checks pass and that
 * succeeds. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "config.h"
#include "job.h"
#include "migrate-check.h"
#include "domxml.h"
#include "netmap.h"

G_BEGIN_DECLS

typedef struct {
    guint64 bandwidth_mib;       /* 0: unlimited */
    gboolean compress;           /* XBZRLE deltas for pages sent again */
    gboolean auto_converge;
    guint parallel;              /* 0 or 1: one connection; 2..32 */
    gboolean postcopy;           /* switch to post-copy rather than abort when not converging */
    guint progress_timeout;      /* seconds without progress; 0: the default */
    guint completion_timeout;    /* seconds per GiB of guest memory; 0: the default */
    guint shutdown_timeout;      /* move: seconds for a graceful shutdown before forcing it off; 0: the default */
} FerryMigrateOptions;

#define FERRY_MIGRATE_PROGRESS_TIMEOUT 150   /* as Nova's live_migration_progress_timeout */
#define FERRY_MIGRATE_COMPLETION_TIMEOUT 800 /* as Nova's live_migration_completion_timeout */
#define FERRY_MOVE_SHUTDOWN_TIMEOUT 120      /* s a guest gets to shut down before a move forces it off */

/* The peer of @config that @peer names: its libvirt URI exactly, or the host in one of the
 * URIs. NotFound naming the peers there are. */
char *ferry_peer_uri(const FerryConfig *config, const char *peer, GError **error);


/* Starts moving the domain to @peer_uri by the first of @methods (names, any order; empty:
 * "migration") that works. InvalidArgument for an unknown method, Unsupported when none of
 * them is one this version carries out; Busy when the domain has a job. */
FerryJob *ferry_migrate_start(FerryJobs *jobs, FerryConfig *config, const char *domain_uuid,
                              const char *domain_name, const char *peer_uri, const char *const *methods,
                              const FerryMigrateOptions *options, GError **error);

/* Where one NIC (@nic from the migratable definition, @live from the running one or NULL)
 * goes among @map, the peer's networks (table B2, @here: this host's networks for the VLAN
 * a stopped domain's portgroup carries). NetworkUnavailable when the peer cannot take it,
 * as the migration itself would find: PlanEvacuation asks the same question. */
gboolean ferry_migrate_nic_decide(const FerryNic *nic, const FerryNic *live, const FerryNetmap *map,
                                  const FerryNetmap *here, FerryNicMapping *out, GError **error);

/* What a domain's move reports while it runs inside another job (an evacuation moves many
 * under one): its data and messages go to these instead of the job's own; its steps and
 * notes go to the job, and the job's Cancel stops it. Called in the job's thread. */
typedef struct {
    void (*data)(gpointer user_data, guint64 total, guint64 remaining);
    void (*message)(gpointer user_data, const char *message);
    gpointer user_data;
    /* An image created on the target (a storage migration's or a move's copy), before any
     * byte goes into it; NULL: not asked. */
    void (*image_created)(gpointer user_data, const char *path);
} FerryMigrateReport;

/* The engine of ferry_migrate_start's job, run in @job's own thread for one domain: tries
 * @methods (FerryMethod, canonical order) in turn, with the same checks and fallback; @used
 * (may be NULL) tells which one succeeded. The caller holds the domain (ferry_jobs_hold). */
gboolean ferry_migrate_run(FerryJob *job, FerryConfig *config, const char *domain_uuid, const char *domain_name,
                           const char *peer_uri, GArray *methods, const FerryMigrateOptions *options,
                           const FerryMigrateReport *report, FerryMethod *used, GError **error);

/* The images a storage migration of @dom (on its host) needs on @dst: each file-backed,
 * writable, unshared disk created at the same path (a Step "disk" each, saying "created
 * @where"), listed in @created (g_free'd paths). Busy when a file is there already. */
gboolean ferry_migrate_create_disks(FerryJob *job, const char *name, virDomainPtr dom, virConnectPtr dst,
                                    const char *where, GPtrArray *created, GError **error);
/* Removes the images at @paths on @conn's host, through its storage pool so that the pool does
 * not go on listing them; a file no pool can show is unlinked when it is this host's (@local).
 * FALSE if one of them could not be removed (logged). */
gboolean ferry_migrate_remove_images(virConnectPtr conn, GPtrArray *paths, gboolean local);

G_END_DECLS
