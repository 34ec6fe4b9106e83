/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain objects on the bus, following the inventory. */
#include "daemon.h"

char *ferryd_domain_object_path(const char *name)
{
    g_autofree char *escaped = g_dbus_escape_object_path(name);
    return g_strconcat(FERRY_DOMAIN_PATH "/", escaped, NULL);
}

static void fill_domain(FerrydDaemon *daemon, FerryBusDomain *iface, const FerryDomainInfo *info)
{
    ferry_bus_domain_set_name(iface, info->name);
    ferry_bus_domain_set_uuid(iface, info->uuid);
    ferry_bus_domain_set_state(iface, ferry_state_name(info->state));
    ferry_bus_domain_set_reason(iface, info->reason);
    ferry_bus_domain_set_pending_deletion(iface, info->pending_deletion);
    ferry_bus_domain_set_host(iface, ferry_inventory_hostname(daemon->inventory));
    ferry_bus_domain_set_policy(iface, ferry_policy_to_variant(info->policy));
}

static void export_domain(FerrydDaemon *daemon, const FerryDomainInfo *info)
{
    g_autofree char *path = ferryd_domain_object_path(info->name);
    g_autoptr(FerryBusObjectSkeleton) object = ferry_bus_object_skeleton_new(path);
    g_autoptr(FerryBusDomain) iface = ferry_bus_domain_skeleton_new();
    fill_domain(daemon, iface, info);
    ferry_bus_object_skeleton_set_domain(object, iface);
    g_dbus_object_manager_server_export(daemon->objects, G_DBUS_OBJECT_SKELETON(object));
    g_hash_table_insert(daemon->domain_objects, g_strdup(info->uuid), g_steal_pointer(&object));
    if (info->policy_problem)
        g_warning("domain %s: %s; its policy reads as empty until fixed", info->name, info->policy_problem);
}

static void unexport_domain(FerrydDaemon *daemon, const char *uuid)
{
    FerryBusObjectSkeleton *object = g_hash_table_lookup(daemon->domain_objects, uuid);
    if (!object)
        return;
    g_dbus_object_manager_server_unexport(daemon->objects,
                                          g_dbus_object_get_object_path(G_DBUS_OBJECT(object)));
    g_hash_table_remove(daemon->domain_objects, uuid);
}

static void emit_state(FerrydDaemon *daemon, const FerryDomainInfo *info, const char *reason)
{
    ferry_bus_manager_emit_domain_state_changed(daemon->manager, info->name, ferry_state_name(info->state),
                                            reason ? reason : info->reason);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE", "domain %s is %s (%s)", info->name,
                     ferry_state_name(info->state), reason ? reason : info->reason,
                     "VIRT_FERRY_DOMAIN", "%s", info->name, "VIRT_FERRY_UUID", "%s", info->uuid);
}

void ferryd_domain_added(const FerryDomainInfo *info, gpointer data)
{
    export_domain(data, info);
    emit_state(data, info, NULL);
}

void ferryd_domain_changed(const FerryDomainInfo *old, const FerryDomainInfo *info, gpointer data)
{
    FerrydDaemon *daemon = data;
    if (!g_str_equal(old->name, info->name)) {
        /* A rename moves the object to its new path. */
        unexport_domain(daemon, old->uuid);
        export_domain(daemon, info);
    } else {
        FerryBusObjectSkeleton *object = g_hash_table_lookup(daemon->domain_objects, info->uuid);
        g_autoptr(FerryBusDomain) iface = object ? ferry_bus_object_get_domain(FERRY_BUS_OBJECT(object)) : NULL;
        if (iface)
            fill_domain(daemon, iface, info);
    }
    if (old->state != info->state || !g_str_equal(old->reason, info->reason))
        emit_state(daemon, info, NULL);
}

void ferryd_domain_removed(const FerryDomainInfo *info, gpointer data)
{
    unexport_domain(data, info->uuid);
    emit_state(data, info, "undefined");
}
