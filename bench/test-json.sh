#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bench/json.sh's bench_json: the line it prints is one JSON object, with the common keys
# first, numbers as numbers, empty values as null, and strings escaped (quotes, backslashes,
# control characters), checked with python3's json module.
set -u
srcdir=${srcdir:-.}
. "$srcdir/bench/json.sh"
command -v python3 > /dev/null || { echo "1..0 # SKIP python3 is not installed (needed to parse JSON)"; exit 0; }
echo 1..4
n=0
check() { # DESCRIPTION PYTHON-EXPRESSION-OVER-o LINE
    n=$((n + 1))
    if printf '%s' "$3" | python3 -c "import json, sys; o = json.loads(sys.stdin.read()); sys.exit(0 if ($2) else 1)"; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1: $3"
    fi
}
tricky=$(printf 'say "hi" \\ back\ttab\001ctl\nnewline')
line=$(BENCH_COMMIT=v1-2-gabc bench_json "my bench" ms 12.5 count 3 neg -0.25 exp 1e-3 missing "" \
    flag true zero 007 text "$tricky")
check "common keys" 'list(o)[:3] == ["bench", "date", "commit"] and o["bench"] == "my bench" and o["commit"] == "v1-2-gabc" and len(o["date"]) == 20' "$line"
check "numbers, null, true" 'o["ms"] == 12.5 and o["count"] == 3 and o["neg"] == -0.25 and o["exp"] == 0.001 and o["missing"] is None and o["flag"] is True' "$line"
check "strings escaped" 'o["zero"] == "007" and o["text"] == "say \"hi\" \\ back\ttab\x01ctl\nnewline"' "$line"
n=$((n + 1))
if bench_json odd key 2> /dev/null; then echo "not ok $n - a key without a value is refused"; else echo "ok $n - a key without a value is refused"; fi
