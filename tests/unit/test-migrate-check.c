/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Migration methods and pre-flight checks against real libvirt: two test:/// connections
 * opened from node XML files written here, one per host, so source and target differ in
 * pools, free space and domains (test:///default serves as a target with free memory:
 * a test driver opened from a file has no NUMA cells and so reports none).
 *
 * What the test driver cannot show: a failing CPU comparison (it implements neither
 * virConnectCompareHypervisorCPU nor virConnectCompareCPU, and every test host has the
 * same capabilities), older versions (one library), and a shared directory (its dir pools
 * never read the disk, so the marker is never seen). Those are tested through the pure
 * helpers here and end to end in the lab. */
#include "ferry-error.h"
#include "libvirt-autoptr.h"
#include "migrate-check.h"
#include "peer-storage.h"
#include "policy.h"

#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <string.h>

#define GIB "1073741824"

typedef struct {
    char *dir;      /* the test's scratch directory */
    char *images;   /* dir/images: a real directory, the source's image pool */
    virConnectPtr src;
} Fixture;

static void quiet(void *data, virErrorPtr e) {}

/* A node XML for the test driver. @pool_dir: the directory of its pool "images";
 * @filler_gib: a volume that takes that much of the pool's fixed 100 GiB (the test
 * driver's pools have capacity 100 GiB, allocation = the sum of their volumes';
 * available = the rest); @domains: <domain> elements. */
static char *node_xml(const char *pool_dir, guint filler_gib, const char *domains)
{
    g_autofree char *filler = filler_gib
        ? g_strdup_printf("<volume type='file'><name>filler.img</name><capacity unit='GiB'>%u</capacity>"
                          "<allocation unit='GiB'>%u</allocation><target><path>%s/filler.img</path></target></volume>",
                          filler_gib, filler_gib, pool_dir)
        : g_strdup("");
    return g_strdup_printf(
        "<node>\n%s\n"
        "<pool type='dir'><name>images</name><uuid>0f7d4a3e-5a41-4b1b-9c59-5f1f8e2d7c11</uuid>"
        "<target><path>%s</path></target>"
        "<volume type='file'><name>vm1.img</name><capacity unit='GiB'>2</capacity>"
        "<allocation unit='GiB'>1</allocation><target><path>%s/vm1.img</path></target></volume>%s</pool>\n"
        "<cpu><mhz>2000</mhz><model>i686</model><active>4</active><nodes>1</nodes><sockets>1</sockets>"
        "<cores>4</cores><threads>1</threads></cpu><memory>8388608</memory>\n</node>\n",
        domains, pool_dir, pool_dir, filler);
}

/* Source domains: vm1 (1 MiB, one image in the pool), big (512 MiB, no disks),
 * blockdisk (a host block device), passthrough, custom-cpu. */
static char *source_domains(const char *images)
{
    return g_strdup_printf(
        "<domain type='test'><name>vm1</name><memory unit='KiB'>1024</memory>"
        "<currentMemory unit='KiB'>1024</currentMemory><os><type>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='%s/vm1.img'/><target dev='vda'/></disk>"
        "<disk type='file' device='cdrom'><target dev='hdc'/><readonly/></disk>"
        "</devices></domain>\n"
        "<domain type='test'><name>big</name><memory unit='MiB'>512</memory><os><type>hvm</type></os></domain>\n"
        "<domain type='test'><name>blockdisk</name><memory unit='KiB'>1024</memory><os><type>hvm</type></os>"
        "<devices><disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdb'/></disk>"
        "</devices></domain>\n"
        "<domain type='test'><name>passthrough</name><memory unit='KiB'>1024</memory>"
        "<cpu mode='host-passthrough'/><os><type>hvm</type></os></domain>\n"
        "<domain type='test'><name>custom-cpu</name><memory unit='KiB'>1024</memory>"
        "<cpu mode='custom' match='exact'><model>i686</model></cpu><os><type>hvm</type></os></domain>\n",
        images);
}

/* Writes @xml as @name in the scratch directory and opens a test driver on it. */
static virConnectPtr open_node(Fixture *f, const char *name, const char *xml)
{
    g_autofree char *path = g_build_filename(f->dir, name, NULL);
    g_assert_true(g_file_set_contents(path, xml, -1, NULL));
    g_autofree char *uri = g_strdup_printf("test://%s", path);
    virConnectPtr conn = virConnectOpen(uri);
    g_assert_nonnull(conn);
    return conn;
}

static virConnectPtr open_source(Fixture *f, guint filler_gib)
{
    g_autofree char *domains = source_domains(f->images);
    g_autofree char *xml = node_xml(f->images, filler_gib, domains);
    return open_node(f, filler_gib ? "src-full.xml" : "src.xml", xml);
}

/* A target whose pool "images" is over the same path as the source's, @filler_gib taken. */
static virConnectPtr open_target(Fixture *f, guint filler_gib)
{
    g_autofree char *xml = node_xml(f->images, filler_gib, "");
    g_autofree char *name = g_strdup_printf("dst-%u.xml", filler_gib);
    return open_node(f, name, xml);
}

static void setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("test-migrate-check-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->images = g_build_filename(f->dir, "images", NULL);
    g_assert_cmpint(g_mkdir(f->images, 0755), ==, 0);
    f->src = open_source(f, 0);
}

/* No marker may be left behind in the image directory, on any path. */
static void assert_images_empty(Fixture *f)
{
    g_autoptr(GDir) d = g_dir_open(f->images, 0, NULL);
    g_assert_nonnull(d);
    g_assert_null(g_dir_read_name(d));
}

static void teardown(Fixture *f, gconstpointer data)
{
    assert_images_empty(f);
    virConnectClose(f->src);
    g_autoptr(GDir) d = g_dir_open(f->dir, 0, NULL);
    for (const char *n; d && (n = g_dir_read_name(d));) {
        g_autofree char *p = g_build_filename(f->dir, n, NULL);
        g_remove(p);
    }
    g_rmdir(f->dir);
    g_free(f->images);
    g_free(f->dir);
}

static virDomainPtr domain(virConnectPtr conn, const char *name)
{
    virDomainPtr dom = virDomainLookupByName(conn, name);
    g_assert_nonnull(dom);
    return dom;
}

static int n_pools(virConnectPtr conn)
{
    int n = virConnectNumOfStoragePools(conn) + virConnectNumOfDefinedStoragePools(conn);
    g_assert_cmpint(n, >=, 0);
    return n;
}

#define assert_message_has(error, text) \
    do { \
        if (!strstr((error)->message, (text))) \
            g_error("message \"%s\" lacks \"%s\"", (error)->message, (text)); \
    } while (0)

/* ------------------------------------------------------------------ methods */

static void test_method_names(void)
{
    for (FerryMethod m = 0; m < FERRY_METHOD_N; m++) {
        FerryMethod back = FERRY_METHOD_N;
        g_assert_true(ferry_method_from_name(ferry_method_name(m), &back));
        g_assert_cmpint(back, ==, m);
    }
    g_assert_cmpstr(ferry_method_name(FERRY_METHOD_STORAGE_MIGRATION), ==, "storage-migration");
    g_assert_null(ferry_method_name(FERRY_METHOD_N));
    FerryMethod m;
    g_assert_true(ferry_method_from_name("Quick Migration", &m));
    g_assert_cmpint(m, ==, FERRY_METHOD_QUICK_MIGRATION);
    g_assert_true(ferry_method_from_name("storage_migration", &m));
    g_assert_cmpint(m, ==, FERRY_METHOD_STORAGE_MIGRATION);
    g_assert_false(ferry_method_from_name("teleport", &m));
    g_assert_false(ferry_method_from_name("", &m));
    g_assert_false(ferry_method_from_name(NULL, &m));
    g_assert_true(ferry_method_is_live(FERRY_METHOD_QUICK_MIGRATION));
    g_assert_false(ferry_method_is_live(FERRY_METHOD_MOVE));
    g_assert_false(ferry_method_is_live(FERRY_METHOD_FAILOVER));
}

static void assert_methods(const char *const *names, const FerryMethod *want, guint n)
{
    g_autoptr(GError) error = NULL;
    GArray *got = NULL;
    g_assert_true(ferry_methods_parse(names, &got, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(got->len, ==, n);
    for (guint i = 0; i < n; i++)
        g_assert_cmpint(g_array_index(got, FerryMethod, i), ==, want[i]);
    g_array_unref(got);
}

static void test_methods_parse(void)
{
    /* C7: sorted into Migration, Quick Migration, Move, Storage Migration, Failover. */
    const char *const user[] = { "failover", "storage-migration", "move", "migration", "quick-migration", NULL };
    const FerryMethod all[] = { FERRY_METHOD_MIGRATION, FERRY_METHOD_QUICK_MIGRATION, FERRY_METHOD_MOVE,
                                FERRY_METHOD_STORAGE_MIGRATION, FERRY_METHOD_FAILOVER };
    assert_methods(user, all, 5);
    const char *const two[] = { "storage-migration", "quick-migration", NULL };
    const FerryMethod two_sorted[] = { FERRY_METHOD_QUICK_MIGRATION, FERRY_METHOD_STORAGE_MIGRATION };
    assert_methods(two, two_sorted, 2);
    const FerryMethod def[] = { FERRY_METHOD_MIGRATION, FERRY_METHOD_FAILOVER };
    const char *const empty[] = { NULL };
    assert_methods(empty, def, 2);
    assert_methods(NULL, def, 2);

    const char *const unknown[] = { "migration", "teleport", NULL };
    const char *const twice[] = { "move", "Move", NULL };
    const char *const *bad[] = { unknown, twice };
    const char *named[] = { "\"teleport\"", "\"Move\" is given twice" };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        GArray *got = NULL;
        g_assert_false(ferry_methods_parse(bad[i], &got, &error));
        g_assert_null(got);
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
        assert_message_has(error, named[i]);
        assert_message_has(error, "migration, quick-migration, move, storage-migration, failover");
    }
}

/* ------------------------------------------------------------------ versions */

static void test_versions(Fixture *f, gconstpointer data)
{
    g_autofree char *v = ferry_version_string(9000000);
    g_assert_cmpstr(v, ==, "9.0.0");
    g_autofree char *q = ferry_version_string(7002011);
    g_assert_cmpstr(q, ==, "7.2.11");

    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_migrate_check_version_pair("libvirt", "alpha", 9000000, "beta", 9000000, &error));
    g_assert_true(ferry_migrate_check_version_pair("QEMU", "alpha", 7002000, "beta", 8000000, &error));
    g_assert_true(ferry_migrate_check_version_pair("QEMU", "alpha", 7002000, "beta", 0, &error));
    g_assert_no_error(error);
    g_assert_false(ferry_migrate_check_version_pair("libvirt", "alpha", 9000000, "beta", 8000000, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE);
    assert_message_has(error, "libvirt on beta is 8.0.0, older than 9.0.0 on alpha");
    assert_message_has(error, "Upgrade libvirt on beta");

    /* Two real connections: one library, one test hypervisor. */
    g_autoptr(virConnect) dst = open_target(f, 0);
    g_clear_error(&error);
    g_assert_true(ferry_migrate_check_versions(f->src, dst, &error));
    g_assert_no_error(error);
}

/* ------------------------------------------------------------------ CPU */

static char *caps(const char *arch, const char *vendor, const char *model, const char *feature)
{
    return g_strdup_printf("<capabilities><host><uuid>x</uuid><cpu><arch>%s</arch>%s%s%s%s%s%s%s</cpu></host>"
                           "</capabilities>",
                           arch, model ? "<model>" : "", model ? model : "", model ? "</model>" : "",
                           vendor ? "<vendor>" : "", vendor ? vendor : "", vendor ? "</vendor>" : "",
                           feature ? feature : "");
}

static void assert_cpus(const char *a, const char *b, FerryCpuMatch match, gboolean ok)
{
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(ferry_migrate_check_host_cpus(a, "alpha", b, "beta", match, &error), ==, ok);
    if (ok) {
        g_assert_no_error(error);
    } else {
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INCOMPATIBLE);
        assert_message_has(error, "beta");
        assert_message_has(error, "alpha");
    }
}

static void test_host_cpus(void)
{
    g_autofree char *intel = caps("x86_64", "Intel", "Skylake-Client-IBRS", "<feature name='vmx'/>");
    g_autofree char *intel2 = caps("x86_64", "Intel", "Skylake-Client-IBRS", "<feature name='vmx'/>");
    g_autofree char *intel_old = caps("x86_64", "Intel", "Haswell", "<feature name='vmx'/>");
    g_autofree char *intel_less = caps("x86_64", "Intel", "Skylake-Client-IBRS", NULL);
    g_autofree char *amd = caps("x86_64", "AMD", "EPYC-Rome", "<feature name='svm'/>");
    g_autofree char *arm = caps("aarch64", NULL, NULL, NULL);
    g_autofree char *novendor = caps("x86_64", NULL, NULL, NULL);

    assert_cpus(intel, intel2, FERRY_CPU_MATCH_IDENTICAL, TRUE);
    assert_cpus(intel, intel_old, FERRY_CPU_MATCH_IDENTICAL, FALSE);
    assert_cpus(intel, intel_less, FERRY_CPU_MATCH_IDENTICAL, FALSE);
    g_autoptr(GError) features = NULL;
    g_assert_false(ferry_migrate_check_host_cpus(intel, "alpha", intel_less, "beta", FERRY_CPU_MATCH_IDENTICAL, &features));
    assert_message_has(features, "different features");
    assert_cpus(intel, intel_old, FERRY_CPU_MATCH_VENDOR, TRUE);
    assert_cpus(intel, amd, FERRY_CPU_MATCH_VENDOR, FALSE);   /* C8: no AMD <-> Intel live move */
    assert_cpus(intel, amd, FERRY_CPU_MATCH_ARCH, TRUE);      /* a cold start is fine */
    assert_cpus(intel, novendor, FERRY_CPU_MATCH_VENDOR, TRUE);
    assert_cpus(intel, arm, FERRY_CPU_MATCH_ARCH, FALSE);

    g_autoptr(GError) error = NULL;
    g_assert_false(ferry_migrate_check_host_cpus(intel, "alpha", amd, "beta", FERRY_CPU_MATCH_VENDOR, &error));
    assert_message_has(error, "AMD EPYC-Rome, x86_64");
    assert_message_has(error, "Intel Skylake-Client-IBRS, x86_64");
    g_clear_error(&error);
    g_assert_false(ferry_migrate_check_host_cpus("<domain/>", "alpha", amd, "beta", FERRY_CPU_MATCH_ARCH, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_migrate_check_host_cpus(intel, "alpha", "<capabilities", "beta", FERRY_CPU_MATCH_ARCH, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

/* Only the passing paths: the test driver compares no CPUs and all its hosts are alike,
 * so each mode takes its fallback (see migrate-check.c) and must pass on equal hosts. */
static void test_cpu(Fixture *f, gconstpointer data)
{
    g_autoptr(virConnect) dst = open_target(f, 0);
    const char *names[] = { "vm1", "passthrough", "custom-cpu" };
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_autoptr(virDomain) dom = domain(f->src, names[i]);
        for (int cold = 0; cold <= 1; cold++) {
            g_autoptr(GError) error = NULL;
            if (!ferry_migrate_check_cpu(f->src, dst, dom, cold, &error))
                g_error("%s (cold %d): %s", names[i], cold, error->message);
        }
    }
}

/* ------------------------------------------------------------------ memory */

static void test_memory(Fixture *f, gconstpointer data)
{
    /* test:///default reports 3 MiB free (it hands out its cells' KiB as bytes). */
    g_autoptr(virConnect) dst = virConnectOpen("test:///default");
    g_assert_nonnull(dst);
    g_autoptr(virDomain) small = domain(f->src, "vm1");
    g_autoptr(virDomain) big = domain(f->src, "big");
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_migrate_check_memory(dst, small, &error));
    g_assert_no_error(error);
    g_assert_false(ferry_migrate_check_memory(dst, big, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    assert_message_has(error, "has 3 MiB of memory free");
    assert_message_has(error, "domain 'big' needs 512 MiB");

    /* A target that cannot say: an error, not a pass. */
    g_autoptr(virConnect) nocells = open_target(f, 0);
    g_clear_error(&error);
    g_assert_false(ferry_migrate_check_memory(nocells, small, &error));
    g_assert_nonnull(error);
    assert_message_has(error, "cannot read the free memory");
}

/* ------------------------------------------------------------------ disk space */

static void test_disk_space(Fixture *f, gconstpointer data)
{
    g_autoptr(virDomain) vm1 = domain(f->src, "vm1");
    g_autoptr(GError) error = NULL;

    /* vm1.img: 2 GiB capacity, 1 GiB used. The target needs 3 x 2 GiB. */
    g_autoptr(virConnect) roomy = open_target(f, 1);
    g_assert_true(ferry_migrate_check_disk_space(f->src, roomy, vm1, NULL, &error));
    g_assert_no_error(error);
    assert_images_empty(f);

    g_autoptr(virConnect) full = open_target(f, 95); /* 100 - 95 - vm1.img's 1 = 4 GiB free */
    g_assert_false(ferry_migrate_check_disk_space(f->src, full, vm1, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    assert_message_has(error, f->images);
    assert_message_has(error, "has 4096 MiB free");
    assert_message_has(error, "need 6144 MiB there (3x their 2048 MiB)");
    assert_images_empty(f);

    /* Another directory on the full target: no pool there, so a transient one is made,
     * read (the test driver's 100 GiB) and removed. */
    int before = n_pools(full);
    g_clear_error(&error);
    g_assert_true(ferry_migrate_check_disk_space(f->src, full, vm1, "/srv/elsewhere/", &error));
    g_assert_no_error(error);
    g_assert_cmpint(n_pools(full), ==, before);

    /* An inactive pool of the target's own over the directory is started for the question
     * and stopped again. */
    g_autoptr(virStoragePool) idle = virStoragePoolDefineXML(
        full, "<pool type='dir'><name>idle</name><target><path>/srv/idle</path></target></pool>", 0);
    g_assert_nonnull(idle);
    g_assert_true(ferry_migrate_check_disk_space(f->src, full, vm1, "/srv/idle", &error));
    g_assert_no_error(error);
    g_assert_cmpint(virStoragePoolIsActive(idle), ==, 0);
    g_assert_cmpint(n_pools(full), ==, before + 1);

    g_assert_false(ferry_migrate_check_disk_space(f->src, full, vm1, "relative/dir", &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);

    /* The source: vm1.img may still grow by 1 GiB while it is copied. */
    g_autoptr(virConnect) src_full = open_source(f, 98); /* 100 - 98 - 1 = 1 GiB: just enough */
    g_autoptr(virDomain) vm1_full = domain(src_full, "vm1");
    g_assert_true(ferry_migrate_check_disk_space(src_full, roomy, vm1_full, NULL, &error));
    g_assert_no_error(error);
    g_autoptr(virConnect) src_fuller = open_source(f, 99); /* nothing left */
    g_autoptr(virDomain) vm1_fuller = domain(src_fuller, "vm1");
    g_assert_false(ferry_migrate_check_disk_space(src_fuller, roomy, vm1_fuller, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    assert_message_has(error, "has 0 MiB free");
    assert_message_has(error, "may still grow by 1024 MiB");
    g_clear_error(&error);

    /* Disks that are not image files are not copied into a directory. */
    g_autoptr(virDomain) blockdisk = domain(f->src, "blockdisk");
    g_assert_true(ferry_migrate_check_disk_space(f->src, full, blockdisk, NULL, &error));
    g_assert_no_error(error);
}

/* ------------------------------------------------------------------ shared storage */

static void assert_shared(Fixture *f, virConnectPtr dst, const char *devices, gboolean want, const char *why)
{
    g_autofree char *xml = g_strdup_printf("<domain type='test'><name>d</name><memory>1024</memory>"
                                           "<os><type>hvm</type></os><devices>%s</devices></domain>", devices);
    g_autoptr(GError) error = NULL;
    gboolean shared = !want;
    g_autofree char *reason = NULL;
    g_assert_true(ferry_storage_shared(f->src, dst, xml, &shared, &reason, &error));
    g_assert_no_error(error);
    g_assert_cmpint(shared, ==, want);
    if (why) {
        g_assert_nonnull(reason);
        if (!strstr(reason, why))
            g_error("reason \"%s\" lacks \"%s\"", reason, why);
    }
    assert_images_empty(f);
}

static void test_storage_shared(Fixture *f, gconstpointer data)
{
    g_autoptr(virConnect) dst = open_target(f, 0);
    int before = n_pools(dst);
    assert_shared(f, dst, "", TRUE, NULL);
    assert_shared(f, dst, "<disk type='file' device='cdrom'><target dev='hdc'/><readonly/></disk>", TRUE, NULL);
    assert_shared(f, dst, "<disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vdb'/></disk>",
                  FALSE, "disk vdb is the host block device /dev/sdz");
    assert_shared(f, dst,
                  "<disk type='network' device='disk'><source protocol='rbd' name='pool/img'/>"
                  "<target dev='vdc'/></disk>", FALSE, "network storage (rbd:pool/img)");
    assert_shared(f, dst, "<disk type='file' device='disk'><source file='/nonexistent-virt-ferry/a.img'/>"
                          "<target dev='vda'/></disk>", FALSE, "cannot be written in /nonexistent-virt-ferry");

    /* The target has a pool over the same path, but it is not the same storage: the test
     * driver's pools never read the directory, so the marker written here is not seen. */
    g_autofree char *disk = g_strdup_printf("<disk type='file' device='disk'><source file='%s/vm1.img'/>"
                                            "<target dev='vda'/></disk>", f->images);
    g_autofree char *want = g_strdup_printf("%s is not the same storage on ", f->images);
    assert_shared(f, dst, disk, FALSE, want);
    /* A target without a pool there: a transient one is asked, then removed. */
    g_autoptr(virConnect) bare = virConnectOpen("test:///default");
    int bare_before = n_pools(bare);
    assert_shared(f, bare, disk, FALSE, want);
    g_assert_cmpint(n_pools(bare), ==, bare_before);
    g_assert_cmpint(n_pools(dst), ==, before);

    g_autoptr(GError) error = NULL;
    gboolean shared = TRUE;
    g_assert_false(ferry_storage_shared(f->src, dst, "<domain", &shared, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ images created on a host */

static void assert_create_refused(virConnectPtr conn, const char *path, FerryErrorCode code)
{
    g_autoptr(GError) error = NULL;
    int before = n_pools(conn);
    g_assert_false(ferry_peer_create_volume(conn, path, 1 << 20, "raw", &error));
    g_assert_error(error, FERRY_ERROR, code);
    g_assert_cmpint(n_pools(conn), ==, before);
}

/* A storage migration's images are created only in the host's own pools: a definition that
 * names any other path (a peer's, when a domain comes back) does not make root write there. */
static void test_create_volume_confined(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *inside = g_build_filename(f->images, "new.img", NULL);
    g_assert_true(ferry_peer_create_volume(f->src, inside, 1 << 20, "qcow2", &error));
    g_assert_no_error(error);
    g_autoptr(virStoragePool) pool = virStoragePoolLookupByName(f->src, "images");
    g_autoptr(virStorageVol) vol = virStorageVolLookupByName(pool, "new.img");
    g_assert_nonnull(vol);

    assert_create_refused(f->src, inside, FERRY_ERROR_BUSY);
    assert_create_refused(f->src, "/etc/virt-ferry-evil.img", FERRY_ERROR_UNSUPPORTED);
    g_autofree char *dotdot = g_strdup_printf("%s/../evil.img", f->images);
    assert_create_refused(f->src, dotdot, FERRY_ERROR_INVALID_ARGUMENT);
    g_autofree char *dot = g_strdup_printf("%s/./evil.img", f->images);
    assert_create_refused(f->src, dot, FERRY_ERROR_INVALID_ARGUMENT);
    assert_create_refused(f->src, "relative/evil.img", FERRY_ERROR_INVALID_ARGUMENT);

    /* A transient pool (another job's view of a directory) is not the host's word. */
    g_autofree char *other = g_build_filename(f->dir, "elsewhere", NULL);
    g_assert_cmpint(g_mkdir(other, 0700), ==, 0);
    g_autofree char *xml = g_strdup_printf("<pool type='dir'><name>virt-ferry-view</name><target><path>%s</path>"
                                           "</target></pool>", other);
    g_autoptr(virStoragePool) view = virStoragePoolCreateXML(f->src, xml, 0);
    g_assert_nonnull(view);
    g_autofree char *in_view = g_build_filename(other, "evil.img", NULL);
    assert_create_refused(f->src, in_view, FERRY_ERROR_UNSUPPORTED);
    g_assert_cmpint(virStoragePoolDestroy(view), ==, 0);
    g_assert_cmpint(g_rmdir(other), ==, 0);
}

/* ------------------------------------------------------------------ blockers */

static void set_no_migrate(virDomainPtr dom, gboolean on)
{
    g_autoptr(FerryPolicy) p = ferry_policy_new();
    p->no_migrate = on;
    g_autofree char *xml = ferry_policy_to_xml(p);
    g_assert_cmpint(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, FERRY_POLICY_PREFIX,
                                         FERRY_POLICY_NS, VIR_DOMAIN_AFFECT_CURRENT), ==, 0);
}

static void test_blockers(Fixture *f, gconstpointer data)
{
    g_autoptr(virDomain) dom = domain(f->src, "vm1");
    g_autoptr(GError) error = NULL;
    g_assert_true(ferry_migrate_check_blockers(dom, NULL, TRUE, &error));
    g_assert_no_error(error);
    g_assert_true(ferry_migrate_check_idle(dom, &error)); /* the test driver has no jobs: it cannot tell */
    g_assert_no_error(error);

    const char *hostdevs =
        "<domain type='test'><name>vm1</name><memory>1024</memory><os><type>hvm</type></os><devices>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
        "<address domain='0x0000' bus='0x03' slot='0x00' function='0x1'/></source></hostdev>"
        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/><product id='0xc52b'/></source></hostdev>"
        "</devices></domain>";
    g_assert_false(ferry_migrate_check_blockers(dom, hostdevs, FALSE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    assert_message_has(error, "PCI host device 0000:03:00.1");
    assert_message_has(error, "USB host device 046d:c52b");
    assert_message_has(error, "virsh detach-device vm1");
    g_clear_error(&error);

    /* Devices QEMU cannot migrate live stop the live methods only. */
    const char *virtiofs =
        "<domain type='test'><name>vm1</name><memory>1024</memory><os><type>hvm</type></os><devices>"
        "<filesystem type='mount'><driver type='virtiofs'/><source dir='/srv/share'/><target dir='share'/>"
        "</filesystem></devices></domain>";
    g_assert_true(ferry_migrate_check_blockers(dom, virtiofs, FALSE, &error));
    g_assert_no_error(error);
    g_assert_false(ferry_migrate_check_blockers(dom, virtiofs, TRUE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    assert_message_has(error, "virtiofs share (mount tag share)");
    g_clear_error(&error);

    set_no_migrate(dom, TRUE);
    g_assert_false(ferry_migrate_check_blockers(dom, NULL, FALSE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    assert_message_has(error, "virt-ferry policy vm1 no_migrate=false");
    g_clear_error(&error);
    set_no_migrate(dom, FALSE);
    g_assert_true(ferry_migrate_check_blockers(dom, NULL, TRUE, &error));
    g_assert_no_error(error);

    g_assert_false(ferry_migrate_check_blockers(dom, "<network/>", TRUE, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------ the entry point */

static void test_migrate_check(Fixture *f, gconstpointer data)
{
    g_autoptr(virConnect) dst = virConnectOpen("test:///default"); /* it has free memory */
    g_assert_nonnull(dst);
    g_autoptr(virDomain) vm1 = domain(f->src, "vm1");
    g_autoptr(GError) error = NULL;
    int before = n_pools(dst);

    g_assert_true(ferry_migrate_check(f->src, dst, vm1, FERRY_METHOD_STORAGE_MIGRATION, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(ferry_migrate_check(f->src, dst, vm1, FERRY_METHOD_MOVE, "/srv/images", &error));
    g_assert_no_error(error);

    /* Not shared: the methods that need shared storage refuse, saying why. */
    FerryMethod needs_shared[] = { FERRY_METHOD_MIGRATION, FERRY_METHOD_QUICK_MIGRATION, FERRY_METHOD_FAILOVER };
    for (guint i = 0; i < G_N_ELEMENTS(needs_shared); i++) {
        g_assert_false(ferry_migrate_check(f->src, dst, vm1, needs_shared[i], NULL, &error));
        g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
        assert_message_has(error, ferry_method_name(needs_shared[i]));
        assert_message_has(error, "is not the same storage on");
        assert_message_has(error, "storage-migration and move copy the disks instead");
        g_clear_error(&error);
    }
    /* Without disks there is nothing to share. */
    g_autoptr(virDomain) nodisk = domain(f->src, "passthrough");
    g_assert_true(ferry_migrate_check(f->src, dst, nodisk, FERRY_METHOD_MIGRATION, NULL, &error));
    g_assert_no_error(error);

    /* Each check's error comes through. */
    g_autoptr(virDomain) big = domain(f->src, "big");
    g_assert_false(ferry_migrate_check(f->src, dst, big, FERRY_METHOD_MIGRATION, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_NO_CAPACITY);
    g_clear_error(&error);
    set_no_migrate(vm1, TRUE);
    g_assert_false(ferry_migrate_check(f->src, dst, vm1, FERRY_METHOD_MOVE, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_UNSUPPORTED);
    assert_message_has(error, "no_migrate=false");
    g_clear_error(&error);
    set_no_migrate(vm1, FALSE);
    g_assert_false(ferry_migrate_check(f->src, dst, vm1, FERRY_METHOD_N, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_false(ferry_migrate_check(f->src, NULL, vm1, FERRY_METHOD_MOVE, NULL, &error));
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT);

    g_assert_cmpint(n_pools(dst), ==, before);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, quiet);
    g_test_add_func("/migrate-check/method-names", test_method_names);
    g_test_add_func("/migrate-check/methods-parse", test_methods_parse);
    g_test_add_func("/migrate-check/host-cpus", test_host_cpus);
    g_test_add("/migrate-check/versions", Fixture, NULL, setup, test_versions, teardown);
    g_test_add("/migrate-check/cpu", Fixture, NULL, setup, test_cpu, teardown);
    g_test_add("/migrate-check/memory", Fixture, NULL, setup, test_memory, teardown);
    g_test_add("/migrate-check/disk-space", Fixture, NULL, setup, test_disk_space, teardown);
    g_test_add("/migrate-check/storage-shared", Fixture, NULL, setup, test_storage_shared, teardown);
    g_test_add("/migrate-check/create-volume-confined", Fixture, NULL, setup, test_create_volume_confined, teardown);
    g_test_add("/migrate-check/blockers", Fixture, NULL, setup, test_blockers, teardown);
    g_test_add("/migrate-check/migrate-check", Fixture, NULL, setup, test_migrate_check, teardown);
    return g_test_run();
}
