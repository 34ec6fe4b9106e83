/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.virtferry.Ferry1.Job objects: one per job, following the plugin's FerryJob, kept on
 * the bus for a while after the job ends so that a caller who polls sees the result. */
#include "daemon.h"

#include <string.h>

#include "errors.h"
#include "ferry-error.h"

#define JOB_LINGER_SECONDS (10 * 60)

/* How long a finished job stays on the bus. The lab shortens it
 * (VIRT_FERRY_JOB_LINGER_SECONDS) to see a job leave while a call on it waits for polkit. */
static guint linger_seconds(void)
{
    const char *value = g_getenv("VIRT_FERRY_JOB_LINGER_SECONDS");
    guint64 seconds = 0;
    if (value && g_ascii_string_to_unsigned(value, 10, 1, JOB_LINGER_SECONDS, &seconds, NULL))
        return seconds;
    return JOB_LINGER_SECONDS;
}

typedef struct {
    FerrydDaemon *daemon;
    FerryJob *job;
    FerryBusObjectSkeleton *object;
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

static gboolean drop_entry(gpointer data)
{
    JobEntry *e = data;
    e->linger = 0;
    g_hash_table_remove(e->daemon->job_objects, GUINT_TO_POINTER(ferry_job_id(e->job)));
    return G_SOURCE_REMOVE;
}

static void publish(JobEntry *e)
{
    g_autoptr(FerryBusJob) iface = ferry_bus_object_get_job(FERRY_BUS_OBJECT(e->object));
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
        e->linger = g_timeout_add_seconds(linger_seconds(), drop_entry, e);
    }
}

void ferryd_job_changed(FerryJob *job, gpointer data)
{
    FerrydDaemon *daemon = data;
    JobEntry *e = g_hash_table_lookup(daemon->job_objects, GUINT_TO_POINTER(ferry_job_id(job)));
    if (e)
        publish(e);
}

/* The entry of the job object @invocation was sent to, or NULL (with the call answered)
 * when the job has left the bus meanwhile: by id, never by a pointer kept across a wait. */
static JobEntry *entry_for_call(FerrydDaemon *daemon, GDBusMethodInvocation *invocation)
{
    const char *path = g_dbus_method_invocation_get_object_path(invocation);
    guint64 id = 0;
    JobEntry *e = NULL;
    if (g_str_has_prefix(path, FERRY_JOB_PATH "/") &&
        g_ascii_string_to_unsigned(path + strlen(FERRY_JOB_PATH "/"), 10, 0, G_MAXUINT, &id, NULL))
        e = g_hash_table_lookup(daemon->job_objects, GUINT_TO_POINTER((guint)id));
    if (!e)
        g_dbus_method_invocation_return_error(invocation, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                                              "job %s has ended and left the bus", path);
    return e;
}

static void cancel_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    JobEntry *e = entry_for_call(daemon, invocation);
    if (!e)
        return;
    ferry_job_cancel(e->job);
    g_autoptr(FerryBusJob) iface = ferry_bus_object_get_job(FERRY_BUS_OBJECT(e->object));
    ferry_bus_job_complete_cancel(iface, invocation);
}

static gboolean handle_cancel(FerryBusJob *iface, GDBusMethodInvocation *invocation, FerrydDaemon *daemon)
{
    JobEntry *e = entry_for_call(daemon, invocation);
    if (!e)
        return TRUE;
    if (g_strcmp0(g_dbus_method_invocation_get_sender(invocation), e->starter) == 0) {
        cancel_authorized(daemon, invocation, NULL);
        return TRUE;
    }
    /* Another caller's job: the action its kind is started with. */
    ferryd_authorize(daemon, invocation, ferry_job_kind_action(ferry_job_kind(e->job)), ferry_job_target(e->job),
                     ferry_job_domain_uuid(e->job), "cancel", cancel_authorized);
    return TRUE;
}

static char *export_job(FerrydDaemon *daemon, FerryJob *job, GDBusMethodInvocation *invocation)
{
    JobEntry *e = g_new0(JobEntry, 1);
    e->daemon = daemon;
    e->job = ferry_job_ref(job);
    e->starter = g_strdup(g_dbus_method_invocation_get_sender(invocation));
    g_autofree char *path = g_strdup_printf(FERRY_JOB_PATH "/%u", ferry_job_id(job));
    e->object = ferry_bus_object_skeleton_new(path);
    g_autoptr(FerryBusJob) iface = ferry_bus_job_skeleton_new();
    ferry_bus_job_set_kind(iface, ferry_job_kind_name(ferry_job_kind(job)));
    ferry_bus_job_set_target(iface, ferry_job_target(job));
    ferry_bus_job_set_error(iface, "");
    g_signal_connect(iface, "handle-cancel", G_CALLBACK(handle_cancel), daemon);
    ferry_bus_object_skeleton_set_job(e->object, iface);
    g_hash_table_insert(daemon->job_objects, GUINT_TO_POINTER(ferry_job_id(job)), e);
    publish(e);
    g_dbus_object_manager_server_export(daemon->objects, G_DBUS_OBJECT_SKELETON(e->object));
    return g_steal_pointer(&path);
}

void ferryd_jobs_setup(FerrydDaemon *daemon)
{
    daemon->job_objects = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)job_entry_free);
}

void ferryd_jobs_clear(FerrydDaemon *daemon)
{
    g_clear_pointer(&daemon->job_objects, g_hash_table_unref);
}

/* ------------------------------------------------------------------ for the methods that start jobs */

/* Every option key is known and of the right type; @keys is "name:type" pairs. */
gboolean ferryd_check_options(GVariant *options, const char *const *keys, GError **error)
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

void ferryd_reply_job(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, FerryJob *job, GError *error)
{
    if (!job) {
        g_dbus_method_invocation_return_gerror(invocation, error);
        return;
    }
    g_autofree char *path = export_job(daemon, job, invocation);
    ferry_job_unref(job);
    g_dbus_method_invocation_return_value(invocation, g_variant_new("(o)", path));
}
