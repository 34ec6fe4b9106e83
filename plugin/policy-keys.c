/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The policy's keys: the one table virt-ferryd applies a{sv} changes with (policy.c) and
 * virt-ferry parses KEY=VALUE with (tools/cli-policy.c). GLib only, apart from policy.c,
 * so that the CLI links it without libxml2. */
#include "policy.h"

const FerryPolicyKey ferry_policy_keys[FERRY_POLICY_N_KEYS] = {
    [FERRY_POLICY_KEY_HOLD] = { "hold", "b" },
    [FERRY_POLICY_KEY_NO_MIGRATE] = { "no_migrate", "b" },
    [FERRY_POLICY_KEY_EQ] = { "eq", "s" },
    [FERRY_POLICY_KEY_NE] = { "ne", "s" },
    [FERRY_POLICY_KEY_PIN] = { "pin", "as" },
    [FERRY_POLICY_KEY_PRIORITY] = { "priority", "i" },
    [FERRY_POLICY_KEY_DEPENDS] = { "depends", "as" },
    [FERRY_POLICY_KEY_UNMANAGED] = { "unmanaged", "b" },
    [FERRY_POLICY_KEY_MAINTENANCE] = { "maintenance", "b" },
};

const FerryPolicyKey *ferry_policy_key_find(const char *name)
{
    for (gsize i = 0; i < FERRY_POLICY_N_KEYS; i++)
        if (g_str_equal(ferry_policy_keys[i].name, name))
            return &ferry_policy_keys[i];
    return NULL;
}

const char *ferry_policy_key_names(void)
{
    static gsize done;
    static char *names;
    if (g_once_init_enter(&done)) {
        GString *list = g_string_new(NULL);
        for (gsize i = 0; i < FERRY_POLICY_N_KEYS; i++)
            g_string_append_printf(list, "%s%s", i ? ", " : "", ferry_policy_keys[i].name);
        names = g_string_free(list, FALSE);
        g_once_init_leave(&done, 1);
    }
    return names;
}
