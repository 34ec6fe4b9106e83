/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hook's rewrite of an incoming domain XML (hooks/hook-rewrite.c, what libvirtd feeds the
 * hook for a migrate or a restore), against a network map with a distributed and a standard
 * switch and a peer's view, as virt-ferryd writes it. */
#include "fuzz.h"

#include "hook-rewrite.h"
#include "netmap.h"

#include <stdlib.h>
#include <string.h>

#define NS "xmlns:ferry='" FERRY_NETMAP_NS "'"
static const char ovsnet[] =
    "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/>"
    "<virtualport type='openvswitch'/>"
    "<portgroup name='green300'><vlan><tag id='300'/></vlan></portgroup>"
    "<portgroup name='red400'><vlan><tag id='400'/></vlan></portgroup>"
    "<metadata><ferry:network " NS "><ferry:pvlan primary='100'>"
    "<ferry:secondary vlan='301' type='isolated'/></ferry:pvlan></ferry:network></metadata></network>";
static const char brnet[] =
    "<network><name>brnet</name><forward mode='bridge'/><bridge name='br0'/>"
    "<portgroup name='vlan400'/><portgroup name='all'/>"
    "<metadata><ferry:network " NS "><ferry:portgroup name='vlan400' vlan='400'/>"
    "<ferry:portgroup name='all' trunk='yes'/></ferry:network></metadata></network>";
static const char peer_ovsnet[] =
    "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/>"
    "<virtualport type='openvswitch'/>"
    "<portgroup name='blue300'><vlan><tag id='300'/></vlan></portgroup></network>";

static FerryNetmap *map_of(const char *const *networks)
{
    FerryNetmap *map = ferry_netmap_new();
    for (const char *const *n = networks; *n; n++)
        if (!ferry_netmap_add_network_xml(map, *n, TRUE, NULL))
            abort();
    return map;
}

static void set_up(void)
{
    const char *dir = fuzz_scratch_dir();
    g_autofree char *state = g_build_filename(dir, "state", NULL);
    g_mkdir_with_parents(state, 0700);
    g_autoptr(FerryNetmap) map = map_of((const char *const[]){ ovsnet, brnet, NULL });
    g_ptr_array_add(map->peers, ferry_peer_netmap_new("qemu+tcp://alpha/system",
                                                      map_of((const char *const[]){ peer_ovsnet, NULL })));
    g_autofree char *map_path = g_build_filename(state, "netmap", NULL);
    if (!ferry_netmap_save(map, map_path, NULL))
        abort();
    g_autofree char *config = g_build_filename(dir, "virt-ferry.conf", NULL);
    g_autofree char *text = g_strdup_printf("[state]\ndir=%s\n", state);
    fuzz_write_file(config, (const uint8_t *)text, strlen(text));
    g_setenv("VIRT_FERRY_CONFIG", config, TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gsize ready;
    fuzz_quiet_logs();
    if (g_once_init_enter(&ready)) {
        set_up();
        g_once_init_leave(&ready, 1);
    }
    g_autofree char *xml = fuzz_string(data, size);
    char *out = NULL, *message = NULL;
    size_t out_length = 0;
    HookXmlOutcome outcome = hook_rewrite_domain_xml(xml, size, size % 2 ? "migrate" : "restore", "fuzz", &out,
                                                     &out_length, &message);
    /* The contract: REWRITTEN sets *out, REFUSED sets *message, nothing else leaks. */
    if ((outcome == HOOK_XML_REWRITTEN) != (out != NULL) || (outcome == HOOK_XML_REFUSED && !message))
        abort();
    if (out && strlen(out) != out_length)
        abort();
    free(out);
    free(message);
    return 0;
}
