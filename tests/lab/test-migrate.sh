#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Peer-to-peer migration on three real lab hosts, with guests that
# keep dirtying their memory: each method end to end without a reboot (the guest's boot id
# prints on; move reboots it), fallback in canonical order, the checks' errors, cancel, a cut link and a
# killed target libvirtd (the domain runs on at the source, nothing is left on the target),
# and plain virsh migrations seen by both inventories.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
defined_on() { on "$1" virsh list --all --name | grep -cx "$2"; }
migrate() { # HOST DOMAIN PEER METHODS... [-- OPTIONS...] -> job path
    local h=$1 d=$2 p=$3 methods=() opts=()
    shift 3
    while [ $# -gt 0 ] && [ "$1" != -- ]; do methods+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift
    opts=("$@")
    call_job "$h" Migrate 'ssasa{sv}' "$d" "$p" ${#methods[@]} "${methods[@]}" $((${#opts[@]} / 3)) "${opts[@]}"
}
steps() { prop "$1" "$2" $BUS.Job Steps; }
# The job's Progress once it reaches AT_LEAST (0..1), within SECONDS.
wait_progress() { # HOST JOB AT_LEAST SECONDS
    local p
    for ((i = 0; i < $4 * 10; i++)); do
        p=$(prop "$1" "$2" $BUS.Job Progress | sed 's/^double //')
        awk -v p="${p:-0}" -v w="$3" 'BEGIN { exit !(p >= w) }' && return 0
        [ "$(jprop "$1" "$2" Status)" = running ] || return 1
        sleep 0.1
    done
    return 1
}
# FINISHED: the job's status once it ended; why, when it did not succeed.
finish() { # HOST JOB [SECONDS]
    FINISHED=$(job_wait "$1" "$2" "${3:-300}")
    [ "$FINISHED" = succeeded ] || tap_diag "job $2 ended $FINISHED: $(jprop "$1" "$2" Message)"
}
# libvirt on the host a domain just left may still be finishing with it.
gone_from() { # HOST DOMAIN
    wait_for 30 bash -c "[ \$('$LAB' exec $1 virsh list --all --name | grep -cx $2) = 0 ]"
}
# A guest slowed down hard (auto_converge throttles its vCPUs) takes a while to print again.
moved_without_reboot() { # FROM TO DOMAIN BOOT
    wait_for 60 bash -c "[ \$(grep -ac 'alive name=$3 boot=$4' '$(console "$2" "$3")') -gt 1 ]" && return 0
    tap_diag "console of $3 on $2: $(tail -n 3 "$(console "$2" "$3")" 2> /dev/null | tr '\n' '|')"
    return 1
}

# While a migration of DOMAIN runs on HOST: libvirt's job statistics of it (QEMU's own
# counters), polled until they hold PATTERN or the job ends. Prints the last read.
jobinfo_during() { # HOST DOMAIN JOB PATTERN
    local out=
    for ((i = 0; i < 300; i++)); do
        out=$(on "$1" virsh domjobinfo "$2" 2> /dev/null)
        grep -q "$4" <<< "$out" && break
        [ "$(jprop "$1" "$3" Status)" = running ] || break
        sleep 0.1
    done
    echo "$out"
}
# The TCP connections HOST's QEMU holds open to a migration port (49152-49215) of the peer
# at its highest while the job runs (1 main, and one per parallel channel).
migration_connections() { # HOST JOB
    local n max=0
    for ((i = 0; i < 300; i++)); do
        n=$(on "$1" ss -Htn state established '( dport >= :49152 and dport <= :49215 )' 2> /dev/null | wc -l)
        [ "$n" -gt "$max" ] && max=$n
        [ "$(jprop "$1" "$2" Status)" = running ] || break
        sleep 0.1
    done
    echo "$max"
}

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 3 >&2 || tap_bail "lab up 3 failed"

# ------------------------------------------------------------------ migration (shared storage)
"$LAB" guest alpha m1 --mem 256 --dirty 16 --disk 64 --shared >&2 || tap_bail "guest m1"
boot=$(boot_id alpha m1)
t0=$(now)
job=$(migrate alpha m1 beta migration)
tap_is "migration of m1 (disk on shared storage) to beta succeeds" "$(job_wait alpha "$job")" succeeded
tap_diag "migration of 256 MiB dirtying 16 MiB/s: $(since "$t0") s; steps: $(steps alpha "$job")"
tap_is "m1 runs on beta" "$(state beta m1)" running
tap_is "and is persistent there" "$(on beta virsh dominfo m1 | awk '/^Persistent:/ { print $2 }')" yes
tap_is "and no longer defined on alpha" "$(defined_on alpha m1)" 0
tap_ok "the guest did not reboot: its boot id prints on beta" moved_without_reboot alpha beta m1 "$boot"
tap_ok "the job's Steps record the method" grep -qF "('m1', 'migration', 'qemu+tcp://beta/system', 'succeeded')" <<< "$(steps alpha "$job")"
tap_ok "and its Result names the peer" test "$(jprop alpha "$job" Result)" = qemu+tcp://beta/system
tap_ok "DataTotal was set from libvirt's statistics" test "$(prop alpha "$job" $BUS.Job DataTotal | sed 's/^uint64 //')" -gt 0
# With no options the migration picks its settings from what it measured, and says so.
tap_ok "the job's Steps name the settings it picked from its measurements" \
    grep -q "('m1', 'migration', 'qemu+tcp://beta/system', 'settings: .*guest dirtying \(not measured\|[0-9]* MiB/s\), .* CPUs free)')" <<< "$(steps alpha "$job")"
tap_ok "and what libvirt measured of it (time, downtime)" \
    grep -q "('m1', 'migration', 'qemu+tcp://beta/system', 'transferred: [0-9]* MiB in [0-9.]* s, downtime [0-9]* ms, [0-9]* passes')" <<< "$(steps alpha "$job")"
# C11: both inventories follow.
tap_ok "alpha's virt-ferryd dropped m1" wait_for 2 bash -c "! '$LAB' exec alpha busctl --list tree $BUS | grep -qx '$(domain_path m1)'"
tap_ok "beta's virt-ferryd has m1" wait_for 2 bash -c "'$LAB' exec beta busctl --list tree $BUS | grep -qx '$(domain_path m1)'"

# ------------------------------------------------------------------ fallback, canonical order
"$LAB" guest alpha m2 --mem 256 --dirty 8 --disk 64 >&2 || tap_bail "guest m2"
boot=$(boot_id alpha m2)
job=$(migrate alpha m2 gamma storage-migration migration)
tap_is "[storage-migration, migration] of m2 (local disk) to gamma succeeds" "$(job_wait alpha "$job")" succeeded
s=$(steps alpha "$job")
tap_diag "$s"
tap_ok "migration was tried first (canonical order) and refused: the disk is not shared" \
    grep -q "('m2', 'migration', 'qemu+tcp://gamma/system', \"failed: .*not the same storage on gamma" <<< "$s"
tap_ok "then storage-migration succeeded" grep -qF "('m2', 'storage-migration', 'qemu+tcp://gamma/system', 'succeeded')" <<< "$s"
tap_ok "in that order" bash -c "[ \$(grep -bo \"'migration'\" <<< \"\$1\" | head -1 | cut -d: -f1) -lt \$(grep -bo \"'storage-migration'\" <<< \"\$1\" | head -1 | cut -d: -f1) ]" _ "$s"
tap_is "m2 runs on gamma" "$(state gamma m2)" running
tap_ok "its disk was copied to gamma" on gamma test -s "$(on alpha virsh -q vol-path --pool default m2.qcow2 2> /dev/null || echo /var/lib/libvirt/images/m2.qcow2)"
tap_ok "the guest did not reboot" moved_without_reboot alpha gamma m2 "$boot"

# ------------------------------------------------------------------ quick-migration, from the CLI
"$LAB" guest beta m3 --mem 192 --dirty 8 --disk 32 --shared >&2 || tap_bail "guest m3"
boot=$(boot_id beta m3)
out=$(on beta virt-ferry migrate m3 gamma --method quick-migration 2>&1)
tap_ok "virt-ferry migrate m3 gamma --method quick-migration succeeds" test $? -eq 0
tap_diag "$out"
tap_is "m3 runs on gamma" "$(state gamma m3)" running
tap_ok "the guest did not reboot" moved_without_reboot beta gamma m3 "$boot"

# ------------------------------------------------------------------ move: cold, no shared storage
# m2 runs on gamma, its disk local there (storage-migration removed alpha's copy).
tap_ok "storage-migration left no stale copy of m2's disk on alpha" on alpha test ! -e /var/lib/libvirt/images/m2.qcow2
job=$(migrate gamma m2 alpha move -- shutdown_timeout u 3)
tap_is "move of m2 gamma -> alpha succeeds, with a warning (the guest was forced off)" "$(job_wait gamma "$job" 300)" warning
tap_diag "$(steps gamma "$job")"
tap_is "m2 runs on alpha" "$(state alpha m2)" running
tap_is "gamma no longer has m2" "$(defined_on gamma m2)" 0
tap_ok "its disk is on alpha" on alpha test -s /var/lib/libvirt/images/m2.qcow2
tap_ok "and gone from gamma" on gamma test ! -e /var/lib/libvirt/images/m2.qcow2
tap_ok "the job notes the forced power-off (the test guest has no ACPI)" \
    grep -q "forced off" <<< "$(prop gamma "$job" $BUS.Job Notes)"
tap_ok "the guest booted afresh on alpha and found its disk data" \
    wait_for 60 grep -aq "found data" "$(console alpha m2)"

# ------------------------------------------------------------------ checks and bad input
err() { merr "$1" Migrate "${@:2}"; }
tap_is "an unknown peer is NotFound" "$(err beta m1 delta '@as []' '@a{sv} {}')" $FERR.NotFound
tap_is "an unknown method is InvalidArgument" "$(err beta m1 alpha "['teleport']" '@a{sv} {}')" $FERR.InvalidArgument
tap_is "failover alone is Unsupported for a live host" "$(err beta m1 alpha "['failover']" '@a{sv} {}')" $FERR.Unsupported
tap_is "an unknown option is InvalidArgument" "$(err beta m1 alpha '@as []' "{'speed': <uint32 5>}")" $FERR.InvalidArgument
tap_is "an unknown domain is NotFound" "$(err beta nosuch alpha '@as []' '@a{sv} {}')" $FERR.NotFound
on beta busctl call $BUS $ROOT $MANAGER SetDomainPolicy 'sa{sv}' m1 1 no_migrate b true > /dev/null
job=$(migrate beta m1 alpha migration)
tap_is "the no-migrate policy fails the job" "$(job_wait beta "$job")" failed
tap_is "with Unsupported" "$(jprop beta "$job" Error)" org.virtferry.Ferry1.Error.Unsupported
tap_ok "saying how to clear it" grep -qi "no-migrate" <<< "$(jprop beta "$job" Message)"
tap_is "m1 still runs on beta" "$(state beta m1)" running
on beta busctl call $BUS $ROOT $MANAGER SetDomainPolicy 'sa{sv}' m1 1 no_migrate b false > /dev/null

# ------------------------------------------------------------------ options reach libvirt and QEMU
boot=$(boot_id beta m1)
job=$(migrate beta m1 alpha migration -- compress b true bandwidth t 200)
info=$(jobinfo_during beta m1 "$job" 'Compression cache')
finish beta "$job"
tap_diag "$(grep -i 'compress\|bandwidth' <<< "$info" | tr '\n' '|')"
tap_ok "QEMU on beta migrated with XBZRLE compression (its statistics show a compression cache)" grep -q 'Compression cache' <<< "$info"
tap_is "migration with compress and bandwidth succeeds" "$FINISHED" succeeded
tap_ok "the guest did not reboot" moved_without_reboot beta alpha m1 "$boot"
tap_is "m1 landed on alpha, running" "$(state alpha m1)" running
[ "$(state alpha m1)" = running ] || tap_diag "console of m1 on alpha: $(tail -n 3 "$(console alpha m1)" | tr '\n' '|')"
tap_ok "and left beta" gone_from beta m1
job=$(migrate alpha m1 beta migration -- parallel u 4)
conns=$(migration_connections alpha "$job")
finish alpha "$job"
tap_is "migration over 4 parallel connections succeeds" "$FINISHED" succeeded
tap_is "QEMU on alpha opened 5 migration connections to beta (1 main, 4 parallel)" "$conns" 5
tap_is "m1 landed on beta, running" "$(state beta m1)" running
[ "$(state beta m1)" = running ] || tap_diag "console of m1 on beta: $(tail -n 3 "$(console beta m1)" | tr '\n' '|')"
tap_ok "and left alpha" gone_from alpha m1
tap_is "compress with parallel is InvalidArgument" "$(err beta m1 alpha '@as []' "{'compress': <true>, 'parallel': <uint32 2>}")" $FERR.InvalidArgument
tap_ok "saying so" bash -c "'$LAB' exec beta gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Migrate -- m1 alpha '@as []' \"{'compress': <true>, 'parallel': <uint32 2>}\" 2>&1 | grep -q 'compress and parallel cannot go together'"
# A guest that dirties faster than the bandwidth allows never converges: aborted after the
# progress timeout, still running here.
"$LAB" guest alpha m5 --mem 256 --dirty 64 >&2 || tap_bail "guest m5"
boot=$(boot_id alpha m5)
job=$(migrate alpha m5 beta migration -- bandwidth t 16 progress_timeout u 8)
tap_is "a migration that makes no progress is aborted" "$(job_wait alpha "$job" 120)" failed
tap_ok "saying so" grep -q "made no progress for 8 s" <<< "$(jprop alpha "$job" Message)"
tap_is "m5 runs on alpha" "$(state alpha m5)" running
tap_is "beta has no m5" "$(defined_on beta m5)" 0
lines=$(alive_count alpha m5 "$boot")
tap_ok "and the guest did not reboot" wait_for 10 alive_since alpha m5 "$boot" "$lines"
# auto_converge: under TCG, QEMU 7.2's throttling left every guest migrated with it panicking
# on the target ("Fatal exception in interrupt"; the same guest without it never did), so
# virt-ferry refuses it for TCG domains, and nothing moves.
job=$(migrate alpha m5 beta migration -- bandwidth t 48 auto_converge b true)
tap_is "auto_converge for a TCG guest fails the job" "$(job_wait alpha "$job" 60)" failed
tap_is "with Unsupported" "$(jprop alpha "$job" Error)" org.virtferry.Ferry1.Error.Unsupported
tap_ok "saying why" grep -q "corrupts the guest's memory" <<< "$(jprop alpha "$job" Message)"
tap_is "m5 runs on alpha" "$(state alpha m5)" running
# A guest that dirties memory faster than the link carries it (bandwidth stands for a slow
# link) cannot converge: seen within a few passes, long before the 150 s without progress,
# and the next method of the list moves it.
boot=$(boot_id alpha m5)
t0=$(now)
job=$(migrate alpha m5 beta migration quick-migration -- bandwidth t 32)
tap_is "[migration, quick-migration] of m5, dirtying 64 MiB/s over 32 MiB/s, succeeds" "$(job_wait alpha "$job" 150)" succeeded
took=$(since "$t0")
s=$(steps alpha "$job")
tap_diag "non-convergence handled in $took s; steps: $s"
tap_ok "migration failed, naming the non-convergence and the measured rates" \
    grep -q "('m5', 'migration', 'qemu+tcp://beta/system', .failed: aborted: the migration did not converge: after [0-9]* passes the guest dirties [0-9]* MiB/s while the link carries [0-9]* MiB/s" <<< "$s"
tap_ok "then quick-migration moved it" grep -qF "('m5', 'quick-migration', 'qemu+tcp://beta/system', 'succeeded')" <<< "$s"
tap_ok "within 90 s in all (no timeout waited for)" awk -v t="$took" 'BEGIN { exit !(t < 90) }'
tap_is "m5 runs on beta" "$(state beta m5)" running
tap_ok "and left alpha" gone_from alpha m5
tap_ok "the guest did not reboot" moved_without_reboot alpha beta m5 "$boot"

# ------------------------------------------------------------------ cancel at 30%
"$LAB" guest alpha m4 --mem 512 --dirty 4 >&2 || tap_bail "guest m4"
boot=$(boot_id alpha m4)
job=$(migrate alpha m4 beta migration -- bandwidth t 40)
tap_ok "the migration of m4 reaches 30%" wait_progress alpha "$job" 0.30 60
tap_diag "at cancel: $(jprop alpha "$job" Message)"
on alpha busctl call $BUS "$job" $BUS.Job Cancel > /dev/null
tap_is "cancel ends the job as cancelled" "$(job_wait alpha "$job" 60)" cancelled
tap_is "m4 runs on alpha" "$(state alpha m4)" running
tap_is "beta has no m4" "$(defined_on beta m4)" 0
lines=$(alive_count alpha m4 "$boot")
tap_ok "and the guest did not reboot" wait_for 10 alive_since alpha m4 "$boot" "$lines"

# ------------------------------------------------------------------ the lab link cut mid-migration
job=$(migrate alpha m4 beta migration -- bandwidth t 40)
tap_ok "the second migration of m4 reaches 20%" wait_progress alpha "$job" 0.20 60
on alpha ip link set eth0 down
t0=$(now)
tap_is "a cut link fails the migration" "$(job_wait alpha "$job" 120)" failed
tap_diag "failed after $(since "$t0") s: $(jprop alpha "$job" Message)"
tap_ok "because the peer stopped answering" grep -q "peer qemu+tcp://beta/system stopped answering" <<< "$(jprop alpha "$job" Message)"
on alpha ip link set eth0 up
tap_is "m4 runs on alpha" "$(state alpha m4)" running
tap_ok "beta has nothing of m4" wait_for 60 bash -c "[ \$('$LAB' exec beta virsh list --all --name | grep -cx m4) = 0 ]"
lines=$(alive_count alpha m4 "$boot")
tap_ok "and the guest did not reboot" wait_for 10 alive_since alpha m4 "$boot" "$lines"

# ------------------------------------------------------------------ the target's libvirtd killed
job=$(migrate alpha m4 beta migration -- bandwidth t 40)
tap_ok "the third migration of m4 reaches 20%" wait_progress alpha "$job" 0.20 60
on beta kill -9 "$(host_pid beta /run/libvirtd.pid)"
tap_is "a killed target libvirtd fails the migration" "$(job_wait alpha "$job" 120)" failed
tap_diag "$(jprop alpha "$job" Message)"
tap_ok "because the peer's libvirtd went away (its connection closed, or it stopped answering)" \
    grep -qE "peer qemu\+tcp://beta/system stopped answering|migration to qemu\+tcp://beta/system failed: .*client socket is closed" <<< "$(jprop alpha "$job" Message)"
on beta libvirtd --daemon --listen --pid-file=/run/libvirtd.pid
tap_is "m4 runs on alpha" "$(state alpha m4)" running
tap_ok "beta has nothing of m4 once its libvirtd is back" \
    wait_for 60 bash -c "'$LAB' exec beta virsh list --all --name > /dev/null 2>&1 && [ \$('$LAB' exec beta virsh list --all --name | grep -cx m4) = 0 ]"

# ------------------------------------------------------------------ plain virsh, seen by both (C11)
tap_ok "plain virsh migrate --live --p2p of m4 alpha -> gamma" \
    on alpha virsh migrate --live --p2p --persistent --undefinesource m4 qemu+tcp://gamma/system
tap_ok "gamma's virt-ferryd has m4 within a second" \
    wait_for 1 bash -c "'$LAB' exec gamma busctl --list tree $BUS | grep -qx '$(domain_path m4)'"
tap_ok "and alpha's dropped it within a second" \
    wait_for 1 bash -c "! '$LAB' exec alpha busctl --list tree $BUS | grep -qx '$(domain_path m4)'"

tap_done
