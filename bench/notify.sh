#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferry-notify's cost (issue 14), its desktop being dunst (Debian's) under Xvfb:
#  1. latency from a job's InterfacesAdded (the service's signal) to the notification
#     server's receipt (dunst's answer to the agent's Notify), p50/p99 (goal: p99 < 100 ms):
#     over 200 jobs of the scripted stand-in (tests/unit/test-cli-jobd) on a private bus,
#     started 20 ms apart; and (3.) over 200 verify jobs of a real virt-ferryd on lab host
#     alpha, one after the other. The times are dbus-monitor's, on the one machine clock.
#  2. the agent's CPU time while 20 jobs report progress ten times a second each (the
#     stand-in), against the same agent idle: it must not poll, and sends about one update a
#     second per job.
# Run as root, the lab part under the lab lock (NOTIFY_BENCH_LAB=0 leaves it out):
#   VIRT_FERRY_LAB_DIR=/var/lib/virt-ferry-lab-X flock /work/wt/lab.lock bench/notify.sh
# Prints numbers and ratios, then one JSON line (json.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../tests/lab
. "$lab/tap.sh"
tap_skip_all() { echo "SKIP: $*"; exit 0; }
. "$lab/ferry.sh"
. "$lab/desktop.sh"
JOBS=${NOTIFY_BENCH_JOBS:-200}
PROGRESS_JOBS=20
# The stand-in's slow jobs move 1 % every 100 ms and stop moving at 99 %: 9.9 s of progress.
PROGRESS_SECONDS=8
JOBD=$BUILD/tests/unit/test-cli-jobd
[ -x "$JOBD" ] || { echo "SKIP: $JOBD is not built (make check builds it)"; exit 0; }

cleanup() {
    desktop_down
    [ -n "${SYSMON_PID:-}" ] && on alpha kill "$SYSMON_PID" 2> /dev/null
    [ -n "${JOBD_PID:-}" ] && kill "$JOBD_PID" 2> /dev/null
    [ -n "${PRIV_BUS_PID:-}" ] && kill "$PRIV_BUS_PID" 2> /dev/null
    [ -n "${LAB_USED:-}" ] && "$LAB" down > /dev/null 2>&1
}
trap cleanup EXIT

# Latency pairs from a monitor log of virt-ferryd's side (ARG 1) and the session's Notify calls:
# the i-th job's InterfacesAdded with the answer to the i-th first Notify whose summary holds
# ARG 2. Prints: signals, first notifications, pairs, p50, p99, max (ms), ends alone, summaries.
latency() {
    python3 - "$1" "$DESK/monitor.log" "$2" <<'EOF'
import re, sys
def blocks(path):
    head, args = None, []
    for line in open(path, errors="replace"):
        if re.match(r"^(signal|method call|method return|error) ", line):
            if head: yield head, args
            head, args = line, []
        elif head:
            args.append(line.strip())
    if head: yield head, args
field = lambda head, k: (re.search(r"\b%s=(\S+)" % k, head) or [None, None])[1]
starts = [float(field(h, "time")) for h, a in blocks(sys.argv[1])
          if "member=InterfacesAdded" in h and any("/job/" in x for x in a[:1])]
calls, returns = [], {}
for h, a in blocks(sys.argv[2]):
    if h.startswith("method call") and "member=Notify" in h and len(a) >= 4:
        calls.append((float(field(h, "time")), field(h, "sender"), field(h, "serial"), a[1], a[3]))
    elif h.startswith("method return"):
        returns[(field(h, "destination"), field(h, "reply_serial"))] = float(field(h, "time"))
# The server's receipt: the bus delivering the call to it (dbus-monitor's time of the call);
# its answer comes after it drew the notification, which is the server's own cost.
firsts = [(t, returns.get((s, n))) for t, s, n, replaces, summary in calls if replaces == "uint32 0" and sys.argv[3] in summary]
pairs = [(b[0] - a) * 1000 for a, b in zip(starts, firsts)]
answers = sorted((b[1] - b[0]) * 1000 for b in firsts if b[1] is not None)
pairs.sort()
pct = lambda p: pairs[min(len(pairs) - 1, int(p * len(pairs)))] if pairs else float("nan")
print(len(starts), len(firsts), len(pairs), "%.2f" % pct(0.5), "%.2f" % pct(0.99), "%.2f" % (pairs[-1] if pairs else float("nan")),
      sum(1 for c in calls if sys.argv[3] in c[4].lower() and "succeeded" in c[4]),
      sum(1 for c in calls if "jobs ended" in c[4]),
      "%.2f" % (answers[len(answers) // 2] if answers else float("nan")))
EOF
}

DESK_DUNST_LIMIT=20 desktop_up
# ------------------------------------------------------------------ the stand-in on a private bus
private_bus_conf system "unix:path=$DESK/private" > "$DESK/private.conf"
runuser -u "$DESK_USER" -- dbus-daemon --config-file="$DESK/private.conf" --fork --print-pid=5 5> "$DESK/private.pid"
PRIV_BUS_PID=$(cat "$DESK/private.pid")
PRIV=unix:path=$DESK/private
wait_for 5 test -S "$DESK/private"
sess env DBUS_SYSTEM_BUS_ADDRESS="$PRIV" sh -c 'echo $$ > "$0/jobd.pid"; exec "$1" > "$0/jobd.log" 2>&1' "$DESK" "$JOBD" &
wait_for 5 grep -q ready "$DESK/jobd.log" 2> /dev/null
JOBD_PID=$(cat "$DESK/jobd.pid")
sess sh -c 'echo $$ > "$0/agent.pid"; exec "$1" --bus-address "$2" >> "$0/agent.log" 2>&1' "$DESK" "$AGENT" "$PRIV" &
sleep 2
apid=$(cat "$DESK/agent.pid")
# 1. latency: 200 jobs of the stand-in (0.4 s each), started 20 ms apart.
sess sh -c 'echo $$ > "$0/sysmon.pid"; exec dbus-monitor --address "$1" "member=InterfacesAdded" > "$0/private-monitor.log" 2>&1' "$DESK" "$PRIV" &
sleep 1
: > "$DESK/monitor.log"
for ((i = 0; i < JOBS; i++)); do
    sess gdbus call --address "$PRIV" -d $BUS -o $ROOT -m $MANAGER.Archive ok '{}' > /dev/null &
    sleep 0.02
done
sleep 3
kill "$(cat "$DESK/sysmon.pid")" 2> /dev/null
latency "$DESK/private-monitor.log" "archive of ok" > "$DESK/latency"
read -r n_signals n_first pairs p50 p99 pmax ends summaries answer < "$DESK/latency"
echo "latency (stand-in), InterfacesAdded -> the Notify call delivered to dunst, $pairs of $JOBS jobs started 20 ms apart: p50 $p50 ms, p99 $p99 ms, max $pmax ms"
echo "($n_signals signals, $n_first first notifications; dunst answers each Notify after drawing it: median $answer ms later)"
echo "their ends: $ends shown alone, $summaries summaries"
# 2. CPU
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
sleep 5
sess dunstctl close-all
c0=$(cpu "$apid"); sleep 10; c1=$(cpu "$apid")
idle=$(awk -v a="$c0" -v b="$c1" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t / 10 * 100 }')
: > "$DESK/monitor.log"
for ((i = 0; i < PROGRESS_JOBS; i++)); do
    sess gdbus call --address "$PRIV" -d $BUS -o $ROOT -m $MANAGER.Archive slow '{}' > /dev/null
done
sleep 1
sess sh -c 'echo $$ > "$0/pcmon.pid"; exec dbus-monitor --address "$1" "member=PropertiesChanged" > "$0/pc.log" 2>&1' "$DESK" "$PRIV" &
sleep 0.5
c0=$(cpu "$apid"); n0=$(grep -c "member=Notify" "$DESK/monitor.log"); p0=$(grep -c "member=PropertiesChanged" "$DESK/pc.log")
sleep "$PROGRESS_SECONDS"
c1=$(cpu "$apid"); n1=$(grep -c "member=Notify" "$DESK/monitor.log"); p1=$(grep -c "member=PropertiesChanged" "$DESK/pc.log")
kill "$(cat "$DESK/pcmon.pid")" 2> /dev/null
busy=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v s="$PROGRESS_SECONDS" 'BEGIN { printf "%.2f", (b - a) / t / s * 100 }')
busy_s=$(awk -v a="$c0" -v b="$c1" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t }')
rate=$(awk -v a="$n0" -v b="$n1" -v s="$PROGRESS_SECONDS" 'BEGIN { printf "%.1f", (b - a) / s }')
signals=$(awk -v a="$p0" -v b="$p1" -v s="$PROGRESS_SECONDS" 'BEGIN { printf "%.0f", (b - a) / s }')
echo "agent CPU idle: $idle % of a core (no polling: 0 unless something happens)"
echo "agent CPU with $PROGRESS_JOBS jobs reporting progress ($signals PropertiesChanged/s): $busy % of a core ($busy_s s in $PROGRESS_SECONDS s)"
echo "Notify calls: $rate/s for $PROGRESS_JOBS jobs (rate limit: 1/s per job); ratio notifications/signals $(awk -v r="$rate" -v s="$signals" 'BEGIN { printf "%.3f", r / s }')"
agent_stop
jobd_pid=$(cat "$DESK/jobd.pid"); kill "$jobd_pid" 2> /dev/null; JOBD_PID=

# ------------------------------------------------------------------ 3. latency, real virt-ferryd (the lab)
if [ "${NOTIFY_BENCH_LAB:-1}" = 0 ]; then
    echo "lab part: SKIP (NOTIFY_BENCH_LAB=0)"
elif ! LAB_USED=1 || ! "$LAB" up 1 >&2; then
    echo "lab part: SKIP (lab up failed)"
else
"$LAB" guest alpha v1 --mem 128 --disk 16 >&2 || tap_bail "guest v1 did not start"
job=$(call_job alpha Archive 'sa{sv}' v1 0)
[ "$(job_wait alpha "$job")" = succeeded ] || tap_bail "archive of v1 failed: $(jprop alpha "$job" Message)"
archive=$ROOT/archive/$(escape "$(jprop alpha "$job" Result)")
agent_start alpha
on alpha sh -c 'echo $$ > /run/notify-bench-monitor.pid; exec dbus-monitor --system "sender=org.virtferry.Ferry1,member=InterfacesAdded" "sender=org.virtferry.Ferry1,member=Finished"' \
    > "$DESK/system.log" 2>&1 &
sleep 1
SYSMON_PID=$(on alpha cat /run/notify-bench-monitor.pid)
: > "$DESK/monitor.log"
# One job after the other, each awaited inside the host (no nsenter per poll).
on alpha bash -c '
    for ((i = 0; i < '"$JOBS"'; i++)); do
        j=$(busctl call '"$BUS $archive $BUS"'.Archive Verify | sed -e "s/^o \"\(.*\)\"$/\1/")
        while [ "$(busctl get-property '"$BUS"' "$j" '"$BUS"'.Job Status 2> /dev/null)" = "s \"running\"" ]; do sleep 0.02; done
    done' >&2
sleep 2
latency "$DESK/system.log" "verify of" > "$DESK/latency"
read -r n_signals n_first lab_pairs lab_p50 lab_p99 lab_pmax lab_ends lab_summaries lab_answer < "$DESK/latency"
echo "latency (real virt-ferryd on lab host alpha), virt-ferryd's InterfacesAdded -> the Notify call delivered to dunst, $lab_pairs of $JOBS jobs: p50 $lab_p50 ms, p99 $lab_p99 ms, max $lab_pmax ms (goal: p99 < 100 ms)"
echo "($n_signals signals, $n_first first notifications; dunst's answer: median $lab_answer ms after the call)"
echo "job ends: $lab_ends shown alone, $lab_summaries summaries (bursts of ends within a second are coalesced)"
agent_stop
on alpha kill "$SYSMON_PID" 2> /dev/null; SYSMON_PID=
"$LAB" down > /dev/null 2>&1
fi

. "$here/json.sh"
bench_json notify jobs "$JOBS" standin_latency_samples "$pairs" standin_latency_p50_ms "$p50" \
    standin_latency_p99_ms "$p99" standin_latency_max_ms "$pmax" standin_ends_alone "$ends" \
    standin_summaries "$summaries" lab_latency_samples "${lab_pairs:-0}" lab_latency_p50_ms "${lab_p50:-}" \
    lab_latency_p99_ms "${lab_p99:-}" lab_latency_max_ms "${lab_pmax:-}" cpu_idle_percent "$idle" \
    cpu_progress_percent "$busy" progress_jobs "$PROGRESS_JOBS" signals_per_s "$signals" notify_per_s "$rate"
