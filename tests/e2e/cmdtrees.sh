#!/usr/bin/env bash
# Alert commands and health-check commands are whole process trees: each runs in a cgroup of
# its own, so a child it leaves running in the background, even in a session of its own
# (setsid), is killed when the command exits or is killed at its timeout, instead of running
# forever. The children here record their pid before the command ends; the test waits for
# each to be gone (a pidfd, tests/helpers/waitfor --gone) and for tend's log line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

# needs_cgroups: skip unless this tend put its programs in cgroups (the setsid case needs them).
needs_cgroups() {
    wait_log "cgroups: (every program in its own cgroup|not used)" 15
    grep -q "cgroups: every program in its own cgroup" "$LOG" ||
        skip "tend does not use cgroups here: $(grep 'cgroups:' "$LOG" | head -n 1)"
}

# bg_script FILE: a shell snippet that starts `sleep` in a new session, in the background,
# writing its pid to FILE, and returns once the file is there.
bg_script() {
    printf "setsid sh -c 'echo \$\$ >%s.tmp && mv %s.tmp %s && exec sleep 100000' </dev/null >/dev/null 2>&1 &\n" \
        "$1" "$1" "$1"
    printf 'until [ -s %s ]; do sleep 0.05; done\n' "$1"
}

# An alert command that exits at once, leaving a setsid'd child behind: the child is killed.
t_alert_background_child_killed_at_exit() {
    local pid
    setup
    { echo '#!/bin/sh'; bg_script "$T/bg.pid"; echo 'exit 0'; } >"$T/alert.sh"
    chmod +x "$T/alert.sh"
    printf '[alert:bg]\ncommand=%s\nevents=FATAL\n[program:f]\ncommand=/bin/false\nstartretries=0\nstartsecs=1\n' \
        "$T/alert.sh" | write_conf
    start_tend
    needs_cgroups
    waitfor "$T/bg.pid" '^[0-9]+$' 20 || fail "the alert command's child did not start"
    pid=$(cat "$T/bg.pid")
    TRACKED="$TRACKED $pid"
    "$H/waitfor" -t 15 --gone "$pid" || fail "the alert's background child $pid still runs"
    wait_log "killed [0-9]+ leftover process(es)? of alert [0-9]+ alert:bg \(SIGKILL\)"
    stop_tend
}

# An alert command that hangs past its timeout, with a setsid'd child: both are killed.
t_alert_background_child_killed_at_timeout() {
    local pid
    setup
    { echo '#!/bin/sh'; bg_script "$T/bg.pid"; echo 'exec sleep 100000'; } >"$T/alert.sh"
    chmod +x "$T/alert.sh"
    printf '[alert:slow]\ncommand=%s\nevents=FATAL\ntimeout=1\n[program:f]\ncommand=/bin/false\nstartretries=0\nstartsecs=1\n' \
        "$T/alert.sh" | write_conf
    start_tend
    needs_cgroups
    waitfor "$T/bg.pid" '^[0-9]+$' 20 || fail "the alert command's child did not start"
    pid=$(cat "$T/bg.pid")
    TRACKED="$TRACKED $pid"
    wait_log "alert 'alert:slow' \(FATAL of f, pid [0-9]+\): still running after 1s; killed"
    "$H/waitfor" -t 15 --gone "$pid" || fail "the alert's background child $pid still runs"
    wait_log "killed [0-9]+ leftover process(es)? of alert [0-9]+ alert:slow \(SIGKILL\)"
    stop_tend
}

# Without cgroups ([tend] cgroups=false), an alert command killed at its timeout takes its
# setsid'd child with it: found through /proc while the parent links still lead to it.
t_alert_timeout_without_cgroups() {
    local pid
    setup
    { echo '#!/bin/sh'; bg_script "$T/bg.pid"; echo 'exec sleep 100000'; } >"$T/alert.sh"
    chmod +x "$T/alert.sh"
    printf '[alert:slow]\ncommand=%s\nevents=FATAL\ntimeout=1\n[program:f]\ncommand=/bin/false\nstartretries=0\nstartsecs=1\n' \
        "$T/alert.sh" | write_conf cgroups=false
    start_tend
    waitfor "$T/bg.pid" '^[0-9]+$' 20 || fail "the alert command's child did not start"
    pid=$(cat "$T/bg.pid")
    TRACKED="$TRACKED $pid"
    wait_log "alert 'alert:slow' \(FATAL of f, pid [0-9]+\): killed [0-9]+ descendants?\$"
    "$H/waitfor" -t 15 --gone "$pid" || fail "the alert's background child $pid still runs"
    stop_tend
}

# A health check (exec:) that leaves a setsid'd child: killed when the check exits; the
# service itself is untouched.
t_health_check_background_child_killed() {
    local pid svc
    setup
    { echo '#!/bin/sh'; echo "[ -e $T/bg.pid ] && exit 0"; bg_script "$T/bg.pid"; echo 'exit 0'; } \
        >"$T/check.sh"
    chmod +x "$T/check.sh"
    printf '[program:web]\ncommand=%s -r %s\nhealthcheck=exec:%s\nhealthcheck_interval=1\nhealthcheck_grace=0\nstartsecs=0\n' \
        "$H/sleeper" "$T/web.ready" "$T/check.sh" | write_conf
    start_tend
    needs_cgroups
    waitfor "$T/web.ready" '^ready' 15 || fail "web did not start"
    svc=$(sed -n 's/^ready //p' "$T/web.ready")
    waitfor "$T/bg.pid" '^[0-9]+$' 20 || fail "the check's child did not start"
    pid=$(cat "$T/bg.pid")
    TRACKED="$TRACKED $pid"
    "$H/waitfor" -t 15 --gone "$pid" || fail "the health check's background child $pid still runs"
    wait_log "killed [0-9]+ leftover process(es)? of health check [0-9]+ of web \(SIGKILL\)"
    alive "$svc" || fail "the service was killed too"
    expect_eq "$(st web state)" RUNNING "web's state"
    stop_tend
}

run_tests
