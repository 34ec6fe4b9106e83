/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network XML (plugin/netmap.c): a libvirt network with virt-ferry's declarations added to a
 * map, the map's lookups, the B2 decision for each portgroup, the standard switch's metadata
 * rewritten around it, and the map saved to disk and loaded back (the file the hook reads,
 * which this input is also loaded as). */
#include "fuzz.h"

#include "netmap.h"

#include <stdlib.h>

static void decide_each(const FerryNetmap *map)
{
    for (guint i = 0; i < map->networks->len; i++) {
        const FerryNetwork *net = g_ptr_array_index(map->networks, i);
        ferry_netmap_find(map, net->name);
        for (guint j = 0; net->portgroups && j < net->portgroups->len; j++) {
            const FerryPortgroup *pg = g_ptr_array_index(net->portgroups, j);
            ferry_network_find_portgroup(net, pg->name);
            ferry_network_pvlan_primary(net, pg->vlan);
            g_auto(FerryNicMapping) m = { 0 };
            ferry_netmap_decide(map, net->name, net->name, FERRY_SWITCH_DISTRIBUTED, pg->vlan, pg->trunk,
                                "52:54:00:aa:00:01", &m, NULL);
            int vlan;
            gboolean trunk;
            FerrySwitchKind kind;
            g_autofree char *conflict = NULL;
            ferry_netmap_peer_vlan(map, net->name, pg->name, &vlan, &trunk, &kind, &conflict);
        }
        g_autofree char *name = ferry_netmap_portgroup_name(net, 300, FALSE);
        g_auto(FerryNicMapping) m = { 0 };
        ferry_netmap_decide(map, net->name, NULL, FERRY_SWITCH_STANDARD, 300, FALSE, "52:54:00:aa:00:02", &m, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    g_autofree char *xml = fuzz_string(data, size);
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    if (ferry_netmap_add_network_xml(map, xml, size % 2, NULL)) {
        decide_each(map);
        g_autofree char *path = g_build_filename(fuzz_scratch_dir(), "netmap", NULL);
        g_autoptr(GError) error = NULL;
        if (!ferry_netmap_save(map, path, &error))
            abort();
        g_autoptr(FerryNetmap) loaded = ferry_netmap_load(path, &error);
        if (!loaded || !ferry_netmap_equal(map, loaded))
            abort();
    }
    g_free(ferry_netmap_standard_metadata_with(xml, "vlan300", 300, FALSE));
    g_free(ferry_netmap_standard_metadata_with(xml, "all", -1, TRUE));
    /* The same bytes as a map file on disk. */
    g_autofree char *file = g_build_filename(fuzz_scratch_dir(), "netmap-input", NULL);
    fuzz_write_file(file, data, size);
    g_autoptr(FerryNetmap) loaded = ferry_netmap_load(file, NULL);
    if (loaded)
        decide_each(loaded);
    return 0;
}
