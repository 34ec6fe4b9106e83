/* Networks: the network map on disk that virt-ferry-hook reads (rewritten when libvirt's
 * networks change, and periodically since libvirt 9.0 sends no event when a network's
 * metadata changes), and Manager.CheckNetworks. */
#include "daemon.h"

#include "networks.h"

#include <errno.h>
#include <libvirt/virterror.h>

#define NETMAP_REFRESH_SECONDS 30

static void write_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    FerryConfig *config = data;
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = virConnectOpen(config->libvirt_uri);
    g_autofree char *path = ferry_netmap_path(config->state_dir);
    if (!conn || g_mkdir_with_parents(config->state_dir, 0755) < 0 || !ferry_netmap_write(conn, config->networks_dir, path, &error))
        g_warning("cannot write the network map %s: %s", path,
                  error ? error->message : conn ? g_strerror(errno) : virGetLastErrorMessage());
    if (conn)
        virConnectClose(conn);
    g_task_return_boolean(task, TRUE);
}

static void written(GObject *source, GAsyncResult *res, gpointer data)
{
    FerryDaemon *daemon = data;
    daemon->netmap_writing = FALSE;
    if (daemon->netmap_again) {
        daemon->netmap_again = FALSE;
        ferry_daemon_networks_changed(daemon);
    }
}

void ferry_daemon_networks_changed(gpointer data)
{
    FerryDaemon *daemon = data;
    if (daemon->netmap_writing) {
        daemon->netmap_again = TRUE; /* one more pass once this one is done */
        return;
    }
    daemon->netmap_writing = TRUE;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, written, daemon);
    g_task_set_task_data(task, daemon->config, NULL);
    g_task_run_in_thread(task, write_in_thread);
}

static gboolean refresh_timer(gpointer data)
{
    FerryDaemon *daemon = data;
    if (ferry_inventory_is_connected(daemon->inventory))
        ferry_daemon_networks_changed(daemon);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ CheckNetworks */

static void check_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    FerryConfig *config = data;
    GError *error = NULL;
    GVariant *rows = ferry_check_networks(config->libvirt_uri, config->networks_dir,
                                          (const char *const *)config->peers, &error);
    if (rows)
        g_task_return_pointer(task, rows, (GDestroyNotify)g_variant_unref);
    else
        g_task_return_error(task, error);
}

static void checked(GObject *source, GAsyncResult *res, gpointer data)
{
    GDBusMethodInvocation *invocation = data;
    FerryDaemon *daemon = g_object_get_data(G_OBJECT(invocation), "ferry-daemon");
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) rows = g_task_propagate_pointer(G_TASK(res), &error);
    if (!rows)
        g_dbus_method_invocation_return_gerror(invocation, error);
    else
        ferry_manager_complete_check_networks(daemon->manager, invocation, rows);
}

static gboolean handle_check_networks(FerryManager *manager, GDBusMethodInvocation *invocation,
                                      FerryDaemon *daemon)
{
    g_object_set_data(G_OBJECT(invocation), "ferry-daemon", daemon);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, checked, invocation);
    g_task_set_task_data(task, daemon->config, NULL);
    g_task_run_in_thread(task, check_in_thread);
    return TRUE;
}

static void on_declarations_changed(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                                    gpointer data)
{
    FerryDaemon *daemon = data;
    if (event == G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT || event == G_FILE_MONITOR_EVENT_DELETED ||
        event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_MOVED_IN ||
        event == G_FILE_MONITOR_EVENT_RENAMED)
        if (ferry_inventory_is_connected(daemon->inventory))
            ferry_daemon_networks_changed(daemon);
}

/* The declarations are files an administrator edits: the map follows them at once. */
static void watch_declarations(FerryDaemon *daemon)
{
    g_autoptr(GFile) dir = g_file_new_for_path(daemon->config->networks_dir);
    g_autoptr(GError) error = NULL;
    g_mkdir_with_parents(daemon->config->networks_dir, 0755);
    daemon->networks_monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
    if (!daemon->networks_monitor) {
        g_warning("cannot watch %s (%s); the network map follows it every %d s", daemon->config->networks_dir,
                  error->message, NETMAP_REFRESH_SECONDS);
        return;
    }
    g_signal_connect(daemon->networks_monitor, "changed", G_CALLBACK(on_declarations_changed), daemon);
}

void ferry_daemon_networks_setup(FerryDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-check-networks", G_CALLBACK(handle_check_networks), daemon);
    daemon->netmap_timer = g_timeout_add_seconds(NETMAP_REFRESH_SECONDS, refresh_timer, daemon);
    watch_declarations(daemon);
}

void ferry_daemon_networks_clear(FerryDaemon *daemon)
{
    g_clear_handle_id(&daemon->netmap_timer, g_source_remove);
    g_clear_object(&daemon->networks_monitor);
}
