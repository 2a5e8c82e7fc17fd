#!/usr/bin/env bash
# End-to-end tests of where captured output lands (issue 14): AUTO files in a directory of
# each supervisor's own under childlogdir (two supervisors with a program `web` never share
# a file), created at the first line only (no empty stderr file), cleaned at start-up as
# supervisord does unless nocleanup=true; and tend's own log rotated by logfile_maxbytes
# with logfile_backups kept.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

# The AUTO files of program NAME under $T/logs (any instance directory), one per line.
auto_files() { find "$T/logs" -type f -name "$1-*.log*" | sort; }

# ---------------------------------------------------------------------------------------------

# Two supervisors, one childlogdir, a program `web` in each: two files, each with its own line.
t_two_supervisors_own_auto_files() {
    setup
    local n pids=""
    mkdir "$T/one" "$T/two"
    for n in one two; do
        cat >"$T/$n/tend.conf" <<EOF
[tend]
logfile=$T/$n/tend.log
childlogdir=$T/logs
socket=$T/$n/tend.sock
pidfile=$T/$n/tend.pid
[program:web]
command=/bin/sh -c 'echo from-$n; exec $H/sleeper'
startsecs=0
EOF
        "$TEND" daemon -c "$T/$n/tend.conf" >"$T/d.out" 2>&1 || { cat "$T/d.out"; fail "$n"; }
        waitfor "$T/$n/tend.pid" '^[0-9]+' >/dev/null || fail "no pidfile for $n"
        pids="$pids $(cat "$T/$n/tend.pid")"
    done
    TRACKED="$TRACKED $pids"
    local one two
    one=$("$TEND" -c "$T/one/tend.conf" logs web)
    two=$("$TEND" -c "$T/two/tend.conf" logs web)
    expect_eq "$one" from-one "web's log in the first supervisor"
    expect_eq "$two" from-two "web's log in the second supervisor"
    expect_eq "$(auto_files web | grep -c stdout)" 2 "stdout files (one each): $(auto_files web)"
    for n in one two; do "$TEND" -c "$T/$n/tend.conf" shutdown >/dev/null; done
    for n in $pids; do "$H/waitfor" -t 30 --gone "$n" || fail "tend $n did not exit"; done
}

# A program that writes only to stdout gets no stderr file; the stderr file appears with its
# first line, and `tend logs -f --stderr` follows it from before it exists.
t_auto_files_created_on_first_line() {
    setup
    write_conf <<EOF
[program:quiet]
command=/bin/sh -c 'echo out-line; read x < $T/go; echo late-err >&2; exec $H/sleeper'
startsecs=0
EOF
    mkfifo "$T/go"
    start_tend
    local dir
    dir=$(find "$T/logs" -mindepth 1 -maxdepth 1 -type d)   # made at start, files are not
    [ -n "$dir" ] || fail "no instance directory in $T/logs"
    waitfor "$dir/quiet-stdout.log" '^out-line$' >/dev/null || fail "no stdout line"
    [ ! -e "$dir/quiet-stderr.log" ] || fail "an empty stderr file: $(ls -l "$dir")"
    # `tend logs` first drains the pipe into the file: with nothing in it, no file either.
    tendctl logs --stderr quiet >"$T/logs.out" 2>&1 || { cat "$T/logs.out"; fail "logs"; }
    [ ! -e "$dir/quiet-stderr.log" ] || fail "tend logs made an empty stderr file: $(ls -l "$dir")"
    # Following a log that does not exist yet: nothing, then its lines as they come (the
    # default -n 10 also covers a follower that connects after the line was written).
    tendctl logs -f --stderr quiet >"$T/follow.out" 2>&1 &
    local cpid=$!
    TRACKED="$TRACKED $cpid"
    echo go >"$T/go"
    waitfor "$T/follow.out" '^late-err$' 15 >/dev/null || { cat "$T/follow.out"; fail "not followed"; }
    kill "$cpid"
    [ -n "$(auto_files quiet | grep stderr)" ] || fail "no stderr file after a stderr line"
    stop_tend
}

# supervisord's start-up cleanup: the AUTO files of the previous run are removed, unless
# nocleanup=true.
t_auto_cleanup_at_startup() {
    setup
    write_conf <<EOF
[program:web]
command=/bin/sh -c 'echo run-\$\$; exec $H/sleeper'
startsecs=0
EOF
    start_tend
    local first
    first=$(tendctl logs web)
    expect_match "$first" '^run-[0-9]+$' "first run's line"
    stop_tend
    start_tend
    waitfor "$(auto_files web | head -n 1)" '^run-' >/dev/null
    local second
    second=$(tendctl logs -n 100 web)
    expect_match "$second" '^run-[0-9]+$' "only the second run's line (got: $second)"
    [ "$second" != "$first" ] || fail "the first run's line is still there"
    expect_file_match "$LOG" "removed 1 AUTO log file of a previous run"
    stop_tend
    write_conf "nocleanup=true" <<EOF
[program:web]
command=/bin/sh -c 'echo run-\$\$; exec $H/sleeper'
startsecs=0
EOF
    start_tend
    wait_log 'web \(pid [0-9]+\): STARTING -> RUNNING'
    local third
    third=$(tendctl logs -n 100 web)
    expect_match "$third" "$(re "$second")" "nocleanup=true keeps the previous run's lines"
    stop_tend
}

# tend's own log: rotated before it passes logfile_maxbytes, logfile_backups kept.
t_own_log_rotation() {
    setup
    write_conf "logfile_maxbytes=2KB" "logfile_backups=2" <<EOF
[program:a]
command=$H/sleeper
startsecs=0
EOF
    start_tend
    local i
    for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
        tendctl restart a >/dev/null || fail "restart $i"
    done
    [ -f "$LOG.1" ] || fail "no $LOG.1 after many lines"
    [ -f "$LOG.2" ] || fail "no $LOG.2"
    [ ! -e "$LOG.3" ] || fail "more backups than logfile_backups"
    for f in "$LOG" "$LOG.1" "$LOG.2"; do
        [ "$(stat -c %s "$f")" -le 2048 ] || fail "$f is larger than logfile_maxbytes"
    done
    stop_tend
}

# A program whose output goes nowhere has no capture in tend; a reload that gives it a log
# file makes one (the changed program restarts, and its output is captured), and a reload
# back to NONE stops capturing.
t_none_then_captured_after_reload() {
    setup
    local conf="[program:late]
command=sh -c 'echo line; exec $H/sleeper'
startsecs=0"
    printf '%s\nstdout_logfile=NONE\nstderr_logfile=NONE\n' "$conf" | write_conf
    start_tend
    wait_log "${TS}late \\(pid [0-9]+\\): STARTING -> RUNNING"
    # No pipe: only the pidfd a restarted supervisor would pin its process with.
    expect_file_match "$LOG" "descriptors: the programs need up to 1,"
    printf '%s\nstdout_logfile=%s\nstderr_logfile=NONE\n' "$conf" "$T/late.log" | write_conf
    tendctl reload >/dev/null || fail "reload"
    "$H/waitfor" -t 15 "$T/late.log" '^line$' >/dev/null || fail "no line in late.log"
    printf '%s\nstdout_logfile=NONE\nstderr_logfile=NONE\n' "$conf" | write_conf
    tendctl reload >/dev/null || fail "reload back"
    tendctl restart late >/dev/null || fail "restart"
    local pid
    pid=$(tendctl pid late)
    wait_log "${TS}late \\(pid $pid\\): STARTING -> RUNNING"
    tendctl stop late >/dev/null || fail "stop"
    expect_eq "$(grep -c '^line$' "$T/late.log")" 1 "lines in late.log"
    stop_tend
}

run_tests
