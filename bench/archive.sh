#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab benchmark: virt-ferry's archive and restore of a guest with 1 GiB of dirtying memory and
# a 2 GiB qcow2 disk holding 512 MiB, against the baseline in the same run: `virsh save` then
# `cp --sparse=always` of the disk (and for restore, the copy back then `virsh restore`),
# each followed by sync as virt-ferry syncs. Also the library disk's direct write speed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
LAB=$here/../tests/lab/lab
LAB_DIR=${VIRT_FERRY_LAB_DIR:-/var/lib/virt-ferry-lab}
export VIRT_FERRY_BUILDDIR=$BUILD
. "$here/../tests/lab/tap.sh"
. "$here/../tests/lab/ferry.sh"
MEM=${BENCH_MEM_MIB:-1024}
DATA=${BENCH_DISK_DATA_MIB:-512}
BASE=$LAB_DIR/shared/bench-baseline
IMG=/var/lib/libvirt/images

"$LAB" up 1 >&2
on alpha virsh -q destroy b1 > /dev/null 2>&1 || true
on alpha virsh -q undefine b1 --nvram > /dev/null 2>&1 || true
rm -rf "$BASE" "$LAB_DIR/shared/archive"/b1-*
mkdir -p "$BASE"

# The disk: 2 GiB virtual, DATA MiB of incompressible data.
on alpha sh -c "rm -f $IMG/b1-data.qcow2 && head -c ${DATA}M /dev/urandom > $IMG/b1-data.raw &&
    qemu-img convert -q -O qcow2 $IMG/b1-data.raw $IMG/b1-data.qcow2 && rm $IMG/b1-data.raw &&
    qemu-img resize -q $IMG/b1-data.qcow2 2G"
"$LAB" guest alpha b1 --mem "$MEM" --dirty 16 >&2
# The test guest's machine has no hotplug: the disk goes in while it is off.
on alpha virsh -q destroy b1 > /dev/null
on alpha virsh -q attach-disk b1 $IMG/b1-data.qcow2 vdb --driver qemu --subdriver qcow2 --config > /dev/null
on alpha virsh -q start b1 > /dev/null
console=$LAB_DIR/hosts/alpha/var-log-libvirt/qemu/b1.console
wait_for 120 bash -c "[ \$(grep -ac 'ready name=b1' '$console') -ge 2 ]"
sleep 2

t() { local t0; t0=$(now); "$@" > /dev/null; since "$t0"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

# Direct write speed of the library's disk.
direct=$(on alpha sh -c "dd if=/dev/zero of=$BASE/direct.bin bs=4M count=256 oflag=direct 2>&1 | tail -n 1")
direct_mbs=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) ~ /^[GM]B\/s$/) print ($(i + 1) == "GB/s" ? $i * 1000 : $i) }' <<< "$direct")
rm -f "$BASE/direct.bin"

# Baseline archive: save, then copy the disk.
base_archive=$(t on alpha sh -c "virsh -q save b1 $BASE/mem.save && cp --sparse=always $IMG/b1-data.qcow2 $BASE/disk.qcow2 && sync")
base_bytes=$(du -cb "$BASE"/mem.save "$BASE"/disk.qcow2 | tail -n 1 | cut -f1)
base_alloc=$(du -ck "$BASE"/mem.save "$BASE"/disk.qcow2 | tail -n 1 | cut -f1)
mem_bytes=$(stat -c %s "$BASE/mem.save")
# The save alone, from the guest running again.
on alpha virsh -q restore "$BASE/mem.save" > /dev/null
save_only=$(t on alpha sh -c "virsh -q save b1 $BASE/mem3.save && sync")
on alpha virsh -q restore "$BASE/mem3.save" > /dev/null
rm -f "$BASE/mem3.save"
on alpha virsh -q destroy b1 > /dev/null
# Baseline restore: the disk back, then restore the memory state. Both restores start with
# a cold page cache, as a restore days later on another host does.
cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }
on alpha rm -f $IMG/b1-data.qcow2
cold
base_restore=$(t on alpha sh -c "cp --sparse=always $BASE/disk.qcow2 $IMG/b1-data.qcow2 && virsh -q restore $BASE/mem.save && sync")

# Runs a virt-ferry job on alpha and prints, to stderr, when its Message changed (where the
# time goes); prints the job path.
traced_job() { # METHOD SIGNATURE ARGS...
    on alpha bash -c '
        t0=$(date +%s%N)
        job=$(busctl call '$BUS' '$ROOT' '$MANAGER' "$@" | sed "s/^o \"\(.*\)\"$/\1/")
        last=
        while :; do
            v=$(busctl get-property '$BUS' "$job" '$BUS'.Job Status Message | tr "\n" " ")
            [ "$v" != "$last" ] && printf "  %6d ms  %s\n" $((($(date +%s%N) - t0) / 1000000)) "$v" >&2
            last=$v
            case "$v" in *running*) sleep 0.01 ;; *) break ;; esac
        done
        echo "$job"' _ "$@"
}

# virt-ferry: Archive, then Restore in place of the domain pending deletion.
t0=$(now)
echo "virt-ferry archive, phase by phase:" >&2
job=$(traced_job Archive 'sa{sv}' b1 0)
st=$(job_wait alpha "$job")
ferry_archive=$(since "$t0")
[ "$st" = succeeded ] || { echo "archive: $st: $(jprop alpha "$job" Message)"; exit 1; }
id=$(jprop alpha "$job" Result)
ferry_bytes=$(du -cb "$LAB_DIR/shared/archive/$id"/memory.save "$LAB_DIR/shared/archive/$id"/disks/* | tail -n 1 | cut -f1)
ferry_alloc=$(du -sk "$LAB_DIR/shared/archive/$id" | cut -f1)
cold
t0=$(now)
echo "virt-ferry restore, phase by phase:" >&2
job=$(traced_job Restore 'sa{sv}' "$id" 0)
st=$(job_wait alpha "$job")
ferry_restore=$(since "$t0")
[ "$st" = succeeded ] || { echo "restore: $st: $(jprop alpha "$job" Message)"; exit 1; }

echo "guest: $MEM MiB memory (save image $(mib "$mem_bytes") MiB), disk 2 GiB holding $DATA MiB"
echo "library disk direct write: $direct_mbs MB/s"
echo "virsh save alone: $save_only s ($(awk -v b="$mem_bytes" -v s="$save_only" -v d="$direct_mbs" 'BEGIN { printf "%.0f MB/s, %.2f of direct write", b / s / 1e6, b / s / 1e6 / d }'))"
echo "archive: virt-ferry $ferry_archive s, baseline (virsh save + cp --sparse=always + sync) $base_archive s: ratio $(ratio "$ferry_archive" "$base_archive")"
echo "archive throughput: $(awk -v b="$ferry_bytes" -v s="$ferry_archive" -v d="$direct_mbs" 'BEGIN { printf "%.0f MB/s, %.2f of direct write", b / s / 1e6, b / s / 1e6 / d }')"
echo "restore (cold cache): virt-ferry $ferry_restore s (verify included), baseline (cp back + virsh restore + sync) $base_restore s: ratio $(ratio "$ferry_restore" "$base_restore")"
echo "size: virt-ferry $(mib "$ferry_bytes") MiB in files, $((ferry_alloc / 1024)) MiB on disk; baseline $(mib "$base_bytes") MiB in files, $((base_alloc / 1024)) MiB on disk: ratio $(ratio "$ferry_alloc" "$base_alloc")"
on alpha virsh -q destroy b1 > /dev/null 2>&1 || true
on alpha virsh -q undefine b1 > /dev/null 2>&1 || true
rm -rf "$BASE" "$LAB_DIR/shared/archive/$id"
