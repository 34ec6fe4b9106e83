#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferry-notify as a whole, without the lab: a private "system" bus served by the scripted
# stand-in tests/unit/test-cli-jobd, a session bus, dunst (Debian's) under Xvfb, all as user
# nobody; read back with dunstctl and dbus-monitor. The lab test (tests/lab/test-notify.sh)
# does the same against a real virt-ferryd.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/../.." && pwd)}
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (the desktop runs as nobody, through runuser)"
. "$here/../lab/desktop.sh"
JOBD=$BUILD/tests/unit/test-cli-jobd
[ -x "$JOBD" ] || tap_bail "$JOBD is not built"
BUS=org.virtferry.Ferry1
ROOT=/org/virtferry/Ferry1

trap 'jobd_stop; desktop_down; [ -n "${PRIV_PID:-}" ] && kill "$PRIV_PID" 2> /dev/null' EXIT
desktop_up
# A system bus as Debian configures it (its system.conf: signals reach everyone, method calls
# only where a policy allows) with virt-ferryd's policy file from the tree, on a path of its
# own; the stand-in owns the name as root, as virt-ferryd does.
SRC=$(cd "$here/../.." && pwd)
sed -e '/<user>/d' -e '/<fork\/>/d' -e '/<pidfile>/d' -e '/<syslog\/>/d' -e '/<includedir>/d' -e '/<include /d' \
    -e '/<standard_system_servicedirs\/>/d' -e "s|<listen>.*</listen>|<listen>unix:path=$DESK/private</listen>|" \
    -e "s|</busconfig>|<include>$SRC/dbus/org.virtferry.Ferry1.conf</include></busconfig>|" \
    /usr/share/dbus-1/system.conf > "$DESK/private.conf"
dbus-daemon --config-file="$DESK/private.conf" --fork --print-pid=5 5> "$DESK/private.pid" ||
    tap_bail "the private system bus did not start"
PRIV_PID=$(cat "$DESK/private.pid")
PRIV=unix:path=$DESK/private
wait_for 5 test -S "$DESK/private" || tap_bail "no private bus socket"

jobd_start() {
    rm -f "$DESK/jobd.log"
    env DBUS_SYSTEM_BUS_ADDRESS="$PRIV" sh -c 'echo $$ > "$0/jobd.pid"; exec "$1" > "$0/jobd.log" 2>&1' "$DESK" "$JOBD" &
    wait_for 5 grep -q ready "$DESK/jobd.log" || tap_bail "the stand-in did not start"
}
jobd_stop() {
    local pid
    pid=$(cat "$DESK/jobd.pid" 2> /dev/null) || return 0
    kill "$pid" 2> /dev/null
    wait_for 5 bash -c "! kill -0 $pid 2> /dev/null"
    rm -f "$DESK/jobd.pid"
}
archive() { # DOMAIN-SCRIPT -> job path (as root: the stand-in asks no polkit, the policy lets anyone call)
    gdbus call --address "$PRIV" -d $BUS -o $ROOT -m $BUS.Manager.Archive -- "$1" '{}' | sed -e "s/^(objectpath '\(.*\)',)$/\1/"
}
status() { gdbus call --address "$PRIV" -d $BUS -o "$1" -m org.freedesktop.DBus.Properties.Get $BUS.Job Status 2> /dev/null | sed -e "s/^(<'\(.*\)'>,)$/\1/"; }
status_is() { [ "$(status "$1")" = "$2" ]; }
displayed_is() { [ "$(displayed)" = "$1" ]; }
agent_said() { grep -q -- "$1" "$DESK/agent.log"; }
notify_calls() { awk -v re="$1" '/member=Notify/ { n = 4 } n && /^   string / { if (--n == 1 && $0 ~ re) c++ } END { print c + 0 }' "$DESK/monitor.log"; }
local_agent_start() {
    rm -f "$DESK/agent.pid"
    sess sh -c 'echo $$ > "$0/agent.pid"; exec "$@" >> "$0/agent.log" 2>&1' "$DESK" "$AGENT" --bus-address "$PRIV" &
    wait_for 5 test -s "$DESK/agent.pid" || tap_bail "the agent did not start"
    sleep 1
}

# The agent first, virt-ferryd (the stand-in) after: it waits for it.
local_agent_start
tap_ok "without virt-ferryd the agent says so and waits" wait_for 5 agent_said "is not running"
jobd_start
sleep 0.5

# ------------------------------------------------------------------ in place, final text
: > "$DESK/monitor.log"
job=$(archive ok)
wait_for 5 status_is "$job" succeeded
sleep 0.5
h=$(history)
tap_is "one notification for the job" "$(with_summary 'rchive of ok' <<< "$h" | wc -l)" 1
tap_ok "updated in place (more than one Notify call)" test "$(notify_calls 'rchive of ok')" -ge 2
tap_is "its final text" "$(with_summary 'rchive of ok' <<< "$h" | cut -f2-3)" $'stand-in: Archive of ok succeeded\tdone'
tap_ok "at most one progress update a second (0.4 s job: start and end only)" test "$(notify_calls 'rchive of ok')" -le 3
job=$(archive missing)
wait_for 5 status_is "$job" failed
sleep 0.5
h=$(history)
tap_ok "a failed job names its error" grep -qE $'\tstand-in: Archive of missing failed\t.*\\(NotFound\\)' <<< "$h"

# ------------------------------------------------------------------ Cancel
job=$(archive slow)
tap_ok "a running job is shown" wait_for 5 displayed_is 1
sess dunstctl action 0
tap_ok "its Cancel action cancels it" wait_for 5 status_is "$job" cancelled
sleep 0.5
h=$(history)
tap_ok "and the notification says so" grep -q $'\tstand-in: Archive of slow was cancelled\t' <<< "$h"

# ------------------------------------------------------------------ a burst; hostile text
: > "$DESK/monitor.log"
pids=()
for i in $(seq 10); do archive ok > /dev/null & pids+=($!); done
archive '<b>evil</b>&amp;' > /dev/null & pids+=($!)
wait "${pids[@]}"
sleep 2.5
h=$(history)
ends=$(with_summary 'Archive of .* succeeded' <<< "$h" | wc -l)
tap_ok "eleven jobs ending together give few popups ($ends)" test "$ends" -le 3
tap_ok "and a summary" grep -qE $'\tstand-in: [0-9]+ jobs ended\t' <<< "$h"
tap_diag "$(cut -f2 <<< "$h" | sort | uniq -c | tr '\n' '|')"
tap_ok "the hostile name goes out escaped in bodies" grep -qF '&lt;b&gt;evil&lt;/b&gt;&amp;amp;' "$DESK/monitor.log"
tap_ok "dunst renders it as text, never as markup" bash -c '! grep -qF "<b>evil" <<< "$1" && grep -qF "&lt;b&gt;evil" <<< "$1"' _ "$(cut -f6 <<< "$h")"

# ------------------------------------------------------------------ restarts
sess dunstctl close-all
job=$(archive slow)
wait_for 5 displayed_is 1
dunst_stop
dunst_start
sleep 1.5
tap_is "after dunst restarts, the running job is shown again, once" "$(displayed)" 1
sess dunstctl close-all
jobd_stop
sleep 0.5
jobd_start
sleep 1
h=$(history)
tap_is "virt-ferryd's restart: its notification ends back, in place" "$(with_summary 'virt-ferryd' <<< "$h" | cut -f2)" "stand-in: virt-ferryd is back"
tap_ok "the job it ran says virt-ferryd stopped" grep -q $'\tvirt-ferryd stopped while the job ran\t' <<< "$h"
: > "$DESK/monitor.log"
job=$(archive ok)
wait_for 5 status_is "$job" succeeded
sleep 0.5
tap_is "job numbers start again: the new job/1 shows once" "$(notify_calls 'rchive of ok succeeded')" 1
sess dunstctl close-all
job=$(archive slow)
wait_for 5 displayed_is 1
agent_stop
tap_ok "a running job's notification goes with the agent" wait_for 5 displayed_is 0
local_agent_start
tap_ok "and comes back once with the next agent (jobs already running are shown)" wait_for 5 displayed_is 1
# ------------------------------------------------------------------ the real virt-ferryd
# virt-ferryd itself (libvirt's test:///default driver behind it) in the stand-in's place,
# restarted: one notification, back in place, and no "libvirtd is back" from its connecting.
DAEMON=$BUILD/dbus/virt-ferryd
mkdir -p "$DESK/library" "$DESK/state" "$DESK/images"
printf '[libvirt]\nuri=test:///default\n[archive]\nlibrary=%s\nimage-dir=%s\n[state]\ndir=%s\n' \
    "$DESK/library" "$DESK/images" "$DESK/state" > "$DESK/virt-ferry.conf"
ferryd_start() {
    env DBUS_SYSTEM_BUS_ADDRESS="$PRIV" sh -c 'echo $$ > "$0/jobd.pid"; exec "$1" --config "$0/virt-ferry.conf" >> "$0/ferryd.log" 2>&1' "$DESK" "$DAEMON" &
    wait_for 10 bash -c "gdbus call --address '$PRIV' -d $BUS -o $ROOT -m org.freedesktop.DBus.Properties.Get $BUS.Manager LibvirtConnected 2> /dev/null | grep -q true"
}
jobd_stop
ferryd_start || tap_bail "virt-ferryd did not start: $(tail -n 3 "$DESK/ferryd.log")"
sleep 1
# A fresh dunst: a history of the restart only.
dunst_stop
dunst_start
jobd_stop
ferryd_start
sleep 1.5
h=$(history)
tap_is "virt-ferryd's restart: one notification, back in place" "$(with_summary 'virt-ferryd' <<< "$h" | cut -f2 | sed -e 's/^[^:]*: //')" "virt-ferryd is back"
tap_is "and no news of libvirtd (virt-ferryd connecting at its start is not libvirtd coming back)" "$(with_summary libvirtd <<< "$h" | wc -l)" 0
tap_diag "$(cut -f2 <<< "$h" | tr '\n' '|')"

# What the bus policy lets the agent's user do: receive the signals and read (all of the
# above, as nobody), call the Manager (polkit decides in virt-ferryd), never the Hook.
out=$(sess gdbus call --address "$PRIV" -d $BUS -o $ROOT -m $BUS.Hook.Report domain x migrate begin 2>&1)
tap_ok "the policy refuses the Hook interface to the user (AccessDenied)" grep -q org.freedesktop.DBus.Error.AccessDenied <<< "$out"
out=$(sess gdbus call --address "$PRIV" -d $BUS -o $ROOT -m org.freedesktop.DBus.Properties.GetAll $BUS.Manager 2>&1)
tap_ok "and lets it read properties" test $? -eq 0
tap_ok "the agent never crashed" agent_alive
tap_done
