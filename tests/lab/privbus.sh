# SPDX-License-Identifier: LGPL-2.1-or-later
# A private dbus-daemon's configuration for a test (sourced): a bus of TYPE (system or
# session) listening at LISTEN (a D-Bus address) that lets every connection own any name,
# send anywhere and eavesdrop; with "any-user", connections of every uid are let in (a test
# that runs callers as another user). Nothing else of the machine's bus configuration.
private_bus_conf() { # TYPE LISTEN [any-user]
    local users=""
    [ "${3:-}" = any-user ] && users='<allow user="*"/>'
    cat <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>$1</type>
  <listen>$2</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    $users
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
}

# Starts a private dbus-daemon (foreground, in the background of this shell) from CONF and
# waits for its address: sets PRIVATE_BUS_PID and PRIVATE_BUS_ADDRESS; LOG keeps its errors.
private_bus_start() { # CONF LOG
    local address_file
    address_file=$(mktemp)
    dbus-daemon --nofork --print-address=3 --config-file="$1" 3> "$address_file" 2>> "$2" &
    PRIVATE_BUS_PID=$!
    wait_for 10 test -s "$address_file" || { rm -f "$address_file"; tap_bail "the private dbus-daemon did not start: $(cat "$2")"; }
    PRIVATE_BUS_ADDRESS=$(head -n 1 "$address_file")
    rm -f "$address_file"
}
