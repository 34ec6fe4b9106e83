/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster reserve as a pure function: N = 0, 1, 2 and beyond the cluster,
 * exact-fit edges, placement's constraints, the same answer seen from every host, bad
 * input, and random small clusters checked against a brute force over every assignment. */
#include "config.h"
#include "ferry-error.h"
#include "reserve.h"
#include "scratch.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define GIB (1024 * 1024) /* in KiB */
#define MAX_HOSTS 16
#define MAX_DOMS 160

/* ------------------------------------------------------------------ a cluster */

typedef struct {
    const char *name;
    guint64 total_kib, free_kib;
    guint cpus;
    gboolean maintenance, unreachable;
} Host;

typedef struct {
    char name[32];
    guint host;
    guint64 memory_kib;
    guint vcpus;
    FerryPolicy *policy;
} Dom;

typedef struct {
    Host hosts[MAX_HOSTS];
    guint n_hosts;
    Dom doms[MAX_DOMS];
    guint n_doms;
    guint reserve;
    double memory_ratio, vcpu_ratio;
} Cluster;

static const char *const host_names[MAX_HOSTS] = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta",
                                                  "eta", "theta", "iota", "kappa", "lambda", "mu",
                                                  "nu", "xi", "omicron", "pi" };

static Cluster *cluster_new(guint n_hosts, guint64 free_kib, guint cpus)
{
    Cluster *c = g_new0(Cluster, 1);
    c->n_hosts = n_hosts;
    for (guint h = 0; h < n_hosts; h++)
        c->hosts[h] = (Host){ host_names[h], 64ULL * GIB, free_kib, cpus, FALSE, FALSE };
    c->reserve = 1;
    c->memory_ratio = 1.0;
    c->vcpu_ratio = 1.0;
    return c;
}

static void cluster_free(Cluster *c)
{
    for (guint d = 0; d < c->n_doms; d++)
        ferry_policy_free(c->doms[d].policy);
    g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Cluster, cluster_free)

/* A running domain on host @h; its policy for the test to fill in. */
static FerryPolicy *run(Cluster *c, guint h, const char *name, guint64 memory_kib, guint vcpus)
{
    g_assert_cmpuint(c->n_doms, <, MAX_DOMS);
    Dom *d = &c->doms[c->n_doms++];
    g_strlcpy(d->name, name, sizeof(d->name));
    d->host = h;
    d->memory_kib = memory_kib;
    d->vcpus = vcpus;
    d->policy = ferry_policy_new();
    return d->policy;
}

static void set_pin(FerryPolicy *p, const char *host)
{
    g_strfreev(p->pin);
    p->pin = g_new0(char *, 2);
    p->pin[0] = g_strdup(host);
}

/* What host @here's snapshot holds: its own domains (plus a stopped one, which must not
 * count), its peers and their running domains (unreachable peers: nothing). */
typedef struct {
    FerryPlaceInput in;
    FerryPlacePeer here;
    FerryPlacePeer peers[MAX_HOSTS];
    FerryPlaceDomain domains[MAX_DOMS + 1];
    FerryPlaceResident residents[MAX_DOMS];
    const FerryPolicy *resident_policies[MAX_DOMS];
    FerryReserveInput reserve;
} View;

static FerryPlacePeer node_of(const Host *h)
{
    return (FerryPlacePeer){ h->name, h->total_kib, h->free_kib, h->cpus, h->maintenance, !h->unreachable };
}

static View *view_of(const Cluster *c, guint here)
{
    View *v = g_new0(View, 1);
    v->in.source = c->hosts[here].name;
    v->here = node_of(&c->hosts[here]);
    for (guint h = 0; h < c->n_hosts; h++)
        if (h != here)
            v->peers[v->in.n_peers++] = node_of(&c->hosts[h]);
    for (guint i = 0; i < c->n_doms; i++) {
        const Dom *d = &c->doms[i];
        if (d->host == here) {
            v->domains[v->in.n_domains++] = (FerryPlaceDomain){ d->name, NULL, TRUE, d->memory_kib, d->vcpus,
                                                                d->policy, FALSE, FALSE };
        } else if (!c->hosts[d->host].unreachable) {
            v->resident_policies[v->in.n_residents] = d->policy;
            v->residents[v->in.n_residents++] = (FerryPlaceResident){ d->name, c->hosts[d->host].name,
                                                                      d->memory_kib, d->vcpus, d->policy->eq,
                                                                      d->policy->ne };
        }
    }
    /* A stopped domain here needs nothing. */
    v->domains[v->in.n_domains++] = (FerryPlaceDomain){ "stopped-here", NULL, FALSE, 1000ULL * GIB, 99, NULL,
                                                        FALSE, FALSE };
    v->in.peers = v->peers;
    v->in.domains = v->domains;
    v->in.residents = v->residents;
    v->reserve = (FerryReserveInput){ &v->in, &v->here, v->resident_policies, c->reserve, c->memory_ratio,
                                      c->vcpu_ratio };
    return v;
}

static void check(const Cluster *c, guint here, FerryReserveResult *r)
{
    g_autofree View *v = view_of(c, here);
    g_autoptr(GError) error = NULL;
    memset(r, 0, sizeof(*r));
    g_assert_true(ferry_reserve_check(&v->reserve, r, &error));
    g_assert_no_error(error);
    g_assert_nonnull(r->reason);
}

static char *joined(GStrv v)
{
    return v ? g_strjoinv(",", v) : g_strdup("");
}

/* Overcommitted (with the first failing hosts, "a,b") or not (@failed NULL). */
static void assert_reserve(const Cluster *c, const char *failed)
{
    g_auto(FerryReserveResult) r;
    check(c, 0, &r);
    g_autofree char *got = joined(r.failed);
    if (r.overcommitted != (failed != NULL) || (failed && g_strcmp0(got, failed)))
        g_error("expected %s%s, got %s (%s): %s", failed ? "overcommitted by " : "fits", failed ? failed : "",
                r.overcommitted ? "overcommitted" : "fits", got, r.reason);
}

static void assert_reason_has(const Cluster *c, const char *needle)
{
    g_auto(FerryReserveResult) r;
    check(c, 0, &r);
    if (!strstr(r.reason, needle))
        g_error("'%s' does not say '%s'", r.reason, needle);
}

/* ------------------------------------------------------------------ N */

static void test_zero(void)
{
    g_autoptr(Cluster) c = cluster_new(2, 0, 1);
    run(c, 0, "a", 8 * GIB, 8);
    run(c, 1, "b", 8 * GIB, 8);
    c->reserve = 0;
    g_auto(FerryReserveResult) r;
    check(c, 0, &r);
    g_assert_false(r.overcommitted);
    g_assert_null(r.failed);
    g_assert_cmpuint(r.combinations, ==, 0);
}

static void test_one(void)
{
    /* Three hosts of 2 GiB free: gamma's guests move to alpha and beta while they fit. */
    g_autoptr(Cluster) c = cluster_new(3, 2 * GIB, 8);
    c->vcpu_ratio = 4.0;
    run(c, 2, "g1", 2 * GIB, 1);
    assert_reserve(c, NULL);
    run(c, 2, "g2", 2 * GIB, 1);
    assert_reserve(c, NULL);
    run(c, 2, "g3", 2 * GIB, 1);
    assert_reserve(c, "gamma");
    assert_reason_has(c, "if gamma fails: ");
    assert_reason_has(c, "finds no place (alpha: 0 MiB free, needs 2 GiB; beta: 0 MiB free, needs 2 GiB)");
    g_auto(FerryReserveResult) r;
    check(c, 0, &r);
    g_assert_cmpuint(r.combinations, ==, 3); /* alpha, beta fit; gamma is the first that does not */
}

static void test_two(void)
{
    g_autoptr(Cluster) c = cluster_new(4, 3 * GIB + GIB / 2, 8);
    run(c, 0, "a1", 2 * GIB, 1);
    run(c, 1, "b1", 2 * GIB, 1);
    run(c, 2, "g1", 2 * GIB, 1);
    run(c, 3, "d1", 2 * GIB, 1);
    c->reserve = 1;
    assert_reserve(c, NULL);
    c->reserve = 2; /* two of 2 GiB onto two hosts with 3.5 GiB each */
    assert_reserve(c, NULL);
    run(c, 3, "d2", 2 * GIB, 1);
    /* alpha and delta: three of 2 GiB onto two hosts of 3.5 GiB (alpha and beta before: fit) */
    assert_reserve(c, "alpha,delta");
    assert_reason_has(c, "if alpha and delta fail: ");
    c->reserve = 1;
    assert_reserve(c, NULL);
}

static void test_beyond_cluster(void)
{
    g_autoptr(Cluster) c = cluster_new(2, 64 * GIB, 64);
    c->reserve = 2;
    assert_reserve(c, NULL); /* nothing runs: nothing to lose */
    c->reserve = 5;
    assert_reserve(c, NULL);
    run(c, 1, "b1", GIB, 1);
    assert_reserve(c, "alpha,beta");
    assert_reason_has(c, "no host would be left for the 1 running domain");
}

/* ------------------------------------------------------------------ exact fits */

static void test_memory_edge(void)
{
    g_autoptr(Cluster) c = cluster_new(2, 3 * GIB, 8);
    run(c, 1, "b1", 3 * GIB, 1);
    assert_reserve(c, NULL); /* exactly what alpha has free */
    c->doms[0].memory_kib = 3 * GIB + 1;
    assert_reserve(c, "beta");
    /* The ratio: free + total * (ratio - 1); 64 GiB total * 1/64 = 1 GiB more. */
    c->memory_ratio = 1.0 + 1.0 / 64;
    assert_reserve(c, NULL);
    c->doms[0].memory_kib = 4 * GIB + 1;
    assert_reserve(c, "beta");
}

static void test_vcpu_edge(void)
{
    /* 2 CPUs * 1.5 = 3 vCPUs per host, counting what already runs there. */
    g_autoptr(Cluster) c = cluster_new(2, 64 * GIB, 2);
    c->vcpu_ratio = 1.5;
    c->hosts[1].cpus = 4; /* beta takes 6 */
    run(c, 0, "a1", GIB, 1);
    run(c, 1, "b1", GIB, 2);
    assert_reserve(c, NULL);
    c->doms[1].vcpus = 3;
    assert_reserve(c, "beta");
    assert_reason_has(c, "2 vCPUs free, needs 3");
}

/* ------------------------------------------------------------------ constraints */

static void test_pin(void)
{
    g_autoptr(Cluster) c = cluster_new(3, 2 * GIB, 8);
    run(c, 0, "a1", 2 * GIB, 1);        /* alpha full if it takes anything */
    FerryPolicy *p = run(c, 2, "g1", 2 * GIB, 1);
    assert_reserve(c, NULL);
    set_pin(p, "beta");
    assert_reserve(c, NULL);
    /* Pinned to gamma only: when gamma fails, it has no place. */
    set_pin(p, "gamma");
    assert_reserve(c, "gamma");
    assert_reason_has(c, "not in its pin list");
    /* Pinned to a host the cluster does not know: no place either, and no error. */
    set_pin(p, "nowhere");
    assert_reserve(c, "gamma");
}

static void test_ne(void)
{
    g_autoptr(Cluster) c = cluster_new(3, 8 * GIB, 8);
    run(c, 2, "g1", GIB, 1)->ne = g_strdup("web");
    run(c, 2, "g2", GIB, 1)->ne = g_strdup("web");
    assert_reserve(c, NULL); /* one to alpha, one to beta */
    run(c, 0, "a1", GIB, 1)->ne = g_strdup("web");
    /* alpha already runs a member: both would have to go to beta (a1 itself fits on beta). */
    assert_reserve(c, "gamma");
    assert_reason_has(c, "alpha: a member of its ne group 'web' is there");
}

static void test_eq(void)
{
    g_autoptr(Cluster) c = cluster_new(3, 3 * GIB, 8);
    run(c, 2, "g1", 2 * GIB, 1)->eq = g_strdup("db");
    run(c, 2, "g2", 2 * GIB, 1)->eq = g_strdup("db");
    /* 4 GiB together, no host has more than 3 GiB free: apart they would fit. */
    assert_reserve(c, "gamma");
    c->hosts[1].free_kib = 4 * GIB;
    assert_reserve(c, NULL);
    /* A member already running on alpha binds them to alpha, which has 3 GiB free. */
    run(c, 0, "a1", GIB, 1)->eq = g_strdup("db");
    assert_reserve(c, "gamma");
    assert_reason_has(c, "beta: its eq group 'db' goes to alpha");
}

static void test_targets(void)
{
    g_autoptr(Cluster) c = cluster_new(3, 4 * GIB, 8);
    run(c, 2, "g1", 3 * GIB, 1);
    run(c, 2, "g2", 3 * GIB, 1);
    assert_reserve(c, NULL);
    c->hosts[0].maintenance = TRUE;
    assert_reserve(c, "gamma");
    assert_reason_has(c, "alpha: in maintenance");
    c->hosts[0].maintenance = FALSE;
    c->hosts[1].unreachable = TRUE;
    assert_reserve(c, "gamma");
    assert_reason_has(c, "beta: unreachable");
}

static void test_live_marks_ignored(void)
{
    /* hold, no_migrate, unmanaged, maintenance and busy keep a domain on a live host; a
     * failed host's domains need a place all the same. */
    g_autoptr(Cluster) c = cluster_new(2, 2 * GIB, 8);
    FerryPolicy *p = run(c, 1, "b1", 3 * GIB, 1);
    p->hold = p->no_migrate = p->unmanaged = p->maintenance = TRUE;
    assert_reserve(c, "beta");
    /* depends names domains that are not there: no error. */
    g_strfreev(p->depends);
    p->depends = g_strsplit("b1,nothing", ",", -1);
    assert_reserve(c, "beta");
}

/* ------------------------------------------------------------------ every host agrees */

static void test_same_from_every_host(void)
{
    g_autoptr(Cluster) c = cluster_new(4, 3 * GIB, 4);
    c->reserve = 2;
    run(c, 0, "a1", 2 * GIB, 1);
    run(c, 1, "b1", 2 * GIB, 2);
    run(c, 2, "g1", GIB, 1)->ne = g_strdup("x");
    run(c, 3, "d1", GIB, 1)->ne = g_strdup("x");
    run(c, 3, "d2", 2 * GIB, 2);
    guint over = 0;
    for (c->reserve = 1; c->reserve <= 3; c->reserve++) {
        g_auto(FerryReserveResult) first;
        check(c, 0, &first);
        over += first.overcommitted;
        for (guint h = 1; h < c->n_hosts; h++) {
            g_auto(FerryReserveResult) r;
            check(c, h, &r);
            g_assert_cmpint(r.overcommitted, ==, first.overcommitted);
            g_autofree char *a = joined(first.failed), *b = joined(r.failed);
            g_assert_cmpstr(a, ==, b);
            g_assert_cmpstr(r.reason, ==, first.reason);
        }
    }
    g_assert_cmpuint(over, >, 0);
    g_assert_cmpuint(over, <, 3);
}

/* ------------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    g_autoptr(Cluster) c = cluster_new(16, 64 * GIB, 64);
    c->reserve = 6; /* C(16, 6) = 8008 */
    g_autofree View *v = view_of(c, 0);
    g_autoptr(GError) error = NULL;
    FerryReserveResult r = { 0 };
    g_assert_false(ferry_reserve_check(&v->reserve, &r, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_assert_null(r.reason);
    g_clear_error(&error);

    /* Contradicting groups: placement's own InvalidArgument. */
    g_autoptr(Cluster) d = cluster_new(3, 64 * GIB, 64);
    FerryPolicy *p = run(d, 2, "g1", GIB, 1);
    p->eq = g_strdup("e");
    p->ne = g_strdup("n");
    p = run(d, 2, "g2", GIB, 1);
    p->eq = g_strdup("e");
    p->ne = g_strdup("n");
    g_autofree View *w = view_of(d, 0);
    g_assert_false(ferry_reserve_check(&w->reserve, &r, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_assert_null(r.reason);
}

/* ------------------------------------------------------------------ brute force */

typedef struct {
    const Cluster *c;
    const gboolean *failed;
    guint doms[MAX_DOMS]; /* the failed hosts' domains */
    guint n;
    int assign[MAX_DOMS];
    gint64 mem_left[MAX_HOSTS], vcpu_left[MAX_HOSTS];
} Brute;

static gboolean target_ok(const Brute *b, const Dom *d, guint h)
{
    const Host *host = &b->c->hosts[h];
    if (b->failed[h] || host->unreachable || host->maintenance)
        return FALSE;
    gboolean any_pin = FALSE, pinned = FALSE;
    for (guint i = 0; d->policy->pin[i]; i++)
        any_pin = TRUE, pinned |= !strcmp(d->policy->pin[i], host->name);
    return !any_pin || pinned;
}

/* Every rule of placement for the assignment of b->doms[0..k) once all are placed. */
static gboolean valid(const Brute *b)
{
    const Cluster *c = b->c;
    gint64 mem[MAX_HOSTS], vcpu[MAX_HOSTS];
    memcpy(mem, b->mem_left, sizeof(mem));
    memcpy(vcpu, b->vcpu_left, sizeof(vcpu));
    for (guint i = 0; i < b->n; i++) {
        const Dom *d = &c->doms[b->doms[i]];
        guint h = (guint)b->assign[i];
        mem[h] -= (gint64)d->memory_kib;
        vcpu[h] -= d->vcpus;
        if (mem[h] < 0 || vcpu[h] < 0)
            return FALSE;
        /* ne: no other member there, running or placed. */
        if (d->policy->ne) {
            for (guint j = 0; j < c->n_doms; j++) {
                const Dom *o = &c->doms[j];
                if (j != b->doms[i] && !c->hosts[o->host].unreachable && o->policy->ne &&
                    !strcmp(o->policy->ne, d->policy->ne) && !b->failed[o->host] && o->host == h)
                    return FALSE;
            }
            for (guint k = 0; k < b->n; k++)
                if (k != i && b->assign[k] == (int)h && c->doms[b->doms[k]].policy->ne &&
                    !strcmp(c->doms[b->doms[k]].policy->ne, d->policy->ne))
                    return FALSE;
        }
        /* eq: all placed members on one host, one where the group already runs if it does. */
        if (d->policy->eq) {
            gboolean runs_somewhere = FALSE, runs_there = FALSE;
            for (guint j = 0; j < c->n_doms; j++) {
                const Dom *o = &c->doms[j];
                if (b->failed[o->host] || c->hosts[o->host].unreachable || !o->policy->eq ||
                    strcmp(o->policy->eq, d->policy->eq))
                    continue;
                runs_somewhere = TRUE;
                runs_there |= o->host == h;
            }
            if (runs_somewhere && !runs_there)
                return FALSE;
            for (guint k = 0; k < b->n; k++)
                if (c->doms[b->doms[k]].policy->eq && !strcmp(c->doms[b->doms[k]].policy->eq, d->policy->eq) &&
                    b->assign[k] != (int)h)
                    return FALSE;
        }
    }
    return TRUE;
}

static gboolean assign_from(Brute *b, guint i)
{
    if (i == b->n)
        return valid(b);
    const Dom *d = &b->c->doms[b->doms[i]];
    for (guint h = 0; h < b->c->n_hosts; h++) {
        if (!target_ok(b, d, h))
            continue;
        b->assign[i] = (int)h;
        if (assign_from(b, i + 1))
            return TRUE;
    }
    return FALSE;
}

static gboolean brute_fits(const Cluster *c, const gboolean *failed)
{
    Brute b = { .c = c, .failed = failed };
    for (guint d = 0; d < c->n_doms; d++)
        if (failed[c->doms[d].host] && !c->hosts[c->doms[d].host].unreachable)
            b.doms[b.n++] = d;
    for (guint h = 0; h < c->n_hosts; h++) {
        const Host *host = &c->hosts[h];
        b.mem_left[h] = (gint64)floor((double)host->free_kib + (double)host->total_kib * (c->memory_ratio - 1.0));
        b.vcpu_left[h] = (gint64)floor((double)host->cpus * c->vcpu_ratio + 1e-9);
        for (guint d = 0; d < c->n_doms; d++)
            if (c->doms[d].host == h)
                b.vcpu_left[h] -= c->doms[d].vcpus;
    }
    return assign_from(&b, 0);
}

/* The first combination (hosts by name, lexicographic) that does not fit, "a,b", or NULL. */
static char *brute_first_failure(const Cluster *c)
{
    guint order[MAX_HOSTS], n = c->n_hosts, k = MIN(c->reserve, n);
    for (guint h = 0; h < n; h++)
        order[h] = h;
    for (guint i = 0; i < n; i++)
        for (guint j = i + 1; j < n; j++)
            if (strcmp(c->hosts[order[j]].name, c->hosts[order[i]].name) < 0) {
                guint t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    /* Combinations in lexicographic order of positions in @order. */
    guint pick[MAX_HOSTS];
    for (guint i = 0; i < k; i++)
        pick[i] = i;
    for (;;) {
        gboolean failed[MAX_HOSTS] = { FALSE };
        for (guint i = 0; i < k; i++)
            failed[order[pick[i]]] = TRUE;
        if (!brute_fits(c, failed)) {
            g_autoptr(GStrvBuilder) names = g_strv_builder_new();
            for (guint i = 0; i < k; i++)
                g_strv_builder_add(names, c->hosts[order[pick[i]]].name);
            g_auto(GStrv) v = g_strv_builder_end(names);
            return g_strjoinv(",", v);
        }
        int i = (int)k - 1;
        while (i >= 0 && pick[i] == n - k + (guint)i)
            i--;
        if (i < 0)
            return NULL;
        pick[i]++;
        for (guint j = (guint)i + 1; j < k; j++)
            pick[j] = pick[j - 1] + 1;
    }
}

static Cluster *random_cluster(GRand *r)
{
    static const char *const names[] = { "h0", "h1", "h2", "h3" };
    guint n = (guint)g_rand_int_range(r, 2, 5);
    Cluster *c = cluster_new(n, 0, 1);
    for (guint h = 0; h < n; h++) {
        c->hosts[h] = (Host){ names[h], 8ULL * GIB, (guint64)g_rand_int_range(r, 0, 9) * GIB,
                              (guint)g_rand_int_range(r, 1, 5), g_rand_int_range(r, 0, 10) == 0,
                              h > 0 && g_rand_int_range(r, 0, 10) == 0 };
    }
    c->reserve = (guint)g_rand_int_range(r, 1, (gint32)n); /* 1 .. n-1: beyond, nothing is left */
    c->memory_ratio = g_rand_boolean(r) ? 1.0 : 1.25;
    c->vcpu_ratio = g_rand_boolean(r) ? 1.0 : 1.5;
    guint nd = (guint)g_rand_int_range(r, 0, 7);
    for (guint d = 0; d < nd; d++) {
        g_autofree char *name = g_strdup_printf("d%u", d);
        FerryPolicy *p = run(c, (guint)g_rand_int_range(r, 0, (gint32)n), name,
                             (guint64)g_rand_int_range(r, 1, 5) * GIB, (guint)g_rand_int_range(r, 1, 3));
        switch (g_rand_int_range(r, 0, 8)) {
        case 0:
            p->eq = g_strdup(g_rand_boolean(r) ? "x" : "y");
            break;
        case 1:
            p->ne = g_strdup(g_rand_boolean(r) ? "x" : "y");
            break;
        case 2:
            set_pin(p, names[g_rand_int_range(r, 0, (gint32)n)]);
            break;
        default:
            break;
        }
        p->priority = g_rand_int_range(r, 0, 2);
    }
    return c;
}

static void test_random_against_brute_force(void)
{
    guint instances = g_test_slow() ? 20000 : 3000, over = 0;
    g_autoptr(GRand) rand = g_rand_new_with_seed(20261203);
    for (guint i = 0; i < instances; i++) {
        guint seed = g_rand_int(rand);
        g_autoptr(GRand) one = g_rand_new_with_seed(seed);
        g_autoptr(Cluster) c = random_cluster(one);
        g_autofree char *expected = brute_first_failure(c);
        guint here = (guint)g_rand_int_range(one, 0, (gint32)c->n_hosts);
        if (c->hosts[here].unreachable)
            here = 0;
        g_auto(FerryReserveResult) r;
        check(c, here, &r);
        g_autofree char *got = joined(r.failed);
        over += r.overcommitted;
        if (r.overcommitted != (expected != NULL) || (expected && g_strcmp0(got, expected)))
            g_error("seed %u (seen from %s): brute force says %s, reserve says %s: %s", seed, c->hosts[here].name,
                    expected ? expected : "fits", r.overcommitted ? got : "fits", r.reason);
    }
    g_test_message("%u instances, %u overcommitted", instances, over);
    g_assert_cmpuint(over, >, instances / 10);
    g_assert_cmpuint(over, <, instances - instances / 10);
}

/* ------------------------------------------------------------------ bounded */

static void test_time(void)
{
    /* 16 hosts of 8 guests each, reserve 2: C(16, 2) = 120 placements of 16 guests on 14
     * hosts, all of which fit (the worst case: no early stop). */
    g_autoptr(Cluster) c = cluster_new(16, 24 * GIB, 16);
    c->reserve = 2;
    c->vcpu_ratio = 2.0;
    for (guint h = 0; h < 16; h++)
        for (guint i = 0; i < 8; i++) {
            g_autofree char *name = g_strdup_printf("%s-%u", host_names[h], i);
            FerryPolicy *p = run(c, h, name, GIB, 2);
            if (i == 0 && h < 4)
                p->ne = g_strdup("spread");
            if (i == 1)
                p->eq = g_strdup_printf("pair-%u", h);
            if (i == 2)
                p->eq = g_strdup_printf("pair-%u", h);
        }
    gint64 start = g_get_monotonic_time();
    g_auto(FerryReserveResult) r;
    check(c, 0, &r);
    gint64 usec = g_get_monotonic_time() - start;
    g_test_message("16 hosts x 8 domains, reserve=2: %u combinations in %.1f ms (%s)", r.combinations,
                   (double)usec / 1000.0, r.reason);
    g_assert_false(r.overcommitted);
    g_assert_cmpuint(r.combinations, ==, 120);
    g_assert_cmpint(usec, <, 10 * G_USEC_PER_SEC);

    /* reserve=3: 560 placements of 24 guests (beyond the exact search: greedy and repair). */
    c->reserve = 3;
    start = g_get_monotonic_time();
    g_auto(FerryReserveResult) r3;
    check(c, 0, &r3);
    usec = g_get_monotonic_time() - start;
    g_test_message("16 hosts x 8 domains, reserve=3: %u combinations in %.1f ms (%s)", r3.combinations,
                   (double)usec / 1000.0, r3.reason);
    g_assert_false(r3.overcommitted);
    g_assert_cmpuint(r3.combinations, ==, 560);
    g_assert_cmpint(usec, <, 10 * G_USEC_PER_SEC);
}

/* ------------------------------------------------------------------ [evacuation] reserve= */

static FerryConfig *load(const char *text, GError **error)
{
    g_autofree char *dir = scratch_dir_new("test-reserve");
    FerryConfig *config = scratch_config_load(dir, text, error);
    scratch_dir_remove(dir);
    return config;
}

static void test_config(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryConfig) unset = load("[evacuation]\nbatch=2\n", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(unset->evacuation_reserve, ==, 0);
    g_autoptr(FerryConfig) two = load("[evacuation]\nreserve=2\n", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(two->evacuation_reserve, ==, 2);
    g_autoptr(FerryConfig) zero = load("[evacuation]\nreserve=0\n", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(zero->evacuation_reserve, ==, 0);
    for (guint i = 0; i < 3; i++) {
        static const char *const bad[] = { "reserve=-1", "reserve=two", "reserve=70000" };
        g_autofree char *text = g_strdup_printf("[evacuation]\n%s\n", bad[i]);
        g_autoptr(FerryConfig) config = load(text, &error);
        g_assert_null(config);
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(error->message, "reserve="));
        g_clear_error(&error);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/reserve/zero", test_zero);
    g_test_add_func("/reserve/one", test_one);
    g_test_add_func("/reserve/two", test_two);
    g_test_add_func("/reserve/beyond-cluster", test_beyond_cluster);
    g_test_add_func("/reserve/memory-edge", test_memory_edge);
    g_test_add_func("/reserve/vcpu-edge", test_vcpu_edge);
    g_test_add_func("/reserve/pin", test_pin);
    g_test_add_func("/reserve/ne", test_ne);
    g_test_add_func("/reserve/eq", test_eq);
    g_test_add_func("/reserve/targets", test_targets);
    g_test_add_func("/reserve/live-marks-ignored", test_live_marks_ignored);
    g_test_add_func("/reserve/same-from-every-host", test_same_from_every_host);
    g_test_add_func("/reserve/bad-input", test_bad_input);
    g_test_add_func("/reserve/random-against-brute-force", test_random_against_brute_force);
    g_test_add_func("/reserve/time", test_time);
    g_test_add_func("/reserve/config", test_config);
    return g_test_run();
}
