/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The unified domain state of virt-ferry: normal, stop, error, unknown,
 * with libvirt's own state and reason kept beside it as "state:reason". */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    FERRY_STATE_UNKNOWN,
    FERRY_STATE_NORMAL,
    FERRY_STATE_STOP,
    FERRY_STATE_ERROR,
} FerryState;

const char *ferry_state_name(FerryState state);

/* Maps libvirt's virDomainState and its reason. */
FerryState ferry_state_from_libvirt(int vir_state, int vir_reason);

/* "paused:user", "shutoff:destroyed"...: libvirt's state and reason as words. */
char *ferry_state_reason_from_libvirt(int vir_state, int vir_reason);

G_END_DECLS
