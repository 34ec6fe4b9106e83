/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry, the command line for people: what its files share. It talks to virt-ferryd
 * over D-Bus only (doc/ARCHITECTURE.md: data flows libvirt -> plugin -> dbus -> clients). */
#pragma once

#include <gio/gio.h>

#include "ferry-generated.h"
#include "ferry-names.h"
#include "policy.h"

G_BEGIN_DECLS

/* Exit codes, documented in virt-ferry(1). */
typedef enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,      /* the operation failed */
    CLI_EXIT_USAGE = 2,       /* bad command line or bad value */
    CLI_EXIT_NOT_FOUND = 3,   /* no such domain */
    CLI_EXIT_DENIED = 4,      /* polkit (or the bus policy) said no */
    CLI_EXIT_NOT_RUNNING = 5, /* virt-ferryd is not on the bus */
    CLI_EXIT_INTERRUPTED = 130, /* Ctrl-C while following a job (128 + SIGINT, as shells do) */
} CliExit;

/* migrate's options as given; cli-migrate.c checks them (so a bad value is named) and
 * sends only those given. */
typedef struct {
    char **methods;           /* --method, repeatable; NULL: none */
    char *bandwidth;          /* --bandwidth MiB/s */
    char *parallel;           /* --parallel connections */
    char *progress_timeout;   /* --progress-timeout seconds */
    char *completion_timeout; /* --completion-timeout seconds per GiB */
    gboolean compress, auto_converge, postcopy;
} CliMigrateArgs;

/* move-disk's options as given (cli-movedisk.c checks them). */
typedef struct {
    char *format;             /* --format qcow2|raw; NULL: the disk's own */
    char *bandwidth;          /* --bandwidth MiB/s */
} CliMoveDiskArgs;

/* failover's options as given (cli-failover.c checks them). */
typedef struct {
    char **domains;           /* --domain, repeatable; NULL: all of the host's */
    gboolean no_start;        /* --no-start: define them only */
} CliFailoverArgs;

/* plan's and evacuate's options as given (cli-evacuate.c checks them). */
typedef struct {
    gboolean all;             /* --all: stopped domains too */
    gboolean dry_run;         /* --dry-run: evacuate shows the plan only */
    char **exclude;           /* --exclude PEER, repeatable */
    char *batch;              /* --batch N */
    char *storage_per_source; /* --storage-per-source N */
    char *per_target;         /* --per-target N */
    char *methods;            /* --methods m1,m2 */
    gboolean reboot_dependents; /* --reboot-dependents: evacuate */
    gboolean shutdown;        /* --shutdown: the host goes down (virt-ferry-shutdown.service) */
    char *timeout;            /* --timeout S: cancel what still runs after S seconds */
} CliEvacuateArgs;

/* Global options and the connection every verb uses. */
typedef struct {
    char *bus_address;        /* --bus-address; NULL: the system bus */
    gboolean no_ask_password; /* --no-ask-password */
    gboolean json;            /* --json, for the verbs that print */
    gboolean no_legend;       /* --no-legend: tables without their header line */
    char *config_path;        /* --config: a virt-ferry.conf(5) checked before anything else */
    GDBusConnection *bus;     /* set by cli_connect() */
    /* Options of single verbs (virt-ferry.c offers each only to the verbs that take it). */
    gboolean no_wait;         /* --no-wait: archive, restore, verify */
    gboolean verbose;         /* --verbose: archive, restore, verify */
    char *name;               /* --name: restore */
    gboolean paused, start;   /* --paused, --start: restore */
    gboolean copy, break_lock, ignore_unreachable; /* --copy, --break-lock, --ignore-unreachable: restore */
    CliMigrateArgs migrate;   /* migrate */
    CliMoveDiskArgs move_disk; /* move-disk */
    CliFailoverArgs failover; /* failover */
    CliEvacuateArgs evacuate; /* plan, evacuate */
    gboolean live_steps;      /* a followed job prints each new step as it comes (evacuate) */
    guint follow_deadline;    /* s: a followed job is cancelled then (0: never) */
    guint follow_grace;       /* s after the cancel: stop waiting for it to end */
    char *maintenance_mode;   /* --mode: maintenance enter */
    gboolean maintenance_return; /* --return: maintenance leave */
    gboolean follow;          /* --follow: job (and wait) */
} CliContext;

/* cli-error.c: turning a GError into a message and an exit code. */
CliExit cli_exit_code_for(const GError *error);
/* The exit code for a D-Bus error name (a failed job's Error property). */
CliExit cli_exit_code_for_name(const char *dbus_error_name);
/* Prints "virt-ferry: MESSAGE" (without the GDBus.Error prefix) on stderr; returns the
 * exit code that goes with the error. */
CliExit cli_report_error(const GError *error);
/* The error for "virt-ferryd does not own its name". */
void cli_set_not_running(GError **error);
/* Turns the error of a proxy that could not be made into "bus activation failed". */
void cli_proxy_failed(GError **error);

/* cli-bus.c: the connection and the proxies. */
gboolean cli_connect(CliContext *ctx, GError **error);
/* The Manager at the root, its properties loaded (bus activation may start virt-ferryd);
 * fails with NameHasNoOwner when virt-ferryd is not running. */
FerryBusManager *cli_manager(CliContext *ctx, GError **error);
/* Every domain object, sorted by name (a GList of FerryBusDomain, each with a reference). */
GList *cli_domains(CliContext *ctx, GError **error);
/* The domain that GetDomain finds for @name_or_uuid. */
FerryBusDomain *cli_domain(CliContext *ctx, FerryBusManager *manager, const char *name_or_uuid, GError **error);
gboolean cli_set_policy(CliContext *ctx, FerryBusManager *manager, const char *domain, GVariant *policy,
                        GError **error);
/* A method call to virt-ferryd (which the bus may start). @interactive: a changing call,
 * which polkit may ask a password for (unless --no-ask-password). Sinks @parameters. */
GVariant *cli_call(CliContext *ctx, const char *path, const char *interface, const char *method,
                   GVariant *parameters, const GVariantType *reply_type, gboolean interactive, GError **error);
/* One GetManagedObjects call: every object virt-ferryd serves, as (path, properties) of
 * @interface (a{sv}), sorted by path. A GPtrArray of CliObject. */
typedef struct {
    char *path;
    GVariant *properties;
} CliObject;
GPtrArray *cli_objects(CliContext *ctx, const char *interface, GError **error);
/* A string property (valid as long as @object), or NULL when absent or not a string. */
const char *cli_object_string(const CliObject *object, const char *name);

/* cli-policy.c: KEY=VALUE assignments into SetDomainPolicy's a{sv}, with virt-ferryd's
 * keys and limits (plugin/policy.h). */
/* A new (non-floating) a{sv}, or NULL and a FERRY_ERROR_INVALID_ARGUMENT error that
 * names the key and the values it takes. An empty @assignments gives NULL and an error. */
GVariant *cli_policy_parse(const char *const *assignments, GError **error);
/* One-line summary for tables ("hold,eq=db,priority=10"), "-" for the empty policy. */
char *cli_policy_summary(GVariant *policy);

/* cli-format.c: text output. */
char *cli_display(const char *text);   /* control characters escaped, NULL shown as "-" */
char *cli_quote_field(const char *text); /* as cli_display, and quoted if it holds spaces */
void cli_print_status(FerryBusManager *manager, GList *domains);
void cli_print_list(GList *domains);
void cli_print_domain(FerryBusDomain *domain);
void cli_print_policy(GVariant *policy, const char *indent);
/* "Label:" padded as in show, then @value shown with cli_display. */
void cli_print_field(const char *indent, const char *label, const char *value);
/* A table: a header line, then the rows (GStrv of @n_cols cells, already made displayable),
 * columns two spaces apart, the last one not padded. */
void cli_print_table(const char *const *titles, guint n_cols, GPtrArray *rows);
/* --no-legend: every table from now on without its header line (for scripts). */
void cli_table_set_legend(gboolean legend);
/* Bytes for people: "512.0 MiB", "1.5 GiB", "37 B". */
char *cli_format_size(guint64 bytes);

/* cli-json.c: the same data as JSON, for scripts. */
void cli_json_print(GVariant *value); /* one line on stdout; sinks a floating @value */
GVariant *cli_status_variant(FerryBusManager *manager, GList *domains);
GVariant *cli_domain_variant(FerryBusDomain *domain);
/* An object's properties (a{sv}), keys sorted, with "ObjectPath" unless @path is NULL;
 * floating. */
GVariant *cli_object_variant(const char *path, GVariant *properties);

/* cli-verbs.c: each verb takes its positional arguments (NULL-terminated) and returns
 * the exit code. */
int cli_verb_status(CliContext *ctx, char **args);
int cli_verb_list(CliContext *ctx, char **args);
int cli_verb_show(CliContext *ctx, char **args);
int cli_verb_policy(CliContext *ctx, char **args);
int cli_verb_monitor(CliContext *ctx, char **args);
/* cli-archive.c: the archive library and jobs. */
int cli_verb_archive(CliContext *ctx, char **args);
int cli_verb_restore(CliContext *ctx, char **args);
int cli_verb_verify(CliContext *ctx, char **args);
int cli_verb_archives(CliContext *ctx, char **args);
int cli_verb_check_networks(CliContext *ctx, char **args);
int cli_verb_purge(CliContext *ctx, char **args);
int cli_verb_archive_delete(CliContext *ctx, char **args);
int cli_verb_jobs(CliContext *ctx, char **args);
int cli_verb_job(CliContext *ctx, char **args);
int cli_verb_wait(CliContext *ctx, char **args);
int cli_verb_cancel(CliContext *ctx, char **args);
/* Calls @method, which answers a job's object path, and follows the job (--no-wait: prints
 * the path). Sinks @parameters. The job's exit code, or -1 and @error when the call failed. */
int cli_start_job(CliContext *ctx, const char *path, const char *interface, const char *method,
                  GVariant *parameters, gboolean interactive, GError **error);
/* "3" or "/org/virtferry/Ferry1/job/3" -> 3; 0 and an InvalidArgument error otherwise. */
guint cli_parse_job_id(const char *text, GError **error);
/* cli-migrate.c: a domain to a peer host. */
int cli_verb_migrate(CliContext *ctx, char **args);
/* cli-movedisk.c: a disk of a running domain to another file on this host. */
int cli_verb_move_disk(CliContext *ctx, char **args);
/* cli-verbs.c: maintenance enter|leave|status. */
int cli_verb_maintenance(CliContext *ctx, char **args);
int cli_verb_reserve(CliContext *ctx, char **args);
/* cli-failover.c: a dead host's domains to this host. */
int cli_verb_failover(CliContext *ctx, char **args);
/* cli-evacuate.c: PlanEvacuation as a table, Evacuate followed with every domain's steps. */
int cli_verb_plan(CliContext *ctx, char **args);
int cli_verb_evacuate(CliContext *ctx, char **args);
/* Whether @name is one of org.virtferry.Ferry1(5)'s method names (cli-migrate.c); InvalidArgument naming
 * it and listing them otherwise. */
gboolean cli_check_method(const char *name, GError **error);
/* cli-options.c: adds @key to @options when --@option was given (@text not NULL; left out,
 * virt-ferryd's default holds): digits only (GOption's integers would take "-1", " 5" or
 * "0x10", and its message would not say what the number is for), at most what the key's
 * type holds (@u32: u, else t). Else FALSE and an InvalidArgument error naming --@option,
 * @text and @unit. */
gboolean cli_add_number(GVariantBuilder *options, const char *key, const char *option, const char *text,
                        gboolean u32, const char *unit, GError **error);

/* cli-jobs.c: following a job. */

/* What one progress line shows. */
typedef struct {
    double progress;        /* 0..1 (Progress) */
    guint64 total;          /* bytes in all (DataTotal); 0: not known */
    guint64 remaining;      /* bytes still to move (DataRemaining) */
    double rate;            /* bytes per second, measured by the caller; <= 0: not known yet */
    const char *message;    /* what the job does now; may be NULL */
} CliProgress;
/* On a terminal (@tty): "\r" and exactly @width - 1 columns (the last column is never
 * written, so no terminal wraps), padded with blanks so that it covers the line before:
 * percentage, bar, data done/total, rate, ETA, the message cut to fit (between characters:
 * never inside one). What does not fit goes, rate first. Otherwise: one whole line ending in
 * "\n", no "\r", no bar, nothing cut, unknowns left out. */
char *cli_progress_line(const CliProgress *progress, guint width, gboolean tty);
/* Display columns of UTF-8 @text (wide characters count two). */
gsize cli_text_columns(const char *text);
/* The exit code for a job that ended with @status (and @error_name, its Error property).
 * @interrupted: the user pressed Ctrl-C while following it. */
CliExit cli_job_exit_code(const char *status, const char *error_name, gboolean interrupted);
/* Follows the job at @path until it ends: progress on stdout, then the outcome (or, with
 * --json, only the final state); Ctrl-C cancels it. Returns the exit code. */
int cli_job_follow(CliContext *ctx, const char *path);
/* GDBus's answer where no object (no job) is: UnknownMethod, UnknownObject, UnknownInterface. */
gboolean cli_is_unknown_object(const GError *error);
/* NotFound: "no job @job on this host ...". */
void cli_set_no_job(GError **error, const char *job);
/* The job's properties for `virt-ferry job N` and at the end of a followed job. */
void cli_print_job(const char *path, GVariant *properties, gboolean steps);

/* cli-monitor.c: runs until SIGINT or SIGTERM. */
int cli_monitor(CliContext *ctx);

G_END_DECLS
