/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host evacuation: PlanEvacuation, a dry run over a snapshot of this host and
 * its peers (snapshot.h) through placement (placement.h), and Evacuate, one job that carries
 * the plan's moves out through the migration engine (migrate.h), several at once. */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "job.h"
#include "placement.h"
#include "snapshot.h"

G_BEGIN_DECLS

typedef struct {
    GArray *methods;          /* FerryMethod, C7 order, failover left out (this host is alive) */
    gboolean all;             /* stopped domains too: moved, not started */
    GStrv exclude;            /* peers as the caller named them, each a peer of the config */
    guint batch;              /* moves at once */
    guint storage_per_source; /* storage migrations (and moves that copy disks) at once */
    guint per_target;         /* incoming moves at once per peer; 0: no cap */
    gboolean reboot_dependents; /* after a move restarted a domain, reboot what depends on it (dependents.h) */
} FerryEvacuateOptions;

void ferry_evacuate_options_clear(FerryEvacuateOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerryEvacuateOptions, ferry_evacuate_options_clear)

/* The option keys ("name:type") of PlanEvacuation and of Evacuate: the caller checks an
 * a{sv} against them (dbus/ does, with its options check) before ferry_evacuate_options_parse. */
extern const char *const ferry_plan_option_keys[];
extern const char *const ferry_evacuate_option_keys[];

/* @methods (NULL or empty: [evacuation] methods=, else C7's default) and @options, a{sv} (NULL:
 * none) of the keys above, already checked: `all` b, `exclude` as, `batch` u,
 * `storage_per_source` u, `per_target` u, `reboot_dependents` b. InvalidArgument naming an
 * unknown method or peer, or a count of 0; Unsupported when only failover is left (it
 * applies to a dead host). */
gboolean ferry_evacuate_options_parse(const FerryConfig *config, const char *const *methods, GVariant *options,
                                      FerryEvacuateOptions *out, GError **error);

/* The plan (FerryPlacement rows, placement's order) over @snapshot; a stopped domain that
 * moves does so by `move` (defined on the target, not started), whatever the method list.
 * InvalidArgument from placement (a pin to an unknown host, contradicting groups, a
 * dependency cycle). */
GPtrArray *ferry_evacuation_plan(const FerryConfig *config, const FerrySnapshot *snapshot,
                                 const FerryEvacuateOptions *options, GError **error);

/* The rows as PlanEvacuation returns them: a(sssss) domain, method, target, verdict, reason;
 * method and target empty unless the verdict is `move`. */
GVariant *ferry_evacuation_plan_to_variant(GPtrArray *plan);

/* ---- D4's result rules as a pure function */

typedef enum {
    FERRY_MOVE_NOT_ASKED,  /* the plan did not move it (its verdict says why) */
    FERRY_MOVE_MOVED,
    FERRY_MOVE_FAILED,     /* tried: the engine's error says why; it runs here still */
    FERRY_MOVE_NOT_STARTED, /* queued when the evacuation was cancelled, or busy at the start */
} FerryMoveOutcome;

typedef struct {
    const char *domain;
    FerryVerdict verdict;  /* the plan's */
    FerryMoveOutcome outcome;
    const char *reason;    /* the plan's reason, or the failure's */
} FerryEvacuationResult;

/* The evacuation's status by D4, checked in this order for every domain that did not move:
 * hold, unmanaged, stopped (not asked for): no effect; the domain's own maintenance mark:
 * warning; busy, no-target, a failed or unstarted move: failure. @cancelled: the job was
 * cancelled (it says so whatever else happened). *@message names the domains behind a
 * warning or failure and why; "N domains moved" otherwise. */
FerryJobStatus ferry_evacuation_status(const FerryEvacuationResult *results, guint n, gboolean cancelled,
                                       char **message);

/* ---- the service */

typedef struct _FerryEvacuations FerryEvacuations;

/* @jobs outlives it; it takes a reference on @config. */
FerryEvacuations *ferry_evacuations_new(FerryJobs *jobs, FerryConfig *config);
void ferry_evacuations_free(FerryEvacuations *ev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryEvacuations, ferry_evacuations_free)

/* PlanEvacuation: the snapshot and placement in a worker thread; the a(sssss) rows. */
void ferry_evacuations_plan_async(FerryEvacuations *ev, const char *const *methods, GVariant *options,
                                  GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
GVariant *ferry_evacuations_plan_finish(FerryEvacuations *ev, GAsyncResult *result, GError **error);

/* Evacuate: options checked at once, then the plan in a worker thread (its InvalidArgument
 * comes back here, nothing moved), then the job, which holds every domain it moves. Busy
 * while another evacuation is being planned or runs. */
void ferry_evacuations_start_async(FerryEvacuations *ev, const char *const *methods, GVariant *options,
                                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
/* Told, in the thread of the move (any thread, several at once), of each domain the job
 * moved: @uuid runs (or is defined) on @peer_uri now. */
typedef void (*FerryEvacuationMoved)(gpointer user_data, const char *uuid, const char *peer_uri);
/* As ferry_evacuations_start_async, @moved told of every domain that moved (maintenance
 * records where each went). @moved_free frees @moved_data once the job (or the failed call)
 * is done with it. */
void ferry_evacuations_start_recorded_async(FerryEvacuations *ev, const char *const *methods, GVariant *options,
                                            FerryEvacuationMoved moved, gpointer moved_data,
                                            GDestroyNotify moved_free, GCancellable *cancellable,
                                            GAsyncReadyCallback callback, gpointer user_data);
/* The job (owned by the FerryJobs; ref it to keep it). */
FerryJob *ferry_evacuations_start_finish(FerryEvacuations *ev, GAsyncResult *result, GError **error);

G_END_DECLS
