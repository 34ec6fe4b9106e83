/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A private bus and a Report receiver for exercising virt-ferry-hook (see hook-harness.h).
 * Everything started here dies with the process that started it (PR_SET_PDEATHSIG), so a
 * failing assertion leaves no dbus-daemon behind. */
#include "hook-harness.h"

#include "ferry-names.h"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECEIVER_ARG "--hook-receiver"
#define STARTUP_TIMEOUT_MS 10000

/* ------------------------------------------------------------------ line reader */

struct HookLineReader {
    GInputStream *stream; /* kept alive: it owns the fd */
    int fd;
    GString *buffer;
    gboolean eof;
};

HookLineReader *hook_line_reader_new(GInputStream *stream)
{
    HookLineReader *reader = g_new0(HookLineReader, 1);
    g_assert_true(G_IS_UNIX_INPUT_STREAM(stream));
    reader->stream = g_object_ref(stream);
    reader->fd = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(stream));
    reader->buffer = g_string_new(NULL);
    return reader;
}

static char *take_line(GString *buffer)
{
    const char *newline = memchr(buffer->str, '\n', buffer->len);
    if (!newline)
        return NULL;
    gsize length = (gsize) (newline - buffer->str);
    char *line = g_strndup(buffer->str, length);
    g_string_erase(buffer, 0, (gssize) length + 1);
    return line;
}

char *hook_line_reader_next(HookLineReader *reader, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
    for (;;) {
        char *line = take_line(reader->buffer);
        if (line || reader->eof)
            return line;
        gint64 left_us = deadline - g_get_monotonic_time();
        if (left_us <= 0)
            return NULL;
        struct pollfd readable = { .fd = reader->fd, .events = POLLIN };
        int ready = poll(&readable, 1, (int) ((left_us + 999) / 1000));
        if (ready < 0 && errno == EINTR)
            continue;
        g_assert_cmpint(ready, >=, 0);
        if (ready == 0)
            return NULL;
        char chunk[4096];
        ssize_t n = read(reader->fd, chunk, sizeof chunk);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            reader->eof = TRUE;
        else
            g_string_append_len(reader->buffer, chunk, n);
    }
}

void hook_line_reader_free(HookLineReader *reader)
{
    if (!reader)
        return;
    g_object_unref(reader->stream);
    g_string_free(reader->buffer, TRUE);
    g_free(reader);
}

/* ------------------------------------------------------------------ children */

static void die_with_parent(gpointer unused)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocessLauncher *child_launcher(void)
{
    GSubprocessLauncher *launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
    return launcher;
}

static void kill_and_reap(GSubprocess *process)
{
    if (!process)
        return;
    g_subprocess_force_exit(process); /* SIGKILL: works on a SIGSTOPped process too */
    g_subprocess_wait(process, NULL, NULL);
    g_object_unref(process);
}

static pid_t subprocess_pid(GSubprocess *process)
{
    const char *id = g_subprocess_get_identifier(process);
    g_assert_nonnull(id);
    return (pid_t) g_ascii_strtoll(id, NULL, 10);
}

/* ------------------------------------------------------------------ the bus */

static const char bus_config[] =
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <type>system</type>\n"
    "  <listen>unix:path=%s/bus</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow user=\"*\"/>\n"
    "    <allow own=\"*\"/>\n"
    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
    "    <allow receive_sender=\"*\"/>\n"
    "    <allow eavesdrop=\"true\"/>\n"
    "  </policy>\n"
    "</busconfig>\n";

HookBus *hook_bus_start(const char *dir)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *config_path = g_build_filename(dir, "bus.conf", NULL);
    g_autofree char *config = g_strdup_printf(bus_config, dir);
    g_assert_true(g_file_set_contents(config_path, config, -1, &error));
    g_assert_no_error(error);

    g_autofree char *config_arg = g_strconcat("--config-file=", config_path, NULL);
    g_autoptr(GSubprocessLauncher) launcher = child_launcher();
    HookBus *bus = g_new0(HookBus, 1);
    bus->process = g_subprocess_launcher_spawn(launcher, &error, "dbus-daemon", "--nofork",
                                               "--print-address", config_arg, NULL);
    g_assert_no_error(error);
    bus->stdout_lines = hook_line_reader_new(g_subprocess_get_stdout_pipe(bus->process));
    bus->address = hook_line_reader_next(bus->stdout_lines, STARTUP_TIMEOUT_MS);
    g_assert_nonnull(bus->address);
    return bus;
}

pid_t hook_bus_pid(HookBus *bus)
{
    return subprocess_pid(bus->process);
}

void hook_bus_stop(HookBus *bus)
{
    if (!bus)
        return;
    kill_and_reap(bus->process);
    hook_line_reader_free(bus->stdout_lines);
    g_free(bus->address);
    g_free(bus);
}

/* ------------------------------------------------------------------ the receiver */

static const char hook_interface_xml[] =
    "<node>"
    "  <interface name='" FERRY_HOOK_INTERFACE "'>"
    "    <method name='Report'>"
    "      <arg name='object' type='s' direction='in'/>"
    "      <arg name='object_name' type='s' direction='in'/>"
    "      <arg name='operation' type='s' direction='in'/>"
    "      <arg name='sub_operation' type='s' direction='in'/>"
    "    </method>"
    "  </interface>"
    "</node>";

/* One line per Report: "report", then the four arguments escaped (no tabs, no newlines). */
static void print_report(GVariant *parameters)
{
    const char *args[4];
    g_variant_get(parameters, "(&s&s&s&s)", &args[0], &args[1], &args[2], &args[3]);
    GString *line = g_string_new("report");
    for (int i = 0; i < 4; i++) {
        g_autofree char *escaped = g_strescape(args[i], NULL);
        g_string_append_printf(line, "\t%s", escaped);
    }
    printf("%s\n", line->str);
    fflush(stdout);
    g_string_free(line, TRUE);
}

static void handle_method_call(GDBusConnection *connection, const char *sender, const char *path,
                               const char *interface, const char *method, GVariant *parameters,
                               GDBusMethodInvocation *invocation, gpointer user_data)
{
    if (g_str_equal(method, "Report"))
        print_report(parameters);
    g_dbus_method_invocation_return_value(invocation, NULL);
}

static const GDBusInterfaceVTable hook_vtable = { .method_call = handle_method_call };

static int receiver_main(void)
{
    g_autoptr(GError) error = NULL;
    const char *address = g_getenv("DBUS_SYSTEM_BUS_ADDRESS");
    g_assert_nonnull(address);
    g_autoptr(GDBusConnection) connection = g_dbus_connection_new_for_address_sync(
        address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
        NULL, NULL, &error);
    g_assert_no_error(error);

    g_autoptr(GDBusNodeInfo) node = g_dbus_node_info_new_for_xml(hook_interface_xml, &error);
    g_assert_no_error(error);
    guint id = g_dbus_connection_register_object(connection, FERRY_ROOT_PATH, node->interfaces[0],
                                                 &hook_vtable, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(id, >, 0);

    g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
        connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
        g_variant_new("(su)", FERRY_BUS_NAME, 4 /* DO_NOT_QUEUE */), G_VARIANT_TYPE("(u)"),
        G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
    g_assert_no_error(error);
    guint32 result;
    g_variant_get(reply, "(u)", &result);
    g_assert_cmpuint(result, ==, 1 /* PRIMARY_OWNER */);

    printf("ready\n");
    fflush(stdout);
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    g_main_loop_run(loop);
    return 0;
}

void hook_receiver_main_if_asked(int argc, char **argv)
{
    if (argc == 2 && g_str_equal(argv[1], RECEIVER_ARG))
        exit(receiver_main());
}

HookReceiver *hook_receiver_start(const char *address)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *self = g_file_read_link("/proc/self/exe", &error);
    g_assert_no_error(error);
    g_autoptr(GSubprocessLauncher) launcher = child_launcher();
    g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);

    HookReceiver *receiver = g_new0(HookReceiver, 1);
    receiver->process = g_subprocess_launcher_spawn(launcher, &error, self, RECEIVER_ARG, NULL);
    g_assert_no_error(error);
    receiver->stdout_lines = hook_line_reader_new(g_subprocess_get_stdout_pipe(receiver->process));
    g_autofree char *ready = hook_line_reader_next(receiver->stdout_lines, STARTUP_TIMEOUT_MS);
    g_assert_cmpstr(ready, ==, "ready");
    return receiver;
}

char **hook_receiver_next(HookReceiver *receiver, int timeout_ms)
{
    g_autofree char *line = hook_line_reader_next(receiver->stdout_lines, timeout_ms);
    if (!line)
        return NULL;
    g_auto(GStrv) fields = g_strsplit(line, "\t", -1);
    g_assert_cmpuint(g_strv_length(fields), ==, 5);
    g_assert_cmpstr(fields[0], ==, "report");
    char **args = g_new0(char *, 5);
    for (int i = 0; i < 4; i++)
        args[i] = g_strcompress(fields[i + 1]);
    return args;
}

pid_t hook_receiver_pid(HookReceiver *receiver)
{
    return subprocess_pid(receiver->process);
}

void hook_receiver_stop(HookReceiver *receiver)
{
    if (!receiver)
        return;
    kill_and_reap(receiver->process);
    hook_line_reader_free(receiver->stdout_lines);
    g_free(receiver);
}

/* ------------------------------------------------------------------ files */

static const char *const hook_objects[] = { "qemu", "daemon", "network" };

char *hook_path_for(const char *dir, const char *object)
{
    g_autofree char *object_dir = g_strconcat(object, ".d", NULL);
    return g_build_filename(dir, object_dir, "virt-ferry", NULL);
}

void hook_install_links(const char *dir)
{
    for (gsize i = 0; i < G_N_ELEMENTS(hook_objects); i++) {
        g_autofree char *path = hook_path_for(dir, hook_objects[i]);
        g_autofree char *object_dir = g_path_get_dirname(path);
        g_assert_cmpint(g_mkdir_with_parents(object_dir, 0755), ==, 0);
        g_assert_cmpint(symlink(HOOK_PATH, path), ==, 0);
    }
}

char *hook_write_config(const char *dir, const char *state_dir)
{
    g_autoptr(GError) error = NULL;
    char *path = g_build_filename(dir, "virt-ferry.conf", NULL);
    g_autofree char *text = g_strdup_printf("[state]\ndir=%s\n", state_dir);
    g_assert_true(g_file_set_contents(path, text, -1, &error));
    g_assert_no_error(error);
    return path;
}

char *hook_scratch_dir_new(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("virt-ferry-hook-XXXXXX", &error);
    g_assert_no_error(error);
    return dir;
}

/* rm -rf without following symlinks (the hook links point at the build tree). */
void hook_scratch_dir_remove(const char *dir)
{
    GStatBuf st;
    if (!dir || g_lstat(dir, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        GDir *entries = g_dir_open(dir, 0, NULL);
        const char *name;
        while (entries && (name = g_dir_read_name(entries))) {
            g_autofree char *child = g_build_filename(dir, name, NULL);
            hook_scratch_dir_remove(child);
        }
        if (entries)
            g_dir_close(entries);
        g_rmdir(dir);
    } else {
        g_unlink(dir);
    }
}

GBytes *hook_domain_xml(gsize size)
{
    GString *xml = g_string_new("<domain type='kvm'>\n  <name>db 1</name>\n"
                                "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"
                                "  <description>Zeile \xc3\xbc, \xe2\x82\xac, tab\there</description>\n"
                                "  <devices>\n");
    for (guint n = 0; xml->len < size; n++)
        g_string_append_printf(xml,
                               "    <interface type='network'><mac address='52:54:00:%02x:%02x:%02x'/>"
                               "<source network='net%u' portgroup='vlan%u'/></interface>\n",
                               (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, n % 7, n % 4095);
    g_string_append(xml, "  </devices>\n</domain>\n");
    return g_string_free_to_bytes(xml);
}
