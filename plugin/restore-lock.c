/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The restore lock (see restore-lock.h). Every file here may be written by any host that
 * shares the library: read without following links, regular files only, bounded. */
#include "restore-lock.h"

#include "ferry-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUP "restore-lock"
#define MAX_LOCK_BYTES 4096
#define TAKEOVER_ATTEMPTS 4
#define MAX_WATCH_SECONDS 60

struct _FerryRestoreLock {
    char *dir, *path;
    FerryRestoreLockHolder *me;
    guint beat_seconds;
    int fd;
    GThread *beater;
    GMutex mutex;
    GCond cond;
    gboolean stop;
};

void ferry_restore_lock_holder_free(FerryRestoreLockHolder *h)
{
    if (!h)
        return;
    g_free(h->token);
    g_free(h->host);
    g_free(h->host_uuid);
    g_free(h->boot_id);
    g_free(h->archive);
    g_free(h->domain);
    g_free(h);
}

/* ------------------------------------------------------------------ this process */

static char *read_small_file(const char *path)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return g_strstrip(g_steal_pointer(&text));
}

static char *boot_id(void)
{
    char *id = read_small_file("/proc/sys/kernel/random/boot_id");
    return id ? id : g_strdup("");
}

/* The start time of process @pid (field 22 of /proc/<pid>/stat), 0 when it does not exist
 * or has ended:
 * with the pid it names one process for the whole boot, whatever reuses the number. */
static guint64 process_start(gint64 pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%" G_GINT64_FORMAT "/stat", pid);
    g_autofree char *stat = read_small_file(path);
    const char *after = stat ? strrchr(stat, ')') : NULL;
    if (!after)
        return 0;
    g_auto(GStrv) fields = g_strsplit(after + 1, " ", 0);
    /* fields[0] is empty (the space after ')'), fields[1] is field 3 (state). A zombie is
     * gone: nothing reaps a daemon that was started detached until its reaper gets to it. */
    if (g_strv_length(fields) < 21 || g_str_equal(fields[1], "Z") || g_str_equal(fields[1], "X"))
        return 0;
    return g_ascii_strtoull(fields[20], NULL, 10);
}

/* ------------------------------------------------------------------ the file */

static char *holder_to_data(const FerryRestoreLockHolder *h, guint beat_seconds)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_key_file_set_string(kf, GROUP, "token", h->token);
    g_key_file_set_string(kf, GROUP, "host", h->host);
    g_key_file_set_string(kf, GROUP, "host-uuid", h->host_uuid);
    g_key_file_set_string(kf, GROUP, "boot-id", h->boot_id);
    g_key_file_set_int64(kf, GROUP, "pid", h->pid);
    g_key_file_set_uint64(kf, GROUP, "pid-start", h->pid_start);
    g_key_file_set_int64(kf, GROUP, "started", h->started);
    g_key_file_set_string(kf, GROUP, "archive", h->archive);
    g_key_file_set_string(kf, GROUP, "domain", h->domain);
    g_key_file_set_uint64(kf, GROUP, "beat-seconds", beat_seconds);
    /* Fixed width: each beat rewrites the file in place with as many bytes. */
    g_autofree char *beat = g_strdup_printf("%020" G_GUINT64_FORMAT, h->beat);
    g_key_file_set_string(kf, GROUP, "beat", beat);
    return g_key_file_to_data(kf, NULL, NULL);
}

static FerryRestoreLockHolder *holder_from_data(const char *data, guint *beat_seconds)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    if (!g_key_file_load_from_data(kf, data, -1, G_KEY_FILE_NONE, NULL))
        return NULL;
    g_autoptr(FerryRestoreLockHolder) h = g_new0(FerryRestoreLockHolder, 1);
    g_autoptr(GError) error = NULL;
    h->token = g_key_file_get_string(kf, GROUP, "token", &error);
    h->host = g_key_file_get_string(kf, GROUP, "host", error ? NULL : &error);
    h->host_uuid = g_key_file_get_string(kf, GROUP, "host-uuid", error ? NULL : &error);
    h->boot_id = g_key_file_get_string(kf, GROUP, "boot-id", error ? NULL : &error);
    h->pid = g_key_file_get_int64(kf, GROUP, "pid", error ? NULL : &error);
    h->pid_start = g_key_file_get_uint64(kf, GROUP, "pid-start", error ? NULL : &error);
    h->started = g_key_file_get_int64(kf, GROUP, "started", error ? NULL : &error);
    h->archive = g_key_file_get_string(kf, GROUP, "archive", error ? NULL : &error);
    h->domain = g_key_file_get_string(kf, GROUP, "domain", error ? NULL : &error);
    h->beat = g_key_file_get_uint64(kf, GROUP, "beat", error ? NULL : &error);
    guint64 seconds = g_key_file_get_uint64(kf, GROUP, "beat-seconds", error ? NULL : &error);
    if (error || !*h->token || seconds == 0)
        return NULL;
    if (beat_seconds)
        *beat_seconds = (guint)MIN(seconds, MAX_WATCH_SECONDS);
    return g_steal_pointer(&h);
}

/* The lock file's bytes: NULL with errno ENOENT when there is none, EINVAL when it is not a
 * regular file or is too big. */
static char *read_lock_data(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= MAX_LOCK_BYTES) {
        data = g_malloc0(MAX_LOCK_BYTES + 1);
        ssize_t n = read(fd, data, MAX_LOCK_BYTES);
        if (n < 0)
            g_clear_pointer(&data, g_free);
    } else {
        errno = EINVAL;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return data;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Any host that shares the library may write it: the directory must be root's (or, for a
 * virt-ferryd that does not run as root, its own) and writable by nobody else. */
static gboolean open_lock_dir(const char *library, char **dir_out, GError **error)
{
    g_autofree char *dir = g_build_filename(library, FERRY_RESTORE_LOCK_DIR, NULL);
    if (g_mkdir(dir, 0755) < 0 && errno != EEXIST) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot create the restore lock directory %s: %s", dir,
                    g_strerror(err));
        return FALSE;
    }
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
        (st.st_mode & (S_IWGRP | S_IWOTH))) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "the restore lock directory %s is not a directory owned by root and writable only by it; "
                    "fix it (chown root: %s; chmod 755 %s) or remove it", dir, dir, dir);
        return FALSE;
    }
    *dir_out = g_steal_pointer(&dir);
    return TRUE;
}

static char *lock_path(const char *dir, const char *domain_uuid)
{
    g_autofree char *name = g_strconcat(domain_uuid, ".lock", NULL);
    return g_build_filename(dir, name, NULL);
}

static gboolean check_uuid(const char *uuid, GError **error)
{
    if (uuid && g_uuid_string_is_valid(uuid))
        return TRUE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "\"%s\" is not a domain UUID",
                uuid ? uuid : "(none)");
    return FALSE;
}

FerryRestoreLockHolder *ferry_restore_lock_read(const char *library, const char *domain_uuid, GError **error)
{
    if (!check_uuid(domain_uuid, error))
        return NULL;
    g_autofree char *dir = g_build_filename(library, FERRY_RESTORE_LOCK_DIR, NULL);
    g_autofree char *path = lock_path(dir, domain_uuid);
    g_autofree char *data = read_lock_data(path);
    FerryRestoreLockHolder *h = data ? holder_from_data(data, NULL) : NULL;
    if (!h)
        g_set_error(error, FERRY_ERROR, data || errno != ENOENT ? FERRY_ERROR_FAILED : FERRY_ERROR_NOT_FOUND,
                    "%s: %s", path, data ? "not a restore lock" : g_strerror(errno));
    return h;
}

/* ------------------------------------------------------------------ the heartbeat */

static void write_holder(FerryRestoreLock *lock)
{
    g_autofree char *data = holder_to_data(lock->me, lock->beat_seconds);
    gsize len = strlen(data);
    if (pwrite(lock->fd, data, len, 0) != (ssize_t)len || fdatasync(lock->fd) < 0)
        g_warning("cannot write the restore lock %s: %s", lock->path, g_strerror(errno));
}

static gpointer beat_thread(gpointer data)
{
    FerryRestoreLock *lock = data;
    g_mutex_lock(&lock->mutex);
    while (!lock->stop) {
        gint64 until = g_get_monotonic_time() + lock->beat_seconds * G_TIME_SPAN_SECOND;
        while (!lock->stop && g_cond_wait_until(&lock->cond, &lock->mutex, until))
            ;
        if (lock->stop)
            break;
        lock->me->beat++;
        g_mutex_unlock(&lock->mutex);
        write_holder(lock);
        g_mutex_lock(&lock->mutex);
    }
    g_mutex_unlock(&lock->mutex);
    return NULL;
}

/* ------------------------------------------------------------------ staleness */

static char *describe_holder(const FerryRestoreLockHolder *h)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(h->started / G_USEC_PER_SEC);
    g_autofree char *when = t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");
    return g_strdup_printf("host %s (virt-ferryd pid %" G_GINT64_FORMAT ", restoring archive %s since %s)", h->host,
                           h->pid, h->archive, when);
}

static gboolean busy(GError **error, const char *path, const FerryRestoreLockHolder *h, const char *why)
{
    g_autofree char *who = describe_holder(h);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                "domain %s is being restored on %s: %s. Restore lock %s; if that host is down for good and its "
                "restore will never finish, take the lock over with the break_lock option (virt-ferry restore "
                "--break-lock)", h->domain, who, why, path);
    return FALSE;
}

/* Whether another host's holding is over: its libvirt says nothing of the domain runs there,
 * and its heartbeat stands still for three beats. */
static gboolean remote_holder_gone(const FerryRestoreLockRequest *req, const char *path,
                                   const FerryRestoreLockHolder *h, guint beat_seconds, GError **error)
{
    g_autoptr(GError) asked = NULL;
    if (!req->owner_check)
        return busy(error, path, h, "that host cannot be asked whether the restore still runs");
    if (!req->owner_check(h, req->owner_check_data, &asked))
        return busy(error, path, h, asked ? asked->message : "that host did not answer");
    g_usleep((gulong)(3 * beat_seconds + 1) * G_USEC_PER_SEC);
    g_autofree char *data = read_lock_data(path);
    g_autoptr(FerryRestoreLockHolder) now = data ? holder_from_data(data, NULL) : NULL;
    if (now && g_str_equal(now->token, h->token) && now->beat == h->beat)
        return TRUE;
    return busy(error, path, now ? now : h, "its heartbeat still moves");
}

/* Whether the holding @h of @path may be taken over; Busy when not. @h NULL: unreadable. */
static gboolean holder_is_stale(const FerryRestoreLockRequest *req, const char *path,
                                const FerryRestoreLockHolder *h, guint beat_seconds, GError **error)
{
    if (!h) {
        if (req->break_lock)
            return TRUE;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                    "the restore lock %s of domain %s cannot be read; if no restore of that domain runs on any host, "
                    "take it over with the break_lock option (virt-ferry restore --break-lock)", path,
                    req->domain_uuid);
        return FALSE;
    }
    if (g_strcmp0(h->host_uuid, req->host_uuid) == 0) {
        g_autofree char *boot = boot_id();
        if (!g_str_equal(boot, h->boot_id))
            return TRUE; /* this host rebooted since */
        if (h->pid > 0 && process_start(h->pid) == h->pid_start)
            return busy(error, path, h, "that restore runs on this host");
        return TRUE;
    }
    if (req->break_lock) {
        g_autofree char *who = describe_holder(h);
        g_message("restore lock %s of %s broken as asked", path, who);
        return TRUE;
    }
    return remote_holder_gone(req, path, h, beat_seconds, error);
}

/* Moves the stale lock @path (whose bytes were @seen) out of the way. FALSE when the file
 * changed meanwhile: someone else took it over, or its holder wrote; then it is left. */
static gboolean take_over(const char *path, const char *seen, const char *token)
{
    g_autofree char *aside = g_strconcat(path, ".stale-", token, NULL);
    if (g_rename(path, aside) < 0)
        return FALSE;
    g_autofree char *moved = read_lock_data(aside);
    gboolean same = moved && g_str_equal(moved, seen);
    if (!same && link(aside, path) < 0 && errno != EEXIST)
        g_warning("cannot put the restore lock %s back: %s", path, g_strerror(errno));
    g_unlink(aside);
    return same;
}

/* ------------------------------------------------------------------ taking and leaving */

static FerryRestoreLockHolder *holder_new(const FerryRestoreLockRequest *req)
{
    FerryRestoreLockHolder *h = g_new0(FerryRestoreLockHolder, 1);
    h->token = g_uuid_string_random();
    h->host = g_strdup(req->host);
    h->host_uuid = g_strdup(req->host_uuid);
    h->boot_id = boot_id();
    h->pid = getpid();
    h->pid_start = process_start(h->pid);
    h->started = g_get_real_time();
    h->archive = g_strdup(req->archive_id);
    h->domain = g_strdup(req->domain_uuid);
    return h;
}

static FerryRestoreLock *lock_new(const FerryRestoreLockRequest *req, char *dir, char *path, int fd)
{
    FerryRestoreLock *lock = g_new0(FerryRestoreLock, 1);
    lock->dir = dir;
    lock->path = path;
    lock->fd = fd;
    lock->me = holder_new(req);
    lock->beat_seconds = req->beat_seconds ? req->beat_seconds : FERRY_RESTORE_LOCK_BEAT_SECONDS;
    g_mutex_init(&lock->mutex);
    g_cond_init(&lock->cond);
    return lock;
}

FerryRestoreLock *ferry_restore_lock_acquire(const FerryRestoreLockRequest *req, GError **error)
{
    g_autofree char *dir = NULL;
    if (!check_uuid(req->domain_uuid, error) || !open_lock_dir(req->library, &dir, error))
        return NULL;
    g_autofree char *path = lock_path(dir, req->domain_uuid);
    g_autofree char *token = g_uuid_string_random();
    for (int attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) {
            FerryRestoreLock *lock = lock_new(req, g_steal_pointer(&dir), g_steal_pointer(&path), fd);
            write_holder(lock);
            sync_dir(lock->dir);
            lock->beater = g_thread_new("restore-lock", beat_thread, lock);
            return lock;
        }
        if (errno != EEXIST) {
            int err = errno;
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot create the restore lock %s: %s", path,
                        g_strerror(err));
            return NULL;
        }
        g_autofree char *seen = read_lock_data(path);
        if (!seen && errno == ENOENT)
            continue; /* released meanwhile */
        guint beat_seconds = FERRY_RESTORE_LOCK_BEAT_SECONDS;
        g_autoptr(FerryRestoreLockHolder) h = seen ? holder_from_data(seen, &beat_seconds) : NULL;
        if (!holder_is_stale(req, path, h, beat_seconds, error))
            return NULL;
        if (take_over(path, seen ? seen : "", token) && h)
            g_message("restore lock %s: took over the stale lock of host %s (pid %" G_GINT64_FORMAT ")", path,
                      h->host, h->pid);
    }
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                "the restore lock %s of domain %s keeps changing hands: another host is restoring it", path,
                req->domain_uuid);
    return NULL;
}

gboolean ferry_restore_lock_check(FerryRestoreLock *lock, GError **error)
{
    g_autofree char *data = read_lock_data(lock->path);
    g_autoptr(FerryRestoreLockHolder) h = data ? holder_from_data(data, NULL) : NULL;
    if (h && g_str_equal(h->token, lock->me->token))
        return TRUE;
    if (h)
        return busy(error, lock->path, h, "it took this restore's lock over");
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                "the restore lock %s of domain %s was removed while this restore ran: another host may be restoring "
                "it", lock->path, lock->me->domain);
    return FALSE;
}

void ferry_restore_lock_release(FerryRestoreLock *lock)
{
    if (!lock)
        return;
    g_mutex_lock(&lock->mutex);
    lock->stop = TRUE;
    g_cond_signal(&lock->cond);
    g_mutex_unlock(&lock->mutex);
    if (lock->beater)
        g_thread_join(lock->beater);
    if (ferry_restore_lock_check(lock, NULL)) {
        if (g_unlink(lock->path) < 0)
            g_warning("cannot remove the restore lock %s: %s", lock->path, g_strerror(errno));
        sync_dir(lock->dir);
    }
    close(lock->fd);
    g_mutex_clear(&lock->mutex);
    g_cond_clear(&lock->cond);
    ferry_restore_lock_holder_free(lock->me);
    g_free(lock->dir);
    g_free(lock->path);
    g_free(lock);
}

void ferry_restore_lock_sweep(const char *library, const char *host_uuid)
{
    g_autofree char *dir = g_build_filename(library, FERRY_RESTORE_LOCK_DIR, NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    g_autofree char *token = g_uuid_string_random();
    g_autofree char *boot = boot_id();
    while (d && (name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".lock"))
            continue;
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_autofree char *data = read_lock_data(path);
        g_autoptr(FerryRestoreLockHolder) h = data ? holder_from_data(data, NULL) : NULL;
        if (!h || g_strcmp0(h->host_uuid, host_uuid) != 0 || h->pid == getpid())
            continue;
        gboolean gone = !g_str_equal(h->boot_id, boot) || process_start(h->pid) != h->pid_start;
        if (gone && take_over(path, data, token))
            g_message("removed the restore lock %s that virt-ferryd pid %" G_GINT64_FORMAT " left", path, h->pid);
    }
}
