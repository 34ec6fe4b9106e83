#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lab benchmark: DomainStateChanged latency vs libvirt's own lifecycle event, over 200
# suspend/resume changes of a running guest on alpha (see event-latency.c).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${VIRT_FERRY_BUILDDIR:-$(cd "$here/.." && pwd)}
LAB=$here/../tests/lab/lab
export VIRT_FERRY_BUILDDIR=$BUILD
"$LAB" up 1 >&2
"$LAB" exec alpha virsh -q domstate bench-ev > /dev/null 2>&1 || "$LAB" guest alpha bench-ev --mem 128 >&2
# The program prints its own JSON line; the commit is told from here, outside the lab host.
. "$here/json.sh"
"$LAB" exec alpha env BENCH_COMMIT="$(bench_json_commit)" "$BUILD/bench/event-latency" bench-ev "${1:-200}"
"$LAB" exec alpha virsh -q destroy bench-ev > /dev/null
"$LAB" exec alpha virsh -q undefine bench-ev > /dev/null
