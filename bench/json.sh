# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the shell benchmarks: their one machine-readable line of results, besides the
# text, so that a run can be compared with the last. The format is bench-json.h's (the C
# benchmarks'):
#   {"bench":"<name>","date":"<UTC, ISO 8601>","commit":"<git describe, or unknown>", ...}
#
#   bench_json NAME [KEY VALUE]...
# A VALUE that is a JSON number goes in as one; true, false and null as themselves; an empty
# VALUE as null (a measurement that did not happen); anything else as a string, escaped.
# $BENCH_COMMIT overrides the commit (a tree without git).

# $1 as a JSON string, quotes included: backslash, quote and control characters escaped.
bench_json_string() {
    local s=$1 out="" c i LC_ALL=C
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/\\t}
    s=${s//$'\r'/\\r}
    if [[ $s == *[$'\001'-$'\037'$'\177']* ]]; then
        for ((i = 0; i < ${#s}; i++)); do
            c=${s:i:1}
            if [[ $c == [$'\001'-$'\037'$'\177'] ]]; then
                printf -v c '\\u%04x' "'$c"
            fi
            out+=$c
        done
        s=$out
    fi
    printf '"%s"' "$s"
}

# $1 as a JSON value: a number, true/false/null, null when empty, else a string.
bench_json_value() {
    local v=$1
    if [[ -z $v ]]; then
        printf null
    elif [[ $v =~ ^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$ || $v == true || $v == false || $v == null ]]; then
        printf '%s' "$v"
    else
        bench_json_string "$v"
    fi
}

bench_json_commit() {
    if [[ -n ${BENCH_COMMIT:-} ]]; then
        printf '%s' "$BENCH_COMMIT"
        return
    fi
    local top
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    git -C "$top" describe --always --dirty 2> /dev/null || printf unknown
}

bench_json() {
    local name=$1 line
    shift
    if (($# % 2)); then
        echo "bench_json: a key without a value: ${*: -1}" >&2
        return 1
    fi
    line="{\"bench\":$(bench_json_string "$name"),\"date\":$(bench_json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
    line+=",\"commit\":$(bench_json_string "$(bench_json_commit)")"
    while (($# > 0)); do
        line+=",$(bench_json_string "$1"):$(bench_json_value "$2")"
        shift 2
    done
    printf '%s}\n' "$line"
}
