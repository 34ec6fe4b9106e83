/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A Linux bridge port's VLANs, through rtnetlink: what libvirt 9.0 cannot do for a standard
 * switch (a libvirt network on a Linux bridge), and virt-ferry does for it: the hook for a
 * starting guest's NICs, virt-ferryd for hot-plugged ones (nictag.c), both through
 * ferry_port_tag_nic. */
#pragma once

#include <glib.h>

#include "domxml.h"
#include "netmap.h"

G_BEGIN_DECLS

/* The most the tagging of all of a domain's ports may take, in ms, the kernel's answers
 * included. The hook's own bound (2 s, virt-ferry-hook.c) must stay well above it, so that a
 * kernel that does not answer gives a refusal naming the port, not the hook's cut-off. */
#define FERRY_PORT_TAG_BUDGET_MS 1000

/* Puts bridge port @port (a guest's tap device, index @ifindex) on VLAN @vlan (1..4094),
 * untagged, as its only VLAN and its PVID; or with @trunk on every VLAN 1..4094, tagged, and
 * no PVID, talking to the kernel over @fd, a NETLINK_ROUTE socket or anything that answers
 * like one (the tests' fake kernel); @fd is not closed. The port's default VLAN (1, as the
 * kernel gives every new port) is taken away first. Gives up at @deadline
 * (g_get_monotonic_time()). Failed, "bridge port <port>: <the kernel's reason>" (a kernel
 * without bridge VLAN filtering says Operation not supported, one that does not answer in
 * time says so). */
gboolean ferry_port_set_vlan_on(int fd, const char *port, int ifindex, int vlan, gboolean trunk, gint64 deadline,
                                GError **error);

/* NIC @nic of domain @domain, on @net: when @net is a standard switch whose portgroup for the
 * NIC declares a VLAN (or a trunk), puts its tap device on it (ferry_port_set_vlan_on), checking
 * first that the bridge filters VLANs at all. TRUE when done or when there is nothing to do;
 * else Failed, one line a user can act on ("cannot put NIC <mac> of domain <d> on VLAN 400:
 * ..."): the caller must then not let the NIC run (the hook refuses the start, virt-ferryd
 * unplugs a hot-plugged NIC). */
gboolean ferry_port_tag_nic(const FerryNetwork *net, const FerryNic *nic, const char *domain, gint64 deadline,
                            GError **error);

G_END_DECLS
