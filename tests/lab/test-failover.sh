#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Failover on real lab hosts with libvirt's lock manager (virtlockd, lockspace on
# the shared storage): alpha publishes its domains; while alpha is only cut off from the
# network, beta's failover is refused by the lease and the domain runs on at alpha; while
# alpha answers, failover is Busy; once alpha is dead, beta starts the domain from the shared
# disk, and only one host ever runs it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"
export VIRT_FERRY_LAB_LOCKD=1

PUBLISHED=$LAB_DIR/shared/failover
state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
defined_on() { on "$1" virsh list --all --name | grep -cx "$2"; }
failover() { call_job "$1" Failover 'sa{sv}' "$2" 0; }
steps() { prop "$1" "$2" $BUS.Job Steps; }
kill_host_daemon() { # HOST PIDFILE
    local pid
    pid=$(host_pid "$1" "$2")
    [ -n "$pid" ] && on "$1" kill -9 "$pid"
}

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"

"$LAB" guest alpha f1 --mem 128 --disk 32 --shared >&2 || tap_bail "guest f1"
"$LAB" guest alpha f2 --mem 96 --disk 16 --shared >&2 || tap_bail "guest f2"
uuid=$(on alpha virsh domuuid f1 | head -n 1)
uuid2=$(on alpha virsh domuuid f2 | head -n 1)
boot=$(boot_id alpha f1)
tap_ok "alpha publishes f1's definition on the shared storage" wait_for 5 test -s "$PUBLISHED/alpha/$uuid.xml"
tap_ok "and that it runs" test -e "$PUBLISHED/alpha/$uuid.running"
tap_is "the definition (secrets included) is root's alone" "$(stat -c '%U %a' "$PUBLISHED/alpha/$uuid.xml")" "root 600"
tap_is "in a directory root's alone" "$(stat -c '%U %a' "$PUBLISHED/alpha")" "root 700"
tap_ok "libvirt holds f1's disk lease in the shared lockspace" bash -c "ls '$LAB_DIR/shared/lockspace' | grep -q ."

# ---- alpha answers: not dead (through the CLI, as a person would)
cli beta failover alpha; rc=$?
tap_diag "$CLI_OUT"
tap_is "virt-ferry failover of a host that answers exits 1 (failed)" "$rc" 1
job=$(cli_job_path)
tap_is "its job failed" "$(jprop beta "$job" Status)" failed
tap_is "with Busy" "$(jprop beta "$job" Error)" $FERR.Busy
tap_ok "virt-ferry job shows the error's name" bash -c "'$LAB' exec beta virt-ferry job '${job##*/}' | grep -q 'Error.*$FERR.Busy'"
tap_is "and beta has no f1" "$(defined_on beta f1)" 0

# ---- alpha only cut off: the lease refuses
on alpha ip link set eth0 down
job=$(failover beta alpha)
tap_is "failover while alpha is only cut off fails" "$(job_wait beta "$job" 60)" failed
tap_is "with Failed: no domain was taken over" "$(jprop beta "$job" Error)" $FERR.Failed
s=$(steps beta "$job")
tap_diag "$s"
# QEMU's image lock refuses as it opens the disk (the lab's hosts share one kernel, so its
# OFD lock spans them); libvirt's virtlockd lease would refuse when the vCPUs start.
tap_ok "refused: f1's disk is still held (image lock or lease)" grep -qi "not started: .*\(lock\|resource busy\)" <<< "$s"
tap_is "beta has no f1 left" "$(defined_on beta f1)" 0
tap_is "f1 runs on at alpha" "$(state alpha f1)" running
lines=$(alive_count alpha f1 "$boot")
tap_ok "without a reboot" wait_for 10 alive_since alpha f1 "$boot" "$lines"
on alpha ip link set eth0 up

# ---- alpha dies: its guest, libvirtd, virtlockd and virt-ferryd are gone
kill_host_daemon alpha /run/virt-ferryd.pid
kill_host_daemon alpha /run/libvirt/qemu/f1.pid
kill_host_daemon alpha /run/libvirtd.pid
kill_host_daemon alpha /run/libvirt/qemu/f2.pid
kill_host_daemon alpha /run/virtlockd.pid
gone() { local st; st=$(on alpha awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null); [ -z "$st" ] || [ "$st" = Z ]; }
for p in /run/virt-ferryd.pid /run/libvirt/qemu/f1.pid /run/libvirt/qemu/f2.pid /run/libvirtd.pid /run/virtlockd.pid; do
    pid=$(host_pid alpha $p)
    [ -z "$pid" ] || wait_for 10 gone "$pid" || tap_bail "alpha's $p ($pid) did not die"
done
# Failover's options, through the CLI: only f2, defined but not started.
cli beta failover alpha --domain f2 --no-start; rc=$?
tap_diag "$CLI_OUT"
tap_is "virt-ferry failover alpha --domain f2 --no-start succeeds" "$rc" 0
tap_is "f2 is defined on beta, shut off" "$(state beta f2)" "shut off"
tap_is "with f2's UUID" "$(on beta virsh domuuid f2 | head -n 1)" "$uuid2"
tap_is "f1 was left alone (domains)" "$(defined_on beta f1)" 0
tap_ok "alpha's publication of f1 is still there" test -s "$PUBLISHED/alpha/$uuid.xml"
job=$(cli_job_path)
tap_ok "virt-ferry job shows the step: f2 only defined" bash -c "'$LAB' exec beta virt-ferry job '${job##*/}' | grep -q 'f2.*defined here'"
job=$(failover beta alpha)
tap_is "failover after alpha died succeeds" "$(job_wait beta "$job" 120)" succeeded
tap_diag "$(steps beta "$job")"
tap_is "f1 runs on beta" "$(state beta f1)" running
tap_is "with the same UUID" "$(on beta virsh domuuid f1 | head -n 1)" "$uuid"
tap_ok "it booted from the shared disk and found its data" wait_for 60 grep -aq "found data" "$(console beta f1)"
tap_ok "beta now publishes f1" wait_for 5 test -s "$PUBLISHED/beta/$uuid.xml"
tap_ok "and alpha's publication of it is withdrawn" test ! -e "$PUBLISHED/alpha/$uuid.xml"
tap_is "f2, defined only before, is still shut off (not started by the second takeover)" "$(state beta f2)" "shut off"

# ---- what another host left in the shared directory is not trusted
# "gamma" is no peer (no probe): the job reads its directory at once.
gamma=$PUBLISHED/gamma
mkdir -m 0700 "$gamma"
fifo_uuid=0f0f0f0f-0000-4000-8000-000000000001
named_uuid=0f0f0f0f-0000-4000-8000-000000000002
mkfifo "$gamma/$fifo_uuid.xml"
# A definition filed under another domain's UUID.
printf "<domain type='qemu'><name>impostor</name><uuid>0f0f0f0f-0000-4000-8000-0000000000ff</uuid><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>\n" \
    > "$gamma/$named_uuid.xml"
ln -s "$PUBLISHED/beta/$uuid.xml" "$gamma/$uuid.xml"
job=$(failover beta gamma)
tap_is "a takeover of a FIFO, a link and a misnamed definition ends (nothing blocks)" "$(job_wait beta "$job" 30)" failed
s=$(steps beta "$job")
tap_diag "$s"
tap_ok "the FIFO is refused: not a regular file" grep -q "$fifo_uuid.xml is not a regular file" <<< "$s"
tap_ok "the link is refused" grep -q "$uuid.xml: it is a symbolic link" <<< "$s"
tap_ok "the misnamed definition is refused" grep -q "not the one its name says" <<< "$s"
tap_is "and beta defined no impostor" "$(defined_on beta impostor)" 0
rm -f "$gamma/$fifo_uuid.xml" "$gamma/$uuid.xml"
chmod 0777 "$gamma"
out=$(on beta gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Failover gamma '@a{sv} {}' 2>&1)
tap_diag "$out"
tap_is "a directory others can write is refused: Failed" "$(merr beta Failover gamma '@a{sv} {}')" $FERR.Failed
tap_ok "naming it" grep -q "gamma is writable by others than root" <<< "$out"
chmod 0755 "$gamma"
chown 65534 "$gamma"
out=$(on beta gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Failover gamma '@a{sv} {}' 2>&1)
tap_is "so is one another user owns: Failed" "$(merr beta Failover gamma '@a{sv} {}')" $FERR.Failed
tap_ok "naming it" grep -q "gamma is not owned by root" <<< "$out"
rm -rf "$gamma"

# ---- bad input
tap_is "a host that published nothing is NotFound" "$(merr beta Failover gamma '@a{sv} {}')" $FERR.NotFound
tap_is "a host name with a slash is InvalidArgument" "$(merr beta Failover ../alpha '@a{sv} {}')" $FERR.InvalidArgument
tap_is "an unknown option is InvalidArgument" "$(merr beta Failover alpha "{'force': <true>}")" $FERR.InvalidArgument
tap_is "a domains option of the wrong type is InvalidArgument" "$(merr beta Failover alpha "{'domains': <'f1'>}")" $FERR.InvalidArgument
cli beta failover gamma; rc=$?
tap_is "virt-ferry failover of a host that published nothing exits 3 (not found)" "$rc" 3

tap_done
