/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.Migrate: a domain of this host to a peer, and Manager.Failover: a dead host's
 * domains to this one, as jobs (plugin/migrate.c, plugin/failover.c). */
#include "daemon.h"

#include "failover.h"
#include "ferry-error.h"
#include "migrate.h"

static gboolean read_options(GVariant *v, FerryMigrateOptions *o, GError **error)
{
    static const char *const keys[] = { "bandwidth:t", "compress:b", "auto_converge:b", "parallel:u",
                                        "postcopy:b", "progress_timeout:u", "completion_timeout:u",
                                        "shutdown_timeout:u", NULL };
    if (!ferryd_check_options(v, keys, error))
        return FALSE;
    g_variant_lookup(v, "bandwidth", "t", &o->bandwidth_mib);
    g_variant_lookup(v, "compress", "b", &o->compress);
    g_variant_lookup(v, "auto_converge", "b", &o->auto_converge);
    g_variant_lookup(v, "parallel", "u", &o->parallel);
    g_variant_lookup(v, "postcopy", "b", &o->postcopy);
    g_variant_lookup(v, "progress_timeout", "u", &o->progress_timeout);
    g_variant_lookup(v, "completion_timeout", "u", &o->completion_timeout);
    g_variant_lookup(v, "shutdown_timeout", "u", &o->shutdown_timeout);
    return TRUE;
}

static void migrate_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    const char *peer;
    g_autofree const char **methods = NULL;
    g_autoptr(GVariant) given = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&s^a&s@a{sv})", NULL, &peer, &methods,
                  &given);
    g_autoptr(GError) error = NULL;
    FerryMigrateOptions options = { 0 };
    FerryJob *job = NULL;
    const FerryDomainInfo *info = read_options(given, &options, &error)
                                      ? ferry_inventory_lookup(daemon->inventory, uuid, &error)
                                      : NULL;
    g_autofree char *peer_uri = info ? ferry_peer_uri(daemon->config, peer, &error) : NULL;
    if (peer_uri)
        job = ferry_migrate_start(daemon->jobs, daemon->config, info->uuid, info->name, peer_uri, methods, &options,
                                  &error);
    ferryd_reply_job(daemon, invocation, job, error);
}

static gboolean handle_migrate(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                               const char *peer, const char *const *methods, GVariant *options,
                               FerrydDaemon *daemon)
{
    ferryd_authorize_domain(daemon, invocation, ferry_job_kind_action(FERRY_JOB_MIGRATE), domain, "migrate",
                            migrate_authorized);
    return TRUE;
}

static void failover_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    static const char *const keys[] = { "domains:as", "start:b", NULL };
    const char *host;
    g_autoptr(GVariant) given = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", &host, &given);
    g_autoptr(GError) error = NULL;
    g_autofree const char **domains = NULL;
    gboolean start = TRUE;
    FerryJob *job = NULL;
    if (ferryd_check_options(given, keys, &error)) {
        g_variant_lookup(given, "domains", "^a&s", &domains);
        g_variant_lookup(given, "start", "b", &start);
        job = ferry_failover_start(daemon->jobs, daemon->config, host, domains, start, &error);
    }
    ferryd_reply_job(daemon, invocation, job, error);
}

/* Failover defines domains from shared storage: an action of its own, never kept. */
static gboolean handle_failover(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *host,
                                GVariant *options, FerrydDaemon *daemon)
{
    ferryd_authorize(daemon, invocation, ferry_job_kind_action(FERRY_JOB_FAILOVER), host, NULL, "failover",
                     failover_authorized);
    return TRUE;
}

void ferryd_migrations_setup(FerrydDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-migrate", G_CALLBACK(handle_migrate), daemon);
    g_signal_connect(daemon->manager, "handle-failover", G_CALLBACK(handle_failover), daemon);
}
