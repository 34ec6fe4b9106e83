/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plan and evacuate: this host's evacuation (Manager.PlanEvacuation and Manager.Evacuate).
 * The command line is checked before connecting; the rules beyond the form of the values
 * (which peers, the defaults) are virt-ferryd's. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

#include <stdio.h>

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

/* A shutdown evacuation migrates only, unless --methods says otherwise: a method that restarts
 * a guest (move) or copies its disks could not end before the host does. */
#define SHUTDOWN_METHODS "migration"
#define SHUTDOWN_TIMEOUT 180  /* s: virt-ferry-shutdown.service's TimeoutStopSec= leaves room for the grace */
#define SHUTDOWN_GRACE 30     /* s the cancelled moves have to roll back before we stop waiting */

static GVariant *call_arguments(CliContext *ctx, gboolean evacuate, GError **error)
{
    g_auto(GStrv) methods = NULL;
    const char *names = ctx->evacuate.methods;
    if (!names && ctx->evacuate.shutdown)
        names = SHUTDOWN_METHODS;
    if (!split_methods(names, &methods, error))
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
                                         arguments, G_VARIANT_TYPE("(a(sssss))"), TRUE, &error);
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

/* --timeout S as seconds (1 or more). */
static gboolean parse_timeout(const char *text, guint *seconds, GError **error)
{
    guint64 n = 0;
    if (!g_ascii_string_to_unsigned(text, 10, 1, 24 * 3600, &n, NULL)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "--timeout: \"%s\" is not a number of seconds from 1 to 86400", text);
        return FALSE;
    }
    *seconds = (guint)n;
    return TRUE;
}

/* The last Step of each domain: what became of it. */
static GHashTable *last_outcomes(CliContext *ctx, const char *job)
{
    GHashTable *outcomes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (!job)
        return outcomes;
    g_autoptr(GVariant) reply = cli_call(ctx, job, "org.freedesktop.DBus.Properties", "Get",
                                         g_variant_new("(ss)", FERRY_JOB_INTERFACE, "Steps"), G_VARIANT_TYPE("(v)"),
                                         FALSE, NULL);
    g_autoptr(GVariant) boxed = reply ? g_variant_get_child_value(reply, 0) : NULL;
    g_autoptr(GVariant) steps = boxed ? g_variant_get_variant(boxed) : NULL;
    if (!steps || !g_variant_is_of_type(steps, G_VARIANT_TYPE("a(ssss)")))
        return outcomes;
    GVariantIter iter;
    const char *domain, *step, *target, *outcome;
    g_variant_iter_init(&iter, steps);
    while (g_variant_iter_next(&iter, "(&s&s&s&s)", &domain, &step, &target, &outcome))
        if (*domain && g_strcmp0(step, "network") != 0 && g_strcmp0(step, "disk") != 0)
            g_hash_table_insert(outcomes, g_strdup(domain), g_strdup(outcome));
    return outcomes;
}

/* One line per domain still running here: libvirt-guests (ordered after us at shutdown)
 * handles it as it is configured to (suspend or shut down). */
static guint report_left_behind(CliContext *ctx, const char *job)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) domains = cli_objects(ctx, FERRY_DOMAIN_INTERFACE, &error);
    if (!domains) {
        g_printerr("virt-ferry: cannot list this host's domains (%s): libvirt-guests handles whatever runs here\n",
                   error->message);
        return 1;
    }
    g_autoptr(GHashTable) outcomes = last_outcomes(ctx, job);
    guint left = 0;
    for (guint i = 0; i < domains->len; i++) {
        const CliObject *d = g_ptr_array_index(domains, i);
        /* Reason is libvirt's state:reason; libvirt-guests handles the active ones. */
        const char *name = cli_object_string(d, "Name"), *reason_now = cli_object_string(d, "Reason");
        if (!reason_now || !(g_str_has_prefix(reason_now, "running") || g_str_has_prefix(reason_now, "paused") ||
                             g_str_has_prefix(reason_now, "blocked")))
            continue;
        const char *why = g_hash_table_lookup(outcomes, name);
        if (g_strcmp0(why, "moved") == 0) /* gone; the inventory has not caught up with libvirt yet */
            continue;
        g_autofree char *shown = cli_display(name);
        g_autofree char *reason = cli_display(why ? why : "the evacuation did not move it (its error above says why)");
        g_printerr("virt-ferry: %s stays on this host, for libvirt-guests: %s\n", shown, reason);
        left++;
    }
    if (left == 0)
        g_printerr("virt-ferry: no domain runs on this host any more\n");
    return left;
}

/* virt-ferry-shutdown.service's ExecStop=: Evacuate by migration within a deadline, then
 * cancel what still runs; what could not move is left to libvirt-guests, named one line
 * each. Never prompts (nobody answers at shutdown). */
static int evacuate_for_shutdown(CliContext *ctx)
{
    g_autoptr(GError) error = NULL;
    guint timeout = SHUTDOWN_TIMEOUT;
    if (ctx->evacuate.timeout && !parse_timeout(ctx->evacuate.timeout, &timeout, &error))
        return cli_report_error(error);
    g_autoptr(GVariant) arguments = call_arguments(ctx, TRUE, &error);
    if (!arguments)
        return cli_report_error(error);
    ctx->no_ask_password = TRUE;
    if (!cli_connect(ctx, &error)) {
        cli_report_error(error);
        g_printerr("virt-ferry: nothing evacuated: libvirt-guests handles every domain of this host\n");
        return CLI_EXIT_FAILED;
    }
    g_autoptr(GVariant) reply = cli_call(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Evacuate",
                                         arguments, G_VARIANT_TYPE("(o)"), FALSE, &error);
    const char *job = NULL;
    int status;
    if (!reply) {
        status = cli_report_error(error);
        g_printerr("virt-ferry: nothing evacuated\n");
    } else {
        g_variant_get(reply, "(&o)", &job);
        cli_print_field("", "Job", job);
        fflush(stdout);
        ctx->live_steps = TRUE;
        ctx->follow_deadline = timeout;
        ctx->follow_grace = SHUTDOWN_GRACE;
        status = cli_job_follow(ctx, job);
    }
    guint left = report_left_behind(ctx, job);
    return left && status == CLI_EXIT_OK ? CLI_EXIT_FAILED : status;
}

int cli_verb_evacuate(CliContext *ctx, char **args)
{
    if (ctx->evacuate.dry_run)
        return plan(ctx);
    if (ctx->evacuate.shutdown)
        return evacuate_for_shutdown(ctx);
    g_autoptr(GError) error = NULL;
    if (ctx->evacuate.timeout && !parse_timeout(ctx->evacuate.timeout, &ctx->follow_deadline, &error))
        return cli_report_error(error);
    ctx->follow_grace = SHUTDOWN_GRACE;
    g_autoptr(GVariant) arguments = call_arguments(ctx, TRUE, &error);
    if (!arguments || !cli_connect(ctx, &error))
        return cli_report_error(error);
    ctx->live_steps = TRUE;
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Evacuate", arguments,
                               TRUE, &error);
    if (status < 0)
        return cli_report_error(error);
    return status;
}
