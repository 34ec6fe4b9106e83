/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The journal of interrupted jobs (plugin/journal.c): an entry file as virt-ferryd finds it
 * at start, read back with every key it records. */
#include "fuzz.h"

#include "journal.h"

#include <glib/gstdio.h>

static const char *const keys[] = { "kind", "id", "started", "domain", "step", "archive", "disks", "files",
                                    "target", "source", "phase", "created" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *state, *entry;
    fuzz_quiet_logs();
    if (!state) {
        state = g_build_filename(fuzz_scratch_dir(), "state", NULL);
        g_autofree char *dir = g_build_filename(state, "journal", NULL);
        g_mkdir_with_parents(dir, 0700);
        entry = g_build_filename(dir, "archive-fuzz.journal", NULL);
    }
    fuzz_write_file(entry, data, size);
    g_autoptr(GPtrArray) entries = ferry_journal_load_all(state);
    for (guint i = 0; i < entries->len; i++) {
        FerryJournal *j = g_ptr_array_index(entries, i);
        ferry_journal_kind(j);
        ferry_journal_id(j);
        for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
            g_free(ferry_journal_get(j, keys[k]));
            g_strfreev(ferry_journal_get_list(j, keys[k]));
        }
        ferry_journal_append(j, "files", "fuzz");
        ferry_journal_commit(j, NULL);
    }
    /* An entry that does not parse is removed; one that does stays for the next run. */
    g_unlink(entry);
    return 0;
}
