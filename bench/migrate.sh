#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab benchmark: virt-ferry's live migration of a guest with 1 GiB of memory dirtying 20 MiB/s
# against `virsh migrate --live --p2p` with the same flags, and its storage migration of a
# 2 GiB qcow2 disk holding 512 MiB against `virsh migrate --live --p2p --copy-storage-all`,
# back and forth between alpha and beta in the same run, and its move (cold) of that disk;
# each also as a fraction of the lab link's throughput, measured first with a plain TCP
# stream between the two hosts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
export VIRT_FERRY_BUILDDIR=$BUILD
. "$here/../tests/lab/tap.sh"
. "$here/../tests/lab/ferry.sh"
MEM=${BENCH_MEM_MIB:-1024}
DIRTY=${BENCH_DIRTY_MIB:-20}
DATA=${BENCH_DISK_DATA_MIB:-512}
IMG=/var/lib/libvirt/images
URI_BETA=qemu+tcp://beta/system
URI_ALPHA=qemu+tcp://alpha/system

"$LAB" up 2 >&2
# A libvirtd's first capabilities question after it starts takes seconds here (it probes the
# host CPU and QEMU); a host that has run for a while has that behind it. Both hosts get it
# behind them before anything is timed, so neither side pays it.
for h in alpha beta; do on "$h" virsh capabilities > /dev/null; on "$h" virsh domcapabilities > /dev/null; done
t() { local t0; t0=$(now); "$@" > /dev/null; since "$t0"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
job_time() { # HOST METHOD ARGS... : a virt-ferry job from call to its end
    local t0 job s
    t0=$(now)
    job=$(call_job "$@")
    s=$(job_wait "$1" "$job" 600)
    [ "$s" = succeeded ] || { echo "virt-ferry job $job ended $s: $(jprop "$1" "$job" Message)" >&2; exit 1; }
    since "$t0"
}
ferry_migrate() { # FROM DOMAIN PEER METHOD
    job_time "$1" Migrate 'ssasa{sv}' "$2" "$3" 1 "$4" 0
}

# ---- the lab link, as a plain TCP stream of 1 GiB (python3's sockets, no tuning)
link_mib_s() {
    on beta sh -c 'python3 -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"0.0.0.0\", 5599)); s.listen(1)
c, _ = s.accept()
while c.recv(1 << 20): pass
" > /dev/null 2>&1 &'
    sleep 1
    on alpha python3 -c "
import socket, time
s = socket.create_connection(('beta', 5599)); buf = b'\0' * (1 << 20); t0 = time.time()
for _ in range(1024): s.sendall(buf)
s.close(); print('%.0f' % (1024 / (time.time() - t0)))"
}
LINK=$(link_mib_s)
echo "lab link: $LINK MiB/s (1 GiB over TCP, alpha -> beta)"

# ---- live migration, shared storage
on alpha virsh -q destroy bm > /dev/null 2>&1 || true
on alpha virsh -q undefine bm > /dev/null 2>&1 || true
"$LAB" guest alpha bm --mem "$MEM" --dirty "$DIRTY" >&2
sleep 2
base=$(t on alpha virsh migrate --live --p2p --persistent --undefinesource bm "$URI_BETA")
ferry=$(ferry_migrate beta bm alpha migration)
mem_mib=$MEM
echo "live migration of $MEM MiB dirtying $DIRTY MiB/s:"
echo "  virsh migrate --live --p2p   $base s  ($(ratio "$(awk -v m="$mem_mib" -v t="$base" 'BEGIN { print m / t }')" "$LINK") of the link)"
echo "  virt-ferry Migrate migration $ferry s  ($(ratio "$(awk -v m="$mem_mib" -v t="$ferry" 'BEGIN { print m / t }')" "$LINK") of the link)"
echo "  ratio virt-ferry / virsh: $(ratio "$ferry" "$base")"
on alpha virsh -q destroy bm > /dev/null
on alpha virsh -q undefine bm > /dev/null

# ---- storage migration: a 2 GiB qcow2 disk holding DATA MiB of incompressible data
on alpha sh -c "rm -f $IMG/bs.qcow2 && head -c ${DATA}M /dev/urandom > $IMG/bs.raw &&
    qemu-img convert -q -O qcow2 $IMG/bs.raw $IMG/bs.qcow2 && rm $IMG/bs.raw && qemu-img resize -q $IMG/bs.qcow2 2G"
"$LAB" guest alpha bs --mem 256 --dirty 4 >&2
on alpha virsh -q destroy bs > /dev/null
on alpha virsh -q attach-disk bs $IMG/bs.qcow2 vdb --driver qemu --subdriver qcow2 --config > /dev/null
on alpha virsh -q start bs > /dev/null
sleep 5
# libvirt's copy-storage-all needs the image on the target first, as virt-ferry makes it.
on beta qemu-img create -q -f qcow2 $IMG/bs.qcow2 2G
base=$(t on alpha virsh migrate --live --p2p --copy-storage-all --persistent --undefinesource bs "$URI_BETA")
on alpha rm -f $IMG/bs.qcow2
ferry=$(ferry_migrate beta bs alpha storage-migration)
on beta rm -f $IMG/bs.qcow2
moved=$((DATA + 256))
echo "storage migration of a 2 GiB disk holding $DATA MiB (and 256 MiB of memory):"
echo "  virsh migrate --copy-storage-all  $base s  ($(ratio "$(awk -v m="$moved" -v t="$base" 'BEGIN { print m / t }')" "$LINK") of the link)"
echo "  virt-ferry storage-migration      $ferry s  ($(ratio "$(awk -v m="$moved" -v t="$ferry" 'BEGIN { print m / t }')" "$LINK") of the link)"
echo "  ratio virt-ferry / virsh: $(ratio "$ferry" "$base")"

# ---- move (cold): the same disk through libvirt's storage volume streams, alpha -> beta
job_steps() { prop "$1" "$2" $BUS.Job Steps; }
t0=$(now)
job=$(call_job alpha Migrate 'ssasa{sv}' bs beta 1 move 1 shutdown_timeout u 1)
s=$(job_wait alpha "$job" 600)
total=$(since "$t0")
[ "$s" = succeeded ] || [ "$s" = warning ] || { echo "move ended $s: $(jprop alpha "$job" Message)" >&2; exit 1; }
file_mib=$(on beta du -m --apparent-size $IMG/bs.qcow2 | cut -f1)
echo "move of the same (shut down, forced off after 1 s; the qcow2 file is $file_mib MiB, $DATA MiB of it data):"
echo "  virt-ferry move  $total s in all, $(awk -v m="$file_mib" -v t="$total" 'BEGIN { printf "%.0f", m / t }') MiB/s of file ($(ratio "$(awk -v m="$file_mib" -v t="$total" 'BEGIN { print m / t }')" "$LINK") of the link)"
on beta virsh -q destroy bs > /dev/null
on beta virsh -q undefine bs > /dev/null
on beta rm -f $IMG/bs.qcow2
