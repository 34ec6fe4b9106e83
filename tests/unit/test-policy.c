/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Policy metadata, names and the state model: pure functions, no daemon needed. */
#include "libvirt-error.h"
#include "names.h"
#include "policy.h"
#include "state.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

static GVariant *vardict(const char *text)
{
    g_autoptr(GError) error = NULL;
    GVariant *v = g_variant_parse(G_VARIANT_TYPE_VARDICT, text, NULL, NULL, &error);
    g_assert_no_error(error);
    return v;
}

static void test_round_trip(void)
{
    g_autoptr(FerryPolicy) p = ferry_policy_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) changes = vardict("{'hold': <true>, 'no_migrate': <true>, 'eq': <'db'>, "
                                          "'ne': <'web'>, 'pin': <['alpha', 'beta']>, "
                                          "'priority': <int32 10>, 'depends': <['db 1', 'ß-2']>, "
                                          "'unmanaged': <true>, 'maintenance': <true>}");
    g_assert_true(ferry_policy_update(p, changes, &error));
    g_assert_no_error(error);

    g_autofree char *xml = ferry_policy_to_xml(p);
    g_assert_nonnull(strstr(xml, "<no-migrate/>"));
    g_assert_nonnull(strstr(xml, "<maintenance/>"));
    g_assert_nonnull(strstr(xml, "<pin host=\"beta\"/>"));
    g_autoptr(FerryPolicy) back = ferry_policy_parse(xml, &error);
    g_assert_no_error(error);
    g_assert_true(ferry_policy_equal(p, back));

    g_autoptr(GVariant) v = g_variant_ref_sink(ferry_policy_to_variant(back));
    g_assert_true(g_variant_equal(v, changes));
}

/* libvirt hands the element back with its namespace; unknown children come from newer versions. */
static void test_parse_libvirt_form(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryPolicy) p = ferry_policy_parse(
        "<ferry:policy xmlns:ferry=\"" FERRY_POLICY_NS "\"><ferry:hold/><ferry:future x='1'/>"
        "<ferry:priority value='-5'/><ferry:pin host='gamma'/></ferry:policy>", &error);
    g_assert_no_error(error);
    g_assert_true(p->hold);
    g_assert_cmpint(p->priority, ==, -5);
    g_assert_cmpstr(p->pin[0], ==, "gamma");
    g_assert_null(p->pin[1]);

    g_autoptr(FerryPolicy) empty = ferry_policy_parse(NULL, &error);
    g_assert_true(ferry_policy_is_empty(empty));
    g_assert_null(ferry_policy_to_xml(empty));
}

static void test_parse_rejects(void)
{
    const char *bad[] = {
        "<policy><priority value='x'/></policy>",
        "<policy><priority value='5000'/></policy>",
        "<policy><pin host='a b'/></policy>",
        "<policy><eq/></policy>",
        "<notpolicy/>",
        "<policy><hold>",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(FerryPolicy) p = ferry_policy_parse(bad[i], &error);
        g_assert_null(p);
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    }
}

/* Another element of the policy namespace in the domain's metadata (a newer virt-ferry's, a
 * hand-edited archive's): refused, naming that element. The name was read after the document
 * was freed: ASan aborts here, and without it the message could name garbage. */
static void test_parse_wrong_root(void)
{
    const char *roots[] = {
        "hold",
        "policies",
        "a-much-longer-element-name-than-the-policy-parser-ever-expects-to-see-here",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(roots); i++) {
        g_autofree char *xml = g_strdup_printf("<ferry:%s xmlns:ferry=\"" FERRY_POLICY_NS "\"><ferry:hold/></ferry:%s>",
                                               roots[i], roots[i]);
        g_autoptr(GError) error = NULL;
        g_autoptr(FerryPolicy) p = ferry_policy_parse(xml, &error);
        g_assert_null(p);
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        g_autofree char *named = g_strdup_printf("<%s>", roots[i]);
        g_assert_nonnull(strstr(error->message, named));
    }
}

/* The one safe reader's refusal: an entity would otherwise put a host in a <pin> that the
 * metadata does not spell out. */
static void test_parse_rejects_doctype(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryPolicy) p = ferry_policy_parse("<!DOCTYPE policy [<!ENTITY h 'gamma'>]>"
                                                  "<policy><pin host='&h;'/></policy>", &error);
    g_assert_null(p);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

static void test_update_rejects_and_changes_nothing(void)
{
    const char *bad[] = {
        "{'colour': <'red'>}",
        "{'hold': <'yes'>}",
        "{'priority': <int32 1001>}",
        "{'priority': <int32 -1001>}",
        "{'priority': <int64 1>}",
        "{'pin': <['alpha', 'host with spaces']>}",
        "{'pin': <['alpha', 'alpha']>}",
        "{'pin': <['']>}",
        "{'pin': <'alpha'>}",
        "{'eq': <'a/b'>}",
        "{'ne': <'group with spaces'>}",
        "{'depends': <['']>}",
        "{'depends': <['a\\u0001b']>}",
        "{'hold': <true>, 'unmanaged': <true>, 'priority': <int32 99999>}",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(FerryPolicy) p = ferry_policy_new();
        g_autoptr(FerryPolicy) before = ferry_policy_copy(p);
        g_autoptr(GVariant) changes = vardict(bad[i]);
        g_assert_false(ferry_policy_update(p, changes, &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        g_test_message("%s -> %s", bad[i], error->message);
        g_assert_true(ferry_policy_equal(p, before));
    }
    g_autoptr(FerryPolicy) p = ferry_policy_new();
    g_autoptr(GVariant) not_dict = g_variant_ref_sink(g_variant_new_string("x"));
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_policy_update(p, not_dict, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

static void test_update_merges_and_clears(void)
{
    g_autoptr(FerryPolicy) p = ferry_policy_new();
    g_autoptr(GVariant) a = vardict("{'eq': <'db'>, 'pin': <['alpha']>}");
    g_autoptr(GVariant) b = vardict("{'hold': <true>, 'eq': <''>}");
    g_assert_true(ferry_policy_update(p, a, NULL));
    g_assert_true(ferry_policy_update(p, b, NULL));
    g_assert_null(p->eq);
    g_assert_true(p->hold);
    g_assert_cmpstr(p->pin[0], ==, "alpha");
}

static void test_names(void)
{
    g_autofree char *longname = g_strnfill(FERRY_NAME_MAX + 1, 'a');
    g_assert_true(ferry_check_domain_name("db 1%.-é", "domain", NULL));
    g_assert_false(ferry_check_domain_name("", "domain", NULL));
    g_assert_false(ferry_check_domain_name(longname, "domain", NULL));
    g_assert_false(ferry_check_domain_name("a\nb", "domain", NULL));
    g_assert_true(ferry_check_host_name("beta.example.org", "host", NULL));
    g_assert_false(ferry_check_host_name("be ta", "host", NULL));
    g_assert_false(ferry_check_host_name("-beta", "host", NULL));
    g_assert_false(ferry_check_group_name("a/b", "group", NULL));
}

static void test_state_model(void)
{
    static const struct {
        int state, reason;
        FerryState want;
        const char *reason_text;
    } cases[] = {
        { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED, FERRY_STATE_NORMAL, "running:booted" },
        { VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED, FERRY_STATE_NORMAL, "running:migrated" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER, FERRY_STATE_NORMAL, "paused:user" },
        { VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_IOERROR, FERRY_STATE_ERROR, "paused:ioerror" },
        { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED, FERRY_STATE_STOP, "shutoff:destroyed" },
        { VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED, FERRY_STATE_ERROR, "shutoff:crashed" },
        { VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_PANICKED, FERRY_STATE_ERROR, "crashed:panicked" },
        { VIR_DOMAIN_PMSUSPENDED, 0, FERRY_STATE_STOP, "pmsuspended:unknown" },
        { VIR_DOMAIN_NOSTATE, 0, FERRY_STATE_UNKNOWN, "nostate:unknown" },
        { 99, 3, FERRY_STATE_UNKNOWN, "state99:reason3" },
        { VIR_DOMAIN_RUNNING, 999, FERRY_STATE_NORMAL, "running:unknown" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *reason = ferry_state_reason_from_libvirt(cases[i].state, cases[i].reason);
        g_assert_cmpint(ferry_state_from_libvirt(cases[i].state, cases[i].reason), ==, cases[i].want);
        g_assert_cmpstr(reason, ==, cases[i].reason_text);
    }
    /* The names are the contract's (org.virtferry.Ferry1(5), STATES), not whatever the
     * function returns for both sides of a comparison. */
    g_assert_cmpstr(ferry_state_name(FERRY_STATE_NORMAL), ==, "normal");
    g_assert_cmpstr(ferry_state_name(FERRY_STATE_STOP), ==, "stop");
    g_assert_cmpstr(ferry_state_name(FERRY_STATE_ERROR), ==, "error");
    g_assert_cmpstr(ferry_state_name(FERRY_STATE_UNKNOWN), ==, "unknown");
}

static void test_libvirt_error_mapping(void)
{
    g_assert_cmpint(ferry_error_code_for_libvirt(VIR_ERR_NO_DOMAIN), ==, FERRY_ERROR_NOT_FOUND);
    g_assert_cmpint(ferry_error_code_for_libvirt(VIR_ERR_OPERATION_TIMEOUT), ==, FERRY_ERROR_BUSY);
    g_assert_cmpint(ferry_error_code_for_libvirt(VIR_ERR_CPU_INCOMPATIBLE), ==, FERRY_ERROR_INCOMPATIBLE);
    g_assert_cmpint(ferry_error_code_for_libvirt(VIR_ERR_NO_NETWORK), ==, FERRY_ERROR_NETWORK_UNAVAILABLE);
    g_assert_cmpint(ferry_error_code_for_libvirt(VIR_ERR_INTERNAL_ERROR), ==, FERRY_ERROR_FAILED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/policy/round-trip", test_round_trip);
    g_test_add_func("/policy/parse-libvirt-form", test_parse_libvirt_form);
    g_test_add_func("/policy/parse-rejects", test_parse_rejects);
    g_test_add_func("/policy/parse-wrong-root", test_parse_wrong_root);
    g_test_add_func("/policy/parse-rejects-doctype", test_parse_rejects_doctype);
    g_test_add_func("/policy/update-rejects", test_update_rejects_and_changes_nothing);
    g_test_add_func("/policy/update-merges", test_update_merges_and_clears);
    g_test_add_func("/names/checks", test_names);
    g_test_add_func("/state/model", test_state_model);
    g_test_add_func("/errors/libvirt-mapping", test_libvirt_error_mapping);
    return g_test_run();
}
