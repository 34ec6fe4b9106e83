/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* MoveDisk (virt-ferry(1)): one file disk of a running domain to another path on this host,
 * without stopping the domain (libvirt's block copy, switch-over once the copy caught up,
 * persistent definition updated, old file removed). */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "job.h"

G_BEGIN_DECLS

/* Starts moving disk @disk (its target name, "vda") of the domain to @destination, an
 * absolute path on this host that must not exist yet and whose directory must. @format:
 * "qcow2" or "raw" for the copy, NULL for the disk's own (this version copies into the
 * disk's own format only: another one fails the job with Unsupported, see movedisk.c).
 * @bandwidth_mib: MiB/s at most, 0 for no limit.
 * InvalidArgument at once for a bad disk name, destination, format or bandwidth; Busy when
 * the domain has a job. What needs libvirt or the file system (the domain runs, the disk is
 * a file, the destination is free, there is room) is checked in the job and fails it. */
FerryJob *ferry_move_disk_start(FerryJobs *jobs, FerryConfig *config, const char *domain_uuid,
                                const char *domain_name, const char *disk, const char *destination,
                                const char *format, guint64 bandwidth_mib, GError **error);

G_END_DECLS
