/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.PlanEvacuation and Manager.Evacuate: the engine's evacuations (plugin/evacuate.c)
 * on the bus. The option keys are checked here, as every Manager method's are; their values,
 * the plan and the job are the engine's. */
#include "daemon.h"

#include "evacuate.h"

/* The call's (as, a{sv}), its options' keys checked against @keys; FALSE once answered. */
static gboolean read_call(GDBusMethodInvocation *invocation, const char *const *keys, const char ***methods,
                          GVariant **options)
{
    g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(^a&s@a{sv})", methods, options);
    g_autoptr(GError) error = NULL;
    if (ferryd_check_options(*options, keys, &error))
        return TRUE;
    g_dbus_method_invocation_return_gerror(invocation, error);
    return FALSE;
}

/* ------------------------------------------------------------------ PlanEvacuation */

static void planned(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    g_autoptr(GError) error = NULL;
    GVariant *plan = ferry_evacuations_plan_finish(ferry_host_evacuations(call->daemon->host), res, &error);
    if (plan)
        ferry_bus_manager_complete_plan_evacuation(call->daemon->manager, call->invocation, plan);
    else
        g_dbus_method_invocation_return_gerror(call->invocation, error);
}

static void plan_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    g_autofree const char **methods = NULL;
    g_autoptr(GVariant) options = NULL;
    if (read_call(invocation, ferry_plan_option_keys, &methods, &options))
        ferry_evacuations_plan_async(ferry_host_evacuations(daemon->host), methods, options, NULL, planned,
                                     ferryd_call_new(daemon, invocation));
}

/* A dry run, yet the checks write marker files and open storage pools on the peers: the
 * evacuate action. */
static gboolean handle_plan(FerryBusManager *manager, GDBusMethodInvocation *invocation,
                            const char *const *methods, GVariant *options, FerrydDaemon *daemon)
{
    ferryd_authorize(daemon, invocation, ferry_job_kind_action(FERRY_JOB_EVACUATE), NULL,
                     NULL, "plan an evacuation", plan_authorized);
    return TRUE;
}

/* ------------------------------------------------------------------ Evacuate */

static void started(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autoptr(FerrydCall) call = data;
    g_autoptr(GError) error = NULL;
    FerryJob *job = ferry_evacuations_start_finish(ferry_host_evacuations(call->daemon->host), res, &error);
    ferryd_reply_job(call->daemon, call->invocation, job, error);
}

static void evacuate_authorized(FerrydDaemon *daemon, GDBusMethodInvocation *invocation, const char *uuid)
{
    g_autofree const char **methods = NULL;
    g_autoptr(GVariant) options = NULL;
    if (read_call(invocation, ferry_evacuate_option_keys, &methods, &options))
        ferry_evacuations_start_async(ferry_host_evacuations(daemon->host), methods, options, NULL, started,
                                      ferryd_call_new(daemon, invocation));
}

static gboolean handle_evacuate(FerryBusManager *manager, GDBusMethodInvocation *invocation,
                                const char *const *methods, GVariant *options, FerrydDaemon *daemon)
{
    ferryd_authorize(daemon, invocation, ferry_job_kind_action(FERRY_JOB_EVACUATE), NULL,
                     NULL, "evacuate", evacuate_authorized);
    return TRUE;
}

void ferryd_evacuations_setup(FerrydDaemon *daemon)
{
    g_signal_connect(daemon->manager, "handle-plan-evacuation", G_CALLBACK(handle_plan), daemon);
    g_signal_connect(daemon->manager, "handle-evacuate", G_CALLBACK(handle_evacuate), daemon);
}
