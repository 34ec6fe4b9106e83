/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The maintenance state file (see maintenance-state.h). */
#include "maintenance-state.h"

#include "ferry-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUP "maintenance"

const char *ferry_maintenance_mode_name(FerryMaintenanceMode mode)
{
    return mode == FERRY_MAINTENANCE_MIGRATE ? "migrate" : "save";
}

gboolean ferry_maintenance_mode_parse(const char *word, FerryMaintenanceMode *mode)
{
    if (g_strcmp0(word, "save") == 0)
        *mode = FERRY_MAINTENANCE_SAVE;
    else if (g_strcmp0(word, "migrate") == 0)
        *mode = FERRY_MAINTENANCE_MIGRATE;
    else
        return FALSE;
    return TRUE;
}

void ferry_maintenance_state_clear(FerryMaintenanceState *state)
{
    g_clear_pointer(&state->host, g_free);
    g_clear_pointer(&state->domains, g_strfreev);
    g_clear_pointer(&state->peers, g_strfreev);
    state->active = FALSE;
    state->since = 0;
    state->mode = FERRY_MAINTENANCE_SAVE;
}

static void set_inactive(FerryMaintenanceState *state)
{
    ferry_maintenance_state_clear(state);
    state->domains = g_new0(char *, 1);
    state->peers = g_new0(char *, 1);
}

/* The file's bytes: a regular file, not through a link, bounded; NULL with *@missing when
 * there is none. */
static char *read_bounded(const char *path, gsize *length, gboolean *missing, GError **error)
{
    *missing = FALSE;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            *missing = TRUE;
            return NULL;
        }
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot open the maintenance state %s: %s%s", path,
                    g_strerror(errno), errno == ELOOP ? " (a symbolic link, refused)" : "");
        return NULL;
    }
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) < 0)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot check the maintenance state %s: %s", path,
                    g_strerror(errno));
    else if (!S_ISREG(st.st_mode))
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "the maintenance state %s is not a regular file; remove it and enter maintenance again", path);
    else if (st.st_size > FERRY_MAINTENANCE_MAX_BYTES)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "the maintenance state %s is too large (%lld bytes)",
                    path, (long long)st.st_size);
    else {
        data = g_malloc(FERRY_MAINTENANCE_MAX_BYTES + 1);
        gsize n = 0;
        for (;;) {
            ssize_t r = read(fd, data + n, FERRY_MAINTENANCE_MAX_BYTES + 1 - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot read the maintenance state %s: %s", path,
                            g_strerror(errno));
                g_clear_pointer(&data, g_free);
                break;
            }
            n += r;
            if (r == 0 || n > FERRY_MAINTENANCE_MAX_BYTES)
                break;
        }
        if (data && n > FERRY_MAINTENANCE_MAX_BYTES) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "the maintenance state %s is too large", path);
            g_clear_pointer(&data, g_free);
        }
        if (data) {
            data[n] = '\0';
            *length = n;
        }
    }
    close(fd);
    return data;
}

gboolean ferry_maintenance_load(const char *state_dir, FerryMaintenanceState *state, GError **error)
{
    set_inactive(state);
    g_autofree char *path = g_build_filename(state_dir, FERRY_MAINTENANCE_FILE, NULL);
    gsize length = 0;
    gboolean missing;
    g_autofree char *data = read_bounded(path, &length, &missing, error);
    if (!data)
        return missing;
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_autofree char *mode = NULL;
    if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &local) ||
        !(mode = g_key_file_get_string(kf, GROUP, "mode", &local))) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "the maintenance state %s is corrupt: %s", path,
                    local->message);
        return FALSE;
    }
    if (!ferry_maintenance_mode_parse(mode, &state->mode)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "the maintenance state %s is corrupt: unknown mode %s",
                    path, mode);
        return FALSE;
    }
    state->active = TRUE;
    state->host = g_key_file_get_string(kf, GROUP, "host", NULL);
    state->since = g_key_file_get_int64(kf, GROUP, "since", NULL);
    GStrv domains = g_key_file_get_string_list(kf, GROUP, "domains", NULL, NULL);
    GStrv peers = g_key_file_get_string_list(kf, GROUP, "peers", NULL, NULL);
    if (domains) {
        g_strfreev(state->domains);
        state->domains = domains;
    }
    /* One peer per domain, whatever the file says. */
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (guint i = 0; state->domains[i]; i++)
        g_strv_builder_add(b, peers && i < g_strv_length(peers) ? peers[i] : "");
    g_strfreev(peers);
    g_strfreev(state->peers);
    state->peers = g_strv_builder_end(b);
    return TRUE;
}

static gboolean sync_dir(const char *dir, GError **error)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot sync %s: %s", dir, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    close(fd);
    return TRUE;
}

gboolean ferry_maintenance_store(const char *state_dir, const FerryMaintenanceState *state, GError **error)
{
    g_autofree char *path = g_build_filename(state_dir, FERRY_MAINTENANCE_FILE, NULL);
    if (g_mkdir_with_parents(state_dir, 0700) < 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot create %s: %s", state_dir, g_strerror(errno));
        return FALSE;
    }
    if (!state->active) {
        if (g_unlink(path) < 0 && errno != ENOENT) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot remove %s: %s", path, g_strerror(errno));
            return FALSE;
        }
        return sync_dir(state_dir, error);
    }
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_key_file_set_string(kf, GROUP, "mode", ferry_maintenance_mode_name(state->mode));
    g_key_file_set_string(kf, GROUP, "host", state->host ? state->host : "");
    g_key_file_set_int64(kf, GROUP, "since", state->since);
    const char *const none[] = { NULL };
    const char *const *domains = state->domains ? (const char *const *)state->domains : none;
    const char *const *peers = state->peers ? (const char *const *)state->peers : none;
    g_key_file_set_string_list(kf, GROUP, "domains", domains, g_strv_length((GStrv)domains));
    g_key_file_set_string_list(kf, GROUP, "peers", peers, g_strv_length((GStrv)peers));
    gsize length;
    g_autofree char *data = g_key_file_to_data(kf, &length, NULL);
    if (length > FERRY_MAINTENANCE_MAX_BYTES) { /* load would refuse it: the file on disk stays as it was */
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY,
                    "the maintenance state would exceed %d bytes (%u domains recorded): this one is not recorded",
                    FERRY_MAINTENANCE_MAX_BYTES, g_strv_length((GStrv)domains));
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    if (!g_file_set_contents_full(path, data, length,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, &local)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot write the maintenance state: %s",
                    local->message);
        return FALSE;
    }
    return sync_dir(state_dir, error);
}

void ferry_maintenance_add_domain(FerryMaintenanceState *state, const char *uuid, const char *peer_uri)
{
    for (guint i = 0; state->domains && state->domains[i]; i++)
        if (g_str_equal(state->domains[i], uuid) && state->peers && i < g_strv_length(state->peers)) {
            g_free(state->peers[i]); /* moved on since: where it is now */
            state->peers[i] = g_strdup(peer_uri ? peer_uri : "");
            return;
        }
    g_autoptr(GStrvBuilder) d = g_strv_builder_new();
    g_autoptr(GStrvBuilder) p = g_strv_builder_new();
    if (state->domains)
        g_strv_builder_addv(d, (const char **)state->domains);
    if (state->peers)
        g_strv_builder_addv(p, (const char **)state->peers);
    g_strv_builder_add(d, uuid);
    g_strv_builder_add(p, peer_uri ? peer_uri : "");
    g_strfreev(state->domains);
    g_strfreev(state->peers);
    state->domains = g_strv_builder_end(d);
    state->peers = g_strv_builder_end(p);
}

char *ferry_maintenance_refusal(const char *state_dir, const char *operation, const char *domain)
{
    g_auto(FerryMaintenanceState) state = { 0 };
    g_autoptr(GError) error = NULL;
    if (!ferry_maintenance_load(state_dir, &state, &error))
        return g_strdup_printf("virt-ferry: the %s of domain %s is refused: %s", operation, domain, error->message);
    if (!state.active)
        return NULL;
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(state.since);
    g_autofree char *since = when ? g_date_time_format_iso8601(when) : g_strdup("?");
    const char *host = state.host && *state.host ? state.host : g_get_host_name();
    return g_strdup_printf("virt-ferry: the %s of domain %s is refused: host %s is in maintenance (since %s): "
                           "virt-ferry maintenance leave",
                           operation, domain, host, since);
}
