/* Manager.MoveDisk: one disk of a running domain of this host to another path, as a job
 * (plugin/movedisk.c). */
#include "daemon.h"

#include "movedisk.h"

typedef struct {
    FerryDaemon *daemon;
    char *domain, *disk, *destination;
    GVariant *options;
} MoveDiskRequest;

static void request_free(MoveDiskRequest *r)
{
    g_free(r->domain);
    g_free(r->disk);
    g_free(r->destination);
    g_variant_unref(r->options);
    g_free(r);
}

/* @format is NULL when not given (the disk's own); @bandwidth 0 (no limit). */
static gboolean read_options(GVariant *v, char **format, guint64 *bandwidth, GError **error)
{
    static const char *const keys[] = { "format:s", "bandwidth:t", NULL };
    if (!ferry_daemon_check_options(v, keys, error))
        return FALSE;
    g_variant_lookup(v, "format", "s", format);
    g_variant_lookup(v, "bandwidth", "t", bandwidth);
    return TRUE;
}

static void move_disk_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    MoveDiskRequest *r = data;
    FerryDaemon *daemon = r->daemon;
    g_autoptr(GError) error = NULL;
    g_autofree char *format = NULL;
    guint64 bandwidth = 0;
    FerryJob *job = NULL;
    const FerryDomainInfo *info = read_options(r->options, &format, &bandwidth, &error)
                                      ? ferry_inventory_lookup(daemon->inventory, r->domain, &error)
                                      : NULL;
    if (info)
        job = ferry_move_disk_start(daemon->jobs, daemon->config, info->uuid, info->name, r->disk, r->destination,
                                    format, bandwidth, &error);
    ferry_daemon_reply_job(daemon, invocation, job, error, ferry_manager_complete_move_disk);
}

static gboolean handle_move_disk(FerryManager *manager, GDBusMethodInvocation *invocation, const char *domain,
                                 const char *disk, const char *destination, GVariant *options, FerryDaemon *daemon)
{
    MoveDiskRequest *r = g_new0(MoveDiskRequest, 1);
    r->daemon = daemon;
    r->domain = g_strdup(domain);
    r->disk = g_strdup(disk);
    r->destination = g_strdup(destination);
    r->options = g_variant_ref(options);
    /* Moving a disk moves a domain's storage: the same administrators' action as Migrate. */
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_MIGRATE, domain, "move-disk", move_disk_authorized, r,
                    (GDestroyNotify)request_free);
    return TRUE;
}

void ferry_daemon_disks_setup(FerryDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-move-disk", G_CALLBACK(handle_move_disk), daemon);
}
