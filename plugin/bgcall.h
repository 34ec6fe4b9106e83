/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A blocking libvirt call (a save, a migration) in a thread of its own, so that the job's
 * thread can watch it meanwhile: progress and cancel go through a second connection. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

G_BEGIN_DECLS

typedef int (*FerryBgFunc)(gpointer data); /* libvirt's convention: < 0 on failure */
typedef struct _FerryBgCall FerryBgCall;

FerryBgCall *ferry_bg_call_start(const char *name, FerryBgFunc func, gpointer data);
/* Whether the call has returned (any thread). */
gboolean ferry_bg_call_done(FerryBgCall *call);
/* Waits until the call returns or @timeout_ms pass: whether it has returned. The watcher's
 * tick: it wakes at once when the call ends, never sooner than it must otherwise. */
gboolean ferry_bg_call_wait(FerryBgCall *call, guint timeout_ms);
/* Whether the call has returned, failing. */
gboolean ferry_bg_call_failed(FerryBgCall *call);
/* Waits for the call and frees @call: its return value, and on failure libvirt's error for it
 * in *@error (free with virFreeError; NULL when libvirt set none). */
int ferry_bg_call_finish(FerryBgCall *call, virErrorPtr *error);

/* A second connection to the same libvirtd, for questions about the domain whose call runs on
 * the first one: there, job statistics and abort wait until the call returns. */
typedef struct {
    virConnectPtr conn;
    virDomainPtr dom;
} FerrySide;

/* Domain @uuid on the side connection to @uri, opened on first use; @fallback (the call's own
 * handle) while it cannot be opened. */
virDomainPtr ferry_side_domain(FerrySide *side, const char *uri, const char *uuid, virDomainPtr fallback);
/* Aborts the job running on @dom: libvirt puts the guest back as it was. */
void ferry_side_abort(virDomainPtr dom);
void ferry_side_clear(FerrySide *side);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerrySide, ferry_side_clear)

G_END_DECLS
