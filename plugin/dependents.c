/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* reboot_dependents (see dependents.h). */
#include "dependents.h"

#include "ferry-names.h"
#include "libvirt-autoptr.h"
#include "libvirt-error.h"

#include <libvirt/virterror.h>

GArray *ferry_dependents_select(const char *moved, const FerryDependent *candidates, guint n,
                                const char *const *restarted_later)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(FerryDependentChoice));
    for (guint i = 0; i < n; i++) {
        const FerryDependent *c = &candidates[i];
        if (!c->running || !c->policy || g_str_equal(c->name, moved) ||
            !g_strv_contains((const char *const *)c->policy->depends, moved))
            continue;
        FerryDependentChoice choice = { i, FERRY_DEPENDENT_REBOOT };
        if (c->policy->maintenance)
            choice.verdict = FERRY_DEPENDENT_MAINTENANCE;
        else if (restarted_later && g_strv_contains(restarted_later, c->name))
            choice.verdict = FERRY_DEPENDENT_OWN_MOVE;
        g_array_append_val(out, choice);
    }
    return out;
}

struct _FerryDependents {
    GArray *items;      /* FerryDependent, owning its strings and policy */
};

FerryDependents *ferry_dependents_new(void)
{
    FerryDependents *d = g_new0(FerryDependents, 1);
    d->items = g_array_new(FALSE, FALSE, sizeof(FerryDependent));
    return d;
}

void ferry_dependents_free(FerryDependents *d)
{
    if (!d)
        return;
    for (guint i = 0; i < d->items->len; i++) {
        FerryDependent *c = &g_array_index(d->items, FerryDependent, i);
        g_free((char *)c->name);
        g_free((char *)c->host);
        ferry_policy_free((FerryPolicy *)c->policy);
    }
    g_array_unref(d->items);
    g_free(d);
}

const FerryDependent *ferry_dependents_get(FerryDependents *d, guint *n)
{
    *n = d->items->len;
    return (const FerryDependent *)(void *)d->items->data;
}

gboolean ferry_dependents_read(FerryDependents *into, virConnectPtr conn, const char *host, GError **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0)
        return ferry_error_from_libvirt(error, "cannot list the domains of %s", host);
    for (int i = 0; i < n; i++) {
        g_autoptr(virDomain) dom = doms[i];
        g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS,
                                                    VIR_DOMAIN_AFFECT_CURRENT);
        virResetLastError(); /* no policy set */
        g_autoptr(GError) local = NULL;
        g_autoptr(FerryPolicy) policy = ferry_policy_parse(xml, &local);
        const char *name = virDomainGetName(dom);
        if (!policy || !name) {
            g_warning("reboot_dependents: the policy of %s on %s is unreadable (%s); not a dependent", name, host,
                      local ? local->message : "no name");
            continue;
        }
        FerryDependent c = { g_strdup(name), g_strdup(host), virDomainIsActive(dom) == 1, g_steal_pointer(&policy) };
        g_array_append_val(into->items, c);
    }
    virResetLastError();
    g_free(doms);
    return TRUE;
}

gboolean ferry_dependent_reboot(virConnectPtr conn, const char *name, guint timeout_s, GError **error)
{
    g_autoptr(virDomain) dom = virDomainLookupByName(conn, name);
    if (!dom)
        return ferry_error_from_libvirt(error, "%s is gone", name);
    if (virDomainShutdown(dom) < 0)
        virResetLastError(); /* no ACPI, no agent: the timeout forces it off */
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
    while (virDomainIsActive(dom) == 1 && g_get_monotonic_time() < deadline)
        g_usleep(250 * 1000);
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 && virDomainIsActive(dom) == 1)
        return ferry_error_from_libvirt(error, "cannot stop %s", name);
    if (virDomainCreate(dom) < 0)
        return ferry_error_from_libvirt(error, "%s was stopped and does not start again", name);
    return TRUE;
}
