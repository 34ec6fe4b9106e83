/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-notify's decisions, as pure functions of what the bus said and the clock the
 * caller passes in: which notification an event gives, whether the user's configuration
 * wants it, whether a progress update may go out yet, and when a burst becomes a summary.
 * No bus, no main loop here, so that tests/unit/test-notify.c checks all of it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Characters kept of one string from the bus; the rest becomes an ellipsis. */
#define NOTIFY_TEXT_MAX 400
/* One progress update per job at most this often. */
#define NOTIFY_UPDATE_INTERVAL_USEC G_USEC_PER_SEC
/* One-shot notifications (a job's end, a domain or host event): the first of a window goes
 * out at once; what follows within the window is held and, at its end, given as one summary
 * when it is a burst (more than NOTIFY_BURST_SINGLES), else each as itself: one migration's
 * end and its domain's leaving are two notifications, not a summary that hides them. */
#define NOTIFY_BURST_WINDOW_USEC G_USEC_PER_SEC
#define NOTIFY_BURST_SINGLES 3
/* Lines a summary lists before "and N more". */
#define NOTIFY_SUMMARY_LINES 8

/* The freedesktop Notifications urgency levels (the hint's byte values). */
typedef enum {
    NOTIFY_URGENCY_LOW = 0,
    NOTIFY_URGENCY_NORMAL = 1,
    NOTIFY_URGENCY_CRITICAL = 2,
} NotifyUrgency;

/* What one notification says. Summary and body are Pango-style markup, every piece of
 * text from the bus escaped; @line is the one-line plain form a burst summary lists. */
typedef struct {
    char *kind;          /* for the configuration's kinds= : a job kind or an event kind */
    char *domain;        /* the domain it concerns (as the bus gave it), for domains=; or NULL */
    char *summary;
    char *body;
    char *line;          /* escaped too */
    NotifyUrgency urgency;
    const char *category;
    int progress;        /* 0..100 for the "value" hint, or -1 */
    gboolean cancellable; /* offers the Cancel action */
    gboolean is_job;     /* about a job (kinds=jobs takes it) */
    gboolean job_end;    /* a job's outcome */
} NotifyMessage;

void notify_message_free(NotifyMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NotifyMessage, notify_message_free)

/* A job as the agent knows it from its properties (org.virtferry.Ferry1.Job). */
typedef struct {
    char *kind, *target, *status, *message, *error;
    double progress;
    guint64 total, remaining;
    gint64 seen_usec;    /* when the agent first saw it (for the ETA) */
    double seen_progress; /* its progress then; -1 until seen running */
} NotifyJob;

NotifyJob *notify_job_new(gint64 now_usec);
void notify_job_free(NotifyJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NotifyJob, notify_job_free)
/* Takes the Job properties of @properties (a{sv}); values of the wrong type are ignored.
 * Returns whether anything shown changed. */
gboolean notify_job_update(NotifyJob *job, GVariant *properties);
gboolean notify_job_is_running(const NotifyJob *job);

/* Text from the bus made fit for a notification: valid UTF-8 (invalid bytes become U+FFFD),
 * control characters as spaces (newlines too unless @multiline), at most @max_chars
 * characters (then "…"), markup-escaped. Reads at most 4 * @max_chars + 4 bytes of @raw,
 * whatever its length. NULL gives "". */
char *notify_text(const char *raw, gsize max_chars, gboolean multiline);

/* The notification for a job in its present state, on @host (Manager.Hostname). */
NotifyMessage *notify_map_job(const NotifyJob *job, const char *host, gint64 now_usec);
/* DomainStateChanged: a notification for a domain in error or unknown state, or arriving
 * or leaving by migration; NULL for the rest. @previous: the reason the domain had before
 * (NULL: unknown): a domain that leaves by migration may go from paused:migration straight
 * to undefined, libvirt undefining it before its stopped state was read. */
NotifyMessage *notify_map_domain_state(const char *name, const char *state, const char *reason, const char *previous,
                                       const char *host);
/* HostEvent: libvirtd lost or back, maintenance entered or left; NULL for the rest.
 * @libvirt_was_lost: whether a libvirt-disconnected was seen before (a libvirt-connected
 * alone is virt-ferryd starting, not news). */
NotifyMessage *notify_map_host_event(const char *kind, const char *detail, const char *host,
                                     gboolean libvirt_was_lost);
/* Manager.Overcommitted changed to @overcommitted. */
NotifyMessage *notify_map_overcommitted(gboolean overcommitted, const char *host);
/* virt-ferryd left the bus (@present FALSE) or came back. */
NotifyMessage *notify_map_service(gboolean present, const char *host);
/* One notification for several held ones (NotifyMessage each), in their order. */
NotifyMessage *notify_map_summary(GPtrArray *messages, const char *host);

/* The user's choice (GKeyFile, group [notify]): kinds=, domains= (globs), urgency=. */
typedef struct NotifyFilter NotifyFilter;
NotifyFilter *notify_filter_new_from_key_file(GKeyFile *file, GError **error);
void notify_filter_free(NotifyFilter *filter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NotifyFilter, notify_filter_free)
gboolean notify_filter_allows(const NotifyFilter *filter, const NotifyMessage *message);
/* The kinds kinds= takes, NULL-terminated. */
const char *const *notify_known_kinds(void);

/* Microseconds to wait before a progress update may go out (0: now), the last one sent at
 * @last_sent_usec (0: never). */
gint64 notify_update_delay(gint64 last_sent_usec, gint64 now_usec);

/* The burst window. notify_burst_admit says whether a one-shot notification goes out now
 * (TRUE) or is held (FALSE: the caller keeps it and flushes at notify_burst_deadline). */
typedef struct {
    gint64 window_start; /* 0: no window open */
    guint held;
} NotifyBurst;
gboolean notify_burst_admit(NotifyBurst *burst, gint64 now_usec);
gint64 notify_burst_deadline(const NotifyBurst *burst);
/* Ends the window; returns how many were held. */
guint notify_burst_flush(NotifyBurst *burst);
/* Whether @held notifications of a window go out as one summary. */
gboolean notify_burst_is_summary(guint held);

G_END_DECLS
