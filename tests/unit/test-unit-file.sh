#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferryd.service: systemd reads every line of it (no unknown key, no bad value), and its
# sandboxing keeps `systemd-analyze security` below 5 (virt-ferryd(8), SYSTEMD AND D-BUS).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
SRC=$(cd "$here/../.." && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$SRC}

command -v systemd-analyze > /dev/null || tap_skip_all "systemd-analyze is not installed (package systemd)"
[ -x "$BUILD/dbus/virt-ferryd" ] || tap_skip_all "build dbus/virt-ferryd first"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/virt-ferry-unit.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
# ExecStart= must name a program that exists: the one just built.
sed "s|@sbindir@|$BUILD/dbus|g" "$SRC/dbus/virt-ferryd.service.in" > "$tmp/virt-ferryd.service"

out=$(systemd-analyze verify --man=no "$tmp/virt-ferryd.service" 2>&1)
rc=$?
tap_is "systemd-analyze verify exits 0" "$rc" 0
tap_is "and says nothing (an unknown key or a bad value is only a warning)" "$out" ""

out=$(systemd-analyze security --offline=yes "$tmp/virt-ferryd.service" 2>&1)
level=$(sed -n 's/.*Overall exposure level for virt-ferryd.service: \([0-9.]*\).*/\1/p' <<< "$out")
tap_diag "exposure level: ${level:-unknown}"
tap_ok "systemd-analyze security rates it below 5" awk -v l="$level" 'BEGIN { exit !(l != "" && l < 5.0) }'

tap_done
