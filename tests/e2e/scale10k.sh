#!/usr/bin/env bash
# End-to-end test of tend with 10,000 programs (issue 13), in a file of its own so that it has
# the runner's whole time budget: on a loaded 2-core machine a spawn can take tens of ms.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"
. "$(dirname "$0")/scale_lib.bash"

# files_with LINE NAME-GLOB: how many of the AUTO log files NAME-GLOB hold the line LINE.
files_with() { find "$T/logs" -name "$2" -exec grep -lx -- "$1" {} + 2>/dev/null | wc -l; }

# The issue's failure: 6 descriptors a program on defaults, 3,330 of 10,000 started under a
# hard limit of 20,000 and the rest went FATAL with "cannot fork: Too many open files".
# A program on defaults now costs tend 3 descriptors (the read ends of its two pipes, and the
# pidfd of its process once a restarted supervisor takes it back); its log files share what
# is left. Where tend may not raise the hard limit (as here: no CAP_SYS_RESOURCE), the read
# ends past the limit are held in an io_uring (fdring.h). So 10,000 programs on defaults that
# each write a line to stdout and stderr start and run under 20,000, with every line in its
# file, outlive a kill -9 of the supervisor (taken back, none twice), and a restarted one
# writes on. 10,000 programs whose output is not captured start and run. The sanitizer build
# (several times slower a spawn) runs a tenth of each, under a tenth of the limit.
t_ten_thousand_programs() {
    setup
    local n=10000 limit=20000
    asan_build && n=1000 limit=2000
    [ "$(cat /proc/sys/kernel/pid_max)" -gt $((n + 5000)) ] || skip "pid_max too low for $n"
    [ "$(ulimit -Hn)" -ge "$limit" ] || skip "hard RLIMIT_NOFILE $(ulimit -Hn) is below $limit"
    command -v setpriv >/dev/null || skip "no setpriv(1)"
    awk -v n="$n" -v cmd="$H/sleeper" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "[program:p%05d]\ncommand=/bin/sh -c \"echo out; echo err >&2; exec %s\"\n", i, cmd
    }' | write_conf
    (ulimit -Sn 1024 && ulimit -Hn "$limit" &&
        exec setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource \
            "$TEND" daemon -n -c "$CONF") >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    if ! tend_started "$KEEPER_PID" "$LOG" 120; then
        grep -q "io_uring, which could hold the pipes past it, is not available" "$T/tend.err" &&
            skip "no io_uring with fixed-descriptor install (Linux 6.8) here"
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
    fi
    wait_running "$n" 800
    expect_eq "$(count_log 'FATAL|cannot create a process|Too many open files|cannot open|waiting for free file')" 0 \
        "programs that failed to start or to log, or waited for descriptors"
    local ring need lim one start got_out got_err f sup pipes
    ring=$(sed -n 's/.*descriptors: \([0-9]*\) capture pipes past the limit are held in an io_uring.*/\1/p' "$LOG" | tail -n 1)
    need=$(sed -n 's/.*descriptors: .*, tend \([0-9]*\) in all.*/\1/p' "$LOG" | tail -n 1)
    lim=$(sed -n 's/.*RLIMIT_NOFILE is \([0-9]*\),.*/\1/p' "$LOG" | tail -n 1)
    [ -n "$ring" ] && [ "$ring" -gt 0 ] || fail "no capture pipes held in the io_uring"
    [ -n "$need" ] && [ "$lim" = "$limit" ] && [ "$need" -le "$lim" ] ||
        fail "budget line: need '$need', limit '$lim'"
    start=$(date +%s)
    while :; do
        got_out=$(files_with out 'p*-stdout.log')
        got_err=$(files_with err 'p*-stderr.log')
        [ "$got_out" -eq "$n" ] && [ "$got_err" -eq "$n" ] && break
        [ $(($(date +%s) - start)) -lt 120 ] ||
            fail "$got_out stdout and $got_err stderr files of $n hold their line"
        sleep 1
    done
    # The keeper holds every read end kept as a descriptor, and the ring that holds the rest.
    # (Deposits are at 6 and up: below are the keeper's own. What this shell left open is
    # not among them: tend daemon -n closes its caller's descriptors beyond stdio.)
    pipes=$(ls -l "/proc/$KEEPER_PID/fd" | awk '$9 >= 6 && $NF ~ /^pipe:/' | wc -l)
    expect_eq "$pipes" $((2 * n - ring)) "capture pipes the keeper holds as descriptors"
    expect_eq "$(ls -l "/proc/$KEEPER_PID/fd" | grep -c 'io_uring')" 1 "io_urings the keeper holds"
    one=$(tendctl pid p00001)
    expect_eq "$(sed -n 's/^Max open files *\([0-9]*\).*/\1/p' "/proc/$one/limits")" 1024 \
        "a program's soft descriptor limit"
    # A kill -9 of the supervisor: the next one takes every program back, with its pidfd.
    sup=$TEND_PID
    kill -KILL "$sup"
    waitfor "$LOG" "generation 2;" 120 || fail "no supervisor of generation 2"
    wait_running "$n" 300
    expect_eq "$(count_log 'exited while no supervisor ran|Too many open files')" 0 \
        "programs lost by the restart"
    expect_eq "$(pgrep -c -P "$KEEPER_PID" -f "^$H/sleeper\$" || true)" "$n" \
        "programs running (the keeper's children now), none twice"
    # A restarted program writes on into its file, reopened if it had been closed; the last
    # programs' pipes are in the ring.
    tendctl restart p00001 "p$(printf %05d "$n")" >/dev/null || fail "restart"
    for f in "$(find "$T/logs" -name p00001-stdout.log)" \
        "$(find "$T/logs" -name "p$(printf %05d "$n")-stderr.log")"; do
        start=$(date +%s)
        until [ "$(grep -c . "$f")" -ge 2 ]; do
            [ $(($(date +%s) - start)) -lt 30 ] || fail "the restarted program's line is not in $f"
            sleep 0.2
        done
    done
    STOP_SECS=120 stop_tend # 10,000 taken-back exits come through the keeper
    # 10,000 without capture: all start and run, and the control socket answers.
    programs "$n" stdout_logfile=NONE stderr_logfile=NONE | write_conf
    : >"$LOG"
    (ulimit -Hn 20000 && ulimit -Sn 1024 && exec "$TEND" daemon -n -c "$CONF") \
        >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 120 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
    wait_running "$n" 800
    expect_eq "$(count_log 'FATAL|cannot create a process|Too many open files')" 0 \
        "programs that failed to start"
    expect_eq "$(tendctl status p00001 | awk 'NR == 2 {print $2}')" RUNNING "p00001 after start-up"
    stop_tend
}

run_tests
