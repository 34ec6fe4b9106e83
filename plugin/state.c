/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "state.h"

#include <libvirt/libvirt.h>

static const char *const state_names[] = {
    [FERRY_STATE_UNKNOWN] = "unknown",
    [FERRY_STATE_NORMAL] = "normal",
    [FERRY_STATE_STOP] = "stop",
    [FERRY_STATE_ERROR] = "error",
};

const char *ferry_state_name(FerryState state)
{
    return (guint)state < G_N_ELEMENTS(state_names) ? state_names[state] : "unknown";
}

/* libvirt's reasons per state, indexed by the reason's enum value. */
static const char *const running_reasons[] = {
    "unknown", "booted", "migrated", "restored", "from-snapshot", "unpaused",
    "migration-canceled", "save-canceled", "wakeup", "crashed", "postcopy", "postcopy-failed",
};
static const char *const paused_reasons[] = {
    "unknown", "user", "migration", "save", "dump", "ioerror", "watchdog", "from-snapshot",
    "shutting-down", "snapshot", "crashed", "starting-up", "postcopy", "postcopy-failed",
    "api-error",
};
static const char *const shutdown_reasons[] = { "unknown", "user" };
static const char *const shutoff_reasons[] = {
    "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
    "from-snapshot", "daemon",
};
static const char *const crashed_reasons[] = { "unknown", "panicked" };
static const char *const pmsuspended_reasons[] = { "unknown", "disk" };

static const struct {
    const char *name;
    const char *const *reasons;
    gsize n_reasons;
} libvirt_states[] = {
    [VIR_DOMAIN_NOSTATE] = { "nostate", NULL, 0 },
    [VIR_DOMAIN_RUNNING] = { "running", running_reasons, G_N_ELEMENTS(running_reasons) },
    [VIR_DOMAIN_BLOCKED] = { "blocked", NULL, 0 },
    [VIR_DOMAIN_PAUSED] = { "paused", paused_reasons, G_N_ELEMENTS(paused_reasons) },
    [VIR_DOMAIN_SHUTDOWN] = { "shutdown", shutdown_reasons, G_N_ELEMENTS(shutdown_reasons) },
    [VIR_DOMAIN_SHUTOFF] = { "shutoff", shutoff_reasons, G_N_ELEMENTS(shutoff_reasons) },
    [VIR_DOMAIN_CRASHED] = { "crashed", crashed_reasons, G_N_ELEMENTS(crashed_reasons) },
    [VIR_DOMAIN_PMSUSPENDED] = { "pmsuspended", pmsuspended_reasons, G_N_ELEMENTS(pmsuspended_reasons) },
};

char *ferry_state_reason_from_libvirt(int vir_state, int vir_reason)
{
    if (vir_state < 0 || (gsize)vir_state >= G_N_ELEMENTS(libvirt_states))
        return g_strdup_printf("state%d:reason%d", vir_state, vir_reason);
    const char *state = libvirt_states[vir_state].name;
    if (vir_reason >= 0 && (gsize)vir_reason < libvirt_states[vir_state].n_reasons)
        return g_strdup_printf("%s:%s", state, libvirt_states[vir_state].reasons[vir_reason]);
    return g_strdup_printf("%s:unknown", state);
}

FerryState ferry_state_from_libvirt(int vir_state, int vir_reason)
{
    switch (vir_state) {
    case VIR_DOMAIN_RUNNING:
        return vir_reason == VIR_DOMAIN_RUNNING_CRASHED ||
                       vir_reason == VIR_DOMAIN_RUNNING_POSTCOPY_FAILED
                   ? FERRY_STATE_ERROR
                   : FERRY_STATE_NORMAL;
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN:
        return FERRY_STATE_NORMAL;
    case VIR_DOMAIN_PAUSED:
        switch (vir_reason) {
        case VIR_DOMAIN_PAUSED_IOERROR:
        case VIR_DOMAIN_PAUSED_WATCHDOG:
        case VIR_DOMAIN_PAUSED_CRASHED:
        case VIR_DOMAIN_PAUSED_POSTCOPY_FAILED:
            return FERRY_STATE_ERROR;
        default:
            return FERRY_STATE_NORMAL;
        }
    case VIR_DOMAIN_SHUTOFF:
        return vir_reason == VIR_DOMAIN_SHUTOFF_CRASHED || vir_reason == VIR_DOMAIN_SHUTOFF_FAILED
                   ? FERRY_STATE_ERROR
                   : FERRY_STATE_STOP;
    case VIR_DOMAIN_CRASHED:
        return FERRY_STATE_ERROR;
    case VIR_DOMAIN_PMSUSPENDED:
        return FERRY_STATE_STOP;
    default:
        return FERRY_STATE_UNKNOWN;
    }
}
