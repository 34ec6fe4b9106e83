/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-domain policy, kept in the domain's metadata (org.virtferry.Ferry1(5)) so that it travels with
 * migrations and archives. */
#pragma once

#include <glib.h>

#include "ferry-names.h"

G_BEGIN_DECLS

#define FERRY_POLICY_PREFIX "ferry"
#define FERRY_PRIORITY_MIN (-1000)
#define FERRY_PRIORITY_MAX 1000
#define FERRY_POLICY_LIST_MAX 256

/* The keys of a policy's a{sv} (SetDomainPolicy), in plugin/policy-keys.c. */
typedef enum {
    FERRY_POLICY_KEY_HOLD,
    FERRY_POLICY_KEY_NO_MIGRATE,
    FERRY_POLICY_KEY_EQ,
    FERRY_POLICY_KEY_NE,
    FERRY_POLICY_KEY_PIN,
    FERRY_POLICY_KEY_PRIORITY,
    FERRY_POLICY_KEY_DEPENDS,
    FERRY_POLICY_KEY_UNMANAGED,
    FERRY_POLICY_KEY_MAINTENANCE,
    FERRY_POLICY_N_KEYS
} FerryPolicyKeyId;

typedef struct {
    const char *name; /* the a{sv} key */
    const char *type; /* its GVariant type */
} FerryPolicyKey;

extern const FerryPolicyKey ferry_policy_keys[FERRY_POLICY_N_KEYS];
/* The key called @name, or NULL. */
const FerryPolicyKey *ferry_policy_key_find(const char *name);
/* "hold, no_migrate, ...": every key, for messages that list them. */
const char *ferry_policy_key_names(void);

typedef struct {
    gboolean hold;
    gboolean no_migrate;
    gboolean unmanaged;
    gboolean maintenance; /* the domain itself is under maintenance: evacuation leaves it (D4: warning) */
    char *eq;       /* NULL: none */
    char *ne;
    GStrv pin;      /* never NULL; empty: any host */
    int priority;
    GStrv depends;  /* never NULL */
} FerryPolicy;

FerryPolicy *ferry_policy_new(void);
FerryPolicy *ferry_policy_copy(const FerryPolicy *policy);
void ferry_policy_free(FerryPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryPolicy, ferry_policy_free)

gboolean ferry_policy_equal(const FerryPolicy *a, const FerryPolicy *b);
gboolean ferry_policy_is_empty(const FerryPolicy *policy);

/* Parses the <policy> element that virDomainGetMetadata returns (NULL or "" gives the
 * empty policy). Elements it does not know are skipped, values that do not validate
 * are an error. */
FerryPolicy *ferry_policy_parse(const char *xml, GError **error);

/* The element for virDomainSetMetadata (libvirt adds the namespace); NULL for the
 * empty policy, which removes the metadata. */
char *ferry_policy_to_xml(const FerryPolicy *policy);

/* Applies the keys of an a{sv} (hold b, no_migrate b, eq s, ne s, pin as, priority i,
 * depends as, unmanaged b, maintenance b). Either every key validates and all are applied, or
 * @policy is left as it was and @error says which key is wrong and why. */
gboolean ferry_policy_update(FerryPolicy *policy, GVariant *changes, GError **error);

/* The policy as a{sv}, holding only the keys that differ from the empty policy. */
GVariant *ferry_policy_to_variant(const FerryPolicy *policy);

G_END_DECLS
