/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "worker.h"

struct _FerryWorker {
    GThreadPool *pool;
};

typedef struct {
    GTask *task;
    GTaskThreadFunc func;
} WorkItem;

static void run_item(gpointer data, gpointer user_data)
{
    WorkItem *item = data;
    item->func(item->task, g_task_get_source_object(item->task), g_task_get_task_data(item->task),
               g_task_get_cancellable(item->task));
    g_object_unref(item->task);
    g_free(item);
}

FerryWorker *ferry_worker_new(void)
{
    FerryWorker *worker = g_new0(FerryWorker, 1);
    /* One exclusive thread: order matters more than parallelism here. */
    worker->pool = g_thread_pool_new(run_item, worker, 1, TRUE, NULL);
    return worker;
}

void ferry_worker_free(FerryWorker *worker)
{
    if (!worker)
        return;
    g_thread_pool_free(worker->pool, FALSE, TRUE);
    g_free(worker);
}

void ferry_worker_run(FerryWorker *worker, GTask *task, GTaskThreadFunc func)
{
    WorkItem *item = g_new0(WorkItem, 1);
    item->task = g_object_ref(task);
    item->func = func;
    g_thread_pool_push(worker->pool, item, NULL);
}
