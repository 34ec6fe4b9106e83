#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Maintenance mode on two real lab hosts, mode save: entering it managed-saves
# alpha's guest, the Maintenance property is true at once and survives a virt-ferryd
# restart, peers see it through alpha's libvirt, a plain virsh migrate from beta to alpha
# is refused by the hook with its one line (the guest keeps running on beta, once), and
# leaving with return starts the saved guest again from its memory state (same boot id).
# Mode migrate: the guests are evacuated to beta by the evacuation engine, and beta's own
# evacuation plan then has no target on alpha; leaving with return brings both back live
# (s1's own disk copied back), each without a reboot; leaving without return leaves them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
maintenance() { mprop "$1" Maintenance | sed 's/^<\?\(true\|false\)>\?$/\1/'; }
steps() { prop "$1" "$2" $BUS.Job Steps; }
# The D-Bus error's name, or the reply (gdbus prints GDBus.Error:NAME: message).
gcall() { # HOST METHOD ARGS...
    local h=$1 m=$2; shift 2
    on "$h" gdbus call --system -d $BUS -o $ROOT -m "$MANAGER.$m" -- "$@" 2>&1
}
SECRET=76697274-6665-7272-796d-61696e74656e

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"

"$LAB" guest alpha s1 --mem 192 --disk 64 >&2 || tap_bail "guest s1"
# No disk of its own (as test-lab.sh's mig1): a plain virsh migrate needs no shared storage.
"$LAB" guest beta b1 --mem 192 >&2 || tap_bail "guest b1"
boot_s1=$(boot_id alpha s1)
boot_b1=$(boot_id beta b1)

tap_is "alpha starts out of maintenance" "$(maintenance alpha)" false
bad=$(gcall alpha EnterMaintenance sideways '@a{sv} {}')
tap_ok "an unknown mode is InvalidArgument" grep -q "org.virtferry.Ferry1.Error.InvalidArgument" <<< "$bad"
tap_is "and leaves alpha out of maintenance" "$(maintenance alpha)" false

# ------------------------------------------------------------------ enter, mode save
job=$(call_job alpha EnterMaintenance 'sa{sv}' save 0)
tap_ok "EnterMaintenance save returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_is "Maintenance is true from the call on" "$(maintenance alpha)" true
again=$(gcall alpha EnterMaintenance save '@a{sv} {}')
tap_ok "entering again is Busy" grep -q "org.virtferry.Ferry1.Error.Busy" <<< "$again"
migrate=$(gcall alpha EnterMaintenance migrate '@a{sv} {}')
tap_ok "so is entering in another mode" grep -q "org.virtferry.Ferry1.Error.Busy" <<< "$migrate"
tap_is "the save job succeeds" "$(job_wait alpha "$job" 120)" succeeded
tap_diag "steps: $(steps alpha "$job")"
tap_is "s1 is shut off" "$(state alpha s1)" "shut off"
tap_ok "with a managed save image" bash -c "'$LAB' exec alpha virsh dominfo s1 | grep -q '^Managed save: *yes'"
tap_ok "its Step says saved" grep -qF "('s1', 'save'" <<< "$(steps alpha "$job")"
tap_ok "peers see it through alpha's libvirt (the published secret)" \
    wait_for 10 bash -c "'$LAB' exec beta virsh -c qemu+tcp://alpha/system secret-dumpxml $SECRET 2> /dev/null | grep -q 'mode=save'"

"$LAB" ferryd alpha restart >&2
tap_is "Maintenance persists across a virt-ferryd restart" "$(maintenance alpha)" true

# ------------------------------------------------------------------ the hook refuses incoming
before=$(alive_count beta b1 "$boot_b1")
out=$(on beta virsh migrate --live --p2p --persistent --undefinesource b1 qemu+tcp://alpha/system 2>&1)
tap_ok "a plain virsh migrate beta -> alpha is refused" test $? -ne 0
tap_diag "virsh said: $out"
tap_ok "with the hook's line naming the host and the way out" \
    grep -q "is in maintenance (since .*): virt-ferry maintenance leave" <<< "$out"
tap_is "b1 still runs on beta" "$(state beta b1)" running
tap_ok "and is not defined on alpha" bash -c "! '$LAB' exec alpha virsh dominfo b1 > /dev/null 2>&1"
tap_ok "b1 keeps running on beta without a reboot" wait_for 10 alive_since beta b1 "$boot_b1" "$before"

# ------------------------------------------------------------------ leave with return
job=$(call_job alpha LeaveMaintenance 'a{sv}' 1 return b true)
tap_ok "LeaveMaintenance return returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_is "Maintenance is false from the call on" "$(maintenance alpha)" false
tap_is "the leave job succeeds" "$(job_wait alpha "$job" 120)" succeeded
tap_diag "steps: $(steps alpha "$job")"
tap_is "s1 runs again" "$(state alpha s1)" running
tap_ok "from its saved state: the same boot id prints on" \
    wait_for 30 bash -c "grep -a 'alive name=s1' '$(console alpha s1)' | tail -n 1 | grep -q 'boot=$boot_s1'"
tap_ok "the published secret is withdrawn" \
    wait_for 10 bash -c "! '$LAB' exec beta virsh -c qemu+tcp://alpha/system secret-dumpxml $SECRET > /dev/null 2>&1"
tap_ok "a migrate beta -> alpha is accepted again" \
    on beta virsh migrate --live --p2p --persistent --undefinesource b1 qemu+tcp://alpha/system
tap_is "b1 runs on alpha" "$(state alpha b1)" running
not_in=$(gcall alpha LeaveMaintenance '@a{sv} {}')
tap_ok "leaving when not in maintenance is InvalidArgument" grep -q "org.virtferry.Ferry1.Error.InvalidArgument" <<< "$not_in"

# ------------------------------------------------------------------ enter, mode migrate
# s1's disk is alpha's own: the evacuation may copy it.
printf '[evacuation]\nmethods=migration;storage-migration\n' >> "$LAB_DIR/hosts/alpha/etc-virt-ferry/virt-ferry.conf"
"$LAB" ferryd alpha restart >&2 || tap_bail "virt-ferryd on alpha does not restart"
boot_b1=$(boot_id alpha b1)
before_s1=$(alive_count alpha s1 "$boot_s1")
job=$(call_job alpha EnterMaintenance 'sa{sv}' migrate 0)
tap_ok "EnterMaintenance migrate returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_is "Maintenance is true from the call on" "$(maintenance alpha)" true
tap_is "the job is an evacuation" "$(jprop alpha "$job" Kind)" evacuate
tap_is "the evacuation succeeds" "$(job_wait alpha "$job" 300)" succeeded
tap_diag "steps: $(steps alpha "$job")"
tap_is "s1 runs on beta" "$(state beta s1)" running
tap_is "b1 runs on beta" "$(state beta b1)" running
tap_is "no domain runs on alpha" "$(on alpha virsh list --name | grep -c .)" 0
tap_ok "s1 kept running through the move: its boot id prints on beta" \
    wait_for 60 bash -c "grep -ac 'alive name=s1 boot=$boot_s1' '$(console beta s1)' | grep -qv '^0$'"
tap_ok "the peers see alpha in maintenance" \
    wait_for 10 bash -c "'$LAB' exec beta virsh -c qemu+tcp://alpha/system secret-dumpxml $SECRET 2> /dev/null | grep -q 'mode=migrate'"
back=$(on beta gdbus call --system -d $BUS -o $ROOT -m $MANAGER.PlanEvacuation "@as []" "@a{sv} {}" 2>&1)
tap_diag "beta's plan: $back"
tap_ok "beta's plan sends nothing to alpha, saying it is in maintenance" \
    bash -c "grep -q \"'no-target', '[^']*alpha[^']*maintenance\" <<< \"\$1\" && ! grep -q \"'alpha', 'move'\" <<< \"\$1\"" _ "$back"
tap_ok "the state records where each went" \
    bash -c "'$LAB' exec alpha cat /var/lib/libvirt/virt-ferry/maintenance | grep -q '^peers=qemu+tcp://beta/system;qemu+tcp://beta/system;'"

# ------------------------------------------------------------------ leave with return: back to alpha
before_s1=$(alive_count alpha s1 "$boot_s1")
before_b1=$(alive_count alpha b1 "$boot_b1")
job=$(call_job alpha LeaveMaintenance 'a{sv}' 1 return b true)
tap_ok "LeaveMaintenance return after mode migrate returns a job" grep -q '^/org/virtferry/Ferry1/job/' <<< "$job"
tap_is "Maintenance is false from the call on" "$(maintenance alpha)" false
tap_is "bringing them back succeeds" "$(job_wait alpha "$job" 300)" succeeded
tap_diag "steps: $(steps alpha "$job")"
tap_is "s1 runs on alpha again" "$(state alpha s1)" running
tap_is "b1 runs on alpha again" "$(state alpha b1)" running
tap_ok "neither is left on beta" bash -c "! '$LAB' exec beta virsh dominfo s1 > /dev/null 2>&1 && ! '$LAB' exec beta virsh dominfo b1 > /dev/null 2>&1"
tap_ok "s1 came back without a reboot (its boot id prints on on alpha)" wait_for 60 alive_since alpha s1 "$boot_s1" "$before_s1"
tap_ok "b1 came back without a reboot" wait_for 60 alive_since alpha b1 "$boot_b1" "$before_b1"
tap_ok "s1's Step: back by storage migration (its disk is alpha's own)" \
    grep -q "('s1', 'migrate', '[^']*', 'back here, running (storage-migration)')" <<< "$(steps alpha "$job")"
tap_ok "b1's Step: back by migration" \
    grep -q "('b1', 'migrate', '[^']*', 'back here, running (migration)')" <<< "$(steps alpha "$job")"
tap_ok "s1's disk was created on alpha for the copy" \
    grep -q "('s1', 'disk', '[^']*', 'created here" <<< "$(steps alpha "$job")"
tap_ok "and beta's stale copy is gone" bash -c "! '$LAB' exec beta test -e \"\$1\"" _ \
    "$(on alpha virsh domblklist s1 --details | awk '$2 == "disk" { print $4; exit }')"

# ------------------------------------------------------------------ leave without return
job=$(call_job alpha EnterMaintenance 'sa{sv}' migrate 0)
tap_is "entering mode migrate again evacuates again" "$(job_wait alpha "$job" 300)" succeeded
tap_is "s1 runs on beta" "$(state beta s1)" running
job=$(call_job alpha LeaveMaintenance 'a{sv}' 0)
tap_is "leaving after an evacuation succeeds and moves nothing back" "$(job_wait alpha "$job" 60)" succeeded
tap_is "Maintenance is false" "$(maintenance alpha)" false
tap_is "s1 stays on beta" "$(state beta s1)" running

tap_done
