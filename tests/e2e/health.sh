#!/usr/bin/env bash
# End-to-end tests of health checks (healthcheck= tcp:HOST:PORT | http://HOST:PORT/PATH |
# exec:COMMAND): a process that keeps running but stops answering is restarted after exactly
# healthcheck_retries consecutive failed checks, `tend status` shows its HEALTH, a hanging
# check delays nothing else, and a check that would need a DNS lookup is refused by
# `tend check` with FILE:LINE.
#
# The servers are tests/helpers/e2e_httpd: it answers HTTP 200 on 127.0.0.1:PORT and can be
# told to go mute (SIGUSR1: accept, never answer) or to close its listening socket while
# staying alive (SIGUSR2); it notes every connection it accepts and answers in a file, so a
# test can wait until a check is in flight. tend runs with loglevel=debug so that each
# successful check is a log line to wait for ("health check ok"). Synchronisation is on
# those events only; deadlines only turn a hang into a failure.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

free_port() { "$H/e2e_httpd" --free-port || fail "no free port"; }

# ready_pid FILE: wait for a helper's "ready PID ..." file and print the PID.
ready_pid() {
    waitfor "$1" '^ready [0-9]+' 15 >&2 || fail "no ready line in $1"
    sed -nE 's/^ready ([0-9]+).*/\1/p' "$1"
}

# wait_spawn NAME OLDPID: wait until tend logs a spawn of NAME with a pid other than OLDPID
# and print that pid.
wait_spawn() {
    wait_log "${TS}$1: spawned pid $(ere_other "$2")\$" >&2
    sed -nE "s/${TS}$1: spawned pid ([0-9]+)\$/\\2/p" "$LOG" | tail -n 1
}

# log_lines: how many lines tend's log has now.
log_lines() { wc -l <"$LOG"; }

# failures_since N NAME: the k of every "NAME: health check failed (k of R)" line after line
# N of tend's log, space-separated.
failures_since() {
    tail -n +"$(($1 + 1))" "$LOG" | sed -nE "s/${TS}$2: health check failed \\(([0-9]+) of [0-9]+\\).*/\\2/p" |
        tr '\n' ' '
}

# wait_log_after N ERE [SECONDS]: block until a line after line N of tend's log matches ERE
# (lines are read as tend writes them, through tail -f: no polling here).
wait_log_after() {
    local from=$1 ere=$2 secs=${3:-15} deadline line tailpid left
    deadline=$((SECONDS + secs))
    exec 8< <(exec tail -n +"$((from + 1))" -f "$LOG")
    tailpid=$!
    while left=$((deadline - SECONDS)); [ "$left" -gt 0 ] && IFS= read -r -t "$left" line <&8; do
        if [[ $line =~ $ere ]]; then
            kill "$tailpid" 2>/dev/null
            exec 8<&-
            return 0
        fi
    done
    kill "$tailpid" 2>/dev/null
    exec 8<&-
    fail "no line /$ere/ after line $from of tend's log within ${secs}s"
}

# -- cases ------------------------------------------------------------------------------------

# HTTP: a server that stays alive but stops answering (mute: accepts, never replies) is
# restarted after exactly healthcheck_retries consecutive timeouts; status shows HEALTH ok
# before, failing during; the restarted server is healthy again.
t_http_mute_server_restarted_after_retries() {
    setup
    local port p1 p2 from
    port=$(free_port)
    write_conf loglevel=debug <<EOF2
[program:web]
command=$H/e2e_httpd -r $T/web.ready -a $T/web.acc $port
startsecs=0
healthcheck=http://127.0.0.1:$port/health
healthcheck_interval=1
healthcheck_timeout=1
healthcheck_retries=3
healthcheck_grace=1
stopwaitsecs=30
EOF2
    start_tend
    p1=$(ready_pid "$T/web.ready")
    wait_log "${TS}web: health check ok: HTTP 200\$"
    expect_eq "$(st web health)" ok "HEALTH while it answers"
    expect_eq "$(st web state)" RUNNING "state while it answers"
    from=$(log_lines)
    kill -USR1 "$p1"
    wait_log_after "$from" "${TS}web: health check failed \\(1 of 3\\): timeout after 1s\$"
    expect_eq "$(st web health)" failing "HEALTH after a failed check"
    expect_eq "$(st web pid)" "$p1" "pid after one failed check (not restarted yet)"
    wait_log_after "$from" "${TS}web: restarting: health check failed 3 times: timeout after 1s\$" 30
    expect_eq "$(failures_since "$from" web)" "1 2 3 " "failed checks before the restart"
    wait_log "${TS}web \\(pid $p1\\): RUNNING -> STOPPING: stopping with SIGTERM"
    wait_log "${TS}web \\(pid $p1\\): STOPPING -> (STOPPED|STARTING): stopped: exit 0 after"
    p2=$(wait_spawn web "$p1")
    waitfor "$T/web.ready" "^ready $p2( |$)" || fail "the new instance $p2 did not start"
    [ "$p2" != "$p1" ] || fail "not restarted"
    # The new server answers a check, and tend takes it as healthy.
    waitfor "$T/web.acc" "^answered $p2 " 20 || fail "no check answered by $p2"
    tendctl status >/dev/null
    expect_eq "$(st web health)" ok "HEALTH after the restart"
    expect_eq "$(st web pid)" "$p2" "pid after the restart"
    expect_eq "$(count_log "${TS}web: restarting: ")" 1 "restarts for health"
    [ "$(count_log "${TS}web: health check failed \\([4-9] of 3\\)")" = 0 ] ||
        fail "more failed checks than healthcheck_retries"
    stop_tend
}

# HTTP: an error status is a failed check with the status as its reason.
t_http_error_status_fails() {
    setup
    local port p1
    port=$(free_port)
    write_conf loglevel=debug <<EOF2
[program:err]
command=$H/e2e_httpd -s 500 -r $T/err.ready $port
startsecs=0
healthcheck=http://127.0.0.1:$port/
healthcheck_interval=1
healthcheck_timeout=2
healthcheck_retries=2
healthcheck_grace=1
EOF2
    start_tend
    p1=$(ready_pid "$T/err.ready")
    wait_log "${TS}err: health check failed \\(1 of 2\\): HTTP 500\$"
    wait_log "${TS}err: health check failed \\(2 of 2\\): HTTP 500\$"
    wait_log "${TS}err: restarting: health check failed 2 times: HTTP 500\$"
    wait_log "${TS}err \\(pid $p1\\): STOPPING -> (STOPPED|STARTING): stopped: exit 0"
    tendctl stop err >/dev/null
    wait_log "${TS}err \\(pid [0-9]+\\): STOPPING -> STOPPED"
    expect_eq "$(st err health)" "" "HEALTH of a stopped program"
    stop_tend
}

# TCP: the process closes its listening socket and stays alive: connection refused, and a
# restart after exactly healthcheck_retries refusals.
t_tcp_closed_port_restarted_after_retries() {
    setup
    local port p1 p2 from
    port=$(free_port)
    write_conf loglevel=debug <<EOF2
[program:svc]
command=$H/e2e_httpd -r $T/svc.ready $port
startsecs=0
healthcheck=tcp:127.0.0.1:$port
healthcheck_interval=1
healthcheck_timeout=1
healthcheck_retries=2
healthcheck_grace=1
EOF2
    start_tend
    p1=$(ready_pid "$T/svc.ready")
    wait_log "${TS}svc: health check ok: connected\$"
    expect_eq "$(st svc health)" ok "HEALTH while it listens"
    from=$(log_lines)
    kill -USR2 "$p1"
    wait_log_after "$from" "${TS}svc: health check failed \\(1 of 2\\): connection refused\$"
    expect_eq "$(st svc health)" failing "HEALTH after a refused connection"
    is_alive "$p1" || fail "the server died by itself"
    wait_log_after "$from" "${TS}svc: restarting: health check failed 2 times: connection refused\$"
    expect_eq "$(failures_since "$from" svc)" "1 2 " "failed checks before the restart"
    wait_log "${TS}svc \\(pid $p1\\): STOPPING -> (STOPPED|STARTING): stopped: exit 0 after"
    p2=$(wait_spawn svc "$p1")
    waitfor "$T/svc.ready" "^ready $p2( |$)" || fail "the new instance $p2 did not start"
    [ "$p2" != "$p1" ] || fail "not restarted"
    from=$(log_lines)
    wait_log_after "$from" "${TS}svc: health check ok: connected\$"
    expect_eq "$(st svc health)" ok "HEALTH after the restart"
    stop_tend
}

# exec: a command that checks a marker file. Its exit status and first output line are the
# reason; exactly healthcheck_retries failures restart the program.
t_exec_check_restarted_after_retries() {
    setup
    local p1 p2 from
    write_conf loglevel=debug <<EOF2
[program:job]
command=$H/sleeper -r $T/job.ready
startsecs=0
healthcheck=exec:/bin/sh -c "if [ -e $T/sick ]; then echo patient is sick; exit 3; fi"
healthcheck_interval=1
healthcheck_timeout=5
healthcheck_retries=3
healthcheck_grace=1
EOF2
    start_tend
    p1=$(ready_pid "$T/job.ready")
    wait_log "${TS}job: health check ok: exit status 0\$"
    expect_eq "$(st job health)" ok "HEALTH while the check passes"
    from=$(log_lines)
    touch "$T/sick"
    wait_log_after "$from" "${TS}job: health check failed \\(1 of 3\\): exit status 3: patient is sick\$"
    expect_eq "$(st job health)" failing "HEALTH after a failed check"
    wait_log_after "$from" "${TS}job: restarting: health check failed 3 times: exit status 3: patient is sick\$" 30
    rm -f "$T/sick"
    expect_eq "$(failures_since "$from" job)" "1 2 3 " "failed checks before the restart"
    wait_log "${TS}job \\(pid $p1\\): STOPPING -> (STOPPED|STARTING): stopped: exit 0 after"
    p2=$(wait_spawn job "$p1")
    waitfor "$T/job.ready" "^ready $p2( |$)" || fail "the new instance $p2 did not start"
    [ "$p2" != "$p1" ] || fail "not restarted"
    from=$(log_lines)
    wait_log_after "$from" "${TS}job: health check ok: exit status 0\$"
    expect_eq "$(st job health)" ok "HEALTH after the restart"
    expect_eq "$(st job pid)" "$p2" "pid after the restart"
    stop_tend
}

# A frozen process (SIGSTOP) still completes TCP handshakes from its backlog but answers
# nothing: the HTTP check times out, the restart sends the stop signal and SIGCONT, and the
# process exits by its stop signal (no SIGKILL needed).
t_frozen_process_restarted_and_continued() {
    setup
    local port p1 p2 from
    port=$(free_port)
    write_conf loglevel=debug <<EOF2
[program:web]
command=$H/e2e_httpd -r $T/web.ready $port
startsecs=0
healthcheck=http://127.0.0.1:$port/
healthcheck_interval=1
healthcheck_timeout=1
healthcheck_retries=2
healthcheck_grace=1
stopwaitsecs=30
EOF2
    start_tend
    p1=$(ready_pid "$T/web.ready")
    wait_log "${TS}web: health check ok: HTTP 200\$"
    from=$(log_lines)
    kill -STOP "$p1"
    wait_log_after "$from" "${TS}web: restarting: health check failed 2 times: timeout after 1s\$" 30
    expect_eq "$(failures_since "$from" web)" "1 2 " "failed checks before the restart"
    wait_log "${TS}web \\(pid $p1\\): STOPPING -> (STOPPED|STARTING): stopped: exit 0 after"
    [ "$(count_log 'SIGKILL')" = 0 ] || fail "the frozen process needed SIGKILL"
    p2=$(wait_spawn web "$p1")
    waitfor "$T/web.ready" "^ready $p2( |$)" || fail "the new instance $p2 did not start"
    [ "$p2" != "$p1" ] || fail "not restarted"
    stop_tend
}

# A check that hangs (an endpoint that accepts and never answers, a command that never
# ends) with a long timeout delays nobody: another program killed meanwhile is restarted
# at once, while the checks are still in flight.
t_hanging_check_does_not_delay_restarts() {
    setup
    local port other o2 t0 t1
    port=$(free_port)
    write_conf loglevel=debug <<EOF2
[program:hang]
command=$H/e2e_httpd -m -r $T/hang.ready -a $T/hang.acc $port
startsecs=0
healthcheck=http://127.0.0.1:$port/
healthcheck_timeout=120
healthcheck_grace=1
[program:stuck]
command=$H/sleeper
startsecs=0
healthcheck=exec:/bin/sh -c "echo \$\$ > $T/stuck.check; exec sleep 1000"
healthcheck_timeout=120
healthcheck_grace=0
[program:other]
command=$H/sleeper -r $T/other.ready
startsecs=0
EOF2
    start_tend
    local hang
    hang=$(ready_pid "$T/hang.ready")
    other=$(ready_pid "$T/other.ready")
    waitfor "$T/hang.acc" "^accepted $hang 1\$" || fail "no HTTP check in flight"
    waitfor "$T/stuck.check" '^[0-9]+$' || fail "no exec check in flight"
    wait_log "${TS}other \\(pid $other\\): STARTING -> RUNNING"
    rm -f "$T/other.ready"
    t0=$(date +%s%3N)
    kill -KILL "$other"
    wait_log "${TS}other \\(pid $other\\): RUNNING -> STARTING: exited: signal 9"
    o2=$(ready_pid "$T/other.ready")
    t1=$(date +%s%3N)
    echo "kill -> restarted in $((t1 - t0)) ms while two checks hang"
    [ $((t1 - t0)) -lt 5000 ] || fail "the restart took $((t1 - t0)) ms while checks hang"
    [ "$(count_log "${TS}(hang|stuck): health check")" = 0 ] ||
        fail "a hanging check completed: $(grep -E "(hang|stuck): health check" "$LOG")"
    is_alive "$(cat "$T/stuck.check")" || fail "the exec check is not running"
    # tend still answers its control socket at once.
    expect_eq "$(st other pid)" "$o2" "status of other"
    stop_tend
}

# A health check on a host name would need a DNS lookup in the supervisor's single thread:
# `tend check` rejects it with FILE:LINE (the healthcheck= line), and `tend daemon` refuses
# to start with it.
t_hostname_is_rejected() {
    setup
    cat >"$T/bad.conf" <<EOF2
[tend]
logfile=$LOG
socket=$T/tend.sock

[program:web]
command=$H/sleeper
healthcheck=tcp:example.com:80

[program:api]
command=$H/sleeper
healthcheck=http://example.com/health
EOF2
    local out rc=0
    out=$("$TEND" check -c "$T/bad.conf" 2>&1) || rc=$?
    echo "$out"
    [ "$rc" != 0 ] || fail "tend check accepted a host name"
    expect_match "$out" "^$(re "$T/bad.conf"):7: error: .*example\\.com" "the tcp: error"
    expect_match "$out" "$(re "$T/bad.conf"):11: error: .*example\\.com" "the http:// error"
    rc=0
    out=$(timeout 10 "$TEND" daemon -n -c "$T/bad.conf" 2>&1) || rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "tend daemon started (exit $rc)"
    expect_match "$out" "example\\.com" "tend daemon's error"
    [ ! -e "$T/tend.sock" ] || fail "tend daemon opened its socket"
    # A numeric address and localhost are fine.
    sed -i 's/example\.com/127.0.0.1/; s|http://127.0.0.1/|http://localhost/|' "$T/bad.conf"
    out=$("$TEND" check -c "$T/bad.conf" 2>&1) || fail "numeric/localhost refused: $out"
}

# The article's business server, daemonized through daeml --pidfile and checked over HTTP:
# when it stops answering, the stop signal goes to the adopted daemon, and the relaunched
# daemon is adopted and checked again.
t_pidfile_program_health_restart() {
    setup
    local port p1 p2 from
    port=$(free_port)
    write_conf loglevel=debug <<EOF2
[program:biz]
command=$DAEML --pidfile $T/biz.pid $H/e2e_httpd -r $T/biz.ready $port
pidfile=$T/biz.pid
startsecs=0
healthcheck=http://127.0.0.1:$port/
healthcheck_interval=1
healthcheck_timeout=1
healthcheck_retries=2
healthcheck_grace=1
stopwaitsecs=30
EOF2
    start_tend
    p1=$(ready_pid "$T/biz.ready")
    wait_log "${TS}biz: adopted pid $p1 from "
    wait_log "${TS}biz: health check ok: HTTP 200\$"
    expect_eq "$(st biz health)" ok "HEALTH while it answers"
    from=$(log_lines)
    kill -USR1 "$p1"
    wait_log_after "$from" "${TS}biz: restarting: health check failed 2 times: timeout after 1s\$" 30
    expect_eq "$(failures_since "$from" biz)" "1 2 " "failed checks before the restart"
    wait_log "${TS}biz \\(pid $p1\\): STOPPING -> (STOPPED|STARTING): stopped: exit 0 after"
    wait_log "${TS}biz: adopted pid $(ere_other "$p1") from "
    p2=$(sed -nE "s/${TS}biz: adopted pid ([0-9]+) from .*/\\2/p" "$LOG" | tail -n 1)
    waitfor "$T/biz.ready" "^ready $p2 " || fail "the adopted $p2 is not the new server"
    from=$(log_lines)
    wait_log_after "$from" "${TS}biz: health check ok: HTTP 200\$"
    expect_eq "$(st biz health)" ok "HEALTH after the restart"
    expect_eq "$(st biz pid)" "$p2" "pid after the restart"
    stop_tend
}

# Failures must be consecutive: a success in between starts the count again.
t_success_resets_the_failure_count() {
    setup
    local port p1 from
    port=$(free_port)
    write_conf loglevel=debug <<EOF2
[program:web]
command=$H/e2e_httpd -r $T/web.ready $port
startsecs=0
healthcheck=http://127.0.0.1:$port/
healthcheck_interval=1
healthcheck_timeout=1
healthcheck_retries=3
healthcheck_grace=1
EOF2
    start_tend
    p1=$(ready_pid "$T/web.ready")
    wait_log "${TS}web: health check ok: HTTP 200\$"
    from=$(log_lines)
    kill -USR1 "$p1"
    wait_log_after "$from" "${TS}web: health check failed \\(2 of 3\\): timeout after 1s\$" 20
    kill -HUP "$p1"     # answers again
    wait_log_after "$from" "${TS}web: health check ok: HTTP 200\$" 20
    expect_eq "$(st web health)" ok "HEALTH after it answered again"
    kill -USR1 "$p1"
    wait_log_after "$from" "${TS}web: restarting: health check failed 3 times: timeout after 1s\$" 30
    expect_eq "$(failures_since "$from" web)" "1 2 1 2 3 " "failed checks, with a success after the 2nd"
    expect_eq "$(count_log "${TS}web: restarting: ")" 1 "restarts for health"
    stop_tend
}

run_tests
