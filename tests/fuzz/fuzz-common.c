/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every harness shares (fuzz.h). */
#include "fuzz.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fuzz_string(const uint8_t *data, size_t size)
{
    char *s = g_malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static GLogWriterOutput fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                        gpointer user_data)
{
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
        g_log_writer_standard_streams(level, fields, n_fields, user_data);
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}

void fuzz_quiet_logs(void)
{
    static gsize done;
    if (g_once_init_enter(&done)) {
        g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
        g_once_init_leave(&done, 1);
    }
}

static char *scratch;

static void remove_tree(const char *path)
{
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    for (const char *name = d ? g_dir_read_name(d) : NULL; name; name = g_dir_read_name(d)) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            remove_tree(child);
        else
            g_unlink(child);
    }
    g_rmdir(path);
}

static void remove_scratch(void)
{
    remove_tree(scratch);
    g_clear_pointer(&scratch, g_free);
}

const char *fuzz_scratch_dir(void)
{
    if (!scratch) {
        scratch = g_dir_make_tmp("virt-ferry-fuzz-XXXXXX", NULL);
        if (!scratch)
            abort();
        atexit(remove_scratch);
    }
    return scratch;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    if (!g_file_set_contents(path, (const char *)data, (gssize)size, NULL)) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
}
