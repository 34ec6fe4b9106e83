#include "errors.h"

#include "ferry-error.h"

static const GDBusErrorEntry ferry_dbus_errors[] = {
    { FERRY_ERROR_NOT_FOUND, "org.virtferry.Ferry1.Error.NotFound" },
    { FERRY_ERROR_INVALID_ARGUMENT, "org.virtferry.Ferry1.Error.InvalidArgument" },
    { FERRY_ERROR_BUSY, "org.virtferry.Ferry1.Error.Busy" },
    { FERRY_ERROR_UNSUPPORTED, "org.virtferry.Ferry1.Error.Unsupported" },
    { FERRY_ERROR_INCOMPATIBLE, "org.virtferry.Ferry1.Error.Incompatible" },
    { FERRY_ERROR_NO_CAPACITY, "org.virtferry.Ferry1.Error.NoCapacity" },
    { FERRY_ERROR_NETWORK_UNAVAILABLE, "org.virtferry.Ferry1.Error.NetworkUnavailable" },
    { FERRY_ERROR_CANCELLED, "org.virtferry.Ferry1.Error.Cancelled" },
    { FERRY_ERROR_FAILED, "org.virtferry.Ferry1.Error.Failed" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(ferry_dbus_errors) == FERRY_ERROR_N_ERRORS);

void ferry_dbus_errors_register(void)
{
    static gsize done;
    if (g_once_init_enter(&done)) {
        for (gsize i = 0; i < G_N_ELEMENTS(ferry_dbus_errors); i++) {
            g_assert((gsize)ferry_dbus_errors[i].error_code == i);
            g_dbus_error_register_error(FERRY_ERROR, ferry_dbus_errors[i].error_code,
                                        ferry_dbus_errors[i].dbus_error_name);
        }
        g_once_init_leave(&done, 1);
    }
}
