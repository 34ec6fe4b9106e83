/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Maintenance mode (see maintenance.h). */
#include "maintenance.h"
#include "log.h"

#include "libvirt-autoptr.h"
#include "libvirt-error.h"
#include "libvirt-open.h"
#include "bgcall.h"
#include "evacuate.h"
#include "migrate.h"
#include "migrate-check.h"

#include <libvirt/virterror.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virSecret, virSecretFree)

/* ------------------------------------------------------------------ publication to peers */

static char *describe(const FerryMaintenanceState *state)
{
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(state->since);
    g_autofree char *since = when ? g_date_time_format_iso8601(when) : g_strdup("?");
    return g_strdup_printf("virt-ferry maintenance mode=%s since=%s", ferry_maintenance_mode_name(state->mode),
                           since);
}

static gboolean publish(virConnectPtr conn, gboolean active, const char *description, GError **error)
{
    if (active) {
        g_autofree char *escaped = g_markup_escape_text(description, -1);
        g_autofree char *xml = g_strdup_printf("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
                                               "<description>%s</description></secret>",
                                               FERRY_MAINTENANCE_SECRET_UUID, escaped);
        g_autoptr(virSecret) secret = virSecretDefineXML(conn, xml, 0);
        return secret ? TRUE : ferry_error_from_libvirt(error, "cannot publish the maintenance state in libvirt");
    }
    g_autoptr(virSecret) secret = virSecretLookupByUUIDString(conn, FERRY_MAINTENANCE_SECRET_UUID);
    if (!secret)
        return virGetLastErrorCode() == VIR_ERR_NO_SECRET
                   ? TRUE
                   : ferry_error_from_libvirt(error, "cannot look up the maintenance state in libvirt");
    return virSecretUndefine(secret) == 0 ||
           ferry_error_from_libvirt(error, "cannot withdraw the maintenance state from libvirt");
}

typedef struct {
    FerryConfig *config;
    gboolean active;
    char *description;
} Publication;

static void publication_free(Publication *p)
{
    ferry_config_unref(p->config);
    g_free(p->description);
    g_free(p);
}

static void publish_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Publication *p = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = ferry_libvirt_open(p->config->libvirt_uri, &error);
    if (!conn || !publish(conn, p->active, p->description, &error))
        g_warning("peers may not see this host's maintenance mode: %s", error->message);
    g_task_return_boolean(task, TRUE);
}

void ferry_maintenance_publish(FerryConfig *config, const FerryMaintenanceState *state)
{
    Publication *p = g_new0(Publication, 1);
    p->config = ferry_config_ref(config);
    p->active = state->active;
    p->description = describe(state);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, NULL, NULL);
    g_task_set_task_data(task, p, (GDestroyNotify)publication_free);
    g_task_run_in_thread(task, publish_thread);
}

gboolean ferry_maintenance_resume(FerryConfig *config)
{
    g_auto(FerryMaintenanceState) state = { 0 };
    g_autoptr(GError) error = NULL;
    if (!ferry_maintenance_load(config->state_dir, &state, &error)) {
        g_warning("%s; this host counts as in maintenance until it is left (virt-ferry maintenance leave)",
                  error->message);
        return TRUE; /* published as it is: an unreadable file says nothing to publish */
    }
    ferry_maintenance_publish(config, &state);
    return state.active;
}

gboolean ferry_maintenance_peer_state(virConnectPtr peer, gboolean *in_maintenance, char **detail, GError **error)
{
    *in_maintenance = FALSE;
    if (detail)
        *detail = NULL;
    g_autoptr(virSecret) secret = virSecretLookupByUUIDString(peer, FERRY_MAINTENANCE_SECRET_UUID);
    if (!secret) {
        if (virGetLastErrorCode() != VIR_ERR_NO_SECRET)
            return ferry_error_from_libvirt(error, "cannot read its maintenance state");
        virResetLastError();
        return TRUE;
    }
    *in_maintenance = TRUE;
    if (detail) {
        g_autofree char *xml = virSecretGetXMLDesc(secret, 0);
        const char *start = xml ? strstr(xml, "<description>") : NULL;
        const char *end = start ? strstr(start, "</description>") : NULL;
        *detail = end ? g_strndup(start + strlen("<description>"), end - start - strlen("<description>"))
                      : g_strdup("in maintenance");
    }
    return TRUE;
}

/* ------------------------------------------------------------------ the jobs */

typedef struct {
    FerryConfig *config;
    FerryMaintenanceState state; /* enter: as written; leave: as it was before leaving */
    gboolean bring_back;
} MaintenanceCall;

static void maintenance_call_free(MaintenanceCall *c)
{
    ferry_config_unref(c->config);
    ferry_maintenance_state_clear(&c->state);
    g_free(c);
}

static MaintenanceCall *maintenance_call_new(FerryConfig *config)
{
    MaintenanceCall *c = g_new0(MaintenanceCall, 1);
    c->config = ferry_config_ref(config);
    return c;
}

/* Managed-saves every running domain; each one saved goes into the state file at once, so
 * that leaving brings it back even after virt-ferryd died half-way. */
static gboolean save_job(FerryJob *job, gpointer data, GError **error)
{
    MaintenanceCall *c = data;
    g_autoptr(virConnect) conn = ferry_libvirt_open(c->config->libvirt_uri, error);
    if (!conn)
        return FALSE;
    virDomainPtr *domains = NULL;
    int n = virConnectListAllDomains(conn, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0)
        return ferry_error_from_libvirt(error, "cannot list the running domains");
    guint failed = 0;
    gboolean cancelled = FALSE;
    for (int i = 0; i < n; i++) {
        g_autoptr(virDomain) dom = domains[i];
        const char *name = virDomainGetName(dom);
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (cancelled || g_cancellable_is_cancelled(ferry_job_cancellable(job))) {
            cancelled = TRUE;
            continue;
        }
        ferry_job_set_message(job, "saving %s (%d of %d)", name, i + 1, n);
        if (virDomainGetUUIDString(dom, uuid) < 0 || virDomainManagedSave(dom, 0) < 0) {
            g_autoptr(GError) why = NULL;
            ferry_error_from_libvirt(&why, "not saved");
            ferry_job_add_step(job, name, "save", c->state.host, why->message);
            failed++;
        } else {
            ferry_maintenance_add_domain(&c->state, uuid, NULL);
            g_autoptr(GError) why = NULL;
            if (!ferry_maintenance_store(c->config->state_dir, &c->state, &why))
                ferry_job_add_note(job, why->message);
            ferry_job_add_step(job, name, "save", c->state.host, "saved");
        }
        ferry_job_set_progress(job, (double)(i + 1) / n);
    }
    g_free(domains);
    if (cancelled) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                    "cancelled: the domains saved so far stay saved, the host stays in maintenance");
        return FALSE;
    }
    if (failed) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "%u of %d domains could not be saved and still run here (see the steps)", failed, n);
        return FALSE;
    }
    ferry_job_set_message(job, "in maintenance: %d domains saved", n);
    return TRUE;
}

/* ------------------------------------------------------------------ bringing migrated domains back */

#define BACK_POLL_MS 250

typedef struct {
    virDomainPtr dom;     /* on the peer */
    virConnectPtr here;
    unsigned int flags;
} BackRun;

/* A managed migration driven from here with both connections: the peer's libvirtd sends,
 * this host's receives; no URI of this host as the peer would name it is needed. */
static int migrate_back(gpointer data)
{
    BackRun *r = data;
    virDomainPtr moved = virDomainMigrate3(r->dom, r->here, NULL, 0, r->flags);
    if (!moved)
        return -1;
    virDomainFree(moved);
    return 0;
}

/* Runs the migration, aborting it (libvirt resumes the guest on the peer) on Cancel or when
 * the peer stops answering. */
static gboolean migrate_back_watched(FerryJob *job, BackRun *r, const char *peer_uri, const char *uuid,
                                     GError **error)
{
    g_auto(FerrySide) side = { 0 };
    FerryBgCall *call = ferry_bg_call_start("ferry-return", migrate_back, r);
    gboolean aborted = FALSE, cancelled = FALSE;
    virConnectPtr peer = virDomainGetConnect(r->dom);
    while (!ferry_bg_call_done(call)) {
        if (!aborted && (g_cancellable_is_cancelled(ferry_job_cancellable(job)) || virConnectIsAlive(peer) == 0)) {
            cancelled = g_cancellable_is_cancelled(ferry_job_cancellable(job));
            ferry_side_abort(ferry_side_domain(&side, peer_uri, uuid, r->dom));
            aborted = TRUE;
        }
        ferry_bg_call_wait(call, BACK_POLL_MS);
    }
    virErrorPtr failure = NULL;
    if (ferry_bg_call_finish(call, &failure) == 0)
        return TRUE;
    if (cancelled)
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled: it runs on the peer still");
    else
        g_set_error(error, FERRY_ERROR, failure ? ferry_error_code_for_libvirt(failure->code) : FERRY_ERROR_FAILED,
                    "not brought back: %s; it runs on the peer still",
                    failure && failure->message ? failure->message : "libvirt gave no reason");
    if (failure)
        virFreeError(failure);
    return FALSE;
}

/* Moves the domain @uuid, running on @peer, back here live: over the shared storage when this
 * host sees its disks (as the marker test of migrate-check.h proves), else its disks copied
 * into images created here first, and the peer's copies removed once it runs here. The
 * outcome in *@outcome for its Step; FALSE for a failure (it runs on the peer still). */
static gboolean bring_back_one(FerryJob *job, virConnectPtr here, virConnectPtr peer, const char *peer_uri,
                               virDomainPtr dom, const char *uuid, char **outcome, GError **error)
{
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml)
        return ferry_error_from_libvirt(error, "cannot read the definition of %s on the peer", name);
    gboolean shared = FALSE;
    g_autofree char *why = NULL;
    if (!ferry_storage_shared(peer, peer, xml, &shared, &why, error))
        return FALSE;
    /* The checks of the engine's own moves: memory, disk space, CPU, versions, blockers. A
     * domain that no longer fits here stays on its peer, said in its step. */
    if (!ferry_migrate_check(peer, here, dom, shared ? FERRY_METHOD_MIGRATION : FERRY_METHOD_STORAGE_MIGRATION, NULL,
                             error))
        return FALSE;
    BackRun r = { .dom = dom, .here = here,
                  .flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE |
                           VIR_MIGRATE_ABORT_ON_ERROR };
    /* Shared storage proven above (libvirt 9.0 cannot tell it by itself). */
    r.flags |= shared ? VIR_MIGRATE_UNSAFE : VIR_MIGRATE_NON_SHARED_DISK;
    g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
    if (!shared && !ferry_migrate_create_disks(job, name, dom, here, "here", created, error)) {
        ferry_migrate_remove_images(here, created, TRUE);
        return FALSE;
    }
    if (!migrate_back_watched(job, &r, peer_uri, uuid, error)) {
        ferry_migrate_remove_images(here, created, TRUE);
        return FALSE;
    }
    /* It runs here: the peer's copies of its disks are stale twins. */
    if (created->len && !ferry_migrate_remove_images(peer, created, FALSE))
        ferry_job_add_note(job, "a disk copy left on the peer could not be removed: remove it by hand (the log "
                                "names it)");
    *outcome = g_strdup_printf("back here, running (%s)", shared ? "migration" : "storage-migration");
    return TRUE;
}

/* One domain of the state: its Step says what became of it; FALSE when it should have come
 * back and did not. */
static gboolean bring_back_recorded(FerryJob *job, virConnectPtr here, GHashTable *peers, const char *host,
                                    const char *uuid, const char *peer_uri)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *outcome = NULL;
    if (!peer_uri || !*peer_uri) {
        ferry_job_add_step(job, uuid, "migrate", host, "left where it is: where it went was not recorded; migrate "
                                                       "it back with virt-ferry migrate on its host");
        return TRUE;
    }
    virConnectPtr peer = g_hash_table_lookup(peers, peer_uri);
    if (!peer) {
        peer = ferry_libvirt_open(peer_uri, &error);
        if (!peer) {
            g_autofree char *text = g_strdup_printf("not brought back from %s: %s", peer_uri, error->message);
            ferry_job_add_step(job, uuid, "migrate", host, text);
            return FALSE;
        }
        if (virConnectSetKeepAlive(peer, 2, 3) < 0)
            virResetLastError();
        g_hash_table_insert(peers, g_strdup(peer_uri), peer);
    }
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(peer, uuid);
    if (!dom) {
        virResetLastError();
        g_autofree char *text = g_strdup_printf("left alone: no longer on %s", peer_uri);
        ferry_job_add_step(job, uuid, "migrate", host, text);
        return TRUE;
    }
    const char *name = virDomainGetName(dom);
    if (virDomainIsActive(dom) != 1) {
        g_autofree char *text = g_strdup_printf("left on %s: it does not run there", peer_uri);
        ferry_job_add_step(job, name, "migrate", host, text);
        return TRUE;
    }
    ferry_job_set_message(job, "bringing %s back from %s", name, peer_uri);
    gboolean ok = bring_back_one(job, here, peer, peer_uri, dom, uuid, &outcome, &error);
    g_autofree char *failure = ok ? NULL : g_strdup_printf("not brought back from %s: %s", peer_uri, error->message);
    ferry_job_add_step(job, name, "migrate", host, ok ? outcome : failure);
    return ok;
}

static void close_peer(gpointer conn)
{
    virConnectClose(conn);
}

/* Mode migrate's leave with return: every domain the evacuation recorded, one at a time,
 * from the peer it went to. */
static gboolean bring_back_job(FerryJob *job, MaintenanceCall *c, GError **error)
{
    g_autoptr(virConnect) here = ferry_libvirt_open(c->config->libvirt_uri, error);
    if (!here)
        return FALSE;
    g_autoptr(GHashTable) peers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, close_peer);
    const char *host = c->state.host && *c->state.host ? c->state.host : g_get_host_name();
    guint n = g_strv_length(c->state.domains), failed = 0;
    for (guint i = 0; i < n; i++) {
        if (g_cancellable_is_cancelled(ferry_job_cancellable(job))) {
            ferry_job_add_step(job, c->state.domains[i], "migrate", host, "cancelled: left on its peer");
            continue;
        }
        failed += !bring_back_recorded(job, here, peers, host, c->state.domains[i], c->state.peers[i]);
        ferry_job_set_progress(job, (double)(i + 1) / n);
    }
    if (g_cancellable_is_cancelled(ferry_job_cancellable(job))) {
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                            "cancelled: the domains not brought back so far stay on their peers");
        return FALSE;
    }
    if (failed) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "%u of %u evacuated domains could not be brought back and run on their peers (see the steps)",
                    failed, n);
        return FALSE;
    }
    ferry_job_set_message(job, "maintenance left; the evacuated domains are back");
    return TRUE;
}

static gboolean leave_job(FerryJob *job, gpointer data, GError **error)
{
    MaintenanceCall *c = data;
    guint n = g_strv_length(c->state.domains);
    if (!c->bring_back || n == 0) {
        ferry_job_set_message(job, "maintenance left; %s", n ? "the saved domains stay saved" : "nothing to bring back");
        return TRUE;
    }
    if (c->state.mode == FERRY_MAINTENANCE_MIGRATE)
        return bring_back_job(job, c, error);
    g_autoptr(virConnect) conn = ferry_libvirt_open(c->config->libvirt_uri, error);
    if (!conn)
        return FALSE;
    guint failed = 0;
    for (guint i = 0; i < n; i++) {
        const char *uuid = c->state.domains[i];
        g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, uuid);
        const char *name = dom ? virDomainGetName(dom) : uuid;
        ferry_job_set_message(job, "starting %s (%u of %u)", name, i + 1, n);
        const char *outcome = "restored";
        g_autoptr(GError) why = NULL;
        if (!dom)
            outcome = "no longer defined here";
        else if (virDomainIsActive(dom) == 1)
            outcome = "runs already";
        else if (virDomainCreate(dom) < 0) {
            ferry_error_from_libvirt(&why, "not started");
            outcome = why->message;
            failed++;
        }
        ferry_job_add_step(job, name, "restore", c->state.host, outcome);
        ferry_job_set_progress(job, (double)(i + 1) / n);
    }
    if (failed) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%u of %u saved domains could not be started (see the steps)",
                    failed, n);
        return FALSE;
    }
    ferry_job_set_message(job, "maintenance left; %u domains started again", n);
    return TRUE;
}

static gboolean check_no_job(FerryJobs *jobs, GError **error)
{
    if (ferry_jobs_count_running(jobs, FERRY_JOB_MAINTENANCE)) {
        g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                            "a maintenance job runs on this host; wait for it or cancel it (virt-ferry jobs)");
        return FALSE;
    }
    if (ferry_jobs_count_running(jobs, FERRY_JOB_EVACUATE)) {
        g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                            "an evacuation runs on this host; wait for it or cancel it, then enter maintenance");
        return FALSE;
    }
    return TRUE;
}

/* Nothing was done: the host is not in maintenance after all. */
static void enter_undone(FerryConfig *config)
{
    FerryMaintenanceState none = { 0 };
    ferry_maintenance_store(config->state_dir, &none, NULL);
    ferry_maintenance_publish(config, &none);
    ferry_log(FERRY_LOG_WARNING, FERRY_MESSAGE_MAINTENANCE,
              (const char *const[]){ "VIRT_FERRY_MAINTENANCE", "left", NULL },
              "this host left maintenance again: its evacuation could not start");
}

typedef struct {
    FerryEvacuations *ev; /* the engine's, outlives the call */
    FerryConfig *config;
} EvacuationStart;

static void evacuation_start_free(EvacuationStart *e)
{
    ferry_config_unref(e->config);
    g_free(e);
}

static void evacuation_started(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) task = data;
    EvacuationStart *e = g_task_get_task_data(task);
    GError *error = NULL;
    FerryJob *job = ferry_evacuations_start_finish(e->ev, result, &error);
    if (!job) {
        enter_undone(e->config);
        g_task_return_error(task, error);
        return;
    }
    g_task_return_pointer(task, job, (GDestroyNotify)ferry_job_unref);
}

/* Where each domain the maintenance evacuation moved went, written to the state file as it
 * lands (moves land in threads of their own, several at once). */
static GMutex record_lock;

static void record_moved(gpointer data, const char *uuid, const char *peer_uri)
{
    FerryConfig *config = data;
    g_autoptr(GError) error = NULL;
    g_mutex_lock(&record_lock);
    g_auto(FerryMaintenanceState) state = { 0 };
    if (ferry_maintenance_load(config->state_dir, &state, &error) && state.active &&
        state.mode == FERRY_MAINTENANCE_MIGRATE) {
        ferry_maintenance_add_domain(&state, uuid, peer_uri);
        ferry_maintenance_store(config->state_dir, &state, &error);
    }
    g_mutex_unlock(&record_lock);
    if (error)
        g_warning("domain %s moved to %s is not recorded for leaving maintenance with return: %s", uuid, peer_uri,
                  error->message);
}

/* The state written (the hook refuses from now on) and published, before any job starts. */
static gboolean enter_state(FerryJobs *jobs, FerryConfig *config, const char *host, FerryMaintenanceMode mode,
                            FerryMaintenanceState *state, GError **error)
{
    if (!check_no_job(jobs, error))
        return FALSE;
    g_auto(FerryMaintenanceState) old = { 0 };
    if (!ferry_maintenance_load(config->state_dir, &old, error))
        return FALSE;
    if (old.active) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY, "this host is in maintenance (mode %s) already; "
                    "leave it first (virt-ferry maintenance leave)", ferry_maintenance_mode_name(old.mode));
        return FALSE;
    }
    state->active = TRUE;
    state->mode = mode;
    state->host = g_strdup(host);
    state->since = g_get_real_time() / G_USEC_PER_SEC;
    state->domains = g_new0(char *, 1);
    state->peers = g_new0(char *, 1);
    if (!ferry_maintenance_store(config->state_dir, state, error))
        return FALSE;
    ferry_maintenance_publish(config, state);
    ferry_log(FERRY_LOG_NOTICE, FERRY_MESSAGE_MAINTENANCE,
              (const char *const[]){ "VIRT_FERRY_MAINTENANCE", "entered", "VIRT_FERRY_MODE",
                                     ferry_maintenance_mode_name(mode), NULL },
              "this host entered maintenance (mode %s): incoming migrations and restores are refused",
              ferry_maintenance_mode_name(mode));
    return TRUE;
}

void ferry_maintenance_enter_async(FerryJobs *jobs, FerryConfig *config, FerryEvacuations *ev, const char *host,
                                   const char *mode_word, GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, NULL, callback, user_data);
    g_task_set_source_tag(task, ferry_maintenance_enter_async);
    FerryMaintenanceMode mode;
    GError *error = NULL;
    if (!ferry_maintenance_mode_parse(mode_word, &mode)) {
        g_task_return_new_error(task, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                                "unknown maintenance mode '%s': use save or migrate", mode_word);
        g_object_unref(task);
        return;
    }
    MaintenanceCall *c = maintenance_call_new(config);
    if (!enter_state(jobs, config, host, mode, &c->state, &error)) {
        maintenance_call_free(c);
        g_task_return_error(task, error);
        g_object_unref(task);
        return;
    }
    if (mode == FERRY_MAINTENANCE_MIGRATE) {
        maintenance_call_free(c);
        /* The evacuation as [evacuation] configures it: its methods, every running domain. */
        static const char *const config_methods[] = { NULL };
        g_autoptr(GVariant) no_options = g_variant_ref_sink(g_variant_new("a{sv}", NULL));
        EvacuationStart *e = g_new0(EvacuationStart, 1);
        e->ev = ev;
        e->config = ferry_config_ref(config);
        g_task_set_task_data(task, e, (GDestroyNotify)evacuation_start_free);
        ferry_evacuations_start_recorded_async(ev, config_methods, no_options, record_moved,
                                               ferry_config_ref(config), (GDestroyNotify)ferry_config_unref, NULL,
                                               evacuation_started, task);
        return;
    }
    FerryJob *job = ferry_jobs_start(jobs, FERRY_JOB_MAINTENANCE, host, NULL, save_job, c,
                                     (GDestroyNotify)maintenance_call_free, &error);
    if (!job) {
        enter_undone(config);
        g_task_return_error(task, error);
    } else {
        g_task_return_pointer(task, job, (GDestroyNotify)ferry_job_unref);
    }
    g_object_unref(task);
}

FerryJob *ferry_maintenance_enter_finish(GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

FerryJob *ferry_maintenance_leave(FerryJobs *jobs, FerryConfig *config, gboolean bring_back, GError **error)
{
    if (!check_no_job(jobs, error))
        return NULL;
    MaintenanceCall *c = maintenance_call_new(config);
    c->bring_back = bring_back;
    /* A state that cannot be read is left all the same: that is the way out of it. */
    g_autoptr(GError) unreadable = NULL;
    if (!ferry_maintenance_load(config->state_dir, &c->state, &unreadable))
        c->state.active = TRUE;
    if (!c->state.active) {
        g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "this host is not in maintenance");
        maintenance_call_free(c);
        return NULL;
    }
    FerryMaintenanceState none = { 0 };
    if (!ferry_maintenance_store(config->state_dir, &none, error)) {
        maintenance_call_free(c);
        return NULL;
    }
    ferry_maintenance_publish(config, &none);
    ferry_log(FERRY_LOG_NOTICE, FERRY_MESSAGE_MAINTENANCE,
              (const char *const[]){ "VIRT_FERRY_MAINTENANCE", "left", NULL },
              "this host left maintenance: incoming migrations and restores are accepted again");
    return ferry_jobs_start(jobs, FERRY_JOB_MAINTENANCE, c->state.host ? c->state.host : "", NULL, leave_job, c,
                            (GDestroyNotify)maintenance_call_free, error);
}
