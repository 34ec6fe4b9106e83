/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration methods and pre-flight checks. See migrate-check.h. */
#include "migrate-check.h"

#include "peer-storage.h"

#include "domxml.h"
#include "libvirt-error.h"
#include "libvirt-autoptr.h"
#include "policy.h"
#include "xml-read.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <libxml/tree.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)

#define MIB (1024 * 1024)

/* The pre-flight check: free space on the target >= 3x the disks. The rule comes from
 * XenServer's storage live migration; here it leaves room for the copy, for a sparse
 * copy that comes out less sparse than its source, and for what is left of a failed
 * earlier attempt. */
#define TARGET_SPACE_FACTOR 3

/* ------------------------------------------------------------------ methods */

static const char *const method_names[FERRY_METHOD_N] = {
    [FERRY_METHOD_MIGRATION] = "migration",
    [FERRY_METHOD_QUICK_MIGRATION] = "quick-migration",
    [FERRY_METHOD_MOVE] = "move",
    [FERRY_METHOD_STORAGE_MIGRATION] = "storage-migration",
    [FERRY_METHOD_FAILOVER] = "failover",
};

const char *ferry_method_name(FerryMethod method)
{
    return (guint)method < FERRY_METHOD_N ? method_names[method] : NULL;
}

gboolean ferry_method_from_name(const char *name, FerryMethod *method)
{
    if (!name || !g_utf8_validate(name, -1, NULL))
        return FALSE;
    /* People write "Quick Migration" (the requirements do) or quick_migration (a{sv} habits). */
    g_autofree char *key = g_ascii_strdown(name, -1);
    g_strdelimit(key, "_ ", '-');
    for (guint i = 0; i < FERRY_METHOD_N; i++) {
        if (g_str_equal(key, method_names[i])) {
            if (method)
                *method = i;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean ferry_method_is_live(FerryMethod method)
{
    return method == FERRY_METHOD_MIGRATION || method == FERRY_METHOD_QUICK_MIGRATION ||
           method == FERRY_METHOD_STORAGE_MIGRATION;
}

static gboolean bad_method(GError **error, const char *name, const char *why)
{
    g_autofree char *shown = g_utf8_validate(name, -1, NULL) ? g_strescape(name, NULL) : g_strdup("(not UTF-8)");
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                "method \"%s\" %s; the methods are: migration, quick-migration, move, storage-migration, "
                "failover (none given: migration, failover)", shown, why);
    return FALSE;
}

gboolean ferry_methods_parse(const char *const *names, GArray **out, GError **error)
{
    gboolean seen[FERRY_METHOD_N] = { FALSE };
    guint n = 0;
    for (; names && names[n]; n++) {
        FerryMethod m;
        if (!ferry_method_from_name(names[n], &m))
            return bad_method(error, names[n], "is not a migration method");
        if (seen[m])
            return bad_method(error, names[n], "is given twice");
        seen[m] = TRUE;
    }
    if (n == 0) /* C7: the default list */
        seen[FERRY_METHOD_MIGRATION] = seen[FERRY_METHOD_FAILOVER] = TRUE;
    /* The canonical order is the enum order, so walking the enum sorts the list. */
    GArray *methods = g_array_new(FALSE, FALSE, sizeof(FerryMethod));
    for (FerryMethod m = 0; m < FERRY_METHOD_N; m++)
        if (seen[m])
            g_array_append_val(methods, m);
    *out = methods;
    return TRUE;
}

/* ------------------------------------------------------------------ small helpers */

/* The host's name for messages: its hostname, else its URI. */
static char *host_name(virConnectPtr conn)
{
    char *name = virConnectGetHostname(conn);
    if (!name) {
        virResetLastError();
        name = virConnectGetURI(conn);
        virResetLastError();
    }
    return name ? name : g_strdup("the other host");
}

static guint64 to_mib(guint64 bytes)
{
    return (bytes + MIB - 1) / MIB; /* rounded up: "needs 1 MiB" rather than "needs 0 MiB" */
}

/* @arg as a shell word in the commands we suggest: bare when nothing needs quoting. */
static char *shell_word(const char *arg)
{
    gboolean plain = *arg != '\0';
    for (const char *p = arg; *p && plain; p++)
        plain = g_ascii_isalnum(*p) || strchr("_.,:/@%+=-", *p);
    return plain ? g_strdup(arg) : g_shell_quote(arg);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && g_str_equal((const char *)c->name, name))
            return c;
    return NULL;
}

static gboolean is_elem(xmlNodePtr node, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && g_str_equal((const char *)node->name, name);
}

/* g_free-able copies of what libxml2 returns. */
static char *prop(xmlNodePtr node, const char *name)
{
    if (!node)
        return NULL;
    xmlChar *v = xmlGetProp(node, (const xmlChar *)name);
    char *copy = g_strdup((const char *)v);
    xmlFree(v);
    return copy;
}

static char *text(xmlNodePtr node)
{
    if (!node)
        return NULL;
    xmlChar *v = xmlNodeGetContent(node);
    char *copy = v ? g_strstrip(g_strdup((const char *)v)) : NULL;
    xmlFree(v);
    return copy;
}

/* The document's root element when it is @root, else InvalidArgument. */
static xmlNodePtr read_root(const char *xml, const char *root, const char *what, xmlDoc **doc, GError **error)
{
    *doc = ferry_xml_read(xml ? xml : "", what, root, error);
    if (!*doc)
        return NULL;
    xmlNodePtr r = xmlDocGetRootElement(*doc);
    if (!is_elem(r, root)) {
        ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "%s is not a <%s> document", what, root);
        return NULL;
    }
    return r;
}

/* Same directory: compared as canonical absolute paths ("/a/b/" is "/a/b"). */
static gboolean same_dir(const char *a, const char *b)
{
    g_autofree char *ca = g_canonicalize_filename(a, "/");
    g_autofree char *cb = g_canonicalize_filename(b, "/");
    return g_str_equal(ca, cb);
}

/* ------------------------------------------------------------------ versions */

char *ferry_version_string(gulong version)
{
    return g_strdup_printf("%lu.%lu.%lu", version / 1000000, version / 1000 % 1000, version % 1000);
}

gboolean ferry_migrate_check_version_pair(const char *what, const char *src_host, gulong src_version,
                                  const char *dst_host, gulong dst_version, GError **error)
{
    if (src_version == 0 || dst_version == 0 || dst_version >= src_version)
        return TRUE;
    g_autofree char *s = ferry_version_string(src_version);
    g_autofree char *d = ferry_version_string(dst_version);
    /* An older target may not know what the domain's definition or migration stream uses;
     * libvirt does not promise that a migration backwards works. */
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE,
                "%s on %s is %s, older than %s on %s: a domain cannot be moved to an older %s. Upgrade %s "
                "on %s, or choose a peer with %s %s or newer.",
                what, dst_host, d, s, src_host, what, what, dst_host, what, s);
    return FALSE;
}

typedef struct {
    char *host;
    char *hv_type;   /* "QEMU" */
    gulong lib;
    gulong hv;
} Versions;

static void versions_clear(Versions *v)
{
    g_free(v->host);
    g_free(v->hv_type);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Versions, versions_clear)

static gboolean read_versions(virConnectPtr conn, Versions *v, GError **error)
{
    v->host = host_name(conn);
    if (virConnectGetLibVersion(conn, &v->lib) < 0)
        return ferry_error_from_libvirt(error, "cannot read the libvirt version of %s", v->host);
    const char *type = virConnectGetType(conn);
    if (!type)
        return ferry_error_from_libvirt(error, "cannot read the hypervisor type of %s", v->host);
    v->hv_type = g_strdup(type);
    if (virConnectGetVersion(conn, &v->hv) < 0)
        return ferry_error_from_libvirt(error, "cannot read the %s version of %s", type, v->host);
    return TRUE;
}

gboolean ferry_migrate_check_versions(virConnectPtr src, virConnectPtr dst, GError **error)
{
    g_auto(Versions) s = { 0 };
    g_auto(Versions) d = { 0 };
    if (!read_versions(src, &s, error) || !read_versions(dst, &d, error))
        return FALSE;
    if (g_ascii_strcasecmp(s.hv_type, d.hv_type) != 0) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE,
                    "%s runs %s and %s runs %s: a domain moves only between hosts of the same hypervisor; "
                    "choose a peer whose libvirt runs %s",
                    s.host, s.hv_type, d.host, d.hv_type, s.hv_type);
        return FALSE;
    }
    return ferry_migrate_check_version_pair("libvirt", s.host, s.lib, d.host, d.lib, error) &&
           ferry_migrate_check_version_pair(s.hv_type, s.host, s.hv, d.host, d.hv, error);
}

/* ------------------------------------------------------------------ CPU */

typedef struct {
    char *arch, *vendor, *model;
    GPtrArray *features; /* sorted names */
} HostCpu;

static void host_cpu_clear(HostCpu *c)
{
    g_free(c->arch);
    g_free(c->vendor);
    g_free(c->model);
    g_clear_pointer(&c->features, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(HostCpu, host_cpu_clear)

static gint compare_strings(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

static gboolean read_host_cpu(const char *caps, const char *host, HostCpu *cpu, GError **error)
{
    g_autofree char *what = g_strdup_printf("the capabilities of %s", host);
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root = read_root(caps, "capabilities", what, &doc, error);
    if (!root)
        return FALSE;
    xmlNodePtr c = child(child(root, "host"), "cpu");
    cpu->arch = text(child(c, "arch"));
    cpu->vendor = text(child(c, "vendor"));
    cpu->model = text(child(c, "model"));
    cpu->features = g_ptr_array_new_with_free_func(g_free);
    for (xmlNodePtr f = c ? c->children : NULL; f; f = f->next) {
        g_autofree char *name = is_elem(f, "feature") ? prop(f, "name") : NULL;
        if (name)
            g_ptr_array_add(cpu->features, g_steal_pointer(&name));
    }
    g_ptr_array_sort(cpu->features, compare_strings);
    if (!cpu->arch)
        return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "%s name no host CPU architecture", what);
    return TRUE;
}

static gboolean same_features(GPtrArray *a, GPtrArray *b)
{
    if (a->len != b->len)
        return FALSE;
    for (guint i = 0; i < a->len; i++)
        if (!g_str_equal(a->pdata[i], b->pdata[i]))
            return FALSE;
    return TRUE;
}

static char *describe_cpu(const HostCpu *c)
{
    return g_strdup_printf("%s%s%s%s%s", c->vendor ? c->vendor : "", c->vendor ? " " : "",
                           c->model ? c->model : "CPU", ", ", c->arch);
}

gboolean ferry_migrate_check_host_cpus(const char *src_caps, const char *src_host, const char *dst_caps,
                               const char *dst_host, FerryCpuMatch match, GError **error)
{
    g_auto(HostCpu) s = { 0 };
    g_auto(HostCpu) d = { 0 };
    if (!read_host_cpu(src_caps, src_host, &s, error) || !read_host_cpu(dst_caps, dst_host, &d, error))
        return FALSE;
    const char *why = NULL;
    if (!g_str_equal(s.arch, d.arch))
        why = "a domain runs only on hosts of its architecture";
    else if (match >= FERRY_CPU_MATCH_VENDOR && s.vendor && d.vendor && !g_str_equal(s.vendor, d.vendor))
        why = "a running domain cannot move between CPU vendors (its CPU state and the features it "
              "relies on differ)";
    else if (match == FERRY_CPU_MATCH_IDENTICAL &&
             (g_strcmp0(s.vendor, d.vendor) != 0 || g_strcmp0(s.model, d.model) != 0))
        why = "the domain sees the host's own CPU (host-passthrough), so it can only be live-migrated "
              "to an identical CPU";
    else if (match == FERRY_CPU_MATCH_IDENTICAL && !same_features(s.features, d.features))
        why = "the two CPUs have different features, and the domain sees the host's own CPU "
              "(host-passthrough), so it can only be live-migrated to an identical CPU";
    if (!why)
        return TRUE;
    g_autofree char *sd = describe_cpu(&s);
    g_autofree char *dd = describe_cpu(&d);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE, "the CPU of %s (%s) does not match the CPU of %s (%s): %s",
                dst_host, dd, src_host, sd, why);
    return FALSE;
}

/* The domain's XML as a migration sends it, with a host-model CPU expanded to what it
 * really is (UPDATE_CPU). Drivers that refuse that flag (the test driver) get asked
 * without it: the live XML of a running QEMU domain already shows the expanded CPU. */
static char *migratable_xml(virDomainPtr dom, GError **error)
{
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_UPDATE_CPU);
    if (!xml && virGetLastErrorCode() == VIR_ERR_INVALID_ARG) {
        virResetLastError();
        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_MIGRATABLE);
    }
    if (!xml)
        ferry_error_from_libvirt(error, "cannot read the definition of domain '%s'", virDomainGetName(dom));
    return xml;
}

/* Compares the hosts' CPUs from their capabilities. */
static gboolean check_hosts_cpu(virConnectPtr src, virConnectPtr dst, FerryCpuMatch match, GError **error)
{
    g_autofree char *sh = host_name(src);
    g_autofree char *dh = host_name(dst);
    g_autofree char *sc = virConnectGetCapabilities(src);
    if (!sc)
        return ferry_error_from_libvirt(error, "cannot read the capabilities of %s", sh);
    g_autofree char *dc = virConnectGetCapabilities(dst);
    if (!dc)
        return ferry_error_from_libvirt(error, "cannot read the capabilities of %s", dh);
    return ferry_migrate_check_host_cpus(sc, sh, dc, dh, match, error);
}

/* Asks the target's libvirt whether it can give the domain this <cpu>:
 * virConnectCompareHypervisorCPU (what QEMU on the target can provide), else
 * virConnectCompareCPU (the target's host CPU; less exact, libvirt's older API). When the
 * driver has neither (the test driver), only the architecture and vendor of the two hosts
 * are compared: that is all we can know, and the migration itself stays the final judge
 * (libvirt refuses a CPU the target cannot run before the domain leaves the source). */
static gboolean compare_cpu(virConnectPtr src, virConnectPtr dst, const char *cpu_xml, const char *arch,
                            const char *virttype, GError **error)
{
    int r = virConnectCompareHypervisorCPU(dst, NULL, arch, NULL, virttype, cpu_xml,
                                           VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
    if (r < 0 && virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
        virResetLastError();
        r = virConnectCompareCPU(dst, cpu_xml, VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
    }
    if (r < 0 && virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
        virResetLastError();
        g_debug("the target's libvirt compares no CPUs: comparing the hosts' architecture and vendor only");
        return check_hosts_cpu(src, dst, FERRY_CPU_MATCH_VENDOR, error);
    }
    g_autofree char *dh = host_name(dst);
    if (r < 0 && virGetLastErrorCode() == VIR_ERR_CPU_INCOMPATIBLE)
        return ferry_error_from_libvirt(error, "the CPU is not accepted by %s", dh);
    if (r < 0)
        return ferry_error_from_libvirt(error, "%s cannot compare the CPU", dh);
    if (r == VIR_CPU_COMPARE_INCOMPATIBLE) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE, "the CPU is not accepted by %s", dh);
        return FALSE;
    }
    return TRUE;
}

/* The domain's <cpu> element as XML text, and its <os><type arch=>. */
static gboolean read_cpu_xml(const char *xml, char **cpu_xml, char **arch, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root = read_root(xml, "domain", "the domain XML", &doc, error);
    if (!root)
        return FALSE;
    *arch = prop(child(child(root, "os"), "type"), "arch");
    xmlNodePtr cpu = child(root, "cpu");
    *cpu_xml = ferry_xml_node_string(doc, cpu);
    return TRUE;
}

/* What each <cpu> mode needs on the target:
 * - no <cpu>, or one without a model: the hypervisor's default model, which any host of the
 *   architecture runs; a live move also keeps to one vendor (C8: no AMD <-> Intel);
 * - host-passthrough and maximum show the guest the host's own CPU: a live move needs an
 *   identical host CPU (libvirt's own advice), a cold start only the architecture;
 * - host-model, started afresh: the target expands it for itself (architecture only);
 * - custom (and a running host-model domain, whose XML shows the expanded model): the
 *   target's libvirt is asked (compare_cpu). */
gboolean ferry_migrate_check_cpu(virConnectPtr src, virConnectPtr dst, virDomainPtr dom, gboolean cold_boot,
                         GError **error)
{
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = migratable_xml(dom, error);
    if (!xml)
        return FALSE;
    g_autoptr(FerryDomainXml) d = ferry_domxml_parse(xml, error);
    if (!d)
        return FALSE;
    const char *mode = ferry_domxml_cpu_mode(d);
    g_autoptr(GError) e = NULL;
    gboolean ok;
    if (!mode || (g_str_equal(mode, "custom") && !ferry_domxml_cpu_model(d)))
        ok = check_hosts_cpu(src, dst, cold_boot ? FERRY_CPU_MATCH_ARCH : FERRY_CPU_MATCH_VENDOR, &e);
    else if (g_str_equal(mode, "host-passthrough") || g_str_equal(mode, "maximum"))
        ok = check_hosts_cpu(src, dst, cold_boot ? FERRY_CPU_MATCH_ARCH : FERRY_CPU_MATCH_IDENTICAL, &e);
    else if (cold_boot && g_str_equal(mode, "host-model"))
        ok = check_hosts_cpu(src, dst, FERRY_CPU_MATCH_ARCH, &e);
    else {
        g_autofree char *cpu_xml = NULL, *arch = NULL;
        ok = read_cpu_xml(xml, &cpu_xml, &arch, &e) &&
             compare_cpu(src, dst, cpu_xml, arch, ferry_domxml_type(d), &e);
    }
    if (ok)
        return TRUE;
    if (!g_error_matches(e, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE)) {
        g_propagate_prefixed_error(error, g_steal_pointer(&e), "cannot check the CPU of domain '%s': ", name);
        return FALSE;
    }
    g_autofree char *quoted = shell_word(name);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE,
                "domain '%s' cannot run on the target: %s. Choose a peer with a matching CPU, or give the domain "
                "a CPU model both hosts support (`virsh edit %s`, <cpu mode='custom'><model>...</model></cpu>) "
                "and restart it.", name, e->message, quoted);
    return FALSE;
}

/* ------------------------------------------------------------------ memory */

/* Free memory in KiB. free + buffers + cached: the page cache is given back when QEMU on
 * the target needs it, so plain "free" would refuse hosts that have room. The test driver
 * has no memory stats; virNodeGetFreeMemory is the fallback. */
gboolean ferry_node_free_memory_kib(virConnectPtr conn, const char *host, guint64 *kib, GError **error)
{
    int n = 0;
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) == 0 && n > 0) {
        g_autofree virNodeMemoryStatsPtr stats = g_new0(virNodeMemoryStats, n);
        if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, stats, &n, 0) == 0) {
            *kib = 0;
            for (int i = 0; i < n; i++)
                if (g_str_equal(stats[i].field, VIR_NODE_MEMORY_STATS_FREE) ||
                    g_str_equal(stats[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) ||
                    g_str_equal(stats[i].field, VIR_NODE_MEMORY_STATS_CACHED))
                    *kib += stats[i].value;
            return TRUE;
        }
    }
    virResetLastError();
    unsigned long long bytes = virNodeGetFreeMemory(conn); /* 0 is its error value */
    if (bytes == 0)
        return ferry_error_from_libvirt(error, "cannot read the free memory of %s", host);
    *kib = bytes / 1024;
    return TRUE;
}

gboolean ferry_migrate_check_memory(virConnectPtr dst, virDomainPtr dom, GError **error)
{
    const char *name = virDomainGetName(dom);
    virDomainInfo info;
    if (virDomainGetInfo(dom, &info) < 0)
        return ferry_error_from_libvirt(error, "cannot read the memory of domain '%s'", name);
    g_autofree char *host = host_name(dst);
    guint64 have = 0;
    if (!ferry_node_free_memory_kib(dst, host, &have, error))
        return FALSE;
    /* info.memory is the current size (the balloon's, or <currentMemory> when shut off):
     * what the guest holds now and what it is started with. */
    if (have >= info.memory)
        return TRUE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY,
                "%s has %" G_GUINT64_FORMAT " MiB of memory free, and domain '%s' needs %" G_GUINT64_FORMAT
                " MiB: free memory on %s (stop or move other domains there) or choose another peer",
                host, have / 1024, name, to_mib((guint64)info.memory * 1024), host);
    return FALSE;
}

/* ------------------------------------------------------------------ storage pools */

/* The bytes free in @dir on @conn's host, as its libvirt storage pool sees them. */
static gboolean dir_available(virConnectPtr conn, const char *host, const char *dir, guint64 *available,
                              GError **error)
{
    g_auto(FerryDirPool) p = { 0 };
    if (!ferry_dir_pool_open(conn, dir, &p, error)) {
        g_prefix_error(error, "%s: ", host);
        return FALSE;
    }
    /* A pool's numbers are as of its last refresh, which may be days old. A refresh that
     * fails (the pool is busy building a volume) leaves those numbers: better than none. */
    if (virStoragePoolRefresh(p.pool, 0) < 0)
        virResetLastError();
    virStoragePoolInfo info;
    if (virStoragePoolGetInfo(p.pool, &info) < 0)
        return ferry_error_from_libvirt(error, "cannot read the free space of %s on %s", dir, host);
    *available = info.available;
    return TRUE;
}

/* ------------------------------------------------------------------ shared storage */

/* A file we wrote and must remove on every path. */
typedef struct {
    char *path;
    char *name;
} Marker;

static void marker_free(Marker *m)
{
    if (m->path && g_unlink(m->path) < 0 && errno != ENOENT)
        g_warning("cannot remove the shared-storage marker %s: %s", m->path, g_strerror(errno));
    g_free(m->path);
    g_free(m->name);
    g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Marker, marker_free)

static Marker *marker_write(const char *dir, int *err)
{
    g_autofree char *name = g_strdup_printf("virt-ferry-shared-check-%08x%08x%08x%08x", g_random_int(),
                                            g_random_int(), g_random_int(), g_random_int());
    g_autofree char *path = g_build_filename(dir, name, NULL);
    /* O_EXCL and O_NOFOLLOW: never write through something that was there already. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    close(fd);
    Marker *m = g_new0(Marker, 1);
    m->path = g_steal_pointer(&path);
    m->name = g_steal_pointer(&name);
    return m;
}

/* Whether the target sees the file we just wrote in @dir. A miss is "not shared" even
 * when it only came from a slow network file system's directory cache: that errs on the
 * safe side, as the engine then falls back to a method that copies the disks. */
static gboolean dir_shared(virConnectPtr dst, const char *dst_host, const char *dir, gboolean *shared,
                           char **reason, GError **error)
{
    int err = 0;
    g_autoptr(Marker) marker = marker_write(dir, &err);
    if (!marker) {
        *shared = FALSE;
        *reason = g_strdup_printf("a test file cannot be written in %s here (%s), so whether %s sees the same "
                                  "storage cannot be told", dir, g_strerror(err), dst_host);
        return TRUE;
    }
    g_auto(FerryDirPool) p = { 0 };
    g_autoptr(GError) pool_error = NULL;
    if (!ferry_dir_pool_open(dst, dir, &p, &pool_error)) {
        if (virConnectIsAlive(dst) != 1) { /* the peer itself is gone: not a storage answer */
            g_propagate_error(error, g_steal_pointer(&pool_error));
            return FALSE;
        }
        *shared = FALSE;
        *reason = g_strdup_printf("%s is not the same storage on %s: %s", dir, dst_host, pool_error->message);
        return TRUE;
    }
    if (virStoragePoolRefresh(p.pool, 0) < 0)
        return ferry_error_from_libvirt(error, "cannot refresh storage pool '%s' over %s on %s",
                                        virStoragePoolGetName(p.pool), dir, dst_host);
    g_autoptr(virStorageVol) vol = virStorageVolLookupByName(p.pool, marker->name);
    if (!vol && virGetLastErrorCode() != VIR_ERR_NO_STORAGE_VOL)
        return ferry_error_from_libvirt(error, "cannot look for the test file in %s on %s", dir, dst_host);
    virResetLastError();
    *shared = vol != NULL;
    if (!*shared)
        *reason = g_strdup_printf("%s is not the same storage on %s: a file written here is not seen there",
                                  dir, dst_host);
    /* Gone again before the pool is refreshed once more, so that the target's pool (when
     * it is one of its own) does not keep listing it. */
    g_clear_pointer(&marker, marker_free);
    if (!p.transient && !p.started && virStoragePoolRefresh(p.pool, 0) < 0)
        virResetLastError();
    return TRUE;
}

/* The image file behind a disk; NULL for an empty drive, or with *@why for a disk that is
 * not a file. type='volume' disks are resolved on @src. */
static gboolean disk_file(virConnectPtr src, const FerryDisk *disk, char **file, char **why, GError **error)
{
    *file = NULL;
    if (!disk->source)
        return TRUE;
    if (g_str_equal(disk->type, "file")) {
        *file = g_strdup(disk->source);
        return TRUE;
    }
    if (g_str_equal(disk->type, "volume")) {
        g_auto(GStrv) parts = g_strsplit(disk->source, "/", 2);
        if (!parts[0] || !parts[1])
            return ferry_error_set(error, FERRY_ERROR_INVALID_ARGUMENT, "disk %s: volume source \"%s\" is not POOL/VOLUME",
                                     disk->target ? disk->target : "?", disk->source);
        g_autoptr(virStoragePool) pool = virStoragePoolLookupByName(src, parts[0]);
        g_autoptr(virStorageVol) vol = pool ? virStorageVolLookupByName(pool, parts[1]) : NULL;
        virStorageVolInfo info;
        if (!vol || virStorageVolGetInfo(vol, &info) < 0)
            return ferry_error_from_libvirt(error, "cannot find volume %s of disk %s", disk->source,
                                            disk->target ? disk->target : "?");
        if (info.type == VIR_STORAGE_VOL_FILE) {
            *file = virStorageVolGetPath(vol);
            return *file ? TRUE : ferry_error_from_libvirt(error, "cannot read the path of volume %s", disk->source);
        }
        *why = g_strdup_printf("volume %s, which is not a file", disk->source);
        return TRUE;
    }
    if (g_str_equal(disk->type, "block"))
        *why = g_strdup_printf("the host block device %s", disk->source);
    else if (g_str_equal(disk->type, "network"))
        *why = g_strdup_printf("on network storage (%s), which virt-ferry does not test for sharing yet",
                               disk->source);
    else
        *why = g_strdup_printf("of type '%s' (%s)", disk->type, disk->source);
    return TRUE;
}

/* Tests every directory once. */
typedef struct {
    virConnectPtr src, dst;
    char *dst_host;
    GHashTable *dirs; /* dir -> GINT_TO_POINTER(shared) */
} ShareTest;

static void share_test_clear(ShareTest *t)
{
    g_free(t->dst_host);
    g_clear_pointer(&t->dirs, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ShareTest, share_test_clear)

static void share_test_init(ShareTest *t, virConnectPtr src, virConnectPtr dst)
{
    t->src = src;
    t->dst = dst;
    t->dst_host = host_name(dst);
    t->dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static gboolean share_test_dir(ShareTest *t, const char *dir, gboolean *shared, char **reason, GError **error)
{
    gpointer known;
    if (g_hash_table_lookup_extended(t->dirs, dir, NULL, &known)) {
        *shared = GPOINTER_TO_INT(known);
        return TRUE;
    }
    if (!dir_shared(t->dst, t->dst_host, dir, shared, reason, error))
        return FALSE;
    g_hash_table_insert(t->dirs, g_strdup(dir), GINT_TO_POINTER(*shared));
    return TRUE;
}

gboolean ferry_storage_shared(virConnectPtr src, virConnectPtr dst, const char *domain_xml, gboolean *shared,
                              char **reason, GError **error)
{
    g_autoptr(FerryDomainXml) d = ferry_domxml_parse(domain_xml, error);
    if (!d)
        return FALSE;
    g_auto(ShareTest) t = { 0 };
    share_test_init(&t, src, dst);
    GPtrArray *disks = ferry_domxml_disks(d);
    for (guint i = 0; i < disks->len; i++) {
        const FerryDisk *disk = disks->pdata[i];
        g_autofree char *file = NULL, *why = NULL, *why_not = NULL;
        if (!disk_file(src, disk, &file, &why, error))
            return FALSE;
        if (why) {
            *shared = FALSE;
            if (reason)
                *reason = g_strdup_printf("disk %s is %s: virt-ferry cannot tell whether %s sees the same storage",
                                          disk->target ? disk->target : "?", why, t.dst_host);
            return TRUE;
        }
        if (!file) /* an empty drive */
            continue;
        g_autofree char *dir = g_path_get_dirname(file);
        gboolean dir_ok = FALSE;
        if (!share_test_dir(&t, dir, &dir_ok, &why_not, error))
            return FALSE;
        if (!dir_ok) {
            *shared = FALSE;
            if (reason)
                *reason = why_not ? g_steal_pointer(&why_not)
                                  : g_strdup_printf("%s is not the same storage on %s: a file written here is "
                                                    "not seen there", dir, t.dst_host);
            return TRUE;
        }
    }
    *shared = TRUE;
    return TRUE;
}

/* ------------------------------------------------------------------ disk space */

/* Bytes needed per directory, in first-seen order so messages follow the disks. */
typedef struct {
    GPtrArray *dirs;     /* char* */
    GArray *bytes;       /* guint64, parallel */
} Needs;

static void needs_init(Needs *n)
{
    n->dirs = g_ptr_array_new_with_free_func(g_free);
    n->bytes = g_array_new(FALSE, TRUE, sizeof(guint64));
}

static void needs_clear(Needs *n)
{
    g_clear_pointer(&n->dirs, g_ptr_array_unref);
    g_clear_pointer(&n->bytes, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Needs, needs_clear)

static void needs_add(Needs *n, const char *dir, guint64 bytes)
{
    for (guint i = 0; i < n->dirs->len; i++) {
        if (same_dir(n->dirs->pdata[i], dir)) {
            g_array_index(n->bytes, guint64, i) += bytes;
            return;
        }
    }
    g_ptr_array_add(n->dirs, g_strdup(dir));
    g_array_append_val(n->bytes, bytes);
}

/* A disk's capacity (what its copy can grow to) and allocation (what it uses now).
 * libvirt's storage volume first, which every pool over the directory knows; else the
 * domain's block info (the test driver makes that one up, the volume it takes from its
 * XML). */
static gboolean disk_size(virConnectPtr src, virDomainPtr dom, const FerryDisk *disk, const char *file,
                          guint64 *capacity, guint64 *allocation, GError **error)
{
    g_autoptr(virStorageVol) vol = virStorageVolLookupByPath(src, file);
    virStorageVolInfo vi;
    if (vol && virStorageVolGetInfo(vol, &vi) == 0) {
        *capacity = vi.capacity;
        *allocation = vi.allocation;
        return TRUE;
    }
    virResetLastError();
    virDomainBlockInfo bi;
    if (virDomainGetBlockInfo(dom, disk->target ? disk->target : file, &bi, 0) < 0)
        return ferry_error_from_libvirt(error, "cannot read the size of disk %s (%s)",
                                        disk->target ? disk->target : "?", file);
    *capacity = bi.capacity;
    *allocation = MIN(bi.allocation, bi.capacity);
    return TRUE;
}

/* Whether the disk is copied by storage-migration and move, and from which file. Only
 * image files go into a directory; a shareable disk is someone else's too and stays
 * where it is; a CD-ROM or floppy's media is not copied; an image already on storage the
 * target shares at the same path is not copied when it keeps its path. */
static gboolean disk_copied(ShareTest *t, const FerryDisk *disk, const char *target_dir, char **file,
                            GError **error)
{
    g_autofree char *why = NULL;
    *file = NULL;
    if (!g_str_equal(disk->device, "disk") || disk->shareable)
        return TRUE;
    if (!disk_file(t->src, disk, file, &why, error))
        return FALSE;
    if (!*file)
        return TRUE; /* block and network disks: the target's libvirt checks those itself */
    g_autofree char *dir = g_path_get_dirname(*file);
    if (target_dir && !same_dir(target_dir, dir))
        return TRUE;
    gboolean shared = FALSE;
    g_autofree char *reason = NULL;
    if (!share_test_dir(t, dir, &shared, &reason, error))
        return FALSE;
    if (shared)
        g_clear_pointer(file, g_free);
    return TRUE;
}

/* The source side: the pre-flight checks ask for "source space" for temporaries, and
 * XenServer asks for up to 2x the disks for the snapshot its storage migration takes. libvirt's
 * storage migration (an NBD drive-mirror) and virt-ferry's `move` (volume streams) take
 * no snapshot and write no temporary file on the source. What does grow there while the
 * copy runs is the domain's own images, which keep taking the guest's writes until the
 * switch-over: a thin image can grow up to its capacity, and a source that fills up
 * pauses the guest and fails the copy. So the source needs capacity - allocation. */
static gboolean collect_needs(ShareTest *t, virDomainPtr dom, FerryDomainXml *d, const char *target_dir,
                              Needs *target, Needs *source, GError **error)
{
    GPtrArray *disks = ferry_domxml_disks(d);
    for (guint i = 0; i < disks->len; i++) {
        const FerryDisk *disk = disks->pdata[i];
        g_autofree char *file = NULL;
        if (!disk_copied(t, disk, target_dir, &file, error))
            return FALSE;
        if (!file)
            continue;
        guint64 capacity = 0, allocation = 0;
        if (!disk_size(t->src, dom, disk, file, &capacity, &allocation, error))
            return FALSE;
        g_autofree char *dir = g_path_get_dirname(file);
        needs_add(target, target_dir ? target_dir : dir, capacity);
        needs_add(source, dir, capacity > allocation ? capacity - allocation : 0);
    }
    return TRUE;
}

static gboolean check_space(virConnectPtr conn, const char *name, Needs *needs, guint factor, GError **error)
{
    g_autofree char *host = host_name(conn);
    for (guint i = 0; i < needs->dirs->len; i++) {
        const char *dir = needs->dirs->pdata[i];
        guint64 disks = g_array_index(needs->bytes, guint64, i);
        guint64 need = disks * factor, have = 0;
        if (need == 0)
            continue;
        if (!dir_available(conn, host, dir, &have, error))
            return FALSE;
        if (have >= need)
            continue;
        if (factor > 1)
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY,
                        "%s on %s has %" G_GUINT64_FORMAT " MiB free, and the copies of the disks of domain '%s' need "
                        "%" G_GUINT64_FORMAT " MiB there (%ux their %" G_GUINT64_FORMAT " MiB): free space in %s on "
                        "%s, or copy them to another directory or peer",
                        dir, host, have / MIB, name, to_mib(need), factor, to_mib(disks), dir, host);
        else
            g_set_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY,
                        "%s on %s has %" G_GUINT64_FORMAT " MiB free, and the disks of domain '%s' there may still grow "
                        "by %" G_GUINT64_FORMAT " MiB while they are copied: free space in %s on %s first",
                        dir, host, have / MIB, name, to_mib(need), dir, host);
        return FALSE;
    }
    return TRUE;
}

gboolean ferry_migrate_check_disk_space(virConnectPtr src, virConnectPtr dst, virDomainPtr dom, const char *target_dir,
                                GError **error)
{
    const char *name = virDomainGetName(dom);
    if (target_dir && !g_path_is_absolute(target_dir)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "target directory \"%s\" is not an absolute path: give it from the root (/...)", target_dir);
        return FALSE;
    }
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml)
        return ferry_error_from_libvirt(error, "cannot read the definition of domain '%s'", name);
    g_autoptr(FerryDomainXml) d = ferry_domxml_parse(xml, error);
    if (!d)
        return FALSE;
    g_auto(ShareTest) t = { 0 };
    g_auto(Needs) target = { 0 };
    g_auto(Needs) source = { 0 };
    share_test_init(&t, src, dst);
    needs_init(&target);
    needs_init(&source);
    return collect_needs(&t, dom, d, target_dir, &target, &source, error) &&
           check_space(dst, name, &target, TARGET_SPACE_FACTOR, error) && check_space(src, name, &source, 1, error);
}

/* ------------------------------------------------------------------ blockers */

/* A device that stops a move, or NULL. Host devices belong to this host, so they stop
 * every method; the others only stop moving the running state: QEMU 7.2 (Debian 12)
 * registers a migration blocker for virtiofs (vhost-user-fs) and TPM passthrough, and
 * libvirt 9.0 refuses to migrate a domain with a <shmem> device. */
static char *device_blocker(xmlNodePtr dev, gboolean live, const char *quoted)
{
    if (is_elem(dev, "hostdev")) {
        g_autofree char *what = ferry_domxml_describe_hostdev(dev);
        return g_strdup_printf("The %s is passed through to it: detach it with `virsh detach-device %s FILE --live "
                               "--config` (FILE holding its <hostdev> element) and try again.",
                               what, quoted);
    }
    g_autofree char *type = prop(dev, "type");
    if (is_elem(dev, "interface") && g_strcmp0(type, "hostdev") == 0) {
        g_autofree char *mac = prop(child(dev, "mac"), "address");
        g_autofree char *where = ferry_domxml_pci_address(child(child(dev, "source"), "address"));
        return g_strdup_printf("Network interface %s is the host PCI device %s passed through: detach it with "
                               "`virsh detach-interface %s hostdev --mac %s --live --config` and try again.",
                               mac ? mac : "?", where, quoted, mac ? mac : "MAC");
    }
    if (!live)
        return NULL;
    g_autofree char *driver = prop(child(dev, "driver"), "type");
    g_autofree char *backend = prop(child(dev, "backend"), "type");
    if (is_elem(dev, "filesystem") && g_strcmp0(driver, "virtiofs") == 0) {
        g_autofree char *target = prop(child(dev, "target"), "dir");
        return g_strdup_printf("The virtiofs share (mount tag %s) cannot be migrated by QEMU 7.2: use `move`, "
                               "or remove the <filesystem> element (`virsh edit %s`) and restart the domain.",
                               target ? target : "?", quoted);
    }
    if (is_elem(dev, "tpm") && g_strcmp0(backend, "passthrough") == 0)
        return g_strdup_printf("The host's TPM is passed through, which QEMU cannot migrate: use `move`, or "
                               "give the domain an emulated TPM (`virsh edit %s`) and restart it.", quoted);
    if (is_elem(dev, "shmem")) {
        g_autofree char *name = prop(dev, "name");
        return g_strdup_printf("Shared memory device %s cannot be migrated by libvirt: use `move`, or remove the "
                               "<shmem> element (`virsh edit %s`) and restart the domain.", name ? name : "?", quoted);
    }
    return NULL;
}

static gboolean policy_blocker(virDomainPtr dom, const char *quoted, GPtrArray *problems, GError **error)
{
    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, FERRY_POLICY_NS,
                                                VIR_DOMAIN_AFFECT_CURRENT);
    if (!xml && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN_METADATA)
        return ferry_error_from_libvirt(error, "cannot read the policy of domain '%s'", virDomainGetName(dom));
    virResetLastError();
    g_autoptr(FerryPolicy) policy = ferry_policy_parse(xml, error);
    if (!policy) {
        g_prefix_error(error, "domain '%s': ", virDomainGetName(dom));
        return FALSE;
    }
    if (policy->no_migrate)
        g_ptr_array_add(problems, g_strdup_printf("Its virt-ferry policy says no-migrate, which refuses every "
                                                  "method: clear it with `virt-ferry policy %s no_migrate=false` "
                                                  "if it may move.", quoted));
    return TRUE;
}

gboolean ferry_migrate_check_blockers(virDomainPtr dom, const char *domain_xml, gboolean live, GError **error)
{
    const char *name = virDomainGetName(dom);
    g_autofree char *fetched = NULL;
    if (!domain_xml && !(domain_xml = fetched = virDomainGetXMLDesc(dom, 0)))
        return ferry_error_from_libvirt(error, "cannot read the definition of domain '%s'", name);
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root = read_root(domain_xml, "domain", "the domain XML", &doc, error);
    if (!root)
        return FALSE;
    g_autofree char *quoted = shell_word(name);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    for (xmlNodePtr dev = child(root, "devices") ? child(root, "devices")->children : NULL; dev; dev = dev->next) {
        char *problem = device_blocker(dev, live, quoted);
        if (problem)
            g_ptr_array_add(problems, problem);
    }
    if (!policy_blocker(dom, quoted, problems, error))
        return FALSE;
    if (problems->len == 0)
        return TRUE;
    g_ptr_array_add(problems, NULL);
    g_autofree char *all = g_strjoinv(" ", (char **)problems->pdata);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED, "Domain '%s' cannot be moved. %s", name, all);
    return FALSE;
}

gboolean ferry_migrate_check_idle(virDomainPtr dom, GError **error)
{
    const char *name = virDomainGetName(dom);
    /* Only a running domain has jobs; QEMU refuses the question for a shut-off one. */
    if (virDomainIsActive(dom) != 1) {
        virResetLastError();
        return TRUE;
    }
    virDomainJobInfo info;
    if (virDomainGetJobInfo(dom, &info) < 0) {
        if (virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) { /* cannot tell; libvirt refuses a second job itself */
            virResetLastError();
            return TRUE;
        }
        return ferry_error_from_libvirt(error, "cannot read the jobs of domain '%s'", name);
    }
    if (info.type == VIR_DOMAIN_JOB_NONE)
        return TRUE;
    g_autofree char *quoted = shell_word(name);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_BUSY,
                "domain '%s' is already running a job (a migration, save, dump or backup): wait until it ends "
                "(`virsh domjobinfo %s`) or abort it (`virsh domjobabort %s`), then try again",
                name, quoted, quoted);
    return FALSE;
}

/* ------------------------------------------------------------------ entry */

static gboolean needs_shared_storage(FerryMethod method)
{
    return method == FERRY_METHOD_MIGRATION || method == FERRY_METHOD_QUICK_MIGRATION ||
           method == FERRY_METHOD_FAILOVER;
}

static gboolean copies_disks(FerryMethod method)
{
    return method == FERRY_METHOD_STORAGE_MIGRATION || method == FERRY_METHOD_MOVE;
}

static gboolean check_shared(virConnectPtr src, virConnectPtr dst, virDomainPtr dom, FerryMethod method,
                             GError **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml)
        return ferry_error_from_libvirt(error, "cannot read the definition of domain '%s'", virDomainGetName(dom));
    gboolean shared = FALSE;
    g_autofree char *reason = NULL;
    if (!ferry_storage_shared(src, dst, xml, &shared, &reason, error))
        return FALSE;
    if (shared)
        return TRUE;
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED,
                "%s needs the disks of domain '%s' on storage the target shares, and %s. storage-migration and move copy "
                "the disks instead.",
                ferry_method_name(method), virDomainGetName(dom), reason);
    return FALSE;
}

gboolean ferry_migrate_check(virConnectPtr src, virConnectPtr dst, virDomainPtr dom, FerryMethod method,
                             const char *target_dir, GError **error)
{
    if (!src || !dst || !dom || !ferry_method_name(method)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "a migration check needs both hosts' connections, the domain and a known method");
        return FALSE;
    }
    gboolean live = ferry_method_is_live(method);
    /* Cheapest and most final first: a blocker is not cured by another peer. */
    if (!ferry_migrate_check_blockers(dom, NULL, live, error) || !ferry_migrate_check_idle(dom, error) ||
        !ferry_migrate_check_versions(src, dst, error) || !ferry_migrate_check_cpu(src, dst, dom, !live, error) ||
        !ferry_migrate_check_memory(dst, dom, error))
        return FALSE;
    if (needs_shared_storage(method) && !check_shared(src, dst, dom, method, error))
        return FALSE;
    if (copies_disks(method) && !ferry_migrate_check_disk_space(src, dst, dom, target_dir, error))
        return FALSE;
    return TRUE;
}
