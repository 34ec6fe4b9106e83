/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Following a job (org.virtferry.Ferry1.Job): a progress line redrawn in place on a
 * terminal, one line per change elsewhere, Ctrl-C cancels; then the outcome and the exit
 * code. The progress line itself is a pure function of the job's state, for the tests. */
#include "cli.h"

#include "ferry-error.h"

#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BAR_MIN 10
#define BAR_MAX 40
#define BAR_NARROW 5
#define MESSAGE_MIN 12      /* columns a message keeps before the data fields go */
#define ELLIPSIS "..."
#define RATE_WINDOW_USEC (10 * G_USEC_PER_SEC)
#define RATE_MIN_USEC (G_USEC_PER_SEC / 2)
#define DEFAULT_WIDTH 80

/* ------------------------------------------------------------------ the progress line */

gsize cli_text_columns(const char *text)
{
    gsize columns = 0;
    for (const char *p = text; *p; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);
        columns += g_unichar_iszerowidth(c) ? 0 : g_unichar_iswide(c) ? 2 : 1;
    }
    return columns;
}

/* The longest start of @text that takes at most @columns, cut between characters; with
 * "..." at the end when something was cut and there is room for it. */
static char *cut_to_columns(const char *text, gsize columns)
{
    if (cli_text_columns(text) <= columns)
        return g_strdup(text);
    gsize room = columns >= 2 * strlen(ELLIPSIS) ? columns - strlen(ELLIPSIS) : columns;
    gsize used = 0;
    const char *p = text;
    while (*p) {
        gunichar c = g_utf8_get_char(p);
        gsize w = g_unichar_iszerowidth(c) ? 0 : g_unichar_iswide(c) ? 2 : 1;
        if (used + w > room)
            break;
        used += w;
        p = g_utf8_next_char(p);
    }
    GString *out = g_string_new_len(text, p - text);
    if (room < columns)
        g_string_append(out, ELLIPSIS);
    return g_string_free(out, FALSE);
}

static double clamp_fraction(double value)
{
    return isfinite(value) ? CLAMP(value, 0.0, 1.0) : 0.0;
}

static int percent(double fraction)
{
    /* 0.29 * 100 is 28.999...: a hair more, so that it shows 29%, never 100% too early. */
    return MIN((int)(fraction * 100 + 1e-6), 100); /* not negative: the cast rounds down */
}

/* done/total in the unit the total needs: "1.2/4.0 GiB". */
static char *data_text(guint64 total, guint64 remaining)
{
    static const struct {
        const char *name;
        guint64 size;
    } units[] = { { "TiB", (guint64)1 << 40 }, { "GiB", (guint64)1 << 30 }, { "MiB", (guint64)1 << 20 } };
    gsize u = 0;
    while (u + 1 < G_N_ELEMENTS(units) && total < units[u].size)
        u++;
    guint64 done = total - MIN(remaining, total);
    double scale = (double)units[u].size;
    return g_strdup_printf("%.1f/%.1f %s", done / scale, total / scale, units[u].name);
}

static char *rate_text(double rate)
{
    g_autofree char *size = cli_format_size((guint64)rate);
    return g_strconcat(size, "/s", NULL);
}

static char *eta_text(guint64 remaining, double rate)
{
    if (rate <= 0)
        return g_strdup("ETA --:--");
    double seconds = remaining / rate;
    if (seconds >= 100 * 3600)
        return g_strdup("ETA >99h");
    guint s = (guint)seconds + (seconds > (guint)seconds); /* rounded up */
    if (s >= 3600)
        return g_strdup_printf("ETA %u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
    return g_strdup_printf("ETA %u:%02u", s / 60, s % 60);
}

static void append_bar(GString *out, double fraction, guint width)
{
    guint filled = MIN((guint)(fraction * width), width);
    g_string_append_c(out, '[');
    for (guint i = 0; i < width; i++)
        g_string_append_c(out, i < filled ? '=' : i == filled ? '>' : ' ');
    g_string_append_c(out, ']');
}

static char *plain_line(int pct, const char *data, const char *rate, const char *eta, const char *message)
{
    GString *out = g_string_new(NULL);
    g_string_append_printf(out, "%3d%%", pct);
    if (data)
        g_string_append_printf(out, "  %s", data);
    if (rate)
        g_string_append_printf(out, "  %s  %s", rate, eta);
    if (message)
        g_string_append_printf(out, "  %s", message);
    g_string_append_c(out, '\n');
    return g_string_free(out, FALSE);
}

char *cli_progress_line(const CliProgress *p, guint width, gboolean tty)
{
    double fraction = clamp_fraction(p->progress);
    int pct = percent(fraction);
    gboolean known_total = p->total > 0, known_rate = known_total && p->rate > 0 && isfinite(p->rate);
    g_autofree char *data = known_total ? data_text(p->total, p->remaining) : NULL;
    g_autofree char *rate = known_rate ? rate_text(p->rate) : NULL;
    g_autofree char *eta = known_total ? eta_text(MIN(p->remaining, p->total), known_rate ? p->rate : 0) : NULL;
    g_autofree char *message = p->message && *p->message ? cli_display(p->message) : NULL;
    if (!tty)
        return plain_line(pct, data, rate, known_rate ? eta : NULL, message);

    /* What fits in the line, dropping in this order: rate, ETA, data, bar width, message,
     * bar. The percentage always stays. */
    gsize usable = width > 1 ? width - 1 : 1;
    guint full_bar = CLAMP(usable / 5, BAR_MIN, BAR_MAX), bar = full_bar;
    gboolean with_rate = rate != NULL, with_eta = eta != NULL, with_data = data != NULL, with_message = message != NULL;
    gsize message_min = message ? MIN(cli_text_columns(message), MESSAGE_MIN) : 0;
    for (;;) {
        gsize need = 4 + (bar ? bar + 3 : 0) + (with_data ? 2 + strlen(data) : 0) +
                     (with_rate ? 2 + strlen(rate) : 0) + (with_eta ? 2 + strlen(eta) : 0) +
                     (with_message ? 2 + message_min : 0);
        if (need <= usable)
            break;
        if (with_rate)
            with_rate = FALSE;
        else if (with_eta)
            with_eta = FALSE;
        else if (with_data)
            with_data = FALSE;
        else if (bar > BAR_NARROW)
            bar = (guint)MAX((gssize)BAR_NARROW, (gssize)bar - (gssize)(need - usable));
        else if (with_message)
            with_message = FALSE;
        else if (bar)
            bar = 0;
        else
            break;
    }
    if (bar && bar < full_bar && !with_message) {
        /* The message went after all: the bar takes back the room it gave. */
        gsize rest = 4 + bar + 3 + (with_data ? 2 + strlen(data) : 0);
        bar = (guint)MIN((gsize)full_bar, bar + (usable > rest ? usable - rest : 0));
    }

    GString *line = g_string_new(NULL);
    g_string_append_printf(line, "%3d%%", pct);
    if (bar) {
        g_string_append_c(line, ' ');
        append_bar(line, fraction, bar);
    }
    if (with_data)
        g_string_append_printf(line, "  %s", data);
    if (with_rate)
        g_string_append_printf(line, "  %s", rate);
    if (with_eta)
        g_string_append_printf(line, "  %s", eta);
    /* Everything so far is ASCII: bytes are columns. */
    if (line->len > usable)
        g_string_truncate(line, usable);
    if (with_message && line->len + 2 < usable) {
        g_autofree char *cut = cut_to_columns(message, usable - line->len - 2);
        g_string_append_printf(line, "  %s", cut);
    }
    for (gsize columns = cli_text_columns(line->str); columns < usable; columns++)
        g_string_append_c(line, ' ');
    g_string_prepend_c(line, '\r');
    return g_string_free(line, FALSE);
}

/* ------------------------------------------------------------------ outcome */

CliExit cli_job_exit_code(const char *status, const char *error_name, gboolean interrupted)
{
    if (g_strcmp0(status, "succeeded") == 0 || g_strcmp0(status, "warning") == 0)
        return CLI_EXIT_OK;
    if (g_strcmp0(status, "failed") == 0) {
        CliExit code = cli_exit_code_for_name(error_name);
        /* A job that failed ran: "not running" would mislead. */
        return code == CLI_EXIT_NOT_RUNNING ? CLI_EXIT_FAILED : code;
    }
    /* cancelled, or still running when the user stopped waiting */
    return interrupted ? CLI_EXIT_INTERRUPTED : CLI_EXIT_FAILED;
}

static const char *lookup_string(GVariant *properties, const char *name)
{
    const char *value = NULL;
    return properties && g_variant_lookup(properties, name, "&s", &value) ? value : NULL;
}

static guint64 lookup_u64(GVariant *properties, const char *name)
{
    guint64 value = 0;
    return properties && g_variant_lookup(properties, name, "t", &value) ? value : 0;
}

static double lookup_double(GVariant *properties, const char *name)
{
    double value = 0;
    return properties && g_variant_lookup(properties, name, "d", &value) ? value : 0;
}

static void print_steps(GVariant *properties)
{
    static const char *const headers[] = { "DOMAIN", "STEP", "TARGET", "OUTCOME" };
    g_autoptr(GVariant) steps = g_variant_lookup_value(properties, "Steps", G_VARIANT_TYPE("a(ssss)"));
    if (!steps || g_variant_n_children(steps) == 0) {
        g_print("Steps: none\n");
        return;
    }
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    GVariantIter iter;
    const char *cell[4];
    g_variant_iter_init(&iter, steps);
    while (g_variant_iter_next(&iter, "(&s&s&s&s)", &cell[0], &cell[1], &cell[2], &cell[3])) {
        char **row = g_new0(char *, G_N_ELEMENTS(headers) + 1);
        for (gsize c = 0; c < G_N_ELEMENTS(headers); c++)
            row[c] = *cell[c] ? cli_display(cell[c]) : g_strdup("-");
        g_ptr_array_add(rows, row);
    }
    g_print("Steps:\n");
    cli_print_table(headers, G_N_ELEMENTS(headers), rows);
}

/* What a job's Result is: the archive an archive or verify job made or read, the domain a
 * restore made. */
static const char *result_label(const char *kind)
{
    return g_strcmp0(kind, "restore") == 0 ? "Domain" : g_strcmp0(kind, "archive") == 0 || g_strcmp0(kind, "verify") == 0 ? "Archive" : "Result";
}

static const char *job_number(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void cli_print_job(const char *path, GVariant *properties, gboolean steps)
{
    const char *kind = lookup_string(properties, "Kind"), *error = lookup_string(properties, "Error");
    const char *result = lookup_string(properties, "Result");
    cli_print_field("", "Job", job_number(path));
    cli_print_field("", "Kind", kind);
    cli_print_field("", "Target", lookup_string(properties, "Target"));
    cli_print_field("", "Status", lookup_string(properties, "Status"));
    g_autofree char *progress = g_strdup_printf("%d%%", percent(clamp_fraction(lookup_double(properties, "Progress"))));
    cli_print_field("", "Progress", progress);
    guint64 total = lookup_u64(properties, "DataTotal");
    g_autofree char *data = total ? data_text(total, lookup_u64(properties, "DataRemaining")) : NULL;
    cli_print_field("", "Data", data);
    cli_print_field("", "Message", lookup_string(properties, "Message"));
    if (error && *error)
        cli_print_field("", "Error", error);
    if (result && *result)
        cli_print_field("", result_label(kind), result);
    cli_print_field("", "Object path", path);
    if (steps)
        print_steps(properties);
}

/* The end of a followed job: status and outcome on stdout, a failure on stderr too. */
static void print_outcome(const char *path, GVariant *properties, gboolean steps)
{
    const char *status = lookup_string(properties, "Status"), *message = lookup_string(properties, "Message");
    const char *result = lookup_string(properties, "Result");
    cli_print_field("", "Status", status);
    if (g_strcmp0(status, "warning") == 0) {
        /* The notes, joined with "; " by virt-ferryd; a note may hold "; " itself, so the
         * message is not split. */
        cli_print_field("", "Notes", message);
    } else if (g_strcmp0(status, "succeeded") == 0 || g_strcmp0(status, "running") == 0) {
        cli_print_field("", "Message", message);
    }
    if (result && *result)
        cli_print_field("", result_label(lookup_string(properties, "Kind")), result);
    if (steps)
        print_steps(properties);
    fflush(stdout);
    if (g_strcmp0(status, "failed") == 0 || g_strcmp0(status, "cancelled") == 0) {
        g_autofree char *shown = cli_display(message && *message ? message : status);
        if (g_str_has_prefix(shown, status)) /* "cancelled; everything was rolled back" */
            g_printerr("virt-ferry: job %s %s\n", job_number(path), shown);
        else
            g_printerr("virt-ferry: job %s %s: %s\n", job_number(path), status, shown);
    }
}

/* ------------------------------------------------------------------ following */

typedef struct {
    gint64 time;
    guint64 done;
} Sample;

typedef struct {
    CliContext *ctx;
    const char *path;
    GMainLoop *loop;
    GVariantDict *state;        /* the job's properties as last seen */
    gboolean tty, quiet;        /* quiet: --json, nothing but the final document */
    gboolean ended, lost;
    guint interrupts;
    GCancellable *cancel_call;  /* the Cancel() call in flight */
    GArray *samples;            /* Sample, the last RATE_WINDOW_USEC, for the rate */
    guint64 sample_total;
    gboolean bar_shown;
    char *printed_message;      /* not a terminal: what the last line said */
    int printed_tenth;
    guint steps_shown;          /* ctx->live_steps: the Steps printed so far */
    gboolean deadline_passed;   /* ctx->follow_deadline: cancelled for it */
    guint grace;                /* the timer running after that cancel */
} Follower;

static GVariant *state_variant(Follower *f)
{
    return g_variant_ref_sink(g_variant_dict_end(f->state));
}

/* Rebuilds the dictionary from a GetAll answer. */
static void set_state(Follower *f, GVariant *properties)
{
    g_variant_dict_unref(f->state);
    f->state = g_variant_dict_new(properties);
}

static GVariant *get_all(Follower *f, GError **error)
{
    g_autoptr(GVariant) reply = cli_call(f->ctx, f->path, "org.freedesktop.DBus.Properties", "GetAll",
                                         g_variant_new("(s)", FERRY_JOB_INTERFACE), G_VARIANT_TYPE("(a{sv})"), FALSE,
                                         error);
    return reply ? g_variant_get_child_value(reply, 0) : NULL;
}

static const char *state_string(Follower *f, const char *name)
{
    const char *value = NULL;
    return g_variant_dict_lookup(f->state, name, "&s", &value) ? value : NULL;
}

static guint64 state_u64(Follower *f, const char *name)
{
    guint64 value = 0;
    g_variant_dict_lookup(f->state, name, "t", &value);
    return value;
}

static double state_double(Follower *f, const char *name)
{
    double value = 0;
    g_variant_dict_lookup(f->state, name, "d", &value);
    return value;
}

/* Bytes per second over the last seconds; 0 until there is half a second to go by. A new
 * total (the next phase) or data going backwards starts over. */
static double measure_rate(Follower *f, guint64 total, guint64 remaining)
{
    guint64 done = total - MIN(remaining, total);
    gint64 now = g_get_monotonic_time();
    if (total != f->sample_total ||
        (f->samples->len && done < g_array_index(f->samples, Sample, f->samples->len - 1).done)) {
        g_array_set_size(f->samples, 0);
        f->sample_total = total;
    }
    Sample sample = { now, done };
    g_array_append_val(f->samples, sample);
    while (f->samples->len > 2 && now - g_array_index(f->samples, Sample, 1).time >= RATE_WINDOW_USEC)
        g_array_remove_index(f->samples, 0);
    const Sample *first = &g_array_index(f->samples, Sample, 0);
    if (now - first->time < RATE_MIN_USEC)
        return 0;
    return (double)(done - first->done) * G_USEC_PER_SEC / (double)(now - first->time);
}

static guint terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *columns = g_getenv("COLUMNS");
    guint64 n;
    if (columns && g_ascii_string_to_unsigned(columns, 10, 1, 10000, &n, NULL))
        return (guint)n;
    return DEFAULT_WIDTH;
}

static void clear_bar(Follower *f)
{
    if (!f->bar_shown)
        return;
    g_autofree char *blank = g_strnfill(terminal_width() - 1, ' ');
    g_print("\r%s\r", blank);
    fflush(stdout);
    f->bar_shown = FALSE;
}

/* With ctx->live_steps: each new step as its own line above the progress line, so that a job
 * of many domains (evacuate) shows every domain's line as it happens. */
static void show_new_steps(Follower *f)
{
    if (f->quiet || !f->ctx->live_steps)
        return;
    g_autoptr(GVariant) steps = g_variant_dict_lookup_value(f->state, "Steps", G_VARIANT_TYPE("a(ssss)"));
    gsize n = steps ? g_variant_n_children(steps) : 0;
    if (n <= f->steps_shown)
        return;
    clear_bar(f);
    for (gsize i = f->steps_shown; i < n; i++) {
        const char *cell[4];
        g_variant_get_child(steps, i, "(&s&s&s&s)", &cell[0], &cell[1], &cell[2], &cell[3]);
        g_autofree char *domain = cli_display(*cell[0] ? cell[0] : NULL);
        g_autofree char *step = cli_display(*cell[1] ? cell[1] : NULL);
        g_autofree char *target = cli_display(*cell[2] ? cell[2] : NULL);
        g_autofree char *outcome = cli_display(cell[3]);
        g_print("%s  %s  %s  %s\n", domain, step, target, outcome);
    }
    f->steps_shown = (guint)n;
}

static void show_progress(Follower *f)
{
    if (f->quiet || f->ended)
        return;
    CliProgress p = {
        .progress = state_double(f, "Progress"),
        .total = state_u64(f, "DataTotal"),
        .remaining = state_u64(f, "DataRemaining"),
        .message = state_string(f, "Message"),
    };
    p.rate = measure_rate(f, p.total, p.remaining);
    if (!f->tty) {
        int tenth = (int)(clamp_fraction(p.progress) * 10 + 1e-6);
        if (g_strcmp0(p.message, f->printed_message) == 0 && tenth <= f->printed_tenth)
            return;
        g_free(f->printed_message);
        f->printed_message = g_strdup(p.message);
        f->printed_tenth = MAX(tenth, f->printed_tenth);
    }
    g_autofree char *line = cli_progress_line(&p, f->tty ? terminal_width() : 0, f->tty);
    g_print("%s", line);
    fflush(stdout);
    f->bar_shown = f->tty;
}

static void on_properties_changed(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                                  const char *signal, GVariant *parameters, gpointer data)
{
    Follower *f = data;
    g_autoptr(GVariant) changed = NULL;
    g_autofree const char **invalidated = NULL;
    const char *name;
    if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sa{sv}as)")))
        return;
    g_variant_get(parameters, "(&s@a{sv}^a&s)", &name, &changed, &invalidated);
    GVariantIter iter;
    GVariant *value;
    g_variant_iter_init(&iter, changed);
    while (g_variant_iter_loop(&iter, "{&sv}", &name, &value))
        g_variant_dict_insert_value(f->state, name, value);
    if (invalidated && invalidated[0]) {
        g_autoptr(GVariant) all = get_all(f, NULL);
        if (all)
            set_state(f, all);
    }
    show_new_steps(f);
    show_progress(f);
}

static void on_finished(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                        const char *signal, GVariant *parameters, gpointer data)
{
    Follower *f = data;
    const char *status, *message;
    if (!g_variant_is_of_type(parameters, G_VARIANT_TYPE("(ss)")))
        return;
    g_variant_get(parameters, "(&s&s)", &status, &message);
    /* PropertiesChanged may come after the signal: read the final state once more. */
    g_autoptr(GVariant) all = get_all(f, NULL);
    if (all)
        set_state(f, all);
    g_variant_dict_insert(f->state, "Status", "s", status);
    g_variant_dict_insert(f->state, "Message", "s", message);
    f->ended = TRUE;
    g_main_loop_quit(f->loop);
}

static void on_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
    Follower *f = data;
    if (f->ended)
        return;
    f->lost = TRUE;
    g_main_loop_quit(f->loop);
}

static void on_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *error, gpointer data)
{
    on_vanished(bus, FERRY_BUS_NAME, data);
}

static gboolean on_tick(gpointer data)
{
    show_progress(data);
    return G_SOURCE_CONTINUE;
}

static void cancel_done(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* the follower is gone */
    Follower *f = data;
    if (error) {
        clear_bar(f);
        g_dbus_error_strip_remote_error(error);
        g_printerr("virt-ferry: cannot cancel job %s: %s\n", job_number(f->path), error->message);
    }
}

static void request_cancel(Follower *f)
{
    gboolean ask = !f->ctx->no_ask_password;
    g_dbus_connection_call(f->ctx->bus, FERRY_BUS_NAME, f->path, FERRY_JOB_INTERFACE, "Cancel", NULL, G_VARIANT_TYPE_UNIT,
                           ask ? G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION : G_DBUS_CALL_FLAGS_NONE,
                           ask ? 5 * 60 * 1000 : -1, f->cancel_call, cancel_done, f);
}

static gboolean on_interrupt(gpointer data)
{
    Follower *f = data;
    clear_bar(f);
    if (++f->interrupts > 1) {
        g_printerr("virt-ferry: stopped waiting; job %s goes on (virt-ferry job %s shows it)\n", job_number(f->path),
                   job_number(f->path));
        g_main_loop_quit(f->loop);
        return G_SOURCE_CONTINUE;
    }
    g_printerr("virt-ferry: cancelling job %s; it rolls back what it did (Ctrl-C again stops waiting)\n",
               job_number(f->path));
    request_cancel(f);
    return G_SOURCE_CONTINUE;
}

/* The grace after the deadline's cancel is over: the job goes on without a witness. */
static gboolean on_grace_over(gpointer data)
{
    Follower *f = data;
    f->grace = 0;
    clear_bar(f);
    g_printerr("virt-ferry: stopped waiting %u s after cancelling; job %s goes on\n", f->ctx->follow_grace,
               job_number(f->path));
    g_main_loop_quit(f->loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_deadline(gpointer data)
{
    Follower *f = data;
    clear_bar(f);
    f->deadline_passed = TRUE;
    g_printerr("virt-ferry: %u s passed: cancelling job %s (what moves is stopped and stays here)\n",
               f->ctx->follow_deadline, job_number(f->path));
    request_cancel(f);
    f->grace = g_timeout_add_seconds(f->ctx->follow_grace, on_grace_over, f);
    return G_SOURCE_REMOVE;
}

/* Where no job is, GDBus answers UnknownMethod (or UnknownObject, UnknownInterface). */
gboolean cli_is_unknown_object(const GError *error)
{
    g_autofree char *remote = error ? g_dbus_error_get_remote_error(error) : NULL;
    return remote && (g_str_equal(remote, "org.freedesktop.DBus.Error.UnknownMethod") ||
                      g_str_equal(remote, "org.freedesktop.DBus.Error.UnknownObject") ||
                      g_str_equal(remote, "org.freedesktop.DBus.Error.UnknownInterface"));
}

void cli_set_no_job(GError **error, const char *job)
{
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                "no job %s on this host (virt-ferry jobs lists them; a finished job stays for ten minutes)", job);
}

static void not_a_job(GError **error, const char *path)
{
    if (!cli_is_unknown_object(*error))
        return;
    g_clear_error(error);
    cli_set_no_job(error, job_number(path));
}

int cli_job_follow(CliContext *ctx, const char *path)
{
    g_autoptr(GError) error = NULL;
    Follower f = {
        .ctx = ctx,
        .path = path,
        .loop = g_main_loop_new(NULL, FALSE),
        .state = g_variant_dict_new(NULL),
        .tty = !ctx->json && isatty(STDOUT_FILENO),
        .quiet = ctx->json,
        .cancel_call = g_cancellable_new(),
        .samples = g_array_new(FALSE, FALSE, sizeof(Sample)),
        .printed_tenth = -1,
    };
    /* Subscribed before the state is read: no change between the two is lost, and a job that
     * ended already says so in its Status. */
    guint changed = g_dbus_connection_signal_subscribe(ctx->bus, FERRY_BUS_NAME, "org.freedesktop.DBus.Properties",
                                                       "PropertiesChanged", path, FERRY_JOB_INTERFACE,
                                                       G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, &f, NULL);
    guint finished = g_dbus_connection_signal_subscribe(ctx->bus, FERRY_BUS_NAME, FERRY_JOB_INTERFACE, "Finished", path,
                                                        NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_finished, &f, NULL);
    guint watch = g_bus_watch_name_on_connection(ctx->bus, FERRY_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, NULL,
                                                 on_vanished, &f, NULL);
    gulong closed = g_signal_connect(ctx->bus, "closed", G_CALLBACK(on_closed), &f);
    guint sigint = g_unix_signal_add(SIGINT, on_interrupt, &f);
    guint tick = f.tty ? g_timeout_add_seconds(1, on_tick, &f) : 0;
    guint deadline = ctx->follow_deadline ? g_timeout_add_seconds(ctx->follow_deadline, on_deadline, &f) : 0;

    int status = CLI_EXIT_OK;
    g_autoptr(GVariant) initial = get_all(&f, &error);
    if (initial) {
        set_state(&f, initial);
        f.ended = g_strcmp0(state_string(&f, "Status"), "running") != 0;
        if (!f.ended) {
            show_new_steps(&f);
            show_progress(&f);
            g_main_loop_run(f.loop);
        }
    } else {
        not_a_job(&error, path);
    }

    g_cancellable_cancel(f.cancel_call);
    g_clear_handle_id(&tick, g_source_remove);
    if (!f.deadline_passed)
        g_clear_handle_id(&deadline, g_source_remove);
    g_clear_handle_id(&f.grace, g_source_remove);
    g_source_remove(sigint);
    g_signal_handler_disconnect(ctx->bus, closed);
    g_bus_unwatch_name(watch);
    g_dbus_connection_signal_unsubscribe(ctx->bus, finished);
    g_dbus_connection_signal_unsubscribe(ctx->bus, changed);
    clear_bar(&f);

    if (!initial) {
        status = cli_report_error(error);
    } else if (f.lost) {
        g_printerr("virt-ferry: virt-ferryd left the bus while job %s ran; when it starts again it finishes or "
                   "rolls back what the job did\n", job_number(path));
        status = CLI_EXIT_FAILED;
    } else {
        if (!f.ended) { /* stopped waiting: the latest state */
            g_autoptr(GVariant) now = get_all(&f, NULL);
            if (now)
                set_state(&f, now);
        }
        g_autoptr(GVariant) final = state_variant(&f);
        if (ctx->json)
            cli_json_print(cli_object_variant(path, final));
        else
            print_outcome(path, final, ctx->verbose);
        status = cli_job_exit_code(lookup_string(final, "Status"), lookup_string(final, "Error"), f.interrupts > 0);
    }
    g_object_unref(f.cancel_call);
    g_array_unref(f.samples);
    g_free(f.printed_message);
    g_variant_dict_unref(f.state);
    g_main_loop_unref(f.loop);
    return status;
}
