/* Manager.Migrate: a domain of this host to a peer, and Manager.Failover: a dead host's
 * domains to this one, as jobs (plugin/migrate.c, plugin/failover.c). */
#include "daemon.h"

#include "failover.h"
#include "ferry-error.h"
#include "migrate.h"

typedef struct {
    FerryDaemon *daemon;
    char *domain, *peer;
    GStrv methods;
    GVariant *options;
} MigrateRequest;

static void request_free(MigrateRequest *r)
{
    g_free(r->domain);
    g_free(r->peer);
    g_strfreev(r->methods);
    g_variant_unref(r->options);
    g_free(r);
}

static gboolean read_options(GVariant *v, FerryMigrateOptions *o, GError **error)
{
    static const char *const keys[] = { "bandwidth:t", "compress:b", "auto_converge:b", "parallel:u",
                                        "postcopy:b", "progress_timeout:u", "completion_timeout:u",
                                        "shutdown_timeout:u", NULL };
    if (!ferry_daemon_check_options(v, keys, error))
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

static void migrate_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    MigrateRequest *r = data;
    FerryDaemon *daemon = r->daemon;
    g_autoptr(GError) error = NULL;
    FerryMigrateOptions options = { 0 };
    FerryJob *job = NULL;
    const FerryDomainInfo *info = read_options(r->options, &options, &error)
                                      ? ferry_inventory_lookup(daemon->inventory, r->domain, &error)
                                      : NULL;
    g_autofree char *peer_uri = info ? ferry_peer_uri(daemon->config, r->peer, &error) : NULL;
    if (peer_uri)
        job = ferry_migrate_start(daemon->jobs, daemon->config, info->uuid, info->name, peer_uri,
                                  (const char *const *)r->methods, &options, &error);
    ferry_daemon_reply_job(daemon, invocation, job, error, ferry_manager_complete_migrate);
}

static gboolean handle_migrate(FerryManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                               const char *peer, const char *const *methods, GVariant *options, FerryDaemon *daemon)
{
    MigrateRequest *r = g_new0(MigrateRequest, 1);
    r->daemon = daemon;
    r->domain = g_strdup(domain);
    r->peer = g_strdup(peer);
    r->methods = g_strdupv((char **)methods);
    r->options = g_variant_ref(options);
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_MIGRATE, domain, "migrate", migrate_authorized, r,
                    (GDestroyNotify)request_free);
    return TRUE;
}

typedef struct {
    FerryDaemon *daemon;
    char *host;
    GVariant *options;
} FailoverRequest;

static void failover_request_free(FailoverRequest *r)
{
    g_free(r->host);
    g_variant_unref(r->options);
    g_free(r);
}

static void failover_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    FailoverRequest *r = data;
    static const char *const keys[] = { "domains:as", "start:b", NULL };
    g_autoptr(GError) error = NULL;
    g_autofree const char **domains = NULL;
    gboolean start = TRUE;
    FerryJob *job = NULL;
    if (ferry_daemon_check_options(r->options, keys, &error)) {
        g_variant_lookup(r->options, "domains", "^a&s", &domains);
        g_variant_lookup(r->options, "start", "b", &start);
        job = ferry_failover_start(r->daemon->jobs, r->daemon->config, r->host, domains, start, &error);
    }
    ferry_daemon_reply_job(r->daemon, invocation, job, error, ferry_manager_complete_failover);
}

static gboolean handle_failover(FerryManager *manager, GDBusMethodInvocation *invocation, const char *host,
                                GVariant *options, FerryDaemon *daemon)
{
    FailoverRequest *r = g_new0(FailoverRequest, 1);
    r->daemon = daemon;
    r->host = g_strdup(host);
    r->options = g_variant_ref(options);
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_MIGRATE, host, "failover", failover_authorized, r,
                    (GDestroyNotify)failover_request_free);
    return TRUE;
}

void ferry_daemon_migrations_setup(FerryDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-migrate", G_CALLBACK(handle_migrate), daemon);
    g_signal_connect(daemon->manager, "handle-failover", G_CALLBACK(handle_failover), daemon);
}
