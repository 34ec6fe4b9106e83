/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ferry-error.h"

FerryConfig *ferry_config_ref(FerryConfig *config)
{
    g_atomic_ref_count_inc(&config->ref);
    return config;
}

void ferry_config_unref(FerryConfig *config)
{
    if (!config || !g_atomic_ref_count_dec(&config->ref))
        return;
    g_free(config->path);
    g_free(config->libvirt_uri);
    g_strfreev(config->peers);
    g_free(config->archive_library);
    g_free(config->image_dir);
    g_free(config->state_dir);
    g_free(config->networks_dir);
    g_free(config->failover_dir);
    g_strfreev(config->evacuation_methods);
    g_strfreev(config->unknown);
    g_free(config);
}

/* Every group and key virt-ferry reads (virt-ferry.conf(5)); whatever else a file holds is
 * reported, so that a misspelt key does not silently keep its default. */
static const struct {
    const char *group, *key;
} known_keys[] = {
    { "libvirt", "uri" },
    { "peers", "uris" },
    { "archive", "library" },
    { "archive", "image-dir" },
    { "state", "dir" },
    { "networks", "dir" },
    { "failover", "dir" },
    { "evacuation", "methods" },
    { "evacuation", "batch" },
    { "evacuation", "storage-per-source" },
    { "evacuation", "peer-timeout" },
    { "evacuation", "reserve" },
    { "evacuation", "memory-ratio" },
    { "evacuation", "vcpu-ratio" },
};

static gboolean is_known(const char *group, const char *key)
{
    for (gsize i = 0; i < G_N_ELEMENTS(known_keys); i++)
        if (g_str_equal(known_keys[i].group, group) && (!key || g_str_equal(known_keys[i].key, key)))
            return TRUE;
    return FALSE;
}

/* "unknown group [G]" and "unknown key K= in [G]", in the file's order. */
static GStrv unknown_entries(GKeyFile *kf)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    for (char **g = groups; *g; g++) {
        if (!is_known(*g, NULL)) {
            g_autofree char *entry = g_strdup_printf("unknown group [%s]", *g);
            g_strv_builder_add(b, entry);
            continue;
        }
        g_auto(GStrv) keys = g_key_file_get_keys(kf, *g, NULL, NULL);
        for (char **k = keys; k && *k; k++) {
            if (is_known(*g, *k))
                continue;
            g_autofree char *entry = g_strdup_printf("unknown key %s= in [%s]", *k, *g);
            g_strv_builder_add(b, entry);
        }
    }
    return g_strv_builder_end(b);
}

static char *string_or(GKeyFile *kf, const char *group, const char *key, const char *fallback)
{
    char *value = g_key_file_get_string(kf, group, key, NULL);
    if (value && *g_strstrip(value))
        return value;
    g_free(value);
    return g_strdup(fallback);
}

static gboolean load_peers(FerryConfig *config, GKeyFile *kf, GError **error)
{
    g_auto(GStrv) uris = g_key_file_get_string_list(kf, "peers", "uris", NULL, NULL);
    g_autoptr(GPtrArray) peers = g_ptr_array_new_with_free_func(g_free);
    for (char **u = uris; u && *u; u++) {
        char *uri = g_strstrip(*u);
        if (!*uri)
            continue;
        if (!g_strstr_len(uri, -1, "://")) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                        "%s: [peers] uris: \"%s\" is not a libvirt URI (like qemu+tls://beta/system)",
                        config->path, uri);
            return FALSE;
        }
        g_ptr_array_add(peers, g_strdup(uri));
    }
    g_ptr_array_add(peers, NULL);
    g_strfreev(config->peers);
    config->peers = (GStrv)g_ptr_array_free(g_steal_pointer(&peers), FALSE);
    return TRUE;
}

/* A whole number from @min, @fallback when the key is absent. */
static gboolean whole_number(FerryConfig *config, GKeyFile *kf, const char *key, guint min, guint fallback,
                             guint *out, GError **error)
{
    g_autofree char *text = g_key_file_get_string(kf, "evacuation", key, NULL);
    guint64 value = fallback;
    if (text && *g_strstrip(text) &&
        (!g_ascii_string_to_unsigned(text, 10, min, G_MAXUINT16, &value, NULL))) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s: [evacuation] %s=%s: give a whole number from %u to %u", config->path, key, text, min,
                    G_MAXUINT16);
        return FALSE;
    }
    *out = (guint)value;
    return TRUE;
}

static gboolean positive_uint(FerryConfig *config, GKeyFile *kf, const char *key, guint fallback, guint *out,
                              GError **error)
{
    return whole_number(config, kf, key, 1, fallback, out, error);
}

static gboolean positive_ratio(FerryConfig *config, GKeyFile *kf, const char *key, double fallback, double *out,
                               GError **error)
{
    g_autofree char *text = g_key_file_get_string(kf, "evacuation", key, NULL);
    *out = fallback;
    if (!text || !*g_strstrip(text))
        return TRUE;
    char *end = NULL;
    double value = g_ascii_strtod(text, &end);
    if (!end || *end || !(value > 0.0) || value > 1000.0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s: [evacuation] %s=%s: give a number above 0 (1.0: no over-commit)", config->path, key, text);
        return FALSE;
    }
    *out = value;
    return TRUE;
}

static gboolean load_evacuation(FerryConfig *config, GKeyFile *kf, GError **error)
{
    g_auto(GStrv) methods = g_key_file_get_string_list(kf, "evacuation", "methods", NULL, NULL);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (char **m = methods; m && *m; m++)
        if (*g_strstrip(*m))
            g_strv_builder_add(b, *m);
    config->evacuation_methods = g_strv_builder_end(b);
    return positive_uint(config, kf, "batch", FERRY_EVACUATION_BATCH, &config->evacuation_batch, error) &&
           positive_uint(config, kf, "storage-per-source", FERRY_EVACUATION_STORAGE_PER_SOURCE,
                         &config->evacuation_storage_per_source, error) &&
           positive_uint(config, kf, "peer-timeout", FERRY_EVACUATION_PEER_TIMEOUT,
                         &config->evacuation_peer_timeout, error) &&
           whole_number(config, kf, "reserve", 0, 0, &config->evacuation_reserve, error) &&
           positive_ratio(config, kf, "memory-ratio", FERRY_EVACUATION_MEMORY_RATIO,
                          &config->evacuation_memory_ratio, error) &&
           positive_ratio(config, kf, "vcpu-ratio", FERRY_EVACUATION_VCPU_RATIO, &config->evacuation_vcpu_ratio,
                          error);
}

FerryConfig *ferry_config_load(const char *path, GError **error)
{
    g_autoptr(FerryConfig) config = g_new0(FerryConfig, 1);
    g_atomic_ref_count_init(&config->ref);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;

    config->path = g_strdup(path ? path : FERRY_DEFAULT_CONFIG);
    config->peers = g_new0(char *, 1);
    if (!g_key_file_load_from_file(kf, config->path, G_KEY_FILE_NONE, &local)) {
        if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "%s: %s", config->path,
                        local->message);
            return NULL;
        }
    }
    config->unknown = unknown_entries(kf);
    config->libvirt_uri = string_or(kf, "libvirt", "uri", FERRY_DEFAULT_LIBVIRT_URI);
    config->archive_library = string_or(kf, "archive", "library", FERRY_DEFAULT_ARCHIVE_LIBRARY);
    config->image_dir = string_or(kf, "archive", "image-dir", FERRY_DEFAULT_IMAGE_DIR);
    config->state_dir = string_or(kf, "state", "dir", FERRY_DEFAULT_STATE_DIR);
    config->networks_dir = string_or(kf, "networks", "dir", FERRY_DEFAULT_NETWORKS_DIR);
    if (!g_path_is_absolute(config->archive_library) || !g_path_is_absolute(config->image_dir) ||
        !g_path_is_absolute(config->state_dir) || !g_path_is_absolute(config->networks_dir)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s: [archive] library=, [archive] image-dir=, [state] dir= and [networks] dir= must be absolute paths",
                    config->path);
        return NULL;
    }
    config->failover_dir = g_key_file_get_string(kf, "failover", "dir", NULL);
    if (config->failover_dir && !*config->failover_dir)
        g_clear_pointer(&config->failover_dir, g_free);
    if (config->failover_dir && !g_path_is_absolute(config->failover_dir)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s: [failover] dir= must be an absolute path (a directory on storage every host shares)",
                    config->path);
        return NULL;
    }
    if (!load_peers(config, kf, error) || !load_evacuation(config, kf, error))
        return NULL;
    return g_steal_pointer(&config);
}
