/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placement: see placement.h for what is decided and why. */
#include "placement.h"

#include "ferry-error.h"

#include <math.h>
#include <string.h>

/* The exact search is exhaustive when its whole tree has at most EXACT_TREE_MAX nodes
 * (every instance of up to 8 domains on 4 peers); beyond, it stops after
 * EXACT_NODE_BUDGET nodes with the best plan found. The greedy plan is its starting
 * point, so a cut search is never worse than greedy. */
#define EXACT_TREE_MAX 500000
#define EXACT_NODE_BUDGET 30000

const char *ferry_verdict_name(FerryVerdict verdict)
{
    static const char *const names[] = {
        [FERRY_VERDICT_MOVE] = "move",
        [FERRY_VERDICT_HOLD] = "hold",
        [FERRY_VERDICT_UNMANAGED] = "unmanaged",
        [FERRY_VERDICT_MAINTENANCE] = "maintenance",
        [FERRY_VERDICT_BUSY] = "busy",
        [FERRY_VERDICT_STOPPED] = "stopped",
        [FERRY_VERDICT_NO_TARGET] = "no-target",
    };
    if ((guint) verdict >= G_N_ELEMENTS(names))
        return NULL;
    return names[verdict];
}

void ferry_placement_free(FerryPlacement *placement)
{
    if (!placement)
        return;
    g_free(placement->domain);
    g_free(placement->target);
    g_free(placement->reason);
    g_free(placement);
}

/* ------------------------------------------------------------------ the working state */

typedef struct {
    const FerryPlaceInput *in;
    guint np, nd;
    gboolean *excluded;    /* per peer */
    gint64 *mem_left;      /* per peer, KiB */
    gint64 *vcpu_left;     /* per peer */
    int *rank;             /* nd * np: index in methods of the method used there, -1: none */
    int *eq_of, *ne_of;    /* per domain: group id, -1 none */
    guint n_eq, n_ne;
    GPtrArray *eq_names, *ne_names;
    gboolean *eq_resident; /* n_eq * np: members of the group run there */
    gboolean *eq_has_resident;
    guint *ne_count;       /* n_ne * np: members there (residents and placed) */
    int *eq_host;          /* per eq group: where its placed members are, -1 none */
    gint64 *eq_mem, *eq_vcpus; /* per eq group: what all its candidates need */
    guint *eq_placed;
    int *assign;           /* per domain: peer, -1 not placed */
    guint *cand;           /* the domains to place, best first */
    guint ncand;
    int *level;            /* per domain: priority level, 0 highest */
    guint n_levels;
    guint *peer_order;     /* peers by name */
} Plan;

static const FerryPolicy *policy_of(const FerryPlaceDomain *d)
{
    static const char *const empty[] = { NULL };
    static const FerryPolicy none = { .pin = (GStrv) empty, .depends = (GStrv) empty };
    return d->policy ? d->policy : &none;
}

static const FerryPlaceAccess *access_of(const Plan *plan, guint d, guint p)
{
    static const FerryPlaceAccess all_ok = { TRUE, NULL, TRUE, NULL, TRUE, TRUE, NULL, TRUE, NULL };
    return plan->in->access ? &plan->in->access[d * plan->np + p] : &all_ok;
}

static guint64 need_mem(const Plan *plan, guint d)
{
    return plan->in->domains[d].running ? plan->in->domains[d].memory_kib : 0;
}

static guint need_vcpus(const Plan *plan, guint d)
{
    return plan->in->domains[d].running ? plan->in->domains[d].vcpus : 0;
}

/* Why @method cannot take domain @d to peer @p, or NULL when it can. */
static const char *method_blocker(const Plan *plan, guint d, guint p, FerryMethod method)
{
    const FerryPlaceAccess *a = access_of(plan, d, p);
    gboolean live = plan->in->domains[d].running && ferry_method_is_live(method);
    gboolean copies = method == FERRY_METHOD_MOVE || method == FERRY_METHOD_STORAGE_MIGRATION;

    if (copies) {
        if (!a->storage_shared && !a->copy_space)
            return a->copy_reason ? a->copy_reason : "no room for copies of the disks";
    } else if (!a->storage_shared) {
        return a->storage_reason ? a->storage_reason : "no access to the domain's storage";
    }
    if (live ? !a->cpu_live : !a->cpu_boot)
        return a->cpu_reason ? a->cpu_reason : "incompatible CPU";
    if (!a->network)
        return a->network_reason ? a->network_reason : "the domain's networks are missing";
    return NULL;
}

static gboolean pinned_to(const FerryPolicy *policy, const char *host)
{
    return !policy->pin[0] || g_strv_contains((const char *const *) policy->pin, host);
}

/* Whether peer @p is a target at all for domain @d, whatever the capacity. */
static const char *static_blocker(const Plan *plan, guint d, guint p)
{
    const FerryPlacePeer *peer = &plan->in->peers[p];
    if (plan->excluded[p])
        return "excluded";
    if (!peer->reachable)
        return "unreachable";
    if (peer->maintenance)
        return "in maintenance";
    if (!pinned_to(policy_of(&plan->in->domains[d]), peer->name))
        return "not in its pin list";
    return NULL;
}

static int method_rank(const Plan *plan, guint d, guint p)
{
    if (static_blocker(plan, d, p))
        return -1;
    for (guint m = 0; m < plan->in->n_methods; m++)
        if (!method_blocker(plan, d, p, plan->in->methods[m]))
            return (int) m;
    return -1;
}

/* Everything but capacity that decides whether @d may go to @p now. */
static gboolean groups_allow(const Plan *plan, guint d, guint p)
{
    int eq = plan->eq_of[d], ne = plan->ne_of[d];
    if (eq >= 0) {
        if (plan->eq_host[eq] >= 0 && plan->eq_host[eq] != (int) p)
            return FALSE;
        if (plan->eq_host[eq] < 0 && plan->eq_has_resident[eq] && !plan->eq_resident[eq * plan->np + p])
            return FALSE;
    }
    return ne < 0 || plan->ne_count[ne * plan->np + p] == 0;
}

/* A peer already beyond a limit (its own domains, a lowered ratio) still takes domains
 * that need none of it. */
static gboolean has_memory(const Plan *plan, guint d, guint p)
{
    guint64 need = need_mem(plan, d);
    return need == 0 || plan->mem_left[p] >= (gint64) need;
}

static gboolean has_vcpus(const Plan *plan, guint d, guint p)
{
    guint need = need_vcpus(plan, d);
    return need == 0 || plan->vcpu_left[p] >= (gint64) need;
}

static gboolean fits(const Plan *plan, guint d, guint p)
{
    return plan->rank[d * plan->np + p] >= 0 && groups_allow(plan, d, p) && has_memory(plan, d, p) &&
           has_vcpus(plan, d, p);
}

static void place(Plan *plan, guint d, guint p)
{
    plan->assign[d] = (int) p;
    plan->mem_left[p] -= (gint64) need_mem(plan, d);
    plan->vcpu_left[p] -= need_vcpus(plan, d);
    if (plan->eq_of[d] >= 0 && plan->eq_placed[plan->eq_of[d]]++ == 0)
        plan->eq_host[plan->eq_of[d]] = (int) p;
    if (plan->ne_of[d] >= 0)
        plan->ne_count[plan->ne_of[d] * plan->np + p]++;
}

static void unplace(Plan *plan, guint d)
{
    guint p = (guint) plan->assign[d];
    plan->assign[d] = -1;
    plan->mem_left[p] += (gint64) need_mem(plan, d);
    plan->vcpu_left[p] += need_vcpus(plan, d);
    if (plan->eq_of[d] >= 0 && --plan->eq_placed[plan->eq_of[d]] == 0)
        plan->eq_host[plan->eq_of[d]] = -1;
    if (plan->ne_of[d] >= 0)
        plan->ne_count[plan->ne_of[d] * plan->np + p]--;
}

/* Whether peer @p is a better target for @d than peer @q (both fit): the earlier method,
 * then room for the domain's whole eq group, then shared storage (nothing to copy), then
 * the most memory left (spreads the load), then the name. */
static gboolean holds_group(const Plan *plan, guint d, guint p)
{
    int eq = plan->eq_of[d];
    return eq < 0 || plan->eq_host[eq] >= 0 ||
           (plan->mem_left[p] >= plan->eq_mem[eq] && plan->vcpu_left[p] >= plan->eq_vcpus[eq]);
}

static gboolean prefer(const Plan *plan, guint d, guint p, guint q)
{
    int r = plan->rank[d * plan->np + p], rq = plan->rank[d * plan->np + q];
    if (r != rq)
        return r < rq;
    /* The first member of an eq group decides where the others go: where all fit. */
    gboolean g = holds_group(plan, d, p), gq = holds_group(plan, d, q);
    if (g != gq)
        return g;
    gboolean s = access_of(plan, d, p)->storage_shared, sq = access_of(plan, d, q)->storage_shared;
    if (s != sq)
        return s;
    /* Spread: the peer with the most memory left, so that the evacuated domains (and their
     * incoming migrations) share the remaining hosts instead of filling one after another. */
    if (plan->mem_left[p] != plan->mem_left[q])
        return plan->mem_left[p] > plan->mem_left[q];
    return strcmp(plan->in->peers[p].name, plan->in->peers[q].name) < 0;
}

/* The peer @d should go to among those it fits now, -1 none. */
static int best_peer(const Plan *plan, guint d)
{
    int best = -1;
    for (guint p = 0; p < plan->np; p++)
        if (fits(plan, d, p) && (best < 0 || prefer(plan, d, p, (guint) best)))
            best = (int) p;
    return best;
}

/* Candidates in the order they are placed: priority, then smaller first (more of them
 * fit), then name. */
static int compare_candidates(gconstpointer a, gconstpointer b, gpointer user_data)
{
    const Plan *plan = user_data;
    const FerryPlaceDomain *x = &plan->in->domains[*(const guint *) a];
    const FerryPlaceDomain *y = &plan->in->domains[*(const guint *) b];
    int px = policy_of(x)->priority, py = policy_of(y)->priority;
    if (px != py)
        return px > py ? -1 : 1;
    guint64 mx = need_mem(plan, *(const guint *) a), my = need_mem(plan, *(const guint *) b);
    if (mx != my)
        return mx < my ? -1 : 1;
    if (x->vcpus != y->vcpus)
        return x->vcpus < y->vcpus ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Once the first member of an eq group has a host, the members of the same priority go
 * there at once, before other domains of that priority fill the host (the lower ones
 * wait for their turn: they must not take room from higher ones). */
static void follow_group(Plan *plan, guint d)
{
    int eq = plan->eq_of[d];
    if (eq < 0 || plan->eq_placed[eq] != 1)
        return;
    for (guint i = 0; i < plan->ncand; i++) {
        guint e = plan->cand[i];
        if (plan->eq_of[e] == eq && plan->level[e] == plan->level[d] && plan->assign[e] < 0 &&
            fits(plan, e, (guint) plan->eq_host[eq]))
            place(plan, e, (guint) plan->eq_host[eq]);
    }
}

static void place_greedily(Plan *plan)
{
    for (guint i = 0; i < plan->ncand; i++) {
        guint d = plan->cand[i];
        int p = plan->assign[d] < 0 ? best_peer(plan, d) : -1;
        if (p < 0)
            continue;
        place(plan, d, (guint) p);
        follow_group(plan, d);
    }
}

/* Moves one placed domain (not bound by an eq group) from @p to another peer so that @d
 * fits on @p. */
static gboolean relocate_one(Plan *plan, guint d, guint p)
{
    for (guint i = plan->ncand; i-- > 0;) {
        guint e = plan->cand[i];
        if (plan->assign[e] != (int) p || plan->eq_of[e] >= 0)
            continue;
        if (plan->mem_left[p] + (gint64) need_mem(plan, e) < (gint64) need_mem(plan, d) ||
            plan->vcpu_left[p] + (gint64) need_vcpus(plan, e) < (gint64) need_vcpus(plan, d))
            continue; /* not enough room even without e */
        unplace(plan, e);
        if (fits(plan, d, p)) {
            place(plan, d, p);
            int q = best_peer(plan, e);
            if (q >= 0) {
                place(plan, e, (guint) q);
                return TRUE;
            }
            unplace(plan, d);
        }
        place(plan, e, p);
    }
    return FALSE;
}

/* The bounded improvement step after the greedy plan, per domain left behind in priority
 * order: one other domain relocated to make room for it, on the first peer (by name)
 * where that works. (Displacing lower-priority domains would never help: the greedy
 * plan places every domain before any of lower priority.) */
static void repair(Plan *plan)
{
    for (guint i = 0; i < plan->ncand; i++) {
        guint d = plan->cand[i];
        for (guint k = 0; k < plan->np && plan->assign[d] < 0; k++) {
            guint p = plan->peer_order[k];
            if (plan->rank[d * plan->np + p] >= 0 && groups_allow(plan, d, p))
                relocate_one(plan, d, p);
        }
    }
    place_greedily(plan); /* a relocation may have left room elsewhere */
}

/* ------------------------------------------------------------------ exact search */

typedef struct {
    Plan *plan;
    guint *counts;      /* placed per level, now */
    guint *best_counts;
    int *best_assign;   /* per candidate position */
    guint *children;    /* ncand * np: the peers tried at each depth */
    guint64 nodes, budget;
} Search;

/* Lexicographic, highest priority level first. */
static int compare_counts(const guint *a, const guint *b, guint n)
{
    for (guint i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] > b[i] ? 1 : -1;
    return 0;
}

static gboolean fits_somewhere(const Plan *plan, guint d)
{
    for (guint p = 0; p < plan->np; p++)
        if (fits(plan, d, p))
            return TRUE;
    return FALSE;
}

/* Whether the candidates from @pos on could still make a plan better than the best one.
 * Per level, an upper bound on how many more can be placed: those that fit somewhere now
 * (room and groups only get tighter), smallest first, as long as their memory adds up
 * within all the free memory left. The candidates are sorted by level, then memory. */
static gboolean may_improve(const Search *s, guint pos)
{
    const Plan *plan = s->plan;
    gint64 free_total = 0;
    for (guint p = 0; p < plan->np; p++)
        free_total += MAX(plan->mem_left[p], 0);
    guint l = 0, i = pos;
    for (; l < plan->n_levels; l++) {
        guint reach = s->counts[l];
        gint64 used = 0;
        for (; i < plan->ncand && plan->level[plan->cand[i]] == (int) l; i++) {
            guint d = plan->cand[i];
            if (used + (gint64) need_mem(plan, d) <= free_total && fits_somewhere(plan, d)) {
                used += (gint64) need_mem(plan, d);
                reach++;
            }
        }
        if (reach != s->best_counts[l])
            return reach > s->best_counts[l];
    }
    return FALSE;
}

static void record_if_better(Search *s)
{
    Plan *plan = s->plan;
    if (compare_counts(s->counts, s->best_counts, plan->n_levels) <= 0)
        return;
    memcpy(s->best_counts, s->counts, plan->n_levels * sizeof(guint));
    for (guint i = 0; i < plan->ncand; i++)
        s->best_assign[i] = plan->assign[plan->cand[i]];
}

typedef struct {
    const Plan *plan;
    guint d;
} Children;

static int compare_children(gconstpointer a, gconstpointer b, gpointer user_data)
{
    const Children *c = user_data;
    guint p = *(const guint *) a, q = *(const guint *) b;
    return p == q ? 0 : prefer(c->plan, c->d, p, q) ? -1 : 1;
}

static void search(Search *s, guint pos)
{
    Plan *plan = s->plan;
    if (s->nodes++ >= s->budget || !may_improve(s, pos))
        return;
    if (pos == plan->ncand) {
        record_if_better(s);
        return;
    }
    guint d = plan->cand[pos];
    /* Children in the order greedy would prefer them, so the first plans found are the
     * preferred ones and later ones replace them only when strictly better. */
    guint *children = &s->children[pos * plan->np], n = 0;
    for (guint p = 0; p < plan->np; p++)
        if (fits(plan, d, p))
            children[n++] = p;
    Children order = { plan, d };
    g_qsort_with_data(children, (gint) n, sizeof(guint), compare_children, &order);
    for (guint i = 0; i < n; i++) {
        place(plan, d, children[i]);
        s->counts[plan->level[d]]++;
        search(s, pos + 1);
        s->counts[plan->level[d]]--;
        unplace(plan, d);
    }
    search(s, pos + 1);
}

/* The size of the whole search tree (saturating at @cap): when it is within the budget,
 * the search is exhaustive. */
static guint64 tree_size(const Plan *plan, guint64 cap)
{
    guint64 level_nodes = 1, total = 1;
    for (guint i = 0; i < plan->ncand && total < cap; i++) {
        guint64 branches = 1;
        for (guint p = 0; p < plan->np; p++)
            branches += plan->rank[plan->cand[i] * plan->np + p] >= 0;
        level_nodes = MIN(level_nodes * branches, cap);
        total = MIN(total + level_nodes, cap);
    }
    return total;
}

static void place_exactly(Plan *plan)
{
    Search s = { .plan = plan };
    guint nl = plan->n_levels;
    g_autofree guint *counts = g_new0(guint, nl);
    g_autofree guint *best_counts = g_new0(guint, nl);
    g_autofree int *best_assign = g_new(int, plan->ncand);
    g_autofree guint *children = g_new(guint, (gsize) plan->ncand * plan->np + 1);
    s.children = children;
    s.counts = counts;
    s.best_counts = best_counts;
    s.best_assign = best_assign;
    guint64 size = tree_size(plan, EXACT_TREE_MAX + 1);
    s.budget = size <= EXACT_TREE_MAX ? size : EXACT_NODE_BUDGET;

    /* The greedy plan with its repair is the incumbent. */
    place_greedily(plan);
    repair(plan);
    for (guint i = 0; i < plan->ncand; i++) {
        best_assign[i] = plan->assign[plan->cand[i]];
        if (best_assign[i] >= 0)
            best_counts[plan->level[plan->cand[i]]]++;
    }
    for (guint i = 0; i < plan->ncand; i++)
        if (plan->assign[plan->cand[i]] >= 0)
            unplace(plan, plan->cand[i]);

    search(&s, 0);
    for (guint i = 0; i < plan->ncand; i++)
        if (best_assign[i] >= 0)
            place(plan, plan->cand[i], (guint) best_assign[i]);
}

/* ------------------------------------------------------------------ input checks */

static gboolean check_names(const FerryPlaceInput *in, GHashTable *peers, GHashTable *domains, GError **error)
{
    if (!in->source || !*in->source)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "placement needs this host's name");
    for (guint p = 0; p < in->n_peers; p++) {
        const char *name = in->peers[p].name;
        if (!name || !*name)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "peer %u has no name", p);
        if (!strcmp(name, in->source) || !g_hash_table_insert(peers, (gpointer) name, GUINT_TO_POINTER(p)))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "host '%s' is named twice", name);
    }
    for (guint d = 0; d < in->n_domains; d++) {
        const char *name = in->domains[d].name;
        if (!name || !*name)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "domain %u has no name", d);
        if (!g_hash_table_insert(domains, (gpointer) name, GUINT_TO_POINTER(d)))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "domain '%s' is named twice", name);
    }
    for (guint r = 0; r < in->n_residents; r++)
        if (!in->residents[r].name || !in->residents[r].peer ||
            !g_hash_table_contains(peers, in->residents[r].peer))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "domain '%s' runs on '%s', which is not a peer",
                           in->residents[r].name ? in->residents[r].name : "(null)",
                           in->residents[r].peer ? in->residents[r].peer : "(null)");
    for (guint i = 0; in->exclude && in->exclude[i]; i++)
        if (!g_hash_table_contains(peers, in->exclude[i]))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "cannot exclude '%s': it is not a peer of %s", in->exclude[i], in->source);
    return TRUE;
}

static gboolean check_limits(const FerryPlaceInput *in, GError **error)
{
    if (in->n_methods == 0)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "no migration method to place domains with");
    for (guint m = 0; m < in->n_methods; m++)
        if (!ferry_method_name(in->methods[m]))
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "unknown migration method %d", (int) in->methods[m]);
    if (!(in->memory_ratio > 0 && isfinite(in->memory_ratio)))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the memory over-commit ratio must be positive, not %g", in->memory_ratio);
    if (!(in->vcpu_ratio > 0 && isfinite(in->vcpu_ratio)))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the vCPU over-commit ratio must be positive, not %g", in->vcpu_ratio);
    return TRUE;
}

static gboolean check_pins(const FerryPlaceInput *in, GHashTable *peers, GError **error)
{
    for (guint d = 0; d < in->n_domains; d++) {
        const FerryPolicy *policy = policy_of(&in->domains[d]);
        for (guint i = 0; policy->pin[i]; i++)
            if (strcmp(policy->pin[i], in->source) && !g_hash_table_contains(peers, policy->pin[i]))
                return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "domain '%s' is pinned to '%s', which is neither %s nor one of its peers",
                               in->domains[d].name, policy->pin[i], in->source);
    }
    return TRUE;
}

/* Two domains in the same eq group and the same ne group cannot both be honoured. */
static gboolean check_groups(const FerryPlaceInput *in, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (guint r = 0; r < in->n_residents; r++)
        if (in->residents[r].eq && in->residents[r].ne)
            g_hash_table_insert(seen, g_strdup_printf("%s\x1f%s", in->residents[r].eq, in->residents[r].ne),
                                (gpointer) in->residents[r].name);
    for (guint d = 0; d < in->n_domains; d++) {
        const FerryPolicy *policy = policy_of(&in->domains[d]);
        if (!policy->eq || !policy->ne)
            continue;
        g_autofree char *key = g_strdup_printf("%s\x1f%s", policy->eq, policy->ne);
        const char *other = g_hash_table_lookup(seen, key);
        if (other)
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "domains '%s' and '%s' are both in eq group '%s' and ne group '%s': "
                           "they cannot be together and apart", other, in->domains[d].name, policy->eq, policy->ne);
        g_hash_table_insert(seen, g_steal_pointer(&key), (gpointer) in->domains[d].name);
    }
    return TRUE;
}

/* Depth-first search; @color: 0 unseen, 1 on the path, 2 done. */
static gboolean find_cycle(const FerryPlaceInput *in, GHashTable *domains, guint d, guint8 *color, GArray *path,
                           GError **error)
{
    color[d] = 1;
    g_array_append_val(path, d);
    const FerryPolicy *policy = policy_of(&in->domains[d]);
    for (guint i = 0; policy->depends[i]; i++) {
        gpointer value;
        if (!g_hash_table_lookup_extended(domains, policy->depends[i], NULL, &value))
            continue; /* a domain elsewhere: nothing to order here */
        guint e = GPOINTER_TO_UINT(value);
        if (color[e] == 1) {
            g_autoptr(GString) text = g_string_new(NULL);
            guint start = 0;
            while (g_array_index(path, guint, start) != e)
                start++;
            for (guint k = start; k < path->len; k++)
                g_string_append_printf(text, "%s -> ", in->domains[g_array_index(path, guint, k)].name);
            g_string_append(text, in->domains[e].name);
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "dependency cycle: %s", text->str);
        }
        if (color[e] == 0 && !find_cycle(in, domains, e, color, path, error))
            return FALSE;
    }
    color[d] = 2;
    g_array_set_size(path, path->len - 1);
    return TRUE;
}

static gboolean check_dependencies(const FerryPlaceInput *in, GHashTable *domains, GError **error)
{
    g_autofree guint8 *color = g_new0(guint8, in->n_domains);
    g_autoptr(GArray) path = g_array_new(FALSE, FALSE, sizeof(guint));
    for (guint d = 0; d < in->n_domains; d++)
        if (color[d] == 0 && !find_cycle(in, domains, d, color, path, error))
            return FALSE;
    return TRUE;
}

/* ------------------------------------------------------------------ setting up */

static int group_id(GHashTable *ids, GPtrArray *names, const char *name)
{
    gpointer value;
    if (!name)
        return -1;
    if (g_hash_table_lookup_extended(ids, name, NULL, &value))
        return GPOINTER_TO_INT(value);
    int id = (int) names->len;
    g_ptr_array_add(names, (gpointer) name);
    g_hash_table_insert(ids, (gpointer) name, GINT_TO_POINTER(id));
    return id;
}

static int compare_peer_names(gconstpointer a, gconstpointer b, gpointer user_data)
{
    const FerryPlaceInput *in = user_data;
    return strcmp(in->peers[*(const guint *) a].name, in->peers[*(const guint *) b].name);
}

static FerryVerdict verdict_before_placement(const FerryPlaceInput *in, const FerryPlaceDomain *d)
{
    const FerryPolicy *policy = policy_of(d);
    if (policy->hold)
        return FERRY_VERDICT_HOLD;
    if (policy->unmanaged)
        return FERRY_VERDICT_UNMANAGED;
    if (d->maintenance)
        return FERRY_VERDICT_MAINTENANCE;
    if (d->busy)
        return FERRY_VERDICT_BUSY;
    if (!d->running && !in->all)
        return FERRY_VERDICT_STOPPED;
    return FERRY_VERDICT_MOVE; /* to be decided */
}

static void plan_init(Plan *plan, const FerryPlaceInput *in, GHashTable *peers)
{
    guint np = in->n_peers, nd = in->n_domains;
    plan->in = in;
    plan->np = np;
    plan->nd = nd;
    plan->excluded = g_new0(gboolean, np);
    for (guint i = 0; in->exclude && in->exclude[i]; i++)
        plan->excluded[GPOINTER_TO_UINT(g_hash_table_lookup(peers, in->exclude[i]))] = TRUE;
    plan->peer_order = g_new(guint, np);
    for (guint p = 0; p < np; p++)
        plan->peer_order[p] = p;
    g_qsort_with_data(plan->peer_order, (gint) np, sizeof(guint), compare_peer_names, (gpointer) in);

    plan->mem_left = g_new(gint64, np);
    plan->vcpu_left = g_new(gint64, np);
    for (guint p = 0; p < np; p++) {
        const FerryPlacePeer *peer = &in->peers[p];
        plan->mem_left[p] = (gint64) floor((double) peer->memory_free_kib +
                                           (double) peer->memory_total_kib * (in->memory_ratio - 1.0));
        plan->vcpu_left[p] = (gint64) floor((double) peer->cpus * in->vcpu_ratio + 1e-9);
    }

    g_autoptr(GHashTable) eq_ids = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) ne_ids = g_hash_table_new(g_str_hash, g_str_equal);
    plan->eq_names = g_ptr_array_new();
    plan->ne_names = g_ptr_array_new();
    plan->eq_of = g_new(int, nd);
    plan->ne_of = g_new(int, nd);
    for (guint d = 0; d < nd; d++) {
        plan->eq_of[d] = group_id(eq_ids, plan->eq_names, policy_of(&in->domains[d])->eq);
        plan->ne_of[d] = group_id(ne_ids, plan->ne_names, policy_of(&in->domains[d])->ne);
    }
    for (guint r = 0; r < in->n_residents; r++) {
        group_id(eq_ids, plan->eq_names, in->residents[r].eq);
        group_id(ne_ids, plan->ne_names, in->residents[r].ne);
    }
    plan->n_eq = plan->eq_names->len;
    plan->n_ne = plan->ne_names->len;
    plan->eq_resident = g_new0(gboolean, plan->n_eq * np + 1);
    plan->eq_has_resident = g_new0(gboolean, plan->n_eq + 1);
    plan->ne_count = g_new0(guint, plan->n_ne * np + 1);
    plan->eq_host = g_new(int, plan->n_eq + 1);
    plan->eq_placed = g_new0(guint, plan->n_eq + 1);
    plan->eq_mem = g_new0(gint64, plan->n_eq + 1);
    plan->eq_vcpus = g_new0(gint64, plan->n_eq + 1);
    for (guint g = 0; g < plan->n_eq; g++)
        plan->eq_host[g] = -1;
    for (guint r = 0; r < in->n_residents; r++) {
        const FerryPlaceResident *res = &in->residents[r];
        guint p = GPOINTER_TO_UINT(g_hash_table_lookup(peers, res->peer));
        plan->vcpu_left[p] -= res->vcpus;
        if (res->eq) {
            int g = GPOINTER_TO_INT(g_hash_table_lookup(eq_ids, res->eq));
            plan->eq_resident[g * np + p] = TRUE;
            plan->eq_has_resident[g] = TRUE;
        }
        if (res->ne)
            plan->ne_count[GPOINTER_TO_INT(g_hash_table_lookup(ne_ids, res->ne)) * np + p]++;
    }

    plan->assign = g_new(int, nd);
    plan->level = g_new0(int, nd);
    plan->rank = g_new(int, (gsize) nd * np + 1);
    plan->cand = g_new(guint, nd + 1);
    for (guint d = 0; d < nd; d++) {
        plan->assign[d] = -1;
        const FerryPolicy *policy = policy_of(&in->domains[d]);
        gboolean candidate = verdict_before_placement(in, &in->domains[d]) == FERRY_VERDICT_MOVE && !policy->no_migrate;
        for (guint p = 0; p < np; p++)
            plan->rank[d * np + p] = candidate ? method_rank(plan, d, p) : -1;
        if (candidate)
            plan->cand[plan->ncand++] = d;
        if (candidate && plan->eq_of[d] >= 0) {
            plan->eq_mem[plan->eq_of[d]] += (gint64) need_mem(plan, d);
            plan->eq_vcpus[plan->eq_of[d]] += need_vcpus(plan, d);
        }
    }
    g_qsort_with_data(plan->cand, (gint) plan->ncand, sizeof(guint), compare_candidates, plan);
    for (guint i = 0; i < plan->ncand; i++) {
        if (i > 0 && policy_of(&in->domains[plan->cand[i]])->priority !=
                         policy_of(&in->domains[plan->cand[i - 1]])->priority)
            plan->n_levels++;
        plan->level[plan->cand[i]] = (int) plan->n_levels;
    }
    plan->n_levels++;
}

static void plan_clear(Plan *plan)
{
    g_free(plan->excluded);
    g_free(plan->peer_order);
    g_free(plan->mem_left);
    g_free(plan->vcpu_left);
    g_ptr_array_unref(plan->eq_names);
    g_ptr_array_unref(plan->ne_names);
    g_free(plan->eq_of);
    g_free(plan->ne_of);
    g_free(plan->eq_resident);
    g_free(plan->eq_has_resident);
    g_free(plan->ne_count);
    g_free(plan->eq_host);
    g_free(plan->eq_placed);
    g_free(plan->eq_mem);
    g_free(plan->eq_vcpus);
    g_free(plan->assign);
    g_free(plan->level);
    g_free(plan->rank);
    g_free(plan->cand);
}

/* ------------------------------------------------------------------ the rows */

/* "1.2 GiB" or "900 MiB"; @round_up for what is needed, down for what is free, so that
 * the two never print alike when one does not fit the other. */
static char *format_kib(gint64 kib, gboolean round_up)
{
    if (kib < 0)
        kib = 0;
    if (kib >= 1024 * 1024) {
        double tenths = (double) kib / (1024.0 * 1024.0) * 10.0;
        tenths = round_up ? ceil(tenths - 1e-9) : floor(tenths + 1e-9);
        if (fmod(tenths, 10.0) == 0)
            return g_strdup_printf("%.0f GiB", tenths / 10.0);
        return g_strdup_printf("%.1f GiB", tenths / 10.0);
    }
    gint64 mib = round_up ? (kib + 1023) / 1024 : kib / 1024;
    return g_strdup_printf("%" G_GINT64_FORMAT " MiB", mib);
}

/* Why peer @p does not take domain @d in the final plan. */
static char *peer_reason(const Plan *plan, guint d, guint p)
{
    const char *blocker = static_blocker(plan, d, p);
    if (blocker)
        return g_strdup(blocker);
    if (plan->rank[d * plan->np + p] < 0) {
        g_autoptr(GPtrArray) seen = g_ptr_array_new();
        for (guint m = 0; m < plan->in->n_methods; m++) {
            const char *why = method_blocker(plan, d, p, plan->in->methods[m]);
            if (why && !g_ptr_array_find_with_equal_func(seen, why, g_str_equal, NULL))
                g_ptr_array_add(seen, (gpointer) why);
        }
        g_ptr_array_add(seen, NULL);
        return g_strjoinv(", ", (char **) seen->pdata);
    }
    int eq = plan->eq_of[d], ne = plan->ne_of[d];
    if (eq >= 0 && plan->eq_host[eq] >= 0 && plan->eq_host[eq] != (int) p)
        return g_strdup_printf("its eq group '%s' goes to %s", (const char *) plan->eq_names->pdata[eq],
                               plan->in->peers[plan->eq_host[eq]].name);
    if (eq >= 0 && plan->eq_host[eq] < 0 && plan->eq_has_resident[eq] && !plan->eq_resident[eq * plan->np + p])
        return g_strdup_printf("its eq group '%s' runs elsewhere", (const char *) plan->eq_names->pdata[eq]);
    if (ne >= 0 && plan->ne_count[ne * plan->np + p] > 0)
        return g_strdup_printf("a member of its ne group '%s' is there", (const char *) plan->ne_names->pdata[ne]);
    if (!has_memory(plan, d, p)) {
        g_autofree char *have = format_kib(plan->mem_left[p], FALSE);
        g_autofree char *need = format_kib((gint64) need_mem(plan, d), TRUE);
        return g_strdup_printf("%s free, needs %s", have, need);
    }
    if (!has_vcpus(plan, d, p))
        return g_strdup_printf("%" G_GINT64_FORMAT " vCPUs free, needs %u", MAX(plan->vcpu_left[p], 0),
                               need_vcpus(plan, d));
    return g_strdup("kept free for higher-priority domains");
}

static char *no_target_reason(const Plan *plan, guint d)
{
    if (policy_of(&plan->in->domains[d])->no_migrate)
        return g_strdup("its no-migrate policy refuses every method");
    if (plan->np == 0)
        return g_strdup_printf("%s has no peers", plan->in->source);
    g_autoptr(GString) text = g_string_new(NULL);
    for (guint k = 0; k < plan->np; k++) {
        guint p = plan->peer_order[k];
        g_autofree char *why = peer_reason(plan, d, p);
        g_string_append_printf(text, "%s%s: %s", k ? "; " : "", plan->in->peers[p].name, why);
    }
    return g_string_free(g_steal_pointer(&text), FALSE);
}

static const char *const verdict_reasons[] = {
    [FERRY_VERDICT_HOLD] = "its hold policy keeps it here",
    [FERRY_VERDICT_UNMANAGED] = "unmanaged: virt-ferry leaves it alone",
    [FERRY_VERDICT_MAINTENANCE] = "the domain itself is under maintenance",
    [FERRY_VERDICT_BUSY] = "another operation is in progress on it",
    [FERRY_VERDICT_STOPPED] = "stopped; evacuating all domains would move it",
};

static FerryPlacement *row_for(const Plan *plan, guint d)
{
    FerryPlacement *row = g_new0(FerryPlacement, 1);
    row->domain = g_strdup(plan->in->domains[d].name);
    row->verdict = verdict_before_placement(plan->in, &plan->in->domains[d]);
    if (row->verdict != FERRY_VERDICT_MOVE) {
        row->reason = g_strdup(verdict_reasons[row->verdict]);
    } else if (plan->assign[d] >= 0) {
        guint p = (guint) plan->assign[d];
        int rank = plan->rank[d * plan->np + p];
        row->method = plan->in->methods[rank];
        row->target = g_strdup(plan->in->peers[p].name);
        row->reason = rank == 0 ? g_strdup("")
                                : g_strdup_printf("%s to %s: %s", ferry_method_name(plan->in->methods[0]),
                                                  row->target, method_blocker(plan, d, p, plan->in->methods[0]));
    } else {
        row->verdict = FERRY_VERDICT_NO_TARGET;
        row->reason = no_target_reason(plan, d);
    }
    return row;
}

static int compare_names(gconstpointer a, gconstpointer b, gpointer user_data)
{
    const Plan *plan = user_data;
    return strcmp(plan->in->domains[*(const guint *) a].name, plan->in->domains[*(const guint *) b].name);
}

/* For each moved domain, the moved domains that must start after it: those its method
 * restarts (move, failover on a running domain) that depend on it. */
static GPtrArray **start_after_lists(const Plan *plan, GPtrArray *rows, GHashTable *by_name, guint *waiting)
{
    GPtrArray **after = g_new0(GPtrArray *, plan->nd);
    for (guint b = 0; b < plan->nd; b++) {
        const FerryPlacement *row = rows->pdata[b];
        if (row->verdict != FERRY_VERDICT_MOVE || !plan->in->domains[b].running || ferry_method_is_live(row->method))
            continue;
        GStrv depends = policy_of(&plan->in->domains[b])->depends;
        for (guint i = 0; depends[i]; i++) {
            gpointer value;
            if (!g_hash_table_lookup_extended(by_name, depends[i], NULL, &value))
                continue;
            guint a = GPOINTER_TO_UINT(value);
            if (((const FerryPlacement *) rows->pdata[a])->verdict != FERRY_VERDICT_MOVE)
                continue;
            if (!after[a])
                after[a] = g_ptr_array_new();
            g_ptr_array_add(after[a], GUINT_TO_POINTER(b));
            waiting[b]++;
        }
    }
    return after;
}

/* Moves first, by priority, a restarted domain after the moved domains it depends on
 * (Kahn's algorithm over the moves in priority order; the dependencies have no cycle),
 * then the others by name. */
static GPtrArray *order_rows(const Plan *plan, GPtrArray *rows, GHashTable *by_name)
{
    guint nd = plan->nd;
    GPtrArray *ordered = g_ptr_array_new_full(nd, (GDestroyNotify) ferry_placement_free);
    g_autofree guint *waiting = g_new0(guint, nd);
    g_autofree GPtrArray **after = start_after_lists(plan, rows, by_name, waiting);
    g_autofree guint *moves = g_new(guint, nd + 1);
    g_autofree guint *rest = g_new(guint, nd + 1);
    guint n_moves = 0, n_rest = 0;
    for (guint d = 0; d < nd; d++) {
        if (((const FerryPlacement *) rows->pdata[d])->verdict == FERRY_VERDICT_MOVE)
            moves[n_moves++] = d;
        else
            rest[n_rest++] = d;
    }
    g_qsort_with_data(moves, (gint) n_moves, sizeof(guint), compare_candidates, (gpointer) plan);
    g_qsort_with_data(rest, (gint) n_rest, sizeof(guint), compare_names, (gpointer) plan);

    guint first = 0; /* every move before it is out */
    for (guint n = 0; n < n_moves; n++) {
        while (!rows->pdata[moves[first]])
            first++;
        guint i = first;
        while (!rows->pdata[moves[i]] || waiting[moves[i]])
            i++; /* stays in range: no cycle, so some move is ready */
        guint d = moves[i];
        g_ptr_array_add(ordered, g_steal_pointer(&rows->pdata[d]));
        for (guint k = 0; after[d] && k < after[d]->len; k++)
            waiting[GPOINTER_TO_UINT(after[d]->pdata[k])]--;
    }
    for (guint i = 0; i < n_rest; i++)
        g_ptr_array_add(ordered, g_steal_pointer(&rows->pdata[rest[i]]));
    for (guint d = 0; d < nd; d++)
        if (after[d])
            g_ptr_array_unref(after[d]);
    return ordered;
}

GPtrArray *ferry_place(const FerryPlaceInput *in, GError **error)
{
    g_return_val_if_fail(in != NULL, NULL);
    g_autoptr(GHashTable) peers = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) domains = g_hash_table_new(g_str_hash, g_str_equal);
    if (!check_limits(in, error) || !check_names(in, peers, domains, error) || !check_pins(in, peers, error) ||
        !check_groups(in, error) || !check_dependencies(in, domains, error))
        return NULL;

    Plan plan = { 0 };
    plan_init(&plan, in, peers);
    if (plan.ncand <= FERRY_PLACE_EXACT_MAX) {
        place_exactly(&plan);
    } else {
        place_greedily(&plan);
        repair(&plan);
    }
    place_greedily(&plan); /* nothing that still fits stays behind */

    g_autoptr(GPtrArray) rows = g_ptr_array_new_full(in->n_domains, (GDestroyNotify) ferry_placement_free);
    for (guint d = 0; d < in->n_domains; d++)
        g_ptr_array_add(rows, row_for(&plan, d));
    GPtrArray *ordered = order_rows(&plan, rows, domains);
    plan_clear(&plan);
    return ordered;
}
