/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hot-plugged NICs on a standard switch: tagged, or taken away (see nictag.h). */
#include "nictag.h"

#include "domxml.h"
#include "libvirt-error.h"
#include "networks.h"
#include "porttag.h"
#include "worker.h"
#include "xml-read.h"

#include <libvirt/virterror.h>
#include <libxml/tree.h>
#include <string.h>

#include "libvirt-autoptr.h"

struct _FerryNicTagger {
    char *networks_dir;
    FerryWorker *worker;
};

/* The <interface> of the live XML whose <alias name=> is @alias, or NULL. */
static xmlNodePtr interface_by_alias(xmlDocPtr doc, const char *alias)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr devices = root ? root->children : NULL; devices; devices = devices->next) {
        if (devices->type != XML_ELEMENT_NODE || !xmlStrEqual(devices->name, BAD_CAST "devices"))
            continue;
        for (xmlNodePtr nic = devices->children; nic; nic = nic->next) {
            if (nic->type != XML_ELEMENT_NODE || !xmlStrEqual(nic->name, BAD_CAST "interface"))
                continue;
            for (xmlNodePtr c = nic->children; c; c = c->next) {
                if (c->type != XML_ELEMENT_NODE || !xmlStrEqual(c->name, BAD_CAST "alias"))
                    continue;
                xmlChar *name = xmlGetNoNsProp(c, BAD_CAST "name");
                gboolean match = name && g_strcmp0((const char *)name, alias) == 0;
                xmlFree(name);
                if (match)
                    return nic;
            }
        }
    }
    return NULL;
}

static char *child_prop(xmlNodePtr node, const char *child, const char *prop)
{
    for (xmlNodePtr c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST child)) {
            xmlChar *value = xmlGetNoNsProp(c, BAD_CAST prop);
            char *copy = g_strdup((const char *)value);
            xmlFree(value);
            return copy;
        }
    return NULL;
}

/* The NIC's link down, live: QEMU drops its traffic both ways at once, whatever the guest
 * does with the unplug request that follows. */
static gboolean cut_link(virDomainPtr dom, xmlDocPtr doc, xmlNodePtr nic, GError **error)
{
    for (xmlNodePtr c = nic->children, next; c; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "link")) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
    xmlNodePtr link = xmlNewChild(nic, NULL, BAD_CAST "link", NULL);
    xmlNewProp(link, BAD_CAST "state", BAD_CAST "down");
    g_autofree char *xml = ferry_xml_node_string(doc, nic);
    if (virDomainUpdateDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return ferry_error_from_libvirt(error, "cannot take its link down");
    return TRUE;
}

/* Tagging failed (@why): the link cut, then the NIC unplugged. FALSE, always, with @why and
 * what was done. */
static gboolean take_away(virDomainPtr dom, xmlDocPtr doc, xmlNodePtr nic, GError *why, GError **error)
{
    g_autoptr(GError) link_error = NULL, unplug_error = NULL;
    gboolean cut = cut_link(dom, doc, nic, &link_error);
    g_autofree char *xml = ferry_xml_node_string(doc, nic);
    /* libvirt waits a few seconds for the guest to let go; a guest that ignores the request
     * keeps a NIC whose link is down. */
    if (virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
        ferry_error_from_libvirt(&unplug_error, "cannot unplug it");
    virResetLastError();
    if (!unplug_error)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%s; the hot-plugged NIC was unplugged", why->message);
    else if (cut)
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%s; the hot-plugged NIC's link is down, and %s",
                    why->message, unplug_error->message);
    else
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "%s; the hot-plugged NIC could be neither cut off (%s) nor unplugged (%s): unplug it by hand",
                    why->message, link_error->message, unplug_error->message);
    return FALSE;
}

/* Blocking: the device @alias of running domain @dom, if it is a NIC on a standard switch
 * whose portgroup declares a VLAN, put on that VLAN. TRUE when done or when there is nothing
 * to do. When the tagging fails the NIC's link is cut and the NIC unplugged (live), and
 * FALSE says why and what became of the NIC. */
static gboolean tag_hotplugged(virDomainPtr dom, const char *alias, const char *networks_dir, GError **error)
{
    const char *domain = virDomainGetName(dom);
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN || virDomainIsActive(dom) == 0) {
            virResetLastError();
            return TRUE; /* gone or stopped since: its tap went with it */
        }
        return ferry_error_from_libvirt(error, "cannot read domain %s to tag NIC %s", domain, alias);
    }
    g_autoptr(GError) local = NULL;
    xmlDocPtr doc = ferry_xml_read(xml, "the domain XML", "domain.xml", error);
    if (!doc)
        return FALSE;
    gboolean ok = TRUE;
    xmlNodePtr node = interface_by_alias(doc, alias);
    g_autofree char *mac = node ? child_prop(node, "mac", "address") : NULL;
    g_autoptr(FerryDomainXml) dom_xml = mac ? ferry_domxml_parse(xml, &local) : NULL;
    const FerryNic *nic = dom_xml ? ferry_domxml_nic_by_mac(dom_xml, mac) : NULL;
    if (!node) {
        ok = TRUE; /* not a NIC (a disk, a controller), or unplugged again already */
    } else if (!nic) {
        if (!local)
            g_set_error(&local, FERRY_ERROR, FERRY_ERROR_FAILED, "no NIC %s in domain %s", mac ? mac : alias,
                        domain);
        ok = take_away(dom, doc, node, local, error);
    } else {
        /* A running domain's NIC on a bridge network shows as type='bridge', its network in
         * <source network=> still (as the hook sees it at a start). */
        g_autofree char *network = child_prop(node, "source", "network");
        g_autoptr(FerryNetmap) map = network && *network
                                         ? ferry_networks_read_map(virDomainGetConnect(dom), networks_dir, &local)
                                         : NULL;
        gint64 deadline = g_get_monotonic_time() + FERRY_PORT_TAG_BUDGET_MS * G_TIME_SPAN_MILLISECOND;
        if (network && *network &&
            (!map || !ferry_port_tag_nic(ferry_netmap_find(map, network), nic, domain, deadline, &local)))
            ok = take_away(dom, doc, node, local, error);
    }
    xmlFreeDoc(doc);
    return ok;
}

/* ------------------------------------------------------------------ the watch */

typedef struct {
    virDomainPtr dom;
    char *alias;
    char *networks_dir;
} Added;

static void added_free(Added *a)
{
    virDomainFree(a->dom);
    g_free(a->alias);
    g_free(a->networks_dir);
    g_free(a);
}

static void tag_in_worker(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    Added *a = data;
    g_autoptr(GError) error = NULL;
    if (!tag_hotplugged(a->dom, a->alias, a->networks_dir, &error))
        g_warning("%s", error->message);
    virResetLastError();
    g_task_return_boolean(task, TRUE);
}

static void on_device_added(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    FerryNicTagger *tagger = opaque;
    Added *a = g_new0(Added, 1);
    virDomainRef(dom);
    a->dom = dom;
    a->alias = g_strdup(alias);
    a->networks_dir = g_strdup(tagger->networks_dir);
    g_autoptr(GTask) task = g_task_new(NULL, NULL, NULL, NULL);
    g_task_set_task_data(task, a, (GDestroyNotify)added_free);
    ferry_worker_run(tagger->worker, task, tag_in_worker);
}

FerryNicTagger *ferry_nic_tagger_new(const char *networks_dir)
{
    FerryNicTagger *tagger = g_new0(FerryNicTagger, 1);
    tagger->networks_dir = g_strdup(networks_dir);
    tagger->worker = ferry_worker_new();
    return tagger;
}

void ferry_nic_tagger_free(FerryNicTagger *tagger)
{
    if (!tagger)
        return;
    ferry_worker_free(tagger->worker);
    g_free(tagger->networks_dir);
    g_free(tagger);
}

int ferry_nic_tagger_watch(FerryNicTagger *tagger, virConnectPtr conn)
{
    return virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                            VIR_DOMAIN_EVENT_CALLBACK(on_device_added), tagger, NULL);
}
