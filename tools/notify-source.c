/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One virt-ferryd followed by virt-ferry-notify: on the system bus, or the bus given with
 * --bus-address. When virt-ferryd appears (a new owner of its name) the object tree is read
 * once (Manager properties, then GetManagedObjects); from then on only signals are read:
 * InterfacesAdded/Removed and PropertiesChanged of jobs, Job.Finished, DomainStateChanged,
 * HostEvent and the Manager's PropertiesChanged. Nothing is polled. */
#include "notify-agent.h"

#include "ferry-names.h"

#define CANCEL_TIMEOUT_MSEC (5 * 60 * 1000) /* polkit may ask the user's agent for a password */
#define CALL_TIMEOUT_MSEC 10000
#define OBJECT_MANAGER_INTERFACE "org.freedesktop.DBus.ObjectManager"
#define PROPERTIES_INTERFACE "org.freedesktop.DBus.Properties"

typedef struct {
    NotifySource *source;
    char *path;
    NotifyJob *job;
    NotifySlot *slot;
    gint64 last_sent;
    guint update_timer;
    gboolean ended;
} JobEntry;

struct NotifySource {
    NotifyDesktop *desktop;
    char *address;              /* NULL: the system bus */
    GDBusConnection *bus;
    NotifyRetry retry;
    guint watch, signals;
    char *owner;                /* virt-ferryd's unique name, while it is there */
    guint generation;           /* counts owners: answers for an older one are dropped */
    GCancellable *reading;      /* the initial read of the present owner */
    char *hostname;
    gboolean libvirt_lost;      /* a libvirt-disconnected came from this owner: the next
                                   libvirt-connected is news (not virt-ferryd's own start) */
    gboolean overcommitted, overcommitted_known;
    gboolean was_present;       /* virt-ferryd was seen once: its going and coming are news */
    NotifySlot *service;        /* "virt-ferryd stopped", then "is back", in place */
    GHashTable *jobs;           /* path -> JobEntry */
    GHashTable *reasons;        /* domain name -> its last reason, from DomainStateChanged */
};

/* ------------------------------------------------------------------ jobs */

static void job_entry_free(JobEntry *e)
{
    g_clear_handle_id(&e->update_timer, g_source_remove);
    notify_job_free(e->job);
    notify_slot_unref(e->slot);
    g_free(e->path);
    g_free(e);
}

static void show_job(JobEntry *e)
{
    NotifySource *source = e->source;
    g_autoptr(NotifyMessage) m = notify_map_job(e->job, source->hostname, g_get_monotonic_time());
    e->last_sent = g_get_monotonic_time();
    if (!notify_desktop_allows(source->desktop, m))
        return;
    notify_desktop_show(source->desktop, e->slot, g_steal_pointer(&m));
}

static gboolean on_update_due(gpointer data)
{
    JobEntry *e = data;
    e->update_timer = 0;
    show_job(e);
    return G_SOURCE_REMOVE;
}

/* At most one update a second per job; the newest state goes out when the time comes. */
static void job_changed(JobEntry *e)
{
    if (e->ended || e->update_timer)
        return;
    gint64 delay = notify_update_delay(e->last_sent, g_get_monotonic_time());
    if (delay == 0)
        show_job(e);
    else
        e->update_timer = g_timeout_add((guint)(delay / 1000) + 1, on_update_due, e);
}

static void job_ended(JobEntry *e)
{
    if (e->ended)
        return;
    e->ended = TRUE;
    g_clear_handle_id(&e->update_timer, g_source_remove);
    notify_desktop_event(e->source->desktop, e->slot, notify_map_job(e->job, e->source->hostname, g_get_monotonic_time()),
                         e->source->hostname);
}

static void job_seen(NotifySource *source, const char *path, GVariant *properties, gboolean initial);


typedef struct {
    NotifySource *source;
    guint generation;
    char *path;
    gboolean finished;      /* Finished came: the job ends with what this read says */
} JobCall;

static void on_job_properties(GObject *bus, GAsyncResult *result, gpointer data)
{
    g_autofree JobCall *call = data;
    g_autofree char *path = call->path;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(bus), result, NULL);
    if (call->generation != call->source->generation)
        return;
    g_autoptr(GVariant) properties = reply ? g_variant_get_child_value(reply, 0) : NULL;
    if (!call->finished) {
        if (properties)
            job_seen(call->source, path, properties, FALSE);
        return;
    }
    JobEntry *e = g_hash_table_lookup(call->source->jobs, path);
    if (!e)
        return;
    if (properties) {
        /* Finished's status and message stand; the rest (the error's name) comes from here. */
        g_autofree char *status = g_strdup(e->job->status), *message = g_strdup(e->job->message);
        notify_job_update(e->job, properties);
        g_free(e->job->status);
        g_free(e->job->message);
        e->job->status = g_steal_pointer(&status);
        e->job->message = g_steal_pointer(&message);
    }
    job_ended(e);
}

/* A job's whole state, once: for a change of a job the agent never saw appear (it came up
 * between the tree's reading and the signals), or (@finished) to end it with its error. */
static void read_job(NotifySource *source, const char *path, gboolean finished)
{
    JobCall *call = g_new0(JobCall, 1);
    call->source = source;
    call->generation = source->generation;
    call->path = g_strdup(path);
    call->finished = finished;
    g_dbus_connection_call(source->bus, source->owner, path, PROPERTIES_INTERFACE, "GetAll",
                           g_variant_new("(s)", FERRY_JOB_INTERFACE), G_VARIANT_TYPE("(a{sv})"),
                           G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MSEC, NULL, on_job_properties, call);
}

/* What the bus said of a job: from the initial read (@initial), InterfacesAdded or
 * PropertiesChanged. A job that had ended before the agent looked is not news. */
static void job_seen(NotifySource *source, const char *path, GVariant *properties, gboolean initial)
{
    JobEntry *e = g_hash_table_lookup(source->jobs, path);
    if (!e && !g_variant_lookup(properties, "Kind", "&s", NULL)) {
        read_job(source, path, FALSE);
        return;
    }
    if (!e) {
        e = g_new0(JobEntry, 1);
        e->source = source;
        e->path = g_strdup(path);
        e->job = notify_job_new(g_get_monotonic_time());
        e->slot = notify_slot_new(source, path);
        g_hash_table_insert(source->jobs, e->path, e);
        notify_job_update(e->job, properties);
        if (initial && !notify_job_is_running(e->job)) {
            e->ended = TRUE;
            return;
        }
        if (notify_job_is_running(e->job))
            job_changed(e);
        else if (e->job->status)
            job_ended(e);
        return;
    }
    if (!notify_job_update(e->job, properties) || e->ended)
        return;
    if (notify_job_is_running(e->job))
        job_changed(e);
    else if (e->job->status)
        job_ended(e);
}

void notify_source_reshow(NotifySource *source)
{
    GHashTableIter iter;
    JobEntry *e;
    g_hash_table_iter_init(&iter, source->jobs);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&e)) {
        if (!e->ended) {
            g_clear_handle_id(&e->update_timer, g_source_remove);
            show_job(e);
        }
    }
}

typedef struct {
    NotifySource *source;
    guint generation;
    char *path;
} CancelCall;

static void on_cancel_done(GObject *bus, GAsyncResult *result, gpointer data)
{
    g_autofree CancelCall *call = data;
    g_autofree char *path = call->path;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(bus), result, &error);
    if (reply)
        return;
    g_autofree char *name = g_dbus_error_get_remote_error(error);
    g_dbus_error_strip_remote_error(error);
    /* Journal and stderr get the name (for scripts), the user a notification. */
    g_printerr("virt-ferry-notify: cannot cancel %s: %s: %s\n", path, name ? name : "error", error->message);
    if (call->generation != call->source->generation)
        return;
    g_autofree char *text = notify_text(error->message, NOTIFY_TEXT_MAX, TRUE);
    g_autofree char *error_name = notify_text(name ? name : "error", NOTIFY_TEXT_MAX, FALSE);
    NotifyMessage *m = g_new0(NotifyMessage, 1);
    m->kind = g_strdup("service");
    m->summary = g_strdup("The job could not be cancelled");
    m->line = g_strdup(m->summary);
    m->body = g_strdup_printf("%s (%s)", text, error_name);
    m->urgency = NOTIFY_URGENCY_NORMAL;
    m->category = "x-virt-ferry.host";
    m->progress = -1;
    g_autoptr(NotifySlot) slot = notify_slot_new(NULL, NULL);
    notify_desktop_show(call->source->desktop, slot, m);
}

void notify_source_cancel(NotifySource *source, const char *job_path)
{
    if (!source->bus)
        return;
    CancelCall *call = g_new0(CancelCall, 1);
    call->source = source;
    call->generation = source->generation;
    call->path = g_strdup(job_path);
    /* polkit decides, through the user's own authentication agent. */
    g_dbus_connection_call(source->bus, FERRY_BUS_NAME, job_path, FERRY_JOB_INTERFACE, "Cancel", NULL, NULL,
                           G_DBUS_CALL_FLAGS_NO_AUTO_START | G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION,
                           CANCEL_TIMEOUT_MSEC, NULL, on_cancel_done, call);
}

/* ------------------------------------------------------------------ the Manager */

static void event(NotifySource *source, NotifyMessage *message)
{
    if (message)
        notify_desktop_event(source->desktop, NULL, message, source->hostname);
}

static void manager_properties(NotifySource *source, GVariant *properties)
{
    const char *hostname;
    gboolean flag;
    if (g_variant_lookup(properties, "Hostname", "&s", &hostname)) {
        g_free(source->hostname);
        source->hostname = g_strdup(hostname);
    }
    if (g_variant_lookup(properties, "Overcommitted", "b", &flag)) {
        gboolean news = source->overcommitted_known ? flag != source->overcommitted : flag;
        source->overcommitted = flag;
        source->overcommitted_known = TRUE;
        if (news)
            event(source, notify_map_overcommitted(flag, source->hostname));
    }
}

static gboolean is_job_path(const char *path)
{
    return g_str_has_prefix(path, FERRY_JOB_PATH "/");
}

static void on_signal(GDBusConnection *bus, const char *sender, const char *path, const char *interface,
                      const char *member, GVariant *parameters, gpointer data)
{
    NotifySource *source = data;
    if (!source->owner)
        return;
    if (g_str_equal(interface, PROPERTIES_INTERFACE) && g_str_equal(member, "PropertiesChanged") &&
        g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sa{sv}as)"))) {
        const char *iface;
        g_autoptr(GVariant) changed = NULL;
        g_variant_get(parameters, "(&s@a{sv}@as)", &iface, &changed, NULL);
        if (g_str_equal(iface, FERRY_JOB_INTERFACE) && is_job_path(path))
            job_seen(source, path, changed, FALSE);
        else if (g_str_equal(iface, FERRY_MANAGER_INTERFACE) && g_str_equal(path, FERRY_ROOT_PATH))
            manager_properties(source, changed);
    } else if (g_str_equal(interface, OBJECT_MANAGER_INTERFACE) && g_str_equal(member, "InterfacesAdded") &&
               g_variant_is_of_type(parameters, G_VARIANT_TYPE("(oa{sa{sv}})"))) {
        const char *object;
        g_autoptr(GVariant) ifaces = NULL;
        g_variant_get(parameters, "(&o@a{sa{sv}})", &object, &ifaces);
        g_autoptr(GVariant) job = g_variant_lookup_value(ifaces, FERRY_JOB_INTERFACE, G_VARIANT_TYPE_VARDICT);
        if (job && is_job_path(object))
            job_seen(source, object, job, FALSE);
    } else if (g_str_equal(interface, OBJECT_MANAGER_INTERFACE) && g_str_equal(member, "InterfacesRemoved") &&
               g_variant_is_of_type(parameters, G_VARIANT_TYPE("(oas)"))) {
        const char *object;
        g_variant_get(parameters, "(&o@as)", &object, NULL);
        JobEntry *e = g_hash_table_lookup(source->jobs, object);
        /* A job that left without ending (it should not): its notification goes with it. */
        if (e && !e->ended)
            notify_desktop_close(source->desktop, e->slot);
        g_hash_table_remove(source->jobs, object);
    } else if (g_str_equal(interface, FERRY_JOB_INTERFACE) && g_str_equal(member, "Finished") &&
               g_variant_is_of_type(parameters, G_VARIANT_TYPE("(ss)"))) {
        /* The properties came first (virt-ferryd flushes them); Finished makes sure. */
        JobEntry *e = g_hash_table_lookup(source->jobs, path);
        const char *status, *message;
        g_variant_get(parameters, "(&s&s)", &status, &message);
        if (e && !e->ended) {
            g_autoptr(GVariant) props = g_variant_ref_sink(g_variant_new_parsed(
                "{'Status': <%s>, 'Message': <%s>}", status, message));
            notify_job_update(e->job, props);
            /* A failure is shown with its error's name: one read when it has not come yet. */
            if (g_str_equal(status, "failed") && !(e->job->error && *e->job->error))
                read_job(source, path, TRUE);
            else
                job_ended(e);
        }
    } else if (g_str_equal(interface, FERRY_MANAGER_INTERFACE) && g_str_equal(member, "DomainStateChanged") &&
               g_variant_is_of_type(parameters, G_VARIANT_TYPE("(sss)"))) {
        const char *name, *state, *reason;
        g_variant_get(parameters, "(&s&s&s)", &name, &state, &reason);
        event(source, notify_map_domain_state(name, state, reason, g_hash_table_lookup(source->reasons, name),
                                              source->hostname));
        if (g_str_equal(reason, "undefined"))
            g_hash_table_remove(source->reasons, name);
        else
            g_hash_table_replace(source->reasons, g_strdup(name), g_strdup(reason));
    } else if (g_str_equal(interface, FERRY_MANAGER_INTERFACE) && g_str_equal(member, "HostEvent") &&
               g_variant_is_of_type(parameters, G_VARIANT_TYPE("(ss)"))) {
        const char *kind, *detail;
        g_variant_get(parameters, "(&s&s)", &kind, &detail);
        event(source, notify_map_host_event(kind, detail, source->hostname, source->libvirt_lost));
        if (g_str_equal(kind, "libvirt-disconnected"))
            source->libvirt_lost = TRUE;
        else if (g_str_equal(kind, "libvirt-connected"))
            source->libvirt_lost = FALSE;
    }
}

/* ------------------------------------------------------------------ the initial read */

static void on_objects(GObject *bus, GAsyncResult *result, gpointer data)
{
    NotifySource *source = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(bus), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    if (!reply) {
        g_printerr("virt-ferry-notify: cannot list virt-ferryd's objects: %s\n", error->message);
        return;
    }
    g_autoptr(GVariant) objects = g_variant_get_child_value(reply, 0);
    GVariantIter iter;
    const char *path;
    GVariant *ifaces;
    g_variant_iter_init(&iter, objects);
    while (g_variant_iter_loop(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
        g_autoptr(GVariant) job = g_variant_lookup_value(ifaces, FERRY_JOB_INTERFACE, G_VARIANT_TYPE_VARDICT);
        if (job && is_job_path(path))
            job_seen(source, path, job, TRUE);
    }
}

static void on_manager(GObject *bus, GAsyncResult *result, gpointer data)
{
    NotifySource *source = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(bus), result, &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    if (reply) {
        g_autoptr(GVariant) properties = g_variant_get_child_value(reply, 0);
        manager_properties(source, properties);
    } else {
        g_printerr("virt-ferry-notify: cannot read virt-ferryd's Manager: %s\n", error->message);
    }
    /* The jobs after the host name, so that their first notification names the host. */
    g_dbus_connection_call(source->bus, source->owner, FERRY_ROOT_PATH, OBJECT_MANAGER_INTERFACE, "GetManagedObjects",
                           NULL, G_VARIANT_TYPE("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MSEC,
                           source->reading, on_objects, source);
}

/* Its jobs died with it: their notifications say so, in place, and are forgotten. */
static void forget_jobs(NotifySource *source)
{
    GHashTableIter iter;
    JobEntry *e;
    g_hash_table_iter_init(&iter, source->jobs);
    while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&e)) {
        if (e->ended)
            continue;
        g_clear_handle_id(&e->update_timer, g_source_remove);
        g_autoptr(GVariant) props = g_variant_ref_sink(g_variant_new_parsed(
            "{'Status': <'failed'>, 'Message': <'virt-ferryd stopped while the job ran'>, 'Error': <''>}"));
        notify_job_update(e->job, props);
        g_autoptr(NotifyMessage) m = notify_map_job(e->job, source->hostname, g_get_monotonic_time());
        if (notify_desktop_allows(source->desktop, m))
            notify_desktop_show(source->desktop, e->slot, g_steal_pointer(&m));
    }
    g_hash_table_remove_all(source->jobs);
}

static void on_ferryd_appeared(GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
    NotifySource *source = data;
    if (g_strcmp0(owner, source->owner) == 0)
        return;
    g_free(source->owner);
    source->owner = g_strdup(owner);
    source->generation++;
    source->libvirt_lost = FALSE;
    if (source->was_present)
        notify_desktop_show(source->desktop, source->service, notify_map_service(TRUE, source->hostname));
    source->was_present = TRUE;
    g_cancellable_cancel(source->reading);
    g_clear_object(&source->reading);
    source->reading = g_cancellable_new();
    /* Straight to the owner: an answer from a later instance would not match. */
    g_dbus_connection_call(bus, owner, FERRY_ROOT_PATH, PROPERTIES_INTERFACE, "GetAll",
                           g_variant_new("(s)", FERRY_MANAGER_INTERFACE), G_VARIANT_TYPE("(a{sv})"),
                           G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MSEC, source->reading, on_manager, source);
}

static void on_ferryd_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
    NotifySource *source = data;
    g_cancellable_cancel(source->reading);
    g_clear_object(&source->reading);
    if (!source->owner) {
        if (!source->was_present && bus)
            g_printerr("virt-ferry-notify: virt-ferryd (%s) is not running%s%s; waiting for it\n", FERRY_BUS_NAME,
                       source->address ? " on " : "", source->address ? source->address : "");
        return;
    }
    g_clear_pointer(&source->owner, g_free);
    source->generation++;
    forget_jobs(source);
    g_hash_table_remove_all(source->reasons);
    notify_desktop_show(source->desktop, source->service, notify_map_service(FALSE, source->hostname));
}

/* ------------------------------------------------------------------ the bus */

static void bus_lost(NotifySource *source, const char *why)
{
    notify_retry_later(&source->retry, why);
}

static void drop_bus(NotifySource *source)
{
    g_clear_handle_id(&source->watch, g_bus_unwatch_name);
    if (source->bus) {
        g_dbus_connection_signal_unsubscribe(source->bus, source->signals);
        source->signals = 0;
        g_signal_handlers_disconnect_by_data(source->bus, source);
        g_clear_object(&source->bus);
    }
}

static void on_bus_closed(GDBusConnection *bus, gboolean remote, GError *error, gpointer data)
{
    NotifySource *source = data;
    drop_bus(source);
    on_ferryd_vanished(NULL, FERRY_BUS_NAME, source);
    bus_lost(source, "the system bus closed the connection");
}

static void on_bus_ready(GObject *object, GAsyncResult *result, gpointer data)
{
    NotifySource *source = data;
    g_autoptr(GError) error = NULL;
    GDBusConnection *bus = g_dbus_connection_new_for_address_finish(result, &error);
    if (!bus) {
        g_autofree char *why = g_strdup_printf("cannot connect to %s: %s",
                                               source->address ? source->address : "the system bus", error->message);
        bus_lost(source, why);
        return;
    }
    source->bus = bus;
    notify_retry_reset(&source->retry);
    g_dbus_connection_set_exit_on_close(bus, FALSE);
    g_signal_connect(bus, "closed", G_CALLBACK(on_bus_closed), source);
    /* Every signal virt-ferryd sends, subscribed before the tree is read so none is missed. */
    source->signals = g_dbus_connection_signal_subscribe(bus, FERRY_BUS_NAME, NULL, NULL, NULL, NULL,
                                                         G_DBUS_SIGNAL_FLAGS_NONE, on_signal, source, NULL);
    source->watch = g_bus_watch_name_on_connection(bus, FERRY_BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_ferryd_appeared, on_ferryd_vanished, source, NULL);
}

static void connect_bus(gpointer data)
{
    NotifySource *source = data;
    g_autoptr(GError) error = NULL;
    g_autofree char *address = source->address ? g_strdup(source->address)
                                               : g_dbus_address_get_for_bus_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (!address) {
        g_autofree char *why = g_strdup_printf("no system bus: %s", error->message);
        bus_lost(source, why);
        return;
    }
    g_dbus_connection_new_for_address(address,
                                      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                          G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                      NULL, NULL, on_bus_ready, source);
}

NotifySource *notify_source_new(NotifyDesktop *desktop, const char *bus_address)
{
    NotifySource *source = g_new0(NotifySource, 1);
    source->desktop = desktop;
    source->address = g_strdup(bus_address);
    source->service = notify_slot_new(NULL, NULL);
    source->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)job_entry_free);
    source->reasons = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    notify_desktop_add_source(desktop, source);
    source->retry.connect = connect_bus;
    source->retry.data = source;
    connect_bus(source);
    return source;
}

void notify_source_free(NotifySource *source)
{
    if (!source)
        return;
    notify_retry_cancel(&source->retry);
    g_cancellable_cancel(source->reading);
    g_clear_object(&source->reading);
    drop_bus(source);
    g_hash_table_unref(source->jobs);
    g_hash_table_unref(source->reasons);
    notify_slot_unref(source->service);
    g_free(source->owner);
    g_free(source->hostname);
    g_free(source->address);
    g_free(source);
}
