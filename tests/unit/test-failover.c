/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Failover's side of the shared directory (plugin/failover.c): what it publishes, and what it
 * refuses to read there. The takeover defines, as root, whatever another host left in that
 * directory: a link, a FIFO, a huge file, a file naming another domain, or a directory others
 * can write must not get through. Publication uses libvirt's test:///default driver. */
#include "failover.h"
#include "ferry-error.h"
#include "libvirt-autoptr.h"

#include "copy.h"

#include <glib/gstdio.h>
#include <libvirt/virterror.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define OTHER_UUID "11111111-2222-3333-4444-555555555555"

typedef struct {
    char *dir;      /* the [failover] dir= */
    char *host_dir; /* <dir>/alpha */
} Fixture;

static char *domain_xml(const char *uuid)
{
    return g_strdup_printf("<domain type='kvm'><name>db1</name><uuid>%s</uuid><memory>131072</memory>"
                           "<os><type>hvm</type></os></domain>\n", uuid);
}

static void publish_file(Fixture *f, const char *name, const char *contents)
{
    g_autofree char *path = g_build_filename(f->host_dir, name, NULL);
    g_assert_true(g_file_set_contents_full(path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
}

static void fixture_set_up(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("test-failover-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->host_dir = g_build_filename(f->dir, "alpha", NULL);
    g_assert_cmpint(g_mkdir(f->host_dir, 0700), ==, 0);
    /* A takeover that blocks fails the test rather than hangs it. */
    alarm(20);
}

static void fixture_tear_down(Fixture *f, gconstpointer data)
{
    alarm(0);
    g_chmod(f->dir, 0700);
    ferry_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->host_dir);
}

/* The directory checks are about root's own directories: as another user every one fails. */
static gboolean need_root(void)
{
    if (geteuid() == 0)
        return TRUE;
    g_test_skip("failover reads only directories owned by root: run as root");
    return FALSE;
}

static void assert_refused(Fixture *f, const char *uuid, FerryErrorCode code)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = ferry_failover_read_published(f->dir, "alpha", uuid, &error);
    g_assert_null(xml);
    g_assert_error(error, FERRY_ERROR, (int)code);
    g_test_message("%s", error->message);
}

static void test_reads_a_publication(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autofree char *want = domain_xml(UUID);
    publish_file(f, UUID ".xml", want);
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = ferry_failover_read_published(f->dir, "alpha", UUID, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(xml, ==, want);
    /* libvirt writes UUIDs in lower case; the name and the XML may differ in case only. */
    g_autofree char *upper = g_ascii_strup(UUID, -1);
    g_autofree char *upper_xml = domain_xml(upper);
    publish_file(f, UUID ".xml", upper_xml);
    g_autofree char *again = ferry_failover_read_published(f->dir, "alpha", UUID, &error);
    g_assert_no_error(error);
    assert_refused(f, OTHER_UUID, FERRY_ERROR_NOT_FOUND);
}

static void test_refuses_a_fifo(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autofree char *path = g_build_filename(f->host_dir, UUID ".xml", NULL);
    g_assert_cmpint(mkfifo(path, 0600), ==, 0);
    assert_refused(f, UUID, FERRY_ERROR_FAILED);
}

static void test_refuses_a_symlink(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autofree char *xml = domain_xml(UUID);
    g_autofree char *target = g_build_filename(f->dir, "elsewhere.xml", NULL);
    g_assert_true(g_file_set_contents(target, xml, -1, NULL));
    g_autofree char *path = g_build_filename(f->host_dir, UUID ".xml", NULL);
    g_assert_cmpint(symlink(target, path), ==, 0);
    assert_refused(f, UUID, FERRY_ERROR_FAILED);
}

static void test_refuses_a_huge_file(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autofree char *path = g_build_filename(f->host_dir, UUID ".xml", NULL);
    publish_file(f, UUID ".xml", "<domain>");
    g_assert_cmpint(truncate(path, FERRY_FAILOVER_XML_MAX + 1), ==, 0);
    assert_refused(f, UUID, FERRY_ERROR_FAILED);
}

static void test_refuses_another_uuid(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autofree char *other = domain_xml(OTHER_UUID);
    publish_file(f, UUID ".xml", other);
    assert_refused(f, UUID, FERRY_ERROR_INVALID_ARGUMENT);
    /* No <uuid>: libvirt would make one up, which is not the name's either. */
    publish_file(f, UUID ".xml", "<domain type='kvm'><name>db1</name><memory>1</memory></domain>");
    assert_refused(f, UUID, FERRY_ERROR_INVALID_ARGUMENT);
    publish_file(f, UUID ".xml", "not XML");
    assert_refused(f, UUID, FERRY_ERROR_INVALID_ARGUMENT);
    /* A name that is no UUID at all. */
    publish_file(f, "db1.xml", other);
    assert_refused(f, "db1", FERRY_ERROR_INVALID_ARGUMENT);
}

static void test_refuses_open_directories(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autofree char *xml = domain_xml(UUID);
    publish_file(f, UUID ".xml", xml);
    g_assert_cmpint(g_chmod(f->host_dir, 0777), ==, 0);
    assert_refused(f, UUID, FERRY_ERROR_FAILED);
    g_assert_cmpint(g_chmod(f->host_dir, 0720), ==, 0);
    assert_refused(f, UUID, FERRY_ERROR_FAILED);
    g_assert_cmpint(g_chmod(f->host_dir, 0755), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autofree char *ok = ferry_failover_read_published(f->dir, "alpha", UUID, &error);
    g_assert_no_error(error);
    /* The failover directory itself, too: whoever writes there can swap <host>. */
    g_assert_cmpint(g_chmod(f->dir, 0777), ==, 0);
    assert_refused(f, UUID, FERRY_ERROR_FAILED);
    g_assert_cmpint(g_chmod(f->dir, 0700), ==, 0);
    /* Owned by another user. */
    g_assert_cmpint(chown(f->host_dir, 65534, 65534), ==, 0);
    g_assert_cmpint(g_chmod(f->host_dir, 0700), ==, 0);
    assert_refused(f, UUID, FERRY_ERROR_FAILED);
}

static void test_refuses_a_linked_host_directory(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autofree char *xml = domain_xml(UUID);
    publish_file(f, UUID ".xml", xml);
    g_autofree char *link = g_build_filename(f->dir, "beta", NULL);
    g_assert_cmpint(symlink(f->host_dir, link), ==, 0);
    g_autoptr(GError) error = NULL;
    g_autofree char *got = ferry_failover_read_published(f->dir, "beta", UUID, &error);
    g_assert_null(got);
    g_assert_error(error, FERRY_ERROR, FERRY_ERROR_FAILED);
}

static virDomainPtr test_domain(virConnectPtr conn)
{
    virDomainPtr dom = virDomainLookupByName(conn, "test");
    g_assert_nonnull(dom);
    g_assert_cmpint(virDomainIsPersistent(dom), ==, 1);
    return dom;
}

static void test_publishes_privately(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_assert_nonnull(conn);
    g_autoptr(virDomain) dom = test_domain(conn);
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_assert_cmpint(virDomainGetUUIDString(dom, uuid), ==, 0);
    /* A host directory that does not exist yet is made 0700. */
    g_assert_cmpint(g_rmdir(f->host_dir), ==, 0);
    ferry_failover_publish(f->dir, "alpha", dom, uuid);
    struct stat st;
    g_assert_cmpint(g_stat(f->host_dir, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0700);
    g_autofree char *path = g_strdup_printf("%s/%s.xml", f->host_dir, uuid);
    g_autofree char *running = g_strdup_printf("%s/%s.running", f->host_dir, uuid);
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0600);
    g_assert_cmpint(g_stat(running, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 07777, ==, 0600);
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = ferry_failover_read_published(f->dir, "alpha", uuid, &error);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(xml, uuid));
}

static void test_publishes_nothing_where_others_write(Fixture *f, gconstpointer data)
{
    if (!need_root())
        return;
    g_autoptr(virConnect) conn = virConnectOpen("test:///default");
    g_assert_nonnull(conn);
    g_autoptr(virDomain) dom = test_domain(conn);
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_assert_cmpint(virDomainGetUUIDString(dom, uuid), ==, 0);
    g_assert_cmpint(g_chmod(f->host_dir, 0777), ==, 0);
    g_test_expect_message("virt-ferry", G_LOG_LEVEL_WARNING, "not publishing domain*writable by others*");
    ferry_failover_publish(f->dir, "alpha", dom, uuid);
    g_test_assert_expected_messages();
    g_autofree char *path = g_strdup_printf("%s/%s.xml", f->host_dir, uuid);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, NULL);
#define ADD(name, fn) g_test_add("/failover/" name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
    ADD("read/publication", test_reads_a_publication);
    ADD("read/fifo", test_refuses_a_fifo);
    ADD("read/symlink", test_refuses_a_symlink);
    ADD("read/huge", test_refuses_a_huge_file);
    ADD("read/other-uuid", test_refuses_another_uuid);
    ADD("read/open-directories", test_refuses_open_directories);
    ADD("read/linked-host-directory", test_refuses_a_linked_host_directory);
    ADD("publish/private", test_publishes_privately);
    ADD("publish/open-directory", test_publishes_nothing_where_others_write);
    return g_test_run();
}
