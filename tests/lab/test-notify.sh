#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferry-notify (issue 14) against a real virt-ferryd on lab host alpha, as an unprivileged
# user whose desktop is Xvfb, a session dbus-daemon and dunst (Debian's): job notifications
# updated in place with their final text, the Cancel action (refused by polkit, then
# allowed), a burst of job ends coalesced, hostile names escaped, jobs already running shown
# once at start, restarts of dunst and of virt-ferryd without duplicates, a migration.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"
. "$here/desktop.sh"

migrate() { # HOST DOMAIN PEER METHOD [BANDWIDTH]
    if [ -n "${5:-}" ]; then
        call_job "$1" Migrate 'ssasa{sv}' "$2" "$3" 1 "$4" 1 bandwidth t "$5"
    else
        call_job "$1" Migrate 'ssasa{sv}' "$2" "$3" 1 "$4" 0
    fi
}
# Notify calls the agent made whose summary matches a regex.
# Notify calls the agent made whose summary matches a regex; with "new", only those that open
# a notification (replaces_id 0) rather than update one.
notify_calls() { # REGEX [new]
    awk -v re="$1" -v new="${2:-}" '
        /member=Notify/ { arg = 0; replaces = ""; next }
        arg >= 0 && /^   [a-z]/ { arg++; if (arg == 2) replaces = $2; if (arg == 4) { if ($0 ~ re && (new == "" || replaces == "0")) c++; arg = -1 } }
        END { print c + 0 }' "$DESK/monitor.log"
}
define_stub() { # HOST NAME (XML-escaped here)
    local name xml
    name=$(printf '%s' "$2" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')
    xml=$(mktemp)
    printf "<domain type='qemu'><name>%s</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>\n" "$name" > "$xml"
    on "$1" virsh -q define "$xml" > /dev/null
    local rc=$?
    rm -f "$xml"
    return $rc
}
status_is() { [ "$(jprop "$1" "$2" Status)" = "$3" ]; }
displayed_is() { [ "$(displayed)" = "$1" ]; }
agent_said() { grep -q -- "$1" "$DESK/agent.log"; }
monitor_saw() { grep -qF -- "$1" "$DESK/monitor.log"; }

"$LAB" down > /dev/null 2>&1
trap 'desktop_down; polkit_rules > /dev/null 2>&1; "$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"
"$LAB" guest alpha n1 --mem 128 --disk 32 >&2 || tap_bail "guest n1"
"$LAB" guest alpha m1 --mem 192 --dirty 8 --disk 32 --shared >&2 || tap_bail "guest m1"
desktop_up
agent_start alpha
tap_ok "the agent runs as $DESK_USER, following alpha's system bus" agent_alive

# ------------------------------------------------------------------ a job, in place
job=$(call_job alpha Archive 'sa{sv}' n1 0)
tap_is "archive of n1 succeeds" "$(job_wait alpha "$job")" succeeded
message=$(jprop alpha "$job" Message)
archive_id=$(jprop alpha "$job" Result)
sleep 0.5
h=$(history)
tap_is "one notification for the archive" "$(with_summary '^alpha: [Aa]rchive of n1' <<< "$h" | wc -l)" 1
tap_ok "updated in place: at least two Notify calls for it (start and end)" test "$(notify_calls 'rchive of n1')" -ge 2
tap_is "its final text" "$(with_summary 'of n1' <<< "$h" | cut -f2)" "alpha: Archive of n1 succeeded"
tap_is "its body is the job's final message" "$(with_summary 'of n1' <<< "$h" | cut -f3)" "$message"
tap_diag "$(with_summary 'of n1' <<< "$h")"

# ------------------------------------------------------------------ Cancel, refused then allowed
# A migration at 1 MiB/s of a guest dirtying memory runs until cancelled.
sess dunstctl close-all
job=$(migrate alpha m1 beta migration 1)
tap_ok "the running migration is shown" wait_for 10 displayed_is 1
sleep 1
sess dunstctl action 0
tap_ok "without polkit's yes, the agent's Cancel gets AccessDenied (its log names the error)" \
    wait_for 10 agent_said "cannot cancel $job: org.freedesktop.DBus.Error.AccessDenied"
tap_ok "and the user is told, with the error's name" wait_for 5 monitor_saw org.freedesktop.DBus.Error.AccessDenied
tap_is "the job runs on" "$(jprop alpha "$job" Status)" running
on alpha busctl call $BUS "$job" $BUS.Job Cancel > /dev/null
job_wait alpha "$job" 60 > /dev/null

polkit_rules "polkit.addRule(function (action, subject) {
    if (action.id == 'org.virtferry.ferry1.migrate' && subject.user == '$DESK_USER' && action.lookup('verb') == 'cancel')
        return polkit.Result.YES;
    return polkit.Result.NOT_HANDLED;
});"
sess dunstctl close-all
job=$(migrate alpha m1 beta migration 1)
wait_for 10 displayed_is 1
sleep 1
sess dunstctl action 0
tap_is "the Cancel action cancels the job" "$(job_wait alpha "$job" 60)" cancelled
tap_is "its Error is Cancelled" "$(jprop alpha "$job" Error)" "$FERR.Cancelled"
sleep 0.5
h=$(history)
tap_ok "its notification says so" grep -q $'\talpha: Migration of m1 was cancelled\t' <<< "$h"
tap_is "m1 still runs on alpha" "$(on alpha virsh domstate m1 | head -n 1)" running

# ------------------------------------------------------------------ already running at start; dunst restart
sess dunstctl close-all
job=$(migrate alpha m1 beta migration 1)
wait_for 10 status_is alpha "$job" running
wait_for 10 displayed_is 1
agent_stop
tap_ok "a running job's notification goes with the agent" wait_for 5 displayed_is 0
: > "$DESK/monitor.log"
agent_start alpha
tap_is "a job already running when the agent starts is shown once" "$(notify_calls 'igration of m1' new)" 1
tap_is "and is the one notification displayed" "$(displayed)" 1
dunst_stop
dunst_start
sleep 2
h=$(history)
tap_is "after dunst restarts, the running job is shown again, once" "$(with_summary '^alpha: migration of m1$' <<< "$h" | wc -l)" 1
tap_ok "the agent survived it" agent_alive
on alpha busctl call $BUS "$job" $BUS.Job Cancel > /dev/null
job_wait alpha "$job" 60 > /dev/null

# ------------------------------------------------------------------ a burst, hostile names
# Moves of stopped domains without disks (eight stubs) and four verifies of n1's archive,
# all at once: twelve jobs ending within a second or two. One name is hostile markup.
names=(b1 b2 b3 b4 b5 b6 b7 '<i>b8&amp;')
for n in "${names[@]}"; do define_stub alpha "$n" || tap_diag "could not define $n"; done
sleep 1.5
: > "$DESK/monitor.log"
sess dunstctl close-all
pids=()
for n in "${names[@]}"; do migrate alpha "$n" beta move > /dev/null & pids+=($!); done
for i in 1 2 3 4; do on alpha busctl call $BUS "$ROOT/archive/$(escape "$archive_id")" $BUS.Archive Verify > /dev/null & pids+=($!); done
wait "${pids[@]}"
sleep 3
h=$(history)
tap_diag "$(with_summary 'b[0-9]|erify|jobs ended|events' <<< "$h" | cut -f2)"
ends=$(with_summary '(Disk move|Migration|Verify) .*(failed|succeeded|warning)' <<< "$h" | wc -l)
tap_ok "twelve job ends give few popups ($ends)" test "$ends" -lt 6
tap_ok "and a summary" grep -qE $'\talpha: [0-9]+ (jobs ended|events)' <<< "$h"
tap_ok "the hostile name goes out escaped in a body" monitor_saw '&lt;i&gt;b8&amp;amp;'
tap_ok "dunst renders it as text, never as markup" bash -c '! grep -qF "<i>b8" <<< "$1" && grep -qF "&lt;i&gt;b8" <<< "$1"' _ "$(cut -f6 <<< "$h")"

# ------------------------------------------------------------------ virt-ferryd restarts
sess dunstctl close-all
"$LAB" ferryd alpha restart >&2
"$LAB" ferryd alpha wait >&2
sleep 1.5
h=$(history)
tap_is "virt-ferryd's restart: one notification, back in place" "$(with_summary 'virt-ferryd' <<< "$h" | cut -f2)" "alpha: virt-ferryd is back"
tap_is "and no news of libvirtd (virt-ferryd connecting at its start is not libvirtd coming back)" "$(with_summary libvirtd <<< "$h" | wc -l)" 0
tap_ok "the agent survived it" agent_alive
: > "$DESK/monitor.log"
job=$(migrate alpha m1 beta migration)
tap_is "migration of m1 to beta succeeds" "$(job_wait alpha "$job" 300)" succeeded
sleep 1.5
h=$(history)
tap_is "job numbers start again after the restart: the new job shows once" "$(with_summary 'Migration of m1 succeeded' <<< "$h" | wc -l)" 1
tap_is "m1 left by migration, said once" "$(grep -c $'\talpha: m1 left by migration\t' <<< "$h")" 1
tap_diag "$h"

tap_ok "the agent never crashed" agent_alive
tap_diag "agent log: $(tr '\n' '|' < "$DESK/agent.log")"
tap_done
