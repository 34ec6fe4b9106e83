/* Manager.Migrate: a domain of this host to a peer, as a job (plugin/migrate.c). */
#include "daemon.h"

#include "ferry-error.h"
#include "migrate.h"

#define ACTION_MIGRATE "org.virtferry.ferry1.migrate"

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
                                        "postcopy:b", "progress_timeout:u", "completion_timeout:u", NULL };
    if (!ferry_daemon_check_options(v, keys, error))
        return FALSE;
    g_variant_lookup(v, "bandwidth", "t", &o->bandwidth_mib);
    g_variant_lookup(v, "compress", "b", &o->compress);
    g_variant_lookup(v, "auto_converge", "b", &o->auto_converge);
    g_variant_lookup(v, "parallel", "u", &o->parallel);
    g_variant_lookup(v, "postcopy", "b", &o->postcopy);
    g_variant_lookup(v, "progress_timeout", "u", &o->progress_timeout);
    g_variant_lookup(v, "completion_timeout", "u", &o->completion_timeout);
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
    ferry_authorize(daemon->authz, invocation, ACTION_MIGRATE, domain, "migrate", migrate_authorized, r,
                    (GDestroyNotify)request_free);
    return TRUE;
}

void ferry_daemon_migrations_setup(FerryDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-migrate", G_CALLBACK(handle_migrate), daemon);
}
