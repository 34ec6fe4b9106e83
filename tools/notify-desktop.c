/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The session side of virt-ferry-notify: org.freedesktop.Notifications, spoken directly with
 * GDBus. Notifications update in place (replaces_id); a server that restarts forgets every
 * id, so they are dropped and the sources show their running jobs again; the Cancel action
 * comes back as ActionInvoked. Without a session bus or a server: a message, and a retry
 * (the bus, with backoff) or the next event (the server, which the bus may start). */
#include "notify-agent.h"

#include <string.h>

#define NOTIFICATIONS_NAME "org.freedesktop.Notifications"
#define NOTIFICATIONS_PATH "/org/freedesktop/Notifications"
#define NOTIFICATIONS_INTERFACE "org.freedesktop.Notifications"
#define DESKTOP_ENTRY "virt-ferry-notify"
#define APP_NAME "virt-ferry"
#define CALL_TIMEOUT_MSEC 5000
#define CLOSED_DISMISSED 2

struct NotifyDesktop {
    const NotifyFilter *filter;
    GDBusConnection *bus;
    NotifyRetry retry;
    guint watch, action_signal, closed_signal;
    char *server_owner;
    guint server;               /* counts server instances: ids of an older one are void */
    gboolean body_markup;
    gboolean server_missing_said;
    GPtrArray *slots;           /* NotifySlot shown or in flight, for the server's signals */
    GPtrArray *sources;
    NotifyBurst burst;
    GPtrArray *held;            /* Held */
    guint burst_timer;
};

typedef struct {
    NotifySlot *slot;           /* NULL: a slot of its own */
    NotifyMessage *message;
    char *host;
} Held;

static void held_free(Held *h)
{
    if (h->slot)
        notify_slot_unref(h->slot);
    notify_message_free(h->message);
    g_free(h->host);
    g_free(h);
}

/* ------------------------------------------------------------------ slots */

NotifySlot *notify_slot_new(NotifySource *source, const char *job_path)
{
    NotifySlot *slot = g_rc_box_new0(NotifySlot);
    slot->source = source;
    slot->job_path = g_strdup(job_path);
    return slot;
}

NotifySlot *notify_slot_ref(NotifySlot *slot)
{
    return g_rc_box_acquire(slot);
}

static void slot_clear(NotifySlot *slot)
{
    g_clear_pointer(&slot->queued, notify_message_free);
    g_free(slot->job_path);
}

void notify_slot_unref(NotifySlot *slot)
{
    g_rc_box_release_full(slot, (GDestroyNotify)slot_clear);
}

static gboolean retry_now(gpointer data)
{
    NotifyRetry *r = data;
    r->source = 0;
    r->connect(r->data);
    return G_SOURCE_REMOVE;
}

void notify_retry_later(NotifyRetry *r, const char *why)
{
    guint delay = r->backoff ? r->backoff : NOTIFY_RETRY_MIN_SECONDS;
    r->backoff = MIN(delay * 2, NOTIFY_RETRY_MAX_SECONDS);
    g_printerr("virt-ferry-notify: %s; trying again in %u s\n", why, delay);
    g_clear_handle_id(&r->source, g_source_remove);
    r->source = g_timeout_add_seconds(delay, retry_now, r);
}

void notify_retry_reset(NotifyRetry *r)
{
    r->backoff = 0;
}

void notify_retry_cancel(NotifyRetry *r)
{
    g_clear_handle_id(&r->source, g_source_remove);
}

/* ------------------------------------------------------------------ markup */

static void collect_text(GMarkupParseContext *context, const char *text, gsize length, gpointer data, GError **error)
{
    g_string_append_len(data, text, (gssize)length);
}

/* The plain text of escaped markup (for the summary, which the protocol takes as plain
 * text, and for a server without body-markup). */
static char *plain_text(const char *markup)
{
    static const GMarkupParser parser = { .text = collect_text };
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GMarkupParseContext) context = g_markup_parse_context_new(&parser, 0, text, NULL);
    g_autofree char *document = g_strconcat("<t>", markup, "</t>", NULL);
    if (!g_markup_parse_context_parse(context, document, -1, NULL) || !g_markup_parse_context_end_parse(context, NULL))
        return g_strdup(markup);
    return g_strdup(text->str);
}

/* ------------------------------------------------------------------ Notify */

typedef struct {
    NotifyDesktop *desktop;
    NotifySlot *slot;
    guint server;
} NotifyCall;

static void send_message(NotifyDesktop *desktop, NotifySlot *slot, NotifyMessage *message);

/* The array's free function drops the reference slot_remember took. */
static void slot_forget(NotifyDesktop *desktop, NotifySlot *slot)
{
    g_ptr_array_remove_fast(desktop->slots, slot);
}

static void slot_remember(NotifyDesktop *desktop, NotifySlot *slot)
{
    if (!g_ptr_array_find(desktop->slots, slot, NULL))
        g_ptr_array_add(desktop->slots, notify_slot_ref(slot));
}

static void server_missing(NotifyDesktop *desktop, const GError *error)
{
    if (desktop->server_missing_said)
        return;
    desktop->server_missing_said = TRUE;
    g_autofree char *remote = g_dbus_error_get_remote_error(error);
    g_printerr("virt-ferry-notify: cannot show a notification (%s): %s; waiting for a notification server on the "
               "session bus\n",
               remote ? remote : "no answer", error->message);
}

static void on_notify_done(GObject *bus, GAsyncResult *result, gpointer data)
{
    NotifyCall *call = data;
    NotifyDesktop *desktop = call->desktop;
    NotifySlot *slot = call->slot;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(bus), result, &error);
    if (call->server == desktop->server) {
        slot->in_flight = FALSE;
        if (reply) {
            desktop->server_missing_said = FALSE;
            g_variant_get(reply, "(u)", &slot->id);
            slot->server = call->server;
        } else {
            server_missing(desktop, error);
        }
        NotifyMessage *queued = g_steal_pointer(&slot->queued);
        if (queued)
            send_message(desktop, slot, queued);
    }
    notify_slot_unref(slot);
    g_free(call);
}

static GVariant *hints(const NotifyMessage *message)
{
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_variant_builder_add(&b, "{sv}", "urgency", g_variant_new_byte((guchar)message->urgency));
    g_variant_builder_add(&b, "{sv}", "category", g_variant_new_string(message->category));
    g_variant_builder_add(&b, "{sv}", "desktop-entry", g_variant_new_string(DESKTOP_ENTRY));
    if (message->progress >= 0)
        g_variant_builder_add(&b, "{sv}", "value", g_variant_new_int32(message->progress));
    return g_variant_builder_end(&b);
}

static void send_message(NotifyDesktop *desktop, NotifySlot *slot, NotifyMessage *message)
{
    g_autoptr(NotifyMessage) m = message;
    if (!desktop->bus)
        return; /* shown again when the bus and a server are back, if still running */
    if (slot->in_flight) {
        /* Its id is not known yet: a second Notify now would make a second popup. */
        g_clear_pointer(&slot->queued, notify_message_free);
        slot->queued = g_steal_pointer(&m);
        return;
    }
    guint32 replaces = slot->server == desktop->server ? slot->id : 0;
    slot->running = m->progress >= 0;
    g_autofree char *summary = plain_text(m->summary);
    g_autofree char *body = desktop->body_markup ? g_strdup(m->body) : plain_text(m->body);
    const char *cancel[] = { "cancel", "Cancel", NULL };
    const char *none[] = { NULL };
    NotifyCall *call = g_new0(NotifyCall, 1);
    call->desktop = desktop;
    call->slot = notify_slot_ref(slot);
    call->server = desktop->server;
    slot->in_flight = TRUE;
    slot_remember(desktop, slot);
    /* A running job's notification stays until it ends; the rest expire as the server likes. */
    gint32 expire = m->progress >= 0 ? 0 : -1;
    g_dbus_connection_call(desktop->bus, NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NOTIFICATIONS_INTERFACE, "Notify",
                           g_variant_new("(susss^as@a{sv}i)", APP_NAME, replaces, "", summary, body,
                                         m->cancellable && slot->job_path ? cancel : none, hints(m), expire),
                           G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MSEC, NULL, on_notify_done,
                           call);
}

void notify_desktop_show(NotifyDesktop *desktop, NotifySlot *slot, NotifyMessage *message)
{
    if (slot->dismissed && message->progress >= 0) {
        notify_message_free(message);
        return;
    }
    send_message(desktop, slot, message);
}

void notify_desktop_close(NotifyDesktop *desktop, NotifySlot *slot)
{
    g_clear_pointer(&slot->queued, notify_message_free);
    if (desktop->bus && slot->id && slot->server == desktop->server)
        g_dbus_connection_call(desktop->bus, NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NOTIFICATIONS_INTERFACE,
                               "CloseNotification", g_variant_new("(u)", slot->id), NULL, G_DBUS_CALL_FLAGS_NONE,
                               CALL_TIMEOUT_MSEC, NULL, NULL, NULL);
    slot->id = 0;
    slot_forget(desktop, slot);
}

gboolean notify_desktop_allows(NotifyDesktop *desktop, const NotifyMessage *message)
{
    return notify_filter_allows(desktop->filter, message);
}

/* ------------------------------------------------------------------ bursts */

static gboolean on_burst_end(gpointer data)
{
    NotifyDesktop *desktop = data;
    desktop->burst_timer = 0;
    guint held = notify_burst_flush(&desktop->burst);
    g_autoptr(GPtrArray) items = g_steal_pointer(&desktop->held);
    desktop->held = g_ptr_array_new_with_free_func((GDestroyNotify)held_free);
    if (!notify_burst_is_summary(held)) {
        for (guint i = 0; i < items->len; i++) {
            Held *h = items->pdata[i];
            g_autoptr(NotifySlot) own = h->slot ? NULL : notify_slot_new(NULL, NULL);
            send_message(desktop, h->slot ? h->slot : own, g_steal_pointer(&h->message));
        }
    } else {
        g_autoptr(GPtrArray) messages = g_ptr_array_new();
        /* The host in the summary when all came from one. */
        const char *host = ((Held *)items->pdata[0])->host;
        for (guint i = 0; i < items->len; i++) {
            Held *h = items->pdata[i];
            g_ptr_array_add(messages, h->message);
            if (g_strcmp0(h->host, host) != 0)
                host = NULL;
            /* A job held here ends in the summary: its own notification goes. */
            if (h->slot)
                notify_desktop_close(desktop, h->slot);
        }
        g_autoptr(NotifySlot) summary = notify_slot_new(NULL, NULL);
        send_message(desktop, summary, notify_map_summary(messages, host));
    }
    return G_SOURCE_REMOVE;
}

void notify_desktop_event(NotifyDesktop *desktop, NotifySlot *slot, NotifyMessage *message, const char *host)
{
    if (!notify_desktop_allows(desktop, message)) {
        if (slot)
            notify_desktop_close(desktop, slot);
        notify_message_free(message);
        return;
    }
    gint64 now = g_get_monotonic_time();
    if (notify_burst_admit(&desktop->burst, now)) {
        g_autoptr(NotifySlot) own = slot ? NULL : notify_slot_new(NULL, NULL);
        send_message(desktop, slot ? slot : own, message);
        return;
    }
    Held *h = g_new0(Held, 1);
    h->slot = slot ? notify_slot_ref(slot) : NULL;
    h->message = message;
    h->host = g_strdup(host);
    g_ptr_array_add(desktop->held, h);
    if (!desktop->burst_timer) {
        gint64 wait = MAX(notify_burst_deadline(&desktop->burst) - now, 0);
        desktop->burst_timer = g_timeout_add((guint)(wait / 1000) + 1, on_burst_end, desktop);
    }
}

/* ------------------------------------------------------------------ the server's signals */

static NotifySlot *slot_by_id(NotifyDesktop *desktop, guint32 id)
{
    for (guint i = 0; i < desktop->slots->len; i++) {
        NotifySlot *slot = desktop->slots->pdata[i];
        if (slot->id == id && slot->server == desktop->server)
            return slot;
    }
    return NULL;
}

static void on_server_signal(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                             const char *member, GVariant *parameters, gpointer data)
{
    NotifyDesktop *desktop = data;
    guint32 id = 0;
    if (g_str_equal(member, "ActionInvoked") && g_variant_is_of_type(parameters, G_VARIANT_TYPE("(us)"))) {
        const char *action;
        g_variant_get(parameters, "(u&s)", &id, &action);
        NotifySlot *slot = slot_by_id(desktop, id);
        if (slot && slot->source && slot->job_path && g_str_equal(action, "cancel"))
            notify_source_cancel(slot->source, slot->job_path);
    } else if (g_str_equal(member, "NotificationClosed") && g_variant_is_of_type(parameters, G_VARIANT_TYPE("(uu)"))) {
        guint32 reason;
        g_variant_get(parameters, "(uu)", &id, &reason);
        NotifySlot *slot = slot_by_id(desktop, id);
        if (!slot)
            return;
        slot->id = 0;
        slot->dismissed |= reason == CLOSED_DISMISSED;
        slot_forget(desktop, slot);
    }
}

static void on_capabilities(GObject *bus, GAsyncResult *result, gpointer data)
{
    NotifyDesktop *desktop = data;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(bus), result, NULL);
    if (!reply)
        return;
    g_autofree const char **caps = NULL;
    g_variant_get(reply, "(^a&s)", &caps);
    desktop->body_markup = g_strv_contains(caps, "body-markup");
}

/* Every id of the old server is void: forget them all (nothing to close), and let the
 * sources show their running jobs again on the new one. */
static void server_changed(NotifyDesktop *desktop)
{
    desktop->server++;
    for (guint i = 0; i < desktop->slots->len; i++) {
        NotifySlot *slot = desktop->slots->pdata[i];
        slot->id = 0;
        slot->in_flight = FALSE;
        g_clear_pointer(&slot->queued, notify_message_free);
    }
    g_ptr_array_set_size(desktop->slots, 0);
}

static void on_server_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
    NotifyDesktop *desktop = data;
    if (g_strcmp0(owner, desktop->server_owner) == 0)
        return;
    /* Another owner without a vanish in between: the old one's ids are void. With none known
     * (the agent's start, or after a vanish, which voided them already) what was sent
     * meanwhile went to this one: its ids stand, or the first job shown at the start would
     * be shown a second time by the reshow below. */
    if (desktop->server_owner)
        server_changed(desktop);
    g_free(desktop->server_owner);
    desktop->server_owner = g_strdup(owner);
    desktop->server_missing_said = FALSE;
    g_dbus_connection_call(bus, NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NOTIFICATIONS_INTERFACE, "GetCapabilities",
                           NULL, G_VARIANT_TYPE("(as)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MSEC, NULL,
                           on_capabilities, desktop);
    for (guint i = 0; i < desktop->sources->len; i++)
        notify_source_reshow(desktop->sources->pdata[i]);
}

static void on_server_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
    NotifyDesktop *desktop = data;
    if (!desktop->server_owner)
        return;
    g_clear_pointer(&desktop->server_owner, g_free);
    server_changed(desktop);
}

/* ------------------------------------------------------------------ the session bus */

static void session_lost(NotifyDesktop *desktop, const char *why)
{
    notify_retry_later(&desktop->retry, why);
}

static void drop_session(NotifyDesktop *desktop)
{
    g_clear_handle_id(&desktop->watch, g_bus_unwatch_name);
    if (desktop->bus) {
        g_dbus_connection_signal_unsubscribe(desktop->bus, desktop->action_signal);
        g_dbus_connection_signal_unsubscribe(desktop->bus, desktop->closed_signal);
        desktop->action_signal = desktop->closed_signal = 0;
        g_signal_handlers_disconnect_by_data(desktop->bus, desktop);
        g_clear_object(&desktop->bus);
    }
    g_clear_pointer(&desktop->server_owner, g_free);
    server_changed(desktop);
}

static void on_session_closed(GDBusConnection *bus, gboolean remote, GError *error, gpointer data)
{
    NotifyDesktop *desktop = data;
    drop_session(desktop);
    session_lost(desktop, "the session bus closed the connection");
}

static void on_session_ready(GObject *source, GAsyncResult *result, gpointer data)
{
    NotifyDesktop *desktop = data;
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_for_address_finish(result, &error);
    if (!bus) {
        g_autofree char *why = g_strdup_printf("cannot connect to the session bus: %s", error->message);
        session_lost(desktop, why);
        return;
    }
    desktop->bus = bus;
    notify_retry_reset(&desktop->retry);
    g_dbus_connection_set_exit_on_close(bus, FALSE);
    g_signal_connect(bus, "closed", G_CALLBACK(on_session_closed), desktop);
    desktop->action_signal = g_dbus_connection_signal_subscribe(bus, NOTIFICATIONS_NAME, NOTIFICATIONS_INTERFACE,
                                                                "ActionInvoked", NOTIFICATIONS_PATH, NULL,
                                                                G_DBUS_SIGNAL_FLAGS_NONE, on_server_signal, desktop, NULL);
    desktop->closed_signal = g_dbus_connection_signal_subscribe(bus, NOTIFICATIONS_NAME, NOTIFICATIONS_INTERFACE,
                                                                "NotificationClosed", NOTIFICATIONS_PATH, NULL,
                                                                G_DBUS_SIGNAL_FLAGS_NONE, on_server_signal, desktop, NULL);
    desktop->watch = g_bus_watch_name_on_connection(bus, NOTIFICATIONS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                    on_server_appeared, on_server_vanished, desktop, NULL);
}

static void connect_session(gpointer data)
{
    NotifyDesktop *desktop = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *address = g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SESSION, NULL, &error);
    if (!address) {
        g_autofree char *why = g_strdup_printf("no session bus: %s", error->message);
        session_lost(desktop, why);
        return;
    }
    /* A connection of its own (not the shared singleton), so that a closed one can be
     * replaced by a new one. */
    g_dbus_connection_new_for_address(address,
                                      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                          G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                      NULL, NULL, on_session_ready, desktop);
}

NotifyDesktop *notify_desktop_new(const NotifyFilter *filter)
{
    NotifyDesktop *desktop = g_new0(NotifyDesktop, 1);
    desktop->filter = filter;
    desktop->slots = g_ptr_array_new_with_free_func((GDestroyNotify)notify_slot_unref);
    desktop->sources = g_ptr_array_new();
    desktop->held = g_ptr_array_new_with_free_func((GDestroyNotify)held_free);
    desktop->body_markup = TRUE; /* until GetCapabilities says otherwise */
    desktop->retry.connect = connect_session;
    desktop->retry.data = desktop;
    connect_session(desktop);
    return desktop;
}

void notify_desktop_add_source(NotifyDesktop *desktop, NotifySource *source)
{
    g_ptr_array_add(desktop->sources, source);
}

/* A running job's notification would outlive the agent and show a job no one follows (and a
 * second one when the agent starts again): it goes with the agent. Outcomes stay. */
static void close_running(NotifyDesktop *desktop)
{
    if (!desktop->bus)
        return;
    for (guint i = 0; i < desktop->slots->len; i++) {
        NotifySlot *slot = desktop->slots->pdata[i];
        if (slot->running && slot->id && slot->server == desktop->server)
            g_dbus_connection_call(desktop->bus, NOTIFICATIONS_NAME, NOTIFICATIONS_PATH, NOTIFICATIONS_INTERFACE,
                                   "CloseNotification", g_variant_new("(u)", slot->id), NULL, G_DBUS_CALL_FLAGS_NONE,
                                   CALL_TIMEOUT_MSEC, NULL, NULL, NULL);
    }
    g_dbus_connection_flush_sync(desktop->bus, NULL, NULL);
}

void notify_desktop_free(NotifyDesktop *desktop)
{
    if (!desktop)
        return;
    close_running(desktop);
    notify_retry_cancel(&desktop->retry);
    g_clear_handle_id(&desktop->burst_timer, g_source_remove);
    drop_session(desktop);
    g_ptr_array_unref(desktop->slots);
    g_ptr_array_unref(desktop->sources);
    g_ptr_array_unref(desktop->held);
    g_free(desktop);
}
