#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The cluster reserve on three real lab hosts: alpha and gamma with
# [evacuation] reserve=1, beta without. Every host takes one vCPU of running guests
# (vcpu-ratio 1.1 / CPUs; memory-ratio high enough that memory, which all lab hosts share,
# never decides). Guests start on gamma: two fit on alpha and beta if gamma fails, the
# third does not: Overcommitted flips to true on gamma (from its own domain events) with a
# HostEvent `overcommitted` naming gamma, then on alpha (from the peers' refresh); beta,
# without a reserve, stays false; a guest stopped brings it back to false with
# `reserve-restored`.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

reserve_reply() { on "$1" gdbus call --system -d $BUS -o $ROOT -m $MANAGER.GetReserve 2>&1; }
# The reason GetReserve gives, once a check has been made.
checked() { ! grep -q "not checked yet" <<< "$(reserve_reply "$1")"; }
overcommitted_is() { [ "$(mprop "$1" Overcommitted)" = "$2" ]; }
events() { cat "$monitor_out" 2> /dev/null; }
saw_event() { grep -q "HostEvent ('$1'," <<< "$(events)"; }

"$LAB" down > /dev/null 2>&1
monitor_pid=
cleanup() {
    [ -n "$monitor_pid" ] && kill "$monitor_pid" 2> /dev/null
    "$LAB" down > /dev/null 2>&1
}
trap cleanup EXIT
"$LAB" up 3 >&2 || tap_bail "lab up 3 failed"

cpus=$(on gamma virsh nodeinfo | awk '/^CPU\(s\):/ { print $2 }')
ratio=$(awk -v c="$cpus" 'BEGIN { printf "%.6f", 1.1 / c }')
tap_diag "$cpus CPUs per host: vcpu-ratio=$ratio, one vCPU of guests per host"
for h in alpha beta gamma; do
    printf '[evacuation]\nvcpu-ratio=%s\nmemory-ratio=100\npeer-timeout=30\n' "$ratio" \
        >> "$LAB_DIR/hosts/$h/etc-virt-ferry/virt-ferry.conf"
done
for h in alpha gamma; do
    printf 'reserve=1\n' >> "$LAB_DIR/hosts/$h/etc-virt-ferry/virt-ferry.conf"
done
for h in alpha beta gamma; do
    "$LAB" ferryd $h restart >&2 || tap_bail "virt-ferryd on $h does not restart"
done

tap_is "ClusterReserve is reserve= (gamma)" "$(mprop gamma ClusterReserve)" "uint32 1"
tap_is "ClusterReserve is 0 without reserve= (beta)" "$(mprop beta ClusterReserve)" "uint32 0"
tap_ok "gamma checks the reserve at start" wait_for 60 checked gamma
tap_ok "alpha too" wait_for 60 checked alpha
tap_is "with no guests, gamma is not overcommitted" "$(mprop gamma Overcommitted)" false
tap_diag "GetReserve on gamma: $(reserve_reply gamma)"
tap_ok "its reason says every combination fits" grep -q "fit on the others (3 hosts, 3 combinations)" \
    <<< "$(reserve_reply gamma)"
tap_ok "beta, without reserve=, says none was asked for" grep -q "(uint32 0, false, 'no reserve asked for" \
    <<< "$(reserve_reply beta)"

# gamma's HostEvents from now on.
monitor_out=$LAB_DIR/reserve-monitor.txt
on gamma timeout 900 gdbus monitor --system -d $BUS -o $ROOT > "$monitor_out" 2>&1 &
monitor_pid=$!
sleep 2

for g in g1 g2; do
    "$LAB" guest gamma $g --mem 128 >&2 || tap_bail "guest $g"
done
# Both fit when gamma fails: one on alpha, one on beta. Wait for gamma's check after them.
sleep 6
tap_ok "two guests on gamma still fit on alpha and beta" wait_for 30 overcommitted_is gamma false
tap_ok "gamma's reason after them: every combination fits" grep -q "fit on the others" <<< "$(reserve_reply gamma)"
tap_ok "no overcommitted HostEvent so far" bash -c "! grep -q \"HostEvent ('overcommitted'\" '$monitor_out'"

"$LAB" guest gamma g3 --mem 128 >&2 || tap_bail "guest g3"
tap_ok "a third guest on gamma: Overcommitted turns true on gamma" wait_for 60 overcommitted_is gamma true
tap_ok "with a HostEvent overcommitted" wait_for 10 saw_event overcommitted
event=$(grep "HostEvent ('overcommitted'," "$monitor_out" | head -n 1)
tap_diag "event: $event"
tap_ok "its detail names gamma's failure, a guest and why" \
    grep -qE "if gamma fails: g[123] finds no place \(alpha: 0 vCPUs free, needs 1; beta: 0 vCPUs free, needs 1\)" <<< "$event"
cli gamma reserve
tap_diag "virt-ferry reserve: $CLI_OUT"
tap_ok "virt-ferry reserve prints ClusterReserve, Overcommitted and the reason" \
    bash -c 'grep -qx "ClusterReserve: 1" <<< "$1" && grep -qx "Overcommitted:  yes" <<< "$1" &&
             grep -q "^Reason: *if gamma fails: " <<< "$1"' _ "$CLI_OUT"
cli gamma --json reserve
tap_ok "and with --json" grep -q '"overcommitted": *true' <<< "$CLI_OUT"
# alpha learns of gamma's guests from the peers' refresh (every 30 s).
tap_ok "alpha finds the cluster overcommitted too (peers' refresh)" wait_for 90 overcommitted_is alpha true
tap_ok "and names the same hosts" grep -q "if gamma fails: " <<< "$(reserve_reply alpha)"
tap_is "beta, without reserve=, stays not overcommitted" "$(mprop beta Overcommitted)" false

on gamma virsh destroy g3 > /dev/null || tap_bail "cannot stop g3"
tap_ok "a guest stopped: Overcommitted false again on gamma" wait_for 60 overcommitted_is gamma false
tap_ok "with a HostEvent reserve-restored" wait_for 10 saw_event reserve-restored
tap_ok "alpha follows" wait_for 90 overcommitted_is alpha false
cli gamma reserve
tap_ok "virt-ferry reserve says no" grep -qx "Overcommitted:  no" <<< "$CLI_OUT"
tap_done
