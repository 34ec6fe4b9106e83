/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hook-rewrite: what the hook's transparent VLAN remapping costs libvirtd on a qemu restore
 * (the same path as migrate), against the plain echo of the XML.
 *
 * Every call is made the way libvirt makes it: posix_spawn of .../qemu.d/virt-ferry with the
 * domain XML on a stdin pipe and stdout on a pipe read to EOF, then waitpid; wall time per
 * call, spawn to reaped: the hook's whole run, its D-Bus report to a receiver included.
 *   /bin/true               the floor: what any hook program costs (fork, exec, exit)
 *   stopped, report only    an operation without XML: the hook alone (libc + libdbus), no module
 *   started, ports          the module loaded to put standard-switch ports on their VLANs
 *   restore, no map         virt-ferry not set up here: the rewrite module echoes the XML
 *   restore, 16 NICs, same  a map of 20 networks; every NIC decided, none changes: echoed
 *   restore, 16 NICs, remap a map of 20 networks; 12 NICs rewritten (rows 1, 2, 5), 4 bridges
 * Ratios are to "restore, no map", the plain echo. The scenarios take turns, call by call,
 * so drift on the machine hits them alike; and they run both on a quiet host and beside a
 * load generator the benchmark starts (a busy process per online CPU, a memory sweeper and a
 * file writer; hook-bench.c), in alternating blocks: libvirtd runs its hooks on hosts that
 * are busy. p50/p90/p99/max of each, the p99 under load over the quiet one, and one JSON
 * line (bench-json.h). A benchmark, not a test: it prints numbers and ratios and judges
 * nothing (the goal: remap p99 <= 5 ms under load).
 *
 *   bench/hook-rewrite [CALLS]     (default 500 per scenario; HOOK_REWRITE_CALLS works too)
 */
#include "hook-bench.h"
#include "netmap.h"

#include <glib/gstdio.h>
#include <signal.h>

#define NICS 16
#define NETWORKS 20

/* ------------------------------------------------------------------ the host and the domain */

/* ovsnet (distributed) and brnet (standard) as in tests/unit/test-hook-rewrite.c, and 18
 * more networks with three portgroups each: a map of NETWORKS networks. */
static void write_map(const char *state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    GString *ovs = g_string_new("<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/>"
                                "<virtualport type='openvswitch'/>"
                                "<portgroup name='green300'><vlan><tag id='300'/></vlan></portgroup>");
    for (int v = 1; v <= 10; v++)
        g_string_append_printf(ovs, "<portgroup name='pg%d'><vlan><tag id='%d'/></vlan></portgroup>", v, 1000 + v);
    g_string_append(ovs, "</network>");
    ferry_netmap_add_network_xml(map, ovs->str, TRUE, &error);
    g_assert_no_error(error);
    g_string_free(ovs, TRUE);
    ferry_netmap_add_network_xml(
        map,
        "<network><name>brnet</name><forward mode='bridge'/><bridge name='br0'/>"
        "<portgroup name='vlan400'/><portgroup name='all'/>"
        "<metadata><ferry:network xmlns:ferry='" FERRY_NETMAP_NS "'><ferry:portgroup name='vlan400' vlan='400'/>"
        "<ferry:portgroup name='all' trunk='yes'/></ferry:network></metadata></network>",
        TRUE, &error);
    g_assert_no_error(error);
    for (int n = 2; n < NETWORKS; n++) {
        g_autofree char *xml = g_strdup_printf(
            "<network><name>net%02d</name><forward mode='nat'/><bridge name='virbr%d'/>"
            "<portgroup name='a'/><portgroup name='b'/><portgroup name='c' default='yes'/></network>",
            n, n);
        ferry_netmap_add_network_xml(map, xml, n % 5 != 0, &error);
        g_assert_no_error(error);
    }
    g_assert_cmpuint(map->networks->len, ==, NETWORKS);
    g_autofree char *path = g_build_filename(state, FERRY_NETMAP_FILE, NULL);
    ferry_netmap_save(map, path, &error);
    g_assert_no_error(error);
}

/* A domain of the size libvirt writes (about 8 KiB with 16 NICs). @remap: NICs as the live
 * XML shows them, with their VLANs; else as a migratable XML shows them, on portgroups this
 * host has (nothing to change). */
static GBytes *domain_xml(gboolean remap)
{
    GString *x = g_string_new(
        "<domain type='kvm'>\n  <name>w1</name>\n  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"
        "  <memory unit='KiB'>4194304</memory>\n  <currentMemory unit='KiB'>4194304</currentMemory>\n"
        "  <vcpu placement='static'>4</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
        "    <boot dev='hd'/>\n  </os>\n  <features>\n    <acpi/>\n    <apic/>\n  </features>\n"
        "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
        "  <clock offset='utc'/>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
        "  <on_crash>destroy</on_crash>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
        "    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='/var/lib/libvirt/images/w1.qcow2'/>\n      <target dev='vda' bus='virtio'/>\n"
        "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\n    </disk>\n"
        "    <controller type='usb' index='0' model='qemu-xhci'/>\n    <controller type='pci' index='0' "
        "model='pcie-root'/>\n");
    for (int i = 0; i < NICS; i++) {
        g_string_append_printf(x, "    <interface type='%s'>\n      <mac address='52:54:00:00:01:%02x'/>\n",
                               remap && i % 4 == 3 ? "bridge" : "network", i);
        if (!remap)
            g_string_append_printf(x, "      <source network='ovsnet' portgroup='pg%d'/>\n", i % 10 + 1);
        else if (i % 4 == 0) /* row 1: onto green300 */
            g_string_append(x, "      <source network='ovsnet' portgroup='blue300'/>\n      <vlan>\n"
                               "        <tag id='300'/>\n      </vlan>\n"
                               "      <virtualport type='openvswitch'/>\n");
        else if (i % 4 == 1) /* row 5: the VLAN on the interface */
            g_string_append_printf(x, "      <source network='ovsnet' portgroup='p%d'/>\n      <vlan>\n"
                                      "        <tag id='%d'/>\n      </vlan>\n"
                                      "      <virtualport type='openvswitch'/>\n",
                                   i, 2000 + i);
        else if (i % 4 == 2) /* row 2: the standard switch's trunk */
            g_string_append_printf(x, "      <source network='brnet'/>\n      <vlan>\n        <tag id='%d'/>\n"
                                      "      </vlan>\n",
                                   3000 + i);
        else
            g_string_append_printf(x, "      <source bridge='br%d'/>\n", i);
        g_string_append_printf(x, "      <model type='virtio'/>\n      <address type='pci' domain='0x0000' "
                                  "bus='0x%02x' slot='0x00' function='0x0'/>\n    </interface>\n",
                               0x10 + i);
    }
    g_string_append(x, "    <serial type='pty'>\n      <target type='isa-serial' port='0'/>\n    </serial>\n"
                       "    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n"
                       "    <memballoon model='virtio'/>\n  </devices>\n</domain>\n");
    return g_string_free_to_bytes(x);
}

int main(int argc, char **argv)
{
    hook_receiver_main_if_asked(argc, argv);
    signal(SIGPIPE, SIG_IGN);

    const char *calls_arg = argc > 1 ? argv[1] : g_getenv("HOOK_REWRITE_CALLS");
    guint calls = calls_arg ? (guint) g_ascii_strtoull(calls_arg, NULL, 10) : 500;
    if (calls < 2) {
        g_printerr("usage: %s [CALLS >= 2]\n", argv[0]);
        return 2;
    }

    g_autofree char *dir = hook_scratch_dir_new();
    hook_install_links(dir);
    g_autofree char *no_map_state = g_build_filename(dir, "no-map", NULL);
    g_autofree char *map_state = g_build_filename(dir, "map", NULL);
    g_assert_cmpint(g_mkdir(no_map_state, 0755), ==, 0);
    g_assert_cmpint(g_mkdir(map_state, 0755), ==, 0);
    g_autofree char *no_map_dir = g_build_filename(dir, "etc-no-map", NULL);
    g_autofree char *map_dir = g_build_filename(dir, "etc-map", NULL);
    g_assert_cmpint(g_mkdir(no_map_dir, 0755), ==, 0);
    g_assert_cmpint(g_mkdir(map_dir, 0755), ==, 0);
    g_autofree char *no_map_config = hook_write_config(no_map_dir, no_map_state);
    g_autofree char *map_config = hook_write_config(map_dir, map_state);
    write_map(map_state);

    HookBus *bus = hook_bus_start(dir);
    HookReceiver *receiver = hook_receiver_start(bus->address);
    g_autofree char *qemu_hook = hook_path_for(dir, "qemu");
    g_autoptr(GBytes) remap_xml = domain_xml(TRUE);
    g_autoptr(GBytes) same_xml = domain_xml(FALSE);
    const char *bus_address = bus->address;

    HookScenario scenarios[] = {
        { "/bin/true", "true", "/bin/true", bus_address, no_map_config, "w1", "started", remap_xml, 0, FALSE },
        { "stopped, report only", "report", qemu_hook, bus_address, map_config, "w1", "stopped", remap_xml, 0, TRUE },
        { "started, ports", "ports", qemu_hook, bus_address, map_config, "w1", "started", remap_xml, 0, TRUE },
        { "restore, no map (echo)", "echo", qemu_hook, bus_address, no_map_config, "w1", "restore", remap_xml, 1, TRUE },
        { "restore, 16 NICs, same", "same", qemu_hook, bus_address, map_config, "w1", "restore", same_xml, 1, TRUE },
        { "restore, 16 NICs, remap", "remap", qemu_hook, bus_address, map_config, "w1", "restore", remap_xml, 1, TRUE },
    };
    const gsize count = G_N_ELEMENTS(scenarios);
    const gsize echo = 3;
    guint reports = 0, expected_reports = 0;
    hook_bench_run(scenarios, count, calls, dir, receiver, &reports, &expected_reports);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    g_print("hook-rewrite: %u calls per scenario quiet and %u under load, wall time per call (spawn to reaped,\n"
            "stdout at EOF), %" G_GSIZE_FORMAT "-byte domain XML with %d NICs on stdin, a map of %d networks, "
            "private dbus-daemon with a receiver;\nload: %ld busy processes (one per online CPU), a memory sweeper "
            "and a file writer (goal: remap p99 <= 5 ms under load)\n\n",
            calls, calls, g_bytes_get_size(remap_xml), NICS, NETWORKS, cpus);
    BenchJson json = bench_json_begin("hook-rewrite");
    bench_json_number(&json, "calls", calls);
    bench_json_number(&json, "cpus", (double) cpus);
    bench_json_number(&json, "nics", NICS);
    bench_json_number(&json, "networks", NETWORKS);
    hook_bench_print(scenarios, count, echo, &json);
    g_print("\nreports received: %u of %u\n", reports, expected_reports);
    bench_json_number(&json, "reports", reports);
    bench_json_number(&json, "reports_expected", expected_reports);
    bench_json_end(&json);

    hook_bench_free(scenarios, count);
    hook_receiver_stop(receiver);
    hook_bus_stop(bus);
    hook_scratch_dir_remove(dir);
    return 0;
}
