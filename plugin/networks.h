/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The network map's side that talks to libvirt (ferry_networks_*): this host's networks read
 * into a FerryNetmap, the peers' too, the copy on disk the hook reads, and the comparison
 * with the peers (CheckNetworks, virt-ferry(1)). The map itself and its rules, with no
 * libvirt in them, are netmap.h (ferry_netmap_*); when the map is rewritten is host.c. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "netmap.h"

G_BEGIN_DECLS

/* Every network libvirt has, with virt-ferry's declarations for it from @networks_dir
 * (NULL: none; see ferry_networks_declarations_path). A network whose XML does not parse is
 * left out, with a warning. */
FerryNetmap *ferry_networks_read_map(virConnectPtr conn, const char *networks_dir, GError **error);
/* Reads the map, joins @peers (FerryPeerNetmap, may be NULL: none) and saves it at @path. */
gboolean ferry_networks_write_map(virConnectPtr conn, const char *networks_dir, GPtrArray *peers, const char *path,
                            GError **error);
/* What each peer's libvirt shows of its networks (FerryPeerNetmap). A peer that cannot be read
 * keeps its entry of @previous (may be NULL): a stale view beats none. Blocking, up to the
 * time a connection to a dead host takes: call it in a thread of its own. */
GPtrArray *ferry_networks_read_peers(const char *const *peers, GPtrArray *previous);
/* <networks_dir>/<network>.xml: a <ferry:network> element (netmap.h) declaring what libvirt
 * 9.0 cannot hold for that network: the VLANs of a standard switch's portgroups, PVLANs. */
char *ferry_networks_declarations_path(const char *networks_dir, const char *network);
/* Where virt-ferryd keeps the map: <[state] dir>/netmap. */
char *ferry_networks_map_path(const char *state_dir);

/* a(ssss): domain, NIC MAC, peer, problem, for each NIC of a domain of this host whose
 * network, portgroup or VLAN is not alike on a peer; a peer that cannot be read gives one row
 * with empty domain and MAC, a domain whose definition cannot be read one row with empty MAC
 * and peer. Blocking: call it in a thread. */
GVariant *ferry_networks_compare(const char *uri, const char *networks_dir, const char *const *peers, GError **error);

/* A domain that arrived by migration or restore runs with the NICs the hook mapped onto this
 * host's networks, but libvirt gives hooks its live definition only: the persistent one still
 * names the source's portgroups. This makes each NIC on a network of the persistent definition
 * what it is in the running domain. Nothing when they agree, or the domain is transient or
 * not running. Blocking (libvirt calls). */
gboolean ferry_networks_persist_live_nics(virDomainPtr dom, gboolean *changed, GError **error);

G_END_DECLS
