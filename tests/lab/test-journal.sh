#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferryd's records reach the journal as virt-ferryd(8) documents them: an archive job
# that succeeds and one that fails each log their start and end with the MESSAGE_ID,
# PRIORITY and VIRT_FERRY_* fields. No journald runs in the lab: tests/lab/journal-sink.py
# takes its place inside alpha's mount namespace (/run is alpha's own), receiving the native
# protocol on /run/systemd/journal/socket, while virt-ferryd's stderr is connected to
# /run/systemd/journal/stdout with JOURNAL_STREAM set, as under systemd.
# Then root without polkitd: with alpha's polkitd stopped, root's Archive goes through
# without polkit being asked, and uid 65534's is AccessDenied.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"
command -v python3 > /dev/null || tap_skip_all "python3 is not installed"

archive() { call_job "$1" Archive 'sa{sv}' "$2" 0; }
stub() { echo "<domain type='qemu'><name>$1</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>$2</devices></domain>"; }
define_xml() { # HOST XML
    local f
    f=$(mktemp)
    printf '%s\n' "$2" > "$f"
    on "$1" virsh -q define "$f" > /dev/null
    rm -f "$f"
}
RECORDS=$LAB_DIR/hosts/alpha/journal-records.json
# The record with MESSAGE_ID for job N, FIELD's value in it ("" when absent).
record() { # MESSAGE_ID JOB FIELD
    python3 - "$RECORDS" "$@" << 'EOF'
import json, sys
path, mid, job, field = sys.argv[1:]
for line in open(path):
    r = json.loads(line)
    if r.get("MESSAGE_ID") == mid and r.get("VIRT_FERRY_JOB") == job:
        print(r.get(field, ""))
        break
EOF
}
STARTED=00b613b6f8854dfd845a3f5940c01d26
FINISHED=5c12738031274fdb9c7055ae62f35466
FAILED=26302fb1d27f483a86e607485bf3c630

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 1 >&2 || tap_bail "lab up 1 failed"

# ------------------------------------------------------------------ virt-ferryd under the sink
"$LAB" ferryd alpha stop >&2
rm -f "$RECORDS"
on alpha env VIRT_FERRY_ADMIN_PROBE="$BUILD/plugin/virt-ferry-admin-probe" sh -c "nohup python3 '$here/journal-sink.py' \
    /run/systemd/journal/socket '$RECORDS' /var/log/libvirt/virt-ferryd.log /run/virt-ferryd.pid -- \
    '$BUILD/dbus/virt-ferryd' --config '$LAB_DIR/hosts/alpha/virt-ferry.conf' > /dev/null 2>&1 < /dev/null &"
"$LAB" ferryd alpha wait >&2 || tap_bail "virt-ferryd did not come up under the journal sink"
tap_ok "virt-ferryd's records reach the journal socket" wait_for 10 grep -q '"connected to libvirtd at' "$RECORDS"
tap_is "the connection to libvirtd is a notice with its MESSAGE_ID" \
    "$(grep -m1 '"connected to libvirtd at' "$RECORDS" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["PRIORITY"], r["MESSAGE_ID"], r["VIRT_FERRY_LIBVIRTD"])')" \
    "5 8688b09aa03045a5afd3de2dceb20d0a connected"

# ------------------------------------------------------------------ an archive that succeeds
on alpha qemu-img create -q -f qcow2 /var/lib/libvirt/images/j1.qcow2 16M
define_xml alpha "$(stub j1 "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/j1.qcow2'/><target dev='vda' bus='virtio'/></disk>")"
uuid=$(on alpha virsh domuuid j1 | tr -d '\n')
job=$(archive alpha j1)
tap_is "archive of the shut-off j1 succeeds" "$(job_wait alpha "$job")" succeeded
n=${job##*/}
tap_ok "its start is recorded" wait_for 5 bash -c "[ -n \"\$(grep -F '\"VIRT_FERRY_JOB\": \"$n\"' '$RECORDS')\" ]"
tap_is "job started: a notice" "$(record $STARTED "$n" PRIORITY)" 5
tap_is "job started: the kind" "$(record $STARTED "$n" VIRT_FERRY_KIND)" archive
tap_is "job started: the domain" "$(record $STARTED "$n" VIRT_FERRY_DOMAIN)" j1
tap_is "job started: its UUID" "$(record $STARTED "$n" VIRT_FERRY_UUID)" "$uuid"
tap_ok "its end is recorded" wait_for 5 bash -c "grep -F '\"VIRT_FERRY_JOB\": \"$n\"' '$RECORDS' | grep -q $FINISHED"
tap_is "job finished: a notice" "$(record $FINISHED "$n" PRIORITY)" 5
tap_is "job finished: the status" "$(record $FINISHED "$n" VIRT_FERRY_STATUS)" succeeded
tap_is "job finished: the domain" "$(record $FINISHED "$n" VIRT_FERRY_DOMAIN)" j1
tap_is "job finished: no error" "$(record $FINISHED "$n" VIRT_FERRY_ERROR)" ""
tap_is "no failure record for it" "$(record $FAILED "$n" PRIORITY)" ""

# ------------------------------------------------------------------ an archive that fails
define_xml alpha "$(stub j2 "<disk type='block' device='disk'><source dev='/dev/null'/><target dev='vdb' bus='virtio'/></disk>")"
job=$(archive alpha j2)
tap_is "archive of j2 (a block disk) fails" "$(job_wait alpha "$job")" failed
n=${job##*/}
tap_ok "its failure is recorded" wait_for 5 bash -c "grep -F '\"VIRT_FERRY_JOB\": \"$n\"' '$RECORDS' | grep -q $FAILED"
tap_is "job failed: an error (err)" "$(record $FAILED "$n" PRIORITY)" 3
tap_ok "job failed: the error's name, as the Job's Error" bash -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ \
    "$(record $FAILED "$n" VIRT_FERRY_ERROR)" "$(jprop alpha "$job" Error)"
tap_is "job failed: the status" "$(record $FAILED "$n" VIRT_FERRY_STATUS)" failed
tap_is "job failed: the domain" "$(record $FAILED "$n" VIRT_FERRY_DOMAIN)" j2
tap_ok "job failed: the message says so" bash -c "[[ \"\$1\" == 'job $n (archive j2) failed: '* ]]" _ "$(record $FAILED "$n" MESSAGE)"
tap_is "no finished record for it" "$(record $FINISHED "$n" PRIORITY)" ""

# ------------------------------------------------------------------ root without polkitd
polkit_pid=$(on alpha busctl status org.freedesktop.PolicyKit1 2> /dev/null | sed -n 's/^PID=//p')
[ -n "$polkit_pid" ] && on alpha kill "$polkit_pid"
tap_ok "alpha's polkitd is stopped" wait_for 10 bash -c "! '$LAB' exec alpha busctl status org.freedesktop.PolicyKit1 > /dev/null 2>&1"
on alpha qemu-img create -q -f qcow2 /var/lib/libvirt/images/j3.qcow2 16M
define_xml alpha "$(stub j3 "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/j3.qcow2'/><target dev='vda' bus='virtio'/></disk>")"
job=$(archive alpha j3)
tap_is "root's Archive without polkitd starts a job that succeeds" "$(job_wait alpha "$job")" succeeded
tap_ok "and polkit was not asked (nothing activated it)" \
    bash -c "! '$LAB' exec alpha busctl status org.freedesktop.PolicyKit1 > /dev/null 2>&1"
tap_is "uid 65534's Archive is AccessDenied" "$(AS_USER=nobody merr alpha Archive j2 '{}')" \
    org.freedesktop.DBus.Error.AccessDenied

tap_done
