/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The local libvirtd's health, read through libvirt-admin (in a co-process): worker threads, job queue,
 * clients. Polled without blocking the main loop. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _FerryHealth FerryHealth;

/* @callback gets an a{sv} (reachable b, workers u, free_workers u, job_queue u, clients u,
 * max_clients u) in the main context after every poll. @uri: the libvirt-admin URI, NULL
 * for libvirt's default (libvirtd:///system as root). */
typedef void (*FerryHealthCallback)(GVariant *health, gpointer user_data);

FerryHealth *ferry_health_new(const char *uri, guint interval_seconds, FerryHealthCallback callback,
                              gpointer user_data);
/* Polls now (for example after libvirtd came back). */
void ferry_health_poll(FerryHealth *health);
void ferry_health_free(FerryHealth *health);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryHealth, ferry_health_free)

G_END_DECLS
