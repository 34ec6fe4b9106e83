/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MoveDisk (see movedisk.h).
 *
 * The copy is libvirt's block copy (QEMU's mirror job): QEMU copies the disk while the guest
 * runs and, once it has caught up, keeps mirroring the guest's writes into the copy ("ready").
 * The pivot then switches the domain over to the copy in one step. Until the pivot the domain
 * never leaves its old file, so every failure and Cancel before it only has to stop the copy
 * and remove what it wrote. The persistent definition and the old file are touched only after
 * the pivot: the definition first (the next start must find the new file), then the old file.
 *
 * libvirt 9.0 refuses a block copy on a persistent domain unless the job is transient
 * (VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB: it does not survive a libvirtd restart, and libvirt
 * leaves the persistent definition alone), hence the definition's rewrite here.
 *
 * A block copy does not block its connection (the job runs in QEMU and is asked about with
 * virDomainGetBlockJobInfo), so one connection does, unlike archive.c's save. */
#include "movedisk.h"

#include "archive-util.h"
#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-autoptr.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <string.h>
#include <sys/statvfs.h>
#include <libvirt/virterror.h>

#define POLL_MS 250              /* Progress is due at least every second */
#define SWITCH_WAIT_MS 30000     /* how long the pivot may take to show in libvirt */
#define DISK_TARGET_MAX 32
#define MIB (1024.0 * 1024.0)

typedef struct {
    FerryConfig *config;
    char *uuid, *name;
    char *disk, *destination;
    char *format;              /* NULL: the disk's own */
    guint64 bandwidth_mib;     /* 0: no limit */
} MoveCall;

static void move_call_free(MoveCall *c)
{
    ferry_config_unref(c->config);
    g_free(c->uuid);
    g_free(c->name);
    g_free(c->disk);
    g_free(c->destination);
    g_free(c->format);
    g_free(c);
}

/* One move: what the job thread carries from step to step. */
typedef struct {
    FerryJob *job;
    MoveCall *call;
    virConnectPtr conn;
    virDomainPtr dom;
    char *source;              /* the disk's file when the job started */
    char *format;              /* the copy's format */
    gboolean persistent;
    gboolean in_definition;    /* the persistent definition names the disk: rewritten after the pivot */
    gboolean copying;          /* libvirt took the copy: the destination is its, to remove on failure */
    gboolean switched;         /* the domain runs on the destination: no rollback any more */
} Move;

static void move_clear(Move *m)
{
    g_clear_pointer(&m->dom, virDomainFree);
    g_clear_pointer(&m->conn, virConnectClose);
    g_free(m->source);
    g_free(m->format);
}

static void step(Move *m, const char *format, ...) G_GNUC_PRINTF(2, 3);
static void step(Move *m, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *outcome = g_strdup_vprintf(format, args);
    va_end(args);
    ferry_job_add_step(m->job, m->call->name, "move-disk", m->call->disk, outcome);
}

static gboolean cancelled(Move *m, GError **error)
{
    if (!g_cancellable_is_cancelled(ferry_job_cancellable(m->job)))
        return FALSE;
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled: disk %s of %s stays on %s", m->call->disk,
                m->call->name, m->source ? m->source : "its file");
    return TRUE;
}

/* ------------------------------------------------------------------ checks at call time */

/* libvirt's disk targets are letters and digits ("vda", "sdb", "hdc", "xvdaa"). */
static gboolean check_disk_target(const char *disk, GError **error)
{
    gsize len = disk ? strlen(disk) : 0;
    gboolean ok = len > 0 && len <= DISK_TARGET_MAX;
    for (gsize i = 0; ok && i < len; i++)
        ok = g_ascii_isalnum(disk[i]);
    if (!ok) {
        g_autofree char *shown = g_strescape(disk ? disk : "", NULL);
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "disk \"%.80s\" is not a disk target: give the target name virsh domblklist shows (vda)", shown);
    }
    return ok;
}

/* The destination goes into libvirt's XML and into messages: an absolute UTF-8 path without
 * control characters, naming a file. */
static gboolean check_destination(const char *path, GError **error)
{
    const char *why = NULL;
    if (!path || !*path)
        why = "is empty";
    else if (strlen(path) >= PATH_MAX)
        why = "is too long";
    else if (!g_utf8_validate(path, -1, NULL))
        why = "is not valid UTF-8";
    else if (!g_path_is_absolute(path))
        why = "is not an absolute path";
    else if (g_str_has_suffix(path, "/"))
        why = "names a directory: give the path of the new file";
    else
        for (const char *p = path; *p && !why; p = g_utf8_next_char(p))
            if (g_unichar_iscntrl(g_utf8_get_char(p)))
                why = "holds a control character";
    if (!why)
        return TRUE;
    g_autofree char *shown = g_strescape(path ? path : "", NULL);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "destination \"%.200s\" %s", shown, why);
    return FALSE;
}

static gboolean check_format(const char *format, GError **error)
{
    if (!format || g_str_equal(format, "qcow2") || g_str_equal(format, "raw"))
        return TRUE;
    g_autofree char *shown = g_strescape(format, NULL);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                "format \"%.80s\" is not one MoveDisk writes: give qcow2 or raw, or leave it out for the disk's own",
                shown);
    return FALSE;
}

/* libvirt takes the limit in bytes/s, QEMU as a signed 64-bit number. */
static gboolean check_bandwidth(guint64 mib, GError **error)
{
    if (mib <= (guint64)G_MAXINT64 >> 20)
        return TRUE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                "bandwidth: %" G_GUINT64_FORMAT " MiB/s is beyond what QEMU takes; give MiB/s, or 0 for no limit", mib);
    return FALSE;
}

/* ------------------------------------------------------------------ the domain and its disk */

static gboolean open_domain(Move *m, GError **error)
{
    if (!(m->conn = ferry_libvirt_open(m->call->config->libvirt_uri, error)))
        return FALSE;
    if (!(m->dom = virDomainLookupByUUIDString(m->conn, m->call->uuid)))
        return ferry_error_from_libvirt(error, "domain %s", m->call->name);
    int active = virDomainIsActive(m->dom);
    int persistent = virDomainIsPersistent(m->dom);
    if (active < 0 || persistent < 0)
        return ferry_error_from_libvirt(error, "cannot read the state of %s", m->call->name);
    if (!active) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "domain %s is not running: MoveDisk copies a disk while its domain runs; start it first, or "
                    "move the file of the shut-off domain yourself and point its definition at it (virsh edit)",
                    m->call->name);
        return FALSE;
    }
    m->persistent = persistent;
    return TRUE;
}

/* The running domain's XML (@flags 0) or its persistent definition (VIR_DOMAIN_XML_INACTIVE). */
static FerryDomainXml *read_xml(Move *m, unsigned int flags, GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(m->dom, flags | VIR_DOMAIN_XML_SECURE);
    if (!xml) {
        ferry_error_from_libvirt(error, "cannot read the definition of %s", m->call->name);
        return NULL;
    }
    return ferry_domxml_parse(xml, error);
}

static const FerryDisk *find_disk(FerryDomainXml *d, const char *target)
{
    GPtrArray *disks = ferry_domxml_disks(d);
    for (guint i = 0; i < disks->len; i++) {
        const FerryDisk *disk = g_ptr_array_index(disks, i);
        if (g_strcmp0(disk->target, target) == 0)
            return disk;
    }
    return NULL;
}

/* "vda, hdc", for a message naming the disks there are. */
static char *disk_targets(FerryDomainXml *d)
{
    GPtrArray *disks = ferry_domxml_disks(d);
    g_autoptr(GString) out = g_string_new(NULL);
    for (guint i = 0; i < disks->len; i++) {
        const FerryDisk *disk = g_ptr_array_index(disks, i);
        if (disk->target)
            g_string_append_printf(out, "%s%s", out->len ? ", " : "", disk->target);
    }
    return g_strdup(out->len ? out->str : "none");
}

/* The disk as the running domain has it: a disk held in a file (what a block copy into a file
 * and the definition's rewrite handle), with its file and format. */
static gboolean read_disk(Move *m, GError **error)
{
    const MoveCall *c = m->call;
    g_autoptr(FerryDomainXml) live = read_xml(m, 0, error);
    if (!live)
        return FALSE;
    const FerryDisk *disk = find_disk(live, c->disk);
    if (!disk) {
        g_autofree char *targets = disk_targets(live);
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND, "domain %s has no disk %s; its disks are %s",
                    c->name, c->disk, targets);
        return FALSE;
    }
    if (g_strcmp0(disk->device, "disk") != 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "%s of %s is a %s drive: MoveDisk moves disks (device='disk') only", c->disk, c->name,
                    disk->device);
        return FALSE;
    }
    if (g_strcmp0(disk->type, "file") != 0 || !disk->source) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "disk %s of %s is of type '%s'%s: MoveDisk moves disks held in a file (type='file') only",
                    c->disk, c->name, disk->type, disk->source ? "" : " without a source");
        return FALSE;
    }
    const char *own = disk->format ? disk->format : "raw";
    m->source = g_strdup(disk->source);
    m->format = g_strdup(c->format ? c->format : own);
    return TRUE;
}

/* Whether the persistent definition names the disk, with the same file: it is pointed at the
 * copy after the pivot. A disk attached to the running domain only has nothing to update; a
 * definition naming another file for it holds a change of the user's for the next start,
 * which the rewrite would lose. */
static gboolean read_definition(Move *m, GError **error)
{
    if (!m->persistent)
        return TRUE;
    g_autoptr(FerryDomainXml) def = read_xml(m, VIR_DOMAIN_XML_INACTIVE, error);
    if (!def)
        return FALSE;
    const FerryDisk *disk = find_disk(def, m->call->disk);
    if (!disk)
        return TRUE;
    if (g_strcmp0(disk->source, m->source) != 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "the persistent definition of %s gives disk %s the file %s, the running domain %s: make them "
                    "agree (virsh edit %s, or restart the domain) and move the disk again", m->call->name,
                    m->call->disk, disk->source ? disk->source : "(none)", m->source, m->call->name);
        return FALSE;
    }
    m->in_definition = TRUE;
    return TRUE;
}

/* ------------------------------------------------------------------ the destination */

/* Never overwrite; the directory is the user's to make. virt-ferryd runs on this host, so the
 * file system is asked directly. */
static gboolean check_place(Move *m, const char *dir, GError **error)
{
    const char *dest = m->call->destination;
    GStatBuf st;
    if (g_lstat(dest, &st) == 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s exists: MoveDisk never overwrites a file; choose a path that does not exist, or remove it",
                    dest);
        return FALSE;
    }
    if (g_stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                    "directory %s does not exist on this host: create it first (mkdir -p %s) or choose another", dir,
                    dir);
        return FALSE;
    }
    return TRUE;
}

/* The copy needs as much room as the old file takes (its physical size); the old file goes
 * only after the switch-over, so the same file system needs both at once. */
static gboolean check_space(Move *m, const char *dir, GError **error)
{
    virDomainBlockInfo info;
    if (virDomainGetBlockInfo(m->dom, m->call->disk, &info, 0) < 0)
        return ferry_error_from_libvirt(error, "cannot read the size of disk %s of %s", m->call->disk, m->call->name);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot read the free space of %s: %s", dir,
                    g_strerror(err));
        return FALSE;
    }
    guint64 have = (guint64)vfs.f_bavail * vfs.f_frsize;
    if (have >= info.physical)
        return TRUE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY,
                "%s has %" G_GUINT64_FORMAT " MiB free, the copy of disk %s of %s needs %" G_GUINT64_FORMAT
                " MiB: free space there or choose another directory", dir, have >> 20, m->call->disk, m->call->name,
                ((guint64)info.physical + (1 << 20) - 1) >> 20);
    return FALSE;
}

/* QEMU runs one block job per disk; the one there is not ours to disturb. */
static gboolean check_no_block_job(Move *m, GError **error)
{
    virDomainBlockJobInfo info;
    int rc = virDomainGetBlockJobInfo(m->dom, m->call->disk, &info, 0);
    if (rc < 0)
        return ferry_error_from_libvirt(error, "cannot ask about block jobs on disk %s of %s", m->call->disk,
                                        m->call->name);
    if (rc == 0)
        return TRUE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                "disk %s of %s already has a block job (a copy, commit or pull); wait for it to end, or abort it "
                "(virsh blockjob %s %s --abort), then move the disk again", m->call->disk, m->call->name,
                m->call->name, m->call->disk);
    return FALSE;
}

static gboolean check_all(Move *m, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(m->call->destination);
    ferry_job_set_message(m->job, "checking disk %s of %s", m->call->disk, m->call->name);
    return open_domain(m, error) && read_disk(m, error) && read_definition(m, error) && check_place(m, dir, error) &&
           check_space(m, dir, error) && check_no_block_job(m, error);
}

/* ------------------------------------------------------------------ the copy */

static gboolean start_copy(Move *m, GError **error)
{
    g_autofree char *xml = g_markup_printf_escaped("<disk type='file'><source file='%s'/><driver type='%s'/></disk>",
                                                   m->call->destination, m->format);
    virTypedParameterPtr params = NULL;
    int n = 0, max = 0;
    if (m->call->bandwidth_mib)
        virTypedParamsAddULLong(&params, &n, &max, VIR_DOMAIN_BLOCK_COPY_BANDWIDTH, m->call->bandwidth_mib << 20);
    int rc = virDomainBlockCopy(m->dom, m->call->disk, xml, params, n, VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB);
    virTypedParamsFree(params, n);
    if (rc < 0)
        return ferry_error_from_libvirt(error, "cannot start copying disk %s of %s to %s", m->call->disk,
                                        m->call->name, m->call->destination);
    m->copying = TRUE;
    return TRUE;
}

/* Follows the copy until it is ready: libvirt keeps cur below end until QEMU says the copy
 * has caught up, so cur == end is that moment without listening for the event. */
static gboolean wait_ready(Move *m, GError **error)
{
    gint64 started = g_get_monotonic_time();
    for (;;) {
        if (cancelled(m, error))
            return FALSE;
        virDomainBlockJobInfo info;
        int rc = virDomainGetBlockJobInfo(m->dom, m->call->disk, &info, 0);
        if (rc < 0)
            return ferry_error_from_libvirt(error, "cannot follow the copy of disk %s of %s", m->call->disk,
                                            m->call->name);
        if (rc == 0) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                        "the copy of disk %s of %s ended before it was complete (did the domain stop?); the disk "
                        "stays on %s", m->call->disk, m->call->name, m->source);
            return FALSE;
        }
        double seconds = MAX(1e-3, (g_get_monotonic_time() - started) / (double)G_USEC_PER_SEC);
        double rate = info.cur / MIB / seconds;
        ferry_job_set_data(m->job, info.end, info.end - info.cur);
        if (info.end > 0 && info.cur == info.end) {
            step(m, "copied to %s: %.1f MiB in %.1f s, %.1f MiB/s", m->call->destination, info.end / MIB, seconds,
                 rate);
            return TRUE;
        }
        ferry_job_set_message(m->job, "copying disk %s to %s: %.1f of %.1f MiB, %.1f MiB/s", m->call->disk,
                              m->call->destination, info.cur / MIB, info.end / MIB, rate);
        g_usleep(POLL_MS * 1000);
    }
}

/* The file disk @target of the domain reads now ("" for none); NULL when that cannot be known. */
static char *current_source(Move *m, GError **error)
{
    g_autoptr(FerryDomainXml) live = read_xml(m, 0, error);
    const FerryDisk *disk = live ? find_disk(live, m->call->disk) : NULL;
    if (live && !disk)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "disk %s of %s is gone", m->call->disk, m->call->name);
    return disk ? g_strdup(disk->source ? disk->source : "") : NULL;
}

/* libvirt answers "not ready" (BLOCK_COPY_ACTIVE) while it has not yet handled QEMU's ready
 * event that the progress already showed: that is tried again. */
static gboolean pivot(Move *m, GError **error)
{
    ferry_job_set_message(m->job, "switching disk %s of %s over to %s", m->call->disk, m->call->name,
                          m->call->destination);
    for (int waited = 0;; waited += POLL_MS) {
        if (virDomainBlockJobAbort(m->dom, m->call->disk, VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) == 0)
            return TRUE;
        if (virGetLastErrorCode() != VIR_ERR_BLOCK_COPY_ACTIVE || waited >= SWITCH_WAIT_MS)
            return ferry_error_from_libvirt(error, "cannot switch disk %s of %s over to %s; it stays on %s",
                                            m->call->disk, m->call->name, m->call->destination, m->source);
        g_usleep(POLL_MS * 1000);
    }
}

/* The pivot is over once the block job is gone; the live XML then names the copy. */
static gboolean wait_switched(Move *m, GError **error)
{
    virDomainBlockJobInfo info;
    for (int waited = 0; waited < SWITCH_WAIT_MS; waited += POLL_MS) {
        if (virDomainGetBlockJobInfo(m->dom, m->call->disk, &info, 0) <= 0)
            break;
        g_usleep(POLL_MS * 1000);
    }
    virResetLastError();
    g_autofree char *now = current_source(m, error);
    if (!now)
        return FALSE;
    if (!g_str_equal(now, m->call->destination)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "libvirt took the switch-over of disk %s of %s, but the domain still reads %s", m->call->disk,
                    m->call->name, now);
        return FALSE;
    }
    m->switched = TRUE;
    step(m, "switched over to %s", m->call->destination);
    return TRUE;
}

/* Before the switch-over: the copy stops and its file goes, unless the domain reads it. */
static void roll_back(Move *m)
{
    const char *dest = m->call->destination;
    virDomainBlockJobInfo info;
    if (virDomainGetBlockJobInfo(m->dom, m->call->disk, &info, 0) > 0 &&
        virDomainBlockJobAbort(m->dom, m->call->disk, 0) < 0)
        g_warning("move of disk %s of %s: cannot stop the copy: %s", m->call->disk, m->call->name,
                  virGetLastErrorMessage());
    virResetLastError();
    g_autoptr(GError) error = NULL;
    g_autofree char *now = current_source(m, &error);
    if (!now || g_str_equal(now, dest)) {
        g_warning("move of disk %s of %s: %s is left in place: %s", m->call->disk, m->call->name, dest,
                  now ? "the domain reads it" : error->message);
        return;
    }
    if (g_unlink(dest) < 0 && errno != ENOENT) {
        int err = errno;
        g_warning("move of disk %s of %s: cannot remove the partial copy %s: %s", m->call->disk, m->call->name, dest,
                  g_strerror(err));
        return;
    }
    step(m, "rolled back: the disk stays on %s, the partial copy is removed", m->source);
}

/* ------------------------------------------------------------------ after the switch-over */

static gboolean update_definition(Move *m, GError **error)
{
    if (!m->in_definition) {
        step(m, "%s", m->persistent ? "not in the persistent definition (attached to the running domain only)"
                                    : "transient domain: no persistent definition to update");
        return TRUE;
    }
    ferry_job_set_message(m->job, "pointing the definition of %s at %s", m->call->name, m->call->destination);
    g_autoptr(FerryDomainXml) def = read_xml(m, VIR_DOMAIN_XML_INACTIVE, error);
    g_autofree char *xml = def && ferry_domxml_set_disk_source(def, m->call->disk, m->call->destination, error) &&
                                   ferry_domxml_set_disk_format(def, m->call->disk, m->format, error)
                               ? ferry_domxml_format(def)
                               : NULL;
    g_autoptr(virDomain) defined = xml ? virDomainDefineXML(m->conn, xml) : NULL;
    if (!defined) {
        if (xml)
            ferry_error_from_libvirt(error, "cannot define %s", m->call->name);
        g_prefix_error(error, "disk %s of %s runs on %s now, but its persistent definition still names %s (kept, no "
                       "longer written to): point it at the new file (virsh edit %s) before the domain starts "
                       "again; ", m->call->disk, m->call->name, m->call->destination, m->source, m->call->name);
        return FALSE;
    }
    step(m, "the persistent definition names %s", m->call->destination);
    return TRUE;
}

/* Through its storage pool when one lists it (the pool would otherwise list a volume that is
 * gone), else unlinked. Failing is a note, not a failure: the move itself is done. */
static void remove_old(Move *m)
{
    g_autoptr(virStorageVol) vol = virStorageVolLookupByPath(m->conn, m->source);
    virResetLastError();
    g_autofree char *why = NULL;
    if (vol && virStorageVolDelete(vol, 0) < 0)
        why = g_strdup(virGetLastErrorMessage());
    else if (!vol && g_unlink(m->source) < 0 && errno != ENOENT)
        why = g_strdup(g_strerror(errno));
    virResetLastError();
    if (!why) {
        step(m, "old file %s removed", m->source);
        return;
    }
    g_autofree char *note = g_strdup_printf("disk %s of %s runs on %s; its old file %s could not be removed (%s): "
                                            "remove it yourself", m->call->disk, m->call->name,
                                            m->call->destination, m->source, why);
    ferry_job_add_note(m->job, note);
}

static gboolean run_move(Move *m, GError **error)
{
    if (!check_all(m, error) || cancelled(m, error) || !start_copy(m, error) || !wait_ready(m, error) ||
        !pivot(m, error) || !wait_switched(m, error))
        return FALSE;
    /* From here on the domain runs on the copy: no rollback, only completion. */
    if (!update_definition(m, error))
        return FALSE;
    remove_old(m);
    ferry_job_set_result(m->job, m->call->destination);
    ferry_job_set_message(m->job, "disk %s of %s runs on %s", m->call->disk, m->call->name, m->call->destination);
    return TRUE;
}

static gboolean move_disk_job(FerryJob *job, gpointer data, GError **error)
{
    Move m = { .job = job, .call = data };
    gboolean ok = run_move(&m, error);
    if (!ok && m.copying && !m.switched)
        roll_back(&m);
    move_clear(&m);
    return ok;
}

FerryJob *ferry_move_disk_start(FerryJobs *jobs, FerryConfig *config, const char *domain_uuid,
                                const char *domain_name, const char *disk, const char *destination,
                                const char *format, guint64 bandwidth_mib, GError **error)
{
    if (!check_disk_target(disk, error) || !check_destination(destination, error) || !check_format(format, error) ||
        !check_bandwidth(bandwidth_mib, error))
        return NULL;
    MoveCall *c = g_new0(MoveCall, 1);
    c->config = ferry_config_ref(config);
    c->uuid = g_strdup(domain_uuid);
    c->name = g_strdup(domain_name);
    c->disk = g_strdup(disk);
    /* As libvirt will show it after the switch-over ("a//b/./c" is "a/b/c"). */
    c->destination = g_canonicalize_filename(destination, "/");
    c->format = g_strdup(format);
    c->bandwidth_mib = bandwidth_mib;
    return ferry_jobs_start(jobs, FERRY_JOB_MOVE_DISK, domain_name, domain_uuid, move_disk_job, c,
                            (GDestroyNotify)move_call_free, error);
}
