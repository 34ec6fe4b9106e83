/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-ferryd's log records for administrators: journald keeps them (notice and above,
 * never GLib's info, which is dropped unless G_MESSAGES_DEBUG is set), with the fields
 * and MESSAGE_IDs that virt-ferryd(8) documents. Without journald they go to stderr as
 * GLib's writer prints any message. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* syslog's priorities, as journald's PRIORITY= field holds them. */
typedef enum {
    FERRY_LOG_ERR = 3,
    FERRY_LOG_WARNING = 4,
    FERRY_LOG_NOTICE = 5,
} FerryLogPriority;

/* MESSAGE_IDs: fixed forever, listed in virt-ferryd(8) (journalctl MESSAGE_ID=...). */
#define FERRY_MESSAGE_JOB_STARTED "00b613b6f8854dfd845a3f5940c01d26"
#define FERRY_MESSAGE_JOB_FINISHED "5c12738031274fdb9c7055ae62f35466" /* succeeded, warning or cancelled */
#define FERRY_MESSAGE_JOB_FAILED "26302fb1d27f483a86e607485bf3c630"
#define FERRY_MESSAGE_MAINTENANCE "9da924383a9646239b94d2548eebc8b6"  /* entered or left */
#define FERRY_MESSAGE_LIBVIRTD "8688b09aa03045a5afd3de2dceb20d0a"     /* lost or back */
#define FERRY_MESSAGE_NETWORK_MAP "9618c1b11368491f9e04928fd989f62a"  /* rewritten */
#define FERRY_MESSAGE_RECOVERY "fb7669f529b744feb57520226bc998d5"     /* an interrupted job finished or rolled back */

/* Logs MESSAGE (formatted) at @priority with @message_id (or none) and the fields of
 * @fields: "KEY", "value" pairs, NULL-terminated, a NULL value leaving its key out. */
void ferry_log(FerryLogPriority priority, const char *message_id, const char *const *fields, const char *format,
               ...) G_GNUC_PRINTF(4, 5);
/* What crash recovery did with an interrupted job of @kind on @id: @outcome is
 * "completed", "rolled-back" or "failed" (an error, retried at the next start). */
void ferry_log_recovery(const char *kind, const char *id, const char *outcome, const char *format, ...)
    G_GNUC_PRINTF(4, 5);

G_END_DECLS
