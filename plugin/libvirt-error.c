/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's errors as FERRY_ERROR codes. */
#include "libvirt-error.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* libvirt's error numbers that mean something more precise than Failed. */
static const struct {
    virErrorNumber vir;
    FerryErrorCode code;
} libvirt_errors[] = {
    { VIR_ERR_NO_DOMAIN, FERRY_ERROR_NOT_FOUND },
    { VIR_ERR_NO_NETWORK, FERRY_ERROR_NETWORK_UNAVAILABLE },
    { VIR_ERR_NO_NETWORK_PORT, FERRY_ERROR_NETWORK_UNAVAILABLE },
    { VIR_ERR_NO_INTERFACE, FERRY_ERROR_NETWORK_UNAVAILABLE },
    { VIR_ERR_NO_STORAGE_POOL, FERRY_ERROR_NOT_FOUND },
    { VIR_ERR_NO_STORAGE_VOL, FERRY_ERROR_NOT_FOUND },
    { VIR_ERR_NO_DOMAIN_SNAPSHOT, FERRY_ERROR_NOT_FOUND },
    { VIR_ERR_NO_DOMAIN_METADATA, FERRY_ERROR_NOT_FOUND },
    { VIR_ERR_NO_NODE_DEVICE, FERRY_ERROR_NOT_FOUND },
    { VIR_ERR_NO_SECRET, FERRY_ERROR_NOT_FOUND },
    { VIR_ERR_INVALID_ARG, FERRY_ERROR_INVALID_ARGUMENT },
    { VIR_ERR_XML_ERROR, FERRY_ERROR_INVALID_ARGUMENT },
    { VIR_ERR_XML_DETAIL, FERRY_ERROR_INVALID_ARGUMENT },
    { VIR_ERR_XML_INVALID_SCHEMA, FERRY_ERROR_INVALID_ARGUMENT },
    { VIR_ERR_NO_SUPPORT, FERRY_ERROR_UNSUPPORTED },
    { VIR_ERR_OPERATION_UNSUPPORTED, FERRY_ERROR_UNSUPPORTED },
    { VIR_ERR_ARGUMENT_UNSUPPORTED, FERRY_ERROR_UNSUPPORTED },
    { VIR_ERR_CONFIG_UNSUPPORTED, FERRY_ERROR_UNSUPPORTED },
    { VIR_ERR_OPERATION_TIMEOUT, FERRY_ERROR_BUSY }, /* "cannot acquire state change lock" */
    { VIR_ERR_OPERATION_ABORTED, FERRY_ERROR_CANCELLED },
    { VIR_ERR_CPU_INCOMPATIBLE, FERRY_ERROR_INCOMPATIBLE },
    { VIR_ERR_MIGRATE_UNSAFE, FERRY_ERROR_INCOMPATIBLE },
};

FerryErrorCode ferry_error_code_for_libvirt(int vir_error_number)
{
    for (gsize i = 0; i < G_N_ELEMENTS(libvirt_errors); i++)
        if ((int)libvirt_errors[i].vir == vir_error_number)
            return libvirt_errors[i].code;
    return FERRY_ERROR_FAILED;
}

gboolean ferry_error_from_libvirt(GError **error, const char *what, ...)
{
    g_autofree char *prefix = NULL;
    va_list ap;
    va_start(ap, what);
    prefix = g_strdup_vprintf(what, ap);
    va_end(ap);

    virErrorPtr last = virGetLastError();
    if (!last || last->code == VIR_ERR_OK) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_FAILED, "%s: libvirt failed without saying why", prefix);
        return FALSE;
    }
    g_set_error(error, FERRY_ERROR, ferry_error_code_for_libvirt(last->code), "%s: %s", prefix,
                last->message ? last->message : "unknown libvirt error");
    virResetLastError();
    return FALSE;
}
