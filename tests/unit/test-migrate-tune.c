/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The migration's self-tuning as pure functions: the settings picked from what was
 * measured, the caller's options winning, the downtime steps and the give-up on a guest
 * that cannot converge within a few passes. */
#include "migrate-tune.h"

#include <string.h>

#define MIB (G_GUINT64_CONSTANT(1) << 20)

static FerryTuneInput guest(guint64 mem_mib, guint64 dirty_mib, double free_cpus)
{
    return (FerryTuneInput){ .memory_bytes = mem_mib * MIB, .dirty_bps = dirty_mib * MIB, .free_cpus = free_cpus };
}

static void test_quiet_guest_busy_host(void)
{
    FerryTuneInput in = guest(256, 2, 0.5);
    g_auto(FerryTuneSettings) s = { 0 };
    ferry_migrate_tune(&in, &s);
    g_assert_true(s.tuned);
    g_assert_cmpuint(s.parallel, ==, 1);
    g_assert_false(s.compress);
    g_assert_cmpuint(s.bandwidth_mib, ==, 0);
    g_assert_false(s.postcopy);
    g_assert_nonnull(strstr(s.why, "1 connection"));
}

static void test_quiet_guest_free_cpus(void)
{
    FerryTuneInput in = guest(4096, 2, 3.7);
    g_auto(FerryTuneSettings) s = { 0 };
    ferry_migrate_tune(&in, &s);
    g_assert_cmpuint(s.parallel, ==, 3);
    g_assert_false(s.compress);
    /* Paused (quick-migration): the dirty rate is moot, the connections are not. */
    FerryTuneInput paused = guest(4096, 0, 2.5);
    paused.paused = TRUE;
    g_auto(FerryTuneSettings) p = { 0 };
    ferry_migrate_tune(&paused, &p);
    g_assert_cmpuint(p.parallel, ==, 2);
    g_assert_nonnull(strstr(p.why, "paused"));
    in.free_cpus = 31;
    g_auto(FerryTuneSettings) many = { 0 };
    ferry_migrate_tune(&in, &many);
    g_assert_cmpuint(many.parallel, ==, FERRY_TUNE_MAX_PARALLEL);
}

static void test_dirty_guest_compressed(void)
{
    FerryTuneInput in = guest(256, 32, 4);
    g_auto(FerryTuneSettings) s = { 0 };
    ferry_migrate_tune(&in, &s);
    g_assert_true(s.compress);
    g_assert_cmpuint(s.parallel, ==, 1); /* libvirt 9.0: XBZRLE goes over one connection */
    g_assert_cmpuint(s.xbzrle_cache, ==, 128 * MIB); /* 4 s of 32 MiB/s */
    g_assert_nonnull(strstr(s.why, "XBZRLE"));
    /* The cache never exceeds the guest's memory, and is a power of two. */
    FerryTuneInput hot = guest(256, 96, 0);
    g_auto(FerryTuneSettings) h = { 0 };
    ferry_migrate_tune(&hot, &h);
    g_assert_cmpuint(h.xbzrle_cache, ==, 256 * MIB);
    FerryTuneInput odd = guest(1000, 200, 0);
    g_auto(FerryTuneSettings) o = { 0 };
    ferry_migrate_tune(&odd, &o);
    g_assert_cmpuint(o.xbzrle_cache, ==, 512 * MIB);
    /* A small dirty rate on a slow link counts too: an eighth of it. */
    FerryTuneInput slow = guest(256, 8, 0);
    slow.link_bps = 40 * MIB;
    g_auto(FerryTuneSettings) sl = { 0 };
    ferry_migrate_tune(&slow, &sl);
    g_assert_true(sl.compress);
    slow.link_bps = 1000 * MIB;
    g_auto(FerryTuneSettings) fast = { 0 };
    ferry_migrate_tune(&slow, &fast);
    g_assert_false(fast.compress);
}

/* Any transfer option given: exactly the caller's settings, nothing picked. */
static void test_caller_wins(void)
{
    FerryTuneInput in = guest(256, 96, 4);
    in.parallel = 1;
    g_assert_false(ferry_migrate_tune_wanted(&in));
    g_auto(FerryTuneSettings) one = { 0 };
    ferry_migrate_tune(&in, &one);
    g_assert_false(one.tuned);
    g_assert_false(one.compress);
    g_assert_cmpuint(one.parallel, ==, 1);
    in = guest(256, 96, 4);
    in.bandwidth_mib = 16;
    g_auto(FerryTuneSettings) bw = { 0 };
    ferry_migrate_tune(&in, &bw);
    g_assert_false(bw.compress);
    g_assert_cmpuint(bw.bandwidth_mib, ==, 16);
    in = guest(256, 0, 4);
    in.compress = TRUE;
    in.postcopy = TRUE;
    g_auto(FerryTuneSettings) c = { 0 };
    ferry_migrate_tune(&in, &c);
    g_assert_true(c.compress);
    g_assert_true(c.postcopy);
    g_assert_cmpuint(c.parallel, ==, 1);
    g_assert_cmpuint(c.xbzrle_cache, ==, 0);
    in = guest(256, 0, 0);
    g_assert_true(ferry_migrate_tune_wanted(&in));
}

static FerryConvergeAction sample(FerryConverge *c, guint64 iteration, guint64 remaining_mib, guint64 bps_mib,
                                  guint64 dirty_mib)
{
    FerryJobSample s = { .iteration = iteration, .remaining = remaining_mib * MIB, .bps = bps_mib * MIB,
                         .dirty_bps = dirty_mib * MIB };
    return ferry_converge_step(c, &s);
}

/* The first pass decides nothing; a short dirty set gets the downtime it needs at once. */
static void test_converge_downtime_fits(void)
{
    FerryConverge c;
    ferry_converge_init(&c, 1000, FALSE);
    g_assert_cmpint(sample(&c, 1, 200, 100, 0), ==, FERRY_CONVERGE_WAIT);
    g_assert_cmpint(sample(&c, 1, 10, 100, 0), ==, FERRY_CONVERGE_WAIT);
    /* 50 MiB at 100 MiB/s: 500 ms, plus a quarter. */
    g_assert_cmpint(sample(&c, 2, 50, 100, 20), ==, FERRY_CONVERGE_DOWNTIME);
    g_assert_cmpuint(c.downtime_ms, ==, 626);
    /* Within the same pass nothing changes. */
    g_assert_cmpint(sample(&c, 2, 5, 100, 20), ==, FERRY_CONVERGE_WAIT);
    /* Less needed later: the downtime stays. */
    g_assert_cmpint(sample(&c, 3, 10, 100, 20), ==, FERRY_CONVERGE_WAIT);
    g_assert_cmpuint(c.downtime_ms, ==, 626);
}

/* Too much left: the downtime doubles pass by pass up to the cap. */
static void test_converge_steps(void)
{
    FerryConverge c;
    ferry_converge_init(&c, 1000, TRUE);
    g_assert_cmpint(sample(&c, 2, 400, 100, 50), ==, FERRY_CONVERGE_DOWNTIME);
    g_assert_cmpuint(c.downtime_ms, ==, 600);
    g_assert_cmpint(sample(&c, 3, 300, 100, 50), ==, FERRY_CONVERGE_DOWNTIME);
    g_assert_cmpuint(c.downtime_ms, ==, 1000);
    g_assert_cmpint(sample(&c, 4, 200, 100, 50), ==, FERRY_CONVERGE_WAIT);
    /* Shrinking by more than a tenth a pass: still converging. */
    g_assert_cmpint(sample(&c, 5, 150, 100, 50), ==, FERRY_CONVERGE_WAIT);
    /* Once it fits the cap, QEMU finishes by itself. */
    g_assert_cmpint(sample(&c, 6, 90, 100, 50), ==, FERRY_CONVERGE_WAIT);
    g_assert_cmpuint(c.downtime_ms, ==, 1000);
}

/* A guest that dirties faster than the link carries: given up at the third pass. */
static void test_converge_outrun(void)
{
    FerryConverge c;
    ferry_converge_init(&c, 1000, FALSE);
    g_assert_cmpint(sample(&c, 1, 100, 16, 0), ==, FERRY_CONVERGE_WAIT);
    g_assert_cmpint(sample(&c, 2, 200, 16, 60), ==, FERRY_CONVERGE_DOWNTIME);
    g_assert_cmpint(sample(&c, 3, 200, 16, 60), ==, FERRY_CONVERGE_GIVE_UP);
    g_autofree char *why = ferry_converge_why(&c);
    g_assert_nonnull(strstr(why, "did not converge: after 2 passes the guest dirties 60 MiB/s while the link carries 16 MiB/s"));
    g_assert_nonnull(strstr(why, "need a pause of 12.5 s"));
    /* Compressed, the dirty rate in pages says nothing of the bytes sent: only a dirty set
     * that stops shrinking counts. */
    ferry_converge_init(&c, 1000, TRUE);
    g_assert_cmpint(sample(&c, 2, 200, 16, 60), ==, FERRY_CONVERGE_DOWNTIME);
    g_assert_cmpint(sample(&c, 3, 195, 16, 60), ==, FERRY_CONVERGE_DOWNTIME);
    g_assert_cmpint(sample(&c, 4, 190, 16, 60), ==, FERRY_CONVERGE_GIVE_UP);
}

/* Slowly shrinking forever: given up at the last pass allowed. */
static void test_converge_pass_limit(void)
{
    FerryConverge c;
    ferry_converge_init(&c, 1000, TRUE);
    guint64 left = 1000;
    FerryConvergeAction a = FERRY_CONVERGE_WAIT;
    guint64 it;
    for (it = 2; it <= FERRY_CONVERGE_MAX_ITERATIONS && a != FERRY_CONVERGE_GIVE_UP; it++, left = left * 8 / 10)
        a = sample(&c, it, left, 10, 5);
    g_assert_cmpint(a, ==, FERRY_CONVERGE_GIVE_UP);
    g_assert_cmpuint(it - 1, ==, FERRY_CONVERGE_MAX_ITERATIONS);
}

/* No rate yet (QEMU reports it after its first measurement): nothing decided. */
static void test_converge_no_rate(void)
{
    FerryConverge c;
    ferry_converge_init(&c, 1000, FALSE);
    g_assert_cmpint(sample(&c, 2, 200, 0, 0), ==, FERRY_CONVERGE_WAIT);
    g_assert_cmpint(sample(&c, 3, 200, 0, 0), ==, FERRY_CONVERGE_WAIT);
    g_assert_cmpuint(c.downtime_ms, ==, FERRY_TUNE_DOWNTIME_MS);
}

/* The dirty-rate probe (a second) only for a migration expected to take ten or more. */
static void test_probe_pays(void)
{
    g_assert_false(ferry_migrate_tune_probe_pays(256 * MIB, 0));
    g_assert_true(ferry_migrate_tune_probe_pays(2048 * MIB, 0));
    g_assert_false(ferry_migrate_tune_probe_pays(2048 * MIB, 1024 * MIB));
    g_assert_true(ferry_migrate_tune_probe_pays(256 * MIB, 16 * MIB));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migrate-tune/quiet-guest-busy-host", test_quiet_guest_busy_host);
    g_test_add_func("/migrate-tune/quiet-guest-free-cpus", test_quiet_guest_free_cpus);
    g_test_add_func("/migrate-tune/dirty-guest-compressed", test_dirty_guest_compressed);
    g_test_add_func("/migrate-tune/caller-wins", test_caller_wins);
    g_test_add_func("/migrate-tune/probe-pays", test_probe_pays);
    g_test_add_func("/migrate-tune/converge-downtime-fits", test_converge_downtime_fits);
    g_test_add_func("/migrate-tune/converge-steps", test_converge_steps);
    g_test_add_func("/migrate-tune/converge-outrun", test_converge_outrun);
    g_test_add_func("/migrate-tune/converge-pass-limit", test_converge_pass_limit);
    g_test_add_func("/migrate-tune/converge-no-rate", test_converge_no_rate);
    return g_test_run();
}
