#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every source file carries virt-ferry's licence (COPYING) as an SPDX line: C and headers,
# shell scripts, Makefile fragments, configure.ac, unit/service/bus files and the XML that
# allows a comment (interface, man pages, polkit actions, bus policy).
#   test-spdx.sh          TAP: one check per kind of file, naming the files without the line
#   test-spdx.sh --fix    add the line where it is missing (a comment in the file's syntax)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$here/../.." && pwd)
SPDX="SPDX-License-Identifier: LGPL-2.1-or-later"

# The source files: git's list (a copy of the tree, as a release tarball or CI's ASan build,
# holds generated files that no list tells apart).
is_checkout() { [ "$(git -C "$SRC" rev-parse --show-toplevel 2> /dev/null)" = "$SRC" ]; }
source_files() {
    git -C "$SRC" ls-files | grep -v -e '^tests/fuzz/corpus/' | LC_ALL=C sort
}

# The kind of @1 (c, sh, make, xml, ini), or nothing for files that are not source.
kind_of() {
    case $1 in
        *.c | *.h) echo c ;;
        Makefile.am | *.inc | configure.ac) echo make ;;
        *.xml | *.policy | dbus/*.conf) echo xml ;;
        *.service.in | *.bash-completion.in | debian/control | *.supp) echo ini ;;
        *.sh | autogen.sh | .ci/run | .ci/deps | tests/lab/lab | tests/lab/mkguest | debian/rules | \
            debian/*.postrm | debian/*.postinst | debian/*.prerm | debian/*.preinst) echo sh ;;
    esac
}

# The line added to a file of @kind.
add_line() { # FILE KIND
    local f=$SRC/$1 tmp
    tmp=$(mktemp) || return 1
    case $2 in
        c) { echo "/* $SPDX */"; cat "$f"; } > "$tmp" ;;
        make | ini) if [ "$1" = configure.ac ]; then
                        { echo "dnl $SPDX"; cat "$f"; } > "$tmp"
                    else
                        { echo "# $SPDX"; cat "$f"; } > "$tmp"
                    fi ;;
        sh) if head -n 1 "$f" | grep -q '^#!'; then
                { head -n 1 "$f"; echo "# $SPDX"; tail -n +2 "$f"; } > "$tmp"
            else
                { echo "# $SPDX"; cat "$f"; } > "$tmp"
            fi ;;
        # After the XML declaration, which must come first.
        xml) if head -n 1 "$f" | grep -q '^<?xml'; then
                 { head -n 1 "$f"; echo "<!-- $SPDX -->"; tail -n +2 "$f"; } > "$tmp"
             else
                 { echo "<!-- $SPDX -->"; cat "$f"; } > "$tmp"
             fi ;;
    esac
    cat "$tmp" > "$f" && rm -f "$tmp"
}

. "$here/../lab/tap.sh"
is_checkout || tap_skip_all "not a git checkout: the source files are git's list"
files=$(source_files)
if [ "${1:-}" = --fix ]; then
    for f in $files; do
        kind=$(kind_of "$f")
        [ -n "$kind" ] && ! grep -qF "$SPDX" "$SRC/$f" && add_line "$f" "$kind" && echo "added: $f"
    done
    exit 0
fi

[ -r "$SRC/COPYING" ] && grep -q "GNU LESSER GENERAL PUBLIC LICENSE" "$SRC/COPYING" &&
    grep -q "Version 2.1" "$SRC/COPYING"
tap_ok "COPYING holds the LGPL 2.1" test $? = 0
for kind in c sh make xml ini; do
    missing= n=0
    for f in $files; do
        [ "$(kind_of "$f")" = "$kind" ] || continue
        n=$((n + 1))
        grep -qF "$SPDX" "$SRC/$f" || missing="$missing $f"
    done
    tap_is "every $kind source file ($n) has the line '$SPDX'" "${missing# }" ""
done
tap_done
