/* The D-Bus names of FERRY_ERROR's codes (DESIGN.md "Errors"). */
#pragma once

#include <gio/gio.h>

/* Registers every FerryErrorCode with its org.virtferry.Ferry1.Error.* name, so that a
 * FERRY_ERROR GError returned over D-Bus arrives under its own name. */
void ferry_dbus_errors_register(void);

#define FERRY_DBUS_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
