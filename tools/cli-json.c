/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --json: the D-Bus properties as JSON objects, one document per line, for scripts. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>

static void append_string(GString *out, const char *text)
{
    g_string_append_c(out, '"');
    for (const char *p = text; *p; p++) {
        guchar c = (guchar)*p;
        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        default:
            if (c < 0x20)
                g_string_append_printf(out, "\\u%04x", c);
            else
                g_string_append_c(out, (char)c);
        }
    }
    g_string_append_c(out, '"');
}

static void append_double(GString *out, double value)
{
    if (!isfinite(value)) {
        g_string_append(out, "null");
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append(out, g_ascii_dtostr(buf, sizeof buf, value));
}

static void append_value(GString *out, GVariant *value);

/* A dictionary becomes an object: its keys are strings already, or printed as one. */
static void append_object(GString *out, GVariant *dict)
{
    GVariantIter iter;
    GVariant *entry;
    gboolean first = TRUE;
    g_string_append_c(out, '{');
    g_variant_iter_init(&iter, dict);
    while ((entry = g_variant_iter_next_value(&iter))) {
        g_autoptr(GVariant) key = g_variant_get_child_value(entry, 0);
        g_autoptr(GVariant) value = g_variant_get_child_value(entry, 1);
        g_autofree char *printed = NULL;
        if (!first)
            g_string_append_c(out, ',');
        first = FALSE;
        if (g_variant_is_of_type(key, G_VARIANT_TYPE_STRING) || g_variant_is_of_type(key, G_VARIANT_TYPE_OBJECT_PATH))
            append_string(out, g_variant_get_string(key, NULL));
        else
            append_string(out, printed = g_variant_print(key, FALSE));
        g_string_append_c(out, ':');
        append_value(out, value);
        g_variant_unref(entry);
    }
    g_string_append_c(out, '}');
}

/* Arrays, tuples and maybes become arrays (a maybe: [] or [value]). */
static void append_array(GString *out, GVariant *container)
{
    g_string_append_c(out, '[');
    for (gsize i = 0, n = g_variant_n_children(container); i < n; i++) {
        g_autoptr(GVariant) child = g_variant_get_child_value(container, i);
        if (i)
            g_string_append_c(out, ',');
        append_value(out, child);
    }
    g_string_append_c(out, ']');
}

static void append_value(GString *out, GVariant *value)
{
    switch (g_variant_classify(value)) {
    case G_VARIANT_CLASS_BOOLEAN:
        g_string_append(out, g_variant_get_boolean(value) ? "true" : "false");
        return;
    case G_VARIANT_CLASS_BYTE:
        g_string_append_printf(out, "%u", g_variant_get_byte(value));
        return;
    case G_VARIANT_CLASS_INT16:
        g_string_append_printf(out, "%d", g_variant_get_int16(value));
        return;
    case G_VARIANT_CLASS_UINT16:
        g_string_append_printf(out, "%u", g_variant_get_uint16(value));
        return;
    case G_VARIANT_CLASS_INT32:
        g_string_append_printf(out, "%d", g_variant_get_int32(value));
        return;
    case G_VARIANT_CLASS_UINT32:
        g_string_append_printf(out, "%u", g_variant_get_uint32(value));
        return;
    case G_VARIANT_CLASS_INT64:
        g_string_append_printf(out, "%" G_GINT64_FORMAT, g_variant_get_int64(value));
        return;
    case G_VARIANT_CLASS_UINT64:
        g_string_append_printf(out, "%" G_GUINT64_FORMAT, g_variant_get_uint64(value));
        return;
    case G_VARIANT_CLASS_HANDLE:
        g_string_append_printf(out, "%d", g_variant_get_handle(value));
        return;
    case G_VARIANT_CLASS_DOUBLE:
        append_double(out, g_variant_get_double(value));
        return;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
        append_string(out, g_variant_get_string(value, NULL));
        return;
    case G_VARIANT_CLASS_VARIANT: {
        g_autoptr(GVariant) inner = g_variant_get_variant(value);
        append_value(out, inner);
        return;
    }
    case G_VARIANT_CLASS_ARRAY:
        if (g_variant_type_is_dict_entry(g_variant_type_element(g_variant_get_type(value))))
            append_object(out, value);
        else
            append_array(out, value);
        return;
    case G_VARIANT_CLASS_MAYBE:
    case G_VARIANT_CLASS_TUPLE:
    case G_VARIANT_CLASS_DICT_ENTRY:
        append_array(out, value);
        return;
    }
    g_string_append(out, "null");
}

void cli_json_print(GVariant *value)
{
    g_autoptr(GVariant) owned = g_variant_ref_sink(value);
    g_autoptr(GString) out = g_string_new(NULL);
    append_value(out, owned);
    g_print("%s\n", out->str);
}

/* ------------------------------------------------------------------ documents */

static int compare_names(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* Every property the proxy has, by its D-Bus name, sorted: new properties of a newer
 * virt-ferryd show up without a change here. */
static void add_properties(GVariantBuilder *builder, GDBusProxy *proxy)
{
    g_auto(GStrv) names = g_dbus_proxy_get_cached_property_names(proxy);
    if (!names)
        return;
    qsort(names, g_strv_length(names), sizeof *names, compare_names);
    for (char **name = names; *name; name++) {
        g_autoptr(GVariant) value = g_dbus_proxy_get_cached_property(proxy, *name);
        if (value)
            g_variant_builder_add(builder, "{sv}", *name, value);
    }
}

GVariant *cli_domain_variant(FerryBusDomain *domain)
{
    g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    add_properties(&builder, G_DBUS_PROXY(domain));
    g_variant_builder_add(&builder, "{sv}", "ObjectPath",
                          g_variant_new_object_path(g_dbus_proxy_get_object_path(G_DBUS_PROXY(domain))));
    return g_variant_builder_end(&builder);
}

/* The Manager's properties and "Domains": how many domains are in each state. */
GVariant *cli_status_variant(FerryBusManager *manager, GList *domains)
{
    g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    add_properties(&builder, G_DBUS_PROXY(manager));
    g_autoptr(GHashTable) counts = g_hash_table_new(g_str_hash, g_str_equal);
    const char *const states[] = { "normal", "stop", "error", "unknown" };
    for (gsize i = 0; i < G_N_ELEMENTS(states); i++)
        g_hash_table_insert(counts, (gpointer)states[i], GUINT_TO_POINTER(0));
    for (GList *l = domains; l; l = l->next) {
        const char *state = ferry_bus_domain_get_state(l->data);
        if (!state)
            continue;
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, state));
        g_hash_table_insert(counts, (gpointer)state, GUINT_TO_POINTER(n + 1));
    }
    g_auto(GVariantBuilder) per_state = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("a{su}"));
    g_autoptr(GList) keys = g_list_sort(g_hash_table_get_keys(counts), (GCompareFunc)g_strcmp0);
    for (GList *l = keys; l; l = l->next)
        g_variant_builder_add(&per_state, "{su}", l->data, GPOINTER_TO_UINT(g_hash_table_lookup(counts, l->data)));
    g_variant_builder_add(&builder, "{sv}", "Domains", g_variant_new_uint32(g_list_length(domains)));
    g_variant_builder_add(&builder, "{sv}", "DomainStates", g_variant_builder_end(&per_state));
    return g_variant_builder_end(&builder);
}

/* An object from GetManagedObjects or GetAll: its properties by name, sorted, and where it is. */
GVariant *cli_object_variant(const char *path, GVariant *properties)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    GVariantIter iter;
    const char *name;
    g_variant_iter_init(&iter, properties);
    while (g_variant_iter_next(&iter, "{sv}", &name, NULL))
        g_ptr_array_add(names, (gpointer)name);
    g_ptr_array_sort(names, compare_names);
    g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    for (guint i = 0; i < names->len; i++) {
        g_autoptr(GVariant) value = g_variant_lookup_value(properties, names->pdata[i], NULL);
        g_variant_builder_add(&builder, "{sv}", names->pdata[i], value);
    }
    if (path)
        g_variant_builder_add(&builder, "{sv}", "ObjectPath", g_variant_new_object_path(path));
    return g_variant_builder_end(&builder);
}
