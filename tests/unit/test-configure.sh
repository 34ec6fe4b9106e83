#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# configure's install-path summary under --prefix=/usr/local: the files that dbus-daemon,
# polkitd, systemd, libvirtd and bash-completion read go where those read them (their
# pkg-config files), not under the prefix; a --with-...-dir outside what a daemon reads gets
# a warning naming it. configure runs in a copy of the tree (one configured in place refuses
# a second, out-of-tree configure).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
SRC=$(cd "$here/../.." && pwd)

[ -x "$SRC/configure" ] && [ -f "$SRC/Makefile.in" ] || tap_skip_all "run ./autogen.sh first"
command -v pkg-config > /dev/null || tap_skip_all "pkg-config is not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/virt-ferry-configure.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
# The tree as a release has it: sources, configure and what it reads, no build.
(cd "$SRC" && find . \( -name .git -o -name autom4te.cache -o -name '_build*' -o -name debian \) -prune -o \
    -type f \( -name configure -o -name '*.in' -o -name '*.ac' -o -path './build-aux/*' -o -name guest-init.c \) -print |
    tar -cf - -T -) | tar -xf - -C "$tmp" || tap_bail "copying the tree failed"
rm -f "$tmp/config.status" "$tmp/config.log"

lacks() { ! grep -q "$@"; }
pc() { pkg-config --variable="$2" "$1" 2> /dev/null; }
summary_dir() { # OUTPUT LABEL: the directory the summary gives for LABEL
    sed -n "s/^  $2: *//p" "$1" | head -n 1
}

(cd "$tmp" && ./configure --prefix=/usr/local --disable-lab-tests) > "$tmp/out.1" 2>&1
tap_ok "configure --prefix=/usr/local succeeds" test $? = 0 || tail -n 20 "$tmp/out.1" | sed 's/^/# /'
tap_ok "it ends with a summary of where everything goes" grep -q "will be installed as follows" "$tmp/out.1"
tap_is "programs follow the prefix" "$(summary_dir "$tmp/out.1" programs)" "/usr/local/sbin and /usr/local/bin"
want=$(pc dbus-1 datadir); want=${want:-/usr/share}/dbus-1/system.d
tap_is "the bus policy goes where dbus-daemon reads it" "$(summary_dir "$tmp/out.1" "D-Bus system policy")" "$want"
want=$(pc dbus-1 system_bus_services_dir)
tap_is "the activation file goes where dbus-daemon reads it" \
    "$(summary_dir "$tmp/out.1" "D-Bus activation")" "${want:-/usr/share/dbus-1/system-services}"
want=$(pc polkit-gobject-1 actiondir)
tap_is "the polkit actions go where polkitd reads them" \
    "$(summary_dir "$tmp/out.1" "polkit actions")" "${want:-/usr/share/polkit-1/actions}"
want=$(pc systemd systemdsystemunitdir)
tap_is "the unit goes where systemd reads it" \
    "$(summary_dir "$tmp/out.1" "systemd system units")" "${want:-/lib/systemd/system}"
tap_is "the hook goes into libvirt's hook directories" \
    "$(summary_dir "$tmp/out.1" "libvirt hooks")" "/etc/libvirt/hooks/{qemu,daemon,network}.d"
want=$(pc bash-completion completionsdir)
tap_is "the completion goes where bash-completion looks" \
    "$(summary_dir "$tmp/out.1" "bash completion")" "${want:-/usr/share/bash-completion/completions}"
tap_ok "no warning when every file goes where its daemon looks" lacks "WARNING" "$tmp/out.1"

(cd "$tmp" && ./configure --prefix=/usr/local --disable-lab-tests \
    --with-dbus-policy-dir='${datadir}/dbus-1/system.d' --with-libvirt-hooks-dir=/usr/local/etc/libvirt/hooks) \
    > "$tmp/out.2" 2>&1
tap_ok "configure with system dirs under the prefix succeeds" test $? = 0
tap_is "the summary expands \${datadir}" "$(summary_dir "$tmp/out.2" "D-Bus system policy")" \
    /usr/local/share/dbus-1/system.d
tap_ok "it warns that dbus-daemon does not look there" \
    grep -q "D-Bus system policy go to /usr/local/share/dbus-1/system.d, where dbus-daemon does not look" "$tmp/out.2"
tap_ok "and that libvirtd does not look there" \
    grep -q "libvirt hooks go to /usr/local/etc/libvirt/hooks/.*, where libvirtd does not look" "$tmp/out.2"
tap_ok "no warning for the files left to their defaults" lacks "polkit actions go to" "$tmp/out.2"
tap_done
