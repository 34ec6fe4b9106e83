/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the hook's test and benchmark share: a private dbus-daemon, a receiver of
 * org.virtferry.Ferry1.Hook.Report in a child process, and the hook linked into
 * qemu.d/, daemon.d/ and network.d/ of a scratch directory. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

/* Lines from a child's stdout, read with a timeout. */
typedef struct HookLineReader HookLineReader;
HookLineReader *hook_line_reader_new(GInputStream *stream);
/* The next line without its newline, or NULL after timeout_ms or at EOF. */
char *hook_line_reader_next(HookLineReader *reader, int timeout_ms);
void hook_line_reader_free(HookLineReader *reader);

typedef struct {
    GSubprocess *process;
    HookLineReader *stdout_lines;
    char *address;
} HookBus;

/* A dbus-daemon of type "system" that allows everything, listening in dir. */
HookBus *hook_bus_start(const char *dir);
pid_t hook_bus_pid(HookBus *bus);
void hook_bus_stop(HookBus *bus);

typedef struct {
    GSubprocess *process;
    HookLineReader *stdout_lines;
} HookReceiver;

/* The calling program, run again with --hook-receiver: owns org.virtferry.Ferry1 on the bus
 * at address and prints one line per Report. Returns once it owns the name. */
HookReceiver *hook_receiver_start(const char *address);
/* The four arguments of the next Report (a NULL-terminated vector), or NULL after timeout_ms. */
char **hook_receiver_next(HookReceiver *receiver, int timeout_ms);
pid_t hook_receiver_pid(HookReceiver *receiver);
void hook_receiver_stop(HookReceiver *receiver);

/* For main(): if argv asks for the receiver, runs it and does not return. */
void hook_receiver_main_if_asked(int argc, char **argv);

/* Makes dir/qemu.d/virt-ferry, dir/daemon.d/virt-ferry and dir/network.d/virt-ferry symlinks
 * to HOOK_PATH, as `make install` does. */
void hook_install_links(const char *dir);
/* dir/<object>.d/virt-ferry, the argv[0] libvirt would use. */
char *hook_path_for(const char *dir, const char *object);

/* dir/virt-ferry.conf saying [state] dir=state_dir, for VIRT_FERRY_CONFIG: the rewriter of
 * migrate/restore then looks for the network map in state_dir/netmap. Returns its path. */
char *hook_write_config(const char *dir, const char *state_dir);

/* A scratch directory and everything under it. */
char *hook_scratch_dir_new(void);
void hook_scratch_dir_remove(const char *dir);

/* Bytes that look like a domain XML of at least `size` bytes. */
GBytes *hook_domain_xml(gsize size);
