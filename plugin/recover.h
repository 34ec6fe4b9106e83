/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Crash recovery: what a killed virt-ferryd left in the journal, finished or rolled back
 * by the module whose job wrote it. */
#pragma once

#include "config.h"

G_BEGIN_DECLS

/* Hands each of @entries (ferry_journal_load_all of config->state_dir, read once) to its
 * kind's recovery, then removes the restore locks this host left in the library. Blocking:
 * call it in a thread, once, when libvirtd is first reachable. */
void ferry_recover_journal(const FerryConfig *config, GPtrArray *entries);

/* The UUIDs of the domains @entries name (repeats possible): held while their recovery
 * runs, so that no new job acts on a domain whose last move is not settled. */
GStrv ferry_recover_domains(GPtrArray *entries);

G_END_DECLS
