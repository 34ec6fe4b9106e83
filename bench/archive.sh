#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab benchmark: virt-ferry's archive and restore of a guest with 1 GiB of dirtying memory and
# a 2 GiB qcow2 disk holding 512 MiB, against the baseline in the same run: `virsh save` then
# `cp --sparse=always` of the disk (and for restore, the copy back then `virsh restore`),
# each followed by sync as virt-ferry syncs. Also the library disk's direct write speed.
# BENCH_RUNS runs (default 5) on the same guest: each line is one run, then the medians with
# their spread (min-max), and one line of JSON (the last line of the output) to compare a run
# with the last; BENCH_JSON_LOG=FILE appends it there and prints the change from the line before.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
LAB=$here/../tests/lab/lab
LAB_DIR=${VIRT_FERRY_LAB_DIR:-/var/lib/virt-ferry-lab}
export VIRT_FERRY_BUILDDIR=$BUILD
. "$here/../tests/lab/tap.sh"
. "$here/../tests/lab/ferry.sh"
MEM=${BENCH_MEM_MIB:-1024}
RUNS=${BENCH_RUNS:-5}
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
# Bytes per second as a fraction of the direct write speed (MB/s).
fraction() { awk -v b="$1" -v s="$2" -v d="$3" 'BEGIN { printf "%.2f", b / s / 1e6 / d }'; }
# Both restores start with a cold page cache, as a restore days later on another host does.
cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# Runs a virt-ferry job on alpha and prints, to stderr and to $BASE/timeline, when its Message
# changed (where the time goes); prints the job path. It looks every 100 ms: each look starts
# busctl, and on this 2-core lab looking every 10 ms takes CPU from the QEMU restoring or saving
# the guest, a cost the baseline (not watched) does not pay.
traced_job() { # METHOD SIGNATURE ARGS...
    on alpha bash -c '
        t0=$(date +%s%N)
        job=$(busctl call '$BUS' '$ROOT' '$MANAGER' "$@" | sed "s/^o \"\(.*\)\"$/\1/")
        last=
        : > '"$BASE"'/timeline
        while :; do
            v=$(busctl get-property '$BUS' "$job" '$BUS'.Job Status Message | tr "\n" " ")
            [ "$v" != "$last" ] && printf "  %6d ms  %s (progress %s)\n" $((($(date +%s%N) - t0) / 1000000)) "$v" \
                "$(busctl get-property '$BUS' "$job" '$BUS'.Job Progress | cut -d" " -f2)" | tee -a '"$BASE"'/timeline >&2
            last=$v
            case "$v" in *running*) sleep 0.1 ;; *) break ;; esac
        done
        echo "$job"' _ "$@"
}
# Seconds from the job's start to its first Message matching PATTERN in the timeline.
timeline_at() { awk -v p="$1" '$0 ~ p { printf "%.3f", $1 / 1000; exit }' "$BASE/timeline"; }

# One run: prints "name=value" lines.
one_run() {
    rm -rf "$BASE" && mkdir -p "$BASE"
    # Direct write speed of the library's disk.
    local direct direct_mbs
    direct=$(on alpha sh -c "dd if=/dev/zero of=$BASE/direct.bin bs=4M count=256 oflag=direct 2>&1 | tail -n 1")
    direct_mbs=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) ~ /^[GM]B\/s$/) print ($(i + 1) == "GB/s" ? $i * 1000 : $i) }' <<< "$direct")
    rm -f "$BASE/direct.bin"

    # Baseline archive: save, then copy the disk.
    local base_archive base_bytes base_alloc mem_bytes save_only base_restore
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
    # Baseline restore: the disk back, then restore the memory state.
    on alpha rm -f $IMG/b1-data.qcow2
    cold
    base_restore=$(t on alpha sh -c "cp --sparse=always $BASE/disk.qcow2 $IMG/b1-data.qcow2 && virsh -q restore $BASE/mem.save && sync")
    rm -f "$BASE"/mem.save "$BASE"/disk.qcow2
    sync

    # virt-ferry: Archive, then Restore in place of the domain pending deletion.
    local t0 job st id ferry_archive ferry_bytes ferry_alloc mem_done ferry_restore
    t0=$(now)
    echo "virt-ferry archive, phase by phase:" >&2
    job=$(traced_job Archive 'sa{sv}' b1 0)
    st=$(job_wait alpha "$job")
    ferry_archive=$(since "$t0")
    [ "$st" = succeeded ] || { echo "archive: $st: $(jprop alpha "$job" Message)" >&2; exit 1; }
    # The memory state is written when libvirt's save returned and the image is digested (the
    # job then writes the manifest); the disk copies run beside the save and end before it.
    mem_done=$(timeline_at "writing th|succeeded")
    id=$(jprop alpha "$job" Result)
    ferry_bytes=$(du -cb "$LAB_DIR/shared/archive/$id"/memory.save "$LAB_DIR/shared/archive/$id"/disks/* | tail -n 1 | cut -f1)
    ferry_alloc=$(du -sk "$LAB_DIR/shared/archive/$id" | cut -f1)
    cold
    t0=$(now)
    echo "virt-ferry restore, phase by phase:" >&2
    job=$(traced_job Restore 'sa{sv}' "$id" 0)
    st=$(job_wait alpha "$job")
    ferry_restore=$(since "$t0")
    [ "$st" = succeeded ] || { echo "restore: $st: $(jprop alpha "$job" Message)" >&2; exit 1; }
    rm -rf "$LAB_DIR/shared/archive/$id"

    echo "direct_mbs=$direct_mbs"
    echo "mem_bytes=$mem_bytes"
    echo "save_only=$save_only"
    echo "virsh_mem_write_fraction=$(fraction "$mem_bytes" "$save_only" "$direct_mbs")"
    echo "base_archive=$base_archive"
    echo "ferry_archive=$ferry_archive"
    echo "archive_ratio=$(ratio "$ferry_archive" "$base_archive")"
    echo "mem_write_fraction=$(fraction "$mem_bytes" "$mem_done" "$direct_mbs")"
    echo "archive_fraction=$(fraction "$ferry_bytes" "$ferry_archive" "$direct_mbs")"
    echo "base_restore=$base_restore"
    echo "ferry_restore=$ferry_restore"
    echo "restore_ratio=$(ratio "$ferry_restore" "$base_restore")"
    echo "size_ratio=$(ratio "$ferry_alloc" "$base_alloc")"
}

KEYS="direct_mbs save_only virsh_mem_write_fraction base_archive ferry_archive archive_ratio mem_write_fraction archive_fraction base_restore ferry_restore restore_ratio size_ratio"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for ((run = 1; run <= RUNS; run++)); do
    echo "run $run of $RUNS" >&2
    out=$(one_run)
    mem_bytes=$(sed -n 's/^mem_bytes=//p' <<< "$out")
    grep -v '^mem_bytes=' <<< "$out" | sed "s/^/$run /" >> "$results"
    printf 'run %d: archive %ss vs %ss (%s), restore %ss vs %ss (%s), memory written at %s of direct write (virsh save %s)\n' "$run" \
        $(for k in ferry_archive base_archive archive_ratio ferry_restore base_restore restore_ratio mem_write_fraction virsh_mem_write_fraction; do
            awk -v k="$k" -F'[ =]' '$2 == k { v = $3 } END { print v }' "$results"; done)
done

# Median, min and max of a key over the runs.
stat_of() { # KEY -> "median min max"
    awk -v k="$1" -F'[ =]' '$2 == k { print $3 }' "$results" | sort -g |
        awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%g %g %g", m, v[1], v[NR] }'
}
med() { set -- $(stat_of "$1"); echo "$1"; }
spread() { set -- $(stat_of "$1"); echo "$1 ($2-$3)"; }

echo "guest: $MEM MiB memory (save image $(mib "$mem_bytes") MiB), disk 2 GiB holding $DATA MiB; medians of $RUNS runs (min-max)"
echo "library disk direct write: $(spread direct_mbs) MB/s"
echo "virsh save alone: $(spread save_only) s, $(spread virsh_mem_write_fraction) of direct write"
echo "archive: virt-ferry $(spread ferry_archive) s, baseline (virsh save + cp --sparse=always + sync) $(spread base_archive) s: ratio $(spread archive_ratio)"
echo "memory state written at $(spread mem_write_fraction) of direct write; the whole archive at $(spread archive_fraction)"
echo "restore (cold cache): virt-ferry $(spread ferry_restore) s (verify included), baseline (cp back + virsh restore + sync) $(spread base_restore) s: ratio $(spread restore_ratio)"
echo "size on disk: ratio $(spread size_ratio)"

json='{"bench":"archive","runs":'$RUNS',"mem_mib":'$MEM',"disk_data_mib":'$DATA
for k in $KEYS; do
    set -- $(stat_of "$k")
    json+=',"'$k'":'$1',"'$k'_min":'$2',"'$k'_max":'$3
done
json+=',"time":"'$(date -u +%FT%TZ)'"}'
if [ -n "${BENCH_JSON_LOG:-}" ]; then
    if [ -s "$BENCH_JSON_LOG" ]; then
        tail -n 1 "$BENCH_JSON_LOG" | awk -v now="$json" '
            function get(s, k,   m) { return match(s, "\"" k "\":[-0-9.e]+") ? substr(s, RSTART + length(k) + 3, RLENGTH - length(k) - 3) : "" }
            { n = split("archive_ratio restore_ratio mem_write_fraction", ks, " ")
              for (i = 1; i <= n; i++) printf "%s: %s, last run %s\n", ks[i], get(now, ks[i]), get($0, ks[i]) }'
    fi
    echo "$json" >> "$BENCH_JSON_LOG"
fi

on alpha virsh -q destroy b1 > /dev/null 2>&1 || true
on alpha virsh -q undefine b1 > /dev/null 2>&1 || true
rm -rf "$BASE"
echo "$json"
