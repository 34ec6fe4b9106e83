/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The network map and the VLAN mapping rules (virt-ferry-hook(8)): pure functions, no libvirt. */
#include "ferry-error.h"
#include "netmap.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAC "52:54:00:aa:bb:01"

/* As libvirt 9.0's net-dumpxml writes them. */
static const char ovs_xml[] =
    "<network>\n"
    "  <name>ovsnet</name>\n"
    "  <uuid>5b1c2a52-8f0e-4f57-9d55-0b0e8b6b3a11</uuid>\n"
    "  <forward mode='bridge'/>\n"
    "  <bridge name='ovsbr0'/>\n"
    "  <virtualport type='openvswitch'/>\n"
    "  <portgroup name='untagged' default='yes'>\n"
    "  </portgroup>\n"
    "  <portgroup name='blue300'>\n"
    "    <vlan>\n"
    "      <tag id='300'/>\n"
    "    </vlan>\n"
    "  </portgroup>\n"
    "  <portgroup name='iso101'>\n"
    "    <vlan>\n"
    "      <tag id='101'/>\n"
    "    </vlan>\n"
    "  </portgroup>\n"
    "  <portgroup name='alltags'>\n"
    "    <vlan trunk='yes'>\n"
    "      <tag id='300'/>\n"
    "      <tag id='400'/>\n"
    "    </vlan>\n"
    "  </portgroup>\n"
    "  <portgroup name='vlan500'>\n"
    "    <vlan>\n"
    "      <tag id='600'/>\n"
    "    </vlan>\n"
    "  </portgroup>\n"
    "  <metadata>\n"
    "    <ferry:network xmlns:ferry='http://virtferry.org/xmlns/network/1'>\n"
    "      <ferry:pvlan primary='100'>\n"
    "        <ferry:secondary vlan='101' type='isolated'/>\n"
    "        <ferry:secondary vlan='102' type='community'/>\n"
    "      </ferry:pvlan>\n"
    "    </ferry:network>\n"
    "  </metadata>\n"
    "</network>\n";

/* A second distributed switch, first by name among them. */
static const char ovs2_xml[] =
    "<network>\n"
    "  <name>ovs2</name>\n"
    "  <forward mode='bridge'/>\n"
    "  <bridge name='ovsbr1'/>\n"
    "  <virtualport type='openvswitch'/>\n"
    "</network>\n";

/* A Linux bridge; its VLANs are virt-ferry's declarations. */
static const char bridge_xml[] =
    "<network>\n"
    "  <name>brnet</name>\n"
    "  <uuid>1d3f5e2c-4a0b-4c8e-8a3e-7f6b2c9d0e12</uuid>\n"
    "  <forward mode='bridge'/>\n"
    "  <bridge name='br0'/>\n"
    "  <portgroup name='vlan300'>\n"
    "  </portgroup>\n"
    "  <portgroup name='all'>\n"
    "  </portgroup>\n"
    "  <portgroup name='plain'>\n"
    "  </portgroup>\n"
    "  <metadata>\n"
    "    <ferry:network xmlns:ferry=\"http://virtferry.org/xmlns/network/1\">\n"
    "      <ferry:portgroup name=\"vlan300\" vlan=\"300\"/>\n"
    "      <ferry:portgroup name=\"all\" trunk=\"yes\"/>\n"
    "      <ferry:portgroup name=\"ghost\" vlan=\"700\"/>\n"
    "      <ferry:future-thing/>\n"
    "      <ferry:pvlan primary=\"100\">\n"
    "        <ferry:secondary vlan=\"101\" type=\"isolated\"/>\n"
    "        <ferry:secondary vlan=\"102\" type=\"community\"/>\n"
    "      </ferry:pvlan>\n"
    "    </ferry:network>\n"
    "  </metadata>\n"
    "</network>\n";

static const char nat_xml[] =
    "<network>\n"
    "  <name>default</name>\n"
    "  <uuid>9a05da11-e96b-47f3-8253-a3a482e445f5</uuid>\n"
    "  <forward mode='nat'>\n"
    "    <nat>\n"
    "      <port start='1024' end='65535'/>\n"
    "    </nat>\n"
    "  </forward>\n"
    "  <bridge name='virbr0' stp='on' delay='0'/>\n"
    "  <mac address='52:54:00:0a:cd:21'/>\n"
    "  <ip address='192.168.122.1' netmask='255.255.255.0'>\n"
    "    <dhcp>\n"
    "      <range start='192.168.122.2' end='192.168.122.254'/>\n"
    "    </dhcp>\n"
    "  </ip>\n"
    "</network>\n";

static const char isolated_xml[] =
    "<network>\n"
    "  <name>isolated</name>\n"
    "  <bridge name='virbr5' stp='on' delay='0'/>\n"
    "  <ip address='10.5.0.1' netmask='255.255.255.0'/>\n"
    "</network>\n";

static const char macvtap_xml[] =
    "<network>\n"
    "  <name>macvtap</name>\n"
    "  <uuid>2c4d7e1f-0a5b-4e3c-9d8f-1a2b3c4d5e6f</uuid>\n"
    "  <forward dev='eth1' mode='bridge'>\n"
    "    <interface dev='eth1'/>\n"
    "  </forward>\n"
    "</network>\n";

static const char hostdev_xml[] =
    "<network>\n"
    "  <name>sriov</name>\n"
    "  <forward mode='hostdev' managed='yes'>\n"
    "    <pf dev='eth2'/>\n"
    "  </forward>\n"
    "</network>\n";

static const char brdown_xml[] =
    "<network>\n"
    "  <name>brdown</name>\n"
    "  <forward mode='bridge'/>\n"
    "  <bridge name='br9'/>\n"
    "</network>\n";

static void add(FerryNetmap *map, const char *xml, gboolean active)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_netmap_add_network_xml(map, xml, active, &error));
    g_assert_no_error(error);
}

/* ovsnet, ovs2 (distributed), brnet (standard), brdown (standard, inactive), default (NAT),
 * macvtap (other). */
static FerryNetmap *host_map(void)
{
    FerryNetmap *map = ferry_netmap_new();
    add(map, ovs_xml, TRUE);
    add(map, ovs2_xml, TRUE);
    add(map, bridge_xml, TRUE);
    add(map, brdown_xml, FALSE);
    add(map, nat_xml, TRUE);
    add(map, macvtap_xml, TRUE);
    return map;
}

static const FerryPortgroup *pg_of(const FerryNetwork *net, const char *name)
{
    const FerryPortgroup *pg = ferry_network_find_portgroup(net, name);
    g_assert_nonnull(pg);
    return pg;
}

static void assert_pg(const FerryNetwork *net, const char *name, int vlan, gboolean trunk, gboolean in_libvirt)
{
    const FerryPortgroup *pg = pg_of(net, name);
    g_assert_cmpint(pg->vlan, ==, vlan);
    g_assert_cmpint(pg->trunk, ==, trunk);
    g_assert_cmpint(pg->in_libvirt, ==, in_libvirt);
}

/* ------------------------------------------------------------------ parsing */

#define BR_OPEN "<network><name>brx</name><forward mode='bridge'/><bridge name='br1'/>"
#define OVS_OPEN "<network><name>ovx</name><forward mode='bridge'/><bridge name='ovsbr0'/>" \
                 "<virtualport type='openvswitch'/>"
#define MD(x) "<metadata><ferry:network xmlns:ferry='http://virtferry.org/xmlns/network/1'>" x \
              "</ferry:network></metadata></network>"

static void test_parse_ovs(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, ovs_xml, TRUE);
    const FerryNetwork *net = ferry_netmap_find(map, "ovsnet");
    g_assert_nonnull(net);
    g_assert_cmpint(net->kind, ==, FERRY_SWITCH_DISTRIBUTED);
    g_assert_cmpstr(net->bridge, ==, "ovsbr0");
    g_assert_true(net->active);
    g_assert_cmpuint(net->portgroups->len, ==, 5);
    g_assert_cmpstr(((FerryPortgroup *)g_ptr_array_index(net->portgroups, 0))->name, ==, "untagged");
    assert_pg(net, "untagged", -1, FALSE, TRUE);
    g_assert_true(pg_of(net, "untagged")->is_default);
    g_assert_false(pg_of(net, "blue300")->is_default);
    assert_pg(net, "blue300", 300, FALSE, TRUE);
    assert_pg(net, "iso101", 101, FALSE, TRUE);
    assert_pg(net, "alltags", -1, TRUE, TRUE);
    g_assert_cmpuint(net->pvlans->len, ==, 2);
    g_assert_cmpint(ferry_network_pvlan_primary(net, 101), ==, 100);
    g_assert_cmpint(ferry_network_pvlan_primary(net, 102), ==, 100);
    g_assert_cmpint(ferry_network_pvlan_primary(net, 100), ==, -1);
    g_assert_cmpint(g_array_index(net->pvlans, FerryPvlan, 0).type, ==, FERRY_PVLAN_ISOLATED);
    g_assert_cmpint(g_array_index(net->pvlans, FerryPvlan, 1).type, ==, FERRY_PVLAN_COMMUNITY);
    g_assert_null(ferry_netmap_find(map, "ovs"));

    /* libvirt's tag is what Open vSwitch applies: a declaration is ignored, never recorded. */
    add(map, OVS_OPEN "<portgroup name='p'><vlan><tag id='300'/></vlan></portgroup>"
             MD("<ferry:portgroup name='p' vlan='999'/><ferry:portgroup name='q' vlan='5'/>"), TRUE);
    const FerryNetwork *ovx = ferry_netmap_find(map, "ovx");
    assert_pg(ovx, "p", 300, FALSE, TRUE);
    g_assert_null(ferry_network_find_portgroup(ovx, "q"));
}

static void test_parse_bridge(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, bridge_xml, FALSE);
    const FerryNetwork *net = ferry_netmap_find(map, "brnet");
    g_assert_nonnull(net);
    g_assert_cmpint(net->kind, ==, FERRY_SWITCH_STANDARD);
    g_assert_cmpstr(net->bridge, ==, "br0");
    g_assert_false(net->active);
    g_assert_cmpuint(net->portgroups->len, ==, 4);
    assert_pg(net, "vlan300", 300, FALSE, TRUE);
    assert_pg(net, "all", -1, TRUE, TRUE);
    assert_pg(net, "plain", -1, FALSE, TRUE);
    assert_pg(net, "ghost", 700, FALSE, FALSE);
    g_assert_cmpint(ferry_network_pvlan_primary(net, 102), ==, 100);
}

/* vlan="4095" is a trunk; a libvirt tag 4095 too. */
static void test_parse_4095(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map,
        "<network><name>b</name><forward mode='bridge'/><bridge name='br1'/><portgroup name='t'/>"
        "<metadata><ferry:network xmlns:ferry='http://virtferry.org/xmlns/network/1'>"
        "<ferry:portgroup name='t' vlan='4095'/></ferry:network></metadata></network>", TRUE);
    add(map,
        "<network><name>o</name><forward mode='bridge'/><bridge name='ovsbr0'/><virtualport type='openvswitch'/>"
        "<portgroup name='t'><vlan><tag id='4095'/></vlan></portgroup>"
        "<portgroup name='one'><vlan trunk='no'><tag id='0'/></vlan></portgroup>"
        "<portgroup name='single-trunk'><vlan trunk='yes'><tag id='7'/></vlan></portgroup></network>", TRUE);
    assert_pg(ferry_netmap_find(map, "b"), "t", -1, TRUE, TRUE);
    assert_pg(ferry_netmap_find(map, "o"), "t", -1, TRUE, TRUE);
    assert_pg(ferry_netmap_find(map, "o"), "one", 0, FALSE, TRUE);
    assert_pg(ferry_netmap_find(map, "o"), "single-trunk", -1, TRUE, TRUE);
}

static void test_parse_kinds(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, nat_xml, TRUE);
    add(map, isolated_xml, TRUE);
    add(map, macvtap_xml, TRUE);
    add(map, hostdev_xml, TRUE);
    add(map, "<network><name>routed</name><forward mode='route'/><bridge name='virbr7'/></network>", TRUE);
    add(map, "<network><name>vepa</name><forward mode='vepa'><interface dev='eth3'/></forward></network>", TRUE);
    const FerryNetwork *nat = ferry_netmap_find(map, "default");
    g_assert_cmpint(nat->kind, ==, FERRY_SWITCH_STANDARD);
    g_assert_cmpstr(nat->bridge, ==, "virbr0");
    g_assert_cmpuint(nat->portgroups->len, ==, 0);
    g_assert_cmpuint(nat->pvlans->len, ==, 0);
    g_assert_cmpint(ferry_netmap_find(map, "isolated")->kind, ==, FERRY_SWITCH_STANDARD);
    g_assert_cmpint(ferry_netmap_find(map, "routed")->kind, ==, FERRY_SWITCH_STANDARD);
    g_assert_cmpint(ferry_netmap_find(map, "macvtap")->kind, ==, FERRY_SWITCH_OTHER);
    g_assert_null(ferry_netmap_find(map, "macvtap")->bridge);
    g_assert_cmpint(ferry_netmap_find(map, "sriov")->kind, ==, FERRY_SWITCH_OTHER);
    g_assert_cmpint(ferry_netmap_find(map, "vepa")->kind, ==, FERRY_SWITCH_OTHER);
    /* Sorted by name whatever the order of arrival. */
    const char *order[] = { "default", "isolated", "macvtap", "routed", "sriov", "vepa" };
    g_assert_cmpuint(map->networks->len, ==, G_N_ELEMENTS(order));
    for (guint i = 0; i < G_N_ELEMENTS(order); i++)
        g_assert_cmpstr(((FerryNetwork *)g_ptr_array_index(map->networks, i))->name, ==, order[i]);
    g_assert_cmpstr(ferry_switch_kind_name(FERRY_SWITCH_DISTRIBUTED), ==, "distributed");
}

/* A lifecycle event re-reads one network: it replaces the old entry. */
static void test_replace(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, bridge_xml, TRUE);
    add(map, nat_xml, TRUE);
    add(map, "<network><name>brnet</name><forward mode='bridge'/><bridge name='br0'/></network>", FALSE);
    g_assert_cmpuint(map->networks->len, ==, 2);
    const FerryNetwork *net = ferry_netmap_find(map, "brnet");
    g_assert_false(net->active);
    g_assert_cmpuint(net->portgroups->len, ==, 0);
    g_assert_cmpuint(net->pvlans->len, ==, 0);
}

static void expect_invalid(const char *xml, const char *needle1, const char *needle2)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, nat_xml, TRUE);
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_netmap_add_network_xml(map, xml, TRUE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    if (needle1 && !strstr(error->message, needle1))
        g_error("\"%s\" not in \"%s\"", needle1, error->message);
    if (needle2 && !strstr(error->message, needle2))
        g_error("\"%s\" not in \"%s\"", needle2, error->message);
    /* Nothing half-added. */
    g_assert_cmpuint(map->networks->len, ==, 1);
}

static void test_bad_xml(void)
{
    expect_invalid("", "empty", NULL);
    expect_invalid("<network><name>x</name>", "well-formed", NULL);
    expect_invalid("not xml at all", "well-formed", NULL);
    expect_invalid("<domain><name>x</name></domain>", "<domain>", NULL);
    expect_invalid("<network><uuid>1</uuid></network>", "<name>", NULL);
    expect_invalid("<!DOCTYPE network [<!ENTITY e 'x'>]><network><name>&e;</name></network>", "DOCTYPE", NULL);
    expect_invalid(OVS_OPEN "<portgroup><vlan><tag id='3'/></vlan></portgroup></network>", "ovx", "no name");
    expect_invalid(OVS_OPEN "<portgroup name='a'/><portgroup name='a'/></network>", "ovx", "twice");
    expect_invalid(OVS_OPEN "<portgroup name='a'><vlan/></portgroup></network>", "ovx", "<tag");
}

static void test_bad_vlans(void)
{
    expect_invalid(OVS_OPEN "<portgroup name='a'><vlan><tag id='4096'/></vlan></portgroup></network>", "ovx", "4096");
    expect_invalid(OVS_OPEN "<portgroup name='a'><vlan><tag id='-5'/></vlan></portgroup></network>", "ovx", "-5");
    expect_invalid(OVS_OPEN "<portgroup name='a'><vlan><tag id='abc'/></vlan></portgroup></network>", "ovx", "abc");
    expect_invalid(OVS_OPEN "<portgroup name='a'><vlan trunk='maybe'><tag id='3'/></vlan></portgroup></network>",
                   "ovx", "maybe");
    expect_invalid(BR_OPEN "<portgroup name='a'/>" MD("<ferry:portgroup name='a' vlan='4096'/>"), "brx", "4096");
    expect_invalid(BR_OPEN "<portgroup name='a'/>" MD("<ferry:portgroup name='a' vlan='-5'/>"), "brx", "-5");
    expect_invalid(BR_OPEN "<portgroup name='a'/>" MD("<ferry:portgroup name='a' vlan='abc'/>"), "brx", "abc");
    expect_invalid(BR_OPEN "<portgroup name='a'/>" MD("<ferry:portgroup name='a' vlan=' 30'/>"), "brx", " 30");
    expect_invalid(BR_OPEN "<portgroup name='a'/>" MD("<ferry:portgroup name='a'/>"), "brx", "no VLAN");
    expect_invalid(BR_OPEN "<portgroup name='a'/>" MD("<ferry:portgroup name='a' vlan='3' trunk='yes'/>"), "brx",
                   "both");
    expect_invalid(BR_OPEN MD("<ferry:portgroup name='a' vlan='3'/><ferry:portgroup name='a' vlan='4'/>"), "brx",
                   "twice");
    expect_invalid(BR_OPEN MD("<ferry:pvlan primary='4095'><ferry:secondary vlan='3' type='isolated'/></ferry:pvlan>"),
                   "brx", "4095");
    expect_invalid(BR_OPEN MD("<ferry:pvlan primary='10'><ferry:secondary vlan='4096' type='isolated'/></ferry:pvlan>"),
                   "brx", "4096");
    expect_invalid(BR_OPEN MD("<ferry:pvlan primary='10'><ferry:secondary vlan='11' type='open'/></ferry:pvlan>"),
                   "brx", "open");
    expect_invalid(BR_OPEN MD("<ferry:pvlan primary='10'><ferry:secondary vlan='10' type='isolated'/></ferry:pvlan>"),
                   "brx", "itself");
    expect_invalid(OVS_OPEN MD("<ferry:pvlan primary='10'><ferry:secondary vlan='11' type='isolated'/></ferry:pvlan>"
                               "<ferry:pvlan primary='20'><ferry:secondary vlan='11' type='isolated'/></ferry:pvlan>"),
                   "ovx", "one primary");
}

/* Elements of another namespace are not virt-ferry's, however they are named. */
static void test_foreign_metadata(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, BR_OPEN "<portgroup name='a'/>"
             "<metadata><x:network xmlns:x='http://example.com/other'><x:portgroup name='a' vlan='5'/>"
             "</x:network></metadata></network>", TRUE);
    assert_pg(ferry_netmap_find(map, "brx"), "a", -1, FALSE, TRUE);
}

/* ------------------------------------------------------------------ the map on disk */

static void test_round_trip(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    /* Names are values in the file: brackets, separators, spaces and UTF-8 survive. */
    add(map, "<network><name> we[ird];net=ä\\x </name><forward mode='bridge'/><bridge name=' br;1'/>"
             "<portgroup name='p=[1];'/>"
             "<metadata><ferry:network xmlns:ferry='http://virtferry.org/xmlns/network/1'>"
             "<ferry:portgroup name='p=[1];' vlan='0'/></ferry:network></metadata></network>", FALSE);
    g_autofree char *dir = g_dir_make_tmp("test-netmap-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, FERRY_NETMAP_FILE, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_netmap_save(map, path, &error));
    g_assert_no_error(error);

    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0644);

    g_autoptr(FerryNetmap) back = ferry_netmap_load(path, &error);
    g_assert_no_error(error);
    g_assert_nonnull(back);
    g_assert_true(ferry_netmap_equal(map, back));
    const FerryNetwork *weird = ferry_netmap_find(back, "we[ird];net=ä\\x");
    g_assert_nonnull(weird);
    g_assert_cmpstr(weird->bridge, ==, " br;1");
    assert_pg(weird, "p=[1];", 0, FALSE, TRUE);
    assert_pg(ferry_netmap_find(back, "brnet"), "ghost", 700, FALSE, FALSE);
    g_assert_cmpint(ferry_network_pvlan_primary(ferry_netmap_find(back, "ovsnet"), 102), ==, 100);
    g_assert_false(ferry_netmap_find(back, "brdown")->active);

    /* Exact: the same bytes once more. */
    g_autofree char *first = NULL, *second = NULL;
    g_assert_true(g_file_get_contents(path, &first, NULL, NULL));
    g_assert_true(ferry_netmap_save(back, path, &error));
    g_assert_true(g_file_get_contents(path, &second, NULL, NULL));
    g_assert_cmpstr(first, ==, second);

    /* And a difference is seen. */
    FerryPortgroup *pg = (FerryPortgroup *)ferry_network_find_portgroup(ferry_netmap_find(back, "ovsnet"), "blue300");
    pg->vlan = 301;
    g_assert_false(ferry_netmap_equal(map, back));
    pg->vlan = 300;
    g_assert_true(ferry_netmap_equal(map, back));
    pg->in_libvirt = FALSE;
    g_assert_false(ferry_netmap_equal(map, back));
    pg->in_libvirt = TRUE;
    pg->is_default = TRUE;
    g_assert_false(ferry_netmap_equal(map, back));
    pg->is_default = FALSE;
    g_array_index(ferry_netmap_find(back, "ovsnet")->pvlans, FerryPvlan, 0).type = FERRY_PVLAN_COMMUNITY;
    g_assert_false(ferry_netmap_equal(map, back));

    g_unlink(path);
    g_rmdir(dir);
}

static void expect_load_error(const char *contents, int code, const char *needle)
{
    g_autofree char *dir = g_dir_make_tmp("test-netmap-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, FERRY_NETMAP_FILE, NULL);
    g_assert_true(g_file_set_contents(path, contents, -1, NULL));
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryNetmap) map = ferry_netmap_load(path, &error);
    g_assert_null(map);
    g_assert_error(error, FERRY_ERROR, code);
    if (!strstr(error->message, needle))
        g_error("\"%s\" not in \"%s\"", needle, error->message);
    g_unlink(path);
    g_rmdir(dir);
}

static void test_load_errors(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryNetmap) none = ferry_netmap_load("/nonexistent/virt-ferry/netmap", &error);
    g_assert_null(none);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND);

#define NET0 "[netmap]\nversion=1\nnetworks=1\n[network 0]\nname=n\nswitch=standard\nactive=true\n"
    expect_load_error("[netmap]\nversion=2\nnetworks=0\n", FERRY_ERROR_INVALID_ARGUMENT, "format 2");
    expect_load_error("garbage", FERRY_ERROR_INVALID_ARGUMENT, "netmap");
    expect_load_error("[netmap]\nversion=1\nnetworks=2\n", FERRY_ERROR_INVALID_ARGUMENT, "network 0");
    expect_load_error("[netmap]\nversion=1\nnetworks=1\n[network 0]\nswitch=standard\nactive=true\nportgroups=0\n",
                      FERRY_ERROR_INVALID_ARGUMENT, "name");
    expect_load_error("[netmap]\nversion=1\nnetworks=1\n[network 0]\nname=n\nswitch=fancy\nactive=true\nportgroups=0\n",
                      FERRY_ERROR_INVALID_ARGUMENT, "fancy");
    expect_load_error(NET0 "portgroups=1\n[network 0 portgroup 0]\nname=p\nvlan=5000\ntrunk=false\ndefault=false\n"
                           "libvirt=true\n", FERRY_ERROR_INVALID_ARGUMENT, "5000");
    expect_load_error(NET0 "portgroups=0\npvlans=5:abc:isolated;\n", FERRY_ERROR_INVALID_ARGUMENT, "5:abc");
}

/* ------------------------------------------------------------------ portgroup XML */

static void test_portgroup_xml(void)
{
    g_autofree char *tagged = ferry_netmap_portgroup_xml("vlan300", 300, FALSE);
    g_assert_cmpstr(tagged, ==, "<portgroup name='vlan300'><vlan><tag id='300'/></vlan></portgroup>");
    g_autofree char *zero = ferry_netmap_portgroup_xml("vlan0", 0, FALSE);
    g_assert_cmpstr(zero, ==, "<portgroup name='vlan0'><vlan><tag id='0'/></vlan></portgroup>");
    g_autofree char *plain = ferry_netmap_portgroup_xml("vlan300", -1, FALSE);
    g_assert_cmpstr(plain, ==, "<portgroup name='vlan300'/>");
    g_autofree char *quoted = ferry_netmap_portgroup_xml("a'b<c", -1, FALSE);
    g_assert_cmpstr(quoted, ==, "<portgroup name='a&apos;b&lt;c'/>");
    g_assert_null(ferry_netmap_portgroup_xml("trunk", -1, TRUE));
    g_assert_null(ferry_netmap_portgroup_xml("trunk", 4095, FALSE));

    /* What it makes, libvirt (and so the map) reads back. */
    g_autofree char *net = g_strdup_printf("<network><name>o</name><forward mode='bridge'/><bridge name='b'/>"
                                           "<virtualport type='openvswitch'/>%s</network>", tagged);
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, net, TRUE);
    assert_pg(ferry_netmap_find(map, "o"), "vlan300", 300, FALSE, TRUE);
}

/* The declarations joined to a network, as networks.c does, read back through the map. */
static const FerryPortgroup *declared(FerryNetmap *map, const char *decl, const char *pg)
{
    g_autofree char *xml = g_strdup_printf(BR_OPEN "<portgroup name='%s'/><metadata>%s</metadata></network>", pg, decl);
    add(map, xml, TRUE);
    return pg_of(ferry_netmap_find(map, "brx"), pg);
}

static void test_standard_metadata(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();

    g_autofree char *fresh = ferry_netmap_standard_metadata_with(NULL, "vlan300", 300, FALSE);
    g_assert_nonnull(strstr(fresh, "xmlns:ferry=\"" FERRY_NETMAP_NS "\""));
    g_assert_nonnull(strstr(fresh, "<ferry:portgroup name=\"vlan300\" vlan=\"300\"/>"));
    g_assert_cmpint(declared(map, fresh, "vlan300")->vlan, ==, 300);

    g_autofree char *empty = ferry_netmap_standard_metadata_with("  \n", "trunk", -1, TRUE);
    g_assert_nonnull(strstr(empty, "<ferry:portgroup name=\"trunk\" trunk=\"yes\"/>"));
    g_assert_true(declared(map, empty, "trunk")->trunk);

    /* Other declarations, even unknown ones, survive; the same portgroup is replaced whole. */
    const char *current = "<ferry:network xmlns:ferry='" FERRY_NETMAP_NS "'>"
                          "<ferry:portgroup name='a' vlan='5'/>"
                          "<ferry:future-thing x='1'/>"
                          "<ferry:pvlan primary='100'><ferry:secondary vlan='101' type='isolated'/></ferry:pvlan>"
                          "</ferry:network>";
    g_autofree char *added = ferry_netmap_standard_metadata_with(current, "vlan400", 400, FALSE);
    g_assert_nonnull(strstr(added, "<ferry:future-thing x=\"1\"/>"));
    g_assert_nonnull(strstr(added, "name=\"a\" vlan=\"5\""));
    g_assert_nonnull(strstr(added, "name=\"vlan400\" vlan=\"400\""));
    g_assert_cmpint(declared(map, added, "vlan400")->vlan, ==, 400);
    g_assert_cmpint(ferry_network_pvlan_primary(ferry_netmap_find(map, "brx"), 101), ==, 100);
    g_assert_cmpint(pg_of(ferry_netmap_find(map, "brx"), "a")->vlan, ==, 5);

    g_autofree char *to_trunk = ferry_netmap_standard_metadata_with(current, "a", -1, TRUE);
    g_assert_null(strstr(to_trunk, "vlan=\"5\""));
    const FerryPortgroup *a = declared(map, to_trunk, "a");
    g_assert_true(a->trunk);
    g_assert_cmpint(a->vlan, ==, -1);
    g_autofree char *to_vlan = ferry_netmap_standard_metadata_with(to_trunk, "a", 7, FALSE);
    g_assert_null(strstr(to_vlan, "trunk="));
    g_assert_cmpint(declared(map, to_vlan, "a")->vlan, ==, 7);

    /* Wrapped in a <metadata> whose element declares the namespace: still declared on the output. */
    const char *wrapped = "<metadata xmlns:f='" FERRY_NETMAP_NS "'><f:network><f:portgroup name='b' vlan='9'/>"
                          "</f:network></metadata>";
    g_autofree char *unwrapped = ferry_netmap_standard_metadata_with(wrapped, "c", 10, FALSE);
    g_assert_true(g_str_has_prefix(unwrapped, "<f:network xmlns:f=\"" FERRY_NETMAP_NS "\">"));
    g_assert_cmpint(declared(map, unwrapped, "c")->vlan, ==, 10);
    g_assert_cmpint(pg_of(ferry_netmap_find(map, "brx"), "b")->vlan, ==, 9);

    /* Declarations one cannot read are never overwritten. */
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*not well-formed*");
    g_assert_null(ferry_netmap_standard_metadata_with("<ferry:network", "x", 1, FALSE));
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "*not a <ferry:network>*");
    g_assert_null(ferry_netmap_standard_metadata_with("<other/>", "x", 1, FALSE));
    g_test_assert_expected_messages();
}

/* ------------------------------------------------------------------ the decision (B2) */

static FerryNicMapping *decide_ok(const FerryNetmap *map, const char *requested, const char *archived,
                                  FerrySwitchKind kind, int vlan, gboolean trunk)
{
    FerryNicMapping *m = g_new0(FerryNicMapping, 1);
    g_autoptr(GError) error = NULL;
    gboolean ok = ferry_netmap_decide(map, requested, archived, kind, vlan, trunk, MAC, m, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_nonnull(m->rule);
    return m;
}

static void mapping_free(FerryNicMapping *m)
{
    ferry_nic_mapping_clear(m);
    g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryNicMapping, mapping_free)

static void assert_rule(const FerryNicMapping *m, const char *needle)
{
    if (!strstr(m->rule, needle))
        g_error("\"%s\" not in rule \"%s\"", needle, m->rule);
}

static void assert_mapping(const FerryNicMapping *m, FerryMapAction action, const char *network, const char *portgroup,
                           const char *rule)
{
    g_assert_cmpint(m->action, ==, action);
    g_assert_cmpstr(m->network, ==, network);
    g_assert_cmpstr(m->portgroup, ==, portgroup);
    assert_rule(m, rule);
}

/* Fails with @code, every needle in the message, and @out left cleared. */
static void decide_fails(const FerryNetmap *map, const char *requested, const char *archived, FerrySwitchKind kind,
                         int vlan, gboolean trunk, int code, const char *const *needles)
{
    FerryNicMapping m = { .network = NULL };
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_netmap_decide(map, requested, archived, kind, vlan, trunk, MAC, &m, &error));
    g_assert_error(error, FERRY_ERROR, code);
    for (const char *const *n = needles; *n; n++)
        if (!strstr(error->message, *n))
            g_error("\"%s\" not in \"%s\"", *n, error->message);
    g_assert_null(m.network);
    g_assert_null(m.portgroup);
    g_assert_null(m.rule);
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_row1(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    g_autoptr(FerryNicMapping) d = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 300, FALSE);
    assert_mapping(d, FERRY_MAP_CONNECT, "ovsnet", "blue300", "B2 row 1: portgroup blue300");
    g_assert_cmpint(d->vlan, ==, 300);
    g_assert_false(d->trunk);
    /* Standard: the VLAN declared for the portgroup counts. */
    g_autoptr(FerryNicMapping) s = decide_ok(map, NULL, "brnet", FERRY_SWITCH_STANDARD, 300, FALSE);
    assert_mapping(s, FERRY_MAP_CONNECT, "brnet", "vlan300", "row 1");
}

static void test_row2(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    g_autoptr(FerryNicMapping) m = decide_ok(map, NULL, "brnet", FERRY_SWITCH_STANDARD, 800, FALSE);
    assert_mapping(m, FERRY_MAP_CONNECT, "brnet", "all", "B2 row 2");
    g_assert_cmpint(m->vlan, ==, 800);
    /* A PVLAN secondary on a standard switch is no row 6: the trunk takes it. */
    g_autoptr(FerryNicMapping) p = decide_ok(map, NULL, "brnet", FERRY_SWITCH_STANDARD, 102, FALSE);
    assert_mapping(p, FERRY_MAP_CONNECT, "brnet", "all", "row 2");
    /* VLAN 700 is declared for "ghost", which libvirt lacks: never connected to. */
    g_autoptr(FerryNicMapping) g = decide_ok(map, NULL, "brnet", FERRY_SWITCH_STANDARD, 700, FALSE);
    assert_mapping(g, FERRY_MAP_CONNECT, "brnet", "all", "row 2");
}

/* Rows 3 and 4: a standard switch with neither the VLAN nor a trunk. */
static void test_row3_4(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    g_autoptr(FerryNicMapping) m = decide_ok(map, NULL, "default", FERRY_SWITCH_STANDARD, 300, FALSE);
    assert_mapping(m, FERRY_MAP_CREATE_PORTGROUP, "default", "vlan300", "B2 row 3");
    assert_rule(m, "none is a trunk");
    g_assert_cmpint(m->vlan, ==, 300);
    g_assert_false(m->trunk);
}

static void test_row5(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    g_autoptr(FerryNicMapping) m = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 800, FALSE);
    assert_mapping(m, FERRY_MAP_CREATE_PORTGROUP, "ovsnet", "vlan800", "B2 row 5");
    g_assert_cmpint(m->vlan, ==, 800);
    /* A trunk portgroup on a distributed switch is no row 2. */
    g_autoptr(FerryNicMapping) t = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 400, FALSE);
    assert_mapping(t, FERRY_MAP_CREATE_PORTGROUP, "ovsnet", "vlan400", "row 5");
    /* The PVLAN primary itself is an ordinary VLAN. */
    g_autoptr(FerryNicMapping) p = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 100, FALSE);
    assert_mapping(p, FERRY_MAP_CREATE_PORTGROUP, "ovsnet", "vlan100", "row 5");
}

static void test_row6(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    decide_fails(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 102, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "VLAN 102", "ovsnet", "PVLAN 100", "row 6"));
}

static void test_row7(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    g_autoptr(FerryNicMapping) m = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 101, FALSE);
    assert_mapping(m, FERRY_MAP_CONNECT, "ovsnet", "iso101", "B2 row 7: portgroup iso101");
    assert_rule(m, "PVLAN secondary 101 of primary 100");
}

static void test_trunk(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    /* Standard with a trunk portgroup: row 2, by trunk flag or by 4095. */
    g_autoptr(FerryNicMapping) a = decide_ok(map, NULL, "brnet", FERRY_SWITCH_STANDARD, -1, TRUE);
    assert_mapping(a, FERRY_MAP_CONNECT, "brnet", "all", "B2 row 2");
    g_assert_true(a->trunk);
    g_assert_cmpint(a->vlan, ==, -1);
    g_autoptr(FerryNicMapping) b = decide_ok(map, NULL, "brnet", FERRY_SWITCH_STANDARD, 4095, FALSE);
    assert_mapping(b, FERRY_MAP_CONNECT, "brnet", "all", "row 2");
    g_assert_true(b->trunk);
    /* Standard without one: row 4, a "trunk" portgroup. */
    g_autoptr(FerryNicMapping) c = decide_ok(map, NULL, "default", FERRY_SWITCH_STANDARD, 4095, FALSE);
    assert_mapping(c, FERRY_MAP_CREATE_PORTGROUP, "default", "trunk", "B2 row 4");
    g_assert_true(c->trunk);
    /* Distributed: never, even with a trunk portgroup there. */
    decide_fails(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 4095, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "every VLAN", "4095", "ovsnet"));
    decide_fails(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, -1, TRUE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "trunk", "ovsnet"));
    /* Not even by the same-kind fallback. */
    decide_fails(map, NULL, "gone", FERRY_SWITCH_DISTRIBUTED, 4095, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "ovs2"));
}

static void test_no_vlan(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    g_autoptr(FerryNicMapping) d = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, -1, FALSE);
    assert_mapping(d, FERRY_MAP_NO_VLAN, "ovsnet", NULL, "no VLAN");
    g_assert_cmpint(d->vlan, ==, -1);
    g_autoptr(FerryNicMapping) o = decide_ok(map, NULL, "macvtap", FERRY_SWITCH_OTHER, -1, FALSE);
    assert_mapping(o, FERRY_MAP_NO_VLAN, "macvtap", NULL, "without a portgroup");

    /* A default portgroup with a VLAN would catch an untagged NIC: a plain one is preferred. */
    add(map,
        "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/><virtualport type='openvswitch'/>"
        "<portgroup name='dflt' default='yes'><vlan><tag id='20'/></vlan></portgroup>"
        "<portgroup name='raw'/></network>", TRUE);
    g_autoptr(FerryNicMapping) p = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, -1, FALSE);
    assert_mapping(p, FERRY_MAP_NO_VLAN, "ovsnet", "raw", "default portgroup dflt with VLAN 20");
    add(map,
        "<network><name>ovsnet</name><forward mode='bridge'/><bridge name='ovsbr0'/><virtualport type='openvswitch'/>"
        "<portgroup name='dflt' default='yes'><vlan><tag id='20'/></vlan></portgroup></network>", TRUE);
    g_autoptr(FerryNicMapping) n = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, -1, FALSE);
    assert_mapping(n, FERRY_MAP_NO_VLAN, "ovsnet", NULL, "note: its default portgroup dflt puts the NIC on VLAN 20");
}

static void test_other_switch(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    decide_fails(map, NULL, "macvtap", FERRY_SWITCH_OTHER, 300, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "VLAN 300", "macvtap"));
    decide_fails(map, "macvtap", "ovsnet", FERRY_SWITCH_DISTRIBUTED, 4095, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "macvtap"));
}

static void test_requested(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    /* Present: wins over the archived name. */
    g_autoptr(FerryNicMapping) m = decide_ok(map, "brnet", "ovsnet", FERRY_SWITCH_DISTRIBUTED, 300, FALSE);
    assert_mapping(m, FERRY_MAP_CONNECT, "brnet", "vlan300", "row 1");
    assert_rule(m, "network brnet as named");
    /* Absent or inactive: no fallback. */
    decide_fails(map, "nowhere", "ovsnet", FERRY_SWITCH_DISTRIBUTED, 300, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "VLAN 300", "nowhere", "does not exist"));
    decide_fails(map, "brdown", "ovsnet", FERRY_SWITCH_DISTRIBUTED, 300, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "VLAN 300", "brdown", "not active", "virsh net-start brdown"));
}

static void test_fallbacks(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    /* The same name first, even on another kind of switch. */
    g_autoptr(FerryNicMapping) same = decide_ok(map, NULL, "brnet", FERRY_SWITCH_DISTRIBUTED, 300, FALSE);
    assert_mapping(same, FERRY_MAP_CONNECT, "brnet", "vlan300", "network brnet, as on the source");
    /* Then the first active network of the same kind, by name: ovs2 before ovsnet. */
    g_autoptr(FerryNicMapping) dist = decide_ok(map, NULL, "gone", FERRY_SWITCH_DISTRIBUTED, 300, FALSE);
    assert_mapping(dist, FERRY_MAP_CREATE_PORTGROUP, "ovs2", "vlan300", "row 5");
    assert_rule(dist, "first active distributed switch: gone is absent");
    /* An inactive one of the same name does not count; brdown is also skipped as inactive. */
    g_autoptr(FerryNicMapping) std = decide_ok(map, NULL, "brdown", FERRY_SWITCH_STANDARD, 300, FALSE);
    assert_mapping(std, FERRY_MAP_CONNECT, "brnet", "vlan300", "row 1");
    assert_rule(std, "brdown is not active");
    g_autoptr(FerryNicMapping) other = decide_ok(map, NULL, "gone", FERRY_SWITCH_OTHER, -1, FALSE);
    assert_mapping(other, FERRY_MAP_NO_VLAN, "macvtap", NULL, "first active other switch");
}

static void test_no_candidate(void)
{
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    add(map, macvtap_xml, TRUE);
    add(map, brdown_xml, FALSE);
    add(map, ovs_xml, FALSE);
    decide_fails(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 300, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "VLAN 300", "network ovsnet is not active", "no other distributed switch",
                         "brdown (standard, inactive)", "macvtap (other)", "ovsnet (distributed, inactive)"));
    decide_fails(map, NULL, "gone", FERRY_SWITCH_STANDARD, -1, TRUE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "every VLAN", "network gone does not exist"));
    g_autoptr(FerryNetmap) empty = ferry_netmap_new();
    decide_fails(empty, NULL, "gone", FERRY_SWITCH_STANDARD, 5, FALSE, FERRY_ERROR_NETWORK_UNAVAILABLE,
                 NEEDLES(MAC, "VLAN 5", "this host has no networks"));
}

static void test_collision(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    /* ovsnet's vlan500 has VLAN 600. */
    g_autoptr(FerryNicMapping) a = decide_ok(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 500, FALSE);
    assert_mapping(a, FERRY_MAP_CREATE_PORTGROUP, "ovsnet", "vlan500-2", "row 5");
    assert_rule(a, "creates portgroup vlan500-2");
    add(map, "<network><name>c</name><forward mode='bridge'/><bridge name='br5'/>"
             "<portgroup name='vlan500'/><portgroup name='vlan500-2'/><portgroup name='trunk'/>"
             "<metadata><ferry:network xmlns:ferry='" FERRY_NETMAP_NS "'>"
             "<ferry:portgroup name='vlan500' vlan='1'/><ferry:portgroup name='vlan500-2' vlan='2'/>"
             "<ferry:portgroup name='vlan700' vlan='700'/><ferry:portgroup name='vlan800' vlan='9'/>"
             "</ferry:network></metadata></network>", TRUE);
    g_autoptr(FerryNicMapping) b = decide_ok(map, NULL, "c", FERRY_SWITCH_STANDARD, 500, FALSE);
    assert_mapping(b, FERRY_MAP_CREATE_PORTGROUP, "c", "vlan500-3", "row 3");
    /* "trunk" exists without a VLAN: the trunk portgroup becomes trunk-2. */
    g_autoptr(FerryNicMapping) t = decide_ok(map, NULL, "c", FERRY_SWITCH_STANDARD, -1, TRUE);
    assert_mapping(t, FERRY_MAP_CREATE_PORTGROUP, "c", "trunk-2", "row 4");
    /* Declared only, with this VLAN: the name is what it will be once libvirt has it. */
    g_autoptr(FerryNicMapping) d = decide_ok(map, NULL, "c", FERRY_SWITCH_STANDARD, 700, FALSE);
    assert_mapping(d, FERRY_MAP_CREATE_PORTGROUP, "c", "vlan700", "row 3");
    /* Declared only, with another VLAN: taken all the same. */
    g_autoptr(FerryNicMapping) e = decide_ok(map, NULL, "c", FERRY_SWITCH_STANDARD, 800, FALSE);
    assert_mapping(e, FERRY_MAP_CREATE_PORTGROUP, "c", "vlan800-2", "row 3");
}

static void test_bad_input(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    decide_fails(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 4096, FALSE, FERRY_ERROR_INVALID_ARGUMENT,
                 NEEDLES(MAC, "4096"));
    decide_fails(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, -2, FALSE, FERRY_ERROR_INVALID_ARGUMENT,
                 NEEDLES(MAC, "-2"));
    /* A mapping reused after a failure is cleared, not leaked or stale. */
    FerryNicMapping m = { .network = NULL };
    g_assert_true(ferry_netmap_decide(map, NULL, "ovsnet", FERRY_SWITCH_DISTRIBUTED, 300, FALSE, MAC, &m, NULL));
    ferry_nic_mapping_clear(&m);
    g_assert_null(m.network);
    g_assert_cmpint(m.vlan, ==, -1);
}

/* ------------------------------------------------------------------ one NIC (restore and hook) */

static FerryNicMapping *map_nic_ok(const FerryNetmap *map, const FerryNicSource *nic, const char *requested,
                                   gboolean can_create)
{
    FerryNicMapping *m = g_new0(FerryNicMapping, 1);
    g_autoptr(GError) error = NULL;
    gboolean ok = ferry_netmap_map_nic(map, nic, requested, can_create, m, &error);
    g_assert_no_error(error);
    g_assert_true(ok);
    g_assert_nonnull(m->rule);
    return m;
}

static void map_nic_fails(const FerryNetmap *map, const FerryNicSource *nic, const char *requested,
                          gboolean can_create, const char *const *needles)
{
    FerryNicMapping m = { .network = NULL };
    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_netmap_map_nic(map, nic, requested, can_create, &m, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NETWORK_UNAVAILABLE);
    for (const char *const *n = needles; *n; n++)
        if (!strstr(error->message, *n))
            g_error("\"%s\" not in \"%s\"", *n, error->message);
    g_assert_null(m.network);
    g_assert_null(m.rule);
}

/* A Linux-bridge port's VLAN is never in a running domain's XML, so an archive records none for
 * a NIC on a standard switch's portgroup: what that portgroup carries decides, not "no VLAN". */
static void test_map_nic_unsaid_standard(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    FerryNicSource nic = { .mac = MAC, .network = "brnet", .portgroup = "vlan300", .vlan = -1,
                           .kind = FERRY_SWITCH_STANDARD };
    g_autoptr(FerryNicMapping) here = map_nic_ok(map, &nic, NULL, TRUE);
    assert_mapping(here, FERRY_MAP_AS_IS, "brnet", "vlan300", "same VLAN");
    g_assert_false(here->distributed);
    /* Onto a network named for the restore: with the VLAN the portgroup has here. */
    g_autoptr(FerryNicMapping) moved = map_nic_ok(map, &nic, "ovsnet", TRUE);
    assert_mapping(moved, FERRY_MAP_CONNECT, "ovsnet", "blue300", "B2 row 1");
    g_assert_true(moved->distributed);
    /* A portgroup no host shows: no guess. */
    nic.portgroup = "nosuch";
    map_nic_fails(map, &nic, NULL, TRUE, NEEDLES("portgroup nosuch", "create portgroup nosuch on network brnet"));
    /* No portgroup, no VLAN said: the network takes it as it is, its default portgroup included. */
    nic.portgroup = NULL;
    g_autoptr(FerryNicMapping) plain = map_nic_ok(map, &nic, NULL, TRUE);
    assert_mapping(plain, FERRY_MAP_AS_IS, "brnet", NULL, "as it is");
}

/* A running domain's Open vSwitch port shows its VLAN: none shown is none. */
static void test_map_nic_said_none(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    FerryNicSource nic = { .mac = MAC, .network = "ovsnet", .vlan = -1, .kind = FERRY_SWITCH_DISTRIBUTED,
                           .vlan_said = TRUE };
    g_autoptr(FerryNicMapping) said = map_nic_ok(map, &nic, NULL, TRUE);
    assert_mapping(said, FERRY_MAP_NO_VLAN, "ovsnet", NULL, "no VLAN");
    g_assert_true(said->distributed);
    nic.vlan_said = FALSE;
    g_autoptr(FerryNicMapping) unsaid = map_nic_ok(map, &nic, NULL, TRUE);
    assert_mapping(unsaid, FERRY_MAP_AS_IS, "ovsnet", NULL, "as it is");
}

/* What a portgroup carries where the domain can come from: the peers agree, or who says what. */
static void test_map_nic_peers(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    g_autoptr(FerryNetmap) a = ferry_netmap_new();
    add(a, "<network><name>ovsnet</name><bridge name='b'/><virtualport type='openvswitch'/>"
           "<portgroup name='blue'><vlan><tag id='300'/></vlan></portgroup></network>", TRUE);
    g_ptr_array_add(map->peers, ferry_peer_netmap_new("qemu+tcp://a/system", g_steal_pointer(&a)));
    FerryNicSource nic = { .mac = MAC, .network = "ovsnet", .portgroup = "blue", .vlan = -1,
                           .kind = FERRY_SWITCH_DISTRIBUTED, .tags_on_interface = TRUE };
    g_autoptr(FerryNicMapping) known = map_nic_ok(map, &nic, NULL, FALSE);
    assert_mapping(known, FERRY_MAP_CONNECT, "ovsnet", "blue300", "B2 row 1");

    g_autoptr(FerryNetmap) b = ferry_netmap_new();
    add(b, "<network><name>ovsnet</name><bridge name='b'/><virtualport type='openvswitch'/>"
           "<portgroup name='blue'><vlan><tag id='400'/></vlan></portgroup></network>", TRUE);
    g_ptr_array_add(map->peers, ferry_peer_netmap_new("qemu+tcp://b/system", g_steal_pointer(&b)));
    map_nic_fails(map, &nic, NULL, FALSE, NEEDLES("hosts disagree", "VLAN 300 on qemu+tcp://a/system",
                                                  "VLAN 400 on qemu+tcp://b/system"));
}

/* Explicit tags on an Open vSwitch interface go with it; an archive's record of a portgroup's
 * tags does not (the definition may not carry them), nor does "every VLAN". */
static void test_map_nic_own_tags(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    FerryNicSource nic = { .mac = MAC, .network = "ovsnet", .vlan = 300, .trunk = TRUE,
                           .kind = FERRY_SWITCH_DISTRIBUTED, .tags_on_interface = TRUE };
    g_autoptr(FerryNicMapping) kept = map_nic_ok(map, &nic, NULL, FALSE);
    assert_mapping(kept, FERRY_MAP_KEEP_TAGS, "ovsnet", NULL, "explicit VLAN tags");
    g_assert_true(kept->distributed);
    nic.portgroup = "alltags";
    g_autoptr(FerryNicMapping) on_pg = map_nic_ok(map, &nic, NULL, FALSE);
    assert_mapping(on_pg, FERRY_MAP_KEEP_TAGS, "ovsnet", "alltags", "explicit VLAN tags");
    nic.tags_on_interface = FALSE;
    map_nic_fails(map, &nic, NULL, TRUE, NEEDLES("trunk", "ovsnet"));
    nic.tags_on_interface = TRUE;
    nic.vlan = FERRY_VLAN_TRUNK;
    map_nic_fails(map, &nic, NULL, FALSE, NEEDLES("trunk", "ovsnet"));
    /* Named onto another network: B2 alone. */
    nic.vlan = 300;
    map_nic_fails(map, &nic, "ovs2", FALSE, NEEDLES("trunk", "ovs2"));
}

/* Where no portgroup may be created (the hook, a migration's peer). */
static void test_map_nic_no_create(void)
{
    g_autoptr(FerryNetmap) map = host_map();
    FerryNicSource nic = { .mac = MAC, .network = "ovsnet", .vlan = 800, .kind = FERRY_SWITCH_DISTRIBUTED,
                           .tags_on_interface = TRUE };
    g_autoptr(FerryNicMapping) created = map_nic_ok(map, &nic, NULL, TRUE);
    assert_mapping(created, FERRY_MAP_CREATE_PORTGROUP, "ovsnet", "vlan800", "B2 row 5");
    g_autoptr(FerryNicMapping) tagged = map_nic_ok(map, &nic, NULL, FALSE);
    assert_mapping(tagged, FERRY_MAP_VLAN_ON_INTERFACE, "ovsnet", NULL, "goes on the interface");
    g_assert_cmpint(tagged->vlan, ==, 800);
    nic.network = "default";
    nic.kind = FERRY_SWITCH_STANDARD;
    map_nic_fails(map, &nic, NULL, FALSE, NEEDLES("VLAN 800", "B2 row 3", "create portgroup vlan800 on network default"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/netmap/parse/ovs", test_parse_ovs);
    g_test_add_func("/netmap/parse/bridge", test_parse_bridge);
    g_test_add_func("/netmap/parse/4095", test_parse_4095);
    g_test_add_func("/netmap/parse/kinds", test_parse_kinds);
    g_test_add_func("/netmap/parse/replace", test_replace);
    g_test_add_func("/netmap/parse/bad-xml", test_bad_xml);
    g_test_add_func("/netmap/parse/bad-vlans", test_bad_vlans);
    g_test_add_func("/netmap/parse/foreign-metadata", test_foreign_metadata);
    g_test_add_func("/netmap/file/round-trip", test_round_trip);
    g_test_add_func("/netmap/file/load-errors", test_load_errors);
    g_test_add_func("/netmap/create/portgroup-xml", test_portgroup_xml);
    g_test_add_func("/netmap/create/standard-metadata", test_standard_metadata);
    g_test_add_func("/netmap/decide/row1", test_row1);
    g_test_add_func("/netmap/decide/row2", test_row2);
    g_test_add_func("/netmap/decide/row3-4", test_row3_4);
    g_test_add_func("/netmap/decide/row5", test_row5);
    g_test_add_func("/netmap/decide/row6", test_row6);
    g_test_add_func("/netmap/decide/row7", test_row7);
    g_test_add_func("/netmap/decide/trunk", test_trunk);
    g_test_add_func("/netmap/decide/no-vlan", test_no_vlan);
    g_test_add_func("/netmap/decide/other-switch", test_other_switch);
    g_test_add_func("/netmap/decide/requested", test_requested);
    g_test_add_func("/netmap/decide/fallbacks", test_fallbacks);
    g_test_add_func("/netmap/decide/no-candidate", test_no_candidate);
    g_test_add_func("/netmap/decide/collision", test_collision);
    g_test_add_func("/netmap/decide/bad-input", test_bad_input);
    g_test_add_func("/netmap/map-nic/unsaid-standard", test_map_nic_unsaid_standard);
    g_test_add_func("/netmap/map-nic/said-none", test_map_nic_said_none);
    g_test_add_func("/netmap/map-nic/peers", test_map_nic_peers);
    g_test_add_func("/netmap/map-nic/own-tags", test_map_nic_own_tags);
    g_test_add_func("/netmap/map-nic/no-create", test_map_nic_no_create);
    return g_test_run();
}
