/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "journal.h"

#include "copy.h"
#include "ferry-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#define GROUP "entry"
/* A journal holds a few paths and at most a domain's definition (libvirt bounds those to
 * 10 MiB): a bigger file is not a journal. */
#define JOURNAL_MAX_BYTES (16 * 1024 * 1024)

struct _FerryJournal {
    char *path;
    char *kind, *id;
    GKeyFile *kf;
};

static char *journal_dir(const char *state_dir)
{
    return g_build_filename(state_dir, "journal", NULL);
}

void ferry_journal_free(FerryJournal *j)
{
    if (!j)
        return;
    g_free(j->path);
    g_free(j->kind);
    g_free(j->id);
    g_key_file_unref(j->kf);
    g_free(j);
}

static void fsync_dir_of(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

gboolean ferry_journal_commit(FerryJournal *j, GError **error)
{
    gsize len = 0;
    g_autofree char *data = g_key_file_to_data(j->kf, &len, NULL);
    g_autoptr(GError) local = NULL;
    if (!g_file_set_contents_full(j->path, data, len,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, &local)) {
        g_set_error(error, FERRY_ERROR,
                    g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOSPC) ? FERRY_ERROR_NO_CAPACITY
                                                                             : FERRY_ERROR_FAILED,
                    "cannot write the job journal %s: %s; check the space and permissions of [state] dir=",
                    j->path, local->message);
        return FALSE;
    }
    fsync_dir_of(j->path);
    return TRUE;
}

FerryJournal *ferry_journal_create(const char *state_dir, const char *kind, const char *id, GError **error)
{
    g_autofree char *dir = journal_dir(state_dir);
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot create the job journal directory %s: %s",
                    dir, g_strerror(err));
        return NULL;
    }
    g_autoptr(FerryJournal) j = g_new0(FerryJournal, 1);
    g_autofree char *file = g_strdup_printf("%s-%s.journal", kind, id);
    j->path = g_build_filename(dir, file, NULL);
    j->kind = g_strdup(kind);
    j->id = g_strdup(id);
    j->kf = g_key_file_new();
    g_key_file_set_string(j->kf, GROUP, "kind", kind);
    g_key_file_set_string(j->kf, GROUP, "id", id);
    g_key_file_set_int64(j->kf, GROUP, "started", g_get_real_time());
    if (!ferry_journal_commit(j, error))
        return NULL;
    return g_steal_pointer(&j);
}

static FerryJournal *load_one(const char *path)
{
    g_autoptr(FerryJournal) j = g_new0(FerryJournal, 1);
    j->path = g_strdup(path);
    j->kf = g_key_file_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!ferry_read_untrusted_file(path, JOURNAL_MAX_BYTES, &data, &len, &error) ||
        !g_key_file_load_from_data(j->kf, data, len, G_KEY_FILE_NONE, &error) ||
        !(j->kind = g_key_file_get_string(j->kf, GROUP, "kind", NULL)) ||
        !(j->id = g_key_file_get_string(j->kf, GROUP, "id", NULL))) {
        g_warning("job journal %s is unreadable (%s); removing it", path, error ? error->message : "no kind or id");
        g_unlink(path);
        return NULL;
    }
    return g_steal_pointer(&j);
}

static gint by_start(gconstpointer a, gconstpointer b)
{
    FerryJournal *x = *(FerryJournal **)a, *y = *(FerryJournal **)b;
    gint64 tx = g_key_file_get_int64(x->kf, GROUP, "started", NULL);
    gint64 ty = g_key_file_get_int64(y->kf, GROUP, "started", NULL);
    return (tx > ty) - (tx < ty);
}

GPtrArray *ferry_journal_load_all(const char *state_dir)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_journal_free);
    g_autofree char *dir = journal_dir(state_dir);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        if (!g_str_has_suffix(name, ".journal"))
            continue; /* including g_file_set_contents' temporary files */
        g_autofree char *path = g_build_filename(dir, name, NULL);
        FerryJournal *j = load_one(path);
        if (j)
            g_ptr_array_add(entries, j);
    }
    g_ptr_array_sort(entries, by_start);
    return entries;
}

const char *ferry_journal_kind(FerryJournal *j) { return j->kind; }
const char *ferry_journal_id(FerryJournal *j) { return j->id; }

char *ferry_journal_get(FerryJournal *j, const char *key)
{
    return g_key_file_get_string(j->kf, GROUP, key, NULL);
}

GStrv ferry_journal_get_list(FerryJournal *j, const char *key)
{
    GStrv list = g_key_file_get_string_list(j->kf, GROUP, key, NULL, NULL);
    return list ? list : g_new0(char *, 1);
}

void ferry_journal_set(FerryJournal *j, const char *key, const char *value)
{
    if (value)
        g_key_file_set_string(j->kf, GROUP, key, value);
    else
        g_key_file_remove_key(j->kf, GROUP, key, NULL);
}

void ferry_journal_append(FerryJournal *j, const char *key, const char *value)
{
    g_auto(GStrv) list = ferry_journal_get_list(j, key);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_strv_builder_addv(b, (const char **)list);
    g_strv_builder_add(b, value);
    g_auto(GStrv) longer = g_strv_builder_end(b);
    g_key_file_set_string_list(j->kf, GROUP, key, (const char *const *)longer, g_strv_length(longer));
}

gboolean ferry_journal_record(FerryJournal *j, const char *key, const char *value, GError **error)
{
    ferry_journal_set(j, key, value);
    return ferry_journal_commit(j, error);
}

void ferry_journal_remove(FerryJournal *j)
{
    if (g_unlink(j->path) < 0 && errno != ENOENT)
        g_warning("cannot remove job journal %s: %s", j->path, g_strerror(errno));
    fsync_dir_of(j->path);
}
