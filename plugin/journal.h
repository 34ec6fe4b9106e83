/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal of interrupted work: each long job that changes a domain or the library
 * records, durably and before each step, what it did so far. When virt-ferryd is killed
 * in the middle, its next start reads the entries left and finishes or rolls back. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _FerryJournal FerryJournal;

/* A new entry <dir>/journal/<kind>-<id>.journal, written at once. */
FerryJournal *ferry_journal_create(const char *state_dir, const char *kind, const char *id, GError **error);
/* Every entry left in <dir>/journal, oldest first (an entry that does not parse is removed
 * with a warning: it was never complete enough to act on). */
GPtrArray *ferry_journal_load_all(const char *state_dir);
void ferry_journal_free(FerryJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryJournal, ferry_journal_free)

const char *ferry_journal_kind(FerryJournal *journal);
const char *ferry_journal_id(FerryJournal *journal);
/* NULL when unset. */
char *ferry_journal_get(FerryJournal *journal, const char *key);
GStrv ferry_journal_get_list(FerryJournal *journal, const char *key);
void ferry_journal_set(FerryJournal *journal, const char *key, const char *value);
void ferry_journal_append(FerryJournal *journal, const char *key, const char *value);
/* Writes the entry durably (fsync of the file and its directory) before returning. */
gboolean ferry_journal_commit(FerryJournal *journal, GError **error);
/* Sets and commits in one go. */
gboolean ferry_journal_record(FerryJournal *journal, const char *key, const char *value, GError **error);
/* The work is over (done or rolled back): the entry goes. */
void ferry_journal_remove(FerryJournal *journal);

G_END_DECLS
