/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An evacuation's journal and its crash recovery (see evacuate-journal.h). One entry per
 * evacuation; per domain the keys <uuid>.name, .method, .target, .target-uri, .running,
 * .phase and .failure, and the list `domains` in the plan's order. */
#include "evacuate-journal.h"

#include "job.h"
#include "libvirt-autoptr.h"
#include "libvirt-open.h"
#include "migrate.h"

#include <libvirt/virterror.h>

/* A peer-to-peer migration libvirtd carries on alone after its client was killed: a TCG
 * guest of a few GiB takes minutes. */
#define RECOVER_JOB_WAIT_S 600

static char *key(const char *uuid, const char *field)
{
    return g_strdup_printf("%s.%s", uuid, field);
}

static void set_field(FerryJournal *j, const char *uuid, const char *field, const char *value)
{
    g_autofree char *k = key(uuid, field);
    ferry_journal_set(j, k, value);
}

static char *get_field(FerryJournal *j, const char *uuid, const char *field)
{
    g_autofree char *k = key(uuid, field);
    return ferry_journal_get(j, k);
}

FerryJournal *ferry_evacuation_journal_create(const char *state_dir, GError **error)
{
    g_autofree char *id = g_strdup_printf("%" G_GINT64_FORMAT, g_get_real_time());
    return ferry_journal_create(state_dir, ferry_job_kind_name(FERRY_JOB_EVACUATE), id, error);
}

void ferry_evacuation_journal_queue(FerryJournal *j, const char *uuid, const char *name, const char *method,
                                    const char *target, const char *target_uri, gboolean running)
{
    ferry_journal_append(j, "domains", uuid);
    set_field(j, uuid, "name", name);
    set_field(j, uuid, "method", method);
    set_field(j, uuid, "target", target);
    set_field(j, uuid, "target-uri", target_uri);
    set_field(j, uuid, "running", running ? "true" : "false");
    set_field(j, uuid, "phase", FERRY_EVAC_QUEUED);
}

gboolean ferry_evacuation_journal_phase(FerryJournal *j, const char *uuid, const char *phase, const char *failure,
                                        GError **error)
{
    set_field(j, uuid, "phase", phase);
    set_field(j, uuid, "failure", failure);
    return ferry_journal_commit(j, error);
}

gboolean ferry_evacuation_journal_image(FerryJournal *j, const char *uuid, const char *path, GError **error)
{
    g_autofree char *k = key(uuid, "created");
    ferry_journal_append(j, k, path);
    return ferry_journal_commit(j, error);
}

/* ------------------------------------------------------------------ the decision */

static gboolean runs(const FerryEvacSide *s)
{
    return s->active && !s->paused;
}

/* The copy on @keep's side wins: the other one's active copy and definition go. */
static guint drop_other(const FerryEvacSide *other, guint destroy, guint undefine)
{
    return (other->active ? destroy : 0) | (other->defined ? undefine : 0);
}

FerryEvacResolution ferry_evacuation_resolve(const FerryEvacSide *here, const FerryEvacSide *there,
                                             gboolean was_running)
{
    FerryEvacResolution r = { FERRY_EVAC_RUNS_HERE, 0 };
    if (runs(here) && runs(there)) {
        r.where = FERRY_EVAC_CONFLICT; /* which one has the guest's latest writes is not ours to guess */
    } else if (runs(there)) {
        r.where = FERRY_EVAC_RUNS_THERE;
        r.actions = drop_other(here, FERRY_EVAC_DESTROY_HERE, FERRY_EVAC_UNDEFINE_HERE);
    } else if (runs(here)) {
        r.actions = drop_other(there, FERRY_EVAC_DESTROY_THERE, FERRY_EVAC_UNDEFINE_THERE);
    } else if (here->active) {
        /* Paused here, not running there: a live migration stopped before the target took over. */
        r.actions = drop_other(there, FERRY_EVAC_DESTROY_THERE, FERRY_EVAC_UNDEFINE_THERE) | FERRY_EVAC_RESUME_HERE;
    } else if (there->active) {
        /* The source is gone and the target paused: the switch-over happened, its resume did not. */
        r.where = FERRY_EVAC_RUNS_THERE;
        r.actions = drop_other(here, 0, FERRY_EVAC_UNDEFINE_HERE) | FERRY_EVAC_RESUME_THERE;
    } else if (here->defined) {
        r.actions = drop_other(there, 0, FERRY_EVAC_UNDEFINE_THERE) | (was_running ? FERRY_EVAC_START_HERE : 0);
    } else if (there->defined) {
        r.where = FERRY_EVAC_RUNS_THERE;
        r.actions = was_running ? FERRY_EVAC_START_THERE : 0;
    } else {
        r.where = FERRY_EVAC_LOST;
    }
    return r;
}

/* ------------------------------------------------------------------ recovery */

typedef struct {
    virDomainPtr dom;
    FerryEvacSide side;
} Side;

static void side_clear(Side *s)
{
    g_clear_pointer(&s->dom, virDomainFree);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Side, side_clear)

static void read_side(virConnectPtr conn, const char *uuid, Side *s)
{
    s->dom = conn ? virDomainLookupByUUIDString(conn, uuid) : NULL;
    virResetLastError();
    if (!s->dom)
        return;
    ferry_domain_wait_job_end(s->dom, RECOVER_JOB_WAIT_S);
    /* Still at it (a migration that does not converge, with no watcher left to stop it): stopped
     * here, so that the source keeps the guest. No job: libvirt says so, nothing changes. */
    if (virDomainAbortJob(s->dom) == 0)
        ferry_domain_wait_job_end(s->dom, 60);
    virResetLastError();
    int state = VIR_DOMAIN_NOSTATE, reason = 0;
    if (virDomainGetState(s->dom, &state, &reason, 0) < 0) {
        virResetLastError(); /* gone meanwhile (a transient copy libvirt cleaned up) */
        g_clear_pointer(&s->dom, virDomainFree);
        return;
    }
    s->side.defined = TRUE;
    s->side.active = virDomainIsActive(s->dom) == 1;
    s->side.paused = state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED;
}

static void act(int rc, GString *done, const char *what, const char *name, const char *host)
{
    if (rc < 0)
        g_warning("recovering the evacuation of %s: cannot %s it on %s: %s", name, what, host,
                  virGetLastErrorMessage());
    else
        g_string_append_printf(done, "%s%s on %s", done->len ? ", " : "", what, host);
    virResetLastError();
}

static int undefine(virDomainPtr dom)
{
    if (virDomainIsPersistent(dom) != 1)
        return 0; /* a transient copy went with its destroy */
    return virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA);
}

/* Carries @actions out; what was done goes to @done, for the log ("destroyed on beta,
 * resumed on this host"). */
static void apply(guint actions, Side *here, Side *there, const char *name, const char *target, GString *done)
{
    if (actions & FERRY_EVAC_DESTROY_THERE)
        act(virDomainDestroy(there->dom), done, "destroyed", name, target);
    if (actions & FERRY_EVAC_UNDEFINE_THERE)
        act(undefine(there->dom), done, "undefined", name, target);
    if (actions & FERRY_EVAC_DESTROY_HERE)
        act(virDomainDestroy(here->dom), done, "destroyed", name, "this host");
    if (actions & FERRY_EVAC_UNDEFINE_HERE)
        act(undefine(here->dom), done, "undefined", name, "this host");
    if (actions & FERRY_EVAC_RESUME_HERE)
        act(virDomainResume(here->dom), done, "resumed", name, "this host");
    if (actions & FERRY_EVAC_START_HERE)
        act(virDomainCreate(here->dom), done, "started", name, "this host");
    if (actions & FERRY_EVAC_RESUME_THERE)
        act(virDomainResume(there->dom), done, "resumed", name, target);
    if (actions & FERRY_EVAC_START_THERE)
        act(virDomainCreate(there->dom), done, "started", name, target);
}

typedef struct {
    const char *id;
    virConnectPtr here;
    GHashTable *peers;  /* URI -> virConnectPtr, or no entry when it cannot be reached */
    GHashTable *failed; /* URI -> why it cannot be reached */
    guint queued, moved, failed_moves, settled, kept;
} Recovery;

static void connection_close(gpointer conn)
{
    virConnectClose(conn);
}

static virConnectPtr peer(Recovery *rc, const char *uri, const char **why)
{
    *why = g_hash_table_lookup(rc->failed, uri);
    if (*why)
        return NULL;
    virConnectPtr conn = g_hash_table_lookup(rc->peers, uri);
    if (conn)
        return conn;
    g_autoptr(GError) error = NULL;
    conn = ferry_libvirt_open(uri, &error);
    if (!conn) {
        g_hash_table_insert(rc->failed, g_strdup(uri), g_strdup(error->message));
        *why = g_hash_table_lookup(rc->failed, uri);
        return NULL;
    }
    g_hash_table_insert(rc->peers, g_strdup(uri), conn);
    return conn;
}

static const char *where_text(FerryEvacWhere where)
{
    switch (where) {
    case FERRY_EVAC_RUNS_HERE:
        return "it stays on this host";
    case FERRY_EVAC_RUNS_THERE:
        return "it is on the target";
    case FERRY_EVAC_CONFLICT:
        return "it RUNS ON BOTH HOSTS: left alone, stop the copy whose disks are stale by hand";
    default:
        return "it is DEFINED NOWHERE: restore it from an archive";
    }
}

/* The images the cut-short move had created on its target, whose domain stays here: the
 * target's copies of its disks, partial and of no use. Only those it created (never a file
 * that was there before: creating one fails then). */
static void remove_copies(virConnectPtr target_conn, GPtrArray *images, GString *done, const char *name,
                          const char *target)
{
    if (!images->len)
        return;
    if (ferry_migrate_remove_images(target_conn, images, FALSE))
        g_string_append_printf(done, "%sremoved %u partial disk copies on %s", done->len ? ", " : "", images->len,
                               target);
    else
        g_warning("recovering the evacuation of %s: the partial disk copies it made on %s could not all be removed "
                  "(the log names them): remove them by hand", name, target);
}

/* A move under way at the kill: settled. FALSE: its target cannot be read and the domain does
 * not run here, so the entry stays for the next start. */
static gboolean settle(Recovery *rc, const char *uuid, const char *name, const char *target, const char *uri,
                       gboolean was_running, GPtrArray *images)
{
    g_auto(Side) here = { 0 }, there = { 0 };
    const char *why = NULL;
    virConnectPtr conn = peer(rc, uri, &why);
    read_side(rc->here, uuid, &here);
    read_side(conn, uuid, &there);
    if (!conn && !runs(&here.side)) {
        g_critical("recovered evacuation %s: %s was moving to %s, which cannot be reached (%s), and it does not "
                   "run here: left as it is, retried at the next start", rc->id, name, target, why);
        return FALSE;
    }
    FerryEvacResolution r = ferry_evacuation_resolve(&here.side, &there.side, was_running);
    g_autoptr(GString) done = g_string_new(NULL);
    apply(r.actions, &here, &there, name, target, done);
    if (r.where == FERRY_EVAC_RUNS_HERE && conn)
        remove_copies(conn, images, done, name, target);
    GLogLevelFlags level = r.where == FERRY_EVAC_RUNS_HERE || r.where == FERRY_EVAC_RUNS_THERE ? G_LOG_LEVEL_MESSAGE
                                                                                             : G_LOG_LEVEL_CRITICAL;
    g_log(G_LOG_DOMAIN, level, "recovered evacuation %s: %s was moving to %s when virt-ferryd stopped: %s%s%s%s%s",
          rc->id, name, target, where_text(r.where), done->len ? " (" : "", done->str, done->len ? ")" : "",
          conn ? "" : "; its target cannot be reached to check that no copy is left there");
    rc->settled++;
    return TRUE;
}

static gboolean recover_domain(Recovery *rc, FerryJournal *j, const char *uuid)
{
    g_autofree char *name = get_field(j, uuid, "name"), *target = get_field(j, uuid, "target");
    g_autofree char *uri = get_field(j, uuid, "target-uri"), *phase = get_field(j, uuid, "phase");
    g_autofree char *running = get_field(j, uuid, "running"), *failure = get_field(j, uuid, "failure");
    g_autofree char *method = get_field(j, uuid, "method");
    if (!name || !target || !uri || !phase) {
        g_warning("recovered evacuation %s: domain %s has an incomplete journal record; left alone", rc->id, uuid);
        return TRUE;
    }
    if (g_str_equal(phase, FERRY_EVAC_MOVING)) {
        g_autofree char *images_key = key(uuid, "created");
        g_auto(GStrv) created = ferry_journal_get_list(j, images_key);
        g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func(g_free);
        for (char **p = created; *p; p++)
            g_ptr_array_add(images, g_strdup(*p));
        return settle(rc, uuid, name, target, uri, g_strcmp0(running, "true") == 0, images);
    }
    if (g_str_equal(phase, FERRY_EVAC_MOVED)) {
        rc->moved++;
        g_message("recovered evacuation %s: %s had moved to %s (%s)", rc->id, name, target, method);
    } else if (g_str_equal(phase, FERRY_EVAC_FAILED)) {
        rc->failed_moves++;
        g_message("recovered evacuation %s: %s had failed to move to %s (%s): it stays on this host", rc->id, name,
                  target, failure ? failure : "no reason recorded");
    } else {
        rc->queued++;
        g_message("recovered evacuation %s: %s was queued for %s and not started: it stays on this host", rc->id,
                  name, target);
    }
    return TRUE;
}

void ferry_evacuation_recover_journal(const FerryConfig *config, virConnectPtr conn, FerryJournal *j)
{
    Recovery rc = {
        .id = ferry_journal_id(j),
        .here = conn,
        .peers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, connection_close),
        .failed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free),
    };
    g_auto(GStrv) uuids = ferry_journal_get_list(j, "domains");
    for (char **u = uuids; *u; u++)
        rc.kept += !recover_domain(&rc, j, *u);
    g_message("recovered evacuation %s, interrupted by virt-ferryd's stop: %u domains; %u had moved, %u moves had "
              "failed, %u were under way and are settled, %u had not started%s",
              rc.id, g_strv_length(uuids), rc.moved, rc.failed_moves, rc.settled, rc.queued,
              rc.kept ? "; some wait for an unreachable target (journal kept)" : "");
    g_hash_table_unref(rc.peers);
    g_hash_table_unref(rc.failed);
    if (!rc.kept)
        ferry_journal_remove(j);
}
