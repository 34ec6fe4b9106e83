/* org.virtferry.Ferry1.Manager: host properties and the methods that act on domains. */
#include "daemon.h"

#include "errors.h"
#include "ferry-error.h"

void ferry_manager_update_connection(FerryDaemon *daemon)
{
    ferry_manager_set_hostname(daemon->manager, ferry_inventory_hostname(daemon->inventory));
    ferry_manager_set_libvirt_connected(daemon->manager, ferry_inventory_is_connected(daemon->inventory));
}

void ferry_manager_update_health(GVariant *health, gpointer data)
{
    FerryDaemon *daemon = data;
    GVariant *old = ferry_manager_get_libvirt_health(daemon->manager);
    if (!old || !g_variant_equal(old, health))
        ferry_manager_set_libvirt_health(daemon->manager, health);
}

static gboolean handle_get_domain(FerryManager *manager, GDBusMethodInvocation *invocation,
                                  const char *name_or_uuid, FerryDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    const FerryDomainInfo *info = ferry_inventory_lookup(daemon->inventory, name_or_uuid, &error);
    if (!info) {
        g_dbus_method_invocation_return_gerror(invocation, error);
        return TRUE;
    }
    g_autofree char *path = ferry_domain_object_path(info->name);
    ferry_manager_complete_get_domain(manager, invocation, path);
    return TRUE;
}

typedef struct {
    FerryDaemon *daemon;
    char *domain;
    GVariant *policy;
} PolicyCall;

static void policy_call_free(gpointer data)
{
    PolicyCall *call = data;
    g_free(call->domain);
    g_variant_unref(call->policy);
    g_free(call);
}

static void policy_written(GObject *source, GAsyncResult *res, gpointer data)
{
    GDBusMethodInvocation *invocation = data;
    FerryDaemon *daemon = g_object_get_data(G_OBJECT(invocation), "ferry-daemon");
    g_autoptr(GError) error = NULL;
    if (!ferry_inventory_set_policy_finish(daemon->inventory, res, &error))
        g_dbus_method_invocation_return_gerror(invocation, error);
    else
        ferry_manager_complete_set_domain_policy(daemon->manager, invocation);
}

static void set_policy_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    PolicyCall *call = data;
    g_object_set_data(G_OBJECT(invocation), "ferry-daemon", call->daemon);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE", "%s sets the policy of %s",
                     g_dbus_method_invocation_get_sender(invocation), call->domain,
                     "VIRT_FERRY_DOMAIN", "%s", call->domain);
    ferry_inventory_set_policy_async(call->daemon->inventory, call->domain, call->policy, NULL,
                                     policy_written, invocation);
}

static gboolean handle_set_domain_policy(FerryManager *manager, GDBusMethodInvocation *invocation,
                                         const char *domain, GVariant *policy, FerryDaemon *daemon)
{
    PolicyCall *call = g_new0(PolicyCall, 1);
    call->daemon = daemon;
    call->domain = g_strdup(domain);
    call->policy = g_variant_ref(policy);
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_POLICY, domain, "policy", set_policy_authorized,
                    call, policy_call_free);
    return TRUE;
}

void ferry_manager_setup(FerryDaemon *daemon)
{
    FerryManager *m = daemon->manager = ferry_manager_skeleton_new();
    ferry_manager_set_version(m, PACKAGE_VERSION);
    ferry_manager_set_peers(m, (const char *const *)daemon->config->peers);
    ferry_manager_set_maintenance(m, FALSE);
    ferry_manager_set_cluster_reserve(m, 0);
    ferry_manager_set_overcommitted(m, FALSE);
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "reachable", g_variant_new_boolean(FALSE));
    ferry_manager_set_libvirt_health(m, g_variant_builder_end(&b));
    ferry_manager_update_connection(daemon);
    g_signal_connect(m, "handle-get-domain", G_CALLBACK(handle_get_domain), daemon);
    g_signal_connect(m, "handle-set-domain-policy", G_CALLBACK(handle_set_domain_policy), daemon);
}
