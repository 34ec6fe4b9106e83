/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names of virt-ferry's contract (org.virtferry.Ferry1(5)): the bus name, object paths and
 * interfaces, the polkit action ids, the D-Bus error names, the metadata namespaces and the
 * files and default paths the programs agree on. Every program takes them from here, so a
 * name is written once.
 *
 * Plain string macros and nothing else: no include, no type, so that virt-ferry-hook (libc
 * and libdbus only) can include it as well as virt-ferryd, libferry and virt-ferry. The
 * polkit policy, the bus policy and the interface XML are data files that spell the same
 * names; tests/unit/test-names.c checks the error names against org.virtferry.Ferry1(5)'s. */
#pragma once

/* ------------------------------------------------------------------ bus */

#define FERRY_BUS_NAME "org.virtferry.Ferry1"
#define FERRY_ROOT_PATH "/org/virtferry/Ferry1"
#define FERRY_DOMAIN_PATH FERRY_ROOT_PATH "/domain"   /* + "/" + escaped domain name */
#define FERRY_JOB_PATH FERRY_ROOT_PATH "/job"         /* + "/" + job number */
#define FERRY_ARCHIVE_PATH FERRY_ROOT_PATH "/archive" /* + "/" + escaped archive id */

#define FERRY_MANAGER_INTERFACE "org.virtferry.Ferry1.Manager"
#define FERRY_DOMAIN_INTERFACE "org.virtferry.Ferry1.Domain"
#define FERRY_ARCHIVE_INTERFACE "org.virtferry.Ferry1.Archive"
#define FERRY_JOB_INTERFACE "org.virtferry.Ferry1.Job"
#define FERRY_HOOK_INTERFACE "org.virtferry.Ferry1.Hook"

/* ------------------------------------------------------------------ polkit actions */

#define FERRY_ACTION_ARCHIVE "org.virtferry.ferry1.archive"
#define FERRY_ACTION_RESTORE "org.virtferry.ferry1.restore"
#define FERRY_ACTION_PURGE "org.virtferry.ferry1.purge"
#define FERRY_ACTION_MIGRATE "org.virtferry.ferry1.migrate"
#define FERRY_ACTION_FAILOVER "org.virtferry.ferry1.failover"
#define FERRY_ACTION_POLICY "org.virtferry.ferry1.policy"
#define FERRY_ACTION_EVACUATE "org.virtferry.ferry1.evacuate"
#define FERRY_ACTION_MAINTENANCE "org.virtferry.ferry1.maintenance"

/* ------------------------------------------------------------------ D-Bus errors */

/* One per FerryErrorCode (common/ferry-error.h), in its order. */
#define FERRY_ERROR_NAME_NOT_FOUND "org.virtferry.Ferry1.Error.NotFound"
#define FERRY_ERROR_NAME_INVALID_ARGUMENT "org.virtferry.Ferry1.Error.InvalidArgument"
#define FERRY_ERROR_NAME_BUSY "org.virtferry.Ferry1.Error.Busy"
#define FERRY_ERROR_NAME_UNSUPPORTED "org.virtferry.Ferry1.Error.Unsupported"
#define FERRY_ERROR_NAME_INCOMPATIBLE "org.virtferry.Ferry1.Error.Incompatible"
#define FERRY_ERROR_NAME_NO_CAPACITY "org.virtferry.Ferry1.Error.NoCapacity"
#define FERRY_ERROR_NAME_NETWORK_UNAVAILABLE "org.virtferry.Ferry1.Error.NetworkUnavailable"
#define FERRY_ERROR_NAME_CANCELLED "org.virtferry.Ferry1.Error.Cancelled"
#define FERRY_ERROR_NAME_FAILED "org.virtferry.Ferry1.Error.Failed"

/* ------------------------------------------------------------------ metadata namespaces */

#define FERRY_POLICY_NS "http://virtferry.org/xmlns/policy/1"
#define FERRY_ARCHIVE_NS "http://virtferry.org/xmlns/archive/1"
#define FERRY_NETMAP_NS "http://virtferry.org/xmlns/network/1"

/* ------------------------------------------------------------------ files */

/* The network map virt-ferryd writes and the hook reads, in [state] dir=. */
#define FERRY_NETMAP_FILE "netmap"

/* Defaults (virt-ferry.conf(5)); SYSCONFDIR and LOCALSTATEDIR come from configure. */
#define FERRY_DEFAULT_CONFIG SYSCONFDIR "/virt-ferry/virt-ferry.conf"
#define FERRY_DEFAULT_ARCHIVE_LIBRARY LOCALSTATEDIR "/lib/virt-ferry/archive"
#define FERRY_DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/virt-ferry"
#define FERRY_DEFAULT_NETWORKS_DIR SYSCONFDIR "/virt-ferry/networks"
