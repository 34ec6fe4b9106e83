#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferry's bash completion (tools/virt-ferry.bash-completion), sourced as bash-completion
# loads it, asked to complete a few command lines: verbs, options, domains and archives from
# a real virt-ferryd on a private bus (libvirt's test:///default driver: one domain, "test"),
# peers from a virt-ferry.conf.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
. "$here/../lab/privbus.sh"
BUILD=${VIRT_FERRY_BUILDDIR:-$here/../..}
CLI=$BUILD/tools/virt-ferry
DAEMON=$BUILD/dbus/virt-ferryd
COMPLETION=$BUILD/tools/bash-completion/virt-ferry
BASH_COMPLETION=${BASH_COMPLETION:-/usr/share/bash-completion/bash_completion}

[ -r "$BASH_COMPLETION" ] || tap_skip_all "bash-completion is not installed ($BASH_COMPLETION)"
command -v dbus-daemon > /dev/null || tap_skip_all "dbus-daemon is not installed"
[ -x "$CLI" ] && [ -x "$DAEMON" ] && [ -r "$COMPLETION" ] ||
    tap_skip_all "build tools/virt-ferry, dbus/virt-ferryd and tools/bash-completion/virt-ferry first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/virt-ferry-completion.XXXXXX") || tap_bail "mktemp failed"
bus_pid= daemon_pid=
cleanup() {
    local pid
    for pid in $daemon_pid $bus_pid; do
        kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

private_bus_conf system "unix:dir=$tmp" > "$tmp/bus.conf"
mkdir "$tmp/library" "$tmp/state" "$tmp/images"
printf '[libvirt]\nuri=test:///default\n[archive]\nlibrary=%s\nimage-dir=%s\n[state]\ndir=%s\n' \
    "$tmp/library" "$tmp/images" "$tmp/state" > "$tmp/virt-ferry.conf"
printf '[archive]\nlibrary=/nowhere\n[peers]\nuris=qemu+tls://beta/system;qemu+ssh://root@gamma.example.org/system\n' \
    > "$tmp/peers.conf"

private_bus_start "$tmp/bus.conf" "$tmp/bus.log"
bus_pid=$PRIVATE_BUS_PID
export DBUS_SYSTEM_BUS_ADDRESS=$PRIVATE_BUS_ADDRESS
unset DBUS_SESSION_BUS_ADDRESS
"$DAEMON" --config "$tmp/virt-ferry.conf" > "$tmp/daemon.log" 2>&1 &
daemon_pid=$!
wait_for 15 "$CLI" status > /dev/null 2>&1 || tap_bail "virt-ferryd did not answer: $(cat "$tmp/daemon.log")"

# virsh (the fallback for domains) must not reach a libvirtd of this machine.
export LIBVIRT_DEFAULT_URI=test:///default
. "$BASH_COMPLETION"
. "$COMPLETION"
tap_is "the completion is registered for virt-ferry" "$(complete -p virt-ferry 2> /dev/null)" \
    "complete -F _virt_ferry virt-ferry"

complete_line() { # WORD... (the last one being completed): the candidates, sorted, on one line
    COMP_WORDS=("$CLI" "$@")
    COMP_CWORD=$#
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _virt_ferry
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

# Every verb of the CLI's table, as its --help lists them.
verbs=$("$CLI" --help | awk '/^Verbs:/ { v = 1; next } v && /^$/ { exit } v { print $1 }' | sort | tr '\n' ' ' | sed 's/ $//')
tap_ok "virt-ferry --help lists verbs" test -n "$verbs"
tap_is "an empty word completes to every verb" "$(complete_line '')" "$verbs"
tap_is "ar completes to the archive verbs" "$(complete_line ar)" "archive archive-delete archives"
tap_is "a global option before the verb is skipped" "$(complete_line --json mi)" "migrate"
tap_is "--js completes to the global --json" "$(complete_line --js)" "--json"
tap_is "a verb's options come from its --help" "$(complete_line migrate --no-w)" "--no-wait"
tap_is "show's argument is a domain, from virt-ferryd" "$(complete_line show '')" "test"
tap_is "migrate's first argument is a domain" "$(complete_line migrate t)" "test"
tap_is "migrate's second argument is a peer of [peers] uris=" \
    "$(complete_line --config "$tmp/peers.conf" migrate test '')" "beta gamma.example.org"
tap_is "evacuate --exclude takes a peer" "$(complete_line --config "$tmp/peers.conf" evacuate --exclude g)" \
    "gamma.example.org"
tap_is "maintenance takes enter, leave or status" "$(complete_line maintenance '')" "enter leave status"
tap_is "restore's argument is an archive (the library is empty)" "$(complete_line restore '')" ""

# Without virt-ferryd, domains come from virsh (here libvirt's test driver).
kill "$daemon_pid" && wait "$daemon_pid" 2> /dev/null
daemon_pid=
if command -v virsh > /dev/null; then
    tap_is "without virt-ferryd, domains come from virsh list --all --name" "$(complete_line archive '')" "test"
fi
tap_done
