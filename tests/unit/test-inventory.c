/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory against real libvirt: the test:///default driver, whose state every
 * connection of this process shares, so a second connection can change what the
 * inventory watches. */
#include "ferry-error.h"
#include "inventory.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

typedef struct {
    GMainLoop *loop;
    FerryInventory *inv;
    virConnectPtr other;
    GPtrArray *log;     /* "added NAME STATE REASON", "changed ...", "removed NAME", "connected" */
} Fixture;

static void record(Fixture *f, const char *what, const FerryDomainInfo *d)
{
    g_ptr_array_add(f->log, g_strdup_printf("%s %s %s %s", what, d->name, ferry_state_name(d->state), d->reason));
}
static void on_added(const FerryDomainInfo *d, gpointer data) { record(data, "added", d); }
static void on_changed(const FerryDomainInfo *old, const FerryDomainInfo *d, gpointer data) { record(data, "changed", d); }
static void on_removed(const FerryDomainInfo *d, gpointer data) { record(data, "removed", d); }
static void on_connection(gboolean up, const char *detail, gpointer data)
{
    Fixture *f = data;
    g_ptr_array_add(f->log, g_strdup(up ? "connected" : "disconnected"));
}

static const FerryInventoryCallbacks callbacks = { on_added, on_changed, on_removed, on_connection };

static gboolean log_has(Fixture *f, const char *line)
{
    for (guint i = 0; i < f->log->len; i++)
        if (g_str_equal(f->log->pdata[i], line))
            return TRUE;
    return FALSE;
}


/* Runs the main loop until @line is logged, at most 5 s. */
static gboolean wait_for(Fixture *f, const char *line)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!log_has(f, line) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    if (!log_has(f, line)) {
        for (guint i = 0; i < f->log->len; i++)
            g_test_message("log: %s", (char *)f->log->pdata[i]);
    }
    return log_has(f, line);
}

static void setup(Fixture *f, gconstpointer data)
{
    f->log = g_ptr_array_new_with_free_func(g_free);
    f->inv = ferry_inventory_new("test:///default", &callbacks, f);
    f->other = virConnectOpen("test:///default");
    g_assert_nonnull(f->other);
    ferry_inventory_start(f->inv);
    g_assert_true(wait_for(f, "connected"));
}

static void teardown(Fixture *f, gconstpointer data)
{
    ferry_inventory_free(f->inv);
    virConnectClose(f->other);
    g_ptr_array_unref(f->log);
}

static void test_initial_inventory(Fixture *f, gconstpointer data)
{
    g_assert_true(log_has(f, "added test normal running:unknown"));
    g_assert_true(ferry_inventory_is_connected(f->inv));
    g_autoptr(GError) error = NULL;
    const FerryDomainInfo *d = ferry_inventory_lookup(f->inv, "test", &error);
    g_assert_no_error(error);
    const FerryDomainInfo *by_uuid = ferry_inventory_lookup(f->inv, d->uuid, &error);
    g_assert_true(d == by_uuid);
    g_assert_null(ferry_inventory_lookup(f->inv, "nope", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_null(ferry_inventory_lookup(f->inv, "", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

static void test_events_follow_state(Fixture *f, gconstpointer data)
{
    virDomainPtr dom = virDomainLookupByName(f->other, "test");
    g_assert_nonnull(dom);
    g_assert_cmpint(virDomainSuspend(dom), ==, 0);
    g_assert_true(wait_for(f, "changed test normal paused:user"));
    g_assert_cmpint(virDomainResume(dom), ==, 0);
    g_assert_true(wait_for(f, "changed test normal running:unpaused"));
    g_assert_cmpint(virDomainDestroy(dom), ==, 0);
    g_assert_true(wait_for(f, "changed test stop shutoff:destroyed"));
    g_assert_cmpint(virDomainCreate(dom), ==, 0);
    g_assert_true(wait_for(f, "changed test normal running:booted"));
    virDomainFree(dom);
}

static void test_define_undefine(Fixture *f, gconstpointer data)
{
    const char *xml = "<domain type='test'><name>db 1%.-é</name><memory>1024</memory>"
                      "<os><type>hvm</type></os></domain>";
    virDomainPtr dom = virDomainDefineXML(f->other, xml);
    g_assert_nonnull(dom);
    g_assert_true(wait_for(f, "added db 1%.-é stop shutoff:unknown"));
    g_assert_cmpint(virDomainUndefine(dom), ==, 0);
    g_assert_true(wait_for(f, "removed db 1%.-é stop shutoff:unknown"));
    virDomainFree(dom);
}

static void policy_done(GObject *source, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;
    g_autoptr(GError) error = NULL;
    gboolean ok = ferry_inventory_set_policy_finish(f->inv, res, &error);
    g_ptr_array_add(f->log, ok ? g_strdup("policy ok")
                               : g_strdup_printf("policy error %d %s", error->code, error->message));
}

static void test_set_policy(Fixture *f, gconstpointer data)
{
    GVariant *changes = g_variant_parse(G_VARIANT_TYPE_VARDICT,
                                        "{'hold': <true>, 'pin': <['alpha']>, 'priority': <int32 7>}",
                                        NULL, NULL, NULL);
    ferry_inventory_set_policy_async(f->inv, "test", changes, NULL, policy_done, f);
    g_variant_unref(changes);
    g_assert_true(wait_for(f, "policy ok"));
    const FerryDomainInfo *d = ferry_inventory_lookup(f->inv, "test", NULL);
    g_assert_true(d->policy->hold);
    g_assert_cmpint(d->policy->priority, ==, 7);

    /* libvirt really holds it: read it back through the other connection. */
    virDomainPtr dom = virDomainLookupByName(f->other, "test");
    char *meta = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS, 0);
    g_assert_nonnull(meta);
    g_assert_nonnull(strstr(meta, "alpha"));
    free(meta);

    /* Bad input: refused, metadata unchanged. */
    changes = g_variant_parse(G_VARIANT_TYPE_VARDICT, "{'priority': <int32 5000>}", NULL, NULL, NULL);
    ferry_inventory_set_policy_async(f->inv, "test", changes, NULL, policy_done, f);
    g_variant_unref(changes);
    g_autofree char *want = g_strdup_printf("policy error %d", FERRY_ERROR_INVALID_ARGUMENT);
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!g_str_has_prefix(f->log->pdata[f->log->len - 1], want) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    g_assert_true(g_str_has_prefix(f->log->pdata[f->log->len - 1], want));
    g_assert_cmpint(ferry_inventory_lookup(f->inv, "test", NULL)->policy->priority, ==, 7);
    /* And in libvirt, not only in the cache. */
    meta = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS, 0);
    g_assert_nonnull(meta);
    g_assert_nonnull(strstr(meta, "value=\"7\""));
    g_assert_null(strstr(meta, "5000"));
    free(meta);

    changes = g_variant_parse(G_VARIANT_TYPE_VARDICT, "{'hold': <false>}", NULL, NULL, NULL);
    ferry_inventory_set_policy_async(f->inv, "missing", changes, NULL, policy_done, f);
    g_variant_unref(changes);
    g_autofree char *notfound = g_strdup_printf("policy error %d", FERRY_ERROR_NOT_FOUND);
    end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!g_str_has_prefix(f->log->pdata[f->log->len - 1], notfound) && g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, TRUE);
    g_assert_true(g_str_has_prefix(f->log->pdata[f->log->len - 1], notfound));
    virDomainFree(dom);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ferry_libvirt_event_loop_init();
    g_test_add("/inventory/initial", Fixture, NULL, setup, test_initial_inventory, teardown);
    g_test_add("/inventory/events", Fixture, NULL, setup, test_events_follow_state, teardown);
    g_test_add("/inventory/define-undefine", Fixture, NULL, setup, test_define_undefine, teardown);
    g_test_add("/inventory/set-policy", Fixture, NULL, setup, test_set_policy, teardown);
    return g_test_run();
}
