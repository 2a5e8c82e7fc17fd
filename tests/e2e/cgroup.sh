#!/usr/bin/env bash
# End-to-end tests of process trees: every service in its own cgroup, nothing left behind
# after its main process dies, is stopped, or tend shuts down (also as PID 1 of a PID
# namespace), limits, usage in status, and the process-group fallback without cgroups.
#
# Each case runs tend inside a cgroup of its own ($CG, made under the cgroup2 mount), so
# that every cgroup tend makes is under it; the case's clean-up kills whatever is in it and
# removes it (and the v1 cgroups tend made for limits), even when the case fails.
# Synchronisation is on events (a line in tend's log or a helper's ready file, a process
# going away); deadlines only turn a hang into a failure.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

V2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
CG=""

cg_setup() {
    setup
    [ -n "$V2" ] || skip "no cgroup2 hierarchy is mounted"
    [ "$(id -u)" = 0 ] || skip "needs root to create cgroups"
    CG=$(mktemp -u "$V2/tendtest.XXXXXX")
    mkdir "$CG" || skip "cannot create a cgroup under $V2"
    trap 'rc=$?; cg_cleanup; (exit $rc); cleanup' EXIT
}

# Kills everything in $CG (tend first), then removes every cgroup under it, deepest first,
# and the v1 cgroups tend made for this case's limits.
cg_cleanup() {
    local d f round
    set +e
    [ -z "$KEEPER_PID" ] || kill -KILL "$KEEPER_PID" 2>/dev/null
    [ -z "$TEND_PID" ] || kill -KILL "$TEND_PID" 2>/dev/null
    [ -n "$CG" ] && [ -d "$CG" ] || return 0
    for round in 1 2 3 4 5; do
        for d in $(find "$CG" -depth -type d); do
            [ -e "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null
        done
        for d in $(find "$CG" -depth -type d); do
            "$H/waitfor" -t 10 "$d/cgroup.events" '^populated 0$' >/dev/null 2>&1
            rmdir "$d" 2>/dev/null
        done
        [ -d "$CG" ] || break
    done
    for f in /sys/fs/cgroup/memory /sys/fs/cgroup/pids; do
        [ -d "$f" ] || continue
        for d in $(find "$f" -depth -type d -name "tend-$(basename "$CG")*" 2>/dev/null); do
            find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
    done
    return 0
}

# start_in_cg [ENV=VALUE...]: tend in the foreground, inside $CG.
start_in_cg() {
    (echo "$BASHPID" >"$CG/cgroup.procs" && exec env "$@" "$TEND" daemon -n -c "$CONF") \
        >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 15 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
}

# After start_in_cg with escape_conf: waits for esc; sets the caller's main and esc (the
# program, and the child that left its session).
esc_ready() {
    waitfor "$T/esc.ready" '^escaped' || fail "esc never got ready"
    main=$(ready_pid "$T/esc.ready" ready)
    esc=$(ready_pid "$T/esc.ready" escaped)
}
ready_pid() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }   # FILE KEY
cg_pids() { sort -n "$CG/svc.$1/cgroup.procs" | tr '\n' ' ' | sed 's/ $//'; }
all_gone() {   # PID...: each is gone within 10 s
    local p
    for p in "$@"; do
        "$H/waitfor" -t 10 --gone "$p" >/dev/null 2>&1 || fail "pid $p is still alive:"$'\n'"$(describe "$p")"
    done
}

prefork_conf() {   # PORT [TEND_KEY=VALUE...]
    local port=$1
    shift
    write_conf "$@" <<EOF
[program:web]
command=$H/treeprog prefork -r $T/web.ready -p $port -w 2
startsecs=0
stopwaitsecs=5
EOF
}

# kill -9 of the master, as with nginx: its two workers hold the port. The next instance must
# bind it, and no worker of the old one may be left; the log says what was killed.
prefork_case() {
    local m1 w1 w2 m2
    waitfor "$T/web.ready" '^worker' || fail "web never got ready"
    m1=$(ready_pid "$T/web.ready" ready)
    read -r w1 w2 < <(awk '$1 == "worker" { printf "%s ", $2 } END { print "" }' "$T/web.ready")
    mv "$T/web.ready" "$T/web.ready.1"
    kill -KILL "$m1"
    waitfor "$T/web.ready" '^worker' || fail "the next instance did not get ready (port taken?)"
    all_gone "$w1" "$w2"
    wait_log "killed 2 leftover processes of web"
    m2=$(ready_pid "$T/web.ready" ready)
    [ "$m2" != "$m1" ] || fail "no new instance"
    expect_eq "$(st web state)" RUNNING "web's state"
    expect_eq "$(st web pid)" "$m2" "web's pid"
}

t_prefork_master_killed() {
    cg_setup
    local port
    port=$("$H/treeprog" freeport)
    prefork_conf "$port"
    start_in_cg
    prefork_case
    # Every process of the new instance, and only those, is in web's cgroup.
    local want
    want=$(awk '{ print $2 }' "$T/web.ready" | sort -n | tr '\n' ' ' | sed 's/ $//')
    expect_eq "$(cg_pids web)" "$want" "the processes in web's cgroup"
    stop_tend
}

# The same with the kernel's clone3 path switched off: the child joins its cgroup itself.
t_prefork_without_clone3() {
    cg_setup
    local port
    port=$("$H/treeprog" freeport)
    prefork_conf "$port"
    start_in_cg TEND_CGROUP_NO_CLONE3=1
    waitfor "$T/web.ready" '^worker' || fail "web never got ready"
    expect_match "$(cg_pids web)" "(^| )$(ready_pid "$T/web.ready" ready)( |$)" "the master in web's cgroup"
    prefork_case
    stop_tend
}

# Without cgroups (cgroups=false): the dead master's process group is stopped instead.
t_fallback_prefork() {
    setup
    local port
    port=$("$H/treeprog" freeport)
    prefork_conf "$port" "cgroups=false"
    start_tend
    wait_log "cgroups not used: disabled by cgroups=false"
    prefork_case
    stop_tend
}

escape_conf() {   # [TEND_KEY=VALUE...]
    write_conf "$@" <<EOF
[program:esc]
command=$H/treeprog escape -r $T/esc.ready -t $T/esc.term
startsecs=0
stopwaitsecs=5
EOF
}

# A child that double-forks into a new session is stopped with its service, by stopsignal:
# its SIGTERM handler runs.
t_stop_stops_escaped_child() {
    cg_setup
    escape_conf
    start_in_cg
    local main esc
    esc_ready
    [ "$(pstat "$esc" 6)" != "$(pstat "$main" 6)" ] || fail "the child did not leave the session"
    tendctl stop esc >/dev/null
    wait_log "killed 1 leftover process of esc"
    all_gone "$main" "$esc"
    expect_file_match "$T/esc.term" "^term $esc\$"
    expect_eq "$(cat "$CG/svc.esc/cgroup.procs")" "" "esc's cgroup"
    stop_tend
}

# The supervisor killed: the keeper (in the leaf with it, so that the cgroup itself holds no
# process) starts one that finds the same tree, with the program it takes back in it, and
# stops that program's whole tree, the escaped child included.
t_supervisor_killed_keeps_the_tree() {
    cg_setup
    escape_conf
    start_in_cg
    local main esc
    esc_ready
    expect_eq "$(sed -n 's/^0:://p' "/proc/$KEEPER_PID/cgroup")" "${CG#"$V2"}/tend" "the keeper's cgroup"
    expect_eq "$(cat "$CG/cgroup.procs")" "" "processes in tend's own cgroup"
    kill -KILL "$TEND_PID"
    wait_log "generation 2;"
    tend_started "$KEEPER_PID" "$LOG" 15 || fail "no second supervisor"
    wait_log "esc: pid $main taken back"
    expect_eq "$(count_log "cgroups: every program in its own cgroup under $(re "$CG")( |\$)")" 2 "cgroup trees"
    expect_eq "$(cg_pids esc)" "$(printf '%s\n' "$main" "$esc" | sort -n | tr '\n' ' ' | sed 's/ $//')" "esc's cgroup"
    tendctl stop esc >/dev/null
    wait_log "killed 1 leftover process of esc"
    all_gone "$main" "$esc"
    expect_file_match "$T/esc.term" "^term $esc\$"
    stop_tend
}

# stopleftovers=false keeps supervisord's behaviour while tend runs; tend shutdown still
# leaves nothing behind: the kept process gets SIGTERM (its handler runs).
t_shutdown_leaves_nothing() {
    cg_setup
    escape_conf
    cat >>"$CONF" <<EOF
stopleftovers=false
autorestart=false
EOF
    start_in_cg
    local main esc
    esc_ready
    kill -KILL "$main"
    wait_log "esc \\(pid $main\\): RUNNING -> EXITED"
    is_alive "$esc" || fail "stopleftovers=false: the leftover was stopped"
    expect_eq "$(count_log 'leftover process')" 0 "leftover lines before shutdown"
    tendctl shutdown >/dev/null
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
    wait "$KEEPER_PID" || fail "tend's exit status"
    TEND_PID="" KEEPER_PID=""
    all_gone "$esc"
    expect_file_match "$T/esc.term" "^term $esc\$"
    expect_eq "$(find "$CG" -mindepth 1 -type d -name 'svc.*' | wc -l)" 0 "service cgroups left"
}

# The fallback: an orphan that left its group (setsid) reaches tend and is stopped at
# shutdown with SIGTERM, then its handler runs.
t_fallback_shutdown_orphan() {
    setup
    escape_conf "cgroups=false"
    start_tend
    waitfor "$T/esc.ready" '^escaped' || fail "esc never got ready"
    local esc
    esc=$(ready_pid "$T/esc.ready" escaped)
    tendctl shutdown >/dev/null
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
    TEND_PID="" KEEPER_PID=""
    all_gone "$esc"
    expect_file_match "$T/esc.term" "^term $esc\$"
}

# tend as PID 1 of a PID namespace: at shutdown the abandoned process gets SIGTERM from tend
# (its handler runs), not the kernel's SIGKILL when PID 1 exits.
t_pid_namespace_shutdown() {
    cg_setup
    command -v unshare >/dev/null || skip "no unshare(1)"
    escape_conf
    (echo "$BASHPID" >"$CG/cgroup.procs" &&
        exec unshare --pid --fork --mount-proc "$TEND" daemon -n -c "$CONF") \
        >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    local outer=$!
    waitfor "$LOG" "started as pid [0-9]+ \\(keeper 1\\)" || fail "tend did not start as PID 1: $(cat "$T/tend.err")"
    waitfor "$T/esc.ready" '^escaped' || fail "esc never got ready"
    local esc
    esc=$(ready_pid "$T/esc.ready" escaped)
    tendctl shutdown >/dev/null
    "$H/waitfor" -t 30 --gone "$outer" || fail "tend did not exit"
    wait "$outer" || fail "unshare/tend exit status"
    expect_file_match "$T/esc.term" "^term $esc\$"
    expect_eq "$(count_log 'tend exiting')" 1 "tend's last words"
}

# memory_max: a program allocating past it is killed by the OOM killer, reported as out of
# memory (log and status), and restarted. On a hybrid host this goes through cgroup v1.
t_memory_limit_oom() {
    cg_setup
    write_conf <<EOF
[program:hog]
command=$H/treeprog alloc -r $T/hog.ready
memory_max=32MB
startsecs=0
[alert:oom]
command=echo "\$TEND_EVENT \$TEND_PROCESS \$TEND_PID" >> $T/alerts.log
EOF
    start_in_cg
    wait_log "hog \\(pid [0-9]+\\): RUNNING -> STARTING: exited: signal 9 \\(SIGKILL\\), out of memory" 30
    local first
    first=$(sed -nE 's/.*hog: spawned pid ([0-9]+)$/\1/p' "$LOG" | head -n 1)
    # Restarted: a second instance, whatever its own fate under the limit.
    wait_log "hog: spawned pid $(ere_other "$first")\$" 15
    expect_match "$(st hog exit)" "out of memory" "hog's last exit in status"
    # An alert with the default events hears of it.
    waitfor "$T/alerts.log" '^OUT_OF_MEMORY hog [0-9]+$' 15 || fail "no OUT_OF_MEMORY alert"
    stop_tend
}

# tasks_max: a fork bomb inside a service stops at the limit; tend and another service keep
# running and answering.
t_tasks_limit_fork_bomb() {
    cg_setup
    write_conf <<EOF
[program:bomb]
command=$H/treeprog forkbomb -r $T/bomb.ready
tasks_max=20
startsecs=0
[program:calm]
command=$H/treeprog escape -r $T/calm.ready -t $T/calm.term
startsecs=0
EOF
    start_in_cg
    waitfor "$T/bomb.ready" '^forks' 30 || fail "the fork bomb did not stop"
    local forks err
    read -r _ forks _ err < <(grep '^forks' "$T/bomb.ready")
    [ "$forks" -lt 20 ] || fail "$forks forks under tasks_max=20"
    expect_eq "$err" 11 "the fork bomb's errno (EAGAIN)"
    waitfor "$T/calm.ready" '^escaped' || fail "calm never got ready"
    expect_eq "$(st bomb state)" RUNNING "bomb's state"
    expect_eq "$(st calm state)" RUNNING "calm's state"
    expect_eq "$(st bomb tasks)" "$((forks + 1))" "bomb's task count in status"
    stop_tend
}

# status --json: memory, CPU and tasks of each running service from its cgroup.
t_status_usage() {
    cg_setup
    write_conf <<EOF
[program:esc]
command=$H/treeprog escape -r $T/esc.ready -t $T/esc.term
startsecs=0
EOF
    start_in_cg
    waitfor "$T/esc.ready" '^escaped' || fail "esc never got ready"
    expect_eq "$(st esc tasks)" 2 "esc's tasks (main and the escaped child)"
    expect_match "$(st esc memory)" '^[1-9][0-9]+$' "esc's memory"
    expect_match "$(st esc cpu)" '^[0-9]+$' "esc's CPU"
    tendctl status >"$T/out" || true
    expect_match "$(head -n 1 "$T/out")" '^NAME +STATE +PID +UPTIME +RESTARTS +MEM +CPU +TASKS$' "table header"
    stop_tend
}

# A status reads usage for a bounded time (the tests' knob makes it one program: no test
# machine has the thousands it takes), then answers: a program it did not reach shows its
# last reading (none yet: -). Statuses of all programs read them in turn, so each gets its
# figures however many there are (the knob keeps no reading past its status here: without
# the turns, every status would read the first program again). A stopped program has none.
t_status_reads_usage_in_turns() {
    cg_setup
    local i
    for i in $(seq -w 1 12); do
        printf '[program:s%s]\ncommand=%s\nstartsecs=0\n' "$i" "$H/sleeper"
    done | write_conf loglevel=debug
    printf '[program:off]\ncommand=%s\nautostart=false\n' "$H/sleeper" >>"$CONF"
    start_in_cg TEND_TEST_STATUS_READ_NS=0 TEND_TEST_USAGE_MAX_AGE_NS=0
    for i in $(seq -w 1 12); do
        waitfor "$LOG" "s$i \\(pid [0-9]+\\): STARTING -> RUNNING" 15 >/dev/null ||
            fail "s$i is not RUNNING"
    done
    tendctl status s03 s11 >"$T/two" || fail "status s03 s11"
    wait_log "control: status of 2 processes: usage of 1 read, the last reading shown for the rest"
    expect_match "$(awk '$1 == "s03"' "$T/two")" ' [0-9.]+[BKMG] +[0-9.]+s? +1$' "s03's figures"
    expect_match "$(awk '$1 == "s11"' "$T/two")" ' - +- +-$' "s11's figures, not read yet"
    for i in $(seq 1 12); do
        tendctl status --json >"$T/all.json" || true
    done
    expect_eq "$(grep -c '"state": "RUNNING".*"memory": [1-9][0-9]*, "cpu": [0-9]*, "tasks": 1}' "$T/all.json")" 12 \
        "RUNNING programs with their figures after 12 statuses"
    expect_eq "$(grep '"name": "off"' "$T/all.json" | grep -c '"memory"')" 0 "figures of a stopped program"
    expect_match "$(head -n 1 "$T/two")" '^NAME +STATE +PID +UPTIME +RESTARTS +MEM +CPU +TASKS$' "table header"
    stop_tend
}

# During a mass restart a status reads usage for a shorter time (one program here too), and
# answers with each other program's last reading (none for a new instance: -). The
# supervisor is stopped while all 200 programs are killed and the request is sent, so the
# exits and the request wait together; 200 spawns take at least four turns of the loop
# (64 a slice at most), and the request is served in the first or second. Once the restart
# is over, statuses give every figure again.
t_status_usage_during_a_mass_restart() {
    cg_setup
    local n=200 i pids p got
    for i in $(seq 1 "$n"); do
        printf '[program:s%03d]\ncommand=%s\nstartsecs=0\n' "$i" "$H/sleeper"
    done | write_conf loglevel=debug
    start_in_cg TEND_TEST_STATUS_READ_NS=0
    local deadline=$((SECONDS + 120))
    until [ "$(tendctl status | awk '$2 == "RUNNING"' | wc -l)" -eq "$n" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "not all $n RUNNING"
        sleep 0.2
    done
    pids=$(tendctl status | awk '$2 == "RUNNING" { print $3 }')
    kill -STOP "$TEND_PID"
    kill -KILL $pids
    for p in $pids; do
        until [ "$(stat_field "$p" 3)" = Z ]; do
            [ "$SECONDS" -lt "$deadline" ] || fail "pid $p is not a zombie"
            sleep 0.05
        done
    done
    "$TEND" -s "$T/tend.sock" status >"$T/during" &
    local client=$!
    # The client has connected and sent its request: it sleeps, waiting for the answer.
    until [ "$(stat_field "$client" 3)" = S ] &&
        ls -l "/proc/$client/fd" 2>/dev/null | grep -q 'socket:'; do
        [ "$SECONDS" -lt "$deadline" ] || fail "the client did not connect"
        sleep 0.05
    done
    kill -CONT "$TEND_PID"
    local rc=0
    wait "$client" || rc=$?
    # 3: some are not RUNNING, which is what a status during the restart sees.
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "the status during the restart exited $rc"
    wait_log "control: status of $n processes during a mass restart: usage of 1 read"
    expect_eq "$(awk 'NR > 1' "$T/during" | wc -l)" "$n" "rows of the status during the restart"
    until [ "$(tendctl status | awk '$2 == "RUNNING" && $3 !~ /^('"$(echo $pids | tr ' ' '|')"')$/' | wc -l)" -eq "$n" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "not all $n back"
        sleep 0.2
    done
    # One program read a status (the knob), each in turn: n statuses read them all (a
    # reading that ages meanwhile is still shown until its program's turn comes again).
    for i in $(seq 1 $((2 * n))); do
        got=$(tendctl status | awk '$2 == "RUNNING" && $6 ~ /^[0-9.]+[BKMG]$/ && $8 == 1' | wc -l)
        [ "$got" -lt "$n" ] || break
    done
    expect_eq "$got" "$n" "programs with their figures once the restart is over"
    stop_tend
}

# tend check refuses limits this host cannot apply, naming file, line, key and reason.
t_check_refuses_unavailable_limits() {
    setup
    write_conf "cgroups=false" <<EOF
[program:a]
command=/bin/true
memory_max=10MB
EOF
    local rc=0
    "$TEND" check -c "$CONF" 2>"$T/err" || rc=$?
    expect_eq "$rc" 1 "tend check's exit status"
    expect_file_match "$T/err" "^$(re "$CONF"):[0-9]+: error: \\[program:a\\] memory_max: cannot be applied: cgroups=false in \\[tend\\]$"
    if ! grep -qw memory "$V2/cgroup.controllers" 2>/dev/null; then
        # A hybrid host: memory_high has no v1 equivalent.
        write_conf <<EOF
[program:b]
command=/bin/true
memory_high=10MB
EOF
        rc=0
        "$TEND" check -c "$CONF" 2>"$T/err" || rc=$?
        expect_eq "$rc" 1 "tend check's exit status for memory_high"
        expect_file_match "$T/err" "memory_high: cannot be applied: it needs the cgroup v2 memory controller"
    fi
    if ! grep -qw cpu "$V2/cgroup.controllers" 2>/dev/null; then
        write_conf <<EOF
[program:c]
command=/bin/true
cpu_weight=50
EOF
        rc=0
        "$TEND" check -c "$CONF" 2>"$T/err" || rc=$?
        expect_eq "$rc" 1 "tend check's exit status for cpu_weight"
        expect_file_match "$T/err" "cpu_weight: cannot be applied: it needs the cgroup v2 cpu controller"
    fi
    # What the host can apply passes.
    { grep -qw memory "$V2/cgroup.controllers" || [ -d /sys/fs/cgroup/memory ]; } &&
        { grep -qw pids "$V2/cgroup.controllers" || [ -d /sys/fs/cgroup/pids ]; } || return 0
    write_conf <<EOF
[program:d]
command=/bin/true
memory_max=10MB
tasks_max=10
EOF
    "$TEND" check -c "$CONF" >"$T/out" 2>"$T/err" || fail "tend check refused: $(cat "$T/err")"
}

# Hostile pidfiles. A pidfile program whose pidfile names another service's process (one
# started after its launcher, so the start-time check passes) is refused: it ends FATAL with
# the reason, and the other service is untouched (same pid, alive, RUNNING), also after a stop
# of the hostile program. hostile_conf [TEND_KEY=VALUE...]
hostile_case() {
    write_conf "$@" <<EOF
[program:hostile]
command=/bin/sh -c '$H/waitfor -t 10 $T/victim.ready "^ready" && sed -n "s/^ready //p" $T/victim.ready > $T/h.pid.tmp && mv $T/h.pid.tmp $T/h.pid'
pidfile=$T/h.pid
startsecs=0
priority=1
[program:victim]
command=$H/sleeper -r $T/victim.ready
startsecs=0
priority=2
EOF
}
hostile_check() {
    local v
    waitfor "$T/victim.ready" '^ready' || fail "victim never got ready"
    v=$(sed -n 's/^ready //p' "$T/victim.ready")
    wait_log "hostile: .*-> FATAL: pidfile $(re "$T/h.pid") names pid $v, which belongs to victim: refused" 20
    tendctl stop hostile >/dev/null 2>&1 || true
    is_alive "$v" || fail "the victim was killed"
    expect_eq "$(st victim pid)" "$v" "victim's pid"
    expect_eq "$(st victim state)" RUNNING "victim's state"
    expect_eq "$(count_log 'adopted pid')" 0 "adoptions"
    stop_tend
}
t_hostile_pidfile_other_service() {
    cg_setup
    hostile_case
    start_in_cg
    hostile_check
}
t_fallback_hostile_pidfile_other_service() {
    setup
    hostile_case "cgroups=false"
    start_tend
    hostile_check
}

# A pidfile in a directory every user may write is refused, whatever it names.
t_hostile_pidfile_public_directory() {
    cg_setup
    mkdir -m 1777 "$T/pub"
    write_conf <<EOF
[program:d]
command=$H/doublefork -p $T/pub/d.pid
pidfile=$T/pub/d.pid
startsecs=0
EOF
    start_in_cg
    wait_log "d: .*-> FATAL: pidfile refused: its directory $(re "$T/pub") is writable by every user" 20
    expect_eq "$(count_log 'adopted pid')" 0 "adoptions"
    stop_tend
}

# rlimit_*: applied to the program, soft and hard, with or without cgroups; a bad value is a
# config error naming file, line and key.
t_rlimits_apply() {
    setup
    write_conf "cgroups=false" <<EOF
[program:r]
command=$H/sleeper -r $T/r.ready
rlimit_nofile=123
rlimit_core=0
rlimit_fsize=unlimited
rlimit_nproc=1000
startsecs=0
EOF
    start_tend
    waitfor "$T/r.ready" '^ready' || fail "r never got ready"
    local pid
    pid=$(sed -n 's/^ready //p' "$T/r.ready")
    expect_file_match "/proc/$pid/limits" '^Max open files +123 +123 '
    expect_file_match "/proc/$pid/limits" '^Max core file size +0 +0 '
    expect_file_match "/proc/$pid/limits" '^Max file size +unlimited +unlimited '
    expect_file_match "/proc/$pid/limits" '^Max processes +1000 +1000 '
    stop_tend
    write_conf <<EOF
[program:r]
command=/bin/true
rlimit_core=lots
EOF
    local rc=0
    "$TEND" check -c "$CONF" 2>"$T/err" || rc=$?
    expect_eq "$rc" 1 "tend check's exit status"
    expect_file_match "$T/err" "^$(re "$CONF"):[0-9]+: error: rlimit_core: 'lots' is not a number, a size \\(with KB, MB or GB\\) or unlimited"
}

# Without permission to create cgroups (tend run by an ordinary user, no delegated subtree):
# tend says so once and falls back to process groups; a killed master's workers still go.
t_fallback_without_permission() {
    setup
    command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
    [ "$(id -u)" = 0 ] || skip "needs root to switch to user nobody"
    [ "$(id -u nobody 2>/dev/null)" = 65534 ] || skip "no user nobody with uid 65534"
    chown 65534 "$T" "$T/logs"   # its socket directory, log and childlogdir
    local port
    port=$("$H/treeprog" freeport)
    prefork_conf "$port"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$TEND" daemon -n -c "$CONF" \
        >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 15 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
    wait_log "WARN cgroups not used: cannot create cgroup.*: Permission denied; falling back to process groups"
    expect_eq "$(count_log 'cgroups not used')" 1 "times tend says so"
    prefork_case
    stop_tend
}

# A reload that changes a program stops the old instance's whole tree before the new one
# starts: the escaped child of the old one is gone (its handler ran) when the new one spawns.
t_reload_waits_for_leftovers() {
    cg_setup
    escape_conf
    start_in_cg
    waitfor "$T/esc.ready" '^escaped' || fail "esc never got ready"
    local esc
    esc=$(ready_pid "$T/esc.ready" escaped)
    mv "$T/esc.ready" "$T/esc.ready.1"
    escape_conf
    sed -i 's/^\(command=.*\)$/\1 -w 3/' "$CONF"   # a new command: a restart
    tendctl reload >/dev/null
    waitfor "$T/esc.ready" '^escaped' || fail "the new esc never got ready"
    expect_file_match "$T/esc.term" "^term $esc\$"
    local killed spawned
    killed=$(grep -n 'killed 1 leftover process of esc' "$LOG" | head -n 1 | cut -d: -f1)
    spawned=$(grep -n 'esc: spawned pid' "$LOG" | sed -n 2p | cut -d: -f1)
    [ -n "$killed" ] && [ -n "$spawned" ] && [ "$killed" -lt "$spawned" ] ||
        fail "the new instance started before the old one's leftovers were gone"
    stop_tend
}
run_tests
