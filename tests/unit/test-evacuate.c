/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PlanEvacuation and Evacuate on libvirt's test driver: option checks, the snapshot of this
 * host (a node XML written here) and of peers that cannot be targets (one whose libvirt
 * cannot be opened, one that is this host again: every test:/// connection answers with
 * this machine's host name), the plan's rows, D4's result rules as a pure function, and
 * the Evacuate job's Busy and result. Moves between real hosts are tested in the lab
 * (tests/lab/test-evacuate.sh). */
#include "evacuate.h"
#include "ferry-error.h"
#include "inventory.h"
#include "scratch.h"

#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <string.h>

#define POLICY_NS "xmlns:ferry='http://virtferry.org/xmlns/policy/1'"

typedef struct {
    char *dir;
    FerryConfig *config;
} Fixture;

static void quiet(void *data, virErrorPtr e) {}

static const char *const DOMAINS =
    "<domain type='test'><name>web</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
    "<metadata><ferry:policy " POLICY_NS "><ferry:hold/></ferry:policy></metadata></domain>\n"
    "<domain type='test'><name>db</name><memory unit='MiB'>128</memory><vcpu>2</vcpu><os><type>hvm</type></os>"
    "</domain>\n"
    "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><name>off</name>"
    "<memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
    "<test:runstate>5</test:runstate></domain>\n"
    "<domain type='test'><name>fix</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
    "<metadata><ferry:policy " POLICY_NS "><ferry:maintenance/></ferry:policy></metadata></domain>\n"
    "<domain type='test'><name>free</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
    "<metadata><ferry:policy " POLICY_NS "><ferry:unmanaged/></ferry:policy></metadata></domain>\n";

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    virSetErrorFunc(NULL, quiet);
    f->dir = scratch_dir_new("test-evacuate");
    g_autofree char *node = g_build_filename(f->dir, "node.xml", NULL);
    g_autofree char *node_xml = g_strdup_printf("<node><cpu><mhz>2000</mhz><model>i686</model><active>4</active>"
                                                "<nodes>1</nodes><sockets>1</sockets><cores>4</cores>"
                                                "<threads>1</threads></cpu><memory>4194304</memory>%s</node>",
                                                DOMAINS);
    g_assert_true(g_file_set_contents(node, node_xml, -1, NULL));
    g_autofree char *conf_text = g_strdup_printf(
        "[libvirt]\nuri=test://%s\n[peers]\nuris=test:///default;test://%s/missing.xml\n"
        "[state]\ndir=%s\n[networks]\ndir=%s\n[evacuation]\nbatch=4\npeer-timeout=10\n",
        node, f->dir, f->dir, f->dir);
    f->config = scratch_config(f->dir, conf_text);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    ferry_config_unref(f->config);
    scratch_dir_remove(f->dir);
    g_free(f->dir);
}

/* ------------------------------------------------------------------ options */

static gboolean parse(Fixture *f, const char *const *methods, const char *options, gboolean evacuate,
                      FerryEvacuateOptions *out, GError **error)
{
    g_autoptr(GVariant) v = g_variant_parse(G_VARIANT_TYPE("a{sv}"), options, NULL, NULL, NULL);
    g_assert_nonnull(v);
    (void)evacuate; /* the keys are checked by virt-ferryd's options check: the lab tests that */
    return ferry_evacuate_options_parse(f->config, methods, v, out, error);
}

static void assert_refused(Fixture *f, const char *const *methods, const char *options, gboolean evacuate,
                           int code, const char *names)
{
    g_auto(FerryEvacuateOptions) o = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_false(parse(f, methods, options, evacuate, &o, &error));
    g_assert_error(error, FERRY_ERROR, code);
    g_assert_nonnull(strstr(error->message, names));
}

static void test_options(Fixture *f, gconstpointer data)
{
    g_auto(FerryEvacuateOptions) o = { 0 };
    g_autoptr(GError) error = NULL;
    /* Defaults: [evacuation] batch=4 from the file, storage-per-source 3, C7's default
     * methods without failover (this host is alive). */
    g_assert_true(parse(f, NULL, "@a{sv} {}", TRUE, &o, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(o.batch, ==, 4);
    g_assert_cmpuint(o.storage_per_source, ==, 3);
    g_assert_cmpuint(o.per_target, ==, 0);
    g_assert_false(o.all);
    g_assert_cmpuint(o.methods->len, ==, 1);
    g_assert_cmpint(g_array_index(o.methods, FerryMethod, 0), ==, FERRY_METHOD_MIGRATION);
    ferry_evacuate_options_clear(&o);

    const char *const sorted[] = { "move", "migration", NULL };
    g_assert_true(parse(f, sorted, "{'batch': <@u 2>, 'all': <true>, 'exclude': <['test:///default']>}", FALSE, &o, &error));
    g_assert_cmpuint(o.batch, ==, 2);
    g_assert_true(o.all);
    g_assert_cmpint(g_array_index(o.methods, FerryMethod, 0), ==, FERRY_METHOD_MIGRATION);
    g_assert_cmpint(g_array_index(o.methods, FerryMethod, 1), ==, FERRY_METHOD_MOVE);

    assert_refused(f, NULL, "{'batch': <@u 0>}", TRUE, FERRY_ERROR_INVALID_ARGUMENT, "batch");
    assert_refused(f, NULL, "{'storage_per_source': <@u 0>}", TRUE, FERRY_ERROR_INVALID_ARGUMENT,
                   "storage_per_source");
    /* Evacuate's own options are no PlanEvacuation option. */
    g_assert_false(g_strv_contains(ferry_plan_option_keys, "per_target:u"));
    g_assert_true(g_strv_contains(ferry_evacuate_option_keys, "per_target:u"));
    assert_refused(f, NULL, "{'exclude': <['nowhere']>}", TRUE, FERRY_ERROR_INVALID_ARGUMENT, "nowhere");
    const char *const teleport[] = { "migration", "teleport", NULL };
    assert_refused(f, teleport, "@a{sv} {}", TRUE, FERRY_ERROR_INVALID_ARGUMENT, "teleport");
    const char *const failover[] = { "failover", NULL };
    assert_refused(f, failover, "@a{sv} {}", TRUE, FERRY_ERROR_UNSUPPORTED, "failover");
    ferry_evacuate_options_clear(&o);
    g_assert_true(parse(f, NULL, "{'reboot_dependents': <true>}", TRUE, &o, &error));
    g_assert_no_error(error);
    g_assert_true(o.reboot_dependents);
}

/* ------------------------------------------------------------------ D4 */

static void test_status(void)
{
    g_autofree char *m = NULL;
    FerryEvacuationResult quiet_ones[] = {
        { "a", FERRY_VERDICT_MOVE, FERRY_MOVE_MOVED, "" },
        { "h", FERRY_VERDICT_HOLD, FERRY_MOVE_NOT_ASKED, "" },
        { "u", FERRY_VERDICT_UNMANAGED, FERRY_MOVE_NOT_ASKED, "" },
        { "s", FERRY_VERDICT_STOPPED, FERRY_MOVE_NOT_ASKED, "stopped" },
    };
    g_assert_cmpint(ferry_evacuation_status(quiet_ones, 4, FALSE, &m), ==, FERRY_JOB_SUCCEEDED);
    g_assert_cmpstr(m, ==, "1 domain moved");
    g_clear_pointer(&m, g_free);

    FerryEvacuationResult warned[] = {
        { "a", FERRY_VERDICT_MOVE, FERRY_MOVE_MOVED, "" },
        { "mnt", FERRY_VERDICT_MAINTENANCE, FERRY_MOVE_NOT_ASKED, "under maintenance" },
    };
    g_assert_cmpint(ferry_evacuation_status(warned, 2, FALSE, &m), ==, FERRY_JOB_WARNING);
    g_assert_nonnull(strstr(m, "mnt"));
    g_clear_pointer(&m, g_free);

    /* A failure outweighs a warning, and the message names both, each with its reason. */
    FerryEvacuationResult failed[] = {
        { "mnt", FERRY_VERDICT_MAINTENANCE, FERRY_MOVE_NOT_ASKED, "" },
        { "big", FERRY_VERDICT_NO_TARGET, FERRY_MOVE_NOT_ASKED, "beta: 1 GiB free, needs 2 GiB" },
        { "b", FERRY_VERDICT_BUSY, FERRY_MOVE_NOT_ASKED, "a backup runs" },
        { "f", FERRY_VERDICT_MOVE, FERRY_MOVE_FAILED, "the peer stopped answering" },
        { "n", FERRY_VERDICT_MOVE, FERRY_MOVE_NOT_STARTED, "busy" },
    };
    g_assert_cmpint(ferry_evacuation_status(failed, 5, FALSE, &m), ==, FERRY_JOB_FAILED);
    for (guint i = 0; i < G_N_ELEMENTS(failed); i++)
        g_assert_nonnull(strstr(m, failed[i].domain));
    g_assert_nonnull(strstr(m, "needs 2 GiB"));
    g_assert_nonnull(strstr(m, "the peer stopped answering"));
    g_assert_nonnull(strstr(m, "4 did not move"));
    g_clear_pointer(&m, g_free);

    /* Each rule alone: busy fails, a failed move fails. */
    g_assert_cmpint(ferry_evacuation_status(&failed[2], 1, FALSE, &m), ==, FERRY_JOB_FAILED);
    g_clear_pointer(&m, g_free);
    g_assert_cmpint(ferry_evacuation_status(&failed[3], 1, FALSE, &m), ==, FERRY_JOB_FAILED);
    g_clear_pointer(&m, g_free);
    g_assert_cmpint(ferry_evacuation_status(quiet_ones, 1, TRUE, &m), ==, FERRY_JOB_CANCELLED);
    g_assert_nonnull(strstr(m, "1 domain moved"));
}

/* ------------------------------------------------------------------ snapshot and plan */

static const FerryPlacement *row_of(GPtrArray *plan, const char *domain)
{
    for (guint i = 0; i < plan->len; i++) {
        const FerryPlacement *row = g_ptr_array_index(plan, i);
        if (g_str_equal(row->domain, domain))
            return row;
    }
    g_assert_not_reached();
}

static GPtrArray *plan_for(Fixture *f, const char *options, FerrySnapshot **snapshot_out)
{
    g_auto(FerryEvacuateOptions) o = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_true(parse(f, NULL, options, FALSE, &o, &error));
    FerrySnapshotRequest request = { .config = f->config, .all = o.all };
    g_autoptr(FerrySnapshot) s = ferry_snapshot_read(&request, &error);
    g_assert_no_error(error);
    GPtrArray *plan = ferry_evacuation_plan(f->config, s, &o, &error);
    g_assert_no_error(error);
    if (snapshot_out)
        *snapshot_out = g_steal_pointer(&s);
    return plan;
}

static void test_snapshot(Fixture *f, gconstpointer data)
{
    g_autoptr(FerrySnapshot) s = NULL;
    g_autoptr(GPtrArray) plan = plan_for(f, "@a{sv} {}", &s);
    g_assert_cmpuint(s->input.n_domains, ==, 5);
    g_assert_cmpuint(s->input.n_peers, ==, 2);
    /* Neither peer can take anything, and each says why. */
    for (guint p = 0; p < 2; p++) {
        g_assert_false(s->input.peers[p].reachable);
        g_assert_nonnull(g_ptr_array_index(s->peer_reasons, p));
    }
    g_assert_nonnull(strstr(g_ptr_array_index(s->peer_reasons, 0), "this host"));
    const FerryPlacement *db = row_of(plan, "db");
    g_assert_cmpint(db->verdict, ==, FERRY_VERDICT_NO_TARGET);
    g_assert_nonnull(strstr(db->reason, "unreachable (its libvirtd answers as"));
    g_assert_nonnull(strstr(db->reason, "missing.xml: unreachable ("));
    g_assert_cmpint(row_of(plan, "web")->verdict, ==, FERRY_VERDICT_HOLD);
    g_assert_cmpint(row_of(plan, "free")->verdict, ==, FERRY_VERDICT_UNMANAGED);
    /* Its own maintenance mark (policy metadata), not the host's mode. */
    g_assert_cmpint(row_of(plan, "fix")->verdict, ==, FERRY_VERDICT_MAINTENANCE);
    g_assert_cmpint(row_of(plan, "off")->verdict, ==, FERRY_VERDICT_STOPPED);
    /* The memory a move of db would carry, for Progress. */
    for (guint d = 0; d < s->input.n_domains; d++)
        if (g_str_equal(s->input.domains[d].name, "db"))
            g_assert_cmpuint(g_array_index(s->domain_bytes, guint64, d), ==, 128u << 20);

    g_autoptr(GPtrArray) all = plan_for(f, "{'all': <true>}", NULL);
    g_assert_cmpint(row_of(all, "off")->verdict, ==, FERRY_VERDICT_NO_TARGET);

    /* The rows as the bus has them, the same for the same inventory. */
    g_autoptr(GVariant) v1 = g_variant_ref_sink(ferry_evacuation_plan_to_variant(plan));
    g_autoptr(GPtrArray) again = plan_for(f, "@a{sv} {}", NULL);
    g_autoptr(GVariant) v2 = g_variant_ref_sink(ferry_evacuation_plan_to_variant(again));
    g_assert_cmpstr(g_variant_get_type_string(v1), ==, "a(sssss)");
    g_assert_true(g_variant_equal(v1, v2));
    const char *domain, *method, *target, *verdict, *reason;
    g_variant_get_child(v1, 0, "(&s&s&s&s&s)", &domain, &method, &target, &verdict, &reason);
    g_assert_cmpstr(method, ==, "");
    g_assert_cmpstr(target, ==, "");
}

/* ------------------------------------------------------------------ the Evacuate job */

static void got(GObject *source, GAsyncResult *result, gpointer data)
{
    *(GAsyncResult **)data = g_object_ref(result);
}

static GAsyncResult *wait_for(GAsyncResult **slot)
{
    while (!*slot)
        g_main_context_iteration(NULL, TRUE);
    return *slot;
}

static void test_evacuate_job(Fixture *f, gconstpointer data)
{
    g_autoptr(FerryJobs) jobs = ferry_jobs_new(NULL, NULL);
    g_autoptr(FerryEvacuations) ev = ferry_evacuations_new(jobs, f->config);
    g_autoptr(GError) error = NULL;
    GAsyncResult *first = NULL, *second = NULL, *bad = NULL;

    /* Bad options: InvalidArgument, no job, and no evacuation left holding the host. */
    g_autoptr(GVariant) zero = g_variant_parse(NULL, "{'batch': <@u 0>}", NULL, NULL, NULL);
    ferry_evacuations_start_async(ev, NULL, zero, NULL, got, &bad);
    g_assert_null(ferry_evacuations_start_finish(ev, wait_for(&bad), &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);

    ferry_evacuations_start_async(ev, NULL, NULL, NULL, got, &first);
    ferry_evacuations_start_async(ev, NULL, NULL, NULL, got, &second);
    g_assert_null(ferry_evacuations_start_finish(ev, wait_for(&second), &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_BUSY);
    g_clear_error(&error);
    g_autoptr(FerryJob) job = ferry_evacuations_start_finish(ev, wait_for(&first), &error);
    g_assert_no_error(error);
    g_assert_cmpint(ferry_job_kind(job), ==, FERRY_JOB_EVACUATE);
    while (!ferry_job_is_finished(job))
        g_main_context_iteration(NULL, TRUE);
    /* db had nowhere to go: D4 fails the evacuation and says so. */
    g_auto(FerryJobState) state = { 0 };
    ferry_job_get_state(job, &state);
    g_assert_cmpint(state.status, ==, FERRY_JOB_FAILED);
    g_assert_nonnull(strstr(state.message, "db (no-target"));
    g_assert_nonnull(strstr(state.message, "left here under maintenance: fix"));
    g_assert_null(strstr(state.message, "web"));
    /* Over: a new evacuation may start. */
    GAsyncResult *third = NULL;
    ferry_evacuations_start_async(ev, NULL, NULL, NULL, got, &third);
    g_autoptr(FerryJob) again = ferry_evacuations_start_finish(ev, wait_for(&third), &error);
    g_assert_no_error(error);
    while (!ferry_job_is_finished(again))
        g_main_context_iteration(NULL, TRUE);
    g_object_unref(first);
    g_object_unref(second);
    g_object_unref(third);
    g_object_unref(bad);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ferry_libvirt_event_loop_init();
    g_test_add("/evacuate/options", Fixture, NULL, fixture_set_up, test_options, fixture_tear_down);
    g_test_add_func("/evacuate/status-d4", test_status);
    g_test_add("/evacuate/snapshot-plan", Fixture, NULL, fixture_set_up, test_snapshot, fixture_tear_down);
    g_test_add("/evacuate/job", Fixture, NULL, fixture_set_up, test_evacuate_job, fixture_tear_down);
    return g_test_run();
}
