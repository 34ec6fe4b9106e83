#include "authz.h"

#include "errors.h"

#include <polkit/polkit.h>

struct _FerryAuthz {
    PolkitAuthority *authority; /* NULL until the first check got it */
    GCancellable *cancellable;
};

typedef struct {
    FerryAuthz *authz;
    GDBusMethodInvocation *invocation;
    char *action_id;
    PolkitDetails *details;
    FerryAuthorizedFunc authorized;
    gpointer user_data;
    GDestroyNotify destroy;
} Check;

static void check_free(Check *c)
{
    g_object_unref(c->invocation);
    g_free(c->action_id);
    g_object_unref(c->details);
    if (c->destroy)
        c->destroy(c->user_data);
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
        c->authorized(c->invocation, c->user_data);
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
    polkit_authority_check_authorization(c->authz->authority, subject, c->action_id, c->details,
                                         flags, c->authz->cancellable, check_done, c);
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
    if (!c->authz->authority)
        c->authz->authority = g_object_ref(authority);
    g_object_unref(authority);
    start_check(c);
}

void ferry_authorize(FerryAuthz *authz, GDBusMethodInvocation *invocation, const char *action_id,
                     const char *domain, const char *verb, FerryAuthorizedFunc authorized,
                     gpointer user_data, GDestroyNotify destroy)
{
    Check *c = g_new0(Check, 1);
    c->authz = authz;
    c->invocation = g_object_ref(invocation);
    c->action_id = g_strdup(action_id);
    c->authorized = authorized;
    c->user_data = user_data;
    c->destroy = destroy;
    c->details = polkit_details_new();
    if (domain)
        polkit_details_insert(c->details, "domain", domain);
    if (verb)
        polkit_details_insert(c->details, "verb", verb);

    if (authz->authority)
        start_check(c);
    else
        polkit_authority_get_async(authz->cancellable, authority_ready, c);
}

FerryAuthz *ferry_authz_new(void)
{
    FerryAuthz *authz = g_new0(FerryAuthz, 1);
    authz->cancellable = g_cancellable_new();
    return authz;
}

void ferry_authz_free(FerryAuthz *authz)
{
    if (!authz)
        return;
    g_cancellable_cancel(authz->cancellable);
    g_clear_object(&authz->cancellable);
    g_clear_object(&authz->authority);
    g_free(authz);
}
