/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A serial worker thread for libvirt calls: the main loop never waits on libvirtd, and
 * the calls for one host run (and report back) in the order they were queued, so a
 * domain's events are applied in the order libvirt sent them. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _FerryWorker FerryWorker;

FerryWorker *ferry_worker_new(void);
/* Waits for queued work to finish, then frees the worker. */
void ferry_worker_free(FerryWorker *worker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryWorker, ferry_worker_free)

/* Runs @func in the worker thread, like g_task_run_in_thread(): @task's callback runs
 * in the task's main context once @func returned its result. */
void ferry_worker_run(FerryWorker *worker, GTask *task, GTaskThreadFunc func);

G_END_DECLS
