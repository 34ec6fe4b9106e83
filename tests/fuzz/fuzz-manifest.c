/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An archive's manifest (plugin/library.c), with a digest that matches it so the parse is
 * reached (a hostile library writer can write both), then what the library makes of the
 * archive: its listing and the data size. */
#include "fuzz.h"

#include "library.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *library, *archive;
    fuzz_quiet_logs();
    if (!library) {
        library = g_build_filename(fuzz_scratch_dir(), "library", NULL);
        archive = g_build_filename(library, "fuzz-20261203T000000Z", NULL);
        g_mkdir_with_parents(archive, 0700);
    }
    g_autofree char *manifest = g_build_filename(archive, FERRY_MANIFEST_NAME, NULL);
    g_autofree char *digest_path = g_build_filename(archive, FERRY_MANIFEST_DIGEST_NAME, NULL);
    g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, size);
    g_autofree char *digest = g_strconcat("sha256:", hex, "\n", NULL);
    fuzz_write_file(manifest, data, size);
    fuzz_write_file(digest_path, (const uint8_t *)digest, strlen(digest));
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryManifest) m = ferry_manifest_load(archive, &error);
    if (m) {
        ferry_manifest_has_memory(m);
        for (int role = FERRY_FILE_MEMORY; role <= FERRY_FILE_TPM; role++)
            ferry_manifest_find(m, role);
        ferry_manifest_data_size(m);
        /* Saved again, it loads again. */
        g_autofree char *copy = g_build_filename(fuzz_scratch_dir(), "copy", NULL);
        g_mkdir_with_parents(copy, 0700);
        if (ferry_manifest_save(m, copy, NULL)) {
            g_autoptr(FerryManifest) again = ferry_manifest_load(copy, &error);
            if (!again)
                abort();
        }
    }
    g_autoptr(GPtrArray) listed = ferry_library_list(library);
    return 0;
}
