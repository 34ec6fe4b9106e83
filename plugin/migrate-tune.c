/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The migration's self-tuning decisions (see migrate-tune.h). */
#include "migrate-tune.h"

#define MIB (G_GUINT64_CONSTANT(1) << 20)
#define XBZRLE_CACHE_SECONDS 4 /* the cache holds what the guest dirties in this long */

gboolean ferry_migrate_tune_wanted(const FerryTuneInput *in)
{
    return !(in->bandwidth_mib || in->compress || in->auto_converge || in->postcopy || in->parallel);
}

gboolean ferry_migrate_tune_probe_pays(guint64 memory_bytes, guint64 link_bps)
{
    guint64 rate = link_bps ? link_bps : FERRY_TUNE_ASSUMED_LINK_MIB * MIB;
    return memory_bytes / rate >= FERRY_TUNE_PROBE_MIN_SECONDS;
}

static guint64 pow2_floor(guint64 v)
{
    guint64 p = 1;
    while (v / 2 >= p)
        p *= 2;
    return v ? p : 0;
}

/* Large enough for the pages written again within a few seconds, never more than the
 * guest's memory (QEMU refuses that); QEMU's default below 64 MiB of memory. */
static guint64 xbzrle_cache(const FerryTuneInput *in)
{
    if (in->memory_bytes < FERRY_TUNE_XBZRLE_CACHE_MIN)
        return 0;
    guint64 want = MAX(FERRY_TUNE_XBZRLE_CACHE_MIN, in->dirty_bps * XBZRLE_CACHE_SECONDS);
    return pow2_floor(MIN(want, in->memory_bytes));
}

static gboolean dirties_hard(const FerryTuneInput *in)
{
    return in->dirty_bps >= FERRY_TUNE_COMPRESS_DIRTY_MIB * MIB || (in->link_bps && in->dirty_bps * 8 >= in->link_bps);
}

static char *rate_text(guint64 bps)
{
    return bps ? g_strdup_printf("%" G_GUINT64_FORMAT " MiB/s", (bps + MIB / 2) / MIB) : g_strdup("unknown");
}

void ferry_migrate_tune(const FerryTuneInput *in, FerryTuneSettings *out)
{
    *out = (FerryTuneSettings){ 0 };
    if (!ferry_migrate_tune_wanted(in)) {
        out->parallel = MAX(in->parallel, 1);
        out->compress = in->compress;
        out->bandwidth_mib = in->bandwidth_mib;
        out->postcopy = in->postcopy;
        out->why = g_strdup("settings: as given");
        return;
    }
    out->tuned = TRUE;
    out->parallel = 1;
    if (dirties_hard(in)) {
        out->compress = TRUE;
        out->xbzrle_cache = xbzrle_cache(in);
    } else if (in->free_cpus >= 2.0) {
        out->parallel = MIN((guint)in->free_cpus, FERRY_TUNE_MAX_PARALLEL);
    }
    if (in->paused) {
        out->why = g_strdup_printf("settings: %u connection%s, no bandwidth limit (the guest is paused; %.1f CPUs "
                                   "free)", out->parallel, out->parallel > 1 ? "s" : "", MAX(in->free_cpus, 0.0));
        return;
    }
    g_autofree char *dirty = in->dirty_bps ? rate_text(in->dirty_bps) : g_strdup("not measured");
    g_autofree char *link = rate_text(in->link_bps);
    g_autofree char *how = out->compress
                               ? g_strdup_printf("XBZRLE with a %" G_GUINT64_FORMAT " MiB cache",
                                                 (out->xbzrle_cache ? out->xbzrle_cache : FERRY_TUNE_XBZRLE_CACHE_MIN) /
                                                     MIB)
                               : g_strdup_printf("%u connection%s", out->parallel, out->parallel > 1 ? "s" : "");
    out->why = g_strdup_printf("settings: %s, no bandwidth limit, downtime stepped up to %u ms (guest dirtying %s, "
                               "link %s, %.1f CPUs free)",
                               how, FERRY_TUNE_DOWNTIME_CAP_MS, dirty, link, MAX(in->free_cpus, 0.0));
}

void ferry_tune_settings_clear(FerryTuneSettings *s)
{
    g_clear_pointer(&s->why, g_free);
}

/* ------------------------------------------------------------------ convergence */

void ferry_converge_init(FerryConverge *c, guint cap_ms, gboolean compressed)
{
    *c = (FerryConverge){ .downtime_ms = FERRY_TUNE_DOWNTIME_MS, .cap_ms = MAX(cap_ms, FERRY_TUNE_DOWNTIME_MS),
                          .compressed = compressed };
}

/* Dirty sets within a tenth of each other: the pass gained nothing. */
static gboolean not_shrinking(guint64 before, guint64 now)
{
    return before && now / 10 * 10 >= before / 10 * 9;
}

FerryConvergeAction ferry_converge_step(FerryConverge *c, const FerryJobSample *s)
{
    if (s->bps)
        c->bps = s->bps;
    if (s->dirty_bps)
        c->dirty_bps = s->dirty_bps;
    /* Only at the start of a pass after the first: what is left then is the guest's dirty set. */
    if (s->iteration < 2 || s->iteration <= c->iteration || c->bps == 0) {
        c->iteration = MAX(c->iteration, s->iteration);
        return FERRY_CONVERGE_WAIT;
    }
    c->stalled = not_shrinking(c->sync_remaining, s->remaining) ? c->stalled + 1 : 0;
    c->sync_remaining = s->remaining;
    c->iteration = s->iteration;
    c->need_ms = s->remaining * 1000 / c->bps;
    /* QEMU stops the guest once what is left fits the allowed downtime at the current rate. */
    if (c->need_ms <= c->cap_ms) {
        guint want = (guint)MIN((guint64)c->cap_ms, c->need_ms * 5 / 4 + 1);
        if (want <= c->downtime_ms)
            return FERRY_CONVERGE_WAIT;
        c->downtime_ms = want;
        return FERRY_CONVERGE_DOWNTIME;
    }
    gboolean outrun = !c->compressed && c->dirty_bps >= c->bps;
    if ((s->iteration >= 3 && (outrun || c->stalled >= 2)) || s->iteration >= FERRY_CONVERGE_MAX_ITERATIONS)
        return FERRY_CONVERGE_GIVE_UP;
    if (c->downtime_ms >= c->cap_ms)
        return FERRY_CONVERGE_WAIT;
    c->downtime_ms = MIN(c->cap_ms, c->downtime_ms * 2);
    return FERRY_CONVERGE_DOWNTIME;
}

char *ferry_converge_why(const FerryConverge *c)
{
    g_autofree char *dirty = rate_text(c->dirty_bps);
    g_autofree char *link = rate_text(c->bps);
    return g_strdup_printf("did not converge: after %" G_GUINT64_FORMAT " passes the guest dirties %s%s while the "
                           "link carries %s, and the %" G_GUINT64_FORMAT " MiB left would need a pause of %.1f s "
                           "(at most %.1f s allowed)",
                           c->iteration > 0 ? c->iteration - 1 : 0, dirty, c->compressed ? " (sent compressed)" : "",
                           link, c->bps * c->need_ms / 1000 / MIB, (double)c->need_ms / 1000,
                           (double)c->cap_ms / 1000);
}
