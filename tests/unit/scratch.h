/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A unit test's scratch directory and the virt-ferry.conf written into it (header only:
 * every test program that needs them includes it). */
#pragma once

#include "config.h"
#include "copy.h"

#include <glib.h>

/* A new directory under $TMPDIR, named after @prefix. */
static inline char *scratch_dir_new(const char *prefix)
{
    g_autofree char *template = g_strconcat(prefix, "-XXXXXX", NULL);
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp(template, &error);
    g_assert_no_error(error);
    return dir;
}

/* @text written to @dir/virt-ferry.conf and loaded, as virt-ferryd would: NULL with @error
 * when the configuration is refused. */
static inline FerryConfig *scratch_config_load(const char *dir, const char *text, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "virt-ferry.conf", NULL);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    return ferry_config_load(path, error);
}

/* As scratch_config_load, for a configuration the test expects to be accepted. */
static inline FerryConfig *scratch_config(const char *dir, const char *text)
{
    g_autoptr(GError) error = NULL;
    FerryConfig *config = scratch_config_load(dir, text, &error);
    g_assert_no_error(error);
    return config;
}

/* The directory and everything below it, links never followed. */
static inline void scratch_dir_remove(const char *dir)
{
    ferry_remove_tree(dir);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
}
