/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshot for placement (see snapshot.h): this host read in the caller's thread, each peer
 * in a thread of its own that the caller waits for until a deadline. A peer thread that
 * misses it is left to finish on its own: it owns everything it touches. */
#include "snapshot.h"

#include "maintenance.h"

#include "domxml.h"
#include "ferry-error.h"
#include "libvirt-autoptr.h"
#include "libvirt-error.h"
#include "libvirt-open.h"
#include "migrate.h"
#include "networks.h"

#include <libvirt/virterror.h>

/* ------------------------------------------------------------------ this host's domains */

typedef struct {
    char *name, *uuid, *xml;
    gboolean running, busy;
    guint64 memory_kib;
    guint vcpus;
    FerryPolicy *policy;
    char *problem; /* why it cannot go anywhere (metadata that does not parse, a blocker), or NULL */
} DomainFacts;

static void domain_facts_free(DomainFacts *d)
{
    g_free(d->name);
    g_free(d->uuid);
    g_free(d->xml);
    ferry_policy_free(d->policy);
    g_free(d->problem);
    g_free(d);
}

/* The domain's virt-ferry policy; *@problem says why it did not parse (the empty policy then). */
static FerryPolicy *read_policy(virDomainPtr dom, char **problem)
{
    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS,
                                                VIR_DOMAIN_AFFECT_CURRENT);
    if (!xml)
        virResetLastError(); /* no policy set */
    g_autoptr(GError) error = NULL;
    FerryPolicy *policy = ferry_policy_parse(xml, &error);
    if (policy)
        return policy;
    if (problem)
        *problem = g_strdup_printf("its virt-ferry policy metadata does not parse (%s): fix it with "
                                   "virt-ferry policy", error->message);
    return ferry_policy_new();
}

static DomainFacts *read_domain(virDomainPtr dom, const char *const *busy_uuids)
{
    DomainFacts *d = g_new0(DomainFacts, 1);
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainGetUUIDString(dom, uuid);
    d->name = g_strdup(virDomainGetName(dom));
    d->uuid = g_strdup(uuid);
    d->running = virDomainIsActive(dom) == 1;
    virDomainInfo info;
    if (virDomainGetInfo(dom, &info) == 0) {
        d->memory_kib = info.memory;
        d->vcpus = info.nrVirtCpu;
    }
    d->xml = virDomainGetXMLDesc(dom, d->running ? 0 : VIR_DOMAIN_XML_INACTIVE);
    d->policy = read_policy(dom, &d->problem);
    g_autoptr(GError) local = NULL;
    if (!d->problem && !ferry_migrate_check_blockers(dom, d->xml, d->running, &local))
        d->problem = g_strdup(local->message);
    g_clear_error(&local);
    d->busy = (busy_uuids && g_strv_contains(busy_uuids, uuid)) || !ferry_migrate_check_idle(dom, &local);
    virResetLastError();
    return d;
}

/* ------------------------------------------------------------------ one peer */

typedef struct {
    gatomicrefcount ref;
    /* input, owned */
    FerryConfig *config;         /* a reference: the thread may outlive the request */
    char *uri, *source_name;
    GPtrArray *domains;          /* DomainFacts (shared read-only with the caller: refs below) */
    gboolean all;
    gboolean cluster;            /* no access checks (FerrySnapshotRequest) */
    /* output, written by the thread before it sets done */
    GMutex lock;
    GCond cond;
    gboolean done;
    char *name;
    char *reason;                /* unreachable: why */
    guint64 memory_total_kib, memory_free_kib;
    guint cpus;
    gboolean maintenance;
    GArray *residents;           /* FerryPlaceResident, strings in @strings */
    GPtrArray *resident_policies; /* FerryPolicy, parallel to @residents */
    GArray *access;              /* FerryPlaceAccess per domain, strings in @strings */
    GStringChunk *strings;
} PeerRead;

static PeerRead *peer_read_ref(PeerRead *p)
{
    g_atomic_ref_count_inc(&p->ref);
    return p;
}

static void peer_read_unref(PeerRead *p)
{
    if (!p || !g_atomic_ref_count_dec(&p->ref))
        return;
    ferry_config_unref(p->config);
    g_free(p->uri);
    g_free(p->source_name);
    g_ptr_array_unref(p->domains);
    g_mutex_clear(&p->lock);
    g_cond_clear(&p->cond);
    g_free(p->name);
    g_free(p->reason);
    g_array_unref(p->residents);
    g_ptr_array_unref(p->resident_policies);
    g_array_unref(p->access);
    g_string_chunk_free(p->strings);
    g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PeerRead, peer_read_unref)

static const char *keep(PeerRead *p, const char *s)
{
    return s ? g_string_chunk_insert_const(p->strings, s) : NULL;
}

/* The host part of a libvirt URI, or the URI itself. */
static char *uri_host(const char *uri)
{
    g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
    const char *host = parsed ? g_uri_get_host(parsed) : NULL;
    return g_strdup(host && *host ? host : uri);
}

static gboolean read_residents(PeerRead *p, virConnectPtr dst, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(dst, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0)
        return ferry_error_from_libvirt(error, "cannot list the domains of %s", p->name);
    for (int i = 0; i < n; i++) {
        g_autoptr(virDomain) dom = doms[i];
        virDomainInfo info;
        if (virDomainGetInfo(dom, &info) < 0) {
            virResetLastError(); /* gone meanwhile */
            continue;
        }
        g_autoptr(FerryPolicy) policy = read_policy(dom, NULL);
        FerryPlaceResident r = {
            .name = keep(p, virDomainGetName(dom)), .peer = keep(p, p->name), .memory_kib = info.memory,
            .vcpus = info.nrVirtCpu, .eq = keep(p, policy->eq), .ne = keep(p, policy->ne),
        };
        g_array_append_val(p->residents, r);
        g_ptr_array_add(p->resident_policies, g_steal_pointer(&policy));
    }
    free(doms);
    return TRUE;
}

static gboolean read_node(PeerRead *p, virConnectPtr dst, GError **error)
{
    virNodeInfo node;
    if (virNodeGetInfo(dst, &node) < 0)
        return ferry_error_from_libvirt(error, "cannot read the CPUs and memory of %s", p->name);
    p->cpus = node.cpus;
    p->memory_total_kib = node.memory;
    return ferry_node_free_memory_kib(dst, p->name, &p->memory_free_kib, error);
}

/* Every NIC on a libvirt network has a place among the peer's networks (table B2). */
static void check_networks(PeerRead *p, const DomainFacts *d, const FerryNetmap *map, const FerryNetmap *here,
                           FerryPlaceAccess *a)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryDomainXml) def = d->xml ? ferry_domxml_parse(d->xml, &error) : NULL;
    GPtrArray *nics = def ? ferry_domxml_nics(def) : NULL;
    for (guint i = 0; nics && i < nics->len; i++) {
        const FerryNic *nic = g_ptr_array_index(nics, i);
        g_auto(FerryNicMapping) m = { .vlan = -1 };
        if (g_strcmp0(nic->type, "network") != 0 || !nic->network || !nic->mac)
            continue;
        if (!ferry_migrate_nic_decide(nic, NULL, map, here, &m, &error))
            break;
    }
    a->network = error == NULL;
    if (error)
        a->network_reason = keep(p, error->message);
}

/* What migrate-check decides for this (domain, peer): storage, copies, CPU, versions. */
static void check_access(PeerRead *p, virConnectPtr src, virConnectPtr dst, gboolean versions_ok,
                         const char *versions_reason, const DomainFacts *d, FerryPlaceAccess *a)
{
    g_autoptr(GError) error = NULL;
    if (d->problem) {
        a->storage_reason = a->copy_reason = a->cpu_reason = a->network_reason = keep(p, d->problem);
        return;
    }
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(src, d->uuid);
    if (!dom) {
        virResetLastError();
        a->storage_reason = a->copy_reason = a->cpu_reason = keep(p, "the domain is gone from this host");
        return;
    }
    g_autofree char *storage_reason = NULL;
    if (!ferry_storage_shared(src, dst, d->xml, &a->storage_shared, &storage_reason, &error)) {
        a->storage_shared = FALSE;
        a->storage_reason = keep(p, error->message);
        g_clear_error(&error);
    } else if (storage_reason) {
        a->storage_reason = keep(p, storage_reason);
    }
    a->copy_space = a->storage_shared || ferry_migrate_check_disk_space(src, dst, dom, NULL, &error);
    if (error) {
        a->copy_reason = keep(p, error->message);
        g_clear_error(&error);
    }
    a->cpu_boot = ferry_migrate_check_cpu(src, dst, dom, TRUE, &error);
    if (error) {
        a->cpu_reason = keep(p, error->message);
        g_clear_error(&error);
    }
    /* Live methods also need a libvirt and QEMU there that are not older than here. */
    a->cpu_live = a->cpu_boot && (!d->running || (versions_ok && ferry_migrate_check_cpu(src, dst, dom, FALSE, &error)));
    if (error)
        a->cpu_reason = keep(p, error->message);
    else if (!versions_ok && d->running && a->cpu_boot)
        a->cpu_reason = keep(p, versions_reason);
    virResetLastError();
}

static gboolean read_access(PeerRead *p, virConnectPtr dst, GError **error)
{
    g_autoptr(virConnect) src = ferry_libvirt_open(p->config->libvirt_uri, error);
    if (!src)
        return FALSE;
    g_autoptr(FerryNetmap) map = ferry_networks_read_map(dst, NULL, error);
    g_autoptr(FerryNetmap) here = map ? ferry_networks_read_map(src, p->config->networks_dir, error) : NULL;
    if (!here)
        return FALSE;
    g_autoptr(GError) versions = NULL;
    gboolean versions_ok = ferry_migrate_check_versions(src, dst, &versions);
    for (guint i = 0; i < p->domains->len; i++) {
        const DomainFacts *d = g_ptr_array_index(p->domains, i);
        FerryPlaceAccess a = { 0 };
        /* Only what placement will ask about: domains it may move. */
        if ((d->running || p->all) && !d->busy && !d->policy->hold && !d->policy->unmanaged) {
            check_access(p, src, dst, versions_ok, versions ? versions->message : NULL, d, &a);
            if (a.network_reason == NULL && !d->problem)
                check_networks(p, d, map, here, &a);
        }
        g_array_append_val(p->access, a);
    }
    return TRUE;
}

static gpointer peer_thread(gpointer data)
{
    g_autoptr(PeerRead) p = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) dst = ferry_libvirt_open(p->uri, &error);
    if (dst) {
        char *name = virConnectGetHostname(dst);
        virResetLastError();
        if (name && g_strcmp0(name, p->source_name) == 0) {
            /* [peers] names this host itself: its name stays the URI, so that it is no target. */
            g_set_error(&error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                        "its libvirtd answers as %s, this host: remove it from [peers] uris=", name);
            g_free(name);
        } else {
            if (name) {
                g_free(p->name);
                p->name = name;
            }
            /* A peer whose mode cannot be read is no target: it may be in maintenance. */
            if (ferry_maintenance_peer_state(dst, &p->maintenance, NULL, &error) && read_node(p, dst, &error) &&
                read_residents(p, dst, &error) && !p->cluster)
                read_access(p, dst, &error);
        }
    }
    g_mutex_lock(&p->lock);
    if (error)
        p->reason = g_strdup(error->message);
    p->done = TRUE;
    g_cond_signal(&p->cond);
    g_mutex_unlock(&p->lock);
    return NULL;
}

static PeerRead *peer_read_start(const FerrySnapshotRequest *request, const char *source, const char *uri,
                                 GPtrArray *domains)
{
    PeerRead *p = g_new0(PeerRead, 1);
    p->source_name = g_strdup(source);
    g_atomic_ref_count_init(&p->ref);
    p->config = ferry_config_ref(request->config);
    p->uri = g_strdup(uri);
    p->domains = g_ptr_array_ref(domains);
    p->all = request->all;
    p->cluster = request->cluster;
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
    p->name = uri_host(uri);
    p->residents = g_array_new(FALSE, TRUE, sizeof(FerryPlaceResident));
    p->resident_policies = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_policy_free);
    p->access = g_array_new(FALSE, TRUE, sizeof(FerryPlaceAccess));
    p->strings = g_string_chunk_new(1024);
    g_thread_unref(g_thread_new("ferry-peer", peer_thread, peer_read_ref(p)));
    return p;
}

/* Whether the peer answered by @deadline (monotonic); it keeps running if not. */
static gboolean peer_read_wait(PeerRead *p, gint64 deadline)
{
    g_mutex_lock(&p->lock);
    while (!p->done)
        if (!g_cond_wait_until(&p->cond, &p->lock, deadline))
            break;
    gboolean done = p->done;
    g_mutex_unlock(&p->lock);
    return done;
}

/* ------------------------------------------------------------------ the snapshot */

void ferry_snapshot_free(FerrySnapshot *s)
{
    if (!s)
        return;
    g_ptr_array_unref(s->peer_uris);
    g_ptr_array_unref(s->peer_reasons);
    g_array_unref(s->domain_bytes);
    g_ptr_array_unref(s->resident_policies);
    g_string_chunk_free(s->strings);
    g_array_unref(s->peers);
    g_array_unref(s->domains);
    g_array_unref(s->residents);
    g_array_unref(s->access);
    g_ptr_array_unref(s->policies);
    g_free(s);
}

static const char *copy(FerrySnapshot *s, const char *text)
{
    return text ? g_string_chunk_insert_const(s->strings, text) : NULL;
}

static FerrySnapshot *snapshot_new(void)
{
    FerrySnapshot *s = g_new0(FerrySnapshot, 1);
    s->peer_uris = g_ptr_array_new_with_free_func(g_free);
    s->peer_reasons = g_ptr_array_new_with_free_func(g_free);
    s->domain_bytes = g_array_new(FALSE, TRUE, sizeof(guint64));
    s->resident_policies = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_policy_free);
    s->strings = g_string_chunk_new(4096);
    s->peers = g_array_new(FALSE, TRUE, sizeof(FerryPlacePeer));
    s->domains = g_array_new(FALSE, TRUE, sizeof(FerryPlaceDomain));
    s->residents = g_array_new(FALSE, TRUE, sizeof(FerryPlaceResident));
    s->access = g_array_new(FALSE, TRUE, sizeof(FerryPlaceAccess));
    s->policies = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_policy_free);
    return s;
}

static GPtrArray *read_domains(virConnectPtr src, const FerrySnapshotRequest *request, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(src, &doms, 0);
    if (n < 0) {
        ferry_error_from_libvirt(error, "cannot list this host's domains");
        return NULL;
    }
    GPtrArray *domains = g_ptr_array_new_with_free_func((GDestroyNotify)domain_facts_free);
    for (int i = 0; i < n; i++) {
        g_ptr_array_add(domains, read_domain(doms[i], request->busy_uuids));
        virDomainFree(doms[i]);
    }
    free(doms);
    return domains;
}

static void add_domains(FerrySnapshot *s, GPtrArray *domains)
{
    for (guint i = 0; i < domains->len; i++) {
        const DomainFacts *d = g_ptr_array_index(domains, i);
        FerryPolicy *policy = ferry_policy_copy(d->policy);
        g_ptr_array_add(s->policies, policy);
        FerryPlaceDomain pd = {
            .name = copy(s, d->name), .uuid = copy(s, d->uuid), .running = d->running,
            .memory_kib = d->memory_kib, .vcpus = d->vcpus, .policy = policy,
            .maintenance = d->policy->maintenance, .busy = d->busy,
        };
        g_array_append_val(s->domains, pd);
        guint64 bytes = d->running ? d->memory_kib * 1024 : 0;
        g_array_append_val(s->domain_bytes, bytes);
    }
}

/* Takes what peer @p found into @s; @answered: it finished by the deadline. */
static void add_peer(FerrySnapshot *s, PeerRead *p, gboolean answered, guint timeout, guint n_domains,
                     FerryPlaceAccess *access, guint n_peers, guint index)
{
    g_autofree char *late = answered ? NULL : g_strdup_printf("its libvirtd did not answer within %u s", timeout);
    const char *reason = answered ? p->reason : late;
    FerryPlacePeer peer = { .name = copy(s, p->name), .reachable = reason == NULL };
    if (!reason) {
        peer.memory_total_kib = p->memory_total_kib;
        peer.memory_free_kib = p->memory_free_kib;
        peer.cpus = p->cpus;
        peer.maintenance = p->maintenance;
        for (guint i = 0; i < p->residents->len; i++) {
            FerryPlaceResident r = g_array_index(p->residents, FerryPlaceResident, i);
            r.name = copy(s, r.name);
            r.peer = peer.name;
            r.eq = copy(s, r.eq);
            r.ne = copy(s, r.ne);
            g_array_append_val(s->residents, r);
            g_ptr_array_add(s->resident_policies, ferry_policy_copy(g_ptr_array_index(p->resident_policies, i)));
        }
        for (guint d = 0; d < n_domains && d < p->access->len; d++) {
            FerryPlaceAccess a = g_array_index(p->access, FerryPlaceAccess, d);
            a.storage_reason = copy(s, a.storage_reason);
            a.copy_reason = copy(s, a.copy_reason);
            a.cpu_reason = copy(s, a.cpu_reason);
            a.network_reason = copy(s, a.network_reason);
            access[d * n_peers + index] = a;
        }
    }
    g_array_append_val(s->peers, peer);
    g_ptr_array_add(s->peer_uris, g_strdup(p->uri));
    g_ptr_array_add(s->peer_reasons, g_strdup(reason));
}

/* This host as a target, for the cluster reserve. Its maintenance comes from its state
 * file, the truth that its libvirt only publishes to the peers (a file that cannot be read
 * counts as maintenance, as for the hook). */
static gboolean read_here(FerrySnapshot *s, virConnectPtr src, const char *state_dir, GError **error)
{
    g_auto(FerryMaintenanceState) state = { 0 };
    s->here.maintenance = !ferry_maintenance_load(state_dir, &state, NULL) || state.active;
    virNodeInfo node;
    if (virNodeGetInfo(src, &node) < 0)
        return ferry_error_from_libvirt(error, "cannot read the CPUs and memory of this host");
    s->here.name = s->input.source;
    s->here.cpus = node.cpus;
    s->here.memory_total_kib = node.memory;
    s->here.reachable = TRUE;
    return ferry_node_free_memory_kib(src, s->input.source, &s->here.memory_free_kib, error);
}

FerrySnapshot *ferry_snapshot_read(const FerrySnapshotRequest *request, GError **error)
{
    const FerryConfig *config = request->config;
    g_autoptr(virConnect) src = ferry_libvirt_open(config->libvirt_uri, error);
    if (!src)
        return NULL;
    g_autoptr(GPtrArray) domains = read_domains(src, request, error);
    if (!domains)
        return NULL;
    g_autoptr(FerrySnapshot) s = snapshot_new();
    g_autofree char *source = virConnectGetHostname(src);
    virResetLastError();
    s->input.source = copy(s, source ? source : "localhost");
    add_domains(s, domains);
    if (request->cluster && !read_here(s, src, config->state_dir, error))
        return NULL;

    guint timeout = request->peer_timeout ? request->peer_timeout : config->evacuation_peer_timeout;
    if (!timeout)
        timeout = FERRY_EVACUATION_PEER_TIMEOUT;
    g_autoptr(GPtrArray) reads = g_ptr_array_new_with_free_func((GDestroyNotify)peer_read_unref);
    for (char **u = config->peers; u && *u; u++)
        if (!request->skip_uris || !g_strv_contains(request->skip_uris, *u))
            g_ptr_array_add(reads, peer_read_start(request, s->input.source, *u, domains));
    /* Every peer at once, one deadline for all: a dead one costs the timeout once. */
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout * G_USEC_PER_SEC;
    guint n_peers = reads->len, n_domains = domains->len;
    g_array_set_size(s->access, (gsize)n_domains * n_peers);
    for (guint i = 0; i < n_peers; i++) {
        PeerRead *p = g_ptr_array_index(reads, i);
        gboolean answered = peer_read_wait(p, deadline);
        g_mutex_lock(&p->lock); /* a late thread may still be writing */
        add_peer(s, p, answered, timeout, n_domains, (FerryPlaceAccess *)(void *)s->access->data, n_peers, i);
        g_mutex_unlock(&p->lock);
    }
    s->input.peers = (const FerryPlacePeer *)(void *)s->peers->data;
    s->input.n_peers = s->peers->len;
    s->input.domains = (const FerryPlaceDomain *)(void *)s->domains->data;
    s->input.n_domains = s->domains->len;
    s->input.residents = (const FerryPlaceResident *)(void *)s->residents->data;
    s->input.n_residents = s->residents->len;
    s->input.access = n_peers ? (const FerryPlaceAccess *)(void *)s->access->data : NULL;
    return g_steal_pointer(&s);
}

int ferry_snapshot_find_peer(const FerrySnapshot *s, const char *name_or_uri)
{
    for (guint i = 0; i < s->input.n_peers; i++) {
        const char *uri = g_ptr_array_index(s->peer_uris, i);
        g_autofree char *host = uri_host(uri);
        if (g_strcmp0(s->input.peers[i].name, name_or_uri) == 0 || g_strcmp0(uri, name_or_uri) == 0 ||
            g_strcmp0(host, name_or_uri) == 0)
            return (int)i;
    }
    return -1;
}
