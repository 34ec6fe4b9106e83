/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Failover (virt-ferry(1)): every host publishes its domains on shared storage as they change,
 * so that a live peer can start a dead host's domains; libvirt's lock manager keeps one
 * domain from running on two hosts. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "config.h"
#include "job.h"

G_BEGIN_DECLS

/* <dir>/<host>/<uuid>.xml: the domain's persistent definition; <uuid>.running beside it
 * while it runs; both 0600, in directories created 0700. @dom NULL (or transient): both go.
 * Nothing is published where others than root could write (see ferry_failover_read_published).
 * Blocking; errors are logged, never fatal (a missed publication is made good at the next
 * change or reconnect). */
void ferry_failover_publish(const char *dir, const char *host, virDomainPtr dom, const char *uuid);
/* All of @conn's domains, and nothing else, under <dir>/<host>. */
void ferry_failover_publish_all(const char *dir, const char *host, virConnectPtr conn);

/* The largest published domain XML failover reads. */
#define FERRY_FAILOVER_XML_MAX (8 * 1024 * 1024)

/* What @host published for domain @uuid (<dir>/<host>/<uuid>.xml), as the takeover reads it:
 * only from directories owned by root and writable by root alone (Failed otherwise, naming
 * the directory), only a regular file (not a link, FIFO or device) of at most
 * FERRY_FAILOVER_XML_MAX bytes, only a domain XML whose <uuid> is @uuid (InvalidArgument
 * otherwise). NotFound when the file or directory does not exist. */
char *ferry_failover_read_published(const char *dir, const char *host, const char *uuid, GError **error);

/* Defines here the domains @host published (all, or those of @domains: names or UUIDs) and
 * starts those that ran there when @start. Unsupported without [failover] dir=, NotFound
 * when @host published nothing, Failed when the directories are not root's alone; the job
 * fails Busy while @host's libvirtd answers, and refuses (a step) a file that is not a
 * regular file, is too large or holds another domain than its name says. */
FerryJob *ferry_failover_start(FerryJobs *jobs, FerryConfig *config, const char *host,
                               const char *const *domains, gboolean start, GError **error);

G_END_DECLS
