#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferryd on real lab hosts: its objects and signals follow libvirt, odd domain names
# map to the documented paths, it survives libvirtd restarts, polkit guards its changes,
# malformed calls get proper errors (from root and from an unprivileged caller, whose
# changes are all AccessDenied), and the hook never holds libvirtd up.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

# Waits up to one second (the contract) for a domain property to read VALUE.
within_1s() { # HOST DOMAIN PROPERTY VALUE
    local t0 got
    t0=$(now)
    while :; do
        got=$(dprop "$1" "$2" "$3")
        [ "$got" = "$4" ] && return 0
        awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a > 1.0) }' && break
        sleep 0.05
    done
    printf '# %s %s: %s is %s after 1 s, want %s\n' "$1" "$2" "$3" "$got" "$4"
    return 1
}
monitor_saw() { grep -qF -- "$1" "$MONITOR_LOG"; }
# A minimal persistent domain, never started: enough for names and paths.
define_stub() { # HOST NAME
    local xml name
    name=$(printf '%s' "$2" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')
    xml=$(mktemp)
    printf "<domain type='qemu'><name>%s</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>\n" "$name" > "$xml"
    on "$1" virsh -q define "$xml" > /dev/null
    local rc=$?
    rm -f "$xml"
    return $rc
}

"$LAB" down > /dev/null 2>&1
trap 'stop_monitor; "$LAB" down > /dev/null 2>&1' EXIT
MONITOR_LOG=$(mktemp)
stop_monitor() {
    local pid
    pid=$(host_pid alpha /run/test-monitor.pid) && on alpha kill "$pid" 2> /dev/null
    rm -f /run/test-monitor.pid.unused
}
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"

# ------------------------------------------------------------------ the service itself
tap_is "virt-ferryd on alpha reports libvirtd's host name" "$(mprop alpha Hostname)" "'alpha'"
tap_is "Peers come from the config file" "$(mprop beta Peers)" "['qemu+tcp://alpha/system']"
tap_is "Version is the package version" "$(mprop alpha Version)" "'$(sed -n 's/^PACKAGE_VERSION = //p' "$BUILD/Makefile")'"
tap_is "Maintenance is false" "$(mprop alpha Maintenance)" "false"
tap_ok "LibvirtHealth comes from libvirt-admin (reachable, workers, clients)" \
    bash -c "'$LAB' exec alpha busctl get-property $BUS $ROOT $MANAGER LibvirtHealth | grep -q '\"reachable\" b true' &&
             '$LAB' exec alpha busctl get-property $BUS $ROOT $MANAGER LibvirtHealth | grep -q '\"workers\" u [1-9]'"
tap_ok "the root serves the ObjectManager" \
    bash -c "'$LAB' exec alpha busctl call $BUS $ROOT org.freedesktop.DBus.ObjectManager GetManagedObjects > /dev/null"

on alpha sh -c 'echo $$ > /run/test-monitor.pid; exec gdbus monitor --system --dest org.virtferry.Ferry1' > "$MONITOR_LOG" 2>&1 &
# gdbus monitor says whose the name is once it watches it.
wait_for 10 grep -q "is owned by" "$MONITOR_LOG" || tap_bail "gdbus monitor did not start: $(cat "$MONITOR_LOG")"

# ------------------------------------------------------------------ lifecycle
"$LAB" guest alpha g1 --mem 128 >&2 || tap_bail "guest g1 did not start on alpha"
tap_ok "a started guest is normal, running:booted" within_1s alpha g1 Reason "'running:booted'"
tap_is "its UUID is libvirt's" "$(dprop alpha g1 UUID)" "'$(on alpha virsh domuuid g1 | tr -d '\n')'"
tap_is "its Host is alpha" "$(dprop alpha g1 Host)" "'alpha'"
on alpha virsh -q suspend g1 > /dev/null
tap_ok "suspend: State normal, Reason paused:user within 1 s" within_1s alpha g1 Reason "'paused:user'"
on alpha virsh -q resume g1 > /dev/null
tap_ok "resume: Reason running:unpaused within 1 s" within_1s alpha g1 Reason "'running:unpaused'"
on alpha virsh -q destroy g1 > /dev/null
tap_ok "destroy: State stop within 1 s" within_1s alpha g1 State "'stop'"
tap_is "destroy: Reason shutoff:destroyed" "$(dprop alpha g1 Reason)" "'shutoff:destroyed'"
on alpha virsh -q start g1 > /dev/null
tap_ok "start: State normal within 1 s" within_1s alpha g1 State "'normal'"
tap_ok "DomainStateChanged signals were seen on the bus (paused, unpaused, destroyed)" \
    wait_for 2 bash -c "grep -qF \"DomainStateChanged ('g1', 'normal', 'paused:user')\" '$MONITOR_LOG' &&
             grep -qF \"DomainStateChanged ('g1', 'normal', 'running:unpaused')\" '$MONITOR_LOG' &&
             grep -qF \"DomainStateChanged ('g1', 'stop', 'shutoff:destroyed')\" '$MONITOR_LOG'"

# ------------------------------------------------------------------ names and paths
names=("db 1" "50%off" "a.b-c" "x_y" "データベース" "it's<&>" "-lead" "UPPER9")
for n in "${names[@]}"; do
    define_stub alpha "$n" || tap_diag "could not define '$n'"
done
for n in "${names[@]}"; do
    path=$(domain_path "$n")
    tap_ok "'$n' is served at $path" wait_for 1 has_object alpha "$path"
    tap_is "GetDomain('$n') finds it" "$(get_domain alpha "$n")" "$path"
    tap_is "its Name reads back unescaped" "$(dprop alpha "$n" Name | sed -e "s/^'\(.*\)'$/\1/" -e 's/^"\(.*\)"$/\1/' -e "s/\\\\'/'/g")" "$n"
done
tap_is "g_dbus_escape_object_path's documented example: db 1 -> db_201" "$(domain_path 'db 1')" "$ROOT/domain/db_201"
uuid=$(on alpha virsh domuuid "db 1" | tr -d '\n')
tap_is "GetDomain(UUID) finds the same object" "$(get_domain alpha "$uuid")" "$(domain_path 'db 1')"
tap_is "GetDomain of an unknown domain is NotFound" "$(merr alpha GetDomain nosuch)" $FERR.NotFound
tap_is "GetDomain with a control character is InvalidArgument" "$(merr alpha GetDomain "$(printf 'a\tb')")" $FERR.InvalidArgument
on alpha virsh -q domrename "db 1" "db 2" > /dev/null
tap_ok "a renamed domain moves to its new path" wait_for 1 has_object alpha "$(domain_path 'db 2')"
tap_ok "and leaves its old one" bash -c "! '$LAB' exec alpha busctl --list tree $BUS | grep -qxF '$(domain_path 'db 1')'"
on alpha virsh -q undefine "データベース" > /dev/null
tap_ok "an undefined domain's object goes away" \
    wait_for 1 bash -c "! '$LAB' exec alpha busctl --list tree $BUS | grep -qxF '$(domain_path 'データベース')'"
tap_ok "and DomainStateChanged says undefined" wait_for 2 monitor_saw "DomainStateChanged ('データベース', 'stop', 'undefined')"

# ------------------------------------------------------------------ policy and polkit
set_policy() { # HOST USER ARGS...
    local h=$1 u=$2; shift 2
    on "$h" runuser -u "$u" -- busctl call $BUS $ROOT $MANAGER SetDomainPolicy 'sa{sv}' "$@" 2>&1
}
metadata() { on alpha virsh metadata "$1" $POLICY_NS 2> /dev/null; }
out=$(set_policy alpha root g1 4 hold b true priority i 10 pin as 2 alpha beta eq s db)
tap_is "root sets a policy with SetDomainPolicy" "$out" ""
tap_ok "the policy is in the domain's metadata, live" bash -c "'$LAB' exec alpha virsh metadata g1 $POLICY_NS | grep -q '<hold/>'"
tap_ok "and persistent" bash -c "'$LAB' exec alpha virsh metadata g1 $POLICY_NS --config | grep -q 'priority value=\"10\"'"
tap_ok "the Policy property shows it" wait_for 1 bash -c "'$LAB' exec alpha busctl get-property $BUS $(domain_path g1) $BUS.Domain Policy | grep -q '\"priority\" i 10'"
before=$(metadata g1)
tap_is "an unprivileged caller gets AccessDenied" "$(AS_USER=nobody merr alpha SetDomainPolicy g1 "{'hold': <false>}")" \
    org.freedesktop.DBus.Error.AccessDenied
tap_is "and the metadata is unchanged" "$(metadata g1)" "$before"
tap_ok "an unprivileged caller may read" bash -c "'$LAB' exec alpha runuser -u nobody -- busctl get-property $BUS $(domain_path g1) $BUS.Domain Policy | grep -q hold"
tap_is "only root may send hook reports (bus policy)" \
    "$(AS_USER=nobody call_error alpha $ROOT $BUS.Hook.Report qemu g1 start begin)" org.freedesktop.DBus.Error.AccessDenied
tap_is "a bad value is InvalidArgument" "$(merr alpha SetDomainPolicy g1 "{'hold': <false>, 'priority': <5000>}")" $FERR.InvalidArgument
out=$(set_policy alpha root g1 2 hold b false priority i 5000)
tap_ok "naming it" grep -q "priority" <<< "$out"
tap_is "and nothing of that call was written" "$(metadata g1)" "$before"

fuzz=$(on alpha "$BUILD/tests/lab/ferry-fuzz" --count 2000 --domain g1 2>&1)
rc=$?
tap_diag "$(tail -n 1 <<< "$fuzz")"
tap_is "2000 malformed calls all get documented errors" "$rc" 0
[ $rc = 0 ] || tap_diag "$fuzz"
tap_is "the fuzzed domain's metadata is unchanged" "$(metadata g1)" "$before"
tap_is "virt-ferryd still answers" "$(mprop alpha Hostname)" "'alpha'"

# The same from a caller without authorization: malformed calls, and well-formed calls of
# every method that changes something, which must all be AccessDenied.
tap_is "the unprivileged caller is uid 65534" "$(on alpha runuser -u nobody -- id -u)" 65534
fuzz=$(on alpha runuser -u nobody -- "$BUILD/tests/lab/ferry-fuzz" --unprivileged --count 1000 --seed 2 --domain g1 2>&1)
rc=$?
tap_diag "$(tail -n 1 <<< "$fuzz")"
tap_is "1000 calls from uid 65534 all get AccessDenied or documented errors" "$rc" 0
[ $rc = 0 ] || tap_diag "$fuzz"
for m in SetDomainPolicy Archive Purge Migrate MoveDisk Report; do
    tap_ok "uid 65534's well-formed $m calls on g1 were each AccessDenied" \
        grep -qF "org.freedesktop.DBus.Error.AccessDenied ($m)" <<< "$fuzz"
done
# No archive or dead host of these names exists: NotFound tells nothing either.
for m in Restore Failover; do
    tap_ok "uid 65534's $m calls were each AccessDenied (or NotFound)" \
        grep -qE "(org.freedesktop.DBus.Error.AccessDenied|Ferry1.Error.NotFound) \($m\)" <<< "$fuzz"
done
tap_is "g1 is still defined and running" "$(on alpha virsh domstate g1 2> /dev/null | head -n 1)" running
tap_is "and its metadata is unchanged" "$(metadata g1)" "$before"
tap_is "virt-ferryd survived and still answers" "$(mprop alpha Hostname)" "'alpha'"

# ------------------------------------------------------------------ libvirtd restarts
"$LAB" guest alpha g2 --mem 128 >&2 || tap_bail "guest g2 did not start on alpha"
uuid2=$(on alpha virsh domuuid g2 | tr -d '\n')
on alpha kill -9 "$(host_pid alpha /run/libvirtd.pid)"
tap_ok "virt-ferryd notices libvirtd is gone" wait_for 20 bash -c "'$LAB' exec alpha busctl get-property $BUS $ROOT $MANAGER LibvirtConnected | grep -q false"
tap_ok "and survives it" bash -c "'$LAB' exec alpha busctl get-property $BUS $ROOT $MANAGER Version > /dev/null"
# Changes virt-ferryd cannot see while libvirtd is down: g2's QEMU dies, a domain appears.
on alpha kill -9 "$(host_pid alpha /run/libvirt/qemu/g2.pid)"
on alpha sh -c "printf \"<domain type='qemu'><name>offline</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='pc'>hvm</type></os></domain>\n\" > /etc/libvirt/qemu/offline.xml"
on alpha libvirtd --daemon --listen --pid-file=/run/libvirtd.pid
tap_ok "virt-ferryd reconnects after libvirtd restarts" wait_for 30 bash -c "'$LAB' exec alpha busctl get-property $BUS $ROOT $MANAGER LibvirtConnected | grep -q true"
tap_ok "the inventory resyncs: a domain defined meanwhile appears" wait_for 2 has_object alpha "$(domain_path offline)"
tap_ok "the inventory resyncs: a guest that died meanwhile is error" within_1s alpha g2 State "'error'"
tap_ok "with libvirt's reason shutoff:crashed" within_1s alpha g2 Reason "'shutoff:crashed'"
tap_ok "the running guest is still normal" within_1s alpha g1 State "'normal'"
tap_ok "the policy survived the restart" bash -c "'$LAB' exec alpha busctl get-property $BUS $(domain_path g1) $BUS.Domain Policy | grep -q '\"priority\" i 10'"
tap_ok "HostEvent libvirt-disconnected and libvirt-connected were signalled" \
    wait_for 2 bash -c "grep -q \"HostEvent ('libvirt-disconnected'\" '$MONITOR_LOG' && grep -q \"HostEvent ('libvirt-connected'\" '$MONITOR_LOG'"
if [ -x "$BUILD/hooks/virt-ferry-hook" ]; then
    tap_ok "the daemon hook reported libvirtd's start (HostEvent daemon-start)" monitor_saw "HostEvent ('daemon-start'"
    tap_ok "the qemu hook reported g1's operations (HostEvent domain-hook)" monitor_saw "HostEvent ('domain-hook', 'g1 started begin"
else
    tap_ok "the daemon hook reported libvirtd's start # SKIP virt-ferry-hook is not built in $BUILD/hooks" true
    tap_ok "the qemu hook reported g1's operations # SKIP virt-ferry-hook is not built in $BUILD/hooks" true
fi
policy_before=$(on alpha busctl get-property $BUS "$(domain_path g1)" $BUS.Domain Policy)
"$LAB" ferryd alpha restart >&2
tap_is "after a virt-ferryd restart, the policy reads the same" \
    "$(on alpha busctl get-property $BUS "$(domain_path g1)" $BUS.Domain Policy)" "$policy_before"
tap_is "and the object tree is back" "$(get_domain alpha "$uuid2")" "$(domain_path g2)"

# ------------------------------------------------------------------ polkit's details are canonical
# An administrator's rule keyed on a domain's name must hold whichever of its names the
# caller uses. alpha's polkitd is replaced by one that reads a rules directory of this
# test's own (polkit_rules, ferry.sh).
nobody_holds() { # DOMAIN: SetDomainPolicy as nobody; prints gdbus's answer ("()" or the error)
    on alpha runuser -u nobody -- gdbus call --system -d $BUS -o $ROOT -m $MANAGER.SetDomainPolicy -- \
        "$1" "{'hold': <false>}" 2>&1
}
uuid1=$(on alpha virsh domuuid g1 | tr -d '\n')
polkit_rules "polkit.addRule(function (action, subject) {
    if (action.id != 'org.virtferry.ferry1.policy' || subject.user != 'nobody')
        return polkit.Result.NOT_HANDLED;
    var domain = action.lookup('domain'), uuid = action.lookup('uuid');
    if (domain == 'g1')
        return polkit.Result.NO;
    if (domain == 'g2' && uuid != '$uuid2')
        return polkit.Result.NO;
    return polkit.Result.YES;
});"
tap_ok "a rule may allow a domain by its name and UUID (details domain and uuid)" \
    wait_for 10 bash -c "[ \"\$('$LAB' exec alpha runuser -u nobody -- gdbus call --system -d $BUS -o $ROOT -m $MANAGER.SetDomainPolicy -- g2 \"{'hold': <false>}\" 2>&1)\" = '()' ]"
tap_is "the details are the same when the caller names the domain by its UUID, in capitals" \
    "$(nobody_holds "$(tr a-f A-F <<< "$uuid2")")" "()"
before=$(metadata g1)
out=$(nobody_holds "$uuid1")
tap_ok "a rule denying g1 by name cannot be bypassed with g1's UUID" grep -q "org.freedesktop.DBus.Error.AccessDenied" <<< "$out"
tap_is "and g1's metadata is unchanged" "$(metadata g1)" "$before"
out=$(nobody_holds nosuch)
tap_ok "a domain that does not exist is NotFound before polkit is asked" grep -q "org.virtferry.Ferry1.Error.NotFound" <<< "$out"
polkit_rules ""
tap_ok "without the rule, an unprivileged caller is denied again" \
    wait_for 10 bash -c "'$LAB' exec alpha runuser -u nobody -- gdbus call --system -d $BUS -o $ROOT -m $MANAGER.SetDomainPolicy -- g2 \"{'hold': <false>}\" 2>&1 | grep -q org.freedesktop.DBus.Error.AccessDenied"

# ------------------------------------------------------------------ the hook's bound
# libvirt waits for its hooks; a stopped virt-ferryd, or even a stopped system bus, may
# cost each hook call at most its bound (250 ms), never a hang.
time_start_destroy() {
    local t0
    t0=$(now)
    on alpha virsh -q start g2 > /dev/null && on alpha virsh -q destroy g2 > /dev/null || return 1
    since "$t0"
}
base=$(time_start_destroy) || base=
ferryd_pid=$(host_pid alpha /run/virt-ferryd.pid)
on alpha kill -STOP "$ferryd_pid"
stopped=$(time_start_destroy) || stopped=
on alpha kill -CONT "$ferryd_pid"
bus_pid=$(on alpha sh -c 'for p in /proc/[0-9]*; do tr "\0" " " < $p/cmdline 2>/dev/null | grep -q "^dbus-daemon --config-file" && echo ${p#/proc/}; done' | head -n 1)
on alpha kill -STOP "$bus_pid"
busstopped=$(time_start_destroy) || busstopped=
on alpha kill -CONT "$bus_pid"
tap_diag "start+destroy of g2: ${base:-failed} s; virt-ferryd stopped: ${stopped:-failed} s; system bus stopped: ${busstopped:-failed} s"
# Five hook calls (prepare, start, started, stopped, release) at 250 ms each at worst.
bounded() { [ -n "$2" ] && awk -v b="$1" -v t="$2" 'BEGIN { exit !(t <= b + 5 * 0.25 + 2) }'; }
tap_ok "libvirt operations work with virt-ferryd stopped, within the hook's bound" bounded "${base:-0}" "$stopped"
tap_ok "libvirt operations work with the system bus stopped, within the hook's bound" bounded "${base:-0}" "$busstopped"
tap_is "virt-ferryd answers again once continued" "$(mprop alpha Hostname)" "'alpha'"

# ------------------------------------------------------------------ Verify from anyone stays bounded
# Archive.Verify needs no authorization: 50 at once from uid 65534 against a 64 MiB archive
# must leave virt-ferryd's memory and threads bounded (before the caps: 493 MB and 46
# threads with 150 calls), each call answered with a job or Busy; finished jobs leave.
"$LAB" guest alpha v1 --mem 128 --disk 64 >&2 || tap_bail "guest v1 did not start on alpha"
on alpha virsh -q destroy v1 > /dev/null 2>&1
vjob=$(call_job alpha Archive 'sa{sv}' v1 0)
tap_is "an archive to verify is made" "$(job_wait alpha "$vjob")" succeeded
vid=$(jprop alpha "$vjob" Result)
VIRT_FERRY_JOB_LINGER_SECONDS=3 "$LAB" ferryd alpha restart >&2
ferryd_pid=$(host_pid alpha /run/virt-ferryd.pid)
vpath=$ROOT/archive/$(escape "$vid")
wait_for 10 has_object alpha "$vpath" || on alpha busctl call $BUS $ROOT $MANAGER ListArchives > /dev/null 2>&1
status_of() { on alpha awk -v k="$1:" '$1 == k { print $2 }' /proc/"$ferryd_pid"/status; }
flood=$LAB_DIR/verify-flood-$$
mkdir -p "$flood"
callers=()
for i in $(seq 1 50); do
    on alpha setpriv --reuid 65534 --regid 65534 --clear-groups \
        gdbus call --system -d $BUS -o "$vpath" -m $BUS.Archive.Verify > "$flood/$i" 2>&1 &
    callers+=($!)
done
max_threads=0
for _ in $(seq 1 40); do
    t=$(status_of Threads)
    [ -n "$t" ] && [ "$t" -gt "$max_threads" ] && max_threads=$t
    sleep 0.1
done
# Only the callers: a bare wait would also wait for the signal monitor, which never ends.
wait "${callers[@]}"
hwm_kb=$(status_of VmHWM)
tap_diag "50 Verify calls from uid 65534: peak RSS $((hwm_kb / 1024)) MB, up to $max_threads threads"
tap_ok "virt-ferryd's peak RSS stays under 100 MB" test "${hwm_kb:-999999}" -lt $((100 * 1024))
tap_ok "virt-ferryd's threads stay at 24 or fewer" test "$max_threads" -le 24
# gdbus prints the job's path, or the D-Bus error's name (busctl would print only its text).
answered=$(cat "$flood"/* | grep -c "^(objectpath '/org/virtferry/Ferry1/job/[0-9]*',)\$\|GDBus.Error:org.virtferry.Ferry1.Error.Busy:")
tap_is "every call got a job or Busy" "$answered" 50
tap_diag "answered Busy: $(cat "$flood"/* | grep -c 'Ferry1.Error.Busy:'); others: $(cat "$flood"/* | grep -v "^(objectpath\|Error.Busy:" | sort | uniq -c | head -n 3)"
jobs_on_bus() { on alpha busctl --list tree $BUS 2> /dev/null | grep -c '^/org/virtferry/Ferry1/job/'; }
no_jobs_on_bus() { [ "$(jobs_on_bus)" = 0 ]; }
tap_ok "finished verify jobs leave the bus after the linger" wait_for 60 no_jobs_on_bus
tap_is "virt-ferryd still answers" "$(mprop alpha Hostname)" "'alpha'"
rm -rf "$flood"

tap_done
