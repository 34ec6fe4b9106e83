/* The archive library on the bus: Manager.Archive, Restore, Purge, ListArchives, and one
 * org.virtferry.Ferry1.Archive object per archive. The library may be shared with other
 * hosts, so the objects are refreshed after every job, on ListArchives, and periodically. */
#include "daemon.h"

#include "archive.h"
#include "errors.h"
#include "ferry-error.h"
#include "library.h"

#include <string.h>

#define REFRESH_SECONDS 30

/* ------------------------------------------------------------------ Archive objects */

static char *archive_object_path(const char *id)
{
    g_autofree char *escaped = g_dbus_escape_object_path(id);
    return g_strconcat(FERRY_ARCHIVE_PATH "/", escaped, NULL);
}

static gboolean handle_verify(FerryArchive *iface, GDBusMethodInvocation *invocation, FerryDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    FerryJob *job = ferry_verify_start(daemon->jobs, daemon->config, ferry_archive_get_id(iface), &error);
    if (!job) {
        g_dbus_method_invocation_return_gerror(invocation, error);
        return TRUE;
    }
    g_autofree char *path = ferry_daemon_export_job(daemon, job, invocation);
    ferry_archive_complete_verify(iface, invocation, path);
    return TRUE;
}

static void fill_archive(FerryArchive *iface, const FerryManifest *m)
{
    ferry_archive_set_id(iface, m->id);
    ferry_archive_set_domain(iface, m->domain);
    ferry_archive_set_uuid(iface, m->uuid);
    ferry_archive_set_source_host(iface, m->source_host);
    ferry_archive_set_created(iface, m->created);
    ferry_archive_set_size(iface, m->allocated);
    ferry_archive_set_has_memory_state(iface, ferry_manifest_has_memory(m));
    ferry_archive_set_problem(iface, m->problem ? m->problem : "");
}

static void sync_archive_objects(FerryDaemon *daemon, GPtrArray *manifests)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < manifests->len; i++) {
        FerryManifest *m = g_ptr_array_index(manifests, i);
        g_hash_table_add(seen, m->id);
        FerryObjectSkeleton *object = g_hash_table_lookup(daemon->archive_objects, m->id);
        if (object) {
            g_autoptr(FerryArchive) iface = ferry_object_get_archive(FERRY_OBJECT(object));
            fill_archive(iface, m);
            continue;
        }
        g_autofree char *path = archive_object_path(m->id);
        object = ferry_object_skeleton_new(path);
        g_autoptr(FerryArchive) iface = ferry_archive_skeleton_new();
        fill_archive(iface, m);
        g_signal_connect(iface, "handle-verify", G_CALLBACK(handle_verify), daemon);
        ferry_object_skeleton_set_archive(object, iface);
        g_dbus_object_manager_server_export(daemon->objects, G_DBUS_OBJECT_SKELETON(object));
        g_hash_table_insert(daemon->archive_objects, g_strdup(m->id), object);
    }
    GHashTableIter iter;
    gpointer id, object;
    g_hash_table_iter_init(&iter, daemon->archive_objects);
    while (g_hash_table_iter_next(&iter, &id, &object)) {
        if (g_hash_table_contains(seen, id))
            continue;
        g_dbus_object_manager_server_unexport(daemon->objects, g_dbus_object_get_object_path(G_DBUS_OBJECT(object)));
        g_hash_table_iter_remove(&iter);
    }
}

static void list_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    g_task_return_pointer(task, ferry_library_list(data), (GDestroyNotify)g_ptr_array_unref);
}

/* Reads the library off the main loop (it may be on slow shared storage). */
static void list_library_async(FerryDaemon *daemon, GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr(GTask) task = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_task_data(task, g_strdup(daemon->config->archive_library), g_free);
    g_task_run_in_thread(task, list_in_thread);
}

static void refreshed(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GPtrArray) manifests = g_task_propagate_pointer(G_TASK(res), NULL);
    FerryDaemon *daemon = data;
    if (manifests && daemon->archive_objects)
        sync_archive_objects(daemon, manifests);
}

void ferry_daemon_archives_refresh(FerryDaemon *daemon)
{
    list_library_async(daemon, refreshed, daemon);
}

static gboolean refresh_timer(gpointer data)
{
    ferry_daemon_archives_refresh(data);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ ListArchives */

static void listed(GObject *source, GAsyncResult *res, gpointer data)
{
    GDBusMethodInvocation *invocation = data;
    FerryDaemon *daemon = g_object_get_data(G_OBJECT(invocation), "ferry-daemon");
    g_autoptr(GPtrArray) manifests = g_task_propagate_pointer(G_TASK(res), NULL);
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE("a(sssx)"));
    for (guint i = 0; manifests && i < manifests->len; i++) {
        FerryManifest *m = g_ptr_array_index(manifests, i);
        g_variant_builder_add(&b, "(sssx)", m->id, m->domain, m->source_host, m->created);
    }
    if (manifests)
        sync_archive_objects(daemon, manifests);
    ferry_manager_complete_list_archives(daemon->manager, invocation, g_variant_builder_end(&b));
}

static gboolean handle_list_archives(FerryManager *manager, GDBusMethodInvocation *invocation, FerryDaemon *daemon)
{
    g_object_set_data(G_OBJECT(invocation), "ferry-daemon", daemon);
    list_library_async(daemon, listed, invocation);
    return TRUE;
}

/* ------------------------------------------------------------------ Archive, Restore */

typedef struct {
    FerryDaemon *daemon;
    char *target;           /* domain or archive id */
    GVariant *options;
} Call;

static void call_free(gpointer data)
{
    Call *c = data;
    g_free(c->target);
    g_variant_unref(c->options);
    g_free(c);
}

static Call *call_new(FerryDaemon *daemon, const char *target, GVariant *options)
{
    Call *c = g_new0(Call, 1);
    c->daemon = daemon;
    c->target = g_strdup(target);
    c->options = g_variant_ref(options);
    return c;
}

static void archive_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    Call *c = data;
    static const char *const keys[] = { NULL };
    g_autoptr(GError) error = NULL;
    const FerryDomainInfo *info = ferry_daemon_check_options(c->options, keys, &error)
                                      ? ferry_inventory_lookup(c->daemon->inventory, c->target, &error)
                                      : NULL;
    FerryJob *job = info ? ferry_archive_start(c->daemon->jobs, c->daemon->config, info->uuid, info->name, &error)
                         : NULL;
    ferry_daemon_reply_job(c->daemon, invocation, job, error, ferry_manager_complete_archive);
}

static gboolean handle_archive(FerryManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                               GVariant *options, FerryDaemon *daemon)
{
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_ARCHIVE, domain, "archive", archive_authorized,
                    call_new(daemon, domain, options), call_free);
    return TRUE;
}

static void restore_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    Call *c = data;
    static const char *const keys[] = { "name:s", "start:b", "network:s", "copy:b", "break_lock:b",
                                        "ignore_unreachable:b", NULL };
    g_autoptr(GError) error = NULL;
    FerryRestoreOptions options = { .start = -1 };
    gboolean start = FALSE;
    FerryJob *job = NULL;
    if (ferry_daemon_check_options(c->options, keys, &error)) {
        g_variant_lookup(c->options, "name", "&s", &options.name);
        if (g_variant_lookup(c->options, "start", "b", &start))
            options.start = start;
        g_variant_lookup(c->options, "network", "&s", &options.network);
        g_variant_lookup(c->options, "copy", "b", &options.copy);
        g_variant_lookup(c->options, "break_lock", "b", &options.break_lock);
        g_variant_lookup(c->options, "ignore_unreachable", "b", &options.ignore_unreachable);
        job = ferry_restore_start(c->daemon->jobs, c->daemon->config, c->target, &options, &error);
    }
    ferry_daemon_reply_job(c->daemon, invocation, job, error, ferry_manager_complete_restore);
}

static gboolean handle_restore(FerryManager *manager, GDBusMethodInvocation *invocation, const char *id,
                               GVariant *options, FerryDaemon *daemon)
{
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_RESTORE, id, "restore", restore_authorized,
                    call_new(daemon, id, options), call_free);
    return TRUE;
}

/* ------------------------------------------------------------------ Purge */

typedef struct {
    FerryConfig *config;    /* borrowed: lives as long as the daemon */
    char *uuid;
} PurgeWork;

static void purge_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PurgeWork *w = data;
    GError *error = NULL;
    if (ferry_purge(w->config, w->uuid, &error))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

static void purge_work_free(PurgeWork *w)
{
    g_free(w->uuid);
    g_free(w);
}

static void purged(GObject *source, GAsyncResult *res, gpointer data)
{
    GDBusMethodInvocation *invocation = data;
    FerryDaemon *daemon = g_object_get_data(G_OBJECT(invocation), "ferry-daemon");
    PurgeWork *w = g_task_get_task_data(G_TASK(res));
    g_autoptr(GError) error = NULL;
    ferry_jobs_release(daemon->jobs, w->uuid);
    if (!g_task_propagate_boolean(G_TASK(res), &error))
        g_dbus_method_invocation_return_gerror(invocation, error);
    else
        ferry_manager_complete_purge(daemon->manager, invocation);
}

static void purge_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    Call *c = data;
    g_autoptr(GError) error = NULL;
    const FerryDomainInfo *info = ferry_inventory_lookup(c->daemon->inventory, c->target, &error);
    if (info && !info->pending_deletion)
        g_set_error(&error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "domain %s is not pending deletion; only an archived domain can be purged (virt-ferry archive)",
                    info->name);
    if (error || !ferry_jobs_hold(c->daemon->jobs, info->uuid, &error)) {
        g_dbus_method_invocation_return_gerror(invocation, error);
        return;
    }
    PurgeWork *w = g_new0(PurgeWork, 1);
    w->config = c->daemon->config;
    w->uuid = g_strdup(info->uuid);
    g_object_set_data(G_OBJECT(invocation), "ferry-daemon", c->daemon);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, purged, invocation);
    g_task_set_task_data(task, w, (GDestroyNotify)purge_work_free);
    g_task_run_in_thread(task, purge_in_thread);
}

static gboolean handle_purge(FerryManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                             FerryDaemon *daemon)
{
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_PURGE, domain, "purge", purge_authorized,
                    call_new(daemon, domain, g_variant_new("a{sv}", NULL)), call_free);
    return TRUE;
}

/* ------------------------------------------------------------------ setup */

static void recover_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    ferry_archive_recover(data);
    ferry_restore_locks_sweep(data);
    g_task_return_boolean(task, TRUE);
}

static void recovered(GObject *source, GAsyncResult *res, gpointer data)
{
    ferry_daemon_archives_refresh(data);
}

void ferry_daemon_archives_setup(FerryDaemon *daemon)
{
    daemon->archive_objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    g_signal_connect(daemon->manager, "handle-archive", G_CALLBACK(handle_archive), daemon);
    g_signal_connect(daemon->manager, "handle-restore", G_CALLBACK(handle_restore), daemon);
    g_signal_connect(daemon->manager, "handle-purge", G_CALLBACK(handle_purge), daemon);
    g_signal_connect(daemon->manager, "handle-list-archives", G_CALLBACK(handle_list_archives), daemon);
    daemon->archive_timer = g_timeout_add_seconds(REFRESH_SECONDS, refresh_timer, daemon);
}

void ferry_daemon_archives_recover(FerryDaemon *daemon)
{
    /* Once per process: later entries belong to jobs running here. */
    if (daemon->recovery_done)
        return;
    daemon->recovery_done = TRUE;
    g_autoptr(GTask) task = g_task_new(NULL, NULL, recovered, daemon);
    g_task_set_task_data(task, daemon->config, NULL);
    g_task_run_in_thread(task, recover_in_thread);
}

void ferry_daemon_archives_clear(FerryDaemon *daemon)
{
    g_clear_handle_id(&daemon->archive_timer, g_source_remove);
    g_clear_pointer(&daemon->archive_objects, g_hash_table_unref);
}
