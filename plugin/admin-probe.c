/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-admin-probe: reads the local libvirtd's health through libvirt-admin for
 * virt-ferryd.
 *
 * Why a separate process: libvirt 9.0's libvirt.so and libvirt-admin.so each carry their own
 * copy of libvirt's object types and register them under the same GType names, so the two
 * libraries cannot work in one process (the second registration fails and libvirt-admin
 * cannot create its connection object). virt-ferryd keeps this co-process running and asks
 * for one reading per line on stdin ("poll"); each answer is one line on stdout, an a{sv} in
 * GVariant text format: reachable b, workers u, free_workers u, job_queue u, clients u,
 * max_clients u. The admin connection stays open between polls and is reopened after
 * libvirtd restarts. EOF on stdin ends the probe. */
#include <glib.h>
#include <libvirt/libvirt-admin.h>
#include <libvirt/virterror.h>
#include <stdio.h>

#define SERVER_NAME "libvirtd"

static void ignore_libvirt_error(void *data, virErrorPtr error)
{
    /* Errors are answered as reachable=false; libvirt's default handler would print them. */
}

static guint typed_uint(virTypedParameterPtr params, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (!g_str_equal(params[i].field, name))
            continue;
        switch (params[i].type) {
        case VIR_TYPED_PARAM_UINT: return params[i].value.ui;
        case VIR_TYPED_PARAM_ULLONG: return (guint)MIN(params[i].value.ul, G_MAXUINT);
        case VIR_TYPED_PARAM_INT: return (guint)MAX(params[i].value.i, 0);
        default: return 0;
        }
    }
    return 0;
}

static void add_uint(GVariantBuilder *b, const char *key, guint value)
{
    g_variant_builder_add(b, "{sv}", key, g_variant_new_uint32(value));
}

/* One reading; closes *admin when it failed so that the next poll reconnects. */
static GVariant *read_health(virAdmConnectPtr *admin, const char *uri)
{
    GVariantBuilder b;
    virAdmServerPtr server = NULL;
    virTypedParameterPtr pool = NULL, clients = NULL;
    int npool = 0, nclients = 0;
    gboolean ok = FALSE;

    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    if (!*admin)
        *admin = virAdmConnectOpen(uri, 0);
    if (*admin && (server = virAdmConnectLookupServer(*admin, SERVER_NAME, 0)) &&
        virAdmServerGetThreadPoolParameters(server, &pool, &npool, 0) == 0 &&
        virAdmServerGetClientLimits(server, &clients, &nclients, 0) == 0) {
        ok = TRUE;
        add_uint(&b, "workers", typed_uint(pool, npool, VIR_THREADPOOL_WORKERS_CURRENT));
        add_uint(&b, "free_workers", typed_uint(pool, npool, VIR_THREADPOOL_WORKERS_FREE));
        add_uint(&b, "job_queue", typed_uint(pool, npool, VIR_THREADPOOL_JOB_QUEUE_DEPTH));
        add_uint(&b, "clients", typed_uint(clients, nclients, VIR_SERVER_CLIENTS_CURRENT));
        add_uint(&b, "max_clients", typed_uint(clients, nclients, VIR_SERVER_CLIENTS_MAX));
    }
    if (!ok && *admin) {
        virAdmConnectClose(*admin);
        *admin = NULL;
    }
    virTypedParamsFree(pool, npool);
    virTypedParamsFree(clients, nclients);
    if (server)
        virAdmServerFree(server);
    g_variant_builder_add(&b, "{sv}", "reachable", g_variant_new_boolean(ok));
    return g_variant_ref_sink(g_variant_builder_end(&b));
}

int main(int argc, char **argv)
{
    /* The admin URI, or libvirt's default (libvirtd:///system as root). */
    const char *uri = argc > 1 && *argv[1] ? argv[1] : NULL;
    virAdmConnectPtr admin = NULL;
    char line[64];

    virAdmInitialize();
    virSetErrorFunc(NULL, ignore_libvirt_error);
    while (fgets(line, sizeof line, stdin)) {
        g_autoptr(GVariant) health = read_health(&admin, uri);
        g_autofree char *text = g_variant_print(health, TRUE);
        if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
            break;
    }
    if (admin)
        virAdmConnectClose(admin);
    return 0;
}
