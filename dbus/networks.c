/* Networks: the network map on disk that virt-ferry-hook reads (rewritten when libvirt's
 * networks change, and periodically since libvirt 9.0 sends no event when a network's
 * metadata changes), with what the peers' libvirt shows of theirs (read every
 * NETMAP_REFRESH_SECONDS), and Manager.CheckNetworks. */
#include "daemon.h"

#include "networks.h"

#include <errno.h>
#include <libvirt/virterror.h>

#define NETMAP_REFRESH_SECONDS 30

typedef struct {
    FerryConfig *config;
    GPtrArray *peers; /* FerryPeerNetmap, shared read-only; NULL: none read yet */
} WriteData;

static void write_data_free(WriteData *w)
{
    g_clear_pointer(&w->peers, g_ptr_array_unref);
    g_free(w);
}

static void write_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    WriteData *w = data;
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = virConnectOpen(w->config->libvirt_uri);
    g_autofree char *path = ferry_netmap_path(w->config->state_dir);
    if (!conn || g_mkdir_with_parents(w->config->state_dir, 0755) < 0 ||
        !ferry_netmap_write(conn, w->config->networks_dir, w->peers, path, &error))
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
    WriteData *w = g_new0(WriteData, 1);
    w->config = daemon->config;
    w->peers = daemon->peer_maps ? g_ptr_array_ref(daemon->peer_maps) : NULL;
    g_task_set_task_data(task, w, (GDestroyNotify)write_data_free);
    g_task_run_in_thread(task, write_in_thread);
}

/* ------------------------------------------------------------------ the peers' networks */

/* Apart from the host's own map: a dead peer can hold a connection for minutes, and this
 * host's own changes must reach the hook at once. */
typedef struct {
    GStrv peers;
    GPtrArray *previous;
} PeersData;

static void peers_data_free(PeersData *p)
{
    g_strfreev(p->peers);
    g_clear_pointer(&p->previous, g_ptr_array_unref);
    g_free(p);
}

static void read_peers_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PeersData *p = data;
    g_task_return_pointer(task, ferry_netmap_read_peers((const char *const *)p->peers, p->previous),
                          (GDestroyNotify)g_ptr_array_unref);
}

static void peers_read(GObject *source, GAsyncResult *res, gpointer data)
{
    FerryDaemon *daemon = data;
    GPtrArray *maps = g_task_propagate_pointer(G_TASK(res), NULL);
    daemon->peers_reading = FALSE;
    if (!maps)
        return;
    gboolean changed = !ferry_peer_netmaps_equal(daemon->peer_maps, maps);
    g_clear_pointer(&daemon->peer_maps, g_ptr_array_unref);
    daemon->peer_maps = maps;
    if (changed)
        ferry_daemon_networks_changed(daemon);
}

static void read_peers(FerryDaemon *daemon)
{
    if (daemon->peers_reading || !daemon->config->peers || !daemon->config->peers[0])
        return;
    daemon->peers_reading = TRUE;
    PeersData *p = g_new0(PeersData, 1);
    p->peers = g_strdupv(daemon->config->peers);
    p->previous = daemon->peer_maps ? g_ptr_array_ref(daemon->peer_maps) : NULL;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, peers_read, daemon);
    g_task_set_task_data(task, p, (GDestroyNotify)peers_data_free);
    g_task_run_in_thread(task, read_peers_in_thread);
}

static gboolean refresh_timer(gpointer data)
{
    FerryDaemon *daemon = data;
    if (ferry_inventory_is_connected(daemon->inventory))
        ferry_daemon_networks_changed(daemon);
    read_peers(daemon);
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
    read_peers(daemon);
}

void ferry_daemon_networks_clear(FerryDaemon *daemon)
{
    g_clear_handle_id(&daemon->netmap_timer, g_source_remove);
    g_clear_object(&daemon->networks_monitor);
    g_clear_pointer(&daemon->peer_maps, g_ptr_array_unref);
}
