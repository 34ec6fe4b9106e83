/* org.virtferry.Ferry1.Job objects: one per job, following the plugin's FerryJob, kept on
 * the bus for a while after the job ends so that a caller who polls sees the result. */
#include "daemon.h"

#include <string.h>

#include "errors.h"
#include "ferry-error.h"

#define JOB_LINGER_SECONDS (10 * 60)

typedef struct {
    FerryDaemon *daemon;
    FerryJob *job;
    FerryObjectSkeleton *object;
    char *starter;          /* unique bus name of the caller who started it */
    gboolean announced;     /* Finished was emitted */
    guint linger;
} JobEntry;

static void job_entry_free(JobEntry *e)
{
    g_clear_handle_id(&e->linger, g_source_remove);
    g_dbus_object_manager_server_unexport(e->daemon->objects,
                                          g_dbus_object_get_object_path(G_DBUS_OBJECT(e->object)));
    g_object_unref(e->object);
    ferry_job_unref(e->job);
    g_free(e->starter);
    g_free(e);
}

static const char *action_for_kind(const char *kind)
{
    if (g_str_equal(kind, "restore"))
        return FERRY_ACTION_RESTORE;
    if (g_str_equal(kind, "migrate"))
        return FERRY_ACTION_MIGRATE;
    if (g_str_equal(kind, "evacuate"))
        return FERRY_ACTION_EVACUATE;
    return FERRY_ACTION_ARCHIVE;
}

static gboolean drop_entry(gpointer data)
{
    JobEntry *e = data;
    e->linger = 0;
    g_hash_table_remove(e->daemon->job_objects, GUINT_TO_POINTER(ferry_job_id(e->job)));
    return G_SOURCE_REMOVE;
}

static void publish(JobEntry *e)
{
    g_autoptr(FerryBusJob) iface = ferry_object_get_bus_job(FERRY_OBJECT(e->object));
    g_auto(FerryJobState) state = { 0 };
    ferry_job_get_state(e->job, &state);
    ferry_bus_job_set_status(iface, ferry_job_status_name(state.status));
    ferry_bus_job_set_progress(iface, state.progress);
    ferry_bus_job_set_data_total(iface, state.total);
    ferry_bus_job_set_data_remaining(iface, state.remaining);
    ferry_bus_job_set_message(iface, state.message);
    ferry_bus_job_set_result(iface, state.result);
    ferry_bus_job_set_steps(iface, state.steps);
    ferry_bus_job_set_notes(iface, (const char *const *)state.notes);
    g_autoptr(GError) error = ferry_job_dup_error(e->job);
    if (error) {
        g_autofree char *name = g_dbus_error_encode_gerror(error);
        ferry_bus_job_set_error(iface, name);
    }
    if (ferry_job_is_finished(e->job) && !e->announced) {
        e->announced = TRUE;
        /* Property changes go out from an idle; a client reacting to Finished must see them. */
        g_dbus_interface_skeleton_flush(G_DBUS_INTERFACE_SKELETON(iface));
        ferry_bus_job_emit_finished(iface, ferry_job_status_name(state.status), state.message);
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_INFO, "MESSAGE", "job %u (%s %s) %s: %s", ferry_job_id(e->job),
                         ferry_job_kind(e->job), ferry_job_target(e->job), ferry_job_status_name(state.status),
                         state.message, "VIRT_FERRY_JOB", "%u", ferry_job_id(e->job));
        e->linger = g_timeout_add_seconds(JOB_LINGER_SECONDS, drop_entry, e);
        ferry_daemon_archives_refresh(e->daemon);
    }
}

static void on_job_changed(FerryJob *job, gpointer data)
{
    FerryDaemon *daemon = data;
    JobEntry *e = g_hash_table_lookup(daemon->job_objects, GUINT_TO_POINTER(ferry_job_id(job)));
    if (e)
        publish(e);
}

static void cancel_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    JobEntry *e = data;
    ferry_job_cancel(e->job);
    g_autoptr(FerryBusJob) iface = ferry_object_get_bus_job(FERRY_OBJECT(e->object));
    ferry_bus_job_complete_cancel(iface, invocation);
}

static gboolean handle_cancel(FerryBusJob *iface, GDBusMethodInvocation *invocation, JobEntry *e)
{
    if (g_strcmp0(g_dbus_method_invocation_get_sender(invocation), e->starter) == 0) {
        cancel_authorized(invocation, e);
        return TRUE;
    }
    ferry_authorize(e->daemon->authz, invocation, action_for_kind(ferry_job_kind(e->job)), ferry_job_target(e->job),
                    "cancel", cancel_authorized, e, NULL);
    return TRUE;
}

char *ferry_daemon_export_job(FerryDaemon *daemon, FerryJob *job, GDBusMethodInvocation *invocation)
{
    JobEntry *e = g_new0(JobEntry, 1);
    e->daemon = daemon;
    e->job = ferry_job_ref(job);
    e->starter = g_strdup(g_dbus_method_invocation_get_sender(invocation));
    g_autofree char *path = g_strdup_printf(FERRY_JOB_PATH "/%u", ferry_job_id(job));
    e->object = ferry_object_skeleton_new(path);
    g_autoptr(FerryBusJob) iface = ferry_bus_job_skeleton_new();
    ferry_bus_job_set_kind(iface, ferry_job_kind(job));
    ferry_bus_job_set_target(iface, ferry_job_target(job));
    ferry_bus_job_set_error(iface, "");
    g_signal_connect(iface, "handle-cancel", G_CALLBACK(handle_cancel), e);
    ferry_object_skeleton_set_bus_job(e->object, iface);
    g_hash_table_insert(daemon->job_objects, GUINT_TO_POINTER(ferry_job_id(job)), e);
    publish(e);
    g_dbus_object_manager_server_export(daemon->objects, G_DBUS_OBJECT_SKELETON(e->object));
    return g_steal_pointer(&path);
}

void ferry_daemon_jobs_setup(FerryDaemon *daemon)
{
    daemon->jobs = ferry_jobs_new(on_job_changed, daemon);
    daemon->job_objects = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)job_entry_free);
}

void ferry_daemon_jobs_clear(FerryDaemon *daemon)
{
    g_clear_pointer(&daemon->job_objects, g_hash_table_unref);
    g_clear_pointer(&daemon->jobs, ferry_jobs_free);
}

/* ------------------------------------------------------------------ for the methods that start jobs */

/* Every option key is known and of the right type; @keys is "name:type" pairs. */
gboolean ferry_daemon_check_options(GVariant *options, const char *const *keys, GError **error)
{
    GVariantIter iter;
    const char *key;
    GVariant *value;
    g_variant_iter_init(&iter, options);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        gboolean known = FALSE;
        for (const char *const *k = keys; *k && !known; k++) {
            const char *colon = strchr(*k, ':');
            if (strncmp(*k, key, colon - *k) != 0 || key[colon - *k])
                continue;
            known = TRUE;
            if (!g_variant_is_of_type(value, G_VARIANT_TYPE(colon + 1))) {
                g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "option '%s' takes type '%s', not '%s'",
                            key, colon + 1, g_variant_get_type_string(value));
                g_variant_unref(value);
                return FALSE;
            }
        }
        if (!known) {
            g_autofree char *list = g_strjoinv(", ", (char **)keys);
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "unknown option '%s'%s%s", key,
                        *keys ? "; the options are " : "; there are none yet", list);
            g_variant_unref(value);
            return FALSE;
        }
    }
    return TRUE;
}

void ferry_daemon_reply_job(FerryDaemon *daemon, GDBusMethodInvocation *invocation, FerryJob *job, GError *error,
                      void (*complete)(FerryManager *, GDBusMethodInvocation *, const char *))
{
    if (!job) {
        g_dbus_method_invocation_return_gerror(invocation, error);
        return;
    }
    g_autofree char *path = ferry_daemon_export_job(daemon, job, invocation);
    complete(daemon->manager, invocation, path);
}

