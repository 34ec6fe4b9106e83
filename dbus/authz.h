/* polkit, asynchronously: no thread waits while polkit (or the user at an agent) decides. */
#pragma once

#include <gio/gio.h>

typedef struct _FerryAuthz FerryAuthz;

FerryAuthz *ferry_authz_new(void);
void ferry_authz_free(FerryAuthz *authz);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryAuthz, ferry_authz_free)

typedef void (*FerryAuthorizedFunc)(GDBusMethodInvocation *invocation, gpointer user_data);

/* Asks polkit whether the caller of @invocation may perform @action_id (details: domain,
 * verb). Calls @authorized if so; otherwise answers the call with AccessDenied itself.
 * @user_data is freed with @destroy either way. */
void ferry_authorize(FerryAuthz *authz, GDBusMethodInvocation *invocation, const char *action_id,
                     const char *domain, const char *verb, FerryAuthorizedFunc authorized,
                     gpointer user_data, GDestroyNotify destroy);
