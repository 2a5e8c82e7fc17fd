#!/usr/bin/env bash
# End-to-end tests of supervisorctl habits that must work with tend (issue 14): the GROUP:
# spelling, start/stop all in priority order, logs of several processes, version and -V,
# "did you mean", check FILE, usage errors naming the argument at fault, stop reporting a
# SIGKILL, health "starting", reload reporting policy-only changes, --json on every reading
# command, and state colours on a terminal only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

# The number of the first line of tend's log matching ERE (fails when there is none).
log_line_no() {
    local n
    n=$(grep -nE -- "$1" "$LOG" | head -n 1 | cut -d: -f1)
    [ -n "$n" ] || fail "no line /$1/ in tend's log"
    echo "$n"
}
before() {   # ERE1 ERE2: the first line matching ERE1 comes before the first matching ERE2
    local a b
    a=$(log_line_no "$1")
    b=$(log_line_no "$2")
    [ "$a" -lt "$b" ] || fail "/$1/ (line $a) is not before /$2/ (line $b)"
}
json_get() {   # PYTHON-EXPRESSION on the JSON document `d` read from stdin
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# ---------------------------------------------------------------------------------------------

# supervisorctl writes a whole group as "web:"; tend takes it like "web:*".
t_group_colon_spelling() {
    setup
    write_conf <<EOF
[group:web]
programs=a,b
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
[program:b]
command=$H/sleeper -r $T/b.ready
startsecs=0
[program:other]
command=$H/sleeper
startsecs=0
EOF
    start_tend
    waitfor "$T/a.ready" ^ready >/dev/null && waitfor "$T/b.ready" ^ready >/dev/null
    local out
    out=$(tendctl stop web: 2>&1) || fail "stop web: failed: $out"
    expect_eq "$(st web:a state)" STOPPED "web:a"
    expect_eq "$(st web:b state)" STOPPED "web:b"
    out=$(tendctl status web: 2>&1) || true
    expect_match "$out" "web:a +STOPPED" "status web:"
    tendctl start web: >/dev/null || fail "start web:"
    expect_eq "$(st web:a state)" RUNNING "web:a after start web:"
    stop_tend
}

# stop all goes by descending priority, each level stopped before the next is asked; start
# all by ascending priority, each level RUNNING before the next starts.
t_all_in_priority_order() {
    setup
    write_conf <<EOF
[program:p1]
command=$H/sleeper
priority=1
startsecs=1
[program:p2]
command=$H/sleeper
priority=2
startsecs=1
[program:p3]
command=$H/sleeper
priority=3
startsecs=1
EOF
    start_tend
    tendctl start all >/dev/null || fail "start all (autostart)"
    : >"$LOG"
    tendctl stop all >"$T/stop.out" || fail "stop all"
    before 'p3 \(pid [0-9]+\): STOPPING -> STOPPED' 'p2 \(pid [0-9]+\): RUNNING -> STOPPING'
    before 'p2 \(pid [0-9]+\): STOPPING -> STOPPED' 'p1 \(pid [0-9]+\): RUNNING -> STOPPING'
    expect_eq "$(head -n 1 "$T/stop.out")" "p3: stopped" "first stop reported"
    : >"$LOG"
    tendctl start all >"$T/start.out" || fail "start all"
    before 'p1 \(pid [0-9]+\): STARTING -> RUNNING' 'p2: STOPPED -> STARTING'
    before 'p2 \(pid [0-9]+\): STARTING -> RUNNING' 'p3: STOPPED -> STARTING'
    expect_eq "$(head -n 1 "$T/start.out")" "p1: started" "first start reported"
    stop_tend
}

# tend logs with several names, a group or all: every line after its process's name; with
# -f the processes' lines interleave as they are written.
t_logs_several_processes() {
    setup
    write_conf <<EOF
[group:g]
programs=a,b
[program:a]
command=/bin/sh -c 'echo hello-a; i=0; while :; do i=\$((i+1)); echo a-\$i; sleep 0.1; done'
stdout_logfile=$T/a.log
startsecs=0
[program:b]
command=/bin/sh -c 'echo hello-b; i=0; while :; do i=\$((i+1)); echo b-\$i; sleep 0.1; done'
stdout_logfile=$T/b.log
startsecs=0
EOF
    start_tend
    waitfor "$T/a.log" a-2 >/dev/null && waitfor "$T/b.log" b-2 >/dev/null
    local out
    out=$(tendctl logs -n 1000 g:a g:b) || fail "logs g:a g:b"
    expect_match "$out" '^g:a \| hello-a$' "a's first line, prefixed"
    expect_match "$out" '^g:b \| hello-b$' "b's first line, prefixed"
    out=$(tendctl logs -n 1000 all) || fail "logs all"
    expect_match "$out" '^g:b \| hello-b$' "logs all"
    out=$(tendctl logs -n 1000 g:) || fail "logs g:"
    expect_match "$out" '^g:a \| hello-a$' "logs g:"
    # One process by its name: its log as it is, unprefixed (as before).
    out=$(tendctl logs -n 1000 g:a) || fail "logs g:a"
    expect_match "$out" '^hello-a$' "one process: no prefix"
    # -f: both streams come through the same output, interleaved.
    tendctl logs -n 0 -f g: >"$T/follow.out" 2>&1 &
    local cpid=$!
    TRACKED="$TRACKED $cpid"
    waitfor "$T/follow.out" '^g:a \| a-[0-9]+$' >/dev/null || fail "no a line followed"
    waitfor "$T/follow.out" '^g:b \| b-[0-9]+$' >/dev/null || fail "no b line followed"
    # a keeps writing: its next line comes after that b line in the same output.
    local next_a
    next_a=$(( $(sed -n 's/^g:a | a-\([0-9]*\)$/\1/p' "$T/follow.out" | tail -n 1) + 1 ))
    waitfor "$T/follow.out" "^g:a \\| a-$next_a\$" >/dev/null || fail "a not followed after b"
    kill "$cpid"
    wait "$cpid" 2>/dev/null || true
    local first_b last_a
    first_b=$(grep -n '^g:b' "$T/follow.out" | head -n 1 | cut -d: -f1)
    last_a=$(grep -n '^g:a' "$T/follow.out" | tail -n 1 | cut -d: -f1)
    [ "$first_b" -lt "$last_a" ] || { cat "$T/follow.out"; fail "not interleaved"; }
    stop_tend
}

# tend version and -V: the client's and the supervisor's versions; --json too.
t_version_client_and_supervisor() {
    setup
    write_conf </dev/null
    start_tend
    local out v
    v=$("$TEND" --version | sed 's/^tend //')
    out=$(tendctl version) || fail "version"
    expect_eq "$out" "client: tend $v"$'\n'"supervisor: tend $v" "tend version"
    out=$("$TEND" -V -s "$T/tend.sock") || fail "-V"
    expect_match "$out" "^supervisor: tend $v" "-V"
    out=$(tendctl version --json)
    expect_eq "$(json_get 'd["client"], d["supervisor"]' <<<"$out")" "('$v', '$v')" "version --json"
    stop_tend
    out=$(tendctl version --json 2>/dev/null) || true
    expect_eq "$(json_get 'd["supervisor"]' <<<"$out")" None "version --json with no supervisor"
}

# An unknown command gets "did you mean"; supervisorctl's words that tend spells otherwise
# are pointed at; the usage error names the argument actually at fault.
t_usage_errors() {
    setup
    local out rc=0
    out=$("$TEND" stauts 2>&1) || rc=$?
    expect_eq "$rc" 2 "exit status"
    expect_match "$out" "unknown command 'stauts'; did you mean 'status'\?" "typo"
    out=$("$TEND" tail web 2>&1) || true
    expect_match "$out" "did you mean 'logs'\?" "tail"
    out=$("$TEND" -s "$T/x.sock" restrat web 2>&1) || true
    expect_match "$out" "did you mean 'restart'\?" "after -s"
    out=$("$TEND" check a.conf b.conf 2>&1) || true
    expect_match "$out" "unexpected argument 'b.conf'" "check's extra argument"
    out=$("$TEND" daemon -n --frobnicate 2>&1) || true
    expect_match "$out" "'--frobnicate'" "daemon's unknown option"
    out=$("$TEND" check -c 2>&1) || true
    expect_match "$out" "'-c' needs a FILE" "-c without its value"
    out=$("$TEND" -s "$T/x.sock" pid web extra 2>&1) || true
    expect_match "$out" "'extra' is one too many" "pid's extra argument"
    out=$("$TEND" -s "$T/x.sock" reload now 2>&1) || true
    expect_match "$out" "not 'now'" "reload's argument"
}

# tend check FILE, as with -c FILE.
t_check_file_without_c() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper
EOF
    local out
    out=$("$TEND" check "$CONF") || fail "check FILE"
    expect_eq "$out" "$CONF: ok (1 process)" "check FILE"
    out=$("$TEND" check --json "$CONF")
    expect_eq "$(json_get 'd["ok"], d["processes"], d["file"]' <<<"$out")" \
        "(True, 1, '$CONF')" "check --json"
    printf '[program:b]\ncommand=\nbogus=1\n' >>"$CONF"
    out=$("$TEND" check --json "$CONF") || true
    expect_eq "$(json_get 'd["ok"]' <<<"$out")" False "check --json of a broken config"
    expect_match "$(json_get '[x["severity"] for x in d["diagnostics"]]' <<<"$out")" "error" \
        "its diagnostics"
}

# stop says when the process had to be killed.
t_stop_says_sigkill() {
    setup
    write_conf <<EOF
[program:stubborn]
command=$H/ignoreterm -r $T/s.ready
startsecs=0
stopwaitsecs=1
[program:polite]
command=$H/sleeper -r $T/p.ready
startsecs=0
EOF
    start_tend
    waitfor "$T/s.ready" ^ready >/dev/null && waitfor "$T/p.ready" ^ready >/dev/null
    local out
    out=$(tendctl stop stubborn polite) || fail "stop"
    expect_match "$out" '^stubborn: stopped \(it ignored its stop signal: SIGKILL' "stubborn"
    expect_match "$out" '^polite: stopped$' "polite"
    stop_tend
}

# On a terminal, stop shows what it is still waiting for (a line that the next output
# replaces); into a pipe it does not.
t_stop_shows_wait_on_terminal() {
    setup
    write_conf <<EOF
[program:stubborn]
command=$H/ignoreterm -r $T/s.ready
startsecs=0
stopwaitsecs=3
EOF
    start_tend
    waitfor "$T/s.ready" ^ready >/dev/null
    local pid
    pid=$(tendctl pid stubborn)
    TERM=xterm "$H/inpty" "$TEND" -s "$T/tend.sock" stop stubborn >"$T/tty.out" ||
        fail "stop on a terminal"
    grep -Eq "waiting [0-9]+s for stubborn \(STOPPING, pid $pid\)" "$T/tty.out" ||
        { cat -v "$T/tty.out"; fail "no waiting line"; }
    grep -q 'stubborn: stopped (it ignored its stop signal' "$T/tty.out" || fail "no result"
    tendctl start stubborn >/dev/null
    tendctl stop stubborn >"$T/pipe.out" 2>&1
    ! grep -q waiting "$T/pipe.out" || fail "a waiting line into a pipe"
    stop_tend
}

# Health reads "starting" until its first pass (while failures do not yet restart it).
t_health_starting() {
    setup
    local port
    port=$("$H/e2e_httpd" --free-port) || fail "no free port"
    write_conf <<EOF
[program:web]
command=$H/sleeper -r $T/w.ready
startsecs=0
healthcheck=tcp:127.0.0.1:$port
healthcheck_interval=1
healthcheck_grace=0
healthcheck_retries=1000
EOF
    start_tend
    waitfor "$T/w.ready" ^ready >/dev/null
    wait_log "web: health check failed"
    expect_eq "$(st web health)" starting "HEALTH before its first pass"
    stop_tend
}

# reload says what it applied, also when only policy changed (the process keeps running).
t_reload_lists_policy_changes() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    waitfor "$T/a.ready" ^ready >/dev/null
    local pid out
    pid=$(tendctl pid a)
    sed -i 's/^startsecs=0/startsecs=0\nstopwaitsecs=3\npriority=5/' "$CONF"
    out=$(tendctl reload) || fail "reload"
    expect_match "$out" '^updated a \(priority, stopwaitsecs; the process keeps running\)$' \
        "the policy change"
    expect_eq "$(tendctl pid a)" "$pid" "a's pid (not restarted)"
    sed -i 's/^stopwaitsecs=3/stopwaitsecs=4/' "$CONF"
    out=$(tendctl reload --json) || fail "reload --json"
    expect_eq "$(json_get '(d["applied"], d["changes"][0]["change"], d["changes"][0]["name"])' \
        <<<"$out")" "(True, 'updated', 'a')" "reload --json"
    out=$(tendctl pid --json a)
    expect_eq "$(json_get 'd["name"], d["pid"]' <<<"$out")" "('a', $pid)" "pid --json"
    stop_tend
}

# State colours on a terminal; none with NO_COLOR or when piped.
t_state_colours() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    waitfor "$T/a.ready" ^ready >/dev/null
    local esc=$'\033'
    TERM=xterm "$H/inpty" "$TEND" -s "$T/tend.sock" status >"$T/tty.out" || true
    grep -q "${esc}\[32mRUNNING${esc}\[0m" "$T/tty.out" || { cat -v "$T/tty.out"; fail "no colour"; }
    NO_COLOR=1 TERM=xterm "$H/inpty" "$TEND" -s "$T/tend.sock" status >"$T/nc.out" || true
    ! grep -q "$esc" "$T/nc.out" || fail "colour despite NO_COLOR"
    tendctl status >"$T/pipe.out" || true
    ! grep -q "$esc" "$T/pipe.out" || fail "colour into a file"
    stop_tend
}

# No line is logged twice: a shutdown with programs at two priority levels says each thing
# once (two lines in a row with the same text would be the same event told twice).
t_no_line_logged_twice() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
priority=1
startsecs=0
[program:b]
command=$H/sleeper -r $T/b.ready
priority=2
startsecs=0
EOF
    start_tend
    waitfor "$T/a.ready" ^ready >/dev/null && waitfor "$T/b.ready" ^ready >/dev/null
    tendctl restart all >/dev/null || fail "restart all"
    stop_tend
    expect_eq "$(count_log 'every program is stopped')" 1 "'every program is stopped' lines"
    local dup
    dup=$(sed -E "s/$TS//" "$LOG" | uniq -d)
    [ -z "$dup" ] || { cat "$LOG"; fail "logged twice in a row: $dup"; }
}

run_tests
