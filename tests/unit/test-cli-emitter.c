/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for virt-ferryd, for tests/unit/test-cli.sh: owns org.virtferry.Ferry1 on the
 * system bus for a moment and emits the Manager's signals given on the command line,
 *   domain NAME STATE REASON   -> DomainStateChanged
 *   host KIND DETAIL           -> HostEvent
 * then gives the name back. It lets the test check what `virt-ferry monitor` prints for
 * any name, with no libvirt behind it. */
#include <gio/gio.h>

#include "ferry-names.h"

#define DBUS_NAME_FLAG_DO_NOT_QUEUE 4
#define DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER 1

static gboolean own_name(GDBusConnection *bus, GError **error)
{
    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
        g_variant_new("(su)", FERRY_BUS_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE), G_VARIANT_TYPE("(u)"),
        G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
    guint32 result = 0;
    if (!reply)
        return FALSE;
    g_variant_get(reply, "(u)", &result);
    if (result != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s is taken (RequestName said %u)", FERRY_BUS_NAME, result);
        return FALSE;
    }
    return TRUE;
}

static gboolean emit(GDBusConnection *bus, int argc, char **argv, int *i, GError **error)
{
    const char *what = argv[*i];
    if (g_str_equal(what, "domain") && *i + 3 < argc) {
        *i += 4;
        return g_dbus_connection_emit_signal(bus, NULL, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "DomainStateChanged",
                                             g_variant_new("(sss)", argv[*i - 3], argv[*i - 2], argv[*i - 1]),
                                             error);
    }
    if (g_str_equal(what, "host") && *i + 2 < argc) {
        *i += 3;
        return g_dbus_connection_emit_signal(bus, NULL, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "HostEvent",
                                             g_variant_new("(ss)", argv[*i - 2], argv[*i - 1]), error);
    }
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "usage: domain NAME STATE REASON | host KIND DETAIL, not \"%s\"", what);
    return FALSE;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (!bus || !own_name(bus, &error)) {
        g_printerr("test-cli-emitter: %s\n", error->message);
        return 1;
    }
    for (int i = 1; i < argc;) {
        if (!emit(bus, argc, argv, &i, &error)) {
            g_printerr("test-cli-emitter: %s\n", error->message);
            return 1;
        }
    }
    if (!g_dbus_connection_flush_sync(bus, NULL, &error)) {
        g_printerr("test-cli-emitter: %s\n", error->message);
        return 1;
    }
    return 0;
}
