/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host engine (plugin/host.c) on libvirt's test:///default driver: the reads any
 * caller may ask for without authorization are shared, however many ask at once. */
#include "host.h"
#include "scratch.h"

#include <glib/gstdio.h>

typedef struct {
    char *dir;
    FerryConfig *config;
    FerryHost *host;
    guint library_reads;      /* archives_changed calls: one per read of the library */
    guint answers;
    GPtrArray *results;       /* what each caller got (a ref), in order of asking */
} Fixture;

static void on_archives(GPtrArray *manifests, gpointer data)
{
    Fixture *f = data;
    f->library_reads++;
}

static const FerryHostCallbacks callbacks = { .archives_changed = on_archives };

static void set_up(Fixture *f, gconstpointer unused)
{
    f->dir = scratch_dir_new("ferry-host");
    g_autofree char *library = g_build_filename(f->dir, "library", NULL);
    g_autofree char *state = g_build_filename(f->dir, "state", NULL);
    g_autofree char *networks = g_build_filename(f->dir, "networks", NULL);
    g_assert_cmpint(g_mkdir(library, 0700), ==, 0);
    g_autofree char *text = g_strdup_printf("[libvirt]\nuri=test:///default\n[archive]\nlibrary=%s\n"
                                            "[state]\ndir=%s\n[networks]\ndir=%s\n", library, state, networks);
    f->config = scratch_config(f->dir, text);
    f->host = ferry_host_new(f->config, &callbacks, f);
    f->results = g_ptr_array_new();
}

static void tear_down(Fixture *f, gconstpointer unused)
{
    ferry_host_free(f->host);
    ferry_config_unref(f->config);
    g_ptr_array_unref(f->results);
    scratch_dir_remove(f->dir);
    g_free(f->dir);
}

static void wait_for_answers(Fixture *f, guint n)
{
    while (f->answers < n)
        g_main_context_iteration(NULL, TRUE);
}

static void listed(GObject *source, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;
    g_autoptr(GError) error = NULL;
    GPtrArray *manifests = ferry_host_list_archives_finish(f->host, res, &error);
    g_assert_no_error(error);
    g_assert_nonnull(manifests);
    g_ptr_array_add(f->results, manifests);
    f->answers++;
}

/* Twenty callers at once: two reads of the library, not twenty (each read may hold a thread
 * on slow shared storage); those who asked while the first ran get the second. */
static void test_list_archives_shared(Fixture *f, gconstpointer unused)
{
    for (int i = 0; i < 20; i++)
        ferry_host_list_archives_async(f->host, listed, f);
    wait_for_answers(f, 20);
    g_assert_cmpuint(f->library_reads, ==, 2);
    for (guint i = 2; i < f->results->len; i++)
        g_assert_true(g_ptr_array_index(f->results, i) == g_ptr_array_index(f->results, 1));
    g_ptr_array_set_free_func(f->results, (GDestroyNotify)g_ptr_array_unref);

    /* A caller who asks later gets a read of his own. */
    ferry_host_list_archives_async(f->host, listed, f);
    wait_for_answers(f, 21);
    g_assert_cmpuint(f->library_reads, ==, 3);
}

static void checked(GObject *source, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;
    g_autoptr(GError) error = NULL;
    GVariant *rows = ferry_host_check_networks_finish(f->host, res, &error);
    g_assert_no_error(error);
    g_assert_true(g_variant_is_of_type(rows, G_VARIANT_TYPE("a(ssss)")));
    g_ptr_array_add(f->results, rows);
    f->answers++;
}

/* CheckNetworks opens libvirt connections to every peer: ten callers share two comparisons. */
static void test_check_networks_shared(Fixture *f, gconstpointer unused)
{
    for (int i = 0; i < 10; i++)
        ferry_host_check_networks_async(f->host, checked, f);
    wait_for_answers(f, 10);
    g_assert_true(g_ptr_array_index(f->results, 0) != g_ptr_array_index(f->results, 1));
    for (guint i = 2; i < f->results->len; i++)
        g_assert_true(g_ptr_array_index(f->results, i) == g_ptr_array_index(f->results, 1));
    g_ptr_array_set_free_func(f->results, (GDestroyNotify)g_variant_unref);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/host/list-archives-shared", Fixture, NULL, set_up, test_list_archives_shared, tear_down);
    g_test_add("/host/check-networks-shared", Fixture, NULL, set_up, test_check_networks_shared, tear_down);
    return g_test_run();
}
