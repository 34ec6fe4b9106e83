/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Storage on a host through its libvirt (see peer-storage.h). */
#include "peer-storage.h"

#include "libvirt-error.h"
#include "libvirt-autoptr.h"
#include "xml-read.h"

#include <libvirt/virterror.h>
#include <libxml/xpath.h>
#include <string.h>

void ferry_dir_pool_clear(FerryDirPool *p)
{
    if (p->pool && (p->started || p->transient) && virStoragePoolDestroy(p->pool) < 0)
        virResetLastError(); /* nothing better to do: the pool is only a view of the directory */
    g_clear_pointer(&p->pool, virStoragePoolFree);
}

static char *xpath_string(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr obj = ctx ? xmlXPathEvalExpression(BAD_CAST expr, ctx) : NULL;
    char *s = obj && obj->stringval && *obj->stringval ? g_strdup((const char *)obj->stringval) : NULL;
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctx);
    return s;
}

static gboolean same_dir(const char *a, const char *b)
{
    g_autofree char *ca = g_canonicalize_filename(a, "/");
    g_autofree char *cb = g_canonicalize_filename(b, "/");
    return g_str_equal(ca, cb);
}

/* The directory of @pool when it is a file-system pool, else NULL. Only these pools are
 * directories of image files; the others' target paths are device directories (/dev/...). */
static char *pool_dir_path(virStoragePoolPtr pool)
{
    g_autofree char *xml = virStoragePoolGetXMLDesc(pool, 0);
    xmlDocPtr doc = xml ? ferry_xml_read(xml, "the storage pool XML", "pool.xml", NULL) : NULL;
    virResetLastError();
    if (!doc)
        return NULL;
    g_autofree char *type = xpath_string(doc, "string(/pool/@type)");
    g_autofree char *path = xpath_string(doc, "string(/pool/target/path)");
    xmlFreeDoc(doc);
    if (!path || !g_path_is_absolute(path) ||
        !(g_strcmp0(type, "dir") == 0 || g_strcmp0(type, "fs") == 0 || g_strcmp0(type, "netfs") == 0))
        return NULL;
    return g_steal_pointer(&path);
}

/* Whether @pool is a file-system pool whose directory is @dir. */
static gboolean pool_is_dir(virStoragePoolPtr pool, const char *dir)
{
    g_autofree char *path = pool_dir_path(pool);
    return path && same_dir(path, dir);
}

GPtrArray *ferry_dir_pool_paths(virConnectPtr conn)
{
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(conn, &pools, 0);
    virResetLastError();
    for (int i = 0; i < n; i++) {
        char *path = pool_dir_path(pools[i]);
        if (path)
            g_ptr_array_add(paths, path);
        virStoragePoolFree(pools[i]);
    }
    g_free(pools);
    return paths;
}

static gboolean find_dir_pool(virConnectPtr conn, const char *dir, FerryDirPool *out, GError **error)
{
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(conn, &pools, 0);
    if (n < 0)
        return ferry_error_from_libvirt(error, "cannot list the storage pools");
    for (int i = 0; i < n; i++) {
        if (!out->pool && pool_is_dir(pools[i], dir))
            out->pool = g_steal_pointer(&pools[i]);
        else
            virStoragePoolFree(pools[i]);
    }
    g_free(pools);
    return TRUE;
}

static gboolean create_dir_pool(virConnectPtr conn, const char *dir, FerryDirPool *out, GError **error)
{
    g_autofree char *xml = g_markup_printf_escaped("<pool type='dir'><name>virt-ferry-%08x%08x</name>"
                                                   "<target><path>%s</path></target></pool>",
                                                   g_random_int(), g_random_int(), dir);
    out->pool = virStoragePoolCreateXML(conn, xml, 0);
    if (!out->pool)
        return ferry_error_from_libvirt(error, "cannot look at directory %s (it must exist there and libvirt "
                                               "must be able to read it)", dir);
    out->transient = TRUE;
    return TRUE;
}

/* @out's pool active, started for the question when it was not. */
static gboolean start_pool(FerryDirPool *out, const char *dir, GError **error)
{
    int active = virStoragePoolIsActive(out->pool);
    if (active == 0) {
        if (virStoragePoolCreate(out->pool, 0) < 0)
            return ferry_error_from_libvirt(error, "cannot start storage pool '%s' over %s",
                                            virStoragePoolGetName(out->pool), dir);
        out->started = TRUE;
    } else if (active < 0) {
        return ferry_error_from_libvirt(error, "cannot read storage pool '%s'", virStoragePoolGetName(out->pool));
    }
    return TRUE;
}

gboolean ferry_dir_pool_open(virConnectPtr conn, const char *dir, FerryDirPool *out, GError **error)
{
    if (!find_dir_pool(conn, dir, out, error))
        return FALSE;
    if (!out->pool) {
        g_autoptr(GError) first = NULL;
        if (create_dir_pool(conn, dir, out, &first))
            return TRUE;
        /* Another job may have made its own transient pool over @dir in between, and libvirt
         * refuses a second pool over one directory: use that one. */
        if (!find_dir_pool(conn, dir, out, error))
            return FALSE;
        if (!out->pool) {
            g_propagate_error(error, g_steal_pointer(&first));
            return FALSE;
        }
    }
    return start_pool(out, dir, error);
}

gboolean ferry_plain_absolute_path(const char *path)
{
    if (!path || !g_path_is_absolute(path) || g_str_has_suffix(path, "/"))
        return FALSE;
    for (const char *c = path; *c; c++)
        if (g_ascii_iscntrl(*c))
            return FALSE;
    g_auto(GStrv) parts = g_strsplit(path + 1, "/", -1);
    for (char **p = parts; *p; p++)
        if (!**p || g_str_equal(*p, ".") || g_str_equal(*p, ".."))
            return FALSE;
    return TRUE;
}

/* The host's own file-system pool over exactly @dir: persistent, so defined by its
 * administrator (a transient one may be another job's view of any directory). */
static gboolean find_own_pool(virConnectPtr conn, const char *dir, FerryDirPool *out, GError **error)
{
    if (!find_dir_pool(conn, dir, out, error))
        return FALSE;
    if (out->pool && virStoragePoolIsPersistent(out->pool) != 1) {
        virResetLastError();
        g_clear_pointer(&out->pool, virStoragePoolFree);
    }
    return TRUE;
}

/* The path of a disk image comes from a domain's definition, which is another host's word (a
 * peer's definition when a domain comes back, this host's when it leaves): root creates it
 * only where the host's administrator keeps images, never at any path it names. */
static gboolean open_own_pool_for(virConnectPtr conn, const char *path, FerryDirPool *p, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    if (!ferry_plain_absolute_path(path))
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT,
                               "the disk image path \"%s\" is not a plain absolute path (no \".\", \"..\" or "
                               "empty parts): name the image by its real path first", path);
    if (!find_own_pool(conn, dir, p, error))
        return FALSE;
    if (!p->pool)
        return ferry_error_set(error, FERRY_ERROR_UNSUPPORTED,
                               "%s is in no storage pool of the target host (virt-ferry creates disk images only "
                               "in a host's own dir, fs or netfs pools): define one over %s there (virsh "
                               "pool-define-as), or move the disk into a pool first (virt-ferry move-disk)",
                               path, dir);
    return start_pool(p, dir, error);
}

gboolean ferry_peer_create_volume(virConnectPtr conn, const char *path, guint64 capacity, const char *format,
                                  GError **error)
{
    g_autofree char *base = g_path_get_basename(path);
    g_auto(FerryDirPool) p = { 0 };
    if (!open_own_pool_for(conn, path, &p, error))
        return FALSE;
    if (virStoragePoolRefresh(p.pool, 0) < 0)
        virResetLastError();
    g_autoptr(virStorageVol) existing = virStorageVolLookupByName(p.pool, base);
    virResetLastError();
    if (existing) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                    "%s exists on the peer already; it is never overwritten: remove it there, or move the disk "
                    "elsewhere first", path);
        return FALSE;
    }
    g_autofree char *xml = g_markup_printf_escaped("<volume><name>%s</name><capacity unit='bytes'>%" G_GUINT64_FORMAT
                                                   "</capacity><allocation>0</allocation><target><format type='%s'/></target></volume>",
                                                   base, capacity, format);
    g_autoptr(virStorageVol) vol = virStorageVolCreateXML(p.pool, xml, 0);
    if (!vol)
        return ferry_error_from_libvirt(error, "cannot create %s on the peer", path);
    return TRUE;
}
