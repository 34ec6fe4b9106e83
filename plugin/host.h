/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host engine: everything virt-ferry keeps about this host and does on its own, apart
 * from any bus. It owns the domain inventory, libvirtd's health, the jobs, the recovery of
 * jobs a killed virt-ferryd left (once, at the first connection to libvirtd), the archive
 * library's listing (refreshed after every job and periodically) and the network map on
 * disk that virt-ferry-hook reads (with the peers' networks). virt-ferryd's D-Bus adaptor
 * (dbus/) only exposes it: it calls these functions and is told of changes through
 * FerryHostCallbacks. Everything here runs in the main context the host was created in;
 * the blocking work goes to threads and comes back to that context. */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "evacuate.h"
#include "health.h"
#include "inventory.h"
#include "job.h"

G_BEGIN_DECLS

typedef struct _FerryHost FerryHost;

/* Called in the host's main context. The domain callbacks are the inventory's (see
 * FerryInventoryCallbacks); every member may be NULL. */
typedef struct {
    void (*domain_added)(const FerryDomainInfo *domain, gpointer user_data);
    void (*domain_changed)(const FerryDomainInfo *old, const FerryDomainInfo *domain, gpointer user_data);
    void (*domain_removed)(const FerryDomainInfo *domain, gpointer user_data);
    /* libvirtd connected or lost; the host has already started what a connection starts. */
    void (*connection_changed)(gboolean connected, const char *detail, gpointer user_data);
    /* a{sv} as FerryHealthCallback gives it. */
    void (*health_changed)(GVariant *health, gpointer user_data);
    /* A job changed (coalesced) or finished (see FerryJobObserver). */
    void (*job_changed)(FerryJob *job, gpointer user_data);
    /* The library was read: @manifests (FerryManifest) is every archive it holds now. */
    void (*archives_changed)(GPtrArray *manifests, gpointer user_data);
    /* The cluster reserve's Overcommitted changed; @reason names the failed hosts whose
     * domains would not fit and why, or says that all fit. */
    void (*overcommitted_changed)(gboolean overcommitted, const char *reason, gpointer user_data);
} FerryHostCallbacks;

/* Takes a reference on @config. Starts nothing: no callback runs before ferry_host_start. */
FerryHost *ferry_host_new(FerryConfig *config, const FerryHostCallbacks *callbacks, gpointer user_data);
/* Polls libvirtd's health (the first time at once, from here), watches the network
 * declarations, reads the peers' networks and connects to libvirtd: the callbacks report
 * from then on. Once. */
void ferry_host_start(FerryHost *host);
void ferry_host_free(FerryHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryHost, ferry_host_free)

FerryConfig *ferry_host_config(FerryHost *host);
FerryInventory *ferry_host_inventory(FerryHost *host);
FerryJobs *ferry_host_jobs(FerryHost *host);
/* PlanEvacuation and Evacuate of this host (evacuate.h). */
FerryEvacuations *ferry_host_evacuations(FerryHost *host);

/* The cluster reserve (reserve.h): [evacuation] reserve=, and whether the
 * running domains of that many failed hosts would not fit on the others. Kept current in
 * a thread of its own from a snapshot of this host and its peers (snapshot.h), read a few
 * seconds after this host's domains change (coalesced) and at every refresh of the peers;
 * reserve 0: never read, never overcommitted. */
guint ferry_host_cluster_reserve(FerryHost *host);
/* As last computed; *@reason (may be NULL; valid until the next change) says why, that all
 * fit, that nothing was checked yet, or why the last check failed (the answer before it
 * stands then). */
gboolean ferry_host_overcommitted(FerryHost *host, const char **reason);

/* libvirtd reported (through its hook) that it started: connect now, not at the next retry. */
void ferry_host_libvirtd_started(FerryHost *host);
/* A network changed in a way libvirt sends no event for (a network hook reported it): the
 * map on disk follows. */
void ferry_host_networks_changed(FerryHost *host);
/* Every archive of the library (FerryManifest), read in a thread; archives_changed reports
 * the same list first. */
void ferry_host_list_archives_async(FerryHost *host, GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *ferry_host_list_archives_finish(FerryHost *host, GAsyncResult *result, GError **error);

/* a(ssss): see ferry_networks_compare (networks.h), run in a thread. */
void ferry_host_check_networks_async(FerryHost *host, GAsyncReadyCallback callback, gpointer user_data);
GVariant *ferry_host_check_networks_finish(FerryHost *host, GAsyncResult *result, GError **error);

/* Starts verifying the archive @id (ferry_verify_start) for @caller (a bus name). Anyone
 * may ask, so at most FERRY_HOST_MAX_VERIFY run at once and FERRY_HOST_MAX_VERIFY_PER_CALLER
 * for one caller: Busy beyond. Returns a new reference. */
#define FERRY_HOST_MAX_VERIFY 4
#define FERRY_HOST_MAX_VERIFY_PER_CALLER 1
FerryJob *ferry_host_verify_start(FerryHost *host, const char *id, const char *caller, GError **error);

/* Purges the domain @name_or_uuid (see ferry_purge), holding it as a job would:
 * InvalidArgument when it is not pending deletion, Busy when a job runs on it. */
void ferry_host_purge_async(FerryHost *host, const char *name_or_uuid, GAsyncReadyCallback callback,
                            gpointer user_data);
gboolean ferry_host_purge_finish(FerryHost *host, GAsyncResult *result, GError **error);

/* Deletes the archive @id from the library (ferry_library_delete), damaged or not, then
 * refreshes the listing: Busy while a restore or verify job reads it. */
void ferry_host_delete_archive_async(FerryHost *host, const char *id, GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean ferry_host_delete_archive_finish(FerryHost *host, GAsyncResult *result, GError **error);

G_END_DECLS
