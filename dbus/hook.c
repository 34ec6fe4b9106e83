/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.virtferry.Ferry1.Hook: what virt-ferry-hook reports. The bus policy admits only root;
 * the hook never waits for an answer, so nothing here may be slow to matter to it. */
#include "daemon.h"

static const struct {
    const char *operation;
    const char *kind;
} daemon_operations[] = {
    { "start", "daemon-start" },
    { "shutdown", "daemon-shutdown" },
    { "reload", "daemon-reload" },
};

static void report_daemon(FerrydDaemon *daemon, const char *operation, const char *sub_operation)
{
    for (gsize i = 0; i < G_N_ELEMENTS(daemon_operations); i++) {
        if (!g_str_equal(operation, daemon_operations[i].operation))
            continue;
        g_autofree char *detail = g_strdup_printf("libvirtd %s %s", operation, sub_operation);
        ferry_bus_manager_emit_host_event(daemon->manager, daemon_operations[i].kind, detail);
        /* libvirtd is back: no need to wait for the next reconnect attempt. */
        if (g_str_equal(operation, "start"))
            ferry_host_libvirtd_started(daemon->host);
        return;
    }
}

static gboolean handle_report(FerryBusHook *hook, GDBusMethodInvocation *invocation, const char *object,
                              const char *object_name, const char *operation, const char *sub_operation,
                              FerrydDaemon *daemon)
{
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, "MESSAGE", "hook: %s %s %s %s", object,
                     object_name, operation, sub_operation, "VIRT_FERRY_HOOK", "%s", object);
    if (g_str_equal(object, "daemon")) {
        report_daemon(daemon, operation, sub_operation);
    } else {
        g_autofree char *detail = g_strdup_printf("%s %s %s", object_name, operation, sub_operation);
        ferry_bus_manager_emit_host_event(daemon->manager,
                                      g_str_equal(object, "network") ? "network-hook" : "domain-hook",
                                      detail);
        /* libvirt sends no event when a network is updated (a portgroup added, say); its hook
         * does: the network map on disk must follow before the next restore or migration. */
        if (g_str_equal(object, "network"))
            ferry_host_networks_changed(daemon->host);
    }
    ferry_bus_hook_complete_report(hook, invocation);
    return TRUE;
}

void ferryd_hook_setup(FerrydDaemon *daemon)
{
    daemon->hook = ferry_bus_hook_skeleton_new();
    g_signal_connect(daemon->hook, "handle-report", G_CALLBACK(handle_report), daemon);
}
