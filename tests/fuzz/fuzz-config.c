/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry.conf (plugin/config.c), as virt-ferryd, the CLI and the hook read it. */
#include "fuzz.h"

#include "config.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *path;
    fuzz_quiet_logs();
    if (!path)
        path = g_build_filename(fuzz_scratch_dir(), "virt-ferry.conf", NULL);
    fuzz_write_file(path, data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryConfig) config = ferry_config_load(path, &error);
    if (!config == !error)
        abort(); /* one or the other */
    if (config && (!config->libvirt_uri || !config->peers || !config->state_dir || !config->archive_library))
        abort(); /* documented as never NULL */
    return 0;
}
