/* virt-ferryd: the pieces the D-Bus side shares. */
#pragma once

#include <gio/gio.h>

#include "authz.h"
#include "config.h"
#include "evacuate.h"
#include "ferry-generated.h"
#include "ferry-names.h"
#include "health.h"
#include "inventory.h"
#include "job.h"

typedef struct {
    FerryConfig *config;
    FerryInventory *inventory;
    FerryHealth *health;
    FerryAuthz *authz;
    GDBusConnection *bus;
    GDBusObjectManagerServer *objects;
    FerryManager *manager;        /* skeleton at FERRY_ROOT_PATH */
    FerryHook *hook;              /* skeleton at FERRY_ROOT_PATH */
    GHashTable *domain_objects;   /* uuid -> FerryObjectSkeleton */
    FerryJobs *jobs;
    FerryEvacuations *evacuations;
    GHashTable *job_objects;      /* job id -> JobEntry (jobs.c) */
    GHashTable *archive_objects;  /* archive id -> FerryObjectSkeleton */
    guint archive_timer;
    gboolean recovery_done;
    guint netmap_timer;
    GFileMonitor *networks_monitor;
    gboolean netmap_writing, netmap_again;
    GPtrArray *peer_maps;         /* FerryPeerNetmap: the peers' networks, last read */
    gboolean peers_reading;
} FerryDaemon;

/* domains.c: one org.virtferry.Ferry1.Domain object per inventory entry. */
extern const FerryInventoryCallbacks ferry_daemon_inventory_callbacks;
char *ferry_domain_object_path(const char *name);

/* manager.c */
void ferry_manager_setup(FerryDaemon *daemon);
void ferry_manager_update_connection(FerryDaemon *daemon);
void ferry_manager_update_health(GVariant *health, gpointer daemon);

/* jobs.c: org.virtferry.Ferry1.Job objects. */
void ferry_daemon_jobs_setup(FerryDaemon *daemon);
void ferry_daemon_jobs_clear(FerryDaemon *daemon);
/* Exports @job (just started for @invocation's caller) and returns its object path. */
char *ferry_daemon_export_job(FerryDaemon *daemon, FerryJob *job, GDBusMethodInvocation *invocation);
/* Every key of @options is one of @keys ("name:type" pairs, NULL-terminated) with that type. */
gboolean ferry_daemon_check_options(GVariant *options, const char *const *keys, GError **error);
/* Answers a method that starts a job: the job's path (exported), or @error. */
void ferry_daemon_reply_job(FerryDaemon *daemon, GDBusMethodInvocation *invocation, FerryJob *job, GError *error,
                            void (*complete)(FerryManager *, GDBusMethodInvocation *, const char *));

/* migrations.c: Manager.Migrate. */
void ferry_daemon_migrations_setup(FerryDaemon *daemon);
/* evacuations.c: Manager.PlanEvacuation and Manager.Evacuate. */
void ferry_daemon_evacuations_setup(FerryDaemon *daemon);
/* disks.c: Manager.MoveDisk. */
void ferry_daemon_disks_setup(FerryDaemon *daemon);

/* archives.c: org.virtferry.Ferry1.Archive objects and the Manager's archive methods. */
void ferry_daemon_archives_setup(FerryDaemon *daemon);
void ferry_daemon_archives_clear(FerryDaemon *daemon);
void ferry_daemon_archives_refresh(FerryDaemon *daemon);
/* Finishes or rolls back the jobs a killed virt-ferryd left (once, when libvirtd is first
 * reachable). */
void ferry_daemon_archives_recover(FerryDaemon *daemon);

/* networks.c: the network map on disk for the hook, and Manager.CheckNetworks. */
void ferry_daemon_networks_setup(FerryDaemon *daemon);
void ferry_daemon_networks_clear(FerryDaemon *daemon);
void ferry_daemon_networks_changed(gpointer daemon);

/* hook.c */
void ferry_hook_setup(FerryDaemon *daemon);
