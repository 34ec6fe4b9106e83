/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain XML helpers: reading, archivability, rewrites, live-state stripping, the archived
 * mark. The samples follow what libvirt 9.0's QEMU driver writes (virsh dumpxml of a
 * running domain, and --inactive). */
#include "domxml.h"
#include "ferry-error.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <string.h>

/* A running UEFI + TPM guest on Debian 12 (libvirt 9.0, QEMU 7.2): host-model CPU shown
 * expanded, a qcow2 disk, a CD-ROM with an ISO, a NIC on an Open vSwitch network's VLAN
 * portgroup, a NIC on a Linux bridge with a user alias, AppArmor and DAC labels. */
static const char LIVE_XML[] =
    "<domain type='kvm' id='7'>\n"
    "  <name>db1</name>\n"
    "  <uuid>3f2a8c9e-5b1d-4e6f-9a7b-2c4d6e8f0a1b</uuid>\n"
    "  <metadata>\n"
    "    <ferry:policy xmlns:ferry=\"http://virtferry.org/xmlns/policy/1\">\n"
    "      <ferry:priority value=\"10\"/>\n"
    "    </ferry:policy>\n"
    "  </metadata>\n"
    "  <memory unit='KiB'>4194304</memory>\n"
    "  <currentMemory unit='KiB'>4194304</currentMemory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <resource>\n"
    "    <partition>/machine</partition>\n"
    "  </resource>\n"
    "  <os firmware='efi'>\n"
    "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
    "    <firmware>\n"
    "      <feature enabled='yes' name='enrolled-keys'/>\n"
    "      <feature enabled='yes' name='secure-boot'/>\n"
    "    </firmware>\n"
    "    <loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>\n"
    "    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/db1_VARS.fd</nvram>\n"
    "    <boot dev='hd'/>\n"
    "  </os>\n"
    "  <features>\n"
    "    <acpi/>\n"
    "    <apic/>\n"
    "    <smm state='on'/>\n"
    "  </features>\n"
    "  <cpu mode='custom' match='exact' check='full'>\n"
    "    <model fallback='forbid'>Skylake-Client-IBRS</model>\n"
    "    <vendor>Intel</vendor>\n"
    "    <feature policy='require' name='ss'/>\n"
    "    <feature policy='require' name='hypervisor'/>\n"
    "    <feature policy='disable' name='hle'/>\n"
    "  </cpu>\n"
    "  <clock offset='utc'>\n"
    "    <timer name='rtc' tickpolicy='catchup'/>\n"
    "    <timer name='pit' tickpolicy='delay'/>\n"
    "    <timer name='hpet' present='no'/>\n"
    "  </clock>\n"
    "  <on_poweroff>destroy</on_poweroff>\n"
    "  <on_reboot>restart</on_reboot>\n"
    "  <on_crash>destroy</on_crash>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2' discard='unmap'/>\n"
    "      <source file='/var/lib/libvirt/images/db1.qcow2' index='2'/>\n"
    "      <backingStore/>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "      <alias name='virtio-disk0'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\n"
    "    </disk>\n"
    "    <disk type='file' device='cdrom'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <source file='/var/lib/libvirt/images/debian-12.5.0-amd64-netinst.iso' index='1'/>\n"
    "      <backingStore/>\n"
    "      <target dev='sda' bus='sata'/>\n"
    "      <readonly/>\n"
    "      <alias name='sata0-0-0'/>\n"
    "      <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n"
    "    </disk>\n"
    "    <controller type='usb' index='0' model='qemu-xhci' ports='15'>\n"
    "      <alias name='usb'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n"
    "    </controller>\n"
    "    <controller type='sata' index='0'>\n"
    "      <alias name='ide'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>\n"
    "    </controller>\n"
    "    <controller type='pci' index='0' model='pcie-root'>\n"
    "      <alias name='pcie.0'/>\n"
    "    </controller>\n"
    "    <controller type='virtio-serial' index='0'>\n"
    "      <alias name='virtio-serial0'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>\n"
    "    </controller>\n"
    "    <interface type='network'>\n"
    "      <mac address='52:54:00:3a:7c:01'/>\n"
    "      <source network='ovs-net' portgroup='vlan300' portid='9a0c7b3e-0d6f-4f57-8f3e-1b2c3d4e5f60' bridge='ovsbr0'/>\n"
    "      <vlan>\n"
    "        <tag id='300'/>\n"
    "      </vlan>\n"
    "      <virtualport type='openvswitch'>\n"
    "        <parameters interfaceid='e5c1f8a2-6b7d-4c3e-9f1a-0b2c3d4e5f61'/>\n"
    "      </virtualport>\n"
    "      <target dev='vnet3'/>\n"
    "      <model type='virtio'/>\n"
    "      <alias name='net0'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
    "    </interface>\n"
    "    <interface type='bridge'>\n"
    "      <mac address='52:54:00:3A:7C:02'/>\n"
    "      <source bridge='br0'/>\n"
    "      <target dev='tap-db1'/>\n"
    "      <model type='e1000e'/>\n"
    "      <alias name='ua-mgmt'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n"
    "    </interface>\n"
    "    <serial type='pty'>\n"
    "      <source path='/dev/pts/3'/>\n"
    "      <target type='isa-serial' port='0'>\n"
    "        <model name='isa-serial'/>\n"
    "      </target>\n"
    "      <alias name='serial0'/>\n"
    "    </serial>\n"
    "    <console type='pty' tty='/dev/pts/3'>\n"
    "      <source path='/dev/pts/3'/>\n"
    "      <target type='serial' port='0'/>\n"
    "      <alias name='serial0'/>\n"
    "    </console>\n"
    "    <channel type='unix'>\n"
    "      <source mode='bind' path='/run/libvirt/qemu/channel/7-db1/org.qemu.guest_agent.0'/>\n"
    "      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>\n"
    "      <alias name='channel0'/>\n"
    "      <address type='virtio-serial' controller='0' bus='0' port='1'/>\n"
    "    </channel>\n"
    "    <input type='mouse' bus='ps2'>\n"
    "      <alias name='input0'/>\n"
    "    </input>\n"
    "    <tpm model='tpm-crb'>\n"
    "      <backend type='emulator' version='2.0'/>\n"
    "      <alias name='tpm0'/>\n"
    "    </tpm>\n"
    "    <graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'>\n"
    "      <listen type='address' address='127.0.0.1'/>\n"
    "    </graphics>\n"
    "    <graphics type='spice' port='5901' tlsPort='5902' autoport='yes' listen='192.168.122.1'>\n"
    "      <listen type='network' address='192.168.122.1' network='default'/>\n"
    "    </graphics>\n"
    "    <audio id='1' type='none'/>\n"
    "    <video>\n"
    "      <model type='virtio' heads='1' primary='yes'/>\n"
    "      <alias name='video0'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>\n"
    "    </video>\n"
    "    <memballoon model='virtio'>\n"
    "      <alias name='balloon0'/>\n"
    "      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n"
    "    </memballoon>\n"
    "  </devices>\n"
    "  <seclabel type='dynamic' model='apparmor' relabel='yes'>\n"
    "    <label>libvirt-3f2a8c9e-5b1d-4e6f-9a7b-2c4d6e8f0a1b</label>\n"
    "    <imagelabel>libvirt-3f2a8c9e-5b1d-4e6f-9a7b-2c4d6e8f0a1b</imagelabel>\n"
    "  </seclabel>\n"
    "  <seclabel type='dynamic' model='dac' relabel='yes'>\n"
    "    <label>+64055:+994</label>\n"
    "    <imagelabel>+64055:+994</imagelabel>\n"
    "  </seclabel>\n"
    "</domain>\n";

/* A shut-off guest (virsh dumpxml --inactive): host-passthrough, memory in GiB, vCPUs
 * with a current count, libvirt 8.5's <nvram><source file=/>, an empty CD-ROM, an empty
 * floppy and a read-only shareable disk, none of which stop an archive. */
static const char INACTIVE_XML[] =
    "<domain type='qemu'>\n"
    "  <name>web 2</name>\n"
    "  <uuid>0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d</uuid>\n"
    "  <memory unit='GiB'>2</memory>\n"
    "  <vcpu placement='static' current='2'>4</vcpu>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n"
    "    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>\n"
    "    <nvram type='file'>\n"
    "      <source file='/var/lib/libvirt/qemu/nvram/web2_VARS.fd'/>\n"
    "    </nvram>\n"
    "  </os>\n"
    "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <source file='/srv/images/web2.img'/>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "    </disk>\n"
    "    <disk type='file' device='cdrom'>\n"
    "      <driver name='qemu' type='raw'/>\n"
    "      <target dev='hdc' bus='ide'/>\n"
    "      <readonly/>\n"
    "    </disk>\n"
    "    <disk type='file' device='floppy'>\n"
    "      <target dev='fda' bus='fdc'/>\n"
    "    </disk>\n"
    "    <disk type='volume' device='disk'>\n"
    "      <driver name='qemu' type='qcow2'/>\n"
    "      <source pool='default' volume='web2-data.qcow2'/>\n"
    "      <target dev='vdb' bus='virtio'/>\n"
    "      <readonly/>\n"
    "      <shareable/>\n"
    "    </disk>\n"
    "    <interface type='direct'>\n"
    "      <mac address='52:54:00:11:22:33'/>\n"
    "      <source dev='eno1' mode='bridge'/>\n"
    "      <vlan trunk='yes'>\n"
    "        <tag id='42'/>\n"
    "        <tag id='43'/>\n"
    "      </vlan>\n"
    "      <model type='virtio'/>\n"
    "    </interface>\n"
    "    <interface type='user'>\n"
    "      <mac address='52:54:00:11:22:34'/>\n"
    "    </interface>\n"
    "  </devices>\n"
    "  <seclabel type='none' model='apparmor'/>\n"
    "</domain>\n";

static FerryDomainXml *parse_ok(const char *xml)
{
    g_autoptr(GError) error = NULL;
    FerryDomainXml *d = ferry_domxml_parse(xml, &error);
    g_assert_no_error(error);
    g_assert_nonnull(d);
    return d;
}

/* A minimal domain around @devices (and @top, elements placed before <devices>). */
static char *domain_with(const char *top, const char *devs)
{
    return g_strdup_printf("<domain type='kvm'><name>t1</name><memory>1048576</memory>%s"
                           "<devices>%s</devices></domain>", top, devs);
}

static FerryDisk *disk_at(FerryDomainXml *d, guint i)
{
    GPtrArray *disks = ferry_domxml_disks(d);
    g_assert_cmpuint(i, <, disks->len);
    return disks->pdata[i];
}

static FerryNic *nic_at(FerryDomainXml *d, guint i)
{
    GPtrArray *nics = ferry_domxml_nics(d);
    g_assert_cmpuint(i, <, nics->len);
    return nics->pdata[i];
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        g_error("expected \"%s\" in:\n%s", needle, haystack);
}

static void assert_lacks(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle))
        g_error("did not expect \"%s\" in:\n%s", needle, haystack);
}

/* ------------------------------------------------------------------ reading */

static void test_read_live(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(LIVE_XML);
    g_assert_cmpstr(ferry_domxml_name(d), ==, "db1");
    g_assert_cmpstr(ferry_domxml_uuid(d), ==, "3f2a8c9e-5b1d-4e6f-9a7b-2c4d6e8f0a1b");
    g_assert_cmpstr(ferry_domxml_type(d), ==, "kvm");
    g_assert_cmpuint(ferry_domxml_memory_kib(d), ==, 4194304);
    g_assert_cmpuint(ferry_domxml_vcpus(d), ==, 2);
    g_assert_cmpstr(ferry_domxml_cpu_mode(d), ==, "custom");
    g_assert_cmpstr(ferry_domxml_cpu_model(d), ==, "Skylake-Client-IBRS");
    g_assert_cmpstr(ferry_domxml_nvram(d), ==, "/var/lib/libvirt/qemu/nvram/db1_VARS.fd");
    g_assert_true(ferry_domxml_has_tpm_emulator(d));

    g_assert_cmpuint(ferry_domxml_disks(d)->len, ==, 2);
    FerryDisk *vda = disk_at(d, 0);
    g_assert_cmpstr(vda->target, ==, "vda");
    g_assert_cmpstr(vda->device, ==, "disk");
    g_assert_cmpstr(vda->type, ==, "file");
    g_assert_cmpstr(vda->source, ==, "/var/lib/libvirt/images/db1.qcow2");
    g_assert_cmpstr(vda->format, ==, "qcow2");
    g_assert_false(vda->readonly);
    g_assert_false(vda->shareable);
    g_assert_null(vda->backing); /* <backingStore/> is the end of a chain, not a chain */
    FerryDisk *sda = disk_at(d, 1);
    g_assert_cmpstr(sda->target, ==, "sda");
    g_assert_cmpstr(sda->device, ==, "cdrom");
    g_assert_cmpstr(sda->source, ==, "/var/lib/libvirt/images/debian-12.5.0-amd64-netinst.iso");
    g_assert_true(sda->readonly);

    g_assert_cmpuint(ferry_domxml_nics(d)->len, ==, 2);
    FerryNic *ovs = nic_at(d, 0);
    g_assert_cmpstr(ovs->mac, ==, "52:54:00:3a:7c:01");
    g_assert_cmpstr(ovs->type, ==, "network");
    g_assert_cmpstr(ovs->network, ==, "ovs-net");
    g_assert_cmpstr(ovs->portgroup, ==, "vlan300");
    g_assert_cmpstr(ovs->bridge, ==, "ovsbr0");
    g_assert_cmpint(ovs->vlan, ==, 300);
    g_assert_false(ovs->vlan_trunk);
    g_assert_cmpstr(ovs->vport_type, ==, "openvswitch");
    g_assert_cmpstr(ovs->target_dev, ==, "vnet3");
    g_assert_cmpstr(ovs->model, ==, "virtio");
    FerryNic *br = nic_at(d, 1);
    g_assert_cmpstr(br->type, ==, "bridge");
    g_assert_null(br->network);
    g_assert_null(br->portgroup);
    g_assert_cmpstr(br->bridge, ==, "br0");
    g_assert_cmpint(br->vlan, ==, -1);
    g_assert_null(br->vport_type);
    g_assert_cmpstr(br->model, ==, "e1000e");
}

static void test_read_inactive(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(INACTIVE_XML);
    g_assert_cmpstr(ferry_domxml_name(d), ==, "web 2");
    g_assert_cmpstr(ferry_domxml_type(d), ==, "qemu");
    g_assert_cmpuint(ferry_domxml_memory_kib(d), ==, 2 * 1024 * 1024);
    g_assert_cmpuint(ferry_domxml_vcpus(d), ==, 4);
    g_assert_cmpstr(ferry_domxml_cpu_mode(d), ==, "host-passthrough");
    g_assert_null(ferry_domxml_cpu_model(d));
    g_assert_cmpstr(ferry_domxml_nvram(d), ==, "/var/lib/libvirt/qemu/nvram/web2_VARS.fd");
    g_assert_false(ferry_domxml_has_tpm_emulator(d));

    g_assert_cmpuint(ferry_domxml_disks(d)->len, ==, 4);
    g_assert_null(disk_at(d, 1)->source); /* empty CD-ROM */
    g_assert_cmpstr(disk_at(d, 2)->device, ==, "floppy");
    g_assert_null(disk_at(d, 2)->source);
    g_assert_cmpstr(disk_at(d, 3)->type, ==, "volume");
    g_assert_cmpstr(disk_at(d, 3)->source, ==, "default/web2-data.qcow2");
    g_assert_true(disk_at(d, 3)->shareable);

    FerryNic *direct = nic_at(d, 0);
    g_assert_cmpstr(direct->type, ==, "direct");
    g_assert_cmpstr(direct->source_dev, ==, "eno1");
    g_assert_null(direct->bridge);
    g_assert_cmpint(direct->vlan, ==, 42);
    g_assert_true(direct->vlan_trunk);
    g_assert_null(direct->target_dev);
    g_assert_cmpstr(nic_at(d, 1)->type, ==, "user");
    g_assert_null(nic_at(d, 1)->model);

    /* Empty drives, a read-only shareable disk and a volume pass, with nothing to note. */
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_domxml_check_archivable(d, notes, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(notes->len, ==, 0);
}

static void test_memory_units(void)
{
    static const struct {
        const char *memory;
        guint64 kib;
    } cases[] = {
        { "<memory>1024</memory>", 1024 },
        { "<memory unit='KiB'>1024</memory>", 1024 },
        { "<memory unit='k'>7</memory>", 7 },
        { "<memory unit='MiB'>512</memory>", 512 * 1024 },
        { "<memory unit='M'>3</memory>", 3 * 1024 },
        { "<memory unit='G'>1</memory>", 1024 * 1024 },
        { "<memory unit='TiB'>1</memory>", G_GUINT64_CONSTANT(1) << 30 },
        { "<memory unit='MB'>1</memory>", 977 },          /* 10^6 bytes, rounded up */
        { "<memory unit='KB'>1</memory>", 1 },
        { "<memory unit='bytes'>1025</memory>", 2 },
        { "<memory unit='b'>1024</memory>", 1 },
        { "<memory unit='furlongs'>1</memory>", 0 },
        { "<memory unit='KiB'>-5</memory>", 0 },
        { "<memory unit='KiB'>lots</memory>", 0 },
        { "<memory unit='EiB'>99</memory>", 0 },           /* overflows: unreadable */
        { "", 0 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = g_strdup_printf("<domain type='kvm'><name>m</name>%s</domain>",
                                               cases[i].memory);
        g_autoptr(FerryDomainXml) d = parse_ok(xml);
        g_assert_cmpuint(ferry_domxml_memory_kib(d), ==, cases[i].kib);
        g_assert_cmpuint(ferry_domxml_vcpus(d), ==, 1);
        g_assert_null(ferry_domxml_cpu_mode(d));
        g_assert_cmpuint(ferry_domxml_disks(d)->len, ==, 0);
    }
}

/* libvirt's <vlan> forms: several tags mean a trunk even without trunk='yes'. */
static void test_vlan_forms(void)
{
    g_autofree char *xml = domain_with(
        "",
        "<interface type='network'><mac address='52:54:00:00:00:01'/><source network='n'/>"
        "<vlan><tag id='10'/><tag id='20'/></vlan></interface>"
        "<interface type='network'><mac address='52:54:00:00:00:02'/><source network='n'/>"
        "<vlan trunk='yes'><tag id='30' nativeMode='untagged'/></vlan></interface>"
        "<interface type='network'><mac address='52:54:00:00:00:03'/><source network='n'/>"
        "<vlan><tag id='4096'/></vlan></interface>"
        "<interface type='network'><mac address='52:54:00:00:00:04'/><source network='n'/>"
        "<vlan><tag id='0'/></vlan></interface>");
    g_autoptr(FerryDomainXml) d = parse_ok(xml);
    g_assert_cmpint(nic_at(d, 0)->vlan, ==, 10);
    g_assert_true(nic_at(d, 0)->vlan_trunk);
    g_assert_cmpint(nic_at(d, 1)->vlan, ==, 30);
    g_assert_true(nic_at(d, 1)->vlan_trunk);
    g_assert_cmpint(nic_at(d, 2)->vlan, ==, -1); /* out of range: unreadable */
    g_assert_false(nic_at(d, 2)->vlan_trunk);
    g_assert_cmpint(nic_at(d, 3)->vlan, ==, 0);
    g_assert_false(nic_at(d, 3)->vlan_trunk);
}

/* ------------------------------------------------------------------ archivability */

static void test_archivable_live_notes_cdrom(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(LIVE_XML);
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_domxml_check_archivable(d, notes, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(notes->len, ==, 1);
    g_assert_cmpstr(notes->pdata[0], ==,
                    "cdrom sda: media /var/lib/libvirt/images/debian-12.5.0-amd64-netinst.iso is "
                    "not archived; the restored domain's drive is empty");
    /* NULL notes is allowed. */
    g_assert_true(ferry_domxml_check_archivable(d, NULL, NULL));
}

static void test_refusals(void)
{
    static const struct {
        const char *what;
        const char *devices;
        const char *says[3]; /* the message must hold each */
    } cases[] = {
        { "usb by vendor/product",
          "<hostdev mode='subsystem' type='usb' managed='yes'><source><vendor id='0x046d'/>"
          "<product id='0xc52b'/></source><alias name='hostdev0'/></hostdev>",
          { "USB host device 046d:c52b", "virsh detach-device t1", "try again" } },
        { "usb by bus/device",
          "<hostdev mode='subsystem' type='usb'><source><address bus='1' device='3'/></source>"
          "</hostdev>",
          { "USB host device at bus 1 device 3", "<hostdev>", "try again" } },
        { "pci",
          "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
          "bus='0x06' slot='0x02' function='0x1'/></source></hostdev>",
          { "PCI host device 0000:06:02.1", "detach", "try again" } },
        { "sr-iov interface",
          "<interface type='hostdev' managed='yes'><mac address='52:54:00:aa:bb:cc'/><source>"
          "<address type='pci' domain='0x0000' bus='0x3b' slot='0x10' function='0x2'/></source>"
          "</interface>",
          { "52:54:00:aa:bb:cc", "0000:3b:10.2", "virsh detach-interface t1 hostdev" } },
        { "lun",
          "<disk type='block' device='lun'><driver name='qemu' type='raw'/><source "
          "dev='/dev/disk/by-id/wwn-0x5000c500a1b2c3d4'/><target dev='sdb' bus='scsi'/></disk>",
          { "Disk sdb", "LUN", "virsh detach-disk t1 sdb --live --config" } },
        { "block",
          "<disk type='block' device='disk'><driver name='qemu' type='raw'/><source "
          "dev='/dev/vg0/data'/><target dev='vdb' bus='virtio'/></disk>",
          { "Disk vdb", "host block device (/dev/vg0/data)", "virsh detach-disk t1 vdb" } },
        { "floppy with media",
          "<disk type='file' device='floppy'><source file='/srv/boot.img'/><target dev='fda' "
          "bus='fdc'/></disk>",
          { "Floppy fda", "/srv/boot.img", "virsh change-media t1 fda --eject" } },
        { "network disk",
          "<disk type='network' device='disk'><driver name='qemu' type='raw'/><source "
          "protocol='rbd' name='pool/img'><host name='ceph1' port='6789'/></source><target "
          "dev='vdc' bus='virtio'/></disk>",
          { "Disk vdc", "network storage (rbd:pool/img)", "try again" } },
        { "dir disk",
          "<disk type='dir' device='disk'><driver name='qemu' type='fat'/><source dir='/srv/share'/>"
          "<target dev='hdb' bus='ide'/></disk>",
          { "Disk hdb", "/srv/share", "detach" } },
        { "backing chain",
          "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source "
          "file='/var/lib/libvirt/images/db1-overlay.qcow2' index='3'/><backingStore type='file' "
          "index='4'><format type='qcow2'/><source file='/var/lib/libvirt/images/base.qcow2'/>"
          "<backingStore/></backingStore><target dev='vda' bus='virtio'/></disk>",
          { "Disk vda", "backing file /var/lib/libvirt/images/base.qcow2", "virsh blockpull t1 vda" } },
        { "shareable writable",
          "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source "
          "file='/srv/cluster.img'/><target dev='vde' bus='virtio'/><shareable/></disk>",
          { "Disk vde", "shareable and writable", "read-only" } },
        { "tpm passthrough",
          "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>",
          { "/dev/tpm0", "<tpm>", "try again" } },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_test_message("refusal: %s", cases[i].what);
        g_autofree char *xml = domain_with("", cases[i].devices);
        g_autoptr(FerryDomainXml) d = parse_ok(xml);
        g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) error = NULL;
        g_assert_false(ferry_domxml_check_archivable(d, notes, &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
        assert_contains(error->message, "Domain 't1' cannot be archived");
        for (int j = 0; j < 3 && cases[i].says[j]; j++)
            assert_contains(error->message, cases[i].says[j]);
        g_assert_cmpuint(notes->len, ==, 0);
    }
}

/* Every problem is named, not just the first; notes are not handed out on refusal; an
 * odd domain name is quoted in the suggested commands. */
static void test_refusal_lists_all(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(
        "<domain type='kvm'><name>it's db</name><devices>"
        "<disk type='file' device='cdrom'><source file='/x.iso'/><target dev='hdc'/></disk>"
        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/>"
        "</source></hostdev>"
        "<disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdz'/></disk>"
        "</devices></domain>");
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_domxml_check_archivable(d, notes, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    assert_contains(error->message, "1234:beef");
    assert_contains(error->message, "Disk vdz");
    assert_contains(error->message, "virsh detach-disk 'it'\\''s db' vdz");
    g_assert_cmpuint(notes->len, ==, 0);
}

/* ------------------------------------------------------------------ bad input */

static void test_bad_input(void)
{
    static const struct {
        const char *xml;
        const char *says;
    } cases[] = {
        { "", "empty" },
        { "   \n", "not well-formed" },
        { "not xml at all", "not well-formed" },
        { "<domain type='kvm'><name>x</name>", "line" },
        { "<domain type='kvm'><name>x</nom></domain>", "not well-formed" },
        { "<domain><name>a&b</name></domain>", "not well-formed" },
        { "<network><name>default</name></network>", "<network> document" },
        { "<domain type='kvm'/>", "no <name>" },
        { "<domain type='kvm'><name>  </name></domain>", "no <name>" },
        { "<x:domain xmlns:x='urn:x'><name>n</name></x:domain>", "not a libvirt <domain>" },
        { "<!DOCTYPE domain [<!ENTITY big \"aaaa\">]><domain><name>&big;</name></domain>", "DOCTYPE" },
        { "<domain><name>\xff\xfe</name></domain>", "not well-formed" },
        { "\x01\x02\x03\x04", "not well-formed" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(FerryDomainXml) d = ferry_domxml_parse(cases[i].xml, &error);
        g_assert_null(d);
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        assert_contains(error->message, cases[i].says);
    }
    g_autoptr(GError) error = NULL;
    g_assert_null(ferry_domxml_parse(NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_assert_null(ferry_domxml_parse("<domain", NULL)); /* no GError wanted: no crash either */
}

/* ------------------------------------------------------------------ rewrites */

static const char ODD_NAME[] = "db <1> & 'ß' \"ü\" 日本";

static void test_rewrite_round_trip(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(LIVE_XML);
    g_autoptr(GError) error = NULL;
    FerryDisk *before = disk_at(d, 0);

    g_assert_true(ferry_domxml_set_name(d, ODD_NAME, &error));
    g_assert_true(ferry_domxml_set_uuid(d, "11111111-2222-4333-8444-555555555555", &error));
    g_assert_true(ferry_domxml_set_disk_source(d, "vda", "/srv/restore/db1 & co.qcow2", &error));
    g_assert_true(ferry_domxml_set_disk_format(d, "vda", "raw", &error));
    ferry_domxml_eject_removable(d);
    g_assert_true(ferry_domxml_set_nic_source(d, "52:54:00:3a:7c:01", "lan", NULL, &error));
    g_assert_true(ferry_domxml_set_nic_vlan(d, "52:54:00:3A:7C:01", 4095, TRUE, &error));
    g_assert_true(ferry_domxml_set_nic_virtualport(d, "52:54:00:3a:7c:01", NULL, &error));
    g_assert_true(ferry_domxml_set_nic_source(d, "52:54:00:3a:7c:02", "ovs-net", "vlan<7>", &error));
    g_assert_true(ferry_domxml_set_nic_vlan(d, "52:54:00:3a:7c:02", 7, FALSE, &error));
    g_assert_true(ferry_domxml_set_nic_virtualport(d, "52:54:00:3a:7c:02", "openvswitch", &error));
    g_assert_no_error(error);

    /* What was handed out before the rewrites is still readable, and unchanged. */
    g_assert_cmpstr(before->source, ==, "/var/lib/libvirt/images/db1.qcow2");
    /* The same object reads the new values. */
    g_assert_cmpstr(ferry_domxml_name(d), ==, ODD_NAME);
    g_assert_cmpstr(disk_at(d, 0)->source, ==, "/srv/restore/db1 & co.qcow2");
    g_assert_cmpstr(disk_at(d, 0)->format, ==, "raw");

    g_autofree char *xml = ferry_domxml_format(d);
    assert_lacks(xml, "<?xml");
    assert_contains(xml, "日本"); /* UTF-8, not character references */
    g_autoptr(FerryDomainXml) back = parse_ok(xml);
    g_assert_cmpstr(ferry_domxml_name(back), ==, ODD_NAME);
    g_assert_cmpstr(ferry_domxml_uuid(back), ==, "11111111-2222-4333-8444-555555555555");

    FerryDisk *vda = disk_at(back, 0);
    g_assert_cmpstr(vda->type, ==, "file");
    g_assert_cmpstr(vda->source, ==, "/srv/restore/db1 & co.qcow2");
    g_assert_cmpstr(vda->format, ==, "raw"); /* set_disk_format */
    g_assert_null(vda->backing);
    FerryDisk *sda = disk_at(back, 1);
    g_assert_cmpstr(sda->device, ==, "cdrom");
    g_assert_null(sda->source);
    g_assert_true(sda->readonly);

    FerryNic *n0 = nic_at(back, 0);
    g_assert_cmpstr(n0->type, ==, "network");
    g_assert_cmpstr(n0->network, ==, "lan");
    g_assert_null(n0->portgroup);
    g_assert_null(n0->bridge); /* the old portid/bridge went with the old <source> */
    g_assert_cmpint(n0->vlan, ==, 4095);
    g_assert_true(n0->vlan_trunk);
    g_assert_null(n0->vport_type);
    g_assert_cmpstr(n0->mac, ==, "52:54:00:3a:7c:01");
    FerryNic *n1 = nic_at(back, 1);
    g_assert_cmpstr(n1->type, ==, "network");
    g_assert_cmpstr(n1->network, ==, "ovs-net");
    g_assert_cmpstr(n1->portgroup, ==, "vlan<7>");
    g_assert_null(n1->bridge);
    g_assert_cmpint(n1->vlan, ==, 7);
    g_assert_false(n1->vlan_trunk);
    g_assert_cmpstr(n1->vport_type, ==, "openvswitch");
    g_assert_cmpstr(n1->target_dev, ==, "tap-db1");

    /* Removing the VLAN again. */
    g_assert_true(ferry_domxml_set_nic_vlan(back, "52:54:00:3a:7c:02", -1, TRUE, &error));
    g_assert_cmpint(nic_at(back, 1)->vlan, ==, -1);
    g_assert_false(nic_at(back, 1)->vlan_trunk);
}

/* A name read from XML escapes comes back as the text it stands for, and is written
 * escaped again. */
static void test_escaped_name(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(
        "<domain type='kvm'><name>a&lt;b&gt;&amp;c &#x65E5;&apos;</name><uuid>0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d</uuid></domain>");
    g_assert_cmpstr(ferry_domxml_name(d), ==, "a<b>&c 日'");
    g_assert_cmpstr(ferry_domxml_uuid(d), ==, "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d");
    g_autofree char *xml = ferry_domxml_format(d);
    assert_contains(xml, "a&lt;b&gt;&amp;c 日'");
    g_autoptr(FerryDomainXml) back = parse_ok(xml);
    g_assert_cmpstr(ferry_domxml_name(back), ==, "a<b>&c 日'");
}

static void test_rewrite_errors(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(LIVE_XML);
    g_autofree char *original = ferry_domxml_format(d);
    g_autoptr(GError) error = NULL;

    g_assert_false(ferry_domxml_set_disk_source(d, "vdq", "/srv/x.qcow2", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
    assert_contains(error->message, "vdq");
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_disk_source(d, NULL, "/srv/x.qcow2", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_disk_source(d, "vda", "images/x.qcow2", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_disk_source(d, "vda", "/srv/a\nb", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_disk_format(d, "vdq", "raw", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_disk_format(d, "vda", "qcow2\x01", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);

    g_assert_false(ferry_domxml_set_nic_source(d, "52:54:00:00:00:00", "lan", NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
    assert_contains(error->message, "52:54:00:00:00:00");
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_nic_source(d, "52:54:00:3a:7c:01", "", NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_nic_vlan(d, "52:54:00:3a:7c:01", 4096, FALSE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_nic_vlan(d, "52:54:00:3a:7c:01", -2, FALSE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_nic_vlan(d, NULL, 5, FALSE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_name(d, "", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_name(d, "a\tb", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_domxml_set_name(d, "\xc3\x28", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    const char *bad_uuids[] = { "", "xyz", "3f2a8c9e-5b1d-4e6f-9a7b-2c4d6e8f0a1", "3f2a8c9e5b1d-4e6f-9a7b-2c4d6e8f0a1bb",
                                "3f2a8c9e-5b1d-4e6f-9a7b-2c4d6e8f0a1g", NULL };
    for (gsize i = 0; i < G_N_ELEMENTS(bad_uuids); i++) {
        g_assert_false(ferry_domxml_set_uuid(d, bad_uuids[i], &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        g_clear_error(&error);
    }
    /* None of the refused rewrites touched the document. */
    g_autofree char *after = ferry_domxml_format(d);
    g_assert_cmpstr(after, ==, original);

    /* A hostdev NIC cannot become a network NIC. */
    g_autofree char *xml = domain_with("", "<interface type='hostdev'><mac address='52:54:00:aa:bb:cc'/>"
                                           "<source><address type='pci' bus='0x3b' slot='0x10' "
                                           "function='0x2'/></source></interface>");
    g_autoptr(FerryDomainXml) h = parse_ok(xml);
    g_assert_false(ferry_domxml_set_nic_source(h, "52:54:00:aa:bb:cc", "lan", NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
}

/* A volume disk, a block disk and an empty drive all become plain files; what belongs to
 * the image (encryption, labels, startupPolicy) stays, what belongs to the old place goes. */
static void test_set_disk_source_kinds(void)
{
    g_autofree char *xml = domain_with(
        "",
        "<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source pool='default' volume='a.qcow2'><encryption format='luks'><secret "
        "type='passphrase' uuid='0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'/></encryption></source>"
        "<target dev='vda' bus='virtio'/></disk>"
        "<disk type='network' device='cdrom'><source protocol='https' name='/isos/x.iso'>"
        "<host name='mirror.example' port='443'/></source><target dev='sdb' bus='sata'/></disk>"
        "<disk type='file' device='cdrom'><source file='/x.iso' startupPolicy='optional'>"
        "<seclabel model='dac' relabel='no'/></source><target dev='sdc' bus='sata'/></disk>"
        "<disk type='file' device='cdrom'><target dev='sdd' bus='sata'/><readonly/></disk>");
    g_autoptr(FerryDomainXml) d = parse_ok(xml);
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_domxml_set_disk_source(d, "vda", "/srv/a.qcow2", &error));
    g_assert_true(ferry_domxml_set_disk_source(d, "sdb", "/srv/x.iso", &error));
    g_assert_true(ferry_domxml_set_disk_source(d, "sdc", "/srv/y.iso", &error));
    g_assert_true(ferry_domxml_set_disk_source(d, "sdd", "/srv/z.iso", &error));
    g_assert_no_error(error);
    g_autofree char *out = ferry_domxml_format(d);
    assert_lacks(out, "pool=");
    assert_lacks(out, "protocol=");
    assert_lacks(out, "mirror.example");
    assert_contains(out, "<encryption format=\"luks\">");
    assert_contains(out, "startupPolicy=\"optional\"");
    assert_contains(out, "<seclabel model=\"dac\" relabel=\"no\"/>");
    g_autoptr(FerryDomainXml) back = parse_ok(out);
    const char *paths[] = { "/srv/a.qcow2", "/srv/x.iso", "/srv/y.iso", "/srv/z.iso" };
    for (guint i = 0; i < 4; i++) {
        g_assert_cmpstr(disk_at(back, i)->type, ==, "file");
        g_assert_cmpstr(disk_at(back, i)->source, ==, paths[i]);
    }

    /* Ejecting empties removable drives only, and makes them type='file'. */
    g_autofree char *xml2 = domain_with(
        "",
        "<disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc'/></disk>"
        "<disk type='file' device='floppy'><source file='/f.img'/><target dev='fda'/></disk>"
        "<disk type='file' device='disk'><source file='/d.img'/><target dev='vda'/></disk>");
    g_autoptr(FerryDomainXml) e = parse_ok(xml2);
    ferry_domxml_eject_removable(e);
    g_assert_null(disk_at(e, 0)->source);
    g_assert_cmpstr(disk_at(e, 0)->type, ==, "file");
    g_assert_null(disk_at(e, 1)->source);
    g_assert_cmpstr(disk_at(e, 2)->source, ==, "/d.img");
    /* ... after which the floppy no longer stops an archive. */
    g_assert_true(ferry_domxml_check_archivable(e, NULL, &error));
    g_assert_no_error(error);
}

/* Both forms of <nvram>, and a domain that had none. */
static void test_set_nvram(void)
{
    g_autoptr(FerryDomainXml) live = parse_ok(LIVE_XML);
    ferry_domxml_set_nvram(live, "/srv/restore/db1_VARS.fd");
    ferry_domxml_set_nvram(live, "relative/ignored.fd");
    ferry_domxml_set_nvram(live, NULL);
    g_autofree char *xml = ferry_domxml_format(live);
    assert_contains(xml, "<nvram template=\"/usr/share/OVMF/OVMF_VARS_4M.ms.fd\">/srv/restore/db1_VARS.fd</nvram>");
    g_autoptr(FerryDomainXml) back = parse_ok(xml);
    g_assert_cmpstr(ferry_domxml_nvram(back), ==, "/srv/restore/db1_VARS.fd");

    g_autoptr(FerryDomainXml) inactive = parse_ok(INACTIVE_XML);
    ferry_domxml_set_nvram(inactive, "/srv/web2_VARS.fd");
    g_assert_cmpstr(ferry_domxml_nvram(inactive), ==, "/srv/web2_VARS.fd");
    g_autofree char *xml2 = ferry_domxml_format(inactive);
    assert_contains(xml2, "<source file=\"/srv/web2_VARS.fd\"/>");

    g_autoptr(FerryDomainXml) bios = parse_ok(
        "<domain type='kvm'><name>b</name><os><type>hvm</type><loader>/x/CODE.fd</loader>"
        "<boot dev='hd'/></os></domain>");
    g_assert_null(ferry_domxml_nvram(bios));
    ferry_domxml_set_nvram(bios, "/y/VARS.fd");
    g_assert_cmpstr(ferry_domxml_nvram(bios), ==, "/y/VARS.fd");
}

/* ------------------------------------------------------------------ live state */

static void test_strip_live_state(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(LIVE_XML);
    ferry_domxml_strip_live_state(d);
    g_autofree char *xml = ferry_domxml_format(d);

    assert_lacks(xml, " id=\"7\"");
    assert_lacks(xml, "<seclabel");          /* both were generated at start */
    assert_lacks(xml, "+64055");
    assert_lacks(xml, "vnet3");
    assert_lacks(xml, "portid");
    assert_lacks(xml, "ovsbr0");
    assert_lacks(xml, "/dev/pts");
    assert_lacks(xml, "tty=");
    assert_lacks(xml, "state=\"connected\"");
    assert_lacks(xml, "/run/libvirt/qemu/channel");
    assert_lacks(xml, "index=\"1\"");
    assert_lacks(xml, "index=\"2\"");
    assert_lacks(xml, "backingStore");
    assert_lacks(xml, "name=\"net0\"");
    assert_lacks(xml, "virtio-disk0");
    assert_lacks(xml, "port=\"5900\"");
    assert_lacks(xml, "tlsPort");
    assert_lacks(xml, "192.168.122.1");
    assert_lacks(xml, "OVMF_CODE");         /* firmware autoselection picks again */
    assert_lacks(xml, "template=");
    assert_lacks(xml, "readonly=\"yes\" secure");

    /* What the configuration and the guest's ABI need stays. */
    assert_contains(xml, "<name>db1</name>");
    assert_contains(xml, "<os firmware=\"efi\">");
    assert_contains(xml, "<loader secure=\"yes\"/>");
    assert_contains(xml, "<nvram>/var/lib/libvirt/qemu/nvram/db1_VARS.fd</nvram>");
    assert_contains(xml, "<feature enabled=\"yes\" name=\"secure-boot\"/>");
    assert_contains(xml, "<alias name=\"ua-mgmt\"/>");
    assert_contains(xml, "<target dev=\"tap-db1\"/>");
    assert_contains(xml, "interfaceid=\"e5c1f8a2-6b7d-4c3e-9f1a-0b2c3d4e5f61\"");
    assert_contains(xml, "<tag id=\"300\"/>");
    assert_contains(xml, "portgroup=\"vlan300\"");
    assert_contains(xml, "bus=\"0x04\" slot=\"0x00\"");
    assert_contains(xml, "<model fallback=\"forbid\">Skylake-Client-IBRS</model>");
    assert_contains(xml, "listen=\"127.0.0.1\"");
    assert_contains(xml, "network=\"default\"");
    assert_contains(xml, "<target type=\"virtio\" name=\"org.qemu.guest_agent.0\"/>");
    assert_contains(xml, "<source mode=\"bind\"/>");
    assert_contains(xml, "<ferry:priority value=\"10\"/>");
    assert_contains(xml, "<source file=\"/var/lib/libvirt/images/db1.qcow2\"/>");

    /* The result reads as the same domain. */
    g_autoptr(FerryDomainXml) back = parse_ok(xml);
    g_assert_cmpuint(ferry_domxml_disks(back)->len, ==, 2);
    g_assert_cmpstr(disk_at(back, 0)->source, ==, "/var/lib/libvirt/images/db1.qcow2");
    g_assert_null(nic_at(back, 0)->target_dev);
    g_assert_null(nic_at(back, 0)->bridge);
    g_assert_cmpstr(nic_at(back, 0)->network, ==, "ovs-net");
    g_assert_cmpint(nic_at(back, 0)->vlan, ==, 300);
    g_assert_cmpstr(ferry_domxml_nvram(back), ==, "/var/lib/libvirt/qemu/nvram/db1_VARS.fd");
    g_assert_true(ferry_domxml_has_tpm_emulator(back));
}

/* Labels the user chose survive; fixed graphics ports survive; a macvtap name goes. */
static void test_strip_keeps_user_choices(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(
        "<domain type='kvm' id='3'><name>s</name><devices>"
        "<interface type='direct'><mac address='52:54:00:00:00:01'/><source dev='eno1' "
        "mode='vepa'/><target dev='macvtap0'/></interface>"
        "<graphics type='vnc' port='5905' autoport='no'/>"
        "<serial type='file'><source path='/var/log/s.log'/></serial>"
        "<channel type='unix'><source mode='bind' path='/srv/sock/agent'/><target type='virtio' "
        "name='org.qemu.guest_agent.0' state='disconnected'/></channel>"
        "</devices>"
        "<seclabel type='none' model='apparmor'/>"
        "<seclabel type='static' model='selinux' relabel='no'><label>system_u:system_r:svirt_t:s0:c1,c2</label></seclabel>"
        "<seclabel type='dynamic' model='dac' relabel='yes'><baselabel>+107:+107</baselabel>"
        "<label>+107:+107</label><imagelabel>+107:+107</imagelabel></seclabel>"
        "</domain>");
    ferry_domxml_strip_live_state(d);
    g_autofree char *xml = ferry_domxml_format(d);
    assert_contains(xml, "<seclabel type=\"none\" model=\"apparmor\"/>");
    assert_contains(xml, "svirt_t:s0:c1,c2");
    assert_contains(xml, "<baselabel>+107:+107</baselabel>");
    assert_lacks(xml, "<label>+107");
    assert_lacks(xml, "imagelabel");
    assert_lacks(xml, "macvtap0");
    assert_contains(xml, "<source dev=\"eno1\" mode=\"vepa\"/>");
    assert_contains(xml, "port=\"5905\"");
    assert_contains(xml, "/var/log/s.log");
    assert_contains(xml, "/srv/sock/agent");
    assert_lacks(xml, "disconnected");
}

/* ------------------------------------------------------------------ archived mark */

static void test_archived_mark(void)
{
    g_autofree char *mark = ferry_archived_mark_to_xml("db1-20240501T120000Z", 1714564800123456);
    g_assert_cmpstr(mark, ==, "<archived id=\"db1-20240501T120000Z\" created=\"1714564800123456\"/>");
    g_autofree char *id = NULL;
    gint64 created = -1;
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_archived_mark_parse(mark, &id, &created, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(id, ==, "db1-20240501T120000Z");
    g_assert_cmpint(created, ==, 1714564800123456);
    g_clear_pointer(&id, g_free);

    /* Escaped on the way out, read back as it was. */
    g_autofree char *odd = ferry_archived_mark_to_xml("a\"<&>'ß", 0);
    g_assert_true(ferry_archived_mark_parse(odd, &id, &created, &error));
    g_assert_cmpstr(id, ==, "a\"<&>'ß");
    g_assert_cmpint(created, ==, 0);
    g_clear_pointer(&id, g_free);
    g_assert_null(ferry_archived_mark_to_xml("", 1));
    g_assert_null(ferry_archived_mark_to_xml(NULL, 1));

    /* What virDomainGetMetadata hands back: the element in libvirt's namespace form. */
    g_assert_true(ferry_archived_mark_parse(
        "<ferry-archive:archived xmlns:ferry-archive=\"" FERRY_ARCHIVE_NS "\" id=\"x1\" "
        "created=\"42\"/>", &id, &created, &error));
    g_assert_cmpstr(id, ==, "x1");
    g_assert_cmpint(created, ==, 42);
    g_clear_pointer(&id, g_free);

    /* The caller may want only to know whether there is a mark. */
    g_assert_true(ferry_archived_mark_parse(mark, NULL, NULL, NULL));
    g_assert_false(ferry_archived_mark_parse("<archived/>", NULL, NULL, NULL));

    /* Not marked. */
    g_assert_false(ferry_archived_mark_parse(NULL, &id, &created, &error));
    g_assert_no_error(error);
    g_assert_null(id);
    g_assert_false(ferry_archived_mark_parse("", &id, &created, &error));
    g_assert_no_error(error);

    const char *bad[] = {
        "<archived id='x'/>",
        "<archived created='5'/>",
        "<archived id='' created='5'/>",
        "<archived id='x' created='soon'/>",
        "<archived id='x' created='-1'/>",
        "<archived id='x' created='99999999999999999999'/>",
        "<kept id='x' created='5'/>",
        "<o:archived xmlns:o='urn:other' id='x' created='5'/>",
        "<archived id='x' created='5'>",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(ferry_archived_mark_parse(bad[i], &id, &created, &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        g_assert_null(id);
        g_clear_error(&error);
    }
}

/* libvirt itself accepts what the rewrites produce: the test driver defines the stripped,
 * rewritten domain (its parser is the one every driver uses). */
static void test_libvirt_accepts(void)
{
    g_autoptr(FerryDomainXml) d = parse_ok(LIVE_XML);
    g_autoptr(GError) error = NULL;
    ferry_domxml_strip_live_state(d);
    ferry_domxml_eject_removable(d);
    g_assert_true(ferry_domxml_set_name(d, ODD_NAME, &error));
    g_assert_true(ferry_domxml_set_uuid(d, "11111111-2222-4333-8444-555555555555", &error));
    g_assert_true(ferry_domxml_set_disk_source(d, "vda", "/srv/restore/db1.qcow2", &error));
    g_assert_true(ferry_domxml_set_nic_source(d, "52:54:00:3a:7c:02", "default", "pg1", &error));
    g_assert_true(ferry_domxml_set_nic_vlan(d, "52:54:00:3a:7c:02", 12, FALSE, &error));
    g_assert_no_error(error);
    g_autofree char *xml = ferry_domxml_format(d);
    /* The test driver knows only type='test' and no QEMU devices beyond the basics. */
    GString *s = g_string_new(xml);
    g_string_replace(s, "<domain type=\"kvm\"", "<domain type=\"test\"", 1);
    g_autofree char *test_xml = g_string_free(s, FALSE);

    virConnectPtr conn = virConnectOpen("test:///default");
    g_assert_nonnull(conn);
    virDomainPtr dom = virDomainDefineXML(conn, test_xml);
    if (!dom)
        g_error("libvirt refused the rewritten XML: %s\n%s", virGetLastErrorMessage(), test_xml);
    g_autofree char *defined = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
    g_autoptr(FerryDomainXml) back = parse_ok(defined);
    g_assert_cmpstr(ferry_domxml_name(back), ==, ODD_NAME);
    g_assert_cmpstr(disk_at(back, 0)->source, ==, "/srv/restore/db1.qcow2");
    g_assert_cmpint(nic_at(back, 1)->vlan, ==, 12);
    g_assert_cmpstr(nic_at(back, 1)->portgroup, ==, "pg1");
    virDomainUndefine(dom);
    virDomainFree(dom);
    virConnectClose(conn);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/domxml/read-live", test_read_live);
    g_test_add_func("/domxml/read-inactive", test_read_inactive);
    g_test_add_func("/domxml/memory-units", test_memory_units);
    g_test_add_func("/domxml/vlan-forms", test_vlan_forms);
    g_test_add_func("/domxml/archivable-cdrom-note", test_archivable_live_notes_cdrom);
    g_test_add_func("/domxml/refusals", test_refusals);
    g_test_add_func("/domxml/refusal-lists-all", test_refusal_lists_all);
    g_test_add_func("/domxml/bad-input", test_bad_input);
    g_test_add_func("/domxml/rewrite-round-trip", test_rewrite_round_trip);
    g_test_add_func("/domxml/escaped-name", test_escaped_name);
    g_test_add_func("/domxml/rewrite-errors", test_rewrite_errors);
    g_test_add_func("/domxml/set-disk-source-kinds", test_set_disk_source_kinds);
    g_test_add_func("/domxml/set-nvram", test_set_nvram);
    g_test_add_func("/domxml/strip-live-state", test_strip_live_state);
    g_test_add_func("/domxml/strip-keeps-user-choices", test_strip_keeps_user_choices);
    g_test_add_func("/domxml/archived-mark", test_archived_mark);
    g_test_add_func("/domxml/libvirt-accepts", test_libvirt_accepts);
    return g_test_run();
}
