/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `virt-ferry policy DOMAIN KEY=VALUE...`: the assignments become SetDomainPolicy's a{sv},
 * checked here with virt-ferryd's own rules (plugin/policy.c, plugin/names.c) so that a
 * typo is reported before anything is sent. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

#include <string.h>

/* "no-migrate" is accepted for "no_migrate", as the metadata element spells it. */
static const FerryPolicyKey *find_key(const char *name, gsize len)
{
    g_autofree char *key = g_strndup(name, len);
    g_strdelimit(key, "-", '_');
    return ferry_policy_key_find(key);
}

/* ------------------------------------------------------------------ values */

static gboolean parse_bool(const char *key, const char *value, GVariant **out, GError **error)
{
    static const char *const yes[] = { "true", "yes", "1" }, *const no[] = { "false", "no", "0" };
    for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(value, yes[i]) == 0 || g_ascii_strcasecmp(value, no[i]) == 0) {
            *out = g_variant_new_boolean(g_ascii_strcasecmp(value, yes[i]) == 0);
            return TRUE;
        }
    }
    return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s': \"%s\" is not a boolean; use true, false, yes, no, 1 or 0",
                   key, value);
}

static gboolean parse_priority(const char *key, const char *value, GVariant **out, GError **error)
{
    gint64 number;
    g_autoptr(GError) local = NULL;
    if (!g_ascii_string_to_signed(value, 10, G_MININT64, G_MAXINT64, &number, &local)) {
        if (g_error_matches(local, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS))
            number = G_MAXINT64;
        else
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s': \"%s\" is not an integer; use a whole number "
                           "from %d to %d", key, value, FERRY_PRIORITY_MIN, FERRY_PRIORITY_MAX);
    }
    if (number < FERRY_PRIORITY_MIN || number > FERRY_PRIORITY_MAX)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s': %s is out of range; use a whole number from %d to %d",
                       key, value, FERRY_PRIORITY_MIN, FERRY_PRIORITY_MAX);
    *out = g_variant_new_int32((gint32)number);
    return TRUE;
}

/* eq and ne: a group name, or nothing to clear the group. */
static gboolean parse_group(const char *key, const char *value, GVariant **out, GError **error)
{
    g_autofree char *what = g_strdup_printf("policy key '%s': group", key);
    if (*value && !ferry_check_group_name(value, what, error))
        return FALSE;
    *out = g_variant_new_string(value);
    return TRUE;
}

/* Splits at commas; "\," is a comma inside an entry and "\\" a backslash. Blanks around
 * entries are dropped. "" is the empty list. */
static GPtrArray *split_list(const char *value)
{
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);
    if (!*value)
        return items;
    GString *item = g_string_new(NULL);
    for (const char *p = value;; p++) {
        if (*p == '\\' && (p[1] == ',' || p[1] == '\\')) {
            g_string_append_c(item, *++p);
        } else if (*p == ',' || !*p) {
            g_ptr_array_add(items, g_strstrip(g_string_free(g_steal_pointer(&item), FALSE)));
            if (!*p)
                break;
            item = g_string_new(NULL);
        } else {
            g_string_append_c(item, *p);
        }
    }
    return items;
}

static gboolean check_entries(const char *key, GPtrArray *items, GError **error)
{
    gboolean hosts = g_str_equal(key, "pin");
    g_autofree char *what = g_strdup_printf("policy key '%s': entry", key);
    if (items->len > FERRY_POLICY_LIST_MAX)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s' lists %u entries, at most %d are allowed", key,
                       items->len, FERRY_POLICY_LIST_MAX);
    for (guint i = 0; i < items->len; i++) {
        const char *item = items->pdata[i];
        if (!*item)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s': entry %u is empty; separate %s with single commas, "
                           "or give %s= for none", key, i + 1, hosts ? "host names" : "domain names", key);
        if (!(hosts ? ferry_check_host_name : ferry_check_domain_name)(item, what, error))
            return FALSE;
        for (guint j = 0; j < i; j++)
            if (g_str_equal(item, items->pdata[j]))
                return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s' lists \"%s\" twice", key, item);
    }
    return TRUE;
}

static gboolean parse_list(const char *key, const char *value, GVariant **out, GError **error)
{
    g_autoptr(GPtrArray) items = split_list(value);
    if (!check_entries(key, items, error))
        return FALSE;
    *out = g_variant_new_strv((const char *const *)items->pdata, items->len);
    return TRUE;
}

static gboolean parse_value(const FerryPolicyKey *key, const char *value, GVariant **out, GError **error)
{
    switch (key->type[0]) {
    case 'b':
        return parse_bool(key->name, value, out, error);
    case 'i':
        return parse_priority(key->name, value, out, error);
    case 's':
        return parse_group(key->name, value, out, error);
    default:
        return parse_list(key->name, value, out, error);
    }
}

/* ------------------------------------------------------------------ assignments */

static gboolean parse_assignment(const char *arg, const FerryPolicyKey **key, GVariant **value, GError **error)
{
    if (!g_utf8_validate(arg, -1, NULL)) {
        g_autofree char *shown = g_strescape(arg, NULL);
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "\"%s\" is not valid UTF-8", shown);
    }
    if (!*arg)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "an empty argument is no policy assignment; give KEY=VALUE, "
                       "for example hold=yes");
    const char *eq = strchr(arg, '=');
    if (!eq) {
        const FerryPolicyKey *known = find_key(arg, strlen(arg));
        if (known)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s' needs a value: give %s=VALUE", known->name, arg);
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "\"%s\" is not a policy assignment; give KEY=VALUE, for example hold=yes",
                       arg);
    }
    if (eq == arg)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "\"%s\" has no key before '='; the keys are %s", arg, ferry_policy_key_names());
    *key = find_key(arg, (gsize)(eq - arg));
    if (!*key)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "unknown policy key '%.*s'; the keys are %s", (int)(eq - arg), arg,
                       ferry_policy_key_names());
    return parse_value(*key, eq + 1, value, error);
}

GVariant *cli_policy_parse(const char *const *assignments, GError **error)
{
    if (!assignments || !assignments[0]) {
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "no policy assignment given; give KEY=VALUE, for example hold=yes");
        return NULL;
    }
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    for (const char *const *arg = assignments; *arg; arg++) {
        const FerryPolicyKey *key = NULL;
        GVariant *value = NULL;
        if (!parse_assignment(*arg, &key, &value, error))
            return NULL;
        if (!g_hash_table_add(seen, (gpointer)key->name)) {
            g_variant_unref(g_variant_ref_sink(value));
            ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "policy key '%s' is given twice", key->name);
            return NULL;
        }
        g_variant_builder_add(&builder, "{sv}", key->name, value);
    }
    return g_variant_ref_sink(g_variant_builder_end(&builder));
}

/* ------------------------------------------------------------------ summary */

static void append_list(GString *out, GVariant *value)
{
    g_autofree const char **items = g_variant_get_strv(value, NULL);
    for (gsize i = 0; items[i]; i++) {
        if (i)
            g_string_append_c(out, ',');
        for (const char *p = items[i]; *p; p++) {
            if (*p == ',' || *p == '\\')
                g_string_append_c(out, '\\');
            g_string_append_c(out, *p);
        }
    }
}

/* The policy as the assignments that would set it, so a summary can be pasted back. */
char *cli_policy_summary(GVariant *policy)
{
    if (!policy || g_variant_n_children(policy) == 0)
        return g_strdup("-");
    GString *out = g_string_new(NULL);
    GVariantIter iter;
    const char *key;
    GVariant *value;
    g_variant_iter_init(&iter, policy);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        if (out->len)
            g_string_append_c(out, ' ');
        g_string_append_printf(out, "%s=", key);
        if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
            g_string_append(out, g_variant_get_boolean(value) ? "yes" : "no");
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
            g_string_append(out, g_variant_get_string(value, NULL));
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING_ARRAY))
            append_list(out, value);
        else if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT32))
            g_string_append_printf(out, "%d", g_variant_get_int32(value));
        else
            g_variant_print_string(value, out, FALSE);
    }
    return g_string_free(out, FALSE);
}
