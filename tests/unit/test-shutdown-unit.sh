#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferry-shutdown.service as installed (its .in with the configured paths) passes
# `systemd-analyze verify`, and its ordering makes its stop run before libvirt-guests' and
# virt-ferryd's, within a bounded time, running the CLI's shutdown evacuation.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
SRC=$(cd "$here/../.." && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$SRC}
IN="$SRC/tools/virt-ferry-shutdown.service.in"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The unit as make installs it, pointing at the virt-ferry just built (verify checks that
# ExecStop= is an executable).
sed -e "s|@bindir[@]|$BUILD/tools|g" "$IN" > "$tmp/virt-ferry-shutdown.service"
unit="$tmp/virt-ferry-shutdown.service"
key() { sed -n "s/^$1=//p" "$unit"; }
tap_skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; }

tap_ok "no placeholder is left" bash -c "! grep -q '@[a-z]*@' '$unit'"
tap_is "a oneshot that stays active, so that its stop runs at shutdown" "$(key Type) $(key RemainAfterExit)" "oneshot yes"
after=$(key After | tr '\n' ' ')
for u in libvirt-guests.service virt-ferryd.service libvirtd.service network-online.target; do
    tap_ok "ordered after $u (its stop runs before $u's)" grep -qw "$u" <<< "$after"
done
tap_ok "ExecStop runs the shutdown evacuation, bounded" \
    grep -qE "^ExecStop=$BUILD/tools/virt-ferry evacuate --shutdown --timeout [0-9]+$" "$unit"
timeout=$(sed -n 's/^ExecStop=.*--timeout \([0-9]*\)$/\1/p' "$unit")
stop=$(key TimeoutStopSec)
tap_ok "TimeoutStopSec ($stop) leaves room for --timeout ($timeout) and the cancel's grace" \
    test "$stop" -ge $((timeout + 30))
tap_is "installed for multi-user.target" "$(key WantedBy)" multi-user.target

if ! command -v systemd-analyze > /dev/null; then
    tap_skip "systemd-analyze verify" "systemd-analyze is not installed"
elif [ ! -x "$BUILD/tools/virt-ferry" ]; then
    tap_skip "systemd-analyze verify" "tools/virt-ferry is not built"
else
    out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$unit" 2>&1)
    rc=$?
    tap_diag "systemd-analyze verify: ${out:-no complaint}"
    # Units the machine does not have (no libvirt-guests here) are not the file's fault;
    # anything said about this unit itself is.
    tap_ok "systemd-analyze verify passes" bash -c "[ $rc -eq 0 ] || ! grep -q 'virt-ferry-shutdown' <<< \"\$1\"" _ "$out"
    tap_ok "and says nothing about this unit" bash -c "! grep -q 'virt-ferry-shutdown.service:' <<< \"\$1\"" _ "$out"
fi
tap_done
