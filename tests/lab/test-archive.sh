#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Save-image archiving and restore on real lab hosts: archive on alpha, restore on beta with
# the guest's memory (it does not reboot), paused and shut-off domains, refusals, bad input,
# corrupted archives, a full library, cancel, and virt-ferryd killed in the middle.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/ferry.sh"

LIBRARY=$LAB_DIR/shared/archive
state() { on "$1" virsh domstate "$2" 2> /dev/null | head -n 1; }
archive() { call_job "$1" Archive 'sa{sv}' "$2" 0; }
restore() { # HOST ID [name N] -> job path
    local h=$1 id=$2; shift 2
    if [ $# -gt 0 ]; then call_job "$h" Restore 'sa{sv}' "$id" 1 name s "$1"; else call_job "$h" Restore 'sa{sv}' "$id" 0; fi
}
partials() { ls -A "$LIBRARY" 2> /dev/null | grep -c '^\.partial-'; }
journal_entries() { ls "$LAB_DIR/hosts/$1/var-lib-libvirt/virt-ferry/journal" 2> /dev/null | grep -c '\.journal$'; }
library_digest() { (cd "$LIBRARY" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum); }
flip_byte() { # FILE: flips one byte in the middle (run twice to undo)
    local size off b
    size=$(stat -c %s "$1")
    off=$((size / 2))
    b=$(dd if="$1" bs=1 skip=$off count=1 2> /dev/null | od -An -tu1 | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek=$off count=1 conv=notrunc 2> /dev/null
}

"$LAB" down > /dev/null 2>&1
trap '"$LAB" down > /dev/null 2>&1' EXIT
"$LAB" up 2 >&2 || tap_bail "lab up 2 failed"

# ------------------------------------------------------------------ archive on alpha, restore on beta
"$LAB" guest alpha a1 --mem 256 --dirty 16 --disk 64 >&2 || tap_bail "guest a1 did not start"
boot=$(boot_id alpha a1)
uuid=$(on alpha virsh domuuid a1 | tr -d '\n')
mac=$(on alpha virsh domiflist a1 | awk 'NR > 2 && $5 { print $5 }')
disk_before=$(on alpha qemu-img info -U --output=json /var/lib/libvirt/images/a1.qcow2 | grep -o '"actual-size": [0-9]*')
t0=$(now)
job=$(archive alpha a1)
tap_ok "Archive returns a job object at once" grep -q '^/org/virtferry/Ferry1/job/[0-9]*$' <<< "$job"
tap_is "a second job on the same domain is Busy" "$(merr alpha Archive a1 '@a{sv} {}')" $FERR.Busy
status=$(job_wait alpha "$job")
tap_diag "archive of a1 (256 MiB memory, 64 MiB disk): $(since "$t0") s"
tap_is "the archive job succeeds" "$status" succeeded
[ "$status" = succeeded ] || tap_diag "job message: $(jprop alpha "$job" Message)"
id=$(jprop alpha "$job" Result)
tap_ok "its Result is the archive id" test -n "$id"
tap_ok "the archive is in the library" test -f "$LIBRARY/$id/manifest"
tap_is "no partial directory is left" "$(partials)" 0
tap_ok "the manifest records memory state, disk and definition with digests" \
    bash -c "grep -q '^\[file memory.save\]' '$LIBRARY/$id/manifest' && grep -q '^\[file disks/vda.qcow2\]' '$LIBRARY/$id/manifest' &&
             grep -q '^\[file domain.xml\]' '$LIBRARY/$id/manifest' && grep -q '^digest=xxh128-z64k:[0-9a-f]\{32\}$' '$LIBRARY/$id/manifest'"
tap_ok "the manifest records source host, versions and the NIC's network" \
    bash -c "grep -q '^source-host=alpha' '$LIBRARY/$id/manifest' && grep -q '^qemu-version=' '$LIBRARY/$id/manifest' &&
             grep -q '^network=ovsnet' '$LIBRARY/$id/manifest'"
tap_is "a1 is shut off after archiving" "$(state alpha a1)" "shut off"
tap_ok "and still defined, pending deletion" wait_for 2 bash -c "[ \"\$('$LAB' exec alpha gdbus call --system -d $BUS -o $(domain_path a1) -m org.freedesktop.DBus.Properties.Get $BUS.Domain PendingDeletion)\" = '(<true>,)' ]"
tap_ok "ListArchives lists it" bash -c "'$LAB' exec beta busctl call $BUS $ROOT $MANAGER ListArchives | grep -q '\"$id\" \"a1\" \"alpha\"'"
tap_ok "its Archive object is on the bus" wait_for 2 has_object beta "$ROOT/archive/$(escape "$id")"
tap_ok "the disk copy is sparse (allocated no more than the source qcow2 plus 1 MiB)" \
    bash -c "[ \$(du -k '$LIBRARY/$id/disks/vda.qcow2' | cut -f1) -le \$(( \$(echo '$disk_before' | grep -o '[0-9]*') / 1024 + 1024 )) ]"

lines=$(alive_count beta a1 "$boot")
t0=$(now)
job=$(restore beta "$id")
status=$(job_wait beta "$job")
tap_diag "restore of a1 on beta: $(since "$t0") s"
tap_is "restore on beta succeeds" "$status" succeeded
[ "$status" = succeeded ] || tap_diag "job message: $(jprop beta "$job" Message)"
tap_is "a1 runs on beta" "$(state beta a1)" running
tap_is "with the same UUID" "$(on beta virsh domuuid a1 | tr -d '\n')" "$uuid"
tap_is "and the same MAC" "$(on beta virsh domiflist a1 | awk 'NR > 2 && $5 { print $5 }')" "$mac"
tap_is "and the same memory" "$(on beta virsh dominfo a1 | awk '/Max memory/ { print $3 }')" 262144
tap_ok "the guest did not reboot: the same boot id keeps printing on beta" \
    wait_for 15 alive_since beta a1 "$boot" "$lines"
tap_is "its disk is at the original path on beta" \
    "$(on beta virsh domblklist a1 | awk '$1 == "vda" { print $2 }')" /var/lib/libvirt/images/a1.qcow2

cli alpha verify "$id"; rc=$?
tap_diag "$CLI_OUT"
tap_is "virt-ferry verify of the archive (Archive.Verify) succeeds" "$rc" 0
tap_is "its verify job succeeded" "$(jprop alpha "$(cli_job_path)" Status)" succeeded
cli alpha purge a1; rc=$?
tap_is "virt-ferry purge a1 on alpha succeeds" "$rc" 0
tap_is "a1 is no longer defined on alpha" "$(on alpha virsh list --all --name | grep -cx a1)" 0
tap_ok "and its disk file is gone" test ! -e "$LAB_DIR/hosts/alpha/var-lib-libvirt/images/a1.qcow2"
tap_is "Purge of a domain that is not pending deletion is InvalidArgument" "$(merr beta Purge a1)" $FERR.InvalidArgument
cli beta purge a1; rc=$?
tap_is "virt-ferry purge of it exits 2 (invalid)" "$rc" 2

# ------------------------------------------------------------------ paused, on the same host
"$LAB" guest alpha p1 --mem 128 --dirty 4 >&2 || tap_bail "guest p1 did not start"
on alpha virsh -q suspend p1 > /dev/null
cli alpha archive p1; rc=$?
tap_diag "$CLI_OUT"
tap_is "virt-ferry archive of a paused domain succeeds" "$rc" 0
job=$(cli_job_path)
tap_is "its job succeeded" "$(jprop alpha "$job" Status)" succeeded
pid=$(jprop alpha "$job" Result)
tap_ok "virt-ferry shows the archive id" grep -qF "$pid" <<< "$CLI_OUT"
tap_ok "virt-ferry jobs lists it as succeeded" bash -c "'$LAB' exec alpha virt-ferry jobs | grep -q '^ *${job##*/} *archive *p1 *succeeded'"
tap_ok "virt-ferry job shows its result" bash -c "'$LAB' exec alpha virt-ferry job ${job##*/} | grep -qF '$pid'"
out=$(on alpha busctl call $BUS $ROOT $MANAGER SetDomainPolicy 'sa{sv}' p1 1 priority i 7 2>&1)
tap_is "the pending domain's policy can still change" "$out" ""
cli alpha restore "$pid"; rc=$?
tap_is "virt-ferry restore of it where it is pending deletion succeeds" "$rc" 0
tap_is "its job succeeded" "$(jprop alpha "$(cli_job_path)" Status)" succeeded
tap_is "it comes back paused, as archived" "$(state alpha p1)" paused
tap_ok "it is no longer pending deletion" wait_for 2 bash -c "[ \"\$('$LAB' exec alpha gdbus call --system -d $BUS -o $(domain_path p1) -m org.freedesktop.DBus.Properties.Get $BUS.Domain PendingDeletion)\" = '(<false>,)' ]"
tap_ok "and its policy was carried over" bash -c "'$LAB' exec alpha virsh metadata p1 $POLICY_NS | grep -q 'value=\"7\"'"
tap_ok "it resumes" on alpha virsh -q resume p1

# ------------------------------------------------------------------ in place of the pending domain, with a disk
# The replaced domain's disk is kept (a hard link) until the restore is done: a restore that
# fails, whether on a bad byte of the memory state or of the disk copy that took the disk's
# place while libvirt loaded the memory state, puts the very same file back (same inode).
"$LAB" guest alpha r1 --mem 128 --disk 32 --dirty 4 >&2 || tap_bail "guest r1 did not start"
job=$(archive alpha r1)
tap_is "r1 (with a disk) archives" "$(job_wait alpha "$job")" succeeded
rid=$(jprop alpha "$job" Result)
rdisk=$(on alpha virsh domblklist r1 --details | awk '$2 == "disk" { print $4; exit }')
inode() { on alpha stat -c %i "$rdisk"; }
leftovers() { on alpha sh -c "ls '$rdisk.virt-ferry-replaced' '$rdisk.virt-ferry-restore' 2> /dev/null | wc -l"; }
rinode=$(inode)
for f in memory.save disks/vda.qcow2; do
    flip_byte "$LIBRARY/$rid/$f"
    job=$(restore alpha "$rid")
    tap_is "a bad byte in $f: the restore in place of r1 fails" "$(job_wait alpha "$job")" failed
    tap_is "with Failed" "$(jprop alpha "$job" Error)" $FERR.Failed
    tap_diag "$(jprop alpha "$job" Message)"
    tap_ok "naming $f" grep -qF "$f does not match its manifest" <<< "$(jprop alpha "$job" Message)"
    tap_is "r1's own disk file is back in its place" "$(inode)" "$rinode"
    tap_is "and no kept or staged copy is left" "$(leftovers)" 0
    tap_is "r1 is still defined, shut off" "$(state alpha r1)" "shut off"
    flip_byte "$LIBRARY/$rid/$f"
done
job=$(restore alpha "$rid")
tap_is "the restore in place of r1 succeeds" "$(job_wait alpha "$job")" succeeded
tap_is "r1 runs" "$(state alpha r1)" running
tap_ok "on the disk copied from the archive (a new file)" test "$(inode)" != "$rinode"
tap_is "and no kept or staged copy is left" "$(leftovers)" 0
on alpha virsh -q destroy r1 > /dev/null 2>&1
on alpha virsh -q undefine r1 > /dev/null 2>&1

# ------------------------------------------------------------------ shut off, under a new name
"$LAB" guest alpha s1 --mem 128 --disk 32 >&2 || tap_bail "guest s1 did not start"
on alpha virsh -q destroy s1 > /dev/null
job=$(archive alpha s1)
tap_is "a shut-off domain archives" "$(job_wait alpha "$job")" succeeded
sid=$(jprop alpha "$job" Result)
tap_ok "its archive has no memory state" bash -c "! grep -q '^\[file memory.save\]' '$LIBRARY/$sid/manifest'"
job=$(restore alpha "$sid" s1copy)
tap_is "it restores under a new name next to the original" "$(job_wait alpha "$job")" succeeded
tap_is "the copy is defined and shut off, as archived" "$(state alpha s1copy)" "shut off"
tap_ok "with a new UUID" bash -c "[ \"\$('$LAB' exec alpha virsh domuuid s1copy)\" != \"\$('$LAB' exec alpha virsh domuuid s1)\" ]"
s1disk=$(on alpha virsh domblklist s1 | awk '$1 == "vda" { print $2 }')
s1copydisk=$(on alpha virsh domblklist s1copy | awk '$1 == "vda" { print $2 }')
tap_diag "s1: $s1disk; s1copy: $s1copydisk"
tap_ok "and its own disk copy: another path" bash -c "[ -n '$s1copydisk' ] && [ '$s1copydisk' != '$s1disk' ]"
tap_ok "which exists" on alpha test -s "$s1copydisk"
tap_ok "and holds what the original holds" on alpha qemu-img compare -q "$s1disk" "$s1copydisk"

# ------------------------------------------------------------------ refusals and bad input
# busctl shows only an error's message; gdbus shows its name too.
expect_error() { # DESCRIPTION ERROR-NAME HOST METHOD gdbus-args...
    local d=$1 e=$2 h=$3 m=$4 out; shift 4
    out=$(on "$h" gdbus call --system -d $BUS -o $ROOT -m "$MANAGER.$m" -- "$@" 2>&1)
    tap_ok "$d" grep -q "$e" <<< "$out"
    grep -q "$e" <<< "$out" || tap_diag "got: $out"
}
define_xml() { # HOST XML
    local f
    f=$(mktemp)
    printf '%s\n' "$2" > "$f"
    on "$1" virsh -q define "$f" > /dev/null
    rm -f "$f"
}
stub() { echo "<domain type='qemu'><name>$1</name><memory unit='MiB'>128</memory><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>$2</devices></domain>"; }
on alpha qemu-img create -q -f raw /var/lib/libvirt/images/floppy.img 1440K
on alpha qemu-img create -q -f raw /var/lib/libvirt/images/disc.iso 1M
define_xml alpha "$(stub usb1 "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>")"
define_xml alpha "$(stub lun1 "<disk type='block' device='lun'><source dev='/dev/null'/><target dev='sda' bus='scsi'/></disk>")"
define_xml alpha "$(stub blk1 "<disk type='block' device='disk'><source dev='/dev/null'/><target dev='vdb' bus='virtio'/></disk>")"
define_xml alpha "$(stub fd1 "<disk type='file' device='floppy'><source file='/var/lib/libvirt/images/floppy.img'/><target dev='fda' bus='fdc'/></disk>")"
for d in usb1 lun1 blk1 fd1; do
    job=$(archive alpha $d)
    st=$(job_wait alpha "$job")
    tap_ok "archive of $d is refused with Unsupported" \
        bash -c "[ '$st' = failed ] && [ \"\$('$LAB' exec alpha gdbus call --system -d $BUS -o $job -m org.freedesktop.DBus.Properties.Get $BUS.Job Error)\" = \"(<'org.virtferry.Ferry1.Error.Unsupported'>,)\" ]"
    tap_ok "and $d is unchanged (not pending deletion)" bash -c "! '$LAB' exec alpha virsh metadata $d http://virtferry.org/xmlns/archive/1 > /dev/null 2>&1"
done
tap_diag "fd1: $(jprop alpha "$job" Message)"
tap_is "refusals leave no partial directory" "$(partials)" 0

# ------------------------------------------------------------------ a Cancel waiting for polkit
# Another caller's Cancel waits for polkit, and the job may end and leave the bus meanwhile:
# the answer must find that out (NotFound), never use what is gone. Here finished jobs
# linger 2 s and polkit takes 5 s to say yes.
VIRT_FERRY_JOB_LINGER_SECONDS=2 "$LAB" ferryd alpha restart >&2
polkit_rules "polkit.addRule(function (action, subject) {
    if (action.id == 'org.virtferry.ferry1.archive' && subject.user == 'nobody' && action.lookup('verb') == 'cancel') {
        polkit.spawn(['/bin/sleep', '5']);
        return polkit.Result.YES;
    }
    return polkit.Result.NOT_HANDLED;
});"
ferryd_pid=$(on alpha cat /run/virt-ferryd.pid)
job=$(archive alpha usb1)
out=$(on alpha runuser -u nobody -- gdbus call --system -d $BUS -o "$job" -m $BUS.Job.Cancel 2>&1)
tap_ok "a Cancel whose job left the bus while polkit decided is NotFound" grep -q org.virtferry.Ferry1.Error.NotFound <<< "$out"
grep -q org.virtferry.Ferry1.Error.NotFound <<< "$out" || tap_diag "got: $out"
tap_ok "and virt-ferryd lives on" on alpha kill -0 "$ferryd_pid"
tap_is "and answers" "$(mprop alpha Hostname)" "'alpha'"
polkit_rules
"$LAB" ferryd alpha restart >&2

# A running guest with a CD-ROM: archived without its media, and the job says so.
xml=$(on alpha virsh dumpxml s1 --inactive | sed -e 's|<name>s1</name>|<name>cd1</name>|' -e '/<uuid>/d' -e '/<mac address/d' \
    -e '/<metadata>/,/<\/metadata>/d' \
    -e 's|<devices>|<devices><disk type="file" device="cdrom"><source file="/var/lib/libvirt/images/disc.iso"/><target dev="hdc" bus="ide"/><readonly/></disk>|' \
    -e '/<disk type=.file. device=.disk.>/,/<\/disk>/d')
define_xml alpha "$xml"
on alpha virsh -q start cd1 > /dev/null
job=$(archive alpha cd1)
tap_is "a running guest with a CD-ROM archives with a warning" "$(job_wait alpha "$job")" warning
tap_ok "the job's message names the media left out" bash -c "'$LAB' exec alpha gdbus call --system -d $BUS -o $job -m org.freedesktop.DBus.Properties.Get $BUS.Job Message | grep -q disc.iso"
cid=$(jprop alpha "$job" Result)
on alpha busctl call $BUS $ROOT $MANAGER Purge s cd1 > /dev/null 2>&1
job=$(restore beta "$cid")
tap_is "it restores on beta" "$(job_wait beta "$job")" succeeded
tap_ok "with its CD-ROM drive empty" bash -c "'$LAB' exec beta virsh domblklist cd1 | awk '\$1 == \"hdc\" { print \$2 }' | grep -qx -- -"

expect_error "Archive of an unknown domain is NotFound" Ferry1.Error.NotFound alpha Archive nosuch '{}'
expect_error "Archive with an unknown option is InvalidArgument" Ferry1.Error.InvalidArgument alpha Archive p1 "{'fast': <true>}"
for bad in "'a/b'" "'..'" "'../$id'" "'.partial-x'" "'x\\u0001y'" "''"; do
    expect_error "Restore of archive id $bad is InvalidArgument" Ferry1.Error.InvalidArgument beta Restore "$bad" '{}'
done
expect_error "Restore of an unknown archive is NotFound" Ferry1.Error.NotFound beta Restore nosuch-20260101T000000Z '{}'
job=$(call_job alpha Restore 'sa{sv}' "$sid" 1 name s p1)
tap_is "Restore under a name in use fails" "$(job_wait alpha "$job")" failed
tap_is "with InvalidArgument" "$(jprop alpha "$job" Error)" org.virtferry.Ferry1.Error.InvalidArgument
expect_error "Restore with a mistyped option is InvalidArgument" Ferry1.Error.InvalidArgument alpha Restore "$sid" "{'start': <'yes'>}"

# One flipped byte in any file of an archive: restore refused naming the file, archive unchanged.
# (Onto alpha, where a1 was purged: a saved domain restores only under its own name.)
# a1 still runs on beta, from this archive: shut off there, or each restore is Busy before
# it reads a file (tests/lab/test-restore-once.sh).
on beta virsh -q destroy a1 > /dev/null
before=$(library_digest)
for f in $(cd "$LIBRARY/$id" && find . -type f | sed 's|^\./||' | sort); do
    flip_byte "$LIBRARY/$id/$f"
    job=$(restore alpha "$id")
    if [[ "$job" == /org/* ]]; then
        st=$(job_wait alpha "$job")
        msg=$(jprop alpha "$job" Message)
    else
        st=failed msg=$job  # refused before a job started (the manifest itself)
    fi
    tap_ok "a flipped byte in $f: restore refused, naming the file" bash -c "[ '$st' = failed ] && grep -qF -- '$f' <<< \"\$1\"" _ "$msg"
    if [ "$f" = disks/vda.qcow2 ]; then
        cli alpha verify "$id"; rc=$?
        tap_is "virt-ferry verify of it exits 1" "$rc" 1
        tap_is "its verify job failed with Failed" "$(jprop alpha "$(cli_job_path)" Error)" $FERR.Failed
        tap_ok "naming the file" grep -qF "$f does not match its manifest" <<< "$(jprop alpha "$(cli_job_path)" Message)"
    fi
    flip_byte "$LIBRARY/$id/$f"
done
tap_is "the corrupted restores left the archive as it was" "$(library_digest)" "$before"
tap_is "and left no domain on alpha" "$(on alpha virsh list --all --name | grep -cx a1)" 0
tap_is "and no disk" "$(ls "$LAB_DIR/hosts/alpha/var-lib-libvirt/images" | grep -c 'a1')" 0
# The memory state is read once: libvirt restores it paused from the pipe that virt-ferryd
# feeds as it digests the file, and the guest's CPUs start only if its digest matches. A bad byte in it: QEMU was started
# (paused), then destroyed; nothing of a1 is left, running, paused or defined, and the archive is
# as it was.
qemu_starts() { grep -c 'starting up' "$LAB_DIR/hosts/alpha/var-log-libvirt/qemu/a1.log" 2> /dev/null || echo 0; }
starts=$(qemu_starts)
flip_byte "$LIBRARY/$id/memory.save"
job=$(restore alpha "$id")
tap_is "a bad byte in the memory state: the restore fails" "$(job_wait alpha "$job")" failed
tap_is "with Failed" "$(jprop alpha "$job" Error)" $FERR.Failed
tap_ok "naming memory.save as not matching its manifest" grep -qF "memory.save does not match its manifest" <<< "$(jprop alpha "$job" Message)"
tap_ok "its memory state was restored (paused) while it was verified" test "$(qemu_starts)" -gt "$starts"
tap_is "no domain a1 is left on alpha" "$(on alpha virsh list --all --name | grep -cx a1)" 0
tap_ok "and no QEMU of a1 (no pid file)" bash -c "! '$LAB' exec alpha test -e /run/libvirt/qemu/a1.pid"
flip_byte "$LIBRARY/$id/memory.save"
tap_is "and the archive is as it was" "$(library_digest)" "$before"
job=$(restore beta "$id" a1copy)
tap_is "a saved domain under another name is refused" "$(job_wait beta "$job")" failed
tap_is "with Unsupported" "$(jprop beta "$job" Error)" org.virtferry.Ferry1.Error.Unsupported

# ------------------------------------------------------------------ hostile archives
# Whoever writes the library writes what a restore reads. A copy of s1's archive whose
# manifest (with its digest recomputed, as a forger would) points the disk elsewhere.
forge() { # SOURCE-ID NEW-ID SED-EXPRESSION: a copy of an archive with its manifest edited
    cp -a "$LIBRARY/$1" "$LIBRARY/$2"
    sed -i -e "s|^id=.*|id=$2|" -e "$3" "$LIBRARY/$2/manifest"
    echo "sha256:$(sha256sum < "$LIBRARY/$2/manifest" | cut -d' ' -f1)" > "$LIBRARY/$2/manifest.digest"
}
outside=/etc/virt-ferry-lab-hostile-$$
on beta virsh -q undefine s1 > /dev/null 2>&1
images_before=$(ls "$LAB_DIR/hosts/beta/var-lib-libvirt/images" | sort | tr '\n' ' ')
forge "$sid" "$sid-h1" "s|^source=/var/lib/libvirt/images/s1.qcow2|source=$outside/s1.qcow2|"
tap_ok "the forged manifest names $outside" grep -q "^source=$outside/s1.qcow2" "$LIBRARY/$sid-h1/manifest"
job=$(restore beta "$sid-h1")
tap_is "a disk path outside this host's writable directories: the restore goes on" "$(job_wait beta "$job")" succeeded
tap_ok "but writes nothing there" bash -c "! '$LAB' exec beta test -e '$outside' && ! test -e '$outside'"
tap_is "the disk went to the image directory instead" \
    "$(on beta virsh domblklist s1 | awk '$1 == "vda" { print $2 }')" /var/lib/libvirt/images/s1.qcow2
on beta virsh -q undefine s1 > /dev/null 2>&1
on beta rm -f /var/lib/libvirt/images/s1.qcow2

forge "$sid" "$sid-h2" "s|^source=/var/lib/libvirt/images/s1.qcow2|source=/var/lib/libvirt/images/../../../..$outside/s1.qcow2|"
job=$(restore beta "$sid-h2")
tap_is "a manifest path with .. components: the restore fails" "$(job_wait beta "$job")" failed
tap_is "with InvalidArgument" "$(jprop beta "$job" Error)" org.virtferry.Ferry1.Error.InvalidArgument
tap_ok "writing nothing there" bash -c "! '$LAB' exec beta test -e '$outside' && ! test -e '$outside'"
tap_is "nor in the image directory" "$(ls "$LAB_DIR/hosts/beta/var-lib-libvirt/images" | sort | tr '\n' ' ')" "$images_before"
tap_is "and defining nothing" "$(on beta virsh list --all --name | grep -cx s1)" 0

# An archive of a format this virt-ferry does not read is Incompatible.
forge "$sid" "$sid-h5" "s|^format=.*|format=99|"
out=$(on beta gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Restore -- "$sid-h5" '{}' 2>&1)
if [[ "$out" == *objectpath* ]]; then
    job=$(sed -e "s/^(objectpath '\(.*\)',)$/\1/" <<< "$out")
    job_wait beta "$job" > /dev/null
    out=$(jprop beta "$job" Error)
fi
tap_diag "$out"
tap_ok "Restore of an archive of format 99 is Incompatible" grep -q "$FERR.Incompatible" <<< "$out"
rm -rf "$LIBRARY/$sid-h5"

# A library others can write is refused, saying what to chmod.
mode=$(stat -c %a "$LIBRARY")
chmod o+w "$LIBRARY"
expect_error "Restore from a world-writable library is InvalidArgument" Ferry1.Error.InvalidArgument beta Restore "$sid" '{}'
tap_ok "the error says what to chmod" bash -c "'$LAB' exec beta gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Restore -- '$sid' '{}' 2>&1 | grep -q 'chmod go-w'"
chmod "$mode" "$LIBRARY"

# Damaged archives are listed as damaged, naming the file; a FIFO manifest blocks nothing.
forge "$sid" "$sid-h3" ""
rm "$LIBRARY/$sid-h3/manifest"
forge "$sid" "$sid-h4" ""
rm "$LIBRARY/$sid-h4/manifest" && mkfifo "$LIBRARY/$sid-h4/manifest"
out=$(on beta timeout 20 busctl call $BUS $ROOT $MANAGER ListArchives 2>&1)
tap_ok "ListArchives answers with a FIFO for a manifest" grep -q "\"$sid\"" <<< "$out"
tap_ok "and lists the archive without a manifest" grep -q "\"$sid-h3\" \"\" \"\"" <<< "$out"
tap_ok "and the one with a FIFO" grep -q "\"$sid-h4\" \"\" \"\"" <<< "$out"
problem=$(prop beta "$ROOT/archive/$(escape "$sid-h3")" $BUS.Archive Problem)
tap_ok "its Problem names the missing manifest" grep -q "manifest is missing" <<< "$problem"
tap_ok "the FIFO's Problem says it is not a regular file" \
    bash -c "'$LAB' exec beta busctl get-property $BUS $ROOT/archive/$(escape "$sid-h4") $BUS.Archive Problem | grep -q 'not a regular file'"
tap_ok "virt-ferry archives shows it damaged" bash -c "'$LAB' exec beta virt-ferry archives | grep -q '^$sid-h3: damaged: .*manifest is missing'"
out=$(on beta gdbus call --system -d $BUS -o $ROOT -m $MANAGER.Restore -- "$sid-h3" '{}' 2>&1)
tap_ok "Restore of it fails naming the missing manifest (not: no archive)" \
    bash -c "grep -q 'Ferry1.Error.Failed' <<< \"\$1\" && grep -q 'manifest is missing' <<< \"\$1\"" _ "$out"
# A damaged archive can be removed (Archive.Delete), links inside it removed as links.
mkdir -p "$LAB_DIR/outside-$$" && echo keep-me > "$LAB_DIR/outside-$$/passwd"
ln -s "$LAB_DIR/outside-$$" "$LIBRARY/$sid-h3/etc"
out=$(on beta runuser -u nobody -- busctl call $BUS "$ROOT/archive/$(escape "$sid-h3")" $BUS.Archive Delete 2>&1)
tap_ok "Archive.Delete from uid 65534 is AccessDenied" grep -q "Access denied" <<< "$out"
tap_ok "and the archive stays" test -d "$LIBRARY/$sid-h3"
out=$(on beta virt-ferry archive-delete "$sid-h3" 2>&1)
tap_is "virt-ferry archive-delete removes the damaged archive (no manifest)" "$out" "Deleted archive $sid-h3."
tap_ok "its directory is gone" bash -c "! test -e '$LIBRARY/$sid-h3'"
tap_ok "the link inside it was removed, not followed" grep -q keep-me "$LAB_DIR/outside-$$/passwd"
out=$(on beta timeout 20 busctl call $BUS $ROOT $MANAGER ListArchives 2>&1)
tap_ok "ListArchives no longer lists it" bash -c "! grep -q '\"$sid-h3\"' <<< \"\$1\"" _ "$out"
tap_ok "its Archive object is gone" bash -c "! '$LAB' exec beta busctl --list tree $BUS | grep -qxF '$ROOT/archive/$(escape "$sid-h3")'"
out=$(on beta virt-ferry archive-delete "$sid-h3" 2>&1); rc=$?
tap_is "deleting it again: no such archive (exit 3)" "$rc" 3
rm -rf "$LAB_DIR/outside-$$"
rm -rf "$LIBRARY/$sid-h1" "$LIBRARY/$sid-h2" "$LIBRARY/$sid-h3" "$LIBRARY/$sid-h4"

# TPM state: copied without following links, restored with swtpm's owner.
# A shut-off domain: neither archive nor restore starts swtpm, so the lab needs none.
define_xml alpha "$(stub t1 "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>")"
if ! on alpha virsh dumpxml t1 2> /dev/null | grep -q "backend type='emulator'"; then
    tap_ok "TPM state archive and restore # SKIP libvirt defines no emulated TPM without swtpm, which the lab lacks (test-copy covers the link-safe tree copy)" true
else
    t1uuid=$(on alpha virsh domuuid t1 | tr -d '\n')
    tdir=$LAB_DIR/hosts/alpha/var-lib-libvirt/swtpm/$t1uuid/tpm2
    mkdir -p "$tdir"
    echo secret-of-the-host > "$LAB_DIR/host-secret-$$"
    ln -s "$LAB_DIR/host-secret-$$" "$tdir/tpm2-00.permall"
    job=$(archive alpha t1)
    tap_is "TPM state with a link in it: the archive fails" "$(job_wait alpha "$job")" failed
    tap_is "with Unsupported" "$(jprop alpha "$job" Error)" org.virtferry.Ferry1.Error.Unsupported
    tap_ok "and copies nothing of the link's target" bash -c "! grep -rqs secret-of-the-host '$LIBRARY'"
    rm -f "$tdir/tpm2-00.permall" "$LAB_DIR/host-secret-$$"
    head -c 9000 /dev/urandom > "$tdir/tpm2-00.permall"
    chmod 600 "$tdir/tpm2-00.permall"
    job=$(archive alpha t1)
    tap_is "with a regular state file it archives" "$(job_wait alpha "$job")" succeeded
    tid=$(jprop alpha "$job" Result)
    job=$(restore beta "$tid")
    tap_is "and restores on beta" "$(job_wait beta "$job")" succeeded
    back=$LAB_DIR/hosts/beta/var-lib-libvirt/swtpm/$t1uuid/tpm2/tpm2-00.permall
    tap_ok "with its TPM state" cmp "$tdir/tpm2-00.permall" "$back"
    tap_is "owned by swtpm's user, mode 600" "$(on beta stat -c '%U %a' /var/lib/libvirt/swtpm/$t1uuid/tpm2/tpm2-00.permall)" \
        "$(on beta bash -c 'id -un tss 2> /dev/null || echo root') 600"
fi

# ------------------------------------------------------------------ cancel
"$LAB" guest alpha c1 --mem 1536 --dirty 8 >&2 || tap_bail "guest c1 did not start"
cboot=$(boot_id alpha c1)
# Polled on alpha itself: a save of 1.5 GiB takes about a second here.
cancel_when() { # DOMAIN PROPERTY AWK-CONDITION-ON-v [other]: archives DOMAIN, cancels once the job's PROPERTY
                # matches; with "other", uid 65534 tries to cancel first (refused), then root with virt-ferry cancel
    on alpha bash -c '
        job=$(busctl call '$BUS' '$ROOT' '$MANAGER' Archive "sa{sv}" "$1" 0 | sed "s/^o \"\(.*\)\"$/\1/")
        for i in $(seq 3000); do
            v=$(busctl get-property '$BUS' "$job" '$BUS'.Job "$2" | cut -d" " -f2-)
            awk -v v="$v" "BEGIN { exit !($3) }" && break
            sleep 0.005
        done
        other=-
        if [ "$4" = other ]; then
            # Another user: refused, and the job runs on.
            setpriv --reuid=65534 --regid=65534 --clear-groups virt-ferry --no-ask-password cancel "${job##*/}" > /dev/null 2>&1
            other=$?,$(setpriv --reuid=65534 --regid=65534 --clear-groups gdbus call --system -d '$BUS' -o "$job" -m '$BUS'.Job.Cancel 2>&1 |
                sed -n "s/.*GDBus.Error:\([A-Za-z.]*\):.*/\1/p"),$(busctl get-property '$BUS' "$job" '$BUS'.Job Status | cut -d" " -f2 | tr -d \")
        fi
        # The memory save is over in a second or two: busctl, quicker to start than the CLI.
        if [ "$4" = other ]; then virt-ferry cancel "${job##*/}" > /dev/null
        else busctl call '$BUS' "$job" '$BUS'.Job Cancel; fi
        echo "$job $other $v"' _ "$@"
}
# Half way through the memory save (a few seconds at this size; progress every 40 ms).
read -r job other at <<< "$(cancel_when c1 Progress 'v >= 0.5')"
tap_diag "cancelled during the memory save at progress $at"
tap_is "a cancelled archive ends cancelled" "$(job_wait alpha "$job")" cancelled
tap_is "with Cancelled" "$(jprop alpha "$job" Error)" $FERR.Cancelled
tap_is "the domain runs again" "$(state alpha c1)" running
lines=$(alive_count alpha c1 "$cboot")
tap_ok "without a reboot" wait_for 15 alive_since alpha c1 "$cboot" "$lines"
tap_is "no partial directory is left" "$(partials)" 0
tap_is "and no archive of c1" "$(ls "$LIBRARY" | grep -c '^c1-')" 0

# Cancel during the disk copy: a guest with a second disk holding 1.5 GiB (attached while it
# is off: the test guest's machine has no hotplug).
on alpha qemu-img create -q -f qcow2 /var/lib/libvirt/images/big.qcow2 2G
on alpha qemu-io -f qcow2 -c "write -P 0x5a 0 1536M" /var/lib/libvirt/images/big.qcow2 > /dev/null
"$LAB" guest alpha c2 --mem 256 >&2 || tap_bail "guest c2 did not start"
on alpha virsh -q destroy c2 > /dev/null
on alpha virsh -q attach-disk c2 /var/lib/libvirt/images/big.qcow2 vdb --driver qemu --subdriver qcow2 --config > /dev/null
on alpha virsh -q start c2 > /dev/null
wait_for 60 bash -c "[ \$(grep -ac 'ready name=c2' '$(console alpha c2)') -ge 2 ]"
c2boot=$(boot_id alpha c2)
read -r job other at <<< "$(cancel_when c2 Message 'v ~ /copying .*big.qcow2/' other)"
tap_diag "cancelled during the disk copy ($at); uid 65534's attempt: $other"
IFS=, read -r orc oname ostatus <<< "$other"
tap_is "virt-ferry cancel of root's job by uid 65534 exits 4 (not authorized)" "$orc" 4
tap_is "Job.Cancel from uid 65534 is AccessDenied" "$oname" org.freedesktop.DBus.Error.AccessDenied
tap_is "and the job ran on" "$ostatus" running
tap_is "a cancel (virt-ferry cancel) during the disk copy ends cancelled" "$(job_wait alpha "$job")" cancelled
tap_is "with Cancelled" "$(jprop alpha "$job" Error)" $FERR.Cancelled
tap_is "the domain runs again" "$(state alpha c2)" running
lines=$(alive_count alpha c2 "$c2boot")
tap_ok "without a reboot" wait_for 15 alive_since alpha c2 "$c2boot" "$lines"
tap_is "no partial directory is left" "$(partials)" 0
on alpha virsh -q destroy c2 > /dev/null

# virt-ferryd killed during the memory save, and the recovery after its restart: tests/lab/test-faults.sh
# (which waits until the save has written 32 MiB and checks the journal's phase).

# ------------------------------------------------------------------ library full
# Mounted inside alpha's mount namespace: the machine's own mounts stay as they are.
small=$LAB_DIR/hosts/alpha/small-library
mkdir -p "$small"
on alpha mount -t tmpfs -o size=48m,mode=0755 tmpfs "$small"  # root-only, as a library must be
conf=$LAB_DIR/hosts/alpha/virt-ferry.conf
cp "$conf" "$conf.orig"
sed -i "s|^library=.*|library=$small|" "$conf"
"$LAB" ferryd alpha restart >&2
job=$(archive alpha c1)
st=$(job_wait alpha "$job")
tap_is "archiving into a full library fails" "$st" failed
tap_is "with NoCapacity" "$(jprop alpha "$job" Error)" org.virtferry.Ferry1.Error.NoCapacity
tap_diag "full library: $(jprop alpha "$job" Message)"
tap_is "the domain runs again" "$(state alpha c1)" running
tap_is "and nothing is left in the library" "$(on alpha ls -A "$small" | wc -l)" 0
cp "$conf.orig" "$conf"
"$LAB" ferryd alpha restart >&2
on alpha umount "$small"

tap_done
