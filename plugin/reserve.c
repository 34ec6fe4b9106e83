/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cluster reserve: see reserve.h for what is decided and why. Each combination of failed
 * hosts becomes one placement input (the failed hosts together as its source), so the
 * rules are placement's own. */
#include "reserve.h"

#include "ferry-error.h"

#include <string.h>

/* How many no-place domains a reason names before "and N more". */
#define REASON_DOMAINS_MAX 3

void ferry_reserve_result_clear(FerryReserveResult *result)
{
    g_clear_pointer(&result->failed, g_strfreev);
    g_clear_pointer(&result->reason, g_free);
    result->overcommitted = FALSE;
    result->combinations = 0;
}

/* ------------------------------------------------------------------ the hosts */

typedef struct {
    FerryPlacePeer node; /* node.name is the host's name */
    gboolean here;       /* this host (its running domains are cluster->domains) */
} Host;

static int compare_hosts(gconstpointer a, gconstpointer b)
{
    return strcmp(((const Host *)a)->node.name, ((const Host *)b)->node.name);
}

/* This host and every peer, by name. */
static GArray *hosts_of(const FerryReserveInput *in)
{
    GArray *hosts = g_array_new(FALSE, TRUE, sizeof(Host));
    Host here = { .node = *in->here, .here = TRUE };
    here.node.name = in->cluster->source;
    here.node.reachable = TRUE;
    g_array_append_val(hosts, here);
    for (guint p = 0; p < in->cluster->n_peers; p++) {
        Host peer = { .node = in->cluster->peers[p] };
        g_array_append_val(hosts, peer);
    }
    g_array_sort(hosts, compare_hosts);
    return hosts;
}

static guint64 binomial(guint n, guint k)
{
    guint64 c = 1;
    for (guint i = 1; i <= k; i++) {
        c = c * (n - k + i) / i; /* exact: a product of i consecutive numbers divides by i! */
        if (c > G_MAXUINT32)
            return G_MAXUINT32;
    }
    return c;
}

/* ------------------------------------------------------------------ one combination */

/* One placement input for one set of failed hosts; it owns what the input points to. */
typedef struct {
    FerryPlaceInput in;
    GArray *peers, *domains, *residents;
    GPtrArray *policies;
    GStringChunk *strings;
    GHashTable *domain_names;
    const gboolean *failed; /* per host */
    const GArray *hosts;
} Scenario;

static void scenario_clear(Scenario *s)
{
    g_array_unref(s->peers);
    g_array_unref(s->domains);
    g_array_unref(s->residents);
    g_ptr_array_unref(s->policies);
    g_string_chunk_free(s->strings);
    g_hash_table_unref(s->domain_names);
}

static const Host *host_at(const Scenario *s, guint h)
{
    return &g_array_index(s->hosts, Host, h);
}

static int host_index(const Scenario *s, const char *name)
{
    for (guint h = 0; h < s->hosts->len; h++)
        if (g_strcmp0(host_at(s, h)->node.name, name) == 0)
            return (int)h;
    return -1;
}

static gboolean host_remains(const Scenario *s, const char *name)
{
    int h = host_index(s, name);
    return h >= 0 && !s->failed[h];
}

/* The pins to hosts that are left; a domain pinned only to failed or unknown hosts is
 * pinned to the failed ones (the source): it has no place. */
static GStrv pins_left(const Scenario *s, const FerryPolicy *policy)
{
    g_autoptr(GStrvBuilder) b = g_strv_builder_new();
    gboolean any = FALSE;
    for (guint i = 0; policy->pin[i]; i++)
        if (host_remains(s, policy->pin[i])) {
            g_strv_builder_add(b, policy->pin[i]);
            any = TRUE;
        }
    if (policy->pin[0] && !any)
        g_strv_builder_add(b, s->in.source);
    return g_strv_builder_end(b);
}

/* The domain's policy as a failed host's domain needs it: only what constrains where it
 * may run (see reserve.h). */
static const FerryPolicy *failed_policy(Scenario *s, const FerryPolicy *policy, const char *eq, const char *ne)
{
    FerryPolicy *copy = policy ? ferry_policy_copy(policy) : ferry_policy_new();
    if (!policy) {
        copy->eq = g_strdup(eq);
        copy->ne = g_strdup(ne);
    }
    copy->hold = copy->no_migrate = copy->unmanaged = copy->maintenance = FALSE;
    g_strfreev(copy->depends);
    copy->depends = g_new0(char *, 1);
    GStrv pins = pins_left(s, copy);
    g_strfreev(copy->pin);
    copy->pin = pins;
    g_ptr_array_add(s->policies, copy);
    return copy;
}

static void add_failed_domain(Scenario *s, const char *host, const char *name, guint64 memory_kib, guint vcpus,
                              const FerryPolicy *policy)
{
    /* Two hosts may run domains of the same name: placement needs them told apart. */
    g_autofree char *qualified = NULL;
    if (g_hash_table_contains(s->domain_names, name))
        name = qualified = g_strdup_printf("%s/%s", host, name);
    FerryPlaceDomain d = {
        .name = g_string_chunk_insert_const(s->strings, name), .running = TRUE, .memory_kib = memory_kib,
        .vcpus = vcpus, .policy = policy,
    };
    g_hash_table_add(s->domain_names, (gpointer)d.name);
    g_array_append_val(s->domains, d);
}

static void add_here(Scenario *s, const FerryReserveInput *in, gboolean failed)
{
    const FerryPlaceInput *c = in->cluster;
    for (guint d = 0; d < c->n_domains; d++) {
        const FerryPlaceDomain *dom = &c->domains[d];
        if (!dom->running)
            continue;
        if (failed) {
            add_failed_domain(s, c->source, dom->name, dom->memory_kib, dom->vcpus,
                              failed_policy(s, dom->policy, NULL, NULL));
        } else {
            FerryPlaceResident r = {
                .name = dom->name, .peer = c->source, .memory_kib = dom->memory_kib, .vcpus = dom->vcpus,
                .eq = dom->policy ? dom->policy->eq : NULL, .ne = dom->policy ? dom->policy->ne : NULL,
            };
            g_array_append_val(s->residents, r);
        }
    }
}

static void add_residents(Scenario *s, const FerryReserveInput *in)
{
    const FerryPlaceInput *c = in->cluster;
    for (guint r = 0; r < c->n_residents; r++) {
        const FerryPlaceResident *res = &c->residents[r];
        int h = host_index(s, res->peer);
        if (h < 0)
            continue; /* placement would refuse it; no host to fail or to stay */
        if (!s->failed[h]) {
            g_array_append_val(s->residents, *res);
            continue;
        }
        const FerryPolicy *policy = in->resident_policies ? in->resident_policies[r] : NULL;
        add_failed_domain(s, res->peer, res->name, res->memory_kib, res->vcpus,
                          failed_policy(s, policy, res->eq, res->ne));
    }
}

static char *failed_names(const GArray *hosts, const gboolean *failed, const char *separator, const char *last)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    for (guint h = 0; h < hosts->len; h++)
        if (failed[h])
            g_ptr_array_add(names, (gpointer)g_array_index(hosts, Host, h).node.name);
    g_autoptr(GString) text = g_string_new(NULL);
    for (guint i = 0; i < names->len; i++) {
        if (i)
            g_string_append(text, i + 1 == names->len ? last : separator);
        g_string_append(text, names->pdata[i]);
    }
    return g_string_free(g_steal_pointer(&text), FALSE);
}

static void scenario_init(Scenario *s, const FerryReserveInput *in, const GArray *hosts, const gboolean *failed)
{
    memset(s, 0, sizeof(*s));
    s->hosts = hosts;
    s->failed = failed;
    s->peers = g_array_new(FALSE, TRUE, sizeof(FerryPlacePeer));
    s->domains = g_array_new(FALSE, TRUE, sizeof(FerryPlaceDomain));
    s->residents = g_array_new(FALSE, TRUE, sizeof(FerryPlaceResident));
    s->policies = g_ptr_array_new_with_free_func((GDestroyNotify)ferry_policy_free);
    s->strings = g_string_chunk_new(256);
    s->domain_names = g_hash_table_new(g_str_hash, g_str_equal);
    g_autofree char *source = failed_names(hosts, failed, "+", "+");
    s->in.source = g_string_chunk_insert_const(s->strings, source);
    for (guint h = 0; h < hosts->len; h++)
        if (!failed[h])
            g_array_append_val(s->peers, host_at(s, h)->node);
    for (guint h = 0; h < hosts->len; h++)
        if (host_at(s, h)->here)
            add_here(s, in, failed[h]);
    add_residents(s, in);

    static const FerryMethod any_method = FERRY_METHOD_MIGRATION; /* access is all granted */
    s->in.peers = (const FerryPlacePeer *)(void *)s->peers->data;
    s->in.n_peers = s->peers->len;
    s->in.domains = (const FerryPlaceDomain *)(void *)s->domains->data;
    s->in.n_domains = s->domains->len;
    s->in.residents = (const FerryPlaceResident *)(void *)s->residents->data;
    s->in.n_residents = s->residents->len;
    s->in.methods = &any_method;
    s->in.n_methods = 1;
    s->in.memory_ratio = in->memory_ratio;
    s->in.vcpu_ratio = in->vcpu_ratio;
}

/* Why the domains of @s that found no place did not: NULL when all did. */
static char *no_place_reason(const Scenario *s, GPtrArray *plan)
{
    g_autoptr(GString) text = g_string_new(NULL);
    guint n = 0;
    for (guint i = 0; i < plan->len; i++) {
        const FerryPlacement *row = g_ptr_array_index(plan, i);
        if (row->verdict == FERRY_VERDICT_MOVE)
            continue;
        if (n++ < REASON_DOMAINS_MAX)
            g_string_append_printf(text, "%s%s finds no place (%s)", text->len ? "; " : "", row->domain,
                                   row->reason);
    }
    if (n == 0)
        return NULL;
    if (n > REASON_DOMAINS_MAX)
        g_string_append_printf(text, "; and %u more", n - REASON_DOMAINS_MAX);
    return g_string_free(g_steal_pointer(&text), FALSE);
}

/* Whether the failed hosts' domains all find a place; *@why says which do not and why. */
static gboolean scenario_fits(const Scenario *s, char **why, GError **error)
{
    *why = NULL;
    if (s->in.n_domains == 0)
        return TRUE;
    if (s->in.n_peers == 0) {
        *why = g_strdup_printf("no host would be left for the %u running domain%s", s->in.n_domains,
                               s->in.n_domains == 1 ? "" : "s");
        return TRUE;
    }
    g_autoptr(GPtrArray) plan = ferry_place(&s->in, error);
    if (!plan)
        return FALSE;
    *why = no_place_reason(s, plan);
    return TRUE;
}

/* ------------------------------------------------------------------ all combinations */

/* The next combination of @k out of @n in lexicographic order; FALSE after the last. */
static gboolean next_combination(guint *pick, guint k, guint n)
{
    for (guint i = k; i-- > 0;) {
        if (pick[i] < n - k + i) {
            pick[i]++;
            for (guint j = i + 1; j < k; j++)
                pick[j] = pick[j - 1] + 1;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean ferry_reserve_check(const FerryReserveInput *in, FerryReserveResult *result, GError **error)
{
    g_return_val_if_fail(in && in->cluster && in->here && result, FALSE);
    if (!in->cluster->source || !*in->cluster->source)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the cluster reserve needs this host's name");
    FerryReserveResult out = { 0 };
    if (in->reserve == 0) {
        out.reason = g_strdup("no reserve asked for ([evacuation] reserve=)");
        *result = out;
        return TRUE;
    }
    g_autoptr(GArray) hosts = hosts_of(in);
    guint n = hosts->len, k = MIN(in->reserve, n);
    guint64 total = binomial(n, k);
    if (total > FERRY_RESERVE_MAX_COMBINATIONS)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT,
                               "reserve=%u over %u hosts is %" G_GUINT64_FORMAT " combinations of failed hosts, more "
                               "than %u: lower [evacuation] reserve=",
                               in->reserve, n, total, FERRY_RESERVE_MAX_COMBINATIONS);
    g_autofree guint *pick = g_new(guint, k + 1);
    for (guint i = 0; i < k; i++)
        pick[i] = i;
    g_autofree gboolean *failed = g_new0(gboolean, n);
    do {
        memset(failed, 0, n * sizeof(gboolean));
        for (guint i = 0; i < k; i++)
            failed[pick[i]] = TRUE;
        Scenario s;
        scenario_init(&s, in, hosts, failed);
        g_autofree char *why = NULL;
        gboolean ok = scenario_fits(&s, &why, error);
        scenario_clear(&s);
        if (!ok) {
            ferry_reserve_result_clear(&out);
            return FALSE;
        }
        out.combinations++;
        if (why) {
            g_autofree char *names = failed_names(hosts, failed, ", ", " and ");
            g_autoptr(GStrvBuilder) b = g_strv_builder_new();
            for (guint i = 0; i < k; i++)
                g_strv_builder_add(b, g_array_index(hosts, Host, pick[i]).node.name);
            out.overcommitted = TRUE;
            out.failed = g_strv_builder_end(b);
            out.reason = g_strdup_printf("if %s fail%s: %s", names, k == 1 ? "s" : "", why);
            *result = out;
            return TRUE;
        }
    } while (next_combination(pick, k, n));
    out.reason = g_strdup_printf("the running domains of any %u failed host%s fit on the other%s (%u host%s, %u "
                                 "combination%s)", k, k == 1 ? "" : "s", n - k == 1 ? "" : "s", n,
                                 n == 1 ? "" : "s", out.combinations, out.combinations == 1 ? "" : "s");
    *result = out;
    return TRUE;
}
