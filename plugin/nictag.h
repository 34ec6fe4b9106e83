/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NICs hot-plugged into a running domain. libvirt runs no hook for an attach, so the tap of a
 * NIC attached to a standard switch would stay on the bridge's default VLAN 1, untagged, even
 * when its portgroup declares a VLAN: virt-ferryd watches libvirt's device-added events and
 * puts the tap on that VLAN the way the hook does at a start (ferry_port_tag_nic), or, when
 * it cannot, cuts the NIC's link at once and unplugs it. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

typedef struct _FerryNicTagger FerryNicTagger;

/* @networks_dir: virt-ferry's declarations of portgroup VLANs ([networks] dir=). The work
 * runs in a thread of its own: an unplug waits for the guest for seconds. */
FerryNicTagger *ferry_nic_tagger_new(const char *networks_dir);
/* Waits for work under way, then frees. */
void ferry_nic_tagger_free(FerryNicTagger *tagger);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryNicTagger, ferry_nic_tagger_free)

/* Subscribes to @conn's device-added events (main context): the callback id, for
 * virConnectDomainEventDeregisterAny, or -1 when libvirt refuses (the libvirt error is left
 * set). */
int ferry_nic_tagger_watch(FerryNicTagger *tagger, virConnectPtr conn);

G_END_DECLS
