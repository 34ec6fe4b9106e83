/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry.conf(5): a group or key that nothing reads is named (so a misspelt key does not
 * silently keep its default); every key the page documents is known. */
#include "config.h"

#include "ferry-error.h"

#include <glib/gstdio.h>
#include <unistd.h>

static FerryConfig *load_text(const char *text, GError **error)
{
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("virt-ferry-config-XXXXXX.conf", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    close(fd);
    FerryConfig *config = ferry_config_load(path, error);
    g_unlink(path);
    return config;
}

static void test_unknown_named(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryConfig) config = load_text("[libvirt]\nuri=test:///default\nurl=qemu:///system\n"
                                              "[evacuation]\nbacth=3\nbatch=4\n"
                                              "[pears]\nuris=qemu+tcp://beta/system\n",
                                              &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_strv_length(config->unknown), ==, 3);
    g_assert_cmpstr(config->unknown[0], ==, "unknown key url= in [libvirt]");
    g_assert_cmpstr(config->unknown[1], ==, "unknown key bacth= in [evacuation]");
    g_assert_cmpstr(config->unknown[2], ==, "unknown group [pears]");
    /* What is known is read all the same. */
    g_assert_cmpstr(config->libvirt_uri, ==, "test:///default");
    g_assert_cmpuint(config->evacuation_batch, ==, 4);
}

/* Every key of virt-ferry.conf(5) (test-man.sh checks the page against config.c's table). */
static void test_documented_known(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryConfig) config = load_text(
        "[libvirt]\nuri=test:///default\n"
        "[peers]\nuris=qemu+tcp://beta/system\n"
        "[archive]\nlibrary=/srv/archive\nimage-dir=/var/lib/libvirt/images\n"
        "[state]\ndir=/var/lib/virt-ferry\n"
        "[networks]\ndir=/etc/virt-ferry/networks\n"
        "[failover]\ndir=/srv/failover\n"
        "[evacuation]\nmethods=migration\nbatch=2\nstorage-per-source=1\npeer-timeout=5\n"
        "memory-ratio=1.5\nvcpu-ratio=2\n",
        &error);
    g_assert_no_error(error);
    g_assert_cmpuint(g_strv_length(config->unknown), ==, 0);
}

static void test_missing_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryConfig) config = ferry_config_load("/nonexistent/virt-ferry.conf", &error);
    g_assert_no_error(error);
    g_assert_nonnull(config->unknown);
    g_assert_cmpuint(g_strv_length(config->unknown), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/config/unknown-named", test_unknown_named);
    g_test_add_func("/config/documented-known", test_documented_known);
    g_test_add_func("/config/missing-file", test_missing_file);
    return g_test_run();
}
