/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-notify's decisions (tools/notify-map.c): events to notifications, escaping of
 * what comes from the bus, the user's filter, the update rate and the coalescing of bursts. */
#include <math.h>
#include <string.h>

#include "notify-map.h"

#define SEC G_USEC_PER_SEC
#define T0 (1000 * SEC)

/* ------------------------------------------------------------------ helpers */

static void count_element(GMarkupParseContext *context, const char *element, const char **names, const char **values,
                          gpointer data, GError **error)
{
    (*(guint *)data)++;
}

/* @text is well-formed markup without a single element of its own, and valid UTF-8. */
static void assert_inert_markup(const char *text)
{
    g_assert_true(g_utf8_validate(text, -1, NULL));
    static const GMarkupParser parser = { .start_element = count_element };
    guint elements = 0;
    g_autoptr(GMarkupParseContext) context = g_markup_parse_context_new(&parser, 0, &elements, NULL);
    g_autofree char *document = g_strconcat("<t>", text, "</t>", NULL);
    g_autoptr(GError) error = NULL;
    gboolean ok = g_markup_parse_context_parse(context, document, -1, &error) &&
                  g_markup_parse_context_end_parse(context, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_cmpuint(elements, ==, 1);
}

static GVariant *props(const char *text)
{
    return g_variant_ref_sink(g_variant_new_parsed(text));
}

static NotifyJob *job_with(gint64 seen, const char *properties)
{
    NotifyJob *job = notify_job_new(seen);
    g_autoptr(GVariant) p = props(properties);
    notify_job_update(job, p);
    return job;
}

/* ------------------------------------------------------------------ escaping */

static void test_text_plain(void)
{
    g_autofree char *t = notify_text("web1", NOTIFY_TEXT_MAX, FALSE);
    g_assert_cmpstr(t, ==, "web1");
    g_autofree char *empty = notify_text(NULL, NOTIFY_TEXT_MAX, FALSE);
    g_assert_cmpstr(empty, ==, "");
}

static void test_text_markup(void)
{
    g_autofree char *t = notify_text("<b>x</b> & <a href='file:///etc/shadow'>y</a>", NOTIFY_TEXT_MAX, FALSE);
    g_assert_cmpstr(t, ==, "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href=&apos;file:///etc/shadow&apos;&gt;y&lt;/a&gt;");
    assert_inert_markup(t);
}

static void test_text_invalid_utf8(void)
{
    g_autofree char *t = notify_text("db\xff\xfe<1>\xc3", NOTIFY_TEXT_MAX, FALSE);
    g_assert_true(g_utf8_validate(t, -1, NULL));
    g_assert_cmpstr(t, ==, "db\uFFFD\uFFFD&lt;1&gt;\uFFFD");
    assert_inert_markup(t);
}

static void test_text_controls(void)
{
    g_autofree char *one = notify_text("a\nb\tc\x1b[31m", NOTIFY_TEXT_MAX, FALSE);
    g_assert_cmpstr(one, ==, "a b c [31m");
    g_autofree char *multi = notify_text("a\nb", NOTIFY_TEXT_MAX, TRUE);
    g_assert_cmpstr(multi, ==, "a\nb");
    /* A right-to-left override would make "web1\u202Egpj.exe" read otherwise. */
    g_autofree char *bidi = notify_text("web1\u202Egpj", NOTIFY_TEXT_MAX, FALSE);
    g_assert_cmpstr(bidi, ==, "web1\uFFFDgpj");
}

static void test_text_huge(void)
{
    gsize size = 16 * 1024 * 1024;
    g_autofree char *huge = g_malloc(size + 1);
    for (gsize i = 0; i < size; i++)
        huge[i] = "<&\xff"[i % 3];
    huge[size] = 0;
    g_autofree char *t = notify_text(huge, NOTIFY_TEXT_MAX, TRUE);
    assert_inert_markup(t);
    g_assert_true(g_str_has_suffix(t, "\u2026"));
    /* Each kept character escapes to at most 6 bytes ("&amp;" is 5, U+FFFD 3). */
    g_assert_cmpuint(strlen(t), <=, 6 * NOTIFY_TEXT_MAX + 3);
    g_autofree char *exact = g_strnfill(NOTIFY_TEXT_MAX, 'x');
    g_autofree char *kept = notify_text(exact, NOTIFY_TEXT_MAX, FALSE);
    g_assert_cmpstr(kept, ==, exact);
    g_autofree char *over = g_strnfill(NOTIFY_TEXT_MAX + 1, 'x');
    g_autofree char *cut = notify_text(over, NOTIFY_TEXT_MAX, FALSE);
    g_assert_cmpuint(g_utf8_strlen(cut, -1), ==, NOTIFY_TEXT_MAX + 1);
    g_assert_true(g_str_has_suffix(cut, "x\u2026"));
}

/* ------------------------------------------------------------------ jobs */

static void test_job_update(void)
{
    g_autoptr(NotifyJob) job = notify_job_new(T0);
    g_autoptr(GVariant) first = props("{'Kind': <'archive'>, 'Status': <'running'>, 'Progress': <0.25>}");
    g_assert_true(notify_job_update(job, first));
    g_assert_false(notify_job_update(job, first));
    /* Wrong types (a hostile or buggy sender) are ignored. */
    g_autoptr(GVariant) wrong = props("{'Kind': <42>, 'Progress': <'half'>, 'DataTotal': <-1>}");
    g_assert_false(notify_job_update(job, wrong));
    g_assert_cmpstr(job->kind, ==, "archive");
    g_assert_cmpfloat(job->progress, ==, 0.25);
    g_autoptr(GVariant) nan = g_variant_ref_sink(g_variant_new_parsed("{'Progress': <%d>}", INFINITY));
    notify_job_update(job, nan);
    g_assert_cmpfloat(job->progress, >=, 0);
    g_assert_cmpfloat(job->progress, <=, 1);
    g_assert_false(notify_job_update(job, NULL));
}

static void test_job_running(void)
{
    g_autoptr(NotifyJob) job = job_with(T0, "{'Kind': <'archive'>, 'Target': <'web1'>, 'Status': <'running'>, "
                                            "'Progress': <0.1>, 'DataTotal': <uint64 4294967296>, "
                                            "'DataRemaining': <uint64 3865470566>, 'Message': <'copying vda'>}");
    g_autoptr(GVariant) later = props("{'Progress': <0.6>, 'DataRemaining': <uint64 1717986918>}");
    notify_job_update(job, later);
    g_autoptr(NotifyMessage) m = notify_map_job(job, "alpha", T0 + 10 * SEC);
    g_assert_cmpstr(m->summary, ==, "alpha: archive of web1");
    g_assert_cmpstr(m->kind, ==, "archive");
    g_assert_cmpstr(m->domain, ==, "web1");
    g_assert_cmpint(m->progress, ==, 60);
    g_assert_true(m->cancellable);
    g_assert_true(m->is_job);
    g_assert_false(m->job_end);
    g_assert_cmpint(m->urgency, ==, NOTIFY_URGENCY_LOW);
    g_assert_cmpstr(m->category, ==, "transfer");
    g_assert_true(g_str_has_prefix(m->body, "60%"));
    g_assert_nonnull(strstr(m->body, "2.4\u00a0GiB of 4.0\u00a0GiB"));
    /* 0.5 done in 10 s since it was first seen: 0.4 left is 8 s. */
    g_assert_nonnull(strstr(m->body, "about 0:08 left"));
    g_assert_true(g_str_has_suffix(m->body, "\ncopying vda"));
}

static void test_job_outcomes(void)
{
    static const struct {
        const char *status;
        const char *summary;
        NotifyUrgency urgency;
        const char *category;
    } cases[] = {
        { "succeeded", "alpha: Migration of web1 succeeded", NOTIFY_URGENCY_NORMAL, "transfer.complete" },
        { "warning", "alpha: Migration of web1 succeeded with a warning", NOTIFY_URGENCY_NORMAL, "transfer.complete" },
        { "failed", "alpha: Migration of web1 failed", NOTIFY_URGENCY_CRITICAL, "transfer.error" },
        { "cancelled", "alpha: Migration of web1 was cancelled", NOTIFY_URGENCY_NORMAL, "transfer.error" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = g_strdup_printf("{'Kind': <'migrate'>, 'Target': <'web1'>, 'Status': <'%s'>, "
                                                "'Message': <'done'>, 'Error': <'org.virtferry.Ferry1.Error.NoCapacity'>}",
                                                cases[i].status);
        g_autoptr(NotifyJob) job = job_with(T0, text);
        g_assert_false(notify_job_is_running(job));
        g_autoptr(NotifyMessage) m = notify_map_job(job, "alpha", T0);
        g_assert_cmpstr(m->summary, ==, cases[i].summary);
        g_assert_cmpint(m->urgency, ==, cases[i].urgency);
        g_assert_cmpstr(m->category, ==, cases[i].category);
        g_assert_false(m->cancellable);
        g_assert_cmpint(m->progress, ==, -1);
        g_assert_true(m->job_end);
        /* The error's name only where the job failed. */
        g_assert_cmpstr(m->body, ==, g_str_equal(cases[i].status, "failed") ? "done\n(NoCapacity)" : "done");
    }
}

static void test_job_hostile(void)
{
    g_autofree char *huge = g_strnfill(1 << 20, '<');
    g_autoptr(NotifyJob) job = notify_job_new(T0);
    g_autoptr(GVariant) p = g_variant_ref_sink(g_variant_new_parsed(
        "{'Kind': <'<i>evil'>, 'Target': <'db&<b>1</b>'>, 'Status': <'running'>, 'Message': <%s>}", huge));
    notify_job_update(job, p);
    g_autoptr(NotifyMessage) running = notify_map_job(job, "<host>", T0);
    assert_inert_markup(running->summary);
    assert_inert_markup(running->body);
    g_assert_cmpstr(running->summary, ==, "&lt;host&gt;: &lt;i&gt;evil job of db&amp;&lt;b&gt;1&lt;/b&gt;");
    /* An unknown kind is only "jobs" for the filter. */
    g_assert_cmpstr(running->kind, ==, "job");
    g_assert_cmpuint(strlen(running->body), <, 8 * NOTIFY_TEXT_MAX);
    g_autoptr(GVariant) end = props("{'Status': <'<b>odd</b>'>, 'Error': <'<x>'>}");
    notify_job_update(job, end);
    g_autoptr(NotifyMessage) ended = notify_map_job(job, "alpha", T0);
    assert_inert_markup(ended->summary);
    assert_inert_markup(ended->body);
}

/* ------------------------------------------------------------------ domains and the host */

static void test_domain_states(void)
{
    g_autoptr(NotifyMessage) error = notify_map_domain_state("web1", "error", "paused:ioerror", NULL, "alpha");
    g_assert_cmpstr(error->summary, ==, "alpha: web1 is in error");
    g_assert_cmpstr(error->body, ==, "libvirt says paused:ioerror");
    g_assert_cmpint(error->urgency, ==, NOTIFY_URGENCY_CRITICAL);
    g_assert_cmpstr(error->kind, ==, "domain-state");
    g_autoptr(NotifyMessage) unknown = notify_map_domain_state("web1", "unknown", "nostate:unknown", NULL, "alpha");
    g_assert_cmpstr(unknown->summary, ==, "alpha: web1 is in an unknown state");
    g_autoptr(NotifyMessage) in = notify_map_domain_state("web1", "normal", "running:migrated", NULL, "beta");
    g_assert_cmpstr(in->summary, ==, "beta: web1 arrived by migration");
    g_assert_cmpstr(in->kind, ==, "domain-migration");
    g_assert_cmpstr(in->domain, ==, "web1");
    g_autoptr(NotifyMessage) out = notify_map_domain_state("web1", "stop", "shutoff:migrated", NULL, "alpha");
    g_assert_cmpstr(out->summary, ==, "alpha: web1 left by migration");
    g_assert_null(notify_map_domain_state("web1", "normal", "running:booted", NULL, "alpha"));
    g_assert_null(notify_map_domain_state("web1", "stop", "undefined", NULL, "alpha"));
    g_assert_null(notify_map_domain_state("web1", "stop", "undefined", "shutoff:destroyed", "alpha"));
    /* libvirt undefines a domain that migrated away before its stopped state is read. */
    g_autoptr(NotifyMessage) gone = notify_map_domain_state("web1", "stop", "undefined", "paused:migration", "alpha");
    g_assert_cmpstr(gone->summary, ==, "alpha: web1 left by migration");
    /* Its shutoff:migrated said so already: the undefine that follows is not news twice. */
    g_assert_null(notify_map_domain_state("web1", "stop", "undefined", "shutoff:migrated", "alpha"));
    g_autoptr(NotifyMessage) hostile = notify_map_domain_state("<b>\xff", "error", "<x>", NULL, "alpha");
    assert_inert_markup(hostile->summary);
    assert_inert_markup(hostile->body);
}

static void test_host_events(void)
{
    g_assert_null(notify_map_host_event("libvirt-connected", "", "alpha", FALSE));
    g_autoptr(NotifyMessage) back = notify_map_host_event("libvirt-connected", "", "alpha", TRUE);
    g_assert_cmpstr(back->summary, ==, "alpha: libvirtd is back");
    g_autoptr(NotifyMessage) lost = notify_map_host_event("libvirt-disconnected", "<end of file>", "alpha", FALSE);
    g_assert_cmpstr(lost->summary, ==, "alpha: libvirtd is lost");
    g_assert_cmpstr(lost->body, ==, "&lt;end of file&gt;");
    g_assert_cmpint(lost->urgency, ==, NOTIFY_URGENCY_CRITICAL);
    g_autoptr(NotifyMessage) entered = notify_map_host_event("maintenance-entered", "save", "alpha", FALSE);
    g_assert_cmpstr(entered->summary, ==, "alpha: Entered maintenance");
    g_assert_cmpstr(entered->kind, ==, "maintenance-mode");
    g_autoptr(NotifyMessage) left = notify_map_host_event("maintenance-left", "", "alpha", FALSE);
    g_assert_cmpstr(left->summary, ==, "alpha: Left maintenance");
    g_assert_null(notify_map_host_event("domain-hook", "web1 start begin -", "alpha", FALSE));
    g_assert_null(notify_map_host_event("daemon-reload", "", "alpha", FALSE));
    g_autoptr(NotifyMessage) over = notify_map_overcommitted(TRUE, "alpha");
    g_assert_cmpint(over->urgency, ==, NOTIFY_URGENCY_CRITICAL);
    g_autoptr(NotifyMessage) fine = notify_map_overcommitted(FALSE, "alpha");
    g_assert_cmpstr(fine->summary, ==, "alpha: No longer overcommitted");
    g_autoptr(NotifyMessage) stopped = notify_map_service(FALSE, NULL);
    g_assert_cmpstr(stopped->summary, ==, "virt-ferryd stopped");
}

/* ------------------------------------------------------------------ the filter */

static NotifyFilter *filter_from(const char *text, GError **error)
{
    g_autoptr(GKeyFile) file = g_key_file_new();
    g_assert_true(g_key_file_load_from_data(file, text, -1, G_KEY_FILE_NONE, NULL));
    return notify_filter_new_from_key_file(file, error);
}

static void test_filter(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NotifyFilter) filter =
        filter_from("[notify]\nkinds=migrate;domain-state;libvirt\ndomains=web*;db?\nurgency=normal\n", &error);
    g_assert_no_error(error);
    g_autoptr(NotifyJob) migrating = job_with(T0, "{'Kind': <'migrate'>, 'Target': <'web1'>, 'Status': <'running'>}");
    g_autoptr(NotifyMessage) running = notify_map_job(migrating, "alpha", T0);
    /* A running job's notification is low, but its kind and domain are what was asked for. */
    g_assert_true(notify_filter_allows(filter, running));
    g_autoptr(NotifyJob) other = job_with(T0, "{'Kind': <'migrate'>, 'Target': <'mail'>, 'Status': <'running'>}");
    g_autoptr(NotifyMessage) other_m = notify_map_job(other, "alpha", T0);
    g_assert_false(notify_filter_allows(filter, other_m));
    g_autoptr(NotifyJob) archive = job_with(T0, "{'Kind': <'archive'>, 'Target': <'web1'>, 'Status': <'failed'>}");
    g_autoptr(NotifyMessage) archive_m = notify_map_job(archive, "alpha", T0);
    g_assert_false(notify_filter_allows(filter, archive_m));
    g_autoptr(NotifyMessage) db1 = notify_map_domain_state("db1", "error", "x", NULL, "alpha");
    g_assert_true(notify_filter_allows(filter, db1));
    g_autoptr(NotifyMessage) db10 = notify_map_domain_state("db10", "error", "x", NULL, "alpha");
    g_assert_false(notify_filter_allows(filter, db10));
    /* No domain: the globs do not apply. */
    g_autoptr(NotifyMessage) lost = notify_map_host_event("libvirt-disconnected", "", "alpha", FALSE);
    g_assert_true(notify_filter_allows(filter, lost));
    g_autoptr(NotifyMessage) low = notify_map_service(TRUE, "alpha");
    g_assert_false(notify_filter_allows(filter, low));

    g_autoptr(NotifyFilter) jobs = filter_from("[notify]\nkinds=jobs\n", &error);
    g_assert_no_error(error);
    g_assert_true(notify_filter_allows(jobs, archive_m));
    g_assert_false(notify_filter_allows(jobs, db1));
    g_assert_true(notify_filter_allows(NULL, db1));
}

static void test_filter_errors(void)
{
    static const char *const bad[] = {
        "[notify]\nkinds=archive;popups\n",
        "[notify]\nurgency=urgent\n",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(NotifyFilter) filter = filter_from(bad[i], &error);
        g_assert_null(filter);
        g_assert_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(NotifyFilter) empty = filter_from("[other]\nx=1\n", &error);
    g_assert_no_error(error);
    g_autoptr(NotifyMessage) low = notify_map_service(TRUE, "alpha");
    g_assert_true(notify_filter_allows(empty, low));
}

/* ------------------------------------------------------------------ rate and bursts */

static void test_update_rate(void)
{
    g_assert_cmpint(notify_update_delay(0, T0), ==, 0);
    g_assert_cmpint(notify_update_delay(T0, T0 + SEC / 4), ==, 3 * SEC / 4);
    g_assert_cmpint(notify_update_delay(T0, T0 + SEC), ==, 0);
    g_assert_cmpint(notify_update_delay(T0, T0 + 5 * SEC), ==, 0);
    /* A clock that went back never waits more than the interval. */
    g_assert_cmpint(notify_update_delay(T0, T0 - SEC), ==, SEC);
}

static void test_burst(void)
{
    NotifyBurst burst = { 0 };
    /* Fifty jobs ending within a second: the first at once, the other 49 in one summary. */
    g_assert_true(notify_burst_admit(&burst, T0));
    for (int i = 1; i < 50; i++)
        g_assert_false(notify_burst_admit(&burst, T0 + i * (SEC / 50)));
    g_assert_cmpint(notify_burst_deadline(&burst), ==, T0 + SEC);
    g_assert_cmpuint(notify_burst_flush(&burst), ==, 49);
    g_assert_true(notify_burst_is_summary(49));
    /* The burst goes on: the next second is held as a whole too. */
    g_assert_false(notify_burst_admit(&burst, T0 + SEC + SEC / 10));
    g_assert_false(notify_burst_admit(&burst, T0 + SEC + SEC / 5));
    g_assert_cmpuint(notify_burst_flush(&burst), ==, 2);
    /* A window with nothing in it ends the burst. */
    g_assert_cmpuint(notify_burst_flush(&burst), ==, 0);
    g_assert_true(notify_burst_admit(&burst, T0 + 10 * SEC));
    g_assert_cmpuint(notify_burst_flush(&burst), ==, 0);
    /* A few within a window (one migration's end and its domain leaving) each go out as
     * themselves: a summary would hide the job's outcome. */
    g_assert_false(notify_burst_is_summary(1));
    g_assert_false(notify_burst_is_summary(NOTIFY_BURST_SINGLES));
    g_assert_true(notify_burst_is_summary(NOTIFY_BURST_SINGLES + 1));
    /* Events a second apart are never held. */
    for (int i = 0; i < 5; i++)
        g_assert_true(notify_burst_admit(&burst, T0 + (20 + i) * SEC));
}

static void test_summary(void)
{
    g_autoptr(GPtrArray) messages = g_ptr_array_new_with_free_func((GDestroyNotify)notify_message_free);
    for (int i = 0; i < 49; i++) {
        g_autofree char *text = g_strdup_printf("{'Kind': <'archive'>, 'Target': <'<vm%d>'>, 'Status': <'%s'>}", i,
                                                i % 20 == 7 ? "failed" : "succeeded");
        g_autoptr(NotifyJob) job = job_with(T0, text);
        g_ptr_array_add(messages, notify_map_job(job, "alpha", T0));
    }
    g_autoptr(NotifyMessage) s = notify_map_summary(messages, "alpha");
    g_assert_cmpstr(s->summary, ==, "alpha: 49 jobs ended, 3 of them failed");
    g_assert_cmpint(s->urgency, ==, NOTIFY_URGENCY_CRITICAL);
    g_assert_true(g_str_has_prefix(s->body, "Archive of &lt;vm0&gt; succeeded\n"));
    g_assert_true(g_str_has_suffix(s->body, "\nand 41 more"));
    g_auto(GStrv) lines = g_strsplit(s->body, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, NOTIFY_SUMMARY_LINES + 1);
    assert_inert_markup(s->body);
    g_ptr_array_add(messages, notify_map_domain_state("web1", "error", "x", NULL, "alpha"));
    g_autoptr(NotifyMessage) mixed = notify_map_summary(messages, NULL);
    g_assert_cmpstr(mixed->summary, ==, "50 events");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/notify/text/plain", test_text_plain);
    g_test_add_func("/notify/text/markup", test_text_markup);
    g_test_add_func("/notify/text/invalid-utf8", test_text_invalid_utf8);
    g_test_add_func("/notify/text/controls", test_text_controls);
    g_test_add_func("/notify/text/huge", test_text_huge);
    g_test_add_func("/notify/job/update", test_job_update);
    g_test_add_func("/notify/job/running", test_job_running);
    g_test_add_func("/notify/job/outcomes", test_job_outcomes);
    g_test_add_func("/notify/job/hostile", test_job_hostile);
    g_test_add_func("/notify/domain/states", test_domain_states);
    g_test_add_func("/notify/host/events", test_host_events);
    g_test_add_func("/notify/filter/choose", test_filter);
    g_test_add_func("/notify/filter/errors", test_filter_errors);
    g_test_add_func("/notify/rate", test_update_rate);
    g_test_add_func("/notify/burst/window", test_burst);
    g_test_add_func("/notify/burst/summary", test_summary);
    return g_test_run();
}
