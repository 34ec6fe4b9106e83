/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plan and evacuate: this host's evacuation (Manager.PlanEvacuation and Manager.Evacuate).
 * The command line is checked before connecting; the rules beyond the form of the values
 * (which peers, the defaults) are virt-ferryd's. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

/* --methods m1,m2 as a list, each a known method. */
static gboolean split_methods(const char *text, GStrv *out, GError **error)
{
    *out = NULL;
    if (!text)
        return TRUE;
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    for (char **p = parts; *p; p++) {
        char *name = g_strstrip(*p);
        if (!cli_check_method(name, error))
            return FALSE;
        g_strv_builder_add(b, name);
    }
    *out = g_strv_builder_end(b);
    return TRUE;
}

/* The call's a{sv} (not floating); @evacuate adds Evacuate's own options. */
static GVariant *evacuate_options(const CliEvacuateArgs *a, gboolean evacuate, GError **error)
{
    g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    if (!cli_add_number(&b, "batch", "batch", a->batch, TRUE, "moves at once", error))
        return NULL;
    if (evacuate && (!cli_add_number(&b, "storage_per_source", "storage-per-source", a->storage_per_source, TRUE,
                                     "storage migrations at once", error) ||
                     !cli_add_number(&b, "per_target", "per-target", a->per_target, TRUE, "moves per peer", error)))
        return NULL;
    for (char **e = a->exclude; e && *e; e++) {
        if (!**e) {
            g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                                "--exclude: the peer is empty: give a host name or libvirt URI of [peers] uris=");
            return NULL;
        }
        if (!ferry_check_domain_name(*e, "peer", error))
            return NULL;
    }
    if (a->exclude)
        g_variant_builder_add(&b, "{sv}", "exclude", g_variant_new_strv((const char *const *)a->exclude, -1));
    if (a->all)
        g_variant_builder_add(&b, "{sv}", "all", g_variant_new_boolean(TRUE));
    if (evacuate && a->reboot_dependents)
        g_variant_builder_add(&b, "{sv}", "reboot_dependents", g_variant_new_boolean(TRUE));
    return g_variant_ref_sink(g_variant_builder_end(&b));
}

static GVariant *call_arguments(CliContext *ctx, gboolean evacuate, GError **error)
{
    g_auto(GStrv) methods = NULL;
    if (!split_methods(ctx->evacuate.methods, &methods, error))
        return NULL;
    g_autoptr(GVariant) options = evacuate_options(&ctx->evacuate, evacuate, error);
    if (!options)
        return NULL;
    GVariant *list = g_variant_new_strv((const char *const *)methods, methods ? -1 : 0);
    return g_variant_ref_sink(g_variant_new("(@as@a{sv})", list, options));
}

static void print_plan(CliContext *ctx, GVariant *plan)
{
    static const char *const headers[] = { "DOMAIN", "METHOD", "TARGET", "VERDICT", "REASON" };
    static const char *const keys[] = { "domain", "method", "target", "verdict", "reason" };
    g_auto(GVariantBuilder) json = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    GVariantIter iter;
    const char *cell[5];
    g_variant_iter_init(&iter, plan);
    while (g_variant_iter_next(&iter, "(&s&s&s&s&s)", &cell[0], &cell[1], &cell[2], &cell[3], &cell[4])) {
        if (ctx->json) {
            GVariantDict d;
            g_variant_dict_init(&d, NULL);
            for (gsize c = 0; c < G_N_ELEMENTS(keys); c++)
                g_variant_dict_insert(&d, keys[c], "s", cell[c]);
            g_variant_builder_add_value(&json, g_variant_dict_end(&d));
            continue;
        }
        char **row = g_new0(char *, G_N_ELEMENTS(headers) + 1);
        for (gsize c = 0; c < G_N_ELEMENTS(headers); c++)
            row[c] = cli_display(*cell[c] ? cell[c] : NULL);
        g_ptr_array_add(rows, row);
    }
    if (ctx->json)
        cli_json_print(g_variant_builder_end(&json));
    else if (rows->len == 0)
        g_print("This host has no domains.\n");
    else
        cli_print_table(headers, G_N_ELEMENTS(headers), rows);
}

static int plan(CliContext *ctx)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) arguments = call_arguments(ctx, FALSE, &error);
    if (!arguments || !cli_connect(ctx, &error))
        return cli_report_error(error);
    g_autoptr(GVariant) reply = cli_call(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "PlanEvacuation",
                                         g_variant_ref(arguments), G_VARIANT_TYPE("(a(sssss))"), TRUE, &error);
    if (!reply)
        return cli_report_error(error);
    g_autoptr(GVariant) rows = g_variant_get_child_value(reply, 0);
    print_plan(ctx, rows);
    return CLI_EXIT_OK;
}

int cli_verb_plan(CliContext *ctx, char **args)
{
    return plan(ctx);
}

int cli_verb_evacuate(CliContext *ctx, char **args)
{
    if (ctx->evacuate.dry_run)
        return plan(ctx);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) arguments = call_arguments(ctx, TRUE, &error);
    if (!arguments || !cli_connect(ctx, &error))
        return cli_report_error(error);
    ctx->live_steps = TRUE;
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Evacuate", g_variant_ref(arguments),
                               TRUE, &error);
    if (status < 0)
        return cli_report_error(error);
    return status;
}
