/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The archive library and jobs: archive, restore, verify (each starts a job and follows
 * it), archives, purge, jobs, job, cancel. Arguments are checked before connecting, by
 * virt-ferryd's own rules, so a typo never waits for the bus. */
#include "cli.h"

#include "ferry-error.h"
#include "names.h"

#include <stdio.h>
#include <string.h>

static int fail(GError *error)
{
    return cli_report_error(error);
}

/* ------------------------------------------------------------------ arguments */

guint cli_parse_job_id(const char *text, GError **error)
{
    const char *digits = g_str_has_prefix(text, FERRY_JOB_PATH "/") ? text + strlen(FERRY_JOB_PATH "/") : text;
    guint64 n = 0;
    gboolean ok = *digits && strspn(digits, "0123456789") == strlen(digits) &&
                  g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT32, &n, NULL);
    if (ok)
        return (guint)n;
    g_autofree char *shown = g_strescape(text, NULL);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                "\"%s\" is not a job; give its number (virt-ferry jobs lists them) or its object path", shown);
    return 0;
}

static int usage(const char *message)
{
    g_autoptr(GError) error = g_error_new_literal(FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, message);
    return fail(error);
}

/* ------------------------------------------------------------------ jobs that start */

int cli_start_job(CliContext *ctx, const char *path, const char *interface, const char *method,
                  GVariant *parameters, gboolean interactive, GError **error)
{
    g_autoptr(GVariant) reply =
        cli_call(ctx, path, interface, method, parameters, G_VARIANT_TYPE("(o)"), interactive, error);
    if (!reply)
        return -1;
    const char *job = NULL;
    g_variant_get(reply, "(&o)", &job);
    if (ctx->no_wait) {
        if (ctx->json) {
            g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
            g_variant_builder_add(&b, "{sv}", "ObjectPath", g_variant_new_object_path(job));
            cli_json_print(g_variant_builder_end(&b));
        } else {
            g_print("%s\n", job);
        }
        return CLI_EXIT_OK;
    }
    if (!ctx->json) {
        cli_print_field("", "Job", job);
        fflush(stdout);
    }
    return cli_job_follow(ctx, job);
}

static GVariant *no_options(void)
{
    return g_variant_new_array(G_VARIANT_TYPE("{sv}"), NULL, 0);
}

int cli_verb_archive(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!ferry_check_domain_name(args[0], "domain", &error) || !cli_connect(ctx, &error))
        return fail(error);
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Archive",
                               g_variant_new("(s@a{sv})", args[0], no_options()), TRUE, &error);
    return status < 0 ? fail(error) : status;
}

int cli_verb_restore(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (ctx->paused && ctx->start)
        return usage("--paused and --start exclude each other");
    if (ctx->copy && !ctx->name)
        return usage("--copy needs --name: a copy has a name of its own");
    if (!ferry_check_archive_id(args[0], &error) ||
        (ctx->name && !ferry_check_domain_name(ctx->name, "restore name", &error)))
        return fail(error);
    g_auto(GVariantBuilder) options = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
    if (ctx->name)
        g_variant_builder_add(&options, "{sv}", "name", g_variant_new_string(ctx->name));
    if (ctx->paused || ctx->start)
        g_variant_builder_add(&options, "{sv}", "start", g_variant_new_boolean(ctx->start));
    if (ctx->copy)
        g_variant_builder_add(&options, "{sv}", "copy", g_variant_new_boolean(TRUE));
    if (ctx->break_lock)
        g_variant_builder_add(&options, "{sv}", "break_lock", g_variant_new_boolean(TRUE));
    if (ctx->ignore_unreachable)
        g_variant_builder_add(&options, "{sv}", "ignore_unreachable", g_variant_new_boolean(TRUE));
    if (!cli_connect(ctx, &error))
        return fail(error);
    int status = cli_start_job(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Restore",
                               g_variant_new("(s@a{sv})", args[0], g_variant_builder_end(&options)), TRUE,
                               &error);
    return status < 0 ? fail(error) : status;
}

static void set_no_archive(GError **error, const char *id)
{
    g_autofree char *shown = cli_display(id);
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND,
                "no archive \"%s\" in the library (virt-ferry archives lists them)", shown);
}

/* The archives, as ListArchives answers: a(sssx). */
static GVariant *list_archives(CliContext *ctx, GError **error)
{
    g_autoptr(GVariant) reply = cli_call(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "ListArchives", NULL,
                                         G_VARIANT_TYPE("(a(sssx))"), FALSE, error);
    return reply ? g_variant_get_child_value(reply, 0) : NULL;
}

static gboolean archive_listed(GVariant *archives, const char *id)
{
    GVariantIter iter;
    const char *listed;
    g_variant_iter_init(&iter, archives);
    while (g_variant_iter_next(&iter, "(&s&s&sx)", &listed, NULL, NULL, NULL))
        if (g_str_equal(listed, id))
            return TRUE;
    return FALSE;
}

int cli_verb_verify(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!ferry_check_archive_id(args[0], &error) || !cli_connect(ctx, &error))
        return fail(error);
    g_autofree char *escaped = g_dbus_escape_object_path(args[0]);
    g_autofree char *path = g_strconcat(FERRY_ARCHIVE_PATH "/", escaped, NULL);
    int status = cli_start_job(ctx, path, FERRY_ARCHIVE_INTERFACE, "Verify", NULL, FALSE, &error);
    if (status >= 0 || !cli_is_unknown_object(error))
        return status < 0 ? fail(error) : status;
    /* virt-ferryd may not have seen the archive yet (another host wrote it into the shared
     * library): ListArchives reads the library and makes its objects. */
    g_clear_error(&error);
    g_autoptr(GVariant) archives = list_archives(ctx, &error);
    if (!archives)
        return fail(error);
    if (!archive_listed(archives, args[0])) {
        set_no_archive(&error, args[0]);
        return fail(error);
    }
    status = cli_start_job(ctx, path, FERRY_ARCHIVE_INTERFACE, "Verify", NULL, FALSE, &error);
    if (status < 0 && cli_is_unknown_object(error)) {
        g_autofree char *shown = cli_display(args[0]);
        g_clear_error(&error);
        g_set_error(&error, FERRY_ERROR, FERRY_ERROR_FAILED,
                    "virt-ferryd lists archive \"%s\" but serves no object for it at %s", shown, path);
    }
    return status < 0 ? fail(error) : status;
}

/* ------------------------------------------------------------------ archives */

static char *local_time(gint64 usec)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(usec / G_USEC_PER_SEC - (usec % G_USEC_PER_SEC < 0));
    return t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%S") : g_strdup("-");
}

static const CliObject *find_object(GPtrArray *objects, const char *key, const char *value)
{
    for (guint i = 0; objects && i < objects->len; i++)
        if (g_strcmp0(cli_object_string(objects->pdata[i], key), value) == 0)
            return objects->pdata[i];
    return NULL;
}

static GVariant *archive_variant(const char *id, const char *domain, const char *host, gint64 created,
                                 const CliObject *object)
{
    g_autoptr(GVariantDict) dict = g_variant_dict_new(object ? object->properties : NULL);
    g_variant_dict_insert(dict, "Id", "s", id);
    g_variant_dict_insert(dict, "Domain", "s", domain);
    g_variant_dict_insert(dict, "SourceHost", "s", host);
    g_variant_dict_insert(dict, "Created", "x", created);
    g_autoptr(GVariant) properties = g_variant_ref_sink(g_variant_dict_end(dict));
    return cli_object_variant(object ? object->path : NULL, properties);
}

static GStrv archive_row(const char *id, const char *domain, const char *host, gint64 created,
                         const CliObject *object)
{
    char **cells = g_new0(char *, 7);
    const char *problem = object ? cli_object_string(object, "Problem") : NULL;
    cells[0] = cli_display(id);
    cells[1] = problem && *problem ? g_strdup("(damaged)") : cli_display(domain);
    cells[2] = cli_display(*host ? host : NULL);
    cells[3] = local_time(created);
    guint64 size = 0;
    gboolean memory = FALSE;
    gboolean has_size = object && g_variant_lookup(object->properties, "Size", "t", &size);
    gboolean has_memory = object && g_variant_lookup(object->properties, "HasMemoryState", "b", &memory);
    cells[4] = has_size ? cli_format_size(size) : g_strdup("-");
    cells[5] = g_strdup(has_memory ? (memory ? "yes" : "no") : "-");
    return cells;
}

int cli_verb_archives(CliContext *ctx, char **args)
{
    static const char *const headers[] = { "ID", "DOMAIN", "SOURCE-HOST", "CREATED", "SIZE", "MEMORY" };
    g_autoptr(GError) error = NULL;
    if (!cli_connect(ctx, &error))
        return fail(error);
    /* ListArchives first: it also brings virt-ferryd's Archive objects up to date. */
    g_autoptr(GVariant) archives = list_archives(ctx, &error);
    if (!archives)
        return fail(error);
    g_autoptr(GPtrArray) objects = cli_objects(ctx, FERRY_ARCHIVE_INTERFACE, &error);
    if (!objects)
        return fail(error);
    g_auto(GVariantBuilder) json = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    GVariantIter iter;
    const char *id, *domain, *host;
    gint64 created;
    g_variant_iter_init(&iter, archives);
    while (g_variant_iter_next(&iter, "(&s&s&sx)", &id, &domain, &host, &created)) {
        const CliObject *object = find_object(objects, "Id", id);
        if (ctx->json)
            g_variant_builder_add_value(&json, archive_variant(id, domain, host, created, object));
        else
            g_ptr_array_add(rows, archive_row(id, domain, host, created, object));
    }
    if (ctx->json) {
        cli_json_print(g_variant_builder_end(&json));
        return CLI_EXIT_OK;
    }
    cli_print_table(headers, G_N_ELEMENTS(headers), rows);
    /* What is wrong with each damaged archive, under the table. */
    for (guint i = 0; i < objects->len; i++) {
        const char *problem = cli_object_string(objects->pdata[i], "Problem");
        if (!problem || !*problem)
            continue;
        g_autofree char *id_shown = cli_display(cli_object_string(objects->pdata[i], "Id"));
        g_autofree char *problem_shown = cli_display(problem);
        g_print("%s: damaged: %s\n", id_shown, problem_shown);
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ purge */

/* The newest archive of the domain with @uuid, from the Archive objects. */
static char *newest_archive(CliContext *ctx, const char *uuid)
{
    g_autoptr(GVariant) archives = list_archives(ctx, NULL);
    g_autoptr(GPtrArray) objects = archives ? cli_objects(ctx, FERRY_ARCHIVE_INTERFACE, NULL) : NULL;
    const char *best = NULL;
    gint64 best_created = G_MININT64;
    for (guint i = 0; objects && i < objects->len; i++) {
        const CliObject *object = objects->pdata[i];
        gint64 created = 0;
        g_variant_lookup(object->properties, "Created", "x", &created);
        if (g_strcmp0(cli_object_string(object, "UUID"), uuid) == 0 && created >= best_created) {
            best = cli_object_string(object, "Id");
            best_created = created;
        }
    }
    return g_strdup(best);
}

int cli_verb_purge(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!ferry_check_domain_name(args[0], "domain", &error) || !cli_connect(ctx, &error))
        return fail(error);
    /* Who it is, for the report: Purge itself answers nothing. */
    g_autoptr(GVariant) found = cli_call(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "GetDomain",
                                         g_variant_new("(s)", args[0]), G_VARIANT_TYPE("(o)"), FALSE, &error);
    if (!found)
        return fail(error);
    const char *path = NULL;
    g_variant_get(found, "(&o)", &path);
    g_autoptr(GVariant) reply = cli_call(ctx, path, "org.freedesktop.DBus.Properties", "GetAll",
                                         g_variant_new("(s)", FERRY_DOMAIN_INTERFACE), G_VARIANT_TYPE("(a{sv})"), FALSE,
                                         &error);
    if (!reply)
        return fail(error);
    g_autoptr(GVariant) properties = g_variant_get_child_value(reply, 0);
    const char *name = args[0], *uuid = NULL;
    g_variant_lookup(properties, "Name", "&s", &name);
    g_variant_lookup(properties, "UUID", "&s", &uuid);
    g_autoptr(GVariant) purged = cli_call(ctx, FERRY_ROOT_PATH, FERRY_MANAGER_INTERFACE, "Purge",
                                          g_variant_new("(s)", uuid && *uuid ? uuid : args[0]), G_VARIANT_TYPE_UNIT,
                                          TRUE, &error);
    if (!purged)
        return fail(error);
    g_autofree char *archive = uuid ? newest_archive(ctx, uuid) : NULL;
    if (ctx->json) {
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "Domain", g_variant_new_string(name));
        g_variant_builder_add(&b, "{sv}", "UUID", g_variant_new_string(uuid ? uuid : ""));
        g_variant_builder_add(&b, "{sv}", "Archive", g_variant_new_string(archive ? archive : ""));
        cli_json_print(g_variant_builder_end(&b));
        return CLI_EXIT_OK;
    }
    g_autofree char *shown = cli_display(name);
    g_print("Purged %s: undefined, and the disk files its archive holds copies of deleted.\n", shown);
    cli_print_field("", "UUID", uuid);
    if (archive) {
        cli_print_field("", "Archive", archive);
        g_autofree char *id = cli_display(archive);
        g_print("virt-ferry restore %s brings it back.\n", id);
    }
    return CLI_EXIT_OK;
}

/* Removes an archive, damaged or not. ListArchives first: virt-ferryd may not have an
 * object for an archive another host wrote, and it tells a missing one apart. */
int cli_verb_archive_delete(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    if (!ferry_check_archive_id(args[0], &error) || !cli_connect(ctx, &error))
        return fail(error);
    g_autoptr(GVariant) archives = list_archives(ctx, &error);
    if (!archives)
        return fail(error);
    if (!archive_listed(archives, args[0])) {
        set_no_archive(&error, args[0]);
        return fail(error);
    }
    g_autofree char *escaped = g_dbus_escape_object_path(args[0]);
    g_autofree char *path = g_strconcat(FERRY_ARCHIVE_PATH "/", escaped, NULL);
    g_autoptr(GVariant) deleted = cli_call(ctx, path, FERRY_ARCHIVE_INTERFACE, "Delete", NULL, G_VARIANT_TYPE_UNIT,
                                           TRUE, &error);
    if (!deleted)
        return fail(error);
    if (ctx->json) {
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_VARDICT);
        g_variant_builder_add(&b, "{sv}", "Archive", g_variant_new_string(args[0]));
        cli_json_print(g_variant_builder_end(&b));
        return CLI_EXIT_OK;
    }
    g_autofree char *shown = cli_display(args[0]);
    g_print("Deleted archive %s.\n", shown);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ jobs */

static guint path_job_id(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (guint)g_ascii_strtoull(slash + 1, NULL, 10) : 0;
}

static gint by_job_id(gconstpointer a, gconstpointer b)
{
    guint x = path_job_id((*(CliObject *const *)a)->path), y = path_job_id((*(CliObject *const *)b)->path);
    return x < y ? -1 : x > y;
}

static GStrv job_row(const CliObject *object)
{
    char **cells = g_new0(char *, 7);
    double progress = 0;
    g_variant_lookup(object->properties, "Progress", "d", &progress);
    cells[0] = g_strdup_printf("%u", path_job_id(object->path));
    cells[1] = cli_display(cli_object_string(object, "Kind"));
    cells[2] = cli_display(cli_object_string(object, "Target"));
    cells[3] = cli_display(cli_object_string(object, "Status"));
    cells[4] = g_strdup_printf("%d%%", (int)CLAMP(progress * 100 + 1e-6, 0, 100));
    cells[5] = cli_display(cli_object_string(object, "Message"));
    return cells;
}

int cli_verb_jobs(CliContext *ctx, char **args)
{
    static const char *const headers[] = { "ID", "KIND", "TARGET", "STATUS", "PROGRESS", "MESSAGE" };
    g_autoptr(GError) error = NULL;
    if (!cli_connect(ctx, &error))
        return fail(error);
    g_autoptr(GPtrArray) jobs = cli_objects(ctx, FERRY_JOB_INTERFACE, &error);
    if (!jobs)
        return fail(error);
    g_ptr_array_sort(jobs, by_job_id);
    if (ctx->json) {
        g_auto(GVariantBuilder) b = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE("aa{sv}"));
        for (guint i = 0; i < jobs->len; i++) {
            const CliObject *job = jobs->pdata[i];
            g_variant_builder_add_value(&b, cli_object_variant(job->path, job->properties));
        }
        cli_json_print(g_variant_builder_end(&b));
        return CLI_EXIT_OK;
    }
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    for (guint i = 0; i < jobs->len; i++)
        g_ptr_array_add(rows, job_row(jobs->pdata[i]));
    cli_print_table(headers, G_N_ELEMENTS(headers), rows);
    return CLI_EXIT_OK;
}

/* A call to job @id's object failed: there is no such job (any more) when the object is unknown. */
static void unknown_object_is_no_job(GError **error, guint id)
{
    if (!cli_is_unknown_object(*error))
        return;
    g_autofree char *number = g_strdup_printf("%u", id);
    g_clear_error(error);
    cli_set_no_job(error, number);
}

/* The job's properties (GetAll), or NULL and NotFound when there is no such job. */
static GVariant *job_properties(CliContext *ctx, const char *path, guint id, GError **error)
{
    g_autoptr(GVariant) reply = cli_call(ctx, path, "org.freedesktop.DBus.Properties", "GetAll",
                                         g_variant_new("(s)", FERRY_JOB_INTERFACE), G_VARIANT_TYPE("(a{sv})"), FALSE,
                                         error);
    if (reply)
        return g_variant_get_child_value(reply, 0);
    unknown_object_is_no_job(error, id);
    return NULL;
}

/* The job @arg names (a number or its path), once connected: its number, object path and
 * properties; NULL and @error when there is none. */
static GVariant *find_job(CliContext *ctx, const char *arg, guint *id, char **path, GError **error)
{
    *id = cli_parse_job_id(arg, error);
    if (!*id || !cli_connect(ctx, error))
        return NULL;
    *path = g_strdup_printf(FERRY_JOB_PATH "/%u", *id);
    return job_properties(ctx, *path, *id, error);
}

int cli_verb_job(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    guint id;
    g_autofree char *path = NULL;
    g_autoptr(GVariant) properties = find_job(ctx, args[0], &id, &path, &error);
    if (!properties)
        return fail(error);
    if (ctx->follow) /* re-attach: as the verb that started it follows it */
        return cli_job_follow(ctx, path);
    if (ctx->json)
        cli_json_print(cli_object_variant(path, properties));
    else
        cli_print_job(path, properties, TRUE);
    return CLI_EXIT_OK;
}

int cli_verb_wait(CliContext *ctx, char **args)
{
    ctx->follow = TRUE;
    return cli_verb_job(ctx, args);
}

int cli_verb_cancel(CliContext *ctx, char **args)
{
    g_autoptr(GError) error = NULL;
    guint id;
    g_autofree char *path = NULL;
    g_autoptr(GVariant) before = find_job(ctx, args[0], &id, &path, &error);
    if (!before)
        return fail(error);
    const char *status = NULL;
    g_variant_lookup(before, "Status", "&s", &status);
    gboolean running = g_strcmp0(status, "running") == 0;
    if (running) {
        g_autoptr(GVariant) reply =
            cli_call(ctx, path, FERRY_JOB_INTERFACE, "Cancel", NULL, G_VARIANT_TYPE_UNIT, TRUE, &error);
        if (!reply) {
            unknown_object_is_no_job(&error, id); /* it ended and went in between */
            return fail(error);
        }
    }
    if (ctx->json) {
        /* The job may be gone already (it ended and was dropped): its state before the
         * cancel is then the last one there is. */
        g_autoptr(GError) unread = NULL;
        g_autoptr(GVariant) after = running ? job_properties(ctx, path, id, &unread) : NULL;
        cli_json_print(cli_object_variant(path, after ? after : before));
    } else if (running) {
        g_print("Job %u: cancel requested; it rolls back what it did and ends as cancelled "
                "(virt-ferry job %u shows it).\n", id, id);
    } else {
        g_autofree char *shown = cli_display(status);
        g_print("Job %u had already ended (%s): nothing to cancel.\n", id, shown);
    }
    return CLI_EXIT_OK;
}
