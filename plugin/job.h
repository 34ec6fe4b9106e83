/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Jobs: long operations (archive, restore, verify, later migrations) that run in their own
 * thread, report progress, can be cancelled, and hold their domain so that no second job
 * starts on it. The D-Bus side mirrors each job as an org.virtferry.Ferry1.Job object. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
    FERRY_JOB_RUNNING,
    FERRY_JOB_SUCCEEDED,
    FERRY_JOB_WARNING,     /* succeeded, with notes the message tells */
    FERRY_JOB_FAILED,
    FERRY_JOB_CANCELLED,
} FerryJobStatus;

const char *ferry_job_status_name(FerryJobStatus status);

/* What a job does. Each kind has one row in job.c's table: its name (the D-Bus Job.Kind
 * string and the word in logs) and the polkit action that starting it, or cancelling it
 * for another caller, needs. */
typedef enum {
    FERRY_JOB_ARCHIVE,
    FERRY_JOB_RESTORE,
    FERRY_JOB_VERIFY,
    FERRY_JOB_MIGRATE,
    FERRY_JOB_MOVE_DISK,
    FERRY_JOB_FAILOVER,
    FERRY_JOB_EVACUATE,
    FERRY_JOB_MAINTENANCE,
    FERRY_JOB_N_KINDS
} FerryJobKind;

/* "archive", "move-disk"...: the Job.Kind property. */
const char *ferry_job_kind_name(FerryJobKind kind);
/* The polkit action id that governs jobs of @kind. */
const char *ferry_job_kind_action(FerryJobKind kind);

typedef struct _FerryJob FerryJob;
typedef struct _FerryJobs FerryJobs;

/* The job's work, in its own thread. Returns FALSE with @error on failure; a
 * G_IO_ERROR_CANCELLED error makes the job "cancelled". */
typedef gboolean (*FerryJobFunc)(FerryJob *job, gpointer data, GError **error);

/* Called in the main context whenever the job changed (coalesced), and once more when it
 * finished (ferry_job_is_finished then says so). */
typedef void (*FerryJobObserver)(FerryJob *job, gpointer user_data);

FerryJobs *ferry_jobs_new(FerryJobObserver observer, gpointer user_data);
void ferry_jobs_free(FerryJobs *jobs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryJobs, ferry_jobs_free)

/* Starts @func in a new thread. @domain_uuid (may be NULL) is held for the job's lifetime:
 * a second job on it fails here with Busy. @data is freed with @destroy after the job.
 * Returns a new reference (the caller unrefs it): @jobs keeps the job only until it has
 * finished and the observer has heard so, then drops it. */
FerryJob *ferry_jobs_start(FerryJobs *jobs, FerryJobKind kind, const char *target, const char *domain_uuid,
                           FerryJobFunc func, gpointer data, GDestroyNotify destroy, GError **error);
/* Holds @domain_uuid for work that is not a job (Purge) as if a job ran on it: Busy when
 * one does. Release with ferry_jobs_release. */
gboolean ferry_jobs_hold(FerryJobs *jobs, const char *domain_uuid, GError **error);
void ferry_jobs_release(FerryJobs *jobs, const char *domain_uuid);
/* The UUIDs of every domain a job or a hold has now (main context). */
GStrv ferry_jobs_held(FerryJobs *jobs);
/* The running job on @domain_uuid, or NULL. */
FerryJob *ferry_jobs_for_domain(FerryJobs *jobs, const char *domain_uuid);
/* How many jobs of @kind have not finished. */
guint ferry_jobs_count_running(FerryJobs *jobs, FerryJobKind kind);
/* The same, among the jobs @owner started (ferry_job_set_owner); NULL counts every job. */
guint ferry_jobs_count_running_for(FerryJobs *jobs, FerryJobKind kind, const char *owner);
/* A running job of @kind on @target (an archive id for restore and verify), or NULL. */
FerryJob *ferry_jobs_for_target(FerryJobs *jobs, FerryJobKind kind, const char *target);
/* How many jobs the table holds: the running ones (a finished job has left it). */
guint ferry_jobs_count(FerryJobs *jobs);
/* Records who started @job (a caller's bus name), for per-caller limits. Main context. */
void ferry_job_set_owner(FerryJob *job, const char *owner);

FerryJob *ferry_job_ref(FerryJob *job);
void ferry_job_unref(FerryJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryJob, ferry_job_unref)

/* ---- read anywhere (thread-safe) */
guint ferry_job_id(FerryJob *job);
FerryJobKind ferry_job_kind(FerryJob *job);
const char *ferry_job_target(FerryJob *job);
/* The domain the job holds, or NULL. */
const char *ferry_job_domain_uuid(FerryJob *job);
gboolean ferry_job_is_finished(FerryJob *job);
typedef struct {
    FerryJobStatus status;
    double progress;
    guint64 total, remaining;
    char *message;
    GStrv notes;        /* what a job that ends as "warning" wants the user to know */
    char *result;
    GVariant *steps;    /* a(ssss) */
} FerryJobState;
void ferry_job_state_clear(FerryJobState *state);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerryJobState, ferry_job_state_clear)
void ferry_job_get_state(FerryJob *job, FerryJobState *state);
/* The error of a failed job (a copy), or NULL. */
GError *ferry_job_dup_error(FerryJob *job);
/* Asks the job to stop; it rolls back and ends as cancelled. */
void ferry_job_cancel(FerryJob *job);

/* ---- for the job's own thread */
GCancellable *ferry_job_cancellable(FerryJob *job);
void ferry_job_set_data(FerryJob *job, guint64 total, guint64 remaining);
/* Progress from 0 to 1; when not set, it follows the data. */
void ferry_job_set_progress(FerryJob *job, double progress);
void ferry_job_set_message(FerryJob *job, const char *format, ...) G_GNUC_PRINTF(2, 3);
void ferry_job_add_step(FerryJob *job, const char *domain, const char *method, const char *target,
                        const char *outcome);
/* Something the user must know although the job succeeds: the job ends as "warning". */
void ferry_job_add_note(FerryJob *job, const char *note);
void ferry_job_set_result(FerryJob *job, const char *result);
/* The message of the job when it ends cancelled, for a job whose cancel does not roll
 * everything back (an evacuation keeps what moved); by default "cancelled; everything was
 * rolled back". */
void ferry_job_set_cancel_message(FerryJob *job, const char *message);

/* Byte accounting for a job that moves several files: total known up front, each copy
 * reports into it. */
typedef struct {
    FerryJob *job;
    guint64 total;
    guint64 done_before;   /* bytes of files finished */
    guint64 extra;         /* bytes moved elsewhere (the memory save) */
    gsize side;            /* bytes moved by other threads (atomic) */
} FerryJobBytes;

gboolean ferry_job_bytes_progress(guint64 done, gpointer data);
/* Another thread working for the same job reports through a FerryJobBytesSide of its own:
 * @done is that thread's running total. Any number of them at once. */
typedef struct {
    FerryJobBytes *bytes;
    guint64 reported;
} FerryJobBytesSide;
gboolean ferry_job_bytes_side_progress(guint64 done, gpointer side);
void ferry_job_bytes_file_done(FerryJobBytes *bytes, guint64 size);

G_END_DECLS
