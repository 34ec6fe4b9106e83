/* virt-ferry, the command line for people: what its files share. It talks to virt-ferryd
 * over D-Bus only (DESIGN.md: data flows libvirt -> plugin -> dbus -> clients). */
#pragma once

#include <gio/gio.h>

#include "ferry-generated.h"

G_BEGIN_DECLS

#define CLI_BUS_NAME "org.virtferry.Ferry1"
#define CLI_ROOT_PATH "/org/virtferry/Ferry1"

/* Exit codes, documented in virt-ferry(1). */
typedef enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1,      /* the operation failed */
    CLI_EXIT_USAGE = 2,       /* bad command line or bad value */
    CLI_EXIT_NOT_FOUND = 3,   /* no such domain */
    CLI_EXIT_DENIED = 4,      /* polkit (or the bus policy) said no */
    CLI_EXIT_NOT_RUNNING = 5, /* virt-ferryd is not on the bus */
} CliExit;

/* Global options and the connection every verb uses. */
typedef struct {
    char *bus_address;        /* --bus-address; NULL: the system bus */
    gboolean no_ask_password; /* --no-ask-password */
    gboolean json;            /* --json, for the verbs that print */
    GDBusConnection *bus;     /* set by cli_connect() */
} CliContext;

/* cli-error.c: turning a GError into a message and an exit code. */
CliExit cli_exit_code_for(const GError *error);
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
FerryManager *cli_manager(CliContext *ctx, GError **error);
/* Every domain object, sorted by name (a GList of FerryDomain, each with a reference). */
GList *cli_domains(CliContext *ctx, GError **error);
/* The domain that GetDomain finds for @name_or_uuid. */
FerryDomain *cli_domain(CliContext *ctx, FerryManager *manager, const char *name_or_uuid, GError **error);
gboolean cli_set_policy(CliContext *ctx, FerryManager *manager, const char *domain, GVariant *policy,
                        GError **error);

/* cli-policy.c: KEY=VALUE assignments into SetDomainPolicy's a{sv}. */
typedef struct {
    const char *name; /* the D-Bus key */
    const char *type; /* its GVariant type */
} CliPolicyKey;
extern const CliPolicyKey cli_policy_keys[];
extern const gsize cli_policy_n_keys;
/* A new (non-floating) a{sv}, or NULL and a FERRY_ERROR_INVALID_ARGUMENT error that
 * names the key and the values it takes. An empty @assignments gives NULL and an error. */
GVariant *cli_policy_parse(const char *const *assignments, GError **error);
/* One-line summary for tables ("hold,eq=db,priority=10"), "-" for the empty policy. */
char *cli_policy_summary(GVariant *policy);

/* cli-format.c: text output. */
char *cli_display(const char *text);   /* control characters escaped, NULL shown as "-" */
char *cli_quote_field(const char *text); /* as cli_display, and quoted if it holds spaces */
void cli_print_status(FerryManager *manager, GList *domains);
void cli_print_list(GList *domains);
void cli_print_domain(FerryDomain *domain);
void cli_print_policy(GVariant *policy, const char *indent);

/* cli-json.c: the same data as JSON, for scripts. */
void cli_json_append(GString *out, GVariant *value);
void cli_json_print(GVariant *value); /* one line on stdout; sinks a floating @value */
GVariant *cli_status_variant(FerryManager *manager, GList *domains);
GVariant *cli_domain_variant(FerryDomain *domain);

/* cli-verbs.c: each verb takes its positional arguments (NULL-terminated) and returns
 * the exit code. */
int cli_verb_status(CliContext *ctx, char **args);
int cli_verb_list(CliContext *ctx, char **args);
int cli_verb_show(CliContext *ctx, char **args);
int cli_verb_policy(CliContext *ctx, char **args);
int cli_verb_monitor(CliContext *ctx, char **args);

/* cli-monitor.c: runs until SIGINT or SIGTERM. */
int cli_monitor(CliContext *ctx);

G_END_DECLS
