/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration methods and the checks run before anything moves.
 *
 * Every check is its own function with its own FERRY_ERROR: what is wrong, with the
 * numbers, and what the user can do about it. ferry_migrate_check() runs the ones a method
 * needs. The checks read both hosts through libvirt only (the target is another host);
 * the one exception is the shared-storage test, which writes a marker file in the disks'
 * directories here, on the source host, where virt-ferryd runs. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

/* The enum order is the canonical order: Migration, Quick Migration, Move,
 * Storage Migration, Failover. */
typedef enum {
    FERRY_METHOD_MIGRATION,
    FERRY_METHOD_QUICK_MIGRATION,
    FERRY_METHOD_MOVE,
    FERRY_METHOD_STORAGE_MIGRATION,
    FERRY_METHOD_FAILOVER,
    FERRY_METHOD_N
} FerryMethod;

/* "migration", "quick-migration", "move", "storage-migration", "failover" (org.virtferry.Ferry1(5));
 * NULL for a value out of range. */
const char *ferry_method_name(FerryMethod method);
/* The method of @name: org.virtferry.Ferry1(5)'s names, also accepted in any case and with '_' or ' '
 * for '-' ("Quick Migration"). FALSE for anything else, including NULL. */
gboolean ferry_method_from_name(const char *name, FerryMethod *method);
/* A user's method list: @names (NULL or empty: the default "migration, failover") sorted
 * into the canonical order. InvalidArgument naming an unknown or repeated name and listing
 * the valid ones. On success *@out is a new GArray of FerryMethod. */
gboolean ferry_methods_parse(const char *const *names, GArray **out, GError **error);
/* Whether the method moves the running memory state (migration, quick-migration,
 * storage-migration), as opposed to starting the domain afresh on the target (move,
 * failover). */
gboolean ferry_method_is_live(FerryMethod method);

/* libvirt's version number (major * 1000000 + minor * 1000 + release) as "9.0.0". */
char *ferry_version_string(gulong version);
/* Incompatible when @dst_version is older than @src_version; @what is "libvirt" or the
 * hypervisor ("QEMU"), the hosts name the two sides in the message. A version of 0
 * (the driver does not know it) passes. */
gboolean ferry_migrate_check_version_pair(const char *what, const char *src_host, gulong src_version,
                                  const char *dst_host, gulong dst_version, GError **error);
/* The target's libvirt (virConnectGetLibVersion) and hypervisor (virConnectGetType,
 * virConnectGetVersion) are the same kind and not older than the source's. */
gboolean ferry_migrate_check_versions(virConnectPtr src, virConnectPtr dst, GError **error);

typedef enum {
    FERRY_CPU_MATCH_ARCH,      /* the same architecture */
    FERRY_CPU_MATCH_VENDOR,    /* and the same vendor when both hosts name one (no AMD <-> Intel) */
    FERRY_CPU_MATCH_IDENTICAL, /* and the same model and features */
} FerryCpuMatch;
/* Compares the <host><cpu> of two virConnectGetCapabilities() documents. Incompatible
 * (naming both CPUs) when they do not match as @match asks; InvalidArgument for a
 * document that is not capabilities XML. */
gboolean ferry_migrate_check_host_cpus(const char *src_caps, const char *src_host, const char *dst_caps,
                               const char *dst_host, FerryCpuMatch match, GError **error);
/* Whether the target can run the domain's CPU. @cold_boot: the domain is started afresh
 * there (move, failover) rather than live-migrated. Incompatible when not. See the .c for
 * what each <cpu> mode needs and what happens when the target's driver cannot compare. */
gboolean ferry_migrate_check_cpu(virConnectPtr src, virConnectPtr dst, virDomainPtr dom, gboolean cold_boot,
                         GError **error);
/* The target's free memory (free + buffers + page cache from virNodeGetMemoryStats, or
 * virNodeGetFreeMemory where the driver has no stats) is at least the domain's current
 * memory. NoCapacity with both numbers in MiB. */
/* The host's free memory in KiB as ferry_migrate_check_memory counts it (free + buffers +
 * page cache; virNodeGetFreeMemory where the driver has no stats); @host names it in errors. */
gboolean ferry_node_free_memory_kib(virConnectPtr conn, const char *host, guint64 *kib, GError **error);
gboolean ferry_migrate_check_memory(virConnectPtr dst, virDomainPtr dom, GError **error);
/* For storage-migration and move: the disks that will be copied (file-backed, not
 * shareable, not already on storage the target shares at the same path) fit 3 times into
 * the free space of their target directory (@target_dir, or each disk's own directory
 * when NULL), and their source directories have room for the disks to grow to their
 * capacity while the copy runs. Free space is read through libvirt on both hosts: the
 * storage pool over the directory, or a transient dir pool made for the question and
 * destroyed after it. NoCapacity naming the host, the directory, need and have in MiB. */
gboolean ferry_migrate_check_disk_space(virConnectPtr src, virConnectPtr dst, virDomainPtr dom,
                                const char *target_dir, GError **error);
/* What stops a domain from moving: host devices passed through (PCI, USB, SCSI, mediated;
 * an <interface type='hostdev'>) for every method; with @live also the devices whose state
 * QEMU 7.2 cannot migrate (virtiofs, TPM passthrough, ivshmem); and the no-migrate policy.
 * Unsupported, naming every blocker and how to clear it. @domain_xml: the domain's XML,
 * or NULL to read it from @dom. */
gboolean ferry_migrate_check_blockers(virDomainPtr dom, const char *domain_xml, gboolean live, GError **error);
/* Busy when the domain already runs a job (a migration, a save, a dump, a backup). */
gboolean ferry_migrate_check_idle(virDomainPtr dom, GError **error);

/* Whether the target sees the domain's disks on the same storage at the same paths.
 * For each directory holding a disk image, a marker file with a random name is written
 * there (here, on the source host; removed again on every path), and the target's libvirt
 * is asked, through a storage pool over the same directory after a refresh, whether it
 * sees that file. No disks: shared. A disk that is not a file (host block device, network
 * storage, ...) or a directory the marker cannot be written in: not shared, because
 * nothing proves it is. Returns TRUE and sets *@shared; when not shared, *@reason (may
 * be NULL; g_free it) says why, for the job's Steps. FALSE only when the question could
 * not be asked (libvirt errors, invalid XML). @src resolves type='volume' disks. */
gboolean ferry_storage_shared(virConnectPtr src, virConnectPtr dst, const char *domain_xml,
                              gboolean *shared, char **reason, GError **error);

/* Everything @method needs before it may start moving @dom (on @src) to @dst: blockers,
 * idle, versions, CPU and memory for every method; shared storage for migration,
 * quick-migration and failover (Unsupported with the reason otherwise, which is what
 * makes the engine fall back to the next method); disk space for storage-migration and
 * move (@target_dir: where the target's copies go, NULL for the same paths). The source
 * must answer: a failover for a dead host runs the target-side checks itself. */
gboolean ferry_migrate_check(virConnectPtr src, virConnectPtr dst, virDomainPtr dom, FerryMethod method,
                             const char *target_dir, GError **error);

G_END_DECLS
