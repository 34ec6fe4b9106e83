/* ferry-fuzz: throws malformed calls at virt-ferryd and checks every one gets a proper error.
 *
 * Usage: ferry-fuzz [--count N] [--seed S] [--domain NAME]
 *
 * Each call is built to be refused: random names for GetDomain, policies that always hold
 * at least one bad entry (so that a wrongly accepted one would change the domain, which the
 * lab test checks), wrong signatures, unknown methods, objects and properties. Every reply
 * must be one of the errors the API documents; a catch-all Failed, a timeout or a lost
 * connection fails the run. Prints a count per error name and exits 1 on any surprise. */
#include <gio/gio.h>
#include <stdlib.h>

#define BUS_NAME "org.virtferry.Ferry1"
#define ROOT "/org/virtferry/Ferry1"
#define MANAGER BUS_NAME ".Manager"
#define IN_FLIGHT 32
#define CALL_TIMEOUT_MS 10000

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

static const char *const policy_keys[] = { "hold", "no_migrate", "eq", "ne", "pin",
                                           "priority", "depends", "unmanaged" };

typedef struct {
    GDBusConnection *bus;
    GRand *rand;
    const char *domain;
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
} Call;

static Call random_call(Fuzz *f)
{
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
    Fuzz *f = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
    f->in_flight--;
    if (reply) {
        count(f, "(success)");
        f->surprises++;
    } else {
        g_autofree char *name = g_dbus_error_get_remote_error(error);
        if (name && g_strv_contains(expected_errors, name)) {
            count(f, name);
        } else {
            g_autofree char *kind = g_strdup_printf("%s: %s", name ? name : "(local)", error->message);
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
        f->to_send--;
        f->in_flight++;
        g_dbus_connection_call(f->bus, BUS_NAME, c.path, c.iface, c.method, c.params, NULL,
                               G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, NULL, replied, f);
    }
    if (f->to_send == 0 && f->in_flight == 0)
        g_main_loop_quit(f->loop);
}

int main(int argc, char **argv)
{
    gint count_arg = 2000, seed = 1;
    g_autofree char *domain = NULL;
    GOptionEntry entries[] = {
        { "count", 'n', 0, G_OPTION_ARG_INT, &count_arg, "Calls to make", "N" },
        { "seed", 's', 0, G_OPTION_ARG_INT, &seed, "Random seed", "S" },
        { "domain", 'd', 0, G_OPTION_ARG_STRING, &domain, "An existing domain to aim policies at", "NAME" },
        { NULL }
    };
    g_autoptr(GOptionContext) context = g_option_context_new("- malformed calls to virt-ferryd");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("ferry-fuzz: %s\n", error->message);
        return 2;
    }
    Fuzz f = { 0 };
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
