/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "library.h"
#include "log.h"

#include "copy.h"
#include "ferry-error.h"
#include "names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARCHIVE_GROUP "archive"
#define FILE_PREFIX "file "
#define NIC_PREFIX "nic "

/* Bounds on what is read from the library: a manifest lists a few dozen files; its digest is
 * one line. Anything bigger is not a manifest, and must not exhaust virt-ferryd. */
#define MANIFEST_MAX_BYTES (1024 * 1024)
#define DIGEST_MAX_BYTES 256

static const char *const role_names[] = {
    [FERRY_FILE_MEMORY] = "memory", [FERRY_FILE_DOMAIN_XML] = "domain-xml", [FERRY_FILE_DISK] = "disk",
    [FERRY_FILE_NVRAM] = "nvram", [FERRY_FILE_TPM] = "tpm",
};

static void manifest_file_free(FerryManifestFile *f)
{
    g_free(f->path);
    g_free(f->digest);
    g_free(f->target);
    g_free(f->source);
    g_free(f->format);
    g_free(f);
}

static void manifest_nic_free(FerryManifestNic *n)
{
    g_free(n->mac);
    g_free(n->type);
    g_free(n->network);
    g_free(n->portgroup);
    g_free(n->bridge);
    g_free(n);
}

FerryManifest *ferry_manifest_new(void)
{
    FerryManifest *m = g_new0(FerryManifest, 1);
    m->files = g_ptr_array_new_with_free_func((GDestroyNotify)manifest_file_free);
    m->nics = g_ptr_array_new_with_free_func((GDestroyNotify)manifest_nic_free);
    m->notes = g_new0(char *, 1);
    return m;
}

void ferry_manifest_free(FerryManifest *m)
{
    if (!m)
        return;
    g_free(m->id);
    g_free(m->domain);
    g_free(m->uuid);
    g_free(m->source_host);
    g_free(m->state);
    g_free(m->libvirt_version);
    g_free(m->qemu_version);
    g_free(m->cpu_model);
    g_free(m->domain_type);
    g_free(m->problem);
    g_strfreev(m->notes);
    g_ptr_array_unref(m->files);
    g_ptr_array_unref(m->nics);
    g_free(m);
}

FerryManifestFile *ferry_manifest_add_file(FerryManifest *m, const char *path, FerryFileRole role,
                                           const FerryFileDigest *digest)
{
    FerryManifestFile *f = g_new0(FerryManifestFile, 1);
    f->path = g_strdup(path);
    f->role = role;
    f->size = digest->size;
    f->allocated = digest->allocated;
    f->digest = g_strdup(digest->checksum);
    g_ptr_array_add(m->files, f);
    return f;
}

gboolean ferry_manifest_file_matches(const FerryManifestFile *f, const FerryFileDigest *digest, const char *archive,
                                     GError **error)
{
    if (digest->size == f->size && g_str_equal(digest->checksum, f->digest))
        return TRUE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                "archive %s: file %s does not match its manifest (%s): the archive is corrupted", archive, f->path,
                digest->size != f->size ? "size differs" : "digest differs");
    return FALSE;
}

const FerryManifestFile *ferry_manifest_find(const FerryManifest *m, FerryFileRole role)
{
    for (guint i = 0; i < m->files->len; i++) {
        FerryManifestFile *f = g_ptr_array_index(m->files, i);
        if (f->role == role)
            return f;
    }
    return NULL;
}

gboolean ferry_manifest_has_memory(const FerryManifest *m)
{
    return ferry_manifest_find(m, FERRY_FILE_MEMORY) != NULL;
}

guint64 ferry_manifest_data_size(const FerryManifest *m)
{
    guint64 total = 0;
    for (guint i = 0; i < m->files->len; i++)
        total += ((FerryManifestFile *)g_ptr_array_index(m->files, i))->allocated;
    return total;
}

/* ------------------------------------------------------------------ manifest on disk */

static void set_optional(GKeyFile *kf, const char *group, const char *key, const char *value)
{
    if (value)
        g_key_file_set_string(kf, group, key, value);
}

static char *manifest_to_data(const FerryManifest *m, gsize *len)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_key_file_set_integer(kf, ARCHIVE_GROUP, "format", FERRY_ARCHIVE_FORMAT);
    g_key_file_set_string(kf, ARCHIVE_GROUP, "id", m->id);
    g_key_file_set_string(kf, ARCHIVE_GROUP, "domain", m->domain);
    g_key_file_set_string(kf, ARCHIVE_GROUP, "uuid", m->uuid);
    g_key_file_set_string(kf, ARCHIVE_GROUP, "source-host", m->source_host);
    g_key_file_set_int64(kf, ARCHIVE_GROUP, "created", m->created);
    g_key_file_set_string(kf, ARCHIVE_GROUP, "state", m->state);
    set_optional(kf, ARCHIVE_GROUP, "domain-type", m->domain_type);
    set_optional(kf, ARCHIVE_GROUP, "libvirt-version", m->libvirt_version);
    set_optional(kf, ARCHIVE_GROUP, "qemu-version", m->qemu_version);
    set_optional(kf, ARCHIVE_GROUP, "cpu-model", m->cpu_model);
    g_key_file_set_uint64(kf, ARCHIVE_GROUP, "memory-kib", m->memory_kib);
    g_key_file_set_integer(kf, ARCHIVE_GROUP, "vcpus", (int)m->vcpus);
    if (m->notes && *m->notes)
        g_key_file_set_string_list(kf, ARCHIVE_GROUP, "notes", (const char *const *)m->notes,
                                   g_strv_length(m->notes));
    for (guint i = 0; i < m->files->len; i++) {
        FerryManifestFile *f = g_ptr_array_index(m->files, i);
        g_autofree char *group = g_strconcat(FILE_PREFIX, f->path, NULL);
        g_key_file_set_string(kf, group, "role", role_names[f->role]);
        g_key_file_set_uint64(kf, group, "size", f->size);
        g_key_file_set_uint64(kf, group, "data", f->allocated);
        g_key_file_set_string(kf, group, "digest", f->digest);
        set_optional(kf, group, "target", f->target);
        set_optional(kf, group, "source", f->source);
        set_optional(kf, group, "format", f->format);
    }
    for (guint i = 0; i < m->nics->len; i++) {
        FerryManifestNic *n = g_ptr_array_index(m->nics, i);
        g_autofree char *group = g_strconcat(NIC_PREFIX, n->mac, NULL);
        set_optional(kf, group, "type", n->type);
        set_optional(kf, group, "network", n->network);
        set_optional(kf, group, "portgroup", n->portgroup);
        set_optional(kf, group, "bridge", n->bridge);
        g_key_file_set_integer(kf, group, "vlan", n->vlan);
        g_key_file_set_boolean(kf, group, "trunk", n->trunk);
        g_key_file_set_string(kf, group, "switch", n->distributed ? "distributed" : "standard");
    }
    return g_key_file_to_data(kf, len, NULL);
}

static char *digest_of_bytes(const char *data, gsize len)
{
    g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, len);
    return g_strconcat("sha256:", hex, NULL);
}

/* The manifest is written once, into the partial directory, before it is published. */
static gboolean write_durably(const char *path, const char *data, gsize len, GError **error)
{
    return ferry_write_new_file(path, data, len, 0640, error);
}

gboolean ferry_manifest_save(const FerryManifest *m, const char *dir, GError **error)
{
    gsize len = 0;
    g_autofree char *data = manifest_to_data(m, &len);
    g_autofree char *path = g_build_filename(dir, FERRY_MANIFEST_NAME, NULL);
    g_autofree char *digest_path = g_build_filename(dir, FERRY_MANIFEST_DIGEST_NAME, NULL);
    g_autofree char *digest = digest_of_bytes(data, len);
    g_autofree char *digest_line = g_strconcat(digest, "\n", NULL);
    return write_durably(path, data, len, error) &&
           write_durably(digest_path, digest_line, strlen(digest_line), error);
}

static gboolean parse_role(const char *name, FerryFileRole *role)
{
    for (gsize i = 0; i < G_N_ELEMENTS(role_names); i++)
        if (g_strcmp0(name, role_names[i]) == 0) {
            *role = (FerryFileRole)i;
            return TRUE;
        }
    return FALSE;
}

/* A file path from a manifest must stay inside the archive. */
static gboolean safe_relative_path(const char *path)
{
    if (!path || !*path || g_path_is_absolute(path))
        return FALSE;
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    for (char **p = parts; *p; p++)
        if (!**p || g_str_equal(*p, ".") || g_str_equal(*p, ".."))
            return FALSE;
    return TRUE;
}

static gboolean corrupted(GError **error, const char *dir, const char *what)
{
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                "archive %s: %s is corrupted (%s); the archive cannot be used", dir, FERRY_MANIFEST_NAME, what);
    return FALSE;
}

static gboolean parse_file_group(FerryManifest *m, GKeyFile *kf, const char *group, const char *dir,
                                 GError **error)
{
    const char *path = group + strlen(FILE_PREFIX);
    g_autofree char *role = g_key_file_get_string(kf, group, "role", NULL);
    g_autofree char *digest = g_key_file_get_string(kf, group, "digest", NULL);
    FerryFileRole r;
    if (!safe_relative_path(path) || !parse_role(role, &r) || !digest)
        return corrupted(error, dir, group);
    FerryManifestFile *f = g_new0(FerryManifestFile, 1);
    f->path = g_strdup(path);
    f->role = r;
    f->size = g_key_file_get_uint64(kf, group, "size", NULL);
    f->allocated = g_key_file_get_uint64(kf, group, "data", NULL);
    f->digest = g_steal_pointer(&digest);
    f->target = g_key_file_get_string(kf, group, "target", NULL);
    f->source = g_key_file_get_string(kf, group, "source", NULL);
    f->format = g_key_file_get_string(kf, group, "format", NULL);
    g_ptr_array_add(m->files, f);
    return TRUE;
}

static void parse_nic_group(FerryManifest *m, GKeyFile *kf, const char *group)
{
    FerryManifestNic *n = g_new0(FerryManifestNic, 1);
    n->mac = g_strdup(group + strlen(NIC_PREFIX));
    n->type = g_key_file_get_string(kf, group, "type", NULL);
    n->network = g_key_file_get_string(kf, group, "network", NULL);
    n->portgroup = g_key_file_get_string(kf, group, "portgroup", NULL);
    n->bridge = g_key_file_get_string(kf, group, "bridge", NULL);
    g_autoptr(GError) e = NULL;
    n->vlan = g_key_file_get_integer(kf, group, "vlan", &e);
    if (e)
        n->vlan = -1;
    n->trunk = g_key_file_get_boolean(kf, group, "trunk", NULL);
    g_autofree char *kind = g_key_file_get_string(kf, group, "switch", NULL);
    n->distributed = g_strcmp0(kind, "distributed") == 0;
    g_ptr_array_add(m->nics, n);
}

static guint64 allocated_bytes(const char *dir, const FerryManifest *m)
{
    guint64 total = 0;
    GStatBuf st;
    for (guint i = 0; i < m->files->len; i++) {
        g_autofree char *path = g_build_filename(dir, ((FerryManifestFile *)g_ptr_array_index(m->files, i))->path, NULL);
        if (g_stat(path, &st) == 0)
            total += (guint64)st.st_blocks * 512;
    }
    return total;
}

FerryManifest *ferry_manifest_load(const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, FERRY_MANIFEST_NAME, NULL);
    g_autofree char *digest_path = g_build_filename(dir, FERRY_MANIFEST_DIGEST_NAME, NULL);
    g_autofree char *data = NULL, *recorded = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    if (!ferry_read_untrusted_file(path, MANIFEST_MAX_BYTES, &data, &len, &local) ||
        !ferry_read_untrusted_file(digest_path, DIGEST_MAX_BYTES, &recorded, NULL, &local)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "archive %s is damaged: %s", dir, local->message);
        return NULL;
    }
    g_autofree char *digest = digest_of_bytes(data, len);
    if (!g_str_equal(g_strstrip(recorded), digest)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "archive %s: file %s does not match its digest in %s: the archive is corrupted", dir,
                    FERRY_MANIFEST_NAME, FERRY_MANIFEST_DIGEST_NAME);
        return NULL;
    }
    g_autoptr(GKeyFile) kf = g_key_file_new();
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
        corrupted(error, dir, local->message);
        return NULL;
    }
    if (g_key_file_get_integer(kf, ARCHIVE_GROUP, "format", NULL) != FERRY_ARCHIVE_FORMAT) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE,
                    "archive %s has format %d; this virt-ferry reads format %d", dir,
                    g_key_file_get_integer(kf, ARCHIVE_GROUP, "format", NULL), FERRY_ARCHIVE_FORMAT);
        return NULL;
    }
    g_autoptr(FerryManifest) m = ferry_manifest_new();
    m->id = g_key_file_get_string(kf, ARCHIVE_GROUP, "id", NULL);
    m->domain = g_key_file_get_string(kf, ARCHIVE_GROUP, "domain", NULL);
    m->uuid = g_key_file_get_string(kf, ARCHIVE_GROUP, "uuid", NULL);
    m->source_host = g_key_file_get_string(kf, ARCHIVE_GROUP, "source-host", NULL);
    m->state = g_key_file_get_string(kf, ARCHIVE_GROUP, "state", NULL);
    if (!m->id || !m->domain || !m->uuid || !m->source_host || !m->state) {
        corrupted(error, dir, "the [archive] group lacks id, domain, uuid, source-host or state");
        return NULL;
    }
    m->created = g_key_file_get_int64(kf, ARCHIVE_GROUP, "created", NULL);
    m->domain_type = g_key_file_get_string(kf, ARCHIVE_GROUP, "domain-type", NULL);
    m->libvirt_version = g_key_file_get_string(kf, ARCHIVE_GROUP, "libvirt-version", NULL);
    m->qemu_version = g_key_file_get_string(kf, ARCHIVE_GROUP, "qemu-version", NULL);
    m->cpu_model = g_key_file_get_string(kf, ARCHIVE_GROUP, "cpu-model", NULL);
    m->memory_kib = g_key_file_get_uint64(kf, ARCHIVE_GROUP, "memory-kib", NULL);
    m->vcpus = (guint)MAX(g_key_file_get_integer(kf, ARCHIVE_GROUP, "vcpus", NULL), 0);
    g_auto(GStrv) notes = g_key_file_get_string_list(kf, ARCHIVE_GROUP, "notes", NULL, NULL);
    if (notes) {
        g_strfreev(m->notes);
        m->notes = g_steal_pointer(&notes);
    }
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    for (char **g = groups; *g; g++) {
        if (g_str_has_prefix(*g, FILE_PREFIX)) {
            if (!parse_file_group(m, kf, *g, dir, error))
                return NULL;
        } else if (g_str_has_prefix(*g, NIC_PREFIX)) {
            parse_nic_group(m, kf, *g);
        }
    }
    m->allocated = allocated_bytes(dir, m);
    return g_steal_pointer(&m);
}

/* ------------------------------------------------------------------ ids */

/* Letters, digits, '-', '_' and '.' (neither first nor twice in a row: ids never hold "..")
 * kept; everything else becomes '_'. */
static char *file_safe_name(const char *name)
{
    GString *safe = g_string_new(NULL);
    for (const char *p = name; *p && safe->len < 64; p++) {
        gboolean dot_ok = *p == '.' && safe->len && safe->str[safe->len - 1] != '.';
        g_string_append_c(safe, g_ascii_isalnum(*p) || *p == '-' || *p == '_' || dot_ok ? *p : '_');
    }
    return g_string_free(safe, FALSE);
}

static gboolean exists(const char *path)
{
    GStatBuf st;
    return g_lstat(path, &st) == 0;
}

static gboolean id_taken(const char *library, const char *id)
{
    g_autofree char *dir = g_build_filename(library, id, NULL);
    g_autofree char *partial_name = g_strconcat(FERRY_PARTIAL_PREFIX, id, NULL);
    g_autofree char *partial = g_build_filename(library, partial_name, NULL);
    return exists(dir) || exists(partial);
}

char *ferry_archive_id_make(const char *library, const char *domain_name, gint64 created)
{
    g_autofree char *safe = file_safe_name(domain_name);
    g_autoptr(GDateTime) when = g_date_time_new_from_unix_utc(created / G_USEC_PER_SEC);
    g_autofree char *stamp = g_date_time_format(when, "%Y%m%dT%H%M%SZ");
    char *id = g_strdup_printf("%s-%s", safe, stamp);
    for (guint n = 2; id_taken(library, id); n++) {
        g_free(id);
        id = g_strdup_printf("%s-%s-%u", safe, stamp, n);
    }
    return id;
}

/* ------------------------------------------------------------------ library */

gboolean ferry_library_check_dir(const char *path, const char *what, GError **error)
{
    GStatBuf st;
    if (g_lstat(path, &st) < 0) {
        int err = errno;
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot read %s %s: %s", what, path, g_strerror(err));
        return FALSE;
    }
    if (!S_ISDIR(st.st_mode)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s %s is not a directory (a symbolic link?); make it a directory owned by root", what, path);
        return FALSE;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s %s is owned by uid %u: anyone but root who owns it can plant files that virt-ferryd would "
                    "read and restore; chown root: %s", what, path, (unsigned)st.st_uid, path);
        return FALSE;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s %s is writable by its group or by others (mode %04o): they could plant files that "
                    "virt-ferryd would read and restore; chmod go-w %s", what, path, (unsigned)(st.st_mode & 07777),
                    path);
        return FALSE;
    }
    return TRUE;
}

char *ferry_library_archive_dir(const char *library, const char *id, GError **error)
{
    if (!ferry_check_archive_id(id, error))
        return NULL;
    g_autofree char *dir = g_build_filename(library, id, NULL);
    if (!exists(dir)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                    "no archive \"%s\" in the library %s (virt-ferry archives lists them)", id, library);
        return NULL;
    }
    if (!ferry_library_check_dir(library, "the archive library", error) ||
        !ferry_library_check_dir(dir, "the archive directory", error))
        return NULL;
    return g_steal_pointer(&dir);
}

static gint by_created(gconstpointer a, gconstpointer b)
{
    const FerryManifest *x = *(FerryManifest **)a, *y = *(FerryManifest **)b;
    return x->created != y->created ? (x->created > y->created) - (x->created < y->created) : g_strcmp0(x->id, y->id);
}

/* An archive that cannot be used, listed so that it is seen (and removed), not silently
 * dropped: its id, the problem, and empty strings for what the manifest would have said. */
static FerryManifest *damaged_entry(const char *id, const char *dir, char *problem)
{
    FerryManifest *m = ferry_manifest_new();
    m->id = g_strdup(id);
    m->domain = g_strdup("");
    m->uuid = g_strdup("");
    m->source_host = g_strdup("");
    m->state = g_strdup("");
    m->problem = problem;
    GStatBuf st;
    if (g_lstat(dir, &st) == 0)
        m->created = (gint64)st.st_mtime * G_USEC_PER_SEC;
    return m;
}

static FerryManifest *list_entry(const char *library, const char *name)
{
    g_autofree char *dir = g_build_filename(library, name, NULL);
    g_autoptr(GError) error = NULL;
    if (!ferry_library_check_dir(dir, "the archive directory", &error))
        return damaged_entry(name, dir, g_strdup(error->message));
    FerryManifest *m = ferry_manifest_load(dir, &error);
    if (!m)
        return damaged_entry(name, dir, g_strdup(error->message));
    if (!g_str_equal(m->id, name)) {
        char *problem = g_strdup_printf("archive %s is damaged: its manifest names it %s", dir, m->id);
        ferry_manifest_free(m);
        return damaged_entry(name, dir, problem);
    }
    return m;
}

GPtrArray *ferry_library_list(const char *library)
{
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_manifest_free);
    g_autoptr(GError) error = NULL;
    if (exists(library) && !ferry_library_check_dir(library, "the archive library", &error)) {
        g_warning("not listing the archives: %s", error->message);
        return list;
    }
    g_autoptr(GDir) d = g_dir_open(library, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        if (name[0] == '.' || !ferry_check_archive_id(name, NULL))
            continue; /* partial archives, and what no archive is ever named */
        g_autofree char *path = g_build_filename(library, name, NULL);
        GStatBuf st;
        if (g_lstat(path, &st) < 0 || !(S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)))
            continue; /* files beside the archives are not archives; a link in their place is damage */
        FerryManifest *m = list_entry(library, name);
        if (m->problem)
            g_warning("%s", m->problem);
        g_ptr_array_add(list, m);
    }
    g_ptr_array_sort(list, by_created);
    return list;
}

typedef struct {
    FerryCopyProgress progress;
    gpointer user_data;
    guint64 before;
} VerifyProgress;

static gboolean verify_progress(guint64 done, gpointer data)
{
    VerifyProgress *v = data;
    return v->progress ? v->progress(v->before + done, v->user_data) : TRUE;
}

gboolean ferry_library_verify(const char *dir, const FerryManifest *m, guint skip_roles, GCancellable *cancellable,
                              FerryCopyProgress progress, gpointer user_data, GError **error)
{
    VerifyProgress v = { progress, user_data, 0 };
    for (guint i = 0; i < m->files->len; i++) {
        FerryManifestFile *f = g_ptr_array_index(m->files, i);
        if (skip_roles & (1u << f->role))
            continue;
        g_autofree char *path = g_build_filename(dir, f->path, NULL);
        FerryFileDigest digest;
        g_autoptr(GError) local = NULL;
        if (!ferry_digest_file(path, cancellable, verify_progress, &v, &digest, &local)) {
            if (g_error_matches(local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
            }
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "archive %s: file %s cannot be read: %s",
                        m->id, f->path, local->message);
            return FALSE;
        }
        if (!ferry_manifest_file_matches(f, &digest, m->id, error))
            return FALSE;
        v.before += f->allocated;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ delete */

gboolean ferry_library_delete(const char *library, const char *id, GError **error)
{
    if (!ferry_check_archive_id(id, error) || !ferry_library_check_dir(library, "the archive library", error))
        return FALSE;
    int fd = open(library, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ferry_error_set(error, FERRY_ERROR_FAILED, "cannot open the archive library %s: %s", library,
                               g_strerror(errno));
    /* First out of the listing, in one step (a link is renamed as a link): nobody lists,
     * verifies or restores a half-deleted archive, and a crash leaves only a hidden name. */
    g_autofree char *hidden = g_strconcat(FERRY_DELETING_PREFIX, id, NULL);
    int moved = renameat(fd, id, fd, hidden);
    int err = errno;
    close(fd);
    if (moved < 0 && err == ENOENT)
        return ferry_error_set(error, FERRY_ERROR_NOT_FOUND,
                               "no archive \"%s\" in the library %s (virt-ferry archives lists them)", id, library);
    if (moved < 0)
        return ferry_error_set(error, FERRY_ERROR_FAILED, "cannot delete archive %s from %s: %s", id, library,
                               g_strerror(err));
    g_autofree char *path = g_build_filename(library, hidden, NULL);
    ferry_remove_tree(path);
    ferry_log(FERRY_LOG_NOTICE, NULL, (const char *const[]){ "VIRT_FERRY_ARCHIVE", id, NULL },
              "deleted archive %s from %s", id, library);
    return TRUE;
}
