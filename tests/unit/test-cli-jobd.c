/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for virt-ferryd's jobs, for tests/unit/test-cli.sh: owns org.virtferry.Ferry1 on
 * the system bus and serves the Manager's Archive, Restore, Purge, ListArchives and
 * GetDomain, Job objects and one Archive object, with scripted jobs, so that the test can
 * check how `virt-ferry` follows a job (progress lines, outcome, exit codes, Ctrl-C) without
 * libvirt, polkit or an archive library. It prints "ready" once it owns the name and runs
 * until killed. What Archive(DOMAIN) does depends on DOMAIN:
 *   ok           ten steps (0.1 each, 100 MiB in all, the message changes at half), succeeded
 *   warn         succeeded with two notes: status warning
 *   missing      failed with org.virtferry.Ferry1.Error.NotFound
 *   unsupported  failed with org.virtferry.Ferry1.Error.Unsupported
 *   slow         runs until cancelled (then "cancelled" half a second later)
 *   stubborn     as slow, but its rollback takes 30 s (a second Ctrl-C always comes first)
 *   vanish       runs until cancelled; Cancel drops the job object before it answers, as
 *                virt-ferryd may drop a job that ended
 *   instant      ended (and Finished emitted) before the call returns
 *   denied       the call itself fails with AccessDenied
 * Restore(ID, options) succeeds, its Result the "name" option (default web1), its final
 * message the options it got. The library holds web1-20260101T000000Z (with an Archive
 * object, whose Verify succeeds) and lonely-20260102T000000Z (without one). GetDomain knows
 * web1 (pending deletion, its UUID the archive's); Purge takes web1's UUID only.
 * Migrate(DOMAIN, PEER, methods, options) runs DOMAIN's Archive script as a job of kind
 * migrate, its Result PEER, its final message the methods and options it got.
 * Failover(HOST, options) runs HOST's Archive script as a job of kind failover, its final
 * message the options it got. */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>

#include "ferry-generated.h"
#include "ferry-names.h"

#define TICK_MSEC 40
#define TOTAL (100 * 1024 * 1024)
#define WEB1_UUID "11111111-2222-3333-4444-555555555555"
#define WEB1_ARCHIVE "web1-20260101T000000Z"
#define WEB1_CREATED G_GINT64_CONSTANT(1767225600000000)

typedef struct {
    FerryBusJob *iface;
    char *script;
    int ticks, steps;
    gboolean cancelled;
    int rollback;
    GDBusObjectSkeleton *object; /* for "vanish" */
    char *final_message, *result;
} Job;

static GDBusObjectManagerServer *objects;
static guint next_job = 1;

static void add_step(Job *job, const char *domain, const char *method, const char *target, const char *outcome)
{
    GVariant *old = ferry_bus_job_get_steps(job->iface);
    g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a(ssss)"));
    GVariantIter iter;
    const char *s[4];
    if (old) {
        g_variant_iter_init(&iter, old);
        while (g_variant_iter_next(&iter, "(&s&s&s&s)", &s[0], &s[1], &s[2], &s[3]))
            g_variant_builder_add(&b, "(ssss)", s[0], s[1], s[2], s[3]);
    }
    g_variant_builder_add(&b, "(ssss)", domain, method, target, outcome);
    ferry_bus_job_set_steps(job->iface, g_variant_builder_end(&b));
}

/* Sets the final state, then emits Finished at once, as virt-ferryd does. */
static void finish(Job *job, const char *status, const char *message, const char *error)
{
    if (g_str_equal(status, "succeeded") || g_str_equal(status, "warning")) {
        ferry_bus_job_set_progress(job->iface, 1.0);
        ferry_bus_job_set_data_remaining(job->iface, 0);
    }
    ferry_bus_job_set_status(job->iface, status);
    ferry_bus_job_set_message(job->iface, message);
    ferry_bus_job_set_error(job->iface, error ? error : "");
    if (job->result && !error)
        ferry_bus_job_set_result(job->iface, job->result);
    ferry_bus_job_emit_finished(job->iface, status, message);
}

static void set_progress(Job *job, double progress)
{
    ferry_bus_job_set_progress(job->iface, progress);
    ferry_bus_job_set_data_remaining(job->iface, (guint64)(TOTAL * (1 - progress)));
}

static gboolean tick(gpointer data)
{
    Job *job = data;
    job->ticks++;
    if (g_str_equal(job->script, "vanish") && job->cancelled)
        return G_SOURCE_REMOVE; /* gone */
    guint rollback_ticks = g_str_equal(job->script, "stubborn") ? 300 : 5; /* 30 s, or half a second */
    if (job->cancelled && ++job->rollback >= rollback_ticks) {
        finish(job, "cancelled", "cancelled; everything was rolled back", FERRY_ERROR_NAME_CANCELLED);
        return G_SOURCE_REMOVE;
    }
    if (g_str_equal(job->script, "slow") || g_str_equal(job->script, "stubborn") || g_str_equal(job->script, "vanish")) {
        set_progress(job, MIN(0.01 * job->ticks, 0.99));
        return G_SOURCE_CONTINUE;
    }
    if (job->ticks < job->steps) {
        set_progress(job, (double)job->ticks / job->steps);
        if (job->ticks == job->steps / 2) {
            ferry_bus_job_set_message(job->iface, "copying disk vda");
            add_step(job, ferry_bus_job_get_target(job->iface), "save", "memory.save", "saved");
        }
        return G_SOURCE_CONTINUE;
    }
    if (g_str_equal(job->script, "warn"))
        finish(job, "warning", "the CD-ROM media /iso/x.iso is left out; the floppy is empty", NULL);
    else if (g_str_equal(job->script, "missing"))
        finish(job, "failed", "domain missing is gone", FERRY_ERROR_NAME_NOT_FOUND);
    else if (g_str_equal(job->script, "unsupported"))
        finish(job, "failed", "domain unsupported has a USB host device", FERRY_ERROR_NAME_UNSUPPORTED);
    else {
        add_step(job, ferry_bus_job_get_target(job->iface), "copy-disk", "vda", "archived");
        finish(job, "succeeded", job->final_message ? job->final_message : "done", NULL);
    }
    return G_SOURCE_REMOVE;
}

static gboolean handle_cancel(FerryBusJob *iface, GDBusMethodInvocation *invocation, Job *job)
{
    job->cancelled = TRUE;
    if (g_str_equal(job->script, "vanish"))
        g_dbus_object_manager_server_unexport(objects, g_dbus_object_get_object_path(G_DBUS_OBJECT(job->object)));
    ferry_bus_job_complete_cancel(iface, invocation);
    return TRUE;
}

static char *start(const char *kind, const char *target, const char *script, const char *result,
                   char *final_message)
{
    Job *job = g_new0(Job, 1);
    job->script = g_strdup(script);
    job->steps = g_str_equal(script, "ok") ? 10 : 3;
    job->result = g_strdup(result);
    job->final_message = final_message;
    g_autofree char *path = g_strdup_printf(FERRY_ROOT_PATH "/job/%u", next_job++);
    g_autoptr(FerryBusObjectSkeleton) object = ferry_bus_object_skeleton_new(path);
    job->iface = ferry_bus_job_skeleton_new();
    ferry_bus_job_set_kind(job->iface, kind);
    ferry_bus_job_set_target(job->iface, target);
    ferry_bus_job_set_status(job->iface, "running");
    ferry_bus_job_set_message(job->iface, g_str_equal(kind, "archive") ? "saving the memory state" : "reading");
    ferry_bus_job_set_data_total(job->iface, TOTAL);
    ferry_bus_job_set_data_remaining(job->iface, TOTAL);
    ferry_bus_job_set_error(job->iface, "");
    ferry_bus_job_set_result(job->iface, "");
    ferry_bus_job_set_steps(job->iface, g_variant_new_array(G_VARIANT_TYPE("(ssss)"), NULL, 0));
    g_signal_connect(job->iface, "handle-cancel", G_CALLBACK(handle_cancel), job);
    ferry_bus_object_skeleton_set_job(object, job->iface);
    job->object = G_DBUS_OBJECT_SKELETON(g_object_ref(object));
    g_dbus_object_manager_server_export(objects, G_DBUS_OBJECT_SKELETON(object));
    if (g_str_equal(script, "instant"))
        finish(job, "succeeded", "done", NULL);
    else
        g_timeout_add(g_str_equal(script, "slow") || g_str_equal(script, "stubborn") || g_str_equal(script, "vanish") ? 100 : TICK_MSEC, tick, job);
    return g_steal_pointer(&path);
}

static gboolean handle_archive(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                               GVariant *options)
{
    if (g_str_equal(domain, "denied")) {
        g_dbus_method_invocation_return_dbus_error(invocation, "org.freedesktop.DBus.Error.AccessDenied",
                                                   "not authorized for " FERRY_ACTION_ARCHIVE " (polkit said no)");
        return TRUE;
    }
    g_autofree char *result = g_strconcat(domain, "-20260101T000000Z", NULL);
    g_autofree char *path = start("archive", domain, domain, result, NULL);
    ferry_bus_manager_complete_archive(manager, invocation, path);
    return TRUE;
}

static gboolean handle_restore(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *id,
                               GVariant *options)
{
    const char *name = "web1";
    gboolean start_it = FALSE;
    g_variant_lookup(options, "name", "&s", &name);
    gboolean has_start = g_variant_lookup(options, "start", "b", &start_it);
    char *message = g_strdup_printf("done (name=%s start=%s)", name, has_start ? (start_it ? "true" : "false") : "default");
    g_autofree char *path = start("restore", id, "restore", name, message);
    ferry_bus_manager_complete_restore(manager, invocation, path);
    return TRUE;
}

static gboolean handle_migrate(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                               const char *peer, const char *const *methods, GVariant *options)
{
    g_autofree char *list = g_strjoinv(",", (char **)methods);
    g_autofree char *given = g_variant_print(options, TRUE);
    char *message = g_strdup_printf("done (methods=%s options=%s)", list, given);
    g_autofree char *path = start("migrate", domain, domain, peer, message);
    ferry_bus_manager_complete_migrate(manager, invocation, path);
    return TRUE;
}

static gboolean handle_failover(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *host,
                                GVariant *options)
{
    g_autofree char *given = g_variant_print(options, TRUE);
    char *message = g_strdup_printf("done (options=%s)", given);
    g_autofree char *path = start("failover", host, host, NULL, message);
    ferry_bus_manager_complete_failover(manager, invocation, path);
    return TRUE;
}

static gboolean handle_verify(FerryBusArchive *archive, GDBusMethodInvocation *invocation, gpointer data)
{
    g_autofree char *path = start("verify", ferry_bus_archive_get_id(archive), "verify", ferry_bus_archive_get_id(archive), NULL);
    ferry_bus_archive_complete_verify(archive, invocation, path);
    return TRUE;
}

static gboolean handle_list_archives(FerryBusManager *manager, GDBusMethodInvocation *invocation)
{
    g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a(sssx)"));
    g_variant_builder_add(&b, "(sssx)", WEB1_ARCHIVE, "web1", "alpha", WEB1_CREATED);
    g_variant_builder_add(&b, "(sssx)", "lonely-20260102T000000Z", "lonely", "beta",
                          WEB1_CREATED + G_GINT64_CONSTANT(86400) * G_USEC_PER_SEC);
    ferry_bus_manager_complete_list_archives(manager, invocation, g_variant_builder_end(&b));
    return TRUE;
}

static gboolean handle_get_domain(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *name)
{
    if (!g_str_equal(name, "web1") && !g_str_equal(name, WEB1_UUID) && !g_str_equal(name, "running1")) {
        g_dbus_method_invocation_return_dbus_error(invocation, FERRY_ERROR_NAME_NOT_FOUND,
                                                   "no domain named \"nosuch\"");
        return TRUE;
    }
    ferry_bus_manager_complete_get_domain(manager, invocation,
                                      g_str_equal(name, "running1") ? FERRY_ROOT_PATH "/domain/running1"
                                                                    : FERRY_ROOT_PATH "/domain/web1");
    return TRUE;
}

static gboolean handle_purge(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *domain)
{
    if (!g_str_equal(domain, WEB1_UUID)) {
        g_dbus_method_invocation_return_dbus_error(
            invocation, FERRY_ERROR_NAME_INVALID_ARGUMENT,
            "domain running1 is not pending deletion; only an archived domain can be purged (virt-ferry archive)");
        return TRUE;
    }
    ferry_bus_manager_complete_purge(manager, invocation);
    return TRUE;
}

static void export_domain(const char *name, const char *uuid, gboolean pending)
{
    g_autofree char *path = g_strconcat(FERRY_ROOT_PATH "/domain/", name, NULL);
    g_autoptr(FerryBusObjectSkeleton) object = ferry_bus_object_skeleton_new(path);
    g_autoptr(FerryBusDomain) domain = ferry_bus_domain_skeleton_new();
    ferry_bus_domain_set_name(domain, name);
    ferry_bus_domain_set_uuid(domain, uuid);
    ferry_bus_domain_set_state(domain, "stop");
    ferry_bus_domain_set_reason(domain, "shutoff:saved");
    ferry_bus_domain_set_pending_deletion(domain, pending);
    ferry_bus_object_skeleton_set_domain(object, domain);
    g_dbus_object_manager_server_export(objects, G_DBUS_OBJECT_SKELETON(object));
}

static void setup(GDBusConnection *bus)
{
    objects = g_dbus_object_manager_server_new(FERRY_ROOT_PATH);
    FerryBusManager *manager = ferry_bus_manager_skeleton_new(); /* lives as long as the process */
    ferry_bus_manager_set_hostname(manager, "stand-in");
    g_signal_connect(manager, "handle-archive", G_CALLBACK(handle_archive), NULL);
    g_signal_connect(manager, "handle-restore", G_CALLBACK(handle_restore), NULL);
    g_signal_connect(manager, "handle-migrate", G_CALLBACK(handle_migrate), NULL);
    g_signal_connect(manager, "handle-failover", G_CALLBACK(handle_failover), NULL);
    g_signal_connect(manager, "handle-list-archives", G_CALLBACK(handle_list_archives), NULL);
    g_signal_connect(manager, "handle-get-domain", G_CALLBACK(handle_get_domain), NULL);
    g_signal_connect(manager, "handle-purge", G_CALLBACK(handle_purge), NULL);
    g_autoptr(GError) error = NULL;
    if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(manager), bus, FERRY_ROOT_PATH, &error)) {
        g_printerr("test-cli-jobd: %s\n", error->message);
        exit(1);
    }

    g_autofree char *escaped = g_dbus_escape_object_path(WEB1_ARCHIVE);
    g_autofree char *path = g_strconcat(FERRY_ROOT_PATH "/archive/", escaped, NULL);
    g_autoptr(FerryBusObjectSkeleton) object = ferry_bus_object_skeleton_new(path);
    g_autoptr(FerryBusArchive) archive = ferry_bus_archive_skeleton_new();
    ferry_bus_archive_set_id(archive, WEB1_ARCHIVE);
    ferry_bus_archive_set_domain(archive, "web1");
    ferry_bus_archive_set_uuid(archive, WEB1_UUID);
    ferry_bus_archive_set_source_host(archive, "alpha");
    ferry_bus_archive_set_created(archive, WEB1_CREATED);
    ferry_bus_archive_set_size(archive, 300 * 1024 * 1024);
    ferry_bus_archive_set_has_memory_state(archive, TRUE);
    g_signal_connect(archive, "handle-verify", G_CALLBACK(handle_verify), NULL);
    ferry_bus_object_skeleton_set_archive(object, archive);
    g_dbus_object_manager_server_export(objects, G_DBUS_OBJECT_SKELETON(object));
    export_domain("web1", WEB1_UUID, TRUE);
    export_domain("running1", "99999999-2222-3333-4444-555555555555", FALSE);
    g_dbus_object_manager_server_set_connection(objects, bus);
}

static void on_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
    g_print("ready\n");
    fflush(stdout);
}

static void on_lost(GDBusConnection *bus, const char *name, gpointer data)
{
    g_printerr("test-cli-jobd: %s is taken or the bus went away\n", name);
    exit(1);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (!bus) {
        g_printerr("test-cli-jobd: %s\n", error->message);
        return 1;
    }
    setup(bus);
    g_bus_own_name_on_connection(bus, FERRY_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, on_acquired, on_lost, NULL,
                                 NULL);
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    g_main_loop_run(loop);
    return 0;
}
