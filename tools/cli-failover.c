/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* failover: takes over a dead host's domains on this host with the Manager's Failover and
 * follows the job it returns. As for migrate, the command line is checked before
 * connecting, so a typo never waits for the bus or polkit; whether the host is dead and what
 * it published is virt-ferryd's to judge. */
#include "cli.h"

#include "names.h"

/* Failover's a{sv} (not floating) with only the options given, or NULL and an error naming
 * the bad --domain. */
static GVariant *failover_options(const CliFailoverArgs *args, GError **error)
{
    g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    for (char **d = args->domains; d && *d; d++)
        if (!ferry_check_domain_name(*d, "--domain", error))
            return NULL;
    if (args->domains)
        g_variant_builder_add(&b, "{sv}", "domains", g_variant_new_strv((const char *const *)args->domains, -1));
    /* Left out, virt-ferryd starts the domains that ran there. */
    if (args->no_start)
        g_variant_builder_add(&b, "{sv}", "start", g_variant_new_boolean(FALSE));
    return g_variant_ref_sink(g_variant_builder_end(&b));
}

int cli_verb_failover(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    const char *host = args[0];
    if (!ferry_check_host_name(host, "host", &error))
        return cli_report_error(error);
    g_autoptr(GVariant) options = failover_options(&ctx->failover, &error);
    if (!options || !cli_connect(ctx, &error))
        return cli_report_error(error);
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Failover",
                               g_variant_new("(s@a{sv})", host, options), TRUE, &error);
    if (status < 0)
        return cli_report_error(error);
    return status;
}
