# Shared by the end-to-end scripts. A script defines functions named t_NAME and ends with
# `run_tests`; each case runs in its own subshell with `set -eu`, in a fresh temporary
# directory ($T), and prints "ok SCRIPT/NAME" or "FAIL SCRIPT/NAME" followed by its output.
# The whole script runs under tests/helpers/subreaper, so daemons that a case detaches are
# reparented to (and reaped by) the test, never left to PID 1, and killed when it ends.
#
# Synchronisation is on events: `waitfor` blocks on inotify until a line appears in a file,
# with a deadline that only turns a hang into a failure.

: "${TEND:?run through tests/run.sh (TEND unset)}"
: "${TEND_HELPERS:?run through tests/run.sh}"
H=$TEND_HELPERS

if [ "${TEND_UNDER_SUBREAPER:-}" != 1 ]; then
    export TEND_UNDER_SUBREAPER=1
    exec "$H/subreaper" bash "$0" "$@"
fi

fail() { echo "assertion failed: $*" >&2; exit 1; }
expect_eq() {   # ACTUAL EXPECTED WHAT
    [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}
expect_match() {   # STRING ERE WHAT
    printf '%s' "$1" | grep -Eq -- "$2" || fail "$3: '$1' does not match /$2/"
}
expect_file_match() {  # FILE ERE
    grep -Eq -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "$1 has no line matching /$2/"; }
}
# waitfor FILE ERE [SECONDS]: block until FILE has a line matching ERE.
waitfor() { "$H/waitfor" -t "${3:-10}" "$1" "$2"; }
# Field N (1-based, as proc(5) numbers them) of /proc/PID/stat, robust to spaces in comm.
stat_field() {
    local rest n=$2
    rest=$(sed 's/^.*) //' "/proc/$1/stat") || return 1
    set -- $rest
    shift $(( n - 3 ))
    echo "$1"
}
# A case that cannot run here (a missing kernel feature, not a failure) calls skip.
# tend_started KEEPER_PID LOG [SECONDS]: waits for the supervisor's "started" line naming
# that keeper (the process `tend daemon` became) and sets TEND_PID to the supervisor's pid.
tend_started() {
    "$H/waitfor" -t "${3:-15}" "$2" "started as pid [0-9]+ \\(keeper $1\\)" >/dev/null 2>&1 ||
        return 1
    TEND_PID=$(sed -n "s/.* started as pid \([0-9]*\) (keeper $1).*/\1/p" "$2" | tail -n 1)
}
skip() { echo "skipped: $*" >&2; exit 77; }
proc_status() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }   # PID KEY
alive() { [ -e "/proc/$1" ] && [ "$(stat_field "$1" 3)" != Z ]; }

# A tend started in the root cgroup makes /CGROUP2/tend.PID.TICKS for its services (PID and
# start time, in hex clock ticks, of its keeper) and removes it when it exits; one killed by
# a case (SIGKILL) cannot. Remove those of dead tends, once empty (rmdir refuses a populated
# cgroup, so a live service is never touched). A live PID that started at another time is
# not that keeper: the pid was reused, or it was a pid in a case's own pid namespace.
sweep_cgroups() {
    local v2 d p ticks
    v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
    [ -n "$v2" ] || return 0
    for d in "$v2"/tend.*.*; do
        [ -d "$d" ] || continue
        p=${d##*/tend.}
        ticks=${p#*.}
        p=${p%%.*}
        if kill -0 "$p" 2>/dev/null; then
            [ "$(printf '%x' "$(stat_field "$p" 22 2>/dev/null)")" = "$ticks" ] && continue
        fi
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    return 0
}

run_tests() {
    local script name rc
    script=$(basename "$0" .sh)
    for name in $(declare -F | awk '{print $3}' | grep '^t_'); do
        # TEST_CASE: only the cases whose name contains it (while working on one).
        [[ $name == *"${TEST_CASE:-}"* ]] || continue
        T=$(mktemp -d "/tmp/tend-e2e.XXXXXX")
        # Output goes to a file, not a pipe: a daemon that keeps a copy of the case's
        # stdout must not hold the runner up.
        (set -eu; cd "$T"; "$name") >"$T.out" 2>&1 </dev/null; rc=$?
        if [ $rc -eq 0 ]; then
            echo "ok ${script}/${name#t_}"
        elif [ $rc -eq 77 ]; then
            echo "skip ${script}/${name#t_}: $(tail -n 1 "$T.out")"
        else
            echo "FAIL ${script}/${name#t_}"
            sed 's/^/    /' "$T.out"
        fi
        rm -f "$T.out"
        rm -rf "$T"
        sweep_cgroups
    done
}

# ere_other N: an ERE group matching every decimal number without leading zeros except N
# (a pid other than N).
ere_other() {
    local n=$1 len=${#1} alts=() i d c set
    [ "$len" -gt 1 ] && alts+=("[1-9][0-9]{0,$((len - 2))}")
    alts+=("[1-9][0-9]{$len,}")
    for ((i = 0; i < len; i++)); do
        d=${n:i:1}
        set=""
        for c in 0 1 2 3 4 5 6 7 8 9; do
            [ "$c" = "$d" ] && continue
            [ "$i" = 0 ] && [ "$c" = 0 ] && continue
            set=$set$c
        done
        alts+=("${n:0:i}[$set][0-9]{$((len - i - 1))}")
    done
    local IFS='|'
    echo "(${alts[*]})"
}
