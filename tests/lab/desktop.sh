# SPDX-License-Identifier: LGPL-2.1-or-later
# A user's desktop for virt-ferry-notify's lab test and benchmark (sourced after tap.sh and
# ferry.sh): Xvfb, a session dbus-daemon listening on a path (abstract sockets would stay in
# one network namespace), dunst from Debian as the notification server, all as user nobody;
# the agent runs as nobody on a lab host, following that host's system bus (--bus-address).
. "$(dirname "${BASH_SOURCE[0]}")/privbus.sh"
for p in dunst dunstctl Xvfb dbus-daemon dbus-monitor python3; do
    command -v "$p" > /dev/null || tap_skip_all "$p is not installed (apt-get install dunst xvfb; .ci/deps)"
done
DESK_USER=nobody
DESK=$(mktemp -d /tmp/virt-ferry-desktop.XXXXXX)
chmod 0755 "$DESK"
chown "$DESK_USER" "$DESK"
DESK_BUS=unix:path=$DESK/session
AGENT=$BUILD/tools/virt-ferry-notify
# A wrapper (valgrind, say) may run it: VIRT_FERRY_NOTIFY_WRAPPER.
[ -n "${VIRT_FERRY_NOTIFY_WRAPPER:-}" ] && AGENT="$VIRT_FERRY_NOTIFY_WRAPPER"
[ -x "$AGENT" ] || tap_bail "virt-ferry-notify is not built in $BUILD"

# A command as the desktop's user, on its session bus.
sess() { runuser -u "$DESK_USER" -- env HOME="$DESK" DISPLAY=":$DESK_DISPLAY" DBUS_SESSION_BUS_ADDRESS="$DESK_BUS" "$@"; }

dunst_start() {
    sess sh -c 'echo $$ > "$0/dunst.pid"; exec dunst -config "$0/dunstrc" >> "$0/dunst.log" 2>&1' "$DESK" &
    wait_for 10 sess dunstctl count > /dev/null 2>&1 || tap_bail "dunst did not start: $(tail -n 3 "$DESK/dunst.log")"
}
dunst_stop() {
    local pid
    pid=$(cat "$DESK/dunst.pid" 2> /dev/null) || return 0
    kill "$pid" 2> /dev/null
    wait_for 5 bash -c "! kill -0 $pid 2> /dev/null"
}

desktop_up() {
    private_bus_conf session "unix:path=$DESK/session" > "$DESK/session.conf"
    # Nothing expires: the test reads every notification back with close-all and history.
    cat > "$DESK/dunstrc" <<EOF
[global]
    notification_limit = ${DESK_DUNST_LIMIT:-0}
    sort = no
    stack_duplicates = false
    idle_threshold = 0
    markup = full
    history_length = 1000
    format = "<b>%s</b>\n%b"
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
EOF
    Xvfb -displayfd 5 -screen 0 1024x768x24 -nolisten tcp -ac 5> "$DESK/display" > "$DESK/xvfb.log" 2>&1 &
    DESK_XVFB=$!
    wait_for 10 test -s "$DESK/display" || tap_bail "Xvfb did not start: $(cat "$DESK/xvfb.log")"
    DESK_DISPLAY=$(cat "$DESK/display")
    runuser -u "$DESK_USER" -- dbus-daemon --config-file="$DESK/session.conf" --fork --print-pid=5 5> "$DESK/bus.pid" ||
        tap_bail "the session dbus-daemon did not start"
    wait_for 5 test -S "$DESK/session" || tap_bail "no session bus socket"
    dunst_start
    # Every Notify call and its answer, with the bus's clock, for counting and timing.
    sess sh -c 'echo $$ > "$0/monitor.pid"; exec dbus-monitor --session "interface=org.freedesktop.Notifications" "type=method_return" "type=error" >> "$0/monitor.log" 2>&1' "$DESK" &
    wait_for 5 test -s "$DESK/monitor.pid"
}

desktop_down() {
    agent_stop
    dunst_stop
    local pid
    for f in monitor.pid bus.pid; do
        pid=$(cat "$DESK/$f" 2> /dev/null) && kill "$pid" 2> /dev/null
    done
    [ -n "${DESK_XVFB:-}" ] && kill "$DESK_XVFB" 2> /dev/null
    rm -rf "$DESK"
}

# The agent as the desktop's user on HOST, following HOST's system bus with --bus-address.
agent_start() { # HOST [OPTIONS...]
    local h=$1; shift
    rm -f "$DESK/agent.pid"
    "$LAB" exec "$h" runuser -u "$DESK_USER" -- env HOME="$DESK" DBUS_SESSION_BUS_ADDRESS="$DESK_BUS" \
        sh -c 'echo $$ > "$0/agent.pid"; exec "$@" >> "$0/agent.log" 2>&1' "$DESK" \
        "$AGENT" --bus-address unix:path=/run/dbus/system_bus_socket "$@" &
    wait_for 5 test -s "$DESK/agent.pid" || tap_bail "the agent did not start"
    # Ready once it is on the session bus and has read the tree (its first answer).
    sleep 1.5
}
agent_stop() {
    local pid
    pid=$(cat "$DESK/agent.pid" 2> /dev/null) || return 0
    kill "$pid" 2> /dev/null
    wait_for 5 bash -c "! kill -0 $pid 2> /dev/null"
    rm -f "$DESK/agent.pid"
}
agent_alive() { kill -0 "$(cat "$DESK/agent.pid" 2> /dev/null)" 2> /dev/null; }

displayed() { sess dunstctl count displayed 2> /dev/null; }
# Every notification dunst shows or showed, one a line: id, summary, body, progress, urgency,
# message (dunst's text before Pango reads its markup)
# (after closing what is displayed, so that history holds it all).
history() {
    sess dunstctl close-all
    sleep 0.3
    sess dunstctl history | python3 -c '
import json, sys
for n in json.load(sys.stdin)["data"][0]:
    f = lambda k: str(n.get(k, {}).get("data", "")).replace("\n", "\\n").replace("\t", " ")
    print("\t".join([f("id"), f("summary"), f("body"), f("progress"), f("urgency"), f("message")]))'
}
# Lines of the history whose summary matches an extended regex (a count with -c).
with_summary() { awk -F'\t' -v re="$1" '$2 ~ re'; }
