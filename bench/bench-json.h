/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One machine-readable line per benchmark run, besides its text, so that a run can be compared
 * with the last: the same format as bench/json.sh's bench_json (the shell benchmarks'),
 *   {"bench":"<name>","date":"<UTC, ISO 8601>","commit":"<git describe, or unknown>", ...}
 * then the run's numbers. Header-only, so that every benchmark program can use it without a
 * source of its own in its build rules. */
#pragma once

#include <glib.h>
#include <math.h>
#include <stdio.h>

typedef struct {
    GString *line;
} BenchJson;

/* @s as a JSON string, quotes included. */
static inline void bench_json_append_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else if (*p == '\t')
            g_string_append(out, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf(out, "\\u%04x", *p);
        else
            g_string_append_c(out, (char) *p);
    }
    g_string_append_c(out, '"');
}

/* The commit of the tree the benchmark was built in: $BENCH_COMMIT, else `git describe` in
 * the directory above the program's own (bench/..), else "unknown". */
static inline char *bench_json_commit(void)
{
    const char *given = g_getenv("BENCH_COMMIT");
    if (given && *given)
        return g_strdup(given);
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *bench_dir = self ? g_path_get_dirname(self) : NULL;
    g_autofree char *top = bench_dir ? g_path_get_dirname(bench_dir) : NULL;
    const char *argv[] = { "git", "-C", top, "describe", "--always", "--dirty", NULL };
    g_autofree char *out = NULL;
    int status = -1;
    if (top && g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                            &out, NULL, &status, NULL) &&
        g_spawn_check_wait_status(status, NULL) && out && *g_strstrip(out))
        return g_steal_pointer(&out);
    return g_strdup("unknown");
}

static inline BenchJson bench_json_begin(const char *bench)
{
    BenchJson j = { g_string_new("{\"bench\":") };
    bench_json_append_string(j.line, bench);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *date = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
    g_autofree char *commit = bench_json_commit();
    g_string_append(j.line, ",\"date\":");
    bench_json_append_string(j.line, date);
    g_string_append(j.line, ",\"commit\":");
    bench_json_append_string(j.line, commit);
    return j;
}

static inline void bench_json_key(BenchJson *j, const char *key)
{
    g_string_append_c(j->line, ',');
    bench_json_append_string(j->line, key);
    g_string_append_c(j->line, ':');
}

/* A number; NaN and infinities (a ratio over zero) are null, which JSON can carry. */
static inline void bench_json_number(BenchJson *j, const char *key, double value)
{
    bench_json_key(j, key);
    if (isfinite(value))
        g_string_append_printf(j->line, "%.6g", value);
    else
        g_string_append(j->line, "null");
}

static inline void bench_json_string(BenchJson *j, const char *key, const char *value)
{
    bench_json_key(j, key);
    bench_json_append_string(j->line, value);
}

/* Prints the line on stdout and frees it. */
static inline void bench_json_end(BenchJson *j)
{
    g_string_append(j->line, "}\n");
    fputs(j->line->str, stdout);
    fflush(stdout);
    g_string_free(j->line, TRUE);
    j->line = NULL;
}
