#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# virt-ferryd's cost per domain: resident memory and the time to list every object, with
# 500 domains against 1 (the baseline), on libvirt's test driver and a private system bus.
# Prints numbers and ratios, then one JSON line (json.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/json.sh"
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
N=${1:-500}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/bus.conf" <<CONF
<busconfig><type>system</type><listen>unix:path=$work/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
CONF
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile > /dev/null 2>&1 &
pids+=($!)
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$work/bus
for _ in $(seq 100); do busctl list > /dev/null 2>&1 && break; sleep 0.1; done

node() { # N: a test-driver node with N running domains
    echo "<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads></cpu><memory>8388608</memory>"
    for ((i = 0; i < $1; i++)); do
        printf "<domain type='test'><name>dom %04d</name><memory>131072</memory><os><type>hvm</type></os>%s</domain>\n" \
            "$i" "<metadata><ferry:policy xmlns:ferry='http://virtferry.org/xmlns/policy/1'><ferry:priority value='$((i % 100))'/></ferry:policy></metadata>"
    done
    echo "</node>"
}
measure() { # N -> "rss_kib tree_ms objects_ms"
    local n=$1 pid t0 rss
    node "$n" > "$work/node-$n.xml"
    printf '[libvirt]\nuri=test://%s\n' "$work/node-$n.xml" > "$work/ferry-$n.conf"
    VIRT_FERRY_ADMIN_PROBE=/bin/true "$BUILD/dbus/virt-ferryd" --config "$work/ferry-$n.conf" > "$work/log-$n" 2>&1 &
    pid=$!
    pids+=($pid)
    for _ in $(seq 300); do
        busctl get-property org.virtferry.Ferry1 /org/virtferry/Ferry1 org.virtferry.Ferry1.Manager \
            LibvirtConnected 2> /dev/null | grep -q true && break
        sleep 0.1
    done
    sleep 1
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    # Most of RSS is library pages shared with libvirtd and every other process; what the
    # daemon itself costs is its private memory.
    priv=$(awk '/^Private_(Clean|Dirty)/ { s += $2 } END { print s }' "/proc/$pid/smaps_rollup")
    t0=$(date +%s%N)
    for _ in 1 2 3 4 5; do busctl tree org.virtferry.Ferry1 > /dev/null; done
    local tree=$((($(date +%s%N) - t0) / 5000000))
    t0=$(date +%s%N)
    for _ in 1 2 3 4 5; do
        busctl call org.virtferry.Ferry1 /org/virtferry/Ferry1 org.freedesktop.DBus.ObjectManager GetManagedObjects > /dev/null
    done
    local objects=$((($(date +%s%N) - t0) / 5000000))
    local count
    count=$(busctl --list tree org.virtferry.Ferry1 | grep -c '/domain/.')
    kill "$pid"
    wait "$pid" 2> /dev/null || true
    echo "$rss $tree $objects $count $priv"
}
read -r rss1 tree1 obj1 c1 priv1 <<< "$(measure 1)"
read -r rssN treeN objN cN privN <<< "$(measure "$N")"
echo "domains served: $c1 vs $cN"
echo "virt-ferryd RSS: $rss1 KiB with 1 domain, $rssN KiB with $N ($(( (rssN - rss1) / (N - 1) )) KiB per domain, ratio $(awk -v a="$rssN" -v b="$rss1" 'BEGIN { printf "%.2f", a / b }'))"
echo "virt-ferryd private memory: $priv1 KiB with 1 domain, $privN KiB with $N (ratio $(awk -v a="$privN" -v b="$priv1" 'BEGIN { printf "%.2f", a / b }'))"
echo "busctl tree: $tree1 ms with 1 domain, $treeN ms with $N (ratio $(awk -v a="$treeN" -v b="$tree1" 'BEGIN { printf "%.1f", a / (b ? b : 1) }'))"
echo "GetManagedObjects: $obj1 ms with 1 domain, $objN ms with $N (ratio $(awk -v a="$objN" -v b="$obj1" 'BEGIN { printf "%.1f", a / (b ? b : 1) }'))"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / (b ? b : 1) }'; }
bench_json inventory-scale domains "$N" served_1 "$c1" served_n "$cN" \
    rss_1_kib "$rss1" rss_n_kib "$rssN" rss_per_domain_kib $(((rssN - rss1) / (N - 1))) rss_ratio "$(ratio "$rssN" "$rss1")" \
    private_1_kib "$priv1" private_n_kib "$privN" private_ratio "$(ratio "$privN" "$priv1")" \
    tree_1_ms "$tree1" tree_n_ms "$treeN" tree_ratio "$(ratio "$treeN" "$tree1")" \
    objects_1_ms "$obj1" objects_n_ms "$objN" objects_ratio "$(ratio "$objN" "$obj1")"
