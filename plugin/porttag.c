/* Bridge port VLANs over rtnetlink (see porttag.h): the messages `bridge vlan add|del dev
 * PORT vid ...` sends, with no dependency beyond the kernel headers. */
#include "porttag.h"

#include "ferry-error.h"

#include <errno.h>
#include <linux/if_bridge.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define VLAN_FIRST 1
#define VLAN_LAST 4094

gboolean ferry_bridge_filters_vlans(const char *bridge)
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

/* Sends @r and waits for its acknowledgement: 0, or the kernel's errno. */
static int transact(int fd, VlanRequest *r)
{
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
        return errno;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue; /* the request went out once: only the answer is read again */
        if (n < 0)
            return errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r->h.nlmsg_seq || h->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return -e->error;
        }
    }
}

gboolean ferry_port_set_vlan(const char *port, int vlan, gboolean trunk, GError **error)
{
    unsigned int ifindex = if_nametoindex(port);
    if (!ifindex) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND, "no network device %s: %s", port, g_strerror(errno));
        return FALSE;
    }
    if (!trunk && (vlan < VLAN_FIRST || vlan > VLAN_LAST)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "VLAN %d cannot be a port's untagged VLAN (1 to 4094)", vlan);
        return FALSE;
    }
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot open a netlink socket: %s", g_strerror(errno));
        return FALSE;
    }
    struct timeval timeout = { .tv_sec = 1 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    VlanRequest r;
    /* The default VLAN first: a port on it would also be on VLAN 1, untagged. */
    build(&r, (int)ifindex, RTM_DELLINK, VLAN_FIRST, VLAN_FIRST, 0, 1);
    int err = transact(fd, &r);
    if (err == ENOENT)
        err = 0; /* not on VLAN 1: nothing to take away */
    if (!err) {
        if (trunk)
            build(&r, (int)ifindex, RTM_SETLINK, VLAN_FIRST, VLAN_LAST, 0, 2);
        else
            build(&r, (int)ifindex, RTM_SETLINK, (guint16)vlan, (guint16)vlan,
                  BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 2);
        err = transact(fd, &r);
    }
    close(fd);
    if (err) {
        g_autofree char *what = trunk ? g_strdup("every VLAN, tagged") : g_strdup_printf("VLAN %d", vlan);
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "cannot put bridge port %s on %s: %s%s", port, what,
                    g_strerror(err),
                    err == EOPNOTSUPP ? " (this kernel has no bridge VLAN filtering, CONFIG_BRIDGE_VLAN_FILTERING)"
                                      : "");
        return FALSE;
    }
    return TRUE;
}
