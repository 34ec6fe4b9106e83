/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "libvirt-open.h"

#include "libvirt-error.h"

#include <libvirt/virterror.h>

virConnectPtr ferry_libvirt_open(const char *uri, GError **error)
{
    virConnectPtr conn = virConnectOpen(uri);
    if (!conn) {
        if (error)
            ferry_error_from_libvirt(error, "cannot connect to libvirtd at %s", uri);
        else
            virResetLastError();
    }
    return conn;
}
