/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transparent VLAN remapping of the hook (see virt-ferry-hook.c), in the module
 * virt-ferry-hook-rewrite.so that the hook loads for a qemu `restore` or `migrate`: the
 * domain XML rewritten by the mapping table of virt-ferry-hook(8) from the network map virt-ferryd keeps on
 * disk. Nothing here calls libvirt or D-Bus. */
#pragma once

#include <stddef.h>

typedef enum {
    HOOK_XML_UNCHANGED, /* write the input back as it came */
    HOOK_XML_REWRITTEN, /* write *out instead */
    HOOK_XML_REFUSED,   /* write nothing, *message to stderr, exit 1: libvirt fails the operation */
} HookXmlOutcome;

/* Decides what libvirt gets back for @xml (@length bytes, NUL-terminated at @length).
 *
 * The configuration is read from $VIRT_FERRY_CONFIG, else the default virt-ferry.conf (a
 * missing file means the defaults, as for virt-ferryd); the map from <[state] dir>/netmap.
 * No map: UNCHANGED (virt-ferry is not set up here). @operation ("restore", "migrate") and
 * @domain only go into messages.
 *
 * *out (free it) is set for REWRITTEN; *message (free it), one line without a newline, for
 * REFUSED, and for UNCHANGED when something deserves a word on stderr (an unreadable map or
 * configuration: the XML then goes back unchanged); otherwise NULL. */
__attribute__((visibility("default")))
HookXmlOutcome hook_rewrite_domain_xml(const char *xml, size_t length, const char *operation, const char *domain,
                                       char **out, size_t *out_length, char **message);

/* For a qemu `started` (the guest's tap devices exist, its vCPUs do not run yet): puts each
 * NIC on a standard switch (a Linux bridge network) on the VLAN its portgroup is declared
 * with (netmap.h), through the bridge's VLAN filtering, since libvirt 9.0 cannot. 0: done, or
 * nothing to do (no map: virt-ferry is not set up here). 1: refused, *message says why (a port
 * the bridge or the kernel cannot tag within FERRY_PORT_TAG_BUDGET_MS, a map or an XML that
 * cannot be read): libvirt then stops the guest rather than let it onto the wrong VLAN. */
__attribute__((visibility("default")))
int hook_tag_ports(const char *xml, size_t length, const char *domain, char **message);
