#include "health.h"

#include <libvirt/libvirt-admin.h>
#include <libvirt/virterror.h>

/* What a poll thread uses; reference-counted, since a poll may outlive its FerryHealth. */
typedef struct {
    char *uri;
    GMutex lock;
    virAdmConnectPtr admin;
} AdminLink;

struct _FerryHealth {
    AdminLink *link;
    FerryHealthCallback callback;
    gpointer user_data;
    guint timer;
    gboolean polling;
    GCancellable *cancellable;
};

static void admin_link_clear(gpointer data)
{
    AdminLink *link = data;
    if (link->admin)
        virAdmConnectClose(link->admin);
    g_mutex_clear(&link->lock);
    g_free(link->uri);
}

static void admin_link_release(gpointer link)
{
    g_atomic_rc_box_release_full(link, admin_link_clear);
}

static guint typed_uint(virTypedParameterPtr params, int n, const char *name)
{
    unsigned int value = 0;
    for (int i = 0; i < n; i++)
        if (g_str_equal(params[i].field, name)) {
            if (params[i].type == VIR_TYPED_PARAM_UINT)
                value = params[i].value.ui;
            else if (params[i].type == VIR_TYPED_PARAM_ULLONG)
                value = (guint)params[i].value.ul;
            else if (params[i].type == VIR_TYPED_PARAM_INT)
                value = (guint)MAX(params[i].value.i, 0);
        }
    return value;
}

static GVariant *read_health(AdminLink *h)
{
    GVariantBuilder b;
    virAdmServerPtr server = NULL;
    virTypedParameterPtr pool = NULL, clients = NULL;
    int npool = 0, nclients = 0;
    gboolean ok = FALSE;

    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    g_mutex_lock(&h->lock);
    if (!h->admin)
        h->admin = virAdmConnectOpen(h->uri, 0);
    if (h->admin && (server = virAdmConnectLookupServer(h->admin, "libvirtd", 0)) &&
        virAdmServerGetThreadPoolParameters(server, &pool, &npool, 0) == 0 &&
        virAdmServerGetClientLimits(server, &clients, &nclients, 0) == 0) {
        ok = TRUE;
        g_variant_builder_add(&b, "{sv}", "workers", g_variant_new_uint32(typed_uint(pool, npool, "nWorkers")));
        g_variant_builder_add(&b, "{sv}", "free_workers", g_variant_new_uint32(typed_uint(pool, npool, "freeWorkers")));
        g_variant_builder_add(&b, "{sv}", "job_queue", g_variant_new_uint32(typed_uint(pool, npool, "jobQueueDepth")));
        g_variant_builder_add(&b, "{sv}", "clients", g_variant_new_uint32(typed_uint(clients, nclients, "nclients")));
        g_variant_builder_add(&b, "{sv}", "max_clients", g_variant_new_uint32(typed_uint(clients, nclients, "nclients_max")));
    }
    if (!ok && h->admin) {
        /* Start over next time: libvirtd may have restarted. */
        virAdmConnectClose(h->admin);
        h->admin = NULL;
    }
    g_mutex_unlock(&h->lock);
    virTypedParamsFree(pool, npool);
    virTypedParamsFree(clients, nclients);
    if (server)
        virAdmServerFree(server);
    virResetLastError();
    g_variant_builder_add(&b, "{sv}", "reachable", g_variant_new_boolean(ok));
    return g_variant_ref_sink(g_variant_builder_end(&b));
}

static void poll_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
    g_task_return_pointer(task, read_health(data), (GDestroyNotify)g_variant_unref);
}

static void poll_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr(GVariant) health = g_task_propagate_pointer(G_TASK(res), NULL);
    if (!health)
        return; /* cancelled: the FerryHealth is gone */
    FerryHealth *h = user_data;
    h->polling = FALSE;
    h->callback(health, h->user_data);
}

void ferry_health_poll(FerryHealth *h)
{
    if (h->polling)
        return;
    h->polling = TRUE;
    g_autoptr(GTask) task = g_task_new(NULL, h->cancellable, poll_done, h);
    g_task_set_task_data(task, g_atomic_rc_box_acquire(h->link), admin_link_release);
    g_task_set_return_on_cancel(task, TRUE);
    g_task_run_in_thread(task, poll_in_thread);
}

static gboolean poll_timer(gpointer data)
{
    ferry_health_poll(data);
    return G_SOURCE_CONTINUE;
}

FerryHealth *ferry_health_new(const char *uri, guint interval_seconds, FerryHealthCallback callback,
                              gpointer user_data)
{
    FerryHealth *h = g_new0(FerryHealth, 1);
    h->link = g_atomic_rc_box_new0(AdminLink);
    h->link->uri = g_strdup(uri);
    g_mutex_init(&h->link->lock);
    h->callback = callback;
    h->user_data = user_data;
    h->cancellable = g_cancellable_new();
    h->timer = g_timeout_add_seconds(interval_seconds, poll_timer, h);
    ferry_health_poll(h);
    return h;
}

void ferry_health_free(FerryHealth *h)
{
    if (!h)
        return;
    g_clear_handle_id(&h->timer, g_source_remove);
    g_cancellable_cancel(h->cancellable);
    admin_link_release(h->link);
    g_object_unref(h->cancellable);
    g_free(h);
}
