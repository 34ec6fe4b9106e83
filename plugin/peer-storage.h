/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage on a host through its libvirt only (the host may be another one): the storage
 * pool over a directory, and disk images created there (a storage migration's target disks). */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

/* A storage pool over one directory, found or made for a question and put back after it. */
typedef struct {
    virStoragePoolPtr pool;
    gboolean started;   /* it was inactive and was started: stopped again by the clear */
    gboolean transient; /* it was created: destroying it removes it (the files stay) */
} FerryDirPool;

void ferry_dir_pool_clear(FerryDirPool *p);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FerryDirPool, ferry_dir_pool_clear)

/* The pool over @dir on @conn's host, active: the host's own dir/fs/netfs pool (started for
 * the question if inactive), else a transient dir pool. Errors name the directory. */
gboolean ferry_dir_pool_open(virConnectPtr conn, const char *dir, FerryDirPool *out, GError **error);

/* The directories of @conn's host's dir, fs and netfs storage pools (none when they cannot
 * be listed). */
GPtrArray *ferry_dir_pool_paths(virConnectPtr conn);

/* Whether @path is absolute with no ".", ".." or empty part and no control character:
 * what it names is where it ends, whatever links the host has. */
gboolean ferry_plain_absolute_path(const char *path);

/* Creates the image @path (@format "qcow2" or "raw", @capacity bytes) on @conn's host, only
 * in one of that host's own (persistent) dir, fs or netfs pools: Unsupported elsewhere,
 * InvalidArgument for a path that is not plain. Busy when a file is there already (it is
 * never overwritten). */
gboolean ferry_peer_create_volume(virConnectPtr conn, const char *path, guint64 capacity, const char *format,
                                  GError **error);

G_END_DECLS
