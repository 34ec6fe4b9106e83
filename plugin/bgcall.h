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
/* Whether the call has returned, failing. */
gboolean ferry_bg_call_failed(FerryBgCall *call);
/* Waits for the call and frees @call: its return value, and on failure libvirt's error for it
 * in *@error (free with virFreeError; NULL when libvirt set none). */
int ferry_bg_call_finish(FerryBgCall *call, virErrorPtr *error);

G_END_DECLS
