#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults in the middle of a job, on real lab hosts: virt-ferryd killed (-9) during an
# archive's memory save, during its disk copy, during a restore's disk copy and during the
# restore of memory (after a restart the job is rolled back, the guest runs on exactly one
# host from its own boot, nothing is left); a live migration hit by the target's QEMU killed,
# the target's libvirtd restarted and the source's libvirtd killed (the job fails with an
# error name, the guest runs on at the source from the same boot, nothing is on the target);
# and two mutating calls on one domain at once (one is Busy, the other succeeds).
#
# Each kill waits for its phase (the job journal and the files the job writes, polled with a
# bound) and checks afterwards that it hit it: the journal and the half-written file of a
# killed virt-ferryd stay as they were at the kill.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

LIBRARY=$LAB_DIR/shared/archive
HOSTS="alpha beta"
MIB=$((1024 * 1024))

host_path() { echo "$LAB_DIR/hosts/$1/$2"; }    # HOST PATH-UNDER-ITS-DIR, seen from here
journals() { ls "$(host_path "$1" var-lib-libvirt/virt-ferry/journal)" 2> /dev/null | grep -c '\.journal$'; }
journal_phase() { # HOST KIND: the phase the host's journal of that kind records
    sed -n 's/^phase=//p' "$(host_path "$1" var-lib-libvirt/virt-ferry/journal)/$2"-*.journal 2> /dev/null | head -n 1
}
size_of() { stat -c %s "$1" 2> /dev/null || echo 0; }
kib() { echo $(($(size_of "$1") / 1024)); }
# FILE is a copy of SOURCE cut short: there, not empty, shorter.
cut_short() { [ -s "$1" ] && [ "$(size_of "$1")" -lt "$(size_of "$2")" ]; } # FILE SOURCE
partials() { ls -A "$LIBRARY" 2> /dev/null | grep -c '^\.partial-'; }
archives_of() { ls "$LIBRARY" 2> /dev/null | grep -c "^$1-"; }
state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
defined_on() { on "$1" virsh list --all --name | grep -cx "$2"; }
# The hosts where DOMAIN is active (running or paused), from every host's libvirt.
active_on() {
    local h out=""
    for h in $HOSTS; do grep -qx "$1" <<< "$(on "$h" virsh list --name)" && out+="${out:+ }$h"; done
    echo "${out:-none}"
}
boots() { local n; n=$(grep -ac "booted name=$2 " "$(console "$1" "$2")" 2> /dev/null); echo "${n:-0}"; }
pending_deletion() { on "$1" virsh metadata "$2" http://virtferry.org/xmlns/archive/1 > /dev/null 2>&1; }
# What libvirt keeps of an active (or starting) domain: its status file and QEMU's pid file.
runtime_left() { on "$1" sh -c "ls /run/libvirt/qemu/$2.xml /run/libvirt/qemu/$2.pid 2> /dev/null" | grep -c .; }
connected() { [ "$(on "$1" busctl get-property $BUS $ROOT $MANAGER LibvirtConnected 2> /dev/null)" = "b true" ]; }
no_journal() { [ "$(journals "$1")" = 0 ]; }
not_pending() { ! pending_deletion "$@"; }
running_on() { [ "$(state "$1" "$2")" = running ]; }
nothing_on() { [ "$(defined_on "$1" "$2")" = 0 ] && [ "$(runtime_left "$1" "$2")" = 0 ]; }
answers() { on "$1" virsh -q hostname > /dev/null 2>&1; }


# The guest runs on exactly HOST, from the boot it had (BOOT), printing on, not booted again.
runs_once_on() { # DESCRIPTION HOST DOMAIN BOOT BOOTS_BEFORE
    local d=$1 h=$2 dom=$3 boot=$4 nboots=$5 lines
    tap_is "$d: $dom is active on exactly one host, $h" "$(active_on "$dom")" "$h"
    lines=$(alive_count "$h" "$dom" "$boot")
    tap_ok "$d: $dom runs on from the same boot (its boot id prints on)" wait_for 30 alive_since "$h" "$dom" "$boot" "$lines"
    tap_is "$d: $dom did not boot again" "$(boots "$h" "$dom")" "$nboots"
}

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
t_start=$(now)
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"

# ------------------------------------------------------------------ the guests, booting together
tap_diag "at $(since "$t_start") s"
# k1: memory to save (512 MiB: a save and a restore long enough to be hit). k2: little memory
# and a disk holding 512 MiB of data (a copy long enough to be hit), written before it boots.
# m1: the migrated one.
"$LAB" guest alpha k2 --mem 128 --disk 1024 --no-wait >&2 || tap_bail "guest k2 was not defined"
on alpha virsh -q destroy k2 > /dev/null
on alpha qemu-io -f qcow2 -c "write -P 0x5a 64M 512M" /var/lib/libvirt/images/k2.qcow2 > /dev/null ||
    tap_bail "cannot fill k2's disk"
rm -f "$(console alpha k2)"
on alpha virsh -q start k2 > /dev/null || tap_bail "k2 did not start"
"$LAB" guest alpha k1 --mem 512 --no-wait >&2 || tap_bail "guest k1 did not start"
"$LAB" guest alpha m1 --mem 256 --dirty 4 --no-wait >&2 || tap_bail "guest m1 did not start"
for g in k1 k2 m1; do
    wait_for 180 grep -aq "ready name=$g" "$(console alpha $g)" || tap_bail "guest $g did not become ready"
done
k1boot=$(boot_id alpha k1)
k2boot=$(boot_id alpha k2)
m1boot=$(boot_id alpha m1)
[ -n "$k1boot" ] && [ -n "$k2boot" ] && [ -n "$m1boot" ] || tap_bail "a guest printed no boot id"
tap_diag "lab and guests ready after $(since "$t_start") s"
K2_SRC=$(host_path alpha var-lib-libvirt/images/k2.qcow2)

# ------------------------------------------------------------------ (1) archive: the memory save
tap_diag "at $(since "$t_start") s"
saving_k1() { # the save of k1 is under way: at least 32 MiB of its image written
    local f=("$LIBRARY"/.partial-k1-*/memory.save)
    KILLED_AT=$(size_of "${f[0]}")
    [ "$KILLED_AT" -ge $((32 * MIB)) ] && [ "$(journal_phase alpha archive)" = saving ]
}
job=$(call_job alpha Archive 'sa{sv}' k1 0)
tap_ok "virt-ferryd killed while it saves k1's memory" kill_when alpha "$(ferryd_pid alpha)" 60 saving_k1
tap_diag "killed with $((KILLED_AT / MIB)) MiB of k1's 512 MiB image written"
tap_is "(1) the kill hit the save: the journal says saving" "$(journal_phase alpha archive)" saving
"$LAB" ferryd alpha start >&2
tap_ok "(1) after the restart, the job is rolled back: its journal is gone" wait_for 120 no_journal alpha
tap_is "(1) k1 runs again on alpha" "$(state alpha k1)" running
runs_once_on "(1)" alpha k1 "$k1boot" 1
tap_is "(1) no partial archive is left" "$(partials)" 0
tap_is "(1) and no archive of k1" "$(archives_of k1)" 0
tap_ok "(1) k1 is not pending deletion" not_pending alpha k1
tap_is "(1) beta has no k1" "$(defined_on beta k1)" 0

# ------------------------------------------------------------------ (2) archive: the disk copy
tap_diag "at $(since "$t_start") s"
copying_k2() { # k2's disk is half copied into the partial archive
    local f=("$LIBRARY"/.partial-k2-*/disks/vda.qcow2)
    cut_short "${f[0]}" "$K2_SRC" && [ -n "$(journal_phase alpha archive)" ]
}
job=$(call_job alpha Archive 'sa{sv}' k2 0)
tap_ok "virt-ferryd killed while it copies k2's disk" kill_when alpha "$(ferryd_pid alpha)" 60 copying_k2
f=("$LIBRARY"/.partial-k2-*/disks/vda.qcow2)
tap_ok "(2) the kill hit the copy: the copy in partial/ is cut short" cut_short "${f[0]}" "$K2_SRC"
tap_diag "killed with $(kib "${f[0]}") of $(kib "$K2_SRC") KiB copied; journal: $(journal_phase alpha archive)"
"$LAB" ferryd alpha start >&2
tap_ok "(2) after the restart, the job is rolled back: its journal is gone" wait_for 120 no_journal alpha
tap_is "(2) k2 runs again on alpha" "$(state alpha k2)" running
runs_once_on "(2)" alpha k2 "$k2boot" 1
tap_is "(2) no partial archive is left" "$(partials)" 0
tap_is "(2) and no archive of k2" "$(archives_of k2)" 0
tap_ok "(2) k2 is not pending deletion" not_pending alpha k2
tap_is "(2) beta has no k2" "$(defined_on beta k2)" 0

# ------------------------------------------------------------------ archives to restore
tap_diag "at $(since "$t_start") s"
job1=$(call_job alpha Archive 'sa{sv}' k1 0)
job2=$(call_job alpha Archive 'sa{sv}' k2 0)
tap_is "k1 then archives" "$(job_wait alpha "$job1")" succeeded
tap_is "and k2" "$(job_wait alpha "$job2")" succeeded
k1id=$(jprop alpha "$job1" Result)
k2id=$(jprop alpha "$job2" Result)
[ -n "$k1id" ] && [ -n "$k2id" ] || tap_bail "no archive ids ($k1id, $k2id)"
# Every file's name, size and change time: a restore only ever reads the archive.
digest_of() { (cd "$LIBRARY/$1" && find . -printf '%P %s %C@\n' | sort | sha256sum); }
k1digest=$(digest_of "$k1id")
k2digest=$(digest_of "$k2id")
K2_DST=$(host_path beta var-lib-libvirt/images/k2.qcow2)

# ------------------------------------------------------------------ (3) restore: the disk copy
tap_diag "at $(since "$t_start") s"
restoring_k2_disk() {
    cut_short "$K2_DST" "$K2_SRC" && [ "$(journal_phase beta restore)" = copying ]
}
job=$(call_job beta Restore 'sa{sv}' "$k2id" 0)
tap_ok "virt-ferryd killed while it copies k2's disk onto beta" kill_when beta "$(ferryd_pid beta)" 60 restoring_k2_disk
tap_ok "(3) the kill hit the copy: beta's copy is cut short" cut_short "$K2_DST" "$K2_SRC"
tap_diag "killed with $(kib "$K2_DST") of $(kib "$K2_SRC") KiB copied; journal: $(journal_phase beta restore)"
"$LAB" ferryd beta start >&2
tap_ok "(3) after the restart, the restore is rolled back: its journal is gone" wait_for 120 no_journal beta
tap_is "(3) beta has no k2 defined" "$(defined_on beta k2)" 0
tap_ok "(3) and no copy of its disk" test ! -e "$K2_DST"
tap_is "(3) nothing of k2 in beta's image directory" "$(ls "$(host_path beta var-lib-libvirt/images)" | grep -c k2)" 0
tap_is "(3) k2 is active nowhere (it stays archived)" "$(active_on k2)" none
tap_ok "(3) and still pending deletion on alpha" pending_deletion alpha k2
tap_is "(3) the archive is as it was" "$(digest_of "$k2id")" "$k2digest"

# ------------------------------------------------------------------ (4) restore of memory
tap_diag "at $(since "$t_start") s"
restoring_k1_memory() { [ "$(journal_phase beta restore)" = restoring ]; }
job=$(call_job beta Restore 'sa{sv}' "$k1id" 0)
tap_ok "virt-ferryd killed while libvirt restores k1's memory on beta" \
    kill_when beta "$(ferryd_pid beta)" 120 restoring_k1_memory
tap_is "(4) the kill hit the restore of memory: the journal says restoring" "$(journal_phase beta restore)" restoring
"$LAB" ferryd beta start >&2
tap_ok "(4) after the restart, the restore is rolled back: its journal is gone" wait_for 120 no_journal beta
tap_is "(4) beta has no k1 defined" "$(defined_on beta k1)" 0
tap_is "(4) and nothing of it left in beta's libvirt (status, QEMU)" "$(runtime_left beta k1)" 0
tap_is "(4) k1 is active nowhere (it stays archived)" "$(active_on k1)" none
tap_ok "(4) and still pending deletion on alpha" pending_deletion alpha k1
tap_is "(4) the archive is as it was" "$(digest_of "$k1id")" "$k1digest"

# ------------------------------------------------------------------ the archives still restore, once
tap_diag "at $(since "$t_start") s"
job1=$(call_job beta Restore 'sa{sv}' "$k1id" 0)
job2=$(call_job beta Restore 'sa{sv}' "$k2id" 0)
tap_is "after both rollbacks, k1's archive restores on beta" "$(job_wait beta "$job1")" succeeded
tap_is "and k2's" "$(job_wait beta "$job2")" succeeded
runs_once_on "restored" beta k1 "$k1boot" 0
runs_once_on "restored" beta k2 "$k2boot" 0

# ------------------------------------------------------------------ live migration faults
tap_diag "at $(since "$t_start") s"
migrate_m1() { call_job alpha Migrate 'ssasa{sv}' m1 beta 1 migration 1 bandwidth t 24; }
# The job's Progress once it reaches AT_LEAST (0..1), within SECONDS.
wait_progress() { # HOST JOB AT_LEAST SECONDS
    local p i
    for ((i = 0; i < $4 * 5; i++)); do
        p=$(prop "$1" "$2" $BUS.Job Progress | sed 's/^double //')
        awk -v p="${p:-0}" -v w="$3" 'BEGIN { exit !(p >= w) }' && return 0
        [ "$(jprop "$1" "$2" Status)" = running ] || return 1
        sleep 0.2
    done
    return 1
}
# The migration failed, with a D-Bus error name, and left m1 on alpha alone.
migration_failed() { # WHAT JOB
    local what=$1 job=$2 st
    st=$(job_wait alpha "$job" 180)
    tap_is "$what: the migration job fails" "$st" failed
    tap_is "$what: with org.virtferry.Ferry1.Error.Failed" "$(jprop alpha "$job" Error)" org.virtferry.Ferry1.Error.Failed
    tap_diag "$what: $(jprop alpha "$job" Message)"
    tap_ok "$what: m1 runs on alpha" wait_for 60 running_on alpha m1
    tap_ok "$what: nothing of m1 is left on beta (no definition, no status, no QEMU)" wait_for 60 nothing_on beta m1
    runs_once_on "$what" alpha m1 "$m1boot" 1
}

# (5) the target's QEMU killed
job=$(migrate_m1)
tap_ok "(5) the migration of m1 to beta reaches 20%" wait_progress alpha "$job" 0.2 90
qemu=$(host_pid beta /run/libvirt/qemu/m1.pid)
tap_ok "(5) the target's QEMU is killed" kill_lab beta "$qemu"
migration_failed "(5) target QEMU killed" "$job"

# (6) the target's libvirtd restarted (TERM, then started again as the lab starts it)
job=$(migrate_m1)
tap_ok "(6) the migration of m1 to beta reaches 20%" wait_progress alpha "$job" 0.2 90
pid=$(host_pid beta /run/libvirtd.pid)
tap_ok "(6) the target's libvirtd stops" stop_lab beta "$pid"
on beta libvirtd --daemon --listen --pid-file=/run/libvirtd.pid
tap_ok "(6) and starts again" wait_for 60 answers beta
migration_failed "(6) target libvirtd restarted" "$job"

# (7) the source's libvirtd killed, then started again
wait_for 30 connected alpha
job=$(migrate_m1)
tap_ok "(7) the migration of m1 to beta reaches 20%" wait_progress alpha "$job" 0.2 90
pid=$(host_pid alpha /run/libvirtd.pid)
tap_ok "(7) the source's libvirtd is killed" kill_lab alpha "$pid"
wait_for 10 gone_pid "$pid"
tap_diag "(7) with the source's libvirtd down, the job: $(job_wait alpha "$job" 60)"
on alpha libvirtd --daemon --listen --pid-file=/run/libvirtd.pid
tap_ok "(7) the source's libvirtd starts again" wait_for 60 answers alpha
tap_ok "(7) and virt-ferryd reconnects" wait_for 60 connected alpha
migration_failed "(7) source libvirtd killed" "$job"

# ------------------------------------------------------------------ two mutating calls at once
tap_diag "at $(since "$t_start") s"
out=$(mktemp -d)
on alpha sh -c "gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Archive -- m1 '{}' > $out/archive 2>&1 &
    gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Migrate -- m1 beta \"['migration']\" '{}' > $out/migrate 2>&1 &
    wait"
a=$(cat "$out/archive")
m=$(cat "$out/migrate")
rm -rf "$out"
busy=$(printf '%s\n%s\n' "$a" "$m" | grep -c 'org\.virtferry\.Ferry1\.Error\.Busy')
tap_is "Archive and Migrate of m1 at once: exactly one is Busy" "$busy" 1
jobpath() { sed -n "s|^(objectpath '\(/org/virtferry/Ferry1/job/[0-9]*\)',)$|\1|p" <<< "$1"; }
if [ -n "$(jobpath "$a")" ]; then winner=archive job=$(jobpath "$a"); else winner=migrate job=$(jobpath "$m"); fi
tap_diag "archive: $a" "migrate: $m"
tap_ok "the other returns a job" test -n "$job"
tap_is "which succeeds ($winner won)" "$(job_wait alpha "$job" 180)" succeeded
if [ "$winner" = archive ]; then
    tap_is "m1 is archived: active nowhere" "$(active_on m1)" none
    tap_is "and no migration happened: beta has no m1" "$(defined_on beta m1)" 0
else
    runs_once_on "migrated" beta m1 "$m1boot" 0
    tap_is "and no archive of m1 was made" "$(archives_of m1)" 0
fi

tap_diag "test-faults: $(since "$t_start") s"
tap_done
