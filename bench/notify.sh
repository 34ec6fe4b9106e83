#!/bin/bash
# virt-ferry-notify's cost (issue 14):
#  1. latency from virt-ferryd's signal (a job's InterfacesAdded on lab host alpha's system
#     bus) to the notification server's receipt (dunst's answer to the agent's Notify), over
#     200 verify jobs run one after the other; p50/p99 (goal: p99 under 100 ms). Both times
#     are dbus-monitor's, on the one machine clock.
#  2. the agent's CPU time while 20 jobs report progress ten times a second each (the
#     project's scripted stand-in, tests/unit/test-cli-jobd, on a private bus), against the
#     same agent idle: it must not poll, and sends about one update a second per job.
# Run as root under the lab lock:
#   VIRT_FERRY_LAB_DIR=/var/lib/virt-ferry-lab-X flock /work/wt/lab.lock bench/notify.sh
# Prints numbers and ratios, then one JSON line.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../tests/lab
. "$lab/tap.sh"
tap_skip_all() { echo "SKIP: $*"; exit 0; }
. "$lab/ferry.sh"
. "$lab/desktop.sh"
JOBS=${NOTIFY_BENCH_JOBS:-200}
PROGRESS_JOBS=20
PROGRESS_SECONDS=20
JOBD=$BUILD/tests/unit/test-cli-jobd
[ -x "$JOBD" ] || { echo "SKIP: $JOBD is not built (make check builds it)"; exit 0; }

cleanup() {
    desktop_down
    [ -n "${SYSMON_PID:-}" ] && on alpha kill "$SYSMON_PID" 2> /dev/null
    [ -n "${JOBD_PID:-}" ] && kill "$JOBD_PID" 2> /dev/null
    [ -n "${PRIV_BUS_PID:-}" ] && kill "$PRIV_BUS_PID" 2> /dev/null
    "$LAB" down > /dev/null 2>&1
}
trap cleanup EXIT

# ------------------------------------------------------------------ 1. latency, real virt-ferryd
"$LAB" down > /dev/null 2>&1
"$LAB" up 1 >&2 || { echo "SKIP: lab up failed"; exit 0; }
"$LAB" guest alpha v1 --mem 64 --disk 16 >&2 || { echo "SKIP: guest v1 did not start"; exit 0; }
job=$(call_job alpha Archive 'sa{sv}' v1 0)
[ "$(job_wait alpha "$job")" = succeeded ] || { echo "SKIP: archive of v1 failed: $(jprop alpha "$job" Message)"; exit 0; }
archive=$ROOT/archive/$(escape "$(jprop alpha "$job" Result)")
desktop_up
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
python3 - "$DESK/system.log" "$DESK/monitor.log" > "$DESK/latency" <<'EOF'
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
        calls.append((field(h, "sender"), field(h, "serial"), a[1], a[3]))
    elif h.startswith("method return"):
        returns[(field(h, "destination"), field(h, "reply_serial"))] = float(field(h, "time"))
firsts = [returns.get((s, n)) for s, n, replaces, summary in calls if replaces == "uint32 0" and "verify of" in summary]
pairs = [(b - a) * 1000 for a, b in zip(starts, firsts) if b is not None]
pairs.sort()
pct = lambda p: pairs[min(len(pairs) - 1, int(p * len(pairs)))] if pairs else float("nan")
print(len(starts), len(firsts), len(pairs), "%.2f" % pct(0.5), "%.2f" % pct(0.99), "%.2f" % (pairs[-1] if pairs else float("nan")),
      sum(1 for c in calls if "verify of" in c[3].lower() and "succeeded" in c[3]),
      sum(1 for c in calls if "jobs ended" in c[3]))
EOF
read -r n_signals n_first n_pairs p50 p99 pmax ends summaries < "$DESK/latency"
echo "latency, virt-ferryd's InterfacesAdded -> dunst's answer to Notify, $n_pairs of $JOBS jobs: p50 $p50 ms, p99 $p99 ms, max $pmax ms (goal: p99 < 100 ms)"
echo "job ends: $ends shown alone, $summaries summaries (bursts of ends within a second are coalesced)"
agent_stop
on alpha kill "$SYSMON_PID" 2> /dev/null; SYSMON_PID=
"$LAB" down > /dev/null 2>&1

# ------------------------------------------------------------------ 2. CPU, 20 jobs reporting progress
cat > "$DESK/private.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$DESK/private</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
EOF
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
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)
c0=$(cpu "$apid"); sleep 10; c1=$(cpu "$apid")
idle=$(awk -v a="$c0" -v b="$c1" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t / 10 * 100 }')
: > "$DESK/monitor.log"
for ((i = 0; i < PROGRESS_JOBS; i++)); do
    sess gdbus call --address "$PRIV" -d $BUS -o $ROOT -m $MANAGER.Archive slow '{}' > /dev/null
done
sleep 1
c0=$(cpu "$apid"); n0=$(grep -c "member=Notify" "$DESK/monitor.log")
sleep "$PROGRESS_SECONDS"
c1=$(cpu "$apid"); n1=$(grep -c "member=Notify" "$DESK/monitor.log")
busy=$(awk -v a="$c0" -v b="$c1" -v t="$tck" -v s="$PROGRESS_SECONDS" 'BEGIN { printf "%.2f", (b - a) / t / s * 100 }')
busy_s=$(awk -v a="$c0" -v b="$c1" -v t="$tck" 'BEGIN { printf "%.2f", (b - a) / t }')
rate=$(awk -v a="$n0" -v b="$n1" -v s="$PROGRESS_SECONDS" 'BEGIN { printf "%.1f", (b - a) / s }')
# The stand-in moves each slow job's progress every 100 ms: ten PropertiesChanged a second each.
signals=$((PROGRESS_JOBS * 10))
echo "agent CPU idle: $idle % of a core (no polling: 0 unless something happens)"
echo "agent CPU with $PROGRESS_JOBS jobs reporting progress ($signals PropertiesChanged/s): $busy % of a core ($busy_s s in $PROGRESS_SECONDS s)"
echo "Notify calls: $rate/s for $PROGRESS_JOBS jobs (rate limit: 1/s per job); ratio notifications/signals $(awk -v r="$rate" -v s="$signals" 'BEGIN { printf "%.3f", r / s }')"
printf '{"bench":"notify","jobs":%s,"latency_samples":%s,"latency_p50_ms":%s,"latency_p99_ms":%s,"latency_max_ms":%s,"ends_alone":%s,"summaries":%s,"cpu_idle_percent":%s,"cpu_progress_percent":%s,"progress_jobs":%s,"signals_per_s":%s,"notify_per_s":%s}\n' \
    "$JOBS" "$n_pairs" "$p50" "$p99" "$pmax" "$ends" "$summaries" "$idle" "$busy" "$PROGRESS_JOBS" "$signals" "$rate"
