/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry's job following, the parts that need no bus: the progress line (a pure
 * function of a job's state, the width and whether stdout is a terminal), the exit code of
 * an ended job, sizes for people, and the checks of archive ids and job numbers. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

#include <string.h>

#define KiB ((guint64)1 << 10)
#define MiB ((guint64)1 << 20)
#define GiB ((guint64)1 << 30)
#define TiB ((guint64)1 << 40)

static char *line(double progress, guint64 total, guint64 remaining, double rate, const char *message, guint width,
                  gboolean tty)
{
    CliProgress p = { progress, total, remaining, rate, message };
    char *text = cli_progress_line(&p, width, tty);
    g_assert_nonnull(text);
    g_assert_true(g_utf8_validate(text, -1, NULL));
    return text;
}

static void assert_has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        g_error("\"%s\" lacks \"%s\"", text, needle);
}

static void assert_lacks(const char *text, const char *needle)
{
    if (strstr(text, needle))
        g_error("\"%s\" holds \"%s\"", text, needle);
}

/* A terminal line: "\r", then exactly @width - 1 columns, no newline. */
static void assert_tty_line(const char *text, guint width)
{
    g_assert_cmpint(text[0], ==, '\r');
    g_assert_null(strchr(text + 1, '\r'));
    g_assert_null(strchr(text, '\n'));
    if (cli_text_columns(text + 1) != width - 1)
        g_error("\"%s\" takes %zu columns, not %u", text + 1, cli_text_columns(text + 1), width - 1);
}

/* The bar between '[' and ']'. */
static char *bar_of(const char *text)
{
    const char *open = strchr(text, '['), *close = open ? strchr(open, ']') : NULL;
    g_assert_nonnull(close);
    return g_strndup(open + 1, close - open - 1);
}

static gsize count(const char *text, char c)
{
    gsize n = 0;
    for (; *text; text++)
        n += *text == c;
    return n;
}

/* ------------------------------------------------------------------ the terminal line */

static void test_zero(void)
{
    g_autofree char *text = line(0, 4 * GiB, 4 * GiB, 0, "saving the memory state of db1", 80, TRUE);
    assert_tty_line(text, 80);
    g_assert_true(g_str_has_prefix(text, "\r  0% [>"));
    assert_has(text, "0.0/4.0 GiB");
    assert_has(text, "ETA --:--"); /* no rate yet */
    assert_lacks(text, "/s");
    assert_has(text, "saving the");
    g_autofree char *bar = bar_of(text);
    g_assert_cmpuint(count(bar, '='), ==, 0);
}

static void test_half(void)
{
    g_autofree char *text = line(0.5, 2 * GiB, GiB, 100.0 * MiB, "copying /var/lib/libvirt/images/db1.qcow2", 120,
                                 TRUE);
    assert_tty_line(text, 120);
    g_assert_true(g_str_has_prefix(text, "\r 50% ["));
    assert_has(text, "1.0/2.0 GiB");
    assert_has(text, "100.0 MiB/s");
    assert_has(text, "ETA 0:11"); /* 10.24 s, rounded up */
    assert_has(text, "copying /var/lib/libvirt/images/db1.qcow2");
    g_autofree char *bar = bar_of(text);
    gsize width = strlen(bar);
    g_assert_cmpuint(count(bar, '='), ==, width / 2);
    g_assert_cmpuint(count(bar, '>'), ==, 1);
}

static void test_full(void)
{
    g_autofree char *text = line(1.0, 300 * MiB, 0, 50.0 * MiB, "writing the manifest", 80, TRUE);
    assert_tty_line(text, 80);
    g_assert_true(g_str_has_prefix(text, "\r100% ["));
    assert_has(text, "300.0/300.0 MiB");
    assert_has(text, "ETA 0:00");
    g_autofree char *bar = bar_of(text);
    g_assert_cmpuint(count(bar, '='), ==, strlen(bar));
}

/* 0.29 * 100 is 28.999...: still 29%; a hair under 1 is 99%, never 100% too early. */
static void test_rounding(void)
{
    g_autofree char *a = line(0.29, 0, 0, 0, NULL, 80, FALSE);
    g_assert_cmpstr(a, ==, " 29%\n");
    g_autofree char *b = line(0.9999, 0, 0, 0, NULL, 80, FALSE);
    g_assert_cmpstr(b, ==, " 99%\n");
    g_autofree char *c = line(-0.5, 0, 0, 0, NULL, 80, FALSE);
    g_assert_cmpstr(c, ==, "  0%\n");
    g_autofree char *d = line(7.0, 0, 0, 0, NULL, 80, FALSE);
    g_assert_cmpstr(d, ==, "100%\n");
}

/* DataTotal 0: the job does not know its data; percentage, bar and message only. */
static void test_unknown_total(void)
{
    g_autofree char *text = line(0.25, 0, 0, 123.0, "defining the domain", 80, TRUE);
    assert_tty_line(text, 80);
    g_assert_true(g_str_has_prefix(text, "\r 25% ["));
    assert_lacks(text, "MiB");
    assert_lacks(text, "ETA");
    assert_lacks(text, "B/s");
    assert_has(text, "]  defining the domain");
    g_autofree char *plain = line(0.25, 0, 0, 123.0, "defining the domain", 80, FALSE);
    g_assert_cmpstr(plain, ==, " 25%  defining the domain\n");
}

static void test_huge(void)
{
    g_autofree char *text = line(2.0 / 3, 3 * TiB, TiB, 2.0 * GiB, "copying vdb", 200, TRUE);
    assert_tty_line(text, 200);
    assert_has(text, "2.0/3.0 TiB");
    assert_has(text, "2.0 GiB/s");
    assert_has(text, "ETA 8:32"); /* 1 TiB at 2 GiB/s: 512 s */
    g_autofree char *hours = line(0.1, 16 * TiB, 15 * TiB, 1.0 * GiB, NULL, 200, TRUE);
    assert_has(hours, "ETA 4:16:00");
    g_autofree char *days = line(0.1, 16 * TiB, 15 * TiB, 1.0 * KiB, NULL, 200, TRUE);
    assert_has(days, "ETA >99h");
    assert_has(days, "1.0 KiB/s");
    g_autofree char *max = line(0.5, G_MAXUINT64, G_MAXUINT64 / 2, 1e18, NULL, 200, TRUE);
    assert_tty_line(max, 200);
    assert_has(max, "/16777216.0 TiB");
}

/* Width 40: the rate, the ETA and the data make room for the bar and the message. */
static void test_width_40(void)
{
    const char *message = "saving the memory state of db1";
    g_autofree char *text = line(0.5, 2 * GiB, GiB, 100.0 * MiB, message, 40, TRUE);
    assert_tty_line(text, 40);
    g_assert_true(g_str_has_prefix(text, "\r 50% ["));
    assert_lacks(text, "MiB/s");
    assert_has(text, "saving the");
    g_autofree char *bar = bar_of(text);
    g_assert_cmpuint(strlen(bar), >=, 5);
    /* Without a message the data fits. */
    g_autofree char *quiet = line(0.5, 2 * GiB, GiB, 100.0 * MiB, NULL, 40, TRUE);
    assert_tty_line(quiet, 40);
    assert_has(quiet, "1.0/2.0 GiB");
}

static void test_width_200(void)
{
    const char *message = "copying /var/lib/libvirt/images/a-rather-long-name-for-a-disk-image.qcow2";
    g_autofree char *text = line(0.42, 10 * GiB, 5.8 * GiB, 512.0 * MiB, message, 200, TRUE);
    assert_tty_line(text, 200);
    assert_has(text, "4.2/10.0 GiB");
    assert_has(text, "512.0 MiB/s");
    assert_has(text, "ETA 0:12");
    assert_has(text, message);
    g_autofree char *bar = bar_of(text);
    g_assert_cmpuint(strlen(bar), ==, 39); /* a fifth of the line */
}

/* Tiny terminals: the percentage, cut if need be; never more than the width. */
static void test_narrow(void)
{
    for (guint width = 1; width <= 30; width++) {
        g_autofree char *text = line(0.5, 2 * GiB, GiB, 100.0 * MiB, "ünïcödé message", width, TRUE);
        g_assert_cmpint(text[0], ==, '\r');
        g_assert_cmpuint(cli_text_columns(text + 1), ==, MAX(width, 2) - 1);
    }
}

/* A message longer than the line is cut between characters, never inside one. */
static void test_long_utf8_message(void)
{
    GString *accents = g_string_new(NULL);
    for (int i = 0; i < 300; i++)
        g_string_append(accents, "é");
    for (guint width = 40; width <= 200; width += 7) {
        g_autofree char *text = line(0.3, GiB, 700 * MiB, 10.0 * MiB, accents->str, width, TRUE);
        assert_tty_line(text, width);
        assert_has(text, "é...");
    }
    /* Wide characters take two columns: one column may stay blank. */
    GString *wide = g_string_new(NULL);
    for (int i = 0; i < 200; i++)
        g_string_append(wide, "日本");
    for (guint width = 40; width <= 200; width++) {
        g_autofree char *text = line(0.3, GiB, 700 * MiB, 10.0 * MiB, wide->str, width, TRUE);
        assert_tty_line(text, width);
    }
    /* 4-byte characters. */
    g_autofree char *emoji = line(0.3, 0, 0, 0, "🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢🚢", 40, TRUE);
    assert_tty_line(emoji, 40);
    g_string_free(accents, TRUE);
    g_string_free(wide, TRUE);
}

/* Control characters and bytes that are not UTF-8 are shown escaped, never sent raw. */
static void test_message_escaped(void)
{
    g_autofree char *text = line(0.1, 0, 0, 0, "a\tb\rc\x1b[2Jd\xff", 80, TRUE);
    assert_tty_line(text, 80);
    assert_has(text, "a\\x09b\\x0dc\\x1b[2Jd\\xff");
    g_assert_null(strchr(text + 1, '\x1b'));
}

/* ------------------------------------------------------------------ not a terminal */

static void test_plain_lines(void)
{
    GString *longer = g_string_new(NULL);
    for (int i = 0; i < 50; i++)
        g_string_append(longer, "ßtep ");
    g_autofree char *text = line(0.5, 2 * GiB, GiB, 100.0 * MiB, longer->str, 40, FALSE);
    g_assert_null(strchr(text, '\r'));
    g_assert_null(strchr(text, '['));
    g_assert_true(g_str_has_suffix(text, "\n"));
    g_assert_cmpuint(count(text, '\n'), ==, 1);
    g_assert_true(g_str_has_prefix(text, " 50%  1.0/2.0 GiB  100.0 MiB/s  ETA 0:11  ßtep "));
    assert_has(text, longer->str); /* nothing cut */
    g_autofree char *no_rate = line(0.5, 2 * GiB, GiB, 0, "copying", 80, FALSE);
    g_assert_cmpstr(no_rate, ==, " 50%  1.0/2.0 GiB  copying\n");
    g_autofree char *bare = line(0, 0, 0, 0, "", 80, FALSE);
    g_assert_cmpstr(bare, ==, "  0%\n");
    g_string_free(longer, TRUE);
}

/* ------------------------------------------------------------------ sizes, columns */

static void test_sizes(void)
{
    const struct {
        guint64 bytes;
        const char *text;
    } cases[] = {
        { 0, "0 B" },           { 1023, "1023 B" },          { 1024, "1.0 KiB" },
        { 1536 * MiB, "1.5 GiB" }, { 300 * MiB, "300.0 MiB" }, { 5 * TiB, "5.0 TiB" },
        { G_MAXUINT64, "16.0 EiB" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = cli_format_size(cases[i].bytes);
        g_assert_cmpstr(text, ==, cases[i].text);
    }
}

static void test_columns(void)
{
    g_assert_cmpuint(cli_text_columns(""), ==, 0);
    g_assert_cmpuint(cli_text_columns("abc"), ==, 3);
    g_assert_cmpuint(cli_text_columns("é"), ==, 1);
    g_assert_cmpuint(cli_text_columns("日本"), ==, 4);
    g_assert_cmpuint(cli_text_columns("e\xcc\x81"), ==, 1); /* e + combining acute */
}

/* ------------------------------------------------------------------ exit codes */

static void test_exit_codes(void)
{
    g_assert_cmpint(cli_job_exit_code("succeeded", "", FALSE), ==, CLI_EXIT_OK);
    g_assert_cmpint(cli_job_exit_code("warning", "", FALSE), ==, CLI_EXIT_OK);
    g_assert_cmpint(cli_job_exit_code("succeeded", "", TRUE), ==, CLI_EXIT_OK); /* ended before the cancel */
    g_assert_cmpint(cli_job_exit_code("failed", FERRY_ERROR_NAME_NOT_FOUND, FALSE), ==, CLI_EXIT_NOT_FOUND);
    g_assert_cmpint(cli_job_exit_code("failed", "org.freedesktop.DBus.Error.AccessDenied", FALSE), ==, CLI_EXIT_DENIED);
    g_assert_cmpint(cli_job_exit_code("failed", FERRY_ERROR_NAME_INVALID_ARGUMENT, FALSE), ==,
                    CLI_EXIT_USAGE);
    g_assert_cmpint(cli_job_exit_code("failed", FERRY_ERROR_NAME_FAILED, FALSE), ==, CLI_EXIT_FAILED);
    g_assert_cmpint(cli_job_exit_code("failed", FERRY_ERROR_NAME_UNSUPPORTED, FALSE), ==, CLI_EXIT_FAILED);
    g_assert_cmpint(cli_job_exit_code("failed", FERRY_ERROR_NAME_NETWORK_UNAVAILABLE, FALSE), ==,
                    CLI_EXIT_FAILED);
    g_assert_cmpint(cli_job_exit_code("failed", "", FALSE), ==, CLI_EXIT_FAILED);
    g_assert_cmpint(cli_job_exit_code("failed", NULL, FALSE), ==, CLI_EXIT_FAILED);
    g_assert_cmpint(cli_job_exit_code("failed", "org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code19",
                                      FALSE), ==, CLI_EXIT_FAILED);
    /* A job that failed ran: never "virt-ferryd is not running". */
    g_assert_cmpint(cli_job_exit_code("failed", "org.freedesktop.DBus.Error.ServiceUnknown", FALSE), ==,
                    CLI_EXIT_FAILED);
    g_assert_cmpint(cli_job_exit_code("cancelled", FERRY_ERROR_NAME_CANCELLED, FALSE), ==,
                    CLI_EXIT_FAILED);
    g_assert_cmpint(cli_job_exit_code("cancelled", FERRY_ERROR_NAME_CANCELLED, TRUE), ==,
                    CLI_EXIT_INTERRUPTED);
    g_assert_cmpint(cli_job_exit_code("running", "", TRUE), ==, CLI_EXIT_INTERRUPTED);
    g_assert_cmpint(cli_job_exit_code("failed", FERRY_ERROR_NAME_BUSY, TRUE), ==, CLI_EXIT_FAILED);
}

/* ------------------------------------------------------------------ arguments */

static void assert_bad_id(const char *id, const char *why)
{
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_check_archive_id(id, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    if (!strstr(error->message, why))
        g_error("\"%s\": message \"%s\" lacks \"%s\"", id, error->message, why);
    g_assert_true(g_utf8_validate(error->message, -1, NULL));
    g_assert_cmpint(cli_exit_code_for(error), ==, CLI_EXIT_USAGE);
}

static void test_archive_ids(void)
{
    const char *good[] = { "db_201-20261123T101500Z", "web1-20261123T101500Z-2", "ß-x", "a.b", "a b", "x." };
    for (gsize i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) error = NULL;
        if (!ferry_check_archive_id(good[i], &error))
            g_error("\"%s\" refused: %s", good[i], error->message);
    }
    assert_bad_id("", "is empty");
    assert_bad_id("a/b", "holds a '/'");
    assert_bad_id("../etc", "holds a '/'");
    assert_bad_id("..", "starts with '.'");
    assert_bad_id(".partial-x", "starts with '.'");
    assert_bad_id("a..b", "holds '..'");
    assert_bad_id("a\tb", "control character");
    assert_bad_id("a\nb", "control character");
    assert_bad_id("a\x7f", "control character");
    assert_bad_id("a\xc2\x85", "control character"); /* U+0085 NEL */
    assert_bad_id("caf\xe9", "not valid UTF-8");
    g_autofree char *long_id = g_strnfill(201, 'a');
    assert_bad_id(long_id, "is too long");
    g_autofree char *max_id = g_strnfill(200, 'a');
    g_assert_true(ferry_check_archive_id(max_id, NULL));
}

static void test_job_numbers(void)
{
    g_assert_cmpuint(cli_parse_job_id("3", NULL), ==, 3);
    g_assert_cmpuint(cli_parse_job_id("4294967295", NULL), ==, G_MAXUINT32);
    g_assert_cmpuint(cli_parse_job_id(FERRY_JOB_PATH "/17", NULL), ==, 17);
    const char *bad[] = { "", "0", "-1", "+3", " 3", "3 ", "3x", "0x10", "4294967296", FERRY_JOB_PATH "/",
                          FERRY_ARCHIVE_PATH "/3", "job/3" };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_cmpuint(cli_parse_job_id(bad[i], &error), ==, 0);
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        g_assert_cmpint(cli_exit_code_for(error), ==, CLI_EXIT_USAGE);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cli-progress/tty/zero", test_zero);
    g_test_add_func("/cli-progress/tty/half", test_half);
    g_test_add_func("/cli-progress/tty/full", test_full);
    g_test_add_func("/cli-progress/rounding", test_rounding);
    g_test_add_func("/cli-progress/unknown-total", test_unknown_total);
    g_test_add_func("/cli-progress/huge", test_huge);
    g_test_add_func("/cli-progress/tty/width-40", test_width_40);
    g_test_add_func("/cli-progress/tty/width-200", test_width_200);
    g_test_add_func("/cli-progress/tty/narrow", test_narrow);
    g_test_add_func("/cli-progress/tty/long-utf8-message", test_long_utf8_message);
    g_test_add_func("/cli-progress/message-escaped", test_message_escaped);
    g_test_add_func("/cli-progress/plain-lines", test_plain_lines);
    g_test_add_func("/cli-progress/sizes", test_sizes);
    g_test_add_func("/cli-progress/columns", test_columns);
    g_test_add_func("/cli-progress/exit-codes", test_exit_codes);
    g_test_add_func("/cli-progress/archive-ids", test_archive_ids);
    g_test_add_func("/cli-progress/job-numbers", test_job_numbers);
    return g_test_run();
}
