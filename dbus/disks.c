/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.MoveDisk: one disk of a running domain of this host to another path, as a job
 * (plugin/movedisk.c). */
#include "daemon.h"

#include "movedisk.h"

/* @format is NULL when not given (the disk's own); @bandwidth 0 (no limit). */
static gboolean read_options(GVariant *v, char **format, guint64 *bandwidth, GError **error)
{
    static const char *const keys[] = { "format:s", "bandwidth:t", NULL };
    if (!ferryd_check_options(v, keys, error))
        return FALSE;
    g_variant_lookup(v, "format", "s", format);
    g_variant_lookup(v, "bandwidth", "t", bandwidth);
    return TRUE;
}

static void move_disk_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    const char *disk, *destination;
    g_autoptr(GVariant) given = NULL;
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&s&s@a{sv})", NULL, &disk, &destination,
                  &given);
    g_autoptr(GError) error = NULL;
    g_autofree char *format = NULL;
    guint64 bandwidth = 0;
    FerryJob *job = NULL;
    const FerryDomainInfo *info = read_options(given, &format, &bandwidth, &error)
                                      ? ferry_inventory_lookup(daemon->inventory, uuid, &error)
                                      : NULL;
    if (info)
        job = ferry_move_disk_start(daemon->jobs, daemon->config, info->uuid, info->name, disk, destination, format,
                                    bandwidth, &error);
    ferryd_reply_job(daemon, invocation, job, error);
}

/* Moving a disk moves a domain's storage: the same administrators' action as Migrate
 * (plugin/job.c's table). */
static gboolean handle_move_disk(FerryBusManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                                 const char *disk, const char *destination, GVariant *options,
                                 FerrydDaemon *daemon)
{
    ferryd_authorize_domain(daemon, invocation, ferry_job_kind_action(FERRY_JOB_MOVE_DISK), domain, "move-disk",
                            move_disk_authorized);
    return TRUE;
}

void ferryd_disks_setup(FerrydDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-move-disk", G_CALLBACK(handle_move_disk), daemon);
}
