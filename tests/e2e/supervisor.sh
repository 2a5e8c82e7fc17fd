#!/usr/bin/env bash
# End-to-end tests of `tend daemon`: the real supervisor runs real processes (the programs in
# tests/helpers) and every assertion is on what really happened: pids read from tend's log and
# from files the helpers write, /proc entries, exit statuses, the order and timestamps of
# tend's log lines.
#
# Each case writes a config into its temporary directory $T, with tend's log, control socket
# and child logs all inside $T, runs `tend daemon -n` in the background (stderr captured in
# $T/tend.err and scanned for sanitizer reports) and synchronises only on events: a line
# appearing in tend's log or in a helper's ready file (waitfor, inotify), a process going
# away (waitfor --gone, pidfd). Deadlines only turn a hang into a failure; nothing sleeps.
#
# Every case kills what it started when it ends (trap cleanup EXIT): tend first, then
# whatever was reparented to the script's subreaper, until nothing is left.
. "$(dirname "$0")/lib.sh"

SUBREAPER=$PPID     # lib.sh runs this shell as the subreaper's child
TEND_PID="" KEEPER_PID=""         # the foreground tend of the current case
TRACKED=""          # other pids the current case wants killed when it ends
CONF="" LOG=""      # the current case's config and tend's log (set by setup)

# A log line: "2026-11-25 07:07:12.700 INFO text".
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (INFO|WARN|ERROR|DEBUG) '

# ---------------------------------------------------------------------------------------------
# /proc

# pstat PID N: field N (1-based, as proc(5) numbers them) of /proc/PID/stat.
pstat() {
    local line rest n=$2
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    set -- $rest
    shift $((n - 3))
    echo "$1"
}

# is_alive PID: the process exists and is not a zombie.
is_alive() {
    local s
    s=$(pstat "$1" 3) || return 1
    [ "$s" != Z ] && [ "$s" != X ]
}

# children_of PID [STATES]: children of PID whose state is in STATES (an ERE; default: any
# live state), one pid per line.
children_of() {
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

describe() {  # PID...: one line per process, for failure messages
    local p
    for p in "$@"; do
        printf '  %s: %s [state %s, ppid %s]\n' "$p" \
            "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" "$(pstat "$p" 3)" "$(pstat "$p" 4)"
    done
}

# leftovers: live processes reparented to the subreaper, i.e. detached or orphaned by this case.
leftovers() { children_of "$SUBREAPER" | grep -vx "$$" || true; }

# ---------------------------------------------------------------------------------------------
# Per-case setup and cleanup

setup() {
    CONF=$T/tend.conf
    LOG=$T/tend.log
    mkdir -p "$T/logs"
    # Sanitizer reports go to files in $T (ASan appends .PID), whatever the process did with
    # its stderr: a daemon's reports would otherwise be lost. Later options override earlier.
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/ubsan"
    trap cleanup EXIT
}

check_sanitizers() {
    local f
    for f in "$T"/*.err "$T"/asan.* "$T"/ubsan.*; do
        [ -e "$f" ] || continue
        if grep -Eq 'ERROR: AddressSanitizer|LeakSanitizer|runtime error' "$f"; then
            echo "--- $f:"
            sed '/^Shadow bytes around/,$d' "$f"   # the report without the shadow map
            fail "sanitizer report in $f"
        fi
    done
}

# Kill whatever the case left running, tend first (its services are orphaned to the
# subreaper by its death and collected as leftovers), then check the sanitizer reports.
cleanup() {
    local rc=$? p pids round
    set +e
    if [ -n "$KEEPER_PID" ]; then
        kill -KILL "$KEEPER_PID" $TEND_PID 2>/dev/null
        { wait "$KEEPER_PID"; } 2>/dev/null   # reaps it, without bash's "Killed" notice
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
    exit "$rc"
}

# write_conf [TEND_KEY=VALUE...]: stdin, after the [tend] section every case uses (plus
# the given keys), becomes $CONF. Written to a temporary file and renamed: a reload never
# reads half a file.
write_conf() {
    {
        printf '[tend]\nlogfile=%s\nchildlogdir=%s\nsocket=%s\n' "$LOG" "$T/logs" "$T/tend.sock"
        [ $# -eq 0 ] || printf '%s\n' "$@"
        cat
    } >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
}

# Runs `tend daemon -n -c $CONF` in the background and waits for its "started" line.
start_tend() {
    "$TEND" daemon -n -c "$CONF" >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 15 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"$'\n'"log:"$'\n'"$(cat "$LOG" 2>/dev/null)"
}

# stop_tend [SIG]: SIGTERM (or SIG) to tend, then tend_exited.
stop_tend() {
    kill -"${1:-TERM}" "$KEEPER_PID"
    tend_exited
}

# tend_exited: tend (already told to stop) must exit 0, with "tend exiting" as the last line
# of its log and nothing reported by a sanitizer.
tend_exited() {
    local rc=0
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
    wait "$KEEPER_PID" || rc=$?
    TEND_PID="" KEEPER_PID=""
    check_sanitizers
    expect_eq "$rc" 0 "tend's exit status"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "the last line of tend's log"
}

# ---------------------------------------------------------------------------------------------
# tend's log

# wait_log ERE [SECONDS]: block until tend's log has a line matching ERE.
wait_log() { waitfor "$LOG" "$1" "${2:-15}" || fail "no line /$1/ in tend's log"; }

# count_log ERE: how many lines of tend's log match.
count_log() { grep -Ec -- "$1" "$LOG" || true; }

# line_no ERE: the number of the first line of tend's log matching ERE (fails if none).
line_no() {
    local n
    n=$(grep -nE -- "$1" "$LOG" | head -n 1 | cut -d: -f1)
    [ -n "$n" ] || { echo "--- tend's log:"; cat "$LOG"; fail "no line /$1/ in tend's log"; } >&2
    echo "$n"
}

# line_ms ERE: the timestamp of the first line matching ERE, in milliseconds since the epoch.
line_ms() {
    local l
    l=$(grep -E -- "$1" "$LOG" | head -n 1)
    [ -n "$l" ] || fail "no line /$1/ in tend's log"
    date -d "${l:0:23}" +%s%3N
}

# spawned NAME: the pids tend logged as spawned for NAME, in order, one per line.
spawned() { sed -nE "s/${TS}$1: spawned pid ([0-9]+)\$/\\2/p" "$LOG"; }
nspawned() { spawned "$1" | grep -c . || true; }

# wait_spawn NAME: wait until tend logs a spawn of NAME and print the (last) pid logged.
wait_spawn() {
    wait_log "${TS}$1: spawned pid [0-9]+\$" >&2
    spawned "$1" | tail -n 1
}

# wait_running NAME PID: wait for NAME's STARTING -> RUNNING line for PID.
wait_running() { wait_log "${TS}$1 \\(pid $2\\): STARTING -> RUNNING" >&2; }

# ready_pid FILE: wait for a helper's ready file and print the pid it names.
ready_pid() {
    waitfor "$1" '^ready [0-9]+$' 15 >&2 || fail "no ready line in $1"
    sed -n 's/^ready \([0-9]*\)$/\1/p' "$1"
}

# ---------------------------------------------------------------------------------------------
# Cases

# Programs start in ascending priority (negative first, 999 by default), equal priorities by
# name; the pids logged are the helpers' own and tend's children.
t_start_order_by_priority() {
    setup
    write_conf <<EOF
[program:omega]
command=$H/sleeper -r $T/omega.ready
startsecs=0
[program:alpha]
command=$H/sleeper -r $T/alpha.ready
priority=30
startsecs=0
[program:mid]
command=$H/sleeper -r $T/mid.ready
priority=20
startsecs=0
[program:zeta]
command=$H/sleeper -r $T/zeta.ready
priority=10
startsecs=0
[program:beta]
command=$H/sleeper -r $T/beta.ready
priority=20
startsecs=0
[program:first]
command=$H/sleeper -r $T/first.ready
priority=-5
startsecs=0
EOF
    start_tend
    local n pid order
    for n in first zeta beta mid alpha omega; do
        pid=$(ready_pid "$T/$n.ready")
        wait_running "$n" "$pid"
        expect_eq "$(spawned "$n")" "$pid" "the pid tend logged for $n"
        expect_eq "$(pstat "$pid" 4)" "$TEND_PID" "parent of $n"
    done
    order=$(sed -nE "s/${TS}([a-z]+): spawned pid [0-9]+\$/\\2/p" "$LOG" | tr '\n' ' ')
    expect_eq "$order" "first zeta beta mid alpha omega " "the order of spawns"
    stop_tend
}

# [group:x] priority orders the group before its programs' own priority, as in supervisord:
# groups start by ascending group priority (a program in no group is a group of its own
# priority), the programs of a group by their own; shutdown goes the other way, a level at a
# time.
t_group_priority_orders_starts_and_stops() {
    setup
    write_conf <<EOF
[group:late]
programs=b,a
priority=50
[group:early]
programs=d
priority=5
[program:a]
command=$H/sleeper -r $T/a.ready
priority=1
startsecs=0
[program:b]
command=$H/sleeper -r $T/b.ready
priority=2
startsecs=0
[program:c]
command=$H/sleeper -r $T/c.ready
priority=10
startsecs=0
[program:d]
command=$H/sleeper -r $T/d.ready
priority=900
startsecs=0
EOF
    start_tend
    local n order
    for n in a b c d; do ready_pid "$T/$n.ready" >/dev/null; done
    order=$(sed -nE "s/${TS}(late:|early:)?([a-z]+): spawned pid [0-9]+\$/\\3/p" "$LOG" | tr '\n' ' ')
    expect_eq "$order" "d c a b " "the order of spawns"
    stop_tend
    order=$(sed -nE "s/${TS}(late:|early:)?([a-z]+) \\(pid [0-9]+\\): RUNNING -> STOPPING.*/\\3/p" "$LOG" |
        tr '\n' ' ')
    expect_eq "$order" "b a c d " "the order of stops at shutdown"
}

# RUNNING means "stayed up startsecs": a program that is up and ready is still STARTING until
# startsecs have passed, and its exit before then is a failed start, not an exit.
t_running_only_after_startsecs() {
    setup
    write_conf <<EOF
[program:slow]
command=$H/sleeper -r $T/slow.ready
startsecs=2
[program:early]
command=$H/exitwith -r $T/early.ready -u 0
startsecs=60
startretries=0
EOF
    start_tend
    local slow early started running
    slow=$(ready_pid "$T/slow.ready")
    early=$(ready_pid "$T/early.ready")
    # early is up and has said so, but 60 s have not passed.
    [ "$(count_log "early.*RUNNING")" = 0 ] || fail "early is RUNNING before startsecs=60"
    kill -USR1 "$early"
    wait_log "${TS}early \\(pid $early\\): STARTING -> FATAL: exited during startsecs: exit 0 after"
    [ "$(count_log "early.*RUNNING")" = 0 ] || fail "early was RUNNING at some point"
    expect_eq "$(nspawned early)" 1 "spawns of early (startretries=0)"

    wait_running slow "$slow"
    started=$(line_ms "${TS}slow: STOPPED -> STARTING")
    running=$(line_ms "${TS}slow \\(pid $slow\\): STARTING -> RUNNING")
    # The log's timestamps are taken a little after the events they report (and truncated to
    # the millisecond): allow 50 ms, far less than any whole second a bug would be off by.
    [ $((running - started)) -ge 1950 ] ||
        fail "slow became RUNNING $((running - started)) ms after its start (startsecs=2)"
    is_alive "$slow" || fail "slow is not alive while RUNNING"
    stop_tend
}

# A RUNNING process killed with SIGKILL is restarted at once: a new pid, a log line naming
# the signal and the restart count, and again for the second kill.
t_restart_after_sigkill() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    local p1 p2 p3
    p1=$(ready_pid "$T/a.ready")
    wait_running a "$p1"
    rm "$T/a.ready"
    kill -KILL "$p1"
    wait_log "${TS}a \\(pid $p1\\): RUNNING -> STARTING: exited: signal 9 \\(SIGKILL\\) after [0-9.]+s \\(unexpected\\); restarting \\(restart #1\\)\$"
    p2=$(ready_pid "$T/a.ready")
    [ "$p2" != "$p1" ] || fail "the restarted process has the old pid $p1"
    expect_eq "$(spawned a | tail -n 1)" "$p2" "the pid tend logged for the restart"
    expect_eq "$(pstat "$p2" 4)" "$TEND_PID" "parent of the restarted process"
    [ ! -e "/proc/$p1" ] || fail "the killed process $p1 is still there: $(describe "$p1")"
    wait_running a "$p2"

    rm "$T/a.ready"
    kill -KILL "$p2"
    wait_log "${TS}a \\(pid $p2\\): RUNNING -> STARTING: exited: signal 9 \\(SIGKILL\\) after [0-9.]+s \\(unexpected\\); restarting \\(restart #2\\)\$"
    p3=$(ready_pid "$T/a.ready")
    [ "$p3" != "$p2" ] && [ "$p3" != "$p1" ] || fail "the second restart reused a pid"
    wait_running a "$p3"
    expect_eq "$(nspawned a)" 3 "spawns of a"
    stop_tend
}

# autorestart and exitcodes, as supervisord documents them: the exit of a RUNNING process is
# "expected" when its status is in exitcodes; unexpected restarts only the unexpected, true
# restarts always, false never.
t_autorestart_and_exitcodes() {
    setup
    write_conf <<EOF
[program:u0]
command=$H/exitwith -r $T/u0.ready -u 0
autorestart=unexpected
exitcodes=0
startsecs=0
[program:u2]
command=$H/exitwith -r $T/u2.ready -u 2
autorestart=unexpected
exitcodes=0
startsecs=0
[program:u2ok]
command=$H/exitwith -r $T/u2ok.ready -u 2
autorestart=unexpected
exitcodes=0,2
startsecs=0
[program:t0]
command=$H/exitwith -r $T/t0.ready -u 0
autorestart=true
exitcodes=0
startsecs=0
[program:f2]
command=$H/exitwith -r $T/f2.ready -u 2
autorestart=false
startsecs=0
[program:fsig]
command=$H/exitwith -r $T/fsig.ready -u -s SEGV
autorestart=unexpected
startsecs=0
EOF
    start_tend
    local n pid new
    declare -A first
    for n in u0 u2 u2ok t0 f2 fsig; do
        pid=$(ready_pid "$T/$n.ready")
        wait_running "$n" "$pid"
        first[$n]=$pid
        rm "$T/$n.ready"
        kill -USR1 "$pid"
    done
    # No restart: the exit ends in EXITED, in the same line that reports it.
    wait_log "${TS}u0 \\(pid ${first[u0]}\\): RUNNING -> EXITED: exited: exit 0 after [0-9.]+s \\(expected\\)\$"
    wait_log "${TS}u2ok \\(pid ${first[u2ok]}\\): RUNNING -> EXITED: exited: exit 2 after [0-9.]+s \\(expected\\)\$"
    wait_log "${TS}f2 \\(pid ${first[f2]}\\): RUNNING -> EXITED: exited: exit 2 after [0-9.]+s \\(unexpected\\)\$"
    # Restarts.
    wait_log "${TS}u2 \\(pid ${first[u2]}\\): RUNNING -> STARTING: exited: exit 2 after [0-9.]+s \\(unexpected\\); restarting \\(restart #1\\)\$"
    wait_log "${TS}t0 \\(pid ${first[t0]}\\): RUNNING -> STARTING: exited: exit 0 after [0-9.]+s \\(expected\\); restarting \\(restart #1\\)\$"
    wait_log "${TS}fsig \\(pid ${first[fsig]}\\): RUNNING -> STARTING: exited: signal 11 \\(SIGSEGV\\)[^;]* after [0-9.]+s \\(unexpected\\); restarting \\(restart #1\\)\$"
    for n in u2 t0 fsig; do
        new=$(ready_pid "$T/$n.ready")
        [ "$new" != "${first[$n]}" ] || fail "$n was not restarted with a new pid"
        wait_running "$n" "$new"
        expect_eq "$(nspawned "$n")" 2 "spawns of $n"
    done
    for n in u0 u2ok f2; do
        expect_eq "$(nspawned "$n")" 1 "spawns of $n"
        [ ! -e "$T/$n.ready" ] || fail "$n was started again: $(cat "$T/$n.ready")"
    done
    stop_tend
    # Still nothing more after the shutdown.
    for n in u0 u2ok f2; do expect_eq "$(nspawned "$n")" 1 "spawns of $n at the end"; done
    for n in u2 t0 fsig; do expect_eq "$(nspawned "$n")" 2 "spawns of $n at the end"; done
}

# A program that dies at once backs off (1 s, then 2 s) and, after startretries=2, is FATAL
# with the reason: exactly 3 spawns. It is not retried later (the witness, with a longer
# schedule, goes FATAL after the point where a fourth attempt would have come).
t_backoff_then_fatal() {
    setup
    write_conf <<EOF
[program:b]
command=$H/exitwith 3
startsecs=1
startretries=2
[program:witness]
command=$H/exitwith 4
startsecs=1
startretries=3
EOF
    start_tend
    wait_log "${TS}b \\(pid [0-9]+\\): STARTING -> FATAL: exited during startsecs: exit 3 after [0-9.]+s; giving up: could not stay up for startsecs=1 in 3 tries\$"
    expect_eq "$(count_log "${TS}b \\(pid [0-9]+\\): STARTING -> BACKOFF: exited during startsecs: exit 3 after [0-9.]+s; retry 1 of 2 in 1s\$")" 1 "first backoff of b"
    expect_eq "$(count_log "${TS}b \\(pid [0-9]+\\): STARTING -> BACKOFF: exited during startsecs: exit 3 after [0-9.]+s; retry 2 of 2 in 2s\$")" 1 "second backoff of b"
    expect_eq "$(nspawned b)" 3 "spawns of b"
    # The delays really are 1 s and 2 s (50 ms allowed for when the lines were written).
    local pids p p1 p2 p3 t0 t1
    pids=$(spawned b)
    p1=$(sed -n 1p <<<"$pids") p2=$(sed -n 2p <<<"$pids") p3=$(sed -n 3p <<<"$pids")
    t0=$(line_ms "b \\(pid $p1\\): STARTING -> BACKOFF")
    t1=$(line_ms "b: spawned pid $p2\$")
    [ $((t1 - t0)) -ge 950 ] || fail "second attempt of b came $((t1 - t0)) ms after the first backoff (1 s)"
    t0=$(line_ms "b \\(pid $p2\\): STARTING -> BACKOFF")
    t1=$(line_ms "b: spawned pid $p3\$")
    [ $((t1 - t0)) -ge 1950 ] || fail "third attempt of b came $((t1 - t0)) ms after the second backoff (2 s)"
    for p in $p1 $p2 $p3; do
        [ ! -e "/proc/$p" ] || fail "attempt $p of b was not reaped: $(describe "$p")"
    done

    wait_log "${TS}witness \\(pid [0-9]+\\): STARTING -> FATAL: .*in 4 tries\$" 20
    expect_eq "$(nspawned witness)" 4 "spawns of witness"
    expect_eq "$(nspawned b)" 3 "spawns of b once the witness is FATAL"
    [ -z "$(zombies_of "$TEND_PID")" ] || fail "zombies: $(describe $(zombies_of "$TEND_PID"))"
    stop_tend
    expect_eq "$(nspawned b)" 3 "spawns of b at the end"
}

# A process that ignores SIGTERM is killed with SIGKILL stopwaitsecs after the SIGTERM of a
# shutdown, and tend still exits 0.
t_stop_escalation() {
    setup
    write_conf <<EOF
[program:stubborn]
command=$H/ignoreterm -r $T/i.ready
startsecs=0
stopwaitsecs=1
EOF
    start_tend
    local pid t0 t1
    pid=$(ready_pid "$T/i.ready")
    wait_running stubborn "$pid"
    kill -TERM "$TEND_PID"
    wait_log "${TS}stubborn \\(pid $pid\\): STOPPING -> STOPPED: stopped: signal 9 \\(SIGKILL\\) after"
    "$H/waitfor" -t 10 --gone "$pid" || fail "stubborn ($pid) is still alive"
    tend_exited
    line_no "${TS}stubborn \\(pid $pid\\): RUNNING -> STOPPING: stopping with SIGTERM\$" >/dev/null
    line_no "${TS}stubborn \\(pid $pid\\): still alive 1s after SIGTERM: sending SIGKILL\$" >/dev/null
    t0=$(line_ms "stubborn \\(pid $pid\\): RUNNING -> STOPPING")
    t1=$(line_ms "stubborn \\(pid $pid\\): still alive")
    [ $((t1 - t0)) -ge 950 ] || fail "SIGKILL came $((t1 - t0)) ms after SIGTERM (stopwaitsecs=1)"
}

# stopasgroup=true signals the whole process group: the children of the program (in its
# group) get the stop signal with it. With stopasgroup=false only the leader is signalled; its
# children are then leftovers of a dead main process, stopped after it (and logged as such).
t_stopasgroup_kills_children() {
    setup
    write_conf <<EOF
[program:grp]
command=$H/sleeper -r $T/grp.ready -c 2
startsecs=0
stopasgroup=true
[program:solo]
command=$H/sleeper -r $T/solo.ready -c 2
startsecs=0
stopasgroup=false
EOF
    start_tend
    local gp sp gkids skids k
    gp=$(ready_pid "$T/grp.ready")
    sp=$(ready_pid "$T/solo.ready")
    wait_running grp "$gp"
    wait_running solo "$sp"
    gkids=$(sed -n 's/^child //p' "$T/grp.ready")
    skids=$(sed -n 's/^child //p' "$T/solo.ready")
    expect_eq "$(echo $gkids | wc -w)" 2 "children of grp"
    TRACKED="$gkids $skids"
    for k in $gkids; do expect_eq "$(pstat "$k" 5)" "$gp" "process group of grp's child $k"; done
    for k in $skids; do expect_eq "$(pstat "$k" 5)" "$sp" "process group of solo's child $k"; done
    stop_tend
    line_no "${TS}grp \\(pid $gp\\): RUNNING -> STOPPING: stopping with SIGTERM to its process group\$" >/dev/null
    for k in $gkids; do
        "$H/waitfor" -t 10 --gone "$k" || fail "grp's child $k survived the shutdown: $(describe "$k")"
    done
    # solo's children were not signalled with it: they went as its leftovers.
    line_no "${TS}solo \\(pid $sp\\): RUNNING -> STOPPING: stopping with SIGTERM\$" >/dev/null
    line_no "${TS}killed 2 leftover processes of solo \\(SIGTERM\\)\$" >/dev/null
    for k in $skids; do
        "$H/waitfor" -t 10 --gone "$k" || fail "solo's child $k survived the shutdown: $(describe "$k")"
    done
}

# SIGHUP applies only the difference: an untouched program keeps its process (same pid, no new
# spawn), so does one whose policy only changed; an added one starts, a removed one stops, a
# changed one restarts with the new command.
t_reload_applies_difference() {
    setup
    write_conf <<EOF
[program:keep]
command=$H/sleeper -r $T/keep.ready
startsecs=0
[program:policy]
command=$H/sleeper -r $T/policy.ready
startsecs=0
startretries=3
[program:chg]
command=$H/sleeper -r $T/chg.ready
startsecs=0
[program:gone]
command=$H/sleeper -r $T/gone.ready
startsecs=0
EOF
    start_tend
    local n pid new
    declare -A old
    for n in keep policy chg gone; do
        pid=$(ready_pid "$T/$n.ready")
        wait_running "$n" "$pid"
        old[$n]=$pid
    done
    rm "$T/chg.ready"
    write_conf <<EOF
[program:keep]
command=$H/sleeper -r $T/keep.ready
startsecs=0
[program:policy]
command=$H/sleeper -r $T/policy.ready
startsecs=0
startretries=5
stopwaitsecs=3
priority=5
[program:chg]
command=$H/sleeper -r $T/chg.ready -c 1
startsecs=0
[program:add]
command=$H/sleeper -r $T/add.ready
startsecs=0
EOF
    kill -HUP "$TEND_PID"
    wait_log "${TS}reload: $(realpath "$CONF") applied\$"
    line_no "${TS}reload: removed gone\$" >/dev/null
    line_no "${TS}reload: added add\$" >/dev/null
    line_no "${TS}reload: changed chg\$" >/dev/null
    expect_eq "$(count_log "${TS}reload: (added|removed|changed) ")" 3 "reload report lines"

    pid=$(ready_pid "$T/add.ready")
    wait_running add "$pid"
    expect_eq "$(pstat "$pid" 4)" "$TEND_PID" "parent of the added program"

    "$H/waitfor" -t 10 --gone "${old[gone]}" || fail "the removed program is still running"
    wait_log "${TS}gone \\(pid ${old[gone]}\\): RUNNING -> STOPPING"

    new=$(ready_pid "$T/chg.ready")
    [ "$new" != "${old[chg]}" ] || fail "the changed program kept its pid"
    grep -q '^child ' "$T/chg.ready" || fail "the changed program does not run the new command"
    "$H/waitfor" -t 10 --gone "${old[chg]}" || fail "the old instance of chg is still running"
    wait_running chg "$new"
    expect_eq "$(nspawned chg)" 2 "spawns of chg"

    for n in keep policy; do
        expect_eq "$(spawned "$n")" "${old[$n]}" "pids logged for $n (must not restart)"
        is_alive "${old[$n]}" || fail "$n (${old[$n]}) died in the reload"
        expect_eq "$(pstat "${old[$n]}" 4)" "$TEND_PID" "parent of $n"
    done
    expect_eq "$(count_log "${TS}(keep|policy)( \\(pid [0-9]+\\))?: .*STOPPING")" 0 "stops of keep/policy"
    stop_tend
}

# Moving a program into a [group:] changes its full name: after the reload the log (and later
# `tend status`) must call it GROUP:NAME.
t_reload_group_change_renames() {
    setup
    write_conf <<EOF
[program:solo]
command=$H/sleeper -r $T/solo.ready
startsecs=0
EOF
    start_tend
    local p1 p2
    p1=$(ready_pid "$T/solo.ready")
    wait_running solo "$p1"
    rm "$T/solo.ready"
    write_conf <<EOF
[program:solo]
command=$H/sleeper -r $T/solo.ready
startsecs=0
[group:grp]
programs=solo
EOF
    kill -HUP "$TEND_PID"
    wait_log "${TS}reload: $(realpath "$CONF") applied\$"
    p2=$(ready_pid "$T/solo.ready")
    [ "$p2" != "$p1" ] || fail "solo was not restarted in its new group"
    wait_log "${TS}(grp:)?solo \\(pid $p2\\): STARTING -> RUNNING"
    [ "$(spawned grp:solo)" = "$p2" ] ||
        fail "the restart of solo in group grp is not logged as grp:solo: $(grep -E "solo.*$p2" "$LOG")"
    stop_tend
}

# A config with an error is rejected on SIGHUP: the log says so with FILE:LINE, nothing is
# added, removed or restarted, and tend keeps supervising under the old config (a process
# killed afterwards is restarted). A good config afterwards is applied.
t_reload_broken_config_changes_nothing() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
[program:b]
command=$H/sleeper -r $T/b.ready
startsecs=0
EOF
    start_tend
    local pa pb pa2 pc abs line
    pa=$(ready_pid "$T/a.ready")
    pb=$(ready_pid "$T/b.ready")
    wait_running a "$pa"
    wait_running b "$pb"
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready -c 1
startsecs=abc
[program:c]
command=$H/sleeper -r $T/c.ready
startsecs=0
EOF
    line=$(grep -n '^startsecs=abc$' "$CONF" | cut -d: -f1)
    abs=$(realpath "$CONF")
    kill -HUP "$TEND_PID"
    wait_log "${TS}reload: $abs has errors; nothing changed\$"
    wait_log "${TS}$abs:$line: error: startsecs: 'abc' "
    expect_eq "$(count_log "${TS}reload: (added|removed|changed|.* applied)")" 0 "reload changes"
    expect_eq "$(spawned a)" "$pa" "spawns of a"
    expect_eq "$(spawned b)" "$pb" "spawns of b"
    expect_eq "$(nspawned c)" 0 "spawns of c"
    is_alive "$pa" || fail "a died in the failed reload"
    is_alive "$pb" || fail "b died in the failed reload"

    # Still supervising, with the old config.
    rm "$T/a.ready"
    kill -KILL "$pa"
    pa2=$(ready_pid "$T/a.ready")
    [ "$pa2" != "$pa" ] || fail "a was not restarted"
    wait_running a "$pa2"
    if grep -q '^child ' "$T/a.ready"; then fail "a restarted with the rejected command"; fi

    # A fixed config is applied as usual.
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
[program:c]
command=$H/sleeper -r $T/c.ready
startsecs=0
EOF
    kill -HUP "$TEND_PID"
    wait_log "${TS}reload: $abs applied\$"
    pc=$(ready_pid "$T/c.ready")
    wait_running c "$pc"
    "$H/waitfor" -t 10 --gone "$pb" || fail "b was not stopped by the good reload"
    expect_eq "$(spawned a | tail -n 1)" "$pa2" "a untouched by the good reload"
    stop_tend
}

# numprocs=3 with process_name=%(program_name)s_%(process_num)02d runs x_00, x_01, x_02,
# each logged as x:x_NN, each with its own name in SUPERVISOR_PROCESS_NAME.
t_numprocs_naming() {
    setup
    write_conf <<EOF
[program:x]
command=$H/procinfo $T/%(process_num)02d.info
process_name=%(program_name)s_%(process_num)02d
numprocs=3
startsecs=0
EOF
    start_tend
    local i pid info all=""
    for i in 00 01 02; do
        info=$T/$i.info
        waitfor "$info" '^end$' || fail "x_$i did not start"
        pid=$(sed -n 's/^pid //p' "$info")
        expect_eq "$(spawned "x:x_$i")" "$pid" "pid logged for x:x_$i"
        wait_running "x:x_$i" "$pid"
        grep -qx "env [0-9]* $(printf 'SUPERVISOR_PROCESS_NAME=x_%s' "$i" | od -An -v -tx1 | tr -d ' \n')" "$info" ||
            fail "x_$i has no SUPERVISOR_PROCESS_NAME=x_$i"
        grep -qx "env [0-9]* $(printf 'SUPERVISOR_GROUP_NAME=x' | od -An -v -tx1 | tr -d ' \n')" "$info" ||
            fail "x_$i has no SUPERVISOR_GROUP_NAME=x"
        all="$all $pid"
    done
    expect_eq "$(echo $all | tr ' ' '\n' | sort -u | wc -l)" 3 "distinct pids"
    expect_eq "$(count_log "${TS}[^ ]+: spawned pid ")" 3 "spawns in all"
    stop_tend
}

# user= (tend is root): the process runs with the user's uid, gid and groups, all of real,
# effective, saved and filesystem ids.
t_user_as_root() {
    [ "$(id -u)" = 0 ] || skip "needs root"
    id nobody >/dev/null 2>&1 || skip "no user nobody"
    setup
    write_conf <<EOF
[program:n]
command=$H/sleeper
user=nobody
startsecs=0
EOF
    start_tend
    local pid uid gid groups want
    pid=$(wait_spawn n)
    wait_running n "$pid"
    uid=$(id -u nobody) gid=$(id -g nobody)
    expect_eq "$(proc_status "$pid" Uid | tr -s '\t ' ' ')" "$uid $uid $uid $uid" "Uid of the process"
    expect_eq "$(proc_status "$pid" Gid | tr -s '\t ' ' ')" "$gid $gid $gid $gid" "Gid of the process"
    groups=$(proc_status "$pid" Groups | tr -s ' \t' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')
    want=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')
    expect_eq "$groups" "$want" "supplementary groups of the process"
    expect_eq "$(readlink "/proc/$pid/exe")" "$(readlink -f "$H/sleeper")" "the process runs sleeper"
    stop_tend
}

# Failures of the exec itself are FATAL at once, with the reason and the errno text, and are
# not retried: one start attempt each (one fork at most), one FATAL line, no BACKOFF. The
# witness goes FATAL after 1 s + 2 s of backoff, later than any retry would have come.
t_exec_failures_are_fatal_once() {
    setup
    printf '#!/bin/sh\nexit 0\n' >"$T/noexec.sh"
    chmod 0644 "$T/noexec.sh"
    write_conf <<EOF
[program:missing]
command=/nonexistent/tend-e2e-missing
[program:bare]
command=tend-e2e-no-such-program
[program:noexec]
command=$T/noexec.sh
[program:isdir]
command=$T
[program:baddir]
command=$H/sleeper
directory=$T/no/such/dir
[program:baduser]
command=$H/sleeper
user=tend-e2e-nosuchuser
[program:witness]
command=$H/exitwith 1
startsecs=1
startretries=2
EOF
    start_tend
    wait_log "${TS}missing( \\(pid [0-9]+\\))?: STARTING -> FATAL: cannot execute /nonexistent/tend-e2e-missing: No such file or directory\$"
    wait_log "${TS}bare( \\(pid [0-9]+\\))?: STARTING -> FATAL: cannot execute tend-e2e-no-such-program: No such file or directory\$"
    wait_log "${TS}noexec( \\(pid [0-9]+\\))?: STARTING -> FATAL: cannot execute $T/noexec.sh: Permission denied\$"
    wait_log "${TS}isdir( \\(pid [0-9]+\\))?: STARTING -> FATAL: cannot execute $T: Permission denied\$"
    wait_log "${TS}baddir( \\(pid [0-9]+\\))?: STARTING -> FATAL: cannot change directory to $T/no/such/dir: No such file or directory\$"
    wait_log "${TS}baduser( \\(pid [0-9]+\\))?: STARTING -> FATAL: .*unknown user 'tend-e2e-nosuchuser'"
    wait_log "${TS}witness \\(pid [0-9]+\\): STARTING -> FATAL: " 20
    local n
    for n in missing bare noexec isdir baddir baduser; do
        expect_eq "$(count_log "${TS}$n( \\(pid [0-9]+\\))?: [A-Z]+ -> STARTING")" 1 "start attempts of $n"
        expect_eq "$(count_log "${TS}$n( \\(pid [0-9]+\\))?: [A-Z]+ -> FATAL")" 1 "FATAL lines of $n"
        expect_eq "$(count_log "${TS}$n( \\(pid [0-9]+\\))?: .*BACKOFF")" 0 "BACKOFF lines of $n"
        [ "$(nspawned "$n")" -le 1 ] || fail "$n was forked $(nspawned "$n") times"
    done
    for n in missing noexec isdir baddir; do
        expect_eq "$(nspawned "$n")" 1 "forks of $n"
        [ ! -e "/proc/$(spawned "$n")" ] || fail "the failed child of $n is still there: $(describe "$(spawned "$n")")"
    done
    [ -z "$(zombies_of "$TEND_PID")" ] || fail "zombies: $(describe $(zombies_of "$TEND_PID"))"
    stop_tend
}

# tend is a subreaper: a program that double-forks leaves its daemon (the grandchild) to tend
# (stopleftovers=false lets it live on after the program's exit, as under supervisord), and
# when that one exits tend reaps it too. At no point is a zombie child of tend left.
t_no_zombie_after_doublefork() {
    setup
    write_conf loglevel=debug <<EOF
[program:df]
command=$H/doublefork -p $T/df.pid
startsecs=0
autorestart=false
stopleftovers=false
EOF
    start_tend
    local pid gc
    pid=$(wait_spawn df)
    wait_log "${TS}df \\(pid $pid\\): RUNNING -> EXITED: exited: exit 0 after [0-9.]+s \\(expected\\)\$"
    waitfor "$T/df.pid" '^[0-9]+$' || fail "doublefork wrote no pidfile"
    gc=$(cat "$T/df.pid")
    TRACKED=$gc
    is_alive "$gc" || fail "the daemonized grandchild $gc is not running"
    expect_eq "$(pstat "$gc" 4)" "$TEND_PID" "parent of the grandchild (tend is a subreaper)"
    [ ! -e "/proc/$pid" ] || fail "the program's own process $pid was not reaped"
    [ -z "$(zombies_of "$TEND_PID")" ] || fail "zombies: $(describe $(zombies_of "$TEND_PID"))"

    kill -TERM "$gc"
    "$H/waitfor" -t 10 --gone "$gc" || fail "the grandchild did not exit"
    wait_log "${TS}reaped orphan pid $gc\$"
    [ -z "$(zombies_of "$TEND_PID")" ] || fail "zombies: $(describe $(zombies_of "$TEND_PID"))"
    if [ -e "/proc/$gc" ] && [ "$(pstat "$gc" 4)" = "$TEND_PID" ]; then
        fail "the grandchild is still tend's child: $(describe "$gc")"
    fi
    stop_tend
}

# Services inherit nothing of tend's: exactly fds 0, 1 and 2, whether or not their output
# goes to a file, even though tend itself was given an extra descriptor and had report pipes
# of other services open at the time. Nor tend's signal mask or ignored signals (SIGPIPE).
# A foreground tend keeps its stdio but not that extra descriptor, in the keeper or the
# supervisor.
t_children_get_no_fds() {
    setup
    write_conf <<EOF
[program:s]
command=$H/sleeper
process_name=s%(process_num)d
numprocs=4
priority=1
startsecs=0
[program:plain]
command=$H/procinfo $T/plain.info
priority=2
startsecs=0
[program:logged]
command=$H/procinfo $T/logged.info
stdout_logfile=$T/logged.out
redirect_stderr=true
priority=2
startsecs=0
EOF
    exec 7>"$T/leak"   # not close-on-exec: tend inherits it, its children must not
    start_tend
    exec 7>&-
    local n info pid f
    for pid in "$KEEPER_PID" "$TEND_PID"; do
        for f in /proc/$pid/fd/*; do
            [ "$(readlink "$f")" != "$T/leak" ] || fail "tend ($pid) kept the caller's fd ${f##*/}"
        done
    done
    for n in plain logged; do
        info=$T/$n.info
        waitfor "$info" '^end$' || fail "$n did not start"
        expect_eq "$(sed -n 's/^fds //p;s/^fds$//p' "$info")" "0 1 2" "descriptors of $n"
        expect_eq "$(sed -n 's/^fd 0 //p' "$info")" /dev/null "stdin of $n"
        expect_eq "$(sed -n 's/^sigblk //p' "$info")" 0000000000000000 "blocked signals of $n"
        expect_eq "$(sed -n 's/^sigign //p' "$info")" 0000000000000000 "ignored signals of $n"
        expect_eq "$(sed -n 's/^ppid //p' "$info")" "$TEND_PID" "parent of $n"
        expect_eq "$(sed -n 's/^pgrp_leader //p' "$info")" 1 "$n leads its own process group"
    done
    stop_tend
}

# SIGTERM stops everything by descending priority, one level at a time (a level starts
# stopping only once the level above has stopped), restarts nothing while shutting down, and
# tend exits 0 with "tend exiting" as its last line.
t_sigterm_stops_everything() {
    setup
    write_conf <<EOF
[program:low]
command=$H/sleeper -r $T/low.ready
priority=1
startsecs=0
[program:mid]
command=$H/ignoreterm -r $T/mid.ready
priority=5
startsecs=0
stopwaitsecs=1
[program:high1]
command=$H/sleeper -r $T/high1.ready -c 1
priority=10
startsecs=0
[program:high2]
command=$H/sleeper -r $T/high2.ready
priority=10
startsecs=0
[program:crash]
command=$H/exitwith 1
priority=7
startsecs=1
startretries=100
EOF
    start_tend
    local n pid kid
    declare -A p
    for n in low mid high1 high2; do
        pid=$(ready_pid "$T/$n.ready")
        wait_running "$n" "$pid"
        p[$n]=$pid
    done
    kid=$(sed -n 's/^child //p' "$T/high1.ready")
    wait_log "${TS}crash \\(pid [0-9]+\\): STARTING -> BACKOFF"
    stop_tend TERM
    for n in low mid high1 high2; do
        "$H/waitfor" -t 10 --gone "${p[$n]}" || fail "$n (${p[$n]}) survived the shutdown"
    done
    line_no "${TS}every program is stopped\$" >/dev/null
    # Order: high1/high2, then mid (which needs its SIGKILL), then low.
    local h1s h2s h1d h2d ms md ls
    h1s=$(line_no "${TS}high1 \\(pid ${p[high1]}\\): RUNNING -> STOPPING")
    h2s=$(line_no "${TS}high2 \\(pid ${p[high2]}\\): RUNNING -> STOPPING")
    h1d=$(line_no "${TS}high1 \\(pid ${p[high1]}\\): STOPPING -> STOPPED")
    h2d=$(line_no "${TS}high2 \\(pid ${p[high2]}\\): STOPPING -> STOPPED")
    ms=$(line_no "${TS}mid \\(pid ${p[mid]}\\): RUNNING -> STOPPING")
    md=$(line_no "${TS}mid \\(pid ${p[mid]}\\): STOPPING -> STOPPED: stopped: signal 9")
    ls=$(line_no "${TS}low \\(pid ${p[low]}\\): RUNNING -> STOPPING")
    [ "$h1s" -lt "$h1d" ] && [ "$h2s" -lt "$h2d" ] || fail "a STOPPED line before its STOPPING"
    [ "$ms" -gt "$h1d" ] && [ "$ms" -gt "$h2d" ] ||
        fail "mid (priority 5) began stopping before priority 10 had stopped"
    [ "$ls" -gt "$md" ] || fail "low (priority 1) began stopping before mid had stopped"
    # Nothing was started after the shutdown began.
    local sd
    sd=$(line_no "${TS}shutting down")
    if sed -n "$sd,\$p" "$LOG" | grep -Eq ": spawned pid |-> STARTING"; then
        fail "a program was started during the shutdown:"$'\n'"$(sed -n "$sd,\$p" "$LOG")"
    fi
    # high1's child was not signalled with it (no stopasgroup), yet nothing outlives the
    # shutdown: it went as a leftover of high1.
    TRACKED=$kid
    "$H/waitfor" -t 10 --gone "$kid" || fail "high1's child $kid survived the shutdown"
    line_no "${TS}killed 1 leftover process of high1 \\(SIGTERM\\)\$" >/dev/null
}

# SIGINT is a shutdown too.
t_sigint_stops_everything() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    local pid
    pid=$(ready_pid "$T/a.ready")
    wait_running a "$pid"
    stop_tend INT
    "$H/waitfor" -t 10 --gone "$pid" || fail "a survived SIGINT to tend"
    line_no "${TS}received SIGINT\$" >/dev/null
}

# `tend daemon` without -n: returns 0 only once the supervisor is up (its pidfile written, its
# log started), in a new session that it does not lead; a second daemon with the same pidfile
# is refused; SIGTERM to the pid in the pidfile stops it and its services, and removes the
# pidfile.
t_daemon_mode() {
    setup
    write_conf pidfile="$T/tend.pid" <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    local rc=0 pid svc n sup
    "$TEND" daemon -c "$CONF" >"$T/d.out" 2>"$T/d.err" </dev/null || rc=$?
    expect_eq "$rc" 0 "status of tend daemon; stderr: $(cat "$T/d.err")"
    [ -s "$T/tend.pid" ] || fail "tend daemon returned before writing its pidfile"
    pid=$(cat "$T/tend.pid")
    # The pidfile names the keeper (the process tend daemon became: tend-keeper when it is
    # installed beside tend, as in the normal build, else tend); the supervisor is its child.
    line_no "${TS}tend .* started as pid [0-9]+ \\(keeper $pid\\)" >/dev/null
    sup=$(sed -n "s/.* started as pid \([0-9]*\) (keeper $pid).*/\1/p" "$LOG")
    expect_eq "$(pstat "$sup" 4)" "$pid" "parent of the supervisor"
    is_alive "$pid" || fail "the pidfile names $pid, which is not running"
    local keeper_bin
    keeper_bin="$(dirname "$(readlink -f "$TEND")")/tend-keeper"
    [ -x "$keeper_bin" ] || keeper_bin=$(readlink -f "$TEND")
    expect_eq "$(readlink "/proc/$pid/exe")" "$keeper_bin" "the pidfile's process"
    expect_eq "$(readlink "/proc/$sup/exe")" "$(readlink -f "$TEND")" "the supervisor's binary"
    expect_eq "$(pstat "$pid" 4)" "$SUBREAPER" "parent of the daemon (it double-forked)"
    [ "$(pstat "$pid" 6)" != "$pid" ] || fail "the daemon is a session leader"
    [ "$(pstat "$pid" 6)" != "$(pstat "$$" 6)" ] || fail "the daemon stayed in the caller's session"
    svc=$(ready_pid "$T/a.ready")
    expect_eq "$(pstat "$svc" 4)" "$sup" "parent of the service"

    # A second supervisor with the same pidfile is refused, and changes nothing.
    rc=0
    "$TEND" daemon -c "$CONF" >"$T/d2.out" 2>"$T/d2.err" </dev/null || rc=$?
    [ "$rc" != 0 ] || fail "a second tend daemon with the same pidfile was accepted"
    expect_file_match "$T/d2.err" "already running as pid $pid"
    rc=0
    "$TEND" daemon -n -c "$CONF" >"$T/d3.out" 2>"$T/d3.err" </dev/null || rc=$?
    [ "$rc" != 0 ] || fail "a second tend daemon -n with the same pidfile was accepted"
    expect_file_match "$T/d3.err" "already running as pid $pid"
    expect_eq "$(cat "$T/tend.pid")" "$pid" "the pidfile after the refused starts"
    is_alive "$pid" || fail "the first daemon died"
    n=$(leftovers | grep -vx "$pid" || true)
    [ -z "$n" ] || fail "the refused starts left processes: $(describe $n)"
    expect_eq "$(count_log "started as pid")" 1 "supervisors started"
    is_alive "$svc" || fail "the service died"

    kill -TERM "$pid"
    "$H/waitfor" -t 20 --gone "$pid" || fail "the daemon did not exit on SIGTERM"
    "$H/waitfor" -t 10 --gone "$svc" || fail "the service survived the daemon"
    [ ! -e "$T/tend.pid" ] || fail "the pidfile is still there after the daemon exited"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "the last line of the log"
    check_sanitizers
}

# A reload replaces the config in force; when the daemon exits afterwards it must still
# remove the pidfile it wrote (and touch no freed memory doing so).
t_daemon_reload_then_stop() {
    setup
    write_conf pidfile="$T/tend.pid" <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    local rc=0 pid svc
    "$TEND" daemon -c "$CONF" >"$T/d.out" 2>"$T/d.err" </dev/null || rc=$?
    expect_eq "$rc" 0 "status of tend daemon; stderr: $(cat "$T/d.err")"
    [ -s "$T/tend.pid" ] || fail "tend daemon returned before writing its pidfile"
    pid=$(cat "$T/tend.pid")
    svc=$(ready_pid "$T/a.ready")
    kill -HUP "$pid"
    wait_log "${TS}reload: $(realpath "$CONF") applied\$"
    is_alive "$svc" || fail "the service died in a reload that changed nothing"
    kill -TERM "$pid"
    "$H/waitfor" -t 20 --gone "$pid" || fail "the daemon did not exit on SIGTERM"
    check_sanitizers
    [ ! -e "$T/tend.pid" ] || fail "the pidfile is still there after the daemon exited"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "the last line of the log"
}

# The daemon lets go of its caller: launched from a terminal (inpty) with an extra inheritable
# descriptor, it has no controlling terminal, its stdin/stdout/stderr are not the caller's
# (else `out=$(tend daemon)` or an ssh session would hang until the daemon exits), and it
# does not keep the caller's other descriptors.
t_daemon_lets_go_of_caller() {
    setup
    write_conf pidfile="$T/tend.pid" <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    local rc=0 pid f target
    exec 7>"$T/leak"
    "$H/inpty" "$TEND" daemon -c "$CONF" >"$T/d.out" 2>"$T/d.err" </dev/null || rc=$?
    exec 7>&-
    expect_eq "$rc" 0 "status of tend daemon on a terminal; output: $(cat "$T/d.out" "$T/d.err")"
    [ -s "$T/tend.pid" ] || fail "tend daemon returned before writing its pidfile"
    pid=$(cat "$T/tend.pid")
    TRACKED=$pid
    expect_eq "$(pstat "$pid" 7)" 0 "the daemon's controlling terminal (tty_nr)"
    for f in 0 1 2; do
        target=$(readlink "/proc/$pid/fd/$f" || true)
        case $target in
        /dev/null | "$LOG") ;;
        *) fail "the daemon's fd $f is '$target', not /dev/null (it keeps the caller's stdio)" ;;
        esac
    done
    for f in /proc/$pid/fd/*; do
        [ "$(readlink "$f")" != "$T/leak" ] || fail "the daemon kept the caller's fd ${f##*/}"
    done
    kill -TERM "$pid"
    "$H/waitfor" -t 20 --gone "$pid" || fail "the daemon did not exit on SIGTERM"
}

# Relative pidfile= and logfile= in daemon mode name files where the config is (and where
# the caller is: both are $T here), not under / after the daemon's chdir.
t_daemon_relative_paths() {
    setup
    local rel="tend-e2e-$$-rel" rc=0 pid f stray=""
    cat >"$CONF" <<EOF
[tend]
logfile=$rel.log
pidfile=$rel.pid
childlogdir=$T/logs
socket=$T/tend.sock
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    "$TEND" daemon -c tend.conf >"$T/d.out" 2>"$T/d.err" </dev/null || rc=$?
    for f in "/$rel.log" "/$rel.pid" "/$rel.pid.new"; do
        [ ! -e "$f" ] || stray="$stray $f"
    done
    if [ -n "$stray" ]; then
        rm -f $stray   # created by this case under a unique name
        fail "relative paths were resolved against / ($stray created); status $rc; stderr: $(cat "$T/d.err")"
    fi
    expect_eq "$rc" 0 "status of tend daemon with relative paths; stderr: $(cat "$T/d.err")"
    [ -s "$T/$rel.pid" ] || fail "no pidfile $T/$rel.pid"
    pid=$(cat "$T/$rel.pid")
    [ ! -e "$T/$rel.pid.new" ] || fail "a temporary pidfile was left behind"
    LOG=$T/$rel.log
    line_no "${TS}tend .* started as pid [0-9]+ \\(keeper $pid\\)" >/dev/null
    kill -TERM "$pid"
    "$H/waitfor" -t 20 --gone "$pid" || fail "the daemon did not exit on SIGTERM"
    [ ! -e "$T/$rel.pid" ] || fail "the pidfile is still there after the daemon exited"
}

# A missing config, or one with errors, is refused before anything starts: non-zero status,
# every error as FILE:LINE, no process, no pidfile, no log.
t_daemon_bad_config_starts_nothing() {
    setup
    local rc=0 bad=$T/bad.conf l1 l2 left mode p
    "$TEND" daemon -c "$T/nope.conf" >"$T/m.out" 2>"$T/m.err" </dev/null || rc=$?
    [ "$rc" != 0 ] || fail "tend daemon with a missing config exited 0"
    expect_file_match "$T/m.err" "$T/nope.conf.*No such file or directory"

    cat >"$bad" <<EOF
[tend]
logfile=$T/bad.log
pidfile=$T/bad.pid
socket=$T/tend.sock
[program:a]
command=$H/exitwith -r $T/started 0
startsecs=abc
stopwaitsecs=x3
EOF
    l1=$(grep -n '^startsecs=abc$' "$bad" | cut -d: -f1)
    l2=$(grep -n '^stopwaitsecs=x3$' "$bad" | cut -d: -f1)
    for mode in "" -n; do
        rc=0
        "$TEND" daemon $mode -c "$bad" >"$T/b.out" 2>"$T/b.err" </dev/null || rc=$?
        [ "$rc" != 0 ] || fail "tend daemon $mode with config errors exited 0"
        expect_file_match "$T/b.err" "^$bad:$l1: error: startsecs: 'abc'"
        expect_file_match "$T/b.err" "^$bad:$l2: error: stopwaitsecs: 'x3'"
        [ ! -e "$T/started" ] || fail "a program was started from a config with errors"
        [ ! -e "$T/bad.pid" ] && [ ! -e "$T/bad.pid.new" ] || fail "a pidfile was written"
        [ ! -e "$T/bad.log" ] || fail "a log was started: $(cat "$T/bad.log")"
        [ ! -e "$T/tend.sock" ] || fail "a control socket was created"
        left=$(leftovers)
        [ -z "$left" ] || fail "left running: $(describe $left)"
    done

    # A log in a missing directory is found before anything starts (as tend check finds it).
    cat >"$bad" <<EOF
[tend]
logfile=$T/no/such/dir/tend.log
pidfile=$T/bad.pid
socket=$T/tend.sock
[program:a]
command=$H/exitwith -r $T/started 0
EOF
    rc=0
    "$TEND" daemon -c "$bad" >"$T/b.out" 2>"$T/b.err" </dev/null || rc=$?
    [ "$rc" != 0 ] || fail "tend daemon with a log in a missing directory exited 0"
    expect_file_match "$T/b.err" "$T/no/such/dir/tend.log: No such file or directory"
    [ ! -e "$T/bad.pid" ] || fail "a pidfile was written"

    # An error found after the fork (the log cannot be opened: it is a directory) still
    # reaches the caller.
    mkdir "$T/logdir"
    cat >"$bad" <<EOF
[tend]
logfile=$T/logdir
pidfile=$T/bad.pid
socket=$T/tend.sock
[program:a]
command=$H/exitwith -r $T/started 0
EOF
    rc=0
    "$TEND" daemon -c "$bad" >"$T/b.out" 2>"$T/b.err" </dev/null || rc=$?
    [ "$rc" != 0 ] || fail "tend daemon with an unopenable log exited 0"
    expect_file_match "$T/b.err" "$T/logdir: Is a directory"
    # The failed daemon may still be finishing its exit when the caller returns: wait for it.
    for p in $(leftovers); do
        "$H/waitfor" -t 10 --gone "$p" || fail "the failed daemon stays: $(describe "$p")"
    done
    [ ! -e "$T/started" ] || fail "a program was started although the log could not be opened"
    [ ! -e "$T/bad.pid" ] && [ ! -e "$T/bad.pid.new" ] || fail "a pidfile was left: $(ls "$T")"
    check_sanitizers
}

run_tests
