/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The restore lock on a temporary directory: taken once, Busy for a second taker while its
 * holder lives, taken over only when provably stale, never through a link. */
#include "ferry-error.h"
#include "restore-lock.h"
#include "scratch.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define UUID "6f1c2a8e-3b7d-4e59-9a10-2c4d5e6f7a8b"
#define HOST_UUID "11111111-2222-3333-4444-555555555555"
#define OTHER_HOST_UUID "99999999-8888-7777-6666-555555555555"

typedef struct {
    char *library;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->library = scratch_dir_new("ferry-lock");
}

static void teardown(Fixture *f, gconstpointer data)
{
    scratch_dir_remove(f->library);
    g_free(f->library);
}

static FerryRestoreLockRequest request(Fixture *f, const char *host, const char *host_uuid)
{
    return (FerryRestoreLockRequest){
        .library = f->library, .domain_uuid = UUID, .archive_id = "db1-20261203T090000Z",
        .host = host, .host_uuid = host_uuid, .beat_seconds = 1,
    };
}

static char *lock_file(Fixture *f)
{
    return g_build_filename(f->library, FERRY_RESTORE_LOCK_DIR, UUID ".lock", NULL);
}

static char *current_boot_id(void)
{
    g_autofree char *id = NULL;
    g_assert_true(g_file_get_contents("/proc/sys/kernel/random/boot_id", &id, NULL, NULL));
    return g_strdup(g_strstrip(id));
}

/* A lock file as a holder (maybe long gone) left it. */
static void plant(Fixture *f, const char *host, const char *host_uuid, const char *boot, gint64 pid,
                  guint64 pid_start)
{
    g_autofree char *dir = g_build_filename(f->library, FERRY_RESTORE_LOCK_DIR, NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    g_autofree char *text = g_strdup_printf(
        "[restore-lock]\ntoken=planted\nhost=%s\nhost-uuid=%s\nboot-id=%s\npid=%" G_GINT64_FORMAT
        "\npid-start=%" G_GUINT64_FORMAT "\nstarted=1764752400000000\narchive=db1-20261203T090000Z\n"
        "domain=" UUID "\nbeat-seconds=1\nbeat=00000000000000000003\n",
        host, host_uuid, boot, pid, pid_start);
    g_autofree char *path = lock_file(f);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static gint64 dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    int status;
    waitpid(pid, &status, 0);
    return pid;
}

static void test_once(Fixture *f, gconstpointer data)
{
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    FerryRestoreLock *lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
    g_assert_nonnull(lock);
    g_autoptr(FerryRestoreLockHolder) h = ferry_restore_lock_read(f->library, UUID, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(h->host, ==, "alpha");
    g_assert_cmpstr(h->host_uuid, ==, HOST_UUID);
    g_assert_cmpint(h->pid, ==, getpid());
    g_assert_cmpstr(h->archive, ==, "db1-20261203T090000Z");

    /* A second restore here while the first runs (the holder is this live process). */
    FerryRestoreLock *second = ferry_restore_lock_acquire(&req, &error);
    g_assert_null(second);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_assert_nonnull(strstr(error->message, "alpha"));
    g_clear_error(&error);
    /* Even when asked to break it: a live holder on this host is known to be alive. */
    req.break_lock = TRUE;
    g_assert_null(ferry_restore_lock_acquire(&req, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_clear_error(&error);

    g_assert_true(ferry_restore_lock_check(lock, &error));
    ferry_restore_lock_release(lock);
    g_autofree char *path = lock_file(f);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    req.break_lock = FALSE;
    lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
    ferry_restore_lock_release(lock);
}

static void test_heartbeat(Fixture *f, gconstpointer data)
{
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryRestoreLock) lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
    g_autoptr(FerryRestoreLockHolder) before = ferry_restore_lock_read(f->library, UUID, &error);
    g_usleep(2500 * 1000);
    g_autoptr(FerryRestoreLockHolder) after = ferry_restore_lock_read(f->library, UUID, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(after->beat, >, before->beat);
    g_assert_cmpstr(after->token, ==, before->token);
}

static void test_dead_process(Fixture *f, gconstpointer data)
{
    g_autofree char *boot = current_boot_id();
    plant(f, "alpha", HOST_UUID, boot, dead_pid(), 12345);
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryRestoreLock) lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
    g_autoptr(FerryRestoreLockHolder) h = ferry_restore_lock_read(f->library, UUID, &error);
    g_assert_cmpint(h->pid, ==, getpid());
    g_assert_cmpstr(h->token, !=, "planted");
}

static void test_zombie(Fixture *f, gconstpointer data)
{
    /* killed, not yet reaped: /proc still shows it, with its start time */
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    g_autofree char *stat_path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *stat = NULL;
    for (int i = 0; i < 100; i++) {
        g_clear_pointer(&stat, g_free);
        g_assert_true(g_file_get_contents(stat_path, &stat, NULL, NULL));
        if (strstr(stat, ") Z "))
            break;
        g_usleep(10000);
    }
    g_assert_nonnull(strstr(stat, ") Z "));
    g_auto(GStrv) fields = g_strsplit(strrchr(stat, ')') + 1, " ", 0);
    g_autofree char *boot = current_boot_id();
    plant(f, "alpha", HOST_UUID, boot, pid, g_ascii_strtoull(fields[20], NULL, 10));
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryRestoreLock) lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
    int status;
    waitpid(pid, &status, 0);
}

static void test_reused_pid(Fixture *f, gconstpointer data)
{
    /* The pid lives, but it is another process (its start time differs). */
    g_autofree char *boot = current_boot_id();
    plant(f, "alpha", HOST_UUID, boot, getppid(), 1);
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryRestoreLock) lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
}

static void test_rebooted(Fixture *f, gconstpointer data)
{
    plant(f, "alpha", HOST_UUID, "00000000-0000-0000-0000-000000000000", getpid(), 1);
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryRestoreLock) lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
}

static gboolean says_not_running(const FerryRestoreLockHolder *holder, gpointer data, GError **error)
{
    (*(int *)data)++;
    return TRUE;
}

static gboolean does_not_answer(const FerryRestoreLockHolder *holder, gpointer data, GError **error)
{
    (*(int *)data)++;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NETWORK_UNAVAILABLE, "no answer within 10 s");
    return FALSE;
}

static void test_other_host(Fixture *f, gconstpointer data)
{
    g_autofree char *boot = current_boot_id();
    plant(f, "beta", OTHER_HOST_UUID, boot, dead_pid(), 1);
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    /* Its pid means nothing here: another host's process is never judged by this host's. */
    g_assert_null(ferry_restore_lock_acquire(&req, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_assert_nonnull(strstr(error->message, "beta"));
    g_assert_nonnull(strstr(error->message, "break_lock"));
    g_clear_error(&error);

    int asked = 0;
    req.owner_check = does_not_answer;
    req.owner_check_data = &asked;
    g_assert_null(ferry_restore_lock_acquire(&req, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_assert_nonnull(strstr(error->message, "no answer"));
    g_assert_cmpint(asked, ==, 1);
    g_clear_error(&error);

    /* The owner answers, the heartbeat stands still: stale. */
    req.owner_check = says_not_running;
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(FerryRestoreLock) lock = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
    g_assert_cmpint(asked, ==, 2);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 3 * G_USEC_PER_SEC);
}

static void test_live_other_host(Fixture *f, gconstpointer data)
{
    FerryRestoreLockRequest beta = request(f, "beta", OTHER_HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryRestoreLock) held = ferry_restore_lock_acquire(&beta, &error);
    g_assert_no_error(error);
    int asked = 0;
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    req.owner_check = says_not_running;
    req.owner_check_data = &asked;
    /* Its libvirt says nothing runs there (still copying disks), but the heartbeat moves. */
    g_assert_null(ferry_restore_lock_acquire(&req, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_assert_nonnull(strstr(error->message, "heartbeat"));
    g_clear_error(&error);
    g_assert_true(ferry_restore_lock_check(held, &error));

    /* Broken by an administrator: the old holder learns it before it defines anything. */
    req.break_lock = TRUE;
    g_autoptr(FerryRestoreLock) taken = ferry_restore_lock_acquire(&req, &error);
    g_assert_no_error(error);
    g_assert_false(ferry_restore_lock_check(held, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_clear_error(&error);
    /* and its release leaves the new holder's lock alone */
    g_clear_pointer(&held, ferry_restore_lock_release);
    g_assert_true(ferry_restore_lock_check(taken, &error));
}

static void test_symlink(Fixture *f, gconstpointer data)
{
    g_autofree char *dir = g_build_filename(f->library, FERRY_RESTORE_LOCK_DIR, NULL);
    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    g_autofree char *target = g_build_filename(f->library, "victim", NULL);
    g_assert_true(g_file_set_contents(target, "keep", -1, NULL));
    g_autofree char *path = lock_file(f);
    g_assert_cmpint(symlink(target, path), ==, 0);
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_assert_null(ferry_restore_lock_acquire(&req, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_autofree char *content = NULL;
    g_assert_true(g_file_get_contents(target, &content, NULL, NULL));
    g_assert_cmpstr(content, ==, "keep");
}

static void test_unsafe_dir(Fixture *f, gconstpointer data)
{
    g_autofree char *dir = g_build_filename(f->library, FERRY_RESTORE_LOCK_DIR, NULL);
    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    g_assert_cmpint(g_chmod(dir, 0777), ==, 0);
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    g_autoptr(GError) error = NULL;
    g_assert_null(ferry_restore_lock_acquire(&req, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
}

static void test_bad_uuid(Fixture *f, gconstpointer data)
{
    FerryRestoreLockRequest req = request(f, "alpha", HOST_UUID);
    req.domain_uuid = "../../etc/passwd";
    g_autoptr(GError) error = NULL;
    g_assert_null(ferry_restore_lock_acquire(&req, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

static guint64 process_start_of_parent(void)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)getppid());
    g_autofree char *stat = NULL;
    g_assert_true(g_file_get_contents(path, &stat, NULL, NULL));
    g_auto(GStrv) fields = g_strsplit(strrchr(stat, ')') + 1, " ", 0);
    return g_ascii_strtoull(fields[20], NULL, 10);
}

static void test_sweep(Fixture *f, gconstpointer data)
{
    g_autofree char *boot = current_boot_id();
    g_autofree char *path = lock_file(f);
    plant(f, "beta", OTHER_HOST_UUID, boot, dead_pid(), 1);
    ferry_restore_lock_sweep(f->library, HOST_UUID);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS)); /* another host's: left */
    plant(f, "alpha", HOST_UUID, boot, getppid(), process_start_of_parent());
    ferry_restore_lock_sweep(f->library, HOST_UUID);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS)); /* its process lives */
    plant(f, "alpha", HOST_UUID, boot, dead_pid(), 1);
    ferry_restore_lock_sweep(f->library, HOST_UUID);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/restore-lock/once", Fixture, NULL, setup, test_once, teardown);
    g_test_add("/restore-lock/heartbeat", Fixture, NULL, setup, test_heartbeat, teardown);
    g_test_add("/restore-lock/dead-process", Fixture, NULL, setup, test_dead_process, teardown);
    g_test_add("/restore-lock/zombie", Fixture, NULL, setup, test_zombie, teardown);
    g_test_add("/restore-lock/reused-pid", Fixture, NULL, setup, test_reused_pid, teardown);
    g_test_add("/restore-lock/rebooted", Fixture, NULL, setup, test_rebooted, teardown);
    g_test_add("/restore-lock/other-host", Fixture, NULL, setup, test_other_host, teardown);
    g_test_add("/restore-lock/live-other-host", Fixture, NULL, setup, test_live_other_host, teardown);
    g_test_add("/restore-lock/symlink", Fixture, NULL, setup, test_symlink, teardown);
    g_test_add("/restore-lock/unsafe-dir", Fixture, NULL, setup, test_unsafe_dir, teardown);
    g_test_add("/restore-lock/bad-uuid", Fixture, NULL, setup, test_bad_uuid, teardown);
    g_test_add("/restore-lock/sweep", Fixture, NULL, setup, test_sweep, teardown);
    return g_test_run();
}
