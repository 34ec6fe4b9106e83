/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checks for the names users hand to virt-ferry: domains, hosts, groups. Each sets a
 * FERRY_ERROR_INVALID_ARGUMENT error that says what is wrong with the name. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_NAME_MAX 1024   /* bytes; libvirt has no smaller limit of its own */
#define FERRY_GROUP_MAX 64

/* A domain name or UUID as given by a caller: non-empty, at most FERRY_NAME_MAX bytes,
 * valid UTF-8, no control characters. */
gboolean ferry_check_domain_name(const char *name, const char *what, GError **error);
/* A host name (RFC 1123): letters, digits, '-' and '.', 1..253 bytes. */
gboolean ferry_check_host_name(const char *name, const char *what, GError **error);
/* An eq/ne group: letters, digits, '_', '-', '.', 1..FERRY_GROUP_MAX bytes. */
gboolean ferry_check_group_name(const char *name, const char *what, GError **error);

#define FERRY_ARCHIVE_ID_MAX 200

/* An archive id: InvalidArgument for '/', "..", a leading '.', control characters, invalid
 * UTF-8, or more than FERRY_ARCHIVE_ID_MAX bytes. */
gboolean ferry_check_archive_id(const char *id, GError **error);

G_END_DECLS
