/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host engine (see host.h). */
#include "host.h"
#include "log.h"

#include "archive.h"
#include "evacuate.h"
#include "ferry-error.h"
#include "library.h"
#include "libvirt-autoptr.h"
#include "libvirt-open.h"
#include "networks.h"
#include "recover.h"
#include "reserve.h"
#include "snapshot.h"
#include "worker.h"

#include <errno.h>

#define HEALTH_INTERVAL_SECONDS 5
#define ARCHIVES_REFRESH_SECONDS 30
/* libvirt 9.0 sends no event when a network's metadata changes, and a peer's networks are
 * only seen by reading them. */
#define NETMAP_REFRESH_SECONDS 30
/* Domain events come in bursts (an evacuation, a host starting its guests): the cluster
 * reserve is read once the burst is over. */
#define RESERVE_SETTLE_SECONDS 2

/* CheckNetworks and ListArchives need no authorization, and each read may take a thread for
 * long (a dead peer, slow shared storage): however many callers ask, one read runs at a
 * time, in a thread of its own (never GLib's shared pool, which the network map writer the
 * hook relies on uses). A caller who asks while one runs waits for the next, which starts when that one
 * ends: he sees what is there after he asked. */
typedef struct {
    GTaskThreadFunc work;             /* returns a pointer (or an error); its task data is the config */
    gpointer (*ref)(gpointer result);
    GDestroyNotify unref;
    void (*seen)(FerryHost *host, gpointer result); /* before the callers are answered; NULL: none */
    gboolean running;
    gboolean again;                   /* a read is due after the running one, callers or not */
    GPtrArray *current, *next;        /* GTask: the callers the running and the next read answer */
    FerryWorker *worker;              /* the read's own thread */
} SharedRead;

struct _FerryHost {
    FerryConfig *config;
    const FerryHostCallbacks *callbacks;
    gpointer user_data;
    FerryInventory *inventory;
    FerryHealth *health;
    FerryJobs *jobs;
    FerryEvacuations *evacuations; /* PlanEvacuation, Evacuate */
    gboolean recovery_done;
    GStrv recovering;       /* the domains held while the journal's recovery runs */
    guint archives_timer;

    /* The network map keeper: one write at a time, one more if asked meanwhile. */
    guint netmap_timer;
    GFileMonitor *declarations_monitor;
    gboolean netmap_writing, netmap_again;
    GPtrArray *peer_maps;         /* FerryPeerNetmap: the peers' networks, last read */
    gboolean peers_reading;

    SharedRead library_list;      /* ListArchives and the refreshes */
    SharedRead networks_check;    /* CheckNetworks */

    /* The cluster reserve: one read at a time in its own thread, one more if asked meanwhile. */
    FerryWorker *reserve_worker;
    GCancellable *reserve_cancel; /* the host is gone: a read that ends later touches nothing */
    gboolean reserve_running, reserve_again;
    guint reserve_settle;         /* the timer that waits for a burst of events to end */
    gboolean overcommitted;
    char *reserve_reason;
    char *reserve_error;          /* the last check's failure, logged once */
};

FerryConfig *ferry_host_config(FerryHost *host) { return host->config; }
FerryInventory *ferry_host_inventory(FerryHost *host) { return host->inventory; }
FerryJobs *ferry_host_jobs(FerryHost *host) { return host->jobs; }
FerryEvacuations *ferry_host_evacuations(FerryHost *host) { return host->evacuations; }

/* ------------------------------------------------------------------ the network map on disk */

/* What a thread working on the map needs: the configuration and the peers' networks as
 * last read (FerryPeerNetmap, shared read-only; NULL: none read yet). */
typedef struct {
    FerryConfig *config;
    GPtrArray *peers;
} NetmapWork;

static NetmapWork *netmap_work_new(FerryHost *host)
{
    NetmapWork *w = g_new0(NetmapWork, 1);
    w->config = ferry_config_ref(host->config);
    w->peers = host->peer_maps ? g_ptr_array_ref(host->peer_maps) : NULL;
    return w;
}

static void netmap_work_free(NetmapWork *w)
{
    ferry_config_unref(w->config);
    g_clear_pointer(&w->peers, g_ptr_array_unref);
    g_free(w);
}

static void write_netmap_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    NetmapWork *w = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = ferry_networks_map_path(w->config->state_dir);
    g_autoptr(virConnect) conn = ferry_libvirt_open(w->config->libvirt_uri, &error);
    if (conn && g_mkdir_with_parents(w->config->state_dir, 0755) < 0)
        g_set_error(&error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot create %s: %s", w->config->state_dir,
                    g_strerror(errno));
    if (!error)
        ferry_networks_write_map(conn, w->config->networks_dir, w->peers, path, &error);
    if (error)
        g_warning("cannot write the network map %s: %s", path, error->message);
    else
        ferry_log(FERRY_LOG_NOTICE, FERRY_MESSAGE_NETWORK_MAP,
                  (const char *const[]){ "VIRT_FERRY_NETWORK_MAP", path, NULL },
                  "network map %s rewritten", path);
    g_task_return_boolean(task, TRUE);
}

static void netmap_written(GObject *source, GAsyncResult *res, gpointer data)
{
    FerryHost *host = data;
    host->netmap_writing = FALSE;
    if (host->netmap_again) {
        host->netmap_again = FALSE;
        ferry_host_networks_changed(host);
    }
}

void ferry_host_networks_changed(FerryHost *host)
{
    if (host->netmap_writing) {
        host->netmap_again = TRUE; /* one more pass once this one is done */
        return;
    }
    host->netmap_writing = TRUE;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, netmap_written, host);
    g_task_set_task_data(task, netmap_work_new(host), (GDestroyNotify)netmap_work_free);
    g_task_run_in_thread(task, write_netmap_in_thread);
}

static void networks_changed_cb(gpointer data)
{
    ferry_host_networks_changed(data);
}

/* Apart from the host's own map: a dead peer can hold a connection for minutes, and this
 * host's own changes must reach the hook at once. A peer that cannot be read keeps what was
 * last read of it. */
static void read_peers_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    NetmapWork *w = data;
    g_task_return_pointer(task, ferry_networks_read_peers((const char *const *)w->config->peers, w->peers),
                          (GDestroyNotify)g_ptr_array_unref);
}

static void peers_read(GObject *source, GAsyncResult *res, gpointer data)
{
    FerryHost *host = data;
    GPtrArray *maps = g_task_propagate_pointer(G_TASK(res), NULL);
    host->peers_reading = FALSE;
    if (!maps)
        return;
    gboolean changed = !ferry_peer_netmaps_equal(host->peer_maps, maps);
    g_clear_pointer(&host->peer_maps, g_ptr_array_unref);
    host->peer_maps = maps;
    if (changed)
        ferry_host_networks_changed(host);
}

static void read_peers(FerryHost *host)
{
    if (host->peers_reading || !host->config->peers[0])
        return;
    host->peers_reading = TRUE;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, peers_read, host);
    g_task_set_task_data(task, netmap_work_new(host), (GDestroyNotify)netmap_work_free);
    g_task_run_in_thread(task, read_peers_in_thread);
}

static void reserve_request(FerryHost *host);

static gboolean netmap_timer(gpointer data)
{
    FerryHost *host = data;
    if (ferry_inventory_is_connected(host->inventory))
        ferry_host_networks_changed(host);
    read_peers(host);
    reserve_request(host); /* the peers' guests change without an event here */
    return G_SOURCE_CONTINUE;
}

static void on_declarations_changed(GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                                    gpointer data)
{
    FerryHost *host = data;
    if (event == G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT || event == G_FILE_MONITOR_EVENT_DELETED ||
        event == G_FILE_MONITOR_EVENT_CREATED || event == G_FILE_MONITOR_EVENT_MOVED_IN ||
        event == G_FILE_MONITOR_EVENT_RENAMED)
        if (ferry_inventory_is_connected(host->inventory))
            ferry_host_networks_changed(host);
}

/* The declarations are files an administrator edits: the map follows them at once. */
static void watch_declarations(FerryHost *host)
{
    const char *dir_path = host->config->networks_dir;
    g_autoptr(GFile) dir = g_file_new_for_path(dir_path);
    g_autoptr(GError) error = NULL;
    g_mkdir_with_parents(dir_path, 0755);
    host->declarations_monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
    if (!host->declarations_monitor) {
        g_warning("cannot watch %s (%s); the network map follows it every %d s", dir_path, error->message,
                  NETMAP_REFRESH_SECONDS);
        return;
    }
    g_signal_connect(host->declarations_monitor, "changed", G_CALLBACK(on_declarations_changed), host);
}

/* ------------------------------------------------------------------ the cluster reserve */

typedef struct {
    gboolean ok;
    FerryReserveResult result;
    char *error;
} ReserveOutcome;

static void reserve_outcome_free(ReserveOutcome *o)
{
    ferry_reserve_result_clear(&o->result);
    g_free(o->error);
    g_free(o);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ReserveOutcome, reserve_outcome_free)

static void reserve_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    FerryConfig *config = data;
    ReserveOutcome *o = g_new0(ReserveOutcome, 1);
    g_autoptr(GError) error = NULL;
    FerrySnapshotRequest request = { .config = config, .cluster = TRUE };
    g_autoptr(FerrySnapshot) snapshot = ferry_snapshot_read(&request, &error);
    if (snapshot) {
        FerryReserveInput in = {
            .cluster = &snapshot->input, .here = &snapshot->here,
            .resident_policies = (const FerryPolicy *const *)snapshot->resident_policies->pdata,
            .reserve = config->evacuation_reserve, .memory_ratio = config->evacuation_memory_ratio,
            .vcpu_ratio = config->evacuation_vcpu_ratio,
        };
        o->ok = ferry_reserve_check(&in, &o->result, &error);
    }
    if (error)
        o->error = g_strdup(error->message);
    g_task_return_pointer(task, o, (GDestroyNotify)reserve_outcome_free);
}

static void reserve_start(FerryHost *host);

static void reserve_apply(FerryHost *host, ReserveOutcome *o)
{
    if (!o->ok) {
        if (g_strcmp0(o->error, host->reserve_error) != 0)
            g_warning("cannot check the cluster reserve: %s", o->error);
        g_free(host->reserve_error);
        host->reserve_error = g_strdup(o->error);
        g_free(host->reserve_reason);
        host->reserve_reason = g_strdup_printf("cannot check the reserve (%s); the answer before stands", o->error);
        return;
    }
    g_clear_pointer(&host->reserve_error, g_free);
    g_free(host->reserve_reason);
    host->reserve_reason = g_strdup(o->result.reason);
    if (o->result.overcommitted == host->overcommitted)
        return;
    host->overcommitted = o->result.overcommitted;
    if (host->overcommitted)
        g_warning("the cluster is overcommitted: %s", host->reserve_reason);
    else
        g_message("the cluster reserve holds again: %s", host->reserve_reason);
    if (host->callbacks->overcommitted_changed)
        host->callbacks->overcommitted_changed(host->overcommitted, host->reserve_reason, host->user_data);
}

static void reserve_done(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(ReserveOutcome) o = g_task_propagate_pointer(G_TASK(res), NULL);
    if (g_cancellable_is_cancelled(g_task_get_cancellable(G_TASK(res))))
        return; /* the host is gone */
    FerryHost *host = data;
    host->reserve_running = FALSE;
    if (o)
        reserve_apply(host, o);
    if (host->reserve_again)
        reserve_start(host);
}

static void reserve_start(FerryHost *host)
{
    host->reserve_running = TRUE;
    host->reserve_again = FALSE;
    g_autoptr(GTask) task = g_task_new(NULL, host->reserve_cancel, reserve_done, host);
    g_task_set_task_data(task, ferry_config_ref(host->config), (GDestroyNotify)ferry_config_unref);
    ferry_worker_run(host->reserve_worker, task, reserve_in_thread);
}

/* A read now, or right after the one that runs (it may have read the peers before the change). */
static void reserve_request(FerryHost *host)
{
    if (host->config->evacuation_reserve == 0)
        return;
    host->reserve_again = TRUE;
    if (!host->reserve_running)
        reserve_start(host);
}

static gboolean reserve_settled(gpointer data)
{
    FerryHost *host = data;
    host->reserve_settle = 0;
    reserve_request(host);
    return G_SOURCE_REMOVE;
}

/* A read a moment after this host's domains change: the rest of a burst comes meanwhile
 * (not postponed by each event: a long evacuation would never be read). */
static void reserve_soon(FerryHost *host)
{
    if (host->config->evacuation_reserve == 0 || host->reserve_settle)
        return;
    host->reserve_settle = g_timeout_add_seconds(RESERVE_SETTLE_SECONDS, reserve_settled, host);
}

guint ferry_host_cluster_reserve(FerryHost *host)
{
    return host->config->evacuation_reserve;
}

gboolean ferry_host_overcommitted(FerryHost *host, const char **reason)
{
    if (reason)
        *reason = host->reserve_reason;
    return host->overcommitted;
}

/* ------------------------------------------------------------------ reads every caller shares */

typedef struct {
    FerryHost *host;
    SharedRead *read;
} SharedReadRun;

static void shared_read_start(FerryHost *host, SharedRead *read);

static void shared_read_done(GObject *source, GAsyncResult *res, gpointer data)
{
    SharedReadRun *run = data;
    FerryHost *host = run->host;
    SharedRead *read = run->read;
    g_free(run);
    g_autoptr(GError) error = NULL;
    gpointer result = g_task_propagate_pointer(G_TASK(res), &error);
    if (result && read->seen)
        read->seen(host, result);
    g_autoptr(GPtrArray) callers = g_steal_pointer(&read->current);
    for (guint i = 0; i < callers->len; i++) {
        GTask *caller = g_ptr_array_index(callers, i);
        if (result)
            g_task_return_pointer(caller, read->ref(result), read->unref);
        else if (error)
            g_task_return_error(caller, g_error_copy(error));
        else
            g_task_return_pointer(caller, NULL, NULL);
    }
    if (result)
        read->unref(result);
    read->running = FALSE;
    if (read->again)
        shared_read_start(host, read);
}

static void shared_read_start(FerryHost *host, SharedRead *read)
{
    read->running = TRUE;
    read->again = FALSE;
    read->current = g_steal_pointer(&read->next);
    read->next = g_ptr_array_new_with_free_func(g_object_unref);
    SharedReadRun *run = g_new0(SharedReadRun, 1);
    run->host = host;
    run->read = read;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, shared_read_done, run);
    g_task_set_task_data(task, ferry_config_ref(host->config), (GDestroyNotify)ferry_config_unref);
    ferry_worker_run(read->worker, task, read->work);
}

/* Asks for a read; @caller (may be NULL: a refresh) gets its result. */
static void shared_read_request(FerryHost *host, SharedRead *read, GTask *caller)
{
    if (caller)
        g_ptr_array_add(read->next, g_object_ref(caller));
    read->again = TRUE;
    if (!read->running)
        shared_read_start(host, read);
}

static void shared_read_init(SharedRead *read)
{
    read->next = g_ptr_array_new_with_free_func(g_object_unref);
    read->worker = ferry_worker_new();
}

static void shared_read_clear(SharedRead *read)
{
    g_clear_pointer(&read->worker, ferry_worker_free);
    g_clear_pointer(&read->next, g_ptr_array_unref);
}

/* ------------------------------------------------------------------ CheckNetworks */

static void check_networks_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    FerryConfig *config = data;
    GError *error = NULL;
    GVariant *rows = ferry_networks_compare(config->libvirt_uri, config->networks_dir,
                                            (const char *const *)config->peers, &error);
    if (rows)
        g_task_return_pointer(task, rows, (GDestroyNotify)g_variant_unref);
    else
        g_task_return_error(task, error);
}

void ferry_host_check_networks_async(FerryHost *host, GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_source_tag(task, ferry_host_check_networks_async);
    shared_read_request(host, &host->networks_check, task);
}

GVariant *ferry_host_check_networks_finish(FerryHost *host, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

/* ------------------------------------------------------------------ the archive library */

static void list_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    FerryConfig *config = data;
    g_task_return_pointer(task, ferry_library_list(config->archive_library), (GDestroyNotify)g_ptr_array_unref);
}

static void library_seen(FerryHost *host, gpointer manifests)
{
    if (host->callbacks->archives_changed)
        host->callbacks->archives_changed(manifests, host->user_data);
}

static void refresh_archives(FerryHost *host)
{
    shared_read_request(host, &host->library_list, NULL);
}

void ferry_host_list_archives_async(FerryHost *host, GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_source_tag(task, ferry_host_list_archives_async);
    shared_read_request(host, &host->library_list, task);
}

GPtrArray *ferry_host_list_archives_finish(FerryHost *host, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), NULL);
    return g_task_propagate_pointer(G_TASK(result), error);
}

static gboolean archives_timer(gpointer data)
{
    refresh_archives(data);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ Verify */

FerryJob *ferry_host_verify_start(FerryHost *host, const char *id, const char *caller, GError **error)
{
    /* Each verify reads a whole archive in a thread of its own; one caller may not take
     * every slot. */
    if (ferry_jobs_count_running_for(host->jobs, FERRY_JOB_VERIFY, caller) >= FERRY_HOST_MAX_VERIFY_PER_CALLER) {
        ferry_error_set(error, FERRY_ERROR_BUSY, "you are verifying an archive already; try again when it is done");
        return NULL;
    }
    if (ferry_jobs_count_running(host->jobs, FERRY_JOB_VERIFY) >= FERRY_HOST_MAX_VERIFY) {
        ferry_error_set(error, FERRY_ERROR_BUSY, "%d archives are being verified already; try again when one is done",
                        FERRY_HOST_MAX_VERIFY);
        return NULL;
    }
    FerryJob *job = ferry_verify_start(host->jobs, host->config, id, error);
    if (job)
        ferry_job_set_owner(job, caller);
    return job;
}

/* ------------------------------------------------------------------ Purge */

typedef struct {
    FerryHost *host;
    FerryConfig *config;
    char *uuid;
} PurgeWork;

static void purge_work_free(PurgeWork *w)
{
    ferry_jobs_release(w->host->jobs, w->uuid);
    ferry_config_unref(w->config);
    g_free(w->uuid);
    g_free(w);
}

static void purge_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PurgeWork *w = data;
    GError *error = NULL;
    if (ferry_purge(w->config, w->uuid, &error))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

void ferry_host_purge_async(FerryHost *host, const char *name_or_uuid, GAsyncReadyCallback callback,
                            gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_source_tag(task, ferry_host_purge_async);
    GError *error = NULL;
    const FerryDomainInfo *info = ferry_inventory_lookup(host->inventory, name_or_uuid, &error);
    if (info && !info->pending_deletion)
        g_set_error(&error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "domain %s is not pending deletion; only an archived domain can be purged (virt-ferry archive)",
                    info->name);
    if (error || !ferry_jobs_hold(host->jobs, info->uuid, &error)) {
        g_task_return_error(task, error);
        return;
    }
    PurgeWork *w = g_new0(PurgeWork, 1);
    w->host = host;
    w->config = ferry_config_ref(host->config);
    w->uuid = g_strdup(info->uuid);
    /* The hold ends with the work's data, in this context, when the task is done. */
    g_task_set_task_data(task, w, (GDestroyNotify)purge_work_free);
    g_task_run_in_thread(task, purge_in_thread);
}

gboolean ferry_host_purge_finish(FerryHost *host, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ------------------------------------------------------------------ delete an archive */

static void delete_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    FerryConfig *config = data;
    GError *error = NULL;
    if (ferry_library_delete(config->archive_library, g_object_get_data(G_OBJECT(task), "id"), &error))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

static void archive_deleted(GObject *source, GAsyncResult *res, gpointer data)
{
    FerryHost *host = g_task_get_task_data(G_TASK(data));
    GTask *caller = data;
    GError *error = NULL;
    if (g_task_propagate_boolean(G_TASK(res), &error))
        g_task_return_boolean(caller, TRUE);
    else
        g_task_return_error(caller, error);
    refresh_archives(host);
    g_object_unref(caller);
}

void ferry_host_delete_archive_async(FerryHost *host, const char *id, GAsyncReadyCallback callback,
                                     gpointer user_data)
{
    g_autoptr(GTask) caller = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_source_tag(caller, ferry_host_delete_archive_async);
    g_task_set_task_data(caller, host, NULL);
    /* Not under a job that reads it. */
    for (FerryJobKind kind = 0; kind < FERRY_JOB_N_KINDS; kind++) {
        FerryJob *job = (kind == FERRY_JOB_RESTORE || kind == FERRY_JOB_VERIFY)
                            ? ferry_jobs_for_target(host->jobs, kind, id) : NULL;
        if (job) {
            g_task_return_new_error(caller, FERRY_ERROR, FERRY_ERROR_BUSY,
                                    "archive %s is being read by job %u (%s); wait for it or cancel it", id,
                                    ferry_job_id(job), ferry_job_kind_name(kind));
            return;
        }
    }
    g_autoptr(GTask) task = g_task_new(NULL, NULL, archive_deleted, g_object_ref(caller));
    g_task_set_task_data(task, ferry_config_ref(host->config), (GDestroyNotify)ferry_config_unref);
    g_object_set_data_full(G_OBJECT(task), "id", g_strdup(id), g_free);
    g_task_run_in_thread(task, delete_in_thread);
}

gboolean ferry_host_delete_archive_finish(FerryHost *host, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, NULL), FALSE);
    return g_task_propagate_boolean(G_TASK(result), error);
}

/* ------------------------------------------------------------------ recovery */

typedef struct {
    FerryConfig *config;
    GPtrArray *entries; /* the journal, read once: for the holds, then for the recovery */
} Recovery;

static void recovery_free(Recovery *r)
{
    ferry_config_unref(r->config);
    g_ptr_array_unref(r->entries);
    g_free(r);
}

static void recover_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Recovery *r = data;
    ferry_recover_journal(r->config, r->entries);
    g_task_return_boolean(task, TRUE);
}

static void release_recovering(FerryHost *host)
{
    for (char **u = host->recovering; u && *u; u++)
        ferry_jobs_release(host->jobs, *u);
    g_clear_pointer(&host->recovering, g_strfreev);
}

static void recovered(GObject *source, GAsyncResult *res, gpointer data)
{
    FerryHost *host = data;
    release_recovering(host);
    refresh_archives(host);
}

/* Once per process: later journal entries belong to jobs running here. Until it is done,
 * the domains it settles are held: an Evacuate or Migrate meanwhile would race the
 * recovery's own destroy, resume or undefine (Busy, or the plan's verdict busy). */
static void recover_once(FerryHost *host)
{
    if (host->recovery_done)
        return;
    host->recovery_done = TRUE;
    Recovery *r = g_new0(Recovery, 1);
    r->config = ferry_config_ref(host->config);
    /* A few small files of [state] dir=, read here so that the holds are in place before
     * any call after this one can start a job. */
    r->entries = ferry_journal_load_all(host->config->state_dir);
    host->recovering = ferry_recover_domains(r->entries);
    for (char **u = host->recovering; *u; u++)
        ferry_jobs_hold(host->jobs, *u, NULL); /* a repeat is held already */
    g_autoptr(GTask) task = g_task_new(NULL, NULL, recovered, host);
    g_task_set_task_data(task, r, (GDestroyNotify)recovery_free);
    g_task_run_in_thread(task, recover_in_thread);
}

/* ------------------------------------------------------------------ inventory, health, jobs */

static void on_domain_added(const FerryDomainInfo *info, gpointer data)
{
    FerryHost *host = data;
    reserve_soon(host);
    if (host->callbacks->domain_added)
        host->callbacks->domain_added(info, host->user_data);
}

static void on_domain_changed(const FerryDomainInfo *old, const FerryDomainInfo *info, gpointer data)
{
    FerryHost *host = data;
    reserve_soon(host); /* its state, or its policy (pin, eq, ne) */
    if (host->callbacks->domain_changed)
        host->callbacks->domain_changed(old, info, host->user_data);
}

static void on_domain_removed(const FerryDomainInfo *info, gpointer data)
{
    FerryHost *host = data;
    reserve_soon(host);
    if (host->callbacks->domain_removed)
        host->callbacks->domain_removed(info, host->user_data);
}

static void on_connection(gboolean connected, const char *detail, gpointer data)
{
    FerryHost *host = data;
    if (connected) {
        ferry_health_poll(host->health);
        recover_once(host);
        ferry_host_networks_changed(host);
        reserve_soon(host);
    }
    if (host->callbacks->connection_changed)
        host->callbacks->connection_changed(connected, detail, host->user_data);
}

static const FerryInventoryCallbacks inventory_callbacks = {
    .domain_added = on_domain_added,
    .domain_changed = on_domain_changed,
    .domain_removed = on_domain_removed,
    .connection_changed = on_connection,
    .networks_changed = networks_changed_cb,
};

static void on_health(GVariant *health, gpointer data)
{
    FerryHost *host = data;
    if (host->callbacks->health_changed)
        host->callbacks->health_changed(health, host->user_data);
}

static void on_job_changed(FerryJob *job, gpointer data)
{
    FerryHost *host = data;
    if (host->callbacks->job_changed)
        host->callbacks->job_changed(job, host->user_data);
    /* A job may have added or removed an archive, here or in a shared library. */
    if (ferry_job_is_finished(job))
        refresh_archives(host);
}

void ferry_host_libvirtd_started(FerryHost *host)
{
    ferry_inventory_reconnect_now(host->inventory);
}

FerryHost *ferry_host_new(FerryConfig *config, const FerryHostCallbacks *callbacks, gpointer user_data)
{
    FerryHost *host = g_new0(FerryHost, 1);
    host->config = ferry_config_ref(config);
    host->callbacks = callbacks;
    host->user_data = user_data;
    host->jobs = ferry_jobs_new(on_job_changed, host);
    host->evacuations = ferry_evacuations_new(host->jobs, config);
    host->inventory = ferry_inventory_new(config->libvirt_uri, &inventory_callbacks, host);
    host->library_list = (SharedRead){ list_in_thread, (gpointer (*)(gpointer))g_ptr_array_ref,
                                       (GDestroyNotify)g_ptr_array_unref, library_seen };
    shared_read_init(&host->library_list);
    host->networks_check = (SharedRead){ check_networks_in_thread, (gpointer (*)(gpointer))g_variant_ref,
                                         (GDestroyNotify)g_variant_unref, NULL };
    shared_read_init(&host->networks_check);
    host->reserve_worker = ferry_worker_new();
    host->reserve_cancel = g_cancellable_new();
    host->reserve_reason = g_strdup(config->evacuation_reserve ? "not checked yet"
                                                               : "no reserve asked for ([evacuation] reserve=)");
    if (config->failover_dir)
        ferry_inventory_publish_to(host->inventory, config->failover_dir);
    ferry_inventory_tag_hotplugged_nics(host->inventory, config->networks_dir);
    return host;
}

void ferry_host_start(FerryHost *host)
{
    g_return_if_fail(!host->health);
    host->health = ferry_health_new(NULL, HEALTH_INTERVAL_SECONDS, on_health, host);
    host->archives_timer = g_timeout_add_seconds(ARCHIVES_REFRESH_SECONDS, archives_timer, host);
    host->netmap_timer = g_timeout_add_seconds(NETMAP_REFRESH_SECONDS, netmap_timer, host);
    watch_declarations(host);
    read_peers(host);
    ferry_inventory_start(host->inventory);
}

void ferry_host_free(FerryHost *host)
{
    if (!host)
        return;
    g_clear_handle_id(&host->archives_timer, g_source_remove);
    g_clear_handle_id(&host->netmap_timer, g_source_remove);
    g_clear_object(&host->declarations_monitor);
    g_clear_pointer(&host->peer_maps, g_ptr_array_unref);
    shared_read_clear(&host->library_list);
    shared_read_clear(&host->networks_check);
    g_clear_handle_id(&host->reserve_settle, g_source_remove);
    g_cancellable_cancel(host->reserve_cancel);
    g_clear_pointer(&host->reserve_worker, ferry_worker_free); /* waits for a read (peer-timeout) */
    g_clear_object(&host->reserve_cancel);
    g_free(host->reserve_reason);
    g_free(host->reserve_error);
    /* Waits for a plan being read (bounded by [evacuation] peer-timeout=). */
    g_clear_pointer(&host->evacuations, ferry_evacuations_free);
    g_clear_pointer(&host->jobs, ferry_jobs_free);
    g_strfreev(host->recovering);
    ferry_inventory_free(host->inventory);
    ferry_health_free(host->health);
    ferry_config_unref(host->config);
    g_free(host);
}
