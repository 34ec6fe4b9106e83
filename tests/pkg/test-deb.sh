#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package (debian/): built from this tree with dpkg-buildpackage, checked by
# lintian and unpacked (dpkg -x), then installed on this machine for real (dpkg -i), its
# virt-ferryd started by D-Bus activation from the installed files on a private bus and asked
# over it, and purged (dpkg --purge): nothing of it may stay but the archive library.
# Slow (a whole build): it runs only when VIRT_FERRY_PKG_TESTS=1 or CI is set (.ci/run).
# VIRT_FERRY_PKG_LOCK=FILE: hold flock(FILE) while the package is installed.
# It installs only on a machine that has no virt-ferry of its own (no package, no file of
# the package's, no /var/lib/virt-ferry), and leaves the machine as it found it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
SRC=$(cd "$here/../.." && pwd)

[ -n "${VIRT_FERRY_PKG_TESTS:-}${CI:-}" ] ||
    tap_skip_all "slow (builds the package): run with VIRT_FERRY_PKG_TESTS=1"
[ "$(id -u)" = 0 ] || tap_skip_all "installing the package needs root"
for tool in dpkg-buildpackage dh lintian dbus-daemon busctl git; do
    command -v "$tool" > /dev/null || tap_skip_all "$tool is not installed (.ci/deps)"
done
[ -d "$SRC/.git" ] || [ -f "$SRC/.git" ] || tap_skip_all "not a git checkout: the package is built from git's file list"
(cd "$SRC" && dpkg-checkbuilddeps > /dev/null 2>&1) ||
    tap_skip_all "build dependencies missing: $(cd "$SRC" && dpkg-checkbuilddeps 2>&1 | tail -n 1)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/virt-ferry-deb.XXXXXX") || tap_bail "mktemp failed"
bus_pid= installed=no created_state=no
cleanup() {
    local pid
    [ -n "$bus_pid" ] && kill "$bus_pid" 2> /dev/null && wait "$bus_pid" 2> /dev/null
    for pid in $(cat "$tmp/ferryd.pid" 2> /dev/null); do kill "$pid" 2> /dev/null; done
    # Whatever went wrong, the machine is left without the package and its state.
    [ $installed = yes ] && dpkg --purge virt-ferry > "$tmp/purge-cleanup.log" 2>&1
    [ $created_state = yes ] && rm -rf /var/lib/virt-ferry
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# ------------------------------------------------------------------ build
mkdir "$tmp/src"
(cd "$SRC" && git ls-files -co --exclude-standard -z | grep -zv '^debian/virt-ferry/' |
    tar --null -T - -cf -) | tar -xf - -C "$tmp/src" || tap_bail "copying the sources failed"
(cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b) \
    > "$tmp/build.log" 2>&1
tap_ok "dpkg-buildpackage -us -uc -b builds the package" test $? = 0 || tail -n 40 "$tmp/build.log" | sed 's/^/# /'
deb=$(ls "$tmp"/virt-ferry_*.deb 2> /dev/null | head -n 1)
[ -n "$deb" ] || tap_bail "no virt-ferry_*.deb was built"

lintian --fail-on error "$deb" > "$tmp/lintian.log" 2>&1
tap_ok "lintian finds no error" test $? = 0 || sed 's/^/# /' "$tmp/lintian.log"
grep '^E:' "$tmp/lintian.log" | sed 's/^/# /'

# ------------------------------------------------------------------ the files
dpkg -x "$deb" "$tmp/root" || tap_bail "dpkg -x failed"
unitdir=$(cd "$tmp/root" && ls -d lib/systemd/system usr/lib/systemd/system 2> /dev/null | head -n 1)
expected="usr/sbin/virt-ferryd usr/bin/virt-ferry usr/libexec/virt-ferry/virt-ferry-hook
 usr/libexec/virt-ferry/virt-ferry-hook-rewrite.so usr/libexec/virt-ferry/virt-ferry-admin-probe
 usr/share/dbus-1/system.d/org.virtferry.Ferry1.conf
 usr/share/dbus-1/system-services/org.virtferry.Ferry1.service
 usr/share/polkit-1/actions/org.virtferry.ferry1.policy
 $unitdir/virt-ferryd.service
 usr/share/bash-completion/completions/virt-ferry
 usr/share/man/man1/virt-ferry.1.gz usr/share/man/man8/virt-ferryd.8.gz usr/share/man/man8/virt-ferry-hook.8.gz
 usr/share/man/man5/virt-ferry.conf.5.gz usr/share/man/man5/org.virtferry.Ferry1.5.gz
 usr/share/doc/virt-ferry/copyright"
missing=
for f in $expected; do [ -e "$tmp/root/$f" ] || missing="$missing $f"; done
tap_is "the package holds every program, bus, polkit, unit, man and completion file" "${missing# }" ""
for object in qemu daemon network; do
    tap_is "the hook is linked into libvirt's $object.d" \
        "$(readlink "$tmp/root/etc/libvirt/hooks/$object.d/virt-ferry")" /usr/libexec/virt-ferry/virt-ferry-hook
done
tap_ok "the unit and the activation file start /usr/sbin/virt-ferryd" \
    grep -q '^ExecStart=/usr/sbin/virt-ferryd' "$tmp/root/$unitdir/virt-ferryd.service"
tap_ok "the activation file execs /usr/sbin/virt-ferryd" \
    grep -qx 'Exec=/usr/sbin/virt-ferryd' "$tmp/root/usr/share/dbus-1/system-services/org.virtferry.Ferry1.service"
tap_ok "the package's licence is LGPL-2.1+" grep -q '^License: LGPL-2.1+' "$tmp/root/usr/share/doc/virt-ferry/copyright"

# ------------------------------------------------------------------ install, ask, purge
# The package's files and links (its directories may be shared, /lib a link to /usr/lib).
files=$(dpkg -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./|/|')
busy=
dpkg-query -W -f='${Status}' virt-ferry 2> /dev/null | grep -q 'installed' && busy="virt-ferry is installed"
[ -e /var/lib/virt-ferry ] && busy="/var/lib/virt-ferry exists"
for f in $files; do
    [ -e "$f" ] || [ -L "$f" ] && busy="$f exists (a make install?)" && break
done
if [ -n "$busy" ]; then
    tap_diag "not installed on this machine: $busy"
    tap_done
    exit
fi

# The machine's lab buses read /usr/share/dbus-1: while the package is installed, no lab may
# run (VIRT_FERRY_PKG_LOCK: the lab lock, for a run that does not already hold it).
if [ -n "${VIRT_FERRY_PKG_LOCK:-}" ]; then
    exec 9>> "$VIRT_FERRY_PKG_LOCK" && flock 9 || tap_bail "cannot take $VIRT_FERRY_PKG_LOCK"
fi
installed=yes created_state=yes
dpkg -i "$deb" > "$tmp/install.log" 2>&1
rc=$?
tap_ok "dpkg -i installs it" test $rc = 0 || sed 's/^/# /' "$tmp/install.log"
missing=
for f in $files; do [ -e "$f" ] || [ -L "$f" ] || missing="$missing $f"; done
tap_is "every file of the package is in place" "${missing# }" ""
tap_ok "virt-ferryd.service is enabled (dh_installsystemd)" \
    test -L /etc/systemd/system/multi-user.target.wants/virt-ferryd.service

# A private system bus reading the installed policy and activation files, as the machine's
# dbus-daemon would. Activation execs /usr/sbin/virt-ferryd, which finds this bus by
# DBUS_SYSTEM_BUS_ADDRESS; its default configuration points at a libvirtd that this machine
# does not run, which virt-ferryd reports rather than dying of.
cat > "$tmp/bus.conf" << EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$tmp/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <servicedir>/usr/share/dbus-1/system-services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
</busconfig>
EOF
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/system_bus_socket
unset DBUS_SESSION_BUS_ADDRESS
dbus-daemon --nofork --config-file="$tmp/bus.conf" 2> "$tmp/bus.log" &
bus_pid=$!
wait_for 10 test -S "$tmp/system_bus_socket" || tap_bail "the private dbus-daemon did not start: $(cat "$tmp/bus.log")"
busctl --system call org.virtferry.Ferry1 /org/virtferry/Ferry1 org.freedesktop.DBus.Properties Get ss \
    org.virtferry.Ferry1.Manager Hostname > "$tmp/hostname" 2> "$tmp/call.err"
tap_ok "the installed virt-ferryd is activated and answers on the bus" grep -q '^v s ' "$tmp/hostname" ||
    sed 's/^/# /' "$tmp/call.err" "$tmp/bus.log"
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetConnectionUnixProcessID s org.virtferry.Ferry1 2> /dev/null | awk '{ print $2 }' > "$tmp/ferryd.pid"
installed_status() { /usr/bin/virt-ferry status > "$tmp/status.log" 2>&1; }
tap_ok "/usr/bin/virt-ferry status talks to it" installed_status
kill "$(cat "$tmp/ferryd.pid")" 2> /dev/null
kill "$bus_pid" && wait "$bus_pid" 2> /dev/null
bus_pid=

# virt-ferryd's state and an archive, as a host would have them when the package goes.
mkdir -p /var/lib/virt-ferry/archive/vm1-20260101T000000Z
echo archived > /var/lib/virt-ferry/archive/vm1-20260101T000000Z/manifest
echo map > /var/lib/virt-ferry/netmap

dpkg --purge virt-ferry > "$tmp/purge.log" 2>&1
rc=$?
installed=no
tap_ok "dpkg --purge removes it" test $rc = 0 || sed 's/^/# /' "$tmp/purge.log"
left=
for f in $files; do
    [ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
tap_is "no file of the package is left" "${left# }" ""
tap_ok "virt-ferryd.service is no longer enabled, nor its bus alias" \
    test ! -e /etc/systemd/system/multi-user.target.wants/virt-ferryd.service -a \
    ! -e /etc/systemd/system/dbus-org.virtferry.Ferry1.service
tap_ok "no directory of its own is left (/etc/virt-ferry, /usr/libexec/virt-ferry)" \
    test ! -e /etc/virt-ferry -a ! -e /usr/libexec/virt-ferry
tap_is "of /var/lib/virt-ferry, only the archive library is left" \
    "$(cd /var/lib/virt-ferry 2> /dev/null && find . | LC_ALL=C sort | tr '\n' ' ')" \
    ". ./archive ./archive/vm1-20260101T000000Z ./archive/vm1-20260101T000000Z/manifest "
tap_done
