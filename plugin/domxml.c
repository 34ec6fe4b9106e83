/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "domxml.h"

#include "ferry-error.h"
#include "xml-read.h"
#include "names.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <string.h>

/* What the readers hand out, built from the document on demand. */
typedef struct {
    char *name, *uuid, *type;
    guint64 memory_kib;
    guint vcpus;
    char *cpu_mode, *cpu_model, *nvram;
    gboolean tpm_emulator;
    GPtrArray *disks;
    GPtrArray *nics;
} View;

struct _FerryDomainXml {
    xmlDocPtr doc;
    xmlNodePtr root;
    View *view;           /* NULL after a rewrite, until a reader asks */
    GPtrArray *old_views; /* views from before rewrites: their pointers must stay valid */
};

static void disk_free(gpointer p)
{
    FerryDisk *disk = p;
    g_free(disk->target);
    g_free(disk->device);
    g_free(disk->type);
    g_free(disk->source);
    g_free(disk->format);
    g_free(disk->backing);
    g_free(disk);
}

static void nic_free(gpointer p)
{
    FerryNic *nic = p;
    g_free(nic->mac);
    g_free(nic->type);
    g_free(nic->network);
    g_free(nic->portgroup);
    g_free(nic->bridge);
    g_free(nic->source_dev);
    g_free(nic->vport_type);
    g_free(nic->target_dev);
    g_free(nic->model);
    g_free(nic);
}

static void view_free(gpointer p)
{
    View *v = p;
    if (!v)
        return;
    g_free(v->name);
    g_free(v->uuid);
    g_free(v->type);
    g_free(v->cpu_mode);
    g_free(v->cpu_model);
    g_free(v->nvram);
    g_ptr_array_unref(v->disks);
    g_ptr_array_unref(v->nics);
    g_free(v);
}

/* ------------------------------------------------------------------ tree helpers */

/* Domain XML elements have no namespace; those with one belong to others (<qemu:...>,
 * metadata) and never match. */
static gboolean is_elem(xmlNodePtr node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && !node->ns &&
           g_str_equal((const char *)node->name, name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (is_elem(c, name))
            return c;
    return NULL;
}

static char *prop(xmlNodePtr node, const char *name)
{
    if (!node)
        return NULL;
    xmlChar *value = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *copy = value ? g_strdup((const char *)value) : NULL;
    xmlFree(value);
    return copy;
}

static gboolean prop_is(xmlNodePtr node, const char *name, const char *expected)
{
    g_autofree char *value = prop(node, name);
    return g_strcmp0(value, expected) == 0;
}

/* The element's text, trimmed; NULL when absent or blank. */
static char *text(xmlNodePtr node)
{
    if (!node)
        return NULL;
    xmlChar *content = xmlNodeGetContent(node);
    char *copy = g_strstrip(g_strdup(content ? (const char *)content : ""));
    xmlFree(content);
    if (!*copy)
        g_clear_pointer(&copy, g_free);
    return copy;
}

static void remove_node(xmlNodePtr node)
{
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}

static void remove_children(xmlNodePtr parent, const char *name)
{
    xmlNodePtr next;
    for (xmlNodePtr c = parent->children; c; c = next) {
        next = c->next;
        if (is_elem(c, name))
            remove_node(c);
    }
}

/* Replaces the element's content with @value as plain text: xmlNodeSetContent would
 * read '&' in it as the start of an entity reference. */
static void set_text(xmlNodePtr node, const char *value)
{
    xmlNodeSetContent(node, NULL);
    xmlNodeAddContent(node, (const xmlChar *)value);
}

static void set_prop(xmlNodePtr node, const char *name, const char *value)
{
    xmlSetProp(node, (const xmlChar *)name, (const xmlChar *)value);
}

static void unset_prop(xmlNodePtr node, const char *name)
{
    if (node)
        xmlUnsetProp(node, (const xmlChar *)name);
}

static xmlNodePtr new_elem(xmlDocPtr doc, const char *name)
{
    return xmlNewDocNode(doc, NULL, (const xmlChar *)name, NULL);
}

/* Puts @node after @parent's first <@after> child, or last when there is none. */
static void insert_after(xmlNodePtr parent, const char *after, xmlNodePtr node)
{
    xmlNodePtr anchor = child(parent, after);
    if (anchor)
        xmlAddNextSibling(anchor, node);
    else
        xmlAddChild(parent, node);
}

static xmlNodePtr devices(FerryDomainXml *d)
{
    return child(d->root, "devices");
}

static void changed(FerryDomainXml *d)
{
    if (d->view)
        g_ptr_array_add(d->old_views, g_steal_pointer(&d->view));
}

/* ------------------------------------------------------------------ reading */

/* libvirt's scaled integers (virScaleInteger): b/bytes, then k m g t p e with no suffix
 * or "iB" in powers of 1024, with "B" in powers of 1000; KiB when no unit is given. */
static gboolean unit_scale(const char *unit, guint64 *scale)
{
    if (!unit || !*unit) {
        *scale = 1024;
        return TRUE;
    }
    if (!g_ascii_strcasecmp(unit, "b") || !g_ascii_strcasecmp(unit, "bytes")) {
        *scale = 1;
        return TRUE;
    }
    const char *powers = "kmgtpe";
    const char *p = strchr(powers, g_ascii_tolower(unit[0]));
    if (!p)
        return FALSE;
    guint64 base;
    if (!unit[1] || !g_ascii_strcasecmp(unit + 1, "ib"))
        base = 1024;
    else if (!g_ascii_strcasecmp(unit + 1, "b"))
        base = 1000;
    else
        return FALSE;
    *scale = 1;
    for (const char *q = powers; q <= p; q++)
        *scale *= base;
    return TRUE;
}

static guint64 read_kib(xmlNodePtr node)
{
    g_autofree char *value = text(node);
    g_autofree char *unit = prop(node, "unit");
    guint64 n, scale;
    if (!value || !g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &n, NULL) ||
        !unit_scale(unit, &scale) || (scale > 1 && n > G_MAXUINT64 / scale))
        return 0;
    guint64 bytes = n * scale;
    return bytes / 1024 + (bytes % 1024 != 0);
}

static guint read_uint(const char *value, guint fallback)
{
    guint64 n;
    if (!value || !g_ascii_string_to_unsigned(value, 10, 1, G_MAXUINT, &n, NULL))
        return fallback;
    return (guint)n;
}

/* A PCI address element as 0000:01:00.0. */
char *ferry_domxml_pci_address(xmlNodePtr addr)
{
    const char *names[] = { "domain", "bus", "slot", "function" };
    guint64 v[4];
    for (int i = 0; i < 4; i++) {
        g_autofree char *s = prop(addr, names[i]);
        v[i] = s ? g_ascii_strtoull(s, NULL, 0) : 0;
    }
    if (!addr)
        return g_strdup("(no address)");
    return g_strdup_printf("%04x:%02x:%02x.%x", (guint)v[0], (guint)v[1], (guint)v[2], (guint)v[3]);
}

/* What a disk or backing store <source> points at, by its type (see FerryDisk.source). */
static char *describe_source(const char *type, xmlNodePtr src)
{
    if (!src)
        return NULL;
    if (!type || g_str_equal(type, "file"))
        return prop(src, "file");
    if (g_str_equal(type, "block"))
        return prop(src, "dev");
    if (g_str_equal(type, "dir"))
        return prop(src, "dir");
    if (g_str_equal(type, "volume")) {
        g_autofree char *pool = prop(src, "pool");
        g_autofree char *volume = prop(src, "volume");
        return pool && volume ? g_strdup_printf("%s/%s", pool, volume) : NULL;
    }
    if (g_str_equal(type, "network")) {
        g_autofree char *protocol = prop(src, "protocol");
        g_autofree char *name = prop(src, "name");
        if (!name)
            name = prop(child(src, "host"), "name");
        return g_strdup_printf("%s:%s", protocol ? protocol : "network", name ? name : "");
    }
    if (g_str_equal(type, "nvme"))
        return ferry_domxml_pci_address(child(src, "address"));
    if (g_str_equal(type, "vhostuser"))
        return prop(src, "path");
    char *any = prop(src, "file");
    return any ? any : prop(src, "dev");
}

static FerryDisk *read_disk(xmlNodePtr node)
{
    FerryDisk *disk = g_new0(FerryDisk, 1);
    disk->type = prop(node, "type");
    if (!disk->type)
        disk->type = g_strdup("file");
    disk->device = prop(node, "device");
    if (!disk->device)
        disk->device = g_strdup("disk");
    disk->target = prop(child(node, "target"), "dev");
    disk->format = prop(child(node, "driver"), "type");
    disk->source = describe_source(disk->type, child(node, "source"));
    disk->readonly = child(node, "readonly") != NULL;
    disk->shareable = child(node, "shareable") != NULL;
    /* An empty <backingStore/> says "no backing file"; one with a source is a chain. */
    xmlNodePtr backing = child(node, "backingStore");
    if (backing && child(backing, "source")) {
        g_autofree char *type = prop(backing, "type");
        disk->backing = describe_source(type, child(backing, "source"));
        if (!disk->backing)
            disk->backing = g_strdup("(unnamed backing store)");
    }
    return disk;
}

static FerryNic *read_nic(xmlNodePtr node)
{
    FerryNic *nic = g_new0(FerryNic, 1);
    nic->mac = prop(child(node, "mac"), "address");
    nic->type = prop(node, "type");
    xmlNodePtr src = child(node, "source");
    if (g_strcmp0(nic->type, "network") == 0)
        nic->network = prop(src, "network");
    if (g_strcmp0(nic->type, "direct") == 0)
        nic->source_dev = prop(src, "dev");
    nic->portgroup = prop(src, "portgroup");
    nic->bridge = prop(src, "bridge");
    nic->vlan = -1;
    xmlNodePtr vlan = child(node, "vlan");
    if (vlan) {
        guint tags = 0;
        for (xmlNodePtr tag = vlan->children; tag; tag = tag->next) {
            if (!is_elem(tag, "tag"))
                continue;
            g_autofree char *id = prop(tag, "id");
            guint64 n;
            if (tags++ == 0 && id && g_ascii_string_to_unsigned(id, 10, 0, 4095, &n, NULL))
                nic->vlan = (int)n;
        }
        nic->vlan_trunk = prop_is(vlan, "trunk", "yes") || tags > 1;
    }
    nic->vport_type = prop(child(node, "virtualport"), "type");
    nic->target_dev = prop(child(node, "target"), "dev");
    nic->model = prop(child(node, "model"), "type");
    return nic;
}

static void read_os(View *v, xmlNodePtr os)
{
    xmlNodePtr nvram = child(os, "nvram");
    v->nvram = text(nvram);
    if (!v->nvram) /* libvirt >= 8.5 can write <nvram type='file'><source file=/></nvram> */
        v->nvram = prop(child(nvram, "source"), "file");
}

static void read_cpu(View *v, xmlNodePtr cpu)
{
    if (!cpu)
        return;
    v->cpu_model = text(child(cpu, "model"));
    v->cpu_mode = prop(cpu, "mode");
    if (!v->cpu_mode && v->cpu_model)
        v->cpu_mode = g_strdup("custom");
}

static void read_devices(View *v, xmlNodePtr devs)
{
    for (xmlNodePtr c = devs ? devs->children : NULL; c; c = c->next) {
        if (is_elem(c, "disk"))
            g_ptr_array_add(v->disks, read_disk(c));
        else if (is_elem(c, "interface"))
            g_ptr_array_add(v->nics, read_nic(c));
        else if (is_elem(c, "tpm") && prop_is(child(c, "backend"), "type", "emulator"))
            v->tpm_emulator = TRUE;
    }
}

static View *view(FerryDomainXml *d)
{
    if (d->view)
        return d->view;
    View *v = g_new0(View, 1);
    v->disks = g_ptr_array_new_with_free_func(disk_free);
    v->nics = g_ptr_array_new_with_free_func(nic_free);
    v->name = text(child(d->root, "name"));
    v->uuid = text(child(d->root, "uuid"));
    v->type = prop(d->root, "type");
    v->memory_kib = read_kib(child(d->root, "memory"));
    xmlNodePtr vcpu = child(d->root, "vcpu");
    g_autofree char *vcpus = text(vcpu);
    v->vcpus = read_uint(vcpus, 1);
    read_os(v, child(d->root, "os"));
    read_cpu(v, child(d->root, "cpu"));
    read_devices(v, devices(d));
    return d->view = v;
}

const char *ferry_domxml_name(FerryDomainXml *d) { return view(d)->name; }
const char *ferry_domxml_uuid(FerryDomainXml *d) { return view(d)->uuid; }
const char *ferry_domxml_type(FerryDomainXml *d) { return view(d)->type; }
guint64 ferry_domxml_memory_kib(FerryDomainXml *d) { return view(d)->memory_kib; }
guint ferry_domxml_vcpus(FerryDomainXml *d) { return view(d)->vcpus; }
const char *ferry_domxml_cpu_mode(FerryDomainXml *d) { return view(d)->cpu_mode; }
const char *ferry_domxml_cpu_model(FerryDomainXml *d) { return view(d)->cpu_model; }
GPtrArray *ferry_domxml_disks(FerryDomainXml *d) { return view(d)->disks; }
GPtrArray *ferry_domxml_nics(FerryDomainXml *d) { return view(d)->nics; }
const char *ferry_domxml_nvram(FerryDomainXml *d) { return view(d)->nvram; }
gboolean ferry_domxml_has_tpm_emulator(FerryDomainXml *d) { return view(d)->tpm_emulator; }

/* ------------------------------------------------------------------ parsing */



FerryDomainXml *ferry_domxml_parse(const char *xml, GError **error)
{
    if (!xml || !*xml) {
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the domain XML is empty");
        return NULL;
    }
    xmlDocPtr doc = ferry_xml_read(xml, "the domain XML", "domain.xml", error);
    if (!doc)
        return NULL;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!is_elem(root, "domain")) {
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the XML is a <%s> document, not a libvirt <domain>",
                root ? (const char *)root->name : "(empty)");
        xmlFreeDoc(doc);
        return NULL;
    }
    g_autofree char *name = text(child(root, "name"));
    if (!name) {
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the domain XML has no <name>");
        xmlFreeDoc(doc);
        return NULL;
    }
    FerryDomainXml *d = g_new0(FerryDomainXml, 1);
    d->doc = doc;
    d->root = root;
    d->old_views = g_ptr_array_new_with_free_func(view_free);
    return d;
}

const FerryNic *ferry_domxml_nic_by_mac(FerryDomainXml *d, const char *mac)
{
    GPtrArray *nics = ferry_domxml_nics(d);
    for (guint i = 0; mac && i < nics->len; i++) {
        const FerryNic *n = g_ptr_array_index(nics, i);
        if (n->mac && g_ascii_strcasecmp(n->mac, mac) == 0)
            return n;
    }
    return NULL;
}

void ferry_domxml_free(FerryDomainXml *d)
{
    if (!d)
        return;
    view_free(d->view);
    g_ptr_array_unref(d->old_views);
    xmlFreeDoc(d->doc);
    g_free(d);
}

char *ferry_domxml_format(FerryDomainXml *d)
{
    xmlBufferPtr buf = xmlBufferCreate();
    /* UTF-8 keeps non-ASCII names as they are rather than as character references. */
    xmlSaveCtxtPtr save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
    xmlSaveDoc(save, d->doc);
    xmlSaveClose(save);
    char *xml = g_strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return xml;
}

/* ------------------------------------------------------------------ archivability */

static const char *or_unnamed(const char *target)
{
    return target ? target : "(no target)";
}

/* USB by vendor:product or bus/device, PCI by address, and so on. */
char *ferry_domxml_describe_hostdev(xmlNodePtr hostdev)
{
    g_autofree char *type = prop(hostdev, "type");
    xmlNodePtr src = child(hostdev, "source");
    xmlNodePtr addr = child(src, "address");
    if (g_strcmp0(type, "usb") == 0) {
        g_autofree char *vendor = prop(child(src, "vendor"), "id");
        g_autofree char *product = prop(child(src, "product"), "id");
        if (vendor && product)
            return g_strdup_printf("USB host device %04x:%04x", (guint)g_ascii_strtoull(vendor, NULL, 0),
                                   (guint)g_ascii_strtoull(product, NULL, 0));
        g_autofree char *bus = prop(addr, "bus");
        g_autofree char *device = prop(addr, "device");
        return g_strdup_printf("USB host device at bus %s device %s", bus ? bus : "?",
                               device ? device : "?");
    }
    if (g_strcmp0(type, "pci") == 0) {
        g_autofree char *where = ferry_domxml_pci_address(addr);
        return g_strdup_printf("PCI host device %s", where);
    }
    if (g_strcmp0(type, "scsi") == 0) {
        g_autofree char *adapter = prop(child(src, "adapter"), "name");
        g_autofree char *bus = prop(addr, "bus");
        g_autofree char *target = prop(addr, "target");
        g_autofree char *unit = prop(addr, "unit");
        return g_strdup_printf("SCSI host device %s %s:%s:%s", adapter ? adapter : "?",
                               bus ? bus : "?", target ? target : "?", unit ? unit : "?");
    }
    if (g_strcmp0(type, "mdev") == 0) {
        g_autofree char *uuid = prop(addr, "uuid");
        return g_strdup_printf("mediated host device %s", uuid ? uuid : "?");
    }
    return g_strdup_printf("host device of type '%s'", type ? type : "?");
}

/* @arg as a shell word for the commands we suggest: as it is when nothing in it needs
 * quoting, which is the usual case and reads better. */
static char *shell_word(const char *arg)
{
    gboolean plain = *arg != '\0';
    for (const char *p = arg; *p && plain; p++)
        plain = g_ascii_isalnum(*p) || strchr("_.,:/@%+=-", *p);
    return plain ? g_strdup(arg) : g_shell_quote(arg);
}

typedef struct {
    const char *name;   /* the domain */
    char *quoted;       /* the domain, quoted for a shell command */
    GPtrArray *problems;
    GPtrArray *notes;
} Check;

static void problem(Check *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void problem(Check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(c->problems, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void detach_disk(Check *c, const FerryDisk *disk, const char *what)
{
    problem(c, "Disk %s is %s (%s), which the archive cannot copy: detach it with "
               "`virsh detach-disk %s %s --live --config` and try again.",
            or_unnamed(disk->target), what, disk->source ? disk->source : "no source",
            c->quoted, or_unnamed(disk->target));
}

static void check_disk(Check *c, const FerryDisk *disk)
{
    const char *t = or_unnamed(disk->target);
    if (g_str_equal(disk->device, "lun")) {
        detach_disk(c, disk, "a SCSI LUN of the host passed through (device='lun')");
        return;
    }
    if (g_str_equal(disk->device, "cdrom")) {
        /* The media stays on this host; the drive itself is archived, empty. */
        if (disk->source)
            g_ptr_array_add(c->notes, g_strdup_printf("cdrom %s: media %s is not archived; the "
                                                      "restored domain's drive is empty",
                                                      t, disk->source));
        return;
    }
    if (g_str_equal(disk->device, "floppy") && disk->source) {
        problem(c, "Floppy %s holds media (%s), which the archive does not keep: eject it with "
                   "`virsh change-media %s %s --eject --live --config` and try again.",
                t, disk->source, c->quoted, t);
        return;
    }
    if (g_str_equal(disk->type, "block"))
        detach_disk(c, disk, "a host block device");
    else if (g_str_equal(disk->type, "network"))
        detach_disk(c, disk, "on network storage");
    else if (g_str_equal(disk->type, "dir"))
        detach_disk(c, disk, "a host directory shown to the guest as a disk");
    else if (g_str_equal(disk->type, "nvme"))
        detach_disk(c, disk, "a host NVMe device passed through");
    else if (g_str_equal(disk->type, "vhostuser"))
        detach_disk(c, disk, "served by another process over vhost-user");
    else if (!g_str_equal(disk->type, "file") && !g_str_equal(disk->type, "volume"))
        detach_disk(c, disk, "of a source type virt-ferry cannot archive");
    else if (disk->backing)
        problem(c, "Disk %s (%s) is built on the backing file %s, and the archive does not copy "
                   "backing chains yet: flatten it with `virsh blockpull %s %s --wait` (running "
                   "domain) or `qemu-img convert` (shut off) and try again.",
                t, disk->source ? disk->source : "no source", disk->backing, c->quoted, t);
    else if (disk->shareable && !disk->readonly)
        problem(c, "Disk %s (%s) is shareable and writable: another domain may write it while it "
                   "is copied, so the copy would not be consistent. Detach it with `virsh "
                   "detach-disk %s %s --live --config`, or make it read-only, and try again.",
                t, disk->source ? disk->source : "no source", c->quoted, t);
}

static void check_device(Check *c, xmlNodePtr dev)
{
    if (is_elem(dev, "hostdev")) {
        g_autofree char *what = ferry_domxml_describe_hostdev(dev);
        problem(c, "The %s is passed through, and the state of a host device cannot be saved: "
                   "detach it with `virsh detach-device %s FILE --live --config` (FILE holding "
                   "its <hostdev> element) and try again.",
                what, c->quoted);
    } else if (is_elem(dev, "interface") && prop_is(dev, "type", "hostdev")) {
        g_autofree char *mac = prop(child(dev, "mac"), "address");
        g_autofree char *where = ferry_domxml_pci_address(child(child(dev, "source"), "address"));
        problem(c, "Network interface %s is the host PCI device %s passed through, whose state "
                   "cannot be saved: detach it with `virsh detach-interface %s hostdev --mac %s "
                   "--live --config` and try again.",
                mac ? mac : "?", where, c->quoted, mac ? mac : "MAC");
    } else if (is_elem(dev, "tpm") && prop_is(child(dev, "backend"), "type", "passthrough")) {
        g_autofree char *path = prop(child(child(dev, "backend"), "device"), "path");
        problem(c, "The host's TPM %s is passed through, and its state cannot be saved: remove "
                   "the <tpm> element (`virsh edit %s`), restart the domain and try again.",
                path ? path : "(default device)", c->quoted);
    } else if (is_elem(dev, "filesystem") && prop_is(child(dev, "driver"), "type", "virtiofs")) {
        g_autofree char *dir = prop(child(dev, "source"), "dir");
        g_autofree char *target = prop(child(dev, "target"), "dir");
        problem(c, "The host directory %s is shared with the guest over virtiofs (mount tag %s), "
                   "which QEMU cannot save: remove the <filesystem> element (`virsh edit %s`), "
                   "restart the domain and try again.",
                dir ? dir : "?", target ? target : "?", c->quoted);
    }
}

gboolean ferry_domxml_check_archivable(FerryDomainXml *d, GPtrArray *notes, GError **error)
{
    Check c = { .name = ferry_domxml_name(d) };
    c.quoted = shell_word(c.name);
    c.problems = g_ptr_array_new_with_free_func(g_free);
    c.notes = g_ptr_array_new_with_free_func(g_free);

    for (xmlNodePtr dev = devices(d) ? devices(d)->children : NULL; dev; dev = dev->next)
        check_device(&c, dev);
    GPtrArray *disks = ferry_domxml_disks(d);
    for (guint i = 0; i < disks->len; i++)
        check_disk(&c, disks->pdata[i]);

    gboolean ok = c.problems->len == 0;
    if (!ok) {
        g_ptr_array_add(c.problems, NULL);
        g_autofree char *all = g_strjoinv(" ", (char **)c.problems->pdata);
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "Domain '%s' cannot be archived. %s", c.name, all);
    } else if (notes) {
        for (guint i = 0; i < c.notes->len; i++)
            g_ptr_array_add(notes, g_strdup(c.notes->pdata[i]));
    }
    g_free(c.quoted);
    g_ptr_array_unref(c.problems);
    g_ptr_array_unref(c.notes);
    return ok;
}

/* ------------------------------------------------------------------ rewriting */

/* Names and paths we write: non-empty UTF-8 without control characters. */
static gboolean check_text(const char *value, const char *what, GError **error)
{
    if (!value || !*value)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "%s is empty", what);
    if (!g_utf8_validate(value, -1, NULL))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "%s is not valid UTF-8", what);
    for (const char *p = value; *p; p = g_utf8_next_char(p))
        if (g_unichar_iscntrl(g_utf8_get_char(p))) {
            g_autofree char *shown = g_strescape(value, NULL);
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "%s \"%s\" holds a control character", what, shown);
        }
    return TRUE;
}

/* The root's <@name> element, created after <@after> when missing. */
static xmlNodePtr root_elem(FerryDomainXml *d, const char *name, const char *after)
{
    xmlNodePtr node = child(d->root, name);
    if (node)
        return node;
    node = new_elem(d->doc, name);
    xmlNodePtr anchor = child(d->root, after);
    if (anchor)
        xmlAddNextSibling(anchor, node);
    else if (d->root->children)
        xmlAddPrevSibling(d->root->children, node);
    else
        xmlAddChild(d->root, node);
    return node;
}

gboolean ferry_domxml_set_name(FerryDomainXml *d, const char *name, GError **error)
{
    if (!ferry_check_domain_name(name, "the new domain name", error))
        return FALSE;
    set_text(root_elem(d, "name", NULL), name);
    changed(d);
    return TRUE;
}

static gboolean is_uuid(const char *s)
{
    gsize len = strlen(s);
    if (len != 32 && len != 36)
        return FALSE;
    for (gsize i = 0; i < len; i++) {
        gboolean dash_here = len == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash_here ? s[i] != '-' : !g_ascii_isxdigit(s[i]))
            return FALSE;
    }
    return TRUE;
}

gboolean ferry_domxml_set_uuid(FerryDomainXml *d, const char *uuid, GError **error)
{
    if (!uuid || !is_uuid(uuid)) {
        g_autofree char *shown = g_strescape(uuid ? uuid : "", NULL);
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "\"%s\" is not a UUID: give 32 hex digits, as in "
                              "3f2a8c9e-5b1d-4e6f-9a7b-2c4d6e8f0a1b", shown);
    }
    set_text(root_elem(d, "uuid", "name"), uuid);
    changed(d);
    return TRUE;
}

static xmlNodePtr find_disk(FerryDomainXml *d, const char *target, GError **error)
{
    for (xmlNodePtr c = devices(d) ? devices(d)->children : NULL; c; c = c->next)
        if (is_elem(c, "disk") && target && prop_is(child(c, "target"), "dev", target))
            return c;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND, "domain '%s' has no disk with target '%s'",
                ferry_domxml_name(d), target ? target : "(none)");
    return NULL;
}

/* Children of a disk <source> that describe the image's contents, not where it is. */
static gboolean keeps_with_image(xmlNodePtr node)
{
    return is_elem(node, "seclabel") || is_elem(node, "encryption") || is_elem(node, "slices");
}

gboolean ferry_domxml_set_disk_source(FerryDomainXml *d, const char *target, const char *path,
                                      GError **error)
{
    if (!check_text(path, "the disk source path", error))
        return FALSE;
    if (!g_path_is_absolute(path))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the disk source path \"%s\" is not absolute", path);
    xmlNodePtr disk = find_disk(d, target, error);
    if (!disk)
        return FALSE;

    xmlNodePtr src = new_elem(d->doc, "source");
    set_prop(src, "file", path);
    xmlNodePtr old = child(disk, "source");
    if (old) {
        g_autofree char *policy = prop(old, "startupPolicy");
        if (policy)
            set_prop(src, "startupPolicy", policy);
        xmlNodePtr next;
        for (xmlNodePtr c = old->children; c; c = next) {
            next = c->next;
            if (keeps_with_image(c)) {
                xmlUnlinkNode(c);
                xmlAddChild(src, c);
            }
        }
        xmlReplaceNode(old, src);
        xmlFreeNode(old);
    } else {
        insert_after(disk, "driver", src);
    }
    set_prop(disk, "type", "file");
    remove_children(disk, "backingStore");
    remove_children(disk, "mirror");
    changed(d);
    return TRUE;
}

gboolean ferry_domxml_set_disk_format(FerryDomainXml *d, const char *target, const char *format, GError **error)
{
    if (!check_text(format, "the disk format", error))
        return FALSE;
    xmlNodePtr disk = find_disk(d, target, error);
    if (!disk)
        return FALSE;
    xmlNodePtr driver = child(disk, "driver");
    if (!driver) {
        driver = new_elem(d->doc, "driver");
        set_prop(driver, "name", "qemu");
        xmlNodePtr first = disk->children;
        if (first)
            xmlAddPrevSibling(first, driver);
        else
            xmlAddChild(disk, driver);
    }
    set_prop(driver, "type", format);
    changed(d);
    return TRUE;
}

static gboolean is_abs_path(const char *path)
{
    return check_text(path, "the path", NULL) && g_path_is_absolute(path);
}

void ferry_domxml_set_nvram(FerryDomainXml *d, const char *path)
{
    if (!is_abs_path(path))
        return;
    xmlNodePtr os = child(d->root, "os");
    if (!os)
        return; /* libvirt always writes <os>; without it there is no firmware to point */
    xmlNodePtr nvram = child(os, "nvram");
    if (!nvram) {
        nvram = new_elem(d->doc, "nvram");
        insert_after(os, "loader", nvram);
    }
    xmlNodePtr src = child(nvram, "source");
    if (src)
        set_prop(src, "file", path);
    else
        set_text(nvram, path);
    changed(d);
}

void ferry_domxml_eject_removable(FerryDomainXml *d)
{
    for (xmlNodePtr c = devices(d) ? devices(d)->children : NULL; c; c = c->next) {
        if (!is_elem(c, "disk") || !(prop_is(c, "device", "cdrom") || prop_is(c, "device", "floppy")))
            continue;
        remove_children(c, "source");
        remove_children(c, "backingStore");
        remove_children(c, "mirror");
        set_prop(c, "type", "file");
    }
    changed(d);
}

void ferry_domxml_forget_nic_macs(FerryDomainXml *d)
{
    for (xmlNodePtr c = devices(d) ? devices(d)->children : NULL; c; c = c->next)
        if (is_elem(c, "interface"))
            remove_children(c, "mac");
    changed(d);
}

static xmlNodePtr find_nic(FerryDomainXml *d, const char *mac, GError **error)
{
    for (xmlNodePtr c = devices(d) ? devices(d)->children : NULL; c; c = c->next) {
        if (!is_elem(c, "interface"))
            continue;
        g_autofree char *address = prop(child(c, "mac"), "address");
        if (mac && address && g_ascii_strcasecmp(address, mac) == 0)
            return c;
    }
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                "domain '%s' has no network interface with MAC address %s", ferry_domxml_name(d),
                mac ? mac : "(none)");
    return NULL;
}

gboolean ferry_domxml_set_nic_source(FerryDomainXml *d, const char *mac, const char *network,
                                     const char *portgroup, GError **error)
{
    if (!check_text(network, "the network name", error))
        return FALSE;
    if (portgroup && *portgroup && !check_text(portgroup, "the portgroup name", error))
        return FALSE;
    xmlNodePtr nic = find_nic(d, mac, error);
    if (!nic)
        return FALSE;
    g_autofree char *type = prop(nic, "type");
    if (g_strcmp0(type, "hostdev") == 0 || g_strcmp0(type, "vdpa") == 0 ||
        g_strcmp0(type, "vhostuser") == 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                    "network interface %s of domain '%s' is a %s interface, which cannot be "
                    "connected to network '%s' by rewriting its XML", mac, ferry_domxml_name(d),
                    type, network);
        return FALSE;
    }
    xmlNodePtr src = new_elem(d->doc, "source");
    set_prop(src, "network", network);
    if (portgroup && *portgroup)
        set_prop(src, "portgroup", portgroup);
    xmlNodePtr old = child(nic, "source");
    if (old) {
        xmlReplaceNode(old, src);
        xmlFreeNode(old);
    } else {
        insert_after(nic, "mac", src);
    }
    set_prop(nic, "type", "network");
    changed(d);
    return TRUE;
}

gboolean ferry_domxml_set_nic_vlan(FerryDomainXml *d, const char *mac, int vlan, gboolean trunk,
                                   GError **error)
{
    if (vlan < -1 || vlan > 4095)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "VLAN ID %d is out of range: give 0 to 4095, or -1 for none", vlan);
    xmlNodePtr nic = find_nic(d, mac, error);
    if (!nic)
        return FALSE;
    remove_children(nic, "vlan");
    if (vlan >= 0) {
        xmlNodePtr node = new_elem(d->doc, "vlan");
        if (trunk)
            set_prop(node, "trunk", "yes");
        char id[8];
        g_snprintf(id, sizeof id, "%d", vlan);
        set_prop(xmlNewChild(node, NULL, (const xmlChar *)"tag", NULL), "id", id);
        insert_after(nic, "source", node);
    }
    changed(d);
    return TRUE;
}

gboolean ferry_domxml_set_nic_virtualport(FerryDomainXml *d, const char *mac, const char *type,
                                          GError **error)
{
    if (type && !check_text(type, "the virtualport type", error))
        return FALSE;
    xmlNodePtr nic = find_nic(d, mac, error);
    if (!nic)
        return FALSE;
    xmlNodePtr old = child(nic, "virtualport");
    if (type && old && prop_is(old, "type", type))
        return TRUE;
    if (old)
        remove_node(old);
    if (type) {
        xmlNodePtr node = new_elem(d->doc, "virtualport");
        set_prop(node, "type", type);
        insert_after(nic, child(nic, "vlan") ? "vlan" : "source", node);
    }
    changed(d);
    return TRUE;
}

gboolean ferry_domxml_map_nic(FerryDomainXml *d, const char *mac, const FerryNicMapping *m, GError **error)
{
    if (m->action == FERRY_MAP_AS_IS)
        return TRUE;
    gboolean on_interface = m->action == FERRY_MAP_VLAN_ON_INTERFACE;
    return ferry_domxml_set_nic_source(d, mac, m->network, m->portgroup, error) &&
           (m->action == FERRY_MAP_KEEP_TAGS ||
            ferry_domxml_set_nic_vlan(d, mac, on_interface ? m->vlan : -1, on_interface && m->trunk, error)) &&
           ferry_domxml_set_nic_virtualport(d, mac, m->distributed ? "openvswitch" : NULL, error);
}

/* ------------------------------------------------------------------ live state */

static void strip_seclabel(xmlNodePtr label)
{
    if (!prop_is(label, "type", "dynamic"))
        return; /* none and static labels are the user's choice */
    if (!child(label, "baselabel")) {
        remove_node(label); /* generated at start for this host's security drivers */
        return;
    }
    remove_children(label, "label");
    remove_children(label, "imagelabel");
}

static void strip_alias(xmlNodePtr dev)
{
    xmlNodePtr alias = child(dev, "alias");
    g_autofree char *name = prop(alias, "name");
    if (alias && !(name && g_str_has_prefix(name, "ua-")))
        remove_node(alias);
}

static void strip_disk(xmlNodePtr disk)
{
    unset_prop(child(disk, "source"), "index");
    remove_children(disk, "backingStore");
    remove_children(disk, "mirror");
}

/* libvirt names the taps and macvtaps it creates with these prefixes, and drops such
 * names itself when it defines a domain. */
static gboolean generated_ifname(const char *name)
{
    return name && (g_str_has_prefix(name, "vnet") || g_str_has_prefix(name, "macvtap") ||
                    g_str_has_prefix(name, "macvlan"));
}

static void strip_nic(xmlNodePtr nic)
{
    xmlNodePtr target = child(nic, "target");
    g_autofree char *dev = prop(target, "dev");
    if (generated_ifname(dev)) {
        unset_prop(target, "dev");
        if (!target->properties)
            remove_node(target);
    }
    xmlNodePtr src = child(nic, "source");
    unset_prop(src, "portid");
    if (prop_is(nic, "type", "network")) {
        /* What the network lent this run: its bridge or host interface. */
        unset_prop(src, "bridge");
        unset_prop(src, "dev");
        unset_prop(src, "mode");
        unset_prop(src, "macTableManager");
    }
}

static void strip_graphics(xmlNodePtr graphics)
{
    if (prop_is(graphics, "autoport", "yes")) {
        unset_prop(graphics, "port");
        unset_prop(graphics, "tlsPort");
    }
    /* A listen on a network shows the address it resolved to in this run. */
    gboolean first = TRUE;
    for (xmlNodePtr l = graphics->children; l; l = l->next) {
        if (!is_elem(l, "listen"))
            continue;
        if (prop_is(l, "type", "network")) {
            unset_prop(l, "address");
            if (first)
                unset_prop(graphics, "listen");
        }
        first = FALSE;
    }
}

static void strip_chardev(xmlNodePtr chr)
{
    xmlNodePtr src = child(chr, "source");
    if (prop_is(chr, "type", "pty")) {
        unset_prop(chr, "tty");
        if (src) {
            unset_prop(src, "path");
            if (!src->properties && !src->children)
                remove_node(src);
        }
    }
    if (is_elem(chr, "channel")) {
        unset_prop(child(chr, "target"), "state");
        g_autofree char *path = prop(src, "path");
        /* The guest agent socket libvirt made for this run (/run/libvirt/qemu/channel/N-name/
         * in 9.0, /var/lib/libvirt/qemu/channel/target/domain-N-name/ before). */
        if (prop_is(chr, "type", "unix") && path && strstr(path, "/libvirt/qemu/channel/"))
            unset_prop(src, "path");
    }
}

/* With <os firmware='efi'>, libvirt 9.0 picks the firmware at start and shows its choice
 * (loader path, type, readonly; nvram template) in the live XML only; a define refuses
 * them next to firmware= ("cannot be specified when firmware autoselection is enabled").
 * Dropping them lets the target host pick again. secure= and the nvram path are the
 * user's and stay. */
static void strip_os(xmlNodePtr os)
{
    g_autofree char *firmware = prop(os, "firmware");
    if (!os || !firmware || !*firmware)
        return;
    xmlNodePtr loader = child(os, "loader");
    if (loader) {
        unset_prop(loader, "readonly");
        unset_prop(loader, "type");
        xmlNodeSetContent(loader, NULL);
        if (!loader->properties)
            remove_node(loader);
    }
    unset_prop(child(os, "nvram"), "template");
}

void ferry_domxml_strip_live_state(FerryDomainXml *d)
{
    unset_prop(d->root, "id");
    strip_os(child(d->root, "os"));
    xmlNodePtr next;
    for (xmlNodePtr c = d->root->children; c; c = next) {
        next = c->next;
        if (is_elem(c, "seclabel"))
            strip_seclabel(c);
    }
    for (xmlNodePtr dev = devices(d) ? devices(d)->children : NULL; dev; dev = dev->next) {
        if (dev->type != XML_ELEMENT_NODE)
            continue;
        strip_alias(dev);
        if (is_elem(dev, "disk"))
            strip_disk(dev);
        else if (is_elem(dev, "interface"))
            strip_nic(dev);
        else if (is_elem(dev, "graphics"))
            strip_graphics(dev);
        else if (is_elem(dev, "serial") || is_elem(dev, "console") || is_elem(dev, "parallel") ||
                 is_elem(dev, "channel"))
            strip_chardev(dev);
    }
    changed(d);
}

static gboolean in_archive_ns(xmlNodePtr node)
{
    return node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
           g_str_equal((const char *)node->ns->href, FERRY_ARCHIVE_NS);
}

/* ------------------------------------------------------------------ archived mark */

char *ferry_archived_mark_to_xml(const char *archive_id, gint64 created_usec)
{
    if (!archive_id || !*archive_id)
        return NULL;
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root = xmlNewNode(NULL, (const xmlChar *)"archived");
    xmlDocSetRootElement(doc, root);
    set_prop(root, "id", archive_id);
    char created[24];
    g_snprintf(created, sizeof created, "%" G_GINT64_FORMAT, created_usec);
    set_prop(root, "created", created);

    char *xml = ferry_xml_node_string(doc, root);
    xmlFreeDoc(doc);
    return xml;
}

static gboolean bad_mark(GError **error, const char *why)
{
    return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "the domain's virt-ferry archived mark is wrong: %s", why);
}

gboolean ferry_archived_mark_parse(const char *xml, char **archive_id, gint64 *created_usec,
                                   GError **error)
{
    if (archive_id)
        *archive_id = NULL;
    if (created_usec)
        *created_usec = 0;
    if (!xml || !*xml)
        return FALSE;
    xmlDocPtr doc = ferry_xml_read(xml, "the domain's virt-ferry archived mark", "domain.xml", error);
    if (!doc)
        return FALSE;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    gboolean ok = FALSE;
    g_autofree char *id = NULL;
    g_autofree char *created = NULL;
    gint64 usec;
    if (!root || !g_str_equal((const char *)root->name, "archived") || (root->ns && !in_archive_ns(root)))
        bad_mark(error, "it is not an <archived> element in " FERRY_ARCHIVE_NS);
    else if (!(id = prop(root, "id")) || !*id)
        bad_mark(error, "it has no archive id");
    else if (!(created = prop(root, "created")) ||
             !g_ascii_string_to_signed(created, 10, 0, G_MAXINT64, &usec, NULL))
        bad_mark(error, "its created time is not a number of microseconds");
    else
        ok = TRUE;
    xmlFreeDoc(doc);
    if (ok && archive_id)
        *archive_id = g_steal_pointer(&id);
    if (ok && created_usec)
        *created_usec = usec;
    return ok;
}
