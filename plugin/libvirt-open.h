/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The one way virt-ferry opens a libvirt connection. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

/* A new connection to @uri (this host's libvirtd or a peer's), or NULL with @error (may be
 * NULL) saying which URI and what libvirt said. Blocking: libvirt may take as long as a
 * connection to a dead host takes; never call it in the main context. Each thread opens its
 * own: jobs must not wait behind the inventory's serial worker. */
virConnectPtr ferry_libvirt_open(const char *uri, GError **error);

/* libvirtd carries on with a job (a save, a peer-to-peer migration) whose client died in the
 * middle: waits, at most @seconds, until the domain has none. Crash recovery's first step. */
void ferry_domain_wait_job_end(virDomainPtr dom, guint seconds);

G_END_DECLS
