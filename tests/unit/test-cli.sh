#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferry against the real virt-ferryd on a private system bus that this test starts,
# with libvirt's test:///default driver (one running domain, "test") behind it. No polkitd
# runs on that bus, so every change by anyone but root is refused: that is tested too (as
# uid 65534 when the test runs as root), and root's changes go through without polkit.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
. "$here/../lab/privbus.sh"
BUILD=${VIRT_FERRY_BUILDDIR:-$here/../..}
CLI=$BUILD/tools/virt-ferry
DAEMON=$BUILD/dbus/virt-ferryd
EMITTER=$BUILD/tests/unit/test-cli-emitter
JOBD=$BUILD/tests/unit/test-cli-jobd
TEST_UUID=6695eb01-f6a4-8304-79aa-97f2502e193f

command -v dbus-daemon > /dev/null || tap_skip_all "dbus-daemon is not installed"
[ -x "$CLI" ] && [ -x "$DAEMON" ] && [ -x "$EMITTER" ] ||
    tap_skip_all "build tools/virt-ferry, dbus/virt-ferryd and tests/unit/test-cli-emitter first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/virt-ferry-cli.XXXXXX") || tap_bail "mktemp failed"
bus_pid= bus2_pid= daemon_pid= monitor_pid= jobd_pid= follow_pid=
# Only what this test started is stopped.
cleanup() {
    local pid
    for pid in $follow_pid $monitor_pid $jobd_pid $daemon_pid $bus_pid $bus2_pid; do
        kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
    done
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

private_bus_conf system "unix:dir=$tmp" any-user > "$tmp/bus.conf"
# An empty archive library of its own, and state and images kept in $tmp too.
mkdir "$tmp/library" "$tmp/state" "$tmp/images"
printf '[libvirt]\nuri=test:///default\n[archive]\nlibrary=%s\nimage-dir=%s\n[state]\ndir=%s\n' \
    "$tmp/library" "$tmp/images" "$tmp/state" > "$tmp/virt-ferry.conf"

# The callers refused for want of polkit: uid 65534 when this test is root (root needs no
# polkit), else this test's own user. The bus socket's directory lets uid 65534 in.
UNPRIV=()
if [ "$(id -u)" = 0 ]; then
    command -v setpriv > /dev/null || tap_skip_all "setpriv is not installed (util-linux)"
    UNPRIV=(setpriv --reuid 65534 --regid 65534 --clear-groups --)
    chmod 0755 "$tmp"
fi

private_bus_start "$tmp/bus.conf" "$tmp/bus.log"
bus_pid=$PRIVATE_BUS_PID
export DBUS_SYSTEM_BUS_ADDRESS=$PRIVATE_BUS_ADDRESS
unset DBUS_SESSION_BUS_ADDRESS

starts=0
start_daemon() {
    starts=$((starts + 1))
    "$DAEMON" --config "$tmp/virt-ferry.conf" > "$tmp/daemon.$starts.log" 2>&1 &
    daemon_pid=$!
    wait_for 15 "$CLI" status > /dev/null 2>&1
}
# virt-ferryd starts its libvirt inventory before it owns org.virtferry.Ferry1: when the
# connection wins that race, its first DomainStateChanged and HostEvent go out before the
# name is its own, and no client that follows the name can see them. Checks of those
# signals run only when virt-ferryd's log shows it owned the name first.
owned_before_connected() {
    awk '/ owns org\.virtferry\.Ferry1/ && !o { o = NR } /connected to libvirtd at/ && !c { c = NR }
         END { exit !(o && c && o < c) }' "$tmp/daemon.$starts.log"
}
tap_skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; }
startup_signal() { # DESCRIPTION CMD...
    local d=$1
    shift
    if owned_before_connected; then tap_ok "$d" "$@"
    else tap_skip "$d" "virt-ferryd emitted it before it owned its bus name"; fi
}
stop_daemon() {
    kill "$daemon_pid" && wait "$daemon_pid" 2> /dev/null
    daemon_pid=
}

# run CMD...: sets $out, $err and $rc.
run() {
    "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}
has() { grep -qF -- "$2" <<< "$1"; }          # TEXT NEEDLE
has_line() { grep -qE -- "$2" <<< "$1"; }     # TEXT REGEX
has_lines() { # TEXT REGEX...: every one matches a line
    local text=$1 re
    shift
    for re; do grep -qE -- "$re" <<< "$text" || return 1; done
}
# An error message: "virt-ferry: " PREFIX... (so no "GDBus.Error:NAME: " in front).
is_error() { [[ $1 == "virt-ferry: $2"* ]]; }
monitor_has() { grep -qE -- "$1" "$tmp/monitor"; }
monitor_has_n() { [ "$(grep -cE -- "$1" "$tmp/monitor")" -ge "$2" ]; } # REGEX N

# ------------------------------------------------------------------ no virt-ferryd yet
run "$CLI" status
tap_is "status without virt-ferryd exits 5" "$rc" 5
tap_is "and says so, with how to start it" "$err" \
    "virt-ferry: virt-ferryd is not running on this host (start it with systemctl start virt-ferryd)"
run "$CLI" show test
tap_is "show without virt-ferryd exits 5" "$rc" 5
run "$CLI" list
tap_is "list without virt-ferryd exits 5" "$rc" 5

# The monitor writes to a file, so only its own flushing makes lines appear at once.
"$CLI" monitor > "$tmp/monitor" 2> "$tmp/monitor.err" &
monitor_pid=$!
tap_ok "monitor starts by saying virt-ferryd is down" wait_for 10 monitor_has '^[0-9T:.-]+ service down$'

# ------------------------------------------------------------------ with virt-ferryd
start_daemon || tap_bail "virt-ferryd did not come up: $(cat "$tmp/daemon.log")"
tap_ok "monitor sees virt-ferryd come up" wait_for 10 monitor_has ' service up :[0-9]+\.[0-9]+$'
startup_signal "monitor sees the domain test (DomainStateChanged)" \
    wait_for 10 monitor_has ' domain test normal running:[a-z]+$'
startup_signal "monitor sees libvirt connected (HostEvent)" wait_for 10 monitor_has ' host libvirt-connected'

run "$CLI" status
tap_is "status exits 0" "$rc" 0
tap_ok "status shows the host" has_line "$out" '^Host: +[^ ]+'
tap_ok "status shows virt-ferryd's version" has_line "$out" '^Version: +[0-9]+\.[0-9]+'
tap_ok "status shows libvirt connected" has_line "$out" '^Libvirt: +connected$'
tap_ok "status shows libvirt's health" has_line "$out" '^Libvirt health: +(reachable|libvirt-admin unreachable)'
tap_ok "status shows maintenance and peers" has_lines "$out" '^Maintenance: +no$' '^Peers: +none$'
tap_ok "status counts the domains per state" has "$out" "1 (1 normal, 0 stop, 0 error, 0 unknown)"
run "$CLI" status --json
tap_ok "status --json has the Manager's properties" \
    has_lines "$out" '"LibvirtConnected":true' '"DomainStates":\{"error":0,"normal":1,'

run "$CLI" list
tap_is "list exits 0" "$rc" 0
tap_ok "list has a header" has_line "$out" '^NAME +STATE +REASON +FLAGS +POLICY$'
tap_ok "list shows the test driver's domain" has_line "$out" '^test +normal +running:[a-z]+ +- +-$'
run "$CLI" --no-legend list
tap_ok "list --no-legend: the domain's row" has_line "$out" '^test +normal +running:[a-z]+ +- +-$'
tap_ok "and no header line" bash -c '! grep -q "^NAME" <<< "$1" && [ "$(wc -l <<< "$1")" = 1 ]' _ "$out"
run "$CLI" list --no-legend
tap_ok "--no-legend after the verb too" has_line "$out" '^test +normal '
run "$CLI" --json list
tap_ok "list --json is an array of domains" has_line "$out" '^\[\{.*"Name":"test".*"ObjectPath":"/org/virtferry/Ferry1/domain/test"\}\]$'

run "$CLI" show test
tap_is "show test exits 0" "$rc" 0
tap_ok "show prints the UUID" has_line "$out" "^UUID: +$TEST_UUID\$"
tap_ok "show prints the state and reason" has_lines "$out" '^State: +normal$' '^Reason: +running:'
tap_ok "show prints the object path" has_line "$out" '^Object path: +/org/virtferry/Ferry1/domain/test$'
tap_ok "show prints every policy key" has_lines "$out" '^  unmanaged: +no$' '^  maintenance: +no$'
run "$CLI" show "$TEST_UUID"
tap_ok "show finds a domain by UUID" has_line "$out" '^Name: +test$'
run "$CLI" show --json test
tap_ok "show --json" has "$out" '"UUID":"'"$TEST_UUID"'"'

run "$CLI" show nosuch
tap_is "show nosuch exits 3" "$rc" 3
tap_ok "with virt-ferryd's message, without the GDBus prefix" is_error "$err" 'no domain named "nosuch"'
run "$CLI" policy nosuch
tap_is "policy nosuch exits 3" "$rc" 3

run "$CLI" policy test
tap_is "policy test exits 0" "$rc" 0
tap_ok "and prints the policy" has_lines "$out" '^hold: +no$' '^pin: +any host$'
run "$CLI" policy --json test
tap_is "policy --json prints the empty policy" "$out" "{}"

# No polkitd on this bus: virt-ferryd denies every change but root's.
run "${UNPRIV[@]}" "$CLI" policy test hold=yes priority=10
tap_is "a policy change without polkit exits 4" "$rc" 4
tap_ok "saying it is not authorized, without the GDBus prefix" \
    is_error "$err" "not authorized for org.virtferry.ferry1.policy"
if [ "$(id -u)" = 0 ]; then
    run "$CLI" --no-ask-password policy test priority=7
    tap_is "root's policy change without polkit exits 0" "$rc" 0
    run "$CLI" policy --json test
    tap_is "and is made" "$out" '{"priority":7}'
    run "$CLI" --no-ask-password policy test priority=0
else
    tap_skip "root's policy change without polkit" "this test does not run as root"
    tap_skip "root's policy change is made" "this test does not run as root"
fi
run "${UNPRIV[@]}" "$CLI" --no-ask-password policy test unmanaged=no
tap_is "--no-ask-password: exits 4 too" "$rc" 4
run "$CLI" policy test colour=red
tap_is "an unknown key is refused before anything is sent (exit 2)" "$rc" 2
tap_is "naming the key and the keys there are" "$err" \
    "virt-ferry: unknown policy key 'colour'; the keys are hold, no_migrate, eq, ne, pin, priority, depends, unmanaged, maintenance"
run "$CLI" policy test priority=high
tap_is "a bad value exits 2" "$rc" 2
tap_ok "naming its key" is_error "$err" "policy key 'priority': \"high\" is not an integer"

# ------------------------------------------------------------------ the archive library, empty
run "$CLI" archives
if [ "$rc" != 0 ] && has "$err" "ListArchives"; then
    tap_skip "archives against virt-ferryd" "this virt-ferryd has no ListArchives yet"
else
    tap_is "archives with an empty library exits 0" "$rc" 0
    tap_is "and prints only the header" "$out" "ID  DOMAIN  SOURCE-HOST  CREATED  SIZE  MEMORY"
    run "$CLI" --json list-archives
    tap_is "list-archives --json (the alias): an empty array" "$out" "[]"
    run "$CLI" jobs
    tap_is "jobs without any: only the header" "$out" "ID  KIND  TARGET  STATUS  PROGRESS  MESSAGE"
    run "$CLI" job 42
    tap_is "job 42 (none) exits 3" "$rc" 3
    tap_ok "saying there is no such job" is_error "$err" "no job 42 on this host"
    run "$CLI" cancel /org/virtferry/Ferry1/job/42
    tap_is "cancel of no job exits 3" "$rc" 3
    run "$CLI" verify test-20260101T000000Z
    tap_is "verify of an archive the library does not have exits 3" "$rc" 3
    tap_ok "naming it" is_error "$err" 'no archive "test-20260101T000000Z"'
    # No polkitd: archive, restore and purge are refused before anything happens.
    run "${UNPRIV[@]}" "$CLI" --no-ask-password archive test
    tap_is "archive without polkit exits 4" "$rc" 4
    tap_ok "saying it is not authorized" is_error "$err" "not authorized for org.virtferry.ferry1.archive"
    run "${UNPRIV[@]}" "$CLI" restore test-20260101T000000Z --name copy
    tap_is "restore without polkit exits 4" "$rc" 4
    run "${UNPRIV[@]}" "$CLI" purge test
    tap_is "purge without polkit exits 4" "$rc" 4
    run "$CLI" purge nosuch
    tap_is "purge of no domain exits 3" "$rc" 3
    run "${UNPRIV[@]}" "$CLI" --no-ask-password move-disk test vda "$tmp/images/moved.qcow2"
    tap_is "move-disk without polkit exits 4" "$rc" 4
    tap_ok "saying it is not authorized for the migrate action" is_error "$err" "not authorized for org.virtferry.ferry1.migrate"
    run "${UNPRIV[@]}" "$CLI" --no-ask-password failover beta
    tap_is "failover without polkit exits 4" "$rc" 4
    run "${UNPRIV[@]}" "$CLI" --no-ask-password plan
    tap_is "plan without polkit exits 4" "$rc" 4
    tap_ok "saying it is not authorized for the evacuate action" is_error "$err" "not authorized for org.virtferry.ferry1.evacuate"
    run "${UNPRIV[@]}" "$CLI" --no-ask-password evacuate
    tap_is "evacuate without polkit exits 4" "$rc" 4
    # The shutdown command never prompts, and names what stays for libvirt-guests.
    run "${UNPRIV[@]}" timeout 60 "$CLI" evacuate --shutdown --timeout 5
    tap_diag "evacuate --shutdown said: $err"
    tap_is "evacuate --shutdown refused by polkit exits 4" "$rc" 4
    tap_ok "saying nothing was evacuated" grep -qx "virt-ferry: nothing evacuated" <<< "$err"
    tap_ok "and naming the running domain left for libvirt-guests" \
        grep -q "^virt-ferry: test stays on this host, for libvirt-guests: " <<< "$err"
fi

run "$CLI" frobnicate
tap_is "an unknown verb exits 2" "$rc" 2
run "$CLI" show
tap_is "show without a domain exits 2" "$rc" 2
run "$CLI" list extra
tap_is "list with an argument exits 2" "$rc" 2
run "$CLI" maintenance sideways
tap_is "maintenance with neither enter, leave nor status exits 2" "$rc" 2
run "$CLI" maintenance enter --mode sideways
tap_is "maintenance enter --mode sideways exits 2" "$rc" 2
run "$CLI" maintenance status --return
tap_is "--return with anything but leave exits 2" "$rc" 2
run "$CLI" show --help
tap_is "show --help exits 0" "$rc" 0
tap_ok "with a usage line" has_line "$out" "virt-ferry .* show DOMAIN$"
run "$CLI" --version
tap_ok "--version" has_line "$out" '^virt-ferry [0-9]+\.[0-9]+'
# Checked before connecting: exit 2 and the daemon's own words.
run "$CLI" restore ../etc
tap_is "restore ../etc exits 2" "$rc" 2
tap_is "the archive id is refused as virt-ferryd would" "$err" \
    "virt-ferry: archive id \"../etc\" holds a '/'; ids are as ListArchives (virt-ferry archives) shows them"
run "$CLI" verify .partial-x
tap_is "verify of a hidden id exits 2" "$rc" 2
run "$CLI" verify $'a\tb'
tap_ok "an id with a control character is refused" is_error "$err" 'archive id "a\tb" holds a control character'
run "$CLI" restore a..b
tap_is "an id with .. exits 2" "$rc" 2
run "$CLI" restore ""
tap_is "an empty id exits 2" "$rc" 2
run "$CLI" restore x --paused --start
tap_is "--paused with --start exits 2" "$rc" 2
run "$CLI" restore x --name $'a\x01'
tap_ok "a restore name with a control character is refused" is_error "$err" 'restore name "a\001" holds a control character'
run "$CLI" restore
tap_ok "restore without an archive says what is missing" is_error "$err" "an archive id is missing"
run "$CLI" job abc
tap_is "job abc exits 2" "$rc" 2
# migrate's arguments, checked before connecting: no bus at that address, yet exit 2.
nobus=unix:path=$tmp/nobus
run "$CLI" --bus-address "$nobus" migrate vm1 beta --method storage-migration --method teleport
tap_is "migrate with an unknown method exits 2" "$rc" 2
tap_is "naming it and the methods there are" "$err" \
    "virt-ferry: unknown method \"teleport\"; the methods are migration, quick-migration, move, storage-migration, failover"
run "$CLI" --bus-address "$nobus" migrate vm1 beta --bandwidth 10M
tap_is "migrate --bandwidth 10M exits 2" "$rc" 2
tap_is "naming the option and the value" "$err" \
    'virt-ferry: --bandwidth "10M" is not a whole number of MiB/s: give digits only'
run "$CLI" --bus-address "$nobus" migrate vm1 beta --bandwidth -5
tap_is "migrate --bandwidth -5 exits 2" "$rc" 2
run "$CLI" --bus-address "$nobus" migrate vm1 beta --parallel 4294967296
tap_is "migrate --parallel beyond 32 bits exits 2" "$rc" 2
tap_ok "saying the most it takes" is_error "$err" "--parallel 4294967296 is too large: give at most 4294967295"
run "$CLI" --bus-address "$nobus" migrate vm1
tap_is "migrate without a peer exits 2" "$rc" 2
tap_ok "saying the peer is missing" is_error "$err" "PEER is missing"
run "$CLI" --bus-address "$nobus" migrate vm1 ""
tap_ok "an empty peer is refused" is_error "$err" "the peer is empty"
run "$CLI" --bus-address "$nobus" migrate vm1 beta extra
tap_ok "migrate with a third argument exits 2" [ "$rc" = 2 ]
# plan's and evacuate's arguments, checked before connecting.
run "$CLI" --bus-address "$nobus" plan --methods migration,teleport
tap_is "plan with an unknown method exits 2" "$rc" 2
tap_ok "naming it" is_error "$err" 'unknown method "teleport"'
run "$CLI" --bus-address "$nobus" evacuate --batch 10x
tap_is "evacuate --batch 10x exits 2" "$rc" 2
run "$CLI" --bus-address "$nobus" evacuate --per-target -1
tap_is "evacuate --per-target -1 exits 2" "$rc" 2
run "$CLI" --bus-address "$nobus" plan --exclude ""
tap_is "plan --exclude with an empty peer exits 2" "$rc" 2
run "$CLI" --bus-address "$nobus" plan extra
tap_is "plan with an argument exits 2" "$rc" 2
run "$CLI" --bus-address "$nobus" evacuate --timeout 0
tap_is "evacuate --timeout 0 exits 2" "$rc" 2
run "$CLI" --bus-address "$nobus" evacuate --shutdown --timeout 3m
tap_is "evacuate --shutdown --timeout 3m exits 2" "$rc" 2
tap_ok "naming the option" is_error "$err" '--timeout: "3m" is not a number of seconds'
run "$CLI" evacuate --help
tap_ok "evacuate --help documents its options" has_lines "$out" '--dry-run' '--batch=N' '--storage-per-source=N' \
    '--exclude=PEER' '--timeout=S' '--shutdown'
run "$CLI" migrate --help
tap_ok "migrate --help documents its options and methods" has_lines "$out" '--method=M' '--bandwidth=MIB' \
    '--completion-timeout=S' '^  quick-migration '
# move-disk's arguments, checked before connecting as migrate's are.
run "$CLI" --bus-address "$nobus" move-disk vm1 vda /images/x.qcow2 --format vmdk
tap_is "move-disk --format vmdk exits 2" "$rc" 2
tap_is "naming the formats there are" "$err" \
    'virt-ferry: --format "vmdk" is not one the copy can be written in: give qcow2 or raw'
run "$CLI" --bus-address "$nobus" move-disk vm1 vda /images/x.qcow2 --bandwidth 10M
tap_is "move-disk --bandwidth 10M exits 2" "$rc" 2
tap_is "naming the option and the value" "$err" \
    'virt-ferry: --bandwidth "10M" is not a whole number of MiB/s: give digits only'
run "$CLI" --bus-address "$nobus" move-disk vm1 vda /images/x.qcow2 --bandwidth 18446744073709551616
tap_ok "move-disk --bandwidth beyond 64 bits is refused" is_error "$err" "--bandwidth 18446744073709551616 is too large"
run "$CLI" --bus-address "$nobus" move-disk vm1 vda
tap_is "move-disk without a path exits 2" "$rc" 2
tap_ok "saying the path is missing" is_error "$err" "PATH is missing"
run "$CLI" --bus-address "$nobus" move-disk vm1
tap_ok "saying the disk is missing" is_error "$err" "DISK is missing"
run "$CLI" --bus-address "$nobus" move-disk vm1 vda ""
tap_ok "an empty path is refused" is_error "$err" "the destination PATH is empty"
run "$CLI" --bus-address "$nobus" move-disk vm1 vda /images/x.qcow2 extra
tap_ok "move-disk with a fourth argument exits 2" [ "$rc" = 2 ]
run "$CLI" --bus-address "$nobus" move-disk $'vm\x01' vda /images/x.qcow2
tap_ok "a domain name with a control character is refused" is_error "$err" 'domain "vm\001" holds a control character'
run "$CLI" move-disk --help
tap_ok "move-disk --help documents its options" has_lines "$out" '--format=F' '--bandwidth=MIB' '--no-wait'
# failover's arguments, checked before connecting as migrate's are.
run "$CLI" --bus-address "$nobus" failover alpha/beta
tap_is "failover of a host name with a '/' exits 2" "$rc" 2
tap_is "refused as virt-ferryd would" "$err" "virt-ferry: host \"alpha/beta\" may hold only letters, digits, '-' and '.'"
run "$CLI" --bus-address "$nobus" failover ""
tap_is "failover of an empty host name exits 2" "$rc" 2
run "$CLI" --bus-address "$nobus" failover alpha --domain web1 --domain $'vm\x01'
tap_is "failover with a bad --domain exits 2" "$rc" 2
tap_ok "naming the option and the value" is_error "$err" '--domain "vm\001" holds a control character'
run "$CLI" --bus-address "$nobus" failover alpha --domain ""
tap_ok "an empty --domain is refused" is_error "$err" "--domain is empty"
run "$CLI" --bus-address "$nobus" failover
tap_is "failover without a host exits 2" "$rc" 2
tap_ok "saying the host is missing" is_error "$err" "a host name is missing"
run "$CLI" --bus-address "$nobus" failover alpha beta
tap_ok "failover with a second argument exits 2" [ "$rc" = 2 ]
run "$CLI" failover --help
tap_ok "failover --help documents its options" has_lines "$out" '--domain=NAME' '--no-start' '--no-wait'
run "$CLI" cancel 0
tap_is "cancel 0 exits 2" "$rc" 2
run "$CLI" archives extra
tap_is "archives with an argument exits 2" "$rc" 2
run "$CLI" archive --help
tap_ok "archive --help documents --no-wait" has_line "$out" '--no-wait'
run "$CLI" restore --help
tap_ok "restore --help documents --name, --paused and --start" has_lines "$out" '--name=NAME' '--paused' '--start'

run env -u DBUS_SYSTEM_BUS_ADDRESS DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent "$CLI" \
    --bus-address "$DBUS_SYSTEM_BUS_ADDRESS" list
tap_ok "--bus-address overrides DBUS_SYSTEM_BUS_ADDRESS" has_line "$out" '^test +normal'

# A hook report becomes a HostEvent; names with blanks are quoted fields, details are not.
if command -v gdbus > /dev/null; then
    gdbus call --system -d org.virtferry.Ferry1 -o /org/virtferry/Ferry1 \
        -m org.virtferry.Ferry1.Hook.Report qemu 'db 1' start begin > /dev/null
    tap_ok "monitor shows a HostEvent with its detail" wait_for 10 monitor_has ' host domain-hook db 1 start begin$'
else
    tap_skip "monitor shows a HostEvent with its detail" "no gdbus"
fi

# ------------------------------------------------------------------ virt-ferryd goes and comes back
stop_daemon
tap_ok "monitor sees virt-ferryd go away" wait_for 10 monitor_has_n ' service down$' 2
run "$CLI" show test
tap_is "show after virt-ferryd stopped exits 5" "$rc" 5

# Signals from a stand-in that owns the name: any name, no libvirt race.
"$EMITTER" domain 'db 1' stop shutoff:shutdown domain 'we"b\x' normal running:booted \
    domain $'tab\there' error crashed:panicked domain gone stop '' host daemon-reload 'libvirtd reload begin' ||
    tap_bail "test-cli-emitter failed"
tap_ok "monitor: a stand-in comes and goes" wait_for 10 monitor_has_n ' service down$' 3
tap_ok "monitor: DomainStateChanged is one line" monitor_has ' domain "db 1" stop shutoff:shutdown$'
tap_ok "monitor: quotes and backslashes in a name are escaped" monitor_has ' domain "we\\"b\\\\x" normal running:booted$'
tap_ok "monitor: control characters are shown as \\xNN" monitor_has ' domain "tab\\x09here" error crashed:panicked$'
tap_ok "monitor: an empty field is \"\"" monitor_has ' domain gone stop ""$'
tap_ok "monitor: HostEvent's detail ends the line" monitor_has ' host daemon-reload libvirtd reload begin$'

start_daemon || tap_bail "virt-ferryd did not come back: $(cat "$tmp/daemon.$starts.log")"
tap_ok "monitor sees virt-ferryd come back" wait_for 10 monitor_has_n ' service up :' 3
startup_signal "and the domain again" wait_for 10 monitor_has ' domain test normal '

kill -TERM "$monitor_pid"
wait "$monitor_pid"
tap_is "monitor exits 0 on SIGTERM" "$?" 0
monitor_pid=
tap_is "every monitor line starts with a millisecond timestamp" \
    "$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (service|domain|host) ' "$tmp/monitor")" 0
tap_is "monitor wrote nothing on stderr" "$(cat "$tmp/monitor.err")" ""

"$CLI" monitor --json > "$tmp/monitor.json" 2>&1 &
monitor_pid=$!
tap_ok "monitor --json prints one object per event" \
    wait_for 10 grep -qE '^\{"time":"[^"]+","event":"service","status":"up","owner":":[0-9.]+"\}$' "$tmp/monitor.json"
stop_daemon
wait_for 10 grep -qF '"status":"down"' "$tmp/monitor.json"
"$EMITTER" domain 'db 1' stop shutoff:shutdown host domain-hook 'x "y"' || tap_bail "test-cli-emitter failed"
tap_ok "monitor --json: a domain event" wait_for 10 grep -qE \
    '^\{"time":"[^"]+","event":"domain","name":"db 1","state":"stop","reason":"shutoff:shutdown"\}$' "$tmp/monitor.json"
tap_ok "monitor --json: a host event, quotes escaped" wait_for 10 grep -qF \
    '"event":"host","kind":"domain-hook","detail":"x \"y\""}' "$tmp/monitor.json"
kill -INT "$monitor_pid"
wait "$monitor_pid"
tap_is "monitor exits 0 on SIGINT" "$?" 0
monitor_pid=

# ------------------------------------------------------------------ the cluster reserve
# Without reserve=, nothing is checked. With reserve=1 and no peer, this host's failure
# would leave its running domain ("test") nowhere: overcommitted, a HostEvent says so.
start_daemon || tap_bail "virt-ferryd did not come back: $(cat "$tmp/daemon.$starts.log")"
run "$CLI" reserve
tap_is "reserve without [evacuation] reserve=: exit 0" "$rc" 0
tap_ok "it prints ClusterReserve 0, not overcommitted, and that none was asked for" has_lines "$out" \
    '^ClusterReserve: 0$' '^Overcommitted:  no$' '^Reason: +no reserve asked for \(\[evacuation\] reserve=\)$'
stop_daemon
cp "$tmp/virt-ferry.conf" "$tmp/virt-ferry.conf.plain"
printf '[evacuation]\nreserve=1\n' >> "$tmp/virt-ferry.conf"
"$CLI" monitor > "$tmp/monitor.reserve" 2>&1 &
monitor_pid=$!
start_daemon || tap_bail "virt-ferryd did not come back: $(cat "$tmp/daemon.$starts.log")"
reserve_overcommitted() { "$CLI" reserve 2> /dev/null | grep -qx 'Overcommitted:  yes'; }
tap_ok "reserve=1 and no peer: overcommitted once checked" wait_for 20 reserve_overcommitted
run "$CLI" reserve
tap_ok "virt-ferry reserve prints ClusterReserve 1 and why" has_lines "$out" '^ClusterReserve: 1$' \
    '^Overcommitted:  yes$' '^Reason: +if [^ ]+ fails: no host would be left for the 1 running domain$'
run "$CLI" --json reserve
tap_ok "and with --json" has_line "$out" '^\{"cluster_reserve":1,"overcommitted":true,"reason":"if [^"]+"\}$'
tap_ok "monitor shows the HostEvent overcommitted with the reason" \
    wait_for 10 grep -qE ' host overcommitted if [^ ]+ fails: no host would be left for the 1 running domain$' \
    "$tmp/monitor.reserve"
stop_daemon
kill "$monitor_pid" && wait "$monitor_pid"
monitor_pid=
mv "$tmp/virt-ferry.conf.plain" "$tmp/virt-ferry.conf"

# ------------------------------------------------------------------ following jobs of a stand-in
# test-cli-jobd serves scripted jobs (see its header) in place of virt-ferryd.
follow_ok() { grep -q '^Job: ' "$tmp/follow.out"; }
if [ -x "$JOBD" ]; then
    "$JOBD" > "$tmp/jobd.out" 2> "$tmp/jobd.err" &
    jobd_pid=$!
    wait_for 10 grep -qx ready "$tmp/jobd.out" || tap_bail "test-cli-jobd did not start: $(cat "$tmp/jobd.err")"

    run "$CLI" archive ok
    tap_is "archive ok: exit 0" "$rc" 0
    tap_ok "it prints the job's path first" has_line "$(head -n 1 <<< "$out")" '^Job: +/org/virtferry/Ferry1/job/[0-9]+$'
    tap_ok "not a terminal: one line per change of message or tenth" \
        has_lines "$out" '^  0%  0\.0/100\.0 MiB  saving the memory state$' '^ 50%  50\.0/100\.0 MiB  copying disk vda$'
    tap_is "no line redrawn in place" "$(grep -c $'\r' <<< "$out")" 0
    tap_ok "at most one line per tenth" [ "$(grep -c '%  ' <<< "$out")" -le 11 ]
    tap_ok "then the status, the message and the archive" \
        has_lines "$out" '^Status: +succeeded$' '^Message: +done$' '^Archive: +ok-20260101T000000Z$'
    tap_is "no steps without --verbose" "$(grep -c '^DOMAIN' <<< "$out")" 0
    run "$CLI" archive ok --verbose
    tap_ok "--verbose: the steps as a table" has_lines "$out" '^DOMAIN +STEP +TARGET +OUTCOME$' '^ok +copy-disk +vda +archived$'
    run "$CLI" archive warn
    tap_is "warning: exit 0" "$rc" 0
    tap_ok "with its notes" \
        has_lines "$out" '^Status: +warning$' '^Notes: +the CD-ROM media /iso/x.iso is left out; the floppy is empty$'
    run "$CLI" archive missing
    tap_is "a job failed with NotFound exits 3" "$rc" 3
    tap_ok "the job's message on stderr" is_error "$err" "job "
    tap_ok "naming the failure" has "$err" "failed: domain missing is gone"
    tap_ok "the status on stdout" has_line "$out" '^Status: +failed$'
    run "$CLI" archive unsupported
    tap_is "a job failed with Unsupported exits 1" "$rc" 1
    run "$CLI" archive instant
    tap_is "a job that ended before the call returned: exit 0" "$rc" 0
    tap_ok "its outcome read at once" has_lines "$out" '^Status: +succeeded$' '^Archive: +instant-'
    run "$CLI" archive denied
    tap_is "a refused call exits 4" "$rc" 4
    run "$CLI" archive ok --no-wait
    tap_is "--no-wait: exit 0" "$rc" 0
    tap_ok "printing only the job's path" has_line "$out" '^/org/virtferry/Ferry1/job/[0-9]+$'
    job=$out
    tap_ok "job shows it, until it ends" wait_for 10 bash -c '"$1" job "$2" | grep -qE "^Status: +succeeded$"' _ "$CLI" "$job"
    run "$CLI" job "${job##*/}"
    tap_ok "job N: its fields and steps" \
        has_lines "$out" '^Kind: +archive$' '^Target: +ok$' '^Progress: +100%$' '^Data: +100\.0/100\.0 MiB$' '^Steps:$' '^ok +save +memory\.save +saved$'
    run "$CLI" cancel "${job##*/}"
    tap_ok "cancel of an ended job says so" has "$out" "had already ended (succeeded): nothing to cancel"
    # A job dropped between Cancel and the GetAll that follows: the state before the cancel.
    run "$CLI" archive vanish --no-wait
    job=$out
    run "$CLI" cancel "${job##*/}" --json
    tap_is "--json cancel of a job gone right after the cancel: exit 0" "$rc" 0
    tap_ok "printing the job as it was before" \
        has_line "$out" "^\\{.*\"Status\":\"running\".*\"ObjectPath\":\"$job\"\\}\$"
    run "$CLI" archive ok --json
    tap_ok "--json: only the final state, one document" \
        has_line "$out" '^\{"DataRemaining":0,"DataTotal":104857600,"Error":"",.*"Status":"succeeded".*"ObjectPath":"/org/virtferry/Ferry1/job/[0-9]+"\}$'
    tap_is "one line" "$(wc -l <<< "$out")" 1
    run "$CLI" jobs
    tap_ok "jobs lists them" has_lines "$out" '^ID +KIND +TARGET +STATUS +PROGRESS +MESSAGE$' '^1 +archive +ok +succeeded +100% +done$' \
        '^[0-9]+ +archive +missing +failed +66% +domain missing is gone$'
    run "$CLI" jobs --no-legend
    tap_ok "jobs --no-legend: the first line is job 1" has_line "$(head -n 1 <<< "$out")" '^1 +archive +ok +succeeded'

    # Re-attaching to a job started with --no-wait: job N --follow and wait N follow it as
    # archive does, with archive's exit status.
    run "$CLI" archive ok --no-wait
    n=${out##*/}
    run "$CLI" job "$n" --follow
    tap_is "job N --follow: exit 0 once it succeeded" "$rc" 0
    tap_ok "following it to its outcome" has_lines "$out" '^Status: +succeeded$' '^Archive: +ok-20260101T000000Z$'
    run "$CLI" archive missing --no-wait
    n=${out##*/}
    run "$CLI" wait "$n"
    tap_is "wait N of a job that fails with NotFound: exit 3, as archive's" "$rc" 3
    tap_ok "its outcome" has_line "$out" '^Status: +failed$'
    run "$CLI" wait "$n"
    tap_is "wait N of a job that has ended: its outcome at once, the same exit" "$rc" 3
    run "$CLI" wait 999
    tap_is "wait N of no job exits 3" "$rc" 3
    "$CLI" archive slow --no-wait > "$tmp/slow.out"
    "$CLI" wait "$(sed 's|.*/||' "$tmp/slow.out")" > "$tmp/follow.out" 2> "$tmp/follow.err" &
    follow_pid=$!
    tap_ok "wait N of a running job: its progress lines" wait_for 10 grep -qE '^ +[0-9]+%  ' "$tmp/follow.out"
    kill -INT "$follow_pid"
    wait "$follow_pid"
    tap_is "Ctrl-C while re-attached: cancelled, exit 130" "$?" 130
    follow_pid=
    tap_ok "as archive's own following" grep -qE '^Status: +cancelled$' "$tmp/follow.out"

    # Ctrl-C cancels; the job rolls back; exit 130.
    "$CLI" archive slow > "$tmp/follow.out" 2> "$tmp/follow.err" &
    follow_pid=$!
    wait_for 10 follow_ok
    kill -INT "$follow_pid"
    wait "$follow_pid"
    tap_is "Ctrl-C: cancelled, exit 130" "$?" 130
    follow_pid=
    tap_ok "it says it cancels" grep -q "^virt-ferry: cancelling job [0-9]*; it rolls back" "$tmp/follow.err"
    tap_ok "and waits for the job to end cancelled" grep -qE '^Status: +cancelled$' "$tmp/follow.out"
    # A rollback that outlasts the test: the second Ctrl-C comes first, however slow the host.
    "$CLI" archive stubborn > "$tmp/follow.out" 2> "$tmp/follow.err" &
    follow_pid=$!
    wait_for 10 follow_ok
    kill -INT "$follow_pid"
    # The second Ctrl-C once the first has been taken (it says so).
    wait_for 10 grep -q "^virt-ferry: cancelling job" "$tmp/follow.err"
    kill -INT "$follow_pid"
    wait "$follow_pid"
    tap_is "Ctrl-C twice: stops waiting, exit 130" "$?" 130
    follow_pid=
    tap_ok "saying the job goes on" grep -q "stopped waiting; job [0-9]* goes on" "$tmp/follow.err"

    if command -v script > /dev/null && script -qc true /dev/null > /dev/null 2>&1; then
        script -qc "stty cols 60 2> /dev/null; COLUMNS=60 '$CLI' archive ok" /dev/null > "$tmp/tty.out" 2>&1
        tap_ok "on a terminal the progress line is redrawn in place" grep -q $'\r 50% \\[' "$tmp/tty.out"
        tap_ok "each one 59 columns wide" \
            bash -c 'tr "\r" "\n" < "$1" | grep "%  *\[" | awk "length != 59 { bad = 1 } END { exit bad }"' _ "$tmp/tty.out"
        tap_ok "and cleared before the outcome" grep -qE $'\r {59}\rStatus: +succeeded' "$tmp/tty.out"
    else
        tap_skip "progress on a terminal" "no script(1)"
    fi

    run "$CLI" migrate ok beta --method storage-migration --method migration --bandwidth 100 --compress --parallel 4
    tap_is "migrate ok: exit 0" "$rc" 0
    tap_ok "it follows the job to its end" has_lines "$out" '^Job: +/org/virtferry/Ferry1/job/[0-9]+$' \
        '^ 50%  50\.0/100\.0 MiB  copying disk vda$' '^Status: +succeeded$' '^Result: +beta$'
    tap_ok "sending the methods as given and only the options given, with their types" has_line "$out" \
        "^Message: +done \\(methods=storage-migration,migration options=\\{'bandwidth': <uint64 100>, 'parallel': <uint32 4>, 'compress': <true>\\}\\)$"
    run "$CLI" migrate ok beta
    tap_ok "without options: no method and no option sent" has_line "$out" '^Message: +done \(methods= options=@a\{sv\} \{\}\)$'
    run "$CLI" migrate missing beta
    tap_is "migrate: a job failed with NotFound exits 3" "$rc" 3
    run "$CLI" failover ok --domain web1 --domain "db 1" --no-start
    tap_is "failover ok: exit 0" "$rc" 0
    tap_ok "it follows the job to its end, sending the domains and start=false" has_lines "$out" \
        '^Job: +/org/virtferry/Ferry1/job/[0-9]+$' '^ 50%  50\.0/100\.0 MiB  copying disk vda$' '^Status: +succeeded$' \
        "^Message: +done \\(options=\\{'domains': <\\['web1', 'db 1'\\]>, 'start': <false>\\}\\)$"
    run "$CLI" failover ok
    tap_ok "without options: none sent" has_line "$out" '^Message: +done \(options=@a\{sv\} \{\}\)$'
    run "$CLI" failover missing
    tap_is "failover: a job failed with NotFound exits 3" "$rc" 3
    run "$CLI" failover unsupported
    tap_is "failover: a job failed with Unsupported exits 1" "$rc" 1

    run "$CLI" restore web1-20260101T000000Z --name copy --paused
    tap_is "restore --name --paused: exit 0" "$rc" 0
    tap_ok "sends name and start=false; Result is the domain" \
        has_lines "$out" '^Message: +done \(name=copy start=false\)$' '^Domain: +copy$'
    run "$CLI" restore web1-20260101T000000Z --start
    tap_ok "restore --start sends start=true" has_line "$out" 'name=web1 start=true'
    run "$CLI" restore web1-20260101T000000Z
    tap_ok "restore sends no start by default" has_line "$out" 'start=default'
    run "$CLI" verify web1-20260101T000000Z
    tap_is "verify: exit 0" "$rc" 0
    tap_ok "verify follows the Archive object's job" has_lines "$out" '^Status: +succeeded$' '^Archive: +web1-20260101T000000Z$'
    run "$CLI" verify nosuch-1
    tap_is "verify of an archive not listed exits 3" "$rc" 3
    TZ=UTC run "$CLI" archives
    tap_ok "archives: ListArchives with size and memory from the Archive objects" has_lines "$out" \
        '^ID +DOMAIN +SOURCE-HOST +CREATED +SIZE +MEMORY$' \
        '^web1-20260101T000000Z +web1 +alpha +2026-01-01T00:00:00 +300\.0 MiB +yes$' \
        '^lonely-20260102T000000Z +lonely +beta +2026-01-02T00:00:00 +- +-$'
    run "$CLI" archives --json
    tap_ok "archives --json: property names as keys" has_line "$out" \
        '^\[\{"Created":1767225600000000,"Domain":"web1","HasMemoryState":true,"Id":"web1-20260101T000000Z","Problem":"","Size":314572800,"SourceHost":"alpha","UUID":"[-0-9a-f]+","ObjectPath":"/org/virtferry/Ferry1/archive/web1_2d20260101T000000Z"\},\{"Created":1767312000000000,"Domain":"lonely","Id":"lonely-20260102T000000Z","SourceHost":"beta"\}\]$'
    run "$CLI" purge web1
    tap_is "purge: exit 0" "$rc" 0
    tap_ok "says what was purged and which archive keeps it" \
        has_lines "$out" '^Purged web1: undefined' '^Archive: +web1-20260101T000000Z$'
    run "$CLI" purge running1
    tap_is "purge of a domain not pending deletion exits 2" "$rc" 2

    "$CLI" archive slow > "$tmp/follow.out" 2> "$tmp/follow.err" &
    follow_pid=$!
    wait_for 10 follow_ok
    kill "$jobd_pid" && wait "$jobd_pid" 2> /dev/null
    jobd_pid=
    wait "$follow_pid"
    tap_is "virt-ferryd gone while following: exit 1" "$?" 1
    follow_pid=
    tap_ok "saying so" grep -q "virt-ferryd left the bus while job [0-9]* ran" "$tmp/follow.err"
else
    tap_skip "following jobs" "tests/unit/test-cli-jobd is not built"
fi

# ------------------------------------------------------------------ bus activation that fails
# A second private bus where org.virtferry.Ferry1 is activatable, by a program that fails.
mkdir "$tmp/services"
printf '[D-BUS Service]\nName=org.virtferry.Ferry1\nExec=/bin/false\n' > "$tmp/services/org.virtferry.Ferry1.service"
sed "s|<listen>|<servicedir>$tmp/services</servicedir><listen>|" "$tmp/bus.conf" > "$tmp/bus2.conf"
dbus-daemon --nofork --print-address=3 --config-file="$tmp/bus2.conf" 3> "$tmp/address2" 2>> "$tmp/bus.log" &
bus2_pid=$!
wait_for 10 test -s "$tmp/address2" || tap_bail "the second dbus-daemon did not start: $(cat "$tmp/bus.log")"
bus2=$(head -n 1 "$tmp/address2")
run "$CLI" --bus-address "$bus2" status
tap_is "status when bus activation fails exits 5" "$rc" 5
tap_ok "saying that activation could not start virt-ferryd" \
    is_error "$err" "virt-ferryd is not running on this host and bus activation could not start it: "
run "$CLI" --bus-address "$bus2" list
tap_is "list when bus activation fails exits 5" "$rc" 5
run "$CLI" --bus-address "$bus2" show test
tap_is "show when bus activation fails exits 5" "$rc" 5
"$CLI" --bus-address "$bus2" monitor > "$tmp/monitor2" 2>&1 &
monitor_pid=$!
tap_ok "monitor does not activate virt-ferryd: it says it is down" \
    wait_for 10 grep -qE '^[0-9T:.-]+ service down$' "$tmp/monitor2"
kill "$monitor_pid" && wait "$monitor_pid"
monitor_pid=
tap_done
