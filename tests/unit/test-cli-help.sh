#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferry's help and --config, without any virt-ferryd: help VERB, VERB -h and VERB --help
# print the same verb help; migrate's help and virt-ferry(1) give the same default methods;
# --config checks the file with virt-ferryd's reader and names what nothing reads.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
SRC=$(cd "$here/../.." && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$SRC}
CLI=$BUILD/tools/virt-ferry
[ -x "$CLI" ] || tap_skip_all "build tools/virt-ferry first"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/virt-ferry-help.XXXXXX") || tap_bail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
# No bus at all: whatever needs virt-ferryd fails to connect, after the checks tested here.
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/no-bus

run() { "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err"); }

for verb in archive migrate job wait; do
    run "$CLI" "$verb" --help
    want=$out
    tap_ok "$verb --help prints its usage" grep -q "^  virt-ferry \[OPTION…\] $verb " <<< "$want"
    run "$CLI" help "$verb"
    tap_is "help $verb: exit 0" "$rc" 0
    tap_is "help $verb prints what $verb --help does" "$out" "$want"
    run "$CLI" "$verb" -h
    tap_is "$verb -h prints it too" "$out" "$want"
done
run "$CLI" --help
want=$out
run "$CLI" help
tap_is "help alone prints virt-ferry's help" "$out" "$want"
tap_ok "which tells of help VERB" grep -qF "virt-ferry help VERB" <<< "$out"
run "$CLI" help frobnicate
tap_is "help of an unknown verb exits 2" "$rc" 2
tap_ok "naming it" grep -qF "unknown verb 'frobnicate'" <<< "$err"
run "$CLI" help job cancel
tap_is "help with two verbs exits 2" "$rc" 2

run "$CLI" job --help
tap_ok "job --help offers --follow" grep -qE "^  -f, --follow +Follow a running job" <<< "$out"
for opt in --no-legend --config; do
    run "$CLI" --help
    tap_ok "the global options include $opt" grep -qE "^  (-c, )?$opt" <<< "$out"
done

# The default methods: the help and virt-ferry(1) (as rendered) say the same.
run "$CLI" migrate --help
tap_ok "migrate --help: no --method means migration then failover" \
    grep -qF "No --method: virt-ferryd's default, migration then failover" <<< "$out"
if [ -f "$BUILD/man/virt-ferry.1" ] && command -v man > /dev/null; then
    page=$(MANWIDTH=200 man -l "$BUILD/man/virt-ferry.1" 2> /dev/null | col -b | tr -s ' \n' '  ')
    tap_ok "virt-ferry(1) gives the same default" grep -qF "virt-ferryd uses its default, migration then failover" <<< "$page"
else
    tap_ok "virt-ferry(1) gives the same default # SKIP man/virt-ferry.1 is not built or man is missing" true
fi

# --config, before or after the verb.
printf '[libvirt]\nuri=qemu:///system\nurl=qemu:///session\n[evacuation]\nbatch=2\n[pears]\nuris=x\n' > "$tmp/odd.conf"
run "$CLI" --config "$tmp/odd.conf" status
tap_ok "--config with unknown keys: the verb goes on (and finds no bus here)" grep -qF "cannot connect to the system bus" <<< "$err"
tap_ok "warning about the unknown key, by name and group" \
    grep -qxF "virt-ferry: warning: $tmp/odd.conf: unknown key url= in [libvirt]; it is ignored (see virt-ferry.conf(5))" <<< "$err"
tap_ok "and about the unknown group" grep -qF "unknown group [pears]" <<< "$err"
tap_is "nothing about the known ones" "$(grep -c 'batch\|uri=' <<< "$err")" 0
printf '[libvirt]\nuri=qemu:///system\n' > "$tmp/good.conf"
run "$CLI" status -c "$tmp/good.conf"
tap_is "a good file after the verb: no warning" "$(grep -c warning <<< "$err")" 0
printf '[libvirt\n' > "$tmp/bad.conf"
run "$CLI" --config "$tmp/bad.conf" status
tap_is "a file that does not parse exits 2" "$rc" 2
tap_ok "naming the file" grep -qF "virt-ferry: $tmp/bad.conf:" <<< "$err"
run "$CLI" --config "$tmp/missing.conf" status
tap_is "a missing file exits 2" "$rc" 2
printf '[evacuation]\nbatch=0\n' > "$tmp/range.conf"
run "$CLI" --config "$tmp/range.conf" list
tap_is "a value virt-ferryd refuses exits 2" "$rc" 2
tap_ok "naming the key" grep -qF "[evacuation] batch=0" <<< "$err"

tap_done
