/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain XML (plugin/domxml.c): the parse, every reader, the archivability check, and each
 * rewriter on what was read, then the serialization and its parse again. The same input is
 * also read as an archived mark. */
#include "fuzz.h"

#include "domxml.h"

static void rewrite(FerryDomainXml *d)
{
    GPtrArray *disks = ferry_domxml_disks(d);
    for (guint i = 0; i < disks->len; i++) {
        const FerryDisk *disk = g_ptr_array_index(disks, i);
        if (disk->target) {
            ferry_domxml_set_disk_source(d, disk->target, "/var/lib/libvirt/images/fuzz.qcow2", NULL);
            ferry_domxml_set_disk_format(d, disk->target, "qcow2", NULL);
        }
    }
    GPtrArray *nics = ferry_domxml_nics(d);
    for (guint i = 0; i < nics->len; i++) {
        const FerryNic *nic = g_ptr_array_index(nics, i);
        if (!nic->mac)
            continue;
        ferry_domxml_nic_by_mac(d, nic->mac);
        ferry_domxml_set_nic_source(d, nic->mac, "ovsnet", i % 2 ? "green300" : NULL, NULL);
        ferry_domxml_set_nic_vlan(d, nic->mac, i % 3 ? 300 : -1, i % 2, NULL);
        ferry_domxml_set_nic_virtualport(d, nic->mac, i % 2 ? "openvswitch" : NULL, NULL);
    }
    ferry_domxml_set_name(d, "fuzz-copy", NULL);
    ferry_domxml_set_uuid(d, "6695eb01-f6a4-8304-79aa-97f2502e193f", NULL);
    ferry_domxml_set_nvram(d, "/var/lib/libvirt/qemu/nvram/fuzz_VARS.fd");
    ferry_domxml_eject_removable(d);
    ferry_domxml_strip_live_state(d);
}

static void read_all(FerryDomainXml *d)
{
    ferry_domxml_name(d);
    ferry_domxml_uuid(d);
    ferry_domxml_type(d);
    ferry_domxml_memory_kib(d);
    ferry_domxml_vcpus(d);
    ferry_domxml_cpu_mode(d);
    ferry_domxml_cpu_model(d);
    ferry_domxml_nvram(d);
    ferry_domxml_has_tpm_emulator(d);
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    ferry_domxml_check_archivable(d, notes, &error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet_logs();
    g_autofree char *xml = fuzz_string(data, size);
    g_autoptr(GError) error = NULL;
    g_autofree char *id = NULL;
    ferry_archived_mark_parse(xml, &id, NULL, NULL);
    g_autoptr(FerryDomainXml) d = ferry_domxml_parse(xml, &error);
    if (!d)
        return 0;
    read_all(d);
    rewrite(d);
    read_all(d);
    g_autofree char *out = ferry_domxml_format(d);
    /* What we write, we read back. */
    g_autoptr(FerryDomainXml) again = out ? ferry_domxml_parse(out, NULL) : NULL;
    if (out && !again)
        abort();
    return 0;
}
