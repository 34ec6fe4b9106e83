/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "health.h"

/* libvirt-admin cannot share a process with libvirt.so (see admin-probe.c), so readings come
 * from the virt-ferry-admin-probe co-process: one "poll" line out, one a{sv} line back. */
#define PROBE_NAME "virt-ferry-admin-probe"
/* Polls a probe may stay unanswered before it is taken for hung and replaced. */
#define HUNG_AFTER_TICKS 3

struct _FerryHealth {
    char *uri;
    FerryHealthCallback callback;
    gpointer user_data;
    guint timer;
    GCancellable *cancellable;
    GSubprocess *probe;
    GOutputStream *to_probe;
    GDataInputStream *from_probe;
    guint ticks_waiting;   /* timer ticks since the pending poll was sent; 0: none pending */
    gboolean warned;
};

static const char *probe_path(void)
{
    const char *path = g_getenv("VIRT_FERRY_ADMIN_PROBE");
    return path && *path ? path : FERRY_LIBEXECDIR "/" PROBE_NAME;
}

static void stop_probe(FerryHealth *h)
{
    if (h->probe)
        g_subprocess_force_exit(h->probe);
    g_clear_object(&h->to_probe);
    g_clear_object(&h->from_probe);
    g_clear_object(&h->probe);
}

static gboolean start_probe(FerryHealth *h, GError **error)
{
    h->probe = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, error,
                                probe_path(), h->uri ? h->uri : "", NULL);
    if (!h->probe)
        return FALSE;
    h->to_probe = g_object_ref(g_subprocess_get_stdin_pipe(h->probe));
    h->from_probe = g_data_input_stream_new(g_subprocess_get_stdout_pipe(h->probe));
    return TRUE;
}

static void report(FerryHealth *h, GVariant *health)
{
    g_autoptr(GVariant) owned = g_variant_ref_sink(health);
    h->callback(owned, h->user_data);
}

static GVariant *unreachable(void)
{
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "reachable", g_variant_new_boolean(FALSE));
    return g_variant_builder_end(&b);
}

static void line_read(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source), res,
                                                                      NULL, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* the FerryHealth is gone */
    FerryHealth *h = data;
    h->ticks_waiting = 0;
    GVariant *health = line ? g_variant_parse(G_VARIANT_TYPE_VARDICT, line, NULL, NULL, NULL) : NULL;
    if (!health) {
        /* The probe died or spoke nonsense: a fresh one answers the next poll. */
        g_warning("%s ended or answered badly; libvirtd health is unknown until it is restarted",
                  PROBE_NAME);
        stop_probe(h);
        health = unreachable();
    }
    report(h, health);
}

void ferry_health_poll(FerryHealth *h)
{
    g_autoptr(GError) error = NULL;
    if (h->ticks_waiting)
        return;
    if (!h->probe && !start_probe(h, &error)) {
        if (!h->warned)
            g_warning("cannot run %s: %s; libvirtd health stays unknown", probe_path(), error->message);
        h->warned = TRUE;
        report(h, unreachable());
        return;
    }
    /* Five bytes into an empty pipe: this write does not block. */
    if (!g_output_stream_write_all(h->to_probe, "poll\n", 5, NULL, NULL, &error) ||
        !g_output_stream_flush(h->to_probe, NULL, &error)) {
        stop_probe(h);
        report(h, unreachable());
        return;
    }
    h->ticks_waiting = 1;
    g_data_input_stream_read_line_async(h->from_probe, G_PRIORITY_DEFAULT, h->cancellable, line_read, h);
}

static gboolean poll_timer(gpointer data)
{
    FerryHealth *h = data;
    if (h->ticks_waiting && ++h->ticks_waiting > HUNG_AFTER_TICKS) {
        /* libvirtd accepted the admin connection but does not answer: killing the probe ends
         * the pending read, which reports libvirtd unreachable. */
        g_warning("libvirtd has not answered libvirt-admin for %u polls", HUNG_AFTER_TICKS);
        g_subprocess_force_exit(h->probe);
        return G_SOURCE_CONTINUE;
    }
    ferry_health_poll(h);
    return G_SOURCE_CONTINUE;
}

FerryHealth *ferry_health_new(const char *uri, guint interval_seconds, FerryHealthCallback callback,
                              gpointer user_data)
{
    FerryHealth *h = g_new0(FerryHealth, 1);
    h->uri = g_strdup(uri);
    h->callback = callback;
    h->user_data = user_data;
    h->cancellable = g_cancellable_new();
    h->timer = g_timeout_add_seconds(interval_seconds, poll_timer, h);
    ferry_health_poll(h);
    return h;
}

void ferry_health_free(FerryHealth *h)
{
    if (!h)
        return;
    g_clear_handle_id(&h->timer, g_source_remove);
    g_cancellable_cancel(h->cancellable);
    stop_probe(h);
    g_object_unref(h->cancellable);
    g_free(h->uri);
    g_free(h);
}
