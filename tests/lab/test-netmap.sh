#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# VLAN-aware restore on real lab hosts: a guest archived on alpha on VLAN 300 of
# the Open vSwitch network comes back on beta on VLAN 300 by each rule of table B2 that a
# distributed switch has, checked on the wire (the tap port's tag in OVS, and pings between
# guests); the error rows leave the archive, beta's networks and domains unchanged; the
# standard-switch rows on the wire (`bridge vlan show`) where the kernel has bridge VLAN
# filtering, else refused by the hook with nothing left; CheckNetworks finds a planted
# mismatch; plain virsh migrate and
# virsh restore land on VLAN 300 through the hook alone, or are refused with its reason.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

LIBRARY=$LAB_DIR/shared/archive
NETNS=http://virtferry.org/xmlns/network/1
# libvirt 9.0 keeps no metadata in a network: virt-ferry's declarations for a network (the
# VLANs of a standard switch's portgroups, PVLANs) are files of its own, one per network.
netfile() { echo "$LAB_DIR/hosts/$1/var-lib-libvirt/virt-ferry/networks/$2.xml"; }
declare_network() { # HOST NETWORK ELEMENTS
    mkdir -p "$(dirname "$(netfile "$1" "$2")")"
    printf "<ferry:network xmlns:ferry='%s'>%s</ferry:network>\n" "$NETNS" "$3" > "$(netfile "$1" "$2")"
}
portgroup_add() { # HOST NETWORK NAME VLAN|trunk
    local vlan
    [ "$4" = trunk ] && vlan="<vlan trunk='yes'><tag id='300'/><tag id='400'/></vlan>" || vlan="<vlan><tag id='$4'/></vlan>"
    on "$1" virsh -q net-update "$2" add portgroup "<portgroup name='$3'>$vlan</portgroup>" --live --config > /dev/null
}
portgroup_del() { on "$1" virsh -q net-update "$2" delete portgroup "<portgroup name='$3'/>" --live --config > /dev/null 2>&1; }
portgroups() { on "$1" virsh net-dumpxml "$2" | sed -n "s/.*<portgroup name='\([^']*\)'.*/\1/p" | sort | tr '\n' ' '; }
# The OVS tag of a domain's tap port (its first NIC).
tap_tag() { # HOST DOMAIN
    local tap
    tap=$(on "$1" virsh domiflist "$2" | awk 'NR > 2 && $1 { print $1; exit }')
    on "$1" ovs-vsctl get port "$tap" tag 2> /dev/null
}
archive_of() { # HOST DOMAIN -> archive id
    local job
    job=$(call_job "$1" Archive 'sa{sv}' "$2" 0)
    [ "$(job_wait "$1" "$job")" = succeeded ] && jprop "$1" "$job" Result
}
# A saved domain is restored under its own name (libvirt's rule): each case restores v1 (or t1)
# on beta and removes it before the next.
restore_on() { # HOST ID [NETWORK] -> job path
    if [ $# -gt 2 ]; then call_job "$1" Restore 'sa{sv}' "$2" 1 network s "$3"
    else call_job "$1" Restore 'sa{sv}' "$2" 0; fi
}
steps_of() { prop "$1" "$2" $BUS.Job Steps; }
archive_digest() { (cd "$LIBRARY/$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum); }
remove() { on "$1" virsh -q destroy "$2" > /dev/null 2>&1; on "$1" virsh -q undefine "$2" > /dev/null 2>&1; }

# Two guests on beta, on green300 (VLAN 300) and red400 (VLAN 400), ping 198.19.30.1 (WHAT):
# the first must reach it, the second must not.
pings_only_from_vlan300() { # WHAT
    local c3 c4
    # Earlier runs of these guests left their consoles: every line read below is this run's.
    c3=$(console beta peer300) c4=$(console beta peer400)
    rm -f "$c3" "$c4"
    "$LAB" guest beta peer300 --mem 128 --network ovsnet --portgroup green300 --ip 198.19.30.2/24 --ping 198.19.30.1 >&2
    "$LAB" guest beta peer400 --mem 128 --network ovsnet --portgroup red400 --ip 198.19.30.3/24 --ping 198.19.30.1 >&2
    tap_ok "a guest on VLAN 300 on beta reaches $1" wait_for 30 grep -aq 'bytes from 198.19.30.1' "$c3"
    tap_ok "a guest on VLAN 400 on beta booted" wait_for 30 grep -aq 'booted name=peer400' "$c4"
    # An absence: watched for a while (the VLAN 300 guest got its replies within this time).
    sleep 3
    tap_ok "the guest on VLAN 400 does not reach $1" bash -c "! grep -aq 'bytes from 198.19.30.1' '$c4'"
    # Its own VLAN works: once 198.19.30.1 also answers on VLAN 400 (an OVS internal port of
    # beta's switch), its pings get replies.
    on beta ovs-vsctl add-port ovsbr0 probe400 tag=400 -- set interface probe400 type=internal
    on beta ip addr add 198.19.30.1/24 dev probe400
    on beta ip link set probe400 up
    tap_ok "and does reach an address on its own VLAN 400" wait_for 30 grep -aq 'bytes from 198.19.30.1' "$c4"
    on beta ovs-vsctl del-port ovsbr0 probe400
    remove beta peer300
    remove beta peer400
}

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"

# A guest on VLAN 300 of alpha's distributed switch, archived.
portgroup_add alpha ovsnet blue300 300
"$LAB" guest alpha v1 --mem 128 --network ovsnet --portgroup blue300 --ip 198.19.30.1/24 >&2 || tap_bail "guest v1"
tap_is "v1's tap port is tagged 300 on alpha" "$(tap_tag alpha v1)" 300
id=$(archive_of alpha v1)
tap_ok "v1 archived" test -n "$id"
tap_ok "the manifest records VLAN 300 on a distributed switch" \
    bash -c "grep -A7 '^\[nic ' '$LIBRARY/$id/manifest' | grep -q '^vlan=300' && grep -q '^switch=distributed' '$LIBRARY/$id/manifest'"
digest=$(archive_digest "$id")

# CheckNetworks on alpha: beta's ovsnet has no blue300.
out=$(on alpha busctl call $BUS $ROOT $MANAGER CheckNetworks)
tap_ok "CheckNetworks finds the portgroup beta lacks" grep -q '"v1" "[0-9a-f:]*" "qemu+tcp://beta/system" "portgroup blue300 of network ovsnet does not exist there"' <<< "$out"
tap_diag "$out"
cli alpha check-networks; rc=$?
tap_diag "$CLI_OUT"
tap_is "virt-ferry check-networks exits 0 with problems listed" "$rc" 0
tap_ok "it shows v1's NIC, the peer and the problem in one row" \
    grep -qE "^v1 +[0-9a-f:]{17} +qemu\+tcp://beta/system +portgroup blue300 of network ovsnet does not exist there$" <<< "$CLI_OUT"

# The network map virt-ferryd keeps on disk for the hook (its rewrite by table B2 is tested in
# tests/unit/test-hook-rewrite; plain virsh through the hook at the end).
netmap_file() { echo "$LAB_DIR/hosts/$1/var-lib-libvirt/virt-ferry/netmap"; }
tap_ok "virt-ferryd keeps beta's network map on disk" wait_for 10 test -s "$(netmap_file beta)"

# Row 5: no portgroup with VLAN 300 on beta -> vlan300 is created and the NIC lands on it.
job=$(restore_on beta "$id")
tap_is "row 5: restore onto a distributed switch without VLAN 300 succeeds" "$(job_wait beta "$job")" succeeded
tap_ok "row 5: the job's Steps name the rule" bash -c "grep -q 'row 5' <<< \"\$1\"" _ "$(steps_of beta "$job")"
tap_ok "row 5: portgroup vlan300 now exists on beta" grep -qw vlan300 <<< "$(portgroups beta ovsnet)"
tap_is "row 5: on the wire, the tap port is tagged 300" "$(tap_tag beta v1)" 300
remove beta v1

# Row 1: a portgroup with VLAN 300 (another name) exists -> connect to it.
portgroup_add beta ovsnet green300 300
portgroup_del beta ovsnet vlan300
job=$(restore_on beta "$id")
tap_is "row 1: restore onto a same-VLAN portgroup succeeds" "$(job_wait beta "$job")" succeeded
tap_ok "row 1: the job's Steps name the rule" bash -c "grep -q 'row 1' <<< \"\$1\"" _ "$(steps_of beta "$job")"
tap_is "row 1: the NIC is on portgroup green300" "$(on beta virsh dumpxml v1 --inactive | sed -n "s/.*portgroup='\([^']*\)'.*/\1/p" | head -1)" green300
tap_is "row 1: on the wire, the tap port is tagged 300" "$(tap_tag beta v1)" 300
tap_ok "row 1: no portgroup was created" bash -c "! grep -qw vlan300 <<< \"\$1\"" _ "$(portgroups beta ovsnet)"

# On the wire between guests: r1 and a guest on VLAN 300 reach each other; one on VLAN 400 does not.
portgroup_add beta ovsnet red400 400
pings_only_from_vlan300 "the restored guest"
remove beta v1

# Row 6: VLAN 300 is a PVLAN secondary on beta's distributed switch and no portgroup carries it.
portgroup_del beta ovsnet green300
declare_network beta ovsnet "<ferry:pvlan primary='100'><ferry:secondary vlan='300' type='isolated'/></ferry:pvlan>"
before_pg=$(portgroups beta ovsnet)
before_doms=$(on beta virsh list --all --name | sort | tr '\n' ' ')
job=$(restore_on beta "$id")
tap_is "row 6: a PVLAN secondary no portgroup carries fails" "$(job_wait beta "$job")" failed
tap_is "row 6: with NetworkUnavailable" "$(jprop beta "$job" Error)" org.virtferry.Ferry1.Error.NetworkUnavailable
tap_ok "row 6: the message names NIC, VLAN and network" bash -c "grep -q 'ovsnet' <<< \"\$1\" && grep -q '300' <<< \"\$1\"" _ "$(jprop beta "$job" Message)"
tap_is "row 6: the archive is byte for byte as it was" "$(archive_digest "$id")" "$digest"
tap_is "row 6: beta's portgroups are unchanged" "$(portgroups beta ovsnet)" "$before_pg"
tap_is "row 6: beta's domains are unchanged" "$(on beta virsh list --all --name | sort | tr '\n' ' ')" "$before_doms"
# The map follows the declaration file at once (inotify), for the hook.
tap_ok "row 6: the map on disk knows the PVLAN" wait_for 10 grep -q "300:100" "$(netmap_file beta)"

# Row 7: a portgroup carries the secondary -> connect to it.
portgroup_add beta ovsnet iso300 300
job=$(restore_on beta "$id")
tap_is "row 7: a portgroup carrying the PVLAN secondary takes the NIC" "$(job_wait beta "$job")" succeeded
tap_ok "row 7: the job's Steps name the rule" bash -c "grep -q 'row 7' <<< \"\$1\"" _ "$(steps_of beta "$job")"
tap_is "row 7: on the wire, the tap port is tagged 300" "$(tap_tag beta v1)" 300
remove beta v1

# The network option: the standard switch brnet. libvirt 9.0 cannot tag a Linux-bridge port;
# the hook does it when the guest has started (before it runs), through the bridge's VLAN
# filtering, and refuses the start where the bridge cannot filter (this kernel has no bridge
# VLAN filtering): never a guest on every VLAN.
filtering=$(on beta cat /sys/class/net/br0/bridge/vlan_filtering 2> /dev/null)
tap_diag "br0 on beta filters VLANs: ${filtering:-no (the kernel cannot)}"
tap_dev() { on "$1" virsh domiflist "$2" | awk 'NR > 2 && $1 { print $1; exit }'; }
port_vlans() { on "$1" bridge vlan show dev "$(tap_dev "$1" "$2")" | tail -n +2 | tr -s ' \t' ' '; }
standard_row() { # ROW WIRE-CHECK: a restore onto brnet, on the wire or refused
    local row=$1 before_pg
    before_pg=$(portgroups beta brnet)
    job=$(restore_on beta "$id" brnet)
    status=$(job_wait beta "$job")
    tap_ok "row $row: the job's Steps name the rule" bash -c "grep -q 'row $row' <<< \"\$1\"" _ "$(steps_of beta "$job")"
    if [ "$filtering" = 1 ]; then
        tap_is "row $row: restore onto the standard switch succeeds" "$status" succeeded
        tap_ok "row $row: on the wire, the tap port is $2" bash -c "grep -q '$2' <<< \"\$1\"" _ "$(port_vlans beta v1)"
        remove beta v1
    else
        tap_is "row $row: the restore fails: the bridge cannot filter VLANs" "$status" failed
        tap_ok "row $row: with the hook's reason" grep -q "does not filter VLANs" <<< "$(jprop beta "$job" Message)"
        tap_is "row $row: the archive is byte for byte as it was" "$(archive_digest "$id")" "$digest"
        tap_is "row $row: no v1 is left on beta" "$(on beta virsh list --all --name | grep -cx v1)" 0
        tap_is "row $row: brnet's portgroups are as they were" "$(portgroups beta brnet)" "$before_pg"
        # The refusal above is checked; the tagging itself never ran.
        tap_skip "row $row: on the wire, the tap port is $2" \
            "beta's kernel has no bridge VLAN filtering (br0 vlan_filtering='$filtering'): the tagging did not run"
    fi
}
standard_row 3 "300 PVID Egress Untagged"
tap_ok "row 3: no portgroup vlan300 is left unless the restore stands" \
    bash -c "[ '$filtering' = 1 ] || ! grep -qw vlan300 <<< \"\$1\"" _ "$(portgroups beta brnet)"
on beta virsh -q net-update brnet delete portgroup "<portgroup name='vlan300'/>" --live --config > /dev/null 2>&1
on beta virsh -q net-update brnet add portgroup "<portgroup name='all'/>" --live --config > /dev/null
declare_network beta brnet "<ferry:portgroup name='all' trunk='yes'/>"
wait_for 10 grep -q "^name=all" "$(netmap_file beta)"
standard_row 2 "4094"

# VLAN 4095 (trunk) cannot go to a distributed switch.
portgroup_add alpha ovsnet alltags trunk
"$LAB" guest alpha t1 --mem 128 --network ovsnet --portgroup alltags >&2 || tap_bail "guest t1"
tid=$(archive_of alpha t1)
tdigest=$(archive_digest "$tid")
job=$(restore_on beta "$tid")
tap_is "a trunk NIC onto a distributed switch fails" "$(job_wait beta "$job")" failed
tap_is "with NetworkUnavailable" "$(jprop beta "$job" Error)" org.virtferry.Ferry1.Error.NetworkUnavailable
tap_is "and the archive is as it was" "$(archive_digest "$tid")" "$tdigest"
tap_is "and no t1 on beta" "$(on beta virsh list --all --name | grep -cx t1)" 0
remove alpha t1

# ---- The transparent path: plain virsh, no virt-ferry call; the hook rewrites the XML.
# libvirt's migratable XML (migrations, save images) names portgroup blue300 but not its VLAN:
# beta's hook learns it from alpha's networks, which virt-ferryd on beta keeps in its map.
rm -f "$(netfile beta ovsnet)"
portgroup_del beta ovsnet iso300
tap_ok "beta's map on disk knows alpha's blue300 has VLAN 300" \
    wait_for 45 bash -c "grep -A1 '^name=blue300' '$(netmap_file beta)' | grep -q '^vlan=300'"
etc=$(sed -n 's/^sysconfdir = //p' "$BUILD/Makefile" | sed "s|\${prefix}|$(sed -n 's/^prefix = //p' "$BUILD/Makefile")|")
tap_ok "the hook finds beta's configuration at $etc/virt-ferry/virt-ferry.conf (libvirtd gives hooks no environment)" \
    bash -c "grep -q 'lab host beta' <<< \"\$1\"" _ "$(on beta cat "$etc/virt-ferry/virt-ferry.conf")"
"$LAB" guest alpha w1 --mem 128 --network ovsnet --portgroup blue300 --ip 198.19.30.1/24 >&2 || tap_bail "guest w1"

# Refused: VLAN 300 is a PVLAN secondary on beta and no portgroup carries it (row 6).
declare_network beta ovsnet "<ferry:pvlan primary='100'><ferry:secondary vlan='300' type='isolated'/></ferry:pvlan>"
wait_for 10 grep -q "300:100" "$(netmap_file beta)"
out=$(on alpha virsh migrate --live --p2p --persistent --undefinesource w1 qemu+tcp://beta/system 2>&1)
tap_ok "plain virsh migrate onto an unmappable VLAN fails" test $? -ne 0
tap_ok "with the hook's reason, shown by libvirt" grep -q "virt-ferry: cannot map NIC .* of domain w1 for migrate" <<< "$out"
tap_diag "$out"
tap_is "w1 still runs on alpha" "$(on alpha virsh domstate w1 2>&1)" running
tap_is "and beta has no w1" "$(on beta virsh list --all --name | grep -cx w1)" 0
rm -f "$(netfile beta ovsnet)"
wait_for 10 bash -c "! grep -q '300:100' '$(netmap_file beta)'"

# Mapped: beta has no blue300 and no VLAN 300 portgroup: the VLAN goes on the interface (row 5).
tap_ok "plain virsh migrate --live --p2p alpha -> beta succeeds" \
    on alpha virsh migrate --live --p2p --persistent --undefinesource w1 qemu+tcp://beta/system
tap_is "on the wire, w1's tap port on beta is tagged 300" "$(tap_tag beta w1)" 300
tap_ok "its persistent definition on beta carries VLAN 300" \
    bash -c "grep -q \"<tag id='300'/>\" <<< \"\$1\"" _ "$(on beta virsh dumpxml --inactive w1)"
portgroup_add beta ovsnet green300 300
pings_only_from_vlan300 "the migrated w1"
portgroup_del beta ovsnet green300
remove beta w1

# A save image made with plain virsh on alpha (portgroup blue300, no VLAN in its XML), restored
# with plain virsh on beta, which has no blue300: on VLAN 300 all the same.
"$LAB" guest alpha w2 --mem 128 --network ovsnet --portgroup blue300 >&2 || tap_bail "guest w2"
img=$LAB_DIR/shared/w2.save
tap_ok "virsh save on alpha" on alpha virsh -q save w2 "$img"
tap_ok "the image's XML names the portgroup and no VLAN" \
    bash -c "grep -q \"portgroup='blue300'\" <<< \"\$1\" && ! grep -q '<tag ' <<< \"\$1\"" _ "$(on alpha virsh save-image-dumpxml "$img")"
tap_ok "plain virsh restore of it on beta succeeds" on beta virsh -q restore "$img"
tap_is "on the wire, w2's tap port on beta is tagged 300" "$(tap_tag beta w2)" 300
remove beta w2
remove alpha w2
rm -f "$img"

# ---- A NIC hot-plugged while the guest runs: libvirt runs no hook for an attach, so
# virt-ferryd tags the new tap itself (device-added event), or, where the bridge cannot filter
# VLANs, cuts the NIC's link and unplugs it: never a NIC left on VLAN 1 untagged.
on beta virsh -q net-update brnet add portgroup "<portgroup name='hp400'/>" --live --config > /dev/null
declare_network beta brnet "<ferry:portgroup name='all' trunk='yes'/><ferry:portgroup name='hp400' vlan='400'/>"
"$LAB" guest beta hp1 --mem 128 --network brnet --no-wait >&2 || tap_bail "guest hp1"
# PCI hot-plug on the 'pc' machine needs ACPI, which the lab's guests go without: hp1 has it.
on beta virsh dumpxml --inactive hp1 | sed 's|</os>|</os><features><acpi/></features>|' > "$LAB_DIR/shared/hp1.xml"
on beta virsh -q destroy hp1 > /dev/null
rm -f "$(console beta hp1)"
on beta virsh -q define "$LAB_DIR/shared/hp1.xml" > /dev/null && on beta virsh -q start hp1 > /dev/null ||
    tap_bail "hp1 with ACPI did not start"
# Its guest unplugs a NIC only once its kernel runs.
wait_for 120 grep -aq "ready name=hp1" "$(console beta hp1)" || tap_bail "hp1 did not boot: $(console beta hp1)"
hp_mac=52:54:00:fe:77:01
printf "<interface type='network'><mac address='%s'/><source network='brnet' portgroup='hp400'/><model type='virtio'/></interface>\n" \
    "$hp_mac" > "$LAB_DIR/shared/hp-nic.xml"
hp_has_nic() { on beta virsh domiflist hp1 | grep -qi "$hp_mac"; }
hp_nic_gone() { ! hp_has_nic; }
hp_link() { on beta virsh domif-getlink hp1 "$hp_mac" 2> /dev/null | awk '{ print $NF }'; }
hp_cut_or_gone() { hp_nic_gone || [ "$(hp_link)" = down ]; }
on beta virsh -q attach-device hp1 "$LAB_DIR/shared/hp-nic.xml" --live > /dev/null 2> "$LAB_DIR/shared/hp-attach.err"
attached=$?
tap_is "virsh attach-device --live: a NIC on brnet portgroup hp400 (declared VLAN 400) into the running hp1" "$attached" 0
# What follows checks a NIC that was there: without one, "gone" would pass for nothing.
[ "$attached" = 0 ] || tap_bail "the attach failed: $(cat "$LAB_DIR/shared/hp-attach.err")"
hp_tap=$(on beta virsh domiflist hp1 | awk -v m="$hp_mac" 'tolower($5) == m { print $1 }')
if [ "$filtering" = 1 ]; then
    hp_tagged() { grep -q '400 PVID Egress Untagged' <<< "$(on beta bridge vlan show dev "$hp_tap" | tr -s ' \t' ' ')"; }
    tap_ok "virt-ferryd puts the hot-plugged tap $hp_tap on VLAN 400, untagged" wait_for 10 hp_tagged
else
    tap_ok "virt-ferryd cuts the hot-plugged NIC off at once: the bridge cannot filter VLANs" wait_for 10 hp_cut_or_gone
    tap_ok "and unplugs it" wait_for 30 hp_nic_gone
    # virt-ferryd logs once libvirt's unplug call has returned, which can be after the NIC left.
    tap_ok "saying why in its log" \
        wait_for 10 grep -q "cannot put NIC $hp_mac of domain hp1 on VLAN 400: bridge br0 of network brnet does not filter VLANs" \
        "$LAB_DIR/hosts/beta/var-log-libvirt/virt-ferryd.log"
    tap_is "hp1 itself runs on" "$(on beta virsh domstate hp1 2>&1)" running
fi
remove beta hp1
rm -f "$LAB_DIR/shared/hp-nic.xml" "$LAB_DIR/shared/hp1.xml" "$LAB_DIR/shared/hp-attach.err"

tap_done
