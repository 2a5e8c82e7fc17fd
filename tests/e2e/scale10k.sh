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
# A program on defaults now costs tend 2 descriptors (the read ends of its two pipes); its log
# files share what is left, the least recently written closed when another must open. So
# 9,900 programs on defaults that each write a line to stdout and stderr start and run under
# 20,000 where tend may not raise the hard limit (as here: no CAP_SYS_RESOURCE), with every
# line in its file. 10,000 on defaults need 20,000 read ends alone: refused at once with the
# numbers. 10,000 programs whose output is not captured start and run. The sanitizer build
# (several times slower a spawn) runs a tenth of each.
t_ten_thousand_programs() {
    setup
    local n=10000 fit=9900
    asan_build && n=1000 fit=990
    [ "$(cat /proc/sys/kernel/pid_max)" -gt $((n + 5000)) ] || skip "pid_max too low for $n"
    [ "$(ulimit -Hn)" -ge 20000 ] || skip "hard RLIMIT_NOFILE $(ulimit -Hn) is below 20000"
    # Defaults, 10,000: refused before anything starts, unless tend could raise the limit.
    programs 10000 | write_conf
    local rc=0
    (ulimit -n 20000 && exec setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource \
        "$TEND" daemon -n -c "$CONF") >"$T/tend.out" 2>"$T/tend.err" </dev/null || rc=$?
    expect_eq "$rc" 1 "tend's exit status for 10,000 programs on defaults"
    expect_file_match "$T/tend.err" "the programs need up to 20000, tend needs 20112 in all .* RLIMIT_NOFILE is 20000"
    # Defaults, 9,900 that write: all start and run, every line in its AUTO file.
    awk -v n="$fit" -v cmd="$H/sleeper" 'BEGIN {
        for (i = 1; i <= n; i++)
            printf "[program:p%05d]\ncommand=/bin/sh -c \"echo out; echo err >&2; exec %s\"\n", i, cmd
    }' | write_conf
    (ulimit -Hn 20000 && ulimit -Sn 1024 && exec "$TEND" daemon -n -c "$CONF") \
        >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 120 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
    wait_running "$fit" 800
    expect_eq "$(count_log 'FATAL|cannot create a process|Too many open files|cannot open|waiting for free file')" 0 \
        "programs that failed to start or to log, or waited for descriptors"
    local need limit cap held one start got_out got_err f
    need=$(sed -n 's/.*descriptors: .*, tend \([0-9]*\) in all.*/\1/p' "$LOG" | tail -n 1)
    limit=$(sed -n 's/.*RLIMIT_NOFILE is \([0-9]*\),.*/\1/p' "$LOG" | tail -n 1)
    cap=$(sed -n 's/.* and \([0-9]*\) of [0-9]* log files open at once.*/\1/p' "$LOG" | tail -n 1)
    [ -n "$need" ] && [ "$limit" -ge "$need" ] || fail "budget line: need '$need', limit '$limit'"
    [ -n "$cap" ] && [ "$cap" -lt $((2 * fit)) ] || asan_build ||
        fail "log files open at once: '$cap' (all $((2 * fit)) cannot fit)"
    start=$(date +%s)
    while :; do
        got_out=$(files_with out 'p*-stdout.log')
        got_err=$(files_with err 'p*-stderr.log')
        [ "$got_out" -eq "$fit" ] && [ "$got_err" -eq "$fit" ] && break
        [ $(($(date +%s) - start)) -lt 120 ] ||
            fail "$got_out stdout and $got_err stderr files of $fit hold their line"
        sleep 1
    done
    # The keeper drops a deposit it has no room for: it holds every read end.
    held=$(ls "/proc/$KEEPER_PID/fd" | wc -l)
    [ "$held" -ge $((2 * fit)) ] ||
        fail "the keeper holds $held descriptors, fewer than the $((2 * fit)) capture pipes"
    one=$(tendctl pid p00001)
    expect_eq "$(sed -n 's/^Max open files *\([0-9]*\).*/\1/p' "/proc/$one/limits")" 1024 \
        "a program's soft descriptor limit"
    # A restarted program writes on into its file, reopened if it had been closed.
    tendctl restart p00001 >/dev/null || fail "restart p00001"
    f=$(find "$T/logs" -name p00001-stdout.log)
    start=$(date +%s)
    until [ "$(grep -cx out "$f")" -ge 2 ]; do
        [ $(($(date +%s) - start)) -lt 30 ] || fail "the restarted p00001's line is not in $f"
        sleep 0.2
    done
    stop_tend
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
