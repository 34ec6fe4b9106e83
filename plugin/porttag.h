/* A Linux bridge port's VLANs, through rtnetlink: what libvirt 9.0 cannot do for a standard
 * switch (a libvirt network on a Linux bridge), and virt-ferry does for it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether @bridge filters VLANs (/sys/class/net/@bridge/bridge/vlan_filtering is 1): on one
 * that does not, a port's VLANs are stored but do not separate anything. */
gboolean ferry_bridge_filters_vlans(const char *bridge);

/* Puts bridge port @port (a guest's tap device) on VLAN @vlan (1..4094), untagged, as its
 * only VLAN and its PVID; or with @trunk on every VLAN 1..4094, tagged, and no PVID. The
 * port's default VLAN (1, as the kernel gives every new port) is taken away first. Failed
 * with the kernel's reason (a kernel without bridge VLAN filtering says Operation not
 * supported); NotFound when there is no such device. */
gboolean ferry_port_set_vlan(const char *port, int vlan, gboolean trunk, GError **error);

G_END_DECLS
