#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
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
# The text of one top-level section (a heading at column 0, matched case-insensitively).
section() { # PAGE HEADING
    awk -v h="$2" 'toupper($0) == toupper(h) { on = 1; next } /^[A-Z]/ { on = 0 } on' <<< "${TEXT[$1]}"
}
member_documented() { # INTERFACE-SECTION HEADING SYNOPSIS-REGEX
    local text
    text=$(section org.virtferry.Ferry1.5 "$1")
    grep -qF -- "$2" <<< "$text" && grep -qE -- "^[[:space:]]*$3" <<< "$text"
}
action_documented() { # ACTION: in an entry "org.virtferry.ferry1.a, .b" of AUTHORIZATION
    section org.virtferry.Ferry1.5 AUTHORIZATION | grep -E "^[[:space:]]*org\.virtferry\.ferry1\.[a-z]+(, \.[a-z]+)*$" |
        grep -E "(ferry1|, )\.$1(,|$)" > /dev/null
}
policy_key_documented() { # KEY: in SetDomainPolicy's list of keys and types, and an entry of virt-ferry(1)'s POLICY KEYS
    section org.virtferry.Ferry1.5 "INTERFACE org.virtferry.Ferry1.Manager" | grep -E "(keys to set: |, |^[[:space:]]*)$1 \([a-z]+[,)]" > /dev/null
}
cli_policy_key_documented() { section virt-ferry.1 "POLICY KEYS" | grep -E "^[[:space:]]*$1=[^ ]* \([a-z]+\)$" > /dev/null; }
verb_documented() { # VERB: in SYNOPSIS and as an entry of VERBS
    section virt-ferry.1 SYNOPSIS | grep -E "^[[:space:]]*virt-ferry \[OPTION\.\.\.\] (.* )?$1( |$)" > /dev/null && documents virt-ferry.1 VERBS "$1"
}
# (No grep -q after a pipe: with pipefail, the writer's SIGPIPE would fail a match.)
# A line of SECTION that, without its indentation, is exactly LINE or starts with it and a
# blank: where the page documents a member, error, key or verb (its heading or synopsis),
# not a mention in some sentence.
documents() { # PAGE HEADING LINE
    section "$1" "$2" | sed -e 's/^[[:space:]]*//' | grep -E -- "^$(sed -e 's/[][\\.*^$+?(){}|/]/\\&/g' <<< "$3")( |,|$)" > /dev/null
}
declare -A TEXT
for p in org.virtferry.Ferry1.5 virt-ferryd.8 virt-ferry.1 virt-ferry-hook.8 virt-ferry.conf.5 virt-ferry-shutdown.service.8; do
    [ -f "$BUILD/man/$p" ] || tap_bail "man/$p is not built"
    TEXT[$p]=$(page "$p")
    tap_ok "man/$p renders" [ -n "${TEXT[$p]}" ]
done

xml=$SRC/dbus/org.virtferry.Ferry1.xml
for iface in $(sed -n 's/.*<interface name="\([^"]*\)".*/\1/p' "$xml"); do
    # Section titles are upper case in roff.
    tap_ok "org.virtferry.Ferry1(5) documents interface $iface" grep -qiwF -- "INTERFACE $iface" <<< "${TEXT[org.virtferry.Ferry1.5]}"
done
# Each member under its own interface: "The NAME() method" with its synopsis "NAME (",
# "The NAME property" with "NAME  readable|writable", "The NAME signal".
while read -r iface kind member; do
    case $kind in
    method) heading="The $member() method" synopsis="$member [(]" ;;
    property) heading="The $member property" synopsis="$member[[:space:]]+(readable|writable)" ;;
    signal) heading="The $member signal" synopsis="$member [(]" ;;
    esac
    tap_ok "org.virtferry.Ferry1(5) documents $kind $iface.$member (heading and synopsis)" \
        member_documented "INTERFACE $iface" "$heading" "$synopsis"
done < <(awk '/<interface name=/ { match($0, /name="[^"]*"/); i = substr($0, RSTART + 6, RLENGTH - 7) }
              /<(method|property|signal) name=/ { match($0, /<[a-z]+/); k = substr($0, RSTART + 1, RLENGTH - 1)
                                                    match($0, /name="[^"]*"/); print i, k, substr($0, RSTART + 6, RLENGTH - 7) }' "$xml")
for error in $(sed -n 's/.*"\(org\.virtferry\.Ferry1\.Error\.[A-Za-z]*\)".*/\1/p' "$SRC/common/ferry-names.h"); do
    tap_ok "org.virtferry.Ferry1(5) documents error $error (an entry of ERRORS)" documents org.virtferry.Ferry1.5 ERRORS "$error"
done
for action in $(sed -n 's/.*<action id="org\.virtferry\.ferry1\.\([a-z]*\)".*/\1/p' "$SRC/policies/org.virtferry.ferry1.policy"); do
    tap_ok "org.virtferry.Ferry1(5) documents polkit action $action (an entry of AUTHORIZATION)" \
        action_documented "$action"
done
policy_keys=$(sed -n 's/.*= { "\([a-z_]*\)", "[a-z]*" },$/\1/p' "$SRC/plugin/policy-keys.c")
tap_ok "plugin/policy-keys.c lists the policy keys" [ -n "$policy_keys" ]
for key in $policy_keys; do
    tap_ok "org.virtferry.Ferry1(5) documents policy key $key (SetDomainPolicy's list of keys and types)" \
        policy_key_documented "$key"
    tap_ok "virt-ferry(1) documents policy key $key (an entry of POLICY KEYS)" \
        cli_policy_key_documented "$key"
done
for verb in status list show policy monitor archive restore archives purge archive-delete verify migrate move-disk failover plan evacuate reserve jobs job cancel check-networks; do
    tap_ok "virt-ferry(1) documents the verb $verb (in SYNOPSIS and as an entry of VERBS)" \
        verb_documented "$verb"
done
for key in $(sed -n 's/.*g_key_file_get_[a-z_]*(kf, "\([a-z]*\)", "\([a-z_]*\)".*/\1.\2/p; s/.*string_or(kf, "\([a-z]*\)", "\([a-z_-]*\)".*/\1.\2/p' "$SRC/plugin/config.c"); do
    tap_ok "virt-ferry.conf(5) documents [${key%%.*}] ${key#*.}=" \
        bash -c 'grep -qF "[$1]" <<< "$2" && grep -qF "$3=" <<< "$2"' _ "${key%%.*}" "${TEXT[virt-ferry.conf.5]}" "${key#*.}"
done
# Every group and key of config.c's table of known keys (the ones it warns about the absence
# of) is documented under its group, the group's heading as written in the file; and every
# key config.c reads is in that table.
known=$(sed -n 's/^ *{ "\([a-z]*\)", "\([a-z-]*\)" },$/\1.\2/p' "$SRC/plugin/config.c")
tap_ok "config.c has a table of known keys" [ -n "$known" ]
for key in $known; do
    tap_ok "virt-ferry.conf(5) documents [${key%%.*}] ${key#*.}= under a heading [${key%%.*}]" \
        bash -c 'grep -qxE "[[:space:]]*\[$1\]" <<< "$2" && grep -qF "$3=" <<< "$2"' _ "${key%%.*}" "${TEXT[virt-ferry.conf.5]}" "${key#*.}"
done
for key in $(sed -n 's/.*g_key_file_get_[a-z_]*(kf, "\([a-z]*\)", "\([a-z_-]*\)".*/\1.\2/p; s/.*string_or(kf, "\([a-z]*\)", "\([a-z_-]*\)".*/\1.\2/p; s/.*positive_[a-z]*(config, kf, "\([a-z_-]*\)".*/evacuation.\1/p' "$SRC/plugin/config.c"); do
    tap_ok "config.c's key [${key%%.*}] ${key#*.}= is in its table of known keys" grep -qxF "$key" <<< "$known"
done
# The journal's MESSAGE_IDs (plugin/log.h) and every VIRT_FERRY_* field the code logs are in
# virt-ferryd(8)'s LOGS.
for id in $(sed -n 's/^#define FERRY_MESSAGE_[A-Z_]* "\([0-9a-f]\{32\}\)".*/\1/p' "$SRC/plugin/log.h"); do
    tap_ok "virt-ferryd(8) documents MESSAGE_ID $id" documents virt-ferryd.8 LOGS "$id"
done
for field in $(grep -oh '"VIRT_FERRY_[A-Z_]*",' "$SRC"/plugin/*.c "$SRC"/dbus/*.c | tr -d '",' | sort -u); do
    tap_ok "virt-ferryd(8) documents the journal field $field=" \
        bash -c 'grep -qF "$1=" <<< "$2"' _ "$field" "$(section virt-ferryd.8 LOGS)"
done
# A page's title in its header is whole (docbook-xsl cuts it at 20 characters, escapes included).
for p in org.virtferry.Ferry1.5 virt-ferryd.8 virt-ferry.1 virt-ferry-hook.8 virt-ferry.conf.5; do
    title=$(sed -n 's|.*<refentrytitle>\(.*\)</refentrytitle>.*|\1|p' "$SRC/man/$p.xml" | head -n 1)
    tap_ok "$p's header names it in full" grep -qF "$(tr a-z A-Z <<< "$title")(${p##*.})" <<< "$(head -n 3 <<< "${TEXT[$p]}")"
done
tap_done
