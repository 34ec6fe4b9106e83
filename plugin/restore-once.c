/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A domain restored once (see restore-once.h). The peers are asked through libvirt only: with
 * no manager, what the hosts share is their libvirt and the library. */
#include "restore-once.h"

#include "archive.h"
#include "archive-util.h"

#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-open.h"
#include "libvirt-autoptr.h"
#include "xml-read.h"

#include <libvirt/virterror.h>
#include <libxml/tree.h>

/* What one host's libvirt said of the domain. */
typedef struct {
    char *uri;                  /* NULL: this host */
    gboolean answered;
    char *error;                /* why it did not answer */
    char *hostname, *host_uuid;
    gboolean defined, active, pending;
    char *name;
} Answer;

static void answer_clear(Answer *a)
{
    g_free(a->uri);
    g_free(a->error);
    g_free(a->hostname);
    g_free(a->host_uuid);
    g_free(a->name);
}

static void answer_copy(Answer *dst, const Answer *src)
{
    *dst = *src;
    dst->uri = g_strdup(src->uri);
    dst->error = g_strdup(src->error);
    dst->hostname = g_strdup(src->hostname);
    dst->host_uuid = g_strdup(src->host_uuid);
    dst->name = g_strdup(src->name);
}

static const char *answer_host(const Answer *a)
{
    return a->hostname ? a->hostname : a->uri ? a->uri : "this host";
}

static xmlNodePtr child_elem(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && g_str_equal((const char *)c->name, name))
            return c;
    return NULL;
}

/* This host's libvirt host UUID (capabilities), or NULL with libvirt's error. */
static char *libvirt_host_uuid(virConnectPtr conn, GError **error)
{
    g_autofree char *caps = virConnectGetCapabilities(conn);
    if (!caps) {
        ferry_error_from_libvirt(error, "cannot read the host's capabilities");
        return NULL;
    }
    xmlDocPtr doc = ferry_xml_read(caps, "the host's capabilities", "capabilities", error);
    if (!doc)
        return NULL;
    xmlNodePtr uuid = child_elem(child_elem(xmlDocGetRootElement(doc), "host"), "uuid");
    xmlChar *text = uuid ? xmlNodeGetContent(uuid) : NULL;
    char *copy = text ? g_strstrip(g_strdup((const char *)text)) : NULL;
    xmlFree(text);
    xmlFreeDoc(doc);
    if (!copy)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "the host's capabilities name no host UUID");
    return copy;
}

/* Asks @conn's host about domain @uuid. */
static void ask(virConnectPtr conn, const char *uuid, Answer *a)
{
    g_autoptr(GError) error = NULL;
    a->hostname = virConnectGetHostname(conn);
    a->host_uuid = libvirt_host_uuid(conn, &error);
    if (!a->hostname || !a->host_uuid) {
        a->error = g_strdup(error ? error->message : virGetLastErrorMessage());
        virResetLastError();
        return;
    }
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, uuid);
    if (!dom && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) {
        a->error = g_strdup(virGetLastErrorMessage());
        virResetLastError();
        return;
    }
    virResetLastError();
    a->answered = TRUE;
    if (!dom)
        return;
    a->defined = TRUE;
    a->name = g_strdup(virDomainGetName(dom));
    int active = virDomainIsActive(dom);
    /* A domain whose state cannot be read is taken as running: refusing is the safe side. */
    a->active = active != 0;
    g_autofree char *mark = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_ARCHIVE_NS,
                                                 VIR_DOMAIN_AFFECT_CONFIG);
    a->pending = mark && ferry_archived_mark_parse(mark, NULL, NULL, NULL);
    virResetLastError();
}

/* ------------------------------------------------------------------ the peers, at once */

/* Shared by the caller and the threads, which may outlive the caller's patience (a host cut
 * off from the network holds a connection attempt for minutes). */
typedef struct {
    gint refs;
    GMutex mutex;
    GCond cond;
    guint waiting;
    char *uuid;
    GArray *answers;            /* Answer, one per peer, filled when done */
    GArray *done;               /* gboolean */
} Asking;

typedef struct {
    Asking *asking;
    guint index;
} AskingPeer;

static void asking_unref(Asking *s)
{
    if (!g_atomic_int_dec_and_test(&s->refs))
        return;
    for (guint i = 0; i < s->answers->len; i++)
        answer_clear(&g_array_index(s->answers, Answer, i));
    g_array_unref(s->answers);
    g_array_unref(s->done);
    g_mutex_clear(&s->mutex);
    g_cond_clear(&s->cond);
    g_free(s->uuid);
    g_free(s);
}

static gpointer ask_thread(gpointer data)
{
    AskingPeer *p = data;
    Asking *s = p->asking;
    Answer a = { 0 };
    g_mutex_lock(&s->mutex);
    a.uri = g_strdup(g_array_index(s->answers, Answer, p->index).uri);
    g_mutex_unlock(&s->mutex);
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = ferry_libvirt_open(a.uri, &error);
    if (conn)
        ask(conn, s->uuid, &a);
    else
        a.error = g_strdup(error->message);
    if (conn)
        virConnectClose(conn);
    virResetLastError();
    g_mutex_lock(&s->mutex);
    answer_clear(&g_array_index(s->answers, Answer, p->index));
    g_array_index(s->answers, Answer, p->index) = a;
    g_array_index(s->done, gboolean, p->index) = TRUE;
    s->waiting--;
    g_cond_signal(&s->cond);
    g_mutex_unlock(&s->mutex);
    asking_unref(s);
    g_free(p);
    return NULL;
}

/* Every peer's answer about @uuid, within FERRY_PEER_ASK_SECONDS (GArray of Answer). */
static GArray *ask_peers(const char *const *peers, const char *uuid)
{
    Asking *s = g_new0(Asking, 1);
    s->refs = 1;
    g_mutex_init(&s->mutex);
    g_cond_init(&s->cond);
    s->uuid = g_strdup(uuid);
    s->answers = g_array_new(FALSE, TRUE, sizeof(Answer));
    s->done = g_array_new(FALSE, TRUE, sizeof(gboolean));
    guint n = peers ? g_strv_length((char **)peers) : 0;
    g_array_set_size(s->answers, n);
    g_array_set_size(s->done, n);
    for (guint i = 0; i < n; i++)
        g_array_index(s->answers, Answer, i).uri = g_strdup(peers[i]);
    s->waiting = n;
    for (guint i = 0; i < n; i++) {
        AskingPeer *p = g_new0(AskingPeer, 1);
        p->asking = s;
        p->index = i;
        g_atomic_int_inc(&s->refs);
        g_thread_unref(g_thread_new("ferry-ask-peer", ask_thread, p));
    }
    GArray *answers = g_array_new(FALSE, TRUE, sizeof(Answer));
    g_array_set_clear_func(answers, (GDestroyNotify)answer_clear);
    gint64 until = g_get_monotonic_time() + FERRY_PEER_ASK_SECONDS * G_TIME_SPAN_SECOND;
    g_mutex_lock(&s->mutex);
    while (s->waiting > 0 && g_cond_wait_until(&s->cond, &s->mutex, until))
        ;
    for (guint i = 0; i < n; i++) {
        Answer copy;
        answer_copy(&copy, &g_array_index(s->answers, Answer, i));
        if (!g_array_index(s->done, gboolean, i))
            copy.error = g_strdup_printf("no answer within %d s", FERRY_PEER_ASK_SECONDS);
        g_array_append_val(answers, copy);
    }
    g_mutex_unlock(&s->mutex);
    asking_unref(s);
    return answers;
}

/* ------------------------------------------------------------------ the lock's owner */

typedef struct {
    const FerryRestoreOnceRequest *req;
} OwnerCheck;

/* Whether the host that holds the lock answers, among the peers, that the domain does not run
 * there. */
static gboolean owner_says_not_running(const FerryRestoreLockHolder *holder, gpointer data, GError **error)
{
    OwnerCheck *c = data;
    g_autoptr(GArray) answers = ask_peers(c->req->peers, holder->domain);
    for (guint i = 0; i < answers->len; i++) {
        const Answer *a = &g_array_index(answers, Answer, i);
        if (!a->answered || g_strcmp0(a->host_uuid, holder->host_uuid) != 0)
            continue;
        if (a->active) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY, "the domain runs there as %s", a->name);
            return FALSE;
        }
        return TRUE;
    }
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NETWORK_UNAVAILABLE,
                "that host is not among the peers that answered (host UUID %s)", holder->host_uuid);
    return FALSE;
}

/* ------------------------------------------------------------------ the check */

static gboolean runs_there(const Answer *a, const FerryRestoreOnceRequest *req, GError **error)
{
    if (!a->active)
        return FALSE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                "domain %s (UUID %s) runs on %s%s%s%s as %s: restoring its archive %s would run it twice; stop it "
                "there first, or restore a copy with a new UUID and new MACs (copy option, with a name)",
                req->domain_name, req->domain_uuid, answer_host(a), a->uri ? " (" : "", a->uri ? a->uri : "",
                a->uri ? ")" : "", a->name, req->archive_id);
    return TRUE;
}

static void note_defined(const Answer *a, const FerryRestoreOnceRequest *req, GPtrArray *notes)
{
    /* Pending deletion is what an archive leaves on its source host: expected. */
    if (!a->defined || a->active || a->pending)
        return;
    g_ptr_array_add(notes, g_strdup_printf("domain %s is also defined (shut off) on %s as %s: start only one of them",
                                           req->domain_name, answer_host(a), a->name));
}

static gboolean check_peers(const FerryRestoreOnceRequest *req, GPtrArray *notes, GError **error)
{
    g_autoptr(GArray) answers = ask_peers(req->peers, req->domain_uuid);
    g_autoptr(GPtrArray) unasked = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < answers->len; i++) {
        const Answer *a = &g_array_index(answers, Answer, i);
        if (!a->answered) {
            g_ptr_array_add(unasked, g_strdup_printf("%s (%s)", a->uri, a->error ? a->error : "no answer"));
            continue;
        }
        if (runs_there(a, req, error))
            return FALSE;
        note_defined(a, req, notes);
    }
    if (unasked->len == 0)
        return TRUE;
    g_ptr_array_add(unasked, NULL);
    g_autofree char *list = g_strjoinv(", ", (char **)unasked->pdata);
    if (!req->ignore_unreachable) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NETWORK_UNAVAILABLE,
                    "cannot ask peer %s whether domain %s runs there; if that host is down, restore with the "
                    "ignore_unreachable option (virt-ferry restore --ignore-unreachable)", list, req->domain_name);
        return FALSE;
    }
    g_ptr_array_add(notes, g_strdup_printf("not asked whether %s runs there, as requested: %s", req->domain_name, list));
    return TRUE;
}

FerryRestoreLock *ferry_restore_once_begin(virConnectPtr conn, const FerryRestoreOnceRequest *req, GPtrArray *notes,
                                           GError **error)
{
    Answer here = { 0 };
    ask(conn, req->domain_uuid, &here);
    if (!here.answered) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot ask this host's libvirt about domain %s: %s",
                    req->domain_name, here.error);
        answer_clear(&here);
        return NULL;
    }
    OwnerCheck check = { .req = req };
    FerryRestoreLockRequest lock_req = {
        .library = req->library,
        .domain_uuid = req->domain_uuid,
        .archive_id = req->archive_id,
        .host = here.hostname,
        .host_uuid = here.host_uuid,
        .break_lock = req->break_lock,
        .owner_check = owner_says_not_running,
        .owner_check_data = &check,
    };
    g_autoptr(FerryRestoreLock) lock = ferry_restore_lock_acquire(&lock_req, error);
    /* Asked again under the lock: a restore that finished meanwhile has its domain running. */
    answer_clear(&here);
    here = (Answer){ 0 };
    if (lock)
        ask(conn, req->domain_uuid, &here);
    gboolean ok = lock && !runs_there(&here, req, error) && check_peers(req, notes, error);
    answer_clear(&here);
    return ok ? g_steal_pointer(&lock) : NULL;
}

void ferry_restore_locks_sweep(const FerryConfig *config)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = ferry_libvirt_open(config->libvirt_uri, &error);
    g_autofree char *host_uuid = conn ? libvirt_host_uuid(conn, &error) : NULL;
    if (!host_uuid) {
        g_warning("cannot look for restore locks this host left behind: %s", error->message);
        return;
    }
    ferry_restore_lock_sweep(config->archive_library, host_uuid);
}
