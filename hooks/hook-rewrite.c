/* The transparent VLAN remapping of the hook (hook-rewrite.h): table B2 of MISSION.md as
 * virt-ferry restore applies it (plugin/restore.c: plan_networks, remap_nics), decided from
 * the network map on disk (plugin/netmap.c) and applied with plugin/domxml.c.
 *
 * What the hook knows about a NIC, and what it does not:
 * - its VLAN only when the domain XML states one on the interface (<vlan><tag id=.../>). The
 *   live XML (virsh dumpxml of a running domain) states the portgroup's VLAN there; but the
 *   XML libvirt itself writes into a save image and sends with a migration is its
 *   "migratable" form, which leaves the network's runtime state out: a NIC on portgroup P of
 *   network N appears as <source network='N' portgroup='P'/> and nothing says P's VLAN;
 * - the kind of switch it came from only from <virtualport type='openvswitch'> (distributed;
 *   otherwise standard), likewise absent from the migratable form.
 * Hence, for a NIC on a libvirt network (type='network', or the live form type='bridge' with
 * <source network=...>):
 * - VLAN stated (one tag, or a trunk: trunk='yes' or several tags): ferry_netmap_decide, as a
 *   restore does, with the NIC's network and switch kind. Connect: <source network portgroup>,
 *   no interface <vlan> (the portgroup's applies), <virtualport type='openvswitch'/> iff the
 *   target is distributed. Create a portgroup: the hook cannot (it never calls libvirt);
 *   on a distributed target the VLAN goes on the interface itself (libvirt applies <vlan> on
 *   an Open vSwitch port), on a standard one it cannot (libvirt 9.0 cannot tag a Linux-bridge
 *   port): refused. One exception to decide's refusal of trunks on a distributed switch: a
 *   trunk of explicit tags (not 4095, "every VLAN") whose own network is here, active and
 *   distributed stays on it with its tags: Open vSwitch carries exactly those, as it did.
 * - no VLAN stated, portgroup P named: the VLAN P has where the domain can come from, this
 *   host and the peers whose networks virt-ferryd keeps in the map (ferry_netmap_peer_vlan).
 *   All that know P agree on V: as if V were stated (P here with V stays untouched). They
 *   disagree: refused, naming who says what. None knows: P of the same network here takes
 *   the NIC as libvirt would without the hook (untouched); if this host lacks N or P, the
 *   VLAN is unknown: refused, rather than landing on the wrong VLAN.
 * - no VLAN stated, no portgroup: the same network, active here, takes it (untouched; its
 *   default portgroup, if any, applies as on the source); else decide's "no VLAN" rule picks
 *   another network of the same kind, or refuses.
 * NICs on no network (plain bridge, direct, user, ...) are never touched. When no NIC
 * changes, the caller writes the input back byte for byte. */
#include "hook-rewrite.h"

#include "config.h"
#include "domxml.h"
#include "ferry-error.h"
#include "netmap.h"
#include "porttag.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

typedef struct {
    const FerryNetmap *map;
    FerryDomainXml *dom;
    const char *operation;
    const char *domain;
    GHashTable *mac_count; /* lower-case MAC -> number of interfaces with it */
    gboolean changed;
    char *refusal;         /* the stderr line, once refused */
} Rewrite;

/* ------------------------------------------------------------------ messages */

/* One line for libvirt's error message: control characters (a newline in a name) become '?'. */
static char *one_line(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

/* What the user can do instead, by operation. */
static const char *instead(const Rewrite *rw)
{
    if (g_strcmp0(rw->operation, "restore") == 0)
        return " or restore with virt-ferry restore";
    if (g_strcmp0(rw->operation, "migrate") == 0)
        return ", then migrate again";
    return "";
}

static gboolean refuse(Rewrite *rw, const char *mac, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static gboolean refuse(Rewrite *rw, const char *mac, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    rw->refusal = one_line(g_strdup_printf("virt-ferry: cannot map NIC %s of domain %s for %s: %s", mac,
                                           rw->domain, rw->operation, reason));
    return FALSE;
}

/* A decision's VLAN: ferry_netmap_decide gives a trunk no VLAN of its own. */
static char *vlan_words(int vlan, gboolean trunk)
{
    return trunk ? g_strdup("every VLAN (trunk)") : g_strdup_printf("VLAN %d", vlan);
}

/* ------------------------------------------------------------------ the live form */

/* MAC (lower case) -> <source network=> of the interfaces of type='bridge' that name one: a
 * running domain's XML shows a network NIC so when the network is a host bridge (Open vSwitch
 * or Linux bridge with <forward mode='bridge'/>). domxml.c reports no network for them. */
static GHashTable *live_form_networks(const char *xml)
{
    GHashTable *networks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOBLANKS);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    for (xmlNodePtr devices = root ? root->children : NULL; devices; devices = devices->next) {
        if (devices->type != XML_ELEMENT_NODE || devices->ns || !xmlStrEqual(devices->name, BAD_CAST "devices"))
            continue;
        for (xmlNodePtr nic = devices->children; nic; nic = nic->next) {
            if (nic->type != XML_ELEMENT_NODE || nic->ns || !xmlStrEqual(nic->name, BAD_CAST "interface"))
                continue;
            xmlChar *type = xmlGetNoNsProp(nic, BAD_CAST "type");
            xmlChar *mac = NULL, *network = NULL;
            for (xmlNodePtr c = nic->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE || c->ns)
                    continue;
                if (!mac && xmlStrEqual(c->name, BAD_CAST "mac"))
                    mac = xmlGetNoNsProp(c, BAD_CAST "address");
                else if (!network && xmlStrEqual(c->name, BAD_CAST "source"))
                    network = xmlGetNoNsProp(c, BAD_CAST "network");
            }
            if (xmlStrEqual(type, BAD_CAST "bridge") && mac && network && *network)
                g_hash_table_replace(networks, g_ascii_strdown((const char *)mac, -1),
                                     g_strdup((const char *)network));
            xmlFree(type);
            xmlFree(mac);
            xmlFree(network);
        }
    }
    if (doc)
        xmlFreeDoc(doc);
    return networks;
}

/* ------------------------------------------------------------------ one NIC */

static gboolean is_ovs(const char *vport_type)
{
    return g_strcmp0(vport_type, "openvswitch") == 0;
}

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

/* Whether the NIC already is what the rewrite would make it: then it stays byte for byte. An
 * Open vSwitch NIC without <virtualport> is fine: libvirt takes the network's. */
static gboolean already(const FerryNic *nic, const char *network_now, const char *network, const char *portgroup,
                        int vlan, gboolean trunk, gboolean keep_vlan, gboolean distributed)
{
    if (g_strcmp0(nic->type, "network") != 0 || g_strcmp0(network_now, network) != 0 ||
        g_strcmp0(or_null(nic->portgroup), portgroup) != 0)
        return FALSE;
    if (!keep_vlan && (vlan < 0 && !trunk ? nic->vlan >= 0 || nic->vlan_trunk
                                          : nic->vlan != vlan || nic->vlan_trunk != trunk))
        return FALSE;
    return distributed ? !nic->vport_type || is_ovs(nic->vport_type) : !nic->vport_type;
}

/* Points the NIC at @network/@portgroup; its VLAN becomes @vlan/@trunk unless @keep_vlan. */
static gboolean apply(Rewrite *rw, const FerryNic *nic, const char *network_now, const char *network,
                      const char *portgroup, int vlan, gboolean trunk, gboolean keep_vlan, gboolean distributed)
{
    if (already(nic, network_now, network, portgroup, vlan, trunk, keep_vlan, distributed))
        return TRUE;
    g_autofree char *key = g_ascii_strdown(nic->mac, -1);
    if (GPOINTER_TO_UINT(g_hash_table_lookup(rw->mac_count, key)) > 1)
        return refuse(rw, nic->mac, "%u interfaces have this MAC address, so the hook cannot rewrite one of them; "
                      "give each a MAC of its own%s",
                      GPOINTER_TO_UINT(g_hash_table_lookup(rw->mac_count, key)), instead(rw));
    g_autoptr(GError) error = NULL;
    if (!ferry_domxml_set_nic_source(rw->dom, nic->mac, network, portgroup, &error) ||
        (!keep_vlan && !ferry_domxml_set_nic_vlan(rw->dom, nic->mac, vlan, trunk, &error)) ||
        !ferry_domxml_set_nic_virtualport(rw->dom, nic->mac, distributed ? "openvswitch" : NULL, &error))
        return refuse(rw, nic->mac, "%s", error->message);
    rw->changed = TRUE;
    return TRUE;
}

/* A NIC whose XML does not say its VLAN, naming portgroup @portgroup of @network. */
static gboolean map_unstated_portgroup(Rewrite *rw, const FerryNic *nic, const char *network)
{
    const FerryNetwork *same = ferry_netmap_find(rw->map, network);
    const FerryPortgroup *pg = same ? ferry_network_find_portgroup(same, nic->portgroup) : NULL;
    if (pg && pg->in_libvirt)
        return TRUE; /* libvirt puts it on the portgroup of that name here, as it would without us */
    return refuse(rw, nic->mac,
                  "it is on portgroup %s of network %s, which %s, and its XML does not say which VLAN that "
                  "portgroup has (libvirt leaves a network's VLANs out of the XML of saved and migrating domains); "
                  "create portgroup %s on network %s with the VLAN it has on the source host%s",
                  nic->portgroup, network,
                  !same ? "does not exist on this host" : "has no such portgroup on this host", nic->portgroup,
                  network, instead(rw));
}

/* A NIC naming portgroup @nic->portgroup without its VLAN: what the peers' libvirt says that
 * portgroup carries. TRUE with *@known set when the peers tell; FALSE when refused. */
static gboolean vlan_from_peers(Rewrite *rw, const FerryNic *nic, const char *network, gboolean *known, int *vlan,
                                gboolean *trunk, FerrySwitchKind *kind)
{
    g_autofree char *conflict = NULL;
    switch (ferry_netmap_peer_vlan(rw->map, network, nic->portgroup, vlan, trunk, kind, &conflict)) {
    case FERRY_PEER_VLAN_KNOWN:
        *known = TRUE;
        return TRUE;
    case FERRY_PEER_VLAN_CONFLICT:
        return refuse(rw, nic->mac,
                      "it is on portgroup %s of network %s, its XML does not say which VLAN that portgroup has, and "
                      "the hosts disagree (%s); give the portgroup one VLAN on every host%s",
                      nic->portgroup, network, conflict, instead(rw));
    case FERRY_PEER_VLAN_UNKNOWN:
    default:
        *known = FALSE;
        return TRUE;
    }
}

static gboolean portgroup_has(const FerryPortgroup *pg, int vlan, gboolean trunk)
{
    return pg && pg->in_libvirt && pg->vlan == vlan && !pg->trunk == !trunk;
}

static gboolean map_nic(Rewrite *rw, const FerryNic *nic, const char *network)
{
    int vlan = nic->vlan;
    gboolean trunk = nic->vlan_trunk;
    gboolean stated = vlan >= 0 || trunk;
    FerrySwitchKind kind = is_ovs(nic->vport_type) ? FERRY_SWITCH_DISTRIBUTED : FERRY_SWITCH_STANDARD;
    const FerryNetwork *same = ferry_netmap_find(rw->map, network);
    if (!stated && or_null(nic->portgroup)) {
        /* libvirt's migratable XML names the portgroup only: its VLAN is what it is on the
         * hosts the domain can come from. */
        gboolean known = FALSE;
        if (!vlan_from_peers(rw, nic, network, &known, &vlan, &trunk, &kind))
            return FALSE;
        if (!known)
            return map_unstated_portgroup(rw, nic, network);
        if (same && same->active && portgroup_has(ferry_network_find_portgroup(same, nic->portgroup), vlan, trunk))
            return TRUE; /* the portgroup of that name here has the same VLAN */
        stated = TRUE;
    }
    if (!stated && same && same->active)
        return TRUE; /* the same network takes it, as without us */

    g_auto(FerryNicMapping) m = { .vlan = -1 };
    g_autoptr(GError) error = NULL;
    if (!ferry_netmap_decide(rw->map, NULL, network, kind, vlan, trunk, nic->mac, &m, &error)) {
        if (nic->vlan_trunk && nic->vlan >= 0 && nic->vlan != FERRY_VLAN_TRUNK && same && same->active &&
            same->kind == FERRY_SWITCH_DISTRIBUTED) {
            /* Explicit tags on Open vSwitch: they stay, and so does a portgroup that exists. */
            const FerryPortgroup *pg = or_null(nic->portgroup) ? ferry_network_find_portgroup(same, nic->portgroup)
                                                                : NULL;
            return apply(rw, nic, network, network, pg && pg->in_libvirt ? pg->name : NULL, -1, FALSE, TRUE, TRUE);
        }
        return refuse(rw, nic->mac, "%s%s", error->message,
                      g_strcmp0(rw->operation, "restore") == 0 ? "; or restore with virt-ferry restore" : "");
    }

    const FerryNetwork *target = ferry_netmap_find(rw->map, m.network);
    gboolean distributed = target && target->kind == FERRY_SWITCH_DISTRIBUTED;
    if (m.action != FERRY_MAP_CREATE_PORTGROUP)
        return apply(rw, nic, network, m.network, m.portgroup, -1, FALSE, FALSE, distributed);
    if (distributed) /* the VLAN on the interface: Open vSwitch tags the port by it */
        return apply(rw, nic, network, m.network, NULL, m.vlan, m.trunk, FALSE, TRUE);
    g_autofree char *words = vlan_words(m.vlan, m.trunk);
    return refuse(rw, nic->mac,
                  "%s: network %s is a standard switch (Linux bridge) where %s (B2 row %d); the hook cannot create a "
                  "portgroup (it never calls libvirt) and libvirt cannot tag a Linux-bridge port; create portgroup "
                  "%s on network %s%s",
                  words, m.network, m.trunk ? "no portgroup is a trunk" : "no portgroup has that VLAN and none is a trunk",
                  m.trunk ? 4 : 3, m.portgroup, m.network, instead(rw));
}

/* ------------------------------------------------------------------ the domain */

static gboolean map_domain(Rewrite *rw, const char *xml)
{
    GPtrArray *nics = ferry_domxml_nics(rw->dom);
    g_autoptr(GHashTable) live = NULL;
    for (guint i = 0; i < nics->len; i++) {
        const FerryNic *nic = g_ptr_array_index(nics, i);
        if (!nic->mac)
            continue;
        char *key = g_ascii_strdown(nic->mac, -1);
        guint count = GPOINTER_TO_UINT(g_hash_table_lookup(rw->mac_count, key));
        g_hash_table_replace(rw->mac_count, key, GUINT_TO_POINTER(count + 1));
    }
    for (guint i = 0; i < nics->len; i++) {
        const FerryNic *nic = g_ptr_array_index(nics, i);
        const char *network = or_null(nic->network);
        if (!network && g_strcmp0(nic->type, "bridge") == 0 && nic->mac) {
            if (!live)
                live = live_form_networks(xml);
            g_autofree char *key = g_ascii_strdown(nic->mac, -1);
            network = g_hash_table_lookup(live, key);
        }
        /* Not on a libvirt network (plain bridge, direct, user, ...), or no MAC to address it by
         * (libvirt always writes one): untouched. */
        if (!network || !nic->mac)
            continue;
        if (!map_nic(rw, nic, network))
            return FALSE;
    }
    return TRUE;
}

/* The network map, as the configuration says where; NULL when there is none (virt-ferry is
 * not set up here, or virt-ferryd never ran), with *@message set when something is wrong
 * (@consequence: what that means for this call). */
static FerryNetmap *load_map(const char *consequence, char **message)
{
    g_autoptr(GError) error = NULL;
    const char *config_path = g_getenv("VIRT_FERRY_CONFIG");
    g_autoptr(FerryConfig) config = ferry_config_load(config_path && *config_path ? config_path : NULL, &error);
    if (!config) {
        *message = one_line(g_strdup_printf("virt-ferry: %s; %s", error->message, consequence));
        return NULL;
    }
    g_autofree char *map_path = g_build_filename(config->state_dir, FERRY_NETMAP_FILE, NULL);
    FerryNetmap *map = ferry_netmap_load(map_path, &error);
    if (!map && !g_error_matches(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        *message = one_line(g_strdup_printf("virt-ferry: %s; %s", error->message, consequence));
    return map;
}

HookXmlOutcome hook_rewrite_domain_xml(const char *xml, size_t length, const char *operation, const char *domain,
                                       char **out, size_t *out_length, char **message)
{
    *out = NULL;
    *out_length = 0;
    *message = NULL;
    /* Empty, or a NUL inside: no domain XML; libvirt says what is wrong with it. */
    if (length == 0 || length > G_MAXINT || memchr(xml, '\0', length))
        return HOOK_XML_UNCHANGED;

    g_autoptr(FerryNetmap) map = load_map("no VLAN remapping, the domain XML goes on unchanged", message);
    if (!map)
        return HOOK_XML_UNCHANGED;
    g_autoptr(FerryDomainXml) dom = ferry_domxml_parse(xml, NULL);
    if (!dom)
        return HOOK_XML_UNCHANGED; /* not ours to judge: libvirt reports what is wrong with it */

    g_autoptr(GHashTable) mac_count = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    Rewrite rw = {
        .map = map,
        .dom = dom,
        .operation = operation,
        .domain = domain,
        .mac_count = mac_count,
    };
    if (!map_domain(&rw, xml)) {
        *message = rw.refusal;
        return HOOK_XML_REFUSED;
    }
    if (!rw.changed)
        return HOOK_XML_UNCHANGED;
    *out = ferry_domxml_format(dom);
    *out_length = strlen(*out);
    return HOOK_XML_REWRITTEN;
}

/* ------------------------------------------------------------------ standard-switch ports */

int hook_tag_ports(const char *xml, size_t length, const char *domain, char **message)
{
    *message = NULL;
    if (length == 0 || length > G_MAXINT || memchr(xml, '\0', length))
        return 0;
    /* A map that cannot be read, or an XML that does not parse: the tagging cannot be judged,
     * so it is not done, and the start is refused. No map at all: virt-ferry is not set up. */
    g_autoptr(FerryNetmap) map = load_map("the start is refused: its standard-switch ports cannot be put on their "
                                          "VLANs without it", message);
    if (!map)
        return *message ? 1 : 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryDomainXml) dom = ferry_domxml_parse(xml, &error);
    if (!dom) {
        *message = one_line(g_strdup_printf("virt-ferry: the start of domain %s is refused: its XML cannot be read "
                                            "to put its standard-switch ports on their VLANs: %s", domain,
                                            error->message));
        return 1;
    }
    g_autoptr(GHashTable) live = live_form_networks(xml);
    GPtrArray *nics = ferry_domxml_nics(dom);
    /* One budget for all ports, well inside the hook's bound (porttag.h). */
    gint64 deadline = g_get_monotonic_time() + FERRY_PORT_TAG_BUDGET_MS * G_TIME_SPAN_MILLISECOND;
    for (guint i = 0; i < nics->len; i++) {
        const FerryNic *nic = g_ptr_array_index(nics, i);
        g_autofree char *key = nic->mac ? g_ascii_strdown(nic->mac, -1) : NULL;
        const char *network = or_null(nic->network) ? nic->network : key ? g_hash_table_lookup(live, key) : NULL;
        if (!ferry_port_tag_nic(ferry_netmap_find(map, network), nic, domain, deadline, &error)) {
            *message = one_line(g_strdup_printf("virt-ferry: %s", error->message));
            return 1;
        }
    }
    return 0;
}
