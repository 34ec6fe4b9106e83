/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry-hook: the libvirt hook of virt-ferry.
 *
 * Installed as /etc/libvirt/hooks/{qemu.d,daemon.d,network.d}/virt-ferry, it is run by
 * libvirt as
 *
 *     HOOK OBJECT_NAME OPERATION SUB_OPERATION EXTRA      (XML on stdin)
 *
 * and tells virt-ferryd about the call with one D-Bus message,
 * org.virtferry.Ferry1.Hook.Report(object, object_name, operation, sub_operation), where
 * `object` (qemu, daemon, network) is the name of the directory the hook was run from.
 *
 * libvirtd runs hooks synchronously and waits for them, often while it holds a domain's
 * job (virt-ferry-hook(8)). Hence:
 *
 * - It never calls libvirt (that would deadlock against the job the caller holds) and
 *   never forks (a child could keep libvirt's stdout pipe open: libvirt waits for EOF).
 * - It exits 0, whatever happens (libvirt treats a failing hook as fatal for the
 *   operation, and a failing `reconnect` hook makes libvirtd kill a running guest), with
 *   two exceptions, where failing the operation is the point: a qemu `restore` or `migrate`
 *   whose NICs it cannot map (below), and a qemu `started` whose standard-switch ports it
 *   cannot put on their VLANs. For those two, any end before the work is done (the time
 *   bound, a crash, an unreadable input) is a refusal too: libvirt honours the status of
 *   both (hooks.html: a failing migrate/restore hook cancels the operation, a failing
 *   started hook stops the guest), and a success would run the guest with NICs on a
 *   wrong VLAN or on the bridge's default VLAN 1, untagged.
 * - Reporting is fire-and-forget: a method call with NO_REPLY_EXPECTED and auto-start off,
 *   so neither a busy virt-ferryd nor a missing one (no activation) can slow libvirt down.
 *
 * Only libc and libdbus are linked: the hook is exec'd for every domain operation and must
 * start fast (GLib and libxml2, which pulls in libstdc++ and ICU, would double its start-up
 * time). For qemu `migrate` and `restore` only, it loads virt-ferry-hook-rewrite.so (dlopen,
 * from its own directory) with GLib, libxml2 and virt-ferry's network map and domain XML
 * code, and lets it rewrite the incoming domain XML so that each NIC lands on the right VLAN
 * of this host (transparent VLAN remapping, the mapping table of virt-ferry-hook(8), see hook-rewrite.c); and
 * for qemu `started` to put the guest's Linux-bridge ports on their portgroups' VLANs
 * (hook_tag_ports: libvirt 9.0 cannot), refusing the start when the bridge cannot. It
 * decides from the network map virt-ferryd keeps on disk, <[state] dir>/netmap, the
 * configuration being $VIRT_FERRY_CONFIG or virt-ferry.conf:
 * - no map (virt-ferry not set up here) or nothing to change: the XML goes back byte for
 *   byte, as before;
 * - a NIC it cannot map: the hook refuses the operation: one line on stderr, which libvirt
 *   shows the user ("virt-ferry: cannot map NIC ..."), nothing on stdout, exit status 1.
 * Should the module be missing or broken, the NICs cannot be judged: when virt-ferry is set
 * up here (its network map exists) the hook refuses the operation, and only without a map
 * (virt-ferry never ran here) does it echo the XML, with a line on stderr either way.
 *
 * Time bounds, and why there are two of them:
 *
 * - REPORT_BOUND_MS (250 ms) bounds everything the hook does for an operation that only
 *   reports: reading the input, connecting to the bus, authenticating, and sending Hello
 *   and Report (Hello's answer is not waited for: send_hello). A SIGALRM then ends the process with status 0 (1 after a
 *   refusal). That bound is what a stopped or overloaded dbus-daemon costs libvirtd at most.
 * - `migrate` and `restore` of qemu may rewrite the domain XML: libvirt reads the hook's
 *   stdout and uses it as the new XML, and an empty stdout means "unchanged". A cut-off
 *   XML, by contrast, makes libvirt fail the migration or restore. So the hook reads the
 *   whole input first, decides, and only then writes its answer in one go (all or nothing),
 *   under its own, more generous bound PASSTHROUGH_BOUND_MS: loading the module, reading the
 *   map and rewriting a domain take about a millisecond or two, and a bound that fired on a
 *   loaded host would drop a rewrite. If the bound fires before the answer is written,
 *   stdout stays empty and the operation is refused (status 1, unfinished_line on stderr).
 *   It can only fire while writing if libvirtd stopped reading the pipe, in which case the
 *   operation is lost anyway. `started` has the same bound for tagging its ports, of which
 *   the kernel's answers get FERRY_PORT_TAG_BUDGET_MS (1 s, porttag.h), so that a kernel
 *   that does not answer gives a refusal naming the port before the bound cuts in. The
 *   250 ms report bound is armed afresh once stdout is complete and closed, so the XML
 *   never eats into the report's time: migrate and restore cost libvirtd at most
 *   PASSTHROUGH_BOUND_MS + REPORT_BOUND_MS.
 */
#define _GNU_SOURCE
#include <dbus/dbus.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "ferry-names.h"
#include "hook-rewrite.h"

/* The most a report may cost libvirtd, in milliseconds (see the header comment). */
#define REPORT_BOUND_MS 250
/* The most reading, rewriting and writing the XML of migrate/restore may take, in ms. */
#define PASSTHROUGH_BOUND_MS 2000
/* Larger "domain XML" is not domain XML: the operation is refused (libvirt could not use it). */
#define PASSTHROUGH_MAX_BYTES (64u << 20)
/* Names longer than this are cut (at a character boundary) before they go on the bus. */
#define ARG_MAX_BYTES 1024
/* Where the system bus listens when DBUS_SYSTEM_BUS_ADDRESS does not say otherwise. */
#define SYSTEM_BUS_DEFAULT_ADDRESS "unix:path=/var/run/dbus/system_bus_socket"

/* The rewrite module: next to this program, or where it is installed. */
#define REWRITER_NAME "virt-ferry-hook-rewrite.so"
#ifndef FERRY_HOOKSEXECDIR
#define FERRY_HOOKSEXECDIR "/usr/libexec/virt-ferry"
#endif

/* One hook invocation, as libvirt made it. */
typedef struct {
    const char *object; /* "qemu", "daemon", "network", or NULL when run from elsewhere */
    const char *object_name;
    const char *operation;
    const char *sub_operation;
} HookCall;

/* ------------------------------------------------------------------ process hygiene */

/* 0, or 1 once the rewriter refused the operation: whatever ends the process after that
 * (the bound, a crash) must not turn the refusal into a success. */
static volatile sig_atomic_t exit_status;

/* While the XML of migrate/restore is being mapped, or the ports of a starting guest are being
 * tagged, the work is unfinished: a bound or a crash then refuses the operation (status 1,
 * with this line on stderr), since libvirt would otherwise go on with NICs on no VLAN or on a
 * wrong one (the guest's ports stay on the bridge's default VLAN 1, untagged). Empty: nothing
 * is under way. Written before the bound is armed, read only by the handlers. */
static char unfinished_line[1024];
static volatile sig_atomic_t unfinished_length;

static void write_unfinished_line(void)
{
    ssize_t ignored = write(STDERR_FILENO, unfinished_line, (size_t) unfinished_length);
    (void) ignored;
}

/* What a bound or a crash ends the process with now. */
static int status_when_cut_short(void)
{
    return unfinished_length > 0 ? 1 : exit_status;
}

static void exit_on_bound(int sig)
{
    (void) sig;
    if (unfinished_length > 0)
        write_unfinished_line();
    _exit(status_when_cut_short());
}

static void report_crash_and_exit(int sig)
{
    /* Not quiet: this is a bug. Status 0 for a mere report, for the guest's sake (see the
     * header); a refusal while work that decides a NIC's VLAN is unfinished. */
    static const char message[] = "virt-ferry-hook: internal error, operation not reported\n";
    ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
    (void) ignored;
    (void) sig;
    if (unfinished_length > 0)
        write_unfinished_line();
    _exit(status_when_cut_short());
}

static void set_handler(int sig, void (*handler)(int))
{
    struct sigaction action = { .sa_handler = handler };
    sigemptyset(&action.sa_mask);
    sigaction(sig, &action, NULL);
}

static void install_signal_policy(void)
{
    set_handler(SIGALRM, exit_on_bound);
    /* A reader that went away must be an error return, not a death by signal. */
    set_handler(SIGPIPE, SIG_IGN);
    /* libdbus aborts on misuse; a signal death would count as a failed hook. */
    set_handler(SIGABRT, report_crash_and_exit);
    set_handler(SIGSEGV, report_crash_and_exit);
    set_handler(SIGBUS, report_crash_and_exit);
}

/* Arms (or re-arms) the one-shot bound; when it fires the process exits (exit_on_bound). */
static void arm_bound_ms(long ms)
{
    struct itimerval bound = {
        .it_value = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 },
    };
    setitimer(ITIMER_REAL, &bound, NULL);
}

/* If libvirt (or a person) ran us with fd 0, 1 or 2 closed, the bus socket could land on
 * one of them and receive what we write to stdout. Fill the gaps with /dev/null. */
static void ensure_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0 && null != fd) {
            dup3(null, fd, O_CLOEXEC);
            close(null);
        }
    }
}

/* libvirt waits until stdout reaches EOF: let go of it as soon as there is nothing more to
 * say. /dev/null takes the slot so that no later fd (the bus socket) becomes fd 1. */
static void release_stdout(void)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0) {
        close(STDOUT_FILENO);
        return;
    }
    dup3(null, STDOUT_FILENO, O_CLOEXEC);
    close(null);
}

/* ------------------------------------------------------------------ stdin and stdout */

static ssize_t read_some(int fd, void *buffer, size_t size)
{
    ssize_t n;
    do
        n = read(fd, buffer, size);
    while (n < 0 && errno == EINTR);
    return n;
}

/* libvirt writes the XML while it waits for us: read it all so its write completes. */
static void drain_stdin(void)
{
    static char sink[65536];
    while (read_some(STDIN_FILENO, sink, sizeof sink) > 0)
        ;
}

static bool write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= (size_t) n;
    }
    return true;
}

/* Reads stdin to EOF into a fresh buffer, NUL-terminated after *length bytes. NULL (with
 * stdin drained) when it is too large or unreadable: the caller then refuses, since it
 * cannot judge what it could not read. */
static char *read_all_stdin(size_t *length)
{
    size_t used = 0, capacity = 65536;
    char *buffer = malloc(capacity);
    if (!buffer) {
        drain_stdin();
        return NULL;
    }
    for (;;) {
        if (used + 1 == capacity) {
            char *larger = capacity < PASSTHROUGH_MAX_BYTES ? realloc(buffer, capacity * 2) : NULL;
            if (!larger) {
                free(buffer);
                drain_stdin();
                return NULL;
            }
            buffer = larger;
            capacity *= 2;
        }
        ssize_t n = read_some(STDIN_FILENO, buffer + used, capacity - 1 - used);
        if (n == 0)
            break;
        if (n < 0) {
            free(buffer);
            return NULL;
        }
        used += (size_t) n;
    }
    buffer[used] = '\0';
    *length = used;
    return buffer;
}

static void write_line_to_stderr(const char *line)
{
    if (write_all(STDERR_FILENO, line, strlen(line)))
        write_all(STDERR_FILENO, "\n", 1);
}


/* ------------------------------------------------------------------ the invocation */

static bool has_suffix(const char *s, size_t length, const char *suffix)
{
    size_t suffix_length = strlen(suffix);
    return length >= suffix_length && memcmp(s + length - suffix_length, suffix, suffix_length) == 0;
}

static const char *known_object(const char *name, size_t length)
{
    static const char *const objects[] = { "qemu", "daemon", "network" };
    for (size_t i = 0; i < sizeof objects / sizeof objects[0]; i++)
        if (strlen(objects[i]) == length && memcmp(objects[i], name, length) == 0)
            return objects[i];
    return NULL;
}

/* The object is the directory libvirt found us in: .../qemu.d/virt-ferry -> "qemu". The
 * old single-file layout, .../hooks/qemu, works too. Anything else: NULL. */
static const char *object_from_argv0(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    if (!slash)
        return known_object(argv0, strlen(argv0));

    const char *dir_end = slash;
    const char *dir = dir_end;
    while (dir > argv0 && dir[-1] != '/')
        dir--;
    size_t dir_length = (size_t) (dir_end - dir);
    if (has_suffix(dir, dir_length, ".d"))
        return known_object(dir, dir_length - 2);
    return known_object(slash + 1, strlen(slash + 1));
}

static HookCall parse_call(int argc, char **argv)
{
    /* libvirt always passes four arguments and "-" where one has no value. */
    HookCall call = {
        .object = argc > 0 ? object_from_argv0(argv[0]) : NULL,
        .object_name = argc > 1 ? argv[1] : "-",
        .operation = argc > 2 ? argv[2] : "-",
        .sub_operation = argc > 3 ? argv[3] : "-",
    };
    return call;
}

static bool wants_xml_passthrough(const HookCall *call)
{
    return call->object && strcmp(call->object, "qemu") == 0 &&
           (strcmp(call->operation, "migrate") == 0 || strcmp(call->operation, "restore") == 0);
}

/* ------------------------------------------------------------------ valid D-Bus strings */

/* Length of the well-formed UTF-8 character at s (at most `available` bytes), 0 if none:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_char_length(const unsigned char *s, size_t available)
{
    unsigned char lead = s[0];
    size_t length;
    unsigned long code, minimum;

    if (lead < 0x80)
        return 1;
    if (lead < 0xC2)
        return 0;
    if (lead < 0xE0)
        length = 2, code = lead & 0x1F, minimum = 0x80;
    else if (lead < 0xF0)
        length = 3, code = lead & 0x0F, minimum = 0x800;
    else if (lead < 0xF5)
        length = 4, code = lead & 0x07, minimum = 0x10000;
    else
        return 0;
    if (available < length)
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (s[i] & 0x3F);
    }
    if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

/* Copies `in` into `out` as valid UTF-8 of at most ARG_MAX_BYTES bytes: every byte that
 * starts no well-formed character becomes U+FFFD, and a long string is cut between
 * characters. libdbus aborts the process on invalid UTF-8, so nothing else goes out. */
static void sanitize_arg(const char *in, char out[ARG_MAX_BYTES + 1])
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *s = (const unsigned char *) in;
    size_t remaining = strlen(in), used = 0;

    while (remaining > 0) {
        size_t length = utf8_char_length(s, remaining);
        const char *piece = length ? (const char *) s : replacement;
        size_t piece_length = length ? length : sizeof replacement - 1;
        if (used + piece_length > ARG_MAX_BYTES)
            break;
        memcpy(out + used, piece, piece_length);
        used += piece_length;
        s += length ? length : 1;
        remaining -= length ? length : 1;
    }
    out[used] = '\0';

    /* Belt and braces, should libdbus ever be stricter than the decoder above. */
    if (!dbus_validate_utf8(out, NULL))
        for (size_t i = 0; i < used; i++)
            if ((unsigned char) out[i] >= 0x80)
                out[i] = '?';
}

/* ------------------------------------------------------------------ the report */

/* libdbus spawns programs for some transports (autolaunch:, unixexec:). The hook must not
 * fork, so only socket transports are allowed. */
static bool address_is_socket_only(const char *address)
{
    DBusAddressEntry **entries = NULL;
    int count = 0;
    bool ok;

    if (!dbus_parse_address(address, &entries, &count, NULL))
        return false;
    ok = count > 0;
    for (int i = 0; i < count; i++) {
        const char *method = dbus_address_entry_get_method(entries[i]);
        if (strcmp(method, "unix") != 0 && strcmp(method, "tcp") != 0 && strcmp(method, "nonce-tcp") != 0)
            ok = false;
    }
    dbus_address_entries_free(entries);
    return ok;
}

static const char *system_bus_address(void)
{
    const char *address = getenv("DBUS_SYSTEM_BUS_ADDRESS");
    return address && *address ? address : SYSTEM_BUS_DEFAULT_ADDRESS;
}

/* A private connection that does not exit the process when the bus hangs up (libdbus's
 * shared bus connections call _exit(1) then: a failed hook). NULL when the bus is not
 * there; silence, since a missing virt-ferryd or bus is normal on some hosts. */
static DBusConnection *connect_to_system_bus(void)
{
    const char *address = system_bus_address();
    DBusConnection *connection;

    if (!address_is_socket_only(address))
        return NULL;
    connection = dbus_connection_open_private(address, NULL);
    if (!connection)
        return NULL;
    dbus_connection_set_exit_on_disconnect(connection, FALSE);
    return connection;
}

/* Hello, which the bus wants first on every connection, sent without waiting for its answer
 * (as sd-bus does): the bus handles a connection's messages in order, so what follows goes
 * out under the name Hello gives, and the hook saves the round trip, a wait on dbus-daemon
 * being scheduled, which on a busy host is most of a report's cost (bench/hook-cost). */
static bool send_hello(DBusConnection *connection)
{
    DBusMessage *hello = dbus_message_new_method_call(DBUS_SERVICE_DBUS, DBUS_PATH_DBUS, DBUS_INTERFACE_DBUS, "Hello");
    if (!hello)
        return false;
    bool sent = dbus_connection_send(connection, hello, NULL);
    dbus_message_unref(hello);
    return sent;
}

static DBusMessage *new_report(const HookCall *call)
{
    static char object_name[ARG_MAX_BYTES + 1], operation[ARG_MAX_BYTES + 1],
        sub_operation[ARG_MAX_BYTES + 1];
    const char *object = call->object, *name = object_name, *op = operation, *sub = sub_operation;
    DBusMessage *message;

    sanitize_arg(call->object_name, object_name);
    sanitize_arg(call->operation, operation);
    sanitize_arg(call->sub_operation, sub_operation);

    message = dbus_message_new_method_call(FERRY_BUS_NAME, FERRY_ROOT_PATH, FERRY_HOOK_INTERFACE, "Report");
    if (!message)
        return NULL;
    /* Never wait for virt-ferryd, and never start it from here: a hook that activates a
     * service would make libvirtd wait for that service's startup. */
    dbus_message_set_no_reply(message, TRUE);
    dbus_message_set_auto_start(message, FALSE);
    if (!dbus_message_append_args(message, DBUS_TYPE_STRING, &object, DBUS_TYPE_STRING, &name,
                                  DBUS_TYPE_STRING, &op, DBUS_TYPE_STRING, &sub, DBUS_TYPE_INVALID)) {
        dbus_message_unref(message);
        return NULL;
    }
    return message;
}

static void report_to_ferryd(const HookCall *call)
{
    DBusMessage *message = new_report(call);
    if (!message)
        return;
    DBusConnection *connection = connect_to_system_bus();
    if (connection) {
        /* Once flushed, both messages are in the bus's socket buffer: the bus delivers them
         * even though we hang up right away. Connecting and authenticating (the flush
         * waits for it) are bounded only by the report bound, which is what keeps a
         * stopped dbus-daemon from holding us. */
        if (send_hello(connection) && dbus_connection_send(connection, message, NULL))
            dbus_connection_flush(connection);
        dbus_connection_close(connection);
        dbus_connection_unref(connection);
    }
    dbus_message_unref(message);
}

/* ------------------------------------------------------------------ migrate and restore */

typedef HookXmlOutcome (*RewriteFunction)(const char *, size_t, const char *, const char *, char **, size_t *,
                                          char **);

static void *load_from(const char *path, const char *symbol)
{
    /* Lazy binding, as for a program: resolving all of libxml2's, ICU's and libstdc++'s
     * symbols up front would cost half a millisecond. The module is linked -z defs. */
    void *module = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    if (!module)
        return NULL;
    /* Never unloaded: GLib does not like being unloaded, and the process ends soon. */
    return dlsym(module, symbol);
}

/* @symbol from virt-ferry-hook-rewrite.so beside this program (in the build tree as where it
 * is installed), else from FERRY_HOOKSEXECDIR; NULL (said on stderr, with @without: what
 * that means) if neither loads. */
static void *load_module_symbol(const char *symbol, const char *without)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        char path[PATH_MAX + sizeof REWRITER_NAME];
        void *found = NULL;
        if (slash && snprintf(path, sizeof path, "%.*s/%s", (int) (slash - self), self, REWRITER_NAME) <
                         (int) sizeof path)
            found = load_from(path, symbol);
        if (found)
            return found;
    }
    void *found = load_from(FERRY_HOOKSEXECDIR "/" REWRITER_NAME, symbol);
    if (!found) {
        const char *why = dlerror();
        char line[1024];
        snprintf(line, sizeof line, "virt-ferry-hook: cannot load %s: %s; %s", REWRITER_NAME,
                 why ? why : "no such symbol", without);
        write_line_to_stderr(line);
    }
    return found;
}

static RewriteFunction load_rewriter(void)
{
    RewriteFunction rewrite;
    *(void **) &rewrite = load_module_symbol("hook_rewrite_domain_xml", "the domain's NICs cannot be mapped");
    return rewrite;
}

/* [state] dir= of the configuration ($VIRT_FERRY_CONFIG or virt-ferry.conf), else the
 * default, into @dir. A minimal reading of the key file, for the one question the hook asks
 * without its module (config.c reads it properly, with GLib). */
static void configured_state_dir(char *dir, size_t size)
{
    snprintf(dir, size, "%s", FERRY_DEFAULT_STATE_DIR);
    const char *path = getenv("VIRT_FERRY_CONFIG");
    int fd = open(path && *path ? path : FERRY_DEFAULT_CONFIG, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    static char text[65536];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0)
        return;
    text[n] = '\0';
    bool in_state = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t");
        if (*line == '[') {
            in_state = strncmp(line, "[state]", 7) == 0;
            continue;
        }
        if (!in_state || strncmp(line, "dir", 3) != 0)
            continue;
        char *value = line + 3 + strspn(line + 3, " \t");
        if (*value != '=')
            continue;
        value += 1 + strspn(value + 1, " \t");
        size_t len = strcspn(value, "\r");
        while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
            len--;
        if (len)
            snprintf(dir, size, "%.*s", (int) len, value);
    }
}

/* Whether virt-ferry is set up here: its network map exists (or cannot be told not to). */
static bool network_map_exists(void)
{
    char dir[PATH_MAX], path[PATH_MAX + sizeof FERRY_NETMAP_FILE + 1];
    configured_state_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, FERRY_NETMAP_FILE);
    struct stat st;
    return lstat(path, &st) == 0 || errno != ENOENT;
}

/* migrate and restore: the domain XML rewritten for this host's networks, echoed, or refused.
 * stdout gets the whole answer in one write, or nothing. False when no answer could be
 * given (stdin unreadable or too large, stdout gone): the operation is then refused. */
static bool rewrite_xml(const HookCall *call)
{
    size_t length = 0, out_length = 0;
    char *xml = read_all_stdin(&length);
    if (!xml)
        return false;
    RewriteFunction rewrite = load_rewriter();
    char *out = NULL, *message = NULL;
    bool answered = true;
    HookXmlOutcome outcome = HOOK_XML_UNCHANGED;
    if (rewrite) {
        outcome = rewrite(xml, length, call->operation, call->object_name, &out, &out_length, &message);
    } else if (network_map_exists()) {
        /* virt-ferry is set up, and the NICs cannot be judged: refused, never waved through. */
        char line[1024];
        snprintf(line, sizeof line,
                 "virt-ferry: the %s of domain %s is refused: %s cannot be loaded, so its NICs cannot be mapped "
                 "to this host's networks; reinstall virt-ferry",
                 call->operation, call->object_name, REWRITER_NAME);
        message = strdup(line);
        outcome = HOOK_XML_REFUSED;
    }
    switch (outcome) {
    case HOOK_XML_UNCHANGED:
        if (message)
            write_line_to_stderr(message);
        answered = write_all(STDOUT_FILENO, xml, length);
        break;
    case HOOK_XML_REWRITTEN:
        answered = write_all(STDOUT_FILENO, out, out_length);
        break;
    case HOOK_XML_REFUSED:
        /* Status first: should the bound fire while we write, the refusal still stands. */
        exit_status = 1;
        write_line_to_stderr(message ? message : "virt-ferry: cannot map the domain's NICs");
        break;
    }
    free(out);
    free(message);
    free(xml);
    return answered;
}

/* started: the guest's ports on a standard switch put on their VLANs, or the start refused.
 * False when the tagging could not even be tried (stdin unreadable, no module): refused too,
 * since nothing then says the guest's ports may stay on the bridge's default VLAN. */
static bool tag_ports(const HookCall *call)
{
    size_t length = 0;
    char *xml = read_all_stdin(&length);
    if (!xml)
        return false;
    int (*tag)(const char *, size_t, const char *, char **);
    *(void **) &tag = load_module_symbol("hook_tag_ports", "standard-switch ports cannot be put on their VLANs");
    char *message = NULL;
    if (tag && tag(xml, length, call->object_name, &message) != 0)
        exit_status = 1;
    if (message)
        write_line_to_stderr(message);
    free(message);
    free(xml);
    return tag != NULL;
}

static bool wants_port_tagging(const HookCall *call)
{
    return call->object && strcmp(call->object, "qemu") == 0 && strcmp(call->operation, "started") == 0;
}

/* Prepares the line a bound or a crash writes while the work for @call is unfinished (see
 * unfinished_line): what was refused, why, and what to do. */
static void begin_unfinished(const HookCall *call)
{
    char name[256];
    snprintf(name, sizeof name, "%s", call->object_name);
    for (char *p = name; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?'; /* one line for libvirt's error message */
    int n;
    if (wants_port_tagging(call))
        n = snprintf(unfinished_line, sizeof unfinished_line,
                     "virt-ferry: the start of domain %s is refused: putting its standard-switch ports on "
                     "their portgroups' VLANs did not finish (time bound of %d ms, or an internal error), and "
                     "they would stay on the bridge's default VLAN 1, untagged; check that `bridge vlan show` "
                     "answers and that virt-ferryd's network map is readable, then start it again\n",
                     name, PASSTHROUGH_BOUND_MS);
    else
        n = snprintf(unfinished_line, sizeof unfinished_line,
                     "virt-ferry: the %s of domain %s is refused: mapping its NICs onto this host's networks "
                     "did not finish (time bound of %d ms, or an internal error), and unmapped they could land "
                     "on a wrong VLAN; try again, and if it recurs see virt-ferry-hook(8)\n",
                     call->operation, name, PASSTHROUGH_BOUND_MS);
    if (n >= (int) sizeof unfinished_line) { /* cut: still one line */
        n = (int) sizeof unfinished_line - 1;
        unfinished_line[n - 1] = '\n';
    }
    unfinished_length = n > 0 ? n : 0;
}

int main(int argc, char **argv)
{
    HookCall call = parse_call(argc, argv);
    bool decides = wants_xml_passthrough(&call) || wants_port_tagging(&call);
    /* Before any handler is installed: from the first signal on, unfinished work refuses. */
    if (decides)
        begin_unfinished(&call);
    install_signal_policy();
    ensure_standard_fds();

    if (decides) {
        arm_bound_ms(PASSTHROUGH_BOUND_MS);
        bool done = wants_port_tagging(&call) ? tag_ports(&call) : rewrite_xml(&call);
        if (!done) {
            exit_status = 1;
            write_unfinished_line();
        }
        unfinished_length = 0;
    }
    arm_bound_ms(REPORT_BOUND_MS);
    release_stdout();
    drain_stdin();
    if (call.object)
        report_to_ferryd(&call);
    return exit_status;
}
