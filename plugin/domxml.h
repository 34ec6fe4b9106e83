/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain XML: the one place in virt-ferry that reads and rewrites libvirt domain XML.
 * Archive, restore, VLAN mapping and migration use it; dbus/ never parses XML itself.
 *
 * A FerryDomainXml owns a parsed document. The readers return views that it owns; the
 * rewriters change the document, and ferry_domxml_format() serializes it again. Nothing
 * here calls libvirt, so the hook can use it within its time bound. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "ferry-names.h" /* FERRY_ARCHIVE_NS: the archive metadata in a domain's <metadata> */
#include "netmap.h"

G_BEGIN_DECLS

typedef struct {
    char *target;      /* <target dev=>: "vda"; NULL when the XML has none */
    char *device;      /* "disk", "cdrom", "floppy", "lun" ("disk" when not stated) */
    char *type;        /* <disk type=>: "file", "block", "network", "volume", "dir", "nvme",
                        * "vhostuser" ("file" when not stated) */
    char *source;      /* file: the path; block: the device node; dir: the directory;
                        * volume: "pool/volume"; network: "protocol:name" (e.g.
                        * "rbd:pool/image"); NULL for an empty drive */
    char *format;      /* <driver type=>: "qcow2", "raw", or NULL */
    gboolean readonly;
    gboolean shareable;
    char *backing;     /* the first <backingStore>'s <source file=> (or dev=) when the XML
                        * shows a backing chain, else NULL (libvirt shows chains in the live
                        * XML only) */
} FerryDisk;

typedef struct {
    char *mac;         /* "52:54:00:..." as written in the XML */
    char *type;        /* <interface type=>: "network", "bridge", "direct", "user", ... */
    char *network;     /* <source network=> for type=network, else NULL */
    char *portgroup;   /* <source portgroup=> or NULL */
    char *bridge;      /* <source bridge=>: the configured bridge for type=bridge, the
                        * network's bridge in a running domain's XML for type=network */
    char *source_dev;  /* <source dev=> for type=direct (the host interface), else NULL */
    int vlan;          /* the first <vlan><tag id=>, or -1 */
    gboolean vlan_trunk; /* <vlan trunk='yes'>, or more than one tag (libvirt's rule) */
    char *vport_type;  /* <virtualport type=> ("openvswitch", ...) or NULL */
    char *target_dev;  /* <target dev=> ("vnet0" in a running domain's XML) or NULL */
    char *model;       /* <model type=> or NULL */
} FerryNic;

typedef struct _FerryDomainXml FerryDomainXml;

/* Parses @xml, which must be a <domain> document. InvalidArgument, naming the problem
 * (libxml2's message and line, a wrong root element, a missing <name>, a DOCTYPE), for
 * anything else, including NULL and "". */
FerryDomainXml *ferry_domxml_parse(const char *xml, GError **error);
void ferry_domxml_free(FerryDomainXml *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryDomainXml, ferry_domxml_free)

/* Readers. Every string and array they return is owned by @d and stays valid until
 * ferry_domxml_free(), even across rewrites; but it is a snapshot: after a rewrite, call
 * the reader again to see the change. NULL where the XML does not say. */
const char *ferry_domxml_name(FerryDomainXml *d);
const char *ferry_domxml_uuid(FerryDomainXml *d);
const char *ferry_domxml_type(FerryDomainXml *d);        /* <domain type=>: "kvm", "qemu" */
/* <memory>, converted from its unit and rounded up to KiB as libvirt does; 0 if absent
 * or unreadable. */
guint64 ferry_domxml_memory_kib(FerryDomainXml *d);
guint ferry_domxml_vcpus(FerryDomainXml *d);             /* <vcpu>: the maximum; 1 if absent */
/* <cpu mode=>: "host-passthrough", "host-model", "custom" ("custom" for a <cpu> with a
 * <model> and no mode), NULL without <cpu>. A running host-model domain's XML shows the
 * expanded "custom" CPU. */
const char *ferry_domxml_cpu_mode(FerryDomainXml *d);
const char *ferry_domxml_cpu_model(FerryDomainXml *d);   /* <cpu><model> text */
GPtrArray *ferry_domxml_disks(FerryDomainXml *d);        /* FerryDisk*, document order */
GPtrArray *ferry_domxml_nics(FerryDomainXml *d);         /* FerryNic*, document order */
/* The NIC whose MAC is @mac (compared case-blind, as libvirt does), or NULL. */
const FerryNic *ferry_domxml_nic_by_mac(FerryDomainXml *d, const char *mac);
/* The UEFI variables file: <os><nvram> text, or its <source file=> (libvirt >= 8.5). */
const char *ferry_domxml_nvram(FerryDomainXml *d);
gboolean ferry_domxml_has_tpm_emulator(FerryDomainXml *d);

/* Whether the domain can be archived. FALSE with FERRY_ERROR_UNSUPPORTED naming every
 * device that stops it and what to do about it, for: a host device (<hostdev>: USB by
 * vendor:product or bus/device, PCI by address, SCSI, mediated; an <interface
 * type='hostdev'>), a TPM passthrough, a shared host directory (<filesystem>), a
 * device='lun' disk, a host block device (type='block'), a network, dir, NVMe or
 * vhost-user disk, a floppy with media, a disk with a backing chain (named: archive does
 * not copy chains yet), a shareable writable disk.
 * type='volume' disks pass: the archive resolves them through libvirt and must itself
 * refuse a volume that is not a file.
 * On TRUE, @notes (may be NULL; give it g_free as free function) gets a char* for each
 * thing archived with a change: a CD-ROM with media ("cdrom hdc: media /x.iso is not
 * archived; the restored domain's drive is empty"). On FALSE @notes is left as it was. */
gboolean ferry_domxml_check_archivable(FerryDomainXml *d, GPtrArray *notes, GError **error);

/* Rewriters: they change the document in place. */

/* InvalidArgument for an empty name, invalid UTF-8 or control characters (names.h). */
gboolean ferry_domxml_set_name(FerryDomainXml *d, const char *name, GError **error);
/* InvalidArgument unless @uuid is 32 hex digits, with or without the four dashes. */
gboolean ferry_domxml_set_uuid(FerryDomainXml *d, const char *uuid, GError **error);
/* Points disk @target at the local file @path: type='file', <source file=@path> (the old
 * source's startupPolicy and its <seclabel>, <encryption> and <slices>, which go with the
 * image, stay; its pool=, volume=, dev=, <host>, <auth> go), and drops <backingStore> and
 * <mirror>, which describe the old image. The <driver type=> stays: @path must hold the same
 * format. NotFound for an unknown target, InvalidArgument for a path that is not
 * absolute. */
gboolean ferry_domxml_set_disk_source(FerryDomainXml *d, const char *target, const char *path,
                                      GError **error);
/* Sets the image format of disk @target (<driver type=>, a <driver name='qemu'> made when
 * there is none). InvalidArgument for a control character, NotFound for no such disk. */
gboolean ferry_domxml_set_disk_format(FerryDomainXml *d, const char *target, const char *format, GError **error);
/* For messages about a <hostdev> element: "USB host device 046d:c52b", "PCI host device
 * 0000:03:00.0", and so on; and a PCI <address> as "0000:03:00.0". */
char *ferry_domxml_describe_hostdev(xmlNodePtr hostdev);
char *ferry_domxml_pci_address(xmlNodePtr addr);
/* Points the UEFI variables at @path: the <os><nvram> text, or its <source file=> in the
 * libvirt >= 8.5 form; a new <nvram> after <loader> when there is none. The template=
 * stays. Does nothing unless @path is an absolute UTF-8 path without control characters
 * (restore hands it a path it placed itself). */
void ferry_domxml_set_nvram(FerryDomainXml *d, const char *path);
/* Empties every CD-ROM and floppy drive: removes <source> and <backingStore>, and makes
 * the drive type='file' (an empty drive of another type does not define). */
void ferry_domxml_eject_removable(FerryDomainXml *d);
/* Removes every network interface's <mac>: libvirt generates a new one at define (a copy of
 * a domain must not share its MACs with the original). */
void ferry_domxml_forget_nic_macs(FerryDomainXml *d);

/* Connects the NIC with @mac (compared case-insensitively) to libvirt network @network,
 * portgroup @portgroup (NULL or "": no portgroup): type='network' and a new <source>.
 * It drops what tied the NIC to its old source (bridge=, dev=, mode=, portid=, ...) and
 * leaves <vlan>, <virtualport> and <target> alone: whether they still fit depends on the
 * target network, which the caller knows (see set_nic_vlan, set_nic_virtualport).
 * NotFound for an unknown MAC; Unsupported for a hostdev, vdpa or vhost-user NIC, which
 * cannot become a network NIC by rewriting; InvalidArgument for a bad network name. */
gboolean ferry_domxml_set_nic_source(FerryDomainXml *d, const char *mac, const char *network,
                                     const char *portgroup, GError **error);
/* Sets the NIC's <vlan> to one tag @vlan (0..4095), with trunk='yes' if @trunk; -1
 * removes <vlan> (and ignores @trunk). NotFound / InvalidArgument as above. */
gboolean ferry_domxml_set_nic_vlan(FerryDomainXml *d, const char *mac, int vlan, gboolean trunk,
                                   GError **error);
/* @type NULL removes <virtualport>; the same type as now keeps it with its parameters
 * (an Open vSwitch interfaceid names the port across hosts); another type replaces it
 * with a bare <virtualport type=@type/> for libvirt to complete. */
gboolean ferry_domxml_set_nic_virtualport(FerryDomainXml *d, const char *mac, const char *type,
                                          GError **error);
/* Makes the NIC with @mac what @m (ferry_netmap_map_nic) says: on its network and portgroup,
 * an Open vSwitch <virtualport> iff that network is distributed, and the interface's own
 * <vlan> removed (the portgroup's applies), set (VLAN_ON_INTERFACE) or kept (KEEP_TAGS).
 * AS_IS changes nothing. Errors as set_nic_source. */
gboolean ferry_domxml_map_nic(FerryDomainXml *d, const char *mac, const FerryNicMapping *m, GError **error);

/* Removes from a running domain's XML (virsh dumpxml without --inactive) what belongs to
 * that one run on that one host, so that the XML can define the domain, or restore it,
 * on another host. libvirt 9.0 adds these to the live XML:
 * - <domain id=>;
 * - with firmware autoselection (<os firmware=>), the firmware libvirt picked at start:
 *   <loader> path, type= and readonly=, <nvram template=>; libvirt 9.0 refuses them in a
 *   define, and the target host picks again (the nvram path and secure= stay);
 * - dynamic <seclabel>s it generated at start (no <baselabel>): they name the host's
 *   security models (apparmor, selinux, dac) and labels, and a model the target host lacks
 *   fails the define. Other dynamic ones lose their generated <label>/<imagelabel>;
 *   type='none' and static labels are the user's and stay;
 * - <interface><target dev=> names libvirt generated (vnet*, macvtap*, macvlan*), the
 *   network port's portid= and the live source details of a type='network' NIC (bridge=,
 *   dev=, mode=, macTableManager=);
 * - device <alias>es libvirt assigned (user aliases, "ua-*", stay);
 * - graphics port=, tlsPort= chosen by autoport='yes';
 * - pty paths (<source path='/dev/pts/N'>, tty=) of serials, consoles and channels, and
 *   the agent channel socket paths libvirt generated under .../libvirt/qemu/channel/;
 *   a channel's state=;
 * - disk <source index=>, the detected backing chains (<backingStore> elements libvirt
 *   shows for a running domain; it probes them again at start), and block-job <mirror>s.
 * It keeps what a define and a restore need to match the running guest: PCI addresses,
 * the CPU as expanded by host-model, <vlan> and <virtualport> (the live XML of a
 * type='network' NIC shows the portgroup's VLAN and Open vSwitch port there and there is
 * no telling them from the domain's own; ask libvirt for the inactive XML when only the
 * configuration is wanted), currentMemory, metadata. */
void ferry_domxml_strip_live_state(FerryDomainXml *d);

/* The document as XML text, indented, without an XML declaration (as libvirt writes it). */
char *ferry_domxml_format(FerryDomainXml *d);

/* The <archived id= created=/> element for virDomainSetMetadata(VIR_DOMAIN_METADATA_ELEMENT,
 * xml, key, FERRY_ARCHIVE_NS, ...), libvirt adding the namespace: marks a domain pending
 * deletion. NULL for a NULL or empty @archive_id. */
char *ferry_archived_mark_to_xml(const char *archive_id, gint64 created_usec);
/* Reads what virDomainGetMetadata returns for FERRY_ARCHIVE_NS. NULL or "" (not marked)
 * gives FALSE and no error; a malformed mark gives FALSE and InvalidArgument; TRUE sets
 * @archive_id (g_free it) and @created_usec (unix microseconds). Each of the three out
 * arguments may be NULL. */
gboolean ferry_archived_mark_parse(const char *xml, char **archive_id, gint64 *created_usec,
                                   GError **error);

G_END_DECLS
