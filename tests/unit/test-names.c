/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The error domain against the contract: every FerryErrorCode crosses the bus under the
 * name org.virtferry.Ferry1(5) gives it and comes back as itself, with no registration call anywhere
 * (the quark registers its names when first asked for, common/ferry-error.c). */
#include "ferry-error.h"
#include "ferry-names.h"

#include <gio/gio.h>

/* org.virtferry.Ferry1(5), ERRORS: org.virtferry.Ferry1.Error.{...}, in FerryErrorCode's order. */
#define DESIGN_ERRORS "NotFound, InvalidArgument, Busy, Unsupported, Incompatible, NoCapacity, " \
                      "NetworkUnavailable, Cancelled, Failed"

static char *design_name(FerryErrorCode code)
{
    g_auto(GStrv) names = g_strsplit(DESIGN_ERRORS, ", ", -1);
    g_assert_cmpuint(g_strv_length(names), ==, FERRY_ERROR_N_ERRORS);
    return g_strconcat("org.virtferry.Ferry1.Error.", names[code], NULL);
}

/* A FERRY_ERROR is the first thing this process makes: what registers the names is the
 * quark itself. */
static void test_encode(void)
{
    for (int code = 0; code < FERRY_ERROR_N_ERRORS; code++) {
        g_autoptr(GError) error = g_error_new(FERRY_ERROR, code, "code %d", code);
        g_autofree char *name = g_dbus_error_encode_gerror(error);
        g_autofree char *expected = design_name(code);
        g_assert_cmpstr(name, ==, expected);
    }
}

static void test_decode(void)
{
    (void)FERRY_ERROR; /* what a client does before it calls: asks for the domain */
    for (int code = 0; code < FERRY_ERROR_N_ERRORS; code++) {
        g_autofree char *name = design_name(code);
        g_autoptr(GError) error = g_dbus_error_new_for_dbus_error(name, "from the bus");
        g_assert_error(error, FERRY_ERROR, code);
        g_autofree char *remote = g_dbus_error_get_remote_error(error);
        g_assert_cmpstr(remote, ==, name);
        g_dbus_error_strip_remote_error(error);
        g_assert_cmpstr(error->message, ==, "from the bus");
    }
}

/* The header's macros are the names the quark registers. */
static void test_header_names(void)
{
    const char *macros[] = {
        FERRY_ERROR_NAME_NOT_FOUND, FERRY_ERROR_NAME_INVALID_ARGUMENT, FERRY_ERROR_NAME_BUSY,
        FERRY_ERROR_NAME_UNSUPPORTED, FERRY_ERROR_NAME_INCOMPATIBLE, FERRY_ERROR_NAME_NO_CAPACITY,
        FERRY_ERROR_NAME_NETWORK_UNAVAILABLE, FERRY_ERROR_NAME_CANCELLED, FERRY_ERROR_NAME_FAILED,
    };
    G_STATIC_ASSERT(G_N_ELEMENTS(macros) == FERRY_ERROR_N_ERRORS);
    for (int code = 0; code < FERRY_ERROR_N_ERRORS; code++) {
        g_autofree char *expected = design_name(code);
        g_assert_cmpstr(macros[code], ==, expected);
    }
}

/* An unknown name of ours is not one of our codes: it stays a remote error. */
static void test_unknown_name(void)
{
    (void)FERRY_ERROR;
    g_autoptr(GError) error = g_dbus_error_new_for_dbus_error("org.virtferry.Ferry1.Error.NoSuch", "x");
    g_assert_false(error->domain == FERRY_ERROR);
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_DBUS_ERROR);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/names/error/encode", test_encode);
    g_test_add_func("/names/error/decode", test_decode);
    g_test_add_func("/names/error/header", test_header_names);
    g_test_add_func("/names/error/unknown", test_unknown_name);
    return g_test_run();
}
