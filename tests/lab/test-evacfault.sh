#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults in the middle of an evacuation (issue 13, "Bad input and faults") on three real lab
# hosts, guests dirtying memory:
# (1) virt-ferryd on alpha killed (-9) while EnterMaintenance migrate evacuates four guests two
#     at a time: once restarted, its log says what the interrupted evacuation did, its journal
#     is settled, every guest runs exactly once (on alpha or the target the journal named) and
#     without a reboot, and alpha is still in maintenance;
# (2) gamma's libvirtd killed (-9) while an evacuation moves a guest there: the moves to gamma
#     fail with a step saying why, those to beta succeed, every guest runs exactly once, and
#     the job fails by D4 naming the guests that stayed;
# (3) reboot_dependents: db moves off alpha by `move` (restarted), app on beta depends on it
#     and is rebooted (a step, a new boot), fix2 on beta depends on it under its own
#     maintenance mark and is not (a step saying so, the same boot);
# (4) virt-ferryd killed while a move copies a disk: the partial copy on the target goes.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

JOURNAL_DIR=$LAB_DIR/hosts/alpha/var-lib-libvirt/virt-ferry/journal
LOG=$LAB_DIR/hosts/alpha/var-log-libvirt/virt-ferryd.log
SAVED=$(mktemp)

state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
set_policy() { # HOST DOMAIN KEY TYPE VALUE...
    on "$1" busctl call $BUS $ROOT $MANAGER SetDomainPolicy 'sa{sv}' "$2" 1 "${@:3}" > /dev/null
}
evacuate() { # HOST OPTIONS (gdbus text) -> the job path, or the error
    on "$1" gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Evacuate "@as []" "$2" 2>&1 |
        sed -e "s/^(objectpath '\(.*\)',)$/\1/"
}
runs_on() { # DOMAIN -> the hosts it runs on, or none
    local h out=""
    for h in alpha beta gamma; do [ "$(state $h "$1")" = running ] && out+="${out:+ }$h"; done
    echo "${out:-none}"
}
kept_running() { # HOST DOMAIN BOOT: the same boot prints on
    local before
    before=$(alive_count "$1" "$2" "$3")
    wait_for 120 alive_since "$1" "$2" "$3" "$before"
}
answers() { on "$1" virsh -q hostname > /dev/null 2>&1; }

# The evacuation's journal (evacuate-journal.h): <uuid>.name, .target, .phase per domain.
evac_journal() { ls "$JOURNAL_DIR"/evacuate-*.journal 2> /dev/null | head -n 1; }
journal_gone() { [ -z "$(evac_journal)" ]; }
journal_field() { # JOURNAL DOMAIN FIELD
    local uuid
    uuid=$(sed -n "s/^\([0-9a-f-]*\)\.name=$2\$/\1/p" "$1" | head -n 1)
    [ -n "$uuid" ] && sed -n "s/^$uuid\.$3=//p" "$1" | head -n 1
}
moving_to() { # PEER|any: a move to it is under way
    local j u
    j=$(evac_journal)
    [ -n "$j" ] || return 1
    for u in $(sed -n 's/^\([0-9a-f-]*\)\.phase=moving$/\1/p' "$j" 2> /dev/null); do
        [ "$1" = any ] && return 0
        grep -qx "$u.target=$1" "$j" && return 0
    done
    return 1
}

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1; rm -f "$SAVED"' EXIT
"$LAB" up 3 >&2 || tap_bail "lab up 3 failed"
printf '[evacuation]\nbatch=2\n' >> "$LAB_DIR/hosts/alpha/etc-virt-ferry/virt-ferry.conf"
"$LAB" ferryd alpha restart >&2 || tap_bail "virt-ferryd on alpha does not restart"

# ------------------------------------------------------------------ (1) virt-ferryd killed
declare -A boot
for g in f1 f2 f3 f4; do
    "$LAB" guest alpha $g --mem 128 --dirty 2 >&2 || tap_bail "guest $g"
    boot[$g]=$(boot_id alpha $g)
done
log_before=$(wc -l < "$LOG")
job=$(call_job alpha EnterMaintenance 'sa{sv}' migrate 0)
tap_ok "(1) EnterMaintenance migrate returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_ok "(1) virt-ferryd on alpha is killed (-9) while a move of the evacuation runs" \
    kill_when alpha "$(ferryd_pid alpha)" 120 moving_to any
cp "$(evac_journal)" "$SAVED" 2> /dev/null
tap_ok "(1) the kill left the evacuation's journal with a move under way" grep -q '\.phase=moving$' "$SAVED"
tap_diag "journal at the kill: $(grep -E '\.(name|target|phase)=' "$SAVED" | sed 's/^[0-9a-f-]*\.//' | tr '\n' ' ')"
"$LAB" ferryd alpha start >&2 || tap_bail "virt-ferryd on alpha does not start again"
# While the recovery settles the move that was under way, no new job may act on that guest:
# a plan made meanwhile (it reads what is held when it is called) says it is busy.
moving_uuid=$(sed -n 's/^\([0-9a-f-]*\)\.phase=moving$/\1/p' "$SAVED" | head -n 1)
moving=$(sed -n "s/^$moving_uuid\.name=//p" "$SAVED")
moving_here=$(state alpha "$moving")
during=$(on alpha gdbus call --system -d $BUS -o $ROOT -m $MANAGER.PlanEvacuation "@as []" "@a{sv} {}" 2>&1)
if [ -n "$moving" ] && [ -n "$moving_here" ] && [ -n "$(evac_journal)" ]; then
    tap_ok "(1) while its recovery runs, a plan says $moving (moving at the kill) is busy" \
        grep -q "('$moving', '', '', 'busy', " <<< "$during"
else
    tap_skip "(1) while its recovery runs, a plan says the guest moving at the kill is busy" \
        "the recovery was over (or ${moving:-no guest} was not on alpha) before the plan was asked"
fi
tap_ok "(1) after the restart, the interrupted evacuation is settled: its journal is gone" wait_for 900 journal_gone
recovered=$(tail -n +$((log_before + 1)) "$LOG" | grep -a 'recovered evacuation')
tap_diag "log: $(tr '\n' '|' <<< "$recovered")"
tap_ok "(1) the log says what the interrupted evacuation did" \
    grep -q "recovered evacuation [0-9]*, interrupted by virt-ferryd's stop: 4 domains" <<< "$recovered"
tap_ok "(1) and how each move that was under way was settled" \
    grep -qE "recovered evacuation [0-9]+: f[1-4] was moving to (beta|gamma) when virt-ferryd stopped: it (stays on this host|is on the target)" <<< "$recovered"
tap_ok "(1) every guest of the journal has its line" \
    bash -c 'for g in f1 f2 f3 f4; do grep -q "recovered evacuation [0-9]*: $g " <<< "$1" || exit 1; done' _ "$recovered"
for g in f1 f2 f3 f4; do
    to=$(journal_field "$SAVED" $g target)
    on_hosts=$(runs_on $g)
    tap_ok "(1) $g runs exactly once, on alpha or its target ${to:-?} (runs on: $on_hosts)" \
        bash -c '[ "$1" = alpha ] || { [ -n "$2" ] && [ "$1" = "$2" ]; }' _ "$on_hosts" "$to"
    [[ "$on_hosts" == *" "* || "$on_hosts" == none ]] ||
        tap_ok "(1) $g kept running without a reboot" kept_running "$on_hosts" $g "${boot[$g]}"
done
tap_is "(1) alpha is still in maintenance" "$(mprop alpha Maintenance)" true

# ------------------------------------------------------------------ (2) a peer dies
leave=$(call_job alpha LeaveMaintenance 'a{sv}' 0)
tap_is "(2) alpha leaves maintenance" "$(job_wait alpha "$leave" 120)" succeeded
for g in p1 p2 p3 p4; do
    "$LAB" guest alpha $g --mem 128 --dirty 2 >&2 || tap_bail "guest $g"
done
set_policy alpha p1 pin as 1 beta
set_policy alpha p2 pin as 1 beta
# gamma's first, one move at a time: p3's move is under way when gamma's libvirtd dies.
for g in p3 p4; do
    set_policy alpha $g pin as 1 gamma
    set_policy alpha $g priority i 10
done
job=$(evacuate alpha "{'batch': <uint32 1>}")
tap_ok "(2) Evacuate returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_ok "(2) gamma's libvirtd is killed (-9) while a move to gamma runs" \
    kill_when gamma "$(host_pid gamma /run/libvirtd.pid)" 120 moving_to gamma
status=$(job_wait alpha "$job" 900)
message=$(jprop alpha "$job" Message)
steps=$(prop alpha "$job" $BUS.Job Steps)
tap_diag "evacuation: $status: $message"
tap_diag "steps: $steps"
on gamma libvirtd --daemon --listen --pid-file=/run/libvirtd.pid
tap_ok "(2) gamma's libvirtd starts again" wait_for 60 answers gamma
sleep 5 # its recovery of the incoming migration the kill cut short
tap_is "(2) the job fails by D4" "$status" failed
# f3 and f4, still on alpha after (1), go wherever placement puts them: every move to beta
# lands, every one to gamma fails.
to_beta=$(grep -o "('[a-z0-9]*', 'migration', 'beta', 'queued')" <<< "$steps" | wc -l)
tap_ok "(2) its message says the $to_beta moves to beta moved and names p3 and p4 as failed moves" \
    bash -c 'grep -q "^$2 domains moved" <<< "$1" && grep -q "p3 (move failed: " <<< "$1" && grep -q "p4 (move failed: " <<< "$1"' _ "$message" "$to_beta"
for g in p3 p4; do
    # GVariant text quotes an outcome holding ' with " instead.
    last=$(grep -oE "\('$g', '[a-z-]*', 'gamma', ('[^']*'|\"[^\"]*\")\)" <<< "$steps" | tail -n 1)
    tap_ok "(2) $g's move to gamma ends in a step saying why it failed ($last)" \
        bash -c '[ -n "$1" ] && ! grep -qE ", '"'"'(moved|queued|succeeded)'"'"'\)$" <<< "$1"' _ "$last"
    tap_is "(2) $g runs on alpha only" "$(runs_on $g)" alpha
done
for g in p1 p2; do
    tap_ok "(2) $g's move to beta succeeded" grep -q "('$g', 'migration', 'beta', 'moved')" <<< "$steps"
    tap_is "(2) $g runs on beta only" "$(runs_on $g)" beta
done
running_once() { # DOMAIN...
    local g
    for g in "$@"; do
        [ "$(runs_on $g)" = alpha ] || [ "$(runs_on $g)" = beta ] || [ "$(runs_on $g)" = gamma ] ||
            { tap_diag "$g runs on: $(runs_on $g)"; return 1; }
    done
}
tap_ok "(2) no guest is lost or doubled: each runs on exactly one host" running_once f1 f2 f3 f4 p1 p2 p3 p4

# ------------------------------------------------------------------ (3) reboot_dependents
last_boot() { # HOST DOMAIN: the boot id its console printed last
    grep -a "\(booted\|alive\) name=$2 boot=" "$(console "$1" "$2")" 2> /dev/null | tail -n 1 |
        sed -n 's/.*boot=\([0-9a-f]*\).*/\1/p'
}
booted_anew() { local b; b=$(last_boot "$1" "$2"); [ -n "$b" ] && [ "$b" != "$3" ]; } # HOST DOMAIN OLD
for g in $(on alpha virsh list --name); do set_policy alpha "$g" hold b true; done
"$LAB" guest alpha db --mem 96 >&2 || tap_bail "guest db"
for g in app fix2; do
    "$LAB" guest beta $g --mem 96 >&2 || tap_bail "guest $g"
    set_policy beta $g depends as 1 db
done
set_policy beta fix2 maintenance b true
app_boot=$(boot_id beta app)
fix2_boot=$(boot_id beta fix2)
job=$(on alpha gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Evacuate "['move']" "{'reboot_dependents': <true>}" 2>&1 |
    sed -e "s/^(objectpath '\(.*\)',)$/\1/")
tap_ok "(3) Evacuate by move with reboot_dependents returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
status=$(job_wait alpha "$job" 900)
steps=$(prop alpha "$job" $BUS.Job Steps)
tap_diag "reboot_dependents: $status: $(jprop alpha "$job" Message)"
tap_diag "steps: $steps"
tap_ok "(3) the evacuation ends without failure ($status)" grep -qxE 'succeeded|warning' <<< "$status"
tap_ok "(3) db moved by move" grep -q "('db', 'move', '[a-z]*', 'moved')" <<< "$steps"
tap_is "(3) db runs on one peer" "$(runs_on db | grep -cxE 'beta|gamma')" 1
tap_ok "(3) app, which depends on db, has its reboot step" \
    grep -q "('app', 'reboot', 'beta', 'rebooted: depends on db" <<< "$steps"
tap_ok "(3) and booted again on beta" wait_for 120 booted_anew beta app "$app_boot"
tap_ok "(3) fix2, under its own maintenance mark, has a step saying it was skipped" \
    grep -q "('fix2', 'reboot', 'beta', 'skipped: depends on db, but is under maintenance')" <<< "$steps"
tap_ok "(3) and kept running without a reboot" kept_running beta fix2 "$fix2_boot"

# ------------------------------------------------------------------ (4) a copy cut short
# virt-ferryd killed while a move streams a 768 MiB disk to its target: once restarted, the
# guest runs exactly once, and when it stays on alpha the partial copy on the target is gone.
"$LAB" guest alpha cut --mem 96 --disk 1024 >&2 || tap_bail "guest cut"
on alpha virsh -q destroy cut > /dev/null
on alpha qemu-io -f qcow2 -c "write -P 0x5a 0 768M" /var/lib/libvirt/images/cut.qcow2 > /dev/null ||
    tap_bail "cannot fill cut's disk"
on alpha virsh -q start cut > /dev/null
copying() { local j; j=$(evac_journal); [ -n "$j" ] && grep -q '\.created=' "$j"; }
log_before=$(wc -l < "$LOG")
job=$(on alpha gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Evacuate "['move']" "{}" 2>&1 |
    sed -e "s/^(objectpath '\(.*\)',)$/\1/")
tap_ok "(4) Evacuate by move returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_ok "(4) virt-ferryd on alpha is killed (-9) while the move copies cut's disk" \
    kill_when alpha "$(ferryd_pid alpha)" 300 copying
cp "$(evac_journal)" "$SAVED" 2> /dev/null
to=$(journal_field "$SAVED" cut target)
tap_diag "journal at the kill: $(grep -E '\.(name|target|phase|created)=' "$SAVED" | sed 's/^[0-9a-f-]*\.//' | tr '\n' ' ')"
"$LAB" ferryd alpha start >&2 || tap_bail "virt-ferryd on alpha does not start again"
tap_ok "(4) after the restart, its journal is settled" wait_for 600 journal_gone
tap_diag "log: $(tail -n +$((log_before + 1)) "$LOG" | grep -a 'recovered evacuation' | tr '\n' '|')"
where=$(runs_on cut)
tap_ok "(4) cut runs exactly once, on alpha or ${to:-its target} ($where)" \
    bash -c '[ "$1" = alpha ] || { [ -n "$2" ] && [ "$1" = "$2" ]; }' _ "$where" "$to"
if [ "$where" = alpha ] && [ -n "$to" ]; then
    tap_ok "(4) the partial copy of cut's disk on $to is removed" on "$to" test ! -e /var/lib/libvirt/images/cut.qcow2
    tap_ok "(4) the log says so" grep -qa "cut was moving to $to when virt-ferryd stopped: it stays on this host (.*removed 1 partial disk copies on $to" \
        <(tail -n +$((log_before + 1)) "$LOG")
else
    tap_skip "(4) the partial copy of cut's disk on the target is removed" "the move had finished (cut runs on $where)"
    tap_skip "(4) the log says so" "the move had finished"
fi

tap_done
