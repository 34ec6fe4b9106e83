/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.CheckNetworks: the engine compares this host's networks with the peers'
 * (plugin/host.c, plugin/networks.c); this only answers with its rows. */
#include "daemon.h"

static void checked(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) rows = ferry_host_check_networks_finish(call->daemon->host, res, &error);
    if (!rows)
        g_dbus_method_invocation_return_gerror(call->invocation, error);
    else
        ferry_bus_manager_complete_check_networks(call->daemon->manager, call->invocation, rows);
}

static gboolean handle_check_networks(FerryBusManager *manager, GDBusMethodInvocation *invocation,
                                      FerrydDaemon *daemon)
{
    ferry_host_check_networks_async(daemon->host, checked, ferryd_call_new(daemon, invocation));
    return TRUE;
}

void ferryd_networks_setup(FerrydDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-check-networks", G_CALLBACK(handle_check_networks), daemon);
}
