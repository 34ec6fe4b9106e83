/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Maintenance mode (virt-ferry(1)): the host refuses incoming migrations and restores (the
 * hook, from the state file of maintenance-state.h), and its domains are managed-saved
 * (mode save) or evacuated (mode migrate) by a job.
 *
 * Peers see the mode through this host's libvirt, which they already read: while in
 * maintenance, a persistent, non-private libvirt secret with the fixed UUID
 * FERRY_MAINTENANCE_SECRET_UUID exists, its description saying the mode and since when.
 * The state file is the truth; the secret its publication (libvirt keeps it across its own
 * restarts; virt-ferryd publishes it anew at start). */
#pragma once

#include <libvirt/libvirt.h>

#include "config.h"
#include "evacuate.h"
#include "job.h"
#include "maintenance-state.h"

G_BEGIN_DECLS

/* "virtferrymainten" in hex: the same on every host, each in its own libvirt. */
#define FERRY_MAINTENANCE_SECRET_UUID "76697274-6665-7272-796d-61696e74656e"

/* Enters maintenance in @mode_word ("save" or "migrate") on @host (its name, for the
 * state): the state is written before the answer (the hook refuses from then on), then
 * the job managed-saves every running domain (one Step each), or @ev evacuates them as
 * [evacuation] configures it (its plan is made first: its errors undo the state), each
 * domain that moved recorded in the state with the peer it went to.
 * InvalidArgument for an unknown mode; Busy when a maintenance or evacuation job runs or
 * the host is in maintenance already. */
void ferry_maintenance_enter_async(FerryJobs *jobs, FerryConfig *config, FerryEvacuations *ev, const char *host,
                                   const char *mode_word, GAsyncReadyCallback callback, gpointer user_data);
/* The job (a new reference). */
FerryJob *ferry_maintenance_enter_finish(GAsyncResult *result, GError **error);
/* Leaves maintenance: the state is removed before this returns; with @bring_back, the job
 * starts the domains maintenance saved (their managed save is restored), or (mode migrate)
 * live-migrates each domain the evacuation moved back from the peer it went to, one at a
 * time (storage copied when this host does not see its disks), one Step each; a domain no
 * longer on that peer or not running there is a Step saying so, not a failure.
 * InvalidArgument when the host is not in maintenance; Busy while a maintenance job runs. */
FerryJob *ferry_maintenance_leave(FerryJobs *jobs, FerryConfig *config, gboolean bring_back, GError **error);

/* At start: whether this host is in maintenance (a state file that cannot be read counts
 * as yes: the hook refuses then too), the state published again for the peers. */
gboolean ferry_maintenance_resume(FerryConfig *config);

/* Publishes @state in this host's libvirt (the secret above), in a thread of its own;
 * failures are logged. */
void ferry_maintenance_publish(FerryConfig *config, const FerryMaintenanceState *state);

/* For the evacuation planner: whether @peer (a connection to a peer's libvirt) is in
 * maintenance, with its description ("mode=save since=...") in @detail (may be NULL).
 * FALSE with @error when the peer's libvirt cannot tell. Blocking. */
gboolean ferry_maintenance_peer_state(virConnectPtr peer, gboolean *in_maintenance, char **detail, GError **error);

G_END_DECLS
