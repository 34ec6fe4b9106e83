/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive job: the domain's definition, memory state, disks, NVRAM and TPM state into
 * a new archive of the library; then the domain is left shut off and pending deletion.
 *
 * The memory state comes from libvirt's save (virDomainSaveFlags; libvirt 9.0 writes it as
 * one stream). libvirt pauses the guest first, and QEMU drains and flushes every disk when
 * it stops the CPUs, so the disks are consistent from the moment the domain is paused:
 * they are copied while libvirt still writes the memory state. */
/* sync_file_range. */
#define _GNU_SOURCE

#include "archive.h"
#include "log.h"

#include "archive-util.h"
#include "bgcall.h"
#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-open.h"
#include "journal.h"
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#define POLL_INTERVAL_US (20 * 1000)
#define STATS_INTERVAL_US (250 * 1000)

typedef struct {
    FerryConfig *config;
    char *uuid, *name;
} ArchiveCall;

static void archive_call_free(ArchiveCall *a)
{
    ferry_config_unref(a->config);
    g_free(a->uuid);
    g_free(a->name);
    g_free(a);
}

/* One archive in the making: what the job thread carries from step to step. */
typedef struct {
    FerryJob *job;
    ArchiveCall *call;
    virConnectPtr conn;
    virDomainPtr dom;
    FerrySide side;            /* progress and abort of the save */
    struct HostFacts *facts;   /* asked beside the save, see host_facts_thread */
    GThread *facts_thread;
    FerryDomainXml *live;
    FerryDomainXml *config;    /* the persistent definition, parsed */
    char *config_xml;
    int state;                 /* virDomainState before the archive */
    char *id, *partial, *final;
    FerryManifest *manifest;
    FerryJournal *journal;
    FerryJobBytes bytes;
    GPtrArray *notes;          /* what the archive leaves out, for the manifest */
    gint64 started;            /* monotonic, for the phase timings in the debug log */
    gboolean saved;            /* the domain is saved into partial/memory.save */
} Archive;

static void host_facts_free(struct HostFacts *f);

static void archive_clear(Archive *a)
{
    if (a->facts_thread)
        g_thread_join(a->facts_thread);
    g_clear_pointer(&a->facts, host_facts_free);
    if (a->dom)
        virDomainFree(a->dom);
    if (a->conn)
        virConnectClose(a->conn);
    ferry_side_clear(&a->side);
    g_clear_pointer(&a->live, ferry_domxml_free);
    g_clear_pointer(&a->config, ferry_domxml_free);
    g_free(a->config_xml);
    g_free(a->id);
    g_free(a->partial);
    g_free(a->final);
    g_clear_pointer(&a->manifest, ferry_manifest_free);
    g_clear_pointer(&a->journal, ferry_journal_free);
    g_clear_pointer(&a->notes, g_ptr_array_unref);
}

static gboolean is_active(int state)
{
    return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_BLOCKED ||
           state == VIR_DOMAIN_PMSUSPENDED;
}

static const char *state_word(int state)
{
    return !is_active(state) ? "shutoff" : state == VIR_DOMAIN_PAUSED ? "paused" : "running";
}

/* Where the time goes (G_MESSAGES_DEBUG=virt-ferry). */
static void phase(Archive *a, const char *what)
{
    g_debug("archive of %s: %s at %.3f s", a->call->name, what, (g_get_monotonic_time() - a->started) / 1e6);
}

static gboolean cancelled(Archive *a, GError **error)
{
    return g_cancellable_set_error_if_cancelled(ferry_job_cancellable(a->job), error);
}

/* ------------------------------------------------------------------ preparation */

static gboolean lookup_domain(Archive *a, GError **error)
{
    if (!(a->conn = ferry_libvirt_open(a->call->config->libvirt_uri, error)))
        return FALSE;
    if (!(a->dom = virDomainLookupByUUIDString(a->conn, a->call->uuid)))
        return ferry_error_from_libvirt(error, "domain %s", a->call->name);
    if (!virDomainIsPersistent(a->dom)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "domain %s is transient: it would be gone after archiving; define it (virsh dumpxml, "
                    "virsh define) and archive again", a->call->name);
        return FALSE;
    }
    g_autofree char *mark = virDomainGetMetadata(a->dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_ARCHIVE_NS,
                                                 VIR_DOMAIN_AFFECT_CONFIG);
    virResetLastError();
    g_autofree char *archived_as = NULL;
    if (mark && ferry_archived_mark_parse(mark, &archived_as, NULL, NULL)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "domain %s is already archived as %s and pending deletion; purge or restore it",
                    a->call->name, archived_as);
        return FALSE;
    }
    return TRUE;
}

static gboolean read_definition(Archive *a, GError **error)
{
    int reason = 0;
    if (virDomainGetState(a->dom, &a->state, &reason, 0) < 0)
        return ferry_error_from_libvirt(error, "cannot read the state of %s", a->call->name);
    g_autofree char *live_xml = virDomainGetXMLDesc(a->dom, VIR_DOMAIN_XML_SECURE);
    a->config_xml = virDomainGetXMLDesc(a->dom, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_INACTIVE);
    if (!live_xml || !a->config_xml)
        return ferry_error_from_libvirt(error, "cannot read the definition of %s", a->call->name);
    if (!(a->live = ferry_domxml_parse(live_xml, error)))
        return FALSE;
    /* The definition is what the archive restores and where its NICs' networks are named: one
     * that cannot be read fails the archive before anything is saved, rather than the live
     * XML standing in for it. */
    if (!(a->config = ferry_domxml_parse(a->config_xml, error))) {
        g_prefix_error(error, "cannot archive %s: its persistent definition cannot be read: ", a->call->name);
        return FALSE;
    }
    a->notes = g_ptr_array_new_with_free_func(g_free);
    if (!ferry_domxml_check_archivable(a->live, a->notes, error))
        return FALSE;
    GPtrArray *disks = ferry_domxml_disks(a->live);
    for (guint i = 0; i < disks->len; i++) {
        FerryDisk *disk = g_ptr_array_index(disks, i);
        if (g_strcmp0(disk->device, "disk") == 0 && g_strcmp0(disk->type, "volume") == 0) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                        "disk %s of %s is a storage pool volume (%s); archiving copies file disks only: "
                        "give the disk as <disk type='file'> with the volume's path and archive again",
                        disk->target, a->call->name, disk->source);
            return FALSE;
        }
    }
    for (guint i = 0; i < a->notes->len; i++)
        ferry_job_add_note(a->job, g_ptr_array_index(a->notes, i));
    return TRUE;
}

/* The disks whose files the archive copies. */
static gboolean copies_disk(const FerryDisk *disk)
{
    return g_strcmp0(disk->device, "disk") == 0 && disk->source && g_strcmp0(disk->type, "file") == 0;
}

static guint64 data_to_move(Archive *a)
{
    guint64 total = is_active(a->state) ? ferry_domxml_memory_kib(a->live) * 1024 : 0;
    GPtrArray *disks = ferry_domxml_disks(a->live);
    for (guint i = 0; i < disks->len; i++) {
        FerryDisk *disk = g_ptr_array_index(disks, i);
        guint64 data = 0, logical = 0;
        if (copies_disk(disk) && ferry_file_data_size(disk->source, &data, &logical, NULL))
            total += data;
    }
    return total;
}

/* The host's versions and name for the manifest. virConnectGetVersion can take seconds
 * (libvirt re-checking its QEMU capabilities), so they are asked on a connection of their own
 * while the save runs, and joined before the manifest is written. */
typedef struct HostFacts {
    char *uri;
    unsigned long libvirt_version, hv_version;
    char *host;
} HostFacts;

static gpointer host_facts_thread(gpointer data)
{
    HostFacts *f = data;
    virConnectPtr conn = ferry_libvirt_open(f->uri, NULL);
    if (conn) {
        virConnectGetLibVersion(conn, &f->libvirt_version);
        virConnectGetVersion(conn, &f->hv_version);
        f->host = virConnectGetHostname(conn);
        virConnectClose(conn);
    }
    virResetLastError();
    return NULL;
}

static char *version_text(unsigned long v)
{
    return g_strdup_printf("%lu.%lu.%lu", v / 1000000, v / 1000 % 1000, v % 1000);
}

static void add_host_facts(FerryManifest *m, GThread *thread, HostFacts *f)
{
    g_thread_join(thread);
    m->source_host = g_strdup(f->host ? f->host : g_get_host_name());
    m->libvirt_version = version_text(f->libvirt_version);
    m->qemu_version = version_text(f->hv_version);
}

static void host_facts_free(HostFacts *f)
{
    g_free(f->host);
    g_free(f->uri);
    g_free(f);
}

static void fill_manifest_header(Archive *a, gint64 created)
{
    FerryManifest *m = a->manifest = ferry_manifest_new();
    m->id = g_strdup(a->id);
    m->domain = g_strdup(ferry_domxml_name(a->live));
    m->uuid = g_strdup(ferry_domxml_uuid(a->live));
    m->created = created;
    m->state = g_strdup(state_word(a->state));
    m->domain_type = g_strdup(ferry_domxml_type(a->live));
    m->cpu_model = g_strdup(ferry_domxml_cpu_model(a->live) ? ferry_domxml_cpu_model(a->live)
                                                             : ferry_domxml_cpu_mode(a->live));
    m->memory_kib = ferry_domxml_memory_kib(a->live);
    m->vcpus = ferry_domxml_vcpus(a->live);
    /* A running domain's XML shows what libvirt made of a NIC (an Open vSwitch network's
     * NIC reads as type='bridge'); the network and portgroup asked for are in the definition,
     * the VLAN actually applied in the live XML. */
    GPtrArray *nics = ferry_domxml_nics(a->config);
    for (guint i = 0; i < nics->len; i++) {
        FerryNic *nic = g_ptr_array_index(nics, i);
        const FerryNic *live = ferry_domxml_nic_by_mac(a->live, nic->mac);
        FerryManifestNic *n = g_new0(FerryManifestNic, 1);
        n->mac = g_strdup(nic->mac);
        n->type = g_strdup(nic->type);
        n->network = g_strdup(nic->network);
        n->portgroup = g_strdup(nic->portgroup);
        n->bridge = g_strdup(live && live->bridge ? live->bridge : nic->bridge);
        n->vlan = live && live->vlan >= 0 ? live->vlan : nic->vlan;
        n->trunk = live && live->vlan >= 0 ? live->vlan_trunk : nic->vlan_trunk;
        n->distributed = g_strcmp0(live && live->vport_type ? live->vport_type : nic->vport_type, "openvswitch") == 0;
        g_ptr_array_add(m->nics, n);
    }
    virResetLastError();
}

static gboolean make_partial_dir(Archive *a, GError **error)
{
    if (g_mkdir_with_parents(a->call->config->archive_library, 0750) < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, ferry_error_code_for_errno(err), "cannot create the archive library %s: %s",
                    a->call->config->archive_library, g_strerror(err));
        return FALSE;
    }
    if (!ferry_library_check_dir(a->call->config->archive_library, "the archive library", error))
        return FALSE;
    /* tpm/ is made by the copy of the TPM state, when there is one. */
    const char *subdirs[] = { "", "disks", "nvram" };
    for (gsize i = 0; i < G_N_ELEMENTS(subdirs); i++) {
        g_autofree char *dir = g_build_filename(a->partial, subdirs[i], NULL);
        if (g_mkdir(dir, 0750) < 0) {
            int err = errno;
            g_set_error(error, FERRY_ERROR, ferry_error_code_for_errno(err), "cannot create %s: %s", dir,
                        g_strerror(err));
            return FALSE;
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------ the memory state */

typedef struct {
    virDomainPtr dom;
    char *path;
    unsigned int flags;
    FerryBgCall *call;
} SaveRun;

static int save(gpointer data)
{
    SaveRun *s = data;
    return virDomainSaveFlags(s->dom, s->path, NULL, s->flags);
}

static gboolean save_done(SaveRun *s)
{
    return ferry_bg_call_done(s->call);
}

/* What libvirt's save job moved so far, into the job's accounting. */
/* A second connection for questions about the running save: on the one the save runs on,
 * they wait until the save is over. */
static virDomainPtr side_domain(Archive *a)
{
    return ferry_side_domain(&a->side, a->call->config->libvirt_uri, a->call->uuid, a->dom);
}

static void abort_save(Archive *a)
{
    ferry_side_abort(side_domain(a));
}

static void poll_save_stats(Archive *a)
{
    virTypedParameterPtr params = NULL;
    int n = 0, type = 0;
    unsigned long long processed = 0;
    if (virDomainGetJobStats(side_domain(a), &type, &params, &n, 0) == 0 && type != VIR_DOMAIN_JOB_NONE) {
        if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed) == 1)
            a->bytes.extra = MIN(processed, ferry_domxml_memory_kib(a->live) * 1024);
        ferry_job_bytes_progress(0, &a->bytes);
    }

    virTypedParamsFree(params, n);
    virResetLastError();
}

static void wait_until_paused(Archive *a, SaveRun *s)
{
    while (!save_done(s)) {
        int state = 0;
        if (virDomainGetState(a->dom, &state, NULL, 0) == 0 && state == VIR_DOMAIN_PAUSED)
            return;
        g_usleep(POLL_INTERVAL_US);
    }
}

/* The save image's digest, computed while libvirt writes it (no second pass). libvirt
 * appends the image front to back, then rewrites one thing at the end: the magic at offset
 * 0, from "LibvirtQemudPart" to "LibvirtQemudSave". The first block is digested as it will
 * read after that rewrite, and checked against the file when the save is over; anything
 * unexpected (a different first block, a different size) makes the caller digest the
 * finished file instead. */
#define SAVE_MAGIC_PARTIAL "LibvirtQemudPart"
#define SAVE_MAGIC_DONE "LibvirtQemudSave"
#define TAIL_CHUNK (4 * 1024 * 1024)
#define SAVE_WRITEBACK_WINDOW (32 * 1024 * 1024)

typedef struct {
    char *path;
    SaveRun *save;
    GCancellable *cancellable;
    guchar first[FERRY_DIGEST_BLOCK_SIZE];   /* the first block as digested */
    gsize first_len;
    FerryFileDigest digest;
    gboolean ok;
    guint64 writeback_from;            /* offsets not yet handed to writeback start here */
    guint64 waiting_from, waiting_to;  /* handed to writeback, not yet waited for */
} TailDigest;

static void remember_first_block(TailDigest *t, guint64 offset, guchar *data, gsize len)
{
    if (offset == 0 && len >= strlen(SAVE_MAGIC_PARTIAL) &&
        memcmp(data, SAVE_MAGIC_PARTIAL, strlen(SAVE_MAGIC_PARTIAL)) == 0)
        memcpy(data, SAVE_MAGIC_DONE, strlen(SAVE_MAGIC_DONE));
    if (offset < sizeof t->first) {
        gsize n = MIN(len, sizeof t->first - offset);
        memcpy(t->first + offset, data, n);
        t->first_len = MAX(t->first_len, offset + n);
    }
}

static gboolean first_block_as_digested(TailDigest *t, int fd)
{
    guchar now[FERRY_DIGEST_BLOCK_SIZE];
    ssize_t n = pread(fd, now, t->first_len, 0);
    return n == (ssize_t)t->first_len && memcmp(now, t->first, t->first_len) == 0;
}

/* The image goes through the page cache, and what was digested is handed to writeback a window
 * at a time: the disk writes while QEMU still saves, each byte is read back from memory rather
 * than from the disk, the fsync before publishing has little left to do, and the image does not
 * fill the page cache. (Left to the kernel, writeback of a save image smaller than the dirty
 * threshold starts only at that fsync, which then writes it all while nothing else runs.) */
static void push_save_writeback(TailDigest *t, int fd, guint64 digested)
{
    if (digested - t->writeback_from < SAVE_WRITEBACK_WINDOW)
        return;
    /* Best effort: a failed write shows in libvirt's save or in the fsync before publishing. */
    sync_file_range(fd, (off_t)t->writeback_from, (off_t)(digested - t->writeback_from), SYNC_FILE_RANGE_WRITE);
    if (t->waiting_to > t->waiting_from) {
        off_t len = (off_t)(t->waiting_to - t->waiting_from);
        sync_file_range(fd, (off_t)t->waiting_from, len,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        posix_fadvise(fd, (off_t)t->waiting_from, len, POSIX_FADV_DONTNEED);
    }
    t->waiting_from = t->writeback_from;
    t->waiting_to = digested;
    t->writeback_from = digested;
}

static gpointer tail_digest_thread(gpointer data)
{
    TailDigest *t = data;
    int fd = -1;
    while ((fd = open(t->path, O_RDONLY | O_CLOEXEC)) < 0 && !save_done(t->save))
        g_usleep(POLL_INTERVAL_US / 4);
    if (fd < 0)
        return NULL;
    g_autoptr(FerryDigester) d = ferry_digester_new();
    g_autofree guchar *buf = g_malloc(TAIL_CHUNK);
    guint64 offset = 0;
    for (;;) {
        /* Read what is there; only once the save is over does a short read mean the end. */
        gboolean over = save_done(t->save);
        ssize_t n = pread(fd, buf, TAIL_CHUNK, offset);
        if (n < 0 || g_cancellable_is_cancelled(t->cancellable))
            break;
        if (n > 0) {
            remember_first_block(t, offset, buf, n);
            ferry_digester_update(d, buf, n);
            offset += n;
            push_save_writeback(t, fd, offset);
            continue;
        }
        if (over) {
            struct stat st;
            if (!ferry_bg_call_failed(t->save->call) && fstat(fd, &st) == 0 && (guint64)st.st_size == offset &&
                first_block_as_digested(t, fd)) {
                ferry_digester_finish(g_steal_pointer(&d), &t->digest);
                t->ok = TRUE;
            }
            break;
        }
        g_usleep(POLL_INTERVAL_US / 4);
    }
    close(fd);
    return NULL;
}

typedef struct {
    Archive *a;
    gint64 last_stats;
} CopyDuringSave;

static gboolean copy_progress_during_save(guint64 done, gpointer data)
{
    CopyDuringSave *c = data;
    gint64 now = g_get_monotonic_time();
    if (now - c->last_stats > STATS_INTERVAL_US) {
        c->last_stats = now;
        poll_save_stats(c->a);
    }
    return ferry_job_bytes_progress(done, &c->a->bytes);
}

/* ------------------------------------------------------------------ files */

static gboolean copy_into_archive(Archive *a, const char *src, const char *rel, FerryFileRole role,
                                  FerryManifestFile **added, GError **error)
{
    g_autofree char *dst = g_build_filename(a->partial, rel, NULL);
    CopyDuringSave c = { a, 0 };
    FerryFileDigest digest;
    ferry_job_set_message(a->job, "copying %s", src);
    if (!ferry_copy_file(src, dst, 0640, ferry_job_cancellable(a->job), copy_progress_during_save, &c, &digest,
                         error))
        return FALSE;
    FerryManifestFile *f = ferry_manifest_add_file(a->manifest, rel, role, &digest);
    f->source = g_strdup(src);
    ferry_job_bytes_file_done(&a->bytes, digest.allocated);
    if (added)
        *added = f;
    return TRUE;
}

static gboolean copy_disks(Archive *a, GError **error)
{
    GPtrArray *disks = ferry_domxml_disks(a->live);
    for (guint i = 0; i < disks->len; i++) {
        FerryDisk *disk = g_ptr_array_index(disks, i);
        if (!copies_disk(disk))
            continue;
        g_autofree char *rel = g_strdup_printf("disks/%s.%s", disk->target, disk->format ? disk->format : "img");
        FerryManifestFile *f = NULL;
        if (!copy_into_archive(a, disk->source, rel, FERRY_FILE_DISK, &f, error))
            return FALSE;
        f->target = g_strdup(disk->target);
        f->format = g_strdup(disk->format);
        ferry_job_add_step(a->job, a->call->name, "copy-disk", disk->target, "archived");
    }
    return TRUE;
}

/* swtpm's directory belongs to swtpm's user: copied without following any link in it. */
static gboolean copy_tpm_state(Archive *a, const char *state_dir, GError **error)
{
    g_autofree char *dst = g_build_filename(a->partial, "tpm", NULL);
    /* Owned by root in the archive: swtpm's user must not be able to change what a restore reads. */
    g_autoptr(GPtrArray) files = ferry_copy_tree_owned(state_dir, dst, 0, 0, ferry_job_cancellable(a->job), error);
    if (!files)
        return FALSE;
    for (guint i = 0; i < files->len; i++) {
        FerryTreeFile *file = g_ptr_array_index(files, i);
        g_autofree char *rel = g_build_filename("tpm", file->path, NULL);
        FerryManifestFile *f = ferry_manifest_add_file(a->manifest, rel, FERRY_FILE_TPM, &file->digest);
        f->source = g_build_filename(state_dir, file->path, NULL);
    }
    return TRUE;
}

static gboolean copy_firmware_state(Archive *a, GError **error)
{
    const char *nvram = ferry_domxml_nvram(a->live);
    if (nvram && g_file_test(nvram, G_FILE_TEST_IS_REGULAR)) {
        g_autofree char *base = g_path_get_basename(nvram);
        g_autofree char *rel = g_build_filename("nvram", base, NULL);
        if (!copy_into_archive(a, nvram, rel, FERRY_FILE_NVRAM, NULL, error))
            return FALSE;
    }
    if (ferry_domxml_has_tpm_emulator(a->live)) {
        g_autofree char *state = g_build_filename(FERRY_LIBVIRT_STATE_DIR, "swtpm", a->call->uuid, NULL);
        if (g_file_test(state, G_FILE_TEST_IS_DIR) && !copy_tpm_state(a, state, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean write_definition(Archive *a, GError **error)
{
    g_autofree char *path = g_build_filename(a->partial, "domain.xml", NULL);
    if (!ferry_write_new_file(path, a->config_xml, strlen(a->config_xml), 0640, error))
        return FALSE;
    FerryFileDigest digest;
    if (!ferry_digest_file(path, NULL, NULL, NULL, &digest, error))
        return FALSE;
    ferry_manifest_add_file(a->manifest, "domain.xml", FERRY_FILE_DOMAIN_XML, &digest);
    return TRUE;
}

/* The archive appears complete or not at all: every file and directory in it is on the disk
 * before the rename publishes it (libvirt's save syncs neither the image nor its directory
 * entry), and the library after. */
static gboolean publish(Archive *a, GError **error)
{
    if (!ferry_manifest_save(a->manifest, a->partial, error) || !ferry_fsync_tree(a->partial, error))
        return FALSE;
    if (g_rename(a->partial, a->final) < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot rename %s to %s: %s", a->partial, a->final,
                    g_strerror(err));
        return FALSE;
    }
    return ferry_fsync_dir(a->call->config->archive_library, error);
}

static gboolean mark_pending_deletion(virDomainPtr dom, const char *id, gint64 created, GError **error)
{
    g_autofree char *mark = ferry_archived_mark_to_xml(id, created);
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, mark, FERRY_ARCHIVE_MARK_KEY, FERRY_ARCHIVE_NS,
                             VIR_DOMAIN_AFFECT_CONFIG) < 0)
        return ferry_error_from_libvirt(error, "the archive %s is complete, but the domain cannot be marked "
                                               "pending deletion", id);
    return TRUE;
}

/* ------------------------------------------------------------------ rollback */

/* Brings a saved domain back from the save image, paused or running as it was. */
static gboolean restore_saved_domain(virConnectPtr conn, const char *image, const char *was, GError **error)
{
    unsigned int flags = g_strcmp0(was, "paused") == 0 ? VIR_DOMAIN_SAVE_PAUSED : VIR_DOMAIN_SAVE_RUNNING;
    if (virDomainRestoreFlags(conn, image, NULL, flags) < 0)
        return ferry_error_from_libvirt(error, "the domain could not be brought back from %s; restore it with "
                                               "virsh restore %s before deleting that file", image, image);
    return TRUE;
}

static void roll_back(Archive *a)
{
    if (a->saved) {
        g_autofree char *image = g_build_filename(a->partial, "memory.save", NULL);
        g_autoptr(GError) error = NULL;
        if (!restore_saved_domain(a->conn, image, state_word(a->state), &error)) {
            /* Keep the partial directory: it holds the only copy of the guest's memory. */
            g_critical("archive of %s: %s", a->call->name, error->message);
            return;
        }
    }
    if (a->partial)
        ferry_remove_tree(a->partial);
    if (a->journal)
        ferry_journal_remove(a->journal);
}

/* ------------------------------------------------------------------ the job */

/* libvirt reports a full file system as a generic system error (its I/O helper's strerror):
 * it is NoCapacity, as it is for the disk copies. */
static int save_error_code(Archive *a, virErrorPtr e)
{
    const char *message = e && e->message ? e->message : "";
    struct statvfs fs;
    gboolean full = strstr(message, g_strerror(ENOSPC)) || strstr(message, g_strerror(EDQUOT)) ||
                    (statvfs(a->partial, &fs) == 0 && (guint64)fs.f_bavail * fs.f_frsize < FERRY_COPY_CHUNK);
    return full ? FERRY_ERROR_NO_CAPACITY : ferry_error_code_for_libvirt(e ? e->code : 0);
}

static gboolean save_and_copy(Archive *a, GError **error)
{
    SaveRun s = { .dom = a->dom };
    s.path = g_build_filename(a->partial, "memory.save", NULL);
    /* Through the page cache, with QEMU writing to the file itself, and the digest reading it
     * back from memory while pushing it to the disk (push_save_writeback). With
     * VIR_DOMAIN_SAVE_BYPASS_CACHE every byte went through libvirt's I/O helper and a pipe,
     * and the digest read it back from the disk, competing with the writes and the disk copies. */
    s.flags = a->state == VIR_DOMAIN_PAUSED ? VIR_DOMAIN_SAVE_PAUSED : VIR_DOMAIN_SAVE_RUNNING;
    if (!ferry_journal_record(a->journal, "phase", "saving", error)) {
        g_free(s.path);
        return FALSE;
    }
    ferry_job_set_message(a->job, "saving the memory state of %s", a->call->name);
    s.call = ferry_bg_call_start("save", save, &s);
    TailDigest tail = { .path = s.path, .save = &s, .cancellable = ferry_job_cancellable(a->job) };
    GThread *digester = g_thread_new("save-digest", tail_digest_thread, &tail);
    wait_until_paused(a, &s);
    phase(a, "guest paused");

    g_autoptr(GError) copy_error = NULL;
    /* A save that failed at once: nothing to copy for. */
    gboolean copied = ferry_bg_call_failed(s.call) ? FALSE : copy_disks(a, &copy_error);
    phase(a, "disks copied");
    if (copied && !save_done(&s))
        ferry_job_set_message(a->job, "saving the memory state of %s (its disks are copied)", a->call->name);
    if (!copied && !save_done(&s))
        abort_save(a);
    while (!save_done(&s)) {
        if (g_cancellable_is_cancelled(ferry_job_cancellable(a->job)))
            abort_save(a);
        poll_save_stats(a);
        g_usleep(POLL_INTERVAL_US * 2);
    }
    virErrorPtr save_error = NULL;
    int rc = ferry_bg_call_finish(s.call, &save_error);
    phase(a, "libvirt's save returned");
    g_thread_join(digester);
    phase(a, "save image digested");
    gboolean ok = FALSE;
    if (rc < 0) {
        if (!copy_error && !cancelled(a, error))
            g_set_error(error, FERRY_ERROR, save_error_code(a, save_error),
                        "cannot save the memory state of %s: %s", a->call->name,
                        save_error && save_error->message ? save_error->message : "unknown libvirt error");
    } else {
        a->saved = TRUE;
        ok = ferry_journal_record(a->journal, "phase", "saved", error);
        if (ok && !tail.ok) {
            g_message("archive of %s: the save image changed in a way not foreseen; digesting it again",
                      a->call->name);
            ok = ferry_digest_file(s.path, ferry_job_cancellable(a->job), NULL, NULL, &tail.digest, error);
        }
        if (ok)
            ferry_manifest_add_file(a->manifest, "memory.save", FERRY_FILE_MEMORY, &tail.digest);
        ferry_job_add_step(a->job, a->call->name, "save", "memory.save", "saved");
    }
    if (copy_error) {
        g_clear_error(error);
        g_propagate_error(error, g_steal_pointer(&copy_error));
        ok = FALSE;
    }
    if (save_error)
        virFreeError(save_error);
    g_free(s.path);
    return ok && copied;
}

static gboolean run_archive(Archive *a, GError **error)
{
    a->started = g_get_monotonic_time();
    if (!lookup_domain(a, error) || !read_definition(a, error) || cancelled(a, error))
        return FALSE;
    phase(a, "definition read");
    gint64 created = g_get_real_time();
    a->id = ferry_archive_id_make(a->call->config->archive_library, a->call->name, created);
    g_autofree char *partial_name = g_strconcat(FERRY_PARTIAL_PREFIX, a->id, NULL);
    a->partial = g_build_filename(a->call->config->archive_library, partial_name, NULL);
    a->final = g_build_filename(a->call->config->archive_library, a->id, NULL);
    fill_manifest_header(a, created);
    a->facts = g_new0(HostFacts, 1);
    a->facts->uri = g_strdup(a->call->config->libvirt_uri);
    a->facts_thread = g_thread_new("host-facts", host_facts_thread, a->facts);
    phase(a, "manifest header");
    a->bytes = (FerryJobBytes){ .job = a->job, .total = data_to_move(a) };
    ferry_job_bytes_progress(0, &a->bytes);
    phase(a, "sizes known");

    if (!(a->journal = ferry_journal_create(a->call->config->state_dir, "archive", a->id, error)))
        return FALSE;
    phase(a, "journal created");
    ferry_journal_set(a->journal, "domain", a->call->uuid);
    ferry_journal_set(a->journal, "partial", a->partial);
    ferry_journal_set(a->journal, "final", a->final);
    ferry_journal_set(a->journal, "was", state_word(a->state));
    g_autofree char *created_text = g_strdup_printf("%" G_GINT64_FORMAT, created);
    ferry_journal_set(a->journal, "created", created_text);
    if (!ferry_journal_record(a->journal, "phase", "prepared", error) || !make_partial_dir(a, error))
        return FALSE;
    phase(a, "journal and partial directory ready");

    if (is_active(a->state)) {
        if (!save_and_copy(a, error))
            return FALSE;
    } else if (!copy_disks(a, error)) {
        return FALSE;
    }
    phase(a, "memory state and disks done");
    if (cancelled(a, error) || !copy_firmware_state(a, error) || !write_definition(a, error))
        return FALSE;
    g_strfreev(a->manifest->notes);
    g_ptr_array_add(a->notes, NULL);
    a->manifest->notes = g_strdupv((char **)a->notes->pdata);
    ferry_job_set_message(a->job, "writing the manifest");
    add_host_facts(a->manifest, g_steal_pointer(&a->facts_thread), a->facts);
    if (!publish(a, error))
        return FALSE;
    /* From here on the archive exists: no rollback, only completion. */
    phase(a, "published");
    ferry_journal_record(a->journal, "phase", "published", NULL);
    if (!mark_pending_deletion(a->dom, a->id, created, error))
        return FALSE;
    ferry_journal_remove(a->journal);
    phase(a, "marked pending deletion");
    ferry_job_add_step(a->job, a->call->name, "archive", a->id, "pending deletion");
    ferry_job_set_result(a->job, a->id);
    return TRUE;
}

static gboolean archive_job(FerryJob *job, gpointer data, GError **error)
{
    Archive a = { .job = job, .call = data };
    gboolean ok = run_archive(&a, error);
    if (!ok && !g_file_test(a.final ? a.final : "", G_FILE_TEST_IS_DIR))
        roll_back(&a);
    archive_clear(&a);
    return ok;
}

FerryJob *ferry_archive_start(FerryJobs *jobs, FerryConfig *config, const char *domain_uuid,
                              const char *domain_name, GError **error)
{
    ArchiveCall *a = g_new0(ArchiveCall, 1);
    a->config = ferry_config_ref(config);
    a->uuid = g_strdup(domain_uuid);
    a->name = g_strdup(domain_name);
    return ferry_jobs_start(jobs, FERRY_JOB_ARCHIVE, domain_name, domain_uuid, archive_job, a,
                            (GDestroyNotify)archive_call_free, error);
}

/* ------------------------------------------------------------------ verify */

typedef struct {
    FerryConfig *config;
    char *id;
} VerifyCall;

static void verify_call_free(VerifyCall *v)
{
    ferry_config_unref(v->config);
    g_free(v->id);
    g_free(v);
}

static gboolean verify_job(FerryJob *job, gpointer data, GError **error)
{
    VerifyCall *v = data;
    g_autofree char *dir = ferry_library_archive_dir(v->config->archive_library, v->id, error);
    g_autoptr(FerryManifest) m = dir ? ferry_manifest_load(dir, error) : NULL;
    if (!m)
        return FALSE;
    FerryJobBytes bytes = { .job = job, .total = ferry_manifest_data_size(m) };
    ferry_job_set_message(job, "reading %u files", m->files->len);
    if (!ferry_library_verify(dir, m, 0, ferry_job_cancellable(job), ferry_job_bytes_progress, &bytes, error))
        return FALSE;
    ferry_job_add_step(job, m->domain, "verify", v->id, "intact");
    ferry_job_set_result(job, v->id);
    return TRUE;
}

FerryJob *ferry_verify_start(FerryJobs *jobs, FerryConfig *config, const char *id, GError **error)
{
    g_autofree char *dir = ferry_library_archive_dir(config->archive_library, id, error);
    if (!dir)
        return NULL;
    VerifyCall *v = g_new0(VerifyCall, 1);
    v->config = ferry_config_ref(config);
    v->id = g_strdup(id);
    return ferry_jobs_start(jobs, FERRY_JOB_VERIFY, id, NULL, verify_job, v, (GDestroyNotify)verify_call_free, error);
}

/* ------------------------------------------------------------------ purge */

/* The disk files of the domain that the archive holds copies of. */
static GPtrArray *archived_disk_files(FerryDomainXml *def, const FerryManifest *m)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *disks = ferry_domxml_disks(def);
    for (guint i = 0; i < m->files->len; i++) {
        FerryManifestFile *f = g_ptr_array_index(m->files, i);
        if (f->role != FERRY_FILE_DISK || !f->source)
            continue;
        for (guint j = 0; j < disks->len; j++) {
            FerryDisk *disk = g_ptr_array_index(disks, j);
            if (g_strcmp0(disk->source, f->source) == 0)
                g_ptr_array_add(files, g_strdup(f->source));
        }
    }
    return files;
}

gboolean ferry_purge(const FerryConfig *config, const char *domain_uuid, GError **error)
{
    g_autoptr(virConnect) conn = ferry_libvirt_open(config->libvirt_uri, error);
    if (!conn)
        return FALSE;
    g_autoptr(virDomain) dom = virDomainLookupByUUIDString(conn, domain_uuid);
    if (!dom)
        return ferry_error_from_libvirt(error, "domain %s", domain_uuid);
    const char *name = virDomainGetName(dom);
    g_autofree char *mark = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_ARCHIVE_NS,
                                                 VIR_DOMAIN_AFFECT_CONFIG);
    virResetLastError();
    g_autofree char *id = NULL;
    if (!mark || !ferry_archived_mark_parse(mark, &id, NULL, NULL)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "domain %s is not pending deletion; only an archived domain can be purged (virt-ferry archive)",
                    name);
        return FALSE;
    }
    int state = 0;
    if (virDomainGetState(dom, &state, NULL, 0) == 0 && is_active(state)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "domain %s runs again since it was archived as %s; shut it down first or archive it anew",
                    name, id);
        return FALSE;
    }
    g_autofree char *dir = ferry_library_archive_dir(config->archive_library, id, error);
    g_autoptr(FerryManifest) m = dir ? ferry_manifest_load(dir, error) : NULL;
    if (!m || !ferry_library_verify(dir, m, 0, NULL, NULL, NULL, error)) {
        g_prefix_error(error, "domain %s is not purged: ", name);
        return FALSE;
    }
    g_autofree char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    g_autoptr(FerryDomainXml) def = xml ? ferry_domxml_parse(xml, error) : NULL;
    if (!def)
        return xml ? FALSE : ferry_error_from_libvirt(error, "cannot read the definition of %s", name);
    g_autoptr(GPtrArray) files = archived_disk_files(def, m);
    if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                        VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                        VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0)
        return ferry_error_from_libvirt(error, "cannot undefine %s", name);
    for (guint i = 0; i < files->len; i++) {
        const char *file = g_ptr_array_index(files, i);
        if (g_unlink(file) < 0 && errno != ENOENT)
            g_warning("purge of %s: cannot delete %s: %s", name, file, g_strerror(errno));
    }
    ferry_log(FERRY_LOG_NOTICE, NULL, (const char *const[]){ "VIRT_FERRY_DOMAIN", name, "VIRT_FERRY_ARCHIVE", id, NULL },
              "purged %s (archive %s, %u disk files)", name, id, files->len);
    return TRUE;
}

/* ------------------------------------------------------------------ recovery */

void ferry_archive_recover_journal(const FerryConfig *config, virConnectPtr conn, FerryJournal *j)
{
    g_autofree char *phase = ferry_journal_get(j, "phase");
    g_autofree char *uuid = ferry_journal_get(j, "domain");
    g_autofree char *partial = ferry_journal_get(j, "partial");
    g_autofree char *was = ferry_journal_get(j, "was");
    g_autofree char *created = ferry_journal_get(j, "created");
    g_autoptr(virDomain) dom = uuid ? virDomainLookupByUUIDString(conn, uuid) : NULL;
    virResetLastError();
    const char *id = ferry_journal_id(j);

    if (g_strcmp0(phase, "published") == 0) {
        /* The archive is complete: finish what was left, the mark. */
        g_autoptr(GError) error = NULL;
        if (dom && !mark_pending_deletion(dom, id, g_ascii_strtoll(created ? created : "0", NULL, 10), &error))
            g_warning("recovering archive %s: %s", id, error->message);
        ferry_log_recovery("archive", id, "completed", "recovered archive %s: complete; its domain is pending deletion", id);
        ferry_journal_remove(j);
        return;
    }
    if (dom && g_strcmp0(phase, "saving") == 0)
        ferry_domain_wait_job_end(dom, 600); /* libvirtd carries on with the save */
    int state = VIR_DOMAIN_NOSTATE, reason = 0;
    if (dom)
        virDomainGetState(dom, &state, &reason, 0);
    g_autofree char *image = partial ? g_build_filename(partial, "memory.save", NULL) : NULL;
    if (dom && !is_active(state) && reason == VIR_DOMAIN_SHUTOFF_SAVED && image &&
        g_file_test(image, G_FILE_TEST_IS_REGULAR)) {
        g_autoptr(GError) error = NULL;
        if (!restore_saved_domain(conn, image, was, &error)) {
            ferry_log_recovery("archive", id, "failed", "recovering archive %s: %s", id, error->message);
            return; /* keep the journal and the save image: retried at the next start */
        }
        ferry_log_recovery("archive", id, "rolled-back",
                           "recovered archive %s: rolled back, the domain runs again from its saved state", id);
    } else {
        ferry_log_recovery("archive", id, "rolled-back", "recovered archive %s: rolled back", id);
    }
    if (partial && g_str_has_prefix(partial, config->archive_library))
        ferry_remove_tree(partial);
    ferry_journal_remove(j);
}
