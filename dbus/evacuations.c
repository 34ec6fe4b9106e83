/* Manager.PlanEvacuation and Manager.Evacuate (plugin/evacuate.c): the handlers only take the
 * call to the plugin after polkit and give its answer back. */
#include "daemon.h"

#include "evacuate.h"

typedef struct {
    FerryDaemon *daemon;
    GStrv methods;
    GVariant *options;
    GDBusMethodInvocation *invocation; /* set once authorized */
} EvacuationRequest;

static void request_free(EvacuationRequest *r)
{
    g_strfreev(r->methods);
    g_variant_unref(r->options);
    g_clear_object(&r->invocation);
    g_free(r);
}

static EvacuationRequest *request_new(FerryDaemon *daemon, const char *const *methods, GVariant *options)
{
    EvacuationRequest *r = g_new0(EvacuationRequest, 1);
    r->daemon = daemon;
    r->methods = g_strdupv((char **)methods);
    r->options = g_variant_ref(options);
    return r;
}

/* The authorization helper frees the request after the callback: the async call takes a copy. */
static EvacuationRequest *request_take(EvacuationRequest *r, GDBusMethodInvocation *invocation)
{
    EvacuationRequest *own = request_new(r->daemon, (const char *const *)r->methods, r->options);
    own->invocation = g_object_ref(invocation);
    return own;
}

static void planned(GObject *source, GAsyncResult *result, gpointer data)
{
    EvacuationRequest *r = data;
    GError *error = NULL;
    GVariant *plan = ferry_evacuations_plan_finish(r->daemon->evacuations, result, &error);
    if (plan)
        ferry_manager_complete_plan_evacuation(r->daemon->manager, r->invocation, plan);
    else
        g_dbus_method_invocation_return_gerror(r->invocation, error);
    g_clear_error(&error);
    g_clear_object(&r->invocation); /* answered */
    request_free(r);
}

/* The option keys are checked here, as every Manager method's are; the values in the plugin. */
static gboolean options_known(EvacuationRequest *r, GDBusMethodInvocation *invocation, const char *const *keys)
{
    GError *error = NULL;
    if (ferry_daemon_check_options(r->options, keys, &error))
        return TRUE;
    g_dbus_method_invocation_return_gerror(invocation, error);
    g_error_free(error);
    return FALSE;
}

static void plan_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    if (!options_known(data, invocation, ferry_plan_option_keys))
        return;
    EvacuationRequest *r = request_take(data, invocation);
    ferry_evacuations_plan_async(r->daemon->evacuations, (const char *const *)r->methods, r->options, NULL,
                                 planned, r);
}

static gboolean handle_plan(FerryManager *manager, GDBusMethodInvocation *invocation, const char *const *methods,
                            GVariant *options, FerryDaemon *daemon)
{
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_EVACUATE, NULL, "plan an evacuation", plan_authorized,
                    request_new(daemon, methods, options), (GDestroyNotify)request_free);
    return TRUE;
}

static void started(GObject *source, GAsyncResult *result, gpointer data)
{
    EvacuationRequest *r = data;
    GError *error = NULL;
    FerryJob *job = ferry_evacuations_start_finish(r->daemon->evacuations, result, &error);
    ferry_daemon_reply_job(r->daemon, r->invocation, job, error, ferry_manager_complete_evacuate);
    g_clear_error(&error);
    request_free(r);
}

static void evacuate_authorized(GDBusMethodInvocation *invocation, gpointer data)
{
    if (!options_known(data, invocation, ferry_evacuate_option_keys))
        return;
    EvacuationRequest *r = request_take(data, invocation);
    ferry_evacuations_start_async(r->daemon->evacuations, (const char *const *)r->methods, r->options, NULL,
                                  started, r);
}

static gboolean handle_evacuate(FerryManager *manager, GDBusMethodInvocation *invocation,
                                const char *const *methods, GVariant *options, FerryDaemon *daemon)
{
    ferry_authorize(daemon->authz, invocation, FERRY_ACTION_EVACUATE, NULL, "evacuate", evacuate_authorized,
                    request_new(daemon, methods, options), (GDestroyNotify)request_free);
    return TRUE;
}

void ferry_daemon_evacuations_setup(FerryDaemon *daemon)
{
    daemon->evacuations = ferry_evacuations_new(daemon->jobs, daemon->config);
    g_signal_connect(daemon->manager, "handle-plan-evacuation", G_CALLBACK(handle_plan), daemon);
    g_signal_connect(daemon->manager, "handle-evacuate", G_CALLBACK(handle_evacuate), daemon);
}
