/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "recover.h"

#include "archive.h"
#include "evacuate-journal.h"
#include "libvirt-autoptr.h"
#include "libvirt-open.h"
#include "restore.h"
#include "restore-once.h"

/* One row per job kind that journals its steps, with the journal key naming the domains
 * its recovery may act on. */
static const struct {
    FerryJobKind kind;
    void (*recover)(const FerryConfig *config, virConnectPtr conn, FerryJournal *journal);
    const char *domains_key; /* a list */
} recoveries[] = {
    { FERRY_JOB_ARCHIVE, ferry_archive_recover_journal, "domain" },
    { FERRY_JOB_RESTORE, ferry_restore_recover_journal, "defined" },
    { FERRY_JOB_EVACUATE, ferry_evacuation_recover_journal, "domains" },
};

GStrv ferry_recover_domains(GPtrArray *entries)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (guint i = 0; i < entries->len; i++) {
        FerryJournal *j = g_ptr_array_index(entries, i);
        for (gsize k = 0; k < G_N_ELEMENTS(recoveries); k++) {
            if (!g_str_equal(ferry_journal_kind(j), ferry_job_kind_name(recoveries[k].kind)))
                continue;
            g_auto(GStrv) uuids = ferry_journal_get_list(j, recoveries[k].domains_key);
            g_strv_builder_addv(b, (const char **)uuids);
        }
    }
    return g_strv_builder_end(b);
}

static void recover_entry(const FerryConfig *config, virConnectPtr conn, FerryJournal *j)
{
    for (gsize i = 0; i < G_N_ELEMENTS(recoveries); i++) {
        if (g_str_equal(ferry_journal_kind(j), ferry_job_kind_name(recoveries[i].kind))) {
            recoveries[i].recover(config, conn, j);
            return;
        }
    }
    g_warning("unknown job journal kind %s (id %s) left alone", ferry_journal_kind(j), ferry_journal_id(j));
}

static void recover_entries(const FerryConfig *config, GPtrArray *entries)
{
    if (entries->len == 0)
        return;
    g_autoptr(GError) error = NULL;
    g_autoptr(virConnect) conn = ferry_libvirt_open(config->libvirt_uri, &error);
    if (!conn) {
        g_warning("%u interrupted jobs wait for libvirtd: %s", entries->len, error->message);
        return;
    }
    for (guint i = 0; i < entries->len; i++)
        recover_entry(config, conn, g_ptr_array_index(entries, i));
}

void ferry_recover_journal(const FerryConfig *config, GPtrArray *entries)
{
    recover_entries(config, entries);
    /* Only once the restores they guarded are rolled back. */
    ferry_restore_locks_sweep(config);
}
