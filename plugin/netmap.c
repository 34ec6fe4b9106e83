/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's network map and the VLAN mapping rules (virt-ferry-hook(8); see netmap.h). */
#include "netmap.h"

#include "ferry-error.h"
#include "xml-read.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

/* ------------------------------------------------------------------ model */

static const char *const kind_names[] = {
    [FERRY_SWITCH_STANDARD] = "standard",
    [FERRY_SWITCH_DISTRIBUTED] = "distributed",
    [FERRY_SWITCH_OTHER] = "other",
};

static const char *const pvlan_type_names[] = {
    [FERRY_PVLAN_ISOLATED] = "isolated",
    [FERRY_PVLAN_COMMUNITY] = "community",
};

const char *ferry_switch_kind_name(FerrySwitchKind kind)
{
    return (guint)kind < G_N_ELEMENTS(kind_names) ? kind_names[kind] : "unknown";
}

/* The kind ferry_switch_kind_name calls @name; FALSE for anything else. */
static gboolean switch_kind_from_name(const char *name, FerrySwitchKind *kind)
{
    for (guint i = 0; name && i < G_N_ELEMENTS(kind_names); i++)
        if (g_str_equal(name, kind_names[i])) {
            *kind = (FerrySwitchKind)i;
            return TRUE;
        }
    return FALSE;
}

static gboolean pvlan_type_from_name(const char *name, FerryPvlanType *type)
{
    for (guint i = 0; name && i < G_N_ELEMENTS(pvlan_type_names); i++)
        if (g_str_equal(name, pvlan_type_names[i])) {
            *type = (FerryPvlanType)i;
            return TRUE;
        }
    return FALSE;
}

FerryNetmap *ferry_netmap_new(void)
{
    FerryNetmap *map = g_new0(FerryNetmap, 1);
    map->networks = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_network_free);
    map->peers = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_peer_netmap_free);
    return map;
}

void ferry_netmap_free(FerryNetmap *map)
{
    if (!map)
        return;
    g_ptr_array_unref(map->networks);
    g_ptr_array_unref(map->peers);
    g_free(map);
}

FerryPeerNetmap *ferry_peer_netmap_new(const char *peer, FerryNetmap *map)
{
    FerryPeerNetmap *p = g_new0(FerryPeerNetmap, 1);
    p->peer = g_strdup(peer);
    p->map = map;
    return p;
}

void ferry_peer_netmap_free(FerryPeerNetmap *peer)
{
    if (!peer)
        return;
    g_free(peer->peer);
    ferry_netmap_free(peer->map);
    g_free(peer);
}

static FerryNetwork *network_new(const char *name)
{
    FerryNetwork *net = g_new0(FerryNetwork, 1);
    net->name = g_strdup(name);
    net->portgroups = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_portgroup_free);
    net->pvlans = g_array_new(FALSE, TRUE, sizeof(FerryPvlan));
    return net;
}

void ferry_network_free(FerryNetwork *net)
{
    if (!net)
        return;
    g_free(net->name);
    g_free(net->bridge);
    g_ptr_array_unref(net->portgroups);
    g_array_unref(net->pvlans);
    g_free(net);
}

static FerryPortgroup *portgroup_new(const char *name)
{
    FerryPortgroup *pg = g_new0(FerryPortgroup, 1);
    pg->name = g_strdup(name);
    pg->vlan = -1;
    return pg;
}

void ferry_portgroup_free(FerryPortgroup *pg)
{
    if (!pg)
        return;
    g_free(pg->name);
    g_free(pg);
}

/* Where @name is in the sorted @map, or where it would go (*found FALSE). */
static guint network_index(const FerryNetmap *map, const char *name, gboolean *found)
{
    guint lo = 0, hi = map->networks->len;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const FerryNetwork *net = g_ptr_array_index(map->networks, mid);
        int c = strcmp(net->name, name);
        if (c == 0) {
            *found = TRUE;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = FALSE;
    return lo;
}

const FerryNetwork *ferry_netmap_find(const FerryNetmap *map, const char *name)
{
    gboolean found = FALSE;
    if (!map || !name)
        return NULL;
    guint i = network_index(map, name, &found);
    return found ? g_ptr_array_index(map->networks, i) : NULL;
}

FerryNetmap *ferry_netmap_copy(const FerryNetmap *map)
{
    FerryNetmap *copy = ferry_netmap_new();
    for (guint i = 0; i < map->networks->len; i++) {
        const FerryNetwork *net = g_ptr_array_index(map->networks, i);
        FerryNetwork *n = network_new(net->name);
        n->kind = net->kind;
        n->bridge = g_strdup(net->bridge);
        n->active = net->active;
        for (guint j = 0; j < net->portgroups->len; j++) {
            const FerryPortgroup *pg = g_ptr_array_index(net->portgroups, j);
            FerryPortgroup *p = portgroup_new(pg->name);
            p->vlan = pg->vlan;
            p->trunk = pg->trunk;
            p->is_default = pg->is_default;
            p->in_libvirt = pg->in_libvirt;
            g_ptr_array_add(n->portgroups, p);
        }
        g_array_append_vals(n->pvlans, net->pvlans->data, net->pvlans->len);
        g_ptr_array_add(copy->networks, n); /* already in name order */
    }
    for (guint i = 0; i < map->peers->len; i++) {
        const FerryPeerNetmap *peer = g_ptr_array_index(map->peers, i);
        g_ptr_array_add(copy->peers, ferry_peer_netmap_new(peer->peer, ferry_netmap_copy(peer->map)));
    }
    return copy;
}

/* Takes @net, replacing a network of its name. */
static void netmap_put(FerryNetmap *map, FerryNetwork *net)
{
    gboolean found = FALSE;
    guint i = network_index(map, net->name, &found);
    if (found) {
        ferry_network_free(g_ptr_array_index(map->networks, i));
        map->networks->pdata[i] = net;
    } else {
        g_ptr_array_insert(map->networks, (gint)i, net);
    }
}

const FerryPortgroup *ferry_network_find_portgroup(const FerryNetwork *net, const char *name)
{
    for (guint i = 0; net && name && i < net->portgroups->len; i++) {
        const FerryPortgroup *pg = g_ptr_array_index(net->portgroups, i);
        if (g_str_equal(pg->name, name))
            return pg;
    }
    return NULL;
}

int ferry_network_pvlan_primary(const FerryNetwork *net, int vlan)
{
    for (guint i = 0; net && i < net->pvlans->len; i++) {
        const FerryPvlan *p = &g_array_index(net->pvlans, FerryPvlan, i);
        if (p->secondary == vlan)
            return p->primary;
    }
    return -1;
}

static gboolean portgroup_tells_vlan(const FerryNetwork *net, const FerryPortgroup *pg)
{
    return net->kind == FERRY_SWITCH_DISTRIBUTED || pg->vlan >= 0 || pg->trunk;
}

/* One host's say on what the portgroup carries, for ferry_netmap_peer_vlan. */
static void consider(const FerryNetmap *map, const char *host, const char *network, const char *portgroup,
                     const FerryPortgroup **first, FerrySwitchKind *kind, gboolean *agree, GString *seen)
{
    const FerryNetwork *net = ferry_netmap_find(map, network);
    const FerryPortgroup *pg = ferry_network_find_portgroup(net, portgroup);
    if (!pg || !pg->in_libvirt || !portgroup_tells_vlan(net, pg))
        return;
    if (!*first) {
        *first = pg;
        *kind = net->kind;
    } else if (pg->vlan != (*first)->vlan || !pg->trunk != !(*first)->trunk) {
        *agree = FALSE;
    }
    g_autofree char *what = ferry_vlan_words(pg->vlan, pg->trunk);
    g_string_append_printf(seen, "%s%s on %s", seen->len ? ", " : "", what, host);
}

FerryPeerVlan ferry_netmap_peer_vlan(const FerryNetmap *map, const char *network, const char *portgroup, int *vlan,
                                     gboolean *trunk, FerrySwitchKind *kind, char **conflict)
{
    const FerryPortgroup *first = NULL;
    g_autoptr(GString) seen = g_string_new(NULL);
    gboolean agree = TRUE;
    *conflict = NULL;
    if (!map || map->peers->len == 0)
        return FERRY_PEER_VLAN_UNKNOWN;
    consider(map, "this host", network, portgroup, &first, kind, &agree, seen);
    for (guint i = 0; i < map->peers->len; i++) {
        const FerryPeerNetmap *peer = g_ptr_array_index(map->peers, i);
        consider(peer->map, peer->peer, network, portgroup, &first, kind, &agree, seen);
    }
    if (!first)
        return FERRY_PEER_VLAN_UNKNOWN;
    if (!agree) {
        *conflict = g_string_free(g_steal_pointer(&seen), FALSE);
        return FERRY_PEER_VLAN_CONFLICT;
    }
    *vlan = first->vlan;
    *trunk = first->trunk;
    return FERRY_PEER_VLAN_KNOWN;
}

static gboolean portgroup_equal(const FerryPortgroup *a, const FerryPortgroup *b)
{
    return g_str_equal(a->name, b->name) && a->vlan == b->vlan && !a->trunk == !b->trunk &&
           !a->is_default == !b->is_default && !a->in_libvirt == !b->in_libvirt;
}

static gboolean network_equal(const FerryNetwork *a, const FerryNetwork *b)
{
    if (!g_str_equal(a->name, b->name) || a->kind != b->kind || g_strcmp0(a->bridge, b->bridge) != 0 ||
        !a->active != !b->active || a->portgroups->len != b->portgroups->len || a->pvlans->len != b->pvlans->len)
        return FALSE;
    for (guint i = 0; i < a->portgroups->len; i++)
        if (!portgroup_equal(g_ptr_array_index(a->portgroups, i), g_ptr_array_index(b->portgroups, i)))
            return FALSE;
    return a->pvlans->len == 0 || memcmp(a->pvlans->data, b->pvlans->data, a->pvlans->len * sizeof(FerryPvlan)) == 0;
}

gboolean ferry_netmap_equal(const FerryNetmap *a, const FerryNetmap *b)
{
    if (a->networks->len != b->networks->len)
        return FALSE;
    for (guint i = 0; i < a->networks->len; i++)
        if (!network_equal(g_ptr_array_index(a->networks, i), g_ptr_array_index(b->networks, i)))
            return FALSE;
    return ferry_peer_netmaps_equal(a->peers, b->peers);
}

gboolean ferry_peer_netmaps_equal(GPtrArray *a, GPtrArray *b)
{
    if (!a || !b)
        return a == b;
    if (a->len != b->len)
        return FALSE;
    for (guint i = 0; i < a->len; i++) {
        const FerryPeerNetmap *pa = g_ptr_array_index(a, i), *pb = g_ptr_array_index(b, i);
        if (!g_str_equal(pa->peer, pb->peer) || !ferry_netmap_equal(pa->map, pb->map))
            return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ XML helpers */



/* libvirt's own elements have no namespace. */
static gboolean is_elem(xmlNodePtr node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && !node->ns && g_str_equal((const char *)node->name, name);
}

static gboolean is_ferry(xmlNodePtr node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
           g_str_equal((const char *)node->ns->href, FERRY_NETMAP_NS) && g_str_equal((const char *)node->name, name);
}

static xmlNodePtr child(xmlNodePtr node, const char *name)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
        if (is_elem(c, name))
            return c;
    return NULL;
}

/* An attribute without a namespace, as a g_free-able string, or NULL. */
static char *attr(xmlNodePtr node, const char *name)
{
    xmlChar *v = node ? xmlGetNoNsProp(node, (const xmlChar *)name) : NULL;
    char *s = v ? g_strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static char *text(xmlNodePtr node)
{
    xmlChar *v = node ? xmlNodeGetContent(node) : NULL;
    char *s = v ? g_strstrip(g_strdup((const char *)v)) : NULL;
    xmlFree(v);
    return s;
}

/* A VLAN id in decimal, 0..@max, with nothing around it. */
static gboolean parse_vlan_id(const char *value, int max, int *out)
{
    gint64 v = 0;
    if (!value || !g_ascii_string_to_signed(value, 10, 0, max, &v, NULL))
        return FALSE;
    *out = (int)v;
    return TRUE;
}

static gboolean parse_yes_no(const char *value, gboolean *out)
{
    if (!value || g_ascii_strcasecmp(value, "no") == 0) {
        *out = FALSE;
        return TRUE;
    }
    *out = g_ascii_strcasecmp(value, "yes") == 0;
    return *out;
}

/* ------------------------------------------------------------------ libvirt's network XML */

/* libvirt's rules (netdev_vlan_conf.c): at least one tag, several tags mean a trunk, and
 * trunk='yes' makes even one tag a trunk. Tag 4095 is virt-ferry's "every VLAN". */
static gboolean parse_libvirt_vlan(const char *net, const char *pg, xmlNodePtr vlan, int *vlan_out,
                                   gboolean *trunk_out, GError **error)
{
    int tags = 0, first = -1;
    gboolean all = FALSE;
    for (xmlNodePtr c = vlan->children; c; c = c->next) {
        if (!is_elem(c, "tag"))
            continue;
        g_autofree char *id = attr(c, "id");
        int v;
        if (!parse_vlan_id(id, FERRY_VLAN_TRUNK, &v))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: portgroup %s: VLAN tag id \"%s\" is not a number from 0 to 4094 "
                           "(4095: trunk)", net, pg, id ? id : "");
        if (first < 0)
            first = v;
        all |= v == FERRY_VLAN_TRUNK;
        tags++;
    }
    if (tags == 0)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: portgroup %s: <vlan> has no <tag id='N'/>", net, pg);
    g_autofree char *trunk_attr = attr(vlan, "trunk");
    gboolean trunk;
    if (!parse_yes_no(trunk_attr, &trunk))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: portgroup %s: <vlan trunk='%s'> must be yes or no", net, pg, trunk_attr);
    *trunk_out = trunk || tags > 1 || all;
    *vlan_out = *trunk_out ? -1 : first;
    return TRUE;
}

static gboolean parse_libvirt_portgroup(FerryNetwork *net, xmlNodePtr node, GError **error)
{
    g_autofree char *name = attr(node, "name");
    if (!name || !*name)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: a <portgroup> has no name", net->name);
    if (ferry_network_find_portgroup(net, name))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: portgroup %s appears twice", net->name, name);
    g_autoptr(FerryPortgroup) pg = portgroup_new(name);
    g_autofree char *def = attr(node, "default");
    pg->is_default = def && g_ascii_strcasecmp(def, "yes") == 0;
    pg->in_libvirt = TRUE;
    xmlNodePtr vlan = child(node, "vlan");
    if (vlan && !parse_libvirt_vlan(net->name, name, vlan, &pg->vlan, &pg->trunk, error))
        return FALSE;
    g_ptr_array_add(net->portgroups, g_steal_pointer(&pg));
    return TRUE;
}

/* Open vSwitch at network level makes a distributed switch; a Linux bridge, named or managed
 * by libvirt, a standard one; macvtap (forward bridge without <bridge>, private, vepa,
 * passthrough) and hostdev cannot carry a VLAN we could set. */
static FerrySwitchKind switch_kind(xmlNodePtr root)
{
    xmlNodePtr vport = child(root, "virtualport");
    g_autofree char *vport_type = attr(vport, "type");
    g_autofree char *mode = attr(child(root, "forward"), "mode");
    gboolean has_forward = child(root, "forward") != NULL;
    if (g_strcmp0(vport_type, "openvswitch") == 0)
        return FERRY_SWITCH_DISTRIBUTED;
    if (vport)
        return FERRY_SWITCH_OTHER; /* 802.1Qbg/802.1Qbh: an external switch's business */
    if (!has_forward || !mode || g_str_equal(mode, "nat") || g_str_equal(mode, "route") || g_str_equal(mode, "open"))
        return FERRY_SWITCH_STANDARD; /* no <forward>: an isolated bridge libvirt manages */
    if (g_str_equal(mode, "bridge") && child(root, "bridge"))
        return FERRY_SWITCH_STANDARD;
    return FERRY_SWITCH_OTHER;
}

/* ------------------------------------------------------------------ virt-ferry's metadata */

static gboolean parse_declared_vlan(const char *net, const char *pg, xmlNodePtr node, int *vlan, gboolean *trunk,
                                    GError **error)
{
    g_autofree char *vlan_attr = attr(node, "vlan");
    g_autofree char *trunk_attr = attr(node, "trunk");
    *vlan = -1;
    if (!parse_yes_no(trunk_attr, trunk))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: virt-ferry portgroup %s: trunk=\"%s\" must be yes or no", net, pg,
                       trunk_attr);
    if (vlan_attr && !parse_vlan_id(vlan_attr, FERRY_VLAN_TRUNK, vlan))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: virt-ferry portgroup %s: VLAN \"%s\" is not a number from 0 to 4094 "
                       "(4095: trunk)", net, pg, vlan_attr);
    if (*vlan == FERRY_VLAN_TRUNK) {
        *vlan = -1;
        *trunk = TRUE;
    } else if (*trunk && *vlan >= 0) {
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: virt-ferry portgroup %s declares both VLAN %d and trunk: give one", net, pg,
                       *vlan);
    }
    if (*vlan < 0 && !*trunk)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: virt-ferry portgroup %s declares no VLAN: give vlan=\"N\" or "
                       "trunk=\"yes\"", net, pg);
    return TRUE;
}

/* The declared VLAN of a standard switch's portgroup replaces whatever libvirt says, since
 * libvirt cannot apply one there; a portgroup libvirt lacks is kept, marked, never used. */
static gboolean apply_declared_portgroup(FerryNetwork *net, xmlNodePtr node, GHashTable *seen, GError **error)
{
    g_autofree char *name = attr(node, "name");
    if (!name || !*name)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: a virt-ferry <portgroup> has no name", net->name);
    if (!g_hash_table_add(seen, g_strdup(name)))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: virt-ferry portgroup %s is declared twice", net->name, name);
    int vlan;
    gboolean trunk;
    if (!parse_declared_vlan(net->name, name, node, &vlan, &trunk, error))
        return FALSE;
    if (net->kind != FERRY_SWITCH_STANDARD) {
        g_debug("network %s is a %s switch: its portgroups' VLANs are libvirt's, the declaration of %s is ignored",
                net->name, ferry_switch_kind_name(net->kind), name);
        return TRUE;
    }
    FerryPortgroup *pg = (FerryPortgroup *)ferry_network_find_portgroup(net, name);
    if (!pg) {
        pg = portgroup_new(name);
        g_ptr_array_add(net->portgroups, pg);
    }
    pg->vlan = vlan;
    pg->trunk = trunk;
    return TRUE;
}

static gboolean apply_declared_pvlan(FerryNetwork *net, xmlNodePtr node, GError **error)
{
    g_autofree char *primary_attr = attr(node, "primary");
    int primary;
    if (!parse_vlan_id(primary_attr, FERRY_VLAN_MAX, &primary))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: PVLAN primary \"%s\" is not a number from 0 to 4094", net->name,
                       primary_attr ? primary_attr : "");
    for (xmlNodePtr c = node->children; c; c = c->next) {
        if (!is_ferry(c, "secondary"))
            continue;
        g_autofree char *vlan_attr = attr(c, "vlan");
        g_autofree char *type_attr = attr(c, "type");
        FerryPvlan p = { .primary = primary };
        if (!parse_vlan_id(vlan_attr, FERRY_VLAN_MAX, &p.secondary))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: PVLAN %d: secondary VLAN \"%s\" is not a number from 0 to 4094",
                           net->name, primary, vlan_attr ? vlan_attr : "");
        if (!pvlan_type_from_name(type_attr, &p.type))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: PVLAN %d: secondary VLAN %d has type \"%s\": give type=\"isolated\" "
                           "or type=\"community\"", net->name, primary, p.secondary, type_attr ? type_attr : "");
        if (p.secondary == primary)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: PVLAN %d lists itself as a secondary", net->name, primary);
        int other = ferry_network_pvlan_primary(net, p.secondary);
        if (other >= 0)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "network %s: VLAN %d is declared a secondary of PVLAN %d and of PVLAN %d: a "
                           "secondary belongs to one primary", net->name, p.secondary, other, primary);
        g_array_append_val(net->pvlans, p);
    }
    return TRUE;
}

static gboolean apply_declarations(FerryNetwork *net, xmlNodePtr decl, GHashTable *seen, GError **error)
{
    for (xmlNodePtr c = decl->children; c; c = c->next) {
        if (is_ferry(c, "portgroup") && !apply_declared_portgroup(net, c, seen, error))
            return FALSE;
        if (is_ferry(c, "pvlan") && !apply_declared_pvlan(net, c, error))
            return FALSE;
        /* anything else: a newer version's, ignored */
    }
    return TRUE;
}

static gboolean apply_metadata(FerryNetwork *net, xmlNodePtr root, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (xmlNodePtr md = root->children; md; md = md->next) {
        if (!is_elem(md, "metadata"))
            continue; /* several: libvirt's own plus the one networks.c joins */
        for (xmlNodePtr c = md->children; c; c = c->next)
            if (is_ferry(c, "network") && !apply_declarations(net, c, seen, error))
                return FALSE;
    }
    return TRUE;
}

static FerryNetwork *parse_network(xmlNodePtr root, GError **error)
{
    g_autofree char *name = text(child(root, "name"));
    if (!name || !*name) {
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the network XML has no <name>");
        return NULL;
    }
    g_autoptr(FerryNetwork) net = network_new(name);
    net->kind = switch_kind(root);
    net->bridge = attr(child(root, "bridge"), "name");
    for (xmlNodePtr c = root->children; c; c = c->next)
        if (is_elem(c, "portgroup") && !parse_libvirt_portgroup(net, c, error))
            return NULL;
    if (!apply_metadata(net, root, error))
        return NULL;
    return g_steal_pointer(&net);
}

gboolean ferry_netmap_add_network_xml(FerryNetmap *map, const char *network_xml, gboolean active, GError **error)
{
    g_return_val_if_fail(map != NULL, FALSE);
    if (!network_xml || !*network_xml)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the network XML is empty");
    xmlDocPtr doc = ferry_xml_read(network_xml, "the network XML", "network.xml", error);
    if (!doc)
        return FALSE;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    FerryNetwork *net = NULL;
    if (!is_elem(root, "network"))
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the XML is a <%s> document, not a libvirt <network>",
                root ? (const char *)root->name : "(empty)");
    else
        net = parse_network(root, error);
    xmlFreeDoc(doc);
    if (!net)
        return FALSE;
    net->active = active;
    netmap_put(map, net);
    return TRUE;
}

/* ------------------------------------------------------------------ the map on disk */

/* @prefix: "" for the host's own networks, "peer K " for a peer's. */
static char *network_group(const char *prefix, guint n)
{
    return g_strdup_printf("%snetwork %u", prefix, n);
}

static char *portgroup_group(const char *prefix, guint n, guint m)
{
    return g_strdup_printf("%snetwork %u portgroup %u", prefix, n, m);
}

static char *peer_prefix(guint k)
{
    return g_strdup_printf("peer %u ", k);
}

static void save_network(GKeyFile *kf, const char *prefix, guint n, const FerryNetwork *net)
{
    g_autofree char *group = network_group(prefix, n);
    g_key_file_set_string(kf, group, "name", net->name);
    g_key_file_set_string(kf, group, "switch", ferry_switch_kind_name(net->kind));
    if (net->bridge)
        g_key_file_set_string(kf, group, "bridge", net->bridge);
    g_key_file_set_boolean(kf, group, "active", net->active);
    g_key_file_set_integer(kf, group, "portgroups", (gint)net->portgroups->len);
    if (net->pvlans->len) {
        g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < net->pvlans->len; i++) {
            const FerryPvlan *p = &g_array_index(net->pvlans, FerryPvlan, i);
            g_ptr_array_add(items, g_strdup_printf("%d:%d:%s", p->secondary, p->primary, pvlan_type_names[p->type]));
        }
        g_key_file_set_string_list(kf, group, "pvlans", (const char *const *)items->pdata, items->len);
    }
    for (guint m = 0; m < net->portgroups->len; m++) {
        const FerryPortgroup *pg = g_ptr_array_index(net->portgroups, m);
        g_autofree char *pgroup = portgroup_group(prefix, n, m);
        g_key_file_set_string(kf, pgroup, "name", pg->name);
        g_key_file_set_integer(kf, pgroup, "vlan", pg->vlan);
        g_key_file_set_boolean(kf, pgroup, "trunk", pg->trunk);
        g_key_file_set_boolean(kf, pgroup, "default", pg->is_default);
        g_key_file_set_boolean(kf, pgroup, "libvirt", pg->in_libvirt);
    }
}

gboolean ferry_netmap_save(const FerryNetmap *map, const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_key_file_set_integer(kf, "netmap", "version", FERRY_NETMAP_FORMAT);
    g_key_file_set_comment(kf, NULL, NULL, " virt-ferry's network map (netmap.h), written by virt-ferryd for "
                           "virt-ferry-hook", NULL);
    g_key_file_set_integer(kf, "netmap", "networks", (gint)map->networks->len);
    for (guint n = 0; n < map->networks->len; n++)
        save_network(kf, "", n, g_ptr_array_index(map->networks, n));
    if (map->peers->len)
        g_key_file_set_integer(kf, "netmap", "peers", (gint)map->peers->len);
    for (guint k = 0; k < map->peers->len; k++) {
        const FerryPeerNetmap *peer = g_ptr_array_index(map->peers, k);
        g_autofree char *prefix = peer_prefix(k);
        g_autofree char *group = g_strndup(prefix, strlen(prefix) - 1);
        g_key_file_set_string(kf, group, "uri", peer->peer);
        g_key_file_set_integer(kf, group, "networks", (gint)peer->map->networks->len);
        for (guint n = 0; n < peer->map->networks->len; n++)
            save_network(kf, prefix, n, g_ptr_array_index(peer->map->networks, n));
    }
    gsize len = 0;
    g_autofree char *data = g_key_file_to_data(kf, &len, NULL);
    g_autoptr(GError) local = NULL;
    if (!g_file_set_contents_full(path, data, (gssize)len,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644, &local)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot write the network map %s: %s", path,
                    local->message);
        return FALSE;
    }
    return TRUE;
}

/* The file is virt-ferryd's, but a hook must not trust it blindly: every value is checked. */
typedef struct {
    GKeyFile *kf;
    const char *path;
    GError **error;
} Loader;

static gboolean load_bad(Loader *l, const char *group, const char *key, const char *why)
{
    return ferry_error_set(l->error, FERRY_ERROR_INVALID_ARGUMENT, "the network map %s is damaged: [%s] %s: %s; virt-ferryd rewrites it when it starts",
                   l->path, group, key, why);
}

static gboolean load_int(Loader *l, const char *group, const char *key, int min, int max, int *out)
{
    g_autoptr(GError) local = NULL;
    int v = g_key_file_get_integer(l->kf, group, key, &local);
    if (local)
        return load_bad(l, group, key, local->message);
    if (v < min || v > max) {
        g_autofree char *why = g_strdup_printf("%d is not within %d..%d", v, min, max);
        return load_bad(l, group, key, why);
    }
    *out = v;
    return TRUE;
}

static gboolean load_bool(Loader *l, const char *group, const char *key, gboolean *out)
{
    g_autoptr(GError) local = NULL;
    *out = g_key_file_get_boolean(l->kf, group, key, &local);
    return local ? load_bad(l, group, key, local->message) : TRUE;
}

static char *load_string(Loader *l, const char *group, const char *key)
{
    g_autoptr(GError) local = NULL;
    char *v = g_key_file_get_string(l->kf, group, key, &local);
    if (!v)
        load_bad(l, group, key, local->message);
    else if (!*v) {
        load_bad(l, group, key, "empty");
        g_clear_pointer(&v, g_free);
    }
    return v;
}

static gboolean load_pvlans(Loader *l, const char *group, FerryNetwork *net)
{
    g_auto(GStrv) items = g_key_file_get_string_list(l->kf, group, "pvlans", NULL, NULL);
    for (char **it = items; it && *it; it++) {
        g_auto(GStrv) parts = g_strsplit(*it, ":", -1);
        FerryPvlan p;
        if (g_strv_length(parts) != 3 || !parse_vlan_id(parts[0], FERRY_VLAN_MAX, &p.secondary) ||
            !parse_vlan_id(parts[1], FERRY_VLAN_MAX, &p.primary) || !pvlan_type_from_name(parts[2], &p.type) ||
            ferry_network_pvlan_primary(net, p.secondary) >= 0)
            return load_bad(l, group, "pvlans", *it);
        g_array_append_val(net->pvlans, p);
    }
    return TRUE;
}

static FerryPortgroup *load_portgroup(Loader *l, const char *group)
{
    g_autofree char *name = load_string(l, group, "name");
    if (!name)
        return NULL;
    g_autoptr(FerryPortgroup) pg = portgroup_new(name);
    if (!load_int(l, group, "vlan", -1, FERRY_VLAN_MAX, &pg->vlan) || !load_bool(l, group, "trunk", &pg->trunk) ||
        !load_bool(l, group, "default", &pg->is_default) || !load_bool(l, group, "libvirt", &pg->in_libvirt))
        return NULL;
    if (pg->trunk && pg->vlan >= 0) {
        load_bad(l, group, "vlan", "a trunk has no single VLAN");
        return NULL;
    }
    return g_steal_pointer(&pg);
}

static FerryNetwork *load_network(Loader *l, const char *prefix, guint n)
{
    g_autofree char *group = network_group(prefix, n);
    g_autofree char *name = load_string(l, group, "name");
    g_autofree char *kind = name ? load_string(l, group, "switch") : NULL;
    if (!kind)
        return NULL;
    g_autoptr(FerryNetwork) net = network_new(name);
    int portgroups;
    if (!switch_kind_from_name(kind, &net->kind)) {
        load_bad(l, group, "switch", kind);
        return NULL;
    }
    net->bridge = g_key_file_get_string(l->kf, group, "bridge", NULL);
    if (!load_bool(l, group, "active", &net->active) || !load_int(l, group, "portgroups", 0, G_MAXINT, &portgroups) ||
        !load_pvlans(l, group, net))
        return NULL;
    for (guint m = 0; m < (guint)portgroups; m++) {
        g_autofree char *pgroup = portgroup_group(prefix, n, m);
        FerryPortgroup *pg = load_portgroup(l, pgroup);
        if (!pg)
            return NULL;
        g_ptr_array_add(net->portgroups, pg);
    }
    return g_steal_pointer(&net);
}

static FerryNetmap *load_networks(Loader *l, const char *prefix, const char *group, int count)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    for (guint n = 0; n < (guint)count; n++) {
        FerryNetwork *net = load_network(l, prefix, n);
        if (!net)
            return NULL;
        if (ferry_netmap_find(map, net->name)) {
            load_bad(l, group, "networks", "a network appears twice");
            ferry_network_free(net);
            return NULL;
        }
        netmap_put(map, net);
    }
    return g_steal_pointer(&map);
}

static gboolean load_peers(Loader *l, FerryNetmap *map)
{
    int peers = 0;
    if (g_key_file_has_key(l->kf, "netmap", "peers", NULL) && !load_int(l, "netmap", "peers", 0, G_MAXINT, &peers))
        return FALSE;
    for (guint k = 0; k < (guint)peers; k++) {
        g_autofree char *prefix = peer_prefix(k);
        g_autofree char *group = g_strndup(prefix, strlen(prefix) - 1);
        g_autofree char *uri = load_string(l, group, "uri");
        int networks;
        if (!uri || !load_int(l, group, "networks", 0, G_MAXINT, &networks))
            return FALSE;
        FerryNetmap *peer = load_networks(l, prefix, group, networks);
        if (!peer)
            return FALSE;
        g_ptr_array_add(map->peers, ferry_peer_netmap_new(uri, peer));
    }
    return TRUE;
}

FerryNetmap *ferry_netmap_load(const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                        "there is no network map at %s: virt-ferryd writes it once it runs", path);
        else
            g_set_error(error, FERRY_ERROR, local->domain == G_KEY_FILE_ERROR ? FERRY_ERROR_INVALID_ARGUMENT
                                                                               : FERRY_ERROR_FAILED,
                        "cannot read the network map %s: %s", path, local->message);
        return NULL;
    }
    Loader l = { kf, path, error };
    int version, networks;
    if (!load_int(&l, "netmap", "version", 0, G_MAXINT, &version))
        return NULL;
    if (version != FERRY_NETMAP_FORMAT) {
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the network map %s has format %d, this virt-ferry reads format %d: restart virt-ferryd",
                path, version, FERRY_NETMAP_FORMAT);
        return NULL;
    }
    if (!load_int(&l, "netmap", "networks", 0, G_MAXINT, &networks))
        return NULL;
    g_autoptr(FerryNetmap) map = load_networks(&l, "", "netmap", networks);
    if (!map || !load_peers(&l, map))
        return NULL;
    return g_steal_pointer(&map);
}

/* ------------------------------------------------------------------ creating portgroups */

static gboolean same_vlan(const FerryPortgroup *pg, int vlan, gboolean trunk)
{
    return trunk ? pg->trunk : !pg->trunk && pg->vlan == vlan;
}

char *ferry_netmap_portgroup_name(const FerryNetwork *net, int vlan, gboolean trunk)
{
    g_autofree char *base = trunk ? g_strdup("trunk") : g_strdup_printf("vlan%d", vlan);
    char *name = g_strdup(base);
    for (int n = 2;; n++) {
        const FerryPortgroup *pg = ferry_network_find_portgroup(net, name);
        /* A declared-only one with this VLAN is what we are about to create anyway. */
        if (!pg || (!pg->in_libvirt && same_vlan(pg, vlan, trunk)))
            return name;
        g_free(name);
        name = g_strdup_printf("%s-%d", base, n);
    }
}

char *ferry_netmap_portgroup_xml(const char *name, int vlan, gboolean trunk)
{
    g_return_val_if_fail(name != NULL, NULL);
    g_return_val_if_fail(vlan >= -1 && vlan <= FERRY_VLAN_TRUNK, NULL);
    if (trunk || vlan == FERRY_VLAN_TRUNK)
        return NULL; /* see netmap.h: libvirt has no way to say "every VLAN" on a portgroup */
    if (vlan < 0)
        return g_markup_printf_escaped("<portgroup name='%s'/>", name);
    return g_markup_printf_escaped("<portgroup name='%s'><vlan><tag id='%d'/></vlan></portgroup>", name, vlan);
}

/* The <ferry:network> element of @doc: its root, or a child of a <metadata> root. */
static xmlNodePtr find_declarations(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (is_ferry(root, "network"))
        return root;
    for (xmlNodePtr c = is_elem(root, "metadata") ? root->children : NULL; c; c = c->next)
        if (is_ferry(c, "network"))
            return c;
    return NULL;
}

static xmlNodePtr new_declarations(xmlDocPtr doc)
{
    xmlNodePtr root = xmlNewDocNode(doc, NULL, (const xmlChar *)"network", NULL);
    xmlNsPtr ns = xmlNewNs(root, (const xmlChar *)FERRY_NETMAP_NS, (const xmlChar *)"ferry");
    xmlSetNs(root, ns);
    xmlDocSetRootElement(doc, root);
    return root;
}

static void set_declared_portgroup(xmlNodePtr decl, const char *portgroup, int vlan, gboolean trunk)
{
    xmlNodePtr pg = NULL;
    for (xmlNodePtr c = decl->children; c && !pg; c = c->next) {
        g_autofree char *name = is_ferry(c, "portgroup") ? attr(c, "name") : NULL;
        if (g_strcmp0(name, portgroup) == 0)
            pg = c;
    }
    if (pg) {
        /* Rewritten whole: stale vlan= or trunk= must not survive. */
        xmlUnsetProp(pg, (const xmlChar *)"vlan");
        xmlUnsetProp(pg, (const xmlChar *)"trunk");
    } else {
        pg = xmlNewChild(decl, decl->ns, (const xmlChar *)"portgroup", NULL);
        xmlSetProp(pg, (const xmlChar *)"name", (const xmlChar *)portgroup);
    }
    if (trunk || vlan == FERRY_VLAN_TRUNK) {
        xmlSetProp(pg, (const xmlChar *)"trunk", (const xmlChar *)"yes");
    } else {
        g_autofree char *v = g_strdup_printf("%d", vlan);
        xmlSetProp(pg, (const xmlChar *)"vlan", (const xmlChar *)v);
    }
}

/* @decl alone, as a document of its own, so its namespace is declared on it. */
static char *dump_declarations(xmlNodePtr decl)
{
    xmlDocPtr out = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr copy = xmlDocCopyNode(decl, out, 1);
    xmlDocSetRootElement(out, copy);
    xmlReconciliateNs(out, copy);
    xmlBufferPtr buf = xmlBufferCreate();
    xmlNodeDump(buf, out, copy, 0, 1);
    char *s = g_strconcat((const char *)xmlBufferContent(buf), "\n", NULL);
    xmlBufferFree(buf);
    xmlFreeDoc(out);
    return s;
}

char *ferry_netmap_standard_metadata_with(const char *current, const char *portgroup, int vlan, gboolean trunk)
{
    g_return_val_if_fail(portgroup != NULL && *portgroup, NULL);
    g_return_val_if_fail(trunk || (vlan >= 0 && vlan <= FERRY_VLAN_TRUNK), NULL);
    g_autofree char *stripped = g_strstrip(g_strdup(current ? current : ""));
    xmlDocPtr doc = NULL;
    xmlNodePtr decl = NULL;
    if (*stripped) {
        g_autoptr(GError) error = NULL;
        doc = ferry_xml_read(stripped, "virt-ferry's network declarations", "network.xml", &error);
        decl = doc ? find_declarations(doc) : NULL;
        if (!decl) {
            g_warning("cannot add portgroup %s: %s", portgroup,
                      error ? error->message : "the declarations are not a <ferry:network> element");
            if (doc)
                xmlFreeDoc(doc);
            return NULL;
        }
    } else {
        ferry_xml_init();
        doc = xmlNewDoc((const xmlChar *)"1.0");
        decl = new_declarations(doc);
    }
    set_declared_portgroup(decl, portgroup, vlan, trunk);
    char *s = dump_declarations(decl);
    xmlFreeDoc(doc);
    return s;
}

/* ------------------------------------------------------------------ the decision (B2) */

void ferry_nic_mapping_clear(FerryNicMapping *m)
{
    if (!m)
        return;
    g_free(m->network);
    g_free(m->portgroup);
    g_free(m->rule);
    memset(m, 0, sizeof(*m));
    m->vlan = -1;
}

char *ferry_vlan_words(int vlan, gboolean trunk)
{
    if (trunk)
        return g_strdup("every VLAN (trunk, 4095)");
    return vlan < 0 ? g_strdup("no VLAN") : g_strdup_printf("VLAN %d", vlan);
}

/* What a NIC is, for messages: "NIC 52:54:00:00:00:01 (VLAN 300)". */
typedef struct {
    const char *mac;
    int vlan;
    gboolean trunk;
    char *vlan_text;
} Nic;

/* "a (standard, inactive), b (distributed)": every network considered, and why not. */
static char *looked_at(const FerryNetmap *map)
{
    if (map->networks->len == 0)
        return g_strdup("this host has no networks");
    g_autoptr(GString) s = g_string_new("looked at ");
    for (guint i = 0; i < map->networks->len; i++) {
        const FerryNetwork *net = g_ptr_array_index(map->networks, i);
        g_string_append_printf(s, "%s%s (%s%s)", i ? ", " : "", net->name, ferry_switch_kind_name(net->kind),
                               net->active ? "" : ", inactive");
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* The network the NIC goes to, and in @how how it was chosen. */
static const FerryNetwork *pick_target(const FerryNetmap *map, const char *requested, const char *archived,
                                       FerrySwitchKind kind, const Nic *nic, char **how, GError **error)
{
    if (requested) {
        const FerryNetwork *net = ferry_netmap_find(map, requested);
        if (!net)
            ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s (%s): network %s, named for the restore, does not exist on this host",
                        nic->mac, nic->vlan_text, requested);
        else if (!net->active)
            ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s (%s): network %s, named for the restore, is not active: start it "
                        "(virsh net-start %s) or name another", nic->mac, nic->vlan_text, requested, requested);
        else
            *how = g_strdup_printf("network %s as named", net->name);
        return net && net->active ? net : NULL;
    }
    const FerryNetwork *same = ferry_netmap_find(map, archived);
    if (same && same->active) {
        /* Both a restore (the archive's network) and a migration (the source's) land here. */
        *how = g_strdup_printf("network %s, as on the source", same->name);
        return same;
    }
    for (guint i = 0; i < map->networks->len; i++) {
        const FerryNetwork *net = g_ptr_array_index(map->networks, i);
        if (net->active && net->kind == kind) {
            *how = g_strdup_printf("network %s, the first active %s switch: %s is %s here", net->name,
                                   ferry_switch_kind_name(kind), archived, same ? "not active" : "absent");
            return net;
        }
    }
    g_autofree char *seen = looked_at(map);
    ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s (%s) has no network on this host: network %s %s and no other %s switch is active "
                "(%s); create it here, or name another network for a restore", nic->mac, nic->vlan_text, archived,
                same ? "is not active" : "does not exist", ferry_switch_kind_name(kind), seen);
    return NULL;
}

/* Only portgroups libvirt has can take a NIC. */
static const FerryPortgroup *find_usable(const FerryNetwork *net, int vlan, gboolean trunk)
{
    for (guint i = 0; i < net->portgroups->len; i++) {
        const FerryPortgroup *pg = g_ptr_array_index(net->portgroups, i);
        if (pg->in_libvirt && same_vlan(pg, vlan, trunk))
            return pg;
    }
    return NULL;
}

static const FerryPortgroup *find_default(const FerryNetwork *net)
{
    for (guint i = 0; i < net->portgroups->len; i++) {
        const FerryPortgroup *pg = g_ptr_array_index(net->portgroups, i);
        if (pg->in_libvirt && pg->is_default)
            return pg;
    }
    return NULL;
}

static gboolean connect_to(FerryNicMapping *out, const FerryPortgroup *pg, char *rule)
{
    out->action = FERRY_MAP_CONNECT;
    out->portgroup = g_strdup(pg->name);
    out->rule = rule;
    return TRUE;
}

static gboolean create(FerryNicMapping *out, const FerryNetwork *t, char *rule_head)
{
    out->action = FERRY_MAP_CREATE_PORTGROUP;
    out->portgroup = ferry_netmap_portgroup_name(t, out->vlan, out->trunk);
    out->rule = g_strdup_printf("%s: creates portgroup %s", rule_head, out->portgroup);
    g_free(rule_head);
    return TRUE;
}

/* libvirt gives a NIC that names no portgroup the default one: if that one has a VLAN, an
 * untagged NIC would silently land on it, so a portgroup without a VLAN is preferred. */
static gboolean decide_no_vlan(const FerryNetwork *t, const char *how, FerryNicMapping *out)
{
    const FerryPortgroup *def = find_default(t);
    out->action = FERRY_MAP_NO_VLAN;
    if (!def || (def->vlan < 0 && !def->trunk)) {
        out->rule = g_strdup_printf("no VLAN: connects to network %s without a portgroup (%s)", t->name, how);
        return TRUE;
    }
    const FerryPortgroup *plain = find_usable(t, -1, FALSE);
    g_autofree char *dv = ferry_vlan_words(def->vlan, def->trunk);
    if (plain) {
        out->portgroup = g_strdup(plain->name);
        out->rule = g_strdup_printf("no VLAN: connects to portgroup %s of network %s, which has none, rather than "
                                    "default portgroup %s with %s (%s)", plain->name, t->name, def->name, dv, how);
    } else {
        out->rule = g_strdup_printf("no VLAN: connects to network %s without a portgroup; note: its default "
                                    "portgroup %s puts the NIC on %s (%s)", t->name, def->name, dv, how);
    }
    return TRUE;
}

static gboolean decide_trunk(const FerryNetwork *t, const char *how, const Nic *nic, FerryNicMapping *out,
                             GError **error)
{
    if (t->kind == FERRY_SWITCH_DISTRIBUTED)
        return ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s carries every VLAN (trunk, 4095): distributed switch %s cannot take it "
                           "(B2: a trunk only goes to a standard switch); name a standard switch for the restore",
                           nic->mac, t->name);
    const FerryPortgroup *pg = find_usable(t, -1, TRUE);
    if (pg)
        return connect_to(out, pg, g_strdup_printf("B2 row 2: portgroup %s of network %s is a trunk (%s)", pg->name,
                                                   t->name, how));
    return create(out, t, g_strdup_printf("B2 row 4: network %s has no trunk portgroup (%s)", t->name, how));
}

static gboolean decide_vlan(const FerryNetwork *t, const char *how, const Nic *nic, FerryNicMapping *out,
                            GError **error)
{
    int v = nic->vlan;
    int primary = ferry_network_pvlan_primary(t, v);
    gboolean distributed = t->kind == FERRY_SWITCH_DISTRIBUTED;
    const FerryPortgroup *pg = find_usable(t, v, FALSE);
    if (pg && distributed && primary >= 0)
        return connect_to(out, pg, g_strdup_printf("B2 row 7: portgroup %s of network %s carries PVLAN secondary "
                                                   "%d of primary %d (%s)", pg->name, t->name, v, primary, how));
    if (pg)
        return connect_to(out, pg, g_strdup_printf("B2 row 1: portgroup %s of network %s has VLAN %d (%s)",
                                                   pg->name, t->name, v, how));
    if (!distributed) {
        const FerryPortgroup *trunk = find_usable(t, -1, TRUE);
        if (trunk)
            return connect_to(out, trunk, g_strdup_printf("B2 row 2: no portgroup of network %s has VLAN %d; "
                                                          "portgroup %s is a trunk (%s)",
                                                          t->name, v, trunk->name, how));
        return create(out, t, g_strdup_printf("B2 row 3: no portgroup of network %s has VLAN %d and none is a trunk "
                                               "(%s)", t->name, v, how));
    }
    if (primary >= 0)
        return ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s (VLAN %d): on distributed switch %s, VLAN %d is a secondary of PVLAN %d and "
                           "no portgroup carries it (B2 row 6): add a portgroup with VLAN %d to %s, or name "
                           "another network", nic->mac, v, t->name, v, primary, v, t->name);
    return create(out, t, g_strdup_printf("B2 row 5: no portgroup of network %s has VLAN %d and it is no PVLAN "
                                           "secondary (%s)", t->name, v, how));
}

gboolean ferry_netmap_decide(const FerryNetmap *target, const char *requested_network, const char *archived_network,
                             FerrySwitchKind archived_kind, int vlan, gboolean trunk, const char *nic_mac,
                             FerryNicMapping *out, GError **error)
{
    g_return_val_if_fail(target != NULL && out != NULL, FALSE);
    memset(out, 0, sizeof(*out));
    out->vlan = -1;
    if (vlan < -1 || vlan > FERRY_VLAN_TRUNK)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "NIC %s: VLAN %d is not a VLAN id (0 to 4094, 4095: trunk)", nic_mac, vlan);
    trunk = trunk || vlan == FERRY_VLAN_TRUNK;
    Nic nic = { nic_mac ? nic_mac : "(no MAC)", trunk ? -1 : vlan, trunk, ferry_vlan_words(trunk ? -1 : vlan, trunk) };
    g_autofree char *how = NULL;
    const FerryNetwork *t = pick_target(target, requested_network, archived_network ? archived_network : "(none)",
                                        archived_kind, &nic, &how, error);
    gboolean ok = FALSE;
    if (!t)
        goto out;
    out->network = g_strdup(t->name);
    out->vlan = nic.vlan;
    out->trunk = nic.trunk;
    if (nic.vlan < 0 && !nic.trunk)
        ok = decide_no_vlan(t, how, out);
    else if (t->kind == FERRY_SWITCH_OTHER)
        ok = ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s (%s): network %s is a %s switch (macvtap, hostdev, ...) that cannot put "
                         "a port on a VLAN; name a standard or distributed switch for the restore", nic.mac,
                         nic.vlan_text, t->name, ferry_switch_kind_name(t->kind));
    else if (nic.trunk)
        ok = decide_trunk(t, how, &nic, out, error);
    else
        ok = decide_vlan(t, how, &nic, out, error);
out:
    g_free(nic.vlan_text);
    if (!ok)
        ferry_nic_mapping_clear(out);
    return ok;
}

/* ------------------------------------------------------------------ one NIC (B2, B3) */

/* A restore onto a network of the user's choice moves every NIC; otherwise one may stay. */
static gboolean stays_on(const char *requested, const char *network)
{
    return !requested || g_strcmp0(requested, network) == 0;
}

static gboolean leave_as_is(FerryNicMapping *out, const FerryNicSource *nic, const FerryNetwork *same, char *rule)
{
    out->action = FERRY_MAP_AS_IS;
    out->network = g_strdup(nic->network);
    out->portgroup = g_strdup(nic->portgroup);
    out->distributed = same->kind == FERRY_SWITCH_DISTRIBUTED;
    out->rule = rule;
    return TRUE;
}

/* The VLAN of portgroup @nic->portgroup, which the NIC's XML leaves out (libvirt's migratable
 * form, a standard switch's port): what the hosts the domain can come from say, else what this
 * host's own portgroup of that name carries. */
static gboolean unsaid_portgroup_vlan(const FerryNetmap *map, const FerryNicSource *nic, int *vlan, gboolean *trunk,
                                      FerrySwitchKind *kind, GError **error)
{
    g_autofree char *conflict = NULL;
    switch (ferry_netmap_peer_vlan(map, nic->network, nic->portgroup, vlan, trunk, kind, &conflict)) {
    case FERRY_PEER_VLAN_KNOWN:
        return TRUE;
    case FERRY_PEER_VLAN_CONFLICT:
        return ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s is on portgroup %s of network %s, its XML does not say which VLAN that "
                           "portgroup has, and the hosts disagree (%s); give the portgroup one VLAN on every host",
                           nic->mac, nic->portgroup, nic->network, conflict);
    case FERRY_PEER_VLAN_UNKNOWN:
    default:
        break;
    }
    const FerryNetwork *same = ferry_netmap_find(map, nic->network);
    const FerryPortgroup *pg = ferry_network_find_portgroup(same, nic->portgroup);
    if (pg && pg->in_libvirt) { /* libvirt and this host's declarations say what it carries here */
        *vlan = pg->vlan;
        *trunk = pg->trunk;
        *kind = same->kind;
        return TRUE;
    }
    return ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s is on portgroup %s of network %s, which %s, and its XML does not say which "
                       "VLAN that portgroup has (libvirt leaves a network's VLANs out of the XML of saved and "
                       "migrating domains); create portgroup %s on network %s with the VLAN it has on the source "
                       "host", nic->mac, nic->portgroup, nic->network,
                       !same ? "does not exist on this host" : "has no such portgroup on this host", nic->portgroup,
                       nic->network);
}

/* Open vSwitch carries exactly the tags an interface lists; B2 refuses trunks on a distributed
 * switch only because "every VLAN" (4095) has no spelling there. */
static gboolean keeps_own_tags(const FerryNicSource *nic, const FerryNetwork *same, const char *requested)
{
    return nic->tags_on_interface && nic->trunk && nic->vlan >= 0 && nic->vlan != FERRY_VLAN_TRUNK && same &&
           same->active && same->kind == FERRY_SWITCH_DISTRIBUTED && stays_on(requested, nic->network);
}

static gboolean keep_tags(FerryNicMapping *out, const FerryNicSource *nic, const FerryNetwork *same)
{
    const FerryPortgroup *pg = nic->portgroup && *nic->portgroup ? ferry_network_find_portgroup(same, nic->portgroup)
                                                                 : NULL;
    out->action = FERRY_MAP_KEEP_TAGS;
    out->network = g_strdup(same->name);
    out->portgroup = pg && pg->in_libvirt ? g_strdup(pg->name) : NULL;
    out->vlan = nic->vlan;
    out->trunk = TRUE;
    out->distributed = TRUE;
    out->rule = g_strdup_printf("explicit VLAN tags on an Open vSwitch interface: they stay, on network %s",
                                same->name);
    return TRUE;
}

/* Without libvirt no portgroup can be created: Open vSwitch takes the VLAN on the interface,
 * a Linux-bridge port cannot be tagged by libvirt. */
static gboolean without_creating(FerryNicMapping *out, const char *mac, GError **error)
{
    if (out->distributed) {
        char *rule = g_strdup_printf("%s; no portgroup is created: VLAN %d goes on the interface", out->rule,
                                     out->vlan);
        g_free(out->rule);
        out->rule = rule;
        g_clear_pointer(&out->portgroup, g_free);
        out->action = FERRY_MAP_VLAN_ON_INTERFACE;
        return TRUE;
    }
    g_autofree char *what = ferry_vlan_words(out->vlan, out->trunk);
    ferry_error_set(error, FERRY_ERROR_NETWORK_UNAVAILABLE, "NIC %s (%s): network %s is a standard switch (Linux bridge) where %s (B2 row %d); no "
                "portgroup is created from here (the hook never calls libvirt) and libvirt cannot tag a Linux-bridge "
                "port; create portgroup %s on network %s and declare its VLAN (virt-ferry.conf(5))", mac, what,
                out->network,
                out->trunk ? "no portgroup is a trunk" : "no portgroup has that VLAN and none is a trunk",
                out->trunk ? 4 : 3, out->portgroup, out->network);
    ferry_nic_mapping_clear(out);
    return FALSE;
}

gboolean ferry_netmap_map_nic(const FerryNetmap *map, const FerryNicSource *nic, const char *requested_network,
                              gboolean can_create_portgroups, FerryNicMapping *out, GError **error)
{
    g_return_val_if_fail(map != NULL && nic != NULL && out != NULL, FALSE);
    memset(out, 0, sizeof(*out));
    out->vlan = -1;
    const char *mac = nic->mac ? nic->mac : "(no MAC)";
    int vlan = nic->vlan;
    gboolean trunk = nic->trunk;
    FerrySwitchKind kind = nic->kind;
    gboolean said = vlan >= 0 || trunk || nic->vlan_said;
    const FerryNetwork *same = ferry_netmap_find(map, nic->network);
    gboolean may_stay = same && same->active && stays_on(requested_network, nic->network);
    if (!said && nic->portgroup && *nic->portgroup) {
        if (!unsaid_portgroup_vlan(map, nic, &vlan, &trunk, &kind, error))
            return FALSE;
        const FerryPortgroup *here = ferry_network_find_portgroup(same, nic->portgroup);
        if (may_stay && here && here->in_libvirt && here->vlan == vlan && !here->trunk == !trunk)
            return leave_as_is(out, nic, same, g_strdup_printf("portgroup %s of network %s carries the same VLAN "
                                                               "here: as it is", nic->portgroup, nic->network));
        said = TRUE;
    }
    if (!said && may_stay)
        return leave_as_is(out, nic, same, g_strdup_printf("no VLAN said: network %s takes it as it is (its "
                                                           "default portgroup, if any, as on the source)",
                                                           nic->network));
    g_autoptr(GError) refusal = NULL;
    if (!ferry_netmap_decide(map, requested_network, nic->network, kind, vlan, trunk, mac, out, &refusal)) {
        if (keeps_own_tags(nic, same, requested_network))
            return keep_tags(out, nic, same);
        g_propagate_error(error, g_steal_pointer(&refusal));
        return FALSE;
    }
    const FerryNetwork *target = ferry_netmap_find(map, out->network);
    out->distributed = target && target->kind == FERRY_SWITCH_DISTRIBUTED;
    if (out->action == FERRY_MAP_CREATE_PORTGROUP && !can_create_portgroups)
        return without_creating(out, mac, error);
    return TRUE;
}
