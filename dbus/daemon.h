/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferryd: the D-Bus adaptor of the host engine (plugin/host.h). It exports the
 * engine's objects, asks polkit, and turns method calls into engine calls and engine
 * callbacks into properties and signals; it holds no state of its own beyond the bus
 * objects. Everything here runs in the main thread. */
#pragma once

#include <gio/gio.h>

#include "ferry-generated.h"
#include "ferry-names.h"
#include "host.h"

typedef struct _FerrydAuthz FerrydAuthz;

typedef struct {
    FerryHost *host;              /* the engine */
    FerryConfig *config;          /* the engine's, borrowed */
    FerryInventory *inventory;    /* the engine's, borrowed */
    FerryJobs *jobs;              /* the engine's, borrowed */
    FerrydAuthz *authz;
    GDBusConnection *bus;
    GDBusObjectManagerServer *objects;
    FerryBusManager *manager;     /* skeleton at FERRY_ROOT_PATH */
    FerryBusHook *hook;           /* skeleton at FERRY_ROOT_PATH */
    GHashTable *domain_objects;   /* uuid -> FerryBusObjectSkeleton */
    GHashTable *job_objects;      /* job id -> JobEntry (jobs.c) */
    GHashTable *archive_objects;  /* archive id -> FerryBusObjectSkeleton */
} FerrydDaemon;

/* A method call waiting for an engine function's answer (main.c). */
typedef struct {
    FerrydDaemon *daemon;
    GDBusMethodInvocation *invocation;
} FerrydCall;

FerrydCall *ferryd_call_new(FerrydDaemon *daemon, GDBusMethodInvocation *invocation);
void ferryd_call_free(FerrydCall *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerrydCall, ferryd_call_free)

/* authz.c: polkit, asynchronously (no thread waits while polkit or the user at an agent
 * decides), as systemd's bus_verify_polkit_async. */
FerrydAuthz *ferryd_authz_new(void);
void ferryd_authz_free(FerrydAuthz *authz);

/* The rest of a method handler once polkit said yes: it reads its arguments from
 * @invocation's parameters. @uuid is the domain the caller was authorized for (canonical,
 * looked up before asking), or NULL when the method's target is not a domain of this host. */
typedef void (*FerrydAuthorizedFunc)(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid);

/* Asks polkit whether @invocation's caller may perform @action_id on the domain
 * @name_or_uuid, resolved through the inventory first so that the details carry its
 * canonical name ("domain") and UUID ("uuid"), with "verb". Answers NotFound itself when
 * there is no such domain, AccessDenied when polkit says no; calls @authorized otherwise. */
void ferryd_authorize_domain(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *action_id,
                             const char *name_or_uuid, const char *verb, FerrydAuthorizedFunc authorized);
/* The same for a target that is not a domain of this host (an archive id, a host): the
 * details carry it as "domain" (and @uuid as "uuid" when not NULL), with "verb". */
void ferryd_authorize(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *action_id,
                      const char *target, const char *uuid, const char *verb, FerrydAuthorizedFunc authorized);

/* domains.c: one org.virtferry.Ferry1.Domain object per inventory entry. */
char *ferryd_domain_object_path(const char *name);
void ferryd_domain_added(const FerryDomainInfo *info, gpointer daemon);
void ferryd_domain_changed(const FerryDomainInfo *old, const FerryDomainInfo *info, gpointer daemon);
void ferryd_domain_removed(const FerryDomainInfo *info, gpointer daemon);

/* manager.c */
void ferryd_manager_setup(FerrydDaemon *daemon);
void ferryd_connection_changed(gboolean connected, const char *detail, gpointer daemon);
void ferryd_health_changed(GVariant *health, gpointer daemon);
void ferryd_overcommitted_changed(gboolean overcommitted, const char *reason, gpointer daemon);

/* jobs.c: org.virtferry.Ferry1.Job objects. */
void ferryd_jobs_setup(FerrydDaemon *daemon);
void ferryd_jobs_clear(FerrydDaemon *daemon);
void ferryd_job_changed(FerryJob *job, gpointer daemon);
/* Every key of @options is one of @keys ("name:type" pairs, NULL-terminated) with that type. */
gboolean ferryd_check_options(GVariant *options, const char *const *keys, GError **error);
/* Answers a method that starts a job: the job's path (exported), or @error. Takes @job's
 * reference (what ferry_jobs_start returned). */
void ferryd_reply_job(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, FerryJob *job, GError *error);

/* migrations.c: Manager.Migrate, Manager.Failover. */
void ferryd_migrations_setup(FerrydDaemon *daemon);
/* evacuations.c: Manager.PlanEvacuation, Manager.Evacuate. */
void ferryd_evacuations_setup(FerrydDaemon *daemon);
/* disks.c: Manager.MoveDisk. */
void ferryd_disks_setup(FerrydDaemon *daemon);

/* archives.c: org.virtferry.Ferry1.Archive objects and the Manager's archive methods. */
void ferryd_archives_setup(FerrydDaemon *daemon);
void ferryd_archives_clear(FerrydDaemon *daemon);
void ferryd_archives_changed(GPtrArray *manifests, gpointer daemon);

/* networks.c: Manager.CheckNetworks. */
void ferryd_networks_setup(FerrydDaemon *daemon);

/* maintenance.c: Manager.EnterMaintenance, LeaveMaintenance, the Maintenance property. */
void ferryd_maintenance_setup(FerrydDaemon *daemon);

/* hook.c */
void ferryd_hook_setup(FerrydDaemon *daemon);
