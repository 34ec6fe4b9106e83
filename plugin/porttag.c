/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bridge port VLANs over rtnetlink (see porttag.h): the messages `bridge vlan add|del dev
 * PORT vid ...` sends, with no dependency beyond the kernel headers. */
#include "porttag.h"

#include "ferry-error.h"

#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define VLAN_FIRST 1
#define VLAN_LAST 4094

/* Whether @bridge filters VLANs (/sys/class/net/@bridge/bridge/vlan_filtering is 1): on one
 * that does not, a port's VLANs are stored but do not separate anything. */
static gboolean bridge_filters_vlans(const char *bridge)
{
    g_autofree char *path = g_build_filename("/sys/class/net", bridge, "bridge", "vlan_filtering", NULL);
    g_autofree char *value = NULL;
    return g_file_get_contents(path, &value, NULL, NULL) && g_strstrip(value)[0] == '1';
}

typedef struct {
    struct nlmsghdr h;
    struct ifinfomsg ifi;
    char attrs[64];
} VlanRequest;

static struct rtattr *add_attr(VlanRequest *r, unsigned short type, const void *data, unsigned short len)
{
    struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

/* One RTM_SETLINK (add) or RTM_DELLINK (delete) of VLANs @first..@last on the port, as
 * `bridge vlan` does: family AF_BRIDGE, IFLA_AF_SPEC holding IFLA_BRIDGE_VLAN_INFO (two for a
 * range), addressed to the port so the bridge it belongs to applies it. */
static void build(VlanRequest *r, int ifindex, guint16 type, guint16 first, guint16 last, guint16 flags, guint32 seq)
{
    memset(r, 0, sizeof *r);
    r->h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    r->h.nlmsg_type = type;
    r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    r->h.nlmsg_seq = seq;
    r->ifi.ifi_family = AF_BRIDGE;
    r->ifi.ifi_index = ifindex;
    struct rtattr *spec = add_attr(r, IFLA_AF_SPEC, NULL, 0);
    struct bridge_vlan_info info = { .flags = flags, .vid = first };
    if (first != last) {
        info.flags |= BRIDGE_VLAN_INFO_RANGE_BEGIN;
        add_attr(r, IFLA_BRIDGE_VLAN_INFO, &info, sizeof info);
        info.flags = (guint16)((flags & ~BRIDGE_VLAN_INFO_PVID) | BRIDGE_VLAN_INFO_RANGE_END);
        info.vid = last;
    }
    add_attr(r, IFLA_BRIDGE_VLAN_INFO, &info, sizeof info);
    spec->rta_len = (unsigned short)((char *)r + r->h.nlmsg_len - (char *)spec);
}

/* Milliseconds from now to @deadline, at least 0, rounded up. */
static int ms_until(gint64 deadline)
{
    gint64 left = deadline - g_get_monotonic_time();
    return left <= 0 ? 0 : (int)MIN((left + 999) / 1000, G_MAXINT);
}

/* Sends @r and waits for its acknowledgement until @deadline: 0, the kernel's errno, or
 * ETIMEDOUT. The deadline, not a per-call timeout, bounds the wait: answers to other requests
 * (or a peer that keeps talking) cannot stretch it. */
static int transact(int fd, VlanRequest *r, gint64 deadline)
{
    ssize_t sent;
    do
        sent = send(fd, r, r->h.nlmsg_len, MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return errno;
    char buf[4096];
    for (;;) {
        struct pollfd answer = { .fd = fd, .events = POLLIN };
        int ready = poll(&answer, 1, ms_until(deadline));
        if (ready < 0 && errno == EINTR)
            continue; /* the request went out once: only the answer is waited for again */
        if (ready < 0)
            return errno;
        if (ready == 0)
            return ETIMEDOUT;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return errno;
        if (n == 0)
            return ECONNRESET; /* a peer that hung up never answers */
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r->h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR ||
                h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
                continue;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return -e->error;
        }
    }
}

static char *vlan_words(int vlan, gboolean trunk)
{
    return trunk ? g_strdup("every VLAN (trunk)") : g_strdup_printf("VLAN %d", vlan);
}

gboolean ferry_port_set_vlan_on(int fd, const char *port, int ifindex, int vlan, gboolean trunk, gint64 deadline,
                                GError **error)
{
    if (!trunk && (vlan < VLAN_FIRST || vlan > VLAN_LAST)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "VLAN %d cannot be a port's untagged VLAN (1 to 4094)", vlan);
        return FALSE;
    }
    VlanRequest r;
    /* The default VLAN first: a port on it would also be on VLAN 1, untagged. */
    build(&r, ifindex, RTM_DELLINK, VLAN_FIRST, VLAN_FIRST, 0, 1);
    int err = transact(fd, &r, deadline);
    if (err == ENOENT)
        err = 0; /* not on VLAN 1: nothing to take away */
    if (!err) {
        if (trunk)
            build(&r, ifindex, RTM_SETLINK, VLAN_FIRST, VLAN_LAST, 0, 2);
        else
            build(&r, ifindex, RTM_SETLINK, (guint16)vlan, (guint16)vlan,
                  BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 2);
        err = transact(fd, &r, deadline);
    }
    if (!err)
        return TRUE;
    const char *hint = err == EOPNOTSUPP ? " (this kernel has no bridge VLAN filtering, CONFIG_BRIDGE_VLAN_FILTERING)"
                       : err == ETIMEDOUT ? " (the kernel did not answer within virt-ferry's time for tagging)"
                                          : "";
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "bridge port %s: %s%s", port, g_strerror(err), hint);
    return FALSE;
}

/* ferry_port_set_vlan_on over a netlink socket of its own; NotFound when there is no device
 * @port. */
static gboolean port_set_vlan(const char *port, int vlan, gboolean trunk, gint64 deadline, GError **error)
{
    unsigned int ifindex = if_nametoindex(port);
    if (!ifindex) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND, "no network device %s: %s", port, g_strerror(errno));
        return FALSE;
    }
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot open a netlink socket: %s", g_strerror(errno));
        return FALSE;
    }
    gboolean done = ferry_port_set_vlan_on(fd, port, (int)ifindex, vlan, trunk, deadline, error);
    close(fd);
    return done;
}

/* The VLAN a NIC's portgroup has on a standard switch, if any: TRUE with @vlan / @trunk. */
static gboolean declared_vlan(const FerryNetwork *net, const FerryNic *nic, int *vlan, gboolean *trunk)
{
    const FerryPortgroup *pg = ferry_network_find_portgroup(net, nic->portgroup && *nic->portgroup ? nic->portgroup
                                                                                                    : NULL);
    if (!pg || (pg->vlan < 0 && !pg->trunk))
        return FALSE;
    *vlan = pg->vlan;
    *trunk = pg->trunk;
    return TRUE;
}

gboolean ferry_port_tag_nic(const FerryNetwork *net, const FerryNic *nic, const char *domain, gint64 deadline,
                            GError **error)
{
    int vlan = -1;
    gboolean trunk = FALSE;
    if (!net || net->kind != FERRY_SWITCH_STANDARD || !declared_vlan(net, nic, &vlan, &trunk))
        return TRUE; /* no VLAN declared for its portgroup: the bridge's default, as without virt-ferry */
    g_autofree char *words = vlan_words(vlan, trunk);
    if (!nic->target_dev || !net->bridge) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot put NIC %s of domain %s on %s: libvirt names no %s",
                    nic->mac, domain, words, nic->target_dev ? "bridge" : "tap device");
        return FALSE;
    }
    if (!bridge_filters_vlans(net->bridge)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "cannot put NIC %s of domain %s on %s: bridge %s of network %s does not filter VLANs, so the "
                    "guest would reach every VLAN; turn filtering on (ip link set %s type bridge vlan_filtering 1) "
                    "or take the VLAN off portgroup %s",
                    nic->mac, domain, words, net->bridge, net->name, net->bridge, nic->portgroup);
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    if (!port_set_vlan(nic->target_dev, vlan, trunk, deadline, &local)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot put NIC %s of domain %s on %s: %s", nic->mac,
                    domain, words, local->message);
        return FALSE;
    }
    return TRUE;
}
