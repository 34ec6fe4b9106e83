/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host's domain inventory: a connection to the local libvirtd that survives libvirtd
 * restarts (keepalive, reconnect, full resync), kept current from libvirt's events. */
#pragma once

#include <gio/gio.h>

#include "policy.h"
#include "state.h"

G_BEGIN_DECLS

#define FERRY_UUID_LEN 36

typedef struct {
    char *name;
    char uuid[FERRY_UUID_LEN + 1];
    FerryState state;
    char *reason;              /* "paused:user" */
    gboolean persistent;
    gboolean pending_deletion;
    char *archive_id;          /* the archive that left it pending deletion, or NULL */
    FerryPolicy *policy;       /* never NULL */
    char *policy_problem;      /* metadata that did not parse, or NULL */
} FerryDomainInfo;

void ferry_domain_info_free(FerryDomainInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryDomainInfo, ferry_domain_info_free)

typedef struct _FerryInventory FerryInventory;

/* Called in the main context. For domain_changed, @old is the previous snapshot (the
 * name may differ after a rename). */
typedef struct {
    void (*domain_added)(const FerryDomainInfo *domain, gpointer user_data);
    void (*domain_changed)(const FerryDomainInfo *old, const FerryDomainInfo *domain, gpointer user_data);
    void (*domain_removed)(const FerryDomainInfo *domain, gpointer user_data);
    void (*connection_changed)(gboolean connected, const char *detail, gpointer user_data);
    /* A network was defined, started, stopped or undefined. */
    void (*networks_changed)(gpointer user_data);
} FerryInventoryCallbacks;

/* Registers libvirt-glib's event loop implementation (once per process); call before
 * any libvirt connection is opened. */
void ferry_libvirt_event_loop_init(void);

FerryInventory *ferry_inventory_new(const char *uri, const FerryInventoryCallbacks *callbacks,
                                    gpointer user_data);
void ferry_inventory_free(FerryInventory *inventory);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryInventory, ferry_inventory_free)

/* Starts connecting; the callbacks report from then on. */
void ferry_inventory_start(FerryInventory *inventory);
/* Publishes every domain's definition and state under @dir/<host name> as it changes, for
 * failover (failover.h). Call before ferry_inventory_start. */
void ferry_inventory_publish_to(FerryInventory *inventory, const char *dir);
/* Tags the NICs hot-plugged into running domains on the standard-switch VLANs that
 * @networks_dir declares, or unplugs them (nictag.h). Call before ferry_inventory_start. */
void ferry_inventory_tag_hotplugged_nics(FerryInventory *inventory, const char *networks_dir);
/* Tries to connect at once instead of waiting for the next retry (libvirtd just started). */
void ferry_inventory_reconnect_now(FerryInventory *inventory);

gboolean ferry_inventory_is_connected(FerryInventory *inventory);
/* libvirtd's host name, or the local one while never connected. */
const char *ferry_inventory_hostname(FerryInventory *inventory);

/* By name or UUID; NULL with a NotFound or InvalidArgument error. */
const FerryDomainInfo *ferry_inventory_lookup(FerryInventory *inventory, const char *name_or_uuid,
                                              GError **error);

/* Merges @changes (a{sv}, see ferry_policy_update) into the domain's policy metadata,
 * through libvirt, live and persistent as the domain has them. */
void ferry_inventory_set_policy_async(FerryInventory *inventory, const char *name_or_uuid,
                                      GVariant *changes, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
gboolean ferry_inventory_set_policy_finish(FerryInventory *inventory, GAsyncResult *result,
                                           GError **error);

G_END_DECLS
