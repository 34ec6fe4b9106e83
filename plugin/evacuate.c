/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host evacuation (see evacuate.h). The job's thread schedules the plan's moves in its order,
 * each in a thread of its own running the migration engine (ferry_migrate_run), within the
 * batch, storage and per-target limits; a domain that depends on one a restarting method
 * moves waits for that one to end. */
#include "evacuate.h"

#include "dependents.h"
#include "evacuate-journal.h"
#include "libvirt-autoptr.h"
#include "libvirt-open.h"
#include "ferry-error.h"
#include "migrate.h"
#include "worker.h"

#include <string.h>

/* ------------------------------------------------------------------ options */

void ferry_evacuate_options_clear(FerryEvacuateOptions *o)
{
    g_clear_pointer(&o->methods, g_array_unref);
    g_clear_pointer(&o->exclude, g_strfreev);
}

static gboolean count_option(GVariant *options, const char *key, guint fallback, gboolean zero_ok, guint *out,
                             GError **error)
{
    *out = fallback;
    if (!g_variant_lookup(options, key, "u", out))
        return TRUE;
    if (*out == 0 && !zero_ok)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "option %s: 0 would move nothing; give 1 or more", key);
    return TRUE;
}

static gboolean parse_methods(const FerryConfig *config, const char *const *names, GArray **out, GError **error)
{
    const char *const *use = names && names[0] ? names : (const char *const *)config->evacuation_methods;
    g_autoptr(GArray) parsed = NULL;
    if (!ferry_methods_parse(use && use[0] ? use : NULL, &parsed, error))
        return FALSE;
    *out = g_array_new(FALSE, FALSE, sizeof(FerryMethod));
    for (guint i = 0; i < parsed->len; i++) {
        FerryMethod m = g_array_index(parsed, FerryMethod, i);
        if (m != FERRY_METHOD_FAILOVER) /* for a dead host's domains, not for this live one */
            g_array_append_val(*out, m);
    }
    if ((*out)->len == 0) {
        g_clear_pointer(out, g_array_unref);
        g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                            "failover applies when a host is dead, and this one evacuates itself: give a "
                            "method that moves a domain from a live host (migration, quick-migration, move, "
                            "storage-migration)");
        return FALSE;
    }
    return TRUE;
}

const char *const ferry_plan_option_keys[] = { "all:b", "exclude:as", "batch:u", NULL };
const char *const ferry_evacuate_option_keys[] = { "all:b", "exclude:as", "batch:u", "storage_per_source:u",
                                                   "per_target:u", "reboot_dependents:b", NULL };

gboolean ferry_evacuate_options_parse(const FerryConfig *config, const char *const *methods, GVariant *options,
                                      FerryEvacuateOptions *out, GError **error)
{
    g_autoptr(GVariant) empty = NULL;
    if (!options)
        options = empty = g_variant_ref_sink(g_variant_new("a{sv}", NULL));
    memset(out, 0, sizeof(*out));
    if (!count_option(options, "batch", config->evacuation_batch, FALSE, &out->batch, error) ||
        !count_option(options, "storage_per_source", config->evacuation_storage_per_source, FALSE,
                      &out->storage_per_source, error) ||
        !count_option(options, "per_target", 0, TRUE, &out->per_target, error))
        return FALSE;
    g_variant_lookup(options, "all", "b", &out->all);
    g_variant_lookup(options, "reboot_dependents", "b", &out->reboot_dependents);
    g_autofree const char **exclude = NULL;
    g_variant_lookup(options, "exclude", "^a&s", &exclude);
    for (const char **e = exclude; e && *e; e++) {
        g_autoptr(GError) local = NULL;
        g_autofree char *uri = ferry_peer_uri(config, *e, &local);
        if (!uri)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "exclude: %s", local->message);
    }
    out->exclude = g_strdupv((char **)exclude);
    if (!out->exclude)
        out->exclude = g_new0(char *, 1);
    if (!parse_methods(config, methods, &out->methods, error)) {
        ferry_evacuate_options_clear(out);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ the plan */

/* Placement says "beta: unreachable"; the snapshot knows why. */
static void explain_unreachable(const FerrySnapshot *snapshot, FerryPlacement *row)
{
    if (!row->reason || !*row->reason)
        return;
    g_auto(GStrv) parts = g_strsplit(row->reason, "; ", -1);
    for (char **part = parts; *part; part++)
        for (guint p = 0; p < snapshot->input.n_peers; p++) {
            const char *why = g_ptr_array_index(snapshot->peer_reasons, p);
            g_autofree char *plain = g_strdup_printf("%s: unreachable", snapshot->input.peers[p].name);
            if (why && g_str_equal(*part, plain)) {
                g_free(*part);
                *part = g_strdup_printf("%s (%s)", plain, why);
            }
        }
    g_free(row->reason);
    row->reason = g_strjoinv("; ", parts);
}

GPtrArray *ferry_evacuation_plan(const FerryConfig *config, const FerrySnapshot *snapshot,
                                 const FerryEvacuateOptions *o, GError **error)
{
    FerryPlaceInput in = snapshot->input;
    g_autoptr(GPtrArray) exclude = g_ptr_array_new();
    for (char **e = o->exclude; e && *e; e++) {
        int p = ferry_snapshot_find_peer(snapshot, *e);
        if (p < 0) {
            ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "exclude: \"%s\" is not a peer of this host", *e);
            return NULL;
        }
        g_ptr_array_add(exclude, (gpointer)in.peers[p].name);
    }
    g_ptr_array_add(exclude, NULL);
    in.methods = (const FerryMethod *)(void *)o->methods->data;
    in.n_methods = o->methods->len;
    in.memory_ratio = config->evacuation_memory_ratio;
    in.vcpu_ratio = config->evacuation_vcpu_ratio;
    in.exclude = (const char *const *)exclude->pdata;
    in.all = o->all;
    GPtrArray *plan = ferry_place(&in, error);
    if (!plan)
        return NULL;
    for (guint i = 0; i < plan->len; i++) {
        FerryPlacement *row = g_ptr_array_index(plan, i);
        explain_unreachable(snapshot, row);
        for (guint d = 0; d < in.n_domains; d++)
            if (row->verdict == FERRY_VERDICT_MOVE && g_str_equal(in.domains[d].name, row->domain) &&
                !in.domains[d].running)
                row->method = FERRY_METHOD_MOVE;
    }
    return plan;
}

GVariant *ferry_evacuation_plan_to_variant(GPtrArray *plan)
{
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE("a(sssss)"));
    for (guint i = 0; i < plan->len; i++) {
        const FerryPlacement *row = g_ptr_array_index(plan, i);
        gboolean move = row->verdict == FERRY_VERDICT_MOVE;
        g_variant_builder_add(&b, "(sssss)", row->domain, move ? ferry_method_name(row->method) : "",
                              move && row->target ? row->target : "", ferry_verdict_name(row->verdict),
                              row->reason ? row->reason : "");
    }
    return g_variant_builder_end(&b);
}

/* ------------------------------------------------------------------ D4 */

/* The D4 class of a domain that did not move: 0 no effect, 1 warning, 2 failure. */
static int d4_class(const FerryEvacuationResult *r)
{
    if (r->outcome == FERRY_MOVE_MOVED)
        return 0;
    switch (r->verdict) {
    case FERRY_VERDICT_HOLD:
    case FERRY_VERDICT_UNMANAGED:
    case FERRY_VERDICT_STOPPED:
        return 0;
    case FERRY_VERDICT_MAINTENANCE:
        return 1;
    case FERRY_VERDICT_BUSY:
    case FERRY_VERDICT_NO_TARGET:
    case FERRY_VERDICT_MOVE:
    default:
        return 2;
    }
}

static const char *outcome_word(const FerryEvacuationResult *r)
{
    switch (r->outcome) {
    case FERRY_MOVE_FAILED:
        return "move failed";
    case FERRY_MOVE_NOT_STARTED:
        return "not started";
    default:
        return ferry_verdict_name(r->verdict);
    }
}

FerryJobStatus ferry_evacuation_status(const FerryEvacuationResult *results, guint n, gboolean cancelled,
                                       char **message)
{
    g_autoptr(GString) failed = g_string_new(NULL), warned = g_string_new(NULL);
    guint moved = 0, n_failed = 0, n_warned = 0;
    for (guint i = 0; i < n; i++) {
        const FerryEvacuationResult *r = &results[i];
        int c = d4_class(r);
        moved += r->outcome == FERRY_MOVE_MOVED;
        GString *into = c == 2 ? failed : c == 1 ? warned : NULL;
        if (!into)
            continue;
        n_failed += c == 2;
        n_warned += c == 1;
        g_string_append_printf(into, "%s%s (%s%s%s)", into->len ? "; " : "", r->domain, outcome_word(r),
                               r->reason && *r->reason ? ": " : "", r->reason ? r->reason : "");
    }
    g_autoptr(GString) m = g_string_new(NULL);
    g_string_printf(m, "%u domain%s moved", moved, moved == 1 ? "" : "s");
    if (cancelled)
        g_string_append(m, "; cancelled");
    if (n_failed)
        g_string_append_printf(m, cancelled ? "; %u stay here: %s" : "; %u did not move and should have: %s",
                               n_failed, failed->str);
    if (n_warned)
        g_string_append_printf(m, "; %u left here under maintenance: %s", n_warned, warned->str);
    *message = g_string_free(g_steal_pointer(&m), FALSE);
    if (cancelled)
        return FERRY_JOB_CANCELLED;
    return n_failed ? FERRY_JOB_FAILED : n_warned ? FERRY_JOB_WARNING : FERRY_JOB_SUCCEEDED;
}

/* ------------------------------------------------------------------ the service */

struct _FerryEvacuations {
    FerryJobs *jobs;
    FerryConfig *config;      /* a reference */
    FerryWorker *worker;
    gboolean busy;        /* an evacuation is being planned or runs */
    guint generation;     /* tells a finished job's release from a later evacuation's */
};

FerryEvacuations *ferry_evacuations_new(FerryJobs *jobs, FerryConfig *config)
{
    FerryEvacuations *ev = g_new0(FerryEvacuations, 1);
    ev->jobs = jobs;
    ev->config = ferry_config_ref(config);
    ev->worker = ferry_worker_new();
    return ev;
}

void ferry_evacuations_free(FerryEvacuations *ev)
{
    if (!ev)
        return;
    ferry_worker_free(ev->worker);
    ferry_config_unref(ev->config);
    g_free(ev);
}

typedef struct {
    FerryEvacuations *ev;       /* main context only */
    FerryConfig *config;        /* a reference: the threads read it */
    FerryEvacuateOptions options;
    GStrv busy_uuids;
    FerrySnapshot *snapshot;
    GPtrArray *plan;
} PlanCall;

static void plan_call_free(PlanCall *c)
{
    if (c->config)
        ferry_config_unref(c->config);
    ferry_evacuate_options_clear(&c->options);
    g_strfreev(c->busy_uuids);
    ferry_snapshot_free(c->snapshot);
    if (c->plan)
        g_ptr_array_unref(c->plan);
    g_free(c);
}

static void plan_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    PlanCall *c = data;
    GError *error = NULL;
    FerrySnapshotRequest request = {
        .config = c->config, .busy_uuids = (const char *const *)c->busy_uuids, .all = c->options.all,
    };
    c->snapshot = ferry_snapshot_read(&request, &error);
    c->plan = c->snapshot ? ferry_evacuation_plan(c->config, c->snapshot, &c->options, &error) : NULL;
    if (c->plan)
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

static GTask *plan_task(FerryEvacuations *ev, const char *const *methods, GVariant *options,
                        GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    PlanCall *c = g_new0(PlanCall, 1);
    c->ev = ev;
    c->config = ferry_config_ref(ev->config);
    g_task_set_task_data(task, c, (GDestroyNotify)plan_call_free);
    GError *error = NULL;
    if (!ferry_evacuate_options_parse(ev->config, methods, options, &c->options, &error)) {
        g_task_return_error(task, error);
        return task;
    }
    c->busy_uuids = ferry_jobs_held(ev->jobs);
    ferry_worker_run(ev->worker, task, plan_thread);
    return task;
}

void ferry_evacuations_plan_async(FerryEvacuations *ev, const char *const *methods, GVariant *options,
                                  GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
    g_object_unref(plan_task(ev, methods, options, cancellable, callback, user_data));
}

GVariant *ferry_evacuations_plan_finish(FerryEvacuations *ev, GAsyncResult *result, GError **error)
{
    if (!g_task_propagate_boolean(G_TASK(result), error))
        return NULL;
    PlanCall *c = g_task_get_task_data(G_TASK(result));
    return ferry_evacuation_plan_to_variant(c->plan);
}

/* ------------------------------------------------------------------ the job */

typedef struct _Run Run;

typedef struct {
    Run *run;
    const FerryPlacement *row;
    const char *uuid, *peer_uri;
    GArray *methods;            /* from the planned one on, as the engine falls back */
    gboolean storage;           /* counts against storage_per_source */
    gboolean running;           /* it ran when the plan was made */
    gboolean restarts;          /* its method restarts it: dependents wait for it */
    GPtrArray *waits_for;       /* Move *: its dependencies that a restarting method moves */
    gboolean held, started, ended;
    FerryMoveOutcome outcome;
    char *failure;
    guint64 planned, total, remaining;
} Move;

struct _Run {
    FerryEvacuations *ev;       /* main context only */
    guint generation;
    FerryConfig *config;        /* the plan's (a reference it holds) */
    FerryJobs *jobs;
    PlanCall *call;             /* snapshot, plan, options */
    GPtrArray *moves;           /* Move *, plan order */
    GMutex lock;
    GCond changed;
    GMainContext *context;
    FerryJournal *journal;      /* what a restarted virt-ferryd settles (evacuate-journal.h) */
    GMutex journal_lock;        /* the move threads record their phases in it */
    FerryEvacuationMoved moved; /* NULL, or told of each move that landed */
    gpointer moved_data;
    GDestroyNotify moved_free;
};

static void move_free(Move *m)
{
    g_array_unref(m->methods);
    g_ptr_array_unref(m->waits_for);
    g_free(m->failure);
    g_free(m);
}

static void run_free(Run *r)
{
    g_ptr_array_unref(r->moves);
    plan_call_free(r->call);
    g_mutex_clear(&r->lock);
    g_mutex_clear(&r->journal_lock);
    g_cond_clear(&r->changed);
    g_clear_pointer(&r->journal, ferry_journal_free);
    g_main_context_unref(r->context);
    if (r->moved_free)
        r->moved_free(r->moved_data);
    g_free(r);
}

static int domain_index(const FerrySnapshot *s, const char *name)
{
    for (guint d = 0; d < s->input.n_domains; d++)
        if (g_str_equal(s->input.domains[d].name, name))
            return (int)d;
    return -1;
}

static Move *move_new(Run *r, const FerryPlacement *row)
{
    const FerrySnapshot *s = r->call->snapshot;
    Move *m = g_new0(Move, 1);
    int d = domain_index(s, row->domain), p = ferry_snapshot_find_peer(s, row->target);
    m->run = r;
    m->row = row;
    m->uuid = s->input.domains[d].uuid;
    m->peer_uri = g_ptr_array_index(s->peer_uris, p);
    m->methods = g_array_new(FALSE, FALSE, sizeof(FerryMethod));
    if (!s->input.domains[d].running) {
        g_array_append_val(m->methods, row->method); /* move: defined there, not started */
    } else {
        for (guint i = 0; i < r->call->options.methods->len; i++) {
            FerryMethod method = g_array_index(r->call->options.methods, FerryMethod, i);
            if (method >= row->method)
                g_array_append_val(m->methods, method);
        }
    }
    const FerryPlaceAccess *a = s->input.access ? &s->input.access[d * s->input.n_peers + p] : NULL;
    m->storage = row->method == FERRY_METHOD_STORAGE_MIGRATION ||
                 (row->method == FERRY_METHOD_MOVE && a && !a->storage_shared);
    m->running = s->input.domains[d].running;
    m->restarts = m->running && !ferry_method_is_live(row->method);
    m->waits_for = g_ptr_array_new();
    m->planned = m->total = m->remaining = g_array_index(s->domain_bytes, guint64, d);
    return m;
}

/* Dependencies among the moves: a domain waits for the restarted domains it depends on. */
static void link_dependencies(Run *r)
{
    const FerrySnapshot *s = r->call->snapshot;
    for (guint i = 0; i < r->moves->len; i++) {
        Move *m = g_ptr_array_index(r->moves, i);
        const FerryPolicy *policy = s->input.domains[domain_index(s, m->row->domain)].policy;
        for (guint j = 0; policy && j < r->moves->len; j++) {
            Move *dep = g_ptr_array_index(r->moves, j);
            if (dep != m && dep->restarts && g_strv_contains((const char *const *)policy->depends, dep->row->domain))
                g_ptr_array_add(m->waits_for, dep);
        }
    }
}

/* With the lock held: progress over every byte to move. */
static void report_locked(Run *r, FerryJob *job)
{
    guint64 total = 0, remaining = 0;
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *m = g_ptr_array_index(r->moves, i);
        total += MAX(m->planned, m->total);
        remaining += m->ended ? 0 : MIN(m->remaining, MAX(m->planned, m->total));
    }
    ferry_job_set_data(job, total, remaining);
}

typedef struct {
    Move *move;
    FerryJob *job;
} MoveThread;

/* Before a move starts: a move the journal cannot record does not start (a virt-ferryd
 * killed during it could not settle it). */
static gboolean journal_phase(Run *r, Move *m, const char *phase, const char *failure, GError **error)
{
    g_mutex_lock(&r->journal_lock);
    gboolean ok = ferry_evacuation_journal_phase(r->journal, m->uuid, phase, failure, error);
    g_mutex_unlock(&r->journal_lock);
    return ok;
}

/* After it: the domain is where it is whatever the journal says now; a write that fails only
 * leaves the restart's recovery to look at both hosts. */
static void journal_ended(Run *r, Move *m, gboolean ok, const GError *error)
{
    g_autoptr(GError) local = NULL;
    if (!journal_phase(r, m, ok ? FERRY_EVAC_MOVED : FERRY_EVAC_FAILED, ok || !error ? NULL : error->message, &local))
        g_warning("evacuation of %s: %s", m->row->domain, local->message);
}

/* The evacuation's journal, every domain it holds queued, written before any move starts. */
static gboolean journal_open(Run *r, GError **error)
{
    r->journal = ferry_evacuation_journal_create(r->config->state_dir, error);
    if (!r->journal)
        return FALSE;
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *m = g_ptr_array_index(r->moves, i);
        if (m->held)
            ferry_evacuation_journal_queue(r->journal, m->uuid, m->row->domain, ferry_method_name(m->row->method),
                                           m->row->target, m->peer_uri, m->running);
    }
    return ferry_journal_commit(r->journal, error);
}

static void move_data(gpointer data, guint64 total, guint64 remaining)
{
    MoveThread *t = data;
    Run *r = t->move->run;
    g_mutex_lock(&r->lock);
    t->move->total = total;
    t->move->remaining = remaining;
    report_locked(r, t->job);
    g_mutex_unlock(&r->lock);
}

static void move_message(gpointer data, const char *message)
{
    MoveThread *t = data;
    ferry_job_set_message(t->job, "%s: %s", t->move->row->domain, message);
}

static void move_image_created(gpointer data, const char *path)
{
    MoveThread *t = data;
    Run *r = t->move->run;
    g_autoptr(GError) error = NULL;
    g_mutex_lock(&r->journal_lock);
    if (!ferry_evacuation_journal_image(r->journal, t->move->uuid, path, &error))
        g_warning("evacuation of %s: %s (a kill now would leave %s on %s)", t->move->row->domain, error->message,
                  path, t->move->row->target);
    g_mutex_unlock(&r->journal_lock);
}

/* The domains whose own restarting move has yet to start: restarted anyway, after this one. */
static GStrv restarted_later(Run *r)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_mutex_lock(&r->lock);
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *other = g_ptr_array_index(r->moves, i);
        if (other->restarts && other->held && !other->started)
            g_strv_builder_add(b, other->row->domain);
    }
    g_mutex_unlock(&r->lock);
    return g_strv_builder_end(b);
}

/* Reads the running domains of @uri (@host) into @deps; the connection, kept for the reboots,
 * goes into @conns under @host. A host that cannot be read gets a step saying so. */
static void read_dependents(FerryJob *job, const char *moved, const char *uri, const char *host,
                            FerryDependents *deps, GHashTable *conns)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = ferry_libvirt_open(uri, &error);
    if (!conn || !ferry_dependents_read(deps, conn, host, &error)) {
        g_autofree char *outcome = g_strdup_printf("failed: its dependents there are unknown: %s", error->message);
        ferry_job_add_step(job, moved, "reboot", host, outcome);
        return;
    }
    g_hash_table_insert(conns, g_strdup(host), g_steal_pointer(&conn));
}

static void connection_close(gpointer conn)
{
    virConnectClose(conn);
}

/* reboot_dependents: @m's domain was restarted on its target; its running dependents,
 * wherever they run, are rebooted one by one, a step each. */
static void reboot_dependents(Run *r, Move *m, FerryJob *job)
{
    const FerrySnapshot *s = r->call->snapshot;
    const char *moved = m->row->domain;
    g_autoptr(FerryDependents) deps = ferry_dependents_new();
    g_autoptr(GHashTable) conns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, connection_close);
    read_dependents(job, moved, r->config->libvirt_uri, s->input.source, deps, conns);
    for (guint p = 0; p < s->input.n_peers; p++)
        if (s->input.peers[p].reachable)
            read_dependents(job, moved, g_ptr_array_index(s->peer_uris, p), s->input.peers[p].name, deps, conns);
    guint n = 0;
    const FerryDependent *candidates = ferry_dependents_get(deps, &n);
    g_auto(GStrv) later = restarted_later(r);
    g_autoptr(GArray) chosen = ferry_dependents_select(moved, candidates, n, (const char *const *)later);
    for (guint i = 0; i < chosen->len; i++) {
        const FerryDependentChoice *c = &g_array_index(chosen, FerryDependentChoice, i);
        const FerryDependent *d = &candidates[c->index];
        g_autoptr(GError) error = NULL;
        g_autofree char *outcome = NULL;
        if (c->verdict == FERRY_DEPENDENT_MAINTENANCE) {
            outcome = g_strdup_printf("skipped: depends on %s, but is under maintenance", moved);
        } else if (c->verdict == FERRY_DEPENDENT_OWN_MOVE) {
            outcome = g_strdup_printf("skipped: depends on %s, and its own move restarts it", moved);
        } else {
            ferry_job_set_message(job, "%s: rebooting %s on %s, which depends on it", moved, d->name, d->host);
            outcome = ferry_dependent_reboot(g_hash_table_lookup(conns, d->host), d->name,
                                             FERRY_MOVE_SHUTDOWN_TIMEOUT, &error)
                          ? g_strdup_printf("rebooted: depends on %s, which the move restarted", moved)
                          : g_strdup_printf("failed: %s", error->message);
        }
        ferry_job_add_step(job, d->name, "reboot", d->host, outcome);
    }
}

static gpointer move_thread(gpointer data)
{
    g_autofree MoveThread *t = data;
    Move *m = t->move;
    Run *r = m->run;
    FerryMigrateOptions options = { 0 };
    FerryMigrateReport report = { move_data, move_message, t, move_image_created };
    g_autoptr(GError) error = NULL;
    FerryMethod used = m->row->method;
    gboolean ok = journal_phase(r, m, FERRY_EVAC_MOVING, NULL, &error) &&
                  ferry_migrate_run(t->job, r->config, m->uuid, m->row->domain, m->peer_uri, m->methods, &options,
                                    &report, &used, &error);
    journal_ended(r, m, ok, error);
    /* The method that succeeded decides, not the plan's: a live method that fell back to
     * move restarted the domain all the same. */
    if (ok && m->running && !ferry_method_is_live(used) && r->call->options.reboot_dependents)
        reboot_dependents(r, m, t->job); /* before its end lets the domains that wait for it go */
    g_mutex_lock(&r->lock);
    m->ended = TRUE;
    m->outcome = ok ? FERRY_MOVE_MOVED : FERRY_MOVE_FAILED;
    if (!ok)
        m->failure = g_strdup(error ? error->message : "the engine gave no reason");
    report_locked(r, t->job);
    g_cond_signal(&r->changed);
    g_mutex_unlock(&r->lock);
    if (ok && r->moved)
        r->moved(r->moved_data, m->uuid, m->peer_uri);
    ferry_job_add_step(t->job, m->row->domain, ferry_method_name(m->row->method), m->row->target,
                       ok ? "moved" : m->failure);
    ferry_job_unref(t->job);
    return NULL;
}

/* With the lock held: whether @m may start now, within the limits. */
static gboolean may_start_locked(Run *r, Move *m, guint running, guint storage)
{
    const FerryEvacuateOptions *o = &r->call->options;
    if (running >= o->batch || (m->storage && storage >= o->storage_per_source))
        return FALSE;
    for (guint i = 0; i < m->waits_for->len; i++)
        if (!((Move *)g_ptr_array_index(m->waits_for, i))->ended)
            return FALSE;
    if (o->per_target) {
        guint incoming = 0;
        for (guint i = 0; i < r->moves->len; i++) {
            const Move *other = g_ptr_array_index(r->moves, i);
            incoming += other->started && !other->ended && g_str_equal(other->row->target, m->row->target);
        }
        if (incoming >= o->per_target)
            return FALSE;
    }
    return TRUE;
}

/* Starts what may start (plan order; a move the limits hold back lets later ones by).
 * Returns how many are running. With the lock held. */
static guint start_moves_locked(Run *r, FerryJob *job, gboolean cancelled)
{
    guint running = 0, storage = 0;
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *m = g_ptr_array_index(r->moves, i);
        running += m->started && !m->ended;
        storage += m->started && !m->ended && m->storage;
    }
    for (guint i = 0; !cancelled && i < r->moves->len; i++) {
        Move *m = g_ptr_array_index(r->moves, i);
        if (m->started || !m->held || !may_start_locked(r, m, running, storage))
            continue;
        m->started = TRUE;
        running++;
        storage += m->storage;
        MoveThread *t = g_new0(MoveThread, 1);
        t->move = m;
        t->job = ferry_job_ref(job);
        g_thread_unref(g_thread_new("ferry-evacuate", move_thread, t));
    }
    return running;
}

static gboolean all_started_locked(Run *r)
{
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *m = g_ptr_array_index(r->moves, i);
        if (!m->started && m->held)
            return FALSE;
    }
    return TRUE;
}

/* Back in the main context: the domains and the evacuation are free again. */
typedef struct {
    FerryEvacuations *ev;
    guint generation;
    GStrv uuids;
} Release;

static gboolean release_in_main(gpointer data)
{
    Release *rel = data;
    for (char **u = rel->uuids; *u; u++)
        ferry_jobs_release(rel->ev->jobs, *u);
    if (rel->ev->generation == rel->generation)
        rel->ev->busy = FALSE;
    g_strfreev(rel->uuids);
    g_free(rel);
    return G_SOURCE_REMOVE;
}

static void release_later(Run *r)
{
    Release *rel = g_new0(Release, 1);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *m = g_ptr_array_index(r->moves, i);
        if (m->held)
            g_strv_builder_add(b, m->uuid);
    }
    rel->ev = r->ev;
    rel->generation = r->generation;
    rel->uuids = g_strv_builder_end(b);
    g_main_context_invoke(r->context, release_in_main, rel);
}

static FerryMoveOutcome outcome_of(Run *r, const FerryPlacement *row, const char **reason)
{
    *reason = row->reason;
    if (row->verdict != FERRY_VERDICT_MOVE)
        return FERRY_MOVE_NOT_ASKED;
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *m = g_ptr_array_index(r->moves, i);
        if (m->row != row)
            continue;
        if (!m->held) {
            *reason = "busy: another virt-ferry job took it before the evacuation started";
            return FERRY_MOVE_NOT_STARTED;
        }
        if (!m->started) {
            *reason = "the evacuation was cancelled before its turn";
            return FERRY_MOVE_NOT_STARTED;
        }
        if (m->outcome == FERRY_MOVE_FAILED)
            *reason = m->failure;
        return m->outcome;
    }
    return FERRY_MOVE_NOT_STARTED;
}

static gboolean evacuate_job(FerryJob *job, gpointer data, GError **error)
{
    Run *r = data;
    GCancellable *cancellable = ferry_job_cancellable(job);
    if (!journal_open(r, error)) {
        if (r->journal)
            ferry_journal_remove(r->journal);
        release_later(r);
        return FALSE;
    }
    for (guint i = 0; i < r->moves->len; i++) {
        const Move *m = g_ptr_array_index(r->moves, i);
        ferry_job_add_step(job, m->row->domain, ferry_method_name(m->row->method), m->row->target,
                           m->held ? "queued" : "busy: another virt-ferry job took it first");
    }
    g_mutex_lock(&r->lock);
    report_locked(r, job);
    for (;;) {
        gboolean cancelled = g_cancellable_is_cancelled(cancellable);
        guint running = start_moves_locked(r, job, cancelled);
        if (running == 0 && (cancelled || all_started_locked(r)))
            break;
        g_cond_wait_until(&r->changed, &r->lock, g_get_monotonic_time() + 250 * G_TIME_SPAN_MILLISECOND);
    }
    g_mutex_unlock(&r->lock);

    GPtrArray *plan = r->call->plan;
    g_autofree FerryEvacuationResult *results = g_new0(FerryEvacuationResult, plan->len);
    for (guint i = 0; i < plan->len; i++) {
        const FerryPlacement *row = g_ptr_array_index(plan, i);
        results[i].domain = row->domain;
        results[i].verdict = row->verdict;
        results[i].outcome = outcome_of(r, row, &results[i].reason);
        if (results[i].outcome == FERRY_MOVE_NOT_STARTED && g_cancellable_is_cancelled(cancellable))
            ferry_job_add_step(job, row->domain, ferry_method_name(row->method), row->target,
                               "cancelled: not started, runs here still");
    }
    g_autofree char *message = NULL;
    FerryJobStatus status = ferry_evacuation_status(results, plan->len, g_cancellable_is_cancelled(cancellable),
                                                    &message);
    ferry_journal_remove(r->journal); /* every move ended: nothing left to settle */
    release_later(r);
    switch (status) {
    case FERRY_JOB_CANCELLED:
        ferry_job_set_cancel_message(job, message);
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, message);
        return FALSE;
    case FERRY_JOB_FAILED:
        g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_FAILED, message);
        return FALSE;
    case FERRY_JOB_WARNING:
        ferry_job_add_note(job, message);
        return TRUE;
    default:
        ferry_job_set_message(job, "%s", message);
        return TRUE;
    }
}

/* Evacuate's call, until its job takes the recorder over. */
typedef struct {
    FerryEvacuations *ev;
    FerryEvacuationMoved moved;
    gpointer moved_data;
    GDestroyNotify moved_free;
} StartCall;

static void start_call_free(StartCall *s)
{
    if (s->moved_free)
        s->moved_free(s->moved_data);
    g_free(s);
}

static void start_planned(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(GTask) outer = data;
    StartCall *start = g_task_get_task_data(outer);
    FerryEvacuations *ev = start->ev;
    GError *error = NULL;
    if (!g_task_propagate_boolean(G_TASK(result), &error)) {
        ev->busy = FALSE;
        g_task_return_error(outer, error);
        return;
    }
    PlanCall *call = g_task_get_task_data(G_TASK(result));
    Run *r = g_new0(Run, 1);
    r->ev = ev;
    r->generation = ev->generation;
    r->jobs = ev->jobs;
    r->call = g_new0(PlanCall, 1);
    *r->call = *call;       /* the job takes the plan over */
    memset(call, 0, sizeof(*call));
    r->config = r->call->config;
    r->moves = g_ptr_array_new_with_free_func((GDestroyNotify)move_free);
    g_mutex_init(&r->lock);
    g_mutex_init(&r->journal_lock);
    g_cond_init(&r->changed);
    r->context = g_main_context_ref_thread_default();
    r->moved = start->moved;
    r->moved_data = g_steal_pointer(&start->moved_data);
    r->moved_free = g_steal_pointer(&start->moved_free);
    for (guint i = 0; i < r->call->plan->len; i++) {
        const FerryPlacement *row = g_ptr_array_index(r->call->plan, i);
        if (row->verdict != FERRY_VERDICT_MOVE)
            continue;
        Move *m = move_new(r, row);
        m->held = ferry_jobs_hold(ev->jobs, m->uuid, NULL);
        g_ptr_array_add(r->moves, m);
    }
    link_dependencies(r);
    FerryJob *job = ferry_jobs_start(ev->jobs, FERRY_JOB_EVACUATE, r->call->snapshot->input.source, NULL, evacuate_job, r,
                                     (GDestroyNotify)run_free, &error);
    if (!job) {
        ev->busy = FALSE;
        g_task_return_error(outer, error);
        return;
    }
    g_task_return_pointer(outer, job, (GDestroyNotify)ferry_job_unref);
}

void ferry_evacuations_start_async(FerryEvacuations *ev, const char *const *methods, GVariant *options,
                                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
    ferry_evacuations_start_recorded_async(ev, methods, options, NULL, NULL, NULL, cancellable, callback, user_data);
}

void ferry_evacuations_start_recorded_async(FerryEvacuations *ev, const char *const *methods, GVariant *options,
                                            FerryEvacuationMoved moved, gpointer moved_data,
                                            GDestroyNotify moved_free, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *outer = g_task_new(NULL, cancellable, callback, user_data);
    StartCall *start = g_new0(StartCall, 1);
    start->ev = ev;
    start->moved = moved;
    start->moved_data = moved_data;
    start->moved_free = moved_free;
    g_task_set_task_data(outer, start, (GDestroyNotify)start_call_free);
    if (ev->busy) {
        g_task_return_new_error(outer, FERRY_ERROR, FERRY_ERROR_BUSY,
                                "an evacuation of this host is already being planned or running: wait for its "
                                "job to end, or cancel it");
        g_object_unref(outer);
        return;
    }
    ev->busy = TRUE;
    ev->generation++;
    g_object_unref(plan_task(ev, methods, options, cancellable, start_planned, outer));
}

FerryJob *ferry_evacuations_start_finish(FerryEvacuations *ev, GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}
