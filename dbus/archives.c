/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive library on the bus: Manager.Archive, Restore, Purge, ListArchives, and one
 * org.virtferry.Ferry1.Archive object per archive. The library may be shared with other
 * hosts, so the objects are refreshed after every job, on ListArchives, and periodically. */
#include "daemon.h"

#include "archive.h"
#include "ferry-error.h"
#include "library.h"
#include "restore.h"

#include <string.h>

/* Archive and Restore ask their job kind's action (plugin/job.c); Purge is not a job. */

/* ------------------------------------------------------------------ Archive objects */

static char *archive_object_path(const char *id)
{
    g_autofree char *escaped = g_dbus_escape_object_path(id);
    return g_strconcat(FERRY_ARCHIVE_PATH "/", escaped, NULL);
}

static gboolean handle_verify(FerryBusArchive *iface, GDBusMethodInvocation *invocation, FerrydDaemon *daemon)
{
    g_autoptr(GError) error = NULL;
    FerryJob *job = ferry_host_verify_start(daemon->host, ferry_bus_archive_get_id(iface),
                                            g_dbus_method_invocation_get_sender(invocation), &error);
    ferryd_reply_job(daemon, invocation, job, error);
    return TRUE;
}

/* ------------------------------------------------------------------ Delete */

static void archive_deleted(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    g_autoptr(GError) error = NULL;
    if (ferry_host_delete_archive_finish(call->daemon->host, res, &error))
        g_dbus_method_invocation_return_value(call->invocation, NULL);
    else
        g_dbus_method_invocation_return_gerror(call->invocation, error);
}

/* The archive by the object the call was sent to, looked up again now that polkit said yes. */
static void delete_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    const char *path = g_dbus_method_invocation_get_object_path(invocation);
    GHashTableIter iter;
    gpointer id, object;
    g_hash_table_iter_init(&iter, daemon->archive_objects);
    while (g_hash_table_iter_next(&iter, &id, &object)) {
        if (g_str_equal(g_dbus_object_get_object_path(G_DBUS_OBJECT(object)), path)) {
            ferry_host_delete_archive_async(daemon->host, id, archive_deleted, ferryd_call_new(daemon, invocation));
            return;
        }
    }
    g_dbus_method_invocation_return_error(invocation, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                                          "archive %s has left the library meanwhile", path);
}

static gboolean handle_delete(FerryBusArchive *iface, GDBusMethodInvocation *invocation, FerrydDaemon *daemon)
{
    ferryd_authorize(daemon, invocation, FERRY_ACTION_PURGE, ferry_bus_archive_get_id(iface), NULL, "delete",
                     delete_authorized);
    return TRUE;
}

static void fill_archive(FerryBusArchive *iface, const FerryManifest *m)
{
    ferry_bus_archive_set_id(iface, m->id);
    ferry_bus_archive_set_domain(iface, m->domain);
    ferry_bus_archive_set_uuid(iface, m->uuid);
    ferry_bus_archive_set_source_host(iface, m->source_host);
    ferry_bus_archive_set_created(iface, m->created);
    ferry_bus_archive_set_size(iface, m->allocated);
    ferry_bus_archive_set_has_memory_state(iface, ferry_manifest_has_memory(m));
    ferry_bus_archive_set_problem(iface, m->problem ? m->problem : "");
}

static void sync_archive_objects(FerrydDaemon *daemon, GPtrArray *manifests)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < manifests->len; i++) {
        FerryManifest *m = g_ptr_array_index(manifests, i);
        g_hash_table_add(seen, m->id);
        FerryBusObjectSkeleton *object = g_hash_table_lookup(daemon->archive_objects, m->id);
        if (object) {
            g_autoptr(FerryBusArchive) iface = ferry_bus_object_get_archive(FERRY_BUS_OBJECT(object));
            fill_archive(iface, m);
            continue;
        }
        g_autofree char *path = archive_object_path(m->id);
        object = ferry_bus_object_skeleton_new(path);
        g_autoptr(FerryBusArchive) iface = ferry_bus_archive_skeleton_new();
        fill_archive(iface, m);
        g_signal_connect(iface, "handle-verify", G_CALLBACK(handle_verify), daemon);
        g_signal_connect(iface, "handle-delete", G_CALLBACK(handle_delete), daemon);
        ferry_bus_object_skeleton_set_archive(object, iface);
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

void ferryd_archives_changed(GPtrArray *manifests, gpointer data)
{
    FerrydDaemon *daemon = data;
    if (daemon->archive_objects)
        sync_archive_objects(daemon, manifests);
}

/* ------------------------------------------------------------------ ListArchives */

static void listed(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    /* The objects followed the list already (ferryd_archives_changed). */
    g_autoptr(GPtrArray) manifests = ferry_host_list_archives_finish(call->daemon->host, res, NULL);
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE("a(sssx)"));
    for (guint i = 0; manifests && i < manifests->len; i++) {
        FerryManifest *m = g_ptr_array_index(manifests, i);
        g_variant_builder_add(&b, "(sssx)", m->id, m->domain, m->source_host, m->created);
    }
    ferry_bus_manager_complete_list_archives(call->daemon->manager, call->invocation, g_variant_builder_end(&b));
}

static gboolean handle_list_archives(FerryBusManager *manager, GDBusMethodInvocation *invocation,
                                     FerrydDaemon *daemon)
{
    ferry_host_list_archives_async(daemon->host, listed, ferryd_call_new(daemon, invocation));
    return TRUE;
}

/* ------------------------------------------------------------------ Archive, Restore */

static void archive_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    static const char *const keys[] = { NULL };
    g_autoptr(GVariant) options = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", NULL, &options);
    g_autoptr(GError) error = NULL;
    const FerryDomainInfo *info = ferryd_check_options(options, keys, &error)
                                      ? ferry_inventory_lookup(daemon->inventory, uuid, &error)
                                      : NULL;
    FerryJob *job = info ? ferry_archive_start(daemon->jobs, daemon->config, info->uuid, info->name, &error) : NULL;
    ferryd_reply_job(daemon, invocation, job, error);
}

static gboolean handle_archive(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                               GVariant *options, FerrydDaemon *daemon)
{
    ferryd_authorize_domain(daemon, invocation, ferry_job_kind_action(FERRY_JOB_ARCHIVE), domain, "archive",
                            archive_authorized);
    return TRUE;
}

static void restore_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    static const char *const keys[] = { "name:s", "start:b", "network:s", "copy:b", "break_lock:b",
                                        "ignore_unreachable:b", NULL };
    const char *id;
    g_autoptr(GVariant) given = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s@a{sv})", &id, &given);
    g_autoptr(GError) error = NULL;
    FerryRestoreOptions options = { .start = -1 };
    gboolean start = FALSE;
    FerryJob *job = NULL;
    if (ferryd_check_options(given, keys, &error)) {
        g_variant_lookup(given, "name", "&s", &options.name);
        if (g_variant_lookup(given, "start", "b", &start))
            options.start = start;
        g_variant_lookup(given, "network", "&s", &options.network);
        g_variant_lookup(given, "copy", "b", &options.copy);
        g_variant_lookup(given, "break_lock", "b", &options.break_lock);
        g_variant_lookup(given, "ignore_unreachable", "b", &options.ignore_unreachable);
        job = ferry_restore_start(daemon->jobs, daemon->config, id, &options, &error);
    }
    ferryd_reply_job(daemon, invocation, job, error);
}

static gboolean handle_restore(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *id,
                               GVariant *options, FerrydDaemon *daemon)
{
    ferryd_authorize(daemon, invocation, ferry_job_kind_action(FERRY_JOB_RESTORE), id, NULL, "restore",
                     restore_authorized);
    return TRUE;
}

/* ------------------------------------------------------------------ Purge */

static void purged(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    g_autoptr(GError) error = NULL;
    if (!ferry_host_purge_finish(call->daemon->host, res, &error))
        g_dbus_method_invocation_return_gerror(call->invocation, error);
    else
        ferry_bus_manager_complete_purge(call->daemon->manager, call->invocation);
}

static void purge_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    ferry_host_purge_async(daemon->host, uuid, purged, ferryd_call_new(daemon, invocation));
}

static gboolean handle_purge(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                             FerrydDaemon *daemon)
{
    ferryd_authorize_domain(daemon, invocation, FERRY_ACTION_PURGE, domain, "purge", purge_authorized);
    return TRUE;
}

/* ------------------------------------------------------------------ setup */

void ferryd_archives_setup(FerrydDaemon *daemon)
{
    daemon->archive_objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
    g_signal_connect(daemon->manager, "handle-archive", G_CALLBACK(handle_archive), daemon);
    g_signal_connect(daemon->manager, "handle-restore", G_CALLBACK(handle_restore), daemon);
    g_signal_connect(daemon->manager, "handle-purge", G_CALLBACK(handle_purge), daemon);
    g_signal_connect(daemon->manager, "handle-list-archives", G_CALLBACK(handle_list_archives), daemon);
}

void ferryd_archives_clear(FerrydDaemon *daemon)
{
    g_clear_pointer(&daemon->archive_objects, g_hash_table_unref);
}
