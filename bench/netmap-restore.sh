#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab benchmark: a restore that must remap its NIC (table B2 row 5: a portgroup is created on
# beta's Open vSwitch network) against the same restore onto identical networks (row 1), in
# the same run; median of 5 each, printed with their ratio, then one JSON line (json.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/json.sh"
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
LAB=$here/../tests/lab/lab
export VIRT_FERRY_BUILDDIR=$BUILD
. "$here/../tests/lab/tap.sh"
. "$here/../tests/lab/ferry.sh"
RUNS=${BENCH_RUNS:-5}

"$LAB" up 2 >&2
pg() { on "$1" virsh -q net-update ovsnet "$2" portgroup "<portgroup name='$3'><vlan><tag id='300'/></vlan></portgroup>" --live --config > /dev/null 2>&1 || true; }
pg alpha add blue300
"$LAB" guest alpha nb1 --mem 256 --network ovsnet --portgroup blue300 >&2
job=$(call_job alpha Archive 'sa{sv}' nb1 0)
[ "$(job_wait alpha "$job")" = succeeded ] || { echo "archive failed: $(jprop alpha "$job" Message)"; exit 1; }
id=$(jprop alpha "$job" Result)

timed_restore() {
    local t0 job st
    t0=$(now)
    job=$(call_job beta Restore 'sa{sv}' "$id" 0)
    st=$(job_wait beta "$job")
    [ "$st" = succeeded ] || { echo "restore failed: $(jprop beta "$job" Message)" >&2; exit 1; }
    since "$t0"
    on beta virsh -q destroy nb1 > /dev/null
    on beta virsh -q undefine nb1 > /dev/null
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
same=() remap=()
for ((i = 0; i < RUNS; i++)); do
    pg beta add blue300
    same+=("$(timed_restore)")
    pg beta delete blue300
    remap+=("$(timed_restore)")
    pg beta delete vlan300
done
s=$(printf '%s\n' "${same[@]}" | median)
r=$(printf '%s\n' "${remap[@]}" | median)
echo "restore onto identical networks (row 1), median of $RUNS: $s s"
echo "restore with remapping (row 5, portgroup created), median of $RUNS: $r s"
ratio=$(awk -v a="$r" -v b="$s" 'BEGIN { printf "%.3f", a / b }')
echo "ratio: $ratio"
bench_json netmap-restore runs "$RUNS" same_median_s "$s" remap_median_s "$r" ratio "$ratio" \
    same_s "${same[*]}" remap_s "${remap[*]}"
on alpha busctl call $BUS $ROOT $MANAGER Purge s nb1 > /dev/null 2>&1 || true
