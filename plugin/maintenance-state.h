/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's maintenance state on disk: <[state] dir>/maintenance, a small key file written
 * atomically and fsynced by virt-ferryd, read by virt-ferryd at start and by the hook's
 * module for every incoming migrate/restore. libvirt-free (the hook module links it). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_MAINTENANCE_FILE "maintenance"
/* Larger is not a state file of ours: refused. */
#define FERRY_MAINTENANCE_MAX_BYTES (256 * 1024)

typedef enum {
    FERRY_MAINTENANCE_SAVE,
    FERRY_MAINTENANCE_MIGRATE,
} FerryMaintenanceMode;

/* "save", "migrate"; and back: FALSE for an unknown word. */
const char *ferry_maintenance_mode_name(FerryMaintenanceMode mode);
gboolean ferry_maintenance_mode_parse(const char *word, FerryMaintenanceMode *mode);

typedef struct {
    gboolean active;
    FerryMaintenanceMode mode;
    char *host;      /* the host name when it was entered */
    gint64 since;    /* Unix seconds */
    GStrv domains;   /* UUIDs maintenance saved (save) or moved (migrate), never NULL */
    GStrv peers;     /* migrate: the peer URI each of @domains went to ("" unknown), never NULL */
} FerryMaintenanceState;

void ferry_maintenance_state_clear(FerryMaintenanceState *state);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerryMaintenanceState, ferry_maintenance_state_clear)

/* Reads <@state_dir>/maintenance into @state: no file is "not in maintenance" (TRUE). A
 * symbolic link, a FIFO or anything else not a regular file, a file larger than
 * FERRY_MAINTENANCE_MAX_BYTES or one that does not parse: FALSE with @error (Failed),
 * naming the file. Never blocks on the file (O_NONBLOCK). */
gboolean ferry_maintenance_load(const char *state_dir, FerryMaintenanceState *state, GError **error);
/* Writes @state (active) atomically (temporary file, fsync, rename, fsync of the
 * directory), or removes the file (inactive) durably. NoCapacity, the file left as it
 * was, when it would exceed FERRY_MAINTENANCE_MAX_BYTES (load would refuse it). */
gboolean ferry_maintenance_store(const char *state_dir, const FerryMaintenanceState *state, GError **error);
/* Adds @uuid (and @peer_uri, may be NULL) to @state's domains; a @uuid already there gets
 * @peer_uri as its peer instead (it moved on since). */
void ferry_maintenance_add_domain(FerryMaintenanceState *state, const char *uuid, const char *peer_uri);

/* The one line a refused incoming @operation of @domain gets while the host is in
 * maintenance ("virt-ferry: ... host alpha is in maintenance (since ...): virt-ferry
 * maintenance leave"), or NULL when it is not. A state that cannot be read refuses too
 * (the line says why): the hook's failure path refuses. */
char *ferry_maintenance_refusal(const char *state_dir, const char *operation, const char *domain);

G_END_DECLS
