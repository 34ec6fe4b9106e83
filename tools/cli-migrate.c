/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate: moves a domain to a peer host with the Manager's Migrate and follows the job it
 * returns. The command line is checked before connecting, so a typo never waits for the bus
 * or polkit. The CLI checks the form of every value (a known method name, a whole number of
 * the option's D-Bus type); what the values may be beyond that (which peers, the ranges of
 * the numbers, the defaults of the options left out) is virt-ferryd's to judge, so that the
 * rules live in one place. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

/* org.virtferry.Ferry1(5)'s method names, in the canonical order: the order virt-ferryd tries
 * them in, whatever order they are given in. */
static const char *const method_names[] = {
    "migration", "quick-migration", "move", "storage-migration", "failover", NULL
};

gboolean cli_check_method(const char *name, GError **error)
{
    if (g_strv_contains(method_names, name))
        return TRUE;
    g_autofree char *shown = g_strescape(name, NULL);
    g_autofree char *known = g_strjoinv(", ", (char **)method_names);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "unknown method \"%s\"; the methods are %s",
                shown, known);
    return FALSE;
}

static gboolean check_methods(char **methods, GError **error)
{
    for (char **m = methods; m && *m; m++)
        if (!cli_check_method(*m, error))
            return FALSE;
    return TRUE;
}

/* A peer is a host name or a libvirt URI of [peers] uris=: any text, but not an empty one or
 * one that could not be shown in a message. */
static gboolean check_peer(const char *peer, GError **error)
{
    if (!*peer) {
        g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                            "the peer is empty: give a host name or libvirt URI of [peers] uris= in "
                            "virt-ferry.conf (virt-ferry status lists the peers)");
        return FALSE;
    }
    return ferry_check_domain_name(peer, "peer", error);
}

/* Every flag is off by default: only one that is on goes in. */
static void add_flag(GVariantBuilder *options, const char *key, gboolean on)
{
    if (on)
        g_variant_builder_add(options, "{sv}", key, g_variant_new_boolean(TRUE));
}

/* Migrate's a{sv} (not floating), or NULL and an error naming the bad value. */
static GVariant *migrate_options(const CliMigrateArgs *args, GError **error)
{
    g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    if (!cli_add_number(&b, "bandwidth", "bandwidth", args->bandwidth, FALSE, "MiB/s", error) ||
        !cli_add_number(&b, "parallel", "parallel", args->parallel, TRUE, "connections", error) ||
        !cli_add_number(&b, "progress_timeout", "progress-timeout", args->progress_timeout, TRUE, "seconds", error) ||
        !cli_add_number(&b, "completion_timeout", "completion-timeout", args->completion_timeout, TRUE,
                        "seconds per GiB", error))
        return NULL;
    add_flag(&b, "compress", args->compress);
    add_flag(&b, "auto_converge", args->auto_converge);
    add_flag(&b, "postcopy", args->postcopy);
    return g_variant_ref_sink(g_variant_builder_end(&b));
}

int cli_verb_migrate(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    const char *domain = args[0], *peer = args[1];
    char **methods = ctx->migrate.methods;
    if (!ferry_check_domain_name(domain, "domain", &error) || !check_peer(peer, &error) ||
        !check_methods(methods, &error))
        return cli_report_error(error);
    g_autoptr(GVariant) options = migrate_options(&ctx->migrate, &error);
    if (!options || !cli_connect(ctx, &error))
        return cli_report_error(error);
    /* No --method: the empty list, for virt-ferryd's default. */
    GVariant *method_list = g_variant_new_strv((const char *const *)methods, methods ? -1 : 0);
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Migrate",
                               g_variant_new("(ss@as@a{sv})", domain, peer, method_list, options), TRUE, &error);
    if (status < 0)
        return cli_report_error(error);
    return status;
}
