/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transparent VLAN remapping of the hook (hook-rewrite.h): the mapping table of virt-ferry-hook(8) decided
 * per NIC by ferry_netmap_map_nic (plugin/netmap.c), the one decision restore makes too, from
 * the network map on disk (this host's networks and the peers' that virt-ferryd keeps), and
 * applied with plugin/domxml.c.
 *
 * What the hook knows about a NIC, and what it does not:
 * - its VLAN only when the domain XML states one on the interface (<vlan><tag id=.../>). The
 *   live XML (virsh dumpxml of a running domain) states the portgroup's VLAN there; but the
 *   XML libvirt itself writes into a save image and sends with a migration is its
 *   "migratable" form, which leaves the network's runtime state out: a NIC on portgroup P of
 *   network N appears as <source network='N' portgroup='P'/> and nothing says P's VLAN (the
 *   decision then asks the hosts the domain can come from);
 * - the kind of switch it came from only from <virtualport type='openvswitch'> (distributed;
 *   otherwise standard), likewise absent from the migratable form.
 * A NIC on a libvirt network is one of type='network', or the live form type='bridge' with
 * <source network=...>. The hook never calls libvirt, so it creates no portgroup: on a
 * distributed target the VLAN goes on the interface itself (libvirt applies <vlan> on an
 * Open vSwitch port), on a standard one the decision refuses. NICs on no network (plain
 * bridge, direct, user, ...) are never touched. When no NIC changes, the caller writes the
 * input back byte for byte.
 *
 * What the hook cannot judge it refuses: a document the safe reader refuses (a DOCTYPE, not
 * well-formed), a NUL inside, an unreadable configuration or map. Only where there is no map
 * at all (virt-ferry not set up here) does the XML go on unchanged. */
#include "hook-rewrite.h"
#include "maintenance-state.h"

#include "config.h"
#include "domxml.h"
#include "ferry-error.h"
#include "netmap.h"
#include "porttag.h"
#include "xml-read.h"

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
        return "; or restore with virt-ferry restore";
    if (g_strcmp0(rw->operation, "migrate") == 0)
        return "; then migrate again";
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

/* ------------------------------------------------------------------ the live form */

/* MAC (lower case) -> <source network=> of the interfaces of type='bridge' that name one: a
 * running domain's XML shows a network NIC so when the network is a host bridge (Open vSwitch
 * or Linux bridge with <forward mode='bridge'/>). domxml.c reports no network for them. */
static GHashTable *live_form_networks(const char *xml)
{
    GHashTable *networks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    /* ferry_domxml_parse read it already: the same safe reader cannot fail on it now. */
    xmlDocPtr doc = ferry_xml_read(xml, "the domain XML", "domain.xml", NULL);
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

/* Whether the NIC already is what @m would make it: then it stays byte for byte. An Open
 * vSwitch NIC without <virtualport> is fine: libvirt takes the network's. */
static gboolean already(const FerryNic *nic, const char *network_now, const FerryNicMapping *m)
{
    if (m->action == FERRY_MAP_AS_IS)
        return TRUE;
    if (g_strcmp0(nic->type, "network") != 0 || g_strcmp0(network_now, m->network) != 0 ||
        g_strcmp0(or_null(nic->portgroup), m->portgroup) != 0)
        return FALSE;
    int vlan = m->action == FERRY_MAP_VLAN_ON_INTERFACE ? m->vlan : -1;
    gboolean trunk = m->action == FERRY_MAP_VLAN_ON_INTERFACE && m->trunk;
    if (m->action != FERRY_MAP_KEEP_TAGS && (vlan < 0 && !trunk ? nic->vlan >= 0 || nic->vlan_trunk
                                                                 : nic->vlan != vlan || nic->vlan_trunk != trunk))
        return FALSE;
    return m->distributed ? !nic->vport_type || is_ovs(nic->vport_type) : !nic->vport_type;
}

/* Rewrites the NIC as @m says, unless it already is so. */
static gboolean apply(Rewrite *rw, const FerryNic *nic, const char *network_now, const FerryNicMapping *m)
{
    if (already(nic, network_now, m))
        return TRUE;
    g_autofree char *key = g_ascii_strdown(nic->mac, -1);
    if (GPOINTER_TO_UINT(g_hash_table_lookup(rw->mac_count, key)) > 1)
        return refuse(rw, nic->mac, "%u interfaces have this MAC address, so the hook cannot rewrite one of them; "
                      "give each a MAC of its own%s",
                      GPOINTER_TO_UINT(g_hash_table_lookup(rw->mac_count, key)), instead(rw));
    g_autoptr(GError) error = NULL;
    if (!ferry_domxml_map_nic(rw->dom, nic->mac, m, &error))
        return refuse(rw, nic->mac, "%s", error->message);
    rw->changed = TRUE;
    return TRUE;
}

/* Table B2 as restore applies it (ferry_netmap_map_nic), from what the XML says of the NIC:
 * its VLAN only when stated on the interface (libvirt's migratable XML leaves a portgroup's
 * out), and those tags go wherever the NIC goes. */
static gboolean map_nic(Rewrite *rw, const FerryNic *nic, const char *network)
{
    FerryNicSource source = {
        .mac = nic->mac,
        .network = network,
        .portgroup = or_null(nic->portgroup),
        .vlan = nic->vlan,
        .trunk = nic->vlan_trunk,
        .kind = is_ovs(nic->vport_type) ? FERRY_SWITCH_DISTRIBUTED : FERRY_SWITCH_STANDARD,
        .vlan_said = FALSE,
        .tags_on_interface = TRUE,
    };
    g_auto(FerryNicMapping) m = { .vlan = -1 };
    g_autoptr(GError) error = NULL;
    if (!ferry_netmap_map_nic(rw->map, &source, NULL, FALSE, &m, &error))
        return refuse(rw, nic->mac, "%s%s", error->message, instead(rw));
    return apply(rw, nic, network, &m);
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

/* The configuration ($VIRT_FERRY_CONFIG, else virt-ferry.conf), read once per call: NULL with
 * *@error when it cannot be read. */
static FerryConfig *load_config(GError **error)
{
    const char *config_path = g_getenv("VIRT_FERRY_CONFIG");
    return ferry_config_load(config_path && *config_path ? config_path : NULL, error);
}

/* The network map, where @config (NULL: it could not be read, @config_error says why) says.
 * NULL with *@message NULL when there is none: virt-ferry is not set up here (virt-ferryd
 * never ran), nothing to map by. NULL with *@message ("virt-ferry: " @cannot ": " why) when
 * the configuration or the map cannot be read: then the NICs cannot be judged, and the caller
 * refuses rather than guess. */
static FerryNetmap *load_map(const FerryConfig *config, const GError *config_error, const char *cannot,
                             char **message)
{
    if (!config) {
        *message = one_line(g_strdup_printf("virt-ferry: %s: %s", cannot, config_error->message));
        return NULL;
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *map_path = g_build_filename(config->state_dir, FERRY_NETMAP_FILE, NULL);
    FerryNetmap *map = ferry_netmap_load(map_path, &error);
    if (!map && !g_error_matches(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        *message = one_line(g_strdup_printf("virt-ferry: %s: %s; virt-ferryd writes it anew when it starts",
                                            cannot, error->message));
    return map;
}

/* The domain of @xml (@length bytes), or NULL with *@message when there is no judging it: a
 * document the safe reader refuses (a DOCTYPE, not well-formed, not a <domain>), a NUL inside,
 * too large. Never waved through: libvirt would run what virt-ferry could not check. */
static FerryDomainXml *judgeable_domain(const char *xml, size_t length, const char *cannot, char **message)
{
    g_autoptr(GError) error = NULL;
    FerryDomainXml *dom = NULL;
    if (length == 0)
        g_set_error_literal(&error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "the domain XML is empty");
    else if (length > G_MAXINT || memchr(xml, '\0', length))
        g_set_error(&error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "the domain XML (%" G_GSIZE_FORMAT
                    " bytes) %s", (gsize)length, length > G_MAXINT ? "is too large" : "has a NUL byte inside");
    else
        dom = ferry_domxml_parse(xml, &error);
    if (!dom)
        *message = one_line(g_strdup_printf("virt-ferry: %s: %s", cannot, error->message));
    return dom;
}

/* A host in maintenance takes no domain in (virt-ferry(1)): the refusal's line, or NULL. A
 * configuration that cannot be read (@config NULL) is load_map's to refuse. */
static char *maintenance_refusal(const FerryConfig *config, const char *operation, const char *domain)
{
    char *refusal = config ? ferry_maintenance_refusal(config->state_dir, operation, domain) : NULL;
    return refusal ? one_line(refusal) : NULL;
}

HookXmlOutcome hook_rewrite_domain_xml(const char *xml, size_t length, const char *operation, const char *domain,
                                       char **out, size_t *out_length, char **message)
{
    *out = NULL;
    *out_length = 0;
    *message = NULL;
    g_autoptr(GError) config_error = NULL;
    g_autoptr(FerryConfig) config = load_config(&config_error);
    if ((*message = maintenance_refusal(config, operation, domain)))
        return HOOK_XML_REFUSED;
    g_autofree char *cannot = g_strdup_printf("cannot map the NICs of domain %s for %s", domain, operation);
    g_autoptr(FerryNetmap) map = load_map(config, config_error, cannot, message);
    if (!map)
        return *message ? HOOK_XML_REFUSED : HOOK_XML_UNCHANGED;
    g_autoptr(FerryDomainXml) dom = judgeable_domain(xml, length, cannot, message);
    if (!dom)
        return HOOK_XML_REFUSED;

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
    /* A map that cannot be read, or an XML that cannot be judged: whether a port needs a VLAN
     * cannot be told, so the start is refused. No map at all: virt-ferry is not set up. */
    g_autoptr(GError) config_error = NULL;
    g_autoptr(FerryConfig) config = load_config(&config_error);
    g_autoptr(FerryNetmap) map = load_map(config, config_error,
                                          "the start is refused, its standard-switch ports cannot be put on their VLANs",
                                          message);
    if (!map)
        return *message ? 1 : 0;
    g_autofree char *cannot = g_strdup_printf("the start of domain %s is refused: its XML cannot be read to put its "
                                              "standard-switch ports on their VLANs", domain);
    g_autoptr(FerryDomainXml) dom = judgeable_domain(xml, length, cannot, message);
    if (!dom)
        return 1;
    g_autoptr(GError) error = NULL;
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
