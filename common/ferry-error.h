/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry's errors: one GError domain whose codes are org.virtferry.Ferry1(5)'s D-Bus error names. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The quark registers each code's org.virtferry.Ferry1.Error.* name (ferry-names.h) with
 * GDBus the first time it is asked for, with no registration call anywhere: a FERRY_ERROR
 * crosses the bus under its own name, and a caller that has named FERRY_ERROR once gets
 * those names back as FERRY_ERROR codes. */
#define FERRY_ERROR (ferry_error_quark())
GQuark ferry_error_quark(void);

/* The order is the order of the D-Bus name table in common/ferry-error.c. */
typedef enum {
    FERRY_ERROR_NOT_FOUND,
    FERRY_ERROR_INVALID_ARGUMENT,
    FERRY_ERROR_BUSY,
    FERRY_ERROR_UNSUPPORTED,
    FERRY_ERROR_INCOMPATIBLE,
    FERRY_ERROR_NO_CAPACITY,
    FERRY_ERROR_NETWORK_UNAVAILABLE,
    FERRY_ERROR_CANCELLED,
    FERRY_ERROR_FAILED,
    FERRY_ERROR_N_ERRORS
} FerryErrorCode;

/* The org.virtferry.Ferry1.Error.* name of a FERRY_ERROR code (Failed for an unknown one);
 * not in FERRY_ERROR_NO_DBUS builds. */
const char *ferry_error_code_name(int code);

/* Sets @error (may be NULL) to @code with the formatted message and returns FALSE, so a
 * failure path reads `return ferry_error_set(error, ...)`. */
gboolean ferry_error_set(GError **error, FerryErrorCode code, const char *format, ...) G_GNUC_PRINTF(3, 4);

G_END_DECLS
