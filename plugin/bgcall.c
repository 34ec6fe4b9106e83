/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Blocking libvirt calls in a thread (see bgcall.h). */
#include "bgcall.h"
#include "libvirt-open.h"

#include <libvirt/virterror.h>

struct _FerryBgCall {
    FerryBgFunc func;
    gpointer data;
    GThread *thread;
    GMutex lock;
    GCond ended;       /* signalled once, with done set, under lock */
    gint done;
    int rc;
    virErrorPtr error; /* libvirt's errors are per thread: saved where the call failed */
};

static gpointer run(gpointer data)
{
    FerryBgCall *call = data;
    call->rc = call->func(call->data);
    call->error = call->rc < 0 ? virSaveLastError() : NULL;
    g_mutex_lock(&call->lock);
    g_atomic_int_set(&call->done, 1); /* after rc and error: a reader that sees it sees them */
    g_cond_broadcast(&call->ended);
    g_mutex_unlock(&call->lock);
    return NULL;
}

FerryBgCall *ferry_bg_call_start(const char *name, FerryBgFunc func, gpointer data)
{
    FerryBgCall *call = g_new0(FerryBgCall, 1);
    call->func = func;
    call->data = data;
    g_mutex_init(&call->lock);
    g_cond_init(&call->ended);
    call->thread = g_thread_new(name, run, call);
    return call;
}

gboolean ferry_bg_call_done(FerryBgCall *call)
{
    return g_atomic_int_get(&call->done);
}

gboolean ferry_bg_call_wait(FerryBgCall *call, guint timeout_ms)
{
    gint64 until = g_get_monotonic_time() + (gint64)timeout_ms * G_TIME_SPAN_MILLISECOND;
    g_mutex_lock(&call->lock);
    while (!g_atomic_int_get(&call->done) && g_cond_wait_until(&call->ended, &call->lock, until))
        ;
    gboolean done = g_atomic_int_get(&call->done);
    g_mutex_unlock(&call->lock);
    return done;
}

gboolean ferry_bg_call_failed(FerryBgCall *call)
{
    return g_atomic_int_get(&call->done) && call->rc < 0;
}

int ferry_bg_call_finish(FerryBgCall *call, virErrorPtr *error)
{
    g_thread_join(call->thread);
    g_mutex_clear(&call->lock);
    g_cond_clear(&call->ended);
    int rc = call->rc;
    if (error)
        *error = call->error;
    else if (call->error)
        virFreeError(call->error);
    g_free(call);
    return rc;
}

virDomainPtr ferry_side_domain(FerrySide *side, const char *uri, const char *uuid, virDomainPtr fallback)
{
    if (!side->dom) {
        if (!side->conn)
            side->conn = ferry_libvirt_open(uri, NULL);
        side->dom = side->conn ? virDomainLookupByUUIDString(side->conn, uuid) : NULL;
        virResetLastError();
    }
    return side->dom ? side->dom : fallback;
}

void ferry_side_abort(virDomainPtr dom)
{
    virDomainAbortJob(dom);
    virResetLastError();
}

void ferry_side_clear(FerrySide *side)
{
    g_clear_pointer(&side->dom, virDomainFree);
    g_clear_pointer(&side->conn, virConnectClose);
}
