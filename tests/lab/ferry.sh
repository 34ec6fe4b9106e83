# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for lab tests and benchmarks that talk to virt-ferryd (sourced after tap.sh). Skips
# or bails out at once when the lab or virt-ferry cannot run here.
ferry_lab_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=${VIRT_FERRY_LAB:-$ferry_lab_dir/lab}
LAB_DIR=${VIRT_FERRY_LAB_DIR:-/var/lib/virt-ferry-lab}
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$ferry_lab_dir/../.." && pwd)}
[ "$(id -u)" = 0 ] || tap_skip_all "the lab needs root"
ls /boot/vmlinuz-* > /dev/null 2>&1 || tap_skip_all "no guest kernel (linux-image-cloud-amd64)"
command -v libvirtd > /dev/null || tap_skip_all "libvirtd is not installed (.ci/deps)"
[ -x "$BUILD/dbus/virt-ferryd" ] || tap_bail "virt-ferryd is not built in $BUILD"

BUS=org.virtferry.Ferry1
ROOT=/org/virtferry/Ferry1
MANAGER=$BUS.Manager
POLICY_NS=http://virtferry.org/xmlns/policy/1

on() { "$LAB" exec "$@"; }
# GLib's g_dbus_escape_object_path, written independently: every byte outside [A-Za-z0-9]
# becomes _ and two lower-case hex digits.
escape() { LC_ALL=C perl -e 'print join "", map { /[A-Za-z0-9]/ ? $_ : sprintf("_%02x", ord) } split //, $ARGV[0]' -- "$1"; }
domain_path() { echo "$ROOT/domain/$(escape "$1")"; }
# A property's value as GVariant text, through gdbus (which prints UTF-8 unescaped).
prop() { # HOST PATH IFACE NAME
    on "$1" gdbus call --system -d $BUS -o "$2" -m org.freedesktop.DBus.Properties.Get "$3" "$4" 2> /dev/null |
        sed -e 's/^(<\(.*\)>,)$/\1/'
}
unquote() { sed -e "s/^'\(.*\)'$/\1/" -e 's/^"\(.*\)"$/\1/'; }
dprop() { prop "$1" "$(domain_path "$2")" $BUS.Domain "$3"; }
mprop() { prop "$1" $ROOT $MANAGER "$2"; }
get_domain() { on "$1" gdbus call --system -d $BUS -o $ROOT -m $MANAGER.GetDomain -- "$2" 2>&1 | sed -e "s/^(objectpath '\(.*\)',)$/\1/"; }
has_object() { on "$1" busctl --list tree $BUS 2> /dev/null | grep -qxF "$2"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
host_pid() { on "$1" cat "$2" 2> /dev/null; }

# A call through gdbus (which prints the error's name): "ok", or the D-Bus error name.
# AS_USER=U makes the call as user U.
call_error() { # HOST OBJECT INTERFACE.METHOD gdbus-args...
    local h=$1 o=$2 m=$3 out; shift 3
    out=$(on "$h" ${AS_USER:+runuser -u "$AS_USER" --} gdbus call --system -d $BUS -o "$o" -m "$m" -- "$@" 2>&1) && { echo ok; return 0; }
    sed -n 's/.*GDBus\.Error:\([A-Za-z0-9_.]*\):.*/\1/p' <<< "$out" | head -n 1 | grep . || echo "no error name: $out"
}
merr() { local h=$1 m=$2; shift 2; call_error "$h" $ROOT "$MANAGER.$m" "$@"; }
FERR=org.virtferry.Ferry1.Error
# The CLI's exit status, its output kept in CLI_OUT.
cli() { # HOST ARGS...
    local h=$1; shift
    CLI_OUT=$(on "$h" virt-ferry "$@" 2>&1)
}

# Jobs: a method returning a job path; prints the path, or the error.
call_job() { # HOST METHOD SIGNATURE ARGS...
    local h=$1 m=$2; shift 2
    on "$h" busctl call $BUS $ROOT $MANAGER "$m" "$@" 2>&1 | sed -e 's/^o "\(.*\)"$/\1/'
}
jprop() { prop "$1" "$2" $BUS.Job "$3" | unquote; }
# Waits until the job ends; prints its Status.
job_wait() { # HOST PATH [SECONDS]
    local s
    [[ "$2" == /org/virtferry/Ferry1/job/* ]] || { echo "no job: $2"; return 0; }
    for ((i = 0; i < ${3:-300} * 5; i++)); do
        s=$(jprop "$1" "$2" Status)
        [ "$s" != running ] && [ -n "$s" ] && { echo "$s"; return 0; }
        sleep 0.2
    done
    echo "timeout"
}

# The test guest's console, and its per-boot id: it prints "alive name=N boot=ID" every
# second while it runs, so the same id printing on after a move proves it did not reboot.
console() { echo "$LAB_DIR/hosts/$1/var-log-libvirt/qemu/$2.console"; }
# From the boot line or, on a host the guest moved to, its alive lines. An empty id would make
# every "did not reboot" check pass on a reboot: bail out instead.
boot_id() {
    local id
    id=$(grep -a "\(booted\|alive\) name=$2 boot=" "$(console "$1" "$2")" 2> /dev/null | tail -n 1 | sed -n 's/.*boot=\([0-9a-f]*\).*/\1/p')
    [ -n "$id" ] || tap_bail "no boot id on $2's console on $1"
    echo "$id"
}
alive_count() { local n; n=$(grep -ac "alive name=$2 boot=$3" "$(console "$1" "$2")" 2> /dev/null); echo "${n:-0}"; }
alive_since() { # HOST NAME BOOT_ID LINES_BEFORE
    [ "$(alive_count "$@")" -gt "$4" ]
}

# alpha's polkitd is replaced by one that reads RULES-JS as its only local rules (from a
# directory mounted over /etc/polkit-1/rules.d in alpha's mount namespace only); with no
# argument, the rules go and the replacement reads the machine's own again.
polkit_rules() { # [RULES-JS]
    if [ -n "${1:-}" ]; then
        on alpha sh -c 'mountpoint -q /etc/polkit-1/rules.d || mount -t tmpfs -o size=1m,mode=0755 tmpfs /etc/polkit-1/rules.d'
        on alpha sh -c "cat > /etc/polkit-1/rules.d/10-ferry-test.rules && chmod 0644 /etc/polkit-1/rules.d/10-ferry-test.rules" <<< "$1"
    else
        on alpha sh -c 'mountpoint -q /etc/polkit-1/rules.d && umount /etc/polkit-1/rules.d || true'
    fi
    on alpha sh -c 'nohup /usr/lib/polkit-1/polkitd --no-debug --replace >> /var/log/libvirt/polkitd.log 2>&1 < /dev/null &'
    sleep 1
}

# The job a CLI run started, from its output (the CLI prints the job's path first).
cli_job_path() { grep -o '/org/virtferry/Ferry1/job/[0-9]*' <<< "$CLI_OUT" | head -n 1; }

# Only the lab's processes are ever killed: PID must live in HOST's network namespace.
of_lab_host() { # HOST PID
    local ino
    ino=$(cut -d' ' -f2 "$LAB_DIR/anchors/$1" 2> /dev/null)
    [ -n "$2" ] && [ -n "$ino" ] && [ "$(stat -L -c %i "/proc/$2/ns/net" 2> /dev/null)" = "$ino" ]
}
kill_lab() { # HOST PID [SIGNAL]
    of_lab_host "$1" "$2" || { tap_diag "not killing '$2': not a process of lab host $1"; return 1; }
    kill -"${3:-KILL}" "$2"
}
gone_pid() { ! kill -0 "$1" 2> /dev/null; }
stop_lab() { kill_lab "$1" "$2" TERM && wait_for 30 gone_pid "$2"; } # HOST PID
# Kills PID (of HOST) with SIGKILL as soon as CMD holds, polling every 10 ms for SECONDS.
kill_when() { # HOST PID SECONDS CMD...
    local h=$1 pid=$2 s=$3 i
    shift 3
    of_lab_host "$h" "$pid" || { tap_diag "no process of $h to kill ('$pid')"; return 1; }
    for ((i = 0; i < s * 100; i++)); do
        if "$@"; then
            kill -KILL "$pid"
            wait_for 10 gone_pid "$pid"
            return
        fi
        sleep 0.01
    done
    return 1
}
ferryd_pid() { host_pid "$1" /run/virt-ferryd.pid; }
