/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The maintenance state file: persisted and read back, refused when it is not a plain file
 * of ours (symbolic link, FIFO, corrupt, too large), and the hook's refusal line. */
#include "ferry-error.h"
#include "maintenance-state.h"
#include "scratch.h"

#include <fcntl.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->dir = scratch_dir_new("ferry-maint");
    f->path = g_build_filename(f->dir, FERRY_MAINTENANCE_FILE, NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
    scratch_dir_remove(f->dir);
    g_free(f->dir);
    g_free(f->path);
}

static void enter(Fixture *f, FerryMaintenanceMode mode)
{
    g_auto(FerryMaintenanceState) s = { .active = TRUE, .mode = mode, .host = g_strdup("alpha"), .since = 1796292000 };
    ferry_maintenance_add_domain(&s, "6f1c2a8e-3b7d-4e59-9a10-2c4d5e6f7a8b", NULL);
    ferry_maintenance_add_domain(&s, "11111111-2222-3333-4444-555555555555", "qemu+tcp://beta/system");
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_maintenance_store(f->dir, &s, &error));
    g_assert_no_error(error);
}

static void test_missing_is_inactive(Fixture *f, gconstpointer data)
{
    g_auto(FerryMaintenanceState) s = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_maintenance_load(f->dir, &s, &error));
    g_assert_no_error(error);
    g_assert_false(s.active);
    g_assert_cmpuint(g_strv_length(s.domains), ==, 0);
    g_assert_null(ferry_maintenance_refusal(f->dir, "migrate", "vm1"));
}

static void test_persist_reload(Fixture *f, gconstpointer data)
{
    enter(f, FERRY_MAINTENANCE_MIGRATE);
    struct stat st;
    g_assert_cmpint(g_stat(f->path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_auto(FerryMaintenanceState) s = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_maintenance_load(f->dir, &s, &error));
    g_assert_no_error(error);
    g_assert_true(s.active);
    g_assert_cmpint(s.mode, ==, FERRY_MAINTENANCE_MIGRATE);
    g_assert_cmpstr(s.host, ==, "alpha");
    g_assert_cmpint(s.since, ==, 1796292000);
    g_assert_cmpuint(g_strv_length(s.domains), ==, 2);
    g_assert_cmpstr(s.domains[1], ==, "11111111-2222-3333-4444-555555555555");
    g_assert_cmpstr(s.peers[0], ==, "");
    g_assert_cmpstr(s.peers[1], ==, "qemu+tcp://beta/system");

    /* Leaving removes it: not in maintenance any more. */
    FerryMaintenanceState none = { 0 };
    g_assert_true(ferry_maintenance_store(f->dir, &none, &error));
    g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
    g_auto(FerryMaintenanceState) after = { 0 };
    g_assert_true(ferry_maintenance_load(f->dir, &after, &error));
    g_assert_false(after.active);
}

static void test_refusal_line(Fixture *f, gconstpointer data)
{
    enter(f, FERRY_MAINTENANCE_SAVE);
    g_autofree char *line = ferry_maintenance_refusal(f->dir, "migrate", "vm1");
    g_assert_nonnull(line);
    g_assert_nonnull(strstr(line, "host alpha is in maintenance (since 2026-12-03T"));
    g_assert_nonnull(strstr(line, "virt-ferry maintenance leave"));
    g_assert_null(strchr(line, '\n'));
}

static void assert_refused(Fixture *f)
{
    g_auto(FerryMaintenanceState) s = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_maintenance_load(f->dir, &s, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    /* The hook refuses when it cannot tell. */
    g_autofree char *line = ferry_maintenance_refusal(f->dir, "restore", "vm1");
    g_assert_nonnull(line);
}

static void test_corrupt(Fixture *f, gconstpointer data)
{
    g_assert_true(g_file_set_contents(f->path, "[maintenance]\nmode=sideways\n", -1, NULL));
    assert_refused(f);
    g_assert_true(g_file_set_contents(f->path, "not a key file \x01\n", -1, NULL));
    assert_refused(f);
}

static void test_too_large(Fixture *f, gconstpointer data)
{
    g_autofree char *big = g_strnfill(FERRY_MAINTENANCE_MAX_BYTES + 10, '#');
    g_assert_true(g_file_set_contents(f->path, big, -1, NULL));
    assert_refused(f);
}

static void test_symlink(Fixture *f, gconstpointer data)
{
    g_autofree char *real = g_build_filename(f->dir, "elsewhere", NULL);
    g_assert_true(g_file_set_contents(real, "[maintenance]\nmode=save\n", -1, NULL));
    g_assert_cmpint(symlink(real, f->path), ==, 0);
    assert_refused(f);
}

static void test_fifo(Fixture *f, gconstpointer data)
{
    g_assert_cmpint(mkfifo(f->path, 0600), ==, 0);
    /* Would block forever on open without O_NONBLOCK: the test hangs then. */
    assert_refused(f);
}

static void test_store_replaces_symlink(Fixture *f, gconstpointer data)
{
    /* A link planted where the state goes is replaced, never written through. */
    g_autofree char *victim = g_build_filename(f->dir, "victim", NULL);
    g_assert_true(g_file_set_contents(victim, "untouched", -1, NULL));
    g_assert_cmpint(symlink(victim, f->path), ==, 0);
    enter(f, FERRY_MAINTENANCE_SAVE);
    g_autofree char *content = NULL;
    g_assert_true(g_file_get_contents(victim, &content, NULL, NULL));
    g_assert_cmpstr(content, ==, "untouched");
    g_assert_false(g_file_test(f->path, G_FILE_TEST_IS_SYMLINK));
}

/* A domain the evacuation moved twice is recorded once, where it went last. */
static void test_record_moved_on(Fixture *f, gconstpointer data)
{
    g_auto(FerryMaintenanceState) s = { .active = TRUE, .mode = FERRY_MAINTENANCE_MIGRATE };
    ferry_maintenance_add_domain(&s, "11111111-2222-3333-4444-555555555555", "qemu+tcp://beta/system");
    ferry_maintenance_add_domain(&s, "22222222-2222-3333-4444-555555555555", "qemu+tcp://beta/system");
    ferry_maintenance_add_domain(&s, "11111111-2222-3333-4444-555555555555", "qemu+tcp://gamma/system");
    g_assert_cmpuint(g_strv_length(s.domains), ==, 2);
    g_assert_cmpuint(g_strv_length(s.peers), ==, 2);
    g_assert_cmpstr(s.peers[0], ==, "qemu+tcp://gamma/system");
    g_assert_cmpstr(s.peers[1], ==, "qemu+tcp://beta/system");
}

/* A file written before peers were recorded (no peers key) still reads: every peer unknown. */
static void test_old_file_without_peers(Fixture *f, gconstpointer data)
{
    g_assert_true(g_file_set_contents(f->path, "[maintenance]\nmode=migrate\nhost=alpha\nsince=1\n"
                                               "domains=11111111-2222-3333-4444-555555555555;\n", -1, NULL));
    g_auto(FerryMaintenanceState) s = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_maintenance_load(f->dir, &s, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(g_strv_length(s.domains), ==, 1);
    g_assert_cmpuint(g_strv_length(s.peers), ==, 1);
    g_assert_cmpstr(s.peers[0], ==, "");
}

/* Recording never writes a file that load would refuse as too large: NoCapacity, and the
 * file on disk stays as it was (still readable, still in maintenance). */
static void test_record_bounded(Fixture *f, gconstpointer data)
{
    enter(f, FERRY_MAINTENANCE_MIGRATE);
    g_auto(FerryMaintenanceState) s = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_maintenance_load(f->dir, &s, &error));
    g_autofree char *long_uri = g_strnfill(1000, 'p');
    for (guint i = 0; i < FERRY_MAINTENANCE_MAX_BYTES / 1000 + 10; i++) {
        g_autofree char *uuid = g_strdup_printf("%08x-0000-0000-0000-000000000000", i);
        ferry_maintenance_add_domain(&s, uuid, long_uri);
    }
    g_assert_false(ferry_maintenance_store(f->dir, &s, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    g_auto(FerryMaintenanceState) after = { 0 };
    g_clear_error(&error);
    g_assert_true(ferry_maintenance_load(f->dir, &after, &error));
    g_assert_true(after.active);
    g_assert_cmpuint(g_strv_length(after.domains), ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/maintenance/" name, Fixture, NULL, setup, fn, teardown)
    ADD("missing-is-inactive", test_missing_is_inactive);
    ADD("persist-reload", test_persist_reload);
    ADD("refusal-line", test_refusal_line);
    ADD("corrupt", test_corrupt);
    ADD("too-large", test_too_large);
    ADD("symlink", test_symlink);
    ADD("fifo", test_fifo);
    ADD("store-replaces-symlink", test_store_replaces_symlink);
    ADD("record-moved-on", test_record_moved_on);
    ADD("old-file-without-peers", test_old_file_without_peers);
    ADD("record-bounded", test_record_bounded);
    return g_test_run();
}
