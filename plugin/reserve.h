/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster reserve: would the running domains of any @reserve failed hosts,
 * among this host and its peers, fit on the hosts that are left?
 *
 * A pure function over the snapshot placement reads (snapshot.h, placement.h): no libvirt,
 * no I/O. For every combination of @reserve hosts (hosts sorted by name, combinations in
 * lexicographic order, so that every host of a cluster finds the same first one), it asks
 * ferry_place() to place the failed hosts' running domains on the others, under
 * placement's own rules: memory and vCPU ratios, pin, eq and ne (with the domains already
 * running there), no target in maintenance or unreachable. It stops at the first
 * combination where a domain finds no place: that combination and placement's reasons are
 * the answer.
 *
 * What differs from an evacuation, and why: a failed host's domains all need a place, so
 * the marks that keep a domain on a live host (hold, no_migrate, unmanaged, the domain's
 * own maintenance, busy) are not looked at, nor the per-peer access (storage, CPU,
 * networks: a capacity question, answered alike on every host); depends only orders
 * starts and is left out. A pin to a host that failed or is unknown is dropped; a domain
 * pinned only to such hosts has no place. An unreachable peer is no target and its
 * domains are unknown (none counted). @reserve at or above the number of hosts: all fail,
 * overcommitted as soon as any domain runs. */
#pragma once

#include <glib.h>

#include "placement.h"

G_BEGIN_DECLS

/* More combinations than this is InvalidArgument: lower reserve= (C(16,3) = 560 is fine). */
#define FERRY_RESERVE_MAX_COMBINATIONS 4096

typedef struct {
    /* The snapshot: this host (source, its domains, only the running ones count), its peers
     * and their running domains (residents). access, methods, exclude and all are ignored. */
    const FerryPlaceInput *cluster;
    /* This host as a target: memory, CPUs, maintenance (its name is cluster->source). */
    const FerryPlacePeer *here;
    /* Parallel to cluster->residents: each one's policy (pin and priority count when it has
     * to move); NULL, or a NULL entry: only the resident's eq and ne. */
    const FerryPolicy *const *resident_policies;
    guint reserve;       /* host failures to absorb; 0: nothing to check */
    double memory_ratio; /* as placement's */
    double vcpu_ratio;
} FerryReserveInput;

typedef struct {
    gboolean overcommitted;
    GStrv failed;        /* the first combination that does not fit; NULL when all fit */
    char *reason;        /* never NULL: which domains find no place and why, or what fits */
    guint combinations;  /* combinations checked */
} FerryReserveResult;

void ferry_reserve_result_clear(FerryReserveResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerryReserveResult, ferry_reserve_result_clear)

/* Fills @result. FALSE with InvalidArgument for bad input (placement's, or too many
 * combinations), @result then untouched. */
gboolean ferry_reserve_check(const FerryReserveInput *input, FerryReserveResult *result, GError **error);

G_END_DECLS
