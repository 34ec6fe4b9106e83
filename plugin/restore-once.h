/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A domain restored once: before a restore gives an archive's domain its UUID back, this host
 * and every peer are asked (through their libvirt, bounded in time) whether that domain runs
 * there, and the restore lock (restore-lock.h) in the shared library keeps a second host from
 * restoring it at the same time. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "config.h"
#include "restore-lock.h"

G_BEGIN_DECLS

/* How long a peer's libvirt has to answer (all peers are asked at once). */
#define FERRY_PEER_ASK_SECONDS 10

typedef struct {
    const char *library, *archive_id;
    const char *domain_uuid, *domain_name;
    const char *const *peers;      /* libvirt URIs ([peers] uris=) */
    gboolean break_lock;           /* take over another host's restore lock without asking */
    gboolean ignore_unreachable;   /* proceed when a peer cannot be asked */
} FerryRestoreOnceRequest;

/* Takes the restore lock of @req->domain_uuid, then checks that the domain is active (running,
 * paused, ...) neither on this host (@conn) nor on any peer: Busy naming the host where it runs
 * or the lock's holder; NetworkUnavailable naming each peer that did not answer, unless
 * @req->ignore_unreachable. What the caller should know although the restore goes on (a
 * definition of the domain shut off elsewhere, a peer not asked) is added to @notes (char *). */
FerryRestoreLock *ferry_restore_once_begin(virConnectPtr conn, const FerryRestoreOnceRequest *req, GPtrArray *notes,
                                           GError **error);

/* Removes the restore locks this host's earlier virt-ferryd left in the library (after the
 * journal's restores were rolled back). Blocking. */
void ferry_restore_locks_sweep(const FerryConfig *config);

G_END_DECLS
