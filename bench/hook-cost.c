/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hook-cost: what virt-ferry-hook costs libvirtd per hook call, against baselines.
 *
 * Every call is made the way libvirt makes it: posix_spawn with the domain XML on a stdin
 * pipe and stdout on a pipe read to EOF, then waitpid. Wall time per call, spawn to reaped.
 *   /bin/true            the floor: what any hook program costs (fork, exec, exit)
 *   hook report          qemu "started": drain stdin, connect, Hello, Report, exit
 *   hook migrate         qemu "migrate": the hook loads virt-ferry-hook-rewrite.so, which
 *                        finds no network map: the XML echoed back, then the report
 *   hook, no bus         nothing listens at DBUS_SYSTEM_BUS_ADDRESS
 * The scenarios take turns, call by call, so drift on the machine hits them alike, on a
 * quiet host and beside the load generator of hook-bench.c in alternating blocks. Ratios are
 * to /bin/true; one JSON line at the end (bench-json.h). A benchmark, not a test: it prints
 * numbers and ratios and judges nothing.
 *
 *   bench/hook-cost [CALLS]     (default 500 per scenario; HOOK_COST_CALLS works too)
 */
#include "hook-bench.h"

#include <signal.h>
#include <unistd.h>

#define XML_BYTES 8192 /* about a domain with a few devices */

int main(int argc, char **argv)
{
    hook_receiver_main_if_asked(argc, argv);
    signal(SIGPIPE, SIG_IGN);

    const char *calls_arg = argc > 1 ? argv[1] : g_getenv("HOOK_COST_CALLS");
    guint calls = calls_arg ? (guint) g_ascii_strtoull(calls_arg, NULL, 10) : 500;
    if (calls < 2) {
        g_printerr("usage: %s [CALLS >= 2]\n", argv[0]);
        return 2;
    }

    g_autofree char *dir = hook_scratch_dir_new();
    hook_install_links(dir);
    g_autofree char *state = g_build_filename(dir, "state", NULL);
    /* A configuration whose [state] dir has no network map, so that migrate is the plain echo
     * (bench/hook-rewrite measures the VLAN remapping). */
    g_autofree char *config = hook_write_config(dir, state);
    HookBus *bus = hook_bus_start(dir);
    HookReceiver *receiver = hook_receiver_start(bus->address);
    g_autofree char *qemu_hook = hook_path_for(dir, "qemu");
    g_autofree char *nowhere = g_strdup_printf("unix:path=%s/nobody-listens-here", dir);
    g_autoptr(GBytes) xml = hook_domain_xml(XML_BYTES);
    const char *bus_address = bus->address;

    HookScenario scenarios[] = {
        { "/bin/true", "true", "/bin/true", bus_address, config, "db 1", "started", xml, -1, FALSE },
        { "hook, report", "report", qemu_hook, bus_address, config, "db 1", "started", xml, -1, TRUE },
        { "hook, migrate echo + report", "migrate_echo", qemu_hook, bus_address, config, "db 1", "migrate", xml, -1,
          TRUE },
        { "hook, no bus listening", "no_bus", qemu_hook, nowhere, config, "db 1", "started", xml, -1, FALSE },
    };
    const gsize count = G_N_ELEMENTS(scenarios);
    guint reports = 0, expected_reports = 0;
    hook_bench_run(scenarios, count, calls, dir, receiver, &reports, &expected_reports);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    g_print("hook-cost: %u calls per scenario quiet and %u under load, wall time per call (spawn to reaped,\n"
            "stdout at EOF), %d-byte domain XML on stdin, private dbus-daemon with a receiver;\n"
            "load: %ld busy processes (one per online CPU), a memory sweeper and a file writer\n\n",
            calls, calls, XML_BYTES, cpus);
    BenchJson json = bench_json_begin("hook-cost");
    bench_json_number(&json, "calls", calls);
    bench_json_number(&json, "cpus", (double) cpus);
    hook_bench_print(scenarios, count, 0, &json);
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
