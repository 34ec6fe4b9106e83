/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry's declaration file for a libvirt network (plugin/networks.c): joined to the
 * network's XML as its metadata when the map is read from libvirt (here the test:///default
 * driver, whose network is "default"). */
#include "fuzz.h"

#include "networks.h"

#include <libvirt/virterror.h>
#include <stdlib.h>

static void quiet(void *data, virErrorPtr error) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static virConnectPtr conn;
    static char *networks_dir;
    fuzz_quiet_logs();
    if (!conn) {
        virSetErrorFunc(NULL, quiet);
        conn = virConnectOpen("test:///default");
        if (!conn)
            abort();
        networks_dir = g_build_filename(fuzz_scratch_dir(), "networks", NULL);
        g_mkdir_with_parents(networks_dir, 0700);
    }
    g_autofree char *path = ferry_networks_declarations_path(networks_dir, "default");
    fuzz_write_file(path, data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryNetmap) map = ferry_networks_read_map(conn, networks_dir, &error);
    if (!map)
        abort(); /* the network list itself cannot fail here */
    return 0;
}
