/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.EnterMaintenance, Manager.LeaveMaintenance and the Maintenance property
 * (plugin/maintenance.c does the work). */
#include "daemon.h"

#include "ferry-error.h"
#include "maintenance.h"

/* libvirt's name for this host, or the kernel's before libvirt answered. */
static const char *host_name(FerrydDaemon *daemon)
{
    const char *name = ferry_inventory_hostname(daemon->inventory);
    return name && *name ? name : g_get_host_name();
}

static void set_maintenance(FerrydDaemon *daemon, gboolean active, const char *detail)
{
    if (ferry_bus_manager_get_maintenance(daemon->manager) == active)
        return;
    ferry_bus_manager_set_maintenance(daemon->manager, active);
    ferry_bus_manager_emit_host_event(daemon->manager, active ? "maintenance-entered" : "maintenance-left", detail);
}

static void entered(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    g_autoptr(GError) error = NULL;
    FerryJob *job = ferry_maintenance_enter_finish(result, &error);
    if (job) {
        const char *mode;
        g_variant_get(g_dbus_method_invocation_get_parameters(call->invocation), "(&s@a{sv})", &mode, NULL);
        g_autofree char *detail = g_strdup_printf("mode %s", mode);
        set_maintenance(call->daemon, TRUE, detail);
    }
    ferryd_reply_job(call->daemon, call->invocation, job, error);
}

static void enter_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    static const char *const keys[] = { NULL };
    const char *mode;
    g_autoptr(GVariant) given = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", &mode, &given);
    g_autoptr(GError) error = NULL;
    if (!ferryd_check_options(given, keys, &error)) {
        ferryd_reply_job(daemon, invocation, NULL, error);
        return;
    }
    ferry_maintenance_enter_async(daemon->jobs, daemon->config, ferry_host_evacuations(daemon->host),
                                  host_name(daemon), mode, entered, ferryd_call_new(daemon, invocation));
}

static gboolean handle_enter(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *mode,
                             GVariant *options, FerrydDaemon *daemon)
{
    ferryd_authorize(daemon, invocation, FERRY_ACTION_MAINTENANCE, host_name(daemon), NULL,
                     "maintenance", enter_authorized);
    return TRUE;
}

static void leave_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    static const char *const keys[] = { "return:b", NULL };
    g_autoptr(GVariant) given = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(@a{sv})", &given);
    g_autoptr(GError) error = NULL;
    gboolean bring_back = FALSE;
    FerryJob *job = NULL;
    if (ferryd_check_options(given, keys, &error)) {
        g_variant_lookup(given, "return", "b", &bring_back);
        job = ferry_maintenance_leave(daemon->jobs, daemon->config, bring_back, &error);
    }
    if (job)
        set_maintenance(daemon, FALSE, bring_back ? "bringing the saved domains back" : "nothing brought back");
    ferryd_reply_job(daemon, invocation, job, error);
}

static gboolean handle_leave(FerryBusManager *manager, GDBusMethodInvocation *invocation, GVariant *options,
                             FerrydDaemon *daemon)
{
    ferryd_authorize(daemon, invocation, FERRY_ACTION_MAINTENANCE, host_name(daemon), NULL,
                     "maintenance", leave_authorized);
    return TRUE;
}

void ferryd_maintenance_setup(FerrydDaemon *daemon)
{
    ferry_bus_manager_set_maintenance(daemon->manager, ferry_maintenance_resume(daemon->config));
    g_signal_connect(daemon->manager, "handle-enter-maintenance", G_CALLBACK(handle_enter), daemon);
    g_signal_connect(daemon->manager, "handle-leave-maintenance", G_CALLBACK(handle_leave), daemon);
}
