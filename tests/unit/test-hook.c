/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-hook, the built program, run the way libvirt runs it: from qemu.d/, daemon.d/
 * or network.d/, XML on stdin, against a private dbus-daemon with a receiver that owns
 * org.virtferry.Ferry1 in a child process (so the test can freeze it with SIGSTOP). */
#include "hook-harness.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The hook's contract is 250 ms; this is the bound the tests hold it to, with slack for
 * exec, the dynamic linker and a busy CI machine. A correctness bound, not a benchmark. */
#define BOUND_SECONDS 1.0
/* The hook never waits for virt-ferryd itself: with virt-ferryd stopped it must finish
 * well before its 250 ms bound would end it (a hook waiting for a reply would sit there). */
#define NO_WAIT_SECONDS 0.2
/* A hook that is not done after this is hung: the test fails instead of hanging. */
#define HUNG_MS 20000
/* How long a report may take to show up at the receiver. */
#define REPORT_TIMEOUT_MS 5000
/* Larger than a pipe's buffer (64 KiB), so the echo cannot work by accident. */
#define BIG_XML_BYTES (200 * 1024)

typedef struct {
    char *dir;
    HookBus *bus;
    HookReceiver *receiver;
    char *address; /* what the hook gets as DBUS_SYSTEM_BUS_ADDRESS */
} Fixture;

/* The hook's rewriter of migrate/restore XML reads the network map from the [state] dir of
 * $VIRT_FERRY_CONFIG: here one without a map, whatever this machine has installed, so that
 * the XML is echoed (tests/unit/test-hook-rewrite.c has the maps). */
static void use_config_without_map(Fixture *f)
{
    g_autofree char *state = g_build_filename(f->dir, "state", NULL);
    g_autofree char *config = hook_write_config(f->dir, state);
    g_setenv("VIRT_FERRY_CONFIG", config, TRUE);
}

static void setup_with_bus(Fixture *f, gconstpointer unused)
{
    f->dir = hook_scratch_dir_new();
    hook_install_links(f->dir);
    use_config_without_map(f);
    f->bus = hook_bus_start(f->dir);
    f->receiver = hook_receiver_start(f->bus->address);
    f->address = g_strdup(f->bus->address);
}

static void setup_without_bus(Fixture *f, gconstpointer unused)
{
    f->dir = hook_scratch_dir_new();
    hook_install_links(f->dir);
    use_config_without_map(f);
    f->address = g_strdup_printf("unix:path=%s/nobody-listens-here", f->dir);
}

static void teardown(Fixture *f, gconstpointer unused)
{
    hook_receiver_stop(f->receiver);
    hook_bus_stop(f->bus);
    hook_scratch_dir_remove(f->dir);
    g_free(f->dir);
    g_free(f->address);
}

/* ------------------------------------------------------------------ running the hook */

typedef struct {
    gboolean exited; /* by exit(), not by a signal */
    int status;
    GBytes *out;
    GBytes *err;
    double seconds;
} HookRun;

static void hook_run_free(HookRun *run)
{
    g_bytes_unref(run->out);
    g_bytes_unref(run->err);
    g_free(run);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HookRun, hook_run_free)

typedef struct {
    gboolean done;
    GBytes *out;
    GBytes *err;
    GError *error;
} Communication;

static void communicated(GObject *source, GAsyncResult *result, gpointer data)
{
    Communication *c = data;
    g_subprocess_communicate_finish(G_SUBPROCESS(source), result, &c->out, &c->err, &c->error);
    c->done = TRUE;
}

static gboolean cancel_hung(gpointer cancellable)
{
    g_cancellable_cancel(cancellable);
    return G_SOURCE_REMOVE;
}

/* Runs argv (argv[0] is the hook's path) with input on stdin, collecting stdout and stderr
 * to EOF and the exit status, as libvirt's virCommandRun does. */
static HookRun *run_argv(const char *const *argv, const char *address, GBytes *input)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);

    gint64 start = g_get_monotonic_time();
    g_autoptr(GSubprocess) hook = g_subprocess_launcher_spawnv(launcher, argv, &error);
    g_assert_no_error(error);

    g_autoptr(GBytes) nothing = g_bytes_new_static("", 0);
    g_autoptr(GCancellable) cancellable = g_cancellable_new();
    Communication c = { 0 };
    g_subprocess_communicate_async(hook, input ? input : nothing, cancellable, communicated, &c);
    guint hung = g_timeout_add(HUNG_MS, cancel_hung, cancellable);
    while (!c.done)
        g_main_context_iteration(NULL, TRUE);
    if (!g_cancellable_is_cancelled(cancellable))
        g_source_remove(hung);
    if (c.error) {
        g_subprocess_force_exit(hook);
        g_subprocess_wait(hook, NULL, NULL);
    }
    g_assert_no_error(c.error);

    HookRun *run = g_new0(HookRun, 1);
    run->seconds = (double) (g_get_monotonic_time() - start) / G_USEC_PER_SEC;
    run->exited = g_subprocess_get_if_exited(hook);
    run->status = run->exited ? g_subprocess_get_exit_status(hook) : -1;
    run->out = c.out;
    run->err = c.err;
    return run;
}

static HookRun *run_hook(Fixture *f, const char *object, const char *object_name, const char *operation,
                         const char *sub_operation, GBytes *input)
{
    g_autofree char *path = hook_path_for(f->dir, object);
    const char *argv[] = { path, object_name, operation, sub_operation, "-", NULL };
    return run_argv(argv, f->address, input);
}

/* What libvirt needs from every call: status 0, nothing on stderr, done within the bound. */
static void assert_quiet_success(const HookRun *run)
{
    g_assert_true(run->exited);
    g_assert_cmpint(run->status, ==, 0);
    g_assert_cmpmem(g_bytes_get_data(run->err, NULL), g_bytes_get_size(run->err), "", 0);
    g_assert_cmpfloat(run->seconds, <, BOUND_SECONDS);
}

static void assert_no_output(const HookRun *run)
{
    g_assert_cmpuint(g_bytes_get_size(run->out), ==, 0);
}

static void assert_echoed(const HookRun *run, GBytes *input)
{
    g_assert_cmpmem(g_bytes_get_data(run->out, NULL), g_bytes_get_size(run->out), g_bytes_get_data(input, NULL),
                    g_bytes_get_size(input));
}

static void assert_report(Fixture *f, const char *object, const char *object_name, const char *operation,
                          const char *sub_operation)
{
    g_auto(GStrv) report = hook_receiver_next(f->receiver, REPORT_TIMEOUT_MS);
    g_assert_nonnull(report);
    g_assert_cmpstr(report[0], ==, object);
    g_assert_cmpstr(report[1], ==, object_name);
    g_assert_cmpstr(report[2], ==, operation);
    g_assert_cmpstr(report[3], ==, sub_operation);
}

static void assert_no_report(Fixture *f)
{
    g_auto(GStrv) report = hook_receiver_next(f->receiver, 500);
    if (report)
        g_test_fail_printf("unexpected report: %s %s %s %s", report[0], report[1], report[2], report[3]);
}

/* ------------------------------------------------------------------ (1) reports */

static void test_report_qemu(Fixture *f, gconstpointer unused)
{
    g_autoptr(GBytes) xml = hook_domain_xml(4096);
    g_autoptr(HookRun) run = run_hook(f, "qemu", "db 1", "started", "begin", xml);
    assert_quiet_success(run);
    assert_no_output(run);
    assert_report(f, "qemu", "db 1", "started", "begin");
}

static void test_report_daemon(Fixture *f, gconstpointer unused)
{
    /* libvirtd's own hook: object "-", extra argument "start", nothing on stdin. */
    g_autofree char *path = hook_path_for(f->dir, "daemon");
    const char *argv[] = { path, "-", "start", "-", "start", NULL };
    g_autoptr(HookRun) run = run_argv(argv, f->address, NULL);
    assert_quiet_success(run);
    assert_no_output(run);
    assert_report(f, "daemon", "-", "start", "-");
}

static void test_report_network(Fixture *f, gconstpointer unused)
{
    g_autoptr(GBytes) xml = g_bytes_new_static("<hookData><network><name>default</name></network></hookData>\n", 62);
    g_autoptr(HookRun) run = run_hook(f, "network", "default", "started", "begin", xml);
    assert_quiet_success(run);
    assert_no_output(run);
    assert_report(f, "network", "default", "started", "begin");
}

static void test_report_legacy_layout(Fixture *f, gconstpointer unused)
{
    /* The old single-script layout, /etc/libvirt/hooks/qemu, names the object too. */
    g_autofree char *hooks = g_build_filename(f->dir, "hooks", NULL);
    g_autofree char *path = g_build_filename(hooks, "qemu", NULL);
    g_assert_cmpint(g_mkdir(hooks, 0755), ==, 0);
    g_assert_cmpint(symlink(HOOK_PATH, path), ==, 0);
    const char *argv[] = { path, "web", "stopped", "end", "-", NULL };
    g_autoptr(HookRun) run = run_argv(argv, f->address, NULL);
    assert_quiet_success(run);
    assert_report(f, "qemu", "web", "stopped", "end");
}

static void test_unknown_directory(Fixture *f, gconstpointer unused)
{
    /* Run from a directory that names no object it knows: succeed, report nothing. */
    g_autofree char *dir = g_build_filename(f->dir, "lxc.d", NULL);
    g_autofree char *path = g_build_filename(dir, "virt-ferry", NULL);
    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    g_assert_cmpint(symlink(HOOK_PATH, path), ==, 0);
    const char *argv[] = { path, "ct", "started", "begin", "-", NULL };
    g_autoptr(HookRun) run = run_argv(argv, f->address, NULL);
    assert_quiet_success(run);
    assert_no_output(run);
    assert_no_report(f);
}

static void test_report_every_call(Fixture *f, gconstpointer unused)
{
    /* The hook hangs up right after flushing: no report may get lost on the way. */
    enum { CALLS = 20 };
    g_autoptr(GHashTable) expected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < CALLS; i++) {
        g_autofree char *name = g_strdup_printf("vm%d", i);
        g_autoptr(HookRun) run = run_hook(f, "qemu", name, "started", "begin", NULL);
        assert_quiet_success(run);
        g_hash_table_add(expected, g_steal_pointer(&name));
    }
    for (int i = 0; i < CALLS; i++) {
        g_auto(GStrv) report = hook_receiver_next(f->receiver, REPORT_TIMEOUT_MS);
        g_assert_nonnull(report);
        g_assert_true(g_hash_table_remove(expected, report[1]));
    }
}

/* ------------------------------------------------------------------ (2) stdout */

static void test_passthrough(Fixture *f, gconstpointer unused)
{
    static const char *const operations[] = { "migrate", "restore" };
    g_autoptr(GBytes) xml = hook_domain_xml(BIG_XML_BYTES);
    for (gsize i = 0; i < G_N_ELEMENTS(operations); i++) {
        g_autoptr(HookRun) run = run_hook(f, "qemu", "db 1", operations[i], "begin", xml);
        assert_quiet_success(run);
        assert_echoed(run, xml);
        assert_report(f, "qemu", "db 1", operations[i], "begin");
    }
}

static void test_passthrough_empty(Fixture *f, gconstpointer unused)
{
    g_autoptr(HookRun) run = run_hook(f, "qemu", "db 1", "restore", "begin", NULL);
    assert_quiet_success(run);
    assert_no_output(run);
    assert_report(f, "qemu", "db 1", "restore", "begin");
}

static void test_other_operations_print_nothing(Fixture *f, gconstpointer unused)
{
    static const struct {
        const char *object, *object_name, *operation, *sub_operation;
    } calls[] = {
        { "qemu", "db 1", "prepare", "begin" },   { "qemu", "db 1", "start", "begin" },
        { "qemu", "db 1", "started", "begin" },   { "qemu", "db 1", "stopped", "end" },
        { "qemu", "db 1", "release", "end" },     { "qemu", "db 1", "reconnect", "begin" },
        { "qemu", "db 1", "attach", "begin" },    { "network", "default", "start", "begin" },
        { "network", "default", "port-created", "begin" }, { "network", "default", "migrate", "begin" },
        { "daemon", "-", "reload", "begin" },
    };
    g_autoptr(GBytes) xml = hook_domain_xml(BIG_XML_BYTES);
    for (gsize i = 0; i < G_N_ELEMENTS(calls); i++) {
        g_test_message("%s %s %s", calls[i].object, calls[i].operation, calls[i].sub_operation);
        g_autoptr(HookRun) run =
            run_hook(f, calls[i].object, calls[i].object_name, calls[i].operation, calls[i].sub_operation, xml);
        assert_quiet_success(run);
        assert_no_output(run);
        assert_report(f, calls[i].object, calls[i].object_name, calls[i].operation, calls[i].sub_operation);
    }
}

/* ------------------------------------------------------------------ (3) no bus */

static void test_no_bus(Fixture *f, gconstpointer unused)
{
    g_autoptr(HookRun) started = run_hook(f, "qemu", "db 1", "started", "begin", NULL);
    assert_quiet_success(started);
    assert_no_output(started);

    g_autoptr(GBytes) xml = hook_domain_xml(BIG_XML_BYTES);
    g_autoptr(HookRun) migrate = run_hook(f, "qemu", "db 1", "migrate", "begin", xml);
    assert_quiet_success(migrate);
    assert_echoed(migrate, xml);

    g_autoptr(HookRun) garbage = NULL;
    g_free(f->address);
    f->address = g_strdup("this is no address");
    garbage = run_hook(f, "qemu", "db 1", "started", "begin", NULL);
    assert_quiet_success(garbage);
}

/* This process's children as /proc lists them, zombies included, over all its threads. */
static GHashTable *children_now(void)
{
    GHashTable *set = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_autoptr(GDir) tasks = g_dir_open("/proc/self/task", 0, NULL);
    for (const char *t = tasks ? g_dir_read_name(tasks) : NULL; t; t = g_dir_read_name(tasks)) {
        g_autofree char *path = g_strdup_printf("/proc/self/task/%s/children", t);
        g_autofree char *text = NULL;
        if (!g_file_get_contents(path, &text, NULL, NULL))
            continue;
        g_auto(GStrv) pids = g_strsplit(g_strstrip(text), " ", -1);
        for (guint i = 0; pids[i]; i++)
            if (*pids[i])
                g_hash_table_add(set, GINT_TO_POINTER(atoi(pids[i])));
    }
    return set;
}

static void test_no_spawning_transport(Fixture *f, gconstpointer unused)
{
    g_autofree char *children_file = g_strdup_printf("/proc/self/task/%d/children", (int)getpid());
    if (!g_file_test(children_file, G_FILE_TEST_EXISTS)) {
        g_test_skip("the kernel does not list a process's children (/proc/PID/task/TID/children)");
        return;
    }
    /* As a subreaper, whatever the hook forked is this process's child once the hook has
     * exited, alive or a zombie: checked at once, no waiting for an absence. */
    g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), ==, 0);
    g_autoptr(GHashTable) before = children_now();
    /* libdbus can exec a program to reach a bus (unixexec:, autolaunch:); the hook never
     * forks, so it must refuse such addresses. If it did not, the marker would appear. */
    g_autofree char *marker = g_build_filename(f->dir, "spawned", NULL);
    g_free(f->address);
    f->address = g_strdup_printf("unixexec:path=/bin/sh,argv0=sh,argv1=-c,argv2=touch%%20%s", marker);
    g_autoptr(HookRun) run = run_hook(f, "qemu", "db 1", "started", "begin", NULL);
    assert_quiet_success(run);
    g_autoptr(GHashTable) after = children_now();
    g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), ==, 0);
    GHashTableIter iter;
    gpointer pid;
    g_hash_table_iter_init(&iter, after);
    while (g_hash_table_iter_next(&iter, &pid, NULL))
        if (!g_hash_table_contains(before, pid))
            g_error("the hook left a process behind (pid %d): it spawned a transport", GPOINTER_TO_INT(pid));
    g_assert_false(g_file_test(marker, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------------ (4), (5) frozen peers */

static void test_frozen_receiver(Fixture *f, gconstpointer unused)
{
    pid_t receiver = hook_receiver_pid(f->receiver);
    g_assert_cmpint(kill(receiver, SIGSTOP), ==, 0);
    g_autoptr(HookRun) run = run_hook(f, "qemu", "db 1", "started", "begin", NULL);
    g_assert_cmpint(kill(receiver, SIGCONT), ==, 0);
    g_test_message("hook with a stopped receiver: %.3f s", run->seconds);
    assert_quiet_success(run);
    g_assert_cmpfloat(run->seconds, <, NO_WAIT_SECONDS);
    /* The report waited in the bus and arrives once virt-ferryd runs again. */
    assert_report(f, "qemu", "db 1", "started", "begin");
}

static void test_frozen_bus(Fixture *f, gconstpointer unused)
{
    pid_t bus = hook_bus_pid(f->bus);
    g_autoptr(GBytes) xml = hook_domain_xml(BIG_XML_BYTES);
    g_assert_cmpint(kill(bus, SIGSTOP), ==, 0);
    g_autoptr(HookRun) started = run_hook(f, "qemu", "db 1", "started", "begin", NULL);
    g_autoptr(HookRun) migrate = run_hook(f, "qemu", "db 1", "migrate", "begin", xml);
    g_assert_cmpint(kill(bus, SIGCONT), ==, 0);

    g_test_message("hook with a stopped dbus-daemon: started %.3f s, migrate %.3f s", started->seconds,
                   migrate->seconds);
    assert_quiet_success(started);
    assert_no_output(started);
    assert_quiet_success(migrate);
    assert_echoed(migrate, xml);
}

/* ------------------------------------------------------------------ (6) UTF-8 */

static void test_invalid_utf8(Fixture *f, gconstpointer unused)
{
    /* libdbus aborts on invalid UTF-8: every bad byte must become U+FFFD first. */
    g_autoptr(HookRun) run = run_hook(f, "qemu", "db\xff" "1", "start\xc3", "\xc0\xaf\xed\xa0\x80", NULL);
    assert_quiet_success(run);
    assert_report(f, "qemu", "db\xef\xbf\xbd" "1", "start\xef\xbf\xbd",
                  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_long_argument(Fixture *f, gconstpointer unused)
{
    /* An odd prefix puts the 1024-byte cut in the middle of a two-byte character. */
    GString *name = g_string_new("x");
    for (int i = 0; i < 3000; i++)
        g_string_append(name, "\xc3\xa9");
    g_autoptr(HookRun) run = run_hook(f, "qemu", name->str, "started", "begin", NULL);
    assert_quiet_success(run);

    g_auto(GStrv) report = hook_receiver_next(f->receiver, REPORT_TIMEOUT_MS);
    g_assert_nonnull(report);
    gsize length = strlen(report[1]);
    g_assert_true(g_utf8_validate(report[1], -1, NULL));
    g_assert_cmpuint(length, <=, 1024);
    g_assert_cmpuint(length, >=, 1020);
    g_assert_true(g_str_has_prefix(name->str, report[1]));
    g_assert_cmpstr(report[2], ==, "started");
    g_string_free(name, TRUE);
}

/* ------------------------------------------------------------------ (7) stdout EOF */

static void note_exit(GObject *source, GAsyncResult *result, gpointer exited)
{
    g_subprocess_wait_finish(G_SUBPROCESS(source), result, NULL);
    *(gboolean *) exited = TRUE;
}

static gboolean note_timeout(gpointer timed_out)
{
    *(gboolean *) timed_out = TRUE;
    return G_SOURCE_REMOVE;
}

/* TRUE if the process exits within timeout_ms; otherwise it is killed, and FALSE. */
static gboolean wait_for_exit(GSubprocess *process, int timeout_ms)
{
    gboolean exited = FALSE, timed_out = FALSE;
    g_subprocess_wait_async(process, NULL, note_exit, &exited);
    guint timeout = g_timeout_add(timeout_ms, note_timeout, &timed_out);
    while (!exited && !timed_out)
        g_main_context_iteration(NULL, TRUE);
    if (!timed_out)
        g_source_remove(timeout);
    if (!exited)
        g_subprocess_force_exit(process);
    while (!exited) /* note_exit must not outlive this frame */
        g_main_context_iteration(NULL, TRUE);
    return !timed_out;
}

/* Reads fd to EOF within timeout_ms; returns what it read, or NULL if EOF did not come. */
static GBytes *read_to_eof(int fd, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64) timeout_ms * 1000;
    GByteArray *data = g_byte_array_new();
    for (;;) {
        gint64 left_us = deadline - g_get_monotonic_time();
        struct pollfd readable = { .fd = fd, .events = POLLIN };
        if (left_us <= 0 || poll(&readable, 1, (int) ((left_us + 999) / 1000)) == 0) {
            g_byte_array_unref(data);
            return NULL;
        }
        guint8 chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        g_assert_cmpint(n, >=, 0);
        if (n == 0)
            return g_byte_array_free_to_bytes(data);
        g_byte_array_append(data, chunk, (guint) n);
    }
}

/* Once the hook has exited, nothing may hold its stdout: libvirt reads it to EOF. */
static void check_stdout_released(Fixture *f, const char *operation, GBytes *input)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = hook_path_for(f->dir, "qemu");
    g_autoptr(GSubprocessLauncher) launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->address, TRUE);
    g_autoptr(GSubprocess) hook =
        g_subprocess_launcher_spawn(launcher, &error, path, "db 1", operation, "begin", "-", NULL);
    g_assert_no_error(error);

    GOutputStream *in = g_subprocess_get_stdin_pipe(hook);
    gsize written = 0;
    if (input)
        g_output_stream_write_all(in, g_bytes_get_data(input, NULL), g_bytes_get_size(input), &written, NULL,
                                  &error);
    g_assert_no_error(error);
    g_output_stream_close(in, NULL, &error);
    g_assert_no_error(error);

    g_assert_true(wait_for_exit(hook, HUNG_MS));
    g_assert_true(g_subprocess_get_if_exited(hook));
    g_assert_cmpint(g_subprocess_get_exit_status(hook), ==, 0);

    int out = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(hook)));
    g_autoptr(GBytes) output = read_to_eof(out, 1000);
    g_assert_nonnull(output);
    if (input)
        assert_echoed(&(HookRun){ .out = output }, input);
    else
        g_assert_cmpuint(g_bytes_get_size(output), ==, 0);
}

static void test_stdout_released(Fixture *f, gconstpointer unused)
{
    /* Below the pipe's buffer size, so the hook can finish before we read. */
    g_autoptr(GBytes) xml = hook_domain_xml(16 * 1024);
    check_stdout_released(f, "started", NULL);
    check_stdout_released(f, "migrate", xml);
}

/* ------------------------------------------------------------------ (8) unfinished work refuses */

/* The hook's bound for the XML of migrate/restore and the tagging of started (2 s), and the
 * most it may overrun it on a busy machine. */
#define DECIDING_BOUND_SECONDS 2.0
#define BOUND_SLACK_SECONDS 1.5

/* The hook for qemu OPERATION of "db 1", with part of a domain XML on stdin and stdin held
 * open: libvirt's input never ends, so whatever the hook does for it never finishes. */
static GSubprocess *spawn_with_stdin_held(Fixture *f, const char *operation, GOutputStream **stdin_pipe)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = hook_path_for(f->dir, "qemu");
    g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_subprocess_launcher_setenv(launcher, "DBUS_SYSTEM_BUS_ADDRESS", f->address, TRUE);
    GSubprocess *hook = g_subprocess_launcher_spawn(launcher, &error, path, "db 1", operation, "begin", "-", NULL);
    g_assert_no_error(error);
    *stdin_pipe = g_subprocess_get_stdin_pipe(hook);
    static const char part[] = "<domain type='kvm'>\n  <name>db 1</name>\n  <devices>\n";
    g_output_stream_write_all(*stdin_pipe, part, sizeof part - 1, NULL, NULL, &error);
    g_assert_no_error(error);
    return hook;
}

/* Waits for the hook's end; status and stderr. */
static int wait_refusal(GSubprocess *hook, char **err)
{
    g_assert_true(wait_for_exit(hook, HUNG_MS));
    int fd = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(g_subprocess_get_stderr_pipe(hook)));
    g_autoptr(GBytes) bytes = read_to_eof(fd, 1000);
    g_assert_nonnull(bytes);
    *err = g_strndup(g_bytes_get_size(bytes) ? g_bytes_get_data(bytes, NULL) : "", g_bytes_get_size(bytes));
    g_test_message("status %d, stderr: %s", g_subprocess_get_if_exited(hook) ? g_subprocess_get_exit_status(hook) : -1,
                   *err);
    g_assert_true(g_subprocess_get_if_exited(hook));
    return g_subprocess_get_exit_status(hook);
}

static void assert_nothing_on_stdout(GSubprocess *hook)
{
    int fd = g_unix_input_stream_get_fd(G_UNIX_INPUT_STREAM(g_subprocess_get_stdout_pipe(hook)));
    g_autoptr(GBytes) out = read_to_eof(fd, 1000);
    g_assert_nonnull(out);
    g_assert_cmpuint(g_bytes_get_size(out), ==, 0);
}

/* started: the bound ends a tagging that did not finish, and that is a refusal (libvirt
 * then stops the guest), not a success that would start it on VLAN 1, untagged. */
static void test_tagging_cut_by_bound(Fixture *f, gconstpointer unused)
{
    GOutputStream *in = NULL;
    gint64 start = g_get_monotonic_time();
    g_autoptr(GSubprocess) hook = spawn_with_stdin_held(f, "started", &in);
    g_autofree char *err = NULL;
    int status = wait_refusal(hook, &err);
    double seconds = (double) (g_get_monotonic_time() - start) / G_USEC_PER_SEC;
    g_assert_cmpint(status, !=, 0);
    g_assert_cmpfloat(seconds, >=, DECIDING_BOUND_SECONDS - 0.1);
    g_assert_cmpfloat(seconds, <, DECIDING_BOUND_SECONDS + BOUND_SLACK_SECONDS);
    g_assert_nonnull(strstr(err, "virt-ferry: the start of domain db 1 is refused"));
    g_assert_nonnull(strstr(err, "VLAN 1, untagged"));
    g_assert_nonnull(strstr(err, "start it again"));
    g_assert_true(strchr(err, '\n') == err + strlen(err) - 1); /* one line */
    assert_nothing_on_stdout(hook);
}

/* migrate: the same for the rewrite. An empty stdout with status 0 would let libvirt go on
 * with the NICs unmapped. */
static void test_rewrite_cut_by_bound(Fixture *f, gconstpointer unused)
{
    GOutputStream *in = NULL;
    g_autoptr(GSubprocess) hook = spawn_with_stdin_held(f, "migrate", &in);
    g_autofree char *err = NULL;
    g_assert_cmpint(wait_refusal(hook, &err), !=, 0);
    g_assert_nonnull(strstr(err, "virt-ferry: the migrate of domain db 1 is refused"));
    assert_nothing_on_stdout(hook);
}

/* TRUE once @pid catches SIGSEGV (its handlers are in place) and sleeps (in read(), since
 * its stdin is held open). */
static gboolean handlers_installed_and_waiting(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int) pid);
    g_autofree char *status = NULL;
    if (!g_file_get_contents(path, &status, NULL, NULL))
        return FALSE;
    const char *caught = strstr(status, "\nSigCgt:\t");
    const char *state = strstr(status, "\nState:\t");
    if (!caught || !state)
        return FALSE;
    guint64 mask = g_ascii_strtoull(caught + strlen("\nSigCgt:\t"), NULL, 16);
    return (mask & (G_GUINT64_CONSTANT(1) << (SIGSEGV - 1))) && state[strlen("\nState:\t")] == 'S';
}

/* started: a crash while the tagging is under way refuses too. */
static void test_tagging_cut_by_crash(Fixture *f, gconstpointer unused)
{
    GOutputStream *in = NULL;
    g_autoptr(GSubprocess) hook = spawn_with_stdin_held(f, "started", &in);
    pid_t pid = (pid_t) g_ascii_strtoll(g_subprocess_get_identifier(hook), NULL, 10);
    gint64 give_up = g_get_monotonic_time() + G_USEC_PER_SEC;
    while (!handlers_installed_and_waiting(pid) && g_get_monotonic_time() < give_up)
        g_usleep(1000);
    g_assert_true(handlers_installed_and_waiting(pid));
    g_assert_cmpint(kill(pid, SIGSEGV), ==, 0);
    g_autofree char *err = NULL;
    g_assert_cmpint(wait_refusal(hook, &err), ==, 1);
    g_assert_nonnull(strstr(err, "virt-ferry-hook: internal error"));
    g_assert_nonnull(strstr(err, "virt-ferry: the start of domain db 1 is refused"));
}

int main(int argc, char **argv)
{
    hook_receiver_main_if_asked(argc, argv);
    /* A hook that stops reading must fail an assertion here, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    g_test_init(&argc, &argv, NULL);

#define ADD(path, setup, test) g_test_add(path, Fixture, NULL, setup, test, teardown)
    ADD("/hook/report/qemu", setup_with_bus, test_report_qemu);
    ADD("/hook/report/daemon", setup_with_bus, test_report_daemon);
    ADD("/hook/report/network", setup_with_bus, test_report_network);
    ADD("/hook/report/legacy-layout", setup_with_bus, test_report_legacy_layout);
    ADD("/hook/report/unknown-directory", setup_with_bus, test_unknown_directory);
    ADD("/hook/report/every-call", setup_with_bus, test_report_every_call);
    ADD("/hook/stdout/passthrough", setup_with_bus, test_passthrough);
    ADD("/hook/stdout/passthrough-empty", setup_with_bus, test_passthrough_empty);
    ADD("/hook/stdout/other-operations", setup_with_bus, test_other_operations_print_nothing);
    ADD("/hook/stdout/released", setup_with_bus, test_stdout_released);
    ADD("/hook/bound/no-bus", setup_without_bus, test_no_bus);
    ADD("/hook/bound/no-spawning-transport", setup_without_bus, test_no_spawning_transport);
    ADD("/hook/bound/frozen-receiver", setup_with_bus, test_frozen_receiver);
    ADD("/hook/bound/frozen-bus", setup_with_bus, test_frozen_bus);
    ADD("/hook/unfinished/tagging-cut-by-bound", setup_without_bus, test_tagging_cut_by_bound);
    ADD("/hook/unfinished/rewrite-cut-by-bound", setup_without_bus, test_rewrite_cut_by_bound);
    ADD("/hook/unfinished/tagging-cut-by-crash", setup_without_bus, test_tagging_cut_by_crash);
    ADD("/hook/utf8/invalid", setup_with_bus, test_invalid_utf8);
    ADD("/hook/utf8/long", setup_with_bus, test_long_argument);
#undef ADD
    return g_test_run();
}
