/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text output for people: status, the domain table, one domain, a policy. */
#include "cli.h"

#include <string.h>

#define LABEL_WIDTH 18

static const char *const known_states[] = { "normal", "stop", "error", "unknown" };

char *cli_display(const char *text)
{
    if (!text)
        return g_strdup("-");
    GString *out = g_string_new(NULL);
    const char *p = text;
    while (*p) {
        gunichar c = g_utf8_get_char_validated(p, -1);
        if (c == (gunichar)-1 || c == (gunichar)-2) { /* not UTF-8: show the byte */
            g_string_append_printf(out, "\\x%02x", (guchar)*p++);
            continue;
        }
        if (g_unichar_iscntrl(c))
            g_string_append_printf(out, c < 0x80 ? "\\x%02x" : "\\u%04x", c);
        else
            g_string_append_unichar(out, c);
        p = g_utf8_next_char(p);
    }
    return g_string_free(out, FALSE);
}

/* For the monitor's space-separated lines: a field with blanks, quotes or backslashes (or
 * an empty one) is put in double quotes, with \" and \\ inside. */
char *cli_quote_field(const char *text)
{
    if (text && *text && !strpbrk(text, " \t\"\\"))
        return cli_display(text);
    GString *out = g_string_new("\"");
    for (const char *p = text ? text : ""; *p; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(out, '\\');
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
    g_autofree char *quoted = g_string_free(out, FALSE);
    return cli_display(quoted);
}

static void print_field(const char *indent, const char *label, const char *value)
{
    g_autofree char *shown = cli_display(value);
    g_autofree char *colon = g_strconcat(label, ":", NULL);
    int width = LABEL_WIDTH - (int)strlen(indent);
    g_print("%s%-*s %s\n", indent, MAX(width, 1), colon, shown);
}

void cli_print_field(const char *indent, const char *label, const char *value)
{
    print_field(indent, label, value);
}

char *cli_format_size(guint64 bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    if (bytes < 1024)
        return g_strdup_printf("%" G_GUINT64_FORMAT " B", bytes);
    double value = (double)bytes / 1024;
    gsize unit = 0;
    while (value >= 1024 && unit + 1 < G_N_ELEMENTS(units)) {
        value /= 1024;
        unit++;
    }
    return g_strdup_printf("%.1f %s", value, units[unit]);
}

static const char *yes_no(gboolean value)
{
    return value ? "yes" : "no";
}

/* ------------------------------------------------------------------ policy */

static char *join_list(GVariant *value)
{
    g_autofree const char **items = g_variant_get_strv(value, NULL);
    return g_strjoinv(", ", (char **)items);
}

static char *policy_value(const FerryPolicyKey *key, GVariant *value)
{
    if (!value) /* not set: the empty policy's value */
        return g_strdup(key->type[0] == 'b' ? "no"
                        : key->type[0] == 'i' ? "0"
                        : g_str_equal(key->name, "pin") ? "any host" : "none");
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN))
        return g_strdup(yes_no(g_variant_get_boolean(value)));
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
        return g_variant_dup_string(value, NULL);
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_INT32))
        return g_strdup_printf("%d", g_variant_get_int32(value));
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING_ARRAY) && g_variant_n_children(value))
        return join_list(value);
    if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING_ARRAY))
        return policy_value(key, NULL);
    return g_variant_print(value, TRUE);
}

void cli_print_policy(GVariant *policy, const char *indent)
{
    g_autoptr(GVariantDict) dict = g_variant_dict_new(policy);
    for (gsize i = 0; i < FERRY_POLICY_N_KEYS; i++) {
        const FerryPolicyKey *key = &ferry_policy_keys[i];
        g_autoptr(GVariant) value = g_variant_dict_lookup_value(dict, key->name, NULL);
        g_autofree char *text = policy_value(key, value);
        print_field(indent, key->name, text);
        g_variant_dict_remove(dict, key->name);
    }
    /* Keys of a newer virt-ferryd. */
    g_autoptr(GVariant) rest = g_variant_ref_sink(g_variant_dict_end(dict));
    GVariantIter iter;
    const char *name;
    GVariant *value;
    g_variant_iter_init(&iter, rest);
    while (g_variant_iter_loop(&iter, "{&sv}", &name, &value)) {
        g_autofree char *text = g_variant_print(value, TRUE);
        print_field(indent, name, text);
    }
}

/* ------------------------------------------------------------------ one domain */

void cli_print_domain(FerryBusDomain *domain)
{
    print_field("", "Name", ferry_bus_domain_get_name(domain));
    print_field("", "UUID", ferry_bus_domain_get_uuid(domain));
    print_field("", "State", ferry_bus_domain_get_state(domain));
    print_field("", "Reason", ferry_bus_domain_get_reason(domain));
    print_field("", "Pending deletion", yes_no(ferry_bus_domain_get_pending_deletion(domain)));
    print_field("", "Host", ferry_bus_domain_get_host(domain));
    print_field("", "Object path", g_dbus_proxy_get_object_path(G_DBUS_PROXY(domain)));
    g_print("Policy:\n");
    cli_print_policy(ferry_bus_domain_get_policy(domain), "  ");
}

/* ------------------------------------------------------------------ the table */

enum { COL_NAME, COL_STATE, COL_REASON, COL_FLAGS, COL_POLICY, N_COLS };
static const char *const headers[N_COLS] = { "NAME", "STATE", "REASON", "FLAGS", "POLICY" };

static void print_row(char *const *cells, const glong *width, guint n_cols)
{
    GString *line = g_string_new(NULL);
    for (guint c = 0; c < n_cols; c++) {
        g_string_append(line, cells[c]);
        if (c == n_cols - 1)
            break;
        for (glong pad = g_utf8_strlen(cells[c], -1); pad < width[c] + 2; pad++)
            g_string_append_c(line, ' ');
    }
    g_print("%s\n", line->str);
    g_string_free(line, TRUE);
}

static gboolean table_legend = TRUE;

void cli_table_set_legend(gboolean legend)
{
    table_legend = legend;
}

void cli_print_table(const char *const *titles, guint n_cols, GPtrArray *rows)
{
    g_autofree glong *width = g_new0(glong, n_cols);
    for (guint c = 0; c < n_cols; c++)
        width[c] = g_utf8_strlen(titles[c], -1);
    for (guint i = 0; i < rows->len; i++) {
        char **cells = rows->pdata[i];
        for (guint c = 0; c < n_cols; c++)
            width[c] = MAX(width[c], g_utf8_strlen(cells[c], -1));
    }
    if (table_legend)
        print_row((char *const *)titles, width, n_cols);
    for (guint i = 0; i < rows->len; i++)
        print_row(rows->pdata[i], width, n_cols);
}

static GStrv domain_row(FerryBusDomain *domain)
{
    char **cells = g_new0(char *, N_COLS + 1);
    cells[COL_NAME] = cli_display(ferry_bus_domain_get_name(domain));
    cells[COL_STATE] = cli_display(ferry_bus_domain_get_state(domain));
    cells[COL_REASON] = cli_display(ferry_bus_domain_get_reason(domain));
    cells[COL_FLAGS] = g_strdup(ferry_bus_domain_get_pending_deletion(domain) ? "pending-deletion" : "-");
    g_autofree char *policy = cli_policy_summary(ferry_bus_domain_get_policy(domain));
    cells[COL_POLICY] = cli_display(policy);
    return cells;
}

void cli_print_list(GList *domains)
{
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    for (GList *l = domains; l; l = l->next)
        g_ptr_array_add(rows, domain_row(l->data));
    cli_print_table(headers, N_COLS, rows);
}

/* ------------------------------------------------------------------ status */

static char *health_text(GVariant *health)
{
    if (!health)
        return g_strdup("-");
    g_autoptr(GVariantDict) dict = g_variant_dict_new(health);
    gboolean reachable = FALSE;
    guint32 workers, free_workers, queue, clients, max_clients;
    g_variant_dict_lookup(dict, "reachable", "b", &reachable);
    if (!reachable)
        return g_strdup("libvirt-admin unreachable");
    GString *out = g_string_new("reachable");
    if (g_variant_dict_lookup(dict, "workers", "u", &workers))
        g_string_append_printf(out, ", %u workers", workers);
    if (g_variant_dict_lookup(dict, "free_workers", "u", &free_workers))
        g_string_append_printf(out, " (%u free)", free_workers);
    if (g_variant_dict_lookup(dict, "job_queue", "u", &queue))
        g_string_append_printf(out, ", job queue %u", queue);
    if (g_variant_dict_lookup(dict, "clients", "u", &clients))
        g_string_append_printf(out, ", %u clients", clients);
    if (g_variant_dict_lookup(dict, "max_clients", "u", &max_clients))
        g_string_append_printf(out, " (max %u)", max_clients);
    return g_string_free(out, FALSE);
}

static char *domain_counts(GList *domains)
{
    guint counts[G_N_ELEMENTS(known_states)] = { 0 }, other = 0;
    for (GList *l = domains; l; l = l->next) {
        const char *state = ferry_bus_domain_get_state(l->data);
        gsize i = 0;
        while (i < G_N_ELEMENTS(known_states) && g_strcmp0(state, known_states[i]) != 0)
            i++;
        if (i < G_N_ELEMENTS(known_states))
            counts[i]++;
        else
            other++;
    }
    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "%u (", g_list_length(domains));
    for (gsize i = 0; i < G_N_ELEMENTS(known_states); i++)
        g_string_append_printf(out, "%s%u %s", i ? ", " : "", counts[i], known_states[i]);
    if (other)
        g_string_append_printf(out, ", %u other", other);
    g_string_append_c(out, ')');
    return g_string_free(out, FALSE);
}

void cli_print_status(FerryBusManager *manager, GList *domains)
{
    print_field("", "Host", ferry_bus_manager_get_hostname(manager));
    print_field("", "Version", ferry_bus_manager_get_version(manager));
    print_field("", "Libvirt", ferry_bus_manager_get_libvirt_connected(manager) ? "connected" : "disconnected");
    g_autofree char *health = health_text(ferry_bus_manager_get_libvirt_health(manager));
    print_field("", "Libvirt health", health);
    print_field("", "Maintenance", yes_no(ferry_bus_manager_get_maintenance(manager)));
    const char *const *peers = ferry_bus_manager_get_peers(manager);
    g_autofree char *peer_list = peers && peers[0] ? g_strjoinv(", ", (char **)peers) : g_strdup("none");
    print_field("", "Peers", peer_list);
    g_autofree char *reserve = g_strdup_printf("%u host failures (%s)",
                                               ferry_bus_manager_get_cluster_reserve(manager),
                                               ferry_bus_manager_get_overcommitted(manager) ? "overcommitted"
                                                                                       : "not overcommitted");
    print_field("", "Cluster reserve", reserve);
    g_autofree char *counts = domain_counts(domains);
    print_field("", "Domains", counts);
}
