/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry check-networks: which NICs could not move to a peer cleanly. */
#include "cli.h"

int cli_verb_check_networks(CliContext *ctx, char **args)
{
    static const char *const headers[] = { "DOMAIN", "MAC", "PEER", "PROBLEM" };
    g_autoptr(GError) error = NULL;
    if (!cli_connect(ctx, &error))
        return cli_report_error(error);
    g_autoptr(GVariant) reply = cli_call(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "CheckNetworks", NULL,
                                         G_VARIANT_TYPE("(a(ssss))"), FALSE, &error);
    if (!reply)
        return cli_report_error(error);
    g_autoptr(GVariant) problems = g_variant_get_child_value(reply, 0);
    g_auto(GVariantBuilder) json = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    GVariantIter iter;
    const char *domain, *mac, *peer, *problem;
    g_variant_iter_init(&iter, problems);
    while (g_variant_iter_next(&iter, "(&s&s&s&s)", &domain, &mac, &peer, &problem)) {
        if (ctx->json) {
            GVariantDict d;
            g_variant_dict_init(&d, NULL);
            g_variant_dict_insert(&d, "domain", "s", domain);
            g_variant_dict_insert(&d, "mac", "s", mac);
            g_variant_dict_insert(&d, "peer", "s", peer);
            g_variant_dict_insert(&d, "problem", "s", problem);
            g_variant_builder_add_value(&json, g_variant_dict_end(&d));
            continue;
        }
        char **row = g_new0(char *, 5);
        row[0] = cli_display(*domain ? domain : NULL);
        row[1] = cli_display(*mac ? mac : NULL);
        row[2] = cli_display(peer);
        row[3] = cli_display(problem);
        g_ptr_array_add(rows, row);
    }
    if (ctx->json)
        cli_json_print(g_variant_builder_end(&json));
    else if (rows->len == 0)
        g_print("Every NIC's network, portgroup and VLAN is alike on every peer.\n");
    else
        cli_print_table(headers, G_N_ELEMENTS(headers), rows);
    /* Problems found are an answer, not a failure of the command; scripts test the output. */
    return CLI_EXIT_OK;
}
