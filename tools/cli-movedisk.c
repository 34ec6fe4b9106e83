/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* move-disk: moves one disk of a running domain to another file on this host with the
 * Manager's MoveDisk and follows the job it returns. As for migrate, the command line is
 * checked before connecting, so a typo never waits for the bus or polkit; whether the disk,
 * the path and the room there fit is virt-ferryd's to judge. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

/* What MoveDisk writes; virt-ferryd checks it again. */
static const char *const formats[] = { "qcow2", "raw", NULL };

static gboolean check_format(const char *format, GError **error)
{
    if (!format || g_strv_contains(formats, format))
        return TRUE;
    g_autofree char *shown = g_strescape(format, NULL);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                "--format \"%s\" is not one the copy can be written in: give qcow2 or raw", shown);
    return FALSE;
}

/* MoveDisk's a{sv} (not floating) with only the options given, or NULL and an error. */
static GVariant *move_disk_options(const CliMoveDiskArgs *args, GError **error)
{
    g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    if (!check_format(args->format, error))
        return NULL;
    if (args->format)
        g_variant_builder_add(&b, "{sv}", "format", g_variant_new_string(args->format));
    if (!cli_add_number(&b, "bandwidth", "bandwidth", args->bandwidth, FALSE, "MiB/s", error))
        return NULL;
    return g_variant_ref_sink(g_variant_builder_end(&b));
}

/* virt-ferryd runs on this host, but not in this directory: a relative PATH is taken from
 * here. */
static char *absolute_path(const char *path, GError **error)
{
    if (!*path) {
        g_set_error_literal(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                            "the destination PATH is empty: give the path of the new file");
        return NULL;
    }
    return g_canonicalize_filename(path, NULL);
}

int cli_verb_move_disk(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    const char *domain = args[0], *disk = args[1];
    if (!ferry_check_domain_name(domain, "domain", &error))
        return cli_report_error(error);
    g_autofree char *path = absolute_path(args[2], &error);
    g_autoptr(GVariant) options = path ? move_disk_options(&ctx->move_disk, &error) : NULL;
    if (!options || !cli_connect(ctx, &error))
        return cli_report_error(error);
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "MoveDisk",
                               g_variant_new("(sss@a{sv})", domain, disk, path, options), TRUE, &error);
    if (status < 0)
        return cli_report_error(error);
    return status;
}
