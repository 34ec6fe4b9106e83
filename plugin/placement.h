/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placement (virt-ferry(1)): where each domain of a host that is being evacuated goes.
 *
 * A pure function over a snapshot that the caller reads through the peers' libvirt: no
 * libvirt calls, no I/O, no main loop, so it can be tested exhaustively and run on every
 * PlanEvacuation, Evacuate and cluster-reserve question. The result is deterministic for
 * the same snapshot (ties are broken by name).
 *
 * What it decides, per domain of this host (the source):
 *  - the verdict, checked in D4's order: `hold`, `unmanaged`, `maintenance` (the domain's
 *    own mark), `busy` (the caller saw another job on it); a stopped domain without `all`
 *    is `stopped`; the rest is `move` with a method and a target, or `no-target` with a
 *    reason naming every rejected peer ("beta: 1.2 GiB free, needs 2 GiB; gamma: in
 *    maintenance; delta: no access to /srv/shared").
 *  - the method: per peer, the first of the caller's methods (in the canonical order) whose
 *    requirements that peer meets; peers that allow an earlier method are preferred, so a
 *    domain falls back to a later method only when no peer with room allows an earlier one.
 *    Requirements: migration, quick-migration and failover need shared storage; move and
 *    storage-migration need shared storage or room for the copies (peers with shared
 *    storage preferred); migration, quick-migration and storage-migration need a CPU the
 *    domain can run on live, move and failover (and every stopped domain) one it can boot
 *    on; every method needs the domain's networks. no_migrate refuses every method.
 *  - capacity: a peer's memory never goes beyond free + total * (memory_ratio - 1) (ratio
 *    1.0: what is free now; the running domains there are already in its free memory),
 *    its vCPUs never beyond cpus * vcpu_ratio counting the domains running there. Stopped
 *    domains are defined on the target, not started: they use neither (so even a peer
 *    already beyond a limit takes them), but they honour eq, ne and pin like running
 *    ones.
 *  - constraints: a peer in maintenance, unreachable or excluded is never a target; `pin`
 *    restricts targets; `ne` members never share a host, also with domains of the same
 *    ne group already running on peers; the placed members of an `eq` group all go to one
 *    host, and where members of the group already run on peers, to one of those hosts.
 *    Members that stay on the source (hold, busy, no room...) do not bind the others: the
 *    source is being emptied.
 *  - how much: where not everything fits, the plan is a maximum in priority order: first
 *    as many domains of the highest priority as possible, then, without losing any of
 *    those, as many of the next priority, and so on (a higher-priority domain is never
 *    left behind to make room for any number of lower-priority ones). Small snapshots
 *    (up to FERRY_PLACE_EXACT_MAX domains to place) go through a branch and bound that
 *    starts from the greedy plan below: exhaustive when its tree is small (every
 *    snapshot of up to 8 domains on 4 peers), else cut after a fixed number of nodes
 *    (a few ms; never worse than greedy); larger
 *    ones greedily (by priority, then smaller first, so that more of them fit; each to
 *    the peer allowing the earliest method, then with shared storage, then with the
 *    most memory left, so that the domains spread over the peers; the first member of an eq group goes where the whole group fits and
 *    the members of its priority follow at once), followed by a bounded repair step:
 *    per domain left behind, one placed domain is moved to another peer to make room.
 *  - the order of moves: the rows with verdict `move` come first, in the order the moves
 *    should run: higher priority first, except that a domain whose method restarts it
 *    (move, failover) comes after the moved domains it depends on; then the other rows,
 *    by name.
 *
 * Bad input is FERRY_ERROR_INVALID_ARGUMENT naming it: no methods, a ratio that is not
 * positive, a peer or domain without a name or named twice, an excluded peer that is not
 * a peer, a pin to a host that is neither this host nor a peer, two domains in the same eq
 * group and the same ne group, a dependency cycle among this host's domains. */
#pragma once

#include <glib.h>

#include "migrate-check.h"
#include "policy.h"

G_BEGIN_DECLS

/* Above this many domains to place, the plan is greedy with a repair step (see above). */
#define FERRY_PLACE_EXACT_MAX 16

typedef enum {
    FERRY_VERDICT_MOVE,
    FERRY_VERDICT_HOLD,
    FERRY_VERDICT_UNMANAGED,
    FERRY_VERDICT_MAINTENANCE,
    FERRY_VERDICT_BUSY,
    FERRY_VERDICT_STOPPED,   /* stopped and not asked for (`all` unset): stays */
    FERRY_VERDICT_NO_TARGET,
} FerryVerdict;

/* "move", "hold", "unmanaged", "maintenance", "busy", "stopped", "no-target". */
const char *ferry_verdict_name(FerryVerdict verdict);

typedef struct {
    const char *name;
    guint64 memory_total_kib;
    guint64 memory_free_kib;
    guint cpus;
    gboolean maintenance; /* the peer's Maintenance property */
    gboolean reachable;   /* its libvirt answered when the snapshot was read */
} FerryPlacePeer;

typedef struct {
    const char *name;
    const char *uuid;          /* not used here: for the caller that builds the rows */
    gboolean running;
    guint64 memory_kib;
    guint vcpus;
    const FerryPolicy *policy; /* NULL: the empty policy */
    gboolean maintenance;      /* the domain's own maintenance mark (its virt-ferry metadata, org.virtferry.Ferry1(5)) */
    gboolean busy;             /* another job (migration, save, backup...) runs on it */
} FerryPlaceDomain;

/* A domain already running on a peer: it holds vCPUs and eq/ne places there (its memory is
 * already out of the peer's free memory and is not counted again). */
typedef struct {
    const char *name;
    const char *peer;
    guint64 memory_kib;
    guint vcpus;
    const char *eq; /* NULL: none */
    const char *ne;
} FerryPlaceResident;

/* What the caller found out for one (domain, peer) pair through migrate-check: each FALSE
 * field may come with the text that says why (NULL: a generic one). */
typedef struct {
    gboolean storage_shared;   /* the peer sees the disks at the same paths */
    const char *storage_reason;  /* "no access to /srv/shared" */
    gboolean copy_space;       /* room for copies of the disks that are not shared */
    const char *copy_reason;
    gboolean cpu_live;         /* the domain's CPU can be migrated live there */
    gboolean cpu_boot;         /* the domain can boot there */
    const char *cpu_reason;
    gboolean network;          /* the domain's networks exist there */
    const char *network_reason;
} FerryPlaceAccess;

typedef struct {
    const char *source;               /* this host's name */
    const FerryPlacePeer *peers;
    guint n_peers;
    const FerryPlaceDomain *domains;  /* this host's domains */
    guint n_domains;
    const FerryPlaceResident *residents;
    guint n_residents;
    /* n_domains * n_peers entries, domain-major (access[d * n_peers + p]); NULL: every
     * peer shares the storage, runs the CPUs and has the networks. */
    const FerryPlaceAccess *access;
    const FerryMethod *methods;       /* in C7 order, as ferry_methods_parse() gives them */
    guint n_methods;
    double memory_ratio;              /* 1.0: no memory over-commit */
    double vcpu_ratio;                /* vCPUs per host CPU */
    const char *const *exclude;       /* peers that must not be targets; NULL: none */
    gboolean all;                     /* stopped domains are placed too */
} FerryPlaceInput;

typedef struct {
    char *domain;
    FerryVerdict verdict;
    FerryMethod method; /* meaningful only for FERRY_VERDICT_MOVE */
    char *target;       /* NULL unless FERRY_VERDICT_MOVE */
    char *reason;       /* never NULL: for `move`, why the first method could not be used
                         * ("migration to beta: no access to /srv/shared"), else "" */
} FerryPlacement;

void ferry_placement_free(FerryPlacement *placement);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryPlacement, ferry_placement_free)

/* The plan: a GPtrArray of FerryPlacement (freeing the array frees them), one per domain
 * of @input, ordered as described above. NULL with FERRY_ERROR_INVALID_ARGUMENT for bad
 * input. */
GPtrArray *ferry_place(const FerryPlaceInput *input, GError **error);

G_END_DECLS
