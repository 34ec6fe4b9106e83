/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placement as a pure function: every constraint, capacity edges, bad input,
 * determinism, and random small instances checked against an exhaustive search. */
#include "ferry-error.h"
#include "placement.h"

#include <string.h>

#define GIB (1024 * 1024) /* in KiB */

/* ------------------------------------------------------------------ building snapshots */

typedef struct {
    GArray *peers;     /* FerryPlacePeer */
    GArray *domains;   /* FerryPlaceDomain */
    GArray *residents; /* FerryPlaceResident */
    GPtrArray *owned;  /* policies */
    GPtrArray *strings;
    FerryPlaceAccess *access;
    GArray *methods;
    GPtrArray *exclude;
    FerryPlaceInput in;
} Snap;

static Snap *snap_new(void)
{
    Snap *s = g_new0(Snap, 1);
    s->peers = g_array_new(FALSE, TRUE, sizeof(FerryPlacePeer));
    s->domains = g_array_new(FALSE, TRUE, sizeof(FerryPlaceDomain));
    s->residents = g_array_new(FALSE, TRUE, sizeof(FerryPlaceResident));
    s->owned = g_ptr_array_new_with_free_func((GDestroyNotify) ferry_policy_free);
    s->strings = g_ptr_array_new_with_free_func(g_free);
    s->methods = g_array_new(FALSE, TRUE, sizeof(FerryMethod));
    s->exclude = g_ptr_array_new();
    s->in.source = "alpha";
    s->in.memory_ratio = 1.0;
    s->in.vcpu_ratio = 4.0;
    FerryMethod m = FERRY_METHOD_MIGRATION;
    g_array_append_val(s->methods, m);
    return s;
}

static void snap_free(Snap *s)
{
    g_array_unref(s->peers);
    g_array_unref(s->domains);
    g_array_unref(s->residents);
    g_ptr_array_unref(s->owned);
    g_ptr_array_unref(s->strings);
    g_array_unref(s->methods);
    g_ptr_array_unref(s->exclude);
    g_free(s->access);
    g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Snap, snap_free)

/* A name that lives as long as the snapshot. */
static const char *name_of(Snap *s, const char *prefix, guint i)
{
    char *name = g_strdup_printf("%s%02u", prefix, i);
    g_ptr_array_add(s->strings, name);
    return name;
}

static FerryPlacePeer *add_peer(Snap *s, const char *name, guint64 free_kib, guint cpus)
{
    FerryPlacePeer p = { name, 64ULL * GIB, free_kib, cpus, FALSE, TRUE };
    g_array_append_val(s->peers, p);
    return &g_array_index(s->peers, FerryPlacePeer, s->peers->len - 1);
}

/* The policy of the domain just added, to be filled in by the test. */
static FerryPolicy *add_domain(Snap *s, const char *name, guint64 memory_kib, guint vcpus)
{
    FerryPolicy *policy = ferry_policy_new();
    g_ptr_array_add(s->owned, policy);
    FerryPlaceDomain d = { name, NULL, TRUE, memory_kib, vcpus, policy, FALSE, FALSE };
    g_array_append_val(s->domains, d);
    return policy;
}

static FerryPlaceDomain *last_domain(Snap *s)
{
    return &g_array_index(s->domains, FerryPlaceDomain, s->domains->len - 1);
}

static void add_resident(Snap *s, const char *name, const char *peer, guint vcpus, const char *eq, const char *ne)
{
    FerryPlaceResident r = { name, peer, GIB, vcpus, eq, ne };
    g_array_append_val(s->residents, r);
}

static void set_strv(GStrv *field, const char *first, ...)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    va_list args;
    va_start(args, first);
    for (const char *v = first; v; v = va_arg(args, const char *))
        g_strv_builder_add(b, v);
    va_end(args);
    g_strfreev(*field);
    *field = g_strv_builder_end(b);
}

static void set_methods(Snap *s, int first, ...)
{
    g_array_set_size(s->methods, 0);
    va_list args;
    va_start(args, first);
    for (int m = first; m >= 0; m = va_arg(args, int)) {
        FerryMethod method = (FerryMethod) m;
        g_array_append_val(s->methods, method);
    }
    va_end(args);
}

/* Every (domain, peer) pair fully compatible; tests then take away what they need. */
static FerryPlaceAccess *access_grid(Snap *s)
{
    g_free(s->access);
    guint n = s->domains->len * s->peers->len;
    s->access = g_new0(FerryPlaceAccess, n);
    for (guint i = 0; i < n; i++)
        s->access[i] = (FerryPlaceAccess){ .storage_shared = TRUE, .copy_space = TRUE, .cpu_live = TRUE,
                                           .cpu_boot = TRUE, .network = TRUE };
    return s->access;
}

static FerryPlaceAccess *access_at(Snap *s, guint d, guint p)
{
    return &s->access[d * s->peers->len + p];
}

static const FerryPlaceInput *snap_input(Snap *s)
{
    s->in.peers = (const FerryPlacePeer *) s->peers->data;
    s->in.n_peers = s->peers->len;
    s->in.domains = (const FerryPlaceDomain *) s->domains->data;
    s->in.n_domains = s->domains->len;
    s->in.residents = (const FerryPlaceResident *) s->residents->data;
    s->in.n_residents = s->residents->len;
    s->in.access = s->access;
    s->in.methods = (const FerryMethod *) s->methods->data;
    s->in.n_methods = s->methods->len;
    g_ptr_array_add(s->exclude, NULL);
    g_ptr_array_set_size(s->exclude, s->exclude->len - 1);
    s->in.exclude = (const char *const *) s->exclude->pdata;
    return &s->in;
}

static GPtrArray *plan(Snap *s)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *rows = ferry_place(snap_input(s), &error);
    g_assert_no_error(error);
    g_assert_nonnull(rows);
    g_assert_cmpuint(rows->len, ==, s->domains->len);
    return rows;
}

static const FerryPlacement *row_of(GPtrArray *rows, const char *domain)
{
    for (guint i = 0; i < rows->len; i++) {
        const FerryPlacement *row = rows->pdata[i];
        if (!strcmp(row->domain, domain))
            return row;
    }
    g_assert_not_reached();
}

static void assert_row(GPtrArray *rows, const char *domain, FerryVerdict verdict, const char *target)
{
    const FerryPlacement *row = row_of(rows, domain);
    g_assert_cmpstr(ferry_verdict_name(row->verdict), ==, ferry_verdict_name(verdict));
    g_assert_cmpstr(row->target, ==, target);
}

static void assert_bad(Snap *s, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = ferry_place(snap_input(s), &error);
    g_assert_null(rows);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    if (!strstr(error->message, needle))
        g_error("'%s' does not name '%s'", error->message, needle);
}

/* ------------------------------------------------------------------ verdicts */

static void test_verdicts(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 32ULL * GIB, 16);
    add_domain(s, "held", GIB, 1)->hold = TRUE;
    add_domain(s, "loose", GIB, 1)->unmanaged = TRUE;
    add_domain(s, "fixing", GIB, 1);
    last_domain(s)->maintenance = TRUE;
    add_domain(s, "saving", GIB, 1);
    last_domain(s)->busy = TRUE;
    add_domain(s, "off", GIB, 1);
    last_domain(s)->running = FALSE;
    add_domain(s, "stuck", GIB, 1)->no_migrate = TRUE;
    /* D4's order: hold before busy. */
    add_domain(s, "held-busy", GIB, 1)->hold = TRUE;
    last_domain(s)->busy = TRUE;
    add_domain(s, "web", GIB, 1);

    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "held", FERRY_VERDICT_HOLD, NULL);
    assert_row(rows, "loose", FERRY_VERDICT_UNMANAGED, NULL);
    assert_row(rows, "fixing", FERRY_VERDICT_MAINTENANCE, NULL);
    assert_row(rows, "saving", FERRY_VERDICT_BUSY, NULL);
    assert_row(rows, "off", FERRY_VERDICT_STOPPED, NULL);
    assert_row(rows, "stuck", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_nonnull(strstr(row_of(rows, "stuck")->reason, "no-migrate"));
    assert_row(rows, "held-busy", FERRY_VERDICT_HOLD, NULL);
    assert_row(rows, "web", FERRY_VERDICT_MOVE, "beta");
    g_assert_cmpint(row_of(rows, "web")->method, ==, FERRY_METHOD_MIGRATION);
    /* The move comes first, the rest by name. */
    g_assert_cmpstr(((FerryPlacement *) rows->pdata[0])->domain, ==, "web");
    g_assert_cmpstr(((FerryPlacement *) rows->pdata[1])->domain, ==, "fixing");

    s->in.all = TRUE;
    g_autoptr(GPtrArray) all = plan(s);
    assert_row(all, "off", FERRY_VERDICT_MOVE, "beta");
}

/* Stopped domains are moved, not started: they need no memory or vCPUs on the target. */
static void test_stopped_need_no_capacity(void)
{
    /* ...but honour ne like running ones. */
    {
        g_autoptr(Snap) s = snap_new();
        add_peer(s, "beta", 32ULL * GIB, 16);
        add_resident(s, "web0", "beta", 1, NULL, "web");
        add_domain(s, "web1", GIB, 1)->ne = g_strdup("web");
        last_domain(s)->running = FALSE;
        s->in.all = TRUE;
        g_autoptr(GPtrArray) rows = plan(s);
        assert_row(rows, "web1", FERRY_VERDICT_NO_TARGET, NULL);
    }
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", GIB / 2, 1);
    s->in.vcpu_ratio = 1.0;
    add_domain(s, "off", 8ULL * GIB, 8);
    last_domain(s)->running = FALSE;
    s->in.all = TRUE;
    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "off", FERRY_VERDICT_MOVE, "beta");
}

/* ------------------------------------------------------------------ capacity */

static void test_memory_edges(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 2ULL * GIB, 16);
    add_domain(s, "exact", 2ULL * GIB, 1);
    g_autoptr(GPtrArray) exact = plan(s);
    assert_row(exact, "exact", FERRY_VERDICT_MOVE, "beta");

    g_array_index(s->domains, FerryPlaceDomain, 0).memory_kib = 2ULL * GIB + 1;
    g_autoptr(GPtrArray) over = plan(s);
    assert_row(over, "exact", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_cmpstr(row_of(over, "exact")->reason, ==, "beta: 2 GiB free, needs 2.1 GiB");

    /* 1.25 over 64 GiB total: 16 GiB more than what is free. */
    s->in.memory_ratio = 1.25;
    g_array_index(s->domains, FerryPlaceDomain, 0).memory_kib = 18ULL * GIB;
    g_autoptr(GPtrArray) overcommit = plan(s);
    assert_row(overcommit, "exact", FERRY_VERDICT_MOVE, "beta");
    g_array_index(s->domains, FerryPlaceDomain, 0).memory_kib = 18ULL * GIB + 1;
    g_autoptr(GPtrArray) beyond = plan(s);
    assert_row(beyond, "exact", FERRY_VERDICT_NO_TARGET, NULL);

    /* Below 1: headroom kept free. */
    s->in.memory_ratio = 0.5;
    g_array_index(s->domains, FerryPlaceDomain, 0).memory_kib = 1;
    g_autoptr(GPtrArray) headroom = plan(s);
    g_assert_cmpstr(row_of(headroom, "exact")->reason, ==, "beta: 0 MiB free, needs 1 MiB");
}

/* Two domains that fit one at a time but not together. */
static void test_memory_sum(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 3ULL * GIB, 16);
    add_domain(s, "a", 2ULL * GIB, 1);
    add_domain(s, "b", 2ULL * GIB, 1);
    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "a", FERRY_VERDICT_MOVE, "beta");
    assert_row(rows, "b", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_cmpstr(row_of(rows, "b")->reason, ==, "beta: 1 GiB free, needs 2 GiB");
}

/* Eight like domains onto two like peers: four each, not eight onto the first (their
 * incoming migrations share the hosts too); a peer with more room left takes the next one. */
static void test_spread(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 16ULL * GIB, 16);
    add_peer(s, "gamma", 16ULL * GIB, 16);
    static const char *const names[] = { "ev1", "ev2", "ev3", "ev4", "ev5", "ev6", "ev7", "ev8" };
    for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
        add_domain(s, names[i], GIB, 1);
    g_autoptr(GPtrArray) rows = plan(s);
    guint on_beta = 0;
    for (guint i = 0; i < rows->len; i++) {
        const FerryPlacement *row = rows->pdata[i];
        g_assert_cmpint(row->verdict, ==, FERRY_VERDICT_MOVE);
        on_beta += !g_strcmp0(row->target, "beta");
    }
    g_assert_cmpuint(on_beta, ==, 4);

    g_autoptr(Snap) t = snap_new();
    add_peer(t, "beta", 4ULL * GIB, 16);
    add_peer(t, "gamma", 8ULL * GIB, 16);
    add_domain(t, "a", GIB, 1);
    g_autoptr(GPtrArray) one = plan(t);
    assert_row(one, "a", FERRY_VERDICT_MOVE, "gamma");
}

static void test_vcpu_ratio(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 32ULL * GIB, 4);
    add_resident(s, "busy1", "beta", 3, NULL, NULL);
    add_domain(s, "wide", GIB, 2);
    s->in.vcpu_ratio = 1.0;
    g_autoptr(GPtrArray) tight = plan(s);
    assert_row(tight, "wide", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_cmpstr(row_of(tight, "wide")->reason, ==, "beta: 1 vCPUs free, needs 2");
    s->in.vcpu_ratio = 1.25; /* 5 vCPUs: exactly enough */
    g_autoptr(GPtrArray) exact = plan(s);
    assert_row(exact, "wide", FERRY_VERDICT_MOVE, "beta");
}

/* ------------------------------------------------------------------ peers */

static void test_peers_never_targets(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "delta", 32ULL * GIB, 16)->maintenance = TRUE;
    add_peer(s, "gamma", 32ULL * GIB, 16)->reachable = FALSE;
    add_peer(s, "beta", 32ULL * GIB, 16);
    add_peer(s, "epsilon", 32ULL * GIB, 16);
    g_ptr_array_add(s->exclude, "beta");
    add_domain(s, "web", GIB, 1);
    access_grid(s);
    access_at(s, 0, 3)->storage_shared = FALSE;
    access_at(s, 0, 3)->storage_reason = "no access to /srv/shared";
    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "web", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_cmpstr(row_of(rows, "web")->reason, ==,
                    "beta: excluded; delta: in maintenance; epsilon: no access to /srv/shared; gamma: unreachable");

    g_autoptr(Snap) none = snap_new();
    add_domain(none, "web", GIB, 1);
    g_autoptr(GPtrArray) alone = plan(none);
    g_assert_cmpstr(row_of(alone, "web")->reason, ==, "alpha has no peers");
}

static void test_pin(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 32ULL * GIB, 16);
    add_peer(s, "gamma", 2ULL * GIB, 16);
    set_strv(&add_domain(s, "pinned", GIB, 1)->pin, "gamma", NULL);
    set_strv(&add_domain(s, "home", GIB, 1)->pin, "alpha", NULL);
    g_autoptr(GPtrArray) rows = plan(s);
    /* beta has more room and would win without the pin. */
    assert_row(rows, "pinned", FERRY_VERDICT_MOVE, "gamma");
    assert_row(rows, "home", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_cmpstr(row_of(rows, "home")->reason, ==, "beta: not in its pin list; gamma: not in its pin list");
}

/* ------------------------------------------------------------------ groups */

static void test_eq_together(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 3ULL * GIB, 16);
    add_peer(s, "gamma", 4ULL * GIB, 16);
    add_domain(s, "db1", 2ULL * GIB, 1)->eq = g_strdup("db");
    add_domain(s, "db2", 2ULL * GIB, 1)->eq = g_strdup("db");
    g_autoptr(GPtrArray) rows = plan(s);
    /* Only gamma holds both. */
    assert_row(rows, "db1", FERRY_VERDICT_MOVE, "gamma");
    assert_row(rows, "db2", FERRY_VERDICT_MOVE, "gamma");

    /* Neither holds both: one goes, the other does not break the group. */
    g_array_index(s->peers, FerryPlacePeer, 1).memory_free_kib = 3ULL * GIB;
    g_autoptr(GPtrArray) split = plan(s);
    assert_row(split, "db1", FERRY_VERDICT_MOVE, "beta");
    assert_row(split, "db2", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_cmpstr(row_of(split, "db2")->reason, ==, "beta: 1 GiB free, needs 2 GiB; gamma: its eq group 'db' goes to beta");
}

static void test_eq_joins_residents(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 32ULL * GIB, 16);
    add_peer(s, "gamma", 2ULL * GIB, 16);
    add_resident(s, "db0", "gamma", 1, "db", NULL);
    add_domain(s, "db1", GIB, 1)->eq = g_strdup("db");
    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "db1", FERRY_VERDICT_MOVE, "gamma");

    /* No room where the group runs: it does not go elsewhere. */
    add_domain(s, "db2", 3ULL * GIB, 1)->eq = g_strdup("db");
    g_autoptr(GPtrArray) full = plan(s);
    assert_row(full, "db1", FERRY_VERDICT_MOVE, "gamma");
    assert_row(full, "db2", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_cmpstr(row_of(full, "db2")->reason, ==, "beta: its eq group 'db' goes to gamma; gamma: 1 GiB free, needs 3 GiB");
}

/* A member that stays (held) does not bind the others: the source is being emptied. */
static void test_eq_member_left_behind(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 32ULL * GIB, 16);
    FerryPolicy *held = add_domain(s, "db1", GIB, 1);
    held->eq = g_strdup("db");
    held->hold = TRUE;
    add_domain(s, "db2", GIB, 1)->eq = g_strdup("db");
    add_domain(s, "db3", GIB, 1)->eq = g_strdup("db");
    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "db1", FERRY_VERDICT_HOLD, NULL);
    assert_row(rows, "db2", FERRY_VERDICT_MOVE, "beta");
    assert_row(rows, "db3", FERRY_VERDICT_MOVE, "beta");
}

static void test_ne_apart(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 32ULL * GIB, 16);
    add_peer(s, "gamma", 32ULL * GIB, 16);
    add_peer(s, "delta", 32ULL * GIB, 16);
    add_resident(s, "web0", "delta", 1, NULL, "web");
    add_domain(s, "web1", GIB, 1)->ne = g_strdup("web");
    add_domain(s, "web2", GIB, 1)->ne = g_strdup("web");
    add_domain(s, "web3", GIB, 1)->ne = g_strdup("web");
    g_autoptr(GPtrArray) rows = plan(s);
    const char *t1 = row_of(rows, "web1")->target, *t2 = row_of(rows, "web2")->target;
    g_assert_nonnull(t1);
    g_assert_nonnull(t2);
    g_assert_cmpstr(t1, !=, t2);
    g_assert_cmpstr(t1, !=, "delta");
    g_assert_cmpstr(t2, !=, "delta");
    assert_row(rows, "web3", FERRY_VERDICT_NO_TARGET, NULL);
    g_assert_nonnull(strstr(row_of(rows, "web3")->reason, "delta: a member of its ne group 'web' is there"));
}

/* ------------------------------------------------------------------ priority and methods */

/* Room for the big one or both small ones: priority wins over count. */
static void test_priority_over_count(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 4ULL * GIB, 16);
    add_domain(s, "big", 4ULL * GIB, 1)->priority = 10;
    add_domain(s, "small1", 2ULL * GIB, 1);
    add_domain(s, "small2", 2ULL * GIB, 1);
    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "big", FERRY_VERDICT_MOVE, "beta");
    assert_row(rows, "small1", FERRY_VERDICT_NO_TARGET, NULL);

    /* Same priority: the count wins. */
    ((FerryPolicy *) s->owned->pdata[0])->priority = 0;
    g_autoptr(GPtrArray) count = plan(s);
    assert_row(count, "big", FERRY_VERDICT_NO_TARGET, NULL);
    assert_row(count, "small1", FERRY_VERDICT_MOVE, "beta");
    assert_row(count, "small2", FERRY_VERDICT_MOVE, "beta");
}

/* Best fit by memory alone puts "mid" on beta, where "large" is the only one that fits
 * (gamma lacks the vCPUs for it): the repair step moves "mid" to gamma. Both in the exact
 * range and, with fillers pinned elsewhere, in the greedy one. */
static void test_repair_makes_room(void)
{
    for (guint filler = 0; filler <= 20; filler += 20) {
        g_autoptr(Snap) s = snap_new();
        s->in.vcpu_ratio = 1.0;
        add_peer(s, "beta", 4ULL * GIB, 64);
        add_peer(s, "gamma", 5ULL * GIB, 1);
        add_peer(s, "delta", 32ULL * GIB, 64);
        FerryPolicy *mid = add_domain(s, "mid", 3ULL * GIB, 1);
        mid->priority = 5;
        set_strv(&mid->pin, "beta", "gamma", NULL);
        FerryPolicy *large = add_domain(s, "large", 4ULL * GIB, 2);
        large->priority = 1;
        set_strv(&large->pin, "beta", "gamma", NULL);
        for (guint i = 0; i < filler; i++)
            set_strv(&add_domain(s, name_of(s, "f", i), 100 * 1024, 1)->pin, "delta", NULL);
        g_autoptr(GPtrArray) rows = plan(s);
        assert_row(rows, "mid", FERRY_VERDICT_MOVE, "gamma");
        assert_row(rows, "large", FERRY_VERDICT_MOVE, "beta");
        for (guint i = 0; i < rows->len; i++)
            g_assert_cmpint(((FerryPlacement *) rows->pdata[i])->verdict, ==, FERRY_VERDICT_MOVE);
    }
}

/* In the greedy range: a high-priority domain displaces lower ones. */
static void test_greedy_respects_priority(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 20ULL * GIB, 64);
    for (guint i = 0; i < 20; i++)
        add_domain(s, name_of(s, "low", i), GIB, 1);
    add_domain(s, "vip", 2ULL * GIB, 1)->priority = 100;
    g_autoptr(GPtrArray) rows = plan(s);
    assert_row(rows, "vip", FERRY_VERDICT_MOVE, "beta");
    g_assert_cmpstr(((FerryPlacement *) rows->pdata[0])->domain, ==, "vip");
    guint moved = 0;
    for (guint i = 0; i < rows->len; i++)
        moved += ((FerryPlacement *) rows->pdata[i])->verdict == FERRY_VERDICT_MOVE;
    g_assert_cmpuint(moved, ==, 19);
}

static void test_method_fallback(void)
{
    g_autoptr(Snap) s = snap_new();
    set_methods(s, FERRY_METHOD_MIGRATION, FERRY_METHOD_STORAGE_MIGRATION, -1);
    add_peer(s, "beta", 32ULL * GIB, 16);
    add_peer(s, "gamma", 32ULL * GIB, 16);
    add_domain(s, "web", GIB, 1);
    access_grid(s);
    access_at(s, 0, 0)->storage_shared = FALSE;
    g_autoptr(GPtrArray) rows = plan(s);
    /* The earlier method on gamma beats the later one on beta. */
    assert_row(rows, "web", FERRY_VERDICT_MOVE, "gamma");
    g_assert_cmpint(row_of(rows, "web")->method, ==, FERRY_METHOD_MIGRATION);

    /* gamma full: storage migration to beta. */
    g_array_index(s->peers, FerryPlacePeer, 1).memory_free_kib = 0;
    g_autoptr(GPtrArray) fallback = plan(s);
    assert_row(fallback, "web", FERRY_VERDICT_MOVE, "beta");
    g_assert_cmpint(row_of(fallback, "web")->method, ==, FERRY_METHOD_STORAGE_MIGRATION);
    g_assert_cmpstr(row_of(fallback, "web")->reason, ==, "migration to beta: no access to the domain's storage");
    g_assert_cmpstr(row_of(rows, "web")->reason, ==, "");

    /* A CPU that only boots there: move (cold) is the way. */
    set_methods(s, FERRY_METHOD_MIGRATION, FERRY_METHOD_MOVE, -1);
    access_at(s, 0, 0)->cpu_live = FALSE;
    access_at(s, 0, 0)->cpu_reason = "host CPU lacks avx512f";
    g_autoptr(GPtrArray) cold = plan(s);
    g_assert_cmpint(row_of(cold, "web")->method, ==, FERRY_METHOD_MOVE);

    /* Nothing works on beta: every method's reason. */
    access_at(s, 0, 0)->copy_space = FALSE;
    access_at(s, 0, 0)->copy_reason = "no room for copies in /var/lib/libvirt/images";
    g_autoptr(GPtrArray) stuck = plan(s);
    g_assert_cmpstr(row_of(stuck, "web")->reason, ==,
                    "beta: no access to the domain's storage, no room for copies in /var/lib/libvirt/images; "
                    "gamma: 0 MiB free, needs 1 GiB");

    /* Move copies disks where it must, but prefers a peer that shares them, even over a
     * tighter fit. */
    set_methods(s, FERRY_METHOD_MOVE, -1);
    access_at(s, 0, 0)->copy_space = TRUE;
    access_at(s, 0, 0)->cpu_live = TRUE;
    g_array_index(s->peers, FerryPlacePeer, 0).memory_free_kib = 2ULL * GIB;
    g_array_index(s->peers, FerryPlacePeer, 1).memory_free_kib = 32ULL * GIB;
    g_autoptr(GPtrArray) shared = plan(s);
    assert_row(shared, "web", FERRY_VERDICT_MOVE, "gamma");

    /* Networks are needed by every method. */
    set_methods(s, FERRY_METHOD_FAILOVER, -1);
    g_array_index(s->peers, FerryPlacePeer, 1).memory_free_kib = 32ULL * GIB;
    access_at(s, 0, 1)->network = FALSE;
    access_at(s, 0, 1)->network_reason = "no network 'lan' with VLAN 10";
    g_autoptr(GPtrArray) net = plan(s);
    g_assert_nonnull(strstr(row_of(net, "web")->reason, "gamma: no network 'lan' with VLAN 10"));
}

/* ------------------------------------------------------------------ move order */

static guint position(GPtrArray *rows, const char *domain)
{
    for (guint i = 0; i < rows->len; i++)
        if (!strcmp(((FerryPlacement *) rows->pdata[i])->domain, domain))
            return i;
    g_assert_not_reached();
}

static void test_move_order(void)
{
    g_autoptr(Snap) s = snap_new();
    add_peer(s, "beta", 32ULL * GIB, 16);
    add_domain(s, "db", GIB, 1)->priority = 1;
    FerryPolicy *app = add_domain(s, "app", GIB, 1);
    app->priority = 9;
    set_strv(&app->depends, "db", "elsewhere", NULL);
    add_domain(s, "cache", GIB, 1)->priority = 5;
    g_autoptr(GPtrArray) live = plan(s);
    /* Live migration restarts nothing: priority alone. */
    g_assert_cmpuint(position(live, "app"), ==, 0);
    g_assert_cmpuint(position(live, "cache"), ==, 1);
    g_assert_cmpuint(position(live, "db"), ==, 2);

    set_methods(s, FERRY_METHOD_MOVE, -1);
    g_autoptr(GPtrArray) cold = plan(s);
    g_assert_cmpuint(position(cold, "cache"), ==, 0);
    g_assert_cmpuint(position(cold, "db"), ==, 1);
    g_assert_cmpuint(position(cold, "app"), ==, 2);
}

/* ------------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    {
        g_autoptr(Snap) s = snap_new();
        add_peer(s, "beta", GIB, 1);
        set_strv(&add_domain(s, "web", GIB, 1)->pin, "beta", "omega", NULL);
        assert_bad(s, "omega");
    }
    {
        g_autoptr(Snap) s = snap_new();
        add_peer(s, "beta", GIB, 1);
        FerryPolicy *a = add_domain(s, "a", GIB, 1);
        a->eq = g_strdup("db");
        a->ne = g_strdup("web");
        FerryPolicy *b = add_domain(s, "b", GIB, 1);
        b->eq = g_strdup("db");
        b->ne = g_strdup("web");
        assert_bad(s, "'a' and 'b'");
    }
    {
        g_autoptr(Snap) s = snap_new();
        add_peer(s, "beta", GIB, 1);
        add_resident(s, "r", "beta", 1, "db", "web");
        FerryPolicy *a = add_domain(s, "a", GIB, 1);
        a->eq = g_strdup("db");
        a->ne = g_strdup("web");
        assert_bad(s, "'r' and 'a'");
    }
    {
        g_autoptr(Snap) s = snap_new();
        add_peer(s, "beta", GIB, 1);
        add_domain(s, "x", GIB, 1);
        set_strv(&add_domain(s, "a", GIB, 1)->depends, "b", NULL);
        set_strv(&add_domain(s, "b", GIB, 1)->depends, "c", NULL);
        set_strv(&add_domain(s, "c", GIB, 1)->depends, "a", NULL);
        assert_bad(s, "a -> b -> c -> a");
    }
    {
        g_autoptr(Snap) s = snap_new();
        set_strv(&add_domain(s, "self", GIB, 1)->depends, "self", NULL);
        assert_bad(s, "self -> self");
    }
    {
        g_autoptr(Snap) s = snap_new();
        add_peer(s, "beta", GIB, 1);
        g_ptr_array_add(s->exclude, "omega");
        assert_bad(s, "omega");
    }
    {
        g_autoptr(Snap) s = snap_new();
        add_peer(s, "beta", GIB, 1);
        add_peer(s, "beta", GIB, 1);
        assert_bad(s, "beta");
    }
    {
        g_autoptr(Snap) s = snap_new();
        add_domain(s, "web", GIB, 1);
        add_domain(s, "web", GIB, 1);
        assert_bad(s, "web");
    }
    {
        g_autoptr(Snap) s = snap_new();
        add_resident(s, "r", "omega", 1, NULL, NULL);
        assert_bad(s, "omega");
    }
    {
        g_autoptr(Snap) s = snap_new();
        set_methods(s, -1);
        assert_bad(s, "method");
    }
    {
        g_autoptr(Snap) s = snap_new();
        s->in.memory_ratio = 0;
        assert_bad(s, "memory");
        s->in.memory_ratio = 1;
        s->in.vcpu_ratio = -1;
        assert_bad(s, "vCPU");
    }
}

/* ------------------------------------------------------------------ determinism */

static char *rows_text(GPtrArray *rows)
{
    g_autoptr(GString) text = g_string_new(NULL);
    for (guint i = 0; i < rows->len; i++) {
        const FerryPlacement *r = rows->pdata[i];
        g_string_append_printf(text, "%s|%s|%s|%s|%s\n", r->domain, ferry_verdict_name(r->verdict),
                               r->verdict == FERRY_VERDICT_MOVE ? ferry_method_name(r->method) : "",
                               r->target ? r->target : "", r->reason);
    }
    return g_string_free(g_steal_pointer(&text), FALSE);
}

/* The same inventory in another order gives the same plan, in the greedy range too. */
static void test_deterministic(void)
{
    const char *names[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
                            "p", "q", "r", "s", "t", "u", "v", "w", "x" };
    char *first = NULL;
    for (guint round = 0; round < 4; round++) {
        g_autoptr(Snap) s = snap_new();
        const char *peer_names[] = { "beta", "gamma", "delta" };
        for (guint k = 0; k < 3; k++)
            add_peer(s, peer_names[(k + round) % 3], 5ULL * GIB, 8);
        for (guint k = 0; k < G_N_ELEMENTS(names); k++) {
            guint i = round % 2 ? G_N_ELEMENTS(names) - 1 - k : k;
            /* Equal sizes and priorities: ties everywhere. */
            FerryPolicy *p = add_domain(s, names[i], GIB, 1);
            p->ne = i % 4 == 0 ? g_strdup("web") : NULL;
            p->priority = i % 3;
        }
        g_autoptr(GPtrArray) rows = plan(s);
        g_autofree char *text = rows_text(rows);
        if (!first)
            first = g_strdup(text);
        g_assert_cmpstr(text, ==, first);
    }
    g_free(first);
}

/* ------------------------------------------------------------------ random instances */

typedef struct {
    Snap *s;
    guint np, nd;
    guint *cand;       /* domains to place */
    guint ncand;
    int *assign;
    guint64 *mem_used; /* per peer */
    gint64 *vcpu_used;
    int *levels;       /* distinct priorities, highest first */
    guint nlevels;
    guint *count, *best;
} Oracle;

/* The oracle's own reading of the rules (not the library's code). */
static int oracle_method(Snap *s, guint d, guint p)
{
    const FerryPlaceDomain *dom = &g_array_index(s->domains, FerryPlaceDomain, d);
    const FerryPlacePeer *peer = &g_array_index(s->peers, FerryPlacePeer, p);
    if (peer->maintenance || !peer->reachable || dom->policy->no_migrate)
        return -1;
    for (guint i = 0; i < s->exclude->len; i++)
        if (!strcmp(s->exclude->pdata[i], peer->name))
            return -1;
    if (dom->policy->pin[0] && !g_strv_contains((const char *const *) dom->policy->pin, peer->name))
        return -1;
    const FerryPlaceAccess *a = access_at(s, d, p);
    for (guint i = 0; i < s->methods->len; i++) {
        FerryMethod m = g_array_index(s->methods, FerryMethod, i);
        gboolean storage = m == FERRY_METHOD_MOVE || m == FERRY_METHOD_STORAGE_MIGRATION
                               ? a->storage_shared || a->copy_space
                               : a->storage_shared;
        gboolean live = dom->running &&
                        (m == FERRY_METHOD_MIGRATION || m == FERRY_METHOD_QUICK_MIGRATION ||
                         m == FERRY_METHOD_STORAGE_MIGRATION);
        if (storage && (live ? a->cpu_live : a->cpu_boot) && a->network)
            return (int) m;
    }
    return -1;
}

static gboolean candidate(Snap *s, guint d)
{
    const FerryPlaceDomain *dom = &g_array_index(s->domains, FerryPlaceDomain, d);
    return !dom->policy->hold && !dom->policy->unmanaged && !dom->maintenance && !dom->busy &&
           (dom->running || s->in.all);
}

static gint64 mem_limit(Snap *s, guint p)
{
    const FerryPlacePeer *peer = &g_array_index(s->peers, FerryPlacePeer, p);
    return (gint64) peer->memory_free_kib + (gint64) ((double) peer->memory_total_kib * (s->in.memory_ratio - 1));
}

static gint64 vcpu_limit(Snap *s, guint p)
{
    return (gint64) ((double) g_array_index(s->peers, FerryPlacePeer, p).cpus * s->in.vcpu_ratio + 1e-9);
}

/* Whether the assignment in @assign (per domain, -1 stays) keeps every rule. */
static gboolean oracle_valid(Snap *s, const int *assign)
{
    guint np = s->peers->len, nd = s->domains->len;
    for (guint p = 0; p < np; p++) {
        const char *pname = g_array_index(s->peers, FerryPlacePeer, p).name;
        gint64 mem = 0, vcpus = 0, placed_vcpus = 0;
        for (guint r = 0; r < s->residents->len; r++) {
            const FerryPlaceResident *res = &g_array_index(s->residents, FerryPlaceResident, r);
            if (!strcmp(res->peer, pname))
                vcpus += res->vcpus;
        }
        for (guint d = 0; d < nd; d++) {
            const FerryPlaceDomain *dom = &g_array_index(s->domains, FerryPlaceDomain, d);
            if (assign[d] != (int) p)
                continue;
            if (!candidate(s, d) || oracle_method(s, d, p) < 0)
                return FALSE;
            if (dom->running) {
                mem += (gint64) dom->memory_kib;
                vcpus += dom->vcpus;
                placed_vcpus += dom->vcpus;
            }
            /* ne: no other member placed here nor running here. */
            if (dom->policy->ne) {
                for (guint e = 0; e < nd; e++) {
                    const FerryPlaceDomain *other = &g_array_index(s->domains, FerryPlaceDomain, e);
                    if (e != d && assign[e] == (int) p && g_strcmp0(other->policy->ne, dom->policy->ne) == 0)
                        return FALSE;
                }
                for (guint r = 0; r < s->residents->len; r++) {
                    const FerryPlaceResident *res = &g_array_index(s->residents, FerryPlaceResident, r);
                    if (!strcmp(res->peer, pname) && g_strcmp0(res->ne, dom->policy->ne) == 0)
                        return FALSE;
                }
            }
            /* eq: every placed member here, and here is where the group runs if it runs. */
            if (dom->policy->eq) {
                for (guint e = 0; e < nd; e++) {
                    const FerryPlaceDomain *other = &g_array_index(s->domains, FerryPlaceDomain, e);
                    if (assign[e] >= 0 && assign[e] != (int) p && g_strcmp0(other->policy->eq, dom->policy->eq) == 0)
                        return FALSE;
                }
                gboolean runs = FALSE, here = FALSE;
                for (guint r = 0; r < s->residents->len; r++) {
                    const FerryPlaceResident *res = &g_array_index(s->residents, FerryPlaceResident, r);
                    if (g_strcmp0(res->eq, dom->policy->eq) == 0) {
                        runs = TRUE;
                        here |= !strcmp(res->peer, pname);
                    }
                }
                if (runs && !here)
                    return FALSE;
            }
        }
        /* What already runs there may be beyond the limits: then nothing more goes there. */
        if ((mem > 0 && mem > mem_limit(s, p)) || (placed_vcpus > 0 && vcpus > vcpu_limit(s, p)))
            return FALSE;
    }
    return TRUE;
}

static void oracle_score(Oracle *o, const int *assign, guint *count)
{
    memset(count, 0, o->nlevels * sizeof(guint));
    for (guint i = 0; i < o->ncand; i++) {
        guint d = o->cand[i];
        if (assign[d] < 0)
            continue;
        int prio = g_array_index(o->s->domains, FerryPlaceDomain, d).policy->priority;
        for (guint l = 0; l < o->nlevels; l++)
            if (o->levels[l] == prio)
                count[l]++;
    }
}

static gboolean better(const guint *a, const guint *b, guint n)
{
    for (guint i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] > b[i];
    return FALSE;
}

/* Every assignment of the candidates, pruned only where a partial one already breaks a
 * rule (rules only get harder as domains are added). */
static void oracle_search(Oracle *o, guint i)
{
    if (!oracle_valid(o->s, o->assign))
        return;
    if (i == o->ncand) {
        oracle_score(o, o->assign, o->count);
        if (better(o->count, o->best, o->nlevels))
            memcpy(o->best, o->count, o->nlevels * sizeof(guint));
        return;
    }
    guint d = o->cand[i];
    for (int p = -1; p < (int) o->np; p++) {
        o->assign[d] = p;
        oracle_search(o, i + 1);
    }
    o->assign[d] = -1;
}

static const char *const host_names[] = { "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota" };
static const char *const groups[] = { "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8" };

static Snap *random_snap(GRand *rand, guint max_peers, guint max_domains)
{
    Snap *s = snap_new();
    guint np = g_rand_int_range(rand, 1, max_peers + 1), nd = g_rand_int_range(rand, 1, max_domains + 1);
    /* Few groups for small instances (they collide), more for large ones (else every
     * instance has an eq/ne contradiction). */
    gint n_groups = max_domains > 8 ? 8 : 2;
    s->in.memory_ratio = g_rand_boolean(rand) ? 1.0 : 1.0 + g_rand_int_range(rand, 0, 3) / 32.0;
    s->in.vcpu_ratio = g_rand_int_range(rand, 2, 7) / 2.0;
    s->in.all = g_rand_boolean(rand);
    set_methods(s, -1);
    for (int m = 0; m < FERRY_METHOD_N; m++)
        if (g_rand_int_range(rand, 0, 3) == 0)
            g_array_append_val(s->methods, m);
    if (s->methods->len == 0) {
        FerryMethod m = FERRY_METHOD_MIGRATION;
        g_array_append_val(s->methods, m);
    }
    for (guint p = 0; p < np; p++) {
        FerryPlacePeer *peer = add_peer(s, host_names[p], g_rand_int_range(rand, 0, 17) * GIB / 2,
                                        g_rand_int_range(rand, 1, 9));
        peer->memory_total_kib = 16ULL * GIB;
        peer->maintenance = g_rand_int_range(rand, 0, 10) == 0;
        peer->reachable = g_rand_int_range(rand, 0, 10) != 0;
        if (g_rand_int_range(rand, 0, 12) == 0)
            g_ptr_array_add(s->exclude, (gpointer) host_names[p]);
        for (guint r = g_rand_int_range(rand, 0, 3); r > 0; r--)
            add_resident(s, "resident", host_names[p], g_rand_int_range(rand, 0, 3),
                         g_rand_int_range(rand, 0, 4) == 0 ? groups[g_rand_int_range(rand, 0, n_groups)] : NULL,
                         g_rand_int_range(rand, 0, 3) == 0 ? groups[g_rand_int_range(rand, 0, n_groups)] : NULL);
    }
    for (guint d = 0; d < nd; d++) {
        FerryPolicy *p = add_domain(s, name_of(s, "d", d), g_rand_int_range(rand, 1, 9) * GIB / 2,
                                    g_rand_int_range(rand, 1, 4));
        FerryPlaceDomain *dom = last_domain(s);
        dom->running = g_rand_int_range(rand, 0, 5) != 0;
        dom->busy = g_rand_int_range(rand, 0, 12) == 0;
        p->hold = g_rand_int_range(rand, 0, 12) == 0;
        p->no_migrate = g_rand_int_range(rand, 0, 16) == 0;
        p->priority = g_rand_int_range(rand, 0, 3);
        if (g_rand_int_range(rand, 0, 3) == 0)
            p->eq = g_strdup(groups[g_rand_int_range(rand, 0, n_groups)]);
        if (g_rand_int_range(rand, 0, 3) == 0)
            p->ne = g_strdup(groups[g_rand_int_range(rand, 0, n_groups)]);
        if (g_rand_int_range(rand, 0, 5) == 0)
            set_strv(&p->pin, host_names[g_rand_int_range(rand, 0, np)],
                     g_rand_boolean(rand) ? "alpha" : host_names[g_rand_int_range(rand, 0, np)], NULL);
    }
    access_grid(s);
    for (guint i = 0; i < nd * np; i++) {
        s->access[i].storage_shared = g_rand_int_range(rand, 0, 6) != 0;
        s->access[i].copy_space = g_rand_boolean(rand);
        s->access[i].cpu_live = g_rand_int_range(rand, 0, 10) != 0;
        s->access[i].cpu_boot = g_rand_int_range(rand, 0, 16) != 0;
        s->access[i].network = g_rand_int_range(rand, 0, 12) != 0;
    }
    return s;
}

static gboolean contradicting(Snap *s)
{
    for (guint d = 0; d < s->domains->len; d++) {
        const FerryPolicy *a = g_array_index(s->domains, FerryPlaceDomain, d).policy;
        if (!a->eq || !a->ne)
            continue;
        for (guint e = 0; e < s->domains->len; e++) {
            const FerryPolicy *b = g_array_index(s->domains, FerryPlaceDomain, e).policy;
            if (e != d && !g_strcmp0(a->eq, b->eq) && !g_strcmp0(a->ne, b->ne))
                return TRUE;
        }
        for (guint r = 0; r < s->residents->len; r++) {
            const FerryPlaceResident *res = &g_array_index(s->residents, FerryPlaceResident, r);
            if (!g_strcmp0(a->eq, res->eq) && !g_strcmp0(a->ne, res->ne))
                return TRUE;
        }
    }
    return FALSE;
}

/* The instance and the plan, for whoever has to find out why a seed fails. */
static void dump(Snap *s, GPtrArray *rows)
{
    g_printerr("mem ratio %g, vcpu ratio %g, all %d, methods:", s->in.memory_ratio, s->in.vcpu_ratio, s->in.all);
    for (guint i = 0; i < s->methods->len; i++)
        g_printerr(" %s", ferry_method_name(g_array_index(s->methods, FerryMethod, i)));
    g_printerr("\n");
    for (guint p = 0; p < s->peers->len; p++) {
        const FerryPlacePeer *peer = &g_array_index(s->peers, FerryPlacePeer, p);
        g_printerr("peer %s free %" G_GUINT64_FORMAT " total %" G_GUINT64_FORMAT " cpus %u maint %d reach %d\n",
                   peer->name, peer->memory_free_kib, peer->memory_total_kib, peer->cpus, peer->maintenance,
                   peer->reachable);
    }
    for (guint i = 0; i < s->exclude->len; i++)
        g_printerr("exclude %s\n", (char *) s->exclude->pdata[i]);
    for (guint r = 0; r < s->residents->len; r++) {
        const FerryPlaceResident *res = &g_array_index(s->residents, FerryPlaceResident, r);
        g_printerr("resident on %s vcpus %u eq %s ne %s\n", res->peer, res->vcpus, res->eq, res->ne);
    }
    for (guint d = 0; d < s->domains->len; d++) {
        const FerryPlaceDomain *dom = &g_array_index(s->domains, FerryPlaceDomain, d);
        g_autofree char *pin = g_strjoinv(",", dom->policy->pin);
        g_printerr("domain %s mem %" G_GUINT64_FORMAT " vcpus %u run %d busy %d hold %d nomig %d prio %d eq %s ne %s "
                   "pin %s access:", dom->name, dom->memory_kib, dom->vcpus, dom->running, dom->busy,
                   dom->policy->hold, dom->policy->no_migrate, dom->policy->priority, dom->policy->eq, dom->policy->ne,
                   pin);
        for (guint p = 0; p < s->peers->len; p++) {
            const FerryPlaceAccess *a = access_at(s, d, p);
            g_printerr(" %d%d%d%d%d", a->storage_shared, a->copy_space, a->cpu_live, a->cpu_boot, a->network);
        }
        g_printerr("\n");
    }
    g_autofree char *text = rows_text(rows);
    g_printerr("%s", text);
}

/* How much the random instances exercised, so a change that makes them trivial shows. */
static guint stat_placed, stat_left, stat_errors;

/* @exhaustive: also compare with every possible plan (small instances only). */
static void check_random_instance(Snap *s, guint seed, gboolean exhaustive)
{
    guint np = s->peers->len, nd = s->domains->len;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = ferry_place(snap_input(s), &error);
    if (contradicting(s)) {
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        stat_errors++;
        return;
    }
    g_assert_no_error(error);

    Oracle o = { .s = s, .np = np, .nd = nd };
    g_autofree int *assign = g_new(int, nd);
    g_autofree int *got = g_new(int, nd);
    g_autofree guint *cand = g_new(guint, nd);
    g_autofree int *levels = g_new(int, nd);
    g_autofree guint *count = g_new0(guint, nd);
    g_autofree guint *best = g_new0(guint, nd);
    g_autofree guint *mine = g_new0(guint, nd);
    o.assign = assign;
    o.cand = cand;
    o.levels = levels;
    o.count = count;
    o.best = best;
    for (guint d = 0; d < nd; d++) {
        assign[d] = -1;
        got[d] = -1;
        if (!candidate(s, d))
            continue;
        cand[o.ncand++] = d;
    }
    for (int prio = 2; prio >= 0; prio--)
        for (guint i = 0; i < o.ncand; i++)
            if (g_array_index(s->domains, FerryPlaceDomain, cand[i]).policy->priority == prio) {
                levels[o.nlevels++] = prio;
                break;
            }

    for (guint i = 0; i < rows->len; i++) {
        const FerryPlacement *row = rows->pdata[i];
        guint d = 0;
        while (strcmp(g_array_index(s->domains, FerryPlaceDomain, d).name, row->domain))
            d++;
        if (row->verdict != FERRY_VERDICT_MOVE) {
            g_assert_null(row->target);
            continue;
        }
        for (guint p = 0; p < np; p++)
            if (!strcmp(host_names[p], row->target))
                got[d] = (int) p;
        g_assert_cmpint(got[d], >=, 0);
        /* Per peer, the first method that works there. */
        g_assert_cmpint(row->method, ==, oracle_method(s, d, (guint) got[d]));
    }
    if (!oracle_valid(s, got))
        { dump(s, rows); g_error("seed %u: the plan breaks a rule", seed); }
    oracle_score(&o, got, mine);
    for (guint i = 0; i < o.ncand; i++) {
        stat_placed += got[cand[i]] >= 0;
        stat_left += got[cand[i]] < 0;
    }
    if (!exhaustive)
        return;
    oracle_search(&o, 0);
    if (better(best, mine, o.nlevels))
        { dump(s, rows); g_error("seed %u: exhaustive search places more (priority order)", seed); }
}

static void test_random_against_exhaustive(void)
{
    guint instances = g_test_slow() ? 20000 : 3000;
    g_autoptr(GRand) rand = g_rand_new_with_seed(20261203);
    for (guint i = 0; i < instances; i++) {
        guint seed = g_rand_int(rand);
        g_autoptr(GRand) one = g_rand_new_with_seed(seed);
        g_autoptr(Snap) s = random_snap(one, 4, 8);
        check_random_instance(s, seed, TRUE);
    }
    g_test_message("%u instances: %u domains placed, %u left behind, %u contradicting eq/ne", instances,
                   stat_placed, stat_left, stat_errors);
    g_assert_cmpuint(stat_placed, >, instances);
    g_assert_cmpuint(stat_left, >, instances / 2);
}

/* Beyond the exact search (greedy, repair, a cut search): every rule still holds. */
static void test_random_large_valid(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(20261204);
    stat_placed = stat_left = stat_errors = 0;
    for (guint i = 0; i < 300; i++) {
        guint seed = g_rand_int(rand);
        g_autoptr(GRand) one = g_rand_new_with_seed(seed);
        g_autoptr(Snap) s = random_snap(one, 8, 40);
        check_random_instance(s, seed, FALSE);
    }
    g_test_message("300 instances: %u domains placed, %u left behind, %u contradicting eq/ne", stat_placed,
                   stat_left, stat_errors);
    g_assert_cmpuint(stat_placed, >, 1500);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/placement/verdicts", test_verdicts);
    g_test_add_func("/placement/stopped-need-no-capacity", test_stopped_need_no_capacity);
    g_test_add_func("/placement/memory-edges", test_memory_edges);
    g_test_add_func("/placement/memory-sum", test_memory_sum);
    g_test_add_func("/placement/spread", test_spread);
    g_test_add_func("/placement/vcpu-ratio", test_vcpu_ratio);
    g_test_add_func("/placement/peers-never-targets", test_peers_never_targets);
    g_test_add_func("/placement/pin", test_pin);
    g_test_add_func("/placement/eq-together", test_eq_together);
    g_test_add_func("/placement/eq-joins-residents", test_eq_joins_residents);
    g_test_add_func("/placement/eq-member-left-behind", test_eq_member_left_behind);
    g_test_add_func("/placement/ne-apart", test_ne_apart);
    g_test_add_func("/placement/priority-over-count", test_priority_over_count);
    g_test_add_func("/placement/repair-makes-room", test_repair_makes_room);
    g_test_add_func("/placement/greedy-respects-priority", test_greedy_respects_priority);
    g_test_add_func("/placement/method-fallback", test_method_fallback);
    g_test_add_func("/placement/move-order", test_move_order);
    g_test_add_func("/placement/bad-input", test_bad_input);
    g_test_add_func("/placement/deterministic", test_deterministic);
    g_test_add_func("/placement/random-against-exhaustive", test_random_against_exhaustive);
    g_test_add_func("/placement/random-large-valid", test_random_large_valid);
    return g_test_run();
}
