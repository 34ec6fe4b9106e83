/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* event-latency: how long after a libvirt state change virt-ferryd's DomainStateChanged
 * signal arrives, against libvirt's own lifecycle event to a client (the baseline), in the
 * same process on the same clock.
 *
 * Usage: event-latency DOMAIN [CHANGES]   (run on a host with virt-ferryd and a running DOMAIN)
 *
 * Each change is a suspend or resume of DOMAIN; both latencies are measured from the moment
 * the call was made. Prints p50/p99 of each, of virt-ferry's added delay, and their ratio,
 * then the same as one JSON line (bench-json.h). */
#include <gio/gio.h>
#include <libvirt-glib/libvirt-glib.h>
#include <libvirt/libvirt.h>
#include <stdlib.h>

#include "bench-json.h"
#include "ferry-names.h"

#define CHANGE_TIMEOUT_US (5 * G_USEC_PER_SEC)

typedef struct {
    const char *domain;
    gint64 t0;
    gint64 event_at, signal_at;
    GArray *event_us, *signal_us, *added_us;
} Bench;

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    Bench *b = opaque;
    if ((event == VIR_DOMAIN_EVENT_SUSPENDED || event == VIR_DOMAIN_EVENT_RESUMED) && !b->event_at)
        b->event_at = g_get_monotonic_time();
    return 0;
}

static void on_signal(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                      const char *signal, GVariant *params, gpointer data)
{
    Bench *b = data;
    const char *name = NULL;
    g_variant_get(params, "(&s&s&s)", &name, NULL, NULL);
    if (g_str_equal(name, b->domain) && !b->signal_at)
        b->signal_at = g_get_monotonic_time();
}

static int compare_gint64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return (x > y) - (x < y);
}

static double percentile_ms(GArray *values, double p)
{
    g_array_sort(values, compare_gint64);
    guint i = MIN(values->len - 1, (guint)(p * values->len));
    return g_array_index(values, gint64, i) / 1000.0;
}

static gboolean wait_for_both(Bench *b)
{
    while (!(b->event_at && b->signal_at)) {
        if (g_get_monotonic_time() - b->t0 > CHANGE_TIMEOUT_US)
            return FALSE;
        g_main_context_iteration(NULL, TRUE);
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        g_printerr("usage: event-latency DOMAIN [CHANGES]\n");
        return 2;
    }
    Bench b = { .domain = argv[1] };
    int changes = argc > 2 ? atoi(argv[2]) : 200;
    g_autoptr(GError) error = NULL;

    gvir_event_register();
    virConnectPtr conn = virConnectOpen("qemu:///system");
    virDomainPtr dom = conn ? virDomainLookupByName(conn, b.domain) : NULL;
    if (!dom) {
        g_printerr("event-latency: no running domain %s on qemu:///system\n", b.domain);
        return 1;
    }
    virConnectDomainEventRegisterAny(conn, dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                     VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &b, NULL);
    g_autoptr(GDBusConnection) bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (!bus) {
        g_printerr("event-latency: %s\n", error->message);
        return 1;
    }
    g_dbus_connection_signal_subscribe(bus, FERRY_BUS_NAME, FERRY_MANAGER_INTERFACE,
                                       "DomainStateChanged", FERRY_ROOT_PATH, NULL,
                                       G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &b, NULL);
    b.event_us = g_array_new(FALSE, FALSE, sizeof(gint64));
    b.signal_us = g_array_new(FALSE, FALSE, sizeof(gint64));
    b.added_us = g_array_new(FALSE, FALSE, sizeof(gint64));
    int lost = 0;
    for (int i = 0; i < changes; i++) {
        /* Let stragglers of the previous change drain before timing the next. */
        while (g_main_context_iteration(NULL, FALSE))
            ;
        b.event_at = b.signal_at = 0;
        b.t0 = g_get_monotonic_time();
        int rc = (i % 2 == 0) ? virDomainSuspend(dom) : virDomainResume(dom);
        if (rc < 0 || !wait_for_both(&b)) {
            lost++;
            continue;
        }
        gint64 event = b.event_at - b.t0, signal = b.signal_at - b.t0;
        g_array_append_val(b.event_us, event);
        g_array_append_val(b.signal_us, signal);
        gint64 added = signal - event;
        g_array_append_val(b.added_us, added);
    }
    if (b.event_us->len == 0) {
        g_printerr("event-latency: no change was seen (%d lost)\n", lost);
        return 1;
    }
    double ev50 = percentile_ms(b.event_us, 0.5), ev99 = percentile_ms(b.event_us, 0.99);
    double sg50 = percentile_ms(b.signal_us, 0.5), sg99 = percentile_ms(b.signal_us, 0.99);
    g_print("changes: %u measured, %d lost (suspend/resume of %s)\n", b.event_us->len, lost, b.domain);
    g_print("libvirt lifecycle event (baseline): p50 %.2f ms  p99 %.2f ms\n", ev50, ev99);
    g_print("virt-ferry DomainStateChanged:      p50 %.2f ms  p99 %.2f ms\n", sg50, sg99);
    double ad50 = percentile_ms(b.added_us, 0.5), ad99 = percentile_ms(b.added_us, 0.99);
    g_print("added by virt-ferry:                p50 %.2f ms  p99 %.2f ms\n", ad50, ad99);
    g_print("ratio signal/event:                 p50 %.2fx  p99 %.2fx\n", sg50 / ev50, sg99 / ev99);
    BenchJson json = bench_json_begin("event-latency");
    bench_json_number(&json, "changes", b.event_us->len);
    bench_json_number(&json, "lost", lost);
    bench_json_number(&json, "event_p50_ms", ev50);
    bench_json_number(&json, "event_p99_ms", ev99);
    bench_json_number(&json, "signal_p50_ms", sg50);
    bench_json_number(&json, "signal_p99_ms", sg99);
    bench_json_number(&json, "added_p50_ms", ad50);
    bench_json_number(&json, "added_p99_ms", ad99);
    bench_json_number(&json, "ratio_p50", sg50 / ev50);
    bench_json_number(&json, "ratio_p99", sg99 / ev99);
    bench_json_end(&json);
    virDomainFree(dom);
    virConnectClose(conn);
    return lost ? 1 : 0;
}
