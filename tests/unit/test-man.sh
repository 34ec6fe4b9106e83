#!/bin/bash
# The man pages are the project's copy of its contracts: every D-Bus member, error and polkit
# action, every CLI verb, and every config key must appear in them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/tap.sh"
SRC=$(cd "$here/../.." && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$SRC}

page() { # rendered text of a built page, without roff's bold overstrikes
    MANWIDTH=200 man -l "$BUILD/man/$1" 2> /dev/null | col -b
}
documents() { # PAGE WORD
    grep -qwF -- "$2" <<< "${TEXT[$1]}"
}
declare -A TEXT
for p in org.virtferry.Ferry1.5 virt-ferryd.8 virt-ferry.1 virt-ferry-hook.8 virt-ferry.conf.5; do
    [ -f "$BUILD/man/$p" ] || tap_bail "man/$p is not built"
    TEXT[$p]=$(page "$p")
    tap_ok "man/$p renders" [ -n "${TEXT[$p]}" ]
done

xml=$SRC/dbus/org.virtferry.Ferry1.xml
for iface in $(sed -n 's/.*<interface name="\([^"]*\)".*/\1/p' "$xml"); do
    # Section titles are upper case in roff.
    tap_ok "org.virtferry.Ferry1(5) documents interface $iface" grep -qiwF -- "INTERFACE $iface" <<< "${TEXT[org.virtferry.Ferry1.5]}"
done
for member in $(sed -n 's/.*<\(method\|property\|signal\) name="\([^"]*\)".*/\2/p' "$xml"); do
    tap_ok "org.virtferry.Ferry1(5) documents $member" documents org.virtferry.Ferry1.5 "$member"
done
for error in $(sed -n 's/.*"\(org\.virtferry\.Ferry1\.Error\.[A-Za-z]*\)".*/\1/p' "$SRC/common/ferry-names.h"); do
    tap_ok "org.virtferry.Ferry1(5) documents error $error" documents org.virtferry.Ferry1.5 "$error"
done
for action in $(sed -n 's/.*<action id="org\.virtferry\.ferry1\.\([a-z]*\)".*/\1/p' "$SRC/policies/org.virtferry.ferry1.policy"); do
    tap_ok "org.virtferry.Ferry1(5) documents polkit action $action" \
        grep -q "org\.virtferry\.ferry1\.$action\|\.$action\b" <<< "${TEXT[org.virtferry.Ferry1.5]}"
done
policy_keys=$(sed -n 's/.*= { "\([a-z_]*\)", "[a-z]*" },$/\1/p' "$SRC/plugin/policy-keys.c")
tap_ok "plugin/policy-keys.c lists the policy keys" [ -n "$policy_keys" ]
for key in $policy_keys; do
    tap_ok "org.virtferry.Ferry1(5) documents policy key $key" documents org.virtferry.Ferry1.5 "$key"
    tap_ok "virt-ferry(1) documents policy key $key" documents virt-ferry.1 "$key"
done
for verb in status list show policy monitor archive restore archives purge verify migrate move-disk failover plan evacuate jobs job cancel check-networks; do
    tap_ok "virt-ferry(1) documents the verb $verb" documents virt-ferry.1 "$verb"
done
for key in $(sed -n 's/.*g_key_file_get_[a-z_]*(kf, "\([a-z]*\)", "\([a-z_]*\)".*/\1.\2/p; s/.*string_or(kf, "\([a-z]*\)", "\([a-z_-]*\)".*/\1.\2/p' "$SRC/plugin/config.c"); do
    tap_ok "virt-ferry.conf(5) documents [${key%%.*}] ${key#*.}=" \
        bash -c 'grep -qF "[$1]" <<< "$2" && grep -qF "$3=" <<< "$2"' _ "${key%%.*}" "${TEXT[virt-ferry.conf.5]}" "${key#*.}"
done
tap_done
