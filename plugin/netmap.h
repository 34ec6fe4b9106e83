/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's network map and the VLAN mapping rules (virt-ferry-hook(8), VLAN REMAPPING).
 *
 * Pure: XML strings in, decisions out. Nothing here calls libvirt or D-Bus, so virt-ferryd
 * (networks.c, restore.c) and virt-ferry-hook share one set of rules, and the unit tests
 * exercise every row of the table.
 *
 * Two kinds of switch:
 *  - distributed: a libvirt network on Open vSwitch (<virtualport type='openvswitch'/> at
 *    network level). Its portgroups carry their VLANs in libvirt (<vlan><tag id='300'/></vlan>)
 *    and Open vSwitch applies them.
 *  - standard: a Linux bridge, either <forward mode='bridge'/> with <bridge name=...> and no
 *    Open vSwitch virtualport, or a bridge libvirt manages itself (nat, route, open, isolated).
 *    libvirt 9.0 cannot tag a Linux-bridge port, so the VLAN of each of its portgroups is
 *    declared in virt-ferry's metadata (below) and virt-ferry applies it.
 *  - other: macvtap (direct), hostdev, ...: no VLAN can be given to a port here.
 *
 * virt-ferry's metadata for a network, one element in the namespace FERRY_NETMAP_NS, found in
 * any <metadata> child of the <network> (libvirt 9.0 networks have no metadata: networks.c
 * keeps the element in a file per network and joins it to the XML as a <metadata>):
 *
 *   <ferry:network xmlns:ferry="http://virtferry.org/xmlns/network/1">
 *     <ferry:portgroup name="vlan300" vlan="300"/>      a standard switch's portgroup VLAN
 *     <ferry:portgroup name="all" trunk="yes"/>         carries every VLAN, tagged (= vlan="4095")
 *     <ferry:pvlan primary="100">                       a private VLAN, on either kind of switch
 *       <ferry:secondary vlan="101" type="isolated"/>   type: isolated or community
 *       <ferry:secondary vlan="102" type="community"/>
 *     </ferry:pvlan>
 *   </ferry:network>
 *
 *  - VLAN ids are 0..4094; 4095 means trunk. Anything else is InvalidArgument.
 *  - A <ferry:portgroup> sets (overrides) the VLAN of the libvirt portgroup of the same name on
 *    a standard switch. One that libvirt does not have is recorded (in_libvirt FALSE) but no
 *    NIC is ever connected to it: libvirt would refuse a NIC naming a portgroup it lacks.
 *    On a distributed or other switch portgroup declarations are ignored: there libvirt's
 *    own <vlan> is what reaches the wire, and a second source of truth could only disagree.
 *  - A portgroup carries PVLAN secondary S when its VLAN is S on a network declaring S.
 *  - Unknown elements inside <ferry:network> are ignored, for newer versions' sake.
 *
 * The map on disk (ferry_netmap_save/load), a GKeyFile written by virt-ferryd and read by the
 * hook (which cannot call libvirt). Networks in name order, portgroups in libvirt's order:
 *
 *   [netmap]
 *   version=1
 *   networks=2                      number of [network N] groups, N = 0..networks-1
 *
 *   [network 0]
 *   name=ovsnet                     names are values, never group names: any byte libvirt
 *   switch=distributed              allows survives (standard | distributed | other)
 *   bridge=ovsbr0                   absent: none
 *   active=true
 *   portgroups=2                    number of [network N portgroup M] groups
 *   pvlans=101:100:isolated;102:100:community;   secondary:primary:type, absent: none
 *
 *   [network 0 portgroup 0]
 *   name=blue300
 *   vlan=300                        -1: none (always -1 when trunk)
 *   trunk=false
 *   default=false
 *   libvirt=true                    false: declared in the metadata only
 *
 *   [peer 0]                        peers=K in [netmap] (absent: 0), one group each
 *   uri=qemu+tls://beta/system
 *   networks=1                      then [peer 0 network N], [peer 0 network N portgroup M],
 *                                   with the keys of the host's own
 */
#pragma once

#include <glib.h>

#include "ferry-names.h" /* FERRY_NETMAP_NS */

G_BEGIN_DECLS

#define FERRY_NETMAP_FORMAT 1
#define FERRY_VLAN_MAX 4094   /* highest VLAN id a port can be on */
#define FERRY_VLAN_TRUNK 4095 /* "every VLAN", as VMware spells a trunk */

typedef enum {
    FERRY_SWITCH_STANDARD,    /* Linux bridge */
    FERRY_SWITCH_DISTRIBUTED, /* Open vSwitch */
    FERRY_SWITCH_OTHER,       /* macvtap, hostdev, ...: no VLANs */
} FerrySwitchKind;

/* "standard", "distributed", "other" (the words of the map file and of messages). */
const char *ferry_switch_kind_name(FerrySwitchKind kind);
/* A VLAN in words, for every message: "VLAN 300", "no VLAN" (@vlan < 0), "every VLAN
 * (trunk, 4095)". */
char *ferry_vlan_words(int vlan, gboolean trunk);

typedef struct {
    char *name;
    int vlan;             /* 0..4094, -1: none (always -1 when trunk) */
    gboolean trunk;       /* carries every VLAN (libvirt trunk='yes', several tags, or 4095) */
    gboolean is_default;  /* libvirt default='yes': NICs naming no portgroup get this one */
    gboolean in_libvirt;  /* FALSE: only declared in virt-ferry's metadata */
} FerryPortgroup;

typedef enum {
    FERRY_PVLAN_ISOLATED,
    FERRY_PVLAN_COMMUNITY,
} FerryPvlanType;

typedef struct {
    int secondary;
    int primary;
    FerryPvlanType type;
} FerryPvlan;

typedef struct {
    char *name;
    FerrySwitchKind kind;
    char *bridge;         /* NULL: none named (direct, hostdev) */
    gboolean active;
    GPtrArray *portgroups; /* FerryPortgroup, in libvirt's order, declared-only ones last */
    GArray *pvlans;        /* FerryPvlan, in declaration order; a secondary appears once */
} FerryNetwork;

typedef struct _FerryNetmap FerryNetmap;

/* What a peer's libvirt shows of its networks (read over its libvirt URI, so without its
 * declaration files): the hook needs it for NICs whose VLAN the incoming XML leaves out. */
typedef struct {
    char *peer;        /* the libvirt URI, as in [peers] uris= */
    FerryNetmap *map;  /* its peers array is empty */
} FerryPeerNetmap;

struct _FerryNetmap {
    GPtrArray *networks; /* FerryNetwork, sorted by name, names unique */
    GPtrArray *peers;    /* FerryPeerNetmap, in [peers] order; the last map read of each */
};

FerryNetmap *ferry_netmap_new(void);
FerryNetmap *ferry_netmap_copy(const FerryNetmap *map);
void ferry_netmap_free(FerryNetmap *map);
void ferry_network_free(FerryNetwork *net);
void ferry_portgroup_free(FerryPortgroup *pg);
FerryPeerNetmap *ferry_peer_netmap_new(const char *peer, FerryNetmap *map /* taken */);
void ferry_peer_netmap_free(FerryPeerNetmap *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryNetmap, ferry_netmap_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryNetwork, ferry_network_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryPortgroup, ferry_portgroup_free)

/* Parses one libvirt network XML (virNetworkGetXMLDesc) with virt-ferry's metadata in it and
 * adds it to @map, replacing a network of the same name (so a lifecycle event can refresh one
 * network). Bad XML or a bad VLAN: InvalidArgument naming the network and the value; @map is
 * then unchanged. */
gboolean ferry_netmap_add_network_xml(FerryNetmap *map, const char *network_xml, gboolean active, GError **error);

/* NULL if @map has no network @name. */
const FerryNetwork *ferry_netmap_find(const FerryNetmap *map, const char *name);
/* NULL if @net has no portgroup @name (declared-only ones included). */
const FerryPortgroup *ferry_network_find_portgroup(const FerryNetwork *net, const char *name);
/* The primary of PVLAN secondary @vlan on @net, or -1 when @vlan is no secondary there. */
int ferry_network_pvlan_primary(const FerryNetwork *net, int vlan);
gboolean ferry_netmap_equal(const FerryNetmap *a, const FerryNetmap *b);
/* Two arrays of FerryPeerNetmap (NULL: none read) alike. */
gboolean ferry_peer_netmaps_equal(GPtrArray *a, GPtrArray *b);

/* The VLAN that portgroup @portgroup of network @network has on this host and its peers (the
 * hosts a domain can come from), for a NIC whose XML names the portgroup but not its VLAN
 * (libvirt's migratable XML, which save images and migrations carry). Without peers in @map:
 * UNKNOWN, as this host's own portgroup is then what libvirt uses anyway. */
typedef enum {
    FERRY_PEER_VLAN_UNKNOWN,  /* no host shows that portgroup with a VLAN it knows */
    FERRY_PEER_VLAN_KNOWN,    /* every host that shows it agrees: @vlan / @trunk, on a @kind switch */
    FERRY_PEER_VLAN_CONFLICT, /* hosts disagree; @conflict says how ("VLAN 300 on this host, VLAN 400 on B") */
} FerryPeerVlan;
/* A standard switch's portgroup VLANs are in its host's declaration files, which a peer's
 * libvirt does not show: such a portgroup tells nothing. */
FerryPeerVlan ferry_netmap_peer_vlan(const FerryNetmap *map, const char *network, const char *portgroup, int *vlan,
                                     gboolean *trunk, FerrySwitchKind *kind, char **conflict);

/* Atomic and durable, mode 0644 (the hook reads it as root; it holds no secret). */
gboolean ferry_netmap_save(const FerryNetmap *map, const char *path, GError **error);
/* NotFound when @path does not exist, InvalidArgument when it is not a map this version reads. */
FerryNetmap *ferry_netmap_load(const char *path, GError **error);

/* ------------------------------------------------------------------ creating portgroups */

/* The name a created portgroup gets on @net: "vlan300", or "trunk" for every VLAN; "-2",
 * "-3", ... appended while a portgroup of that name exists with another VLAN. */
char *ferry_netmap_portgroup_name(const FerryNetwork *net, int vlan, gboolean trunk);

/* The <portgroup> element for virNetworkUpdate(VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
 * VIR_NETWORK_SECTION_PORTGROUP):
 *  - vlan 0..4094: <portgroup name='vlan300'><vlan><tag id='300'/></vlan></portgroup>, for a
 *    distributed switch;
 *  - vlan -1, not trunk: the plain <portgroup name='vlan300'/> a standard switch needs (its
 *    VLAN goes in the metadata: ferry_netmap_standard_metadata_with);
 *  - trunk: NULL. libvirt's <vlan> needs at least one <tag>, and trunk='yes' then limits the
 *    port to those tags, so "every VLAN" has no libvirt spelling; ferry_netmap_decide never
 *    creates a trunk portgroup on a distributed switch. */
char *ferry_netmap_portgroup_xml(const char *name, int vlan, gboolean trunk);

/* virt-ferry's <ferry:network> element declaring portgroup @portgroup with @vlan (or trunk),
 * built from @current (NULL or empty: none yet; else a <ferry:network> element, bare or inside
 * a <metadata>), whose other declarations are kept and whose declaration of the same portgroup
 * is replaced. NULL (with a warning) when @current is not such an element: never overwrite
 * declarations one cannot read. */
char *ferry_netmap_standard_metadata_with(const char *current_metadata_xml, const char *portgroup, int vlan,
                                          gboolean trunk);

/* ------------------------------------------------------------------ the decision (B2) */

typedef enum {
    FERRY_MAP_CONNECT,          /* connect to @portgroup, which exists */
    FERRY_MAP_CREATE_PORTGROUP, /* create @portgroup with @vlan / @trunk, then connect to it */
    FERRY_MAP_NO_VLAN,          /* the NIC had no VLAN: connect to @network (@portgroup usually NULL) */
    /* ferry_netmap_map_nic only: */
    FERRY_MAP_AS_IS,            /* change nothing: libvirt puts it where it would without virt-ferry */
    FERRY_MAP_VLAN_ON_INTERFACE, /* no portgroup can be created: connect to @network without one, with
                                  * @vlan / @trunk on the interface (Open vSwitch tags the port by it) */
    FERRY_MAP_KEEP_TAGS,        /* stay on @network (@portgroup: NULL or one that exists) with the
                                 * interface's own <vlan> tags: Open vSwitch carries them as it did */
} FerryMapAction;

typedef struct {
    FerryMapAction action;
    char *network;
    char *portgroup; /* NULL: none */
    int vlan;        /* the archived VLAN, -1: none */
    gboolean trunk;
    char *rule;      /* for the job's Steps: "B2 row 1: portgroup vlan300 of ovsnet has VLAN 300 (...)" */
    gboolean distributed; /* ferry_netmap_map_nic: @network is Open vSwitch (the interface gets
                           * <virtualport type='openvswitch'/>, else none) */
} FerryNicMapping;

void ferry_nic_mapping_clear(FerryNicMapping *m);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerryNicMapping, ferry_nic_mapping_clear)

/* Where a NIC archived on @archived_network (a @archived_kind switch), on @vlan (-1: none;
 * 4095 = trunk) or @trunk, goes on the host whose map is @target.
 *
 * The target network: @requested_network if given (NetworkUnavailable when absent or
 * inactive); else the network of the archived name if active; else the first active network,
 * by name, of @archived_kind; else NetworkUnavailable naming the NIC, VLAN and networks looked
 * at. Then table B2 on that network T:
 *  - no VLAN: FERRY_MAP_NO_VLAN, without a portgroup (or, when T's default portgroup has a
 *    VLAN that would otherwise apply, a libvirt portgroup without one).
 *  - trunk: distributed T: NetworkUnavailable; standard T: a trunk portgroup (row 2), else
 *    create "trunk" (row 4).
 *  - VLAN V: a portgroup with VLAN V (row 1; row 7 when V is a PVLAN secondary on a
 *    distributed T); else standard T: a trunk portgroup (row 2), else create "vlanV" (rows
 *    3-4); distributed T: V a PVLAN secondary: NetworkUnavailable (row 6), else create "vlanV"
 *    (row 5).
 *  - other T: only a NIC without a VLAN connects.
 * Only portgroups libvirt has are connected to. @out is cleared first and stays cleared on
 * failure. */
gboolean ferry_netmap_decide(const FerryNetmap *target, const char *requested_network, const char *archived_network,
                             FerrySwitchKind archived_kind, int vlan, gboolean trunk, const char *nic_mac,
                             FerryNicMapping *out, GError **error);

/* ------------------------------------------------------------------ one NIC (B2, B3) */

/* A NIC on a libvirt network, as the XML being mapped says. */
typedef struct {
    const char *mac;
    const char *network;   /* <source network=> */
    const char *portgroup; /* <source portgroup=>, NULL: none */
    int vlan;              /* the first <vlan><tag id=>, -1: none said; 4095: trunk */
    gboolean trunk;        /* trunk='yes' or several tags */
    FerrySwitchKind kind;  /* DISTRIBUTED: it is (was) an Open vSwitch port */
    /* -1 above means "no VLAN", not "the XML does not say": what a running domain's XML shows of
     * an Open vSwitch port (an archive's record). libvirt's migratable XML (save images,
     * migrations) and a standard switch's port never say. */
    gboolean vlan_said;
    /* @vlan / @trunk are <vlan> tags on the interface of the XML being rewritten, so they go
     * wherever it goes (the hook's input); FALSE when they were only seen (an archive's record
     * of a portgroup's tags, which the archived definition may not carry). */
    gboolean tags_on_interface;
} FerryNicSource;

/* Where @nic goes on this host, whose map (with the peers' networks it keeps) is @map, by
 * table B2 (ferry_netmap_decide) once its VLAN is known:
 *  - VLAN said (or none said, with @vlan_said): decide's answer.
 *  - not said, portgroup P named: the VLAN P has on the hosts the domain can come from
 *    (ferry_netmap_peer_vlan, then this host's own P). They disagree: NetworkUnavailable
 *    naming who says what. Known and P here has it: AS_IS; known: decided as if said. Nobody
 *    knows: NetworkUnavailable (rather than a guess that lands the guest on the wrong VLAN).
 *  - not said, no portgroup: the same network, active here, takes it (AS_IS: its default
 *    portgroup applies as on the source); else decide's "no VLAN" rule.
 *  - explicit tags on the interface (@tags_on_interface, a trunk of tags, not 4095) that decide
 *    refuses: KEEP_TAGS when their network is here, active and distributed.
 *  - CREATE_PORTGROUP without @can_create_portgroups (the hook never calls libvirt): on a
 *    distributed switch VLAN_ON_INTERFACE; on a standard one NetworkUnavailable (libvirt cannot
 *    tag a Linux-bridge port) saying which portgroup to create.
 * @requested_network (a restore's choice, NULL: none) as for decide; AS_IS only stays on the
 * NIC's own network. @out is cleared first and stays cleared on failure. */
gboolean ferry_netmap_map_nic(const FerryNetmap *map, const FerryNicSource *nic, const char *requested_network,
                              gboolean can_create_portgroups, FerryNicMapping *out, GError **error);

G_END_DECLS
