#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The lab itself: three real hosts, live and storage migration between them, and a
# down that leaves the machine exactly as it was.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
LAB=${VIRT_FERRY_LAB:-$here/lab}
LAB_DIR=${VIRT_FERRY_LAB_DIR:-/var/lib/virt-ferry-lab}

[ "$(id -u)" = 0 ] || tap_skip_all "the lab needs root"
ls /boot/vmlinuz-* > /dev/null 2>&1 || tap_skip_all "no guest kernel (linux-image-cloud-amd64)"
command -v libvirtd > /dev/null || tap_skip_all "libvirtd is not installed (.ci/deps)"

# What the machine's own namespaces look like; none of it may change.
machine_net() {
    ip -br link | awk '{ print $1, $3 }' | sort
    ip -br addr | awk '{ $2 = ""; print }' | sort
    ip route show table all | sort
    ip -6 route show table all | grep -v '^local\|^multicast\|^fe80\|^anycast' | sort
}
machine_mounts() { awk '{ print $5 }' /proc/self/mountinfo | sort; }
namespaces() { stat -L -c %i /proc/[0-9]*/ns/net /proc/[0-9]*/ns/mnt /proc/[0-9]*/ns/uts 2> /dev/null | sort -u; }
# Processes in a network namespace that did not exist before the lab, or that name it.
lab_processes() {
    local p ino
    for p in /proc/[0-9]*; do
        ino=$(stat -L -c %i "$p/ns/net" 2> /dev/null) || continue
        if ! grep -qx "$ino" <<< "$ns_before" ||
            tr '\0' ' ' < "$p/cmdline" 2> /dev/null | grep -q "virt-ferry-lab:"; then
            echo "${p#/proc/}"
        fi
    done
    return 0
}

"$LAB" down > /dev/null 2>&1
net_before=$(machine_net)
mounts_before=$(machine_mounts)
ns_before=$(namespaces)
trap '"$LAB" down > /dev/null 2>&1' EXIT

t0=$(date +%s.%N)
"$LAB" up 3 >&2 || tap_bail "lab up 3 failed"
t_up=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
tap_diag "lab up 3: $t_up s (accelerator: $("$LAB" accel))"

for h in alpha beta gamma; do
    tap_is "$h answers virsh hostname with its own name" "$("$LAB" exec $h virsh hostname | tr -d '\n')" "$h"
done
uuids=$(for h in alpha beta gamma; do "$LAB" exec $h virsh capabilities | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p' | head -1; done | sort -u | wc -l)
tap_is "each host has its own libvirt host UUID" "$uuids" 3
tap_is "hosts reach each other's libvirtd by name over the lab link" \
    "$("$LAB" exec alpha virsh -c qemu+tcp://gamma/system hostname | tr -d '\n')" gamma
tap_ok "libvirtd on beta listens on the lab link only" \
    bash -c "'$LAB' exec beta ss -Hltn 'sport = :16509' | awk '{ print \$4 }' | grep -qx '198.18.0.12:16509'"
tap_ok "each host has an OVS bridge on the userspace datapath" \
    bash -c "'$LAB' exec gamma ovs-vsctl get bridge ovsbr0 datapath_type | grep -qx netdev"
tap_ok "each host has a Linux bridge br0" bash -c "'$LAB' exec beta ip -br link show br0 type bridge | grep -q ."
touch "$LAB_DIR/shared/from-alpha-$$"
tap_ok "shared storage is the same directory on every host" \
    "$LAB" exec gamma test -e "$LAB_DIR/shared/from-alpha-$$"
rm -f "$LAB_DIR/shared/from-alpha-$$"

# A guest whose memory keeps changing, live-migrated peer to peer.
t0=$(date +%s.%N)
tap_ok "a 256 MiB guest dirtying memory starts on alpha" \
    "$LAB" guest alpha mig1 --mem 256 --dirty 16
tap_diag "guest boot: $(grep -a -m1 'booted name=mig1' "$LAB_DIR/hosts/alpha/var-log-libvirt/qemu/mig1.console" | sed 's/.*\[\([0-9.]*\)\].*/\1/') s guest time, ready after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
sleep 2
t0=$(date +%s.%N)
tap_ok "virsh migrate --live --p2p alpha -> beta succeeds" \
    "$LAB" exec alpha virsh migrate --live --p2p --persistent --undefinesource mig1 qemu+tcp://beta/system
tap_diag "live migration of 256 MiB (16 MiB/s dirty): $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
tap_is "mig1 runs on beta" "$("$LAB" exec beta virsh domstate mig1 | head -1)" running
tap_is "mig1 is gone from alpha" "$("$LAB" exec alpha virsh list --all --name | grep -c '^mig1$')" 0
beta_console=$LAB_DIR/hosts/beta/var-log-libvirt/qemu/mig1.console
lines=$(grep -ac 'alive name=mig1' "$beta_console" 2> /dev/null); lines=${lines:-0}
tap_ok "the guest keeps running on beta (new heartbeats on its console)" \
    wait_for 15 bash -c "[ \$(grep -ac 'alive name=mig1' '$beta_console') -gt $lines ]"

# A guest with a local disk: storage migration copies it to gamma.
tap_ok "a guest with a local disk starts on alpha" "$LAB" guest alpha disk1 --mem 128 --disk 64 --dirty 4
tap_ok "its disk is local to alpha" test ! -e "$LAB_DIR/hosts/gamma/var-lib-libvirt/images/disk1.qcow2"
t0=$(date +%s.%N)
tap_ok "virsh migrate --live --p2p --copy-storage-all alpha -> gamma succeeds" \
    "$LAB" exec alpha virsh migrate --live --p2p --copy-storage-all --persistent --undefinesource \
    disk1 qemu+tcp://gamma/system
tap_diag "storage migration of 128 MiB + 64 MiB disk: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
tap_is "disk1 runs on gamma" "$("$LAB" exec gamma virsh domstate disk1 | head -1)" running
raw=$(mktemp)
"$LAB" exec gamma qemu-img convert -U -O raw /var/lib/libvirt/images/disk1.qcow2 "$raw"
header=$(head -c 512 "$raw" | tr -d '\0')
rm -f "$raw"
tap_is "the disk's data arrived on gamma" "$header" "FERRYDISK1 1 disk1"

# up again changes nothing; a host that crashed is rebuilt by the next up.
"$LAB" up 3 >&2
tap_is "lab up is idempotent (mig1 still runs on beta)" "$("$LAB" exec beta virsh domstate mig1 | head -1)" running
read -r gamma_anchor _ < "$LAB_DIR/anchors/gamma"
kill -KILL "$gamma_anchor"
"$LAB" up 3 >&2
tap_is "a host whose namespaces died is rebuilt by the next up" "$("$LAB" exec gamma virsh hostname | tr -d '\n')" gamma

# A crashed run: alpha's anchor is gone but its daemons still run; down cleans it all.
read -r alpha_anchor _ < "$LAB_DIR/anchors/alpha"
kill -KILL "$alpha_anchor"
t0=$(date +%s.%N)
"$LAB" down >&2
tap_diag "lab down: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
trap - EXIT
tap_is "down leaves no lab process behind" "$(lab_processes | tr '\n' ' ')" ""
tap_is "down leaves no namespace behind" "$(comm -13 <(echo "$ns_before") <(namespaces) | tr '\n' ' ')" ""
tap_is "the machine's mounts are as before" "$(machine_mounts)" "$mounts_before"
tap_is "the machine's links, addresses and routes are identical before up and after down" \
    "$(machine_net)" "$net_before"
tap_ok "no veth is left in the machine's namespace" bash -c '! ip -br link show type veth | grep -q .'
tap_done
