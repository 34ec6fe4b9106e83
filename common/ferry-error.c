/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FERRY_ERROR and its D-Bus names: the one table of codes and names (udisks' udiskserror.c
 * pattern).
 *
 * Why common/ and not plugin/: registering the names is a GIO call, and plugin/ includes no
 * GDBus header (doc/ARCHITECTURE.md). The quark is shared by every program: libferry, virt-ferryd,
 * virt-ferry and the hook's rewriter all link this file, so they all raise and recognise
 * the same domain. Only virt-ferryd and virt-ferry use the registration; linking it costs
 * the others nothing but GIO's symbols.
 *
 * FERRY_ERROR_NO_DBUS builds the quark without the names, for virt-ferry-hook-rewrite.so:
 * it never puts an error on the bus, and loading GIO into the hook would cost every
 * migrate and restore its start-up time (it is dlopen'ed inside libvirt's hook call). */
#include "ferry-error.h"

#include "ferry-names.h"

gboolean ferry_error_set(GError **error, FerryErrorCode code, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    GError *e = g_error_new_valist(FERRY_ERROR, code, format, ap);
    va_end(ap);
    g_propagate_error(error, e);
    return FALSE;
}

#ifdef FERRY_ERROR_NO_DBUS

G_DEFINE_QUARK(virt-ferry-error-quark, ferry_error)

#else

#include <gio/gio.h>

/* The same name as G_DEFINE_QUARK above gives. */
#define FERRY_ERROR_QUARK_NAME "virt-ferry-error-quark"

static const GDBusErrorEntry ferry_error_entries[] = {
    { FERRY_ERROR_NOT_FOUND, FERRY_ERROR_NAME_NOT_FOUND },
    { FERRY_ERROR_INVALID_ARGUMENT, FERRY_ERROR_NAME_INVALID_ARGUMENT },
    { FERRY_ERROR_BUSY, FERRY_ERROR_NAME_BUSY },
    { FERRY_ERROR_UNSUPPORTED, FERRY_ERROR_NAME_UNSUPPORTED },
    { FERRY_ERROR_INCOMPATIBLE, FERRY_ERROR_NAME_INCOMPATIBLE },
    { FERRY_ERROR_NO_CAPACITY, FERRY_ERROR_NAME_NO_CAPACITY },
    { FERRY_ERROR_NETWORK_UNAVAILABLE, FERRY_ERROR_NAME_NETWORK_UNAVAILABLE },
    { FERRY_ERROR_CANCELLED, FERRY_ERROR_NAME_CANCELLED },
    { FERRY_ERROR_FAILED, FERRY_ERROR_NAME_FAILED },
};
G_STATIC_ASSERT(G_N_ELEMENTS(ferry_error_entries) == FERRY_ERROR_N_ERRORS);

const char *ferry_error_code_name(int code)
{
    for (gsize i = 0; i < G_N_ELEMENTS(ferry_error_entries); i++)
        if (ferry_error_entries[i].error_code == code)
            return ferry_error_entries[i].dbus_error_name;
    return FERRY_ERROR_NAME_FAILED;
}

GQuark ferry_error_quark(void)
{
    static gsize quark;
    g_dbus_error_register_error_domain(FERRY_ERROR_QUARK_NAME, &quark, ferry_error_entries,
                                       G_N_ELEMENTS(ferry_error_entries));
    return (GQuark)quark;
}

#endif
