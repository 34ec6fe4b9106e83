/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferryd: one host's virt-ferry service on the system bus. */
#include "daemon.h"

#include "errors.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

typedef struct {
    FerrydDaemon daemon;
    GMainLoop *loop;
    int exit_status;
    guint watchdog;
    gboolean inventory_started;
} Service;

static void export_root(FerrydDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(daemon->manager), daemon->bus,
                                          FERRY_ROOT_PATH, &error) ||
        !g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(daemon->hook), daemon->bus,
                                          FERRY_ROOT_PATH, &error))
        g_error("cannot export %s: %s", FERRY_ROOT_PATH, error->message);
    g_dbus_object_manager_server_set_connection(daemon->objects, daemon->bus);
}

static void on_bus_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
    Service *service = data;
    service->daemon.bus = g_object_ref(bus);
    export_root(&service->daemon);
}

static void on_name_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
    Service *service = data;
    /* Only now: a client following the name must not miss the first signals (and the
     * engine's first reports find the objects exported). */
    if (!service->inventory_started) {
        service->inventory_started = TRUE;
        ferry_host_start(service->daemon.host);
    }
    g_message("virt-ferryd %s owns %s", PACKAGE_VERSION, name);
    sd_notifyf(0, "READY=1\nSTATUS=serving %s", name);
}

static void on_name_lost(GDBusConnection *bus, const char *name, gpointer data)
{
    Service *service = data;
    if (!bus)
        g_printerr("virt-ferryd: cannot connect to the system bus\n");
    else
        g_printerr("virt-ferryd: cannot own %s: another virt-ferryd runs, or the bus policy "
                   "(org.virtferry.Ferry1.conf) does not let this user own it\n", name);
    service->exit_status = EXIT_FAILURE;
    g_main_loop_quit(service->loop);
}

static gboolean on_terminate(gpointer data)
{
    Service *service = data;
    sd_notify(0, "STOPPING=1");
    g_main_loop_quit(service->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean pet_watchdog(gpointer data)
{
    sd_notify(0, "WATCHDOG=1");
    return G_SOURCE_CONTINUE;
}

static void start_watchdog(Service *service)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        service->watchdog = g_timeout_add(MAX(usec / 2000, 1), pet_watchdog, service);
}

/* ------------------------------------------------------------------ calls waiting for the engine */

FerrydCall *ferryd_call_new(FerrydDaemon *daemon, GDBusMethodInvocation *invocation)
{
    FerrydCall *call = g_new0(FerrydCall, 1);
    call->daemon = daemon;
    call->invocation = g_object_ref(invocation);
    return call;
}

void ferryd_call_free(FerrydCall *call)
{
    g_object_unref(call->invocation);
    g_free(call);
}

/* What the engine reports, to the pieces of the adaptor that show it. */
static const FerryHostCallbacks host_callbacks = {
    .domain_added = ferryd_domain_added,
    .domain_changed = ferryd_domain_changed,
    .domain_removed = ferryd_domain_removed,
    .connection_changed = ferryd_connection_changed,
    .health_changed = ferryd_health_changed,
    .job_changed = ferryd_job_changed,
    .archives_changed = ferryd_archives_changed,
    .overcommitted_changed = ferryd_overcommitted_changed,
};

static void daemon_clear(FerrydDaemon *daemon)
{
    /* The engine first: its jobs' last reports still find the objects. */
    g_clear_pointer(&daemon->host, ferry_host_free);
    ferryd_archives_clear(daemon);
    ferryd_jobs_clear(daemon);
    ferryd_authz_free(daemon->authz);
    g_clear_pointer(&daemon->domain_objects, g_hash_table_unref);
    g_clear_object(&daemon->objects);
    g_clear_object(&daemon->manager);
    g_clear_object(&daemon->hook);
    g_clear_object(&daemon->bus);
}

int main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean replace = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Configuration file (default " FERRY_DEFAULT_CONFIG ")", "FILE" },
        { "replace", 'r', 0, G_OPTION_ARG_NONE, &replace, "Replace a running virt-ferryd", NULL },
        { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) context = g_option_context_new("- virt-ferry's host service");
    g_autoptr(GError) error = NULL;

    setlocale(LC_ALL, "");
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("virt-ferryd: %s\n", error->message);
        return 2;
    }
    if (version) {
        g_print("virt-ferryd %s\n", PACKAGE_VERSION);
        return 0;
    }

    Service service = { 0 };
    FerrydDaemon *daemon = &service.daemon;
    g_autoptr(FerryConfig) config = ferry_config_load(config_path, &error);
    if (!config) {
        g_printerr("virt-ferryd: %s\n", error->message);
        return 1;
    }
    for (char **u = config->unknown; *u; u++)
        g_warning("%s: %s; it is ignored (see virt-ferry.conf(5))", config->path, *u);
    service.loop = g_main_loop_new(NULL, FALSE);
    daemon->host = ferry_host_new(config, &host_callbacks, daemon);
    daemon->config = ferry_host_config(daemon->host);
    daemon->inventory = ferry_host_inventory(daemon->host);
    daemon->jobs = ferry_host_jobs(daemon->host);
    daemon->authz = ferryd_authz_new();
    daemon->objects = g_dbus_object_manager_server_new(FERRY_ROOT_PATH);
    daemon->domain_objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    ferryd_jobs_setup(daemon);
    ferryd_manager_setup(daemon);
    ferryd_archives_setup(daemon);
    ferryd_migrations_setup(daemon);
    ferryd_evacuations_setup(daemon);
    ferryd_maintenance_setup(daemon);
    ferryd_disks_setup(daemon);
    ferryd_networks_setup(daemon);
    ferryd_hook_setup(daemon);

    g_unix_signal_add(SIGTERM, on_terminate, &service);
    g_unix_signal_add(SIGINT, on_terminate, &service);
    start_watchdog(&service);

    guint owner = g_bus_own_name(G_BUS_TYPE_SYSTEM, FERRY_BUS_NAME,
                                 G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT |
                                     (replace ? G_BUS_NAME_OWNER_FLAGS_REPLACE : 0),
                                 on_bus_acquired, on_name_acquired, on_name_lost, &service, NULL);
    g_main_loop_run(service.loop);

    g_bus_unown_name(owner);
    g_clear_handle_id(&service.watchdog, g_source_remove);
    daemon_clear(daemon);
    g_main_loop_unref(service.loop);
    return service.exit_status;
}
