/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "policy.h"

#include "ferry-error.h"
#include "names.h"
#include "xml-read.h"

#include <libxml/tree.h>
#include <string.h>

FerryPolicy *ferry_policy_new(void)
{
    FerryPolicy *p = g_new0(FerryPolicy, 1);
    p->pin = g_new0(char *, 1);
    p->depends = g_new0(char *, 1);
    return p;
}

FerryPolicy *ferry_policy_copy(const FerryPolicy *src)
{
    FerryPolicy *p = g_new0(FerryPolicy, 1);
    *p = *src;
    p->eq = g_strdup(src->eq);
    p->ne = g_strdup(src->ne);
    p->pin = g_strdupv(src->pin);
    p->depends = g_strdupv(src->depends);
    return p;
}

void ferry_policy_free(FerryPolicy *p)
{
    if (!p)
        return;
    g_free(p->eq);
    g_free(p->ne);
    g_strfreev(p->pin);
    g_strfreev(p->depends);
    g_free(p);
}

gboolean ferry_policy_equal(const FerryPolicy *a, const FerryPolicy *b)
{
    return a->hold == b->hold && a->no_migrate == b->no_migrate && a->unmanaged == b->unmanaged &&
           a->maintenance == b->maintenance &&
           g_strcmp0(a->eq, b->eq) == 0 && g_strcmp0(a->ne, b->ne) == 0 &&
           a->priority == b->priority && g_strv_equal((const char *const *)a->pin, (const char *const *)b->pin) &&
           g_strv_equal((const char *const *)a->depends, (const char *const *)b->depends);
}

gboolean ferry_policy_is_empty(const FerryPolicy *p)
{
    g_autoptr(FerryPolicy) empty = ferry_policy_new();
    return ferry_policy_equal(p, empty);
}

/* ------------------------------------------------------------------ validation */

typedef gboolean (*NameCheck)(const char *name, const char *what, GError **error);

static gboolean check_list(const char *const *items, const char *key, NameCheck check, GError **error)
{
    guint n = g_strv_length((char **)items);
    if (n > FERRY_POLICY_LIST_MAX) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "policy key '%s' lists %u entries, at most %d are allowed", key, n,
                    FERRY_POLICY_LIST_MAX);
        return FALSE;
    }
    g_autofree char *what = g_strdup_printf("policy key '%s': entry", key);
    for (guint i = 0; i < n; i++) {
        if (!check(items[i], what, error))
            return FALSE;
        for (guint j = 0; j < i; j++)
            if (g_str_equal(items[i], items[j])) {
                g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                            "policy key '%s' lists \"%s\" twice", key, items[i]);
                return FALSE;
            }
    }
    return TRUE;
}

static gboolean check_priority(gint64 value, GError **error)
{
    if (value < FERRY_PRIORITY_MIN || value > FERRY_PRIORITY_MAX) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "policy key 'priority' is %" G_GINT64_FORMAT ", it must be between %d and %d",
                    value, FERRY_PRIORITY_MIN, FERRY_PRIORITY_MAX);
        return FALSE;
    }
    return TRUE;
}

/* An empty group clears it; anything else must be a valid group name. */
static gboolean check_group(const char *group, const char *key, GError **error)
{
    g_autofree char *what = g_strdup_printf("policy key '%s': group", key);
    return !*group || ferry_check_group_name(group, what, error);
}

/* ------------------------------------------------------------------ a{sv} */

static gboolean apply_key(FerryPolicy *p, FerryPolicyKeyId key, GVariant *value, GError **error)
{
    switch (key) {
    case FERRY_POLICY_KEY_HOLD:
        p->hold = g_variant_get_boolean(value);
        return TRUE;
    case FERRY_POLICY_KEY_NO_MIGRATE:
        p->no_migrate = g_variant_get_boolean(value);
        return TRUE;
    case FERRY_POLICY_KEY_UNMANAGED:
        p->unmanaged = g_variant_get_boolean(value);
        return TRUE;
    case FERRY_POLICY_KEY_MAINTENANCE:
        p->maintenance = g_variant_get_boolean(value);
        return TRUE;
    case FERRY_POLICY_KEY_EQ:
    case FERRY_POLICY_KEY_NE: {
        const char *group = g_variant_get_string(value, NULL);
        if (!check_group(group, ferry_policy_keys[key].name, error))
            return FALSE;
        char **slot = key == FERRY_POLICY_KEY_EQ ? &p->eq : &p->ne;
        g_free(*slot);
        *slot = *group ? g_strdup(group) : NULL;
        return TRUE;
    }
    case FERRY_POLICY_KEY_PRIORITY:
        if (!check_priority(g_variant_get_int32(value), error))
            return FALSE;
        p->priority = g_variant_get_int32(value);
        return TRUE;
    case FERRY_POLICY_KEY_PIN:
    case FERRY_POLICY_KEY_DEPENDS: {
        g_autofree const char **items = g_variant_get_strv(value, NULL);
        NameCheck check = key == FERRY_POLICY_KEY_PIN ? ferry_check_host_name : ferry_check_domain_name;
        if (!check_list(items, ferry_policy_keys[key].name, check, error))
            return FALSE;
        GStrv *slot = key == FERRY_POLICY_KEY_PIN ? &p->pin : &p->depends;
        g_strfreev(*slot);
        *slot = g_strdupv((char **)items);
        return TRUE;
    }
    case FERRY_POLICY_N_KEYS:
        break;
    }
    g_assert_not_reached();
}

gboolean ferry_policy_update(FerryPolicy *policy, GVariant *changes, GError **error)
{
    if (!g_variant_is_of_type(changes, G_VARIANT_TYPE_VARDICT)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "a policy is an a{sv} dictionary, not %s", g_variant_get_type_string(changes));
        return FALSE;
    }
    /* Work on a copy so that a bad key anywhere leaves the policy untouched. */
    g_autoptr(FerryPolicy) updated = ferry_policy_copy(policy);
    GVariantIter iter;
    const char *name;
    GVariant *boxed;
    g_variant_iter_init(&iter, changes);
    while (g_variant_iter_loop(&iter, "{&sv}", &name, &boxed)) {
        const FerryPolicyKey *found = ferry_policy_key_find(name);
        if (!found) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                        "unknown policy key '%s'; the keys are %s", name, ferry_policy_key_names());
            g_variant_unref(boxed);
            return FALSE;
        }
        if (!g_variant_is_of_type(boxed, G_VARIANT_TYPE(found->type))) {
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                        "policy key '%s' takes type '%s', not '%s'", name, found->type,
                        g_variant_get_type_string(boxed));
            g_variant_unref(boxed);
            return FALSE;
        }
        if (!apply_key(updated, (FerryPolicyKeyId)(found - ferry_policy_keys), boxed, error)) {
            g_variant_unref(boxed);
            return FALSE;
        }
    }
    FerryPolicy tmp = *policy;
    *policy = *updated;
    *updated = tmp; /* the old contents are freed with @updated */
    return TRUE;
}

/* @value under its key's name (ferry_policy_keys), so that the a{sv} spells each key once. */
static void add_key(GVariantBuilder *b, FerryPolicyKeyId key, GVariant *value)
{
    g_variant_builder_add(b, "{sv}", ferry_policy_keys[key].name, value);
}

GVariant *ferry_policy_to_variant(const FerryPolicy *p)
{
    GVariantBuilder b;
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    if (p->hold)
        add_key(&b, FERRY_POLICY_KEY_HOLD, g_variant_new_boolean(TRUE));
    if (p->no_migrate)
        add_key(&b, FERRY_POLICY_KEY_NO_MIGRATE, g_variant_new_boolean(TRUE));
    if (p->eq)
        add_key(&b, FERRY_POLICY_KEY_EQ, g_variant_new_string(p->eq));
    if (p->ne)
        add_key(&b, FERRY_POLICY_KEY_NE, g_variant_new_string(p->ne));
    if (p->pin[0])
        add_key(&b, FERRY_POLICY_KEY_PIN, g_variant_new_strv((const char *const *)p->pin, -1));
    if (p->priority)
        add_key(&b, FERRY_POLICY_KEY_PRIORITY, g_variant_new_int32(p->priority));
    if (p->depends[0])
        add_key(&b, FERRY_POLICY_KEY_DEPENDS, g_variant_new_strv((const char *const *)p->depends, -1));
    if (p->unmanaged)
        add_key(&b, FERRY_POLICY_KEY_UNMANAGED, g_variant_new_boolean(TRUE));
    if (p->maintenance)
        add_key(&b, FERRY_POLICY_KEY_MAINTENANCE, g_variant_new_boolean(TRUE));
    return g_variant_builder_end(&b);
}

/* ------------------------------------------------------------------ XML */

static char *attribute(xmlNodePtr node, const char *name)
{
    xmlChar *value = xmlGetProp(node, (const xmlChar *)name);
    char *copy = value ? g_strdup((const char *)value) : NULL;
    xmlFree(value);
    return copy;
}

static gboolean element_is(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && g_str_equal((const char *)node->name, name);
}

static gboolean parse_error(GError **error, const char *element, const char *why)
{
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                "the domain's virt-ferry policy metadata is wrong: <%s> %s", element, why);
    return FALSE;
}

static gboolean parse_child(FerryPolicy *p, xmlNodePtr child, GPtrArray *pin, GPtrArray *depends,
                            GError **error)
{
    const char *name = (const char *)child->name;
    if (g_str_equal(name, "hold"))
        p->hold = TRUE;
    else if (g_str_equal(name, "no-migrate"))
        p->no_migrate = TRUE;
    else if (g_str_equal(name, "unmanaged"))
        p->unmanaged = TRUE;
    else if (g_str_equal(name, "maintenance"))
        p->maintenance = TRUE;
    else if (g_str_equal(name, "eq") || g_str_equal(name, "ne")) {
        g_autofree char *group = attribute(child, "group");
        if (!group || !check_group(group, name, error))
            return group ? FALSE : parse_error(error, name, "needs a group attribute");
        char **slot = name[0] == 'e' ? &p->eq : &p->ne;
        g_free(*slot);
        *slot = *group ? g_steal_pointer(&group) : NULL;
    } else if (g_str_equal(name, "pin") || g_str_equal(name, "depends")) {
        gboolean is_pin = name[0] == 'p';
        char *value = attribute(child, is_pin ? "host" : "on");
        if (!value)
            return parse_error(error, name, is_pin ? "needs a host attribute" : "needs an on attribute");
        g_ptr_array_add(is_pin ? pin : depends, value);
    } else if (g_str_equal(name, "priority")) {
        g_autofree char *value = attribute(child, "value");
        gint64 prio;
        if (!value || !g_ascii_string_to_signed(value, 10, G_MININT32, G_MAXINT32, &prio, NULL))
            return parse_error(error, name, "needs an integer value attribute");
        if (!check_priority(prio, error))
            return FALSE;
        p->priority = (int)prio;
    }
    /* Anything else comes from a newer virt-ferry: keep going. */
    return TRUE;
}

static GStrv steal_strv(GPtrArray *array)
{
    g_ptr_array_add(array, NULL);
    return (GStrv)g_ptr_array_free(array, FALSE);
}

FerryPolicy *ferry_policy_parse(const char *xml, GError **error)
{
    g_autoptr(FerryPolicy) p = ferry_policy_new();
    if (!xml || !*xml)
        return g_steal_pointer(&p);

    xmlDocPtr doc = ferry_xml_read(xml, "the domain's virt-ferry policy metadata", "policy.xml", error);
    if (!doc)
        return NULL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || !element_is(root, "policy")) {
        /* The name lives in the document: said before the document goes. */
        parse_error(error, root ? (const char *)root->name : "(none)", "is not a <policy> element");
        xmlFreeDoc(doc);
        return NULL;
    }
    g_autoptr(GPtrArray) pin = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) depends = g_ptr_array_new_with_free_func(g_free);
    for (xmlNodePtr child = root->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE && !parse_child(p, child, pin, depends, error)) {
            xmlFreeDoc(doc);
            return NULL;
        }
    }
    xmlFreeDoc(doc);
    g_strfreev(p->pin);
    g_strfreev(p->depends);
    p->pin = steal_strv(g_steal_pointer(&pin));
    p->depends = steal_strv(g_steal_pointer(&depends));
    if (!check_list((const char *const *)p->pin, "pin", ferry_check_host_name, error) ||
        !check_list((const char *const *)p->depends, "depends", ferry_check_domain_name, error))
        return NULL;
    return g_steal_pointer(&p);
}

static void add_element(xmlNodePtr root, const char *name, const char *attr, const char *value)
{
    xmlNodePtr node = xmlNewChild(root, NULL, (const xmlChar *)name, NULL);
    if (attr)
        xmlNewProp(node, (const xmlChar *)attr, (const xmlChar *)value);
}

char *ferry_policy_to_xml(const FerryPolicy *p)
{
    if (ferry_policy_is_empty(p))
        return NULL;
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root = xmlNewNode(NULL, (const xmlChar *)"policy");
    xmlDocSetRootElement(doc, root);
    if (p->hold)
        add_element(root, "hold", NULL, NULL);
    if (p->no_migrate)
        add_element(root, "no-migrate", NULL, NULL);
    if (p->eq)
        add_element(root, "eq", "group", p->eq);
    if (p->ne)
        add_element(root, "ne", "group", p->ne);
    for (char **h = p->pin; *h; h++)
        add_element(root, "pin", "host", *h);
    if (p->priority) {
        char value[16];
        g_snprintf(value, sizeof value, "%d", p->priority);
        add_element(root, "priority", "value", value);
    }
    for (char **d = p->depends; *d; d++)
        add_element(root, "depends", "on", *d);
    if (p->unmanaged)
        add_element(root, "unmanaged", NULL, NULL);
    if (p->maintenance)
        add_element(root, "maintenance", NULL, NULL);

    char *xml = ferry_xml_node_string(doc, root);
    xmlFreeDoc(doc);
    return xml;
}
