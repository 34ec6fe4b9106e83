/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The restore lock: one file per domain UUID in the (shared) archive library, so that two
 * hosts never restore the same domain at once. Created with O_CREAT|O_EXCL (atomic on local
 * file systems and on NFS), never with flock, which does not reach across hosts. The file
 * says who holds it (host name, libvirt host UUID, boot id, pid and the pid's start time) and
 * carries a heartbeat the holder rewrites while its restore runs.
 *
 * A lock left by a crash is taken over only when it is provably stale:
 * - held on this host: its boot is over, or its process is gone (pid and start time);
 * - held on another host: that host's libvirt answers (the caller's @owner_check) that the
 *   domain does not run there, and the heartbeat does not move for three beats;
 * - or the caller breaks it explicitly (an administrator who knows the holder's host is
 *   down for good), never while it is held by a live process on this host.
 * Otherwise the lock is Busy, naming its holder. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_RESTORE_LOCK_DIR ".restore-locks"
#define FERRY_RESTORE_LOCK_BEAT_SECONDS 5

typedef struct {
    char *token;        /* random, this holding's own */
    char *host, *host_uuid, *boot_id;
    gint64 pid;
    guint64 pid_start;  /* /proc/<pid>/stat start time (clock ticks after boot) */
    gint64 started;     /* unix usec */
    char *archive, *domain;
    guint64 beat;
} FerryRestoreLockHolder;

void ferry_restore_lock_holder_free(FerryRestoreLockHolder *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryRestoreLockHolder, ferry_restore_lock_holder_free)

/* Asked about a lock held on another host: TRUE when that host answered that nothing of the
 * domain runs there; FALSE with @error saying why not (unreachable, running there). */
typedef gboolean (*FerryRestoreLockOwnerCheck)(const FerryRestoreLockHolder *holder, gpointer data, GError **error);

typedef struct {
    const char *library;        /* the archive library; the locks live in its FERRY_RESTORE_LOCK_DIR */
    const char *domain_uuid;
    const char *archive_id;
    const char *host, *host_uuid; /* who takes it: this host's name and libvirt host UUID */
    guint beat_seconds;         /* 0: FERRY_RESTORE_LOCK_BEAT_SECONDS */
    gboolean break_lock;        /* take over a lock of another host without asking */
    FerryRestoreLockOwnerCheck owner_check; /* NULL: another host's lock is never taken over unasked */
    gpointer owner_check_data;
} FerryRestoreLockRequest;

typedef struct _FerryRestoreLock FerryRestoreLock;

/* Takes the lock for @req->domain_uuid (taking over a stale one). Busy naming the holder and
 * how to clear it; Failed when the lock directory is unsafe (not root's, or writable by
 * others) or cannot be written. */
FerryRestoreLock *ferry_restore_lock_acquire(const FerryRestoreLockRequest *req, GError **error);
/* Whether the lock file is still this holding's (a holder frozen long enough may have been
 * taken over): Busy naming the new holder when not. */
gboolean ferry_restore_lock_check(FerryRestoreLock *lock, GError **error);
/* Removes the lock file if it is still this holding's, and frees @lock. */
void ferry_restore_lock_release(FerryRestoreLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryRestoreLock, ferry_restore_lock_release)

/* The holder of @domain_uuid's lock in @library, or NULL (NotFound when there is none). */
FerryRestoreLockHolder *ferry_restore_lock_read(const char *library, const char *domain_uuid, GError **error);
/* Removes the locks this host (@host_uuid) left behind: those of processes that are gone.
 * Called when virt-ferryd starts, after its journal rolled their restores back. */
void ferry_restore_lock_sweep(const char *library, const char *host_uuid);

G_END_DECLS
