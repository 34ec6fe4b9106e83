/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "names.h"

#include "ferry-error.h"

#include <string.h>

static gboolean invalid(GError **error, const char *what, const char *name, const char *why)
{
    g_autofree char *shown = g_strescape(name, NULL);
    if (strlen(shown) > 80)
        strcpy(shown + 72, "...");
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT, "%s \"%s\" %s", what, shown, why);
    return FALSE;
}

gboolean ferry_check_domain_name(const char *name, const char *what, GError **error)
{
    if (!name || !*name) {
        g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                    "%s is empty: give a domain name or UUID", what);
        return FALSE;
    }
    if (strlen(name) > FERRY_NAME_MAX)
        return invalid(error, what, name, "is longer than " G_STRINGIFY(FERRY_NAME_MAX) " bytes");
    if (!g_utf8_validate(name, -1, NULL))
        return invalid(error, what, name, "is not valid UTF-8");
    for (const char *p = name; *p; p = g_utf8_next_char(p))
        if (g_unichar_iscntrl(g_utf8_get_char(p)))
            return invalid(error, what, name, "holds a control character");
    return TRUE;
}

gboolean ferry_check_host_name(const char *name, const char *what, GError **error)
{
    gsize len = name ? strlen(name) : 0;
    if (len == 0 || len > 253)
        return invalid(error, what, name ? name : "", "must be 1 to 253 characters long");
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.')
            return invalid(error, what, name, "may hold only letters, digits, '-' and '.'");
    if (name[0] == '-' || name[0] == '.' || strstr(name, ".."))
        return invalid(error, what, name, "is not a host name");
    return TRUE;
}

gboolean ferry_check_group_name(const char *name, const char *what, GError **error)
{
    gsize len = name ? strlen(name) : 0;
    if (len == 0 || len > FERRY_GROUP_MAX)
        return invalid(error, what, name ? name : "",
                       "must be 1 to " G_STRINGIFY(FERRY_GROUP_MAX) " characters long");
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            return invalid(error, what, name, "may hold only letters, digits, '_', '-' and '.'");
    return TRUE;
}

gboolean ferry_check_archive_id(const char *id, GError **error)
{
    const char *why = NULL;
    if (!id || !*id)
        why = "is empty";
    else if (strlen(id) > FERRY_ARCHIVE_ID_MAX)
        why = "is too long";
    else if (!g_utf8_validate(id, -1, NULL))
        why = "is not valid UTF-8";
    else if (strchr(id, '/'))
        why = "holds a '/'";
    else if (id[0] == '.' || strstr(id, ".."))
        why = "starts with '.' or holds '..'";
    else
        for (const char *p = id; *p && !why; p = g_utf8_next_char(p))
            if (g_unichar_iscntrl(g_utf8_get_char(p)))
                why = "holds a control character";
    if (!why)
        return TRUE;
    g_autofree char *shown = g_strescape(id ? id : "", NULL);
    if (strlen(shown) > 80)
        strcpy(shown + 72, "...");
    g_set_error(error, FERRY_ERROR, FERRY_ERROR_INVALID_ARGUMENT,
                "archive id \"%s\" %s; ids are as ListArchives (virt-ferry archives) shows them", shown, why);
    return FALSE;
}
