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
 * The scenarios take turns, call by call, so drift on the machine hits them alike.
 * A benchmark, not a test: it prints numbers and ratios and judges nothing.
 *
 *   bench/hook-cost [CALLS]     (default 500 per scenario; HOOK_COST_CALLS works too)
 */
#define _GNU_SOURCE /* pipe2 */
#include "hook-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define XML_BYTES 8192 /* about a domain with a few devices */

/* VIRT_FERRY_CONFIG: one whose [state] dir has no network map, so that migrate is the plain
 * echo (bench/hook-rewrite measures the VLAN remapping). */
static char *config_without_map;

typedef struct {
    const char *label;
    char *path;    /* argv[0] */
    char *address; /* DBUS_SYSTEM_BUS_ADDRESS */
    const char *operation;
    gboolean expects_report;
    GArray *seconds;
} Scenario;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/* One call as libvirt makes it; returns its wall time in seconds. */
static double call_once(const Scenario *s, GBytes *xml)
{
    int in[2], out[2];
    g_assert_cmpint(pipe2(in, O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);

    g_autofree char *address_env = g_strconcat("DBUS_SYSTEM_BUS_ADDRESS=", s->address, NULL);
    g_autofree char *config_env = g_strconcat("VIRT_FERRY_CONFIG=", config_without_map, NULL);
    char *envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", address_env, config_env, NULL };
    char *argv[] = { s->path, "db 1", (char *) s->operation, "begin", "-", NULL };
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);

    double start = now();
    pid_t pid;
    g_assert_cmpint(posix_spawn(&pid, s->path, &actions, NULL, argv, envp), ==, 0);
    close(in[0]);
    close(out[1]);
    /* The XML fits the pipe's buffer: written at once, as libvirt's event loop would. */
    gsize size;
    const char *data = g_bytes_get_data(xml, &size);
    ssize_t written = write(in[1], data, size);
    g_assert_true(written == (ssize_t) size || (written < 0 && errno == EPIPE));
    close(in[1]);

    char sink[65536];
    ssize_t n;
    while ((n = read(out[0], sink, sizeof sink)) != 0)
        g_assert_true(n > 0 || errno == EINTR);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        g_assert_cmpint(errno, ==, EINTR);
    double elapsed = now() - start;

    close(out[0]);
    posix_spawn_file_actions_destroy(&actions);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return elapsed;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

static double percentile(GArray *sorted, double p)
{
    guint index = (guint) (p * (sorted->len - 1) + 0.5);
    return g_array_index(sorted, double, index);
}

static double mean(GArray *values)
{
    double sum = 0;
    for (guint i = 0; i < values->len; i++)
        sum += g_array_index(values, double, i);
    return sum / values->len;
}

/* Reports that reached the receiver so far, without waiting. */
static guint count_reports(HookReceiver *receiver, int timeout_ms)
{
    guint count = 0;
    char **report;
    while ((report = hook_receiver_next(receiver, timeout_ms))) {
        g_strfreev(report);
        count++;
    }
    return count;
}

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
    config_without_map = hook_write_config(dir, state);
    HookBus *bus = hook_bus_start(dir);
    HookReceiver *receiver = hook_receiver_start(bus->address);
    g_autofree char *qemu_hook = hook_path_for(dir, "qemu");
    g_autofree char *nowhere = g_strdup_printf("unix:path=%s/nobody-listens-here", dir);
    g_autoptr(GBytes) xml = hook_domain_xml(XML_BYTES);

    Scenario scenarios[] = {
        { "/bin/true", g_strdup("/bin/true"), g_strdup(bus->address), "started", FALSE, NULL },
        { "hook, report", g_strdup(qemu_hook), g_strdup(bus->address), "started", TRUE, NULL },
        { "hook, migrate echo + report", g_strdup(qemu_hook), g_strdup(bus->address), "migrate", TRUE, NULL },
        { "hook, no bus listening", g_strdup(qemu_hook), g_strdup(nowhere), "started", FALSE, NULL },
    };
    const gsize count = G_N_ELEMENTS(scenarios);
    guint expected_reports = 0, reports = 0;
    for (gsize s = 0; s < count; s++)
        scenarios[s].seconds = g_array_sized_new(FALSE, FALSE, sizeof(double), calls);

    /* Warm the page cache and the dynamic linker's files first. */
    for (gsize s = 0; s < count; s++)
        for (int i = 0; i < 5; i++)
            call_once(&scenarios[s], xml);
    count_reports(receiver, 500);

    for (guint i = 0; i < calls; i++) {
        for (gsize s = 0; s < count; s++) {
            double t = call_once(&scenarios[s], xml);
            g_array_append_val(scenarios[s].seconds, t);
            expected_reports += scenarios[s].expects_report;
        }
        reports += count_reports(receiver, 0); /* keep the receiver's pipe from filling */
    }
    reports += count_reports(receiver, 1000);

    g_print("hook-cost: %u calls per scenario, wall time per call (spawn to reaped, stdout at EOF),\n"
            "%d-byte domain XML on stdin, private dbus-daemon with a receiver\n\n",
            calls, XML_BYTES);
    g_print("%-30s %9s %9s %9s %11s %11s\n", "scenario", "p50 ms", "p99 ms", "mean ms", "p50 ratio", "p99 ratio");
    double base_p50 = 0, base_p99 = 0;
    for (gsize s = 0; s < count; s++) {
        GArray *t = scenarios[s].seconds;
        g_array_sort(t, compare_doubles);
        double p50 = percentile(t, 0.50), p99 = percentile(t, 0.99);
        if (s == 0)
            base_p50 = p50, base_p99 = p99;
        g_print("%-30s %9.3f %9.3f %9.3f %10.2fx %10.2fx\n", scenarios[s].label, p50 * 1e3, p99 * 1e3,
                mean(t) * 1e3, p50 / base_p50, p99 / base_p99);
    }
    g_print("\nreports received: %u of %u\n", reports, expected_reports);

    for (gsize s = 0; s < count; s++) {
        g_array_unref(scenarios[s].seconds);
        g_free(scenarios[s].path);
        g_free(scenarios[s].address);
    }
    hook_receiver_stop(receiver);
    hook_bus_stop(bus);
    hook_scratch_dir_remove(dir);
    g_free(config_without_map);
    return 0;
}
