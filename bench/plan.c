/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plan: the placement behind PlanEvacuation over a synthetic snapshot of 1000 domains on
 * 16 peers with constraints, against a first-fit baseline implemented here.
 *
 * The snapshot (seeded, the same every run): 16 peers of 256 GiB with 60-100 GiB free,
 * 96 CPUs (vCPU ratio 4) and 20 domains running on each (some in eq and ne groups); one
 * peer in maintenance, one unreachable, one excluded; 1000 domains of 0.5-2 GiB and 1-4
 * vCPUs, more memory than the peers have free, with priorities 0-3, 40 eq and 20 ne
 * groups, pins to 2 peers, a few held, busy and stopped (`all` set), and 10% of the
 * (domain, peer) pairs without shared storage (methods: migration, storage-migration).
 *
 * First fit: the domains in inventory order, each to the first peer (by name) where every
 * rule holds, the rules being the same: it is what a shell loop that asks each peer in
 * turn would do. Also first fit over the domains sorted by priority (then inventory). The numbers: time per plan (goal under 50 ms), domains placed by each,
 * and per priority, then one JSON line (bench-json.h). A benchmark, not a test: it prints
 * numbers and ratios and judges nothing.
 *
 *   bench/plan [ROUNDS]     (default 20 plans timed; the median is reported)
 */
#include "bench-json.h"
#include "placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_PEERS 16
#define N_DOMAINS 1000
#define RESIDENTS_PER_PEER 20
#define N_PRIORITIES 4
#define GIB (1024ULL * 1024)

typedef struct {
    FerryPlacePeer peers[N_PEERS];
    FerryPlaceDomain domains[N_DOMAINS];
    FerryPlaceResident residents[N_PEERS * RESIDENTS_PER_PEER];
    FerryPlaceAccess *access;
    FerryPolicy *policies[N_DOMAINS];
    GPtrArray *strings;
    FerryMethod methods[2];
    const char *exclude[2];
    FerryPlaceInput in;
} Snapshot;

static const char *keep(Snapshot *s, char *string)
{
    g_ptr_array_add(s->strings, string);
    return string;
}

static void build(Snapshot *s)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(1000);
    s->strings = g_ptr_array_new_with_free_func(g_free);
    for (guint p = 0; p < N_PEERS; p++) {
        s->peers[p] = (FerryPlacePeer){ keep(s, g_strdup_printf("peer%02u", p)), 256 * GIB,
                                        (guint64) g_rand_int_range(rand, 60, 101) * GIB, 96, FALSE, TRUE };
        for (guint r = 0; r < RESIDENTS_PER_PEER; r++) {
            guint k = r % 10;
            s->residents[p * RESIDENTS_PER_PEER + r] = (FerryPlaceResident){
                keep(s, g_strdup_printf("peer%02u-vm%02u", p, r)), s->peers[p].name, 4 * GIB,
                (guint) g_rand_int_range(rand, 1, 9),
                k == 0 ? keep(s, g_strdup_printf("eq%02u", p)) : NULL, /* eq groups that already run there */
                k == 1 ? keep(s, g_strdup_printf("ne%02u", (p + r) % 20)) : NULL };
        }
    }
    s->peers[3].maintenance = TRUE;
    s->peers[7].reachable = FALSE;
    s->exclude[0] = s->peers[11].name;
    s->exclude[1] = NULL;

    for (guint d = 0; d < N_DOMAINS; d++) {
        FerryPolicy *policy = s->policies[d] = ferry_policy_new();
        guint k = (guint) g_rand_int_range(rand, 0, 100);
        policy->priority = g_rand_int_range(rand, 0, N_PRIORITIES);
        policy->hold = k < 3;
        if (k >= 3 && k < 13)
            policy->eq = g_strdup_printf("eq%02u", d % 40); /* 40 groups; eq00..eq15 also run on peers */
        if (k >= 13 && k < 23)
            policy->ne = g_strdup_printf("ne%02u", d % 20);
        if (k >= 23 && k < 28) {
            g_strfreev(policy->pin);
            policy->pin = g_new0(char *, 3);
            policy->pin[0] = g_strdup(s->peers[d % N_PEERS].name);
            policy->pin[1] = g_strdup(s->peers[(d * 7 + 3) % N_PEERS].name);
        }
        s->domains[d] = (FerryPlaceDomain){ keep(s, g_strdup_printf("vm%04u", d)), NULL, k < 95 || k >= 97,
                                            (guint64) g_rand_int_range(rand, 2, 9) * GIB / 4,
                                            (guint) g_rand_int_range(rand, 1, 5), policy, FALSE, k == 98 || k == 99 };
    }
    s->access = g_new(FerryPlaceAccess, N_DOMAINS * N_PEERS);
    for (guint i = 0; i < N_DOMAINS * N_PEERS; i++)
        s->access[i] = (FerryPlaceAccess){ .storage_shared = g_rand_int_range(rand, 0, 10) != 0,
                                           .copy_space = g_rand_boolean(rand), .cpu_live = TRUE, .cpu_boot = TRUE,
                                           .network = TRUE };
    s->methods[0] = FERRY_METHOD_MIGRATION;
    s->methods[1] = FERRY_METHOD_STORAGE_MIGRATION;
    s->in = (FerryPlaceInput){ .source = "alpha", .peers = s->peers, .n_peers = N_PEERS, .domains = s->domains,
                               .n_domains = N_DOMAINS, .residents = s->residents,
                               .n_residents = N_PEERS * RESIDENTS_PER_PEER, .access = s->access,
                               .methods = s->methods, .n_methods = 2, .memory_ratio = 1.0, .vcpu_ratio = 4.0,
                               .exclude = s->exclude, .all = TRUE };
}

/* ------------------------------------------------------------------ first fit */

typedef struct {
    gint64 mem[N_PEERS], vcpus[N_PEERS];
    GHashTable *eq_host;   /* group -> peer + 1 */
    GHashTable *ne_there;  /* "group\x1fpeer" */
} FirstFit;

static gboolean ff_candidate(const Snapshot *s, const FerryPlaceDomain *d)
{
    return !d->policy->hold && !d->policy->unmanaged && !d->maintenance && !d->busy && !d->policy->no_migrate &&
           (d->running || s->in.all);
}

static gboolean ff_static(const Snapshot *s, guint d, guint p)
{
    const FerryPlacePeer *peer = &s->peers[p];
    if (peer->maintenance || !peer->reachable || !strcmp(peer->name, s->exclude[0]))
        return FALSE;
    if (s->domains[d].policy->pin[0] &&
        !g_strv_contains((const char *const *) s->domains[d].policy->pin, peer->name))
        return FALSE;
    const FerryPlaceAccess *a = &s->access[d * N_PEERS + p];
    return a->storage_shared || a->copy_space; /* migration or storage-migration */
}

/* @order: the domains in the order first fit takes them. */
static guint first_fit(const Snapshot *s, const guint *order, guint *per_priority)
{
    FirstFit ff;
    ff.eq_host = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ff.ne_there = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint p = 0; p < N_PEERS; p++) {
        ff.mem[p] = (gint64) s->peers[p].memory_free_kib;
        ff.vcpus[p] = (gint64) (s->peers[p].cpus * s->in.vcpu_ratio);
    }
    for (guint r = 0; r < s->in.n_residents; r++) {
        const FerryPlaceResident *res = &s->residents[r];
        guint p = (guint) (res - s->residents) / RESIDENTS_PER_PEER;
        ff.vcpus[p] -= res->vcpus;
        if (res->eq)
            g_hash_table_insert(ff.eq_host, g_strdup(res->eq), GUINT_TO_POINTER(p + 1));
        if (res->ne)
            g_hash_table_add(ff.ne_there, g_strdup_printf("%s\x1f%u", res->ne, p));
    }
    guint placed = 0;
    for (guint i = 0; i < N_DOMAINS; i++) {
        guint d = order[i];
        const FerryPlaceDomain *dom = &s->domains[d];
        if (!ff_candidate(s, dom))
            continue;
        gint64 mem = dom->running ? (gint64) dom->memory_kib : 0, vcpus = dom->running ? dom->vcpus : 0;
        guint eq_host = dom->policy->eq ? GPOINTER_TO_UINT(g_hash_table_lookup(ff.eq_host, dom->policy->eq)) : 0;
        for (guint p = 0; p < N_PEERS; p++) {
            g_autofree char *ne_key = dom->policy->ne ? g_strdup_printf("%s\x1f%u", dom->policy->ne, p) : NULL;
            if (!ff_static(s, d, p) || (eq_host && eq_host != p + 1) ||
                (ne_key && g_hash_table_contains(ff.ne_there, ne_key)) || (mem && ff.mem[p] < mem) ||
                (vcpus && ff.vcpus[p] < vcpus))
                continue;
            ff.mem[p] -= mem;
            ff.vcpus[p] -= vcpus;
            if (dom->policy->eq && !eq_host)
                g_hash_table_insert(ff.eq_host, g_strdup(dom->policy->eq), GUINT_TO_POINTER(p + 1));
            if (ne_key)
                g_hash_table_add(ff.ne_there, g_steal_pointer(&ne_key));
            placed++;
            per_priority[dom->policy->priority]++;
            break;
        }
    }
    g_hash_table_unref(ff.eq_host);
    g_hash_table_unref(ff.ne_there);
    return placed;
}

/* ------------------------------------------------------------------ measuring */

static const Snapshot *sorting;

static int by_priority(const void *a, const void *b)
{
    int x = sorting->domains[*(const guint *) a].policy->priority;
    int y = sorting->domains[*(const guint *) b].policy->priority;
    return x != y ? y - x : (int) *(const guint *) a - (int) *(const guint *) b;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static guint count_moves(GPtrArray *rows, const Snapshot *s, guint *per_priority)
{
    guint placed = 0;
    for (guint i = 0; i < rows->len; i++) {
        const FerryPlacement *row = rows->pdata[i];
        if (row->verdict != FERRY_VERDICT_MOVE)
            continue;
        placed++;
        guint d = (guint) atoi(row->domain + 2);
        per_priority[s->domains[d].policy->priority]++;
    }
    return placed;
}

int main(int argc, char **argv)
{
    guint rounds = argc > 1 ? (guint) atoi(argv[1]) : 20;
    if (rounds == 0)
        rounds = 20;
    Snapshot s = { 0 };
    build(&s);

    g_autofree double *plan_s = g_new(double, rounds);
    g_autofree double *ff_s = g_new(double, rounds);
    guint placed = 0, ff_placed = 0, candidates = 0;
    guint per[N_PRIORITIES] = { 0 }, ff_per[N_PRIORITIES] = { 0 }, ffp_per[N_PRIORITIES] = { 0 };
    guint inventory[N_DOMAINS], prioritized[N_DOMAINS];
    for (guint d = 0; d < N_DOMAINS; d++)
        inventory[d] = prioritized[d] = d;
    sorting = &s;
    qsort(prioritized, N_DOMAINS, sizeof(guint), by_priority);
    guint ffp_placed = first_fit(&s, prioritized, ffp_per);
    for (guint d = 0; d < N_DOMAINS; d++)
        candidates += ff_candidate(&s, &s.domains[d]);
    for (guint r = 0; r < rounds; r++) {
        g_autoptr(GError) error = NULL;
        double start = now();
        g_autoptr(GPtrArray) rows = ferry_place(&s.in, &error);
        plan_s[r] = now() - start;
        if (!rows) {
            g_printerr("plan: %s\n", error->message);
            return 1;
        }
        memset(per, 0, sizeof(per));
        placed = count_moves(rows, &s, per);

        memset(ff_per, 0, sizeof(ff_per));
        start = now();
        ff_placed = first_fit(&s, inventory, ff_per);
        ff_s[r] = now() - start;
    }
    qsort(plan_s, rounds, sizeof(double), compare_doubles);
    qsort(ff_s, rounds, sizeof(double), compare_doubles);
    double plan_ms = plan_s[rounds / 2] * 1e3, ff_ms = ff_s[rounds / 2] * 1e3;

    printf("snapshot: %u domains (%u to place), %u peers (1 in maintenance, 1 unreachable, 1 excluded), "
           "%u running on peers\n", N_DOMAINS, candidates, N_PEERS, N_PEERS * RESIDENTS_PER_PEER);
    printf("plan time, median of %u:      %8.2f ms  (goal < 50 ms; max %.2f ms)\n", rounds, plan_ms,
           plan_s[rounds - 1] * 1e3);
    printf("first-fit time, median:       %8.2f ms\n", ff_ms);
    printf("placed by the plan:           %8u\n", placed);
    printf("placed by first fit:          %8u\n", ff_placed);
    printf("placed by first fit, by prio: %8u  (the domains sorted by priority first)\n", ffp_placed);
    for (int p = N_PRIORITIES - 1; p >= 0; p--)
        printf("  priority %d: plan %4u, first fit %4u, by priority %4u\n", p, per[p], ff_per[p], ffp_per[p]);
    printf("ratio placed plan/first-fit:  %8.3f\n", ff_placed ? (double) placed / ff_placed : 0.0);
    printf("ratio placed plan/first-fit by priority: %.3f\n", ffp_placed ? (double) placed / ffp_placed : 0.0);
    printf("ratio time plan/first-fit:    %8.1f\n", ff_ms > 0 ? plan_ms / ff_ms : 0.0);
    fflush(stdout);

    BenchJson json = bench_json_begin("plan");
    bench_json_number(&json, "domains", N_DOMAINS);
    bench_json_number(&json, "candidates", candidates);
    bench_json_number(&json, "peers", N_PEERS);
    bench_json_number(&json, "rounds", rounds);
    bench_json_number(&json, "plan_median_ms", plan_ms);
    bench_json_number(&json, "plan_max_ms", plan_s[rounds - 1] * 1e3);
    bench_json_number(&json, "first_fit_median_ms", ff_ms);
    bench_json_number(&json, "placed_plan", placed);
    bench_json_number(&json, "placed_first_fit", ff_placed);
    bench_json_number(&json, "placed_first_fit_by_priority", ffp_placed);
    for (int p = N_PRIORITIES - 1; p >= 0; p--) {
        g_autofree char *plan_key = g_strdup_printf("placed_plan_priority_%d", p);
        g_autofree char *ff_key = g_strdup_printf("placed_first_fit_priority_%d", p);
        bench_json_number(&json, plan_key, per[p]);
        bench_json_number(&json, ff_key, ff_per[p]);
    }
    bench_json_number(&json, "ratio_placed_first_fit", ff_placed ? (double) placed / ff_placed : NAN);
    bench_json_number(&json, "ratio_placed_first_fit_by_priority", ffp_placed ? (double) placed / ffp_placed : NAN);
    bench_json_number(&json, "ratio_time_first_fit", ff_ms > 0 ? plan_ms / ff_ms : NAN);
    bench_json_end(&json);

    for (guint d = 0; d < N_DOMAINS; d++)
        ferry_policy_free(s.policies[d]);
    g_free(s.access);
    g_ptr_array_unref(s.strings);
    return 0;
}
