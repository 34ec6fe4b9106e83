/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A snapshot of this host and its peers for placement (placement.h): what each host's
 * libvirt says now about memory, CPUs and running domains, and per (domain, peer) what
 * migrate-check decides about storage, CPU and networks. PlanEvacuation and Evacuate read
 * one per call; the cluster reserve reads the same facts.
 *
 * Blocking (libvirt calls to every peer): run it in a worker or job thread. Each peer is
 * read in a thread of its own with a deadline: a peer that does not answer in time, or
 * whose libvirt cannot be reached, is a peer with reachable = FALSE and a reason, never
 * a failure of the snapshot. */
#pragma once

#include <glib.h>

#include "config.h"
#include "placement.h"

G_BEGIN_DECLS

typedef struct {
    /* Read-only; a peer's read that outlives its deadline holds a reference of its own. */
    FerryConfig *config;
    /* Domains another virt-ferry job holds (the caller reads them in the main context):
     * they are `busy` like domains whose libvirt job runs. NULL: none. */
    const char *const *busy_uuids;
    /* Stopped domains are to be placed too: their access is read as well. */
    gboolean all;
    /* Peer URIs (as in [peers] uris=) not to ask at all; NULL: none. */
    const char *const *skip_uris;
    guint peer_timeout;   /* s per peer; 0: config's [evacuation] peer-timeout */
    /* For the cluster reserve (reserve.h): this host's node is read too (here), and no
     * (domain, peer) access is checked (input.access then says nothing). */
    gboolean cluster;
} FerrySnapshotRequest;

typedef struct {
    FerryPlaceInput input;   /* ready for ferry_place() but for the caller's part: methods,
                              * ratios, exclude and all (left 0/NULL here) */
    /* Parallel to input.peers: */
    GPtrArray *peer_uris;    /* char *: the peer's libvirt URI */
    GPtrArray *peer_reasons; /* char *: why it is unreachable, or NULL */
    /* Parallel to input.domains: the bytes a move of each carries (memory of a running
     * domain), for the evacuation's Progress. */
    GArray *domain_bytes;    /* guint64 */
    /* Parallel to input.residents: each one's policy (FerryPolicy *). */
    GPtrArray *resident_policies;
    /* With request->cluster: this host as a target (name input.source, memory, CPUs,
     * maintenance); else zero. */
    FerryPlacePeer here;
    /* private */
    GStringChunk *strings;
    GArray *peers, *domains, *residents, *access;
    GPtrArray *policies;
} FerrySnapshot;

void ferry_snapshot_free(FerrySnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerrySnapshot, ferry_snapshot_free)

/* Reads this host (config->libvirt_uri; failure is an error: nothing to plan without it)
 * and every peer of [peers] uris= but @request->skip_uris. */
FerrySnapshot *ferry_snapshot_read(const FerrySnapshotRequest *request, GError **error);

/* The index of the peer @name_or_uri (its host name, its URI, or the host in its URI), or
 * -1. */
int ferry_snapshot_find_peer(const FerrySnapshot *snapshot, const char *name_or_uri);

G_END_DECLS
