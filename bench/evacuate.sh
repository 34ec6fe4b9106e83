#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab benchmark: virt-ferry's Evacuate of alpha (8 guests of 256 MiB that keep dirtying
# memory, to beta and gamma) against the same moves as a sequential `virsh migrate --live
# --p2p` loop and as all of them started at once: wall time of each and its ratio to the
# loop, and each run's worst guest downtime (libvirt's "Total downtime" of the incoming
# migration, read on the target). Before the first run and between the runs the guests go to
# a peer and back to alpha (untimed).
# BENCH_GUESTS, BENCH_MEM_MIB, BENCH_DIRTY_MIB change the load.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/json.sh"
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
export VIRT_FERRY_BUILDDIR=$BUILD
. "$here/../tests/lab/tap.sh"
. "$here/../tests/lab/ferry.sh"
N=${BENCH_GUESTS:-8}
MEM=${BENCH_MEM_MIB:-256}
DIRTY=${BENCH_DIRTY_MIB:-4}

"$LAB" up 3 >&2
for h in alpha beta gamma; do on "$h" virsh capabilities > /dev/null; done
guests=()
for ((i = 1; i <= N; i++)); do guests+=("ev$i"); done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
where() { local h; for h in beta gamma alpha; do
    [ "$(on "$h" virsh domstate "$1" 2> /dev/null | head -n 1)" = running ] && { echo "$h"; return 0; }; done
    echo nowhere; }
# Under TCG a guest sometimes panics right after an incoming migration ("Fatal exception in
# interrupt", QEMU 7.2), whoever migrates it: counted, and booted again before the next run.
dead() { local g n=0; for g in "${guests[@]}"; do [ "$(where "$g")" = nowhere ] && n=$((n + 1)); done; echo $n; }
downtime_ms() { # HOST DOMAIN: the incoming migration's downtime there
    on "$1" virsh domjobinfo --completed "$2" 2> /dev/null | awk '/^Total downtime:/ { print $3 }'
}
worst_downtime() { # the worst over every guest, where it runs now
    local g w=0 d
    for g in "${guests[@]}"; do
        [ "$(where "$g")" = nowhere ] && continue
        d=$(downtime_ms "$(where "$g")" "$g"); d=${d:-0}
        [ "$d" -gt "$w" ] && w=$d
    done
    echo "$w"
}
back_to_alpha() {
    local g h
    for g in "${guests[@]}"; do
        h=$(where "$g")
        case $h in
            alpha) ;;
            nowhere)
                for h in alpha beta gamma; do on "$h" virsh undefine "$g" > /dev/null 2>&1 || true; done
                "$LAB" guest alpha "$g" --mem "$MEM" --dirty "$DIRTY" >&2 ;;
            *) on "$h" virsh migrate --live --p2p --persistent --undefinesource "$g" qemu+tcp://alpha/system \
                   > /dev/null ;;
        esac
    done
}
back_to_alpha
# Every run starts from guests with the same history: under TCG here a guest migrated soon
# after its boot dies far more often than one that has run for a while (5 of 8 against 1 of
# 8 for the same Evacuate), so each guest goes to a peer and back once, untimed, first.
warm_up() {
    local g i=0 to
    for g in "${guests[@]}"; do
        to=beta; [ $((i % 2)) = 1 ] && to=gamma; i=$((i + 1))
        on alpha virsh migrate --live --p2p --persistent --undefinesource "$g" "qemu+tcp://$to/system" > /dev/null
    done
    back_to_alpha
}
warm_up

# ---- virt-ferry: one Evacuate, batch 10
t0=$(now)
job=$(on alpha gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Evacuate "@as []" "@a{sv} {}" |
    sed -e "s/^(objectpath '\(.*\)',)$/\1/")
s=$(job_wait alpha "$job" 1800)
EVAC=$(since "$t0")
[ "$s" = succeeded ] || { echo "evacuation ended $s: $(jprop alpha "$job" Message)" >&2; exit 1; }
EVAC_DOWN=$(worst_downtime)
EVAC_DEAD=$(dead)
declare -A target
# Where the evacuation put each guest (defined there, running or not).
defined_where() { local h; for h in beta gamma; do
    on "$h" virsh dominfo "$1" > /dev/null 2>&1 && { echo "$h"; return 0; }; done; echo alpha; }
for g in "${guests[@]}"; do target[$g]=$(defined_where "$g"); done
back_to_alpha

# ---- baseline 1: a sequential virsh loop, to the same targets
t0=$(now)
for g in "${guests[@]}"; do
    on alpha virsh migrate --live --p2p --persistent --undefinesource "$g" "qemu+tcp://${target[$g]}/system" > /dev/null
done
LOOP=$(since "$t0")
LOOP_DOWN=$(worst_downtime)
LOOP_DEAD=$(dead)
back_to_alpha

# ---- baseline 2: every virsh migrate at once
t0=$(now)
pids=()
for g in "${guests[@]}"; do
    on alpha virsh migrate --live --p2p --persistent --undefinesource "$g" "qemu+tcp://${target[$g]}/system" \
        > /dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
PAR=$(since "$t0")
PAR_DOWN=$(worst_downtime)
PAR_DEAD=$(dead)

echo "evacuate $N guests of $MEM MiB dirtying $DIRTY MiB/s, alpha -> beta + gamma ($("$LAB" accel))"
printf 'virt-ferry Evacuate:       %8.1f s  worst downtime %6s ms  guests dead after it: %s\n' "$EVAC" "$EVAC_DOWN" "$EVAC_DEAD"
printf 'virsh migrate loop:        %8.1f s  worst downtime %6s ms  guests dead after it: %s\n' "$LOOP" "$LOOP_DOWN" "$LOOP_DEAD"
printf 'virsh migrate all at once: %8.1f s  worst downtime %6s ms  guests dead after it: %s\n' "$PAR" "$PAR_DOWN" "$PAR_DEAD"
echo "ratio Evacuate / loop: $(ratio "$EVAC" "$LOOP") (goal <= 0.4); Evacuate / all at once: $(ratio "$EVAC" "$PAR")"
# One line for whoever collects the numbers (json.sh).
bench_json evacuate guests "$N" mem_mib "$MEM" dirty_mib_s "$DIRTY" accel "$("$LAB" accel | cut -d" " -f1)" \
    evacuate_s "$EVAC" loop_s "$LOOP" all_at_once_s "$PAR" \
    ratio_loop "$(ratio "$EVAC" "$LOOP")" ratio_all_at_once "$(ratio "$EVAC" "$PAR")" goal_ratio_loop 0.4 \
    worst_downtime_ms_evacuate "$EVAC_DOWN" worst_downtime_ms_loop "$LOOP_DOWN" worst_downtime_ms_all_at_once "$PAR_DOWN" \
    guests_dead_evacuate "$EVAC_DEAD" guests_dead_loop "$LOOP_DEAD" guests_dead_all_at_once "$PAR_DEAD"
