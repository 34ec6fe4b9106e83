/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hook's transparent VLAN remapping (hooks/hook-rewrite.c): the built hook, run as
 * libvirt runs it (.../qemu.d/virt-ferry DOMAIN restore begin -, domain XML on stdin), with
 * a network map written by plugin/netmap.c into the [state] dir of a $VIRT_FERRY_CONFIG of
 * its own. Each case checks what libvirt would get: stdout (the XML, rewritten or echoed
 * byte for byte, or nothing), stderr and the exit status. */
#include "config.h"
#include "hook-harness.h"
#include "netmap.h"

#include <glib/gstdio.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <string.h>
#include <sys/wait.h>

/* Generous: a correctness bound for a busy machine, not a benchmark (bench/hook-rewrite). */
#define BOUND_SECONDS 1.0
#define REPORT_TIMEOUT_MS 5000

#define NS "xmlns:ferry='" FERRY_NETMAP_NS "'"

/* Distributed switch (Open vSwitch): VLAN 300 on green300, 400 on red400. */
#define OVSNET_WITH_300                                                                                          \
    "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/>"                            \
    "<virtualport type='openvswitch'/>"                                                                          \
    "<portgroup name='green300'><vlan><tag id='300'/></vlan></portgroup>"                                        \
    "<portgroup name='red400'><vlan><tag id='400'/></vlan></portgroup></network>"
/* The same without VLAN 300. */
#define OVSNET_WITHOUT_300                                                                                       \
    "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/>"                            \
    "<virtualport type='openvswitch'/>"                                                                          \
    "<portgroup name='red400'><vlan><tag id='400'/></vlan></portgroup></network>"
/* VLAN 300 is an isolated secondary of PVLAN 100, and no portgroup carries it. */
#define OVSNET_PVLAN_300                                                                                         \
    "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/>"                            \
    "<virtualport type='openvswitch'/>"                                                                          \
    "<portgroup name='red400'><vlan><tag id='400'/></vlan></portgroup>"                                          \
    "<metadata><ferry:network " NS "><ferry:pvlan primary='100'>"                                                \
    "<ferry:secondary vlan='300' type='isolated'/></ferry:pvlan></ferry:network></metadata></network>"
/* Standard switch (Linux bridge): portgroup VLANs declared for virt-ferry; one trunk. */
#define BRNET_WITH_TRUNK                                                                                         \
    "<network><name>brnet</name><forward mode='bridge'/><bridge name='br0'/>"                                \
    "<portgroup name='vlan400'/><portgroup name='all'/>"                                                         \
    "<metadata><ferry:network " NS "><ferry:portgroup name='vlan400' vlan='400'/>"                               \
    "<ferry:portgroup name='all' trunk='yes'/></ferry:network></metadata></network>"
#define BRNET_WITHOUT_300                                                                                        \
    "<network><name>brnet</name><forward mode='bridge'/><bridge name='br0'/>"                                \
    "<portgroup name='vlan400'/>"                                                                                \
    "<metadata><ferry:network " NS "><ferry:portgroup name='vlan400' vlan='400'/>"                               \
    "</ferry:network></metadata></network>"

/* Interfaces, as libvirt writes them. MACs in upper case: libvirt compares them case-blind. */
#define MAC1 "52:54:00:AA:00:01"
#define MAC2 "52:54:00:aa:00:02"
#define MAC3 "52:54:00:aa:00:03"
#define OVS_NIC_VLAN_300(mac)                                                                                    \
    "<interface type='network'><mac address='" mac "'/><source network='ovsnet' portgroup='blue300'/>"          \
    "<vlan><tag id='300'/></vlan><virtualport type='openvswitch'/><model type='virtio'/>"                        \
    "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>"
#define STD_NIC_VLAN_300(mac)                                                                                    \
    "<interface type='network'><mac address='" mac "'/><source network='brnet' portgroup='blue300'/>"           \
    "<vlan><tag id='300'/></vlan><model type='virtio'/></interface>"
#define BRIDGE_NIC(mac)                                                                                          \
    "<interface type='bridge'><mac address='" mac "'/><source bridge='br7'/><vlan><tag id='300'/></vlan>"       \
    "<model type='e1000'/></interface>"
#define DIRECT_NIC(mac)                                                                                          \
    "<interface type='direct'><mac address='" mac "'/><source dev='eth0' mode='bridge'/>"                       \
    "<model type='virtio'/></interface>"

/* A running domain's NIC on brnet (bridge br0), as libvirt shows it to the started hook. */
#define STD_NIC_LIVE(mac, pg, dev)                                                                               \
    "<interface type='bridge'><mac address='" mac "'/>"                                                          \
    "<source network='brnet' portgroup='" pg "' bridge='" dev "-br'/><target dev='" dev "'/>"                   \
    "<model type='virtio'/></interface>"

typedef struct {
    char *dir;
    char *state;   /* [state] dir= */
    char *config;  /* $VIRT_FERRY_CONFIG */
    char *address; /* DBUS_SYSTEM_BUS_ADDRESS */
    HookBus *bus;
    HookReceiver *receiver;
} Fixture;

static void setup(Fixture *f, gconstpointer with_bus)
{
    f->dir = hook_scratch_dir_new();
    hook_install_links(f->dir);
    f->state = g_build_filename(f->dir, "state", NULL);
    g_assert_cmpint(g_mkdir(f->state, 0755), ==, 0);
    f->config = hook_write_config(f->dir, f->state);
    if (with_bus) {
        f->bus = hook_bus_start(f->dir);
        f->receiver = hook_receiver_start(f->bus->address);
        f->address = g_strdup(f->bus->address);
    } else {
        f->address = g_strdup_printf("unix:path=%s/nobody-listens-here", f->dir);
    }
}

static void teardown(Fixture *f, gconstpointer unused)
{
    hook_receiver_stop(f->receiver);
    hook_bus_stop(f->bus);
    hook_scratch_dir_remove(f->dir);
    g_free(f->dir);
    g_free(f->state);
    g_free(f->config);
    g_free(f->address);
}

/* This host's network map, as virt-ferryd would keep it: the networks given, all active. */
static void write_map(Fixture *f, const char *const *networks)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    for (const char *const *n = networks; *n; n++) {
        ferry_netmap_add_network_xml(map, *n, TRUE, &error);
        g_assert_no_error(error);
    }
    g_autofree char *path = g_build_filename(f->state, FERRY_NETMAP_FILE, NULL);
    ferry_netmap_save(map, path, &error);
    g_assert_no_error(error);
}
#define MAP(f, ...) write_map(f, (const char *const[]){ __VA_ARGS__, NULL })

static FerryNetmap *map_of(const char *network_xml)
{
    g_autoptr(GError) error = NULL;
    FerryNetmap *map = ferry_netmap_new();
    ferry_netmap_add_network_xml(map, network_xml, TRUE, &error);
    g_assert_no_error(error);
    return map;
}

/* This host's map with @here, and what two peers' libvirt show: @peer1, @peer2 (NULL: none). */
static void write_map_with_peers(Fixture *f, const char *here, const char *peer1, const char *peer2)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryNetmap) map = map_of(here);
    if (peer1)
        g_ptr_array_add(map->peers, ferry_peer_netmap_new("qemu+tcp://alpha/system", map_of(peer1)));
    if (peer2)
        g_ptr_array_add(map->peers, ferry_peer_netmap_new("qemu+tcp://gamma/system", map_of(peer2)));
    g_autofree char *path = g_build_filename(f->state, FERRY_NETMAP_FILE, NULL);
    ferry_netmap_save(map, path, &error);
    g_assert_no_error(error);
    /* What the hook reads back is what was written. */
    g_autoptr(FerryNetmap) back = ferry_netmap_load(path, &error);
    g_assert_no_error(error);
    g_assert_true(ferry_netmap_equal(map, back));
}

static char *domain_xml(const char *interfaces)
{
    return g_strdup_printf("<domain type='kvm'>\n  <name>w1</name>\n"
                           "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"
                           "  <memory unit='KiB'>131072</memory>\n  <vcpu>1</vcpu>\n"
                           "  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n"
                           "  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                           "    %s\n  </devices>\n</domain>\n",
                           interfaces);
}

/* ------------------------------------------------------------------ running the hook */

typedef struct {
    int status; /* exit status; -1: killed by a signal */
    char *out;  /* stdout, NUL-terminated */
    gsize out_length;
    char *err;
    double seconds;
} Run;

static void run_free(Run *run)
{
    g_free(run->out);
    g_free(run->err);
    g_free(run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Run, run_free)

static Run *run_object(Fixture *f, const char *object, const char *operation, const char *xml)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = hook_path_for(f->dir, object);
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->address, TRUE);
    g_subprocess_launcher_setenv(launcher, "VIRT_FERRY_CONFIG", f->config, TRUE);
    gint64 start = g_get_monotonic_time();
    g_autoptr(GSubprocess) hook =
        g_subprocess_launcher_spawn(launcher, &error, path, "w1", operation, "begin", "-", NULL);
    g_assert_no_error(error);
    g_autoptr(GBytes) input = g_bytes_new(xml, strlen(xml));
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GBytes) err = NULL;
    g_subprocess_communicate(hook, input, NULL, &out, &err, &error);
    g_assert_no_error(error);
    Run *run = g_new0(Run, 1);
    run->seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
    run->status = g_subprocess_get_if_exited(hook) ? g_subprocess_get_exit_status(hook) : -1;
    run->out_length = g_bytes_get_size(out);
    run->out = g_strndup(run->out_length ? g_bytes_get_data(out, NULL) : "", run->out_length);
    run->err = g_strndup(g_bytes_get_size(err) ? g_bytes_get_data(err, NULL) : "", g_bytes_get_size(err));
    g_test_message("%s %s: status %d, %.3f s, %" G_GSIZE_FORMAT " bytes out, stderr: %s", object, operation,
                   run->status, run->seconds, run->out_length, run->err);
    return run;
}

static Run *run(Fixture *f, const char *operation, const char *xml)
{
    return run_object(f, "qemu", operation, xml);
}

/* Exit 0, quiet, XML on stdout that differs from the input. */
static void assert_rewritten(const Run *r, const char *input)
{
    g_assert_cmpint(r->status, ==, 0);
    g_assert_cmpstr(r->err, ==, "");
    g_assert_cmpfloat(r->seconds, <, BOUND_SECONDS);
    g_assert_cmpuint(r->out_length, >, 0);
    g_assert_cmpstr(r->out, !=, input);
}

/* Exit 0, quiet, the input back byte for byte. */
static void assert_echoed(const Run *r, const char *input)
{
    g_assert_cmpint(r->status, ==, 0);
    g_assert_cmpstr(r->err, ==, "");
    g_assert_cmpfloat(r->seconds, <, BOUND_SECONDS);
    g_assert_cmpmem(r->out, r->out_length, input, strlen(input));
}

/* The refusal libvirt turns into the operation's error: status 1, nothing on stdout, one
 * line on stderr that names what it must. */
static void assert_refused_as(const Run *r, const char *prefix, const char *const *words)
{
    g_assert_cmpint(r->status, ==, 1);
    g_assert_cmpuint(r->out_length, ==, 0);
    g_assert_cmpfloat(r->seconds, <, BOUND_SECONDS);
    g_assert_true(g_str_has_prefix(r->err, prefix));
    g_assert_true(g_str_has_suffix(r->err, "\n"));
    g_assert_true(strchr(r->err, '\n') == r->err + strlen(r->err) - 1); /* one line */
    for (const char *const *w = words; *w; w++)
        if (!strstr(r->err, *w))
            g_test_fail_printf("the refusal does not name \"%s\": %s", *w, r->err);
}
#define REFUSED(r, ...) assert_refused_as(r, "virt-ferry: cannot map NIC ", (const char *const[]){ __VA_ARGS__, NULL })
/* A start refused by the started hook: libvirt stops the guest. */
#define START_REFUSED(r, ...) \
    assert_refused_as(r, "virt-ferry: cannot put NIC ", (const char *const[]){ __VA_ARGS__, NULL })

static void assert_report(Fixture *f, const char *operation)
{
    g_auto(GStrv) report = hook_receiver_next(f->receiver, REPORT_TIMEOUT_MS);
    g_assert_nonnull(report);
    g_assert_cmpstr(report[0], ==, "qemu");
    g_assert_cmpstr(report[1], ==, "w1");
    g_assert_cmpstr(report[2], ==, operation);
    g_assert_cmpstr(report[3], ==, "begin");
}

/* ------------------------------------------------------------------ reading the output */

/* XPath @expr (a string() or count() expression) on @xml; "" when it selects nothing. */
static char *xpath(const char *xml, const char *expr)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "out.xml", NULL, XML_PARSE_NONET);
    g_assert_nonnull(doc);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    g_assert_nonnull(obj);
    xmlChar *s = xmlXPathCastToString(obj);
    char *value = g_strdup((const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return value;
}

/* The NIC with @mac: "type network ovsnet green300 vlan=- vport=openvswitch", compact enough
 * to compare whole. vlan= lists the tags ("300", "trunk:300,400") or "-". */
static char *nic(const char *xml, const char *mac)
{
    g_autofree char *at = g_strdup_printf("/domain/devices/interface[translate(mac/@address,'ABCDEF','abcdef')="
                                          "translate('%s','ABCDEF','abcdef')]",
                                          mac);
    g_autofree char *count_expr = g_strdup_printf("count(%s)", at);
    g_autofree char *count = xpath(xml, count_expr);
    g_assert_cmpstr(count, ==, "1");
#define FIELD(name, rel)                                                                                         \
    g_autofree char *name##_expr = g_strdup_printf("string(%s/%s)", at, rel);                                  \
    g_autofree char *name = xpath(xml, name##_expr)
    FIELD(type, "@type");
    FIELD(network, "source/@network");
    FIELD(portgroup, "source/@portgroup");
    FIELD(bridge, "source/@bridge");
    FIELD(trunk, "vlan/@trunk");
    FIELD(vport, "virtualport/@type");
#undef FIELD
    GString *tags = g_string_new(NULL);
    for (int i = 1;; i++) {
        g_autofree char *tag_expr = g_strdup_printf("string(%s/vlan/tag[%d]/@id)", at, i);
        g_autofree char *tag = xpath(xml, tag_expr);
        if (!*tag)
            break;
        g_string_append_printf(tags, "%s%s", i > 1 ? "," : "", tag);
    }
    char *summary = g_strdup_printf("%s %s%s%s%s%s vlan=%s%s vport=%s", type, network, *portgroup ? " " : "",
                                    portgroup, *bridge ? " bridge=" : "", bridge, *trunk ? "trunk:" : "",
                                    tags->len ? tags->str : "-", *vport ? vport : "-");
    g_string_free(tags, TRUE);
    return summary;
}
#define ASSERT_NIC(xml, mac, expected)                                                                           \
    do {                                                                                                         \
        g_autofree char *got_ = nic(xml, mac);                                                                   \
        g_assert_cmpstr(got_, ==, expected);                                                                     \
    } while (0)

/* ------------------------------------------------------------------ table B2 */

static void test_row1_same_vlan_portgroup(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_WITH_300);
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_rewritten(r, xml);
    /* On portgroup green300, whose VLAN is 300; no <vlan> of its own to override it. */
    ASSERT_NIC(r->out, MAC1, "network ovsnet green300 vlan=- vport=openvswitch");
    g_autofree char *model = xpath(r->out, "string(/domain/devices/interface/model/@type)");
    g_assert_cmpstr(model, ==, "virtio");
    g_autofree char *slot = xpath(r->out, "string(/domain/devices/interface/address/@slot)");
    g_assert_cmpstr(slot, ==, "0x00");
    g_autofree char *name = xpath(r->out, "string(/domain/name)");
    g_assert_cmpstr(name, ==, "w1");
    assert_report(f, "restore");
}

static void test_row5_vlan_on_interface(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_WITHOUT_300);
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_rewritten(r, xml);
    /* No portgroup has VLAN 300 and the hook creates none: the VLAN goes on the interface. */
    ASSERT_NIC(r->out, MAC1, "network ovsnet vlan=300 vport=openvswitch");
}

static void test_row6_pvlan_secondary_refused(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_PVLAN_300);
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    REFUSED(r, MAC1, "300", "ovsnet", "PVLAN", "w1");
    /* The report still goes out, after stdout is closed. */
    assert_report(f, "restore");
}

static void test_row2_standard_trunk(Fixture *f, gconstpointer unused)
{
    MAP(f, BRNET_WITH_TRUNK);
    g_autofree char *xml = domain_xml(STD_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_rewritten(r, xml);
    ASSERT_NIC(r->out, MAC1, "network brnet all vlan=- vport=-");
}

static void test_row3_standard_refused(Fixture *f, gconstpointer unused)
{
    MAP(f, BRNET_WITHOUT_300);
    g_autofree char *xml = domain_xml(STD_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    REFUSED(r, MAC1, "VLAN 300", "create portgroup vlan300 on network brnet", "virt-ferry restore");
}

/* An Open vSwitch NIC whose VLAN has no portgroup on a standard switch of the same name. */
static void test_ovs_nic_to_standard_switch(Fixture *f, gconstpointer unused)
{
    MAP(f, BRNET_WITH_TRUNK);
    g_autofree char *xml = domain_xml("<interface type='network'><mac address='" MAC1 "'/>"
                                      "<source network='brnet'/><vlan><tag id='400'/></vlan>"
                                      "<virtualport type='openvswitch'/></interface>");
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_rewritten(r, xml);
    /* Row 1 on the standard switch: its portgroup vlan400; no Open vSwitch port there. */
    ASSERT_NIC(r->out, MAC1, "network brnet vlan400 vlan=- vport=-");
}

/* ------------------------------------------------------------------ forms of NIC */

static void test_live_form(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_WITH_300);
    /* virsh dumpxml of a running domain on an Open vSwitch network. */
    g_autofree char *xml = domain_xml(
        "<interface type='bridge'><mac address='" MAC1 "'/>"
        "<source network='ovsnet' portgroup='blue300' portid='0b3c7e3d-5c8a-4a39-a7f1-3b1f7c3f2a10' bridge='ovsbr0'/>"
        "<vlan><tag id='300'/></vlan><virtualport type='openvswitch'>"
        "<parameters interfaceid='9f2f3d1c-8c0e-4a8b-9d51-4c3f3c8b0a11'/></virtualport>"
        "<target dev='vnet3'/><model type='virtio'/></interface>");
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_rewritten(r, xml);
    ASSERT_NIC(r->out, MAC1, "network ovsnet green300 vlan=- vport=openvswitch");
    /* The Open vSwitch port's id goes with it; the old port and bridge do not. */
    g_autofree char *id = xpath(r->out, "string(//interface/virtualport/parameters/@interfaceid)");
    g_assert_cmpstr(id, ==, "9f2f3d1c-8c0e-4a8b-9d51-4c3f3c8b0a11");
    g_autofree char *portid = xpath(r->out, "string(//interface/source/@portid)");
    g_assert_cmpstr(portid, ==, "");
}

static void test_other_nics_untouched(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_WITH_300, BRNET_WITH_TRUNK);
    /* Only NICs on no network: nothing to do, byte for byte. */
    g_autofree char *alone = domain_xml(BRIDGE_NIC(MAC2) DIRECT_NIC(MAC3)
                                        "<interface type='user'><mac address='52:54:00:aa:00:04'/></interface>");
    g_autoptr(Run) echoed = run(f, "restore", alone);
    assert_echoed(echoed, alone);

    /* Beside a NIC that changes, they come out as they went in. */
    g_autofree char *mixed = domain_xml(BRIDGE_NIC(MAC2) OVS_NIC_VLAN_300(MAC1) DIRECT_NIC(MAC3));
    g_autoptr(Run) r = run(f, "restore", mixed);
    assert_rewritten(r, mixed);
    ASSERT_NIC(r->out, MAC1, "network ovsnet green300 vlan=- vport=openvswitch");
    ASSERT_NIC(r->out, MAC2, "bridge  bridge=br7 vlan=300 vport=-");
    ASSERT_NIC(r->out, MAC3, "direct  vlan=- vport=-");
    g_autofree char *dev = xpath(r->out, "string(//interface[@type='direct']/source/@dev)");
    g_assert_cmpstr(dev, ==, "eth0");
}

/* The XML libvirt puts in a save image or a migration ("migratable"): no VLAN on the NIC. */
static void test_unstated_vlan(Fixture *f, gconstpointer unused)
{
    g_autofree char *xml = domain_xml("<interface type='network'><mac address='" MAC1 "'/>"
                                      "<source network='ovsnet' portgroup='green300'/><model type='virtio'/>"
                                      "</interface>"
                                      "<interface type='network'><mac address='" MAC2 "'/>"
                                      "<source network='ovsnet'/></interface>");
    /* The same portgroup here: libvirt's own doing, byte for byte. */
    MAP(f, OVSNET_WITH_300);
    g_autoptr(Run) same = run(f, "migrate", xml);
    assert_echoed(same, xml);

    /* This host lacks the portgroup: which VLAN it had is unknown, so no guess. */
    MAP(f, OVSNET_WITHOUT_300);
    g_autoptr(Run) r = run(f, "migrate", xml);
    REFUSED(r, MAC1, "portgroup green300", "network ovsnet", "create portgroup green300 on network ovsnet",
            "migrate again");
}

/* Portgroup "blue" is VLAN 300 on the peers (libvirt's migratable XML does not say so). */
#define OVSNET_BLUE(vlan)                                                                                        \
    "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/>"                            \
    "<virtualport type='openvswitch'/>"                                                                          \
    "<portgroup name='blue'><vlan><tag id='" vlan "'/></vlan></portgroup></network>"

static void test_unstated_vlan_from_peers(Fixture *f, gconstpointer unused)
{
    g_autofree char *xml = domain_xml("<interface type='network'><mac address='" MAC1 "'/>"
                                      "<source network='ovsnet' portgroup='blue'/><model type='virtio'/>"
                                      "</interface>");
    /* No "blue" here; VLAN 300 has portgroup green300: row 1 by the peers' VLAN. */
    write_map_with_peers(f, OVSNET_WITH_300, OVSNET_BLUE("300"), NULL);
    g_autoptr(Run) r1 = run(f, "migrate", xml);
    assert_rewritten(r1, xml);
    g_autofree char *pg1 = xpath(r1->out, "string(//interface/source/@portgroup)");
    g_assert_cmpstr(pg1, ==, "green300");

    /* No portgroup with VLAN 300 here: the VLAN goes on the Open vSwitch interface. */
    write_map_with_peers(f, OVSNET_WITHOUT_300, OVSNET_BLUE("300"), OVSNET_BLUE("300"));
    g_autoptr(Run) r2 = run(f, "restore", xml);
    assert_rewritten(r2, xml);
    g_autofree char *tag = xpath(r2->out, "string(//interface/vlan/tag/@id)");
    g_assert_cmpstr(tag, ==, "300");

    /* "blue" is VLAN 400 here and 300 on the peer: the domain may come from either (a save
     * image made here, a migration from there), so no guess. */
    write_map_with_peers(f, OVSNET_BLUE("400"), OVSNET_BLUE("300"), NULL);
    g_autoptr(Run) r3 = run(f, "restore", xml);
    REFUSED(r3, MAC1, "hosts disagree", "VLAN 400 on this host", "VLAN 300 on qemu+tcp://alpha/system");

    /* "blue" is 300 here too: byte for byte. */
    write_map_with_peers(f, OVSNET_BLUE("300"), OVSNET_BLUE("300"), NULL);
    g_autoptr(Run) r4 = run(f, "migrate", xml);
    assert_echoed(r4, xml);

    /* The peers disagree: no guess. */
    write_map_with_peers(f, OVSNET_WITH_300, OVSNET_BLUE("300"), OVSNET_BLUE("400"));
    g_autoptr(Run) r5 = run(f, "migrate", xml);
    REFUSED(r5, MAC1, "portgroup blue", "hosts disagree", "VLAN 300 on qemu+tcp://alpha/system",
            "VLAN 400 on qemu+tcp://gamma/system");
}

static void test_ovs_trunk_kept(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_WITH_300);
    /* Explicit tags on Open vSwitch: a trunk it carries as it did on the source host. */
    g_autofree char *xml = domain_xml("<interface type='network'><mac address='" MAC1 "'/>"
                                      "<source network='ovsnet'/><vlan trunk='yes'><tag id='300'/><tag id='400'/>"
                                      "</vlan><virtualport type='openvswitch'/></interface>");
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_echoed(r, xml);

    /* Every VLAN (4095) has no spelling on Open vSwitch: table B2 refuses it. */
    g_autofree char *all = domain_xml("<interface type='network'><mac address='" MAC1 "'/>"
                                      "<source network='ovsnet'/><vlan><tag id='4095'/></vlan>"
                                      "<virtualport type='openvswitch'/></interface>");
    g_autoptr(Run) refused = run(f, "restore", all);
    REFUSED(refused, MAC1, "trunk", "ovsnet");
}

static void test_sixteen_nics(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_WITH_300, BRNET_WITH_TRUNK);
    GString *nics = g_string_new(NULL);
    for (int i = 0; i < 16; i++) {
        switch (i % 4) {
        case 0: /* row 1 */
            g_string_append_printf(nics, "<interface type='network'><mac address='52:54:00:00:01:%02x'/>"
                                         "<source network='ovsnet' portgroup='p%d'/><vlan><tag id='300'/></vlan>"
                                         "<virtualport type='openvswitch'/></interface>\n",
                                   i, i);
            break;
        case 1: /* row 5, and the VLAN is on the interface already */
            g_string_append_printf(nics, "<interface type='network'><mac address='52:54:00:00:01:%02x'/>"
                                         "<source network='ovsnet'/><vlan><tag id='%d'/></vlan></interface>\n",
                                   i, 500 + i);
            break;
        case 2: /* row 2 */
            g_string_append_printf(nics, "<interface type='network'><mac address='52:54:00:00:01:%02x'/>"
                                         "<source network='brnet'/><vlan><tag id='%d'/></vlan></interface>\n",
                                   i, 600 + i);
            break;
        default: /* a plain bridge */
            g_string_append_printf(nics, "<interface type='bridge'><mac address='52:54:00:00:01:%02x'/>"
                                         "<source bridge='br%d'/></interface>\n",
                                   i, i);
        }
    }
    g_autofree char *xml = domain_xml(nics->str);
    g_string_free(nics, TRUE);
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_rewritten(r, xml);
    g_autofree char *count = xpath(r->out, "count(/domain/devices/interface)");
    g_assert_cmpstr(count, ==, "16");
    for (int i = 0; i < 16; i++) {
        g_autofree char *mac = g_strdup_printf("52:54:00:00:01:%02x", i);
        g_autofree char *expected = NULL;
        switch (i % 4) {
        case 0:
            expected = g_strdup("network ovsnet green300 vlan=- vport=openvswitch");
            break;
        case 1: /* already so: libvirt takes the network's virtualport */
            expected = g_strdup_printf("network ovsnet vlan=%d vport=-", 500 + i);
            break;
        case 2:
            expected = g_strdup("network brnet all vlan=- vport=-");
            break;
        default:
            expected = g_strdup_printf("bridge  bridge=br%d vlan=- vport=-", i);
        }
        ASSERT_NIC(r->out, mac, expected);
    }
}

/* ------------------------------------------------------------------ when not to rewrite */

static void test_no_map(Fixture *f, gconstpointer unused)
{
    /* virt-ferry is not set up here (virt-ferryd never wrote a map): libvirt's XML as it was. */
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_echoed(r, xml);

    /* Nor with a configuration file that does not exist, whose defaults name no map here
     * (as long as this machine runs no virt-ferryd with the default state directory). */
    g_autofree char *default_map = g_build_filename(FERRY_DEFAULT_STATE_DIR, FERRY_NETMAP_FILE, NULL);
    if (g_file_test(default_map, G_FILE_TEST_EXISTS)) {
        g_test_skip("a virt-ferryd on this machine wrote a map at the default state directory");
        return;
    }
    g_free(f->config);
    f->config = g_build_filename(f->dir, "no-such.conf", NULL);
    g_autoptr(Run) defaults = run(f, "migrate", xml);
    assert_echoed(defaults, xml);
}

/* A map that cannot be read (a newer format, a damaged file) leaves the NICs unjudged: the
 * hook refuses, naming the file, rather than let the guest run on a VLAN nobody checked. */
static void test_damaged_map(Fixture *f, gconstpointer unused)
{
    g_autofree char *path = g_build_filename(f->state, FERRY_NETMAP_FILE, NULL);
    g_assert_true(g_file_set_contents(path, "[netmap]\nversion=99\n", -1, NULL));
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    assert_refused_as(r, "virt-ferry: cannot map the NICs of domain w1 for restore", (const char *const[]){ path, NULL });
    g_autofree char *live = domain_xml(STD_NIC_LIVE(MAC1, "vlan400", "vnet7"));
    g_autoptr(Run) started = run(f, "started", live);
    assert_refused_as(started, "virt-ferry: the start is refused", (const char *const[]){ path, NULL });

    /* Likewise a configuration that does not parse: where the map is is unknown. */
    g_assert_true(g_file_set_contents(f->config, "[state\n", -1, NULL));
    g_autoptr(Run) c = run(f, "migrate", xml);
    assert_refused_as(c, "virt-ferry: cannot map the NICs of domain w1 for migrate", (const char *const[]){ NULL });
}

/* What the hook cannot judge it refuses, the same as a NIC it cannot map: a DOCTYPE (which the
 * one safe reader refuses, as libvirt never writes one) used to send the XML on unchanged. */
static void test_unjudgeable_refused(Fixture *f, gconstpointer unused)
{
    MAP(f, BRNET_WITHOUT_300);
    g_autofree char *xml = domain_xml(STD_NIC_VLAN_300(MAC1));
    g_autoptr(Run) plain = run(f, "restore", xml);
    REFUSED(plain, MAC1, "VLAN 300", "create portgroup vlan300 on network brnet");

    g_autofree char *doctype = g_strconcat("<!DOCTYPE domain>\n", xml, NULL);
    g_autoptr(Run) r = run(f, "restore", doctype);
    assert_refused_as(r, "virt-ferry: cannot map the NICs of domain w1 for restore",
                      (const char *const[]){ "DOCTYPE", NULL });
    g_autoptr(Run) m = run(f, "migrate", doctype);
    assert_refused_as(m, "virt-ferry: cannot map the NICs of domain w1 for migrate",
                      (const char *const[]){ "DOCTYPE", NULL });

    /* An entity would let the document say one thing to a reader that expands it and another
     * to one that does not. */
    g_autofree char *entity = g_strconcat("<!DOCTYPE domain [<!ENTITY net 'brnet'>]>\n", xml, NULL);
    g_autoptr(Run) e = run(f, "restore", entity);
    assert_refused_as(e, "virt-ferry: cannot map the NICs of domain w1 for restore",
                      (const char *const[]){ "DOCTYPE", NULL });

    /* Not well-formed, or not a domain at all. */
    g_autofree char *cut = g_strndup(xml, strlen(xml) / 2);
    g_autoptr(Run) c = run(f, "restore", cut);
    assert_refused_as(c, "virt-ferry: cannot map the NICs of domain w1 for restore",
                      (const char *const[]){ "not well-formed", NULL });
    g_autoptr(Run) n = run(f, "restore", "<network><name>brnet</name></network>");
    assert_refused_as(n, "virt-ferry: cannot map the NICs of domain w1 for restore", (const char *const[]){ NULL });

    /* Too large to be a domain's XML (64 MiB): refused, not passed on unread. */
    GString *huge = g_string_new(xml);
    g_string_set_size(huge, 65u << 20);
    memset(huge->str + strlen(xml), ' ', huge->len - strlen(xml));
    g_autoptr(Run) h = run(f, "restore", huge->str);
    g_string_free(huge, TRUE);
    /* (Moving 65 MiB through pipes is no measure of the hook's speed: no time bound here.) */
    g_assert_cmpint(h->status, ==, 1);
    g_assert_cmpuint(h->out_length, ==, 0);
    g_assert_true(g_str_has_prefix(h->err, "virt-ferry: the restore of domain w1 is refused"));

    /* The started hook as well: an unchecked port must not start on the bridge's default VLAN. */
    MAP(f, BRNET_WITH_TRUNK);
    g_autofree char *started = domain_xml(STD_NIC_LIVE(MAC1, "vlan400", "vnet7"));
    g_autofree char *live = g_strconcat("<!DOCTYPE domain>\n", started, NULL);
    g_autoptr(Run) s = run(f, "started", live);
    assert_refused_as(s, "virt-ferry: the start of domain w1 is refused", (const char *const[]){ "DOCTYPE", NULL });
}

/* The hook without its module (a partial installation): with a network map (virt-ferry set
 * up here) the NICs cannot be judged and the operation is refused; without one, libvirt's XML
 * as it was, and why. (This test asserted the pass-through with a map before.) */
static void test_no_module(Fixture *f, gconstpointer unused)
{
    g_autofree char *installed = g_build_filename(FERRY_HOOKSEXECDIR, "virt-ferry-hook-rewrite.so", NULL);
    if (g_file_test(installed, G_FILE_TEST_EXISTS)) {
        g_test_skip("virt-ferry-hook-rewrite.so is installed on this machine");
        return;
    }
    MAP(f, OVSNET_WITH_300);
    /* A copy of the hook, not a link: the module is looked for beside the program. */
    g_autofree char *contents = NULL;
    gsize size = 0;
    g_assert_true(g_file_get_contents(HOOK_PATH, &contents, &size, NULL));
    g_autofree char *qemu = hook_path_for(f->dir, "qemu");
    g_assert_cmpint(g_unlink(qemu), ==, 0);
    g_assert_true(g_file_set_contents(qemu, contents, (gssize)size, NULL));
    g_assert_cmpint(g_chmod(qemu, 0755), ==, 0);

    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) r = run(f, "restore", xml);
    g_assert_cmpint(r->status, ==, 1);
    g_assert_cmpuint(r->out_length, ==, 0);
    g_assert_nonnull(strstr(r->err, "cannot load virt-ferry-hook-rewrite.so"));
    g_assert_nonnull(strstr(r->err, "virt-ferry: the restore of domain w1 is refused"));
    g_autoptr(Run) m = run(f, "migrate", xml);
    g_assert_cmpint(m->status, ==, 1);
    g_assert_cmpuint(m->out_length, ==, 0);

    /* No map: virt-ferry is not set up here, the XML goes on as it was. */
    g_autofree char *map = g_build_filename(f->state, "netmap", NULL);
    g_assert_cmpint(g_unlink(map), ==, 0);
    g_autoptr(Run) unset = run(f, "restore", xml);
    g_assert_cmpint(unset->status, ==, 0);
    g_assert_cmpmem(unset->out, unset->out_length, xml, strlen(xml));
    g_assert_nonnull(strstr(unset->err, "cannot load virt-ferry-hook-rewrite.so"));
}

static void test_migrate_as_restore(Fixture *f, gconstpointer unused)
{
    MAP(f, OVSNET_WITH_300, BRNET_WITHOUT_300);
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) restore = run(f, "restore", xml);
    g_autoptr(Run) migrate = run(f, "migrate", xml);
    assert_rewritten(migrate, xml);
    g_assert_cmpstr(migrate->out, ==, restore->out);
    ASSERT_NIC(migrate->out, MAC1, "network ovsnet green300 vlan=- vport=openvswitch");
    assert_report(f, "restore");
    assert_report(f, "migrate");

    g_autofree char *refused_xml = domain_xml(STD_NIC_VLAN_300(MAC2));
    g_autoptr(Run) refused = run(f, "migrate", refused_xml);
    REFUSED(refused, MAC2, "brnet", "create portgroup vlan300 on network brnet", "then migrate again");
    assert_report(f, "migrate");
}

static void test_started_standard_ports(Fixture *f, gconstpointer unused)
{
    /* No bridge named br0 filters VLANs here: the start is refused rather than letting the
     * guest onto every VLAN. (The tagging itself: started/tagging, where the kernel can.) */
    MAP(f, BRNET_WITH_TRUNK);
    g_autofree char *tagged = domain_xml(STD_NIC_LIVE(MAC1, "vlan400", "vnet7"));
    g_autoptr(Run) r = run(f, "started", tagged);
    START_REFUSED(r, MAC1, "VLAN 400", "bridge br0 of network brnet does not filter VLANs",
            "ip link set br0 type bridge vlan_filtering 1");
    g_assert_cmpuint(r->out_length, ==, 0);

    g_autofree char *trunk = domain_xml(STD_NIC_LIVE(MAC2, "all", "vnet8"));
    g_autoptr(Run) t = run(f, "started", trunk);
    START_REFUSED(t, MAC2, "every VLAN (trunk)", "does not filter VLANs");

    /* A portgroup without a declared VLAN, an Open vSwitch NIC: nothing to do. */
    g_autofree char *plain = domain_xml(STD_NIC_LIVE(MAC3, "nosuch", "vnet9") OVS_NIC_VLAN_300(MAC1));
    g_autoptr(Run) p = run(f, "started", plain);
    g_assert_cmpint(p->status, ==, 0);
    g_assert_cmpstr(p->err, ==, "");

    /* Without a map, virt-ferry is not set up here: nothing to do, nothing said. */
    g_autofree char *map_path = g_build_filename(f->state, FERRY_NETMAP_FILE, NULL);
    g_assert_cmpint(g_unlink(map_path), ==, 0);
    g_autoptr(Run) none = run(f, "started", tagged);
    g_assert_cmpint(none->status, ==, 0);
    g_assert_cmpstr(none->err, ==, "");
}

/* A map that cannot be read, or a started XML that does not parse: whether a port needs a
 * VLAN cannot be told, so the start is refused, not let onto VLAN 1 untagged. */
static void test_started_unjudgeable(Fixture *f, gconstpointer unused)
{
    g_autofree char *path = g_build_filename(f->state, "netmap", NULL);
    g_assert_true(g_file_set_contents(path, "[netmap]\nversion=99\n", -1, NULL));
    g_autofree char *xml = domain_xml(STD_NIC_LIVE(MAC1, "vlan400", "vnet7"));
    g_autoptr(Run) damaged = run(f, "started", xml);
    assert_refused_as(damaged, "virt-ferry: ", (const char *const[]){ path, "the start is refused", NULL });

    MAP(f, BRNET_WITH_TRUNK);
    g_autoptr(Run) garbled = run(f, "started", "<domain><devices><interface");
    assert_refused_as(garbled, "virt-ferry: the start of domain w1 is refused",
                      (const char *const[]){ "cannot be read", NULL });
}

/* The tagging itself, on a real bridge that filters VLANs, in a network namespace of a user
 * namespace of its own (no privilege needed, nothing touched outside). Where the kernel has
 * no bridge VLAN filtering (or no user namespaces), it cannot run: SKIP, saying so. */
static const char tag_in_netns[] =
    "mount -t sysfs sysfs /sys || exit 77\n"
    "ip link add br0 type bridge vlan_filtering 1 2> /dev/null || exit 77\n"
    "ip link add vnet7 type veth peer name vnet7p || exit 1\n"
    "ip link set vnet7 master br0 && ip link set br0 up && ip link set vnet7 up || exit 1\n"
    "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent VIRT_FERRY_CONFIG=\"$2\" \"$1\" w1 started begin - < \"$3\"\n"
    "echo \"status=$?\"\n"
    "bridge vlan show dev vnet7\n";

static void test_started_tagging(Fixture *f, gconstpointer unused)
{
    MAP(f, BRNET_WITH_TRUNK);
    g_autofree char *xml = domain_xml(STD_NIC_LIVE(MAC1, "vlan400", "vnet7"));
    g_autofree char *xml_path = g_build_filename(f->dir, "started.xml", NULL);
    g_assert_true(g_file_set_contents(xml_path, xml, -1, NULL));
    g_autofree char *hook = hook_path_for(f->dir, "qemu");
    const char *argv[] = { "unshare", "-Urnm", "sh", "-c", tag_in_netns, "sh", hook, f->config, xml_path, NULL };
    g_autofree char *out = NULL, *err = NULL;
    int wait_status = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &wait_status, &error)) {
        g_test_skip_printf("cannot run unshare: %s; the tagging itself did not run", error->message);
        return;
    }
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 77) {
        g_test_skip("this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING), or user namespaces "
                    "are off: the tagging itself did not run (the refusal is checked in started/standard-ports)");
        return;
    }
    g_test_message("in the namespace: %s%s", out, err);
    g_assert_true(g_spawn_check_wait_status(wait_status, NULL));
    g_assert_nonnull(strstr(out, "status=0\n"));
    /* VLAN 400 as PVID, untagged, and nothing else: VLAN 1 is gone. */
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    guint vlans = 0;
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) words = g_strsplit_set(g_strstrip(*l), " \t", -1);
        for (char **w = words; *w; w++) {
            if (g_str_equal(*w, "1"))
                g_test_fail_printf("vnet7 is still on VLAN 1: %s", *l);
            if (g_str_equal(*w, "400")) {
                vlans++;
                g_assert_nonnull(strstr(*l, "PVID"));
                g_assert_nonnull(strstr(*l, "Untagged"));
            }
        }
    }
    g_assert_cmpuint(vlans, ==, 1);
}

static void test_other_operations(Fixture *f, gconstpointer unused)
{
    static const char *const operations[] = { "prepare", "start", "started", "stopped", "release", "reconnect",
                                               "attach" };
    /* A map and an XML that a restore would rewrite, and even one it would refuse. */
    MAP(f, OVSNET_PVLAN_300);
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    for (gsize i = 0; i < G_N_ELEMENTS(operations); i++) {
        g_autoptr(Run) r = run(f, operations[i], xml);
        g_assert_cmpint(r->status, ==, 0);
        g_assert_cmpuint(r->out_length, ==, 0);
        g_assert_cmpstr(r->err, ==, "");
    }
    /* Only qemu's restore and migrate carry a domain XML to rewrite. */
    g_autoptr(Run) network = run_object(f, "network", "migrate", xml);
    g_assert_cmpint(network->status, ==, 0);
    g_assert_cmpuint(network->out_length, ==, 0);
    g_autoptr(Run) refused = run(f, "restore", xml);
    g_assert_cmpint(refused->status, ==, 1);
}

/* A host in maintenance takes no domain in: migrate and restore refused with one
 * line naming the host and the way out, even with no network map; leaving lets them in. */
static void test_maintenance_refused(Fixture *f, gconstpointer unused)
{
    g_autofree char *xml = domain_xml(OVS_NIC_VLAN_300(MAC1));
    g_autofree char *state = g_build_filename(f->state, "maintenance", NULL);
    g_assert_cmpint(g_mkdir_with_parents(f->state, 0700), ==, 0);
    g_assert_true(g_file_set_contents(state, "[maintenance]\nmode=save\nhost=alpha\nsince=1796292000\n", -1, NULL));
    const char *const words[] = { "host alpha is in maintenance (since 2026-12-03T", "virt-ferry maintenance leave", NULL };
    g_autoptr(Run) migrate = run(f, "migrate", xml);
    assert_refused_as(migrate, "virt-ferry: the migrate of domain w1 is refused: ", words);
    g_autoptr(Run) restore = run(f, "restore", xml);
    assert_refused_as(restore, "virt-ferry: the restore of domain w1 is refused: ", words);
    g_assert_cmpint(g_unlink(state), ==, 0);
    g_autoptr(Run) after = run(f, "migrate", xml);
    assert_echoed(after, xml);
}

int main(int argc, char **argv)
{
    hook_receiver_main_if_asked(argc, argv);
    g_test_init(&argc, &argv, NULL);
    static const gboolean with_bus = TRUE;
#define ADD(path, bus, test) g_test_add(path, Fixture, bus, setup, test, teardown)
    ADD("/hook-rewrite/b2/row1-same-vlan-portgroup", &with_bus, test_row1_same_vlan_portgroup);
    ADD("/hook-rewrite/b2/row5-vlan-on-interface", NULL, test_row5_vlan_on_interface);
    ADD("/hook-rewrite/b2/row6-pvlan-secondary-refused", &with_bus, test_row6_pvlan_secondary_refused);
    ADD("/hook-rewrite/b2/row2-standard-trunk", NULL, test_row2_standard_trunk);
    ADD("/hook-rewrite/b2/row3-standard-refused", NULL, test_row3_standard_refused);
    ADD("/hook-rewrite/b2/ovs-nic-to-standard-switch", NULL, test_ovs_nic_to_standard_switch);
    ADD("/hook-rewrite/nic/live-form", NULL, test_live_form);
    ADD("/hook-rewrite/nic/others-untouched", NULL, test_other_nics_untouched);
    ADD("/hook-rewrite/nic/unstated-vlan", NULL, test_unstated_vlan);
    ADD("/hook-rewrite/nic/unstated-vlan-from-peers", NULL, test_unstated_vlan_from_peers);
    ADD("/hook-rewrite/started/standard-ports", NULL, test_started_standard_ports);
    ADD("/hook-rewrite/started/tagging", NULL, test_started_tagging);
    ADD("/hook-rewrite/started/unjudgeable", NULL, test_started_unjudgeable);
    ADD("/hook-rewrite/nic/ovs-trunk", NULL, test_ovs_trunk_kept);
    ADD("/hook-rewrite/nic/sixteen", NULL, test_sixteen_nics);
    ADD("/hook-rewrite/when/no-map", NULL, test_no_map);
    ADD("/hook-rewrite/when/damaged-map", NULL, test_damaged_map);
    ADD("/hook-rewrite/when/unjudgeable-refused", NULL, test_unjudgeable_refused);
    ADD("/hook-rewrite/when/no-module", NULL, test_no_module);
    ADD("/hook-rewrite/when/migrate-as-restore", &with_bus, test_migrate_as_restore);
    ADD("/hook-rewrite/when/other-operations", NULL, test_other_operations);
    ADD("/hook-rewrite/when/maintenance-refused", NULL, test_maintenance_refused);
#undef ADD
    return g_test_run();
}
