#!/usr/bin/env bash
# End-to-end tests of tend at scale and under shortage (issue 13): 10,000 programs on
# default settings under a 20,000 descriptor hard limit; a control socket that keeps
# answering while 1,000 programs are killed at once; idle clients that cannot take the
# descriptors programs need; a config that cannot fit refused with its numbers; a log file
# removed or replaced under tend noticed and reopened.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"
. "$(dirname "$0")/scale_lib.bash"

# A config that cannot fit, and a tend that may not raise the hard limit (no
# CAP_SYS_RESOURCE): refused before anything starts, naming the limit and the numbers. 1,000
# programs on defaults need 3,000 descriptors: past 512, even an io_uring holding the pipes
# beyond the limit (up to the limit again) is not enough.
t_budget_refused_names_the_numbers() {
    setup
    command -v setpriv >/dev/null || skip "no setpriv(1)"
    programs 1000 | write_conf
    local rc=0
    (ulimit -n 512 && exec setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource \
        "$TEND" daemon -n -c "$CONF") >"$T/tend.out" 2>"$T/tend.err" </dev/null || rc=$?
    expect_eq "$rc" 1 "tend's exit status"
    expect_file_match "$T/tend.err" "not enough file descriptors: the programs need up to 3000, tend needs 3112 in all .* RLIMIT_NOFILE is 512"
    [ ! -e "$T/tend.sock" ] || fail "tend started anyway"
    # Within the limit, the same tend starts; a reload that would not fit is refused.
    programs 50 | write_conf
    (ulimit -n 512 && exec setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource \
        "$TEND" daemon -n -c "$CONF") >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 30 || fail "tend did not start: $(cat "$T/tend.err")"
    wait_running 50 60
    programs 1000 | write_conf
    rc=0
    tendctl reload >"$T/reload.out" 2>&1 || rc=$?
    [ "$rc" != 0 ] || fail "a reload beyond the limit was applied: $(cat "$T/reload.out")"
    expect_file_match "$T/reload.out" "not enough file descriptors"
    expect_eq "$(running_count)" 50 "programs after the refused reload"
    stop_tend
}

# Status latency during a mass restart: every call while 1,000 programs (200 on the
# sanitizer build) killed at once come back stays within 20x the median of quiet calls.
t_status_answers_while_1000_are_killed() {
    setup
    local n=1000 i
    asan_build && n=200
    programs "$n" startsecs=0 | write_conf
    start_tend_slow 60
    wait_running "$n" 300
    # Quiet time: the median of 15 calls, each timed from outside (client start included).
    local times=() t0 t1
    for i in $(seq 1 15); do
        t0=$(date +%s%N)
        tendctl status >/dev/null
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000)))
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 8p)
    local pids
    pids=$(tendctl status | awk '$2 == "RUNNING" { print $3 }')
    [ "$(echo "$pids" | wc -w)" -eq "$n" ] || fail "not $n pids"
    kill -KILL $pids
    # Every call until all are back, and at least 10.
    local worst=0 calls=0 back=0 us
    while [ "$back" -lt "$n" ] || [ "$calls" -lt 10 ]; do
        t0=$(date +%s%N)
        back=$(tendctl status 2>/dev/null | awk '$2 == "RUNNING" { n++ } END { print n + 0 }')
        t1=$(date +%s%N)
        us=$(((t1 - t0) / 1000))
        [ "$us" -gt "$worst" ] && worst=$us
        calls=$((calls + 1))
        [ "$calls" -lt 5000 ] || fail "not all back after $calls status calls ($back of $n)"
    done
    echo "status: quiet median ${median}us, worst during the restart ${worst}us over $calls calls"
    [ "$worst" -le $((median * 20)) ] ||
        fail "a status call took ${worst}us during the mass restart, over 20x the quiet median ${median}us"
    expect_eq "$(count_log 'FATAL')" 0 "programs gone FATAL"
    stop_tend
}

# A burst of exits is handled in slices, the control socket served in between. The
# supervisor is stopped (SIGSTOP) while 1,000 programs (600 on the sanitizer build) are
# killed and a status request is sent, so every exit and the request wait together when it
# resumes. The reply must come before the last exit is handled: it still names some of the
# killed pids (when one turn of the loop handled the whole burst, it named none). Then every
# program comes back: no exit was lost on the way.
t_burst_of_exits_leaves_room_for_requests() {
    setup
    local n=1000 p
    asan_build && n=600
    programs "$n" startsecs=0 stdout_logfile=NONE stderr_logfile=NONE | write_conf
    start_tend_slow 60
    wait_running "$n" 300
    local pids
    pids=$(tendctl status | awk '$2 == "RUNNING" { print $3 }')
    [ "$(echo "$pids" | wc -w)" -eq "$n" ] || fail "not $n pids"
    kill -STOP "$TEND_PID"
    kill -KILL $pids
    # Each one a zombie that only tend can reap (polled, bounded).
    local deadline=$((SECONDS + 60))
    for p in $pids; do
        until [ "$(pstat "$p" 3)" = Z ]; do
            [ "$SECONDS" -lt "$deadline" ] || fail "pid $p did not die: $(describe "$p")"
            sleep 0.01
        done
    done
    printf 'tend/1 status\n' |
        "$H/e2e_rawclient" req -t 120 -r "$T/sent" "$T/tend.sock" >"$T/during.out" \
            2>"$T/during.err" &
    local client=$!
    TRACKED="$TRACKED $client"
    "$H/waitfor" -t 30 "$T/sent" '^ready' >/dev/null || fail "the status request was not sent"
    kill -CONT "$TEND_PID"
    wait "$client" || fail "the status request failed: $(cat "$T/during.err")"
    expect_eq "$(grep -c '^proc ' "$T/during.out")" "$n" "programs in the reply"
    local left
    left=$(printf '%s\n' $pids | awk 'NR == FNR { killed["pid=" $1]; next }
        { for (i = 2; i <= NF; i++) if ($i in killed) n++ } END { print n + 0 }' - "$T/during.out")
    echo "the reply came with $left of the $n exits still to handle"
    [ "$left" -gt 0 ] || fail "the reply waited until every exit of the burst was handled"
    wait_running "$n" 300
    local now
    now=$(tendctl status | awk '$2 == "RUNNING" { print $3 }')
    expect_eq "$(printf '%s\n' $pids $now | sort | uniq -d | wc -l)" 0 "old pids still RUNNING"
    expect_eq "$(count_log 'FATAL')" 0 "programs gone FATAL"
    stop_tend
}

# The issue's failure: 256 idle control connections at RLIMIT_NOFILE 256 took every
# descriptor, and programs killed meanwhile ended FATAL. Now the connection cap follows the
# budget: the clients beyond it are told busy, and every killed program comes back.
t_idle_connections_lose_no_service() {
    setup
    programs 10 startsecs=0 | write_conf
    (ulimit -n 256 && exec setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource \
        "$TEND" daemon -n -c "$CONF") >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 30 || fail "tend did not start: $(cat "$T/tend.err")"
    wait_running 10 60
    "$H/e2e_rawclient" hold -t 60 "$T/tend.sock" 300 "$T/hold.ready" >"$T/hold.out" 2>&1 &
    local holder=$!
    TRACKED="$TRACKED $holder"
    "$H/waitfor" -t 30 "$T/hold.ready" '^ready' >/dev/null || fail "the clients did not connect"
    local pids
    pids=$(tendctl status 2>/dev/null | awk '$2 == "RUNNING" { print $3 }' || true)
    # The 300 may hold the cap: the pids come from /proc then (tend's children).
    [ -n "$pids" ] || pids=$(children_of "$TEND_PID")
    [ "$(echo "$pids" | wc -w)" -eq 10 ] || fail "not 10 programs: $pids"
    kill -KILL $pids
    local p
    for p in $pids; do "$H/waitfor" -t 10 --gone "$p" >/dev/null || fail "$p did not die"; done
    # tend closes the idle ones after its request timeout; the holder then reports.
    wait "$holder" 2>/dev/null || true
    wait_running 10 60
    expect_eq "$(count_log 'FATAL|Too many open files')" 0 "programs or accepts that failed"
    expect_eq "$(count_log 'cannot accept')" 0 "accepts that ran out of descriptors"
    # The cap announced at start-up, and the clients beyond it were told so.
    local cap
    cap=$(sed -n 's/.*room for \([0-9]*\) control connections.*/\1/p' "$LOG" | tail -n 1)
    [ -n "$cap" ] && [ "$cap" -ge 16 ] && [ "$cap" -lt 256 ] || fail "connection cap '$cap'"
    expect_file_match "$T/hold.out" "^$((300 - cap)) err busy too%20many%20connections%20\\($cap\\)"
    stop_tend
}

# rm of a program's current log, then mv + a new file at its path: each is noticed on the
# next write, the path reopened, and tend's log says so with the count of lines that went
# to the old file.
t_removed_log_is_reopened() {
    setup
    write_conf <<EOF
[program:talker]
command=$H/flood -n 0 -s 20 -r 50
stdout_logfile=$T/logs/talker.log
startsecs=0
EOF
    start_tend
    wait_log 'talker \(pid [0-9]+\): STARTING -> RUNNING'
    waitfor "$T/logs/talker.log" '^0*5 ' 10 || fail "no line 5 in the log"
    rm "$T/logs/talker.log"
    wait_log 'talker: its stdout log .*talker.log was removed or replaced under tend: reopened; [0-9]+ lines \([0-9]+ bytes\)' 10
    waitfor "$T/logs/talker.log" '.' 10 || fail "the log was not made again"
    local first
    first=$(head -n 1 "$T/logs/talker.log" | awk '{print $1}')
    [ "$first" -gt 5 ] || fail "the new file starts at line $first"
    # Replaced: moved away, a new file in its place; the moved one keeps what came before.
    mv "$T/logs/talker.log" "$T/logs/talker.old"
    : >"$T/logs/talker.log"
    waitfor "$T/logs/talker.log" '.' 10 || fail "nothing written to the replacing file"
    expect_eq "$(count_log 'was removed or replaced under tend')" 2 "announcements"
    # No line is lost or repeated across the three files beyond what was announced.
    local old_last new_first
    old_last=$(tail -n 1 "$T/logs/talker.old" | awk '{print $1}')
    new_first=$(head -n 1 "$T/logs/talker.log" | awk '{print $1}')
    expect_eq "$((10#$new_first))" "$((10#$old_last + 1))" "the first line in the replacing file"
    stop_tend
}

# Both ways of making a child in tend's memory: clone3 (into the cgroup) and, as on kernels
# without it, clone (the child joins its cgroup itself). Either way a program runs with its
# stdio and its cgroup, and an exec failure is reported with its stage, once.
t_spawn_paths() {
    local how pid v2 cg
    setup
    for how in clone3 clone; do
        write_conf <<EOF
[program:ok]
command=$H/sleeper
startsecs=0
[program:missing]
command=$T/no-such-program
startsecs=0
EOF
        : >"$LOG"
        if [ "$how" = clone ]; then
            export TEND_SPAWN_NO_CLONE3=1
        fi
        start_tend
        unset TEND_SPAWN_NO_CLONE3
        wait_log 'ok \(pid [0-9]+\): STARTING -> RUNNING'
        wait_log "missing \\(pid [0-9]+\\): STARTING -> FATAL: .*execute $T/no-such-program: No such file or directory"
        pid=$(tendctl pid ok)
        expect_eq "$(readlink "/proc/$pid/fd/0")" /dev/null "$how: the program's stdin"
        expect_eq "$(ls "/proc/$pid/fd" | wc -l)" 3 "$how: descriptors the program got"
        v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
        if [ -n "$v2" ] && grep -q 'every program in its own cgroup' "$LOG"; then
            cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
            expect_match "$cg" "/tend\\.$KEEPER_PID\\.[^/]*/svc\\.ok$" "$how: the program's cgroup"
        fi
        expect_eq "$(count_log 'missing.*-> FATAL')" 1 "$how: the exec failure, reported once"
        stop_tend
    done
}

# SCALE_ONLY=WORD runs only the cases whose name contains WORD (while working on one).
if [ -n "${SCALE_ONLY:-}" ]; then
    for f in $(declare -F | awk '{print $3}' | grep '^t_'); do
        [[ $f == *"$SCALE_ONLY"* ]] || unset -f "$f"
    done
fi
run_tests
