#!/usr/bin/env bash
# End-to-end tests of readiness (readiness=notify|tcp:PORT|healthcheck, startwaitsecs,
# watchdogsecs) and dependencies (depends_on=): a chain db -> cache -> web where db takes
# 2 s to become ready starts cache and web only after db is ready (from the timestamps the
# programs write: tests/helpers/readyprog notes "start MS PID" and "ready MS PID"); 50
# independent programs start together; a cycle and an unknown name are refused with
# FILE:LINE; stopping db stops web, then cache, then db, and starting it brings them back;
# a READY=1 from a process outside the service, an oversized datagram and garbage change
# nothing; a silent watchdog restarts the program; a supervisor killed with SIGKILL while a
# program waits leaves the wait to its successor.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

free_port() { "$H/e2e_httpd" --free-port || fail "no free port"; }
R=$H/readyprog

# sto NAME KEY: an optional string of NAME's status --json line ("waiting", "status"), ""
# when the line does not have it.
sto() {
    local line
    line=$(tendctl status --json | grep -F "{\"name\": \"$1\", ") || fail "no status for $1"
    printf '%s\n' "$line" | sed -nE 's/.*"'"$2"'": "(([^"\\]|\\.)*)".*/\1/p'
}

# note_ms FILE WHAT [N]: the time of the Nth (default first) "WHAT MS PID" line of FILE.
note_ms() { awk -v w="$2" -v n="${3:-1}" '$1 == w && ++k == n { print $2; exit }' "$1"; }
note_pid() { awk -v w="$2" -v n="${3:-1}" '$1 == w && ++k == n { print $3; exit }' "$1"; }

# chain KIND: db -> cache -> web, db ready after 2 s by KIND (notify, tcp, healthcheck).
chain_conf() {
    local kind=$1 port=$2 ready
    case $kind in
    notify) ready="readiness=notify" ; dbcmd="$R -d 2000 -n -m accepting $T/db.note" ;;
    tcp) ready="readiness=tcp:$port" ; dbcmd="$R -d 2000 -p $port $T/db.note" ;;
    healthcheck)
        ready=$'readiness=healthcheck\nhealthcheck=tcp:127.0.0.1:'"$port"$'\nhealthcheck_interval=1'
        dbcmd="$R -d 2000 -p $port $T/db.note" ;;
    esac
    write_conf <<EOF
[program:db]
command=$dbcmd
$ready
[program:cache]
command=$R -n $T/cache.note
readiness=notify
depends_on=db
[program:web]
command=$R $T/web.note
startsecs=0
depends_on=cache
EOF
}

check_chain() {
    local dbready cachestart webstart cacheready
    waitfor "$T/db.note" '^start ' 15 || fail "db did not start"
    # db needs 2 s: meanwhile the others wait, and say for what (judged only if db was
    # still not ready once the answer came: a loaded machine may take the 2 s first).
    wait_log "${TS}web: waiting for cache"
    local cw table
    cw=$(sto cache waiting)
    table=$(tendctl status) || true   # not all RUNNING: non-zero, as supervisorctl
    if ! grep -q '^ready ' "$T/db.note"; then
        expect_eq "$cw" "waiting for db: not ready (STARTING)" "cache's wait"
        expect_match "$table" 'web +STOPPED .*waiting for cache: not ready' "status table"
    fi
    waitfor "$T/web.note" '^ready ' 20 || fail "web did not start"
    dbready=$(note_ms "$T/db.note" ready)
    cachestart=$(note_ms "$T/cache.note" start)
    cacheready=$(note_ms "$T/cache.note" ready)
    webstart=$(note_ms "$T/web.note" start)
    [ "$cachestart" -ge "$dbready" ] || fail "cache started at $cachestart, db ready at $dbready"
    [ "$webstart" -ge "$cacheready" ] || fail "web started at $webstart, cache ready at $cacheready"
    wait_log "${TS}web \\(pid [0-9]+\\): STARTING -> RUNNING"
    expect_eq "$(st web state)" RUNNING "web's state"
    expect_eq "$(sto web waiting)" "" "web's wait once started"
}

t_chain_ready_by_notify() {
    setup
    chain_conf notify 0
    start_tend
    check_chain
    expect_eq "$(sto db status)" accepting "db's STATUS="
    expect_match "$(tendctl status)" 'db +RUNNING .*accepting' "STATUS= in the table"
    stop_tend
}

t_chain_ready_by_port() {
    setup
    chain_conf tcp "$(free_port)"
    start_tend
    check_chain
    stop_tend
}

t_chain_ready_by_healthcheck() {
    setup
    chain_conf healthcheck "$(free_port)"
    start_tend
    check_chain
    stop_tend
}

# 50 independent programs start side by side: each becomes ready only when the test says so
# (after it has noted its start), so all 50 starting proves none waited for another; the one
# that needs them all starts after the last is ready.
t_fifty_independent_start_in_parallel() {
    setup
    local i last_ready allstart
    cat >"$T/p.sh" <<EOF
echo "start \$\$" >>\$1.started
$H/waitfor -t 120 $T/go '^go\$' || exit 3
exec $R -n \$1
EOF
    {
        for i in $(seq 1 50); do
            printf '[program:p%02d]\ncommand=/bin/sh %s/p.sh %s/p%02d.note\nreadiness=notify\n' \
                "$i" "$T" "$T" "$i"
        done
        printf '[program:all]\ncommand=%s %s/all.note\nstartsecs=0\ndepends_on=%s\n' "$R" "$T" \
            "$(seq -f 'p%02g' -s , 1 50)"
    } | write_conf
    start_tend
    for i in $(seq -f '%02g' 1 50); do
        waitfor "$T/p$i.note.started" '^start ' 60 || fail "p$i did not start"
    done
    expect_eq "$(st p50 state)" STARTING "p50 before go"
    expect_eq "$(st all state)" STOPPED "all before go"
    [ ! -e "$T/all.note" ] || fail "all started before its needs were ready"
    echo go >"$T/go"
    waitfor "$T/all.note" '^ready ' 60 || fail "all did not start"
    last_ready=$(cat "$T"/p*.note | awk '$1 == "ready" { print $2 }' | sort -n | tail -n 1)
    [ "$(cat "$T"/p*.note | grep -c '^ready ')" = 50 ] || fail "not 50 ready"
    allstart=$(note_ms "$T/all.note" start)
    [ "$allstart" -ge "$last_ready" ] || fail "all started at $allstart before $last_ready"
    stop_tend
}

t_cycle_and_unknown_rejected_with_file_line() {
    setup
    local out rc=0
    write_conf <<EOF
[program:a]
command=/bin/true
depends_on=c
[program:b]
command=/bin/true
depends_on=a
[program:c]
command=/bin/true
depends_on=b
EOF
    out=$("$TEND" check -c "$CONF" 2>&1) || rc=$?
    expect_eq "$rc" 1 "tend check's exit status for a cycle"
    expect_match "$out" "^$(re "$CONF"):7: error: depends_on: dependency cycle: a \\($(re "$CONF"):7\\) -> c \\($(re "$CONF"):13\\) -> b \\($(re "$CONF"):10\\) -> a\$" "cycle"
    rc=0
    "$TEND" daemon -n -c "$CONF" >"$T/d.out" 2>&1 || rc=$?
    [ "$rc" != 0 ] || fail "tend daemon accepted a cycle"
    expect_file_match "$T/d.out" "dependency cycle"
    write_conf <<EOF
[program:web]
command=/bin/true
depends_on=db, cache
[program:db]
command=/bin/true
EOF
    rc=0
    out=$("$TEND" check -c "$CONF" 2>&1) || rc=$?
    expect_eq "$rc" 1 "tend check's exit status for an unknown name"
    expect_match "$out" "^$(re "$CONF"):7: error: depends_on: no program, group or process is named 'cache'\$" "unknown"
}

# Line number in tend's log of the first line matching ERE.
log_line_no() { grep -En -- "$1" "$LOG" | head -n 1 | cut -d: -f1; }

t_stop_db_stops_dependents_first_and_start_brings_them_back() {
    setup
    local from s_web s_cache s_db web1 web2 dbready2
    chain_conf notify 0
    start_tend
    waitfor "$T/web.note" '^ready ' 20 || fail "web did not start"
    web1=$(note_pid "$T/web.note" start)
    from=$(wc -l <"$LOG")
    tendctl stop db | grep -q '^db: stopped' || fail "stop db did not report it stopped"
    s_web=$(log_line_no "${TS}web \\(pid [0-9]+\\): STOPPING -> STOPPED")
    s_cache=$(log_line_no "${TS}cache \\(pid [0-9]+\\): RUNNING -> STOPPING")
    s_db=$(log_line_no "${TS}db \\(pid [0-9]+\\): RUNNING -> STOPPING")
    [ -n "$s_web" ] && [ -n "$s_cache" ] && [ -n "$s_db" ] || fail "not every program stopped"
    [ "$s_web" -lt "$s_cache" ] || fail "cache was stopped before web was down"
    [ "$s_cache" -lt "$s_db" ] || fail "db was stopped before cache was down"
    expect_eq "$(st web state)" STOPPED "web after stop db"
    expect_eq "$(sto cache waiting)" "waiting for db: not ready (STOPPED)" "cache after stop db"
    # Starting db brings them back, in order, after db is ready again.
    tendctl start db | grep -q '^db: started' || fail "start db"
    waitfor "$T/web.note" '^ready ' 20 || fail "web did not start"
    waitfor "$T/web.note" "^start [0-9]+ $(ere_other "$web1")\$" 20 || fail "web not back"
    dbready2=$(note_ms "$T/db.note" ready 2)
    [ "$(note_ms "$T/cache.note" start 2)" -ge "$dbready2" ] || fail "cache back before db ready"
    [ "$(note_ms "$T/web.note" start 2)" -ge "$(note_ms "$T/cache.note" ready 2)" ] ||
        fail "web back before cache ready"
    # A restart of db does the same in one command.
    web2=$(note_pid "$T/web.note" start 2)
    tendctl restart db | grep -q '^db: restarted' || fail "restart db"
    waitfor "$T/web.note" "^start [0-9]+ $(ere_other "$web2")\$" 20 || fail "web not back"
    [ "$(note_ms "$T/web.note" start 3)" -ge "$(note_ms "$T/db.note" ready 3)" ] ||
        fail "web back before db ready"
    stop_tend
}

# A program's readiness channel: a READY=1 from outside the service, an oversized datagram
# and garbage from inside it change nothing; the program's own READY=1 then does.
t_forged_oversized_and_garbage_datagrams_change_nothing() {
    setup
    local sock pid n
    cat >"$T/db.sh" <<EOF
$R --send-size "\$NOTIFY_SOCKET" 8192
$R --send "\$NOTIFY_SOCKET" "\$(printf 'READY=1\\001')"
$R --send "\$NOTIFY_SOCKET" 'READY'
echo sent >$T/sent
$H/waitfor -t 60 $T/go '^go\$' || exit 3
exec $R -n $T/db.note
EOF
    write_conf <<EOF
[program:db]
command=/bin/sh $T/db.sh
readiness=notify
[program:web]
command=$R $T/web.note
startsecs=0
depends_on=db
EOF
    start_tend
    waitfor "$T/sent" '^sent$' 15 || fail "db did not send"
    wait_log "${TS}db: notify datagram from pid [0-9]+ ignored: larger than 4096 bytes\$"
    wait_log "${TS}db: notify datagram from pid [0-9]+ ignored: control bytes in it\$"
    wait_log "${TS}db: notify datagram from pid [0-9]+ ignored: a line is not KEY=VALUE\$"
    pid=$(st db pid)
    sock=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^NOTIFY_SOCKET=//p')
    expect_match "$sock" '^@tend/notify/[0-9]+/db$' "db's NOTIFY_SOCKET"
    "$R" --send "$sock" 'READY=1\nSTATUS=forged' || fail "cannot send the forged datagram"
    wait_log "${TS}db: notify datagram from pid [0-9]+ ignored: the sender is not a process of this program\$"
    expect_eq "$(st db state)" STARTING "db after the forgery"
    expect_eq "$(sto db status)" "" "db's status after the forgery"
    expect_eq "$(st web state)" STOPPED "web while db is not ready"
    [ ! -e "$T/web.note" ] || fail "web started"
    echo go >"$T/go"
    waitfor "$T/web.note" '^ready ' 20 || fail "web did not start after db's own READY=1"
    expect_eq "$(st db state)" RUNNING "db after its own READY=1"
    stop_tend
}

t_watchdog_timeout_restarts_the_program() {
    setup
    local p1 from
    write_conf <<EOF
[program:db]
command=$R -n -w 200 $T/db.note
readiness=notify
watchdogsecs=1
EOF
    start_tend
    waitfor "$T/db.note" '^ready ' 15 || fail "db not ready"
    p1=$(note_pid "$T/db.note" start)
    expect_eq "$(tr '\0' '\n' <"/proc/$p1/environ" | grep -c '^WATCHDOG_USEC=1000000$')" 1 "WATCHDOG_USEC"
    # Pinging every 200 ms keeps it alive well past the 1 s watchdog.
    wait_log "${TS}db \\(pid $p1\\): STARTING -> RUNNING"
    from=$(wc -l <"$LOG")
    kill -USR1 "$p1"
    waitfor "$T/db.note" "^silent [0-9]+ $p1\$" 10 || fail "db did not go silent"
    wait_log "${TS}db: restarting: watchdog: no WATCHDOG=1 for 1.0s\$" 10
    wait_log "${TS}db \\(pid $(ere_other "$p1")\\): STARTING -> RUNNING" 15
    # ... after it went silent, not before: nothing says so while it pings.
    [ "$(count_log 'restarting: watchdog')" = 1 ] || fail "more than one watchdog restart"
    [ "$(sed -n "$((from + 1)),\$p" "$LOG" | grep -c 'restarting: watchdog')" = 1 ] ||
        fail "the watchdog fired before the program went silent"
    [ "$(st db pid)" != "$p1" ] || fail "db was not restarted"
    stop_tend
}

# The supervisor is killed (SIGKILL) while cache waits for db: its successor binds db's
# notify socket again, takes db's READY=1 and starts cache.
t_wait_survives_supervisor_kill() {
    setup
    local old
    cat >"$T/db.sh" <<EOF
$H/waitfor -t 60 $T/go '^go\$' || exit 3
exec $R -n $T/db.note
EOF
    write_conf <<EOF
[program:db]
command=/bin/sh $T/db.sh
readiness=notify
[program:cache]
command=$R $T/cache.note
startsecs=0
depends_on=db
EOF
    start_tend
    wait_log "${TS}cache: waiting for db"
    old=$TEND_PID
    kill -KILL "$old"
    waitfor "$LOG" "started as pid [0-9]+ \\(keeper $KEEPER_PID\\).*" 15 >/dev/null
    "$H/waitfor" -t 15 "$LOG" "supervisor restarted by the keeper" >/dev/null || fail "no restart"
    tend_started "$KEEPER_PID" "$LOG" 15
    [ "$TEND_PID" != "$old" ] || fail "the same supervisor"
    expect_eq "$(sto cache waiting)" "waiting for db: not ready (STARTING)" "cache's wait after the restart"
    echo go >"$T/go"
    waitfor "$T/cache.note" '^ready ' 20 || fail "cache did not start after db's READY=1"
    expect_eq "$(st db state)" RUNNING "db"
    stop_tend
}

# A reload applies dependency changes by difference: web waits for db (which is never
# ready); a reload that drops web's need starts web and leaves db's process alone; one that
# adds it back to the running web restarts nothing.
t_reload_applies_dependency_changes_by_difference() {
    setup
    local db1 web1
    cat >"$T/db.sh" <<EOF
exec $H/waitfor -t 120 $T/never '^never\$'
EOF
    conf_web() {   # DEPENDS_ON-LINE
        write_conf <<EOF
[program:db]
command=/bin/sh $T/db.sh
readiness=notify
[program:web]
command=$R $T/web.note
startsecs=0
$1
EOF
    }
    conf_web "depends_on=db"
    start_tend
    wait_log "${TS}web: waiting for db"
    db1=$(st db pid)
    [ -n "$db1" ] && [ "$db1" != 0 ] || fail "db has no pid"
    conf_web ""
    tendctl reload >"$T/reload.out" || fail "reload failed: $(cat "$T/reload.out")"
    expect_file_match "$T/reload.out" "updated web \\(depends_on; the process keeps running\\)"
    waitfor "$T/web.note" '^ready ' 15 || fail "web did not start once it needed nothing"
    expect_eq "$(st db pid)" "$db1" "db's pid across the reload"
    expect_eq "$(st db state)" STARTING "db's state across the reload"
    web1=$(st web pid)
    conf_web "depends_on=db"
    tendctl reload >"$T/reload.out" || fail "reload failed: $(cat "$T/reload.out")"
    expect_file_match "$T/reload.out" "updated web \\(depends_on; the process keeps running\\)"
    expect_eq "$(st web pid)" "$web1" "web's pid after its need came back"
    expect_eq "$(st db pid)" "$db1" "db's pid after the second reload"
    # The graph is the new one: stopping db now stops web first.
    tendctl stop db >/dev/null || fail "stop db"
    expect_eq "$(st web state)" STOPPED "web after stop db"
    expect_eq "$(sto web waiting)" "waiting for db: not ready (STOPPED)" "web's wait"
    stop_tend
}

# A program not ready within startwaitsecs is a failed start (here FATAL at once, with
# startretries=0); what depends on it waits, visibly, instead of crash-looping, and a start
# of it says why it cannot.
t_fatal_dependency_leaves_dependents_waiting() {
    setup
    local out rc=0
    write_conf <<EOF
[program:db]
command=$R $T/db.note
readiness=notify
startwaitsecs=1
startretries=0
[program:web]
command=$R $T/web.note
startsecs=0
depends_on=db
EOF
    start_tend
    wait_log "${TS}db \\(pid [0-9]+\\): STARTING -> STOPPING: not ready within startwaitsecs=1"
    wait_log "${TS}db \\(pid [0-9]+\\): STOPPING -> FATAL: .*giving up: not ready within startwaitsecs=1 in 1 tries"
    expect_eq "$(st db state)" FATAL "db"
    expect_eq "$(st web state)" STOPPED "web"
    expect_eq "$(sto web waiting)" "waiting for db: not ready (FATAL)" "web's wait"
    expect_match "$(tendctl status)" 'web +STOPPED .*waiting for db: not ready \(FATAL\)' "table"
    out=$(tendctl start web 2>&1) || rc=$?
    [ "$rc" != 0 ] || fail "start web succeeded with db FATAL... $out"
    expect_match "$out" "web: waiting for db: not ready" "start web's answer"
    [ ! -e "$T/web.note" ] || fail "web started"
    [ "$(count_log 'web: STOPPED -> STARTING')" = 0 ] || fail "web was started"
    stop_tend
}

# MAINPID= from a process of the program's tree makes it the main process: tend watches it
# (its death restarts the program, though the shell tend started is still there).
t_mainpid_moves_the_main_process() {
    setup
    local child
    cat >"$T/db.sh" <<EOF
$R -n -M -m child $T/db.note &
wait
EOF
    write_conf <<EOF
[program:db]
command=/bin/sh $T/db.sh
readiness=notify
EOF
    start_tend
    waitfor "$T/db.note" '^ready ' 15 || fail "db's child not ready"
    child=$(note_pid "$T/db.note" ready)
    wait_log "${TS}db: main pid is now $child \\(MAINPID= from pid $child\\)"
    wait_log "${TS}db \\(pid $child\\): STARTING -> RUNNING"
    expect_eq "$(st db pid)" "$child" "db's main pid"
    kill -KILL "$child"
    wait_log "${TS}db \\(pid $child\\): RUNNING -> STARTING: exited: .*restarting"
    waitfor "$T/db.note" "^ready [0-9]+ $(ere_other "$child")\$" 15 || fail "db not back"
    stop_tend
}

run_tests
