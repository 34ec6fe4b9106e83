/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Failover (see failover.h): publication of each host's domains on shared storage, and the
 * job that takes a dead host's domains over. */
#include "failover.h"
#include "libvirt-open.h"

#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-autoptr.h"
#include "migrate.h"
#include "names.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROBE_SECONDS 5 /* a host whose libvirtd does not answer within this is taken for dead */

/* ------------------------------------------------------------------ the shared directory */

/* Every host trusts what the others publish (it defines it as root) and the XML holds the
 * domain's secrets (VIR_DOMAIN_XML_SECURE): only root may change or read the directories. */
static gboolean check_private_dir(int fd, const char *path, GError **error)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot check %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "%s is %s (owner uid %u, mode %04o): failover publishes domain definitions, secrets included, "
                    "and defines them as root, so only root may write there (chown root; chmod go-w)",
                    path, st.st_uid != 0 ? "not owned by root" : "writable by others than root",
                    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return FALSE;
    }
    return TRUE;
}

/* <dir>/<host>, opened without following a link at <host>, once both directories passed
 * check_private_dir; -1 with @error else (NotFound when it does not exist). */
static int open_publication_dir(const char *dir, const char *host, GError **error)
{
    int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        g_set_error(error, FERRY_ERROR, errno == ENOENT ? FERRY_ERROR_NOT_FOUND : FERRY_ERROR_FAILED,
                    "cannot open the failover directory %s: %s", dir, g_strerror(errno));
        return -1;
    }
    g_autofree char *host_dir = g_build_filename(dir, host, NULL);
    int host_fd = -1;
    if (check_private_dir(dir_fd, dir, error)) {
        host_fd = openat(dir_fd, host, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (host_fd < 0)
            g_set_error(error, FERRY_ERROR, errno == ENOENT ? FERRY_ERROR_NOT_FOUND : FERRY_ERROR_FAILED,
                        "cannot open %s: %s", host_dir,
                        errno == ENOTDIR || errno == ELOOP ? "not a directory (or a symbolic link)" : g_strerror(errno));
        else if (!check_private_dir(host_fd, host_dir, error)) {
            close(host_fd);
            host_fd = -1;
        }
    }
    close(dir_fd);
    return host_fd;
}

/* The UUID's 32 hex digits, lower case: libvirt takes them with or without dashes. */
static char *uuid_digits(const char *uuid)
{
    GString *s = g_string_new(NULL);
    for (const char *p = uuid; p && *p; p++)
        if (*p != '-')
            g_string_append_c(s, g_ascii_tolower(*p));
    return g_string_free(s, FALSE);
}

/* Reads <uuid>.xml in the publication directory @host_fd: a regular file (not a link, a FIFO
 * or a device), at most FERRY_FAILOVER_XML_MAX bytes, a domain XML whose <uuid> is the one
 * its name says. NotFound when it is gone (withdrawn meanwhile). */
static char *read_published_at(int host_fd, const char *host, const char *uuid, FerryDomainXml **def_out,
                               GError **error)
{
    if (!g_uuid_string_is_valid(uuid)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s published %s.xml: its name is not a domain UUID", host, uuid);
        return NULL;
    }
    g_autofree char *name = g_strconcat(uuid, ".xml", NULL);
    int fd = openat(host_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        g_set_error(error, FERRY_ERROR, errno == ENOENT ? FERRY_ERROR_NOT_FOUND : FERRY_ERROR_FAILED,
                    "cannot read %s's %s: %s", host, name,
                    errno == ELOOP ? "it is a symbolic link" : g_strerror(errno));
        return NULL;
    }
    struct stat st;
    g_autoptr(GString) xml = g_string_new(NULL);
    gboolean ok = fstat(fd, &st) == 0;
    if (!ok)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot check %s's %s: %s", host, name, g_strerror(errno));
    else if (!S_ISREG(st.st_mode) || st.st_size > FERRY_FAILOVER_XML_MAX) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%s's %s is %s", host, name,
                    S_ISREG(st.st_mode) ? "too large for a domain definition" : "not a regular file");
        ok = FALSE;
    }
    while (ok) {
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || xml->len + n > FERRY_FAILOVER_XML_MAX) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot read %s's %s: %s", host, name,
                        n < 0 ? g_strerror(errno) : "it grew too large for a domain definition");
            ok = FALSE;
        } else if (n == 0) {
            break;
        } else {
            g_string_append_len(xml, buf, n);
        }
    }
    close(fd);
    if (!ok)
        return NULL;
    if (strlen(xml->str) != xml->len) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "%s's %s holds a NUL byte", host, name);
        return NULL;
    }
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(FerryDomainXml) def = ferry_domxml_parse(xml->str, &parse_error);
    if (!def) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "%s's %s: %s", host, name, parse_error->message);
        return NULL;
    }
    g_autofree char *want = uuid_digits(uuid);
    g_autofree char *got = uuid_digits(ferry_domxml_uuid(def));
    if (g_strcmp0(want, got) != 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s's %s defines domain UUID %s, not the one its name says", host, name,
                    ferry_domxml_uuid(def) ? ferry_domxml_uuid(def) : "(none)");
        return NULL;
    }
    if (def_out)
        *def_out = g_steal_pointer(&def);
    return g_string_free(g_steal_pointer(&xml), FALSE);
}

char *ferry_failover_read_published(const char *dir, const char *host, const char *uuid, GError **error)
{
    int host_fd = open_publication_dir(dir, host, error);
    if (host_fd < 0)
        return NULL;
    char *xml = read_published_at(host_fd, host, uuid, NULL, error);
    close(host_fd);
    return xml;
}

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
    if (g_mkdir_with_parents(host_dir, 0700) < 0) {
        g_warning("cannot publish domain %s in %s: %s", uuid, host_dir, g_strerror(errno));
        return;
    }
    /* Not where others could read the secrets or plant a definition. */
    int host_fd = open_publication_dir(dir, host, &error);
    if (host_fd < 0) {
        g_warning("not publishing domain %s: %s", uuid, error->message);
        return;
    }
    close(host_fd);
    if (!g_file_set_contents_full(path, xml, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) {
        g_warning("cannot publish domain %s in %s: %s", uuid, host_dir, error->message);
        return;
    }
    if (virDomainIsActive(dom) == 1)
        g_file_set_contents_full(running, "", 0, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL);
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
    FerryConfig *config;
    char *host, *peer_uri;
    GStrv domains;
    gboolean start;
} FailoverCall;

static void failover_call_free(FailoverCall *c)
{
    ferry_config_unref(c->config);
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
    virConnectPtr conn = ferry_libvirt_open(p->uri, NULL);
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
    int host_fd; /* the checked publication directory */
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
    g_autofree char *running = g_strconcat(uuid, ".running", NULL);
    g_autoptr(FerryDomainXml) def = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = read_published_at(t->host_fd, t->call->host, uuid, &def, &error);
    if (!xml) {
        if (!g_error_matches(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND)) /* else withdrawn meanwhile */
            refused(t, uuid, error->message);
        return;
    }
    if (!wanted(t->call, uuid, ferry_domxml_name(def)))
        return;
    struct stat st;
    g_autoptr(virDomain) existing = virDomainLookupByUUIDString(t->conn, uuid);
    virResetLastError();
    gboolean was_defined = existing != NULL;
    if (existing && virDomainIsActive(existing) == 1) {
        /* Taken over before (or moved here): the dead host's publication is stale. */
        ferry_job_add_step(t->job, virDomainGetName(existing), "failover", t->call->host, "runs here already");
        t->started++;
        unpublish(t->call->config->failover_dir, t->call->host, uuid);
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
    if (!t->call->start || fstatat(t->host_fd, running, &st, AT_SYMLINK_NOFOLLOW) < 0) {
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
    unpublish(t->call->config->failover_dir, t->call->host, uuid);
    virResetLastError();
}

/* The UUIDs (as the file names say) published in the directory @host_fd. */
static GPtrArray *published_uuids(int host_fd)
{
    GPtrArray *uuids = g_ptr_array_new_with_free_func(g_free);
    int fd = dup(host_fd);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return uuids;
    }
    rewinddir(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (g_str_has_suffix(e->d_name, ".xml"))
            g_ptr_array_add(uuids, g_strndup(e->d_name, strlen(e->d_name) - 4));
    closedir(d);
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
    g_autoptr(virConnect) conn = ferry_libvirt_open(c->config->libvirt_uri, error);
    if (!conn)
        return FALSE;
    Takeover t = { .job = job, .call = c, .conn = conn };
    t.host_fd = open_publication_dir(c->config->failover_dir, c->host, error);
    if (t.host_fd < 0)
        return FALSE;
    g_autoptr(GPtrArray) uuids = published_uuids(t.host_fd);
    for (guint i = 0; i < uuids->len; i++) {
        if (g_cancellable_set_error_if_cancelled(ferry_job_cancellable(job), error)) {
            close(t.host_fd);
            return FALSE;
        }
        ferry_job_set_progress(job, (double)i / uuids->len);
        take_over(&t, g_ptr_array_index(uuids, i));
    }
    close(t.host_fd);
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

FerryJob *ferry_failover_start(FerryJobs *jobs, FerryConfig *config, const char *host,
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
    g_autoptr(GError) dir_error = NULL;
    int host_fd = open_publication_dir(config->failover_dir, host, &dir_error);
    if (host_fd < 0 && !g_error_matches(dir_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&dir_error));
        return NULL;
    }
    g_autoptr(GPtrArray) uuids = host_fd < 0 ? g_ptr_array_new() : published_uuids(host_fd);
    if (host_fd >= 0)
        close(host_fd);
    if (uuids->len == 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                    "host %s published no domains in %s; is that its host name, and did its virt-ferryd run with "
                    "the same [failover] dir=?", host, config->failover_dir);
        return NULL;
    }
    FailoverCall *c = g_new0(FailoverCall, 1);
    c->config = ferry_config_ref(config);
    c->host = g_strdup(host);
    c->peer_uri = ferry_peer_uri(config, host, NULL);
    c->domains = g_strdupv((char **)domains);
    c->start = start;
    return ferry_jobs_start(jobs, FERRY_JOB_FAILOVER, host, NULL, failover_job, c, (GDestroyNotify)failover_call_free,
                            error);
}
