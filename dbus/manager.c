/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.virtferry.Ferry1.Manager: host properties and the methods that act on domains. */
#include "daemon.h"
#include "log.h"

#include "errors.h"
#include "ferry-error.h"


static void update_connection(FerrydDaemon *daemon)
{
    ferry_bus_manager_set_hostname(daemon->manager, ferry_inventory_hostname(daemon->inventory));
    ferry_bus_manager_set_libvirt_connected(daemon->manager, ferry_inventory_is_connected(daemon->inventory));
}

void ferryd_connection_changed(gboolean connected, const char *detail, gpointer data)
{
    FerrydDaemon *daemon = data;
    update_connection(daemon);
    ferry_bus_manager_emit_host_event(daemon->manager, connected ? "libvirt-connected" : "libvirt-disconnected",
                                      detail);
}

void ferryd_health_changed(GVariant *health, gpointer data)
{
    FerrydDaemon *daemon = data;
    GVariant *old = ferry_bus_manager_get_libvirt_health(daemon->manager);
    if (!old || !g_variant_equal(old, health))
        ferry_bus_manager_set_libvirt_health(daemon->manager, health);
}

void ferryd_overcommitted_changed(gboolean overcommitted, const char *reason, gpointer data)
{
    FerrydDaemon *daemon = data;
    ferry_bus_manager_set_overcommitted(daemon->manager, overcommitted);
    ferry_bus_manager_emit_host_event(daemon->manager, overcommitted ? "overcommitted" : "reserve-restored", reason);
}

static gboolean handle_get_reserve(FerryBusManager *manager, GDBusMethodInvocation *invocation, FerrydDaemon *daemon)
{
    const char *reason = NULL;
    gboolean overcommitted = ferry_host_overcommitted(daemon->host, &reason);
    ferry_bus_manager_complete_get_reserve(manager, invocation, ferry_host_cluster_reserve(daemon->host),
                                           overcommitted, reason ? reason : "");
    return TRUE;
}

static gboolean handle_get_domain(FerryBusManager *manager, GDBusMethodInvocation *invocation,
                                  const char *name_or_uuid, FerrydDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    const FerryDomainInfo *info = ferry_inventory_lookup(daemon->inventory, name_or_uuid, &error);
    if (!info) {
        g_dbus_method_invocation_return_gerror(invocation, error);
        return TRUE;
    }
    g_autofree char *path = ferryd_domain_object_path(info->name);
    ferry_bus_manager_complete_get_domain(manager, invocation, path);
    return TRUE;
}

static void policy_written(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    g_autoptr(GError) error = NULL;
    if (!ferry_inventory_set_policy_finish(call->daemon->inventory, res, &error))
        g_dbus_method_invocation_return_gerror(call->invocation, error);
    else
        ferry_bus_manager_complete_set_domain_policy(call->daemon->manager, call->invocation);
}

static void set_policy_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    g_autoptr(GVariant) policy = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", NULL, &policy);
    const FerryDomainInfo *info = ferry_inventory_lookup(daemon->inventory, uuid, NULL);
    const char *name = info ? info->name : uuid;
    ferry_log(FERRY_LOG_NOTICE, NULL, (const char *const[]){ "VIRT_FERRY_DOMAIN", name, "VIRT_FERRY_UUID", uuid, NULL },
              "%s sets the policy of %s", g_dbus_method_invocation_get_sender(invocation), name);
    ferry_inventory_set_policy_async(daemon->inventory, uuid, policy, NULL, policy_written,
                                     ferryd_call_new(daemon, invocation));
}

static gboolean handle_set_domain_policy(FerryBusManager *manager, GDBusMethodInvocation *invocation,
                                         const char *domain, GVariant *policy, FerrydDaemon *daemon)
{
    ferryd_authorize_domain(daemon, invocation, FERRY_ACTION_POLICY, domain, "policy", set_policy_authorized);
    return TRUE;
}

void ferryd_manager_setup(FerrydDaemon *daemon)
{
    FerryBusManager *m = daemon->manager = ferry_bus_manager_skeleton_new();
    ferry_bus_manager_set_version(m, PACKAGE_VERSION);
    ferry_bus_manager_set_peers(m, (const char *const *)daemon->config->peers);
    /* Maintenance: maintenance.c. */
    ferry_bus_manager_set_cluster_reserve(m, ferry_host_cluster_reserve(daemon->host));
    ferry_bus_manager_set_overcommitted(m, ferry_host_overcommitted(daemon->host, NULL));
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "reachable", g_variant_new_boolean(FALSE));
    ferry_bus_manager_set_libvirt_health(m, g_variant_builder_end(&b));
    update_connection(daemon);
    g_signal_connect(m, "handle-get-domain", G_CALLBACK(handle_get_domain), daemon);
    g_signal_connect(m, "handle-get-reserve", G_CALLBACK(handle_get_reserve), daemon);
    g_signal_connect(m, "handle-set-domain-policy", G_CALLBACK(handle_set_domain_policy), daemon);
}
