/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <stdarg.h>
#include <string.h>

#define MAX_FIELDS 16

/* GLib's level only decides how stderr shows the record and whether it is dropped: MESSAGE
 * is never dropped nor fatal (a warning is fatal under g_test_init), while PRIORITY= tells
 * journald the record's real weight. */
void ferry_log(FerryLogPriority priority, const char *message_id, const char *const *fields, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    char priority_text[2] = { (char)('0' + priority), 0 };
    GLogField f[MAX_FIELDS + 4];
    gsize n = 0;
    f[n++] = (GLogField){ "MESSAGE", message, -1 };
    f[n++] = (GLogField){ "PRIORITY", priority_text, -1 };
    f[n++] = (GLogField){ "GLIB_DOMAIN", G_LOG_DOMAIN, -1 };
    if (message_id)
        f[n++] = (GLogField){ "MESSAGE_ID", message_id, -1 };
    for (gsize i = 0; fields && fields[i] && n < G_N_ELEMENTS(f); i += 2)
        if (fields[i + 1])
            f[n++] = (GLogField){ fields[i], fields[i + 1], -1 };
    g_log_structured_array(G_LOG_LEVEL_MESSAGE, f, n);
}

void ferry_log_recovery(const char *kind, const char *id, const char *outcome, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    g_autofree char *message = g_strdup_vprintf(format, ap);
    va_end(ap);
    const char *const fields[] = { "VIRT_FERRY_KIND", kind, "VIRT_FERRY_ARCHIVE", id, "VIRT_FERRY_RECOVERY", outcome, NULL };
    ferry_log(strcmp(outcome, "failed") == 0 ? FERRY_LOG_ERR : FERRY_LOG_NOTICE, FERRY_MESSAGE_RECOVERY, fields, "%s",
              message);
}
