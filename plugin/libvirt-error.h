/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's errors as FERRY_ERROR codes, for the plugin's calls into libvirt. */
#pragma once

#include "ferry-error.h"

G_BEGIN_DECLS

/* Sets @error from libvirt's last error, mapped to a FerryErrorCode, prefixed by
 * @what ("cannot set policy of 'db1'") so the user sees both. Returns FALSE so
 * callers can `return ferry_error_from_libvirt(...)`. */
gboolean ferry_error_from_libvirt(GError **error, const char *what, ...) G_GNUC_PRINTF(2, 3);

/* The FerryErrorCode for a libvirt error number (virErrorNumber). */
FerryErrorCode ferry_error_code_for_libvirt(int vir_error_number);

G_END_DECLS
