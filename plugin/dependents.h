/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Evacuate's reboot_dependents: once a restarting method (move) has carried a
 * domain over, the running domains that `depends` on it are rebooted, wherever they run
 * (this host or a peer), so that they reconnect to it as they did at their own start. A
 * domain under its own `maintenance` mark is never rebooted (org.virtferry.Ferry1(5)).
 *
 * A reboot is a graceful shutdown, forced off after the same timeout a move gives a guest
 * (FERRY_MOVE_SHUTDOWN_TIMEOUT), then a start: libvirt's virDomainReboot only asks the guest
 * (ACPI or its agent), and a guest that ignores the request would quietly keep running on
 * with a stale view of the domain it depends on. */
#pragma once

#include <libvirt/libvirt.h>

#include "policy.h"

G_BEGIN_DECLS

typedef struct {
    const char *name;
    const char *host;             /* where it runs, for the job's step */
    gboolean running;
    const FerryPolicy *policy;    /* NULL: the empty policy */
} FerryDependent;

typedef enum {
    FERRY_DEPENDENT_REBOOT,
    FERRY_DEPENDENT_MAINTENANCE,  /* depends on it, under its own maintenance mark: left alone */
    FERRY_DEPENDENT_OWN_MOVE,     /* depends on it, and this evacuation restarts it anyway */
} FerryDependentVerdict;

typedef struct {
    guint index;                  /* into the candidates */
    FerryDependentVerdict verdict;
} FerryDependentChoice;

/* Which of @candidates depend on @moved (running ones only, @moved itself never), each with
 * its verdict, in the candidates' order. @restarted_later: domains the caller restarts anyway
 * after this (NULL: none). A GArray of FerryDependentChoice. Pure. */
GArray *ferry_dependents_select(const char *moved, const FerryDependent *candidates, guint n,
                                const char *const *restarted_later);

/* The running domains of @conn with their policies, as candidates on @host. The array owns
 * the names and policies it points to: free it with ferry_dependents_free. */
typedef struct _FerryDependents FerryDependents;
FerryDependents *ferry_dependents_new(void);
gboolean ferry_dependents_read(FerryDependents *into, virConnectPtr conn, const char *host, GError **error);
const FerryDependent *ferry_dependents_get(FerryDependents *deps, guint *n);
void ferry_dependents_free(FerryDependents *deps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryDependents, ferry_dependents_free)

/* Shuts @name down on @conn (forced off after @timeout_s), then starts it. */
gboolean ferry_dependent_reboot(virConnectPtr conn, const char *name, guint timeout_s, GError **error);

G_END_DECLS
