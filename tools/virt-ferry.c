/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferry: the command line for people. Global options, then a verb and its
 * arguments; see virt-ferry(1). */
#include "cli.h"

#include "config.h"
#include "ferry-error.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef int (*VerbFunc)(CliContext *ctx, char **args);

typedef struct {
    const char *name;
    const char *parameters;  /* for the usage line */
    const char *summary;
    const char *description; /* the end of its --help, or NULL */
    guint min_args, max_args;
    VerbFunc run;
    const GOptionEntry *options; /* its own options, or NULL */
    const char *argument;    /* what its one argument is, for messages; NULL: a domain */
    const char *alias;       /* another name for it, or NULL */
} Verb;

static CliContext ctx;
static gboolean show_version;

static const GOptionEntry wait_entries[] = {
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &ctx.no_wait, "Print the job's object path and leave; do not follow the job", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "At the end, show every step the job took", NULL },
    { NULL }
};

static const GOptionEntry restore_entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &ctx.name, "Restore the domain under NAME (a copy with a new UUID and new MACs if the archived UUID is defined here)", "NAME" },
    { "paused", 0, 0, G_OPTION_ARG_NONE, &ctx.paused, "Leave a domain restored from its memory state paused", NULL },
    { "start", 0, 0, G_OPTION_ARG_NONE, &ctx.start, "Start a domain archived shut off once it is defined", NULL },
    { "copy", 0, 0, G_OPTION_ARG_NONE, &ctx.copy, "Restore a copy under --name: new UUID and new MACs, booted from its disks", NULL },
    { "break-lock", 0, 0, G_OPTION_ARG_NONE, &ctx.break_lock, "Take over the restore lock another host left (only when that host is down for good)", NULL },
    { "ignore-unreachable", 0, 0, G_OPTION_ARG_NONE, &ctx.ignore_unreachable, "Restore although a peer cannot be asked whether the domain runs there", NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &ctx.no_wait, "Print the job's object path and leave; do not follow the job", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "At the end, show every step the job took", NULL },
    { NULL }
};

static const GOptionEntry migrate_entries[] = {
    { "method", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ctx.migrate.methods, "Try method M (repeat for more; see below)", "M" },
    { "bandwidth", 0, 0, G_OPTION_ARG_STRING, &ctx.migrate.bandwidth, "Move at most MIB MiB/s (default: unlimited)", "MIB" },
    { "compress", 0, 0, G_OPTION_ARG_NONE, &ctx.migrate.compress, "Send the pages written again as XBZRLE deltas", NULL },
    { "auto-converge", 0, 0, G_OPTION_ARG_NONE, &ctx.migrate.auto_converge, "Slow the guest's vCPUs down while the migration does not converge", NULL },
    { "parallel", 0, 0, G_OPTION_ARG_STRING, &ctx.migrate.parallel, "Move the memory state over N connections (2 to 32; default 1)", "N" },
    { "postcopy", 0, 0, G_OPTION_ARG_NONE, &ctx.migrate.postcopy, "Switch to post-copy when the migration stops converging (the guest is lost if the link fails then)", NULL },
    { "progress-timeout", 0, 0, G_OPTION_ARG_STRING, &ctx.migrate.progress_timeout, "Give up (or switch to post-copy) after S seconds without progress (default 150)", "S" },
    { "completion-timeout", 0, 0, G_OPTION_ARG_STRING, &ctx.migrate.completion_timeout, "Give up after S seconds per GiB of guest memory (default 800)", "S" },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &ctx.no_wait, "Print the job's object path and leave; do not follow the job", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "At the end, show every method tried and why it failed", NULL },
    { NULL }
};

static const GOptionEntry move_disk_entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &ctx.move_disk.format, "Write the copy as F, qcow2 or raw (default: the disk's own)", "F" },
    { "bandwidth", 0, 0, G_OPTION_ARG_STRING, &ctx.move_disk.bandwidth, "Copy at most MIB MiB/s (default: unlimited)", "MIB" },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &ctx.no_wait, "Print the job's object path and leave; do not follow the job", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "At the end, show every step the job took", NULL },
    { NULL }
};

static const GOptionEntry failover_entries[] = {
    { "domain", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ctx.failover.domains, "Take over only domain NAME (name or UUID; repeat for more; default: all)", "NAME" },
    { "no-start", 0, 0, G_OPTION_ARG_NONE, &ctx.failover.no_start, "Only define the domains here; do not start those that ran there", NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &ctx.no_wait, "Print the job's object path and leave; do not follow the job", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "At the end, show what became of each domain", NULL },
    { NULL }
};

static const GOptionEntry maintenance_entries[] = {
    { "mode", 0, 0, G_OPTION_ARG_STRING, &ctx.maintenance_mode, "enter: migrate the domains away, or save them here (default save)", "migrate|save" },
    { "return", 0, 0, G_OPTION_ARG_NONE, &ctx.maintenance_return, "leave: bring back what maintenance put away (start the saved domains, or migrate the evacuated ones back)", NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &ctx.no_wait, "Print the job's object path and leave; do not follow the job", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "At the end, show what became of each domain", NULL },
    { NULL }
};

#define JOB_DESCRIPTION(what) \
    "Prints the job's object path, then follows it: on a terminal a progress line (percentage, bar,\n" \
    "data done and in all, rate, time left, what it does), otherwise one line whenever the message\n" \
    "changes or another tenth is done. At the end: the status (succeeded, warning, failed, cancelled),\n" \
    "its message or notes, and the result. Ctrl-C cancels the job (" what ");\n" \
    "Ctrl-C again stops waiting.\n" \
    "Exit status: 0 succeeded or warning; failed: as for errors (2 invalid, 3 not found, 4 not\n" \
    "authorized, else 1); 1 cancelled, 130 after Ctrl-C."

static const GOptionEntry job_entries[] = {
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &ctx.follow, "Follow a running job until it ends, with its progress, as the verb that started it does", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "With --follow: at the end, show every step the job took", NULL },
    { NULL }
};

static const GOptionEntry follow_entries[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &ctx.verbose, "At the end, show every step the job took", NULL },
    { NULL }
};

static const GOptionEntry plan_entries[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &ctx.evacuate.all, "Stopped domains too (they are moved, not started)", NULL },
    { "exclude", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ctx.evacuate.exclude, "Never move anything to PEER (repeat for more)", "PEER" },
    { "batch", 0, 0, G_OPTION_ARG_STRING, &ctx.evacuate.batch, "Move N domains at once (default: [evacuation] batch=, 10)", "N" },
    { "methods", 0, 0, G_OPTION_ARG_STRING, &ctx.evacuate.methods, "Methods M1,M2,... (see migrate; default: [evacuation] methods=, else migration)", "M1,M2" },
    { NULL }
};

static const GOptionEntry evacuate_entries[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &ctx.evacuate.all, "Stopped domains too (they are moved, not started)", NULL },
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &ctx.evacuate.dry_run, "Show the plan (as virt-ferry plan) and move nothing", NULL },
    { "exclude", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ctx.evacuate.exclude, "Never move anything to PEER (repeat for more)", "PEER" },
    { "batch", 0, 0, G_OPTION_ARG_STRING, &ctx.evacuate.batch, "Move N domains at once (default: [evacuation] batch=, 10)", "N" },
    { "storage-per-source", 0, 0, G_OPTION_ARG_STRING, &ctx.evacuate.storage_per_source, "At most N storage migrations at once (default 3)", "N" },
    { "per-target", 0, 0, G_OPTION_ARG_STRING, &ctx.evacuate.per_target, "At most N incoming moves at once per peer (default: no cap)", "N" },
    { "reboot-dependents", 0, 0, G_OPTION_ARG_NONE, &ctx.evacuate.reboot_dependents, "Reboot the running domains that depend on a domain a move restarted", NULL },
    { "methods", 0, 0, G_OPTION_ARG_STRING, &ctx.evacuate.methods, "Methods M1,M2,... (see migrate; default: [evacuation] methods=, else migration)", "M1,M2" },
    { "timeout", 0, 0, G_OPTION_ARG_STRING, &ctx.evacuate.timeout, "Cancel what still moves after S seconds (with --shutdown: default 180)", "S" },
    { "shutdown", 0, 0, G_OPTION_ARG_NONE, &ctx.evacuate.shutdown, "The host goes down: migration only (unless --methods), bounded by --timeout, never prompts; names each domain left for libvirt-guests", NULL },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &ctx.no_wait, "Print the job's object path and leave; do not follow the job", NULL },
    { NULL }
};

static const Verb verbs[] = {
    { "status", "", "Show this host's virt-ferryd, libvirtd, peers and domain counts.",
      NULL, 0, 0, cli_verb_status },
    { "list", "", "List the domains of this host, sorted by name.",
      "Columns: NAME STATE REASON FLAGS (pending-deletion) POLICY (as KEY=VALUE assignments).", 0, 0,
      cli_verb_list },
    { "show", "DOMAIN", "Show every property of one domain, given by name or UUID.", NULL, 1, 1, cli_verb_show },
    { "policy", "DOMAIN [KEY=VALUE...]", "Show a domain's virt-ferry policy, or set the keys given.",
      "Keys (keys not given keep their values):\n"
      "  hold=BOOL            never moved by evacuation\n"
      "  no_migrate=BOOL      refuse every migration method\n"
      "  eq=GROUP             stay on one host with the domains of GROUP (empty: none)\n"
      "  ne=GROUP             stay apart from the domains of GROUP (empty: none)\n"
      "  pin=HOST,...         may only run on these hosts (empty: any host)\n"
      "  priority=N           -1000..1000, higher moves and starts first\n"
      "  depends=DOMAIN,...   started after these domains (empty: none)\n"
      "  unmanaged=BOOL       virt-ferry leaves the domain alone\n"
      "  maintenance=BOOL     the domain itself is under maintenance: evacuation leaves it (a warning)\n"
      "BOOL is true, false, yes, no, 1 or 0. In lists, \\, is a comma and \\\\ a backslash.",
      1, G_MAXUINT, cli_verb_policy },
    { "monitor", "", "Follow domain states, host events and virt-ferryd itself, one line each.", NULL, 0, 0, cli_verb_monitor },
    { "archive", "DOMAIN", "Archive a domain into the archive library; it stays shut off, pending deletion.",
      JOB_DESCRIPTION("the domain comes back as it was"), 1, 1, cli_verb_archive, wait_entries },
    { "restore", "ARCHIVE", "Restore an archive on this host (the library must be reachable here).",
      "By default the domain comes back as archived: running (or paused) from its memory state, or\n"
      "shut off. The archive library ([archive] library= of virt-ferry.conf) must be reachable on this\n"
      "host: shared storage mounted at the same path.\n" JOB_DESCRIPTION("no domain and no disk is left behind"),
      1, 1, cli_verb_restore, restore_entries, "an archive id" },
    { "verify", "ARCHIVE", "Read every file of an archive and check it against the manifest.",
      JOB_DESCRIPTION("the archive is left as it is"), 1, 1, cli_verb_verify, wait_entries, "an archive id" },
    { "archives", "", "List the archive library.",
      "Columns: ID DOMAIN SOURCE-HOST CREATED (local time) SIZE (on disk) MEMORY (holds the memory state).", 0, 0,
      cli_verb_archives, NULL, NULL, "list-archives" },
    { "purge", "DOMAIN", "Undefine a domain pending deletion and delete the disks its archive holds copies of.",
      "The archive is verified first: if it does not verify, nothing is deleted.", 1, 1, cli_verb_purge },
    { "archive-delete", "ARCHIVE", "Remove an archive from the library, damaged or not.",
      "A link inside the archive is removed as a link. A domain pending deletion from it can then\n"
      "be neither restored from it nor purged.", 1, 1, cli_verb_archive_delete },
    { "migrate", "DOMAIN PEER", "Move a domain to a peer host, peer to peer, live unless the methods say otherwise.",
      "Methods, tried in this order (whatever order they are given in) until one succeeds:\n"
      "  migration          live; the disks stay on storage both hosts share\n"
      "  quick-migration    paused while the memory state moves once, then resumed there\n"
      "  move               shut down, disks copied, started there (not yet: Unsupported)\n"
      "  storage-migration  live, the disks copied\n"
      "  failover           not by migrate (Unsupported); run the failover verb on the live host\n"
      "No --method: virt-ferryd's default, migration then failover (failover is then skipped, with a\n"
      "step pointing at the failover verb). PEER is a host name or libvirt URI of [peers] uris=.\n"
      "Options left out are virt-ferryd's defaults; it checks the ranges.\n"
      JOB_DESCRIPTION("the domain keeps running here"),
      2, 2, cli_verb_migrate, migrate_entries },
    { "move-disk", "DOMAIN DISK PATH", "Move a disk of a running domain to another file on this host, without stopping it.",
      "DISK is the disk's target name (vda, as virsh domblklist shows it). PATH (taken from the current\n"
      "directory when relative) must not exist yet; its directory must. The disk is copied while the guest\n"
      "runs, the domain switches over to the copy, its persistent definition names the new file, and the\n"
      "old file is removed.\n" JOB_DESCRIPTION("the disk stays where it was"),
      3, 3, cli_verb_move_disk, move_disk_entries },
    { "failover", "HOST", "Take over a dead host's domains on this host, from shared storage.",
      "HOST is the dead host's name, as its virt-ferryd published its domains under [failover] dir=\n"
      "of virt-ferry.conf. The domains are defined here and those that ran there are started from their\n"
      "disks on shared storage. A host that still answers is refused (Busy: migrate instead); libvirt's\n"
      "lock manager (virtlockd) refuses a domain whose disks the old host still holds.\n"
      JOB_DESCRIPTION("what was taken over so far stays here"),
      1, 1, cli_verb_failover, failover_entries, "a host name" },
    { "plan", "", "Show where each domain of this host would go if it were evacuated; nothing moves.",
      "Columns: DOMAIN METHOD TARGET VERDICT REASON, in the order evacuate would move them. Verdicts: move,\n"
      "hold, unmanaged, maintenance, busy, stopped (not asked for: --all), no-target (the reason names\n"
      "every peer and why it cannot take the domain).",
      0, 0, cli_verb_plan, plan_entries },
    { "evacuate", "", "Move every domain off this host to its peers, several at once, by the plan.",
      "Each domain's steps are shown as they happen. The job fails when a domain that should have moved\n"
      "did not (busy, no target, its move failed), warns for a domain under its own maintenance, and\n"
      "says which and why; hold, unmanaged and stopped domains (without --all) stay without effect.\n"
      "--timeout S cancels the job after S seconds, as Ctrl-C would. --shutdown is what\n"
      "virt-ferry-shutdown.service runs when the host goes down: migration only (unless --methods), within\n"
      "--timeout (default 180 s), never prompting; afterwards one line on stderr per domain still running\n"
      "here, left to libvirt-guests (exit status 1 when there is one).\n"
      JOB_DESCRIPTION("queued domains stay, running moves are cancelled: each domain runs here or on its target"),
      0, 0, cli_verb_evacuate, evacuate_entries },
    { "maintenance", "enter|leave|status", "Put this host into maintenance mode, take it out, or show whether it is.",
      "enter [--mode save|migrate]: from now on incoming migrations and restores are refused, and every\n"
      "running domain is managed-saved here (save) or evacuated to the peers (migrate). leave [--return]:\n"
      "incoming migrations are accepted again; with --return the saved domains are started again, or the\n"
      "evacuated ones are migrated back live from the peers they went to.\n"
      "status: prints Maintenance: yes or no.\n" JOB_DESCRIPTION("what was done so far stays done"),
      1, 1, cli_verb_maintenance, maintenance_entries, "enter, leave or status" },
    { "reserve", "", "Show the cluster reserve: whether the running domains of any N failed hosts fit on the others.",
      "Prints ClusterReserve (N, [evacuation] reserve= of virt-ferry.conf), Overcommitted (yes when some N\n"
      "hosts' running domains would not fit on the rest) and the reason: the first such hosts, each domain\n"
      "that finds no place and why. As virt-ferryd last checked it (a few seconds after a domain here\n"
      "changes, and every 30 s for the peers).",
      0, 0, cli_verb_reserve },
    { "jobs", "", "List the jobs of this host, running and recently ended.",
      "Columns: ID KIND TARGET STATUS PROGRESS MESSAGE. A finished job stays listed for ten minutes.", 0, 0,
      cli_verb_jobs },
    { "job", "N", "Show one job and its steps, by number or object path; --follow re-attaches to it.",
      "--follow: follow the job as the verb that started it does (wait N is the same).\n"
      JOB_DESCRIPTION("as when the verb that started it followed it"), 1, 1, cli_verb_job, job_entries, "a job number" },
    { "wait", "N", "Re-attach to a running job: follow it with its progress until it ends (job N --follow).",
      JOB_DESCRIPTION("as when the verb that started it followed it"), 1, 1, cli_verb_wait, follow_entries,
      "a job number" },
    { "cancel", "N", "Cancel a job; it rolls back what it did and ends as cancelled.", NULL, 1, 1, cli_verb_cancel, NULL,
      "a job number" },
    { "check-networks", "", "List the NICs whose network, portgroup or VLAN differs on a peer.",
      "Columns: DOMAIN MAC PEER PROBLEM. Such a domain cannot migrate or fail over to that peer cleanly.\n"
      "A peer that cannot be reached is one row with no domain. Exit status 0 whether or not there are problems.",
      0, 0, cli_verb_check_networks },
};

static const GOptionEntry global_entries[] = {
    { "bus-address", 0, 0, G_OPTION_ARG_STRING, &ctx.bus_address,
      "Talk to virt-ferryd on the bus at ADDRESS instead of the system bus", "ADDRESS" },
    { "no-ask-password", 0, 0, G_OPTION_ARG_NONE, &ctx.no_ask_password,
      "Do not let polkit ask for a password; fail if authorization needs one", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &ctx.json, "Print JSON (one document per line) instead of text", NULL },
    { "no-legend", 0, 0, G_OPTION_ARG_NONE, &ctx.no_legend, "Print tables without their header line (for scripts)", NULL },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &ctx.config_path,
      "Check FILE (a virt-ferry.conf) first: an error if it does not parse, a warning for each unknown group or key", "FILE" },
    { NULL }
};

static char *verb_list_text(void)
{
    GString *out = g_string_new("Verbs:\n");
    int width = 0;
    for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++)
        width = MAX(width, (int)strlen(verbs[i].name) + 1);
    for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++)
        g_string_append_printf(out, "  %-*s %s\n", width, verbs[i].name, verbs[i].summary);
    g_string_append(out, "\nRun 'virt-ferry help VERB' or 'virt-ferry VERB --help' for a verb's arguments. Exit status: 0 success, "
                         "1 failure, 2 usage error,\n3 no such domain, archive or job, 4 not authorized, "
                         "5 virt-ferryd not running, 130 job\nfollowing interrupted (Ctrl-C).");
    return g_string_free(out, FALSE);
}

static char *verb_names(void)
{
    g_autoptr(GString) out = g_string_new(NULL);
    for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++)
        g_string_append_printf(out, "%s%s", i ? ", " : "", verbs[i].name);
    return g_strdup(out->str);
}

static const Verb *find_verb(const char *name)
{
    for (gsize i = 0; i < G_N_ELEMENTS(verbs); i++)
        if (g_str_equal(verbs[i].name, name) || g_strcmp0(verbs[i].alias, name) == 0)
            return &verbs[i];
    return NULL;
}

/* --config: virt-ferry takes none of its settings from the file (it asks virt-ferryd, which
 * reads its own), but says what is wrong with it, as virt-ferryd would at its start. */
static int check_config(void)
{
    if (!ctx.config_path)
        return CLI_EXIT_OK;
    g_autoptr(GError) error = NULL;
    /* virt-ferryd takes a missing file for the defaults; a file named to be checked must be there. */
    if (!g_file_test(ctx.config_path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error(&error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "--config %s: no such file", ctx.config_path);
        return cli_report_error(error);
    }
    g_autoptr(FerryConfig) config = ferry_config_load(ctx.config_path, &error);
    if (!config)
        return cli_report_error(error);
    for (char **u = config->unknown; *u; u++)
        g_printerr("virt-ferry: warning: %s: %s; it is ignored (see virt-ferry.conf(5))\n", config->path, *u);
    return CLI_EXIT_OK;
}

static int usage_error(const char *verb, const char *message)
{
    g_printerr("virt-ferry: %s\nTry 'virt-ferry %s%s--help'.\n", message, verb ? verb : "", verb ? " " : "");
    return CLI_EXIT_USAGE;
}

/* The first argument missing: a domain (or the verb's one argument) when none came, else
 * the name the usage line gives it ("PEER is missing"). */
static char *missing_message(const Verb *verb, guint given)
{
    g_auto(GStrv) names = g_strsplit(verb->parameters, " ", -1);
    const char *missing = given > 0 && given < g_strv_length(names) ? names[given]
                          : verb->argument                         ? verb->argument
                                                                   : "a domain name or UUID";
    return g_strdup_printf("%s is missing", missing);
}

static char *extra_message(const Verb *verb)
{
    if (verb->max_args == 0)
        return g_strdup_printf("'%s' takes no arguments", verb->name);
    if (verb->max_args > 1)
        return g_strdup_printf("'%s' takes %u arguments, %s", verb->name, verb->max_args, verb->parameters);
    g_autofree char *one = verb->argument ? g_strdup_printf("one argument, %s", verb->argument) : g_strdup("one domain");
    return g_strdup_printf("'%s' takes %s", verb->name, one);
}

/* Options may come after the verb too: its context knows the global ones. */
static int run_verb(const Verb *verb, int argc, char **argv)
{
    g_auto(GStrv) args = NULL;
    const GOptionEntry positional[] = {
        { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &args, NULL, NULL },
        { NULL }
    };
    g_autofree char *parameters = g_strconcat(verb->name, *verb->parameters ? " " : "", verb->parameters, NULL);
    g_autoptr(GOptionContext) context = g_option_context_new(parameters);
    g_autoptr(GError) error = NULL;
    g_option_context_set_summary(context, verb->summary);
    if (verb->description)
        g_option_context_set_description(context, verb->description);
    g_option_context_add_main_entries(context, global_entries, NULL);
    if (verb->options)
        g_option_context_add_main_entries(context, verb->options, NULL);
    g_option_context_add_main_entries(context, positional, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error))
        return usage_error(verb->name, error->message);

    guint n = args ? g_strv_length(args) : 0;
    if (n < verb->min_args) {
        g_autofree char *message = missing_message(verb, n);
        return usage_error(verb->name, message);
    }
    if (n > verb->max_args) {
        g_autofree char *message = extra_message(verb);
        return usage_error(verb->name, message);
    }
    int status = check_config();
    if (status != CLI_EXIT_OK)
        return status;
    cli_table_set_legend(!ctx.no_legend);
    char *none[] = { NULL };
    return verb->run(&ctx, args ? args : none);
}

int main(int argc, char **argv)
{
    const GOptionEntry version_entry[] = {
        { "version", 0, 0, G_OPTION_ARG_NONE, &show_version, "Print virt-ferry's version and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) context = g_option_context_new("VERB [ARGUMENTS...]");
    g_autoptr(GError) error = NULL;
    g_autofree char *verb_text = verb_list_text();

    setlocale(LC_ALL, "");
    g_set_prgname("virt-ferry");
    g_option_context_set_summary(context, "Ask this host's virt-ferryd about its domains, set their policy, "
                                          "follow its events;\narchive, restore and purge domains, migrate "
                                          "them to peers, take over a dead host's\ndomains, follow and cancel jobs.");
    g_option_context_set_description(context, verb_text);
    g_option_context_set_strict_posix(context, TRUE); /* stop at the verb */
    g_option_context_add_main_entries(context, version_entry, NULL);
    g_option_context_add_main_entries(context, global_entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error))
        return usage_error(NULL, error->message);
    if (show_version) {
        g_print("virt-ferry %s\n", PACKAGE_VERSION);
        return CLI_EXIT_OK;
    }
    g_autofree char *names = verb_names();
    if (argc < 2) {
        g_autofree char *message = g_strdup_printf("no verb given; the verbs are %s", names);
        return usage_error(NULL, message);
    }
    /* help [VERB]: the help of virt-ferry or of the verb, as --help prints it. */
    if (g_str_equal(argv[1], "help")) {
        if (argc > 3)
            return usage_error(NULL, "'help' takes at most one argument, a verb");
        if (argc == 2) {
            g_autofree char *help = g_option_context_get_help(context, TRUE, NULL);
            g_print("%s", help);
            return CLI_EXIT_OK;
        }
        const Verb *verb = find_verb(argv[2]);
        if (!verb) {
            g_autofree char *shown = g_strescape(argv[2], NULL);
            g_autofree char *message = g_strdup_printf("unknown verb '%s'; the verbs are %s", shown, names);
            return usage_error(NULL, message);
        }
        char *help_argv[] = { argv[2], (char *)"--help", NULL };
        return run_verb(verb, 2, help_argv);
    }
    const Verb *verb = find_verb(argv[1]);
    if (!verb) {
        g_autofree char *shown = g_strescape(argv[1], NULL);
        g_autofree char *message = g_strdup_printf("unknown verb '%s'; the verbs are %s", shown, names);
        return usage_error(NULL, message);
    }
    int status = run_verb(verb, argc - 1, argv + 1);
    g_clear_object(&ctx.bus);
    g_free(ctx.bus_address);
    g_free(ctx.name);
    g_strfreev(ctx.migrate.methods);
    g_free(ctx.migrate.bandwidth);
    g_free(ctx.migrate.parallel);
    g_free(ctx.migrate.progress_timeout);
    g_free(ctx.migrate.completion_timeout);
    g_free(ctx.move_disk.format);
    g_free(ctx.move_disk.bandwidth);
    g_strfreev(ctx.failover.domains);
    g_free(ctx.maintenance_mode);
    g_free(ctx.config_path);
    return status;
}
