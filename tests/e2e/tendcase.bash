# Sourced by the e2e scripts that drive one foreground tend per case (pidfile.sh, health.sh,
# alerts.sh), after lib.sh: the case set-up and clean-up, config writing, log waits and
# the small assertions they share.
SUBREAPER=$PPID     # lib.sh runs this shell as the subreaper's child
TEND_PID="" KEEPER_PID=""         # the foreground tend of the current case
TRACKED=""          # other pids the current case wants killed when it ends
CONF="" LOG=""      # the current case's config and tend's log (set by setup)

# A log line: "2026-11-25 07:07:12.700 INFO text".
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (INFO|WARN|ERROR|DEBUG) '

# -- /proc ------------------------------------------------------------------------------------

pstat() {   # PID N: field N of /proc/PID/stat (1-based, as proc(5) numbers them)
    local line rest n=$2
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    set -- $rest
    shift $((n - 3))
    echo "$1"
}
is_alive() { local s; s=$(pstat "$1" 3) || return 1; [ "$s" != Z ] && [ "$s" != X ]; }
children_of() {   # PID [STATES-ERE]: its children in those states (default: alive)
    local parent=$1 want=${2:-'[^ZX]'} f line rest
    for f in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$f" || continue
        rest=${line##*) }
        set -- $rest
        [ "$2" = "$parent" ] && [[ $1 =~ ^($want)$ ]] && echo "${f//[^0-9]/}"
    done
    return 0
}
zombies_of() { children_of "$1" Z; }
describe() {
    local p
    for p in "$@"; do
        printf '  %s: %s [state %s, ppid %s]\n' "$p" \
            "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" "$(pstat "$p" 3)" "$(pstat "$p" 4)"
    done
}
leftovers() { children_of "$SUBREAPER" | grep -vx "$$" || true; }

# -- per-case setup and cleanup ---------------------------------------------------------------

setup() {
    CONF=$T/tend.conf
    LOG=$T/tend.log
    mkdir -p "$T/logs"
    export TEND_TEST_CASE=$T   # inherited by tend and its programs: marks this case's processes
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/ubsan"
    trap cleanup EXIT
}

# Sanitizer reports: in tend's stderr, tend's log, or the report files the options name.
check_sanitizers() { scan_sanitizers "$T"/*.err "$T"/asan.* "$T"/ubsan.* "$LOG"; }

# scan_sanitizers FILE...: fail, showing it, on the first file with a sanitizer report.
scan_sanitizers() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || continue
        if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$f"; then
            echo "--- $f:"
            cat "$f"
            fail "sanitizer report in $f"
        fi
    done
}

cleanup() {
    local rc=$? p pids round
    set +e
    if [ -n "$KEEPER_PID" ]; then
        kill -KILL "$KEEPER_PID" $TEND_PID 2>/dev/null
        { wait "$KEEPER_PID"; } 2>/dev/null
    fi
    pids=$TRACKED
    for round in 1 2 3 4 5 6; do
        for p in $pids; do kill -KILL "$p" 2>/dev/null; done
        for p in $pids; do "$H/waitfor" -t 10 --gone "$p" >/dev/null 2>&1; done
        pids=$(leftovers)
        [ -n "$pids" ] || break
    done
    if [ "$rc" = 0 ]; then
        (check_sanitizers) || rc=1
    fi
    if [ "$rc" != 0 ] && [ -e "$LOG" ]; then
        echo "--- tend's log:"
        cat "$LOG"
    fi
    exit "$rc"
}

write_conf() {   # [TEND_KEY=VALUE...]: stdin, after a [tend] section, becomes $CONF (atomically)
    {
        printf '[tend]\nlogfile=%s\nchildlogdir=%s\nsocket=%s\n' "$LOG" "$T/logs" "$T/tend.sock"
        [ $# -eq 0 ] || printf '%s\n' "$@"
        cat
    } >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
}

start_tend() {
    "$TEND" daemon -n -c "$CONF" >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 15 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
}

stop_tend() {   # SIGTERM; tend must exit 0 with "tend exiting" last and no sanitizer report
                # (within STOP_SECS, 30 unless set)
    local rc=0
    kill -TERM "$KEEPER_PID"
    "$H/waitfor" -t "${STOP_SECS:-30}" --gone "$KEEPER_PID" || fail "tend did not exit"
    wait "$KEEPER_PID" || rc=$?
    TEND_PID="" KEEPER_PID=""
    check_sanitizers
    expect_eq "$rc" 0 "tend's exit status"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "the last line of tend's log"
}

# Keeper and supervisor killed together (what a cold start follows), both waited for.
kill_tend_whole() {
    kill -KILL "$KEEPER_PID" "$TEND_PID"
    { wait "$KEEPER_PID"; } 2>/dev/null || true
    "$H/waitfor" -t 10 --gone "$TEND_PID"
    KEEPER_PID="" TEND_PID=""
}

tendctl() { "$TEND" -s "$T/tend.sock" "$@"; }

# st NAME FIELD: one field of NAME's line in `tend status --json` (strings unquoted).
st() {
    local line
    line=$(tendctl status --json | grep -F "{\"name\": \"$1\", ") || fail "no status for $1"
    printf '%s\n' "$line" | sed -E 's/.*"'"$2"'": ("(([^"\\]|\\.)*)"|(-?[0-9]+)).*/\2\4/'
}

# -- tend's log -------------------------------------------------------------------------------

wait_log() { waitfor "$LOG" "$1" "${2:-15}" || fail "no line /$1/ in tend's log"; }
count_log() { grep -Ec -- "$1" "$LOG" || true; }
line_ms() {   # ERE: the timestamp of the first matching line, ms since the epoch
    local l
    l=$(grep -E -- "$1" "$LOG" | head -n 1)
    [ -n "$l" ] || fail "no line /$1/ in tend's log"
    date -d "${l:0:23}" +%s%3N
}
re() { printf '%s' "$1" | sed 's/[][\.*^$(){}?+|/]/\\&/g'; }   # STRING: as a literal ERE
