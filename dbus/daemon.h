/* virt-ferryd: the pieces the D-Bus side shares. */
#pragma once

#include <gio/gio.h>

#include "authz.h"
#include "config.h"
#include "ferry-generated.h"
#include "health.h"
#include "inventory.h"

#define FERRY_BUS_NAME "org.virtferry.Ferry1"
#define FERRY_ROOT_PATH "/org/virtferry/Ferry1"
#define FERRY_DOMAIN_PATH FERRY_ROOT_PATH "/domain"

typedef struct {
    FerryConfig *config;
    FerryInventory *inventory;
    FerryHealth *health;
    FerryAuthz *authz;
    GDBusConnection *bus;
    GDBusObjectManagerServer *objects;
    FerryManager *manager;        /* skeleton at FERRY_ROOT_PATH */
    FerryHook *hook;              /* skeleton at FERRY_ROOT_PATH */
    GHashTable *domain_objects;   /* uuid -> FerryObjectSkeleton */
} FerryDaemon;

/* domains.c: one org.virtferry.Ferry1.Domain object per inventory entry. */
extern const FerryInventoryCallbacks ferry_daemon_inventory_callbacks;
char *ferry_domain_object_path(const char *name);

/* manager.c */
void ferry_manager_setup(FerryDaemon *daemon);
void ferry_manager_update_connection(FerryDaemon *daemon);
void ferry_manager_update_health(GVariant *health, gpointer daemon);

/* hook.c */
void ferry_hook_setup(FerryDaemon *daemon);
