/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "inventory.h"
#include "log.h"
#include "libvirt-open.h"

#include "domxml.h"
#include "libvirt-error.h"
#include "names.h"
#include "nictag.h"
#include "failover.h"
#include "networks.h"
#include "worker.h"

#include <libvirt-glib/libvirt-glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-autoptr.h"

#define KEEPALIVE_INTERVAL 5   /* seconds between keepalive probes */
#define KEEPALIVE_COUNT 3      /* unanswered probes before the connection is dead */
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 5000

struct _FerryInventory {
    char *uri;
    FerryInventoryCallbacks callbacks;
    gpointer user_data;
    FerryWorker *worker;

    virConnectPtr conn;        /* NULL while disconnected; owned by the main thread */
    int lifecycle_id;
    int metadata_id;
    int network_id;
    char *hostname;
    GHashTable *domains;       /* uuid -> FerryDomainInfo */
    gboolean connecting;
    guint reconnect_source;
    guint close_source;        /* pending handle_close */
    const char *close_reason;  /* static string */
    guint reconnect_delay_ms;
    guint generation;          /* bumps at every disconnect: stale results are dropped */
    GHashTable *late_sources;  /* GSource ids of pending refresh_later()s */
    char *publish_dir;         /* [failover] dir=, set before start; NULL: no publication */
    FerryNicTagger *nic_tagger; /* set before start; NULL: hot-plugged NICs are not tagged */
    int device_added_id;
};

void ferry_domain_info_free(FerryDomainInfo *info)
{
    if (!info)
        return;
    g_free(info->name);
    g_free(info->reason);
    ferry_policy_free(info->policy);
    g_free(info->policy_problem);
    g_free(info->archive_id);
    g_free(info);
}

/* libvirt prints every error to stderr by default; ours travel as GErrors instead. */
static void quiet_libvirt_errors(void *opaque, virErrorPtr error)
{
}

void ferry_libvirt_event_loop_init(void)
{
    static gsize done;
    if (g_once_init_enter(&done)) {
        virSetErrorFunc(NULL, quiet_libvirt_errors);
        gvir_event_register();
        g_once_init_leave(&done, 1);
    }
}

/* ------------------------------------------------------------------ snapshots
 * These run in the worker thread. */

static FerryDomainInfo *snapshot_domain(virDomainPtr dom)
{
    g_autoptr(FerryDomainInfo) info = g_new0(FerryDomainInfo, 1);
    int state = VIR_DOMAIN_NOSTATE, reason = 0;

    const char *name = virDomainGetName(dom);
    if (!name || virDomainGetUUIDString(dom, info->uuid) < 0)
        return NULL;
    info->name = g_strdup(name);
    if (virDomainGetState(dom, &state, &reason, 0) < 0) {
        if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
            return NULL;
        state = VIR_DOMAIN_NOSTATE;
    }
    info->state = ferry_state_from_libvirt(state, reason);
    info->reason = ferry_state_reason_from_libvirt(state, reason);
    info->persistent = virDomainIsPersistent(dom) == 1;

    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS,
                                                VIR_DOMAIN_AFFECT_CURRENT);
    if (!xml)
        virResetLastError(); /* VIR_ERR_NO_DOMAIN_METADATA: no policy set */
    g_autoptr(GError) error = NULL;
    info->policy = ferry_policy_parse(xml, &error);
    if (!info->policy) {
        info->policy_problem = g_strdup(error->message);
        info->policy = ferry_policy_new();
    }
    if (info->persistent) {
        g_autofree char *mark = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_ARCHIVE_NS,
                                                     VIR_DOMAIN_AFFECT_CONFIG);
        virResetLastError();
        info->pending_deletion = mark && ferry_archived_mark_parse(mark, &info->archive_id, NULL, NULL);
    }
    return g_steal_pointer(&info);
}

static virDomainPtr lookup_domain(virConnectPtr conn, const char *name_or_uuid)
{
    virDomainPtr dom = NULL;
    if (strlen(name_or_uuid) == FERRY_UUID_LEN)
        dom = virDomainLookupByUUIDString(conn, name_or_uuid);
    if (!dom)
        dom = virDomainLookupByName(conn, name_or_uuid);
    if (!dom && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN)
        return NULL;
    virResetLastError();
    return dom;
}

/* ------------------------------------------------------------------ applying results */

static gboolean same_info(const FerryDomainInfo *a, const FerryDomainInfo *b)
{
    return g_str_equal(a->name, b->name) && a->state == b->state && g_str_equal(a->reason, b->reason) &&
           a->persistent == b->persistent && a->pending_deletion == b->pending_deletion &&
           g_strcmp0(a->archive_id, b->archive_id) == 0 &&
           ferry_policy_equal(a->policy, b->policy);
}

static void put_domain(FerryInventory *inv, FerryDomainInfo *info)
{
    FerryDomainInfo *old = g_hash_table_lookup(inv->domains, info->uuid);
    if (!old) {
        g_hash_table_insert(inv->domains, info->uuid, info);
        if (inv->callbacks.domain_added)
            inv->callbacks.domain_added(info, inv->user_data);
        return;
    }
    if (same_info(old, info)) {
        ferry_domain_info_free(info);
        return;
    }
    g_hash_table_steal(inv->domains, old->uuid);
    g_hash_table_insert(inv->domains, info->uuid, info);
    if (inv->callbacks.domain_changed)
        inv->callbacks.domain_changed(old, info, inv->user_data);
    ferry_domain_info_free(old);
}

static void drop_domain(FerryInventory *inv, const char *uuid)
{
    FerryDomainInfo *old = g_hash_table_lookup(inv->domains, uuid);
    if (!old)
        return;
    g_hash_table_steal(inv->domains, uuid);
    if (inv->callbacks.domain_removed)
        inv->callbacks.domain_removed(old, inv->user_data);
    ferry_domain_info_free(old);
}

/* ------------------------------------------------------------------ one domain's refresh */

typedef struct {
    FerryInventory *inv;
    virConnectPtr conn;
    char *key;                  /* name or UUID */
    char uuid[FERRY_UUID_LEN + 1]; /* known UUID, for domains that vanished */
    guint generation;
    FerryDomainInfo *result;    /* NULL: the domain is gone */
    char *publish_dir, *hostname; /* publication for failover, when set */
} RefreshData;

static void refresh_data_free(RefreshData *d)
{
    virConnectClose(d->conn);
    g_free(d->key);
    g_free(d->publish_dir);
    g_free(d->hostname);
    ferry_domain_info_free(d->result);
    g_free(d);
}

static void refresh_in_worker(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    RefreshData *d = data;
    g_autoptr(virDomain) dom = lookup_domain(d->conn, d->key);
    if (dom)
        d->result = snapshot_domain(dom);
    virResetLastError();
    if (d->publish_dir && d->hostname && (d->result || *d->uuid))
        ferry_failover_publish(d->publish_dir, d->hostname, dom, d->result ? d->result->uuid : d->uuid);
    g_task_return_boolean(task, TRUE);
}

static void refresh_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    RefreshData *d = g_task_get_task_data(G_TASK(res));
    FerryInventory *inv = d->inv;
    if (d->generation != inv->generation)
        return;
    if (d->result)
        put_domain(inv, g_steal_pointer(&d->result));
    else if (*d->uuid)
        drop_domain(inv, d->uuid);
}

static void queue_refresh(FerryInventory *inv, const char *key, const char *uuid)
{
    if (!inv->conn)
        return;
    RefreshData *d = g_new0(RefreshData, 1);
    d->inv = inv;
    d->conn = inv->conn;
    virConnectRef(d->conn);
    d->key = g_strdup(key);
    if (uuid)
        g_strlcpy(d->uuid, uuid, sizeof d->uuid);
    d->generation = inv->generation;
    d->publish_dir = g_strdup(inv->publish_dir);
    d->hostname = g_strdup(inv->hostname);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, refresh_done, NULL);
    g_task_set_task_data(task, d, (GDestroyNotify)refresh_data_free);
    ferry_worker_run(inv->worker, task, refresh_in_worker);
}

/* ------------------------------------------------------------------ libvirt events (main thread) */

static void domain_free(gpointer dom)
{
    virDomainFree(dom);
}

static void arrived_in_worker(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    virDomainPtr dom = data;
    g_autoptr(GError) error = NULL;
    gboolean changed = FALSE;
    if (!ferry_networks_persist_live_nics(dom, &changed, &error))
        g_warning("%s", error->message);
    else if (changed)
        g_message("domain %s arrived with its NICs mapped onto this host's networks; its persistent definition "
                  "now says the same", virDomainGetName(dom));
    virResetLastError();
    g_task_return_boolean(task, TRUE);
}

/* A migration in (its persistent definition is in place once the guest resumes here) or a
 * restore. */
static gboolean is_arrival(int event, int detail)
{
    return (event == VIR_DOMAIN_EVENT_RESUMED && detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED) ||
           (event == VIR_DOMAIN_EVENT_STARTED && detail == VIR_DOMAIN_EVENT_STARTED_RESTORED) ||
           (event == VIR_DOMAIN_EVENT_STARTED && detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED);
}

typedef struct {
    FerryInventory *inv;
    guint generation;
    char uuid[VIR_UUID_STRING_BUFLEN];
} LateRefresh;

static gboolean late_refresh(gpointer data)
{
    LateRefresh *l = data;
    g_hash_table_remove(l->inv->late_sources, GUINT_TO_POINTER(g_source_get_id(g_main_current_source())));
    if (l->generation == l->inv->generation)
        queue_refresh(l->inv, l->uuid, l->uuid);
    return G_SOURCE_REMOVE;
}

/* A migration away with VIR_MIGRATE_UNDEFINE_SOURCE ends in "stopped, migrated" and libvirt
 * 9.0 then undefines the domain without an "undefined" event: look again shortly after. */
static void refresh_later(FerryInventory *inv, const char *uuid, guint ms)
{
    LateRefresh *l = g_new0(LateRefresh, 1);
    l->inv = inv;
    l->generation = inv->generation;
    g_strlcpy(l->uuid, uuid, sizeof l->uuid);
    guint id = g_timeout_add_full(G_PRIORITY_DEFAULT, ms, late_refresh, l, g_free);
    g_hash_table_add(inv->late_sources, GUINT_TO_POINTER(id));
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    FerryInventory *inv = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, uuid) == 0) {
        queue_refresh(inv, uuid, uuid);
        if (event == VIR_DOMAIN_EVENT_STOPPED && detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED) {
            refresh_later(inv, uuid, 200);
            refresh_later(inv, uuid, 800);
        }
    }
    if (is_arrival(event, detail)) {
        virDomainRef(dom);
        g_autoptr(GTask) task = g_task_new(NULL, NULL, NULL, NULL);
        g_task_set_task_data(task, dom, domain_free);
        ferry_worker_run(inv->worker, task, arrived_in_worker);
    }
    return 0;
}

static void on_metadata_change(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                               void *opaque)
{
    on_lifecycle(conn, dom, 0, 0, opaque);
}

static void on_network_lifecycle(virConnectPtr conn, virNetworkPtr net, int event, int detail, void *opaque)
{
    FerryInventory *inv = opaque;
    if (inv->callbacks.networks_changed)
        inv->callbacks.networks_changed(inv->user_data);
}

/* ------------------------------------------------------------------ connection */

static void schedule_reconnect(FerryInventory *inv);
static void start_connect(FerryInventory *inv);

static void forget_connection(FerryInventory *inv)
{
    if (!inv->conn)
        return;
    if (inv->lifecycle_id >= 0)
        virConnectDomainEventDeregisterAny(inv->conn, inv->lifecycle_id);
    if (inv->metadata_id >= 0)
        virConnectDomainEventDeregisterAny(inv->conn, inv->metadata_id);
    if (inv->network_id >= 0)
        virConnectNetworkEventDeregisterAny(inv->conn, inv->network_id);
    if (inv->device_added_id >= 0)
        virConnectDomainEventDeregisterAny(inv->conn, inv->device_added_id);
    inv->lifecycle_id = inv->metadata_id = inv->network_id = inv->device_added_id = -1;
    virResetLastError();
    virConnectClose(inv->conn);
    inv->conn = NULL;
    inv->generation++;
}

static const char *close_reason(int reason)
{
    switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR: return "connection error";
    case VIR_CONNECT_CLOSE_REASON_EOF: return "libvirtd closed the connection";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE: return "libvirtd stopped answering keepalives";
    case VIR_CONNECT_CLOSE_REASON_CLIENT: return "closed by virt-ferryd";
    default: return "connection lost";
    }
}

static gboolean handle_close(gpointer data)
{
    FerryInventory *inv = data;
    inv->close_source = 0;
    forget_connection(inv);
    /* Reported only now, so that whoever the callback asks sees the connection gone. */
    if (inv->callbacks.connection_changed)
        inv->callbacks.connection_changed(FALSE, inv->close_reason, inv->user_data);
    schedule_reconnect(inv);
    return G_SOURCE_REMOVE;
}

/* libvirt forbids closing the connection inside its own close callback: defer it. */
static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    FerryInventory *inv = opaque;
    if (conn != inv->conn)
        return;
    ferry_log(FERRY_LOG_WARNING, FERRY_MESSAGE_LIBVIRTD,
              (const char *const[]){ "VIRT_FERRY_LIBVIRTD", "lost", "VIRT_FERRY_URI", inv->uri, NULL },
              "lost libvirtd at %s: %s; reconnecting", inv->uri, close_reason(reason));
    inv->close_reason = close_reason(reason);
    if (!inv->close_source)
        inv->close_source = g_idle_add(handle_close, inv);
}

typedef struct {
    char *uri;
    virConnectPtr conn;
    char *hostname;
    GPtrArray *domains;        /* FerryDomainInfo */
    char *publish_dir;
} ConnectData;

static void connect_data_free(ConnectData *d)
{
    g_free(d->uri);
    if (d->conn)
        virConnectClose(d->conn);
    g_free(d->hostname);
    g_free(d->publish_dir);
    g_clear_pointer(&d->domains, g_ptr_array_unref);
    g_free(d);
}

/* Opens the connection and takes a full snapshot of the domains, off the main loop. */
static void connect_in_worker(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    ConnectData *d = data;
    g_autoptr(GError) error = NULL;
    virDomainPtr *doms = NULL;

    d->conn = ferry_libvirt_open(d->uri, &error);
    if (!d->conn) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    d->hostname = virConnectGetHostname(d->conn);
    int n = virConnectListAllDomains(d->conn, &doms, 0);
    if (n < 0 || !d->hostname) {
        ferry_error_from_libvirt(&error, "cannot list the domains of %s", d->uri);
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    d->domains = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_domain_info_free);
    for (int i = 0; i < n; i++) {
        FerryDomainInfo *info = snapshot_domain(doms[i]);
        if (info)
            g_ptr_array_add(d->domains, info);
        virDomainFree(doms[i]);
    }
    free(doms);
    virResetLastError();
    if (d->publish_dir)
        ferry_failover_publish_all(d->publish_dir, d->hostname, d->conn);
    g_task_return_boolean(task, TRUE);
}

static gboolean register_events(FerryInventory *inv, GError **error)
{
    /* Drivers without a wire (test:///) have no keepalive and need none. */
    if (virConnectSetKeepAlive(inv->conn, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT) < 0 &&
        virGetLastErrorCode() != VIR_ERR_NO_SUPPORT)
        return ferry_error_from_libvirt(error, "cannot start keepalive on %s", inv->uri);
    virResetLastError();
    if (virConnectRegisterCloseCallback(inv->conn, on_close, inv, NULL) < 0)
        return ferry_error_from_libvirt(error, "cannot watch the connection to %s", inv->uri);
    inv->lifecycle_id = virConnectDomainEventRegisterAny(inv->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), inv, NULL);
    inv->metadata_id = virConnectDomainEventRegisterAny(inv->conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                                        VIR_DOMAIN_EVENT_CALLBACK(on_metadata_change), inv, NULL);
    if (inv->lifecycle_id < 0 || inv->metadata_id < 0)
        return ferry_error_from_libvirt(error, "cannot subscribe to domain events of %s", inv->uri);
    if (inv->nic_tagger && (inv->device_added_id = ferry_nic_tagger_watch(inv->nic_tagger, inv->conn)) < 0)
        return ferry_error_from_libvirt(error, "cannot watch NICs hot-plugged on %s", inv->uri);
    /* Drivers without networks (test:///) simply have no such events. */
    inv->network_id = virConnectNetworkEventRegisterAny(inv->conn, NULL, VIR_NETWORK_EVENT_ID_LIFECYCLE,
                                                        VIR_NETWORK_EVENT_CALLBACK(on_network_lifecycle), inv, NULL);
    virResetLastError();
    return TRUE;
}

/* Domains seen before that the new snapshot lacks went away while we were not looking. */
static void resync(FerryInventory *inv, GPtrArray *domains)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < domains->len; i++)
        g_hash_table_add(seen, ((FerryDomainInfo *)domains->pdata[i])->uuid);
    g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter iter;
    gpointer uuid;
    g_hash_table_iter_init(&iter, inv->domains);
    while (g_hash_table_iter_next(&iter, &uuid, NULL))
        if (!g_hash_table_contains(seen, uuid))
            g_ptr_array_add(gone, g_strdup(uuid));
    for (guint i = 0; i < gone->len; i++)
        drop_domain(inv, gone->pdata[i]);
    /* put_domain takes ownership: empty the array without freeing. */
    for (guint i = 0; i < domains->len; i++)
        put_domain(inv, domains->pdata[i]);
    g_ptr_array_set_free_func(domains, NULL);
}

static void connect_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    FerryInventory *inv = user_data;
    ConnectData *d = g_task_get_task_data(G_TASK(res));
    g_autoptr(GError) error = NULL;

    inv->connecting = FALSE;
    if (!g_task_propagate_boolean(G_TASK(res), &error)) {
        g_debug("%s", error->message);
        schedule_reconnect(inv);
        return;
    }
    inv->conn = g_steal_pointer(&d->conn);
    g_free(inv->hostname);
    inv->hostname = g_steal_pointer(&d->hostname);
    if (!register_events(inv, &error)) {
        g_warning("%s", error->message);
        forget_connection(inv);
        schedule_reconnect(inv);
        return;
    }
    inv->reconnect_delay_ms = RECONNECT_MIN_MS;
    ferry_log(FERRY_LOG_NOTICE, FERRY_MESSAGE_LIBVIRTD,
              (const char *const[]){ "VIRT_FERRY_LIBVIRTD", "connected", "VIRT_FERRY_URI", inv->uri, NULL },
              "connected to libvirtd at %s (host %s, %u domains)", inv->uri, inv->hostname, d->domains->len);
    /* Events from now on are queued behind this resync, so none is lost or reordered. */
    resync(inv, d->domains);
    if (inv->callbacks.connection_changed)
        inv->callbacks.connection_changed(TRUE, inv->hostname, inv->user_data);
}

static void start_connect(FerryInventory *inv)
{
    if (inv->conn || inv->connecting)
        return;
    inv->connecting = TRUE;
    ConnectData *d = g_new0(ConnectData, 1);
    d->uri = g_strdup(inv->uri);
    d->publish_dir = g_strdup(inv->publish_dir);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, connect_done, inv);
    g_task_set_task_data(task, d, (GDestroyNotify)connect_data_free);
    ferry_worker_run(inv->worker, task, connect_in_worker);
}

static gboolean reconnect_timeout(gpointer data)
{
    FerryInventory *inv = data;
    inv->reconnect_source = 0;
    start_connect(inv);
    return G_SOURCE_REMOVE;
}

static void schedule_reconnect(FerryInventory *inv)
{
    if (inv->reconnect_source || inv->conn || inv->connecting)
        return;
    inv->reconnect_source = g_timeout_add(inv->reconnect_delay_ms, reconnect_timeout, inv);
    inv->reconnect_delay_ms = MIN(inv->reconnect_delay_ms * 2, RECONNECT_MAX_MS);
}

void ferry_inventory_reconnect_now(FerryInventory *inv)
{
    if (inv->conn || inv->connecting)
        return;
    g_clear_handle_id(&inv->reconnect_source, g_source_remove);
    inv->reconnect_delay_ms = RECONNECT_MIN_MS;
    start_connect(inv);
}

/* ------------------------------------------------------------------ public */

FerryInventory *ferry_inventory_new(const char *uri, const FerryInventoryCallbacks *callbacks,
                                    gpointer user_data)
{
    FerryInventory *inv = g_new0(FerryInventory, 1);
    ferry_libvirt_event_loop_init();
    inv->uri = g_strdup(uri);
    if (callbacks)
        inv->callbacks = *callbacks;
    inv->user_data = user_data;
    inv->worker = ferry_worker_new();
    inv->late_sources = g_hash_table_new(NULL, NULL);
    inv->lifecycle_id = inv->metadata_id = inv->network_id = inv->device_added_id = -1;
    inv->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify)ferry_domain_info_free);
    inv->reconnect_delay_ms = RECONNECT_MIN_MS;
    return inv;
}

void ferry_inventory_free(FerryInventory *inv)
{
    if (!inv)
        return;
    g_clear_handle_id(&inv->reconnect_source, g_source_remove);
    g_clear_handle_id(&inv->close_source, g_source_remove);
    GHashTableIter iter;
    gpointer id;
    g_hash_table_iter_init(&iter, inv->late_sources);
    while (g_hash_table_iter_next(&iter, &id, NULL))
        g_source_remove(GPOINTER_TO_UINT(id));
    g_hash_table_unref(inv->late_sources);
    g_free(inv->publish_dir);
    ferry_worker_free(inv->worker);
    if (inv->conn)
        virConnectUnregisterCloseCallback(inv->conn, on_close);
    forget_connection(inv);
    ferry_nic_tagger_free(inv->nic_tagger);
    g_hash_table_unref(inv->domains);
    g_free(inv->hostname);
    g_free(inv->uri);
    g_free(inv);
}

void ferry_inventory_publish_to(FerryInventory *inv, const char *dir)
{
    g_free(inv->publish_dir);
    inv->publish_dir = g_strdup(dir);
}

void ferry_inventory_tag_hotplugged_nics(FerryInventory *inv, const char *networks_dir)
{
    g_clear_pointer(&inv->nic_tagger, ferry_nic_tagger_free);
    inv->nic_tagger = ferry_nic_tagger_new(networks_dir);
}

void ferry_inventory_start(FerryInventory *inv)
{
    start_connect(inv);
}

gboolean ferry_inventory_is_connected(FerryInventory *inv)
{
    return inv->conn != NULL;
}

const char *ferry_inventory_hostname(FerryInventory *inv)
{
    return inv->hostname ? inv->hostname : g_get_host_name();
}

const FerryDomainInfo *ferry_inventory_lookup(FerryInventory *inv, const char *name_or_uuid, GError **error)
{
    if (!ferry_check_domain_name(name_or_uuid, "domain", error))
        return NULL;
    FerryDomainInfo *info = g_hash_table_lookup(inv->domains, name_or_uuid);
    if (info)
        return info;
    GHashTableIter iter;
    g_hash_table_iter_init(&iter, inv->domains);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&info))
        if (g_str_equal(info->name, name_or_uuid) || g_ascii_strcasecmp(info->uuid, name_or_uuid) == 0)
            return info;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                "no domain named \"%s\" on %s (virt-ferry list shows the domains)", name_or_uuid,
                ferry_inventory_hostname(inv));
    return NULL;
}

/* ------------------------------------------------------------------ policy */

typedef struct {
    virConnectPtr conn;
    char *uuid;
    GVariant *changes;
} PolicyData;

static void policy_data_free(PolicyData *d)
{
    virConnectClose(d->conn);
    g_free(d->uuid);
    g_variant_unref(d->changes);
    g_free(d);
}

static void set_policy_in_worker(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PolicyData *d = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(d->conn, d->uuid);
    if (!dom) {
        ferry_error_from_libvirt(&error, "cannot find domain %s", d->uuid);
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    const char *name = virDomainGetName(dom);
    g_autofree char *current = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS,
                                                    VIR_DOMAIN_AFFECT_CURRENT);
    virResetLastError();
    g_autoptr(FerryPolicy) policy = ferry_policy_parse(current, NULL);
    if (!policy)
        policy = ferry_policy_new(); /* broken metadata is replaced, not merged */
    if (!ferry_policy_update(policy, d->changes, &error)) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    g_autofree char *xml = ferry_policy_to_xml(policy);
    unsigned int flags = 0;
    if (virDomainIsActive(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainIsPersistent(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, FERRY_POLICY_PREFIX,
                             FERRY_POLICY_NS, flags) < 0) {
        ferry_error_from_libvirt(&error, "cannot write the policy of '%s'", name);
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    /* The caller sees the new policy on the domain as soon as the call returns. */
    FerryDomainInfo *info = snapshot_domain(dom);
    virResetLastError();
    g_task_return_pointer(task, info, (GDestroyNotify)ferry_domain_info_free);
}

void ferry_inventory_set_policy_async(FerryInventory *inv, const char *name_or_uuid, GVariant *changes,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
    g_task_set_source_tag(task, ferry_inventory_set_policy_async);
    g_autoptr(GError) error = NULL;

    const FerryDomainInfo *info = ferry_inventory_lookup(inv, name_or_uuid, &error);
    if (!info) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    /* Validate before going to libvirt, so that bad input never reaches the domain. */
    g_autoptr(FerryPolicy) trial = ferry_policy_copy(info->policy);
    if (!ferry_policy_update(trial, changes, &error)) {
        g_task_return_error(task, g_steal_pointer(&error));
        return;
    }
    if (!inv->conn) {
        g_task_return_new_error(task, FERRY_ERROR, FERRY_ERROR_FAILED,
                                "libvirtd at %s is not reachable right now; try again when "
                                "LibvirtConnected is true", inv->uri);
        return;
    }
    PolicyData *d = g_new0(PolicyData, 1);
    d->conn = inv->conn;
    virConnectRef(d->conn);
    d->uuid = g_strdup(info->uuid);
    d->changes = g_variant_ref_sink(changes);
    g_task_set_task_data(task, d, (GDestroyNotify)policy_data_free);
    ferry_worker_run(inv->worker, task, set_policy_in_worker);
}

gboolean ferry_inventory_set_policy_finish(FerryInventory *inv, GAsyncResult *result, GError **error)
{
    g_autoptr(GError) local = NULL;
    FerryDomainInfo *info = g_task_propagate_pointer(G_TASK(result), &local);
    if (local) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    if (info)
        put_domain(inv, info);
    return TRUE;
}
