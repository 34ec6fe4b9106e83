#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# MoveDisk on a real lab host: a running guest's disk moved to another directory
# while the guest runs and keeps dirtying its memory (its boot id prints on: no reboot), the
# live and the persistent definition on the new file, the old file gone, the guest's data
# intact and found again after a restart; Cancel in the middle of a slow copy; refusals that
# change nothing (destination exists, unknown disk, no room, shut-off domain, bad arguments).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

IMAGES=/var/lib/libvirt/images
MOVED=$IMAGES/moved

move_disk() { # HOST DOMAIN DISK PATH [KEY TYPE VALUE]... -> job path, or the error
    local h=$1 d=$2 k=$3 p=$4
    shift 4
    call_job "$h" MoveDisk 'sssa{sv}' "$d" "$k" "$p" $(($# / 3)) "$@"
}
state() { on alpha virsh domstate "$1" 2> /dev/null | head -n 1; }
live_source() { on alpha virsh domblklist "$1" | awk '$1 == "vda" { print $2 }'; }
defined_source() { on alpha virsh dumpxml --inactive "$1" | sed -n "s/.*<source file='\([^']*\)'.*/\1/p"; }
gone() { ! on alpha test -e "$1"; }
copy_jobs() { on alpha virsh blockjob "$1" vda --info 2>&1 | grep -c 'Block Copy'; }
# The disk as the guest sees it: the header and the 16 MiB the test guest writes at its first
# boot, read beside the running QEMU (-U).
disk_digest() {
    on alpha sh -c "qemu-img dd -U -f qcow2 -O raw bs=1M count=17 if='$1' of=/run/md.raw > /dev/null &&
                    sha256sum < /run/md.raw | cut -d' ' -f1; rm -f /run/md.raw"
}
has_guest_data() { on alpha sh -c "qemu-img dd -U -f qcow2 -O raw bs=512 count=1 if='$1' of=/run/md.hdr > /dev/null &&
                                    grep -aq FERRYDISK1 /run/md.hdr; r=\$?; rm -f /run/md.hdr; exit \$r"; }
has_steps() { # STEPS DOMAIN OUTCOME...: each outcome begins a move-disk step of DOMAIN's vda
    local steps=$1 d=$2 o
    shift 2
    for o; do grep -qF "('$d', 'move-disk', 'vda', '$o" <<< "$steps" || return 1; done
}
failed_with() { # JOB ERROR: the job failed with org.virtferry.Ferry1.Error.ERROR
    [ "$(job_wait alpha "$1")" = failed ] && [ "$(jprop alpha "$1" Error)" = "org.virtferry.Ferry1.Error.$2" ]
}
# Errors of the call itself (no job): gdbus shows the error's name, busctl only its message.
call_error() { on alpha gdbus call --system -d $BUS -o $ROOT -m $MANAGER.MoveDisk -- "$@" 2>&1; }

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 1 >&2 || tap_bail "lab up 1 failed"
on alpha mkdir -p "$MOVED"

# ------------------------------------------------------------------ a running guest's disk moves
"$LAB" guest alpha md1 --mem 256 --disk 256 --dirty 8 >&2 || tap_bail "guest md1 did not start"
old=$(live_source md1)
new=$MOVED/md1.qcow2
tap_is "md1 starts on its disk in the default pool" "$old" "$IMAGES/md1.qcow2"
tap_ok "the guest wrote its data on the disk" has_guest_data "$old"
digest=$(disk_digest "$old")
boot=$(boot_id alpha md1)
lines=$(alive_count alpha md1 "$boot")
t0=$(now)
job=$(move_disk alpha md1 vda "$new")
tap_ok "MoveDisk returns a job at once" grep -q '^/org/virtferry/Ferry1/job/[0-9]*$' <<< "$job"
status=$(job_wait alpha "$job" 120)
took=$(since "$t0")
tap_is "the move succeeds" "$status" succeeded
[ "$status" = succeeded ] || tap_diag "job message: $(jprop alpha "$job" Message)"
steps=$(prop alpha "$job" $BUS.Job Steps)
tap_diag "move of md1's vda (256 MiB qcow2, 16 MiB of data) while the guest dirties 8 MiB/s: $took s"
tap_diag "$(grep -o "copied to [^']*" <<< "$steps"); $(on alpha du -k "$new" | cut -f1) KiB on disk"
tap_is "the domain runs on the new file" "$(live_source md1)" "$new"
tap_is "and runs" "$(state md1)" running
tap_is "its persistent definition names the new file" "$(defined_source md1)" "$new"
tap_ok "the old file is gone" gone "$old"
tap_is "and the default pool no longer lists it" "$(on alpha virsh -q vol-list default | grep -c 'md1\.qcow2')" 0
tap_is "no block job is left on the disk" "$(copy_jobs md1)" 0
tap_ok "the guest did not reboot: its boot id prints on" wait_for 15 alive_since alpha md1 "$boot" "$lines"
tap_is "and no other boot id came" "$(boot_id alpha md1)" "$boot"
tap_is "the guest's data is on the new file, unchanged" "$(disk_digest "$new")" "$digest"
tap_is "the job's Result is the new path" "$(jprop alpha "$job" Result)" "$new"
tap_ok "its Steps record the copy, the switch-over, the definition and the old file" has_steps "$steps" md1 \
    "copied to $new: " "switched over to $new" "the persistent definition names $new" "old file $old removed"
tap_ok "its DataTotal was the disk's size" test "$(prop alpha "$job" $BUS.Job DataTotal | sed 's/^uint64 //')" = $((256 << 20))

# The definition is what the next start uses: the guest finds its data there.
on alpha virsh -q destroy md1 > /dev/null
on alpha virsh -q start md1 > /dev/null
tap_ok "restarted, md1 boots from the new file and finds its data" \
    wait_for 60 grep -aq 'disk vda: found data, boot 2' "$(console alpha md1)"
tap_is "on the new file" "$(live_source md1)" "$new"
wait_for 60 bash -c "[ \$(grep -ac 'ready name=md1' '$(console alpha md1)') -ge 2 ]"

# Into another format: the copy is written as raw, and the definition says so.
raw=$MOVED/md1.raw
boot=$(boot_id alpha md1)
job=$(move_disk alpha md1 vda "$raw" format s raw)
tap_is "a move into raw succeeds" "$(job_wait alpha "$job" 120)" succeeded
tap_is "the domain runs on the raw file" "$(live_source md1)" "$raw"
tap_ok "the file is raw" grep -q "^file format: raw" <<< "$(on alpha qemu-img info -U "$raw")"
tap_ok "the live and the persistent definition say raw" bash -c "grep -q \"type='raw'\" <<< \"\$1\" && grep -q \"type='raw'\" <<< \"\$2\"" _ \
    "$(on alpha virsh dumpxml md1 | grep -A2 "<disk type='file' device='disk'>")" \
    "$(on alpha virsh dumpxml --inactive md1 | grep -A2 "<disk type='file' device='disk'>")"
lines=$(alive_count alpha md1 "$boot")
tap_ok "the guest runs on without a reboot" wait_for 15 alive_since alpha md1 "$boot" "$lines"
# And back into qcow2, where the rest of this test expects it.
job=$(move_disk alpha md1 vda "$new" format s qcow2)
tap_is "a move back into qcow2 succeeds" "$(job_wait alpha "$job" 120)" succeeded
tap_is "the domain runs on the qcow2 file again" "$(live_source md1)" "$new"
tap_ok "the raw file is gone" gone "$raw"

# ------------------------------------------------------------------ cancel in the middle
"$LAB" guest alpha md2 --mem 256 --disk 256 --dirty 8 >&2 || tap_bail "guest md2 did not start"
old2=$(live_source md2)
new2=$MOVED/md2.qcow2
boot2=$(boot_id alpha md2)
# Polled on alpha itself: at 4 MiB/s the 16 MiB of data take about 4 s. A second MoveDisk on
# the same domain is tried while the first runs.
read -r job at second <<< "$(on alpha bash -c '
    job=$(busctl call '$BUS' '$ROOT' '$MANAGER' MoveDisk "sssa{sv}" md2 vda "$1" 1 bandwidth t 4 |
          sed "s/^o \"\(.*\)\"$/\1/")
    second=$(busctl call '$BUS' '$ROOT' '$MANAGER' MoveDisk "sssa{sv}" md2 vda "$1.second" 0 2>&1)
    for i in $(seq 3000); do
        v=$(busctl get-property '$BUS' "$job" '$BUS'.Job Progress | cut -d" " -f2)
        awk -v v="$v" "BEGIN { exit !(v > 0) }" && break
        sleep 0.01
    done
    busctl call '$BUS' "$job" '$BUS'.Job Cancel
    echo "$job $v $second"' _ "$new2")"
tap_diag "cancelled at progress $at"
tap_ok "a second MoveDisk on the same domain meanwhile is Busy" grep -q 'already has a running job' <<< "$second"
tap_ok "the cancel came in the middle of the copy" awk -v v="$at" 'BEGIN { exit !(v > 0 && v < 1) }'
tap_is "the job ends cancelled" "$(job_wait alpha "$job")" cancelled
tap_is "md2 stays on its old file" "$(live_source md2)" "$old2"
tap_is "and its definition too" "$(defined_source md2)" "$old2"
tap_ok "the partial copy is removed" gone "$new2"
tap_ok "the old file is still there" on alpha test -s "$old2"
tap_is "no block job is left" "$(copy_jobs md2)" 0
lines=$(alive_count alpha md2 "$boot2")
tap_ok "the guest runs on without a reboot" wait_for 15 alive_since alpha md2 "$boot2" "$lines"
tap_ok "the job's Steps say it rolled back" has_steps "$(prop alpha "$job" $BUS.Job Steps)" md2 \
    "rolled back: the disk stays on $old2, the partial copy is removed"

# ------------------------------------------------------------------ a disk holding 240 MiB: the copy's speed
# Written while md2 is off (QEMU holds the image's lock), past the guest's own data.
on alpha virsh -q destroy md2 > /dev/null
on alpha qemu-io -f qcow2 -c "write -P 0x5a 32M 224M" "$old2" > /dev/null
on alpha virsh -q start md2 > /dev/null
wait_for 60 bash -c "[ \$(grep -ac 'ready name=md2' '$(console alpha md2)') -ge 2 ]" || tap_bail "md2 did not come back"
boot2=$(boot_id alpha md2)
digest2=$(disk_digest "$old2")
mib=$(( $(on alpha du -k "$old2" | cut -f1) / 1024 ))
out=$(on alpha virt-ferry move-disk md2 vda "$new2" --verbose 2>&1)
tap_is "virt-ferry move-disk md2 (with $mib MiB on its disk) exits 0" "$?" 0
job=$(sed -n 's/^Job: *//p' <<< "$out")
tap_ok "following the job to its end: succeeded, the new path as Result" \
    bash -c 'grep -qE "^Status: +succeeded$" <<< "$1" && grep -qE "^Result: +$2$" <<< "$1"' _ "$out" "$new2"
[ -n "$job" ] || tap_diag "$out"
copy=$(grep -o "copied to [^']*" <<< "$(prop alpha "$job" $BUS.Job Steps)")
secs=$(sed -n 's/.* in \([0-9.]*\) s,.*/\1/p' <<< "$copy")
tap_diag "$copy: $mib MiB of data in $secs s, $(awk -v m="$mib" -v s="$secs" 'BEGIN { printf "%.0f", m / s }') MiB/s of data"
tap_is "md2 runs on the new file" "$(live_source md2)" "$new2"
tap_is "with its data unchanged" "$(disk_digest "$new2")" "$digest2"
tap_is "and the 0x5a pattern past it" "$(on alpha qemu-io -r -U -f qcow2 -c 'read -P 0x5a 32M 224M' "$new2" | grep -c 'read 234881024/234881024')" 1
lines=$(alive_count alpha md2 "$boot2")
tap_ok "without a reboot" wait_for 15 alive_since alpha md2 "$boot2" "$lines"

# ------------------------------------------------------------------ refusals that change nothing
on alpha sh -c "echo keep > '$MOVED/taken.qcow2'"
job=$(move_disk alpha md1 vda "$MOVED/taken.qcow2")
tap_ok "a destination that exists: InvalidArgument" failed_with "$job" InvalidArgument
tap_diag "$(jprop alpha "$job" Message)"
tap_is "the file there is untouched" "$(on alpha cat "$MOVED/taken.qcow2")" keep
tap_is "md1 stays on its file" "$(live_source md1)" "$new"

job=$(move_disk alpha md1 vdz "$MOVED/vdz.qcow2")
tap_ok "an unknown disk: NotFound" failed_with "$job" NotFound
tap_ok "naming the disks there are" grep -q 'has no disk vdz; its disks are vda' <<< "$(jprop alpha "$job" Message)"
tap_ok "nothing is created" gone "$MOVED/vdz.qcow2"

job=$(move_disk alpha md1 vda "$IMAGES/nodir/md1.qcow2")
tap_ok "a directory that does not exist: NotFound" failed_with "$job" NotFound

# Mounted inside alpha's mount namespace only: the machine's own mounts stay as they are.
on alpha mkdir -p "$IMAGES/small"
on alpha mount -t tmpfs -o size=4m tmpfs "$IMAGES/small"
job=$(move_disk alpha md1 vda "$IMAGES/small/md1.qcow2")
tap_ok "no room at the destination: NoCapacity" failed_with "$job" NoCapacity
tap_ok "with both numbers in MiB" grep -qE 'has [0-9]+ MiB free, the copy of disk vda of md1 needs [0-9]+ MiB' \
    <<< "$(jprop alpha "$job" Message)"
tap_diag "$(jprop alpha "$job" Message)"
tap_is "nothing is created there" "$(on alpha ls -A "$IMAGES/small" | wc -l)" 0
on alpha umount "$IMAGES/small"
tap_is "md1 is still on its file after the refusals" "$(live_source md1)" "$new"
tap_is "and so is its definition" "$(defined_source md1)" "$new"

"$LAB" guest alpha md3 --mem 128 --disk 32 >&2 || tap_bail "guest md3 did not start"
on alpha virsh -q destroy md3 > /dev/null
job=$(move_disk alpha md3 vda "$MOVED/md3.qcow2")
tap_ok "a shut-off domain: Unsupported" failed_with "$job" Unsupported
tap_ok "saying it does not run" grep -q 'is not running' <<< "$(jprop alpha "$job" Message)"
tap_ok "nothing is created" gone "$MOVED/md3.qcow2"
tap_is "its definition is unchanged" "$(defined_source md3)" "$IMAGES/md3.qcow2"
out=$(on alpha virt-ferry move-disk md3 vda "$MOVED/md3.qcow2" 2>&1)
tap_is "virt-ferry move-disk of the shut-off md3 exits 1" "$?" 1
tap_ok "saying why on standard error" grep -q '^virt-ferry: job [0-9]* failed: domain md3 is not running' <<< "$out"

out=$(call_error md1 vda relative.qcow2 '{}')
tap_ok "a relative destination is refused by the call: InvalidArgument" \
    grep -q 'Error.InvalidArgument: destination "relative.qcow2" is not an absolute path' <<< "$out"
out=$(call_error md1 vda "$MOVED/x.vmdk" "{'format': <'vmdk'>}")
tap_ok "an unknown format: InvalidArgument" grep -q 'Error.InvalidArgument: format "vmdk"' <<< "$out"
out=$(call_error md1 vda "$MOVED/x.qcow2" "{'speed': <uint64 4>}")
tap_ok "an unknown option: InvalidArgument naming the options" grep -q "unknown option 'speed'.*format:s, bandwidth:t" <<< "$out"
out=$(call_error nosuch vda "$MOVED/x.qcow2" '{}')
tap_ok "an unknown domain: NotFound" grep -q 'Error.NotFound' <<< "$out"
tap_ok "none of them left a file" bash -c "[ \"\$('$LAB' exec alpha ls -A '$MOVED' | sort | tr '\n' ' ')\" = 'md1.qcow2 md2.qcow2 taken.qcow2 ' ]"

tap_done
