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

void ferry_domain_wait_job_end(virDomainPtr dom, guint seconds)
{
    for (guint i = 0; i < seconds * 10; i++) {
        virDomainJobInfo info;
        if (virDomainGetJobInfo(dom, &info) < 0 || info.type == VIR_DOMAIN_JOB_NONE)
            break;
        g_usleep(100 * 1000);
    }
    virResetLastError();
}
