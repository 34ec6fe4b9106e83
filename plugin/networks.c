/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The network map read from libvirt, kept on disk for the hook, and compared across peers
 * (CheckNetworks). netmap.c holds the model and the rules; this file talks to libvirt. */
#include "networks.h"
#include "libvirt-open.h"

#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-autoptr.h"

#include <libvirt/virterror.h>

char *ferry_networks_declarations_path(const char *networks_dir, const char *network)
{
    g_autofree char *file = g_strconcat(network, ".xml", NULL);
    return g_build_filename(networks_dir, file, NULL);
}

/* libvirt 9.0 keeps no <metadata> in a network (that came with 9.7): virt-ferry's declarations
 * live in a file per network and join the network's XML as if they were its metadata. */
static char *with_declarations(const char *xml, const char *networks_dir, const char *network)
{
    g_autofree char *path = ferry_networks_declarations_path(networks_dir, network);
    g_autofree char *declared = NULL;
    const char *end = g_strrstr(xml, "</network>");
    if (!networks_dir || !end || !g_file_get_contents(path, &declared, NULL, NULL))
        return g_strdup(xml);
    return g_strdup_printf("%.*s<metadata>%s</metadata>%s", (int)(end - xml), xml, declared, end);
}

FerryNetmap *ferry_networks_read_map(virConnectPtr conn, const char *networks_dir, GError **error)
{
    virNetworkPtr *nets = NULL;
    int n = virConnectListAllNetworks(conn, &nets, 0);
    if (n < 0) {
        ferry_error_from_libvirt(error, "cannot list the networks");
        return NULL;
    }
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    for (int i = 0; i < n; i++) {
        g_autofree char *plain = virNetworkGetXMLDesc(nets[i], 0);
        g_autofree char *xml = plain ? with_declarations(plain, networks_dir, virNetworkGetName(nets[i])) : NULL;
        g_autoptr(GError) local = NULL;
        if (!xml || !ferry_netmap_add_network_xml(map, xml, virNetworkIsActive(nets[i]) == 1, &local))
            g_warning("network %s left out of the network map: %s", virNetworkGetName(nets[i]),
                      local ? local->message : virGetLastErrorMessage());
        virNetworkFree(nets[i]);
    }
    g_free(nets);
    virResetLastError();
    return g_steal_pointer(&map);
}

gboolean ferry_networks_write_map(virConnectPtr conn, const char *networks_dir, GPtrArray *peers, const char *path,
                            GError **error)
{
    g_autoptr(FerryNetmap) map = ferry_networks_read_map(conn, networks_dir, error);
    if (!map)
        return FALSE;
    if (peers) {
        g_ptr_array_unref(map->peers);
        map->peers = g_ptr_array_ref(peers);
    }
    return ferry_netmap_save(map, path, error);
}

static const FerryPeerNetmap *find_peer(GPtrArray *peers, const char *uri)
{
    for (guint i = 0; peers && i < peers->len; i++) {
        const FerryPeerNetmap *p = g_ptr_array_index(peers, i);
        if (g_str_equal(p->peer, uri))
            return p;
    }
    return NULL;
}

GPtrArray *ferry_networks_read_peers(const char *const *peers, GPtrArray *previous)
{
    GPtrArray *maps = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_peer_netmap_free);
    for (const char *const *uri = peers; uri && *uri; uri++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(virConnect) conn = ferry_libvirt_open(*uri, &error);
        FerryNetmap *map = conn ? ferry_networks_read_map(conn, NULL, &error) : NULL;
        if (map) {
            g_ptr_array_add(maps, ferry_peer_netmap_new(*uri, map));
            continue;
        }
        const FerryPeerNetmap *last = find_peer(previous, *uri);
        g_message("cannot read the networks of peer %s (%s); %s", *uri,
                  error ? error->message : virGetLastErrorMessage(),
                  last ? "the network map keeps what it last read there" : "the network map has nothing of it");
        virResetLastError();
        if (last)
            g_ptr_array_add(maps, ferry_peer_netmap_new(*uri, ferry_netmap_copy(last->map)));
    }
    return maps;
}

char *ferry_networks_map_path(const char *state_dir)
{
    return g_build_filename(state_dir, FERRY_NETMAP_FILE, NULL);
}

/* ------------------------------------------------------------------ CheckNetworks */

static void add_problem(GPtrArray *rows, const char *domain, const char *mac, const char *peer, const char *problem)
{
    g_ptr_array_add(rows, g_variant_ref_sink(g_variant_new("(ssss)", domain, mac, peer, problem)));
}

static char *describe_vlan(const FerryPortgroup *pg)
{
    if (!pg)
        return g_strdup("no portgroup");
    return ferry_vlan_words(pg->vlan, pg->trunk);
}

/* What differs for one NIC between here and a peer, or NULL. */
static char *nic_problem(const FerryNetmap *here, const FerryNetmap *there, const FerryNic *nic)
{
    const FerryNetwork *mine = ferry_netmap_find(here, nic->network);
    const FerryNetwork *theirs = ferry_netmap_find(there, nic->network);
    if (!theirs)
        return g_strdup_printf("network %s does not exist there", nic->network);
    if (!theirs->active)
        return g_strdup_printf("network %s is not active there", nic->network);
    if (mine && mine->kind != theirs->kind)
        return g_strdup_printf("network %s is a %s switch here and a %s switch there", nic->network,
                               ferry_switch_kind_name(mine->kind), ferry_switch_kind_name(theirs->kind));
    if (!nic->portgroup)
        return NULL;
    const FerryPortgroup *pg_here = (mine ? ferry_network_find_portgroup(mine, nic->portgroup) : NULL);
    const FerryPortgroup *pg_there = ferry_network_find_portgroup(theirs, nic->portgroup);
    if (!pg_there)
        return g_strdup_printf("portgroup %s of network %s does not exist there", nic->portgroup, nic->network);
    if (pg_here && (pg_here->vlan != pg_there->vlan || pg_here->trunk != pg_there->trunk)) {
        g_autofree char *a = describe_vlan(pg_here), *b = describe_vlan(pg_there);
        return g_strdup_printf("portgroup %s of network %s has %s here and %s there", nic->portgroup, nic->network,
                               a, b);
    }
    return NULL;
}

typedef struct {
    char *name;
    FerryDomainXml *def;
} DomainDef;

static void domain_def_free(DomainDef *d)
{
    g_free(d->name);
    ferry_domxml_free(d->def);
    g_free(d);
}

/* The domains' definitions; one that cannot be read or parsed is a row of @rows (its NICs
 * cannot be checked), never silently left out of the comparison. */
static GPtrArray *read_domains(virConnectPtr conn, GPtrArray *rows, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) {
        ferry_error_from_libvirt(error, "cannot list the domains");
        return NULL;
    }
    GPtrArray *defs = g_ptr_array_new_with_free_func((GDestroyNotify)domain_def_free);
    for (int i = 0; i < n; i++) {
        const char *name = virDomainGetName(doms[i]);
        g_autoptr(GError) parse_error = NULL;
        g_autofree char *xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE);
        FerryDomainXml *def = xml ? ferry_domxml_parse(xml, &parse_error) : NULL;
        if (def) {
            DomainDef *d = g_new0(DomainDef, 1);
            d->name = g_strdup(name);
            d->def = def;
            g_ptr_array_add(defs, d);
        } else {
            g_autofree char *why = g_strdup_printf("cannot read its definition, so its NICs are not checked: %s",
                                                   parse_error ? parse_error->message : virGetLastErrorMessage());
            add_problem(rows, name ? name : "", "", "", why);
        }
        virDomainFree(doms[i]);
    }
    g_free(doms);
    virResetLastError();
    return defs;
}

static void compare_with_peer(GPtrArray *rows, GPtrArray *defs, const FerryNetmap *here, const char *peer_uri)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) peer = ferry_libvirt_open(peer_uri, &error);
    /* The peer's own declarations are not visible from here: libvirt's view only. */
    g_autoptr(FerryNetmap) there = peer ? ferry_networks_read_map(peer, NULL, &error) : NULL;
    if (!there) {
        g_autofree char *why = g_strdup_printf("cannot read the peer's networks: %s",
                                               error ? error->message : virGetLastErrorMessage());
        add_problem(rows, "", "", peer_uri, why);
        virResetLastError();
        return;
    }
    for (guint i = 0; i < defs->len; i++) {
        DomainDef *d = g_ptr_array_index(defs, i);
        GPtrArray *nics = ferry_domxml_nics(d->def);
        for (guint j = 0; j < nics->len; j++) {
            FerryNic *nic = g_ptr_array_index(nics, j);
            if (g_strcmp0(nic->type, "network") != 0 || !nic->network)
                continue;
            g_autofree char *problem = nic_problem(here, there, nic);
            if (problem)
                add_problem(rows, d->name, nic->mac ? nic->mac : "", peer_uri, problem);
        }
    }
}

GVariant *ferry_networks_compare(const char *uri, const char *networks_dir, const char *const *peers, GError **error)
{
    g_autoptr(virConnect) conn = ferry_libvirt_open(uri, error);
    if (!conn)
        return NULL;
    g_autoptr(FerryNetmap) here = ferry_networks_read_map(conn, networks_dir, error);
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
    g_autoptr(GPtrArray) defs = here ? read_domains(conn, rows, error) : NULL;
    if (!defs)
        return NULL;
    for (const char *const *p = peers; p && *p; p++)
        compare_with_peer(rows, defs, here, *p);
    return g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("(ssss)"), (GVariant **)rows->pdata, rows->len));
}

/* ------------------------------------------------------------------ arrivals */

static gboolean same_nic_network(const FerryNic *a, const FerryNic *b)
{
    return g_strcmp0(a->type, b->type) == 0 && g_strcmp0(a->network, b->network) == 0 &&
           g_strcmp0(a->portgroup, b->portgroup) == 0 && a->vlan == b->vlan && !a->vlan_trunk == !b->vlan_trunk &&
           g_strcmp0(a->vport_type, b->vport_type) == 0;
}

gboolean ferry_networks_persist_live_nics(virDomainPtr dom, gboolean *changed, GError **error)
{
    *changed = FALSE;
    if (virDomainIsPersistent(dom) != 1 || virDomainIsActive(dom) != 1) {
        virResetLastError();
        return TRUE;
    }
    /* The migratable form of the running domain is its definition as started: what the
     * hook made of it, without the network's runtime state. */
    g_autofree char *live_xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_SECURE);
    g_autofree char *config_xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!live_xml || !config_xml)
        return ferry_error_from_libvirt(error, "cannot read the definitions of %s", virDomainGetName(dom));
    g_autoptr(FerryDomainXml) live = ferry_domxml_parse(live_xml, error);
    g_autoptr(FerryDomainXml) config = live ? ferry_domxml_parse(config_xml, error) : NULL;
    if (!config)
        return FALSE;
    GPtrArray *nics = ferry_domxml_nics(config);
    g_autoptr(GPtrArray) snapshot = g_ptr_array_new_full(nics->len, NULL);
    g_ptr_array_extend(snapshot, nics, NULL, NULL);
    for (guint i = 0; i < snapshot->len; i++) {
        const FerryNic *was = g_ptr_array_index(snapshot, i);
        const FerryNic *now = ferry_domxml_nic_by_mac(live, was->mac);
        if (!now || g_strcmp0(was->type, "network") != 0 || g_strcmp0(now->type, "network") != 0 ||
            same_nic_network(was, now))
            continue;
        if (!ferry_domxml_set_nic_source(config, was->mac, now->network, now->portgroup, error) ||
            !ferry_domxml_set_nic_vlan(config, was->mac, now->vlan, now->vlan_trunk, error) ||
            !ferry_domxml_set_nic_virtualport(config, was->mac, now->vport_type, error))
            return FALSE;
        *changed = TRUE;
    }
    if (!*changed)
        return TRUE;
    g_autofree char *xml = ferry_domxml_format(config);
    g_autoptr(virDomain) defined = virDomainDefineXML(virDomainGetConnect(dom), xml);
    if (!defined)
        return ferry_error_from_libvirt(error, "cannot update the definition of %s", virDomainGetName(dom));
    return TRUE;
}
