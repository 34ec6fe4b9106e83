/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "job.h"

#include "ferry-error.h"
#include "ferry-names.h"
#include "log.h"

#include <stdarg.h>

struct _FerryJob {
    gatomicrefcount ref;
    FerryJobs *jobs;          /* NULL once the registry is gone */
    guint id;
    FerryJobKind kind;
    char *target, *domain_uuid;
    char *owner;              /* who started it (a bus name), or NULL */
    FerryJobFunc func;
    gpointer data;
    GDestroyNotify destroy;
    GCancellable *cancellable;
    GMainContext *context;

    GMutex lock;              /* guards what follows */
    FerryJobStatus status;
    double progress;          /* < 0: follow the data */
    guint64 total, remaining;
    char *message, *result;
    char *cancel_message;     /* what a cancel means for this job, or NULL: "rolled back" */
    GError *error;
    GPtrArray *steps;         /* GVariant (ssss), floating refs sunk */
    GPtrArray *notes;
    gboolean finished;
    guint notify_source;      /* pending notification in @context */
};

struct _FerryJobs {
    FerryJobObserver observer;
    gpointer user_data;
    guint next_id;
    GHashTable *held;         /* domain uuid -> FerryJob (ref) or the HOLD marker */
    GPtrArray *jobs;          /* the jobs not finished yet (and the one finishing) */
};

static int hold_marker;
#define HOLD_MARKER ((gpointer)&hold_marker)

const char *ferry_job_status_name(FerryJobStatus status)
{
    static const char *const names[] = { "running", "succeeded", "warning", "failed", "cancelled" };
    return status < G_N_ELEMENTS(names) ? names[status] : "failed";
}

/* Cancelling another caller's job needs what starting one of its kind needs. Verify needs
 * nothing to start; stopping someone else's reading of the library is for whoever may
 * restore from it. The journal field that names a job's target (virt-ferryd(8), LOGS) says
 * what kind of thing the target is. */
static const struct {
    const char *name;
    const char *action;
    const char *target_field;
} job_kinds[FERRY_JOB_N_KINDS] = {
    [FERRY_JOB_ARCHIVE] = { "archive", FERRY_ACTION_ARCHIVE, "VIRT_FERRY_DOMAIN" },
    [FERRY_JOB_RESTORE] = { "restore", FERRY_ACTION_RESTORE, "VIRT_FERRY_ARCHIVE" },
    [FERRY_JOB_VERIFY] = { "verify", FERRY_ACTION_RESTORE, "VIRT_FERRY_ARCHIVE" },
    [FERRY_JOB_MIGRATE] = { "migrate", FERRY_ACTION_MIGRATE, "VIRT_FERRY_DOMAIN" },
    [FERRY_JOB_MOVE_DISK] = { "move-disk", FERRY_ACTION_MIGRATE, "VIRT_FERRY_DOMAIN" },
    [FERRY_JOB_FAILOVER] = { "failover", FERRY_ACTION_FAILOVER, "VIRT_FERRY_HOST" },
    [FERRY_JOB_EVACUATE] = { "evacuate", FERRY_ACTION_EVACUATE, "VIRT_FERRY_HOST" },
    [FERRY_JOB_MAINTENANCE] = { "maintenance", FERRY_ACTION_MAINTENANCE, "VIRT_FERRY_HOST" },
};

const char *ferry_job_kind_name(FerryJobKind kind)
{
    g_return_val_if_fail(kind < FERRY_JOB_N_KINDS, "unknown");
    return job_kinds[kind].name;
}

const char *ferry_job_kind_action(FerryJobKind kind)
{
    g_return_val_if_fail(kind < FERRY_JOB_N_KINDS, NULL);
    return job_kinds[kind].action;
}

FerryJob *ferry_job_ref(FerryJob *job)
{
    g_atomic_ref_count_inc(&job->ref);
    return job;
}

void ferry_job_unref(FerryJob *job)
{
    if (!job || !g_atomic_ref_count_dec(&job->ref))
        return;
    if (job->destroy && job->data)
        job->destroy(job->data);
    g_free(job->target);
    g_free(job->domain_uuid);
    g_free(job->owner);
    g_object_unref(job->cancellable);
    g_main_context_unref(job->context);
    g_mutex_clear(&job->lock);
    g_free(job->message);
    g_free(job->result);
    g_free(job->cancel_message);
    g_clear_error(&job->error);
    g_ptr_array_unref(job->steps);
    g_ptr_array_unref(job->notes);
    g_free(job);
}

/* ------------------------------------------------------------------ notification */

static gboolean notify_in_context(gpointer data)
{
    FerryJob *job = data;
    g_mutex_lock(&job->lock);
    job->notify_source = 0;
    g_mutex_unlock(&job->lock);
    if (job->jobs && job->jobs->observer)
        job->jobs->observer(job, job->jobs->user_data);
    return G_SOURCE_REMOVE;
}

/* With the lock held: one pending notification at most, however often the job changes. */
static void schedule_notify_locked(FerryJob *job)
{
    if (job->notify_source)
        return;
    GSource *source = g_idle_source_new();
    g_source_set_callback(source, notify_in_context, ferry_job_ref(job), (GDestroyNotify)ferry_job_unref);
    job->notify_source = g_source_attach(source, job->context);
    g_source_unref(source);
}

/* ------------------------------------------------------------------ registry */

FerryJobs *ferry_jobs_new(FerryJobObserver observer, gpointer user_data)
{
    FerryJobs *jobs = g_new0(FerryJobs, 1);
    jobs->observer = observer;
    jobs->user_data = user_data;
    jobs->next_id = 1;
    jobs->held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    jobs->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_job_unref);
    return jobs;
}

void ferry_jobs_free(FerryJobs *jobs)
{
    if (!jobs)
        return;
    /* Running jobs keep running until the process exits; they only stop reporting. */
    for (guint i = 0; i < jobs->jobs->len; i++) {
        FerryJob *job = g_ptr_array_index(jobs->jobs, i);
        job->jobs = NULL;
    }
    g_ptr_array_unref(jobs->jobs);
    g_hash_table_unref(jobs->held);
    g_free(jobs);
}

static gboolean busy_error(FerryJobs *jobs, const char *domain_uuid, GError **error)
{
    gpointer holder = g_hash_table_lookup(jobs->held, domain_uuid);
    if (!holder)
        return FALSE;
    if (holder == HOLD_MARKER)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                    "domain %s is busy with another virt-ferry operation; try again when it ends", domain_uuid);
    else
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                    "domain %s already has a running job (%s, job %u); wait for it or cancel it",
                    domain_uuid, ferry_job_kind_name(((FerryJob *)holder)->kind), ((FerryJob *)holder)->id);
    return TRUE;
}

gboolean ferry_jobs_hold(FerryJobs *jobs, const char *domain_uuid, GError **error)
{
    if (busy_error(jobs, domain_uuid, error))
        return FALSE;
    g_hash_table_insert(jobs->held, g_strdup(domain_uuid), HOLD_MARKER);
    return TRUE;
}

void ferry_jobs_release(FerryJobs *jobs, const char *domain_uuid)
{
    if (g_hash_table_lookup(jobs->held, domain_uuid) == HOLD_MARKER)
        g_hash_table_remove(jobs->held, domain_uuid);
}

GStrv ferry_jobs_held(FerryJobs *jobs)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, jobs->held);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_strv_builder_add(b, key);
    return g_strv_builder_end(b);
}

FerryJob *ferry_jobs_for_domain(FerryJobs *jobs, const char *domain_uuid)
{
    gpointer holder = g_hash_table_lookup(jobs->held, domain_uuid);
    return holder == HOLD_MARKER ? NULL : holder;
}

guint ferry_jobs_count_running(FerryJobs *jobs, FerryJobKind kind)
{
    return ferry_jobs_count_running_for(jobs, kind, NULL);
}

guint ferry_jobs_count_running_for(FerryJobs *jobs, FerryJobKind kind, const char *owner)
{
    guint n = 0;
    for (guint i = 0; i < jobs->jobs->len; i++) {
        FerryJob *job = g_ptr_array_index(jobs->jobs, i);
        if (job->kind == kind && !ferry_job_is_finished(job) && (!owner || g_strcmp0(job->owner, owner) == 0))
            n++;
    }
    return n;
}

FerryJob *ferry_jobs_for_target(FerryJobs *jobs, FerryJobKind kind, const char *target)
{
    for (guint i = 0; i < jobs->jobs->len; i++) {
        FerryJob *job = g_ptr_array_index(jobs->jobs, i);
        if (job->kind == kind && !ferry_job_is_finished(job) && g_strcmp0(job->target, target) == 0)
            return job;
    }
    return NULL;
}

guint ferry_jobs_count(FerryJobs *jobs)
{
    return jobs->jobs->len;
}

void ferry_job_set_owner(FerryJob *job, const char *owner)
{
    g_free(job->owner);
    job->owner = g_strdup(owner);
}

/* A job's start and end, for administrators (virt-ferryd(8), LOGS). */
static void log_job(FerryJob *job, gboolean started)
{
    g_autofree char *id = g_strdup_printf("%u", job->id);
    const char *kind = job_kinds[job->kind].name;
    g_mutex_lock(&job->lock);
    FerryJobStatus status = job->status;
    g_autofree char *message = g_strdup(job->message);
    const char *error_name = job->error && job->error->domain == FERRY_ERROR
                                 ? ferry_error_code_name(job->error->code) : NULL;
    g_mutex_unlock(&job->lock);
    const char *const fields[] = {
        "VIRT_FERRY_JOB", id,
        "VIRT_FERRY_KIND", kind,
        job_kinds[job->kind].target_field, job->target,
        "VIRT_FERRY_UUID", job->domain_uuid,
        "VIRT_FERRY_STATUS", started ? NULL : ferry_job_status_name(status),
        "VIRT_FERRY_ERROR", started || status != FERRY_JOB_FAILED ? NULL : error_name,
        NULL,
    };
    if (started)
        ferry_log(FERRY_LOG_NOTICE, FERRY_MESSAGE_JOB_STARTED, fields, "job %s (%s %s) started", id, kind,
                  job->target);
    else if (status == FERRY_JOB_FAILED)
        ferry_log(FERRY_LOG_ERR, FERRY_MESSAGE_JOB_FAILED, fields, "job %s (%s %s) failed: %s", id, kind,
                  job->target, message);
    else
        ferry_log(status == FERRY_JOB_WARNING ? FERRY_LOG_WARNING : FERRY_LOG_NOTICE, FERRY_MESSAGE_JOB_FINISHED,
                  fields, "job %s (%s %s) %s: %s", id, kind, job->target, ferry_job_status_name(status), message);
}

static gboolean job_ended(gpointer data)
{
    FerryJob *job = data;
    FerryJobs *jobs = job->jobs;
    if (jobs && job->domain_uuid && g_hash_table_lookup(jobs->held, job->domain_uuid) == job)
        g_hash_table_remove(jobs->held, job->domain_uuid);
    /* Finished only now, in the main context: whoever hears of it finds the domain free. */
    g_mutex_lock(&job->lock);
    job->finished = TRUE;
    g_mutex_unlock(&job->lock);
    log_job(job, FALSE);
    notify_in_context(job);
    /* The observer has published the end and keeps its own reference as long as it shows
     * the job; the table forgets it, so finished jobs do not pile up in a long-lived daemon. */
    if (jobs) {
        job->jobs = NULL;
        g_ptr_array_remove_fast(jobs->jobs, job);
    }
    return G_SOURCE_REMOVE;
}

static void finish(FerryJob *job, gboolean ok, GError *error)
{
    g_mutex_lock(&job->lock);
    if (ok) {
        job->status = job->notes->len ? FERRY_JOB_WARNING : FERRY_JOB_SUCCEEDED;
        job->progress = 1.0;
        job->remaining = 0;
        g_free(job->message);
        job->message = job->notes->len ? g_strjoinv("; ", (char **)job->notes->pdata)
                                        : g_strdup("done");
    } else {
        if (!error)
            error = g_error_new_literal(FERRY_ERROR, FERRY_ERROR_FAILED, "the job failed without saying why");
        gboolean cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
                             g_error_matches(error, FERRY_ERROR, FERRY_ERROR_CANCELLED);
        if (!cancelled && error->domain != FERRY_ERROR) {
            /* Every job error reaches the bus as one of org.virtferry.Ferry1(5)'s names. */
            GError *mapped = g_error_new_literal(FERRY_ERROR, FERRY_ERROR_FAILED, error->message);
            g_error_free(error);
            error = mapped;
        }
        job->status = cancelled ? FERRY_JOB_CANCELLED : FERRY_JOB_FAILED;
        g_free(job->message);
        job->message = g_strdup(!cancelled ? error->message
                                : job->cancel_message ? job->cancel_message
                                                      : "cancelled; everything was rolled back");
        job->error = cancelled ? g_error_new_literal(FERRY_ERROR, FERRY_ERROR_CANCELLED, job->message) : error;
        if (cancelled)
            g_error_free(error);
    }
    g_mutex_unlock(&job->lock);
    g_main_context_invoke_full(job->context, G_PRIORITY_DEFAULT, job_ended, ferry_job_ref(job),
                               (GDestroyNotify)ferry_job_unref);
}

static gpointer job_thread(gpointer data)
{
    FerryJob *job = data;
    GError *error = NULL;
    gboolean ok = job->func(job, job->data, &error);
    if (!ok && !error)
        error = g_error_new_literal(FERRY_ERROR, FERRY_ERROR_FAILED, "the job failed without saying why");
    if (ok)
        g_clear_error(&error);
    finish(job, ok, error);
    ferry_job_unref(job);
    return NULL;
}

FerryJob *ferry_jobs_start(FerryJobs *jobs, FerryJobKind kind, const char *target, const char *domain_uuid,
                           FerryJobFunc func, gpointer data, GDestroyNotify destroy, GError **error)
{
    if (domain_uuid && busy_error(jobs, domain_uuid, error)) {
        if (destroy && data)
            destroy(data);
        return NULL;
    }
    FerryJob *job = g_new0(FerryJob, 1);
    g_atomic_ref_count_init(&job->ref);
    job->jobs = jobs;
    job->id = jobs->next_id++;
    job->kind = kind;
    job->target = g_strdup(target);
    job->domain_uuid = g_strdup(domain_uuid);
    job->func = func;
    job->data = data;
    job->destroy = destroy;
    job->cancellable = g_cancellable_new();
    job->context = g_main_context_ref_thread_default();
    g_mutex_init(&job->lock);
    job->progress = -1;
    job->message = g_strdup("starting");
    job->steps = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
    job->notes = g_ptr_array_new_null_terminated(0, g_free, TRUE);
    g_ptr_array_add(jobs->jobs, ferry_job_ref(job));
    if (domain_uuid)
        g_hash_table_insert(jobs->held, g_strdup(domain_uuid), job);
    log_job(job, TRUE);
    g_autofree char *name = g_strdup_printf("job-%u", job->id);
    g_thread_unref(g_thread_new(name, job_thread, ferry_job_ref(job)));
    return job;
}

/* ------------------------------------------------------------------ readers */

guint ferry_job_id(FerryJob *job) { return job->id; }
FerryJobKind ferry_job_kind(FerryJob *job) { return job->kind; }
const char *ferry_job_target(FerryJob *job) { return job->target; }
const char *ferry_job_domain_uuid(FerryJob *job) { return job->domain_uuid; }

gboolean ferry_job_is_finished(FerryJob *job)
{
    g_mutex_lock(&job->lock);
    gboolean finished = job->finished;
    g_mutex_unlock(&job->lock);
    return finished;
}

void ferry_job_state_clear(FerryJobState *state)
{
    g_clear_pointer(&state->message, g_free);
    g_clear_pointer(&state->notes, g_strfreev);
    g_clear_pointer(&state->result, g_free);
    g_clear_pointer(&state->steps, g_variant_unref);
}

void ferry_job_get_state(FerryJob *job, FerryJobState *state)
{
    g_mutex_lock(&job->lock);
    state->status = job->status;
    state->total = job->total;
    state->remaining = MIN(job->remaining, job->total);
    if (job->progress >= 0)
        state->progress = job->progress;
    else
        state->progress = job->total ? (double)(job->total - state->remaining) / job->total : 0;
    state->message = g_strdup(job->message);
    state->notes = g_strdupv((char **)job->notes->pdata);
    state->result = g_strdup(job->result ? job->result : "");
    state->steps = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(ssss)"),
                                                          (GVariant **)job->steps->pdata, job->steps->len));
    g_mutex_unlock(&job->lock);
}

GError *ferry_job_dup_error(FerryJob *job)
{
    g_mutex_lock(&job->lock);
    GError *error = job->error ? g_error_copy(job->error) : NULL;
    g_mutex_unlock(&job->lock);
    return error;
}

void ferry_job_cancel(FerryJob *job)
{
    g_cancellable_cancel(job->cancellable);
}

/* ------------------------------------------------------------------ writers (job thread) */

GCancellable *ferry_job_cancellable(FerryJob *job)
{
    return job->cancellable;
}

void ferry_job_set_data(FerryJob *job, guint64 total, guint64 remaining)
{
    g_mutex_lock(&job->lock);
    job->total = total;
    job->remaining = remaining;
    schedule_notify_locked(job);
    g_mutex_unlock(&job->lock);
}

void ferry_job_set_progress(FerryJob *job, double progress)
{
    g_mutex_lock(&job->lock);
    job->progress = CLAMP(progress, 0.0, 1.0);
    schedule_notify_locked(job);
    g_mutex_unlock(&job->lock);
}

void ferry_job_set_message(FerryJob *job, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    g_mutex_lock(&job->lock);
    g_free(job->message);
    job->message = message;
    schedule_notify_locked(job);
    g_mutex_unlock(&job->lock);
}

void ferry_job_add_step(FerryJob *job, const char *domain, const char *method, const char *target,
                        const char *outcome)
{
    GVariant *step = g_variant_ref_sink(g_variant_new("(ssss)", domain ? domain : "", method ? method : "",
                                                      target ? target : "", outcome ? outcome : ""));
    g_mutex_lock(&job->lock);
    g_ptr_array_add(job->steps, step);
    schedule_notify_locked(job);
    g_mutex_unlock(&job->lock);
}

void ferry_job_add_note(FerryJob *job, const char *note)
{
    g_mutex_lock(&job->lock);
    g_ptr_array_add(job->notes, g_strdup(note));
    g_mutex_unlock(&job->lock);
}

void ferry_job_set_cancel_message(FerryJob *job, const char *message)
{
    g_mutex_lock(&job->lock);
    g_free(job->cancel_message);
    job->cancel_message = g_strdup(message);
    g_mutex_unlock(&job->lock);
}

void ferry_job_set_result(FerryJob *job, const char *result)
{
    g_mutex_lock(&job->lock);
    g_free(job->result);
    job->result = g_strdup(result);
    g_mutex_unlock(&job->lock);
}

/* ------------------------------------------------------------------ byte accounting */

gboolean ferry_job_bytes_progress(guint64 done, gpointer data)
{
    FerryJobBytes *b = data;
    guint64 moved = MIN(b->done_before + b->extra + done + (gsize)g_atomic_pointer_get(&b->side), b->total);
    ferry_job_set_data(b->job, b->total, b->total - moved);
    return !g_cancellable_is_cancelled(ferry_job_cancellable(b->job));
}

gboolean ferry_job_bytes_side_progress(guint64 done, gpointer side)
{
    FerryJobBytesSide *s = side;
    g_atomic_pointer_add(&s->bytes->side, (gssize)(done - s->reported));
    s->reported = done;
    return ferry_job_bytes_progress(0, s->bytes);
}

void ferry_job_bytes_file_done(FerryJobBytes *b, guint64 size)
{
    b->done_before += size;
    ferry_job_bytes_progress(0, b);
}
