#!/usr/bin/env bash
# End-to-end tests of resource shortages (tend.conf(5), RESOURCE SHORTAGES): a start that
# fails for want of a resource of tend's (a pids cgroup limit around tend, its descriptor
# table full of idle control clients) waits in BACKOFF, named in `tend status`, without
# spending startretries, survives a supervisor restart, and starts by itself once the
# resource is back, with SHORTAGE_ENTERED / SHORTAGE_EXITED alert events. Before, each such
# service went FATAL after startretries and stayed down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

CG=""   # the pids cgroup a case put tend in

# The alert recorder: "EVENT PROCESS" per alert, one a line, in $T/alerts.log.
make_recorder() {
    cat >"$T/rec.sh" <<EOF2
#!/bin/sh
exec 9>>"$T/alerts.lock"
flock 9
printf '%s %s\n' "\$TEND_EVENT" "\$TEND_PROCESS" >>"$T/alerts.log"
EOF2
    chmod +x "$T/rec.sh"
    : >"$T/alerts.log"
}

# status_count STATE: processes in that state.
status_count() { tendctl status --json | grep -c "\"state\": \"$1\"" || true; }

# A pids cgroup for this case, v1 (this machine's kind) or v2 with the pids controller
# enabled in the root's subtree; CG is set, or the case is skipped.
make_pids_cgroup() {
    local v2
    if [ -e /sys/fs/cgroup/pids/cgroup.procs ] && [ -w /sys/fs/cgroup/pids ]; then
        CG=/sys/fs/cgroup/pids/tend-e2e.$$.${T##*.}
    else
        v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
        [ -n "$v2" ] && grep -qw pids "$v2/cgroup.subtree_control" 2>/dev/null ||
            skip "no pids cgroup controller (v1 or v2) to limit tend with"
        CG=$v2/tend-e2e.$$.${T##*.}
    fi
    mkdir "$CG" || skip "cannot create a pids cgroup: $CG"
}

# Kills whatever is left in CG and removes it, then the usual clean-up.
cg_cleanup() {
    local rc=$? p round
    set +e
    if [ -n "$CG" ] && [ -d "$CG" ]; then
        echo max >"$CG/pids.max"
        for round in 1 2 3 4 5; do
            for p in $(cat "$CG/cgroup.procs"); do kill -KILL "$p" 2>/dev/null; done
            for p in $(cat "$CG/cgroup.procs"); do "$H/waitfor" -t 10 --gone "$p" >/dev/null 2>&1; done
            rmdir "$CG" 2>/dev/null && break
        done
    fi
    (exit "$rc")
    cleanup
}

# waiting_names: programs whose first start went to BACKOFF for want of a resource.
waiting_names() {
    sed -nE "s/$TS([a-z0-9]+): STARTING -> BACKOFF: waiting for .*/\2/p" "$LOG" | sort -u
}

# tend in a pids cgroup whose limit leaves room for about a third of 30 programs. Each of the
# others fails its fork (EAGAIN), waits with waiting=processes and a reason naming the limit,
# retries more often than startretries=1 would allow, and is never FATAL; a kill -9 of the
# supervisor keeps the waits (the handover slot); once the limit is raised every program
# runs, having raised SHORTAGE_EXITED, with no restart counted.
t_pids_limit_waits_then_recovers() {
    local i n running waiting names name line
    setup
    trap cg_cleanup EXIT
    make_pids_cgroup
    make_recorder
    n=30
    {
        printf '[alert:short]\ncommand=%s\nevents=SHORTAGE_ENTERED,SHORTAGE_EXITED\n' "$T/rec.sh"
        for i in $(seq -w 1 $n); do
            printf '[program:p%s]\ncommand=%s\nstartsecs=0\nstartretries=1\n' "$i" "$H/sleeper"
        done
    } | write_conf
    # keeper + supervisor + 10 programs.
    echo 12 >"$CG/pids.max"
    sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" daemon -n -c "$3"' sh "$CG" "$TEND" "$CONF" \
        >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 15 || fail "tend did not start: $(cat "$T/tend.err")"
    # Programs start in name order: once p30 has an outcome, every one has.
    wait_log "${TS}p$n( \(pid [0-9]+\))?: STARTING -> (RUNNING|BACKOFF)"
    names=$(waiting_names)
    waiting=$(printf '%s\n' $names | grep -c . || true)
    [ "$waiting" -ge 10 ] || fail "only $waiting programs wait under pids.max=12"
    # Each is on its third try: two retries, more than startretries=1 allows.
    for name in $names; do
        wait_log "${TS}$name: STARTING -> BACKOFF: waiting for .*; try 3, next in 2.0s"
    done
    running=$(status_count RUNNING)
    expect_eq "$((running + waiting))" "$n" "running ($running) + waiting ($waiting)"
    expect_eq "$(tendctl status --json | grep -c '"state": "BACKOFF".*"waiting": "processes"')" \
        "$waiting" "programs in BACKOFF waiting for processes"
    expect_eq "$(status_count FATAL)" 0 "FATAL programs"
    line=$(tendctl status --json | grep '"waiting": "processes"' | head -n 1)
    expect_match "$line" '"reason": "waiting for a free process slot \(a pids cgroup limit or RLIMIT_NPROC\): cannot fork: Resource temporarily unavailable"' "a waiting program's reason"
    expect_match "$(tendctl status)" 'BACKOFF .*waiting for a free process slot' "the status table"
    # The SHORTAGE_ENTERED alert could not fork either: tend says so.
    wait_log "alert 'alert:short': cannot fork: Resource temporarily unavailable \(not retried\)"

    # A supervisor restart keeps every wait (the slot), and the waits go on where they were.
    kill -KILL "$TEND_PID"
    wait_log "supervisor restarted by the keeper \(generation 2;"
    TEND_PID=$(sed -n "s/.* started as pid \([0-9]*\) (keeper $KEEPER_PID).*/\1/p" "$LOG" | tail -n 1)
    expect_eq "$(tendctl status --json | grep -c '"state": "BACKOFF".*"waiting": "processes"')" \
        "$waiting" "programs waiting after the supervisor restart"
    expect_eq "$(status_count FATAL)" 0 "FATAL programs after the supervisor restart"
    wait_log "${TS}$(printf '%s\n' $names | tail -n 1): STARTING -> BACKOFF: waiting for .*; try [4-9], next in" 30

    echo max >"$CG/pids.max"
    for name in $names; do
        wait_log "${TS}$name \(pid [0-9]+\): STARTING -> RUNNING: the resource it waited for is back" 40
    done
    expect_eq "$(status_count RUNNING)" "$n" "programs RUNNING after the limit was raised"
    expect_eq "$(tendctl status --json | grep -c '"waiting"')" 0 "programs still waiting"
    expect_eq "$(tendctl status --json | grep -c '"restarts": 0,')" "$n" "programs with 0 restarts"
    expect_eq "$(count_log ' -> FATAL')" 0 "FATAL transitions in tend's log"
    for name in $names; do
        waitfor "$T/alerts.log" "^SHORTAGE_EXITED $name\$" 15 >/dev/null ||
            fail "no SHORTAGE_EXITED alert for $name"
    done
    stop_tend
}

# tend's descriptor table full: its RLIMIT_NOFILE is lowered (prlimit) to the descriptors it
# has open, as if something had used up the rest. Programs killed meanwhile cannot be
# restarted (EMFILE on what a spawn opens: cgroup files, pipes, the pidfd), wait for
# descriptors instead of going FATAL (startretries=0 would have made the first failure final),
# and are all back once the limit is raised again. (Idle control clients cannot do this any
# more: their number is capped below what the programs need.)
t_descriptor_exhaustion_loses_no_service() {
    local i n pids p open hard
    setup
    make_recorder
    n=8
    {
        printf '[alert:short]\ncommand=%s\nevents=SHORTAGE_ENTERED,SHORTAGE_EXITED\n' "$T/rec.sh"
        for i in $(seq 1 $n); do
            printf '[program:d%s]\ncommand=%s\nstartsecs=0\nstartretries=0\n' "$i" "$H/sleeper"
        done
    } | write_conf
    start_tend
    for i in $(seq 1 $n); do
        wait_log "${TS}d$i \(pid [0-9]+\): STARTING -> RUNNING"
    done
    pids=$(tendctl status --json | sed -nE 's/.*"pid": ([0-9]+),.*/\1/p')
    expect_eq "$(printf '%s\n' $pids | grep -c .)" "$n" "pids of the programs"
    hard=$(prlimit --pid "$TEND_PID" --nofile --noheadings --output HARD --raw)
    open=$(ls "/proc/$TEND_PID/fd" | wc -l)
    prlimit --pid "$TEND_PID" --nofile="$open:$hard" || fail "cannot lower tend's RLIMIT_NOFILE"
    for p in $pids; do kill -KILL "$p"; done
    for i in $(seq 1 $n); do
        wait_log "${TS}d$i: STARTING -> BACKOFF: waiting for free file descriptors \(tend's RLIMIT_NOFILE\): cannot [a-z ]+: Too many open files; try 1, next in 0.5s \(startretries not counted\)"
    done
    prlimit --pid "$TEND_PID" --nofile="$hard:$hard" || fail "cannot raise tend's RLIMIT_NOFILE"
    for i in $(seq 1 $n); do
        wait_log "${TS}d$i \(pid [0-9]+\): STARTING -> RUNNING: the resource it waited for is back" 40
    done
    expect_eq "$(status_count RUNNING)" "$n" "programs RUNNING once descriptors are back"
    expect_eq "$(count_log ' -> FATAL')" 0 "FATAL transitions in tend's log"
    for p in $pids; do
        if tendctl status --json | grep -q "\"pid\": $p,"; then fail "pid $p still listed"; fi
    done
    for i in $(seq 1 $n); do
        waitfor "$T/alerts.log" "^SHORTAGE_EXITED d$i\$" 15 >/dev/null ||
            fail "no SHORTAGE_EXITED alert for d$i"
    done
    stop_tend
}

run_tests
