/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-notify's decisions: events to notifications, the user's filter, the update rate
 * and bursts. Pure functions (the clock comes in as arguments); see notify-map.h. */
#include "notify-map.h"

#include <math.h>
#include <string.h>

#define ELLIPSIS "\u2026"
#define SEPARATOR " \u00b7 "
#define JOB_KINDS_ALL "jobs"
#define CATEGORY_RUNNING "transfer"
#define CATEGORY_DONE "transfer.complete"
#define CATEGORY_ERROR "transfer.error"
#define CATEGORY_DOMAIN "x-virt-ferry.domain"
#define CATEGORY_HOST "x-virt-ferry.host"
#define CATEGORY_SUMMARY "x-virt-ferry.summary"
/* Names (hosts, domains, kinds) are short; messages may say more. */
#define NAME_MAX_CHARS 80

/* ------------------------------------------------------------------ text from the bus */

static gboolean is_hidden(gunichar c)
{
    /* Bidi overrides, zero-width joiners and the like could make a name read as another. */
    return g_unichar_type(c) == G_UNICODE_FORMAT;
}

char *notify_text(const char *raw, gsize max_chars, gboolean multiline)
{
    if (!raw)
        return g_strdup("");
    gsize max_bytes = 4 * max_chars + 4;
    gsize length = strnlen(raw, max_bytes + 1);
    g_autofree char *valid = g_utf8_make_valid(raw, (gssize)MIN(length, max_bytes));
    g_autoptr(GString) clean = g_string_sized_new(MIN(length, max_bytes) + 8);
    gsize chars = 0;
    for (const char *p = valid; *p; p = g_utf8_next_char(p)) {
        if (chars == max_chars) {
            g_string_append(clean, ELLIPSIS);
            break;
        }
        gunichar c = g_utf8_get_char(p);
        if (c == '\n' && multiline)
            g_string_append_c(clean, '\n');
        else if (g_unichar_iscntrl(c))
            g_string_append_c(clean, ' ');
        else if (is_hidden(c))
            g_string_append_unichar(clean, 0xFFFD);
        else
            g_string_append_unichar(clean, c);
        chars++;
    }
    return g_markup_escape_text(clean->str, (gssize)clean->len);
}

static char *name_text(const char *raw)
{
    return notify_text(raw, NAME_MAX_CHARS, FALSE);
}

/* "alpha: " before a summary, so that one desktop following several hosts tells them apart. */
static char *with_host(const char *host, const char *summary)
{
    if (!host || !*host)
        return g_strdup(summary);
    g_autofree char *h = name_text(host);
    return g_strdup_printf("%s: %s", h, summary);
}

void notify_message_free(NotifyMessage *message)
{
    if (!message)
        return;
    g_free(message->kind);
    g_free(message->domain);
    g_free(message->summary);
    g_free(message->body);
    g_free(message->line);
    g_free(message);
}

/* Takes @summary and @body (escaped already); @line is the summary without the host. */
static NotifyMessage *message_new(const char *kind, const char *domain, const char *host, char *summary,
                                  char *body, NotifyUrgency urgency, const char *category)
{
    NotifyMessage *m = g_new0(NotifyMessage, 1);
    m->kind = g_strdup(kind);
    m->domain = g_strdup(domain);
    m->line = summary;
    m->summary = with_host(host, summary);
    m->body = body ? body : g_strdup("");
    m->urgency = urgency;
    m->category = category;
    m->progress = -1;
    return m;
}

/* ------------------------------------------------------------------ jobs */

NotifyJob *notify_job_new(gint64 now_usec)
{
    NotifyJob *job = g_new0(NotifyJob, 1);
    job->seen_usec = now_usec;
    job->seen_progress = -1;
    return job;
}

void notify_job_free(NotifyJob *job)
{
    if (!job)
        return;
    g_free(job->kind);
    g_free(job->target);
    g_free(job->status);
    g_free(job->message);
    g_free(job->error);
    g_free(job);
}

gboolean notify_job_is_running(const NotifyJob *job)
{
    return g_strcmp0(job->status, "running") == 0;
}

static gboolean take_string(char **field, GVariant *value)
{
    if (!g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
        return FALSE;
    const char *s = g_variant_get_string(value, NULL);
    if (g_strcmp0(*field, s) == 0)
        return FALSE;
    g_free(*field);
    *field = g_strdup(s);
    return TRUE;
}

gboolean notify_job_update(NotifyJob *job, GVariant *properties)
{
    if (!properties || !g_variant_is_of_type(properties, G_VARIANT_TYPE_VARDICT))
        return FALSE;
    gboolean changed = FALSE;
    GVariantIter iter;
    const char *key;
    GVariant *value;
    g_variant_iter_init(&iter, properties);
    while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
        if (g_str_equal(key, "Kind"))
            changed |= take_string(&job->kind, value);
        else if (g_str_equal(key, "Target"))
            changed |= take_string(&job->target, value);
        else if (g_str_equal(key, "Status"))
            changed |= take_string(&job->status, value);
        else if (g_str_equal(key, "Message"))
            changed |= take_string(&job->message, value);
        else if (g_str_equal(key, "Error"))
            changed |= take_string(&job->error, value);
        else if (g_str_equal(key, "Progress") && g_variant_is_of_type(value, G_VARIANT_TYPE_DOUBLE)) {
            double p = g_variant_get_double(value);
            p = isfinite(p) ? CLAMP(p, 0.0, 1.0) : 0.0;
            changed |= p != job->progress;
            job->progress = p;
        } else if (g_str_equal(key, "DataTotal") && g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64)) {
            guint64 t = g_variant_get_uint64(value);
            changed |= t != job->total;
            job->total = t;
        } else if (g_str_equal(key, "DataRemaining") && g_variant_is_of_type(value, G_VARIANT_TYPE_UINT64)) {
            guint64 r = g_variant_get_uint64(value);
            changed |= r != job->remaining;
            job->remaining = r;
        }
    }
    if (job->seen_progress < 0 && notify_job_is_running(job))
        job->seen_progress = job->progress;
    return changed;
}

static const struct {
    const char *kind;
    const char *noun;
    gboolean on_domain; /* Target is a domain name */
} job_kinds[] = {
    { "archive", "archive", TRUE },
    { "restore", "restore", FALSE },
    { "verify", "verify", FALSE },
    { "migrate", "migration", TRUE },
    { "move-disk", "disk move", TRUE },
    { "failover", "failover", FALSE },
    { "evacuate", "evacuation", FALSE },
    { "maintenance", "maintenance", FALSE },
};

static gssize job_kind_index(const char *kind)
{
    for (gsize i = 0; i < G_N_ELEMENTS(job_kinds); i++)
        if (g_strcmp0(kind, job_kinds[i].kind) == 0)
            return (gssize)i;
    return -1;
}

static const char *job_noun(const char *kind)
{
    gssize i = job_kind_index(kind);
    return i >= 0 ? job_kinds[i].noun : NULL;
}

static int percent(double fraction)
{
    return MIN((int)(fraction * 100 + 1e-6), 100);
}

/* "about 1:05 left", from the progress made since the agent first saw the job. */
static char *eta_text(const NotifyJob *job, gint64 now_usec)
{
    double made = job->progress - MAX(job->seen_progress, 0.0);
    double elapsed = (double)(now_usec - job->seen_usec) / G_USEC_PER_SEC;
    if (made < 0.005 || elapsed < 1 || job->progress >= 1)
        return NULL;
    double left = elapsed * (1 - job->progress) / made;
    if (left >= 100 * 3600)
        return NULL;
    guint s = (guint)ceil(left);
    if (s >= 3600)
        return g_strdup_printf("about %u:%02u:%02u left", s / 3600, s / 60 % 60, s % 60);
    return g_strdup_printf("about %u:%02u left", s / 60, s % 60);
}

static char *running_body(const NotifyJob *job, gint64 now_usec)
{
    GString *body = g_string_new(NULL);
    g_string_append_printf(body, "%d%%", percent(job->progress));
    if (job->total > 0) {
        g_autofree char *done = g_format_size_full(job->total - MIN(job->remaining, job->total), G_FORMAT_SIZE_IEC_UNITS);
        g_autofree char *total = g_format_size_full(job->total, G_FORMAT_SIZE_IEC_UNITS);
        g_string_append_printf(body, SEPARATOR "%s of %s", done, total);
    }
    g_autofree char *eta = eta_text(job, now_usec);
    if (eta)
        g_string_append_printf(body, SEPARATOR "%s", eta);
    if (job->message && *job->message) {
        g_autofree char *message = notify_text(job->message, NOTIFY_TEXT_MAX, TRUE);
        g_string_append_printf(body, "\n%s", message);
    }
    return g_string_free(body, FALSE);
}

static const struct {
    const char *status;
    const char *verb;
    NotifyUrgency urgency;
    const char *category;
} outcomes[] = {
    { "succeeded", "succeeded", NOTIFY_URGENCY_NORMAL, CATEGORY_DONE },
    { "warning", "succeeded with a warning", NOTIFY_URGENCY_NORMAL, CATEGORY_DONE },
    { "failed", "failed", NOTIFY_URGENCY_CRITICAL, CATEGORY_ERROR },
    { "cancelled", "was cancelled", NOTIFY_URGENCY_NORMAL, CATEGORY_ERROR },
};

/* The error's own name, without org.virtferry.Ferry1.Error. (names are safe ASCII, but they
 * come from the bus too). */
static char *error_text(const char *error)
{
    const char *dot = error ? strrchr(error, '.') : NULL;
    return name_text(dot ? dot + 1 : error);
}

NotifyMessage *notify_map_job(const NotifyJob *job, const char *host, gint64 now_usec)
{
    g_autofree char *target = name_text(job->target);
    const char *noun = job_noun(job->kind);
    g_autofree char *kind_text = noun ? g_strdup(noun) : name_text(job->kind ? job->kind : "a");
    g_autofree char *what_text = g_strdup_printf("%s%s%s%s", kind_text, noun ? "" : " job", *target ? " of " : "", target);
    gssize kind = job_kind_index(job->kind);
    const char *domain = kind >= 0 && job_kinds[kind].on_domain ? job->target : NULL;
    /* kind= matching uses the raw kind; an unknown one matches only "jobs". */
    const char *filter_kind = kind >= 0 ? job->kind : "job";

    if (notify_job_is_running(job) || !job->status) {
        NotifyMessage *m = message_new(filter_kind, domain, host, g_strdup(what_text), running_body(job, now_usec),
                                       NOTIFY_URGENCY_LOW, CATEGORY_RUNNING);
        m->progress = percent(job->progress);
        m->cancellable = TRUE;
        m->is_job = TRUE;
        return m;
    }
    gsize o = 0;
    while (o < G_N_ELEMENTS(outcomes) && !g_str_equal(outcomes[o].status, job->status))
        o++;
    g_autofree char *status = o < G_N_ELEMENTS(outcomes) ? g_strdup(outcomes[o].verb) : g_strdup_printf("ended: %s", job->status);
    g_autofree char *status_text = o < G_N_ELEMENTS(outcomes) ? g_strdup(status) : name_text(status);
    GString *body = g_string_new(NULL);
    if (job->message && *job->message) {
        g_autofree char *message = notify_text(job->message, NOTIFY_TEXT_MAX, TRUE);
        g_string_append(body, message);
    }
    if (job->error && *job->error && g_str_equal(job->status, "failed")) {
        g_autofree char *error = error_text(job->error);
        g_string_append_printf(body, "%s(%s)", body->len ? "\n" : "", error);
    }
    /* The first letter up: "Archive of web1 failed". */
    g_autofree char *upper = g_strdup(what_text);
    upper[0] = g_ascii_toupper(upper[0]);
    NotifyMessage *m = message_new(filter_kind, domain, host, g_strdup_printf("%s %s", upper, status_text),
                                   g_string_free(body, FALSE),
                                   o < G_N_ELEMENTS(outcomes) ? outcomes[o].urgency : NOTIFY_URGENCY_NORMAL,
                                   o < G_N_ELEMENTS(outcomes) ? outcomes[o].category : CATEGORY_DONE);
    m->is_job = TRUE;
    m->job_end = TRUE;
    return m;
}

/* ------------------------------------------------------------------ domains and the host */

/* The reasons a domain has while it leaves by migration, before it is undefined here
 * (shutoff:migrated is not one: it was news of its own, and the undefine after it is not). */
static gboolean leaving_by_migration(const char *reason)
{
    return g_strcmp0(reason, "paused:migration") == 0 || g_strcmp0(reason, "paused:postcopy") == 0 ||
           g_strcmp0(reason, "running:postcopy") == 0;
}

NotifyMessage *notify_map_domain_state(const char *name, const char *state, const char *reason, const char *previous,
                                       const char *host)
{
    g_autofree char *n = name_text(name);
    g_autofree char *r = name_text(reason);
    if (g_strcmp0(reason, "running:migrated") == 0)
        return message_new("domain-migration", name, host, g_strdup_printf("%s arrived by migration", n), NULL,
                           NOTIFY_URGENCY_NORMAL, CATEGORY_DOMAIN);
    if (g_strcmp0(reason, "shutoff:migrated") == 0 ||
        (g_strcmp0(reason, "undefined") == 0 && leaving_by_migration(previous)))
        return message_new("domain-migration", name, host, g_strdup_printf("%s left by migration", n), NULL,
                           NOTIFY_URGENCY_NORMAL, CATEGORY_DOMAIN);
    if (g_strcmp0(state, "error") == 0)
        return message_new("domain-state", name, host, g_strdup_printf("%s is in error", n),
                           g_strdup_printf("libvirt says %s", r), NOTIFY_URGENCY_CRITICAL, CATEGORY_DOMAIN);
    if (g_strcmp0(state, "unknown") == 0)
        return message_new("domain-state", name, host, g_strdup_printf("%s is in an unknown state", n),
                           g_strdup_printf("libvirt says %s", r), NOTIFY_URGENCY_CRITICAL, CATEGORY_DOMAIN);
    return NULL;
}

NotifyMessage *notify_map_host_event(const char *kind, const char *detail, const char *host, gboolean libvirt_was_lost)
{
    g_autofree char *d = notify_text(detail, NOTIFY_TEXT_MAX, TRUE);
    if (g_strcmp0(kind, "libvirt-disconnected") == 0)
        return message_new("libvirt", NULL, host, g_strdup("libvirtd is lost"), g_steal_pointer(&d),
                           NOTIFY_URGENCY_CRITICAL, CATEGORY_HOST);
    if (g_strcmp0(kind, "libvirt-connected") == 0 && libvirt_was_lost)
        return message_new("libvirt", NULL, host, g_strdup("libvirtd is back"), g_steal_pointer(&d),
                           NOTIFY_URGENCY_NORMAL, CATEGORY_HOST);
    if (g_strcmp0(kind, "maintenance-entered") == 0)
        return message_new("maintenance-mode", NULL, host, g_strdup("Entered maintenance"), g_steal_pointer(&d),
                           NOTIFY_URGENCY_NORMAL, CATEGORY_HOST);
    if (g_strcmp0(kind, "maintenance-left") == 0)
        return message_new("maintenance-mode", NULL, host, g_strdup("Left maintenance"), g_steal_pointer(&d),
                           NOTIFY_URGENCY_NORMAL, CATEGORY_HOST);
    return NULL;
}

NotifyMessage *notify_map_overcommitted(gboolean overcommitted, const char *host)
{
    if (overcommitted)
        return message_new("overcommitted", NULL, host, g_strdup("Overcommitted"),
                           g_strdup("The running domains would not fit on the peers after the host failures of "
                                    "the cluster reserve."),
                           NOTIFY_URGENCY_CRITICAL, CATEGORY_HOST);
    return message_new("overcommitted", NULL, host, g_strdup("No longer overcommitted"), NULL, NOTIFY_URGENCY_NORMAL,
                       CATEGORY_HOST);
}

NotifyMessage *notify_map_service(gboolean present, const char *host)
{
    if (present)
        return message_new("service", NULL, host, g_strdup("virt-ferryd is back"), NULL, NOTIFY_URGENCY_LOW,
                           CATEGORY_HOST);
    return message_new("service", NULL, host, g_strdup("virt-ferryd stopped"),
                       g_strdup("Notifications resume when it is back."), NOTIFY_URGENCY_NORMAL, CATEGORY_HOST);
}

NotifyMessage *notify_map_summary(GPtrArray *messages, const char *host)
{
    guint jobs = 0, failed = 0;
    NotifyUrgency urgency = NOTIFY_URGENCY_LOW;
    g_autoptr(GString) body = g_string_new(NULL);
    for (guint i = 0; i < messages->len; i++) {
        const NotifyMessage *m = messages->pdata[i];
        jobs += m->job_end;
        failed += m->job_end && m->urgency == NOTIFY_URGENCY_CRITICAL;
        urgency = MAX(urgency, m->urgency);
        if (i < NOTIFY_SUMMARY_LINES)
            g_string_append_printf(body, "%s%s", i ? "\n" : "", m->line);
    }
    if (messages->len > NOTIFY_SUMMARY_LINES)
        g_string_append_printf(body, "\nand %u more", messages->len - NOTIFY_SUMMARY_LINES);
    char *summary;
    if (jobs == messages->len && failed)
        summary = g_strdup_printf("%u jobs ended, %u of them failed", jobs, failed);
    else if (jobs == messages->len)
        summary = g_strdup_printf("%u jobs ended", jobs);
    else
        summary = g_strdup_printf("%u events", messages->len);
    return message_new("summary", NULL, host, summary, g_strdup(body->str), urgency, CATEGORY_SUMMARY);
}

/* ------------------------------------------------------------------ the user's filter */

struct NotifyFilter {
    char **kinds;                 /* NULL: all */
    GPtrArray *domains;           /* GPatternSpec; NULL: all */
    NotifyUrgency min_urgency;
};

static const char *const known_kinds[] = {
    JOB_KINDS_ALL, "archive", "restore", "verify", "migrate", "move-disk", "failover", "evacuate", "maintenance",
    "domain-state", "domain-migration", "libvirt", "maintenance-mode", "overcommitted", "service", NULL,
};

const char *const *notify_known_kinds(void)
{
    return known_kinds;
}

static const char *const urgency_names[] = { "low", "normal", "critical" };

void notify_filter_free(NotifyFilter *filter)
{
    if (!filter)
        return;
    g_strfreev(filter->kinds);
    if (filter->domains)
        g_ptr_array_unref(filter->domains);
    g_free(filter);
}

NotifyFilter *notify_filter_new_from_key_file(GKeyFile *file, GError **error)
{
    g_autoptr(NotifyFilter) filter = g_new0(NotifyFilter, 1);
    filter->min_urgency = NOTIFY_URGENCY_LOW;
    if (!file)
        return g_steal_pointer(&filter);
    if (g_key_file_has_key(file, "notify", "kinds", NULL)) {
        filter->kinds = g_key_file_get_string_list(file, "notify", "kinds", NULL, error);
        if (!filter->kinds)
            return NULL;
        for (char **k = filter->kinds; *k; k++) {
            g_strstrip(*k);
            if (!g_strv_contains(known_kinds, *k)) {
                g_autofree char *known = g_strjoinv(", ", (char **)known_kinds);
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "[notify] kinds=: unknown kind \"%s\" (known: %s)", *k, known);
                return NULL;
            }
        }
    }
    if (g_key_file_has_key(file, "notify", "domains", NULL)) {
        g_auto(GStrv) globs = g_key_file_get_string_list(file, "notify", "domains", NULL, error);
        if (!globs)
            return NULL;
        filter->domains = g_ptr_array_new_with_free_func((GDestroyNotify)g_pattern_spec_free);
        for (char **g = globs; *g; g++)
            g_ptr_array_add(filter->domains, g_pattern_spec_new(g_strstrip(*g)));
    }
    if (g_key_file_has_key(file, "notify", "urgency", NULL)) {
        g_autofree char *urgency = g_key_file_get_string(file, "notify", "urgency", error);
        if (!urgency)
            return NULL;
        g_strstrip(urgency);
        gsize u = 0;
        while (u < G_N_ELEMENTS(urgency_names) && !g_str_equal(urgency, urgency_names[u]))
            u++;
        if (u == G_N_ELEMENTS(urgency_names)) {
            g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                        "[notify] urgency=: \"%s\" is not low, normal or critical", urgency);
            return NULL;
        }
        filter->min_urgency = (NotifyUrgency)u;
    }
    return g_steal_pointer(&filter);
}

static gboolean domain_allowed(const NotifyFilter *filter, const char *domain)
{
    if (!filter->domains || !domain)
        return TRUE;
    for (guint i = 0; i < filter->domains->len; i++)
        if (g_pattern_spec_match_string(filter->domains->pdata[i], domain))
            return TRUE;
    return FALSE;
}

gboolean notify_filter_allows(const NotifyFilter *filter, const NotifyMessage *message)
{
    if (!filter)
        return TRUE;
    /* A running job's notification is low; its kind and domain decide, its end the urgency. */
    if (message->urgency < filter->min_urgency && !(message->is_job && !message->job_end))
        return FALSE;
    if (filter->kinds && !g_strv_contains((const char *const *)filter->kinds, message->kind) &&
        !(message->is_job && g_strv_contains((const char *const *)filter->kinds, JOB_KINDS_ALL)))
        return FALSE;
    return domain_allowed(filter, message->domain);
}

/* ------------------------------------------------------------------ rate and bursts */

gint64 notify_update_delay(gint64 last_sent_usec, gint64 now_usec)
{
    if (last_sent_usec <= 0 || now_usec - last_sent_usec >= NOTIFY_UPDATE_INTERVAL_USEC)
        return 0;
    return NOTIFY_UPDATE_INTERVAL_USEC - MAX(now_usec - last_sent_usec, 0);
}

gboolean notify_burst_admit(NotifyBurst *burst, gint64 now_usec)
{
    if (burst->window_start == 0 || now_usec >= notify_burst_deadline(burst) || now_usec < burst->window_start) {
        /* A quiet period ended: this one goes out at once and opens a window. */
        burst->window_start = now_usec;
        burst->held = 0;
        return TRUE;
    }
    burst->held++;
    return FALSE;
}

gint64 notify_burst_deadline(const NotifyBurst *burst)
{
    return burst->window_start + NOTIFY_BURST_WINDOW_USEC;
}

guint notify_burst_flush(NotifyBurst *burst)
{
    guint held = burst->held;
    burst->held = 0;
    /* While a burst goes on, the next window holds from its start: one summary a second. */
    burst->window_start = held ? notify_burst_deadline(burst) : 0;
    return held;
}

gboolean notify_burst_is_summary(guint held)
{
    return held > NOTIFY_BURST_SINGLES;
}
