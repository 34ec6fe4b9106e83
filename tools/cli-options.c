/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the verbs' own options share: whole numbers given as text. */
#include "cli.h"

#include "ferry-error.h"

#include <string.h>

/* Digits only, and at most @max. */
static gboolean parse_number(const char *option, const char *text, guint64 max, const char *unit,
                             guint64 *out, GError **error)
{
    g_autofree char *shown = g_strescape(text, NULL);
    if (!*text || strspn(text, "0123456789") != strlen(text)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "--%s \"%s\" is not a whole number of %s: give digits only", option, shown, unit);
        return FALSE;
    }
    if (!g_ascii_string_to_unsigned(text, 10, 0, max, out, NULL)) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "--%s %s is too large: give at most %" G_GUINT64_FORMAT " %s", option, shown, max, unit);
        return FALSE;
    }
    return TRUE;
}

gboolean cli_add_number(GVariantBuilder *options, const char *key, const char *option, const char *text,
                        gboolean u32, const char *unit, GError **error)
{
    guint64 n = 0;
    if (!text)
        return TRUE;
    if (!parse_number(option, text, u32 ? G_MAXUINT32 : G_MAXUINT64, unit, &n, error))
        return FALSE;
    g_variant_builder_add(options, "{sv}", key, u32 ? g_variant_new_uint32((guint32)n) : g_variant_new_uint64(n));
    return TRUE;
}
