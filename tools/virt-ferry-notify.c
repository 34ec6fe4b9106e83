/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-notify: desktop notifications of what virt-ferryd and libvirt do to a host
 * (virt-ferry-notify(1)). Runs in the user's graphical session until SIGINT or SIGTERM. */
#include "notify-agent.h"

#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>

#define CONFIG_FILE "virt-ferry/notify.conf"

static gboolean on_quit(gpointer loop)
{
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

/* The user's configuration: --config, else $XDG_CONFIG_HOME/virt-ferry/notify.conf when it
 * exists (none: every notification). */
static NotifyFilter *load_filter(const char *path, GError **error)
{
    g_autofree char *fallback = g_build_filename(g_get_user_config_dir(), CONFIG_FILE, NULL);
    g_autoptr(GKeyFile) file = g_key_file_new();
    if (!path && !g_file_test(fallback, G_FILE_TEST_EXISTS))
        return notify_filter_new_from_key_file(NULL, error);
    const char *chosen = path ? path : fallback;
    if (!g_key_file_load_from_file(file, chosen, G_KEY_FILE_NONE, error)) {
        g_prefix_error(error, "%s: ", chosen);
        return NULL;
    }
    NotifyFilter *filter = notify_filter_new_from_key_file(file, error);
    if (!filter)
        g_prefix_error(error, "%s: ", chosen);
    return filter;
}

int main(int argc, char **argv)
{
    g_auto(GStrv) addresses = NULL;
    g_autofree char *config = NULL;
    gboolean version = FALSE;
    const GOptionEntry entries[] = {
        { "bus-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &addresses,
          "Follow virt-ferryd on the bus at ADDRESS instead of the system bus (repeatable)", "ADDRESS" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config, "Read FILE instead of ~/.config/" CONFIG_FILE, "FILE" },
        { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { NULL },
    };
    setlocale(LC_ALL, "");
    g_autoptr(GOptionContext) context = g_option_context_new("- desktop notifications of virt-ferry");
    g_option_context_add_main_entries(context, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error) || argc > 1) {
        g_printerr("virt-ferry-notify: %s\n", error ? error->message : "unexpected argument");
        return 2;
    }
    if (version) {
        g_print("virt-ferry-notify %s\n", PACKAGE_VERSION);
        return 0;
    }
    g_autoptr(NotifyFilter) filter = load_filter(config, &error);
    if (!filter) {
        g_printerr("virt-ferry-notify: %s\n", error->message);
        return 2;
    }
    for (char **a = addresses; a && *a; a++) {
        if (!g_dbus_is_supported_address(*a, &error)) {
            g_printerr("virt-ferry-notify: --bus-address %s: %s\n", *a, error->message);
            return 2;
        }
    }

    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGINT, on_quit, loop);
    g_unix_signal_add(SIGTERM, on_quit, loop);
    NotifyDesktop *desktop = notify_desktop_new(filter);
    g_autoptr(GPtrArray) sources = g_ptr_array_new_with_free_func((GDestroyNotify)notify_source_free);
    if (!addresses || !*addresses)
        g_ptr_array_add(sources, notify_source_new(desktop, NULL));
    for (char **a = addresses; a && *a; a++)
        g_ptr_array_add(sources, notify_source_new(desktop, *a));
    g_main_loop_run(loop);
    g_clear_pointer(&sources, g_ptr_array_unref);
    notify_desktop_free(desktop);
    return 0;
}
