/* virt-ferry's errors: one GError domain whose codes are DESIGN.md's D-Bus error names. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FERRY_ERROR (ferry_error_quark())
GQuark ferry_error_quark(void);

/* The order is the order of the D-Bus name table in dbus/errors.c. */
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

/* Sets @error from libvirt's last error, mapped to a FerryErrorCode, prefixed by
 * @what ("cannot set policy of 'db1'") so the user sees both. Returns FALSE so
 * callers can `return ferry_error_from_libvirt(...)`. */
gboolean ferry_error_from_libvirt(GError **error, const char *what, ...) G_GNUC_PRINTF(2, 3);

/* The FerryErrorCode for a libvirt error number (virErrorNumber). */
FerryErrorCode ferry_error_code_for_libvirt(int vir_error_number);

G_END_DECLS
