/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive library's pieces that need no libvirt: ids, manifests, verification, the job
 * journal, and jobs themselves. */
#include "ferry-error.h"
#include "job.h"
#include "journal.h"
#include "library.h"

#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *dir;
} Fixture;

static void set_up(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("ferry-library-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
}

static void tear_down(Fixture *f, gconstpointer data)
{
    ferry_remove_tree(f->dir);
    g_free(f->dir);
}

static void test_id_check(void)
{
    const char *good[] = { "db_201-20261123T101500Z", "a", "x.y-z_1", "データ-20260101T000000Z" };
    const char *bad[] = { "", "a/b", "..", "../x", ".partial-x", ".hidden", "x..y", "a\x01z", "tab\there", "\xff" };
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++)
        g_assert_true(ferry_check_archive_id(good[i], NULL));
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_false(ferry_check_archive_id(bad[i], &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    }
    g_autofree char *long_id = g_strnfill(FERRY_ARCHIVE_ID_MAX + 1, 'a');
    g_assert_false(ferry_check_archive_id(long_id, NULL));
}

static void test_id_make(Fixture *f, gconstpointer data)
{
    gint64 when = 1795426487000000; /* 2026-11-23 */
    g_autofree char *id = ferry_archive_id_make(f->dir, "db 1/../x", when);
    g_assert_true(ferry_check_archive_id(id, NULL));
    g_assert_true(g_str_has_prefix(id, "db_1_.__x-2026"));
    g_assert_null(strchr(id, '/'));
    /* Taken ids, complete or partial, get a number. */
    g_autofree char *taken = g_build_filename(f->dir, id, NULL);
    g_assert_cmpint(g_mkdir(taken, 0700), ==, 0);
    g_autofree char *second = ferry_archive_id_make(f->dir, "db 1/../x", when);
    g_assert_cmpstr(second, !=, id);
    g_assert_true(g_str_has_suffix(second, "-2"));
    g_autofree char *partial_name = g_strconcat(FERRY_PARTIAL_PREFIX, second, NULL);
    g_autofree char *partial = g_build_filename(f->dir, partial_name, NULL);
    g_assert_cmpint(g_mkdir(partial, 0700), ==, 0);
    g_autofree char *third = ferry_archive_id_make(f->dir, "db 1/../x", when);
    g_assert_true(g_str_has_suffix(third, "-3"));
    g_autofree char *dotted = ferry_archive_id_make(f->dir, ".hidden", when);
    g_assert_true(ferry_check_archive_id(dotted, NULL));
}

/* An archive directory with two files and a manifest, as the archive job writes it. */
static char *make_archive(Fixture *f, const char *id, FerryManifest **out)
{
    char *dir = g_build_filename(f->dir, id, NULL);
    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    g_autofree char *xml = g_build_filename(dir, "domain.xml", NULL);
    g_autofree char *mem = g_build_filename(dir, "memory.save", NULL);
    g_assert_true(g_file_set_contents(xml, "<domain type='qemu'><name>db 1</name></domain>", -1, NULL));
    g_autofree char *payload = g_strnfill(300000, 'm');
    g_assert_true(g_file_set_contents(mem, payload, -1, NULL));
    FerryManifest *m = ferry_manifest_new();
    m->id = g_strdup(id);
    m->domain = g_strdup("db 1");
    m->uuid = g_strdup("c7a5fdbd-cdaf-9455-926a-d65c16db1809");
    m->source_host = g_strdup("alpha");
    m->created = 1795426487000000;
    m->state = g_strdup("running");
    m->memory_kib = 262144;
    m->vcpus = 2;
    FerryFileDigest d;
    g_assert_true(ferry_digest_file(xml, NULL, NULL, NULL, &d, NULL));
    ferry_manifest_add_file(m, "domain.xml", FERRY_FILE_DOMAIN_XML, &d);
    g_assert_true(ferry_digest_file(mem, NULL, NULL, NULL, &d, NULL));
    ferry_manifest_add_file(m, "memory.save", FERRY_FILE_MEMORY, &d);
    FerryManifestNic *nic = g_new0(FerryManifestNic, 1);
    nic->mac = g_strdup("52:54:00:aa:bb:cc");
    nic->type = g_strdup("network");
    nic->network = g_strdup("ovsnet");
    nic->portgroup = g_strdup("vlan300");
    nic->vlan = 300;
    g_ptr_array_add(m->nics, nic);
    g_assert_true(ferry_manifest_save(m, dir, NULL));
    *out = m;
    return dir;
}

static void test_manifest_round_trip(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryManifest) m = NULL;
    g_autofree char *dir = make_archive(f, "db_201-20261123T101500Z", &m);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryManifest) back = ferry_manifest_load(dir, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->domain, ==, "db 1");
    g_assert_cmpstr(back->uuid, ==, m->uuid);
    g_assert_cmpint(back->created, ==, m->created);
    g_assert_cmpuint(back->memory_kib, ==, 262144);
    g_assert_cmpuint(back->files->len, ==, 2);
    g_assert_true(ferry_manifest_has_memory(back));
    g_assert_cmpuint(ferry_manifest_data_size(back), ==, ferry_manifest_data_size(m));
    g_assert_cmpuint(back->nics->len, ==, 1);
    FerryManifestNic *nic = g_ptr_array_index(back->nics, 0);
    g_assert_cmpstr(nic->portgroup, ==, "vlan300");
    g_assert_cmpint(nic->vlan, ==, 300);
    g_assert_true(ferry_library_verify(dir, back, 0, NULL, NULL, NULL, &error));
    g_assert_no_error(error);
    g_autoptr(GPtrArray) list = ferry_library_list(f->dir);
    g_assert_cmpuint(list->len, ==, 1);
}

static void flip(const char *path, gsize offset)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_assert_cmpuint(offset, <, len);
    data[offset] ^= 1;
    g_assert_true(g_file_set_contents(path, data, len, NULL));
}

static void test_corruption(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryManifest) m = NULL;
    g_autofree char *dir = make_archive(f, "x-1", &m);
    g_autofree char *mem = g_build_filename(dir, "memory.save", NULL);
    g_autofree char *manifest = g_build_filename(dir, FERRY_MANIFEST_NAME, NULL);
    g_autoptr(GError) error = NULL;

    flip(mem, 150000);
    g_assert_false(ferry_library_verify(dir, m, 0, NULL, NULL, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "memory.save"));
    g_clear_error(&error);
    /* Skipping the memory state's role skips the damage. */
    g_assert_true(ferry_library_verify(dir, m, 1u << FERRY_FILE_MEMORY, NULL, NULL, NULL, NULL));
    flip(mem, 150000);

    flip(manifest, 20);
    g_assert_null(ferry_manifest_load(dir, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, FERRY_MANIFEST_NAME));
    g_clear_error(&error);
    /* A damaged manifest lists the archive as damaged, with a warning: never as nothing. */
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*x-1*corrupted*");
    g_autoptr(GPtrArray) list = ferry_library_list(f->dir);
    g_test_assert_expected_messages();
    g_assert_cmpuint(list->len, ==, 1);
    FerryManifest *listed = g_ptr_array_index(list, 0);
    g_assert_cmpstr(listed->id, ==, "x-1");
    g_assert_nonnull(listed->problem);
    g_assert_nonnull(strstr(listed->problem, FERRY_MANIFEST_NAME));
}

/* An archive without its manifest is named damaged, naming the missing file; it is listed. */
static void test_missing_manifest(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryManifest) m = NULL;
    g_autofree char *dir = make_archive(f, "y-1", &m);
    g_autofree char *manifest = g_build_filename(dir, FERRY_MANIFEST_NAME, NULL);
    g_assert_cmpint(g_unlink(manifest), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autofree char *found = ferry_library_archive_dir(f->dir, "y-1", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(found, ==, dir);
    g_assert_null(ferry_manifest_load(found, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, manifest));
    g_assert_nonnull(strstr(error->message, "missing"));
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*manifest is missing*");
    g_autoptr(GPtrArray) list = ferry_library_list(f->dir);
    g_test_assert_expected_messages();
    g_assert_cmpuint(list->len, ==, 1);
    FerryManifest *listed = g_ptr_array_index(list, 0);
    g_assert_cmpstr(listed->id, ==, "y-1");
    g_assert_cmpstr(listed->domain, ==, "");
    g_assert_nonnull(strstr(listed->problem, "missing"));
}

/* A damaged archive (no manifest) can be deleted, and leaves the listing; a link inside it
 * to a directory outside the library is removed as a link, and a link in an archive's place
 * goes as a link too. */
static void test_delete_damaged(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryManifest) m = NULL;
    g_autofree char *dir = make_archive(f, "y-1", &m);
    g_autofree char *manifest = g_build_filename(dir, FERRY_MANIFEST_NAME, NULL);
    g_assert_cmpint(g_unlink(manifest), ==, 0);
    g_autofree char *outside = g_dir_make_tmp("ferry-outside-XXXXXX", NULL);
    g_autofree char *kept = g_build_filename(outside, "passwd", NULL);
    g_assert_true(g_file_set_contents(kept, "root:x:0:0", -1, NULL));
    g_autofree char *link = g_build_filename(dir, "etc", NULL);
    g_assert_cmpint(symlink(outside, link), ==, 0);
    g_autofree char *link_archive = g_build_filename(f->dir, "z-2", NULL);
    g_assert_cmpint(symlink(outside, link_archive), ==, 0);
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_library_delete(f->dir, "y-1", &error));
    g_assert_no_error(error);
    g_assert_true(ferry_library_delete(f->dir, "z-2", &error));
    g_assert_no_error(error);
    g_assert_true(g_file_test(kept, G_FILE_TEST_IS_REGULAR));
    g_autoptr(GPtrArray) list = ferry_library_list(f->dir);
    g_assert_cmpuint(list->len, ==, 0);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    g_assert_false(ferry_library_delete(f->dir, "y-1", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(ferry_library_delete(f->dir, "../y-1", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    ferry_remove_tree(outside);
}

/* A FIFO named manifest must not block a listing (alarm() makes a hang a failure); a link is
 * not followed; a huge file is not read whole. */
static void test_hostile_manifest(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryManifest) m = NULL;
    g_autofree char *dir = make_archive(f, "z-1", &m);
    g_autofree char *manifest = g_build_filename(dir, FERRY_MANIFEST_NAME, NULL);
    g_autofree char *elsewhere = g_build_filename(f->dir, "elsewhere", NULL);
    g_assert_cmpint(g_rename(manifest, elsewhere), ==, 0);
    const char *problems[] = { "not a regular file", "symbolic link", "too large" };
    alarm(20);
    for (gsize i = 0; i < G_N_ELEMENTS(problems); i++) {
        g_unlink(manifest);
        if (i == 0)
            g_assert_cmpint(mkfifo(manifest, 0600), ==, 0);
        else if (i == 1)
            g_assert_cmpint(symlink(elsewhere, manifest), ==, 0);
        else {
            g_assert_true(g_file_set_contents(manifest, "", 0, NULL));
            g_assert_cmpint(truncate(manifest, (off_t)1 << 30), ==, 0);
        }
        g_autoptr(GError) error = NULL;
        g_assert_null(ferry_manifest_load(dir, &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
        g_assert_nonnull(strstr(error->message, manifest));
        g_assert_nonnull(strstr(error->message, problems[i]));
        g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*z-1*");
        g_autoptr(GPtrArray) list = ferry_library_list(f->dir);
        g_test_assert_expected_messages();
        g_assert_cmpuint(list->len, ==, 1);
        g_assert_nonnull(strstr(((FerryManifest *)g_ptr_array_index(list, 0))->problem, problems[i]));
    }
    alarm(0);
}

/* Whoever can write the library can make virt-ferryd (root) restore anything: a library or
 * archive directory writable by others, or owned by another user, is refused. */
static void test_unsafe_dirs(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryManifest) m = NULL;
    g_autofree char *dir = make_archive(f, "w-1", &m);
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(chmod(f->dir, 0777), ==, 0);
    g_assert_null(ferry_library_archive_dir(f->dir, "w-1", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull(strstr(error->message, "chmod go-w"));
    g_clear_error(&error);
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*chmod go-w*");
    g_autoptr(GPtrArray) none = ferry_library_list(f->dir);
    g_test_assert_expected_messages();
    g_assert_cmpuint(none->len, ==, 0);
    g_assert_cmpint(chmod(f->dir, 0755), ==, 0);

    g_assert_cmpint(chmod(dir, 0770), ==, 0);
    g_assert_null(ferry_library_archive_dir(f->dir, "w-1", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*w-1*chmod go-w*");
    g_autoptr(GPtrArray) damaged = ferry_library_list(f->dir);
    g_test_assert_expected_messages();
    g_assert_cmpuint(damaged->len, ==, 1);
    g_assert_nonnull(((FerryManifest *)g_ptr_array_index(damaged, 0))->problem);
    g_assert_cmpint(chmod(dir, 0750), ==, 0);

    if (geteuid() == 0) {
        g_assert_cmpint(chown(f->dir, 65534, 65534), ==, 0);
        g_assert_null(ferry_library_archive_dir(f->dir, "w-1", &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull(strstr(error->message, "chown root"));
        g_clear_error(&error);
        g_assert_cmpint(chown(f->dir, 0, 0), ==, 0);
    }
    g_autofree char *ok = ferry_library_archive_dir(f->dir, "w-1", &error);
    g_assert_no_error(error);
}

/* A journal is read bounded and without blocking too. */
static void test_journal_fifo(Fixture *f, gconstpointer data)
{
    g_autofree char *jdir = g_build_filename(f->dir, "journal", NULL);
    g_autofree char *fifo = g_build_filename(jdir, "archive-x-1.journal", NULL);
    g_assert_cmpint(g_mkdir(jdir, 0700), ==, 0);
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    alarm(20);
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*not a regular file*");
    g_autoptr(GPtrArray) entries = ferry_journal_load_all(f->dir);
    g_test_assert_expected_messages();
    alarm(0);
    g_assert_cmpuint(entries->len, ==, 0);
}

static void test_partial_hidden(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryManifest) m = NULL;
    g_autofree char *dir = make_archive(f, ".partial-y-1", &m);
    g_autoptr(GPtrArray) list = ferry_library_list(f->dir);
    g_assert_cmpuint(list->len, ==, 0);
    g_autoptr(GError) error = NULL;
    g_assert_null(ferry_library_archive_dir(f->dir, "nosuch-1", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
}

static void test_journal(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    FerryJournal *j = ferry_journal_create(f->dir, "archive", "db_201-1", &error);
    g_assert_no_error(error);
    ferry_journal_set(j, "phase", "saving");
    ferry_journal_append(j, "created", "/a b/c");
    ferry_journal_append(j, "created", "/d;e");
    g_assert_true(ferry_journal_commit(j, &error));
    FerryJournal *k = ferry_journal_create(f->dir, "restore", "z-2", &error);
    g_assert_true(ferry_journal_record(k, "xml", "<domain>\n  <name>x</name>\n</domain>", &error));
    g_autoptr(GPtrArray) all = ferry_journal_load_all(f->dir);
    g_assert_cmpuint(all->len, ==, 2);
    FerryJournal *first = g_ptr_array_index(all, 0);
    g_assert_cmpstr(ferry_journal_kind(first), ==, "archive");
    g_autofree char *phase = ferry_journal_get(first, "phase");
    g_assert_cmpstr(phase, ==, "saving");
    g_auto(GStrv) created = ferry_journal_get_list(first, "created");
    g_assert_cmpuint(g_strv_length(created), ==, 2);
    g_assert_cmpstr(created[0], ==, "/a b/c");
    g_assert_cmpstr(created[1], ==, "/d;e");
    g_autofree char *xml = ferry_journal_get(g_ptr_array_index(all, 1), "xml");
    g_assert_cmpstr(xml, ==, "<domain>\n  <name>x</name>\n</domain>");
    ferry_journal_remove(j);
    ferry_journal_remove(k);
    ferry_journal_free(j);
    ferry_journal_free(k);
    g_autoptr(GPtrArray) none = ferry_journal_load_all(f->dir);
    g_assert_cmpuint(none->len, ==, 0);
    /* Garbage in the journal directory is dropped, not acted on. */
    g_autofree char *junk = g_build_filename(f->dir, "journal", "x-y.journal", NULL);
    g_assert_true(g_file_set_contents(junk, "not a key file [", -1, NULL));
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "job journal*unreadable*");
    g_autoptr(GPtrArray) after = ferry_journal_load_all(f->dir);
    g_test_assert_expected_messages();
    g_assert_cmpuint(after->len, ==, 0);
    g_assert_false(g_file_test(junk, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------------ jobs */

typedef struct {
    GMainLoop *loop;
    GHashTable *finished;   /* jobs seen finished */
} Watch;

static void observe(FerryJob *job, gpointer data)
{
    Watch *w = data;
    if (ferry_job_is_finished(job) && g_hash_table_add(w->finished, job))
        g_main_loop_quit(w->loop);
}

static gboolean job_ok_with_note(FerryJob *job, gpointer data, GError **error)
{
    ferry_job_set_data(job, 100, 50);
    ferry_job_add_step(job, "d", "step", "t", "done");
    ferry_job_add_note(job, "cdrom hdc: media left out");
    ferry_job_set_result(job, "d-1");
    return TRUE;
}

static gboolean job_waits_for_cancel(FerryJob *job, gpointer data, GError **error)
{
    while (!g_cancellable_is_cancelled(ferry_job_cancellable(job)))
        g_usleep(1000);
    return !g_cancellable_set_error_if_cancelled(ferry_job_cancellable(job), error);
}

static gboolean job_fails_foreign(FerryJob *job, gpointer data, GError **error)
{
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no such file: /x");
    return FALSE;
}

static void run_until_finished(Watch *w, FerryJob *job)
{
    while (!g_hash_table_contains(w->finished, job))
        g_main_loop_run(w->loop);
}

static void test_jobs(void)
{
    Watch w = { g_main_loop_new(NULL, FALSE), g_hash_table_new(NULL, NULL) };
    FerryJobs *jobs = ferry_jobs_new(observe, &w);
    g_autoptr(GError) error = NULL;

    /* ferry_jobs_start returns a reference of the caller's: the table drops a finished job. */
    g_autoptr(FerryJob) ok = ferry_jobs_start(jobs, FERRY_JOB_ARCHIVE, "d", "uuid-1", job_ok_with_note, NULL, NULL, &error);
    g_assert_no_error(error);
    run_until_finished(&w, ok);
    g_auto(FerryJobState) s = { 0 };
    ferry_job_get_state(ok, &s);
    g_assert_cmpint(s.status, ==, FERRY_JOB_WARNING);
    g_assert_cmpfloat(s.progress, ==, 1.0);
    g_assert_cmpstr(s.result, ==, "d-1");
    g_assert_cmpuint(g_strv_length(s.notes), ==, 1);
    g_assert_cmpuint(g_variant_n_children(s.steps), ==, 1);
    /* The domain is free again once the job ended, and the table has forgotten the job. */
    g_assert_null(ferry_jobs_for_domain(jobs, "uuid-1"));
    g_assert_cmpuint(ferry_jobs_count(jobs), ==, 0);

    g_autoptr(FerryJob) long_job = ferry_jobs_start(jobs, FERRY_JOB_ARCHIVE, "d", "uuid-1", job_waits_for_cancel, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_null(ferry_jobs_start(jobs, FERRY_JOB_RESTORE, "d", "uuid-1", job_ok_with_note, NULL, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_clear_error(&error);
    g_assert_false(ferry_jobs_hold(jobs, "uuid-1", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_clear_error(&error);
    g_assert_cmpuint(ferry_jobs_count_running(jobs, FERRY_JOB_ARCHIVE), ==, 1);
    g_assert_cmpuint(ferry_jobs_count_running(jobs, FERRY_JOB_VERIFY), ==, 0);
    /* Per-caller counts (Verify's cap per bus name). */
    ferry_job_set_owner(long_job, ":1.5");
    g_assert_cmpuint(ferry_jobs_count_running_for(jobs, FERRY_JOB_ARCHIVE, ":1.5"), ==, 1);
    g_assert_cmpuint(ferry_jobs_count_running_for(jobs, FERRY_JOB_ARCHIVE, ":1.6"), ==, 0);
    g_assert_cmpuint(ferry_jobs_count(jobs), ==, 1);
    ferry_job_cancel(long_job);
    run_until_finished(&w, long_job);
    g_assert_cmpuint(ferry_jobs_count_running(jobs, FERRY_JOB_ARCHIVE), ==, 0);
    g_assert_cmpuint(ferry_jobs_count(jobs), ==, 0);
    g_auto(FerryJobState) c = { 0 };
    ferry_job_get_state(long_job, &c);
    g_assert_cmpint(c.status, ==, FERRY_JOB_CANCELLED);
    g_autoptr(GError) cancelled = ferry_job_dup_error(long_job);
    g_assert_error(cancelled, FERRY_ERROR, FERRY_ERROR_CANCELLED);

    g_autoptr(FerryJob) bad = ferry_jobs_start(jobs, FERRY_JOB_VERIFY, "x", NULL, job_fails_foreign, NULL, NULL, &error);
    run_until_finished(&w, bad);
    g_autoptr(GError) failed = ferry_job_dup_error(bad);
    g_assert_error(failed, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(failed->message, "/x"));

    g_assert_true(ferry_jobs_hold(jobs, "uuid-2", NULL));
    g_assert_false(ferry_jobs_hold(jobs, "uuid-2", NULL));
    ferry_jobs_release(jobs, "uuid-2");
    g_assert_true(ferry_jobs_hold(jobs, "uuid-2", NULL));
    ferry_jobs_free(jobs);
    g_hash_table_unref(w.finished);
    g_main_loop_unref(w.loop);
}

/* Cancelling another caller's job asks the action its kind is started with: a failover
 * never shares migrate's kept authorization, and only an archive job asks "archive". */
static void test_job_kinds(void)
{
    static const struct {
        FerryJobKind kind;
        const char *name, *action;
    } expected[] = {
        { FERRY_JOB_ARCHIVE, "archive", "org.virtferry.ferry1.archive" },
        { FERRY_JOB_RESTORE, "restore", "org.virtferry.ferry1.restore" },
        { FERRY_JOB_VERIFY, "verify", "org.virtferry.ferry1.restore" },
        { FERRY_JOB_MIGRATE, "migrate", "org.virtferry.ferry1.migrate" },
        { FERRY_JOB_MOVE_DISK, "move-disk", "org.virtferry.ferry1.migrate" },
        { FERRY_JOB_FAILOVER, "failover", "org.virtferry.ferry1.failover" },
        { FERRY_JOB_EVACUATE, "evacuate", "org.virtferry.ferry1.evacuate" },
        { FERRY_JOB_MAINTENANCE, "maintenance", "org.virtferry.ferry1.maintenance" },
    };
    g_assert_cmpuint(G_N_ELEMENTS(expected), ==, FERRY_JOB_N_KINDS);
    for (gsize i = 0; i < G_N_ELEMENTS(expected); i++) {
        g_assert_cmpstr(ferry_job_kind_name(expected[i].kind), ==, expected[i].name);
        g_assert_cmpstr(ferry_job_kind_action(expected[i].kind), ==, expected[i].action);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/library/id-check", test_id_check);
    g_test_add("/library/id-make", Fixture, NULL, set_up, test_id_make, tear_down);
    g_test_add("/library/manifest-round-trip", Fixture, NULL, set_up, test_manifest_round_trip, tear_down);
    g_test_add("/library/corruption", Fixture, NULL, set_up, test_corruption, tear_down);
    g_test_add("/library/missing-manifest", Fixture, NULL, set_up, test_missing_manifest, tear_down);
    g_test_add("/library/delete-damaged", Fixture, NULL, set_up, test_delete_damaged, tear_down);
    g_test_add("/library/hostile-manifest", Fixture, NULL, set_up, test_hostile_manifest, tear_down);
    g_test_add("/library/unsafe-dirs", Fixture, NULL, set_up, test_unsafe_dirs, tear_down);
    g_test_add("/library/journal-fifo", Fixture, NULL, set_up, test_journal_fifo, tear_down);
    g_test_add("/library/partial-hidden", Fixture, NULL, set_up, test_partial_hidden, tear_down);
    g_test_add("/library/journal", Fixture, NULL, set_up, test_journal, tear_down);
    g_test_add_func("/library/jobs", test_jobs);
    g_test_add_func("/library/job-kinds", test_job_kinds);
    return g_test_run();
}
