/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An evacuation's journal (journal.h, kind "evacuate"): which domains it queued, where each
 * move went and how far it got, written durably before each move starts and after it ends.
 * When virt-ferryd is killed in the middle, its next start (recover.c) reads it, logs what
 * the interrupted evacuation did, and settles every move that was under way so that each
 * domain runs exactly once: on this host or on the move's target. */
#pragma once

#include <libvirt/libvirt.h>

#include "config.h"
#include "journal.h"

G_BEGIN_DECLS

/* A move's phase in the journal. */
#define FERRY_EVAC_QUEUED "queued"
#define FERRY_EVAC_MOVING "moving"
#define FERRY_EVAC_MOVED "moved"
#define FERRY_EVAC_FAILED "failed"

/* A new entry, committed: the evacuation's domains are added with ..._queue, then committed. */
FerryJournal *ferry_evacuation_journal_create(const char *state_dir, GError **error);
/* Adds one queued move (not committed: commit once every move is in). */
void ferry_evacuation_journal_queue(FerryJournal *journal, const char *uuid, const char *name, const char *method,
                                    const char *target, const char *target_uri, gboolean running);
/* Records a move's phase (@failure: why it failed, or NULL) durably. */
gboolean ferry_evacuation_journal_phase(FerryJournal *journal, const char *uuid, const char *phase,
                                        const char *failure, GError **error);

/* Records, durably, an image a move created on its target: a move cut short by a kill has
 * it removed there when the domain stays here. */
gboolean ferry_evacuation_journal_image(FerryJournal *journal, const char *uuid, const char *path, GError **error);

/* ---- settling a move that was under way: a pure decision over what each host's libvirt says */

typedef struct {
    gboolean defined;  /* libvirt knows the domain (persistent or active) */
    gboolean active;   /* running or paused */
    gboolean paused;
} FerryEvacSide;

typedef enum {
    FERRY_EVAC_RUNS_HERE,      /* the move did not happen: the domain runs (or is defined) here */
    FERRY_EVAC_RUNS_THERE,     /* it did: the domain runs (or is defined) on the target */
    FERRY_EVAC_CONFLICT,       /* it runs unpaused on both hosts: left alone for a person */
    FERRY_EVAC_LOST,           /* defined nowhere: nothing to start */
} FerryEvacWhere;

/* What recovery does, in this order. */
enum {
    FERRY_EVAC_DESTROY_THERE = 1 << 0,
    FERRY_EVAC_UNDEFINE_THERE = 1 << 1,
    FERRY_EVAC_DESTROY_HERE = 1 << 2,
    FERRY_EVAC_UNDEFINE_HERE = 1 << 3,
    FERRY_EVAC_RESUME_HERE = 1 << 4,
    FERRY_EVAC_START_HERE = 1 << 5,
    FERRY_EVAC_RESUME_THERE = 1 << 6,
    FERRY_EVAC_START_THERE = 1 << 7,
};

typedef struct {
    FerryEvacWhere where;
    guint actions;   /* FERRY_EVAC_* flags */
} FerryEvacResolution;

/* @here: this host (the source) after libvirt's own job on the domain ended; @there: the
 * target; @was_running: the domain ran when the evacuation queued it. A copy that runs
 * unpaused wins; else a paused source (a live migration stopped at its switch-over) is
 * resumed; else, with nothing active, the source's definition wins (a move stopped between
 * the shutdown here and the start there: the disks here are whole) and a domain that ran is
 * started again. The loser's definition goes; disks are never removed. */
FerryEvacResolution ferry_evacuation_resolve(const FerryEvacSide *here, const FerryEvacSide *there,
                                             gboolean was_running);

/* recover.c's handler for the kind "evacuate": logs each domain's fate, settles the moves
 * that were under way, removes the entry (kept when a target cannot be reached and the
 * domain does not run here: retried at the next start). */
void ferry_evacuation_recover_journal(const FerryConfig *config, virConnectPtr conn, FerryJournal *journal);

G_END_DECLS
