#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The layering doc/ARCHITECTURE.md states, kept true: plugin/ (the engine) uses no GDBus API and
# nothing generated from the interface XML; dbus/ (the adaptor) calls no libvirt and parses
# no XML; the libc-only hook core stays free of both. Comments are left out of the search.
srcdir=${srcdir:-.}
n=0
fail=0

# Prints file:line: text for every match of the extended regex $1 in the code (comments
# and string literals removed) of the files that follow.
code_matches() {
    PATTERN=$1
    export PATTERN
    shift
    for f in "$@"; do
        perl -0777 -ne '
            s{/\*.*?\*/}{ my $c = $&; $c =~ s/[^\n]//g; $c }gse;  # block comments, lines kept
            s{//[^\n]*}{}g;
            my $i = 0;
            for (split /\n/, $_, -1) {
                $i++;
                s{"(?:\\.|[^"\\])*"}{""}g unless /^\s*#\s*include/;  # string literals
                print "$ARGV:$i: $_\n" if /$ENV{PATTERN}/;
            }
        ' "$f"
    done
}

check() {
    what=$1
    pattern=$2
    shift 2
    n=$((n + 1))
    found=$(code_matches "$pattern" "$@")
    if [ -n "$found" ]; then
        echo "not ok $n - $what"
        echo "$found" | sed 's/^/# /'
        fail=1
    else
        echo "ok $n - $what"
    fi
}

cd "$srcdir" || exit 1
plugin_files=$(ls plugin/*.c plugin/*.h)
dbus_files=$(ls dbus/*.c dbus/*.h | grep -v ferry-generated)

echo "1..6"
check "plugin/ uses no GDBus API" '\bg_dbus_|\bGDBus[A-Z]|\bG_DBUS_|gio/gdbus' $plugin_files
check "plugin/ does not include the generated D-Bus code or the adaptor" \
    '#include[[:space:]]*[<"](ferry-generated|daemon|authz)\.h' $plugin_files
check "dbus/ calls no libvirt" '\bvir[A-Z][A-Za-z]*[[:space:]]*\(|\bvir[A-Z][A-Za-z]*Ptr\b|libvirt/|libvirt-autoptr' $dbus_files
check "dbus/ parses no XML" '\bxml[A-Z][A-Za-z]*\b|libxml|\bferry_xml_read|domxml|xml-read\.h' $dbus_files
check "dbus/ opens no files of the engine (library, journal, network map)" \
    '\bferry_(library_list|manifest_load|journal_|netmap_write|netmap_read)' $dbus_files
# virt-ferry-hook runs inside libvirtd on every domain operation: its core (what is not
# dlopen'ed) links libc and libdbus alone, and its header to the rewrite module says no more.
check "the hook's core uses no GLib, libvirt or libxml2" \
    '#include[[:space:]]*[<"](glib|gio|libvirt|libxml)|\bg_[a-z_]+[[:space:]]*\(|\bG[A-Z][a-z]+[A-Z]?[A-Za-z]*[[:space:]]*\*|\bvir[A-Z][A-Za-z]*[[:space:]]*\(|\bxml[A-Z][A-Za-z]*\b' \
    hooks/virt-ferry-hook.c hooks/hook-rewrite.h
exit $fail
