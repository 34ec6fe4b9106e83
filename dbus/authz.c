/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One authorization helper for every method: root is allowed as it is (as systemd's own
 * services do, so that root manages a host whose polkitd is down); anyone else's call asks
 * polkit with canonical details, and the method goes on, with its invocation, once polkit
 * said yes. */
#include "daemon.h"

#include "errors.h"

#include <polkit/polkit.h>

struct _FerrydAuthz {
    PolkitAuthority *authority; /* NULL until the first check got it */
    GCancellable *cancellable;
};

typedef struct {
    FerrydDaemon *daemon;
    GDBusMethodInvocation *invocation; /* its parameters are the method's arguments */
    char *action_id;
    char *uuid;
    PolkitDetails *details;
    FerrydAuthorizedFunc authorized;
} Check;

static void check_free(Check *c)
{
    g_object_unref(c->invocation);
    g_free(c->action_id);
    g_free(c->uuid);
    g_object_unref(c->details);
    g_free(c);
}

static void deny(GDBusMethodInvocation *invocation, const char *action_id, const char *why)
{
    g_autofree char *message = g_strdup_printf(
        "not authorized for %s (%s); run it as root or ask an administrator to grant that "
        "polkit action", action_id, why);
    g_dbus_method_invocation_return_dbus_error(invocation, FERRY_DBUS_ACCESS_DENIED, message);
}

static void check_done(GObject *source, GAsyncResult *res, gpointer data)
{
    Check *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(PolkitAuthorizationResult) result =
        polkit_authority_check_authorization_finish(POLKIT_AUTHORITY(source), res, &error);
    if (!result) {
        g_dbus_error_strip_remote_error(error);
        g_autofree char *why = g_strdup_printf("polkit failed: %s", error->message);
        deny(c->invocation, c->action_id, why);
    } else if (polkit_authorization_result_get_is_authorized(result)) {
        c->authorized(c->daemon, c->invocation, c->uuid);
    } else {
        deny(c->invocation, c->action_id,
             polkit_authorization_result_get_is_challenge(result)
                 ? "authentication is required and the call did not allow interaction"
                 : "polkit said no");
    }
    check_free(c);
}

static void start_check(Check *c)
{
    g_autoptr(PolkitSubject) subject =
        polkit_system_bus_name_new(g_dbus_method_invocation_get_sender(c->invocation));
    PolkitCheckAuthorizationFlags flags = POLKIT_CHECK_AUTHORIZATION_FLAGS_NONE;
    if (g_dbus_message_get_flags(g_dbus_method_invocation_get_message(c->invocation)) &
        G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION)
        flags |= POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION;
    polkit_authority_check_authorization(c->daemon->authz->authority, subject, c->action_id, c->details,
                                         flags, c->daemon->authz->cancellable, check_done, c);
}

/* The first check of the daemon's life waits for the authority proxy, asynchronously too. */
static void authority_ready(GObject *source, GAsyncResult *res, gpointer data)
{
    Check *c = data;
    g_autoptr(GError) error = NULL;
    PolkitAuthority *authority = polkit_authority_get_finish(res, &error);
    if (!authority) {
        g_dbus_error_strip_remote_error(error);
        g_autofree char *why = g_strdup_printf("polkit is not available: %s", error->message);
        deny(c->invocation, c->action_id, why);
        check_free(c);
        return;
    }
    if (!c->daemon->authz->authority)
        c->daemon->authz->authority = g_object_ref(authority);
    g_object_unref(authority);
    start_check(c);
}

static void ask_polkit(Check *c)
{
    if (c->daemon->authz->authority)
        start_check(c);
    else
        polkit_authority_get_async(c->daemon->authz->cancellable, authority_ready, c);
}

/* The bus daemon vouches for the caller's uid (it read the peer's credentials when the
 * caller connected); a caller that left meanwhile, or a bus that cannot say, goes to polkit,
 * which then refuses or decides as it would have. */
static void caller_uid_done(GObject *source, GAsyncResult *res, gpointer data)
{
    Check *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    guint32 uid = G_MAXUINT32;
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) { /* virt-ferryd is stopping */
        deny(c->invocation, c->action_id, "virt-ferryd is stopping");
        check_free(c);
        return;
    }
    if (reply)
        g_variant_get(reply, "(u)", &uid);
    if (uid == 0) {
        c->authorized(c->daemon, c->invocation, c->uuid);
        check_free(c);
        return;
    }
    ask_polkit(c);
}

static void ask_caller_uid(Check *c)
{
    g_dbus_connection_call(g_dbus_method_invocation_get_connection(c->invocation), "org.freedesktop.DBus",
                           "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser",
                           g_variant_new("(s)", g_dbus_method_invocation_get_sender(c->invocation)),
                           G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, c->daemon->authz->cancellable,
                           caller_uid_done, c);
}

void ferryd_authorize(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *action_id,
                      const char *target, const char *uuid, const char *verb, FerrydAuthorizedFunc authorized)
{
    Check *c = g_new0(Check, 1);
    c->daemon = daemon;
    c->invocation = g_object_ref(invocation);
    c->action_id = g_strdup(action_id);
    c->uuid = g_strdup(uuid);
    c->authorized = authorized;
    c->details = polkit_details_new();
    if (target)
        polkit_details_insert(c->details, "domain", target);
    if (uuid)
        polkit_details_insert(c->details, "uuid", uuid);
    if (verb)
        polkit_details_insert(c->details, "verb", verb);

    ask_caller_uid(c);
}

void ferryd_authorize_domain(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *action_id,
                             const char *name_or_uuid, const char *verb, FerrydAuthorizedFunc authorized)
{
    /* A rule keyed on a domain's name must hold whichever of its names the caller used. */
    g_autoptr(GError) error = NULL;
    const FerryDomainInfo *info = ferry_inventory_lookup(daemon->inventory, name_or_uuid, &error);
    if (!info) {
        g_dbus_method_invocation_return_gerror(invocation, error);
        return;
    }
    ferryd_authorize(daemon, invocation, action_id, info->name, info->uuid, verb, authorized);
}

FerrydAuthz *ferryd_authz_new(void)
{
    FerrydAuthz *authz = g_new0(FerrydAuthz, 1);
    authz->cancellable = g_cancellable_new();
    return authz;
}

void ferryd_authz_free(FerrydAuthz *authz)
{
    if (!authz)
        return;
    g_cancellable_cancel(authz->cancellable);
    g_clear_object(&authz->cancellable);
    g_clear_object(&authz->authority);
    g_free(authz);
}
