/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bus side of virt-ferry: one connection, the generated proxies, the calls. */
#include "cli.h"

#include "ferry-error.h"

/* polkit may ask the user for a password: the call waits for that. */
#define INTERACTIVE_TIMEOUT_MSEC (5 * 60 * 1000)

gboolean cli_connect(CliContext *ctx, GError **error)
{
    if (ctx->bus_address) {
        ctx->bus = g_dbus_connection_new_for_address_sync(
            ctx->bus_address,
            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
            NULL, NULL, error);
        if (!ctx->bus)
            g_prefix_error(error, "cannot connect to the bus at %s: ", ctx->bus_address);
    } else {
        ctx->bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
        if (!ctx->bus)
            g_prefix_error(error, "cannot connect to the system bus: ");
    }
    if (!ctx->bus)
        return FALSE;
    /* The monitor handles a closed connection itself; nothing should raise SIGTERM. */
    g_dbus_connection_set_exit_on_close(ctx->bus, FALSE);
    return TRUE;
}

FerryBusManager *cli_manager(CliContext *ctx, GError **error)
{
    GDBusProxyFlags flags = G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS;
    g_autoptr(FerryBusManager) manager =
        ferry_bus_manager_proxy_new_sync(ctx->bus, flags, FERRY_BUS_NAME, FERRY_ROOT_PATH, NULL, error);
    if (!manager) {
        cli_proxy_failed(error);
        return NULL;
    }
    g_autofree char *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(manager));
    if (!owner) {
        cli_set_not_running(error);
        return NULL;
    }
    return g_steal_pointer(&manager);
}

static gint by_name(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(ferry_bus_domain_get_name((FerryBusDomain *)a), ferry_bus_domain_get_name((FerryBusDomain *)b));
}

GList *cli_domains(CliContext *ctx, GError **error)
{
    g_autoptr(GDBusObjectManager) objects = ferry_bus_object_manager_client_new_sync(
        ctx->bus, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_NONE, FERRY_BUS_NAME, FERRY_ROOT_PATH, NULL, error);
    if (!objects) {
        cli_proxy_failed(error);
        return NULL;
    }
    g_autofree char *owner = g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(objects));
    if (!owner) {
        cli_set_not_running(error);
        return NULL;
    }
    GList *domains = NULL;
    GList *all = g_dbus_object_manager_get_objects(objects);
    for (GList *l = all; l; l = l->next) {
        FerryBusDomain *domain = ferry_bus_object_get_domain(FERRY_BUS_OBJECT(l->data));
        if (domain)
            domains = g_list_prepend(domains, domain);
    }
    g_list_free_full(all, g_object_unref);
    return g_list_sort(domains, by_name);
}

FerryBusDomain *cli_domain(CliContext *ctx, FerryBusManager *manager, const char *name_or_uuid, GError **error)
{
    g_autofree char *path = NULL;
    if (!g_utf8_validate(name_or_uuid, -1, NULL)) {
        g_autofree char *shown = g_strescape(name_or_uuid, NULL);
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "domain \"%s\" is not valid UTF-8", shown);
        return NULL;
    }
    if (!ferry_bus_manager_call_get_domain_sync(manager, name_or_uuid, &path, NULL, error))
        return NULL;
    g_autoptr(FerryBusDomain) domain = ferry_bus_domain_proxy_new_sync(
        ctx->bus, G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS | G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START,
        FERRY_BUS_NAME, path, NULL, error);
    if (!domain)
        return NULL;
    /* The domain went away between GetDomain and reading its properties. */
    if (!ferry_bus_domain_get_name(domain)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND, "domain '%s' is gone", name_or_uuid);
        return NULL;
    }
    return g_steal_pointer(&domain);
}

/* Changing calls may let polkit ask for a password (unless --no-ask-password), so the
 * generated call (no flags) is not enough. */
gboolean cli_set_policy(CliContext *ctx, FerryBusManager *manager, const char *domain, GVariant *policy,
                        GError **error)
{
    GDBusCallFlags flags = ctx->no_ask_password ? G_DBUS_CALL_FLAGS_NONE
                                                : G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION;
    g_autoptr(GVariant) reply = g_dbus_proxy_call_sync(
        G_DBUS_PROXY(manager), "SetDomainPolicy", g_variant_new("(s@a{sv})", domain, policy), flags,
        ctx->no_ask_password ? -1 : INTERACTIVE_TIMEOUT_MSEC, NULL, error);
    return reply != NULL;
}

GVariant *cli_call(CliContext *ctx, const char *path, const char *interface, const char *method,
                   GVariant *parameters, const GVariantType *reply_type, gboolean interactive, GError **error)
{
    gboolean ask = interactive && !ctx->no_ask_password;
    return g_dbus_connection_call_sync(ctx->bus, FERRY_BUS_NAME, path, interface, method, parameters, reply_type,
                                       ask ? G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION
                                           : G_DBUS_CALL_FLAGS_NONE,
                                       ask ? INTERACTIVE_TIMEOUT_MSEC : -1, NULL, error);
}

static void cli_object_free(CliObject *object)
{
    g_free(object->path);
    g_variant_unref(object->properties);
    g_free(object);
}

static gint by_path(gconstpointer a, gconstpointer b)
{
    const CliObject *x = *(CliObject *const *)a, *y = *(CliObject *const *)b;
    return g_strcmp0(x->path, y->path);
}

GPtrArray *cli_objects(CliContext *ctx, const char *interface, GError **error)
{
    g_autoptr(GVariant) reply = cli_call(ctx, FERRY_ROOT_PATH, "org.freedesktop.DBus.ObjectManager",
                                         "GetManagedObjects", NULL, G_VARIANT_TYPE("(a{oa{sa{sv}}})"), FALSE,
                                         error);
    if (!reply)
        return NULL;
    GPtrArray *objects = g_ptr_array_new_with_free_func((GDestroyNotify)cli_object_free);
    g_autoptr(GVariant) all = g_variant_get_child_value(reply, 0);
    GVariantIter iter;
    const char *path;
    GVariant *interfaces;
    g_variant_iter_init(&iter, all);
    while (g_variant_iter_loop(&iter, "{&o@a{sa{sv}}}", &path, &interfaces)) {
        GVariant *properties = g_variant_lookup_value(interfaces, interface, G_VARIANT_TYPE_VARDICT);
        if (!properties)
            continue;
        CliObject *object = g_new0(CliObject, 1);
        object->path = g_strdup(path);
        object->properties = properties;
        g_ptr_array_add(objects, object);
    }
    g_ptr_array_sort(objects, by_path);
    return objects;
}

const char *cli_object_string(const CliObject *object, const char *name)
{
    const char *value = NULL;
    return g_variant_lookup(object->properties, name, "&s", &value) ? value : NULL;
}
