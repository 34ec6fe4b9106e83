#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The shutdown evacuation on two real lab hosts: the command that
# virt-ferry-shutdown.service runs at shutdown, `virt-ferry evacuate --shutdown --timeout S`
# (the lab has no systemd: the unit file itself is checked by tests/unit/test-shutdown-unit.sh).
# It migrates alpha's guests to beta within the bound, each without a reboot; with its only
# peer unreachable it returns in bounded time, the guests still running on alpha for
# libvirt-guests, one stderr line each; with a deadline shorter than a move (g3 dirties its
# memory), the move is cancelled at the deadline and the guest runs on, on alpha.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
CONF="$LAB_DIR/hosts/alpha/etc-virt-ferry/virt-ferry.conf"
shutdown_evacuation() { # TIMEOUT: sets OUT, RC, ELAPSED (s)
    local t0
    t0=$(now)
    OUT=$(on alpha virt-ferry evacuate --shutdown --timeout "$1" 2>&1)
    RC=$?
    ELAPSED=$(since "$t0")
    tap_diag "virt-ferry evacuate --shutdown --timeout $1: exit $RC after $ELAPSED s" "$OUT"
}
within() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"
# No disks of their own: migration needs no shared storage for them.
"$LAB" guest alpha g1 --mem 160 >&2 || tap_bail "guest g1"
"$LAB" guest alpha g2 --mem 160 >&2 || tap_bail "guest g2"
boot_g1=$(boot_id alpha g1)
boot_g2=$(boot_id alpha g2)

# ------------------------------------------------------------------ every guest moves, in time
shutdown_evacuation 120
tap_is "the command succeeds" "$RC" 0
tap_ok "within its bound (120 s)" within "$ELAPSED" 120
tap_is "g1 runs on beta" "$(state beta g1)" running
tap_is "g2 runs on beta" "$(state beta g2)" running
tap_is "nothing runs on alpha" "$(on alpha virsh list --name | grep -c .)" 0
tap_ok "it says none is left for libvirt-guests" grep -q "^virt-ferry: no domain runs on this host any more$" <<< "$OUT"
tap_ok "g1 kept running (its boot id prints on, on beta)" \
    wait_for 60 bash -c "grep -ac 'alive name=g1 boot=$boot_g1' '$(console beta g1)' | grep -qv '^0$'"
tap_ok "g2 kept running" \
    wait_for 60 bash -c "grep -ac 'alive name=g2 boot=$boot_g2' '$(console beta g2)' | grep -qv '^0$'"

# Back to alpha for the next cases.
for g in g1 g2; do
    on beta virsh migrate --live --p2p --persistent --undefinesource $g qemu+tcp://alpha/system >&2 ||
        tap_bail "cannot migrate $g back to alpha"
done

# ------------------------------------------------------------------ the deadline cancels a move
# g3 dirties its memory fast: its migration (three at once) takes longer than 1 s, so the
# deadline cancels it (g1 and g2, mostly untouched memory, may make it in time).
"$LAB" guest alpha g3 --mem 256 --dirty 64 >&2 || tap_bail "guest g3"
shutdown_evacuation 1
tap_ok "with a 1 s deadline it fails" test "$RC" -ne 0
tap_ok "it cancelled the job at the deadline" grep -q "1 s passed: cancelling job" <<< "$OUT"
tap_ok "and returned in bounded time (deadline + grace + planning)" within "$ELAPSED" 60
tap_is "g3, cancelled, still runs on alpha" "$(state alpha g3)" running
tap_ok "and is not on beta" bash -c "! '$LAB' exec beta virsh dominfo g3 > /dev/null 2>&1"
tap_ok "g3 is named for libvirt-guests" grep -q "^virt-ferry: g3 stays on this host, for libvirt-guests: " <<< "$OUT"
for g in g1 g2; do
    if [ "$(state alpha $g)" = running ]; then
        tap_ok "$g, still on alpha, is named for libvirt-guests" \
            grep -q "^virt-ferry: $g stays on this host, for libvirt-guests: " <<< "$OUT"
    else
        tap_is "$g moved before the deadline: it runs on beta" "$(state beta $g)" running
        on beta virsh migrate --live --p2p --persistent --undefinesource $g qemu+tcp://alpha/system >&2 ||
            tap_bail "cannot migrate $g back to alpha"
    fi
done
tap_is "every guest runs exactly once" \
    "$(( $(on alpha virsh list --name | grep -c '^g[12]$') + $(on beta virsh list --name | grep -c '^g[12]$') ))" 2

# ------------------------------------------------------------------ no peer answers
# alpha's only peer is an address nobody answers at (TEST-NET-1), with a short plan deadline.
sed -i -e 's|^uris=.*|uris=qemu+tcp://198.18.255.254/system;|' "$CONF"
printf '[evacuation]\npeer-timeout=5\n' >> "$CONF"
"$LAB" ferryd alpha restart >&2 || tap_bail "virt-ferryd on alpha does not restart"
shutdown_evacuation 30
tap_ok "with its peer unreachable it fails" test "$RC" -ne 0
tap_ok "in bounded time (the plan's 5 s, the 30 s bound and its grace)" within "$ELAPSED" 70
tap_is "g1 still runs on alpha" "$(state alpha g1)" running
tap_is "g2 still runs on alpha" "$(state alpha g2)" running
tap_ok "it says why: the peer" grep -q "198.18.255.254" <<< "$OUT"
tap_ok "g1 is named for libvirt-guests" grep -q "^virt-ferry: g1 stays on this host, for libvirt-guests: " <<< "$OUT"
tap_ok "g2 too" grep -q "^virt-ferry: g2 stays on this host, for libvirt-guests: " <<< "$OUT"

tap_done
