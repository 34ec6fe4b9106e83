/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry's KEY=VALUE policy parser: the right GVariant types for good input, a clear
 * error naming the key for bad input, and the exit codes errors map to. */
#include "cli.h"

#include "ferry-error.h"

#include <string.h>

/* Parses a NULL-terminated list of assignments. */
static GVariant *parse(const char *first, ...) G_GNUC_NULL_TERMINATED;
static GVariant *parse_error(GError **error, const char *first, ...) G_GNUC_NULL_TERMINATED;

static GVariant *parse_va(GError **error, const char *first, va_list args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    for (const char *a = first; a; a = va_arg(args, const char *))
        g_ptr_array_add(argv, (gpointer)a);
    g_ptr_array_add(argv, NULL);
    return cli_policy_parse((const char *const *)argv->pdata, error);
}

static GVariant *parse(const char *first, ...)
{
    g_autoptr(GError) error = NULL;
    va_list args;
    va_start(args, first);
    GVariant *v = parse_va(&error, first, args);
    va_end(args);
    g_assert_no_error(error);
    g_assert_nonnull(v);
    g_assert_false(g_variant_is_floating(v));
    return v;
}

static GVariant *parse_error(GError **error, const char *first, ...)
{
    va_list args;
    va_start(args, first);
    GVariant *v = parse_va(error, first, args);
    va_end(args);
    return v;
}

static void assert_parses_to(GVariant *got, const char *want_text)
{
    g_autoptr(GVariant) want = g_variant_parse(G_VARIANT_TYPE_VARDICT, want_text, NULL, NULL, NULL);
    g_assert_nonnull(want);
    g_autofree char *got_text = g_variant_print(got, TRUE);
    if (!g_variant_equal(got, want))
        g_error("parsed to %s, want %s", got_text, want_text);
}

/* The assignment must be refused, with a message holding every one of @needles. */
static void assert_rejects(const char *assignment, const char *needle1, const char *needle2)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) v = parse_error(&error, "hold=yes", assignment, NULL);
    g_assert_null(v);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    if (!strstr(error->message, needle1) || (needle2 && !strstr(error->message, needle2)))
        g_error("\"%s\": message \"%s\" lacks \"%s\"%s%s", assignment, error->message, needle1,
                needle2 ? " or " : "", needle2 ? needle2 : "");
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_cmpint(cli_exit_code_for(error), ==, CLI_EXIT_USAGE);
}

/* ------------------------------------------------------------------ good input */

static void test_every_key(void)
{
    g_autoptr(GVariant) v = parse("hold=yes", "no_migrate=true", "eq=db", "ne=web", "pin=alpha,beta",
                                  "priority=10", "depends=db 1,ß-2", "unmanaged=0", NULL);
    assert_parses_to(v, "{'hold': <true>, 'no_migrate': <true>, 'eq': <'db'>, 'ne': <'web'>, "
                        "'pin': <['alpha', 'beta']>, 'priority': <int32 10>, "
                        "'depends': <['db 1', 'ß-2']>, 'unmanaged': <false>}");
}

static void test_booleans(void)
{
    const char *yes[] = { "true", "yes", "1", "TRUE", "Yes" }, *no[] = { "false", "no", "0", "False", "NO" };
    for (gsize i = 0; i < G_N_ELEMENTS(yes); i++) {
        g_autofree char *a = g_strconcat("hold=", yes[i], NULL);
        g_autofree char *b = g_strconcat("unmanaged=", no[i], NULL);
        g_autoptr(GVariant) v = parse(a, b, NULL);
        assert_parses_to(v, "{'hold': <true>, 'unmanaged': <false>}");
    }
}

/* Empty values clear: no group, no hosts, no dependencies. */
static void test_empty_values_clear(void)
{
    g_autoptr(GVariant) v = parse("eq=", "ne=", "pin=", "depends=", NULL);
    assert_parses_to(v, "{'eq': <''>, 'ne': <''>, 'pin': <@as []>, 'depends': <@as []>}");
}

static void test_priority_bounds(void)
{
    g_autoptr(GVariant) low = parse("priority=-1000", NULL);
    assert_parses_to(low, "{'priority': <int32 -1000>}");
    g_autoptr(GVariant) high = parse("priority=1000", NULL);
    assert_parses_to(high, "{'priority': <int32 1000>}");
    g_autoptr(GVariant) zero = parse("priority=0", NULL);
    assert_parses_to(zero, "{'priority': <int32 0>}");
}

static void test_lists(void)
{
    /* Blanks around entries go; "\," is a comma inside a domain name, "\\" a backslash. */
    g_autoptr(GVariant) v = parse("pin= alpha , beta.example.org", "depends=a\\,b,c\\\\d,e", NULL);
    assert_parses_to(v, "{'pin': <['alpha', 'beta.example.org']>, 'depends': <['a,b', 'c\\\\d', 'e']>}");
}

static void test_dashed_key(void)
{
    g_autoptr(GVariant) v = parse("no-migrate=yes", NULL);
    assert_parses_to(v, "{'no_migrate': <true>}");
}

/* A value may hold '=': only the first one splits. */
static void test_first_equals_splits(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) v = parse_error(&error, "depends=a=b", NULL);
    g_assert_no_error(error);
    assert_parses_to(v, "{'depends': <['a=b']>}");
}

static void test_summary_round_trip(void)
{
    g_autoptr(GVariant) v = parse("hold=yes", "eq=db", "pin=alpha,beta", "priority=-5", "depends=a\\,b", NULL);
    g_autofree char *summary = cli_policy_summary(v);
    g_assert_cmpstr(summary, ==, "hold=yes eq=db pin=alpha,beta priority=-5 depends=a\\,b");
    g_auto(GStrv) again = g_strsplit(summary, " ", -1);
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) back = cli_policy_parse((const char *const *)again, &error);
    g_assert_no_error(error);
    g_assert_true(g_variant_equal(v, back));

    g_autoptr(GVariant) empty = g_variant_ref_sink(g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0));
    g_autofree char *none = cli_policy_summary(empty);
    g_assert_cmpstr(none, ==, "-");
}

/* ------------------------------------------------------------------ bad input */

static void test_rejects_keys(void)
{
    assert_rejects("colour=red", "unknown policy key 'colour'", "hold, no_migrate, eq, ne, pin, priority");
    assert_rejects("Hold=yes", "unknown policy key 'Hold'", NULL);
    assert_rejects("", "empty argument", "KEY=VALUE");
    assert_rejects("=", "no key before '='", "hold, no_migrate");
    assert_rejects("=yes", "no key before '='", NULL);
    assert_rejects("hold", "'hold' needs a value", "hold=VALUE");
    assert_rejects("whatever", "\"whatever\" is not a policy assignment", "KEY=VALUE");
    assert_rejects("hold=no", "'hold' is given twice", NULL);
}

static void test_rejects_booleans(void)
{
    assert_rejects("unmanaged=maybe", "'unmanaged'", "true, false, yes, no, 1 or 0");
    assert_rejects("no_migrate=", "'no_migrate'", "not a boolean");
    assert_rejects("unmanaged=2", "'unmanaged'", "not a boolean");
    assert_rejects("unmanaged=yes ", "'unmanaged'", "not a boolean");
}

static void test_rejects_priorities(void)
{
    assert_rejects("priority=high", "'priority'", "not an integer");
    assert_rejects("priority=", "'priority'", "not an integer");
    assert_rejects("priority=1.5", "'priority'", "-1000 to 1000");
    assert_rejects("priority=0x10", "'priority'", "not an integer");
    assert_rejects("priority= 5", "'priority'", "not an integer");
    assert_rejects("priority=1001", "'priority'", "out of range");
    assert_rejects("priority=-1001", "'priority'", "out of range");
    assert_rejects("priority=99999999999999999999999", "'priority'", "out of range");
}

static void test_rejects_names(void)
{
    assert_rejects("eq=a b", "'eq'", "letters, digits");
    assert_rejects("ne=x/y", "'ne'", "letters, digits");
    g_autofree char *long_group = g_strnfill(65, 'g');
    g_autofree char *long_eq = g_strconcat("eq=", long_group, NULL);
    assert_rejects(long_eq, "'eq'", "1 to 64");
    assert_rejects("pin=alpha,,beta", "'pin': entry 2 is empty", NULL);
    assert_rejects("pin=alpha,", "'pin': entry 2 is empty", NULL);
    assert_rejects("pin=al pha", "'pin'", "letters, digits, '-' and '.'");
    assert_rejects("pin=alpha,alpha", "'pin' lists \"alpha\" twice", NULL);
    assert_rejects("depends=a,\tb\x01", "'depends'", "control character");
    assert_rejects("depends=db1,db1", "'depends' lists \"db1\" twice", NULL);

    GString *many = g_string_new("pin=");
    for (int i = 0; i < 257; i++)
        g_string_append_printf(many, "%sh%d", i ? "," : "", i);
    assert_rejects(many->str, "'pin' lists 257 entries", "at most 256");
    g_string_free(many, TRUE);
}

static void test_rejects_non_utf8(void)
{
    assert_rejects("eq=\xff\xfe", "not valid UTF-8", NULL);
    assert_rejects("depends=caf\xe9", "not valid UTF-8", NULL);
    assert_rejects("ho\xc3ld=yes", "not valid UTF-8", NULL);
}

static void test_rejects_nothing(void)
{
    g_autoptr(GError) error = NULL;
    const char *none[] = { NULL };
    g_assert_null(cli_policy_parse(none, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ exit codes */

static void assert_remote_exit(const char *dbus_name, CliExit want)
{
    g_autoptr(GError) error = g_dbus_error_new_for_dbus_error(dbus_name, "message");
    g_assert_cmpint(cli_exit_code_for(error), ==, want);
}

static void test_exit_codes(void)
{
    assert_remote_exit("org.freedesktop.DBus.Error.ServiceUnknown", CLI_EXIT_NOT_RUNNING);
    assert_remote_exit("org.freedesktop.DBus.Error.NameHasNoOwner", CLI_EXIT_NOT_RUNNING);
    assert_remote_exit("org.freedesktop.DBus.Error.Spawn.ChildExited", CLI_EXIT_NOT_RUNNING);
    assert_remote_exit("org.freedesktop.DBus.Error.AccessDenied", CLI_EXIT_DENIED);
    assert_remote_exit(FERRY_ERROR_NAME_NOT_FOUND, CLI_EXIT_NOT_FOUND);
    assert_remote_exit(FERRY_ERROR_NAME_INVALID_ARGUMENT, CLI_EXIT_USAGE);
    assert_remote_exit(FERRY_ERROR_NAME_BUSY, CLI_EXIT_FAILED);
    assert_remote_exit(FERRY_ERROR_NAME_FAILED, CLI_EXIT_FAILED);
    assert_remote_exit("org.freedesktop.DBus.Error.NoReply", CLI_EXIT_FAILED);

    g_autoptr(GError) local = NULL;
    cli_set_not_running(&local);
    g_assert_cmpint(cli_exit_code_for(local), ==, CLI_EXIT_NOT_RUNNING);
    g_autoptr(GError) timeout = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
    g_assert_cmpint(cli_exit_code_for(timeout), ==, CLI_EXIT_FAILED);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cli-policy/every-key", test_every_key);
    g_test_add_func("/cli-policy/booleans", test_booleans);
    g_test_add_func("/cli-policy/empty-values-clear", test_empty_values_clear);
    g_test_add_func("/cli-policy/priority-bounds", test_priority_bounds);
    g_test_add_func("/cli-policy/lists", test_lists);
    g_test_add_func("/cli-policy/dashed-key", test_dashed_key);
    g_test_add_func("/cli-policy/first-equals-splits", test_first_equals_splits);
    g_test_add_func("/cli-policy/summary-round-trip", test_summary_round_trip);
    g_test_add_func("/cli-policy/rejects/keys", test_rejects_keys);
    g_test_add_func("/cli-policy/rejects/booleans", test_rejects_booleans);
    g_test_add_func("/cli-policy/rejects/priorities", test_rejects_priorities);
    g_test_add_func("/cli-policy/rejects/names", test_rejects_names);
    g_test_add_func("/cli-policy/rejects/non-utf8", test_rejects_non_utf8);
    g_test_add_func("/cli-policy/rejects/nothing", test_rejects_nothing);
    g_test_add_func("/cli-policy/exit-codes", test_exit_codes);
    return g_test_run();
}
