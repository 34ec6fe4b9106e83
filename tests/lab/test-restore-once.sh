#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One archive, one running domain: a restore is refused while the archived domain runs on this
# host or a peer, two restores at once on two hosts give one running domain, a lock left by a
# dead virt-ferryd is taken over, one whose host cannot be asked needs break_lock, and a copy
# (new UUID, new MACs) runs next to the original.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

LIBRARY=$LAB_DIR/shared/archive
LOCKS=$LIBRARY/.restore-locks
state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
defined() { on "$1" virsh list --all --name | grep -cx "$2"; }
running() { on "$1" virsh list --state-running --name | grep -cx "$2"; }
archive() { call_job "$1" Archive 'sa{sv}' "$2" 0; }
host_uuid() { on "$1" virsh capabilities | sed -n 's|.*<uuid>\(.*\)</uuid>.*|\1|p' | head -n 1; }
macs() { on "$1" virsh domiflist "$2" | awk 'NR > 2 && $5 { print $5 }'; }
job_error() { jprop "$1" "$2" Error; }
restore_job() { # HOST ID [KEY TYPE VALUE]...: waits; prints "status error"
    local h=$1 id=$2 job; shift 2
    job=$(call_job "$h" Restore 'sa{sv}' "$id" $(($# / 3)) "$@")
    echo "$job" > "$LAB_DIR/last-job-$h"
    if [[ "$job" != /org/* ]]; then echo "refused $job"; return; fi
    echo "$(job_wait "$h" "$job") $(job_error "$h" "$job")"
}
last_message() { jprop "$1" "$(cat "$LAB_DIR/last-job-$1")" Message; }
plant_lock() { # UUID HOST HOST-UUID PID: a lock as a virt-ferryd that is gone left it
    mkdir -p "$LOCKS"
    printf '[restore-lock]\ntoken=planted\nhost=%s\nhost-uuid=%s\nboot-id=%s\npid=%s\npid-start=1\nstarted=%s000000\narchive=planted\ndomain=%s\nbeat-seconds=5\nbeat=00000000000000000007\n' \
        "$2" "$3" "$(cat /proc/sys/kernel/random/boot_id)" "$4" "$(date +%s)" "$1" > "$LOCKS/$1.lock"
}
dead_pid() { sh -c 'echo $$'; }

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"

# ------------------------------------------------------------------ restored on alpha, then on beta
"$LAB" guest alpha r1 --mem 128 --dirty 4 --disk 32 >&2 || tap_bail "guest r1 did not start"
uuid=$(on alpha virsh domuuid r1 | tr -d '\n')
mac=$(macs alpha r1)
job=$(archive alpha r1)
tap_is "r1 archives" "$(job_wait alpha "$job")" succeeded
id=$(jprop alpha "$job" Result)
read -r st err <<< "$(restore_job alpha "$id")"
tap_is "it is restored on alpha, where it is pending deletion" "$st" succeeded
tap_is "r1 runs on alpha" "$(state alpha r1)" running

read -r st err <<< "$(restore_job beta "$id")"
tap_is "restoring the same archive on beta fails" "$st" failed
tap_is "with Busy" "$err" org.virtferry.Ferry1.Error.Busy
tap_ok "naming alpha, where it runs" bash -c "grep -q 'runs on alpha' <<< \"\$1\"" _ "$(last_message beta)"
tap_is "nothing of r1 is defined on beta" "$(defined beta r1)" 0
tap_is "and no disk of it was left there" "$(ls "$LAB_DIR/hosts/beta/var-lib-libvirt/images" | grep -c r1)" 0
tap_ok "and no restore lock is left" bash -c "[ -z \"\$(ls -A '$LOCKS' 2> /dev/null)\" ]"
tap_is "r1 still runs on alpha" "$(state alpha r1)" running

read -r st err <<< "$(restore_job alpha "$id")"
tap_is "restoring it again on alpha, where it runs, is Busy" "$err" org.virtferry.Ferry1.Error.Busy
tap_ok "saying it runs on this host" bash -c "grep -q 'runs on this host' <<< \"\$1\"" _ "$(last_message alpha)"
read -r st err <<< "$(restore_job beta "$id" name s r1b)"
tap_is "a rename on beta does not get around it (Unsupported for a saved domain, never a second r1)" \
    "$(defined beta r1b)$(running beta r1)" 00

# ------------------------------------------------------------------ a copy runs next to it
read -r st err <<< "$(restore_job beta "$id" copy b true)"
tap_is "a copy without a name is InvalidArgument" "$err" org.virtferry.Ferry1.Error.InvalidArgument
read -r st err <<< "$(restore_job beta "$id" copy b true name s r1copy)"
tap_is "a copy under another name restores on beta" "$st" succeeded
[ "$st" = succeeded ] || tap_diag "copy: $(last_message beta)"
tap_is "and runs (booted from its disks)" "$(state beta r1copy)" running
tap_ok "with a new UUID" bash -c "[ -n \"\$1\" ] && [ \"\$1\" != '$uuid' ]" _ "$(on beta virsh domuuid r1copy 2> /dev/null | tr -d '\n')"
copymac=$(macs beta r1copy)
tap_ok "and a new MAC" bash -c "[ -n \"\$1\" ] && [ \"\$1\" != '$mac' ]" _ "$copymac"
tap_is "while r1 runs on alpha with its own" "$(state alpha r1) $(macs alpha r1)" "running $mac"
on beta virsh -q destroy r1copy > /dev/null
on beta virsh -q undefine r1copy > /dev/null

# ------------------------------------------------------------------ two restores at once
job=$(archive alpha r1)
tap_is "r1 archives again" "$(job_wait alpha "$job")" succeeded
id2=$(jprop alpha "$job" Result)
restore_job alpha "$id2" > "$LAB_DIR/once-alpha" &
a=$!
restore_job beta "$id2" > "$LAB_DIR/once-beta" &
b=$!
wait $a $b
read -r sta erra < "$LAB_DIR/once-alpha"
read -r stb errb < "$LAB_DIR/once-beta"
tap_diag "at once: alpha $sta $erra, beta $stb $errb"
tap_is "two restores at once on alpha and beta: one succeeds" "$(printf '%s\n%s\n' "$sta" "$stb" | grep -cx succeeded)" 1
tap_ok "the other is Busy" grep -q Ferry1.Error.Busy <<< "$erra $errb"
tap_is "r1 runs on exactly one host" "$(($(running alpha r1) + $(running beta r1)))" 1
tap_ok "no restore lock is left" bash -c "[ -z \"\$(ls -A '$LOCKS' 2> /dev/null)\" ]"
winner=alpha loser=beta
[ "$(running beta r1)" = 1 ] && winner=beta loser=alpha
on "$winner" virsh -q destroy r1 > /dev/null
job=$(archive "$winner" r1)
tap_is "r1 archives on $winner" "$(job_wait "$winner" "$job")" succeeded
id3=$(jprop "$winner" "$job" Result)
on "$loser" virsh -q undefine r1 > /dev/null 2>&1

# ------------------------------------------------------------------ locks left behind
plant_lock "$uuid" "$loser" "$(host_uuid "$loser")" "$(dead_pid)"
read -r st err <<< "$(restore_job "$loser" "$id3")"
tap_is "a lock left on $loser by a virt-ferryd that is gone is taken over there" "$st" succeeded
[ "$st" = succeeded ] || tap_diag "$(last_message "$loser")"
tap_ok "and released when the restore ends" bash -c "[ ! -e '$LOCKS/$uuid.lock' ]"
on "$loser" virsh -q destroy r1 > /dev/null
job=$(archive "$loser" r1)
tap_is "r1 archives on $loser" "$(job_wait "$loser" "$job")" succeeded
id4=$(jprop "$loser" "$job" Result)

plant_lock "$uuid" gamma 12345678-1234-1234-1234-123456789abc 4242
read -r st err <<< "$(restore_job "$winner" "$id4")"
tap_is "a lock held by a host no peer answers for is Busy" "$err" org.virtferry.Ferry1.Error.Busy
tap_ok "naming that host and break_lock" bash -c "grep -q 'gamma' <<< \"\$1\" && grep -q break_lock <<< \"\$1\"" _ "$(last_message "$winner")"
tap_is "nothing of r1 was defined on $winner" "$(running "$winner" r1)" 0
read -r st err <<< "$(restore_job "$winner" "$id4" break_lock b true start b true)"
tap_is "break_lock takes it over" "$st" succeeded
tap_is "r1 runs on $winner" "$(state "$winner" r1)" running
tap_ok "and the lock is gone" bash -c "[ ! -e '$LOCKS/$uuid.lock' ]"

# A virt-ferryd killed while it restores: after its restart the lock is gone and the domain
# is not half there.
on "$winner" virsh -q destroy r1 > /dev/null
job=$(archive "$winner" r1)
tap_is "r1 archives on $winner once more" "$(job_wait "$winner" "$job")" succeeded
id5=$(jprop "$winner" "$job" Result)
on "$winner" virsh -q undefine r1 > /dev/null 2>&1 || true
# virt-ferryd killed the moment its restore holds the lock (polled on that host itself, before
# the restore copies anything): the journal has nothing to roll back, the lock is left.
kill_when_locked() { # HOST ID
    on "$1" bash -c "until [ -e '$LOCKS/$uuid.lock' ]; do sleep 0.005; done; kill -9 \$(cat /run/virt-ferryd.pid)" &
    local killer=$!
    call_job "$1" Restore 'sa{sv}' "$2" 0 > /dev/null
    wait $killer
}
on "$loser" virsh -q undefine r1 > /dev/null 2>&1 # left pending deletion by the archive of id4
kill_when_locked "$loser" "$id5"
tap_ok "(virt-ferryd on $loser killed while its restore holds the lock)" test -e "$LOCKS/$uuid.lock"
sleep 1
"$LAB" ferryd "$loser" start >&2
tap_ok "after virt-ferryd's restart on $loser the lock is gone" wait_for 60 test ! -e "$LOCKS/$uuid.lock"
[ -e "$LOCKS/$uuid.lock" ] && tap_diag "$(cat "$LOCKS/$uuid.lock")" "$(grep -i 'lock\|recover' "$LAB_DIR/hosts/$loser/var-log-libvirt/virt-ferryd.log" | tail -5)"
tap_is "and nothing of r1 is defined on $loser" "$(defined "$loser" r1)" 0

# Killed again, and not restarted: the other host takes the lock over, since $loser's libvirt
# says r1 does not run there and the lock's heartbeat stands still.
kill_when_locked "$loser" "$id5"
tap_ok "(virt-ferryd on $loser killed again while its restore holds the lock)" test -e "$LOCKS/$uuid.lock"
t0=$(now)
read -r st err <<< "$(restore_job "$winner" "$id5" start b true)"
tap_diag "restore on $winner over $loser's stale lock: $(since "$t0") s"
tap_is "$winner takes the stale lock of $loser over and restores r1" "$st" succeeded
[ "$st" = succeeded ] || tap_diag "$(last_message "$winner")"
tap_is "r1 runs once" "$(($(running alpha r1) + $(running beta r1)))" 1
tap_ok "and the lock is gone" test ! -e "$LOCKS/$uuid.lock"
"$LAB" ferryd "$loser" start >&2

# ------------------------------------------------------------------ a peer that cannot be asked
# An address of the lab's range that no host has: no answer within the bound.
conf=$LAB_DIR/hosts/alpha/virt-ferry.conf
sed -i 's|^uris=|uris=qemu+tcp://198.18.255.254/system;|' "$conf"
"$LAB" ferryd alpha restart >&2
where=$( [ "$(running alpha r1)" = 1 ] && echo alpha || echo beta)
on "$where" virsh -q destroy r1 > /dev/null
job=$(archive "$where" r1)
tap_is "r1 archives on $where" "$(job_wait "$where" "$job")" succeeded
id6=$(jprop "$where" "$job" Result)
t0=$(now)
read -r st err <<< "$(restore_job alpha "$id6" start b true)"
tap_diag "refused after $(since "$t0") s"
tap_is "a restore with a peer that cannot be asked is NetworkUnavailable" "$err" org.virtferry.Ferry1.Error.NetworkUnavailable
tap_ok "naming that peer and ignore_unreachable" bash -c "grep -q '198.18.255.254' <<< \"\$1\" && grep -q ignore_unreachable <<< \"\$1\"" _ "$(last_message alpha)"
tap_is "nothing of r1 runs on alpha" "$(running alpha r1)" 0
read -r st err <<< "$(restore_job alpha "$id6" start b true ignore_unreachable b true)"
tap_is "with ignore_unreachable it restores, with a warning" "$st" warning
tap_ok "naming the peer not asked" bash -c "grep -q '198.18.255.254' <<< \"\$1\"" _ "$(last_message alpha)"
tap_is "r1 runs on alpha" "$(state alpha r1)" running

tap_done
