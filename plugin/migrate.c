/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Peer-to-peer migration (see migrate.h): methods in canonical order, each checked first
 * (migrate-check.c), carried out by libvirtd itself (VIR_MIGRATE_PEER2PEER: this host's
 * libvirtd connects to the peer's, no client in between), watched on a second connection for
 * progress, convergence and cancel. */
#include "migrate.h"
#include "libvirt-open.h"

#include "bgcall.h"
#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-autoptr.h"
#include "migrate-check.h"
#include "migrate-tune.h"
#include "netmap.h"
#include "networks.h"
#include "peer-storage.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <string.h>

#define POLL_MS 250            /* job statistics: Progress is due at least every second */
#define MAX_PARALLEL 32        /* QEMU's multifd channel limit we accept */
#define PEER_KEEPALIVE_INTERVAL 2 /* s between keepalive probes to the peer's libvirtd */
#define PEER_KEEPALIVE_COUNT 3    /* probes unanswered before the peer counts as lost */

/* ------------------------------------------------------------------ the call */

typedef struct {
    FerryConfig *config;
    char *peer_uri, *uuid, *name;
    GArray *methods; /* FerryMethod, canonical order */
    FerryMigrateOptions options;
} MigrateCall;

static void migrate_call_free(MigrateCall *c)
{
    ferry_config_unref(c->config);
    g_free(c->peer_uri);
    g_free(c->uuid);
    g_free(c->name);
    g_array_unref(c->methods);
    g_free(c);
}

char *ferry_peer_uri(const FerryConfig *config, const char *peer, GError **error)
{
    for (char **p = config->peers; p && *p; p++) {
        g_autoptr(GUri) uri = g_uri_parse(*p, G_URI_FLAGS_NONE, NULL);
        if (g_str_equal(*p, peer) || (uri && g_strcmp0(g_uri_get_host(uri), peer) == 0))
            return g_strdup(*p);
    }
    g_autofree char *known = config->peers && config->peers[0] ? g_strjoinv(", ", config->peers) : NULL;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                "\"%s\" is not a peer of this host; %s%s", peer,
                known ? "the peers are " : "no peers are configured: add the host's libvirt URI to [peers] uris= in ",
                known ? known : config->path ? config->path : "virt-ferry.conf");
    return NULL;
}

/* InvalidArgument naming the bad option. */
static gboolean check_options(const FerryMigrateOptions *o, GError **error)
{
    if (o->parallel > MAX_PARALLEL) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "parallel: %u connections is more than the %d QEMU takes; give 2 to %d, or 1 for one", o->parallel,
                    MAX_PARALLEL, MAX_PARALLEL);
        return FALSE;
    }
    if (o->compress && o->parallel > 1) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "compress and parallel cannot go together: QEMU 7.2 compresses only a single-connection "
                    "stream (multifd compression came with libvirt 9.4); choose one");
        return FALSE;
    }
    if (o->bandwidth_mib > G_MAXINT32) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "bandwidth: %" G_GUINT64_FORMAT " MiB/s is beyond what QEMU takes; give MiB/s, or 0 for no limit",
                    o->bandwidth_mib);
        return FALSE;
    }
    return TRUE;
}

/* Failover starts a dead host's domain elsewhere: the host running Migrate is alive, so in
 * its list failover is skipped with a step saying where failover happens. */
#define FAILOVER_HERE "failover applies when the domain's host is dead: a live peer takes its domains over " \
                      "with Failover (virt-ferry failover HOST)"

static gboolean method_available(FerryMethod m)
{
    return m != FERRY_METHOD_FAILOVER;
}

/* ------------------------------------------------------------------ one run */

typedef struct {
    FerryJob *job;
    MigrateCall *call;
    virConnectPtr src, dst;
    virDomainPtr dom;
    FerrySide side;          /* progress and abort of the running migration */
    guint64 memory_bytes;
    gboolean dirty_probe;    /* libvirt measures the guest's dirty rate (migrate-tune.h) */
    guint64 cpu_idle, cpu_total; /* this host's CPU times (ns) as the probe started */
    gint64 started;
    const FerryMigrateReport *report; /* NULL: data and message are the job's own */
    FerryMethod used;        /* the method that succeeded */
} Migrate;

/* Inside an evacuation many domains move under one job: their data and messages go to the
 * evacuation, which sums them, instead of overwriting the job's. */
static void report_data(Migrate *m, guint64 total, guint64 remaining)
{
    if (m->report) {
        m->report->data(m->report->user_data, total, remaining);
        return;
    }
    ferry_job_set_data(m->job, total, remaining);
    ferry_job_set_progress(m->job, total ? 1.0 - (double)remaining / (double)total : 0.0);
}

static void report_images(Migrate *m, GPtrArray *created, guint from)
{
    for (guint i = from; m->report && m->report->image_created && i < created->len; i++)
        m->report->image_created(m->report->user_data, g_ptr_array_index(created, i));
}

static void report_message(Migrate *m, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void report_message(Migrate *m, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    if (m->report)
        m->report->message(m->report->user_data, message);
    else
        ferry_job_set_message(m->job, "%s", message);
}

static void migrate_clear(Migrate *m)
{
    ferry_side_clear(&m->side);
    g_clear_pointer(&m->dom, virDomainFree);
    g_clear_pointer(&m->dst, virConnectClose);
    g_clear_pointer(&m->src, virConnectClose);
}

static virDomainPtr side_domain(Migrate *m)
{
    return ferry_side_domain(&m->side, m->call->config->libvirt_uri, m->call->uuid, m->dom);
}


static gboolean connect_hosts(Migrate *m, GError **error)
{
    m->src = ferry_libvirt_open(m->call->config->libvirt_uri, error);
    if (!m->src)
        return FALSE;
    m->dom = virDomainLookupByUUIDString(m->src, m->call->uuid);
    if (!m->dom)
        return ferry_error_from_libvirt(error, "domain %s", m->call->name);
    m->dst = ferry_libvirt_open(m->call->peer_uri, error);
    if (!m->dst)
        return FALSE;
    /* A cut link or a dead peer stalls the migration stream without an error for minutes
     * (TCP retransmits); libvirt's keepalive on this connection notices within seconds. It
     * needs the daemon's libvirt event loop, which the inventory runs. */
    if (virConnectSetKeepAlive(m->dst, PEER_KEEPALIVE_INTERVAL, PEER_KEEPALIVE_COUNT) < 0)
        virResetLastError();
    virDomainInfo info;
    if (virDomainGetInfo(m->dom, &info) == 0)
        m->memory_bytes = (guint64)info.memory * 1024;
    return TRUE;
}

/* Phase timings, for G_MESSAGES_DEBUG=virt-ferry (the benchmark reads them). */
static gboolean phase(Migrate *m, const char *what, const char *method)
{
    g_debug("migrate %s (%s): %s at %.3f s", m->call->name, method, what,
            (double)(g_get_monotonic_time() - m->started) / G_USEC_PER_SEC);
    return TRUE;
}

/* ------------------------------------------------------------------ NICs onto the peer's networks */

/* Where one NIC goes among @map, the peer's networks, by table B2 as the peer's hook and a
 * restore decide it (ferry_netmap_map_nic). Nothing is created on the peer: a VLAN it has no
 * portgroup for goes on the interface on an Open vSwitch network (libvirt tags the port by
 * it); on a Linux bridge it cannot (libvirt 9.0 cannot tag such a port, and its VLAN is
 * declared in a file on the peer): NetworkUnavailable. */
gboolean ferry_migrate_nic_decide(const FerryNic *nic, const FerryNic *live, const FerryNetmap *map,
                                  const FerryNetmap *here, FerryNicMapping *out, GError **error)
{
    int vlan = live ? live->vlan : nic->vlan;
    gboolean trunk = live ? live->vlan_trunk : nic->vlan_trunk;
    const char *vport = live && live->vport_type ? live->vport_type : nic->vport_type;
    FerrySwitchKind kind = g_strcmp0(vport, "openvswitch") == 0 ? FERRY_SWITCH_DISTRIBUTED : FERRY_SWITCH_STANDARD;
    /* A domain that is not running states no portgroup's VLAN: this host's networks do. */
    const FerryNetwork *own = ferry_netmap_find(here, nic->network);
    const FerryPortgroup *pg = nic->portgroup ? ferry_network_find_portgroup(own, nic->portgroup) : NULL;
    if (vlan < 0 && !trunk && pg) {
        vlan = pg->vlan;
        trunk = pg->trunk;
    }
    if (own && own->kind != FERRY_SWITCH_OTHER)
        kind = own->kind;
    FerryNicSource source = {
        .mac = nic->mac,
        .network = nic->network,
        .portgroup = nic->portgroup,
        .vlan = vlan,
        .trunk = trunk,
        .kind = kind,
        .vlan_said = TRUE, /* this host knows what its own port carries */
        .tags_on_interface = nic->vlan >= 0 || nic->vlan_trunk,
    };
    return ferry_netmap_map_nic(map, &source, NULL, FALSE, out, error);
}

/* Maps one NIC of @def (migratable form) onto @map, the peer's networks. */
static gboolean map_nic(Migrate *m, FerryDomainXml *def, const FerryNic *nic, const FerryNic *live,
                        const FerryNetmap *map, const FerryNetmap *here, gboolean steps, GError **error)
{
    g_auto(FerryNicMapping) d = { .vlan = -1 };
    if (!ferry_migrate_nic_decide(nic, live, map, here, &d, error) || !ferry_domxml_map_nic(def, nic->mac, &d, error))
        return FALSE;
    if (steps)
        ferry_job_add_step(m->job, m->call->name, "network", nic->mac, d.rule);
    return TRUE;
}

/* The domain XML for the peer (@flags: the migratable live or inactive form), every NIC on
 * a network mapped onto the peer's networks. */
static char *xml_for_peer(Migrate *m, unsigned int flags, const FerryNetmap *map, const FerryNetmap *here,
                          gboolean steps, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(m->dom, flags | VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_SECURE);
    g_autofree char *live_xml = virDomainGetXMLDesc(m->dom, VIR_DOMAIN_XML_SECURE);
    if (!xml || !live_xml) {
        ferry_error_from_libvirt(error, "cannot read the definition of %s", m->call->name);
        return NULL;
    }
    g_autoptr(FerryDomainXml) def = ferry_domxml_parse(xml, error);
    g_autoptr(FerryDomainXml) live = def ? ferry_domxml_parse(live_xml, error) : NULL;
    if (!live)
        return NULL;
    GPtrArray *nics = ferry_domxml_nics(def);
    g_autoptr(GPtrArray) copy = g_ptr_array_new_full(nics->len, NULL);
    g_ptr_array_extend(copy, nics, NULL, NULL); /* the rewrites renew the snapshot */
    for (guint i = 0; i < copy->len; i++) {
        const FerryNic *nic = g_ptr_array_index(copy, i);
        if (g_strcmp0(nic->type, "network") != 0 || !nic->network || !nic->mac)
            continue;
        if (!map_nic(m, def, nic, ferry_domxml_nic_by_mac(live, nic->mac), map, here, steps, error))
            return NULL;
    }
    return ferry_domxml_format(def);
}

/* ------------------------------------------------------------------ storage-migration: disks there first */

/* libvirt copies the disks of a storage migration into images that must exist on the target:
 * each is created there, at the same path, through the target's libvirt (a pool over its
 * directory). Created ones are listed in @created for removal should the migration fail. */
gboolean ferry_migrate_create_disks(FerryJob *job, const char *name, virDomainPtr dom, virConnectPtr dst,
                                    const char *where, GPtrArray *created, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(FerryDomainXml) def = xml ? ferry_domxml_parse(xml, error) : NULL;
    if (!def)
        return xml ? FALSE : ferry_error_from_libvirt(error, "cannot read the definition of %s", name);
    GPtrArray *disks = ferry_domxml_disks(def);
    for (guint i = 0; i < disks->len; i++) {
        const FerryDisk *disk = g_ptr_array_index(disks, i);
        if (g_strcmp0(disk->device, "disk") != 0 || g_strcmp0(disk->type, "file") != 0 || !disk->source ||
            disk->readonly || disk->shareable)
            continue;
        virDomainBlockInfo info;
        if (virDomainGetBlockInfo(dom, disk->target, &info, 0) < 0)
            return ferry_error_from_libvirt(error, "cannot read the size of disk %s", disk->target);
        g_autoptr(GError) local = NULL;
        if (!ferry_peer_create_volume(dst, disk->source, info.capacity, disk->format ? disk->format : "raw",
                                      &local)) {
            g_propagate_prefixed_error(error, g_steal_pointer(&local), "disk %s: ", disk->target);
            return FALSE;
        }
        g_ptr_array_add(created, g_strdup(disk->source));
        g_autofree char *what = g_strdup_printf("created %s, %" G_GUINT64_FORMAT " MiB", where,
                                                (guint64)info.capacity >> 20);
        ferry_job_add_step(job, name, "disk", disk->source, what);
    }
    return TRUE;
}

static gboolean create_target_disks(Migrate *m, GPtrArray *created, GError **error)
{
    guint before = created->len;
    gboolean ok = ferry_migrate_create_disks(m->job, m->call->name, m->dom, m->dst, "on the peer", created, error);
    report_images(m, created, before);
    return ok;
}

static virStorageVolPtr volume_at(virConnectPtr conn, const char *path, FerryDirPool *pool, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    if (!ferry_dir_pool_open(conn, dir, pool, error))
        return NULL;
    if (virStoragePoolRefresh(pool->pool, 0) < 0)
        virResetLastError();
    virStorageVolPtr vol = virStorageVolLookupByName(pool->pool, base);
    if (!vol)
        ferry_error_from_libvirt(error, "cannot find %s", path);
    return vol;
}

gboolean ferry_migrate_remove_images(virConnectPtr conn, GPtrArray *paths, gboolean local)
{
    gboolean all = TRUE;
    for (guint i = 0; paths && i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);
        g_auto(FerryDirPool) pool = { 0 };
        g_autoptr(GError) error = NULL;
        g_autoptr(virStorageVol) vol = volume_at(conn, path, &pool, &error);
        if (!(vol && virStorageVolDelete(vol, 0) == 0) && !(local && (g_unlink(path) == 0 || errno == ENOENT))) {
            g_warning("cannot remove %s: %s", path, error ? error->message : virGetLastErrorMessage());
            all = FALSE;
        }
        virResetLastError();
    }
    return all;
}

/* The images a failed migration or move had created on the peer. */
static void remove_target_disks(Migrate *m, GPtrArray *created)
{
    if (!ferry_migrate_remove_images(m->dst, created, FALSE))
        g_warning("images created on %s for a failed move of %s are left there", m->call->peer_uri, m->call->name);
}

/* Only once the domain runs on the peer: its images here go. */
static void remove_source_disks(Migrate *m, GPtrArray *paths)
{
    if (!paths || paths->len == 0)
        return;
    if (ferry_migrate_remove_images(m->src, paths, TRUE))
        for (guint i = 0; i < paths->len; i++)
            ferry_job_add_step(m->job, m->call->name, "disk", g_ptr_array_index(paths, i), "removed here");
    else
        ferry_job_add_note(m->job, "a disk of the domain left here could not be removed: remove it by hand "
                                   "(the log names it)");
}

/* ------------------------------------------------------------------ what the tuning measures */

/* The first pass's rate of the last migration to each peer: the link as libvirt saw it. */
static GMutex link_lock;
static GHashTable *link_rates; /* peer URI -> guint64 bytes/s, under link_lock */

static guint64 link_rate(const char *peer_uri)
{
    g_mutex_lock(&link_lock);
    gpointer v = link_rates ? g_hash_table_lookup(link_rates, peer_uri) : NULL;
    g_mutex_unlock(&link_lock);
    return v ? *(guint64 *)v : 0;
}

static void remember_link_rate(const char *peer_uri, guint64 bps)
{
    if (bps == 0)
        return;
    g_mutex_lock(&link_lock);
    if (!link_rates)
        link_rates = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert(link_rates, g_strdup(peer_uri), g_memdup2(&bps, sizeof bps));
    g_mutex_unlock(&link_lock);
}

static gboolean cpu_times(virConnectPtr conn, guint64 *idle, guint64 *total)
{
    int n = 0;
    if (virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, NULL, &n, 0) < 0 || n <= 0) {
        virResetLastError();
        return FALSE;
    }
    g_autofree virNodeCPUStatsPtr stats = g_new0(virNodeCPUStats, n);
    if (virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, stats, &n, 0) < 0) {
        virResetLastError();
        return FALSE;
    }
    *idle = *total = 0;
    for (int i = 0; i < n; i++) {
        if (g_str_equal(stats[i].field, VIR_NODE_CPU_STATS_IDLE))
            *idle += stats[i].value;
        if (!g_str_equal(stats[i].field, VIR_NODE_CPU_STATS_UTILIZATION))
            *total += stats[i].value;
    }
    return *total > 0;
}

/* This host's CPUs left idle since the probe started (its load average when that cannot
 * be read): what parallel connections can use. */
static double free_cpus(Migrate *m)
{
    virNodeInfo info;
    if (virNodeGetInfo(m->src, &info) < 0) {
        virResetLastError();
        return 0;
    }
    guint64 idle = 0, total = 0;
    if (m->cpu_total && cpu_times(m->src, &idle, &total) && total > m->cpu_total && idle >= m->cpu_idle)
        return (double)info.cpus * (double)(idle - m->cpu_idle) / (double)(total - m->cpu_total);
    double load[1];
    return getloadavg(load, 1) == 1 ? (double)info.cpus - load[0] : 0;
}

static void tune_input(Migrate *m, FerryTuneInput *in)
{
    const FerryMigrateOptions *o = &m->call->options;
    *in = (FerryTuneInput){ .memory_bytes = m->memory_bytes, .bandwidth_mib = o->bandwidth_mib,
                            .compress = o->compress, .auto_converge = o->auto_converge, .postcopy = o->postcopy,
                            .parallel = o->parallel };
}

static gboolean has_live_method(Migrate *m)
{
    for (guint i = 0; i < m->call->methods->len; i++) {
        FerryMethod method = g_array_index(m->call->methods, FerryMethod, i);
        if (method == FERRY_METHOD_MIGRATION || method == FERRY_METHOD_STORAGE_MIGRATION)
            return TRUE;
    }
    return FALSE;
}

/* Started as the job starts, so that the one second libvirt measures for runs beside the
 * checks rather than before the migration. Only when the tuning will use it and the
 * migration is long enough for it to pay (migrate-tune.h); the CPUs are sampled anyway. */
static gboolean start_dirty_probe(Migrate *m)
{
    FerryTuneInput in;
    tune_input(m, &in);
    if (!ferry_migrate_tune_wanted(&in) || !has_live_method(m))
        return TRUE;
    if (!cpu_times(m->src, &m->cpu_idle, &m->cpu_total))
        m->cpu_total = 0;
    if (!ferry_migrate_tune_probe_pays(m->memory_bytes, link_rate(m->call->peer_uri)))
        return TRUE;
    m->dirty_probe = virDomainStartDirtyRateCalc(m->dom, 1, VIR_DOMAIN_DIRTYRATE_MODE_PAGE_SAMPLING) == 0;
    if (!m->dirty_probe)
        g_debug("no dirty rate for %s: %s", m->call->name, virGetLastErrorMessage());
    virResetLastError();
    return TRUE;
}

/* The probe's result, waited for at most two seconds; 0 when there is none. */
static guint64 read_dirty_rate(Migrate *m)
{
    if (!m->dirty_probe)
        return 0;
    m->dirty_probe = FALSE;
    virDomainPtr doms[] = { m->dom, NULL };
    for (int i = 0; i < 20; i++) {
        virDomainStatsRecordPtr *records = NULL;
        int status = -1;
        long long mib = -1;
        int n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE, &records, 0);
        if (n > 0) {
            virTypedParamsGetInt(records[0]->params, records[0]->nparams, "dirtyrate.calc_status", &status);
            virTypedParamsGetLLong(records[0]->params, records[0]->nparams, "dirtyrate.megabytes_per_second", &mib);
        }
        if (records)
            virDomainStatsRecordListFree(records);
        if (status == VIR_DOMAIN_DIRTYRATE_MEASURED && mib >= 0) {
            virResetLastError();
            return (guint64)mib << 20;
        }
        if (n <= 0 || status != VIR_DOMAIN_DIRTYRATE_MEASURING)
            break;
        g_usleep(100 * 1000);
    }
    virResetLastError();
    return 0;
}

/* The settings of one method's run: measured and picked for a live method when the caller
 * gave no transfer options; a quick-migration's guest is paused, its dirty rate moot. */
static void pick_settings(Migrate *m, FerryMethod method, FerryTuneSettings *out)
{
    FerryTuneInput in;
    tune_input(m, &in);
    in.link_bps = link_rate(m->call->peer_uri);
    in.paused = method == FERRY_METHOD_QUICK_MIGRATION;
    if (!in.paused)
        in.dirty_bps = read_dirty_rate(m);
    if (ferry_migrate_tune_wanted(&in))
        in.free_cpus = free_cpus(m);
    ferry_migrate_tune(&in, out);
}

/* ------------------------------------------------------------------ the migration, watched */

typedef struct {
    virDomainPtr dom;
    char *peer_uri;
    virTypedParameterPtr params;
    int nparams;
    unsigned int flags;
} MigrationRun;

static int migration(gpointer data)
{
    MigrationRun *r = data;
    return virDomainMigrateToURI3(r->dom, r->peer_uri, r->params, (unsigned int)r->nparams, r->flags);
}

/* Why the watcher stopped the migration, if it did. */
typedef enum {
    WATCH_NONE,
    WATCH_CANCELLED,
    WATCH_NO_PROGRESS,
    WATCH_TOO_LONG,
    WATCH_NOT_CONVERGING,
    WATCH_PEER_LOST
} WatchVerdict;

typedef struct {
    gint64 started, last_progress;
    guint64 lowest_remaining;
    gboolean postcopy_started;
    WatchVerdict verdict;
    guint progress_timeout, completion_limit;
    gboolean live;           /* convergence watched, downtime stepped (migrate-tune.h) */
    FerryConverge converge;
    guint64 first_pass_bps;  /* the link, as the first pass saw it */
    char *why;               /* why it cannot converge */
} Watch;

static char *eta_text(guint64 remaining, guint64 bps)
{
    if (bps == 0)
        return g_strdup("");
    guint64 s = remaining / bps;
    return s >= 120 ? g_strdup_printf(", about %" G_GUINT64_FORMAT " min left", (s + 59) / 60)
                    : g_strdup_printf(", about %" G_GUINT64_FORMAT " s left", s + 1);
}

static void read_sample(virTypedParameterPtr params, int n, FerryJobSample *s)
{
    unsigned long long iteration = 0, remaining = 0, bps = 0, dirty_pages = 0, page_size = 0;
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION, &iteration);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_REMAINING, &remaining);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_BPS, &bps);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE, &dirty_pages);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE, &page_size);
    *s = (FerryJobSample){ .iteration = iteration, .remaining = remaining, .bps = bps,
                           .dirty_bps = dirty_pages * (page_size ? page_size : 4096) };
}

static void report_stats(Migrate *m, Watch *w, virTypedParameterPtr params, int n)
{
    unsigned long long total = 0, remaining = 0, processed = 0, bps = 0, disk_bps = 0, iteration = 0;
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_REMAINING, &remaining);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_BPS, &bps);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DISK_BPS, &disk_bps);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION, &iteration);
    if (total == 0)
        return;
    report_data(m, total, remaining);
    g_autofree char *eta = eta_text(remaining, bps + disk_bps);
    report_message(m, "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " MiB left, %" G_GUINT64_FORMAT
                          " MiB/s%s%s", (guint64)remaining >> 20, (guint64)total >> 20,
                          (guint64)(bps + disk_bps) >> 20, eta,
                          iteration > 1 ? ", sending dirtied memory again" : "");
    gint64 now = g_get_monotonic_time();
    if (remaining < w->lowest_remaining) {
        w->lowest_remaining = remaining;
        w->last_progress = now;
    }
}

/* The watcher stops the migration: libvirt resumes the guest here. */
static void stop_migration(Migrate *m, Watch *w, WatchVerdict why)
{
    w->verdict = why;
    ferry_side_abort(side_domain(m));
}

/* Aborts (libvirt resumes the guest here), or switches to post-copy when asked to. */
static void escalate(Migrate *m, Watch *w, WatchVerdict why)
{
    const char *what = why == WATCH_NO_PROGRESS      ? "made no progress"
                       : why == WATCH_NOT_CONVERGING ? "did not converge"
                                                     : "took too long";
    if (m->call->options.postcopy && !w->postcopy_started) {
        if (virDomainMigrateStartPostCopy(side_domain(m), 0) == 0) {
            w->postcopy_started = TRUE;
            g_autofree char *note = g_strdup_printf("the migration %s: switched to post-copy", what);
            ferry_job_add_note(m->job, note);
            return;
        }
        g_warning("cannot switch %s to post-copy: %s; aborting", m->call->name, virGetLastErrorMessage());
    }
    stop_migration(m, w, why);
}

/* Steps the allowed downtime up as passes fail to finish; a guest that cannot converge is
 * given up on (or switched to post-copy when asked) after a few passes, not a timeout. */
static void watch_convergence(Migrate *m, Watch *w, virTypedParameterPtr params, int n)
{
    if (!w->live || w->postcopy_started)
        return;
    FerryJobSample s;
    read_sample(params, n, &s);
    if (s.iteration == 1 && s.bps)
        w->first_pass_bps = s.bps;
    switch (ferry_converge_step(&w->converge, &s)) {
    case FERRY_CONVERGE_DOWNTIME:
        g_debug("migrate %s: pass %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " MiB left: downtime up to %u ms",
                m->call->name, s.iteration, s.remaining >> 20, w->converge.downtime_ms);
        if (virDomainMigrateSetMaxDowntime(side_domain(m), w->converge.downtime_ms, 0) < 0)
            g_warning("cannot set the downtime of %s's migration: %s", m->call->name, virGetLastErrorMessage());
        virResetLastError();
        break;
    case FERRY_CONVERGE_GIVE_UP:
        g_free(w->why);
        w->why = ferry_converge_why(&w->converge);
        escalate(m, w, WATCH_NOT_CONVERGING);
        break;
    case FERRY_CONVERGE_WAIT:
    default:
        break;
    }
}

static void watch_tick(Migrate *m, Watch *w)
{
    if (w->verdict != WATCH_NONE)
        return;
    if (g_cancellable_is_cancelled(ferry_job_cancellable(m->job))) {
        stop_migration(m, w, WATCH_CANCELLED);
        return;
    }
    if (virConnectIsAlive(m->dst) == 0) {
        stop_migration(m, w, WATCH_PEER_LOST);
        return;
    }
    virTypedParameterPtr params = NULL;
    int n = 0, type = 0;
    if (virDomainGetJobStats(side_domain(m), &type, &params, &n, 0) == 0 && type != VIR_DOMAIN_JOB_NONE) {
        report_stats(m, w, params, n);
        watch_convergence(m, w, params, n);
    }
    virTypedParamsFree(params, n);
    virResetLastError();
    gint64 now = g_get_monotonic_time();
    if (w->postcopy_started)
        return;
    if (now - w->last_progress > (gint64)w->progress_timeout * G_USEC_PER_SEC)
        escalate(m, w, WATCH_NO_PROGRESS);
    else if (now - w->started > (gint64)w->completion_limit * G_USEC_PER_SEC)
        escalate(m, w, WATCH_TOO_LONG);
}

static void watch_init(Migrate *m, Watch *w, FerryMethod method, const FerryTuneSettings *settings)
{
    w->live = method != FERRY_METHOD_QUICK_MIGRATION;
    ferry_converge_init(&w->converge, FERRY_TUNE_DOWNTIME_CAP_MS, settings->compress);
    const FerryMigrateOptions *o = &m->call->options;
    guint per_gib = o->completion_timeout ? o->completion_timeout : FERRY_MIGRATE_COMPLETION_TIMEOUT;
    double gib = MAX(1.0, (double)m->memory_bytes / (1 << 30));
    w->started = w->last_progress = g_get_monotonic_time();
    w->lowest_remaining = G_MAXUINT64;
    w->progress_timeout = o->progress_timeout ? o->progress_timeout : FERRY_MIGRATE_PROGRESS_TIMEOUT;
    w->completion_limit = (guint)(per_gib * gib);
}

static gboolean watch_failed(Migrate *m, Watch *w, virErrorPtr failure, GError **error)
{
    switch (w->verdict) {
    case WATCH_CANCELLED:
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled: the domain runs on here");
        return FALSE;
    case WATCH_NO_PROGRESS:
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "aborted: the migration made no progress for %u s (the guest dirties memory faster than the link "
                    "carries it); the domain runs on here; try again with auto_converge or postcopy, more bandwidth, "
                    "or quick-migration", w->progress_timeout);
        return FALSE;
    case WATCH_NOT_CONVERGING:
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "aborted: the migration %s; the domain runs on here; quick-migration (paused while its memory "
                    "moves once) or postcopy carries such a guest", w->why ? w->why : "did not converge");
        return FALSE;
    case WATCH_TOO_LONG:
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "aborted: the migration did not complete within %u s; the domain runs on here; try again with "
                    "auto_converge or postcopy, or quick-migration", w->completion_limit);
        return FALSE;
    case WATCH_PEER_LOST:
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "aborted: the peer %s stopped answering (its libvirtd is gone or the link to it is down); the "
                    "domain runs on here, and the peer's libvirtd drops what it received once it notices",
                    m->call->peer_uri);
        return FALSE;
    case WATCH_NONE:
    default:
        break;
    }
    g_set_error(error, FERRY_ERROR, failure ? ferry_error_code_for_libvirt(failure->code) : FERRY_ERROR_FAILED,
                "libvirt's migration to %s failed: %s; the domain runs on here", m->call->peer_uri,
                failure && failure->message ? failure->message : "no reason given");
    return FALSE;
}

static void add_params(Migrate *m, FerryMethod method, const FerryTuneSettings *o, const char *dxml,
                       const char *persist_xml, virTypedParameterPtr *params, int *n, int *max, unsigned int *flags)
{
    *flags = VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE |
             VIR_MIGRATE_ABORT_ON_ERROR;
    if (method != FERRY_METHOD_QUICK_MIGRATION)
        *flags |= VIR_MIGRATE_LIVE;
    if (method == FERRY_METHOD_STORAGE_MIGRATION)
        *flags |= VIR_MIGRATE_NON_SHARED_DISK;
    else
        *flags |= VIR_MIGRATE_UNSAFE; /* shared storage proven by the checks (libvirt 9.0 cannot tell) */
    virTypedParamsAddString(params, n, max, VIR_MIGRATE_PARAM_DEST_XML, dxml);
    virTypedParamsAddString(params, n, max, VIR_MIGRATE_PARAM_PERSIST_XML, persist_xml);
    if (o->bandwidth_mib)
        virTypedParamsAddULLong(params, n, max, VIR_MIGRATE_PARAM_BANDWIDTH, o->bandwidth_mib);
    if (o->compress) {
        *flags |= VIR_MIGRATE_COMPRESSED;
        /* XBZRLE only: QEMU's multi-threaded compression ("mt") is unmaintained (deprecated in
         * QEMU 8.2), and lab guests migrated with it crashed on arrival. */
        virTypedParamsAddString(params, n, max, VIR_MIGRATE_PARAM_COMPRESSION, "xbzrle");
        if (o->xbzrle_cache)
            virTypedParamsAddULLong(params, n, max, VIR_MIGRATE_PARAM_COMPRESSION_XBZRLE_CACHE, o->xbzrle_cache);
    }
    if (m->call->options.auto_converge)
        *flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (o->parallel > 1) {
        *flags |= VIR_MIGRATE_PARALLEL;
        virTypedParamsAddInt(params, n, max, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, (int)o->parallel);
    }
    if (o->postcopy && method != FERRY_METHOD_QUICK_MIGRATION)
        *flags |= VIR_MIGRATE_POSTCOPY;
}

static gboolean migrate_watched(Migrate *m, FerryMethod method, const FerryTuneSettings *settings,
                                const char *dxml, const char *persist_xml, GError **error)
{
    MigrationRun r = { .dom = m->dom, .peer_uri = m->call->peer_uri };
    int max = 0;
    add_params(m, method, settings, dxml, persist_xml, &r.params, &r.nparams, &max, &r.flags);
    Watch w = { 0 };
    watch_init(m, &w, method, settings);
    FerryBgCall *call = ferry_bg_call_start("ferry-migrate", migration, &r);
    /* Statistics every POLL_MS; the end is seen as it happens, not at the next tick. */
    while (!ferry_bg_call_done(call)) {
        watch_tick(m, &w);
        ferry_bg_call_wait(call, POLL_MS);
    }
    virErrorPtr failure = NULL;
    gboolean ok = ferry_bg_call_finish(call, &failure) == 0 || watch_failed(m, &w, failure, error);
    if (failure)
        virFreeError(failure);
    virTypedParamsFree(r.params, r.nparams);
    if (!settings->bandwidth_mib) /* a limit says nothing of the link */
        remember_link_rate(m->call->peer_uri, w.first_pass_bps);
    g_free(w.why);
    return ok;
}

/* ------------------------------------------------------------------ the methods */

/* The running and the persistent definition for the peer, NICs mapped onto its networks. */
static gboolean xmls_for_peer(Migrate *m, char **dxml, char **persist, GError **error)
{
    g_autoptr(FerryNetmap) map = ferry_networks_read_map(m->dst, NULL, error);
    if (!map) {
        g_prefix_error(error, "cannot read the peer's networks: ");
        return FALSE;
    }
    /* With this host's declarations: a standard switch's portgroup VLANs are only there. */
    g_autoptr(FerryNetmap) here = ferry_networks_read_map(m->src, m->call->config->networks_dir, error);
    if (!here)
        return FALSE;
    *dxml = xml_for_peer(m, 0, map, here, TRUE, error);
    *persist = *dxml ? xml_for_peer(m, VIR_DOMAIN_XML_INACTIVE, map, here, FALSE, error) : NULL;
    return *persist != NULL;
}

/* ------------------------------------------------------------------ move */

#define STREAM_CHUNK (1 << 20)

typedef struct {
    gboolean was_running, shut_down, shared;
    GPtrArray *disks;        /* paths of the images to copy */
    GPtrArray *created;      /* paths created on the peer */
    virDomainPtr target;     /* defined on the peer */
    guint64 total, done;
} Move;

static void move_clear(Move *mv)
{
    g_clear_pointer(&mv->disks, g_ptr_array_unref);
    g_clear_pointer(&mv->created, g_ptr_array_unref);
    g_clear_pointer(&mv->target, virDomainFree);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Move, move_clear)

/* Not cut short by Cancel: a guest shutting down cannot be stopped from doing so, and a
 * rollback that found it still up would leave it off once it is done. The rollback starts
 * it again once it is off. */
static gboolean wait_shut_off(Migrate *m, guint seconds)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline) {
        if (virDomainIsActive(m->dom) == 0)
            return TRUE;
        g_usleep(250 * 1000);
    }
    return virDomainIsActive(m->dom) == 0;
}

/* Graceful first; forced off once the timeout is over (the job's notes say so). */
static gboolean shut_down(Migrate *m, Move *mv, GError **error)
{
    guint timeout = m->call->options.shutdown_timeout ? m->call->options.shutdown_timeout
                                                      : FERRY_MOVE_SHUTDOWN_TIMEOUT;
    mv->was_running = virDomainIsActive(m->dom) == 1;
    if (!mv->was_running)
        return TRUE;
    report_message(m, "shutting %s down (forced off after %u s)", m->call->name, timeout);
    mv->shut_down = TRUE;
    if (virDomainShutdown(m->dom) < 0)
        virResetLastError(); /* no guest agent, no ACPI: the timeout forces it */
    if (wait_shut_off(m, timeout)) {
        ferry_job_add_step(m->job, m->call->name, "move", "shutdown", "shut down");
        return !g_cancellable_set_error_if_cancelled(ferry_job_cancellable(m->job), error);
    }
    /* Cancelled: a guest that ignored the request is left running, not forced off. */
    if (g_cancellable_set_error_if_cancelled(ferry_job_cancellable(m->job), error))
        return FALSE;
    if (virDomainDestroy(m->dom) < 0 && virDomainIsActive(m->dom) == 1)
        return ferry_error_from_libvirt(error, "cannot stop %s", m->call->name);
    g_autofree char *note = g_strdup_printf("%s did not shut down within %u s and was forced off", m->call->name,
                                            timeout);
    ferry_job_add_note(m->job, note);
    ferry_job_add_step(m->job, m->call->name, "move", "shutdown", "forced off");
    return TRUE;
}

/* The domain's file disks: what a move copies (CD-ROM media and shareable disks stay). */
static gboolean list_disks(Migrate *m, Move *mv, const char *persist, GError **error)
{
    g_autoptr(FerryDomainXml) def = ferry_domxml_parse(persist, error);
    if (!def)
        return FALSE;
    if (ferry_domxml_nvram(def) || ferry_domxml_has_tpm_emulator(def)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "move does not carry UEFI variables or TPM state yet; use storage-migration");
        return FALSE;
    }
    mv->disks = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *disks = ferry_domxml_disks(def);
    for (guint i = 0; i < disks->len; i++) {
        const FerryDisk *d = g_ptr_array_index(disks, i);
        if (g_strcmp0(d->device, "disk") != 0 || d->shareable || !d->source)
            continue;
        if (g_strcmp0(d->type, "file") != 0) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                        "disk %s is of type %s; move copies file disks only", d->target, d->type);
            return FALSE;
        }
        GStatBuf st;
        if (g_stat(d->source, &st) < 0) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot read disk %s (%s): %s", d->target,
                        d->source, g_strerror(errno));
            return FALSE;
        }
        mv->total += (guint64)st.st_size;
        g_ptr_array_add(mv->disks, g_strdup(d->source));
    }
    return TRUE;
}

static gboolean stream_send_all(virStreamPtr out, const char *buf, int len, GError **error)
{
    for (int off = 0; off < len;) {
        int n = virStreamSend(out, buf + off, (size_t)(len - off));
        if (n < 0)
            return ferry_error_from_libvirt(error, "cannot write to the peer");
        off += n;
    }
    return TRUE;
}

/* Copies one image, holes kept, from this host's libvirt to the peer's: storage volume
 * streams, so the hosts need no storage in common and no other channel than libvirt's. */
static gboolean stream_disk(Migrate *m, Move *mv, const char *path, GError **error)
{
    g_auto(FerryDirPool) src_pool = { 0 }, dst_pool = { 0 };
    g_autoptr(virStorageVol) src = volume_at(m->src, path, &src_pool, error);
    g_autoptr(virStorageVol) dst = src ? volume_at(m->dst, path, &dst_pool, error) : NULL;
    if (!dst)
        return FALSE;
    g_autoptr(virStream) in = virStreamNew(m->src, 0);
    g_autoptr(virStream) out = virStreamNew(m->dst, 0);
    if (!in || !out || virStorageVolDownload(src, in, 0, 0, VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM) < 0)
        return ferry_error_from_libvirt(error, "cannot read %s", path);
    if (virStorageVolUpload(dst, out, 0, 0, VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0) {
        virStreamAbort(in);
        return ferry_error_from_libvirt(error, "cannot write %s on the peer", path);
    }
    g_autofree char *buf = g_malloc(STREAM_CHUNK);
    gboolean ok = TRUE;
    for (;;) {
        if (g_cancellable_set_error_if_cancelled(ferry_job_cancellable(m->job), error)) {
            ok = FALSE;
            break;
        }
        int got = virStreamRecvFlags(in, buf, STREAM_CHUNK, VIR_STREAM_RECV_STOP_AT_HOLE);
        if (got == 0)
            break;
        if (got == -3) {
            long long hole = 0;
            if (virStreamRecvHole(in, &hole, 0) < 0 || virStreamSendHole(out, hole, 0) < 0) {
                ok = ferry_error_from_libvirt(error, "cannot copy %s", path);
                break;
            }
            mv->done += (guint64)hole;
        } else if (got < 0 || !stream_send_all(out, buf, got, error)) {
            ok = got < 0 ? ferry_error_from_libvirt(error, "cannot read %s", path) : FALSE;
            break;
        } else {
            mv->done += (guint64)got;
        }
        report_data(m, mv->total, mv->total - MIN(mv->done, mv->total));
    }
    if (ok && (virStreamFinish(in) < 0 || virStreamFinish(out) < 0))
        ok = ferry_error_from_libvirt(error, "cannot finish the copy of %s", path);
    if (!ok) {
        virStreamAbort(in);
        virStreamAbort(out);
        virResetLastError();
    }
    return ok;
}

static gboolean copy_disks(Migrate *m, Move *mv, GError **error)
{
    mv->created = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < mv->disks->len; i++) {
        const char *path = g_ptr_array_index(mv->disks, i);
        GStatBuf st;
        if (g_stat(path, &st) < 0) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot read %s: %s", path, g_strerror(errno));
            return FALSE;
        }
        /* Raw and sparse: the upload brings the image's own bytes, whatever its format. */
        if (!ferry_peer_create_volume(m->dst, path, (guint64)st.st_size, "raw", error))
            return FALSE;
        g_ptr_array_add(mv->created, g_strdup(path));
        report_images(m, mv->created, mv->created->len - 1);
        report_message(m, "copying %s to %s", path, m->call->peer_uri);
        if (!stream_disk(m, mv, path, error))
            return FALSE;
        ferry_job_add_step(m->job, m->call->name, "move", path, "copied");
    }
    return TRUE;
}

static void roll_back_move(Migrate *m, Move *mv)
{
    if (mv->target) {
        virDomainDestroy(mv->target);
        virDomainUndefineFlags(mv->target, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE);
    }
    remove_target_disks(m, mv->created);
    if (mv->shut_down && virDomainIsActive(m->dom) == 0 && virDomainCreate(m->dom) < 0)
        g_warning("cannot start %s again after a failed move: %s", m->call->name, virGetLastErrorMessage());
    virResetLastError();
}

static gboolean run_move(Migrate *m, const char *persist, GError **error)
{
    g_auto(Move) mv = { 0 };
    g_autofree char *xml = virDomainGetXMLDesc(m->dom, VIR_DOMAIN_XML_INACTIVE);
    g_autofree char *reason = NULL;
    gboolean ok = xml && list_disks(m, &mv, persist, error) &&
                  ferry_storage_shared(m->src, m->dst, xml, &mv.shared, &reason, error);
    if (!ok)
        return xml ? FALSE : ferry_error_from_libvirt(error, "cannot read the definition of %s", m->call->name);
    if (mv.shared) {
        g_ptr_array_set_size(mv.disks, 0); /* the peer sees the same files */
        mv.total = 0;
    }
    ok = shut_down(m, &mv, error) && copy_disks(m, &mv, error);
    if (ok) {
        mv.target = virDomainDefineXML(m->dst, persist);
        ok = mv.target || ferry_error_from_libvirt(error, "the peer refused the definition of %s", m->call->name);
    }
    if (ok && mv.was_running && virDomainCreate(mv.target) < 0)
        ok = ferry_error_from_libvirt(error, "%s does not start on the peer", m->call->name);
    if (!ok) {
        roll_back_move(m, &mv);
        return FALSE;
    }
    ferry_job_add_step(m->job, m->call->name, "move", m->call->peer_uri, mv.was_running ? "runs there" : "defined there");
    /* Only now that it runs there: the copy here goes. */
    if (virDomainUndefineFlags(m->dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0) {
        g_autofree char *note = g_strdup_printf("%s runs on the peer but cannot be undefined here (%s): undefine it "
                                                "by hand", m->call->name, virGetLastErrorMessage());
        ferry_job_add_note(m->job, note);
        virResetLastError();
        return TRUE;
    }
    remove_source_disks(m, mv.disks);
    return TRUE;
}

/* What libvirt says of the finished migration (the target keeps its statistics): a step
 * with its time, the guest's pause and the passes over its memory. Kept there for others to read. */
static void step_completed(Migrate *m, FerryMethod method)
{
    g_autoptr(virDomain) there = virDomainLookupByUUIDString(m->dst, m->call->uuid);
    virTypedParameterPtr params = NULL;
    int n = 0, type = 0;
    if (there && virDomainGetJobStats(there, &type, &params, &n,
                                      VIR_DOMAIN_JOB_STATS_COMPLETED | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED) == 0 &&
        type == VIR_DOMAIN_JOB_COMPLETED) {
        unsigned long long elapsed = 0, downtime = 0, iteration = 0, processed = 0;
        virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &elapsed);
        virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DOWNTIME, &downtime);
        virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_ITERATION, &iteration);
        virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
        g_autofree char *what = g_strdup_printf("transferred: %" G_GUINT64_FORMAT " MiB in %.1f s, downtime %"
                                                G_GUINT64_FORMAT " ms, %" G_GUINT64_FORMAT " passes",
                                                (guint64)processed >> 20, (double)elapsed / 1000, (guint64)downtime,
                                                (guint64)iteration);
        ferry_job_add_step(m->job, m->call->name, ferry_method_name(method), m->call->peer_uri, what);
    }
    virTypedParamsFree(params, n);
    virResetLastError();
}

static gboolean run_method(Migrate *m, FerryMethod method, GError **error)
{
    g_autofree char *dxml = NULL, *persist = NULL;
    if (!xmls_for_peer(m, &dxml, &persist, error))
        return FALSE;
    if (method == FERRY_METHOD_MOVE)
        return run_move(m, persist, error);
    g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func(g_free);
    if (method == FERRY_METHOD_STORAGE_MIGRATION && !create_target_disks(m, created, error)) {
        remove_target_disks(m, created);
        return FALSE;
    }
    g_auto(FerryTuneSettings) settings = { 0 };
    pick_settings(m, method, &settings);
    if (settings.tuned)
        ferry_job_add_step(m->job, m->call->name, ferry_method_name(method), m->call->peer_uri, settings.why);
    report_message(m, "%s to %s", ferry_method_name(method), m->call->peer_uri);
    phase(m, "libvirt migrates", ferry_method_name(method));
    if (migrate_watched(m, method, &settings, dxml, persist, error)) {
        phase(m, "done", ferry_method_name(method));
        step_completed(m, method);
        /* libvirt leaves the source's copies behind: a stale twin of every disk. */
        remove_source_disks(m, created);
        return TRUE;
    }
    remove_target_disks(m, created);
    return FALSE;
}

static gboolean is_cancel(const GError *e)
{
    return g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static gboolean try_methods(Migrate *m, GError **error)
{
    g_autoptr(GError) last = NULL;
    for (guint i = 0; i < m->call->methods->len; i++) {
        FerryMethod method = g_array_index(m->call->methods, FerryMethod, i);
        const char *name = ferry_method_name(method);
        g_clear_error(&last);
        if (g_cancellable_set_error_if_cancelled(ferry_job_cancellable(m->job), error))
            return FALSE;
        if (!method_available(method)) {
            g_set_error_literal(&last, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED, FAILOVER_HERE);
        } else if (phase(m, "checks", name) && ferry_migrate_check(m->src, m->dst, m->dom, method, NULL, &last) &&
                   phase(m, "preparing", name) && run_method(m, method, &last)) {
            ferry_job_add_step(m->job, m->call->name, name, m->call->peer_uri, "succeeded");
            m->used = method;
            if (!m->report)
                ferry_job_set_result(m->job, m->call->peer_uri);
            report_message(m, "%s runs on %s (%s)", m->call->name, m->call->peer_uri, name);
            return TRUE;
        }
        g_autofree char *outcome = g_strdup_printf("failed: %s", last->message);
        ferry_job_add_step(m->job, m->call->name, name, m->call->peer_uri, outcome);
        if (is_cancel(last))
            break;
    }
    g_propagate_error(error, g_steal_pointer(&last));
    return FALSE;
}

/* Seen in the lab (QEMU 7.2, TCG): a guest migrated with auto-converge panicked on the target
 * every time ("Fatal exception in interrupt"), the same guest without it never did. QEMU
 * throttles a TCG guest's vCPUs in a way that leaves its memory inconsistent: refused. */
static gboolean check_auto_converge(Migrate *m, GError **error)
{
    if (!m->call->options.auto_converge)
        return TRUE;
    g_autofree char *xml = virDomainGetXMLDesc(m->dom, 0);
    if (!xml)
        return ferry_error_from_libvirt(error, "cannot read the definition of %s to check auto_converge",
                                        m->call->name);
    /* Unread, the domain might run under TCG: refused, never waved through. */
    g_autoptr(GError) parse_error = NULL;
    g_autoptr(FerryDomainXml) def = ferry_domxml_parse(xml, &parse_error);
    if (!def)
        return ferry_error_set(error, FERRY_ERROR_FAILED,
                               "auto_converge is refused for %s: its definition cannot be read (%s), so virt-ferry "
                               "cannot tell whether it runs under TCG; migrate without auto_converge",
                               m->call->name, parse_error->message);
    if (g_strcmp0(ferry_domxml_type(def), "qemu") == 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "auto_converge is refused for %s: it runs under TCG (domain type 'qemu'), where QEMU's "
                    "throttling corrupts the guest's memory during migration; migrate without it, with more "
                    "bandwidth, or by quick-migration", m->call->name);
        return FALSE;
    }
    virResetLastError();
    return TRUE;
}

static gboolean migrate_job(FerryJob *job, gpointer data, GError **error)
{
    Migrate m = { .job = job, .call = data, .started = g_get_monotonic_time() };
    gboolean ok = connect_hosts(&m, error) && phase(&m, "connected", "-") && check_auto_converge(&m, error) &&
                  start_dirty_probe(&m) && try_methods(&m, error);
    migrate_clear(&m);
    return ok;
}

/* The methods of @parsed this host can carry out; Unsupported when none. */
static gboolean methods_available(GArray *parsed, GError **error)
{
    for (guint i = 0; i < parsed->len; i++)
        if (method_available(g_array_index(parsed, FerryMethod, i)))
            return TRUE;
    g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED, FAILOVER_HERE);
    return FALSE;
}

static MigrateCall *migrate_call_new(FerryConfig *config, const char *domain_uuid, const char *domain_name,
                                     const char *peer_uri, GArray *methods, const FerryMigrateOptions *options)
{
    MigrateCall *c = g_new0(MigrateCall, 1);
    c->config = ferry_config_ref(config);
    c->peer_uri = g_strdup(peer_uri);
    c->uuid = g_strdup(domain_uuid);
    c->name = g_strdup(domain_name);
    c->methods = g_array_ref(methods);
    c->options = *options;
    return c;
}

gboolean ferry_migrate_run(FerryJob *job, FerryConfig *config, const char *domain_uuid, const char *domain_name,
                           const char *peer_uri, GArray *methods, const FerryMigrateOptions *options,
                           const FerryMigrateReport *report, FerryMethod *used, GError **error)
{
    if (!check_options(options, error) || !methods_available(methods, error))
        return FALSE;
    MigrateCall *c = migrate_call_new(config, domain_uuid, domain_name, peer_uri, methods, options);
    Migrate m = { .job = job, .call = c, .started = g_get_monotonic_time(), .report = report };
    gboolean ok = connect_hosts(&m, error) && check_auto_converge(&m, error) && start_dirty_probe(&m) &&
                  try_methods(&m, error);
    if (ok && used)
        *used = m.used;
    migrate_clear(&m);
    migrate_call_free(c);
    return ok;
}

FerryJob *ferry_migrate_start(FerryJobs *jobs, FerryConfig *config, const char *domain_uuid,
                              const char *domain_name, const char *peer_uri, const char *const *methods,
                              const FerryMigrateOptions *options, GError **error)
{
    g_autoptr(GArray) parsed = NULL;
    if (!check_options(options, error) || !ferry_methods_parse(methods, &parsed, error) ||
        !methods_available(parsed, error))
        return NULL;
    MigrateCall *c = migrate_call_new(config, domain_uuid, domain_name, peer_uri, parsed, options);
    return ferry_jobs_start(jobs, FERRY_JOB_MIGRATE, domain_name, domain_uuid, migrate_job, c,
                            (GDestroyNotify)migrate_call_free, error);
}
