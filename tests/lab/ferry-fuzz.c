/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ferry-fuzz: throws malformed calls at virt-ferryd and checks every one gets a proper error.
 *
 * Usage: ferry-fuzz [--count N] [--seed S] [--domain NAME] [--unprivileged]
 *
 * Each call is built to be refused: random names for GetDomain, policies that always hold
 * at least one bad entry (so that a wrongly accepted one would change the domain, which the
 * lab test checks), wrong signatures, unknown methods, objects and properties. Every reply
 * must be one of the errors the API documents; a catch-all Failed, a timeout or a lost
 * connection fails the run. Prints a count per error name and exits 1 on any surprise.
 *
 * --unprivileged is for a caller without authorization (uid 65534): it refuses to run as
 * root, takes AccessDenied as a proper answer too, and mixes in well-formed calls of every
 * method that changes something (SetDomainPolicy, Archive, Purge, Migrate, MoveDisk on
 * --domain, Restore, Failover, the Hook's Report), each of which must be answered
 * AccessDenied and nothing else (Restore and Failover, which name no existing archive or
 * dead host here, NotFound too). */
#include <gio/gio.h>
#include <stdlib.h>
#include <unistd.h>

#define BUS_NAME "org.virtferry.Ferry1"
#define ROOT "/org/virtferry/Ferry1"
#define MANAGER BUS_NAME ".Manager"
#define IN_FLIGHT 32
#define CALL_TIMEOUT_MS 10000
#define ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"

static const char *const only_denied[] = { ACCESS_DENIED, NULL };
static const char *const denied_or_not_found[] = { ACCESS_DENIED, "org.virtferry.Ferry1.Error.NotFound", NULL };

static const char *const expected_errors[] = {
    "org.virtferry.Ferry1.Error.NotFound",
    "org.virtferry.Ferry1.Error.InvalidArgument",
    "org.freedesktop.DBus.Error.InvalidArgs",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownInterface",
    "org.freedesktop.DBus.Error.UnknownProperty",
    "org.freedesktop.DBus.Error.PropertyReadOnly",
    NULL,
};
/* The same, and AccessDenied: for an unprivileged caller. */
static const char *const expected_errors_unprivileged[] = {
    "org.virtferry.Ferry1.Error.NotFound",
    "org.virtferry.Ferry1.Error.InvalidArgument",
    "org.freedesktop.DBus.Error.InvalidArgs",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownInterface",
    "org.freedesktop.DBus.Error.UnknownProperty",
    "org.freedesktop.DBus.Error.PropertyReadOnly",
    ACCESS_DENIED,
    NULL,
};

static const char *const policy_keys[] = { "hold", "no_migrate", "eq", "ne", "pin",
                                           "priority", "depends", "unmanaged" };

typedef struct {
    GDBusConnection *bus;
    GRand *rand;
    const char *domain;
    gboolean unprivileged;
    guint to_send, in_flight;
    GHashTable *outcomes;   /* reply kind -> count */
    guint surprises;
    GMainLoop *loop;
} Fuzz;

static char *random_string(Fuzz *f)
{
    static const char *const odd[] = { "", "/", "..", "../etc/passwd", "a/b", "\t", "\x01x",
                                       "db 1", "%00", "x\n", "00000000-0000-0000-0000-000000000000",
                                       "\xc3\xa9t\xc3\xa9", "-", "." };
    if (g_rand_boolean(f->rand))
        return g_strdup(odd[g_rand_int_range(f->rand, 0, G_N_ELEMENTS(odd))]);
    gsize len = g_rand_int_range(f->rand, 0, g_rand_boolean(f->rand) ? 16 : 70000);
    GString *s = g_string_sized_new(len);
    while (s->len < len) {
        /* Any Unicode scalar value, control characters included. */
        gunichar c = g_rand_int_range(f->rand, 1, 0x800);
        if (g_rand_int_range(f->rand, 0, 4) == 0)
            c = g_rand_int_range(f->rand, 1, 0x80);
        g_string_append_unichar(s, c);
    }
    return g_string_free(s, FALSE);
}

static GVariant *random_value(Fuzz *f, int depth)
{
    g_autofree char *s = NULL;
    switch (g_rand_int_range(f->rand, 0, depth > 2 ? 7 : 9)) {
    case 0: return g_variant_new_boolean(g_rand_boolean(f->rand));
    case 1: s = random_string(f); return g_variant_new_string(s);
    case 2: return g_variant_new_int32((gint32)g_rand_int(f->rand));
    case 3: return g_variant_new_uint32(g_rand_int(f->rand));
    case 4: return g_variant_new_int64((gint64)g_rand_int(f->rand) << 20);
    case 5: return g_variant_new_double(g_rand_double(f->rand));
    case 6: return g_variant_new_bytestring("");
    case 7: {
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE_STRING_ARRAY);
        for (int i = g_rand_int_range(f->rand, 0, 300); i > 0; i--) {
            g_autofree char *item = random_string(f);
            g_variant_builder_add(&b, "s", item);
        }
        return g_variant_builder_end(&b);
    }
    default: return g_variant_new_variant(random_value(f, depth + 1));
    }
}

/* A policy with at least one entry no valid policy has: an unknown key or a wrong type. */
static GVariant *bad_policy(Fuzz *f)
{
    GVariantBuilder b;
    int entries = g_rand_int_range(f->rand, 0, 8);
    int bad_at = g_rand_int_range(f->rand, 0, entries + 1);
    g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
    for (int i = 0; i <= entries; i++) {
        const char *key = policy_keys[g_rand_int_range(f->rand, 0, G_N_ELEMENTS(policy_keys))];
        if (i == bad_at) {
            if (g_rand_boolean(f->rand)) {
                g_autofree char *junk = g_strdup_printf("fuzz-%u", g_rand_int(f->rand));
                g_variant_builder_add(&b, "{sv}", junk, random_value(f, 0));
            } else {
                /* Every key takes b, s, i or as; a double is never right. */
                g_variant_builder_add(&b, "{sv}", key, g_variant_new_double(1.5));
            }
        } else {
            g_variant_builder_add(&b, "{sv}", key, random_value(f, 0));
        }
    }
    return g_variant_builder_end(&b);
}

typedef struct {
    const char *path, *iface, *method;
    GVariant *params;
    const char *const *must; /* the only proper answers (error names); NULL: any documented error */
} Call;

typedef struct {
    Fuzz *fuzz;
    const char *method;
    const char *const *must;
} Sent;

/* A well-formed call that would change something, were the caller allowed to. */
static Call mutating_call(Fuzz *f)
{
    const char *d = f->domain;
    switch (g_rand_int_range(f->rand, 0, 8)) {
    case 0: return (Call){ ROOT, MANAGER, "SetDomainPolicy", g_variant_new_parsed("(%s, {'hold': <true>})", d), only_denied };
    case 1: return (Call){ ROOT, MANAGER, "Archive", g_variant_new_parsed("(%s, @a{sv} {})", d), only_denied };
    case 2: return (Call){ ROOT, MANAGER, "Purge", g_variant_new("(s)", d), only_denied };
    case 3: return (Call){ ROOT, MANAGER, "Migrate",
                           g_variant_new_parsed("(%s, 'qemu+tcp://beta/system', ['live'], @a{sv} {})", d), only_denied };
    case 4: return (Call){ ROOT, MANAGER, "MoveDisk",
                           g_variant_new_parsed("(%s, 'vda', '/var/tmp/ferry-fuzz.qcow2', @a{sv} {})", d), only_denied };
    case 5: return (Call){ ROOT, MANAGER, "Restore", g_variant_new_parsed("('fuzz-20261203T000000Z', @a{sv} {})"),
                           denied_or_not_found };
    case 6: return (Call){ ROOT, MANAGER, "Failover", g_variant_new_parsed("('beta', @a{sv} {})"), denied_or_not_found };
    default: return (Call){ ROOT, BUS_NAME ".Hook", "Report", g_variant_new("(ssss)", "qemu", d, "start", "begin"),
                            only_denied };
    }
}

static Call random_call(Fuzz *f)
{
    if (f->unprivileged && g_rand_boolean(f->rand))
        return mutating_call(f);
    g_autofree char *s = random_string(f);
    switch (g_rand_int_range(f->rand, 0, 8)) {
    case 0: return (Call){ ROOT, MANAGER, "GetDomain", g_variant_new("(s)", s) };
    case 1: case 2:
        return (Call){ ROOT, MANAGER, "SetDomainPolicy",
                       g_variant_new("(s@a{sv})", g_rand_boolean(f->rand) ? f->domain : s, bad_policy(f)) };
    case 3: return (Call){ ROOT, MANAGER, "SetDomainPolicy", g_variant_new("(s)", f->domain) };
    case 4: return (Call){ ROOT, MANAGER, "GetDomain", g_variant_new("(i)", 7) };
    case 5: return (Call){ ROOT, MANAGER, "NoSuchMethod", g_variant_new("(s)", s) };
    case 6: return (Call){ ROOT, "org.freedesktop.DBus.Properties", "Set",
                           g_variant_new("(ssv)", MANAGER, "Hostname", g_variant_new_string(s)) };
    default: return (Call){ ROOT "/domain/fuzz_20object", "org.freedesktop.DBus.Properties", "GetAll",
                            g_variant_new("(s)", BUS_NAME ".Domain") };
    }
}

static void send_more(Fuzz *f);

static void count(Fuzz *f, const char *kind)
{
    gpointer n = g_hash_table_lookup(f->outcomes, kind);
    g_hash_table_insert(f->outcomes, g_strdup(kind), GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
}

static void replied(GObject *source, GAsyncResult *res, gpointer data)
{
    g_autofree Sent *sent = data;
    Fuzz *f = sent->fuzz;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    const char *const *expected = f->unprivileged ? expected_errors_unprivileged : expected_errors;
    f->in_flight--;
    if (reply) {
        g_autofree char *kind = g_strdup_printf("(success of %s)", sent->method);
        count(f, kind);
        f->surprises++;
    } else {
        g_autofree char *name = g_dbus_error_get_remote_error(error);
        if (sent->must && name && g_strv_contains(sent->must, name)) {
            g_autofree char *kind = g_strdup_printf("%s (%s)", name, sent->method);
            count(f, kind);
        } else if (!sent->must && name && g_strv_contains(expected, name)) {
            count(f, name);
        } else {
            g_autofree char *kind = g_strdup_printf("%s%s%s: %s", sent->must ? sent->method : "",
                                                    sent->must ? " answered " : "", name ? name : "(local)",
                                                    error->message);
            if (g_hash_table_size(f->outcomes) < 40)
                count(f, kind);
            f->surprises++;
        }
    }
    send_more(f);
}

static void send_more(Fuzz *f)
{
    while (f->to_send > 0 && f->in_flight < IN_FLIGHT) {
        Call c = random_call(f);
        Sent *sent = g_new0(Sent, 1);
        *sent = (Sent){ f, c.method, c.must };
        f->to_send--;
        f->in_flight++;
        g_dbus_connection_call(f->bus, BUS_NAME, c.path, c.iface, c.method, c.params, NULL,
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, NULL, replied, sent);
    }
    if (f->to_send == 0 && f->in_flight == 0)
        g_main_loop_quit(f->loop);
}

int main(int argc, char **argv)
{
    gint count_arg = 2000, seed = 1;
    gboolean unprivileged = FALSE;
    g_autofree char *domain = NULL;
    GOptionEntry entries[] = {
        { "count", 'n', 0, G_OPTION_ARG_INT, &count_arg, "Calls to make", "N" },
        { "seed", 's', 0, G_OPTION_ARG_INT, &seed, "Random seed", "S" },
        { "domain", 'd', 0, G_OPTION_ARG_STRING, &domain, "An existing domain to aim policies at", "NAME" },
        { "unprivileged", 'u', 0, G_OPTION_ARG_NONE, &unprivileged,
          "Run as a caller without authorization: every change must be AccessDenied", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) context = g_option_context_new("- malformed calls to virt-ferryd");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("ferry-fuzz: %s\n", error->message);
        return 2;
    }
    if (unprivileged && geteuid() == 0) {
        g_printerr("ferry-fuzz: --unprivileged is for a caller without authorization; this is root\n");
        return 2;
    }
    Fuzz f = { 0 };
    f.unprivileged = unprivileged;
    f.bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
    if (!f.bus) {
        g_printerr("ferry-fuzz: %s\n", error->message);
        return 2;
    }
    f.rand = g_rand_new_with_seed(seed);
    f.domain = domain ? domain : "fuzz";
    f.to_send = count_arg;
    f.outcomes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    f.loop = g_main_loop_new(NULL, FALSE);
    gint64 t0 = g_get_monotonic_time();
    send_more(&f);
    g_main_loop_run(f.loop);

    GHashTableIter iter;
    gpointer kind, n;
    g_hash_table_iter_init(&iter, f.outcomes);
    while (g_hash_table_iter_next(&iter, &kind, &n))
        g_print("%6u %s\n", GPOINTER_TO_UINT(n), (char *)kind);
    g_print("%d calls in %.1f s, %u surprises\n", count_arg, (g_get_monotonic_time() - t0) / 1e6, f.surprises);
    g_hash_table_unref(f.outcomes);
    g_rand_free(f.rand);
    g_main_loop_unref(f.loop);
    g_object_unref(f.bus);
    return f.surprises ? 1 : 0;
}
