/* Failover (see failover.h): publication of each host's domains on shared storage, and the
 * job that takes a dead host's domains over. */
#include "failover.h"

#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-autoptr.h"
#include "migrate.h"
#include "names.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <string.h>

#define PROBE_SECONDS 5 /* a host whose libvirtd does not answer within this is taken for dead */

/* ------------------------------------------------------------------ publication */

static char *published(const char *dir, const char *host, const char *uuid, const char *suffix)
{
    g_autofree char *file = g_strconcat(uuid, suffix, NULL);
    return g_build_filename(dir, host, file, NULL);
}

static void unpublish(const char *dir, const char *host, const char *uuid)
{
    g_autofree char *xml = published(dir, host, uuid, ".xml");
    g_autofree char *running = published(dir, host, uuid, ".running");
    if ((g_unlink(xml) < 0 && errno != ENOENT) || (g_unlink(running) < 0 && errno != ENOENT))
        g_warning("cannot withdraw domain %s from %s: %s", uuid, dir, g_strerror(errno));
}

void ferry_failover_publish(const char *dir, const char *host, virDomainPtr dom, const char *uuid)
{
    if (!dom || virDomainIsPersistent(dom) != 1) {
        unpublish(dir, host, uuid);
        virResetLastError();
        return;
    }
    g_autofree char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    g_autofree char *host_dir = g_build_filename(dir, host, NULL);
    g_autofree char *path = published(dir, host, uuid, ".xml");
    g_autofree char *running = published(dir, host, uuid, ".running");
    g_autoptr(GError) error = NULL;
    if (!xml) {
        g_warning("cannot publish domain %s: %s", uuid, virGetLastErrorMessage());
        virResetLastError();
        return;
    }
    if (g_mkdir_with_parents(host_dir, 0700) < 0 ||
        !g_file_set_contents_full(path, xml, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) {
        g_warning("cannot publish domain %s in %s: %s", uuid, host_dir, error ? error->message : g_strerror(errno));
        return;
    }
    if (virDomainIsActive(dom) == 1)
        g_file_set_contents(running, "", 0, NULL);
    else
        g_unlink(running);
    virResetLastError();
}

void ferry_failover_publish_all(const char *dir, const char *host, virConnectPtr conn)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(doms[i], uuid) == 0) {
            ferry_failover_publish(dir, host, doms[i], uuid);
            g_hash_table_add(seen, g_strdup(uuid));
        }
        virDomainFree(doms[i]);
    }
    g_free(doms);
    virResetLastError();
    if (n < 0)
        return;
    g_autofree char *host_dir = g_build_filename(dir, host, NULL);
    g_autoptr(GDir) d = g_dir_open(host_dir, 0, NULL);
    for (const char *f = d ? g_dir_read_name(d) : NULL; f; f = g_dir_read_name(d)) {
        g_autofree char *uuid = g_strndup(f, strcspn(f, "."));
        if (!g_hash_table_contains(seen, uuid))
            unpublish(dir, host, uuid);
    }
}

/* ------------------------------------------------------------------ the takeover */

typedef struct {
    char *uri, *dir, *host, *peer_uri;
    GStrv domains;
    gboolean start;
} FailoverCall;

static void failover_call_free(FailoverCall *c)
{
    g_free(c->uri);
    g_free(c->dir);
    g_free(c->host);
    g_free(c->peer_uri);
    g_strfreev(c->domains);
    g_free(c);
}

/* Shared by the caller and the probe thread, which may outlive the caller's patience. */
typedef struct {
    gint refs, done, alive;
    char *uri;
} Probe;

static void probe_unref(Probe *p)
{
    if (g_atomic_int_dec_and_test(&p->refs)) {
        g_free(p->uri);
        g_free(p);
    }
}

static gpointer probe_thread(gpointer data)
{
    Probe *p = data;
    virConnectPtr conn = virConnectOpen(p->uri);
    g_atomic_int_set(&p->alive, conn && virConnectIsAlive(conn) == 1);
    g_atomic_int_set(&p->done, 1);
    if (conn)
        virConnectClose(conn);
    virResetLastError();
    probe_unref(p);
    return NULL;
}

/* Whether the host's libvirtd answers within PROBE_SECONDS. A host cut off from the network
 * holds a connection attempt for minutes; the probe is then left to give up on its own. */
static gboolean host_answers(const char *uri)
{
    Probe *p = g_new0(Probe, 1);
    p->refs = 2;
    p->uri = g_strdup(uri);
    g_thread_unref(g_thread_new("ferry-probe", probe_thread, p));
    for (int i = 0; i < PROBE_SECONDS * 10 && !g_atomic_int_get(&p->done); i++)
        g_usleep(100 * 1000);
    gboolean alive = g_atomic_int_get(&p->done) && g_atomic_int_get(&p->alive);
    probe_unref(p);
    return alive;
}

typedef struct {
    FerryJob *job;
    FailoverCall *call;
    virConnectPtr conn;
    guint started, defined_only, refused;
} Takeover;

static gboolean wanted(const FailoverCall *c, const char *uuid, const char *name)
{
    if (!c->domains || !c->domains[0])
        return TRUE;
    return g_strv_contains((const char *const *)c->domains, uuid) ||
           (name && g_strv_contains((const char *const *)c->domains, name));
}

static void refused(Takeover *t, const char *name, const char *why)
{
    ferry_job_add_step(t->job, name, "failover", t->call->host, why);
    t->refused++;
}

static void take_over(Takeover *t, const char *uuid)
{
    g_autofree char *path = published(t->call->dir, t->call->host, uuid, ".xml");
    g_autofree char *running = published(t->call->dir, t->call->host, uuid, ".running");
    g_autofree char *xml = NULL;
    if (!g_file_get_contents(path, &xml, NULL, NULL))
        return; /* withdrawn meanwhile */
    g_autoptr(FerryDomainXml) def = ferry_domxml_parse(xml, NULL);
    if (!wanted(t->call, uuid, def ? ferry_domxml_name(def) : NULL))
        return;
    g_autoptr(virDomain) existing = virDomainLookupByUUIDString(t->conn, uuid);
    virResetLastError();
    gboolean was_defined = existing != NULL;
    if (existing && virDomainIsActive(existing) == 1) {
        /* Taken over before (or moved here): the dead host's publication is stale. */
        ferry_job_add_step(t->job, virDomainGetName(existing), "failover", t->call->host, "runs here already");
        t->started++;
        unpublish(t->call->dir, t->call->host, uuid);
        return;
    }
    g_autoptr(virDomain) dom = existing ? g_steal_pointer(&existing) : virDomainDefineXML(t->conn, xml);
    if (!dom) {
        g_autofree char *why = g_strdup_printf("not defined here: %s", virGetLastErrorMessage());
        refused(t, uuid, why);
        virResetLastError();
        return;
    }
    const char *name = virDomainGetName(dom);
    if (!t->call->start || !g_file_test(running, G_FILE_TEST_EXISTS)) {
        ferry_job_add_step(t->job, name, "failover", t->call->host, "defined here (it did not run there)");
        t->defined_only++;
    } else if (virDomainCreate(dom) < 0) {
        /* The old host still holds the disks: QEMU's own image lock refuses as it opens them
         * (where the storage passes OFD locks on), and libvirt's lease (virtlockd) when the
         * vCPUs would start, which is when libvirt acquires leases. */
        g_autofree char *why = g_strdup_printf("not started: %s; the domain may still run on %s",
                                               virGetLastErrorMessage(), t->call->host);
        virResetLastError();
        if (!was_defined)
            virDomainUndefine(dom);
        refused(t, name, why);
        return;
    } else {
        ferry_job_add_step(t->job, name, "failover", t->call->host, "runs here");
        t->started++;
    }
    /* It is this host's now: its publication moves here with the next event. */
    unpublish(t->call->dir, t->call->host, uuid);
    virResetLastError();
}

static GPtrArray *published_uuids(const char *dir, const char *host)
{
    g_autofree char *host_dir = g_build_filename(dir, host, NULL);
    g_autoptr(GDir) d = g_dir_open(host_dir, 0, NULL);
    GPtrArray *uuids = g_ptr_array_new_with_free_func(g_free);
    for (const char *f = d ? g_dir_read_name(d) : NULL; f; f = g_dir_read_name(d))
        if (g_str_has_suffix(f, ".xml"))
            g_ptr_array_add(uuids, g_strndup(f, strlen(f) - 4));
    return uuids;
}

static gboolean failover_job(FerryJob *job, gpointer data, GError **error)
{
    FailoverCall *c = data;
    if (c->peer_uri && host_answers(c->peer_uri)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                    "%s answers at %s: it is not dead; migrate its domains instead (virt-ferry migrate)", c->host,
                    c->peer_uri);
        return FALSE;
    }
    g_autoptr(virConnect) conn = virConnectOpen(c->uri);
    if (!conn)
        return ferry_error_from_libvirt(error, "cannot connect to libvirtd at %s", c->uri);
    Takeover t = { .job = job, .call = c, .conn = conn };
    g_autoptr(GPtrArray) uuids = published_uuids(c->dir, c->host);
    for (guint i = 0; i < uuids->len; i++) {
        if (g_cancellable_set_error_if_cancelled(ferry_job_cancellable(job), error))
            return FALSE;
        ferry_job_set_progress(job, (double)i / uuids->len);
        take_over(&t, g_ptr_array_index(uuids, i));
    }
    ferry_job_set_message(job, "%u started, %u defined only, %u refused", t.started, t.defined_only, t.refused);
    if (t.refused && !t.started && !t.defined_only) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "no domain of %s was taken over (the job's steps say why for each)", c->host);
        return FALSE;
    }
    if (t.refused)
        ferry_job_add_note(job, "some domains were not taken over; the job's steps say why");
    return TRUE;
}

FerryJob *ferry_failover_start(FerryJobs *jobs, const FerryConfig *config, const char *host,
                               const char *const *domains, gboolean start, GError **error)
{
    if (!config->failover_dir) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "failover needs [failover] dir= in %s: a directory on storage every host shares, where they "
                    "publish their domains", config->path);
        return NULL;
    }
    if (!ferry_check_host_name(host, "host", error))
        return NULL;
    g_autoptr(GPtrArray) uuids = published_uuids(config->failover_dir, host);
    if (uuids->len == 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                    "host %s published no domains in %s; is that its host name, and did its virt-ferryd run with "
                    "the same [failover] dir=?", host, config->failover_dir);
        return NULL;
    }
    FailoverCall *c = g_new0(FailoverCall, 1);
    c->uri = g_strdup(config->libvirt_uri);
    c->dir = g_strdup(config->failover_dir);
    c->host = g_strdup(host);
    c->peer_uri = ferry_peer_uri(config, host, NULL);
    c->domains = g_strdupv((char **)domains);
    c->start = start;
    return ferry_jobs_start(jobs, "failover", host, NULL, failover_job, c, (GDestroyNotify)failover_call_free,
                            error);
}
