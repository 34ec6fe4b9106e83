/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An evacuation interrupted by virt-ferryd's death and reboot_dependents' choice, as pure
 * functions (the settling of a move from what each host's libvirt says; which dependents a
 * restarted domain's move reboots), and the recovery of an evacuation's journal at start on
 * libvirt's test driver. A real kill in the middle of real moves: tests/lab/test-evacfault.sh. */
#include "dependents.h"
#include "evacuate-journal.h"
#include "recover.h"
#include "scratch.h"

#include <glib/gstdio.h>
#include <libvirt/virterror.h>

/* ------------------------------------------------------------------ settling a move */

typedef struct {
    const char *what;
    FerryEvacSide here, there;
    gboolean was_running;
    FerryEvacWhere where;
    guint actions;
} Case;

#define NONE { FALSE, FALSE, FALSE }
#define DEFINED { TRUE, FALSE, FALSE }
#define RUNNING { TRUE, TRUE, FALSE }
#define PAUSED { TRUE, TRUE, TRUE }

static void test_resolve(void)
{
    const Case cases[] = {
        { "migration finished by libvirtd alone", NONE, RUNNING, TRUE, FERRY_EVAC_RUNS_THERE, 0 },
        { "migration finished, the source's definition left", DEFINED, RUNNING, TRUE, FERRY_EVAC_RUNS_THERE,
          FERRY_EVAC_UNDEFINE_HERE },
        { "switched over, the paused source not yet killed", PAUSED, RUNNING, TRUE, FERRY_EVAC_RUNS_THERE,
          FERRY_EVAC_DESTROY_HERE | FERRY_EVAC_UNDEFINE_HERE },
        { "migration failed or never began", RUNNING, NONE, TRUE, FERRY_EVAC_RUNS_HERE, 0 },
        { "migration failed, an incoming copy left paused", RUNNING, PAUSED, TRUE, FERRY_EVAC_RUNS_HERE,
          FERRY_EVAC_DESTROY_THERE | FERRY_EVAC_UNDEFINE_THERE },
        { "stopped at the switch-over", PAUSED, PAUSED, TRUE, FERRY_EVAC_RUNS_HERE,
          FERRY_EVAC_DESTROY_THERE | FERRY_EVAC_UNDEFINE_THERE | FERRY_EVAC_RESUME_HERE },
        { "source gone, target paused", NONE, PAUSED, TRUE, FERRY_EVAC_RUNS_THERE, FERRY_EVAC_RESUME_THERE },
        { "move: shut down here, nothing there yet", DEFINED, NONE, TRUE, FERRY_EVAC_RUNS_HERE,
          FERRY_EVAC_START_HERE },
        { "move: defined there, not started", DEFINED, DEFINED, TRUE, FERRY_EVAC_RUNS_HERE,
          FERRY_EVAC_UNDEFINE_THERE | FERRY_EVAC_START_HERE },
        { "move: started there, source kept", DEFINED, RUNNING, TRUE, FERRY_EVAC_RUNS_THERE,
          FERRY_EVAC_UNDEFINE_HERE },
        { "move of a stopped domain, defined on both", DEFINED, DEFINED, FALSE, FERRY_EVAC_RUNS_HERE,
          FERRY_EVAC_UNDEFINE_THERE },
        { "move of a stopped domain, done", NONE, DEFINED, FALSE, FERRY_EVAC_RUNS_THERE, 0 },
        { "move: undefined here, not started there", NONE, DEFINED, TRUE, FERRY_EVAC_RUNS_THERE,
          FERRY_EVAC_START_THERE },
        { "running on both", RUNNING, RUNNING, TRUE, FERRY_EVAC_CONFLICT, 0 },
        { "gone from both", NONE, NONE, TRUE, FERRY_EVAC_LOST, 0 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        FerryEvacResolution r = ferry_evacuation_resolve(&c->here, &c->there, c->was_running);
        g_test_message("%s", c->what);
        g_assert_cmpint(r.where, ==, c->where);
        g_assert_cmphex(r.actions, ==, c->actions);
        /* Whatever the case: never a start or resume on both sides, never both copies dropped. */
        guint here_up = r.actions & (FERRY_EVAC_RESUME_HERE | FERRY_EVAC_START_HERE);
        guint there_up = r.actions & (FERRY_EVAC_RESUME_THERE | FERRY_EVAC_START_THERE);
        g_assert_false(here_up && there_up);
        g_assert_false((r.actions & FERRY_EVAC_UNDEFINE_HERE) && (r.actions & FERRY_EVAC_UNDEFINE_THERE));
    }
}

/* ------------------------------------------------------------------ dependents */

static void test_dependents(void)
{
    g_autoptr(FerryPolicy) app = ferry_policy_new(), fixing = ferry_policy_new(), other = ferry_policy_new();
    g_autoptr(FerryPolicy) self = ferry_policy_new(), later = ferry_policy_new();
    g_strfreev(app->depends);
    app->depends = g_strsplit("cache,db", ",", -1);
    g_strfreev(fixing->depends);
    fixing->depends = g_strsplit("db", ",", -1);
    fixing->maintenance = TRUE;
    g_strfreev(other->depends);
    other->depends = g_strsplit("cache", ",", -1);
    g_strfreev(self->depends);
    self->depends = g_strsplit("db", ",", -1);
    g_strfreev(later->depends);
    later->depends = g_strsplit("db", ",", -1);
    const FerryDependent candidates[] = {
        { "app", "beta", TRUE, app },          /* on a peer: rebooted */
        { "fixing", "alpha", TRUE, fixing },   /* its own maintenance mark: no dependent reboot */
        { "other", "alpha", TRUE, other },     /* depends on something else */
        { "stopped", "alpha", FALSE, app },    /* not running: nothing to reboot */
        { "plain", "gamma", TRUE, NULL },      /* no policy */
        { "db", "beta", TRUE, self },          /* the moved domain itself */
        { "queued", "alpha", TRUE, later },    /* its own restarting move comes after */
    };
    const char *const restarted_later[] = { "queued", NULL };
    g_autoptr(GArray) chosen = ferry_dependents_select("db", candidates, G_N_ELEMENTS(candidates), restarted_later);
    g_assert_cmpuint(chosen->len, ==, 3);
    FerryDependentChoice *c = (FerryDependentChoice *)(void *)chosen->data;
    g_assert_cmpstr(candidates[c[0].index].name, ==, "app");
    g_assert_cmpint(c[0].verdict, ==, FERRY_DEPENDENT_REBOOT);
    g_assert_cmpstr(candidates[c[1].index].name, ==, "fixing");
    g_assert_cmpint(c[1].verdict, ==, FERRY_DEPENDENT_MAINTENANCE);
    g_assert_cmpstr(candidates[c[2].index].name, ==, "queued");
    g_assert_cmpint(c[2].verdict, ==, FERRY_DEPENDENT_OWN_MOVE);

    g_autoptr(GArray) none = ferry_dependents_select("nobody", candidates, G_N_ELEMENTS(candidates), NULL);
    g_assert_cmpuint(none->len, ==, 0);
    g_autoptr(GArray) cache = ferry_dependents_select("cache", candidates, G_N_ELEMENTS(candidates), NULL);
    g_assert_cmpuint(cache->len, ==, 2); /* app and other; stopped (also depending on cache) is not running */
}

/* ------------------------------------------------------------------ recovery at start */

/* test:///default's domain, running, shared by every connection of this process. */
#define TEST_UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"

typedef struct {
    char *dir;
    FerryConfig *config;
    char *unreachable;
} Fixture;

static void quiet(void *data, virErrorPtr e) {}

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    virSetErrorFunc(NULL, quiet);
    /* The restore-lock sweep after the journal warns that the test driver names no host UUID. */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR);
    f->dir = scratch_dir_new("test-evacuate-recovery");
    f->unreachable = g_strdup_printf("test://%s/missing.xml", f->dir);
    g_autofree char *text = g_strdup_printf("[libvirt]\nuri=test:///default\n[peers]\nuris=%s\n[state]\ndir=%s\n"
                                            "[networks]\ndir=%s\n",
                                            f->unreachable, f->dir, f->dir);
    f->config = scratch_config(f->dir, text);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    ferry_config_unref(f->config);
    scratch_dir_remove(f->dir);
    g_free(f->unreachable);
    g_free(f->dir);
}

static guint journals(Fixture *f)
{
    g_autoptr(GPtrArray) left = ferry_journal_load_all(f->dir);
    return left->len;
}

/* An evacuation of three domains, killed while the first one moved to an unreachable peer. */
static void write_journal(Fixture *f)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryJournal) j = ferry_evacuation_journal_create(f->dir, &error);
    g_assert_no_error(error);
    ferry_evacuation_journal_queue(j, TEST_UUID, "test", "migration", "beta", f->unreachable, TRUE);
    ferry_evacuation_journal_queue(j, "00000000-0000-0000-0000-000000000002", "done", "migration", "beta",
                                   f->unreachable, TRUE);
    ferry_evacuation_journal_queue(j, "00000000-0000-0000-0000-000000000003", "waiting", "move", "beta",
                                   f->unreachable, TRUE);
    g_assert_true(ferry_journal_commit(j, &error));
    g_assert_true(ferry_evacuation_journal_phase(j, "00000000-0000-0000-0000-000000000002", FERRY_EVAC_MOVED, NULL,
                                                 &error));
    g_assert_true(ferry_evacuation_journal_phase(j, TEST_UUID, FERRY_EVAC_MOVING, NULL, &error));
    g_assert_no_error(error);
}

/* What virt-ferryd does at its start: the journal read once, then recovered. */
static void recover(Fixture *f)
{
    g_autoptr(GPtrArray) entries = ferry_journal_load_all(f->dir);
    ferry_recover_journal(f->config, entries);
}

static void test_recover_here(Fixture *f, gconstpointer data)
{
    write_journal(f);
    g_assert_cmpuint(journals(f), ==, 1);
    /* The domain runs here: settled as staying, whatever the unreachable target holds. */
    recover(f);
    g_assert_cmpuint(journals(f), ==, 0);
    virConnectPtr conn = virConnectOpen("test:///default");
    virDomainPtr dom = virDomainLookupByUUIDString(conn, TEST_UUID);
    g_assert_nonnull(dom);
    g_assert_cmpint(virDomainIsActive(dom), ==, 1);
    virDomainFree(dom);
    virConnectClose(conn);
}

static void test_recover_kept(Fixture *f, gconstpointer data)
{
    virConnectPtr conn = virConnectOpen("test:///default");
    virDomainPtr dom = virDomainLookupByUUIDString(conn, TEST_UUID);
    g_assert_cmpint(virDomainDestroy(dom), ==, 0);
    write_journal(f);
    /* Not running here, its target unreadable: nothing is guessed, the entry waits. */
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_CRITICAL, "*test was moving to beta, which cannot be reached*");
    recover(f);
    g_test_assert_expected_messages();
    g_assert_cmpuint(journals(f), ==, 1);
    g_assert_cmpint(virDomainIsActive(dom), ==, 0);
    g_assert_cmpint(virDomainCreate(dom), ==, 0);
    virDomainFree(dom);
    virConnectClose(conn);
}

/* What the recovery holds while it runs: every domain an entry names, whatever its kind. */
static void test_recover_domains(Fixture *f, gconstpointer data)
{
    g_autoptr(GPtrArray) empty = ferry_journal_load_all(f->dir);
    g_auto(GStrv) none = ferry_recover_domains(empty);
    g_assert_cmpuint(g_strv_length(none), ==, 0);
    write_journal(f);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryJournal) archive = ferry_journal_create(f->dir, "archive", "7", &error);
    g_assert_no_error(error);
    ferry_journal_set(archive, "domain", "00000000-0000-0000-0000-00000000000a");
    g_assert_true(ferry_journal_commit(archive, &error));
    g_autoptr(GPtrArray) entries = ferry_journal_load_all(f->dir);
    g_auto(GStrv) held = ferry_recover_domains(entries);
    g_assert_cmpuint(g_strv_length(held), ==, 4);
    g_assert_true(g_strv_contains((const char *const *)held, TEST_UUID));
    g_assert_true(g_strv_contains((const char *const *)held, "00000000-0000-0000-0000-000000000003"));
    g_assert_true(g_strv_contains((const char *const *)held, "00000000-0000-0000-0000-00000000000a"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/evacuate-recovery/resolve", test_resolve);
    g_test_add_func("/evacuate-recovery/dependents", test_dependents);
    g_test_add("/evacuate-recovery/recover-here", Fixture, NULL, fixture_set_up, test_recover_here, fixture_tear_down);
    g_test_add("/evacuate-recovery/recover-domains", Fixture, NULL, fixture_set_up, test_recover_domains,
               fixture_tear_down);
    g_test_add("/evacuate-recovery/recover-kept", Fixture, NULL, fixture_set_up, test_recover_kept, fixture_tear_down);
    return g_test_run();
}
