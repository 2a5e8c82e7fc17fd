#!/usr/bin/env bash
# End-to-end tests of pidfile= programs (programs that daemonize themselves, as the origin
# article's servers do): the real tend runs a launcher (daeml --pidfile, or the doublefork
# helper), finds the daemon through its pidfile, watches it without polling and restarts it
# when it dies. Every assertion is on what really happened: pids in the pidfile, in tend's
# log, in `tend status --json` and in /proc; processes that must or must not be alive.
#
# Bad pidfiles are made for real by the program's own command (empty, not a pid, a dead pid,
# a symbolic link, a file owned by another user, a pid that belongs to a stranger started
# before the launch) and each must end in FATAL with its reason in the log and in status.
#
# Synchronisation is on events only (a line in tend's log or in a helper's file, a process
# going away); deadlines only turn a hang into a failure. Timings are never pass/fail
# thresholds except one generous sanity bound (2 s for "noticed at once"): speed is
# bench/pidfile.sh's job.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

# wait_adopted NAME [NOT_PID]: wait for tend to adopt a pid for NAME (other than NOT_PID)
# and print it.
wait_adopted() {
    local want='[0-9]+'
    [ -z "${2:-}" ] || want=$(ere_other "$2")
    wait_log "${TS}$1: adopted pid $want from" >&2
    sed -nE "s/${TS}$1: adopted pid ([0-9]+) from .*/\\2/p" "$LOG" | tail -n 1
}
nadopted() { count_log "${TS}$1: adopted pid "; }

pidfile_pid() { waitfor "$1" '^[0-9]+$' 15 >&2 || fail "no pid in $1"; tr -d '\n' <"$1"; }

# no_zombies: fails if tend has a zombie child that stays one across two control round
# trips (each answered from a later turn of tend's loop than a pending SIGCHLD).
no_zombies() {
    local z1 z2 p
    z1=$(zombies_of "$TEND_PID")
    [ -n "$z1" ] || return 0
    tendctl status >/dev/null
    tendctl status >/dev/null
    z2=$(zombies_of "$TEND_PID")
    for p in $z1; do
        if printf '%s\n' $z2 | grep -qx "$p"; then
            fail "tend leaves a zombie child:"$'\n'"$(describe "$p")"
        fi
    done
}

# -- cases ------------------------------------------------------------------------------------

# daeml --pidfile as the command: tend adopts the daemon daeml started (the pid in the
# pidfile, not the launcher's), which is its descendant (subreaper), and status shows it.
t_adopts_daeml_daemon() {
    setup
    write_conf <<EOF
[program:x]
command=$DAEML --pidfile $T/x.pid $H/sleeper -r $T/x.ready
pidfile=$T/x.pid
startsecs=0
EOF
    start_tend
    local launcher pid ready
    pid=$(wait_adopted x)
    wait_log "${TS}x: adopted pid $pid from $(re "$T/x.pid") \\(a descendant: exit seen through SIGCHLD\\)\$"
    wait_log "${TS}x \\(pid $pid\\): STARTING -> RUNNING"
    launcher=$(sed -nE "s/${TS}x: spawned pid ([0-9]+)\$/\\2/p" "$LOG")
    expect_eq "$(pidfile_pid "$T/x.pid")" "$pid" "the pidfile's pid"
    ready=$(waitfor "$T/x.ready" '^ready ' && sed -n 's/^ready //p' "$T/x.ready")
    expect_eq "$ready" "$pid" "the daemon's own pid"
    [ "$launcher" != "$pid" ] || fail "tend adopted its launcher $launcher"
    expect_eq "$(st x state)" RUNNING "status state"
    expect_eq "$(st x pid)" "$pid" "status pid"
    # Double-forked away from daeml, reparented to tend, the subreaper.
    expect_eq "$(pstat "$pid" 4)" "$TEND_PID" "the daemon's parent"
    "$H/waitfor" -t 10 --gone "$launcher" || fail "the launcher $launcher is still there"
    expect_eq "$(st x pid)" "$pid" "status pid after the launcher exited"
    stop_tend
}

# The article's way: a program that double-forks and writes its own pidfile.
t_adopts_doublefork_daemon() {
    setup
    write_conf <<EOF
[program:df]
command=$H/doublefork -p $T/df.pid -r $T/df.ready
pidfile=$T/df.pid
startsecs=0
EOF
    start_tend
    local pid
    pid=$(wait_adopted df)
    wait_log "${TS}df: adopted pid $pid from $(re "$T/df.pid") \\(a descendant: exit seen through SIGCHLD\\)\$"
    expect_eq "$(pidfile_pid "$T/df.pid")" "$pid" "the pidfile's pid"
    waitfor "$T/df.ready" "^ready $pid\$" || fail "the daemon is not $pid"
    wait_log "${TS}df \\(pid $pid\\): STARTING -> RUNNING"
    expect_eq "$(st df state)" RUNNING "status state"
    expect_eq "$(st df pid)" "$pid" "status pid"
    expect_eq "$(pstat "$pid" 4)" "$TEND_PID" "the daemon's parent"
    stop_tend
    "$H/waitfor" -t 10 --gone "$pid" || fail "the daemon survived tend's shutdown"
}

# SIGKILL of an adopted daemon is noticed at once, through SIGCHLD (so with its real wait
# status), and the program is relaunched: a new daemon is adopted, twice in a row.
t_sigkill_restarts_at_once() {
    setup
    write_conf <<EOF
[program:x]
command=$DAEML --pidfile $T/x.pid $H/sleeper
pidfile=$T/x.pid
startsecs=0
[program:df]
command=$H/doublefork -p $T/df.pid
pidfile=$T/df.pid
startsecs=0
EOF
    start_tend
    local n p1 p2 p3 t0 t1
    for n in x df; do
        p1=$(wait_adopted "$n")
        wait_log "${TS}$n \\(pid $p1\\): STARTING -> RUNNING"
        t0=$(date +%s%3N)
        kill -KILL "$p1"
        wait_log "${TS}$n \\(pid $p1\\): RUNNING -> STARTING: exited: signal 9 \\(SIGKILL\\) after [0-9.]+s \\(unexpected\\); restarting \\(restart #1\\)\$"
        t1=$(line_ms "${TS}$n \\(pid $p1\\): RUNNING -> STARTING: exited: signal 9")
        echo "$n: kill -> exit logged in $((t1 - t0)) ms"
        [ $((t1 - t0)) -lt 2000 ] || fail "$n: the death of $p1 was noticed $((t1 - t0)) ms after the kill"
        p2=$(wait_adopted "$n" "$p1")
        [ "$p2" != "$p1" ] || fail "$n: readopted the dead pid $p1"
        wait_log "${TS}$n \\(pid $p2\\): STARTING -> RUNNING"
        expect_eq "$(pidfile_pid "$T/$n.pid")" "$p2" "$n: the new pidfile's pid"
        expect_eq "$(st "$n" pid)" "$p2" "$n: status pid after the restart"
        expect_eq "$(st "$n" restarts)" 1 "$n: status restarts"
        expect_eq "$(st "$n" exit)" "signal 9 (SIGKILL)" "$n: status exit"
        is_alive "$p2" || fail "$n: the adopted $p2 is not alive"

        kill -KILL "$p2"
        wait_log "${TS}$n \\(pid $p2\\): RUNNING -> STARTING: exited: signal 9 \\(SIGKILL\\) after [0-9.]+s \\(unexpected\\); restarting \\(restart #2\\)\$"
        p3=$(wait_adopted "$n" "$p2")
        [ "$p3" != "$p1" ] || fail "$n: readopted the dead pid $p1"
        wait_log "${TS}$n \\(pid $p3\\): STARTING -> RUNNING"
        expect_eq "$(nadopted "$n")" 3 "$n: adoptions"
    done
    no_zombies
    stop_tend
}

# A pidfile left over from an earlier run names a pid that now belongs to another process
# (started before the launch). The command never writes the pidfile. tend must not adopt
# (nor signal) that process, and must end in FATAL saying why.
t_stale_pidfile_not_adopted() {
    setup
    "$H/sleeper" -r "$T/stranger.ready" &
    local stranger=$!
    TRACKED="$TRACKED $stranger"
    waitfor "$T/stranger.ready" "^ready $stranger\$" || fail "the stranger did not start"
    echo "$stranger" >"$T/x.pid"
    write_conf <<EOF
[program:x]
command=$H/exitwith 0
pidfile=$T/x.pid
startsecs=0
EOF
    start_tend
    local why="pidfile $T/x.pid names pid $stranger, which started before the program was launched"
    wait_log "${TS}x: STARTING -> FATAL: $(re "$why")"
    [ "$(nadopted x)" = 0 ] || fail "tend adopted something"
    expect_eq "$(st x state)" FATAL "status state"
    expect_match "$(st x reason)" "started before the program was launched" "status reason"
    expect_eq "$(st x pid)" 0 "status pid"
    is_alive "$stranger" || fail "the stranger $stranger was killed"
    expect_eq "$(pstat "$stranger" 3)" S "the stranger's state (not stopped, not dead)"
    stop_tend
    is_alive "$stranger" || fail "the stranger $stranger was killed by tend's shutdown"
}

# A stale pidfile that the daemon replaces in time: the stranger is read (and refused) first,
# then the real daemon is adopted, and the stranger is never touched.
t_stale_pidfile_replaced_in_time() {
    setup
    "$H/sleeper" -r "$T/stranger.ready" &
    local stranger=$! pid
    TRACKED="$TRACKED $stranger"
    waitfor "$T/stranger.ready" "^ready $stranger\$" || fail "the stranger did not start"
    echo "$stranger" >"$T/x.pid"
    write_conf <<EOF
[program:x]
command=$H/doublefork -d 300 -p $T/x.pid -r $T/x.ready
pidfile=$T/x.pid
startsecs=0
EOF
    start_tend
    pid=$(wait_adopted x)
    [ "$pid" != "$stranger" ] || fail "tend adopted the stranger"
    waitfor "$T/x.ready" "^ready $pid\$" || fail "tend adopted $pid, not the daemon"
    wait_log "${TS}x \\(pid $pid\\): STARTING -> RUNNING"
    tendctl stop x >/dev/null
    wait_log "${TS}x \\(pid $pid\\): STOPPING -> STOPPED"
    is_alive "$stranger" || fail "the stranger $stranger was killed"
    stop_tend
}

# Each bad pidfile ends in FATAL with its own reason, in the log and in status, after the
# wait for a valid one runs out; what the program started is not adopted.
t_bad_pidfiles_are_fatal_with_reason() {
    setup
    local dead nobody_uid="" foreign=""
    "$H/exitwith" 0 &
    dead=$!
    wait "$dead" || true
    # A pidfile owned by another user can only be made by root (chown).
    if [ "$(id -u)" = 0 ] && nobody_uid=$(id -u nobody 2>/dev/null); then
        foreign=foreign
    else
        echo "note: not root or no user nobody: the foreign-owner pidfile is not tried"
    fi
    mkdir "$T/d"
    {
        cat <<EOF
[program:never]
command=$H/exitwith 0
pidfile=$T/d/never.pid
startsecs=0
[program:linger]
command=$H/sleeper -r $T/linger.ready
pidfile=$T/d/linger.pid
startsecs=0
[program:empty]
command=/bin/sh -c ": > $T/d/empty.pid"
pidfile=$T/d/empty.pid
startsecs=0
[program:notpid]
command=/bin/sh -c "echo hello > $T/d/notpid.pid"
pidfile=$T/d/notpid.pid
startsecs=0
[program:dead]
command=/bin/sh -c "echo $dead > $T/d/dead.pid"
pidfile=$T/d/dead.pid
startsecs=0
[program:symlink]
command=/bin/sh -c "$H/doublefork -p $T/d/real.pid -r $T/symlink.ready && ln -s $T/d/real.pid $T/d/symlink.pid"
pidfile=$T/d/symlink.pid
startsecs=0
EOF
        [ -z "$foreign" ] || cat <<EOF
[program:foreign]
command=/bin/sh -c "$H/doublefork -p $T/d/f.tmp -r $T/foreign.ready && chown nobody $T/d/f.tmp && mv $T/d/f.tmp $T/d/foreign.pid"
pidfile=$T/d/foreign.pid
startsecs=0
EOF
    } | write_conf
    start_tend
    local n why linger
    declare -A want=(
        [never]="pidfile $T/d/never.pid did not appear"
        [linger]="pidfile $T/d/linger.pid did not appear"
        [empty]="pidfile $T/d/empty.pid is empty"
        [notpid]="pidfile $T/d/notpid.pid does not hold a pid"
        [dead]="pidfile $T/d/dead.pid names pid $dead, which is not running"
        [symlink]="pidfile $T/d/symlink.pid is a symbolic link: refused"
        [foreign]="pidfile $T/d/foreign.pid is owned by uid $nobody_uid"
    )
    for n in never linger empty notpid dead symlink $foreign; do
        why=${want[$n]}
        wait_log "${TS}$n( \\(pid [0-9]+\\))?: STARTING -> FATAL: $(re "$why")" 20
        expect_eq "$(st "$n" state)" FATAL "$n: status state"
        expect_match "$(st "$n" reason)" "^$(re "$why")" "$n: status reason"
        [ "$(nadopted "$n")" = 0 ] || fail "$n: tend adopted a pid"
    done
    # A launcher that neither wrote a usable pidfile nor exited is killed, not left behind.
    linger=$(waitfor "$T/linger.ready" '^ready' && sed -n 's/^ready //p' "$T/linger.ready")
    wait_log "${TS}linger: killing launcher pid $linger: "
    "$H/waitfor" -t 10 --gone "$linger" || fail "the lingering launcher $linger is alive"
    # Each was given up only once the wait ran out: one launch, then FATAL.
    for n in never empty notpid dead symlink $foreign; do
        expect_eq "$(count_log "${TS}$n: spawned pid ")" 1 "$n: launches"
    done
    stop_tend
}

# Stop sends the program's stopsignal to the adopted daemon (not to the long-gone
# launcher); the daemon exits by it and the program is STOPPED.
t_stop_sends_stopsignal_to_daemon() {
    setup
    write_conf <<EOF
[program:term]
command=$DAEML --pidfile $T/term.pid $H/sleeper
pidfile=$T/term.pid
startsecs=0
[program:usr1]
command=$H/doublefork -p $T/usr1.pid $H/exitwith -u 7
pidfile=$T/usr1.pid
startsecs=0
stopsignal=USR1
EOF
    start_tend
    local t u
    t=$(wait_adopted term)
    u=$(wait_adopted usr1)
    wait_log "${TS}term \\(pid $t\\): STARTING -> RUNNING"
    wait_log "${TS}usr1 \\(pid $u\\): STARTING -> RUNNING"
    tendctl stop term usr1 >/dev/null || fail "tend stop failed"
    wait_log "${TS}term \\(pid $t\\): RUNNING -> STOPPING: stopping with SIGTERM"
    wait_log "${TS}term \\(pid $t\\): STOPPING -> STOPPED: stopped: exit 0 after"
    wait_log "${TS}usr1 \\(pid $u\\): RUNNING -> STOPPING: stopping with SIGUSR1"
    wait_log "${TS}usr1 \\(pid $u\\): STOPPING -> STOPPED: stopped: exit 7 after"
    "$H/waitfor" -t 10 --gone "$t" || fail "the daemon $t is still alive"
    "$H/waitfor" -t 10 --gone "$u" || fail "the daemon $u is still alive"
    expect_eq "$(st term state)" STOPPED "term: status state"
    expect_eq "$(st usr1 state)" STOPPED "usr1: status state"
    expect_eq "$(st term pid)" 0 "term: status pid"
    [ "$(count_log 'SIGKILL')" = 0 ] || fail "a stop needed SIGKILL"
    # Started again by hand: a new daemon is adopted.
    tendctl start term >/dev/null || fail "tend start failed"
    local t2
    t2=$(wait_adopted term "$t")
    wait_log "${TS}term \\(pid $t2\\): STARTING -> RUNNING"
    no_zombies
    stop_tend
}

# The pidfile names a process that is not in the program's tree (a service outside tend
# starts it on the command's request, after the launch, so the start-time check passes):
# refused, FATAL with the reason, and that process is never signalled.
t_not_descendant_refused() {
    setup
    "$H/e2e_spawner" -f "$T/spawn.fifo" -l "$T/spawner.log" -r "$T/spawner.ready" \
        "$H/sleeper" &
    local spawner=$! p1
    TRACKED="$TRACKED $spawner"
    waitfor "$T/spawner.ready" "^ready $spawner\$" || fail "the spawner did not start"
    write_conf <<EOF
[program:ext]
command=/bin/sh -c "echo $T/ext.pid > $T/spawn.fifo"
pidfile=$T/ext.pid
startsecs=0
EOF
    start_tend
    waitfor "$T/spawner.log" "^spawned [0-9]+ " || fail "the spawner spawned nothing"
    p1=$(sed -nE 's/^spawned ([0-9]+) .*/\1/p' "$T/spawner.log" | head -n 1)
    wait_log "${TS}ext: STARTING -> FATAL: pidfile $(re "$T/ext.pid") names pid $p1, which is not in the program's process tree \\((its cgroup|its launcher's descendants)\\): refused\$" 20
    expect_eq "$(count_log 'adopted pid')" 0 "adoptions"
    expect_eq "$(st ext state)" FATAL "status state"
    stop_tend
    is_alive "$p1" || fail "tend signalled a process outside the program's tree"
    is_alive "$spawner" || fail "tend's shutdown hit the spawner"
}

# A daemon whose parent is still the launcher (a shell that starts it in the background,
# writes $! and waits): it descends from tend, but its exit goes to the launcher, not to
# tend. Its death must still be noticed and the program relaunched.
t_daemon_reaped_by_its_launcher() {
    setup
    write_conf <<EOF
[program:w]
command=/bin/sh -c '$H/sleeper & echo \$! > $T/w.pid.tmp && mv $T/w.pid.tmp $T/w.pid; wait'
pidfile=$T/w.pid
startsecs=0
EOF
    start_tend
    local p1 p2 launcher
    p1=$(wait_adopted w)
    wait_log "${TS}w \\(pid $p1\\): STARTING -> RUNNING"
    launcher=$(sed -nE "s/${TS}w: spawned pid ([0-9]+)\$/\\2/p" "$LOG")
    expect_eq "$(pstat "$p1" 4)" "$launcher" "the daemon's parent"
    kill -KILL "$p1"
    wait_log "${TS}w \\(pid $p1\\): RUNNING -> STARTING: exited: (signal 9 \\(SIGKILL\\)|exit status unknown[^;]*) after"
    p2=$(wait_adopted w "$p1")
    wait_log "${TS}w \\(pid $p2\\): STARTING -> RUNNING"
    expect_eq "$(st w pid)" "$p2" "status pid after the restart"
    no_zombies
    stop_tend
}

# A launcher that lingers after its daemon was adopted (and ignores SIGTERM for a while):
# on shutdown the daemon stops first, the launcher ends 3 s later, and tend must then exit
# rather than wait for it forever.
t_shutdown_waits_for_lingering_launcher() {
    setup
    write_conf <<EOF
[program:x]
command=/bin/sh -c "$H/doublefork -p $T/x.pid && exec $H/withsigs -i TERM $H/exitwith -r $T/launcher.ready -m 3000 0"
pidfile=$T/x.pid
startsecs=0
EOF
    start_tend
    local pid launcher
    pid=$(wait_adopted x)
    wait_log "${TS}x \\(pid $pid\\): STARTING -> RUNNING"
    launcher=$(waitfor "$T/launcher.ready" '^ready ' && sed -n 's/^ready //p' "$T/launcher.ready")
    is_alive "$launcher" || fail "the launcher is gone already"
    stop_tend
    "$H/waitfor" -t 10 --gone "$pid" || fail "the daemon survived"
    "$H/waitfor" -t 10 --gone "$launcher" || fail "the launcher survived"
}

# A daemon that writes its pidfile after its launcher has exited, in a directory the
# launcher creates (as /run/NAME/ often is): the directory did not exist when tend began to
# wait, yet the pidfile must be found and adopted.
t_late_pidfile_in_new_directory() {
    setup
    write_conf <<EOF
[program:late]
command=/bin/sh -c "mkdir $T/run && $H/doublefork -d 500 -p $T/run/late.pid -r $T/late.ready & exit 0"
pidfile=$T/run/late.pid
startsecs=0
EOF
    start_tend
    local pid
    pid=$(waitfor "$T/late.ready" '^ready ' && sed -n 's/^ready //p' "$T/late.ready")
    wait_log "${TS}late: adopted pid $pid from " 15
    wait_log "${TS}late \\(pid $pid\\): STARTING -> RUNNING"
    [ "$(count_log "${TS}late.*FATAL")" = 0 ] || fail "late went FATAL"
    stop_tend
}

# Many programs whose pidfiles appear after their launchers exit, all started at once (more
# than a user's default 128 inotify instances): every daemon is adopted.
t_many_late_pidfiles_all_adopted() {
    setup
    local n=140 i
    mkdir "$T/p"
    for ((i = 0; i < n; i++)); do
        printf '[program:d%03d]\ncommand=/bin/sh -c "%s -d 300 -p %s/p/d%03d.pid & exit 0"\npidfile=%s/p/d%03d.pid\nstartsecs=0\n' \
            "$i" "$H/doublefork" "$T" "$i" "$T" "$i"
    done | write_conf
    start_tend
    for ((i = 0; i < n; i++)); do
        wait_log "${TS}d$(printf %03d "$i"): adopted pid [0-9]+ from " 30
    done
    expect_eq "$(count_log "${TS}d[0-9]+.*FATAL")" 0 "programs gone FATAL"
    stop_tend
}

# Daemons killed over and over leave no zombie under tend: every double-forked
# intermediate and every daemon is reaped.
t_no_zombies_after_kills() {
    setup
    write_conf <<EOF
[program:a]
command=$DAEML --pidfile $T/a.pid $H/sleeper -c 2
pidfile=$T/a.pid
startsecs=0
[program:b]
command=$H/doublefork -p $T/b.pid
pidfile=$T/b.pid
startsecs=0
EOF
    start_tend
    local n p i
    for n in a b; do
        p=$(wait_adopted "$n")
        for i in 1 2; do
            wait_log "${TS}$n \\(pid $p\\): STARTING -> RUNNING"
            kill -KILL "$p"
            wait_log "${TS}$n \\(pid $p\\): RUNNING -> STARTING: exited: signal 9"
            p=$(wait_adopted "$n" "$p")
        done
        wait_log "${TS}$n \\(pid $p\\): STARTING -> RUNNING"
    done
    no_zombies
    stop_tend
}

run_tests
