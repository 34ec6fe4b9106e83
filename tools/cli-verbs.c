/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs that read or change something once: status, list, show, policy. Each checks
 * its arguments before it connects, so a typo never waits for the bus. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

static int fail(GError *error)
{
    return cli_report_error(error);
}

static void free_domains(GList *domains)
{
    g_list_free_full(domains, g_object_unref);
}

int cli_verb_status(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!cli_connect(ctx, &error))
        return fail(error);
    g_autoptr(FerryBusManager) manager = cli_manager(ctx, &error);
    if (!manager)
        return fail(error);
    GList *domains = cli_domains(ctx, &error);
    if (error)
        return fail(error);
    if (ctx->json)
        cli_json_print(cli_status_variant(manager, domains));
    else
        cli_print_status(manager, domains);
    free_domains(domains);
    return CLI_EXIT_OK;
}

int cli_verb_list(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!cli_connect(ctx, &error))
        return fail(error);
    GList *domains = cli_domains(ctx, &error);
    if (error)
        return fail(error);
    if (ctx->json) {
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
        for (GList *l = domains; l; l = l->next)
            g_variant_builder_add_value(&b, cli_domain_variant(l->data));
        cli_json_print(g_variant_builder_end(&b));
    } else {
        cli_print_list(domains);
    }
    free_domains(domains);
    return CLI_EXIT_OK;
}

/* The manager and the domain that @name_or_uuid names. */
static FerryBusDomain *find_domain(CliContext *ctx, const char *name_or_uuid, FerryBusManager **manager,
                                GError **error)
{
    if (!ferry_check_domain_name(name_or_uuid, "domain", error) || !cli_connect(ctx, error))
        return NULL;
    *manager = cli_manager(ctx, error);
    return *manager ? cli_domain(ctx, *manager, name_or_uuid, error) : NULL;
}

int cli_verb_show(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryBusManager) manager = NULL;
    g_autoptr(FerryBusDomain) domain = find_domain(ctx, args[0], &manager, &error);
    if (!domain)
        return fail(error);
    if (ctx->json)
        cli_json_print(cli_domain_variant(domain));
    else
        cli_print_domain(domain);
    return CLI_EXIT_OK;
}

static int show_policy(CliContext *ctx, const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryBusManager) manager = NULL;
    g_autoptr(FerryBusDomain) domain = find_domain(ctx, name, &manager, &error);
    if (!domain)
        return fail(error);
    GVariant *policy = ferry_bus_domain_get_policy(domain);
    g_autoptr(GVariant) empty = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
    if (ctx->json)
        cli_json_print(policy ? policy : empty);
    else
        cli_print_policy(policy ? policy : empty, "");
    return CLI_EXIT_OK;
}

int cli_verb_policy(CliContext *ctx, char **args)
{
    if (!args[1])
        return show_policy(ctx, args[0]);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) policy = cli_policy_parse((const char *const *)args + 1, &error);
    if (!policy || !ferry_check_domain_name(args[0], "domain", &error))
        return fail(error);
    if (!cli_connect(ctx, &error))
        return fail(error);
    g_autoptr(FerryBusManager) manager = cli_manager(ctx, &error);
    if (!manager || !cli_set_policy(ctx, manager, args[0], policy, &error))
        return fail(error);
    return CLI_EXIT_OK;
}

int cli_verb_monitor(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!cli_connect(ctx, &error))
        return fail(error);
    return cli_monitor(ctx);
}

/* maintenance enter|leave|status: the Manager's EnterMaintenance and LeaveMaintenance,
 * followed as jobs; status reads the Maintenance property. */
int cli_verb_maintenance(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    const char *what = args[0];
    const char *mode = ctx->maintenance_mode ? ctx->maintenance_mode : "save";
    gboolean entering = g_str_equal(what, "enter"), leaving = g_str_equal(what, "leave");
    if (!entering && !leaving && !g_str_equal(what, "status"))
        error = g_error_new(FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                            "maintenance: '%s' is not enter, leave or status", what);
    else if ((ctx->maintenance_mode && !entering) || (ctx->maintenance_return && !leaving))
        error = g_error_new_literal(FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                                    "--mode goes with maintenance enter, --return with maintenance leave");
    else if (!g_str_equal(mode, "save") && !g_str_equal(mode, "migrate"))
        error = g_error_new(FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "--mode %s: use migrate or save", mode);
    if (error || !cli_connect(ctx, &error))
        return fail(error);
    if (!entering && !leaving) {
        g_autoptr(FerryBusManager) manager = cli_manager(ctx, &error);
        if (!manager)
            return fail(error);
        gboolean active = ferry_bus_manager_get_maintenance(manager);
        if (ctx->json)
            cli_json_print(g_variant_new_parsed("{'maintenance': <%b>}", active));
        else
            g_print("Maintenance: %s\n", active ? "yes" : "no");
        return CLI_EXIT_OK;
    }
    g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    if (ctx->maintenance_return)
        g_variant_builder_add(&b, "{sv}", "return", g_variant_new_boolean(TRUE));
    GVariant *options = g_variant_builder_end(&b);
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE,
                               entering ? "EnterMaintenance" : "LeaveMaintenance",
                               entering ? g_variant_new("(s@a{sv})", mode, options) : g_variant_new("(@a{sv})", options),
                               TRUE, &error);
    return status < 0 ? fail(error) : status;
}

/* reserve: the Manager's GetReserve (the cluster reserve as last checked, with its reason). */
int cli_verb_reserve(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!cli_connect(ctx, &error))
        return fail(error);
    g_autoptr(GVariant) reply = cli_call(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "GetReserve", NULL,
                                         G_VARIANT_TYPE("(ubs)"), FALSE, &error);
    if (!reply)
        return fail(error);
    guint32 reserve = 0;
    gboolean overcommitted = FALSE;
    const char *reason = NULL;
    g_variant_get(reply, "(ub&s)", &reserve, &overcommitted, &reason);
    if (ctx->json) {
        cli_json_print(g_variant_new_parsed("{'cluster_reserve': <%u>, 'overcommitted': <%b>, 'reason': <%s>}",
                                            reserve, overcommitted, reason));
        return CLI_EXIT_OK;
    }
    g_print("ClusterReserve: %u\n", reserve);
    g_print("Overcommitted:  %s\n", overcommitted ? "yes" : "no");
    g_print("Reason:         %s\n", reason);
    return CLI_EXIT_OK;
}
