/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The restore job: an archive of the library back onto this host, running from where it was
 * saved. Nothing is changed before the archive verifies; every file and definition the job
 * creates is journalled before it is created, so a failure, a cancel or a killed virt-ferryd
 * leaves no domain and no disk behind, and the archive is only ever read. */
#include "restore.h"
#include "log.h"

#include "archive-util.h"
#include "domxml.h"
#include "libvirt-error.h"
#include "journal.h"
#include "names.h"
#include "networks.h"
#include "peer-storage.h"
#include "policy.h"
#include "restore-feed.h"
#include "restore-once.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <linux/ioprio.h>
#include <sys/syscall.h>
#include <libvirt/virterror.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most a domain definition from an archive may weigh (libvirt's own bound on XML it reads). */
#define DOMAIN_XML_MAX_BYTES (10 * 1024 * 1024)
/* libvirt's default owner of swtpm's state (qemu.conf swtpm_user, swtpm_group). */
#define SWTPM_USER "tss"

typedef struct {
    FerryConfig *config;
    char *id, *dir;
    FerryRestoreOptions options;
} RestoreCall;

static void restore_call_free(RestoreCall *r)
{
    ferry_config_unref(r->config);
    g_free(r->id);
    g_free(r->dir);
    g_free(r->options.name);
    g_free(r->options.network);
    g_free(r);
}

/* A disk (or NVRAM file) the restore puts on this host. */
typedef struct {
    const FerryManifestFile *file;
    char *path;          /* where the domain will use it */
    char *staging;       /* where it is copied first (path + suffix when path is taken by the
                          * domain being replaced), else NULL */
} Placement;

/* What the replaced domain's file is kept as until the restore is done (see keep_replaced). */
#define KEPT_SUFFIX ".virt-ferry-replaced"

typedef struct _Restore Restore;

/* A disk copied by a thread of its own while libvirt restores the memory state. */
typedef struct {
    Restore *r;
    Placement *p;
    GThread *thread;
    FerryJobBytesSide progress;
    gboolean head;       /* its file exists with its first chunk (under Restore.verify_lock) */
    gboolean ended;      /* (under Restore.verify_lock) */
    GError *error;
} Copier;

static void placement_free(Placement *p)
{
    g_free(p->path);
    g_free(p->staging);
    g_free(p);
}

struct _Restore {
    FerryJob *job;
    RestoreCall *call;
    FerryManifest *manifest;
    FerryJournal *journal;
    virConnectPtr conn;
    virDomainPtr replaced;   /* the domain pending deletion this restore takes the place of */
    char *replaced_xml;      /* its definition, to put back on failure */
    char *replaced_policy;   /* its policy element, carried over */
    char *name, *uuid;       /* of the restored domain */
    GPtrArray *placements;
    GPtrArray *writable_dirs;/* where this host lets a restore create files (canonical paths) */
    char *tpm_dir;           /* swtpm's state directory of the restored domain, when it has one */
    char *tpm_staging;       /* where it is copied first when that directory exists */
    GPtrArray *nic_plans;    /* NicPlan: where each archived NIC goes */
    FerryJobBytes bytes;
    virDomainPtr dom;        /* the restored domain once defined */
    gboolean copy;           /* a copy: new UUID, new MACs, booted from its disks */
    FerryRestoreLock *lock;  /* no other host restores this UUID meanwhile */
    GThread *verifier;       /* digesting the memory state while the restore goes on */
    FerryJobBytesSide verify_progress;
    GCancellable *verify_stop;
    gulong verify_link;      /* the job's cancellation stops the verifier */
    GError *verify_error;
    FerryMemoryFeed *feed;   /* or the memory state streaming to libvirt, verified as it goes */
    GPtrArray *copiers;      /* Copier: the disks, copied meanwhile */
    GMutex verify_lock;      /* guards: */
    GCond copier_changed;
    gboolean copies_done;
    pid_t verifier_tid;      /* while its I/O class is idle */
};

static void stop_memory_verifier(Restore *r);
static void stop_streaming(Restore *r);

static void restore_clear(Restore *r)
{
    stop_memory_verifier(r);
    stop_streaming(r);
    g_clear_pointer(&r->manifest, ferry_manifest_free);
    g_clear_pointer(&r->journal, ferry_journal_free);
    if (r->replaced)
        virDomainFree(r->replaced);
    if (r->dom)
        virDomainFree(r->dom);
    if (r->conn)
        virConnectClose(r->conn);
    g_free(r->replaced_xml);
    g_free(r->replaced_policy);
    g_free(r->name);
    g_free(r->uuid);
    g_clear_pointer(&r->placements, g_ptr_array_unref);
    g_clear_pointer(&r->writable_dirs, g_ptr_array_unref);
    g_free(r->tpm_dir);
    g_free(r->tpm_staging);
    g_clear_pointer(&r->nic_plans, g_ptr_array_unref);
    g_clear_pointer(&r->lock, ferry_restore_lock_release);
}

static gboolean cancelled(Restore *r, GError **error)
{
    return g_cancellable_set_error_if_cancelled(ferry_job_cancellable(r->job), error);
}

/* ------------------------------------------------------------------ checks */

static gboolean copy_placements(Restore *r, guint roles, GError **error);

/* The memory state is read from the library once, by the feed (restore-feed.h) that streams it
 * to libvirt: libvirt restores it paused while the disks are still being copied, and cannot
 * finish before every disk is in place and the digest matched; the domain runs only then,
 * otherwise it is destroyed like anything else the restore created. A copy (which boots from
 * its disks) has its memory state checked by a verifier thread beside the copies. Disks and
 * NVRAM are checked against their digests as they are copied; the small files (the
 * definition, TPM state) are checked before anything is made from them. */
#define COPIED_ROLES ((1u << FERRY_FILE_DISK) | (1u << FERRY_FILE_NVRAM))
#define MEMORY_ROLE (1u << FERRY_FILE_MEMORY)

static gboolean load_manifest(Restore *r, GError **error)
{
    if (!(r->manifest = ferry_manifest_load(r->call->dir, error)))
        return FALSE;
    guint64 total = 0;
    for (guint i = 0; i < r->manifest->files->len; i++) {
        FerryManifestFile *f = g_ptr_array_index(r->manifest->files, i);
        total += f->allocated; /* each file is read once */
    }
    r->bytes = (FerryJobBytes){ .job = r->job, .total = total };
    return TRUE;
}

/* While the disks are copied, the verifier reads only when the disk has nothing else to do
 * (I/O class idle): libvirt can start only once the disks are in place, and it then reads the
 * memory state from the page cache up to where the verifier got, the verifier reading ahead of
 * it again at the normal priority. */
static void verifier_io_idle(Restore *r)
{
    g_mutex_lock(&r->verify_lock);
    if (!r->copies_done && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
                                   IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) == 0)
        r->verifier_tid = (pid_t)syscall(SYS_gettid);
    g_mutex_unlock(&r->verify_lock);
}

static void verifier_io_normal(Restore *r)
{
    g_mutex_lock(&r->verify_lock);
    r->copies_done = TRUE;
    /* Back to the class its CPU priority gives it. */
    if (r->verifier_tid)
        syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, r->verifier_tid, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_NONE, 0));
    r->verifier_tid = 0;
    g_mutex_unlock(&r->verify_lock);
}

static gpointer memory_verifier_thread(gpointer data)
{
    Restore *r = data;
    verifier_io_idle(r);
    ferry_library_verify(r->call->dir, r->manifest, ~MEMORY_ROLE, r->verify_stop, ferry_job_bytes_side_progress,
                         &r->verify_progress, &r->verify_error);
    return NULL;
}

static void stop_verifying(GCancellable *job_cancellable, gpointer verify_stop)
{
    g_cancellable_cancel(verify_stop);
}

static void start_memory_verifier(Restore *r)
{
    r->verify_progress = (FerryJobBytesSide){ .bytes = &r->bytes };
    r->verify_stop = g_cancellable_new();
    r->verify_link = g_cancellable_connect(ferry_job_cancellable(r->job), G_CALLBACK(stop_verifying),
                                           r->verify_stop, NULL);
    r->verifier = g_thread_new("verify", memory_verifier_thread, r);
}

/* Waits for the verifier: FALSE with its error when the memory state is not the archived one. */
static gboolean join_memory_verifier(Restore *r, GError **error)
{
    if (!r->verifier)
        return TRUE;
    g_thread_join(g_steal_pointer(&r->verifier));
    g_cancellable_disconnect(ferry_job_cancellable(r->job), r->verify_link);
    r->verify_link = 0;
    if (r->verify_error) {
        g_propagate_error(error, g_steal_pointer(&r->verify_error));
        return FALSE;
    }
    ferry_job_add_step(r->job, r->manifest->domain, "verify", r->call->id, "intact");
    return TRUE;
}

/* A restore that fails stops reading the archive before it rolls back. */
static void stop_memory_verifier(Restore *r)
{
    if (r->verifier)
        g_cancellable_cancel(r->verify_stop);
    join_memory_verifier(r, NULL);
    g_clear_error(&r->verify_error);
    g_clear_object(&r->verify_stop);
}

/* The definition and TPM state, small, before anything is made from them. */
static gboolean verify_small_files(Restore *r, GError **error)
{
    guint skip = COPIED_ROLES | MEMORY_ROLE;
    if (!ferry_library_verify(r->call->dir, r->manifest, skip, ferry_job_cancellable(r->job), NULL, NULL, error))
        return FALSE;
    for (guint i = 0; i < r->manifest->files->len; i++) {
        FerryManifestFile *f = g_ptr_array_index(r->manifest->files, i);
        if (!(skip & (1u << f->role)))
            ferry_job_bytes_file_done(&r->bytes, f->allocated);
    }
    return TRUE;
}

/* Copies disks and NVRAM while the memory state is verified. */
static gboolean copy_and_verify(Restore *r, GError **error)
{
    ferry_job_set_message(r->job, "verifying archive %s and copying its disks", r->call->id);
    start_memory_verifier(r);
    gboolean copied = copy_placements(r, COPIED_ROLES, error);
    verifier_io_normal(r);
    if (copied && verify_small_files(r, error))
        return TRUE;
    stop_memory_verifier(r); /* the copy's error says what is wrong: no need to read on */
    return FALSE;
}

static gboolean is_pending_with(virDomainPtr dom)
{
    g_autofree char *mark = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_ARCHIVE_NS,
                                                 VIR_DOMAIN_AFFECT_CONFIG);
    virResetLastError();
    int state = 0;
    return mark && ferry_archived_mark_parse(mark, NULL, NULL, NULL) && virDomainGetState(dom, &state, NULL, 0) == 0 &&
           state == VIR_DOMAIN_SHUTOFF;
}

/* A copy asked for: its own name, a new UUID and new MACs, so that it runs next to the
 * original. libvirt restores a saved memory state only under its UUID and MACs: a copy boots
 * from its disk copies. */
static gboolean choose_copy_identity(Restore *r, GError **error)
{
    const char *name = r->call->options.name;
    if (!name || g_str_equal(name, r->manifest->domain)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "a copy of %s needs a name of its own (name option, virt-ferry restore --copy --name)",
                    r->manifest->domain);
        return FALSE;
    }
    g_autoptr(virDomain) by_name = virDomainLookupByName(r->conn, name);
    virResetLastError();
    if (by_name) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "a domain named %s exists on this host; give the copy another name", name);
        return FALSE;
    }
    r->name = g_strdup(name);
    r->uuid = g_uuid_string_random();
    r->copy = TRUE;
    ferry_job_add_step(r->job, r->name, "identity", r->uuid, "copy: new UUID and new MACs");
    return TRUE;
}

/* Decides the name and UUID, and whether a domain pending deletion here gives way. */
static gboolean choose_identity(Restore *r, GError **error)
{
    FerryManifest *m = r->manifest;
    if (r->call->options.copy)
        return choose_copy_identity(r, error);
    if (r->call->options.name && !g_str_equal(r->call->options.name, m->domain) && ferry_manifest_has_memory(m)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "%s was archived running: libvirt restores a saved domain only under its own name; restore "
                    "it as %s on a host where that name is free (and rename it when it is shut off: virsh "
                    "domrename), or restore a copy booted from its disks (copy option)", m->domain, m->domain);
        return FALSE;
    }
    r->name = g_strdup(r->call->options.name ? r->call->options.name : m->domain);
    r->uuid = g_strdup(m->uuid);
    g_autoptr(virDomain) by_uuid = virDomainLookupByUUIDString(r->conn, m->uuid);
    g_autoptr(virDomain) by_name = virDomainLookupByName(r->conn, r->name);
    virResetLastError();
    if (by_uuid && is_pending_with(by_uuid) && g_str_equal(virDomainGetName(by_uuid), r->name)) {
        r->replaced = g_steal_pointer(&by_uuid);
        r->replaced_xml = virDomainGetXMLDesc(r->replaced, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE);
        r->replaced_policy = virDomainGetMetadata(r->replaced, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS,
                                                  VIR_DOMAIN_AFFECT_CONFIG);
        virResetLastError();
        if (!r->replaced_xml)
            return ferry_error_from_libvirt(error, "cannot read the definition of %s", r->name);
        ferry_job_add_step(r->job, r->name, "identity", m->uuid, "takes the place of the domain pending deletion");
        return TRUE;
    }
    if (by_uuid && !(r->call->options.name && !by_name) && virDomainIsActive(by_uuid) == 1) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                    "domain %s (UUID %s) runs on this host: restoring its archive would run it twice; stop it first, "
                    "or restore a copy with a new UUID and new MACs (copy option, with a name)",
                    virDomainGetName(by_uuid), m->uuid);
        return FALSE;
    }
    if (by_name) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "a domain named %s exists on this host and is not this archive's domain pending deletion; "
                    "restore under another name (--name)", r->name);
        return FALSE;
    }
    if (by_uuid) {
        if (!r->call->options.name) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                        "domain %s (UUID %s) exists on this host; restore a copy under another name (--name)",
                        virDomainGetName(by_uuid), m->uuid);
            return FALSE;
        }
        g_free(r->uuid);
        r->uuid = g_uuid_string_random();
        r->copy = TRUE;
        ferry_job_add_step(r->job, r->name, "identity", r->uuid,
                           "copy: new UUID and new MACs (the archived UUID is in use here)");
    }
    return TRUE;
}

/* The archived UUID comes back: nowhere else may it run, now or while this restore runs. */
static gboolean restore_once(Restore *r, GError **error)
{
    FerryRestoreOnceRequest req = {
        .library = r->call->config->archive_library, .archive_id = r->call->id, .domain_uuid = r->uuid, .domain_name = r->name,
        .peers = (const char *const *)r->call->config->peers, .break_lock = r->call->options.break_lock,
        .ignore_unreachable = r->call->options.ignore_unreachable,
    };
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    ferry_job_set_message(r->job, "asking this host and its peers whether %s runs", r->name);
    if (!(r->lock = ferry_restore_once_begin(r->conn, &req, notes, error)))
        return FALSE;
    for (guint i = 0; i < notes->len; i++)
        ferry_job_add_note(r->job, g_ptr_array_index(notes, i));
    return TRUE;
}

/* ------------------------------------------------------------------ networks */

typedef struct {
    char *mac;
    FerryNicMapping mapping;
} NicPlan;

static void nic_plan_free(NicPlan *p)
{
    g_free(p->mac);
    ferry_nic_mapping_clear(&p->mapping);
    g_free(p);
}

/* This host's networks as libvirt has them now, with the peers' that virt-ferryd keeps in the
 * map on disk (what a portgroup carries where the domain may come from). */
static FerryNetmap *networks_here_and_peers(Restore *r, GError **error)
{
    FerryNetmap *map = ferry_networks_read_map(r->conn, r->call->config->networks_dir, error);
    g_autofree char *path = map ? ferry_networks_map_path(r->call->config->state_dir) : NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(FerryNetmap) kept = path ? ferry_netmap_load(path, &local) : NULL;
    if (kept) {
        g_ptr_array_unref(map->peers);
        map->peers = g_ptr_array_ref(kept->peers);
    } else if (local && !g_error_matches(local, FERRY_ERROR, FERRY_ERROR_NOT_FOUND)) {
        g_warning("restore maps NICs without the peers' networks: %s", local->message);
    }
    return map;
}

/* Decides, for every NIC on a network, where it connects on this host, as the hook would
 * (ferry_netmap_map_nic) from the VLAN the manifest recorded: the running domain's XML, which
 * shows the VLAN of an Open vSwitch port and never a Linux bridge's. Nothing changes yet. */
static gboolean plan_networks(Restore *r, GError **error)
{
    r->nic_plans = g_ptr_array_new_with_free_func((GDestroyNotify)nic_plan_free);
    g_autoptr(FerryNetmap) map = networks_here_and_peers(r, error);
    if (!map)
        return FALSE;
    for (guint i = 0; i < r->manifest->nics->len; i++) {
        FerryManifestNic *nic = g_ptr_array_index(r->manifest->nics, i);
        if (!nic->network)
            continue; /* a bridge or direct NIC: kept as it was */
        NicPlan *plan = g_new0(NicPlan, 1);
        plan->mac = g_strdup(nic->mac);
        g_ptr_array_add(r->nic_plans, plan);
        FerryNicSource source = {
            .mac = nic->mac,
            .network = nic->network,
            .portgroup = nic->portgroup,
            .vlan = nic->vlan,
            .trunk = nic->trunk,
            .kind = nic->distributed ? FERRY_SWITCH_DISTRIBUTED : FERRY_SWITCH_STANDARD,
            .vlan_said = nic->distributed,
            .tags_on_interface = FALSE, /* the archived definition may carry them on a portgroup only */
        };
        if (!ferry_netmap_map_nic(map, &source, r->call->options.network, TRUE, &plan->mapping, error))
            return FALSE;
        ferry_job_add_step(r->job, r->manifest->domain, "network", nic->mac, plan->mapping.rule);
    }
    return TRUE;
}

static gboolean add_portgroup(virNetworkPtr net, const NicPlan *plan, GError **error)
{
    const FerryNicMapping *m = &plan->mapping;
    /* A Linux-bridge network refuses VLANs in its portgroups: its VLAN is declared apart. */
    g_autofree char *xml = m->distributed ? ferry_netmap_portgroup_xml(m->portgroup, m->vlan, m->trunk)
                                             : g_markup_printf_escaped("<portgroup name='%s'/>", m->portgroup);
    unsigned int flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG |
                         (virNetworkIsActive(net) == 1 ? VIR_NETWORK_UPDATE_AFFECT_LIVE : 0);
    if (virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, VIR_NETWORK_SECTION_PORTGROUP, -1, xml, flags) < 0)
        return ferry_error_from_libvirt(error, "cannot add portgroup %s to network %s", m->portgroup, m->network);
    return TRUE;
}

/* libvirt cannot tag a Linux-bridge port: the VLAN of a standard switch's new portgroup is
 * declared in virt-ferry's file for the network, whose old content the journal keeps. */
static gboolean declare_portgroup(Restore *r, const NicPlan *plan, GError **error)
{
    const FerryNicMapping *m = &plan->mapping;
    g_autofree char *path = ferry_networks_declarations_path(r->call->config->networks_dir, m->network);
    g_autofree char *current = NULL;
    g_file_get_contents(path, &current, NULL, NULL);
    g_autofree char *key = g_strconcat("declarations ", m->network, NULL);
    g_autofree char *previous = ferry_journal_get(r->journal, key);
    if (!previous) {
        ferry_journal_set(r->journal, key, current ? current : "");
        ferry_journal_append(r->journal, "declared", path);
        if (!ferry_journal_commit(r->journal, error))
            return FALSE;
    }
    g_autofree char *updated = ferry_netmap_standard_metadata_with(current, m->portgroup, m->vlan, m->trunk);
    if (!updated) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "cannot add portgroup %s to the declarations in %s: that file is not a <ferry:network> "
                    "element; fix or remove it (virt-ferry.conf(5))", m->portgroup, path);
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    if (g_mkdir_with_parents(r->call->config->networks_dir, 0755) < 0 ||
        !g_file_set_contents_full(path, updated, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0644, &local)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot declare the VLAN of portgroup %s in %s: %s",
                    m->portgroup, path, local ? local->message : g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static gboolean create_portgroups(Restore *r, GError **error)
{
    for (guint i = 0; i < r->nic_plans->len; i++) {
        NicPlan *plan = g_ptr_array_index(r->nic_plans, i);
        if (plan->mapping.action != FERRY_MAP_CREATE_PORTGROUP)
            continue;
        g_autoptr(virNetwork) net = virNetworkLookupByName(r->conn, plan->mapping.network);
        if (!net)
            return ferry_error_from_libvirt(error, "network %s", plan->mapping.network);
        g_autofree char *entry = g_strconcat(plan->mapping.network, "/", plan->mapping.portgroup, NULL);
        ferry_journal_append(r->journal, "portgroups", entry);
        if (!ferry_journal_commit(r->journal, error) || !add_portgroup(net, plan, error) ||
            (!plan->mapping.distributed && !declare_portgroup(r, plan, error)))
            return FALSE;
        ferry_job_add_step(r->job, r->manifest->domain, "portgroup", entry, "created");
    }
    return TRUE;
}

static void remove_portgroups(virConnectPtr conn, GStrv entries)
{
    for (char **e = entries; e && *e; e++) {
        g_auto(GStrv) parts = g_strsplit(*e, "/", 2);
        if (!parts[0] || !parts[1])
            continue;
        g_autoptr(virNetwork) net = virNetworkLookupByName(conn, parts[0]);
        g_autofree char *xml = g_markup_printf_escaped("<portgroup name='%s'/>", parts[1]);
        unsigned int flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG |
                             (net && virNetworkIsActive(net) == 1 ? VIR_NETWORK_UPDATE_AFFECT_LIVE : 0);
        if (net && virNetworkUpdate(net, VIR_NETWORK_UPDATE_COMMAND_DELETE, VIR_NETWORK_SECTION_PORTGROUP, -1, xml,
                                    flags) < 0)
            g_warning("cannot remove portgroup %s created for a failed restore: %s", *e, virGetLastErrorMessage());
        virResetLastError();
    }
}

static gboolean remap_nics(Restore *r, FerryDomainXml *def, GError **error)
{
    for (guint i = 0; r->nic_plans && i < r->nic_plans->len; i++) {
        NicPlan *plan = g_ptr_array_index(r->nic_plans, i);
        if (!ferry_domxml_map_nic(def, plan->mac, &plan->mapping, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean check_capacity(Restore *r, GError **error)
{
    unsigned long long free_bytes = virNodeGetFreeMemory(r->conn);
    virResetLastError();
    guint64 need = r->manifest->memory_kib * 1024;
    if (ferry_manifest_has_memory(r->manifest) && free_bytes > 0 && free_bytes < need) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY,
                    "%s needs %" G_GUINT64_FORMAT " MiB of memory; this host has %llu MiB free", r->manifest->domain,
                    need >> 20, free_bytes >> 20);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ disks */

static gboolean exists(const char *path)
{
    GStatBuf st;
    return g_lstat(path, &st) == 0;
}

static char *free_path_in(const char *dir, const char *base)
{
    g_autofree char *path = g_build_filename(dir, base, NULL);
    for (guint n = 2; exists(path); n++) {
        g_free(path);
        g_autofree char *numbered = g_strdup_printf("%u-%s", n, base);
        path = g_build_filename(dir, numbered, NULL);
    }
    return g_steal_pointer(&path);
}

/* The replaced domain's own file may be overwritten; any other file never is. */
static gboolean owned_by_replaced(Restore *r, const char *path)
{
    if (!r->replaced_xml)
        return FALSE;
    g_autoptr(FerryDomainXml) def = ferry_domxml_parse(r->replaced_xml, NULL);
    if (!def)
        return FALSE;
    GPtrArray *disks = ferry_domxml_disks(def);
    for (guint i = 0; i < disks->len; i++)
        if (g_strcmp0(((FerryDisk *)g_ptr_array_index(disks, i))->source, path) == 0)
            return TRUE;
    return g_strcmp0(ferry_domxml_nvram(def), path) == 0;
}

static void add_writable_dir(GPtrArray *dirs, const char *dir)
{
    char *real = realpath(dir, NULL);
    if (real) {
        g_ptr_array_add(dirs, g_strdup(real));
        free(real);
    }
}

/* Where this host lets a restore create a file at the path the manifest names: the image
 * directory, libvirt's NVRAM directory, the directories of its storage pools, and below them
 * (virt-ferry.conf(5)). */
static void find_writable_dirs(Restore *r, const char *nvram_dir)
{
    r->writable_dirs = g_ptr_array_new_with_free_func(g_free);
    add_writable_dir(r->writable_dirs, r->call->config->image_dir);
    add_writable_dir(r->writable_dirs, nvram_dir);
    g_autoptr(GPtrArray) pools = ferry_dir_pool_paths(r->conn);
    for (guint i = 0; i < pools->len; i++)
        add_writable_dir(r->writable_dirs, g_ptr_array_index(pools, i));
}

/* Whether @path's directory (links resolved) is one of the writable directories or below one. */
static gboolean in_writable_dir(Restore *r, const char *path)
{
    g_autofree char *parent = g_path_get_dirname(path);
    char *real = realpath(parent, NULL);
    if (!real)
        return FALSE;
    gboolean inside = FALSE;
    for (guint i = 0; !inside && i < r->writable_dirs->len; i++) {
        const char *dir = g_ptr_array_index(r->writable_dirs, i);
        inside = g_str_equal(real, dir) ||
                 (g_str_has_prefix(real, dir) && (real[strlen(dir)] == '/' || g_str_equal(dir, "/")));
    }
    free(real);
    return inside;
}

/* A file goes to the path the manifest names when it is free and in a writable directory;
 * over the replaced domain's own file (staged); else into @fallback_dir. A path the archive
 * job never writes is refused: the manifest was tampered with. */
static Placement *place(Restore *r, const FerryManifestFile *f, const char *fallback_dir, GError **error)
{
    if (f->source && !ferry_plain_absolute_path(f->source)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "archive %s: file %s names the path \"%s\", which no archive records (not a plain absolute "
                    "path): the manifest was altered; nothing is restored", r->call->id, f->path, f->source);
        return NULL;
    }
    Placement *p = g_new0(Placement, 1);
    p->file = f;
    if (f->source && !exists(f->source) && in_writable_dir(r, f->source)) {
        p->path = g_strdup(f->source);
    } else if (f->source && owned_by_replaced(r, f->source)) {
        p->path = g_strdup(f->source);
        p->staging = g_strconcat(f->source, ".virt-ferry-restore", NULL);
    } else {
        g_autofree char *base = g_path_get_basename(f->source ? f->source : f->path);
        p->path = free_path_in(fallback_dir, base);
    }
    return p;
}

static gboolean make_dir(const char *dir, const char *what, GError **error)
{
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, ferry_error_code_for_errno(err), "cannot create %s %s: %s", what, dir,
                    g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

static gboolean plan_tpm_state(Restore *r, GError **error);

static gboolean plan_placements(Restore *r, GError **error)
{
    r->placements = g_ptr_array_new_with_free_func((GDestroyNotify)placement_free);
    g_autofree char *nvram_dir = g_build_filename(FERRY_LIBVIRT_STATE_DIR, "qemu", "nvram", NULL);
    if (!make_dir(r->call->config->image_dir, "the image directory", error) ||
        (ferry_manifest_find(r->manifest, FERRY_FILE_NVRAM) && !make_dir(nvram_dir, "the NVRAM directory", error)))
        return FALSE;
    find_writable_dirs(r, nvram_dir);
    for (guint i = 0; i < r->manifest->files->len; i++) {
        FerryManifestFile *f = g_ptr_array_index(r->manifest->files, i);
        Placement *p = NULL;
        if (f->role != FERRY_FILE_DISK && f->role != FERRY_FILE_NVRAM)
            continue;
        if (!(p = place(r, f, f->role == FERRY_FILE_DISK ? r->call->config->image_dir : nvram_dir, error)))
            return FALSE;
        g_ptr_array_add(r->placements, p);
    }
    return plan_tpm_state(r, error);
}

/* Journalled before they exist: a rollback deletes them whatever happens next. */
static gboolean journal_placements(Restore *r, GError **error)
{
    for (guint i = 0; i < r->placements->len; i++) {
        Placement *p = g_ptr_array_index(r->placements, i);
        ferry_journal_append(r->journal, "created", p->staging ? p->staging : p->path);
    }
    return ferry_journal_commit(r->journal, error);
}

static gboolean copy_placement(Restore *r, Placement *p, FerryCopyProgress progress, gpointer progress_data,
                               GError **error)
{
    if (!ferry_copy_from_archive(r->call->dir, p->file, p->staging ? p->staging : p->path,
                                 ferry_job_cancellable(r->job), progress, progress_data, error))
        return FALSE;
    ferry_job_add_step(r->job, r->name, "copy-disk", p->file->target ? p->file->target : p->file->path, p->path);
    return TRUE;
}

/* The placements of @roles, one after the other. */
static gboolean copy_placements(Restore *r, guint roles, GError **error)
{
    for (guint i = 0; i < r->placements->len; i++) {
        Placement *p = g_ptr_array_index(r->placements, i);
        if (!(roles & (1u << p->file->role)))
            continue;
        ferry_job_set_message(r->job, "copying %s to %s", p->file->path, p->path);
        if (!copy_placement(r, p, ferry_job_bytes_progress, &r->bytes, error))
            return FALSE;
        ferry_job_bytes_file_done(&r->bytes, p->file->allocated);
    }
    return TRUE;
}

/* ------------------------------------------------------------------ streaming */

static void copier_mark(Copier *c, gboolean ended)
{
    g_mutex_lock(&c->r->verify_lock);
    c->head = TRUE;
    c->ended = c->ended || ended;
    g_cond_broadcast(&c->r->copier_changed);
    g_mutex_unlock(&c->r->verify_lock);
}

/* The first progress comes after the first chunk is written (copy.c). */
static gboolean copier_progress(guint64 done, gpointer data)
{
    Copier *c = data;
    if (!c->head)
        copier_mark(c, FALSE);
    return ferry_job_bytes_side_progress(done, &c->progress);
}

static gboolean all_copiers(Restore *r, gboolean (*done)(Copier *c))
{
    for (guint i = 0; i < r->copiers->len; i++)
        if (!done(g_ptr_array_index(r->copiers, i)))
            return FALSE;
    return TRUE;
}

static gboolean copier_ended(Copier *c)
{
    return c->ended;
}

static gboolean copier_ok(Copier *c)
{
    return c->ended && !c->error;
}

static gboolean copier_head_or_end(Copier *c)
{
    return c->head || c->ended;
}

/* The last copier to end lets the feed's tail go, or holds it back for good. */
static gpointer copier_thread(gpointer data)
{
    Copier *c = data;
    Restore *r = c->r;
    copy_placement(r, c->p, copier_progress, c, &c->error);
    copier_mark(c, TRUE);
    g_mutex_lock(&r->verify_lock);
    gboolean failed = c->error != NULL, last = all_copiers(r, copier_ended);
    gboolean all_ok = last && all_copiers(r, copier_ok);
    g_mutex_unlock(&r->verify_lock);
    if (failed || last)
        ferry_memory_feed_open_gate(r->feed, !failed && all_ok);
    return NULL;
}

static void copier_free(Copier *c)
{
    g_clear_error(&c->error);
    g_free(c);
}

/* Whether a copy ended in failure (not a cancel's, which the job reports itself): its error
 * replaces @error's. */
static gboolean copy_failed(Restore *r, GError **error)
{
    gboolean failed = FALSE;
    g_mutex_lock(&r->verify_lock);
    for (guint i = 0; !failed && r->copiers && i < r->copiers->len; i++) {
        Copier *c = g_ptr_array_index(r->copiers, i);
        if (c->ended && c->error && !g_error_matches(c->error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_clear_error(error);
            g_propagate_error(error, g_steal_pointer(&c->error));
            failed = TRUE;
        }
    }
    g_mutex_unlock(&r->verify_lock);
    return failed;
}

/* Waits until every disk's file is there with its first chunk (libvirt reads a qcow2 header
 * as the domain starts), or a copy failed. */
static gboolean copier_heads_written(Restore *r, GError **error)
{
    g_mutex_lock(&r->verify_lock);
    while (!all_copiers(r, copier_head_or_end))
        g_cond_wait(&r->copier_changed, &r->verify_lock);
    g_mutex_unlock(&r->verify_lock);
    return !copy_failed(r, error);
}

/* The disks, one thread each, and NVRAM (which QEMU reads as it starts) before the domain is
 * defined; the feed starts reading the memory state at once. */
static gboolean start_streaming(Restore *r, GError **error)
{
    ferry_job_set_message(r->job, "verifying archive %s and copying its disks", r->call->id);
    g_autofree char *feed_dir = g_build_filename(r->call->config->state_dir, "restore-feed", NULL);
    r->feed = ferry_memory_feed_start(feed_dir, r->call->dir, r->call->id,
                                      ferry_manifest_find(r->manifest, FERRY_FILE_MEMORY),
                                      ferry_job_cancellable(r->job), &r->bytes, error);
    if (!r->feed)
        return FALSE;
    /* A virt-ferryd killed meanwhile leaves the FIFO's directory: the recovery removes it. */
    g_autofree char *fifo_dir = g_path_get_dirname(ferry_memory_feed_path(r->feed));
    ferry_journal_append(r->journal, "created-trees", fifo_dir);
    if (!ferry_journal_commit(r->journal, error) || !copy_placements(r, 1u << FERRY_FILE_NVRAM, error) ||
        !verify_small_files(r, error))
        return FALSE;
    r->copiers = g_ptr_array_new_with_free_func((GDestroyNotify)copier_free);
    for (guint i = 0; i < r->placements->len; i++) {
        Placement *p = g_ptr_array_index(r->placements, i);
        if (p->file->role != FERRY_FILE_DISK)
            continue;
        Copier *c = g_new0(Copier, 1);
        *c = (Copier){ .r = r, .p = p, .progress = { .bytes = &r->bytes } };
        g_ptr_array_add(r->copiers, c);
    }
    if (r->copiers->len == 0)
        ferry_memory_feed_open_gate(r->feed, TRUE);
    /* Started once all are listed: each one's end looks at the others. */
    for (guint i = 0; i < r->copiers->len; i++) {
        Copier *c = g_ptr_array_index(r->copiers, i);
        c->thread = g_thread_new("copy", copier_thread, c);
    }
    return copier_heads_written(r, error);
}

static void join_copiers(Restore *r)
{
    for (guint i = 0; r->copiers && i < r->copiers->len; i++) {
        Copier *c = g_ptr_array_index(r->copiers, i);
        if (c->thread)
            g_thread_join(g_steal_pointer(&c->thread));
    }
}

/* After libvirt's restore: every copy's end and the feed's. The feed's error first: it names
 * the damaged file, and a failed copy held its tail back. */
static gboolean finish_streaming(Restore *r, GError **error)
{
    join_copiers(r);
    g_autoptr(GError) fed = NULL;
    if (!ferry_memory_feed_finish(r->feed, &fed) && !g_error_matches(fed, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_propagate_error(error, g_steal_pointer(&fed));
        return FALSE;
    }
    for (guint i = 0; i < r->copiers->len; i++) {
        Copier *c = g_ptr_array_index(r->copiers, i);
        if (c->error) {
            g_propagate_error(error, g_steal_pointer(&c->error));
            return FALSE;
        }
    }
    if (fed) {
        g_propagate_error(error, g_steal_pointer(&fed));
        return FALSE;
    }
    ferry_job_add_step(r->job, r->manifest->domain, "verify", r->call->id, "intact");
    return TRUE;
}

/* libvirt's restore failed while the memory state streamed: a damaged archive, a failed copy
 * (which closed the feed short) or the job's cancel is the likelier cause, and says so better. */
static gboolean prefer_streaming_error(Restore *r, GError **error)
{
    ferry_memory_feed_open_gate(r->feed, FALSE);
    g_autoptr(GError) cause = NULL;
    if (!finish_streaming(r, &cause) &&
        (!g_error_matches(cause, G_IO_ERROR, G_IO_ERROR_CANCELLED) || g_cancellable_is_cancelled(ferry_job_cancellable(r->job)))) {
        g_clear_error(error);
        g_propagate_error(error, g_steal_pointer(&cause));
    }
    return FALSE;
}

/* A restore that fails closes the feed short (QEMU's load fails, if it was still going), then
 * waits for the copies to end before its rollback removes them. */
static void stop_streaming(Restore *r)
{
    if (r->feed)
        ferry_memory_feed_open_gate(r->feed, FALSE);
    join_copiers(r); /* before the feed goes: a copier's end tells it */
    g_clear_pointer(&r->feed, ferry_memory_feed_free);
    g_clear_pointer(&r->copiers, g_ptr_array_unref);
}

/* A step failed while the disks were copied: a copy that failed meanwhile (and took its file
 * away) says better what went wrong. */
static gboolean prefer_copy_error(Restore *r, GError **error)
{
    copy_failed(r, error);
    return FALSE;
}

/* ------------------------------------------------------------------ TPM state */

/* swtpm's state of the restored domain goes to libvirt's directory for its UUID. When that
 * exists (the replaced domain's, or one left behind) the copy is staged and swapped in. */
static gboolean plan_tpm_state(Restore *r, GError **error)
{
    if (!ferry_manifest_find(r->manifest, FERRY_FILE_TPM))
        return TRUE;
    r->tpm_dir = g_build_filename(FERRY_LIBVIRT_STATE_DIR, "swtpm", r->uuid, NULL);
    if (exists(r->tpm_dir))
        r->tpm_staging = g_strconcat(r->tpm_dir, ".virt-ferry-restore", NULL);
    g_autofree char *parent = g_path_get_dirname(r->tpm_dir);
    return make_dir(parent, "the TPM state directory", error);
}

/* swtpm's user: the owner of the existing state (qemu.conf may name another), else libvirt's
 * default, else root (as libvirt falls back). */
static void swtpm_owner(Restore *r, uid_t *uid, gid_t *gid)
{
    GStatBuf st;
    struct passwd pw, *found = NULL;
    char buf[1024];
    *uid = 0;
    *gid = 0;
    if (g_lstat(r->tpm_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        *uid = st.st_uid;
        *gid = st.st_gid;
    } else if (getpwnam_r(SWTPM_USER, &pw, buf, sizeof buf, &found) == 0 && found) {
        *uid = found->pw_uid;
        *gid = found->pw_gid;
    }
}

/* Each copied file must be the one the manifest lists, with its digest; and every TPM file of
 * the manifest must have been copied. */
static gboolean check_tpm_copy(Restore *r, GPtrArray *copied, GError **error)
{
    guint listed = 0;
    for (guint i = 0; i < r->manifest->files->len; i++)
        listed += ((FerryManifestFile *)g_ptr_array_index(r->manifest->files, i))->role == FERRY_FILE_TPM;
    for (guint i = 0; i < copied->len; i++) {
        FerryTreeFile *t = g_ptr_array_index(copied, i);
        g_autofree char *rel = g_strconcat("tpm/", t->path, NULL);
        const FerryManifestFile *f = NULL;
        for (guint j = 0; !f && j < r->manifest->files->len; j++) {
            FerryManifestFile *c = g_ptr_array_index(r->manifest->files, j);
            if (c->role == FERRY_FILE_TPM && g_str_equal(c->path, rel))
                f = c;
        }
        if (!f || t->digest.size != f->size || !g_str_equal(t->digest.checksum, f->digest)) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                        "archive %s: file %s %s: the archive is corrupted", r->call->id, rel,
                        f ? "does not match its manifest" : "is not in its manifest");
            return FALSE;
        }
    }
    if (copied->len != listed) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "archive %s: TPM state files listed in the manifest are "
                    "missing from tpm/: the archive is corrupted", r->call->id);
        return FALSE;
    }
    return TRUE;
}

static gboolean restore_tpm_state(Restore *r, GError **error)
{
    if (!r->tpm_dir)
        return TRUE;
    const char *dst = r->tpm_staging ? r->tpm_staging : r->tpm_dir;
    g_autofree char *src = g_build_filename(r->call->dir, "tpm", NULL);
    uid_t uid;
    gid_t gid;
    swtpm_owner(r, &uid, &gid);
    ferry_journal_append(r->journal, "created-trees", dst);
    if (!ferry_journal_commit(r->journal, error))
        return FALSE;
    ferry_job_set_message(r->job, "copying the TPM state to %s", r->tpm_dir);
    g_autoptr(GPtrArray) copied = ferry_copy_tree_owned(src, dst, uid, gid, ferry_job_cancellable(r->job), error);
    if (!copied || !check_tpm_copy(r, copied, error))
        return FALSE;
    ferry_job_add_step(r->job, r->name, "copy-tpm", "tpm", r->tpm_dir);
    return TRUE;
}

/* The replaced domain's file stays, under a second name, until the restore is done: a rollback
 * puts it back. Its copy from the archive may still be going on when it takes the file's place. */
static gboolean keep_replaced(Restore *r, Placement *p, GError **error)
{
    g_autofree char *kept = g_strconcat(p->path, KEPT_SUFFIX, NULL);
    ferry_journal_append(r->journal, "kept", kept);
    if (!ferry_journal_commit(r->journal, error))
        return FALSE;
    if (link(p->path, kept) < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot keep %s as %s until the restore is done: %s",
                    p->path, kept, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

static gboolean same_file(const char *a, const char *b)
{
    GStatBuf sa, sb;
    return g_lstat(a, &sa) == 0 && g_lstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The kept files back in their places (a rollback), or removed (the restore is done). */
static void settle_kept(FerryJournal *j, gboolean put_back)
{
    g_auto(GStrv) kept = ferry_journal_get_list(j, "kept");
    for (char **k = kept; k && *k; k++) {
        if (!g_str_has_suffix(*k, KEPT_SUFFIX) || !exists(*k))
            continue;
        g_autofree char *path = g_strndup(*k, strlen(*k) - strlen(KEPT_SUFFIX));
        /* Still in its place (the copy never took it): rename() would leave both names. */
        if (put_back && !same_file(*k, path) ? g_rename(*k, path) < 0 : g_unlink(*k) < 0)
            g_warning("cannot %s %s: %s", put_back ? "put back" : "remove", *k, g_strerror(errno));
    }
}

/* Staged copies replace the replaced domain's files only once everything else is ready. */
static gboolean commit_staged(Restore *r, GError **error)
{
    for (guint i = 0; i < r->placements->len; i++) {
        Placement *p = g_ptr_array_index(r->placements, i);
        if (p->staging && !keep_replaced(r, p, error))
            return FALSE;
        if (p->staging && g_rename(p->staging, p->path) < 0) {
            int err = errno;
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot move %s over %s: %s", p->staging, p->path,
                        g_strerror(err));
            return FALSE;
        }
    }
    if (r->tpm_staging) {
        /* The state there is the replaced domain's (the archive holds the same) or left behind. */
        ferry_remove_tree(r->tpm_dir);
        if (g_rename(r->tpm_staging, r->tpm_dir) < 0) {
            int err = errno;
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot move %s to %s: %s", r->tpm_staging,
                        r->tpm_dir, g_strerror(err));
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------ the definition */

static gboolean rewrite(Restore *r, FerryDomainXml *def, GError **error)
{
    if (!ferry_domxml_set_name(def, r->name, error) || !ferry_domxml_set_uuid(def, r->uuid, error))
        return FALSE;
    ferry_domxml_eject_removable(def);
    for (guint i = 0; i < r->placements->len; i++) {
        Placement *p = g_ptr_array_index(r->placements, i);
        if (p->file->role == FERRY_FILE_DISK && !ferry_domxml_set_disk_source(def, p->file->target, p->path, error))
            return FALSE;
        if (p->file->role == FERRY_FILE_NVRAM)
            ferry_domxml_set_nvram(def, p->path);
    }
    if (!remap_nics(r, def, error))
        return FALSE;
    if (r->copy)
        ferry_domxml_forget_nic_macs(def); /* libvirt gives each NIC a new one */
    return TRUE;
}

static char *rewritten_xml(Restore *r, const char *xml, gboolean live, GError **error)
{
    g_autoptr(FerryDomainXml) def = ferry_domxml_parse(xml, error);
    if (!def || !rewrite(r, def, error))
        return NULL;
    if (live)
        ferry_domxml_strip_live_state(def);
    return ferry_domxml_format(def);
}

static gboolean define_domain(Restore *r, GError **error)
{
    g_autofree char *path = g_build_filename(r->call->dir, "domain.xml", NULL);
    g_autofree char *xml = NULL;
    g_autoptr(GError) local = NULL;
    if (!ferry_read_untrusted_file(path, DOMAIN_XML_MAX_BYTES, &xml, NULL, &local)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "archive %s is damaged: %s", r->call->id,
                    local->message);
        return FALSE;
    }
    g_autofree char *def = rewritten_xml(r, xml, FALSE, error);
    if (!def)
        return FALSE;
    ferry_journal_set(r->journal, "defined", r->uuid);
    if (r->replaced_xml)
        ferry_journal_set(r->journal, "replaced-xml", r->replaced_xml);
    if (!ferry_journal_commit(r->journal, error))
        return FALSE;
    if (!(r->dom = virDomainDefineXMLFlags(r->conn, def, VIR_DOMAIN_DEFINE_VALIDATE)))
        return ferry_error_from_libvirt(error, "cannot define %s on this host", r->name);
    if (r->replaced_policy && *r->replaced_policy &&
        virDomainSetMetadata(r->dom, VIR_DOMAIN_METADATA_ELEMENT, r->replaced_policy, FERRY_POLICY_PREFIX,
                             FERRY_POLICY_NS, VIR_DOMAIN_AFFECT_CONFIG) < 0)
        return ferry_error_from_libvirt(error, "cannot carry the policy of %s over", r->name);
    return TRUE;
}

/* Whether the restored domain runs: as asked, else as it was archived. */
static gboolean runs_after_restore(Restore *r)
{
    if (r->call->options.start != -1)
        return r->call->options.start == 1;
    return g_strcmp0(r->manifest->state, "paused") != 0;
}

/* libvirt restores the memory state paused from the feed; the guest's CPUs start only once its
 * digest matched and the disks are in place. The image's own definition is read first: only to
 * be rewritten (name, UUID, disks, NICs) into the one libvirt restores under. */
static gboolean restore_memory(Restore *r, GError **error)
{
    g_autofree char *image = g_build_filename(r->call->dir, "memory.save", NULL);
    g_autofree char *saved_xml = virDomainSaveImageGetXMLDesc(r->conn, image, VIR_DOMAIN_SAVE_IMAGE_XML_SECURE);
    if (!saved_xml) {
        ferry_error_from_libvirt(error, "cannot read the domain from the save image of %s", r->call->id);
        return prefer_streaming_error(r, error);
    }
    g_autofree char *dxml = rewritten_xml(r, saved_xml, TRUE, error);
    if (!dxml)
        return prefer_streaming_error(r, error);
    ferry_job_set_message(r->job, "restoring the memory state of %s", r->name);
    if (!ferry_journal_record(r->journal, "phase", "restoring", error))
        return FALSE;
    if (virDomainRestoreFlags(r->conn, ferry_memory_feed_path(r->feed), dxml, VIR_DOMAIN_SAVE_PAUSED) < 0) {
        ferry_error_from_libvirt(error, "cannot restore the memory state of %s", r->name);
        return prefer_streaming_error(r, error);
    }
    if (!finish_streaming(r, error))
        return FALSE; /* the paused domain is destroyed by the rollback: none of the guest ran */
    if (r->replaced_policy && *r->replaced_policy)
        virDomainSetMetadata(r->dom, VIR_DOMAIN_METADATA_ELEMENT, r->replaced_policy, FERRY_POLICY_PREFIX,
                             FERRY_POLICY_NS, VIR_DOMAIN_AFFECT_LIVE);
    virResetLastError();
    gboolean run = runs_after_restore(r);
    if (run && virDomainResume(r->dom) < 0)
        return ferry_error_from_libvirt(error, "cannot resume %s after restoring its memory state", r->name);
    ferry_job_add_step(r->job, r->name, "restore", "memory.save", run ? "running" : "paused");
    return TRUE;
}

static gboolean start_defined(Restore *r, GError **error)
{
    /* A copy of a domain archived running boots unless told to stay defined only. */
    gboolean boot_copy = r->copy && ferry_manifest_has_memory(r->manifest) && r->call->options.start == -1;
    if (r->call->options.start != 1 && !boot_copy) {
        ferry_job_add_step(r->job, r->name, "define", r->uuid, "defined, shut off as archived");
        return TRUE;
    }
    if (virDomainCreate(r->dom) < 0)
        return ferry_error_from_libvirt(error, "cannot start %s", r->name);
    ferry_job_add_step(r->job, r->name, "start", r->uuid,
                       boot_copy ? "running (booted from its disks: a copy does not use the memory state)"
                                 : "running (booted: the archive had no memory state)");
    return TRUE;
}

/* ------------------------------------------------------------------ rollback */

/* Puts back virt-ferry's declaration files as they were before the restore. */
static void restore_declarations(FerryJournal *j)
{
    g_auto(GStrv) files = ferry_journal_get_list(j, "declared");
    for (char **f = files; f && *f; f++) {
        g_autofree char *base = g_path_get_basename(*f);
        g_autofree char *network = g_strndup(base, strlen(base) - strlen(".xml"));
        g_autofree char *key = g_strconcat("declarations ", network, NULL);
        g_autofree char *previous = ferry_journal_get(j, key);
        if (!previous || !*previous)
            g_unlink(*f);
        else if (!g_file_set_contents(*f, previous, -1, NULL))
            g_warning("cannot put back %s", *f);
    }
}

/* Removes what a restore created, as its journal says. */
static void undo(virConnectPtr conn, FerryJournal *j)
{
    g_autofree char *uuid = ferry_journal_get(j, "defined");
    g_autofree char *replaced_xml = ferry_journal_get(j, "replaced-xml");
    g_auto(GStrv) created = ferry_journal_get_list(j, "created");
    g_auto(GStrv) created_trees = ferry_journal_get_list(j, "created-trees");
    g_auto(GStrv) portgroups = ferry_journal_get_list(j, "portgroups");
    g_autoptr(virDomain) dom = uuid ? virDomainLookupByUUIDString(conn, uuid) : NULL;
    if (dom) {
        int state = 0;
        if (virDomainGetState(dom, &state, NULL, 0) == 0 && state != VIR_DOMAIN_SHUTOFF)
            virDomainDestroy(dom);
        if (replaced_xml) {
            g_autoptr(virDomain) back = virDomainDefineXML(conn, replaced_xml);
            if (!back)
                g_critical("cannot put back the definition of the domain pending deletion (%s): %s", uuid,
                           virGetLastErrorMessage());
        } else {
            virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE);
        }
    }
    virResetLastError();
    for (char **p = created; p && *p; p++)
        if (g_unlink(*p) < 0 && errno != ENOENT)
            g_warning("cannot delete %s: %s", *p, g_strerror(errno));
    for (char **p = created_trees; p && *p; p++)
        ferry_remove_tree(*p);
    settle_kept(j, TRUE);
    remove_portgroups(conn, portgroups);
    restore_declarations(j);
}

static void roll_back(Restore *r)
{
    if (!r->journal)
        return;
    if (r->conn)
        undo(r->conn, r->journal);
    ferry_journal_remove(r->journal);
}

void ferry_restore_recover_journal(const FerryConfig *config, virConnectPtr conn, FerryJournal *j)
{
    g_autofree char *phase = ferry_journal_get(j, "phase");
    g_auto(GStrv) created = ferry_journal_get_list(j, "created");
    if (g_strcmp0(phase, "done") == 0) {
        settle_kept(j, FALSE);
        ferry_log_recovery("restore", ferry_journal_id(j), "completed", "recovered restore of %s: complete",
                           ferry_journal_id(j));
    } else {
        undo(conn, j);
        ferry_log_recovery("restore", ferry_journal_id(j), "rolled-back",
                           "recovered restore of %s: rolled back (%u files removed)", ferry_journal_id(j),
                           g_strv_length(created));
    }
    ferry_journal_remove(j);
}

/* ------------------------------------------------------------------ the job */

static gboolean run_restore(Restore *r, GError **error)
{
    if (!load_manifest(r, error) || cancelled(r, error))
        return FALSE;
    if (!(r->conn = ferry_libvirt_open(r->call->config->libvirt_uri, error)))
        return FALSE;
    if (!choose_identity(r, error) || (!r->copy && !restore_once(r, error)) || !plan_networks(r, error) || !check_capacity(r, error) ||
        !plan_placements(r, error))
        return FALSE;
    if (!(r->journal = ferry_journal_create(r->call->config->state_dir, "restore", r->call->id, error)))
        return FALSE;
    ferry_journal_set(r->journal, "archive", r->call->dir);
    gboolean streams = ferry_manifest_has_memory(r->manifest) && !r->copy;
    if (!ferry_journal_record(r->journal, "phase", "copying", error) || !journal_placements(r, error) ||
        !(streams ? start_streaming(r, error) : copy_and_verify(r, error)) || !restore_tpm_state(r, error) ||
        cancelled(r, error) || !create_portgroups(r, error))
        return prefer_copy_error(r, error);
    if ((r->lock && !ferry_restore_lock_check(r->lock, error)) || !define_domain(r, error) ||
        !commit_staged(r, error) || cancelled(r, error))
        return prefer_copy_error(r, error);
    if (streams ? !restore_memory(r, error) : !join_memory_verifier(r, error) || !start_defined(r, error))
        return FALSE;
    ferry_journal_record(r->journal, "phase", "done", NULL);
    settle_kept(r->journal, FALSE);
    ferry_journal_remove(r->journal);
    ferry_job_set_result(r->job, r->name);
    return TRUE;
}

static gboolean restore_job(FerryJob *job, gpointer data, GError **error)
{
    Restore r = { .job = job, .call = data };
    g_mutex_init(&r.verify_lock);
    g_cond_init(&r.copier_changed);
    gboolean ok = run_restore(&r, error);
    if (!ok) {
        stop_memory_verifier(&r);
        stop_streaming(&r);
        roll_back(&r);
    }
    restore_clear(&r);
    g_cond_clear(&r.copier_changed);
    g_mutex_clear(&r.verify_lock);
    return ok;
}

FerryJob *ferry_restore_start(FerryJobs *jobs, FerryConfig *config, const char *id,
                              const FerryRestoreOptions *options, GError **error)
{
    g_autofree char *dir = ferry_library_archive_dir(config->archive_library, id, error);
    if (!dir)
        return NULL;
    g_autoptr(FerryManifest) m = ferry_manifest_load(dir, error);
    if (!m)
        return NULL;
    if (options->name && !ferry_check_domain_name(options->name, "restore name", error))
        return NULL;
    RestoreCall *r = g_new0(RestoreCall, 1);
    r->config = ferry_config_ref(config);
    r->id = g_strdup(id);
    r->dir = g_steal_pointer(&dir);
    r->options = *options;
    r->options.name = g_strdup(options->name);
    r->options.network = g_strdup(options->network);
    /* The archived domain is held: no archive or second restore of it meanwhile. */
    return ferry_jobs_start(jobs, FERRY_JOB_RESTORE, id, options->name ? NULL : m->uuid, restore_job, r,
                            (GDestroyNotify)restore_call_free, error);
}
