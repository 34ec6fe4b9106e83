/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus errors virt-ferryd returns besides FERRY_ERROR's, whose names register
 * themselves (common/ferry-error.c). */
#pragma once

#include <gio/gio.h>

#define FERRY_DBUS_ACCESS_DENIED "org.freedesktop.DBus.Error.AccessDenied"
