# SPDX-License-Identifier: LGPL-2.1-or-later
# TAP helpers for the lab tests (sourced).
TAP_N=0
TAP_FAILED=0
tap_ok() { # DESCRIPTION CMD...: one check
    local d=$1; shift
    TAP_N=$((TAP_N + 1))
    if "$@"; then echo "ok $TAP_N - $d"
    else echo "not ok $TAP_N - $d"; TAP_FAILED=$((TAP_FAILED + 1)); fi
}
tap_is() { # DESCRIPTION GOT WANT
    TAP_N=$((TAP_N + 1))
    if [ "$2" = "$3" ]; then echo "ok $TAP_N - $1"
    else echo "not ok $TAP_N - $1"; printf '# got:  %s\n# want: %s\n' "$2" "$3"; TAP_FAILED=$((TAP_FAILED + 1)); fi
}
tap_diag() { printf '# %s\n' "$@"; }
tap_skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; } # DESCRIPTION WHY
tap_skip_all() { echo "1..0 # SKIP $*"; exit 0; }
# Also from inside $(...): the message goes to the TAP stream (fd 3), and the test itself ends.
exec 3>&1
trap 'exit 1' USR1
tap_bail() { echo "Bail out! $*" >&3; [ "$BASHPID" = "$$" ] || kill -USR1 $$; exit 1; }
tap_done() { echo "1..$TAP_N"; [ "$TAP_FAILED" = 0 ]; }
# Wait up to SECONDS for CMD to succeed.
wait_for() { local s=$1 i; shift; for ((i = 0; i < s * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }
