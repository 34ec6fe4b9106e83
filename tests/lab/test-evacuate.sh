#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Host evacuation on three real lab hosts: alpha holds eight small guests (one on hold, an
# ne pair, an eq pair, one pinned to gamma with priority, one with more vCPUs than any peer
# takes, one stopped, moved only with `all`);
# PlanEvacuation's verdicts and reasons, bad options (InvalidArgument, nothing moved),
# Evacuate: a second one while it runs is Busy, where each guest ended, that each kept
# running without a reboot (its boot id prints on), and the job's status by D4.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
defined_on() { on "$1" virsh list --all --name | grep -cx "$2"; }
set_policy() { # HOST DOMAIN KEY TYPE VALUE...
    on "$1" busctl call $BUS $ROOT $MANAGER SetDomainPolicy 'sa{sv}' "$2" 1 "${@:3}" > /dev/null
}
plan() { # HOST OPTIONS (gdbus text) -> the reply, or the error
    on "$1" gdbus call --system -d $BUS -o $ROOT -m $MANAGER.PlanEvacuation "@as []" "$2" 2>&1
}
evacuate() { # HOST OPTIONS (gdbus text) -> the job path, or the error
    on "$1" gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Evacuate "@as []" "$2" 2>&1 |
        sed -e "s/^(objectpath '\(.*\)',)$/\1/"
}
# One plan row's field: 2 method, 3 target, 4 verdict, 5 reason.
row() { # PLAN DOMAIN FIELD
    grep -o "('$2', [^)]*)" <<< "$1" | head -n 1 |
        sed -e "s/^('\([^']*\)', '\([^']*\)', '\([^']*\)', '\([^']*\)', [\"']\(.*\)[\"'])$/\1\t\2\t\3\t\4\t\5/" |
        cut -f "$3"
}
error_name() { sed -n 's/.*GDBus\.Error:\([A-Za-z0-9.]*\):.*/\1/p' | head -n 1; }
where() { # DOMAIN -> the host it runs on
    local h
    for h in alpha beta gamma; do
        [ "$(state $h "$1")" = running ] && { echo $h; return; }
    done
    echo nowhere
}
kept_running() { # HOST DOMAIN BOOT: the same boot prints on after the move
    local before
    before=$(alive_count "$1" "$2" "$3")
    wait_for 120 bash -c "[ \$(grep -ac 'alive name=$2 boot=$3' '$(console "$1" "$2")') -gt $before ]" && return 0
    tap_diag "console of $2 on $1: $(tail -n 3 "$(console "$1" "$2")" 2> /dev/null | tr '\n' '|')"
    return 1
}

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 3 >&2 || tap_bail "lab up 3 failed"

# Peers take 3 vCPUs per CPU: room for the ne and eq pairs beside their own guests, and with
# this machine's CPUs a guest of one vCPU more than that fits nowhere.
cpus=$(on beta virsh nodeinfo | awk '/^CPU\(s\):/ { print $2 }')
big_vcpus=$(awk -v c="$cpus" 'BEGIN { print int(c * 3) + 1 }')
printf '[evacuation]\nvcpu-ratio=3\npeer-timeout=60\n' >> "$LAB_DIR/hosts/alpha/etc-virt-ferry/virt-ferry.conf"
"$LAB" ferryd alpha restart >&2 || tap_bail "virt-ferryd on alpha does not restart"

for g in hold1 ne1 ne2 pin1 big; do
    "$LAB" guest alpha $g --mem 128 --dirty 2 >&2 || tap_bail "guest $g"
done
# The eq pair and the stopped one dirty nothing: two cores run every guest of the lab.
for g in eq1 eq2 st1; do
    "$LAB" guest alpha $g --mem 128 >&2 || tap_bail "guest $g"
done
on alpha virsh -q destroy st1 > /dev/null || tap_bail "st1 does not stop"
for g in c1 c2; do
    "$LAB" guest beta $g --mem 128 --dirty 2 >&2 || tap_bail "guest $g"
done
on alpha virsh setvcpus big "$big_vcpus" --config --maximum > /dev/null &&
    on alpha virsh setvcpus big "$big_vcpus" --config > /dev/null &&
    on alpha virsh destroy big > /dev/null && on alpha virsh start big > /dev/null || tap_bail "big: $big_vcpus vCPUs"
set_policy alpha hold1 hold b true
set_policy alpha ne1 ne s web
set_policy alpha ne2 ne s web
set_policy alpha pin1 pin as 1 gamma
set_policy alpha pin1 priority i 10
set_policy alpha eq1 eq s db
set_policy alpha eq2 eq s db
declare -A boot
for g in hold1 ne1 ne2 pin1 eq1 eq2; do boot[$g]=$(boot_id alpha $g); done

# ------------------------------------------------------------------ bad input: nothing moves
tap_is "PlanEvacuation with batch 0 is InvalidArgument" \
    "$(plan alpha "{'batch': <uint32 0>}" | error_name)" org.virtferry.Ferry1.Error.InvalidArgument
tap_is "an unknown option is InvalidArgument" \
    "$(plan alpha "{'bogus': <true>}" | error_name)" org.virtferry.Ferry1.Error.InvalidArgument
tap_is "Evacuate's per_target is no PlanEvacuation option: InvalidArgument" \
    "$(plan alpha "{'per_target': <uint32 1>}" | error_name)" org.virtferry.Ferry1.Error.InvalidArgument
tap_is "an option of the wrong type is InvalidArgument" \
    "$(evacuate alpha "{'batch': <int32 2>}" | error_name)" org.virtferry.Ferry1.Error.InvalidArgument
tap_is "excluding a host that is no peer is InvalidArgument" \
    "$(plan alpha "{'exclude': <['nowhere']>}" | error_name)" org.virtferry.Ferry1.Error.InvalidArgument
out=$(on alpha gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Evacuate "['teleport']" "@a{sv} {}" 2>&1)
tap_is "Evacuate with an unknown method is InvalidArgument" "$(error_name <<< "$out")" \
    org.virtferry.Ferry1.Error.InvalidArgument
tap_ok "and the message names it" grep -q teleport <<< "$out"
tap_is "Evacuate with batch 0 is InvalidArgument" "$(evacuate alpha "{'batch': <uint32 0>}" | error_name)" \
    org.virtferry.Ferry1.Error.InvalidArgument
tap_is "nothing moved: every guest runs on alpha" "$(for g in hold1 ne1 ne2 pin1 big eq1 eq2; do where $g; done | sort -u)" alpha

# ------------------------------------------------------------------ the plan
p=$(plan alpha "@a{sv} {}")
tap_diag "plan: $p"
tap_is "hold1: hold" "$(row "$p" hold1 4)" hold
tap_is "pin1: move to gamma" "$(row "$p" pin1 4) $(row "$p" pin1 3)" "move gamma"
tap_is "pin1 by migration" "$(row "$p" pin1 2)" migration
tap_is "ne1: move" "$(row "$p" ne1 4)" move
tap_is "ne2: move" "$(row "$p" ne2 4)" move
tap_ok "ne1 and ne2 go to different peers" test "$(row "$p" ne1 3)" != "$(row "$p" ne2 3)"
tap_is "eq1: move" "$(row "$p" eq1 4)" move
tap_is "eq2: move" "$(row "$p" eq2 4)" move
tap_ok "eq1 and eq2 go to one peer" test "$(row "$p" eq1 3)" = "$(row "$p" eq2 3)"
tap_is "st1, stopped, stays without all" "$(row "$p" st1 4)" stopped
pa=$(plan alpha "{'all': <true>}")
tap_is "with all, st1 moves" "$(row "$pa" st1 4)" move
tap_is "by move (defined there, not started)" "$(row "$pa" st1 2)" move
tap_is "big: no-target" "$(row "$p" big 4)" no-target
tap_ok "its reason names each peer and the vCPUs" \
    bash -c "grep -q 'beta: .*vCPUs free, needs $big_vcpus' <<< \"\$1\" && grep -q 'gamma: ' <<< \"\$1\"" _ "$(row "$p" big 5)"
tap_ok "pin1 (priority 10) comes first" test "$(grep -o "('[a-z0-9]*'" <<< "$p" | head -n 1)" = "('pin1'"
tap_is "the same inventory gives the same plan" "$(plan alpha "@a{sv} {}")" "$p"
tap_is "excluding gamma leaves pin1 without a target" \
    "$(row "$(plan alpha "{'exclude': <['gamma']>}")" pin1 4)" no-target
cli=$(on alpha virt-ferry plan 2>&1)
tap_ok "virt-ferry plan shows the table" grep -qE '^big +- +- +no-target' <<< "$cli"
ne1_to=$(row "$p" ne1 3)
ne2_to=$(row "$p" ne2 3)
eq_to=$(row "$p" eq1 3)
st1_to=$(row "$pa" st1 3)

# ------------------------------------------------------------------ Evacuate
job=$(evacuate alpha "{'batch': <uint32 3>, 'all': <true>}")
tap_ok "Evacuate returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_is "a second Evacuate while it runs is Busy" "$(evacuate alpha "@a{sv} {}" | error_name)" \
    org.virtferry.Ferry1.Error.Busy
status=$(job_wait alpha "$job" 900)
message=$(jprop alpha "$job" Message)
tap_diag "evacuation: $status: $message"
tap_diag "steps: $(prop alpha "$job" $BUS.Job Steps)"
tap_is "the job fails by D4: big should have moved and did not" "$status" failed
tap_ok "its message names big and why" grep -q "big (no-target: .*vCPUs" <<< "$message"
tap_ok "and not the guest on hold" bash -c "! grep -q hold1 <<< \"\$1\"" _ "$message"
tap_ok "and says 6 domains moved" grep -q "^6 domains moved" <<< "$message"
tap_is "hold1 stayed on alpha" "$(where hold1)" alpha
tap_is "big stayed on alpha" "$(where big)" alpha
tap_is "pin1 runs on gamma" "$(where pin1)" gamma
tap_is "ne1 runs where the plan said" "$(where ne1)" "$ne1_to"
tap_is "ne2 runs where the plan said" "$(where ne2)" "$ne2_to"
tap_is "eq1 runs where the plan said" "$(where eq1)" "$eq_to"
tap_is "eq2 runs beside it" "$(where eq2)" "$eq_to"
tap_is "st1 is defined on $st1_to, not started" "$(state "$st1_to" st1)" "shut off"
tap_is "and no longer on alpha" "$(defined_on alpha st1)" 0
tap_is "pin1 is no longer defined on alpha" "$(defined_on alpha pin1)" 0
for g in ne1 ne2 pin1 eq1 eq2; do
    tap_ok "$g kept running without a reboot (its boot id prints on)" kept_running "$(where $g)" $g "${boot[$g]}"
done
tap_ok "hold1 never stopped either" kept_running alpha hold1 "${boot[hold1]}"
steps=$(prop alpha "$job" $BUS.Job Steps)
tap_ok "each moved domain has a step with its outcome" \
    bash -c "for g in ne1 ne2 pin1 eq1 eq2; do grep -q \"('\$g', 'migration', '[a-z]*', 'moved')\" <<< \"\$1\" || exit 1; done" _ "$steps"
tap_ok "Progress ended at 1" awk -v p="$(prop alpha "$job" $BUS.Job Progress | sed 's/^double //')" 'BEGIN { exit !(p >= 0.999) }'

# Over: the evacuation no longer holds the host or its domains.
tap_ok "a new plan after it is answered" grep -q "'big'" <<< "$(plan alpha "@a{sv} {}")"

# ------------------------------------------------------------------ Cancel
# beta, one move at a time, cancelled at once: queued domains stay, the running move is
# cancelled or done; every guest runs exactly once.
running_once() { # DOMAIN...
    local g n
    for g in "$@"; do
        n=0
        for h in alpha beta gamma; do [ "$(state $h $g)" = running ] && n=$((n + 1)); done
        [ $n = 1 ] || { tap_diag "$g runs on $n hosts"; return 1; }
    done
}
job=$(evacuate beta "{'batch': <uint32 1>}")
on beta busctl call $BUS "$job" $BUS.Job Cancel > /dev/null
status=$(job_wait beta "$job" 600)
message=$(jprop beta "$job" Message)
tap_diag "cancelled evacuation: $status: $message"
tap_is "the cancelled evacuation ends cancelled" "$status" cancelled
tap_ok "its message counts what moved, says it was cancelled and what stays" \
    grep -qE '^[0-9]+ domains? moved; cancelled; [0-9]+ stay here: ' <<< "$message"
tap_ok "a queued domain was not started" grep -q "cancelled: not started" <<< "$(prop beta "$job" $BUS.Job Steps)"
tap_ok "every guest runs on exactly one host" running_once hold1 ne1 ne2 pin1 big eq1 eq2 c1 c2

tap_done
