/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What bench/hook-cost and bench/hook-rewrite share: a hook call made the way libvirt makes
 * it, timed; the scenarios taking turns, quiet and beside a load generator; the table of
 * percentiles and the JSON line. */
#pragma once

#include "bench-json.h"
#include "hook-harness.h"

#include <sys/types.h>

typedef struct {
    const char *label; /* for the table */
    const char *key;   /* for the JSON line: <key>_quiet_p99_ms, ... */
    const char *path;  /* argv[0] */
    const char *address; /* DBUS_SYSTEM_BUS_ADDRESS */
    const char *config;  /* VIRT_FERRY_CONFIG */
    const char *object_name;
    const char *operation;
    GBytes *xml;       /* on stdin */
    int expects_output; /* 1: some stdout, 0: none, -1: either */
    gboolean expects_report;
    GArray *quiet, *loaded; /* seconds per call, wall time */
    GArray *quiet_cpu;      /* seconds per quiet call, the hook's CPU time (user + system) */
} HookScenario;

/* One call as libvirt makes it (posix_spawn, the XML on a stdin pipe, stdout read to EOF,
 * waitpid): its wall time in seconds, and its CPU time in *@cpu (NULL: not asked). */
double hook_bench_call(const HookScenario *s, double *cpu);

/* A load generator beside the calls: one busy process per online CPU, one that sweeps 64 MiB
 * of memory, one that writes and syncs a file in @dir. Each is a child of its own, stopped by
 * its PID (and killed should the benchmark die). */
typedef struct {
    GArray *pids;
    char *file;
} HookLoad;
HookLoad *hook_load_start(const char *dir);
void hook_load_stop(HookLoad *load);
/* The processes the load runs (for the text). */
guint hook_load_size(const HookLoad *load);

/* Runs @calls rounds over @scenarios (each round calls every scenario once, in turn), in
 * blocks alternating quiet and under load (started before the block, stopped after it), so
 * that drift on the machine hits both alike. Reports reaching @receiver are counted into
 * *@reports, those expected into *@expected. @dir holds the load's file. */
void hook_bench_run(HookScenario *scenarios, gsize count, guint calls, const char *dir, HookReceiver *receiver,
                    guint *reports, guint *expected);

/* The table: p50/p90/p99/max quiet and under load, their p99 ratio and each p99's ratio to
 * scenarios[@base], and the median CPU time of a quiet call (what the load competes for);
 * and the same in @json. */
void hook_bench_print(HookScenario *scenarios, gsize count, gsize base, BenchJson *json);

void hook_bench_free(HookScenario *scenarios, gsize count);
