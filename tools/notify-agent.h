/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-notify: what its files share. The desktop (notify-desktop.c) speaks the
 * freedesktop Notifications protocol on the session bus; each source (notify-source.c)
 * follows one virt-ferryd on a system bus (or the bus of --bus-address). The decisions are
 * notify-map.c's. */
#pragma once

#include <gio/gio.h>

#include "notify-map.h"

G_BEGIN_DECLS

typedef struct NotifyDesktop NotifyDesktop;
typedef struct NotifySource NotifySource;

/* One notification on the server, updated in place: reference-counted, as a Notify call's
 * answer may come back after its owner (a job) is gone. */
typedef struct {
    guint32 id;             /* the server's id, 0 while none */
    guint server;           /* the server instance the id belongs to */
    gboolean in_flight;     /* a Notify call waits for its id */
    NotifyMessage *queued;  /* the newest message, sent once the id is known */
    gboolean dismissed;     /* the user closed it: progress does not bring it back */
    gboolean running;       /* shows a running job (closed when the agent exits) */
    NotifySource *source;   /* for the Cancel action; NULL when not a job */
    char *job_path;
} NotifySlot;

NotifySlot *notify_slot_new(NotifySource *source, const char *job_path);
NotifySlot *notify_slot_ref(NotifySlot *slot);
void notify_slot_unref(NotifySlot *slot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NotifySlot, notify_slot_unref)

/* Reconnection to a bus: the next attempt after a delay from 1 s, doubling up to a minute. */
#define NOTIFY_RETRY_MIN_SECONDS 1
#define NOTIFY_RETRY_MAX_SECONDS 60
typedef struct {
    guint backoff; /* s: the next delay */
    guint source;  /* the pending attempt, 0: none */
    void (*connect)(gpointer data);
    gpointer data;
} NotifyRetry;
/* Says @why on stderr and calls @r's connect later. */
void notify_retry_later(NotifyRetry *r, const char *why);
/* Connected: the next failure waits the shortest delay again. */
void notify_retry_reset(NotifyRetry *r);
void notify_retry_cancel(NotifyRetry *r);

/* notify-desktop.c */
NotifyDesktop *notify_desktop_new(const NotifyFilter *filter);
void notify_desktop_free(NotifyDesktop *desktop);
/* Shows @message (taken) in @slot, replacing what the slot shows. */
void notify_desktop_show(NotifyDesktop *desktop, NotifySlot *slot, NotifyMessage *message);
/* A one-shot notification (a job's end, an event): filtered, then through the burst
 * window; @slot (may be NULL) is where it shows when it goes out alone. */
void notify_desktop_event(NotifyDesktop *desktop, NotifySlot *slot, NotifyMessage *message, const char *host);
/* Whether the user's filter lets @message through. */
gboolean notify_desktop_allows(NotifyDesktop *desktop, const NotifyMessage *message);
void notify_desktop_close(NotifyDesktop *desktop, NotifySlot *slot);
/* Sources register themselves so that the desktop can re-show their jobs after the
 * notification server restarted. */
void notify_desktop_add_source(NotifyDesktop *desktop, NotifySource *source);

/* notify-source.c */
NotifySource *notify_source_new(NotifyDesktop *desktop, const char *bus_address);
void notify_source_free(NotifySource *source);
/* Shows every running job again (the server restarted and forgot them). */
void notify_source_reshow(NotifySource *source);
/* The Cancel action on @slot's job. */
void notify_source_cancel(NotifySource *source, const char *job_path);

G_END_DECLS
