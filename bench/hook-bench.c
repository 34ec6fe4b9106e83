/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What bench/hook-cost and bench/hook-rewrite share (hook-bench.h). */
#define _GNU_SOURCE /* pipe2 */
#include "hook-bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Rounds per block: quiet and loaded blocks alternate. */
#define BLOCK_ROUNDS 50
/* The load runs this long before a block starts, so that the calls meet it in full swing. */
#define LOAD_WARMUP_US 100000
#define LOAD_MEMORY_BYTES (64u << 20)
#define LOAD_WRITE_BYTES (1u << 20)
#define LOAD_FILE_BLOCKS 64

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

double hook_bench_call(const HookScenario *s, double *cpu)
{
    int in[2], out[2];
    g_assert_cmpint(pipe2(in, O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);

    g_autofree char *address_env = g_strconcat("DBUS_SYSTEM_BUS_ADDRESS=", s->address, NULL);
    g_autofree char *config_env = g_strconcat("VIRT_FERRY_CONFIG=", s->config, NULL);
    char *envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", address_env, config_env, NULL };
    char *argv[] = { (char *) s->path, (char *) s->object_name, (char *) s->operation, "begin", "-", NULL };
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
    const char *data = g_bytes_get_data(s->xml, &size);
    ssize_t written = write(in[1], data, size);
    g_assert_true(written == (ssize_t) size || (written < 0 && errno == EPIPE));
    close(in[1]);

    char sink[65536];
    gsize total = 0;
    ssize_t n;
    while ((n = read(out[0], sink, sizeof sink)) != 0) {
        g_assert_true(n > 0 || errno == EINTR);
        total += n > 0 ? (gsize) n : 0;
    }
    int status;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0)
        g_assert_cmpint(errno, ==, EINTR);
    double elapsed = now() - start;
    if (cpu)
        *cpu = (double) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               (double) (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;

    close(out[0]);
    posix_spawn_file_actions_destroy(&actions);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (s->expects_output >= 0)
        g_assert_true(s->expects_output ? total > 0 : total == 0);
    return elapsed;
}

/* ------------------------------------------------------------------ the load */

/* The children run between fork and _exit only system calls and plain loops (the parent has
 * threads), and die with the benchmark. */
static void load_child_prepare(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(0);
}

static G_GNUC_NORETURN void spin(void)
{
    volatile unsigned long x = 1;
    for (;;)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
}

static G_GNUC_NORETURN void sweep_memory(void)
{
    volatile unsigned char *area =
        mmap(NULL, LOAD_MEMORY_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        _exit(1);
    for (unsigned char v = 0;; v++)
        for (size_t i = 0; i < LOAD_MEMORY_BYTES; i += 64)
            area[i] = v;
}

static G_GNUC_NORETURN void write_and_sync(const char *file)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    char *block = mmap(NULL, LOAD_WRITE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fd < 0 || block == MAP_FAILED)
        _exit(1);
    for (unsigned i = 0;; i++) {
        block[i % LOAD_WRITE_BYTES] = (char) i;
        if (pwrite(fd, block, LOAD_WRITE_BYTES, (off_t) (i % LOAD_FILE_BLOCKS) * LOAD_WRITE_BYTES) < 0)
            _exit(1);
        if (i % 8 == 7)
            fdatasync(fd);
    }
}

typedef enum { LOAD_CPU, LOAD_MEMORY, LOAD_IO } LoadKind;

static void start_child(HookLoad *load, LoadKind kind)
{
    pid_t pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        load_child_prepare();
        switch (kind) {
        case LOAD_CPU:
            spin();
        case LOAD_MEMORY:
            sweep_memory();
        case LOAD_IO:
            write_and_sync(load->file);
        }
        _exit(1);
    }
    g_array_append_val(load->pids, pid);
}

HookLoad *hook_load_start(const char *dir)
{
    HookLoad *load = g_new0(HookLoad, 1);
    load->pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    load->file = g_build_filename(dir, "load-io", NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (long i = 0; i < MAX(cpus, 1); i++)
        start_child(load, LOAD_CPU);
    start_child(load, LOAD_MEMORY);
    start_child(load, LOAD_IO);
    g_usleep(LOAD_WARMUP_US);
    return load;
}

guint hook_load_size(const HookLoad *load)
{
    return load->pids->len;
}

void hook_load_stop(HookLoad *load)
{
    for (guint i = 0; i < load->pids->len; i++)
        kill(g_array_index(load->pids, pid_t, i), SIGKILL);
    for (guint i = 0; i < load->pids->len; i++)
        while (waitpid(g_array_index(load->pids, pid_t, i), NULL, 0) < 0 && errno == EINTR)
            ;
    unlink(load->file);
    g_array_unref(load->pids);
    g_free(load->file);
    g_free(load);
}

/* ------------------------------------------------------------------ the runs */

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

void hook_bench_run(HookScenario *scenarios, gsize count, guint calls, const char *dir, HookReceiver *receiver,
                    guint *reports, guint *expected)
{
    for (gsize s = 0; s < count; s++) {
        scenarios[s].quiet = g_array_sized_new(FALSE, FALSE, sizeof(double), calls);
        scenarios[s].loaded = g_array_sized_new(FALSE, FALSE, sizeof(double), calls);
        scenarios[s].quiet_cpu = g_array_sized_new(FALSE, FALSE, sizeof(double), calls);
    }
    /* Warm the page cache and the dynamic linker's files first. */
    for (gsize s = 0; s < count; s++)
        for (int i = 0; i < 5; i++)
            hook_bench_call(&scenarios[s], NULL);
    count_reports(receiver, 500);

    *reports = *expected = 0;
    for (guint done_quiet = 0, done_loaded = 0, block = 0; done_quiet < calls || done_loaded < calls; block++) {
        gboolean loaded = block % 2 == 1;
        guint *done = loaded ? &done_loaded : &done_quiet;
        HookLoad *load = loaded && *done < calls ? hook_load_start(dir) : NULL;
        for (guint r = 0; r < BLOCK_ROUNDS && *done < calls; r++, (*done)++) {
            for (gsize s = 0; s < count; s++) {
                double cpu;
                double t = hook_bench_call(&scenarios[s], &cpu);
                g_array_append_val(loaded ? scenarios[s].loaded : scenarios[s].quiet, t);
                if (!loaded)
                    g_array_append_val(scenarios[s].quiet_cpu, cpu);
                *expected += scenarios[s].expects_report;
            }
            *reports += count_reports(receiver, 0); /* keep the receiver's pipe from filling */
        }
        if (load)
            hook_load_stop(load);
    }
    *reports += count_reports(receiver, 1000);
}

/* ------------------------------------------------------------------ the numbers */

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

typedef struct {
    double p50, p90, p99, max; /* milliseconds */
} Summary;

static double percentile(GArray *sorted, double p)
{
    guint index = (guint) (p * (sorted->len - 1) + 0.5);
    return g_array_index(sorted, double, index) * 1e3;
}

static Summary summarize(GArray *seconds)
{
    g_array_sort(seconds, compare_doubles);
    return (Summary){ percentile(seconds, 0.50), percentile(seconds, 0.90), percentile(seconds, 0.99),
                      percentile(seconds, 1.0) };
}

static void json_summary(BenchJson *json, const char *key, const char *condition, const Summary *s)
{
    const struct {
        const char *name;
        double value;
    } fields[] = { { "p50", s->p50 }, { "p90", s->p90 }, { "p99", s->p99 }, { "max", s->max } };
    for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
        g_autofree char *name = g_strdup_printf("%s_%s_%s_ms", key, condition, fields[i].name);
        bench_json_number(json, name, fields[i].value);
    }
}

void hook_bench_print(HookScenario *scenarios, gsize count, gsize base, BenchJson *json)
{
    g_autofree Summary *quiet = g_new(Summary, count);
    g_autofree Summary *loaded = g_new(Summary, count);
    for (gsize s = 0; s < count; s++) {
        quiet[s] = summarize(scenarios[s].quiet);
        loaded[s] = summarize(scenarios[s].loaded);
    }
    g_print("%-28s %-5s %8s %8s %8s %8s %10s %12s %8s\n", "scenario", "host", "p50 ms", "p90 ms", "p99 ms", "max ms",
            "p99 ratio", "p99 vs base", "CPU ms");
    for (gsize s = 0; s < count; s++) {
        const Summary *q = &quiet[s], *l = &loaded[s];
        double cpu = summarize(scenarios[s].quiet_cpu).p50;
        g_print("%-28s %-5s %8.3f %8.3f %8.3f %8.3f %10s %11.2fx %8.3f\n", scenarios[s].label, "quiet", q->p50,
                q->p90, q->p99, q->max, "", q->p99 / quiet[base].p99, cpu);
        g_autofree char *cpu_key = g_strdup_printf("%s_quiet_cpu_p50_ms", scenarios[s].key);
        bench_json_number(json, cpu_key, cpu);
        g_print("%-28s %-5s %8.3f %8.3f %8.3f %8.3f %9.2fx %11.2fx\n", "", "load", l->p50, l->p90, l->p99, l->max,
                l->p99 / q->p99, l->p99 / loaded[base].p99);
        json_summary(json, scenarios[s].key, "quiet", q);
        json_summary(json, scenarios[s].key, "load", l);
        g_autofree char *ratio = g_strdup_printf("%s_p99_load_vs_quiet", scenarios[s].key);
        bench_json_number(json, ratio, l->p99 / q->p99);
        if (s != base) {
            g_autofree char *vs_quiet = g_strdup_printf("%s_p99_vs_%s_quiet", scenarios[s].key, scenarios[base].key);
            g_autofree char *vs_load = g_strdup_printf("%s_p99_vs_%s_load", scenarios[s].key, scenarios[base].key);
            bench_json_number(json, vs_quiet, q->p99 / quiet[base].p99);
            bench_json_number(json, vs_load, l->p99 / loaded[base].p99);
        }
    }
    g_print("(p99 ratio: under load / quiet; p99 vs base: to \"%s\" on the same host state;\n"
            " CPU ms: the median user + system time of a quiet call, the hook's own work)\n",
            scenarios[base].label);
}

void hook_bench_free(HookScenario *scenarios, gsize count)
{
    for (gsize s = 0; s < count; s++) {
        g_clear_pointer(&scenarios[s].quiet, g_array_unref);
        g_clear_pointer(&scenarios[s].loaded, g_array_unref);
        g_clear_pointer(&scenarios[s].quiet_cpu, g_array_unref);
    }
}
