/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/virt-ferry/virt-ferry.conf (GKeyFile), see virt-ferry.conf(5). */
#pragma once

#include <glib.h>

#include "ferry-names.h" /* FERRY_DEFAULT_CONFIG and the default directories */

G_BEGIN_DECLS

#define FERRY_DEFAULT_LIBVIRT_URI "qemu:///system"
/* libvirt's own state, wherever virt-ferry is installed. */
#define FERRY_LIBVIRT_STATE_DIR "/var/lib/libvirt"
#define FERRY_DEFAULT_IMAGE_DIR FERRY_LIBVIRT_STATE_DIR "/images"

/* Read-only once loaded, and shared: the daemon and every job it starts hold a reference,
 * so a job never copies strings out of it. */
typedef struct {
    gatomicrefcount ref;
    char *path;             /* where it was read from */
    char *libvirt_uri;      /* [libvirt] uri= */
    GStrv peers;            /* [peers] uris=, never NULL */
    char *archive_library;  /* [archive] library= */
    char *image_dir;        /* [archive] image-dir=: where restored disks go when their path is taken */
    char *state_dir;        /* [state] dir=: this host's journal of interrupted jobs */
    char *networks_dir;     /* [networks] dir=: virt-ferry's declarations per libvirt network */
    char *failover_dir;     /* [failover] dir=: shared storage where hosts publish their domains; NULL: none */
    GStrv evacuation_methods;      /* [evacuation] methods=: default methods, never NULL (empty: C7's default) */
    guint evacuation_batch;        /* [evacuation] batch=: moves at once */
    guint evacuation_storage_per_source; /* [evacuation] storage-per-source=: storage migrations at once */
    double evacuation_memory_ratio; /* [evacuation] memory-ratio=: 1.0, no memory over-commit */
    double evacuation_vcpu_ratio;   /* [evacuation] vcpu-ratio=: vCPUs per host CPU */
    guint evacuation_peer_timeout;  /* [evacuation] peer-timeout=: s a peer's libvirt has to answer a plan */
    guint evacuation_reserve;       /* [evacuation] reserve=: host failures the cluster must absorb (D7); 0: none */
    GStrv unknown;                  /* groups and keys the file holds that nothing reads, never NULL:
                                     * "unknown group [G]", "unknown key K= in [G]"; warned about
                                     * by the programs that have somewhere to say it */
} FerryConfig;

#define FERRY_EVACUATION_BATCH 10
#define FERRY_EVACUATION_STORAGE_PER_SOURCE 3
#define FERRY_EVACUATION_MEMORY_RATIO 1.0
#define FERRY_EVACUATION_VCPU_RATIO 4.0  /* as Nova's initial_cpu_allocation_ratio */
#define FERRY_EVACUATION_PEER_TIMEOUT 20

/* Reads @path (NULL: the default path). A missing file gives the defaults; a file that
 * exists but does not parse, or holds a wrong value, is an error naming the line or key. */
FerryConfig *ferry_config_load(const char *path, GError **error);
FerryConfig *ferry_config_ref(FerryConfig *config);
void ferry_config_unref(FerryConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryConfig, ferry_config_unref)

G_END_DECLS
