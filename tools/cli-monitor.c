/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `virt-ferry monitor`: one line per DomainStateChanged, HostEvent and virt-ferryd coming
 * or going, each flushed at once so that a pipe sees it; runs until SIGINT or SIGTERM. */
#include "cli.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

typedef struct {
    GMainLoop *loop;
    gboolean json;
    int status;
} Monitor;

/* Local time with milliseconds: 2026-11-23T10:00:00.123 */
static char *timestamp(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *seconds = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S");
    return g_strdup_printf("%s.%03d", seconds, g_date_time_get_microsecond(now) / 1000);
}

static void flush_or_stop(Monitor *m)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        m->status = CLI_EXIT_FAILED;
        g_main_loop_quit(m->loop);
    }
}

/* @fields: NULL-terminated name/value pairs; the text line shows the values in order,
 * quoted where needed, except @rest, the free text at the end of the line. */
static void emit(Monitor *m, const char *event, const char *const *fields, const char *rest_name,
                 const char *rest)
{
    g_autofree char *now = timestamp();
    if (m->json) {
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "time", g_variant_new_string(now));
        g_variant_builder_add(&b, "{sv}", "event", g_variant_new_string(event));
        for (gsize i = 0; fields[i]; i += 2)
            g_variant_builder_add(&b, "{sv}", fields[i], g_variant_new_string(fields[i + 1]));
        if (rest_name)
            g_variant_builder_add(&b, "{sv}", rest_name, g_variant_new_string(rest));
        cli_json_print(g_variant_builder_end(&b));
    } else {
        g_autoptr(GString) line = g_string_new(now);
        g_string_append_printf(line, " %s", event);
        for (gsize i = 0; fields[i]; i += 2) {
            g_autofree char *field = cli_quote_field(fields[i + 1]);
            g_string_append_printf(line, " %s", field);
        }
        if (rest_name && *rest) {
            g_autofree char *text = cli_display(rest);
            g_string_append_printf(line, " %s", text);
        }
        g_print("%s\n", line->str);
    }
    flush_or_stop(m);
}

static void on_domain_state(FerryBusManager *manager, const char *name, const char *state, const char *reason,
                            Monitor *m)
{
    const char *fields[] = { "name", name, "state", state, "reason", reason, NULL };
    emit(m, "domain", fields, NULL, NULL);
}

static void on_host_event(FerryBusManager *manager, const char *kind, const char *detail, Monitor *m)
{
    const char *fields[] = { "kind", kind, NULL };
    emit(m, "host", fields, "detail", detail);
}

static void on_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
    const char *fields[] = { "status", "up", "owner", owner, NULL };
    emit(data, "service", fields, NULL, NULL);
}

static void on_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
    const char *fields[] = { "status", "down", NULL };
    emit(data, "service", fields, NULL, NULL);
}

static void on_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *error, gpointer data)
{
    Monitor *m = data;
    g_printerr("virt-ferry: the bus connection was closed%s%s\n", error ? ": " : "", error ? error->message : "");
    m->status = CLI_EXIT_FAILED;
    g_main_loop_quit(m->loop);
}

static gboolean on_terminate(gpointer data)
{
    Monitor *m = data;
    g_main_loop_quit(m->loop);
    return G_SOURCE_CONTINUE;
}

int cli_monitor(CliContext *ctx)
{
    g_autoptr(GError) error = NULL;
    /* No auto-start: the monitor reports that virt-ferryd is down and waits for it. */
    g_autoptr(FerryBusManager) manager = ferry_bus_manager_proxy_new_sync(
        ctx->bus, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
        FERRY_BUS_NAME, FERRY_ROOT_PATH, NULL, &error);
    if (!manager)
        return cli_report_error(error);

    Monitor m = { .loop = g_main_loop_new(NULL, FALSE), .json = ctx->json, .status = CLI_EXIT_OK };
    g_signal_connect(manager, "domain-state-changed", G_CALLBACK(on_domain_state), &m);
    g_signal_connect(manager, "host-event", G_CALLBACK(on_host_event), &m);
    gulong closed = g_signal_connect(ctx->bus, "closed", G_CALLBACK(on_closed), &m);
    /* The watch's first answer says whether virt-ferryd runs now: that is the first line. */
    guint watch = g_bus_watch_name_on_connection(ctx->bus, FERRY_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                 on_appeared, on_vanished, &m, NULL);
    guint sigint = g_unix_signal_add(SIGINT, on_terminate, &m);
    guint sigterm = g_unix_signal_add(SIGTERM, on_terminate, &m);

    g_main_loop_run(m.loop);

    g_source_remove(sigint);
    g_source_remove(sigterm);
    g_bus_unwatch_name(watch);
    g_signal_handler_disconnect(ctx->bus, closed);
    g_signal_handlers_disconnect_by_data(manager, &m);
    g_main_loop_unref(m.loop);
    return m.status;
}
