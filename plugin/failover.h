/* Failover (MISSION C5): every host publishes its domains on shared storage as they change,
 * so that a live peer can start a dead host's domains; libvirt's lock manager keeps one
 * domain from running on two hosts. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "config.h"
#include "job.h"

G_BEGIN_DECLS

/* <dir>/<host>/<uuid>.xml: the domain's persistent definition; <uuid>.running beside it
 * while it runs. @dom NULL (or transient): both go. Blocking; errors are logged, never fatal
 * (a missed publication is made good at the next change or reconnect). */
void ferry_failover_publish(const char *dir, const char *host, virDomainPtr dom, const char *uuid);
/* All of @conn's domains, and nothing else, under <dir>/<host>. */
void ferry_failover_publish_all(const char *dir, const char *host, virConnectPtr conn);

/* Defines here the domains @host published (all, or those of @domains: names or UUIDs) and
 * starts those that ran there when @start. Unsupported without [failover] dir=, NotFound
 * when @host published nothing; the job fails Busy while @host's libvirtd answers. */
FerryJob *ferry_failover_start(FerryJobs *jobs, FerryConfig *config, const char *host,
                               const char *const *domains, gboolean start, GError **error);

G_END_DECLS
