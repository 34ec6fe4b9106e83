/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* plugin/porttag.c against a fake kernel: the netlink requests go to one end of a socket pair
 * and a thread on the other end answers as the kernel would, or late, or never. The real
 * kernel's tagging is checked in the lab (where a kernel without bridge VLAN filtering
 * refuses it). */
#include "ferry-error.h"
#include "porttag.h"

#include <linux/if_bridge.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef enum {
    PEER_SILENT,     /* reads the requests, never answers */
    PEER_CHATTY,     /* never acknowledges them, but keeps sending acks of other requests */
    PEER_ACK,        /* acknowledges each with 0 */
    PEER_NO_FILTERING, /* answers EOPNOTSUPP, as a kernel without bridge VLAN filtering */
} PeerMode;

typedef struct {
    int fd;
    PeerMode mode;
    volatile gint stop;
    GPtrArray *requests; /* GBytes of each request read */
} Peer;

static void send_ack(int fd, guint32 seq, int error)
{
    struct {
        struct nlmsghdr h;
        struct nlmsgerr e;
    } ack = { 0 };
    ack.h.nlmsg_len = NLMSG_LENGTH(sizeof ack.e);
    ack.h.nlmsg_type = NLMSG_ERROR;
    ack.h.nlmsg_seq = seq;
    ack.e.error = -error;
    g_assert_cmpint(send(fd, &ack, ack.h.nlmsg_len, 0), ==, (ssize_t)ack.h.nlmsg_len);
}

static gpointer run_peer(gpointer data)
{
    Peer *p = data;
    while (!g_atomic_int_get(&p->stop)) {
        if (p->mode == PEER_CHATTY)
            send_ack(p->fd, 999, 0);
        struct pollfd in = { .fd = p->fd, .events = POLLIN };
        if (poll(&in, 1, p->mode == PEER_CHATTY ? 1 : 20) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(p->fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        g_ptr_array_add(p->requests, g_bytes_new(buf, (gsize)n));
        const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
        if (p->mode == PEER_ACK)
            send_ack(p->fd, h->nlmsg_seq, 0);
        else if (p->mode == PEER_NO_FILTERING)
            send_ack(p->fd, h->nlmsg_seq, EOPNOTSUPP);
    }
    return NULL;
}

typedef struct {
    int fd; /* what porttag talks to */
    Peer peer;
    GThread *thread;
} Fixture;

static void start_peer(Fixture *f, PeerMode mode)
{
    int pair[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), ==, 0);
    f->fd = pair[0];
    f->peer.fd = pair[1];
    f->peer.mode = mode;
    f->peer.requests = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    f->thread = g_thread_new("fake-kernel", run_peer, &f->peer);
}

static void teardown(Fixture *f, gconstpointer unused)
{
    g_atomic_int_set(&f->peer.stop, 1);
    g_thread_join(f->thread);
    close(f->fd);
    close(f->peer.fd);
    g_ptr_array_unref(f->peer.requests);
}

/* Tags port vnet7 (index 7) on VLAN 400 with @budget_ms to go; the time it took, in s. */
static double tag(Fixture *f, int budget_ms, gboolean *done, GError **error)
{
    gint64 start = g_get_monotonic_time();
    *done = ferry_port_set_vlan_on(f->fd, "vnet7", 7, 400, FALSE, start + budget_ms * G_TIME_SPAN_MILLISECOND, error);
    return (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

/* A kernel that never answers: the tagging gives up at its deadline, with an error naming
 * the port, instead of waiting for the hook's bound to cut it off. */
static void test_silent_kernel(Fixture *f, gconstpointer unused)
{
    start_peer(f, PEER_SILENT);
    g_autoptr(GError) error = NULL;
    gboolean done;
    double seconds = tag(f, 300, &done, &error);
    g_assert_false(done);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "bridge port vnet7"));
    g_assert_nonnull(strstr(error->message, "did not answer"));
    g_assert_cmpfloat(seconds, >=, 0.29);
    g_assert_cmpfloat(seconds, <, 1.0);
}

/* A peer that keeps sending answers to other requests: each one woke the old per-call
 * receive timeout up again, so it never expired. The deadline holds. */
static void test_chatty_peer(Fixture *f, gconstpointer unused)
{
    start_peer(f, PEER_CHATTY);
    g_autoptr(GError) error = NULL;
    gboolean done;
    double seconds = tag(f, 300, &done, &error);
    g_assert_false(done);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_cmpfloat(seconds, <, 1.0);
}

/* The requests `bridge vlan` would send: VLAN 1 away, then 400 as PVID, untagged. */
static void test_requests(Fixture *f, gconstpointer unused)
{
    start_peer(f, PEER_ACK);
    g_autoptr(GError) error = NULL;
    gboolean done;
    tag(f, 1000, &done, &error);
    g_assert_no_error(error);
    g_assert_true(done);
    g_assert_cmpuint(f->peer.requests->len, ==, 2);
    static const struct {
        guint16 type, vid, flags;
    } expected[] = {
        { RTM_DELLINK, 1, 0 },
        { RTM_SETLINK, 400, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED },
    };
    for (guint i = 0; i < 2; i++) {
        gsize size;
        const char *m = g_bytes_get_data(f->peer.requests->pdata[i], &size);
        const struct nlmsghdr *h = (const struct nlmsghdr *)m;
        g_assert_cmpuint(h->nlmsg_type, ==, expected[i].type);
        g_assert_cmpuint(h->nlmsg_flags & NLM_F_ACK, ==, NLM_F_ACK);
        const struct ifinfomsg *ifi = NLMSG_DATA(h);
        g_assert_cmpint(ifi->ifi_family, ==, AF_BRIDGE);
        g_assert_cmpint(ifi->ifi_index, ==, 7);
        /* IFLA_AF_SPEC { IFLA_BRIDGE_VLAN_INFO } */
        const struct rtattr *spec = (const struct rtattr *)(m + NLMSG_LENGTH(sizeof *ifi));
        g_assert_cmpuint(spec->rta_type, ==, IFLA_AF_SPEC);
        const struct rtattr *info = RTA_DATA(spec);
        g_assert_cmpuint(info->rta_type, ==, IFLA_BRIDGE_VLAN_INFO);
        const struct bridge_vlan_info *vi = RTA_DATA(info);
        g_assert_cmpuint(vi->vid, ==, expected[i].vid);
        g_assert_cmpuint(vi->flags, ==, expected[i].flags);
    }
}

static void test_no_vlan_filtering(Fixture *f, gconstpointer unused)
{
    start_peer(f, PEER_NO_FILTERING);
    g_autoptr(GError) error = NULL;
    gboolean done;
    tag(f, 1000, &done, &error);
    g_assert_false(done);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "CONFIG_BRIDGE_VLAN_FILTERING"));
}

/* The hook's bound (2 s, virt-ferry-hook.c) must leave room around the tagging's budget:
 * reading the XML, loading the module and the map come on top. */
static void test_budget_inside_bound(void)
{
    g_assert_cmpint(FERRY_PORT_TAG_BUDGET_MS, <=, 2000 / 2);
}

/* The decision for one NIC, without a kernel: what may not run untagged is refused. */
static void test_tag_nic(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(FerryNetmap) map = ferry_netmap_new();
    ferry_netmap_add_network_xml(
        map,
        "<network><name>brnet</name><forward mode='bridge'/><bridge name='virt-ferry-no-such-br'/>"
        "<portgroup name='vlan400'/><portgroup name='plain'/>"
        "<metadata><ferry:network xmlns:ferry='" FERRY_NETMAP_NS "'><ferry:portgroup name='vlan400' vlan='400'/>"
        "</ferry:network></metadata></network>",
        TRUE, &error);
    g_assert_no_error(error);
    const FerryNetwork *net = ferry_netmap_find(map, "brnet");
    g_assert_nonnull(net);
    FerryNic nic = { .mac = "52:54:00:aa:00:01", .network = "brnet", .portgroup = "vlan400", .target_dev = "vnet7" };
    gint64 deadline = g_get_monotonic_time() + G_TIME_SPAN_SECOND;
    g_assert_false(ferry_port_tag_nic(net, &nic, "w1", deadline, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
    g_assert_nonnull(strstr(error->message, "cannot put NIC 52:54:00:aa:00:01 of domain w1 on VLAN 400"));
    g_assert_nonnull(strstr(error->message, "does not filter VLANs"));
    g_clear_error(&error);
    nic.target_dev = NULL;
    g_assert_false(ferry_port_tag_nic(net, &nic, "w1", deadline, &error));
    g_assert_nonnull(strstr(error->message, "libvirt names no tap device"));
    g_clear_error(&error);
    /* No VLAN declared, or not on a standard switch: nothing to do. */
    nic.portgroup = "plain";
    g_assert_true(ferry_port_tag_nic(net, &nic, "w1", deadline, &error));
    g_assert_true(ferry_port_tag_nic(NULL, &nic, "w1", deadline, &error));
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, test) g_test_add(path, Fixture, NULL, NULL, test, teardown)
    ADD("/porttag/netlink/silent-kernel", test_silent_kernel);
    ADD("/porttag/netlink/chatty-peer", test_chatty_peer);
    ADD("/porttag/netlink/requests", test_requests);
    ADD("/porttag/netlink/no-vlan-filtering", test_no_vlan_filtering);
#undef ADD
    g_test_add_func("/porttag/budget-inside-bound", test_budget_inside_bound);
    g_test_add_func("/porttag/tag-nic", test_tag_nic);
    return g_test_run();
}
