/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A live migration that tunes itself (virt-ferry(1), migrate): pure decisions, no libvirt
 * calls, no I/O, so that each rule can be tested on its own.
 *
 * Before the migration, ferry_migrate_tune picks the transfer settings from what was
 * measured: the guest's dirty rate (libvirt's dirty-rate calculation, started as the job
 * starts), the link to the peer (the first pass's rate of the last migration to it) and
 * this host's free CPUs. It tunes only a call that gives none of the transfer options
 * (bandwidth, compress, parallel, auto_converge, postcopy): a caller who gives one gets
 * exactly the settings given. Rules:
 *  - a guest dirtying at least FERRY_TUNE_COMPRESS_DIRTY_MIB MiB/s, or an eighth of the
 *    known link, gets XBZRLE: the pages it writes again go as deltas, from a cache sized
 *    to hold what it dirties in a few seconds (never QEMU's multi-threaded compression:
 *    deprecated, and guests migrated with it crashed here);
 *  - otherwise, with two or more CPUs free, the memory goes over one connection per free
 *    CPU, at most FERRY_TUNE_MAX_PARALLEL (a connection costs a CPU on both hosts);
 *  - no bandwidth limit (a limit only slows a migration down) and no post-copy (the guest
 *    is lost if the link fails during it: only a caller may ask for it).
 *
 * While it runs, ferry_converge_step reads each sample of the job statistics and steps the
 * allowed downtime up as passes fail to finish, up to FERRY_TUNE_DOWNTIME_CAP_MS, and gives
 * up on a guest that cannot converge within a few passes: from the third pass on, when the
 * remaining memory would still need a longer pause than the cap and either the guest
 * dirties memory at least as fast as the link carries it (uncompressed) or its dirty set
 * did not shrink by a tenth over two passes; and at FERRY_CONVERGE_MAX_ITERATIONS in any
 * case. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_TUNE_COMPRESS_DIRTY_MIB 16 /* MiB/s dirtied from which XBZRLE pays */
#define FERRY_TUNE_MAX_PARALLEL 4
#define FERRY_TUNE_DOWNTIME_MS 300       /* QEMU's own default */
#define FERRY_TUNE_DOWNTIME_CAP_MS 1000  /* longest pause a live migration may take */
#define FERRY_TUNE_XBZRLE_CACHE_MIN (G_GUINT64_CONSTANT(64) << 20) /* QEMU's default */
#define FERRY_CONVERGE_MAX_ITERATIONS 12
#define FERRY_TUNE_PROBE_MIN_SECONDS 10  /* the dirty-rate probe costs up to a second */
#define FERRY_TUNE_ASSUMED_LINK_MIB 128  /* a link never measured yet */

typedef struct {
    guint64 memory_bytes;   /* the guest's */
    guint64 dirty_bps;      /* measured before it starts; 0: unknown */
    guint64 link_bps;       /* last measured to this peer; 0: unknown */
    double free_cpus;       /* this host's CPUs minus its load */
    gboolean paused;        /* quick-migration: the guest is paused, nothing to converge */
    /* the caller's transfer options */
    guint64 bandwidth_mib;
    gboolean compress, auto_converge, postcopy;
    guint parallel;
} FerryTuneInput;

typedef struct {
    gboolean tuned;         /* FALSE: the caller's options, as given */
    guint parallel;         /* connections; 1: one */
    gboolean compress;      /* XBZRLE */
    guint64 xbzrle_cache;   /* bytes; 0: QEMU's default */
    guint64 bandwidth_mib;  /* 0: no limit */
    gboolean postcopy;
    char *why;              /* the settings and why, for a Step */
} FerryTuneSettings;

/* Whether measuring the dirty rate (a second) pays: when the migration of @memory_bytes
 * over @link_bps (0: not known yet) is expected to take FERRY_TUNE_PROBE_MIN_SECONDS or
 * more. A shorter one is over before compression could matter; its settings are picked
 * without a dirty rate. */
gboolean ferry_migrate_tune_probe_pays(guint64 memory_bytes, guint64 link_bps);
/* TRUE when the caller gave none of the transfer options: the settings are picked. */
gboolean ferry_migrate_tune_wanted(const FerryTuneInput *in);
void ferry_migrate_tune(const FerryTuneInput *in, FerryTuneSettings *out);
void ferry_tune_settings_clear(FerryTuneSettings *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerryTuneSettings, ferry_tune_settings_clear)

/* One reading of libvirt's job statistics of a running migration. */
typedef struct {
    guint64 iteration;      /* memory_iteration: 1 during the first pass */
    guint64 remaining;      /* memory_remaining, bytes */
    guint64 bps;            /* memory_bps: what the link carries now */
    guint64 dirty_bps;      /* memory_dirty_rate x memory_page_size; 0: not yet known */
} FerryJobSample;

typedef enum {
    FERRY_CONVERGE_WAIT,
    FERRY_CONVERGE_DOWNTIME, /* set the allowed downtime to downtime_ms */
    FERRY_CONVERGE_GIVE_UP,  /* it cannot converge: ferry_converge_why says why */
} FerryConvergeAction;

typedef struct {
    guint downtime_ms, cap_ms;
    gboolean compressed;
    guint64 iteration;      /* the last pass seen */
    guint64 sync_remaining; /* what was left as that pass began */
    guint stalled;          /* passes in a row whose dirty set did not shrink */
    guint64 bps, dirty_bps, need_ms;
} FerryConverge;

void ferry_converge_init(FerryConverge *c, guint cap_ms, gboolean compressed);
FerryConvergeAction ferry_converge_step(FerryConverge *c, const FerryJobSample *s);
/* Why it gave up, for the method's failure: the measured rates and the pause needed. */
char *ferry_converge_why(const FerryConverge *c);

G_END_DECLS
