/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Errors: one message on stderr and an exit code (virt-ferry(1), EXIT STATUS). */
#include "cli.h"

#include "ferry-error.h"

#define NOT_RUNNING_MESSAGE \
    "virt-ferryd is not running on this host (start it with systemctl start virt-ferryd)"

static const struct {
    const char *name;
    CliExit code;
} remote_errors[] = {
    { "org.freedesktop.DBus.Error.ServiceUnknown", CLI_EXIT_NOT_RUNNING },
    { "org.freedesktop.DBus.Error.NameHasNoOwner", CLI_EXIT_NOT_RUNNING },
    { "org.freedesktop.DBus.Error.AccessDenied", CLI_EXIT_DENIED },
    { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", CLI_EXIT_DENIED },
};

/* Bus activation that failed (org.freedesktop.DBus.Error.Spawn.*) means not running too. */
static gboolean is_spawn_error(const char *name)
{
    return g_str_has_prefix(name, "org.freedesktop.DBus.Error.Spawn.");
}

static gboolean is_local_spawn_error(const GError *error)
{
    return error->domain == G_DBUS_ERROR && error->code >= G_DBUS_ERROR_SPAWN_EXEC_FAILED &&
           error->code <= G_DBUS_ERROR_SPAWN_NO_MEMORY;
}

static gboolean is_start_failure(const GError *error)
{
    g_autofree char *remote = g_dbus_error_get_remote_error(error);
    return remote ? is_spawn_error(remote) : is_local_spawn_error(error);
}

static CliExit code_for_ferry_error(const GError *error)
{
    if (g_error_matches(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT))
        return CLI_EXIT_USAGE;
    if (g_error_matches(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        return CLI_EXIT_NOT_FOUND;
    return CLI_EXIT_FAILED;
}

static CliExit code_for_remote(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(remote_errors); i++)
        if (g_str_equal(name, remote_errors[i].name))
            return remote_errors[i].code;
    if (is_spawn_error(name))
        return CLI_EXIT_NOT_RUNNING;
    /* virt-ferryd's names come back as their FERRY_ERROR codes, once the domain's quark
     * has been asked for: that registers them (common/ferry-error.c). */
    (void)FERRY_ERROR;
    g_autoptr(GError) error = g_dbus_error_new_for_dbus_error(name, "");
    return code_for_ferry_error(error);
}

CliExit cli_exit_code_for_name(const char *dbus_error_name)
{
    return dbus_error_name && *dbus_error_name ? code_for_remote(dbus_error_name) : CLI_EXIT_FAILED;
}

CliExit cli_exit_code_for(const GError *error)
{
    g_autofree char *remote = g_dbus_error_get_remote_error(error);
    if (remote)
        return code_for_remote(remote);
    if (is_local_spawn_error(error))
        return CLI_EXIT_NOT_RUNNING;
    if (error->domain == G_DBUS_ERROR) {
        switch (error->code) {
        case G_DBUS_ERROR_SERVICE_UNKNOWN:
        case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
            return CLI_EXIT_NOT_RUNNING;
        case G_DBUS_ERROR_ACCESS_DENIED:
            return CLI_EXIT_DENIED;
        default:
            return CLI_EXIT_FAILED;
        }
    }
    if (error->domain == G_OPTION_ERROR)
        return CLI_EXIT_USAGE;
    return code_for_ferry_error(error);
}

CliExit cli_report_error(const GError *error)
{
    CliExit code = cli_exit_code_for(error);
    g_autoptr(GError) copy = g_error_copy(error);
    g_dbus_error_strip_remote_error(copy);
    if (code == CLI_EXIT_NOT_RUNNING && is_start_failure(error))
        g_printerr("virt-ferry: virt-ferryd is not running on this host and bus activation could not "
                   "start it: %s (see systemctl status virt-ferryd)\n", copy->message);
    else if (code == CLI_EXIT_NOT_RUNNING)
        g_printerr("virt-ferry: " NOT_RUNNING_MESSAGE "\n");
    else
        g_printerr("virt-ferry: %s\n", copy->message);
    return code;
}

/* A proxy that cannot be made failed to start virt-ferryd (GDBusProxy asks the bus to
 * activate it first and reports only that failure, without the error's D-Bus name). */
void cli_proxy_failed(GError **error)
{
    if (!error || !*error || g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CLOSED) || is_start_failure(*error))
        return;
    g_autoptr(GError) cause = g_steal_pointer(error);
    g_dbus_error_strip_remote_error(cause);
    g_set_error_literal(error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED, cause->message);
}

void cli_set_not_running(GError **error)
{
    g_set_error_literal(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER, NOT_RUNNING_MESSAGE);
}
