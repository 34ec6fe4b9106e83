#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab benchmark: virt-ferry's live migration with no options (it tunes itself: see
# virt-ferry(1), migrate) against a grid of plain `virsh migrate --live --p2p` flag
# combinations run in the same benchmark: default, --parallel --parallel-connections 2,
# --parallel --parallel-connections 4, --compressed; on a guest of BENCH_MEM_MIB (256) MiB
# dirtying each of BENCH_DIRTY_RATES (8 32 96) MiB/s, migrated back and forth between alpha
# and beta, the configurations interleaved run by run. Per configuration: the median of
# BENCH_RUNS (3) runs' wall time with their spread, the guest's downtime (libvirt's completed
# job statistics on the target, median), and the fraction of the lab link (measured first
# with a plain TCP stream) that the guest's memory over the median time makes; a run that
# does not converge within BENCH_LIMIT (60) s is aborted (virsh: SIGINT, as a user would) and
# counted as not finished. Then the ratio of virt-ferry to the best virsh configuration per
# dirty rate, and one JSON line of all results. BENCH_STORAGE=1 adds the storage migration
# and cold move of a 2 GiB disk (against virsh --copy-storage-all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
export VIRT_FERRY_BUILDDIR=$BUILD
. "$here/../tests/lab/tap.sh"
. "$here/../tests/lab/ferry.sh"
MEM=${BENCH_MEM_MIB:-256}
RATES=${BENCH_DIRTY_RATES:-8 32 96}
RUNS=${BENCH_RUNS:-3}
LIMIT=${BENCH_LIMIT:-60}
DATA=${BENCH_DISK_DATA_MIB:-512}
IMG=/var/lib/libvirt/images
# virt-ferryd logs each migration's phases (checks, preparing, libvirt migrates, done).
export G_MESSAGES_DEBUG=virt-ferry
CONFIGS=("virsh default" "virsh parallel 2" "virsh parallel 4" "virsh compressed" "virt-ferry")

"$LAB" up 2 >&2
# A libvirtd's first capabilities question after it starts takes seconds here (it probes the
# host CPU and QEMU); a host that has run for a while has that behind it. Both hosts get it
# behind them before anything is timed, so neither side pays it.
for h in alpha beta; do on "$h" virsh capabilities > /dev/null; on "$h" virsh domcapabilities > /dev/null; done
t() { local t0; t0=$(now); "$@" > /dev/null; since "$t0"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "null" }'; }
other() { [ "$1" = alpha ] && echo beta || echo alpha; }
uri() { echo "qemu+tcp://$1/system"; }

# ---- the lab link, as a plain TCP stream of 1 GiB (python3's sockets, no tuning)
link_mib_s() {
    on beta sh -c 'python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"0.0.0.0\", 5599)); s.listen(1)
c, _ = s.accept()
while c.recv(1 << 20): pass
" > /dev/null 2>&1 &'
    sleep 1
    on alpha python3 -c "
import socket, time
s = socket.create_connection(('beta', 5599)); buf = b'\0' * (1 << 20); t0 = time.time()
for _ in range(1024): s.sendall(buf)
s.close(); print('%.0f' % (1024 / (time.time() - t0)))"
}
LINK=$(link_mib_s)
echo "lab link: $LINK MiB/s (1 GiB over TCP, alpha -> beta); guest of $MEM MiB; medians of $RUNS runs (min-max)"

# One migration of bm from FROM to the other host by CONFIG; prints "SECONDS DOWNTIME_MS"
# or "dnf -". The guest is where it was when it did not finish.
migrate_once() { # FROM CONFIG
    local from=$1 to t0 s rc=0 flags=()
    to=$(other "$from")
    case "$2" in
        "virsh parallel 2") flags=(--parallel --parallel-connections 2) ;;
        "virsh parallel 4") flags=(--parallel --parallel-connections 4) ;;
        "virsh compressed") flags=(--compressed) ;;
    esac
    t0=$(now)
    if [ "$2" = virt-ferry ]; then
        on "$from" timeout -s INT "$LIMIT" virt-ferry migrate bm "$to" --method migration > /dev/null 2>&1 || rc=$?
    else
        on "$from" timeout -s INT "$LIMIT" virsh migrate --live --p2p --persistent --undefinesource "${flags[@]}" \
            bm "$(uri "$to")" > /dev/null 2>&1 || rc=$?
    fi
    s=$(since "$t0")
    if [ $rc != 0 ]; then
        # virt-ferry gave up (or the limit came): the guest runs on where it was.
        wait_for 30 bash -c "'$LAB' exec $from virsh domstate bm 2> /dev/null | grep -q running" || true
        echo "dnf -"
        return
    fi
    echo "$s $(on "$to" virsh domjobinfo --completed bm 2> /dev/null | awk '/^Total downtime:/ { print $3; exit }')"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "null"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minmax() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }

declare -A TIMES DOWN DNF
json_rows=()
for rate in $RATES; do
    on alpha virsh -q destroy bm > /dev/null 2>&1 || true
    on alpha virsh -q undefine bm > /dev/null 2>&1 || true
    on beta virsh -q destroy bm > /dev/null 2>&1 || true
    on beta virsh -q undefine bm > /dev/null 2>&1 || true
    "$LAB" guest alpha bm --mem "$MEM" --dirty "$rate" >&2
    sleep 2
    where=alpha
    for ((run = 1; run <= RUNS; run++)); do
        for c in "${CONFIGS[@]}"; do
            key="$rate/$c"
            [ "${DNF[$key]:-0}" -gt 0 ] && continue # once it did not finish, it is not tried again
            read -r s d <<< "$(migrate_once "$where" "$c")"
            if [ "$s" = dnf ]; then
                DNF[$key]=1
                echo "  ($rate MiB/s, $c: run $run did not finish within $LIMIT s)" >&2
                continue
            fi
            TIMES[$key]+="$s "
            DOWN[$key]+="${d:-0} "
            where=$(other "$where")
        done
    done
    on "$where" virsh -q destroy bm > /dev/null
    on "$where" virsh -q undefine bm > /dev/null
    echo "live migration of $MEM MiB dirtying $rate MiB/s:"
    # The phases of virt-ferry's last migration here, and the settings it picked.
    for h in alpha beta; do
        grep -a "migrate bm (" "$LAB_DIR/hosts/$h/var-log-libvirt/virt-ferryd.log" 2> /dev/null | tail -n 5 |
            sed -e "s/^.*migrate bm/  ($h) virt-ferry phases: bm/" || true
    done | tail -n 5
    best=
    for c in "${CONFIGS[@]}"; do
        key="$rate/$c"
        if [ "${DNF[$key]:-0}" -gt 0 ]; then
            printf '  %-18s did not finish within %s s\n' "$c" "$LIMIT"
            json_rows+=("{\"dirty_mib_s\":$rate,\"config\":\"$c\",\"finished\":false}")
            continue
        fi
        med=$(tr ' ' '\n' <<< "${TIMES[$key]}" | grep . | median)
        spread=$(tr ' ' '\n' <<< "${TIMES[$key]}" | grep . | minmax)
        down=$(tr ' ' '\n' <<< "${DOWN[$key]}" | grep . | median)
        frac=$(ratio "$(awk -v m="$MEM" -v t="$med" 'BEGIN { print m / t }')" "$LINK")
        printf '  %-18s %6.2f s (%s)  downtime %s ms  %s of the link\n' "$c" "$med" "$spread" "$down" "$frac"
        json_rows+=("{\"dirty_mib_s\":$rate,\"config\":\"$c\",\"finished\":true,\"median_s\":$med,\"spread_s\":\"$spread\",\"downtime_ms\":$down,\"link_fraction\":$frac}")
        if [ "$c" = virt-ferry ]; then
            eval "FERRY_$rate=$med"
        elif [ -z "$best" ] || awk -v a="$med" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$med
            eval "BEST_$rate=\$med; BESTC_$rate=\"\$c\""
        fi
    done
    f=$(eval "echo \${FERRY_$rate:-}")
    if [ -n "$f" ] && [ -n "$best" ]; then
        echo "  ratio virt-ferry / best virsh ($(eval "echo \$BESTC_$rate")): $(ratio "$f" "$best")"
    else
        echo "  ratio virt-ferry / best virsh: none (one side never finished)"
    fi
done

ratios=
for rate in $RATES; do
    f=$(eval "echo \${FERRY_$rate:-}")
    b=$(eval "echo \${BEST_$rate:-}")
    r=null
    [ -n "$f" ] && [ -n "$b" ] && r=$(ratio "$f" "$b")
    ratios+="${ratios:+,}\"$rate\":$r"
done

if [ "${BENCH_STORAGE:-0}" = 1 ]; then
    # ---- storage migration: a 2 GiB qcow2 disk holding DATA MiB of incompressible data
    on alpha sh -c "rm -f $IMG/bs.qcow2 && head -c ${DATA}M /dev/urandom > $IMG/bs.raw &&
        qemu-img convert -q -O qcow2 $IMG/bs.raw $IMG/bs.qcow2 && rm $IMG/bs.raw && qemu-img resize -q $IMG/bs.qcow2 2G"
    "$LAB" guest alpha bs --mem 256 --dirty 4 >&2
    on alpha virsh -q destroy bs > /dev/null
    on alpha virsh -q attach-disk bs $IMG/bs.qcow2 vdb --driver qemu --subdriver qcow2 --config > /dev/null
    on alpha virsh -q start bs > /dev/null
    sleep 5
    # libvirt's copy-storage-all needs the image on the target first, as virt-ferry makes it.
    on beta qemu-img create -q -f qcow2 $IMG/bs.qcow2 2G
    base=$(t on alpha virsh migrate --live --p2p --copy-storage-all --persistent --undefinesource bs "$(uri beta)")
    on alpha rm -f $IMG/bs.qcow2
    t0=$(now)
    on beta virt-ferry migrate bs alpha --method storage-migration > /dev/null
    ferry=$(since "$t0")
    on beta rm -f $IMG/bs.qcow2
    moved=$((DATA + 256))
    echo "storage migration of a 2 GiB disk holding $DATA MiB (and 256 MiB of memory):"
    echo "  virsh migrate --copy-storage-all  $base s  ($(ratio "$(awk -v m="$moved" -v t="$base" 'BEGIN { print m / t }')" "$LINK") of the link)"
    echo "  virt-ferry storage-migration      $ferry s  ($(ratio "$(awk -v m="$moved" -v t="$ferry" 'BEGIN { print m / t }')" "$LINK") of the link)"
    echo "  ratio virt-ferry / virsh: $(ratio "$ferry" "$base")"
    json_rows+=("{\"storage_migration\":true,\"virsh_s\":$base,\"virt_ferry_s\":$ferry}")
    on alpha virsh -q destroy bs > /dev/null
    on alpha virsh -q undefine bs > /dev/null
    on alpha rm -f $IMG/bs.qcow2
fi

rows=$(IFS=,; echo "${json_rows[*]}")
echo "{\"bench\":\"migrate\",\"link_mib_s\":$LINK,\"mem_mib\":$MEM,\"runs\":$RUNS,\"limit_s\":$LIMIT,\"results\":[$rows],\"ratio_to_best_virsh\":{$ratios}}"
