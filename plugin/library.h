/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive library: one directory per archive, named by its id, with a manifest that
 * records what was saved, from where, when, and each file's size and digest. Archives
 * are written under a hidden ".partial-<id>" name and renamed into place when complete, so
 * a reader never sees half an archive. */
#pragma once

#include <gio/gio.h>

#include "copy.h"
#include "names.h"

G_BEGIN_DECLS

#define FERRY_ARCHIVE_FORMAT 1
#define FERRY_MANIFEST_NAME "manifest"
#define FERRY_MANIFEST_DIGEST_NAME "manifest.digest"
#define FERRY_PARTIAL_PREFIX ".partial-"
/* An archive being deleted: out of the listing, then removed. */
#define FERRY_DELETING_PREFIX ".deleting-"

typedef enum {
    FERRY_FILE_MEMORY,      /* libvirt's save image */
    FERRY_FILE_DOMAIN_XML,  /* the persistent definition */
    FERRY_FILE_DISK,
    FERRY_FILE_NVRAM,
    FERRY_FILE_TPM,
} FerryFileRole;

typedef struct {
    char *path;             /* relative to the archive directory */
    FerryFileRole role;
    guint64 size;
    guint64 allocated;      /* bytes of data (what a copy moves; the rest are holes) */
    char *digest;
    char *target;           /* disks: "vda" */
    char *source;           /* disks, NVRAM, TPM: the path on the source host */
    char *format;           /* disks: "qcow2" */
} FerryManifestFile;

typedef struct {
    char *mac, *type, *network, *portgroup, *bridge;
    int vlan;               /* -1: none */
    gboolean trunk;
    gboolean distributed;   /* its switch was Open vSwitch (a distributed switch) */
} FerryManifestNic;

typedef struct {
    char *id;
    char *domain;
    char *uuid;
    char *source_host;
    gint64 created;         /* unix usec */
    char *state;            /* "running", "paused", "shutoff" */
    char *libvirt_version, *qemu_version, *cpu_model, *domain_type;
    guint64 memory_kib;
    guint vcpus;
    GStrv notes;
    GPtrArray *files;       /* FerryManifestFile */
    GPtrArray *nics;        /* FerryManifestNic */
    guint64 allocated;      /* bytes the archive occupies (filled by ferry_library_*) */
    char *problem;          /* ferry_library_list: why the archive cannot be used, else NULL */
} FerryManifest;

FerryManifest *ferry_manifest_new(void);
void ferry_manifest_free(FerryManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FerryManifest, ferry_manifest_free)
FerryManifestFile *ferry_manifest_add_file(FerryManifest *m, const char *path, FerryFileRole role,
                                           const FerryFileDigest *digest);
gboolean ferry_manifest_has_memory(const FerryManifest *m);
const FerryManifestFile *ferry_manifest_find(const FerryManifest *m, FerryFileRole role);
/* Whether @digest, read from @f of archive @archive, is the manifest's; else Failed saying the
 * archive is corrupted. */
gboolean ferry_manifest_file_matches(const FerryManifestFile *f, const FerryFileDigest *digest, const char *archive,
                                     GError **error);

/* Writes the manifest and its own digest into @dir, synced. */
gboolean ferry_manifest_save(const FerryManifest *m, const char *dir, GError **error);
/* Reads it back, checking its digest (a changed manifest is reported as corrupted). The
 * manifest and its digest are read without following links or blocking (a FIFO), and only
 * when they are regular files of bounded size: Failed naming the file otherwise. */
FerryManifest *ferry_manifest_load(const char *dir, GError **error);

/* A new id for @domain_name at @created: the name made safe for a file name, then the UTC
 * time (db_201-20261123T101500Z), unique in @library. */
char *ferry_archive_id_make(const char *library, const char *domain_name, gint64 created);

/* InvalidArgument (saying what to chmod or chown) unless @path is a directory, not a link,
 * owned by root (or this process's user) and writable by nobody else: virt-ferryd restores
 * what it finds there as root. @what names it in the message ("the archive library"). */
gboolean ferry_library_check_dir(const char *path, const char *what, GError **error);

/* The archive's directory; NotFound when there is none; InvalidArgument when the library or
 * the archive directory fails ferry_library_check_dir. A directory without a (readable)
 * manifest is returned: ferry_manifest_load names what is missing. */
char *ferry_library_archive_dir(const char *library, const char *id, GError **error);
/* Every archive, oldest first. One that cannot be used (no manifest, a damaged one, an
 * unsafe directory) is listed too, with only its id and @problem set (and a warning), so it
 * is seen and can be removed. Nothing when the library itself is unsafe (a warning). */
GPtrArray *ferry_library_list(const char *library);
/* Removes the archive @id from @library, usable or damaged (no manifest, a link in its
 * place, an unsafe directory): NotFound when there is none; InvalidArgument when the
 * library itself is unsafe. Never follows a link out of the library (ferry_remove_tree). */
gboolean ferry_library_delete(const char *library, const char *id, GError **error);
/* Reads every file (but those whose role is in @skip_roles, a mask of 1 << FerryFileRole)
 * and compares size and digest with the manifest; Failed naming the first file that
 * differs or is missing. @progress gets bytes read so far. */
gboolean ferry_library_verify(const char *dir, const FerryManifest *m, guint skip_roles, GCancellable *cancellable,
                              FerryCopyProgress progress, gpointer user_data, GError **error);
/* Bytes of data a verify (or a restore) reads. */
guint64 ferry_manifest_data_size(const FerryManifest *m);

G_END_DECLS
