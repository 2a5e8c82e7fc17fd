#!/usr/bin/env bash
# End-to-end tests of examples/stacks/: each example runs under a real tend with the real
# software (nginx, redis, Python, Node.js from Debian; scripts/deps.sh installs them) and is
# checked the way its user would: the service answers on its port, comes back after it dies,
# and stops cleanly. Each case copies its example into its temporary directory $T (so every
# file the example writes, logs and pidfiles included, stays in $T), puts a free port in
# place of the example's own, and runs it through a main config whose [include] names the
# example's tend.conf, as /etc/tend/tend.conf includes conf.d/*.conf.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)

free_port() { "$H/e2e_httpd" --free-port || fail "no free port"; }

# use_example NAME [FROM TO]...: copy examples/stacks/NAME to $T/NAME, replace each FROM
# (a sed regex) by TO in its files, and write the main config including its tend.conf.
use_example() {
    local name=$1 f
    shift
    cp -r "$ROOT/examples/stacks/$name" "$T/$name"
    while [ $# -ge 2 ]; do
        for f in "$T/$name"/*; do
            [ -f "$f" ] && sed -i "s|$1|$2|g" "$f"
        done
        shift 2
    done
    write_conf <<EOF
[include]
files = $T/$name/tend.conf
EOF
    "$TEND" check -c "$CONF" >check.out 2>&1 || { cat check.out; fail "tend check"; }
}

need() {   # COMMAND...: skip unless installed
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null || skip "$c is not installed (scripts/deps.sh installs it)"
    done
}

# http_get PORT [PATH]: the response body (HTTP/1.0 over bash's /dev/tcp; no client needed).
http_get() {
    local resp
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "${2:-/}" >&3
    resp=$(cat <&3)
    exec 3<&-
    printf '%s\n' "$resp" | grep -q '^HTTP/1\.[01] 200' || { echo "$resp" >&2; return 1; }
    printf '%s\n' "${resp#*$'\r\n\r\n'}"
}

# nth_pid NAME N WHAT: the pid in the Nth "NAME: WHAT pid P" line of tend's log (WHAT is
# spawned or adopted), once it is there: grep -m N returns at the Nth line tail -f hands it.
nth_pid() {
    local line
    line=$(timeout 30 grep -m "$2" -E "$TS$(re "$1"): $3 pid [0-9]+" < <(tail -n +1 -f "$LOG") |
        tail -n 1)
    [ -n "$line" ] || fail "no $3 line number $2 for $1"
    sed -E "s/.*: $3 pid ([0-9]+).*/\1/" <<<"$line"
}

# The pid of a program per tend, once RUNNING.
running_pid() {
    wait_log "${TS}$(re "$1") \\(pid [0-9]+\\): STARTING -> RUNNING" 30
    st "$1" pid
}

t_nginx_foreground() {
    need nginx
    setup
    chmod 755 "$T"   # nginx's workers run as nobody and read www/ from here
    local port pid1 pid2
    port=$(free_port)
    use_example nginx "127.0.0.1:8080" "127.0.0.1:$port"
    start_tend
    pid1=$(running_pid nginx)
    waitfor "$T/nginx/nginx.out.log" 'start worker process' 15 || fail "no nginx worker"
    expect_match "$(http_get "$port")" 'served by nginx under tend' "GET /"
    expect_eq "$(cat "$T/nginx/nginx.pid")" "$pid1" "nginx's own pidfile names tend's child"
    # nginx stops (TERM from someone else: a fast shutdown, workers included, exit 0):
    # autorestart=true brings it back at once, and the new master serves.
    kill -TERM "$pid1"
    wait_log "${TS}nginx \\(pid $pid1\\): RUNNING -> (STARTING|BACKOFF)" 30
    pid2=$(nth_pid nginx 2 spawned)
    wait_log "${TS}nginx \\(pid $pid2\\): STARTING -> RUNNING" 30
    waitfor "$T/nginx/nginx.out.log" "$pid2#$pid2: start worker process" 15 ||
        fail "no worker of the new master"
    expect_match "$(http_get "$port")" 'served by nginx under tend' "GET / after the restart"
    # QUIT: a graceful stop, exit 0.
    tendctl stop nginx >/dev/null || fail "tend stop nginx"
    expect_match "$(grep -E "nginx \\(pid $pid2\\): STOPPING -> STOPPED" "$LOG")" "exit 0" \
        "nginx's exit after QUIT"
    [ -z "$(children_of "$TEND_PID")" ] || fail "left: $(describe $(children_of "$TEND_PID"))"
    stop_tend
}

t_nginx_pidfile() {
    need nginx
    setup
    chmod 755 "$T"
    local port master new
    port=$(free_port)
    use_example nginx-pidfile "127.0.0.1:8081" "127.0.0.1:$port"
    start_tend
    master=$(running_pid nginx-daemon)
    expect_eq "$(cat "$T/nginx-pidfile/nginx.pid")" "$master" "the adopted pid is nginx.pid's"
    expect_match "$(http_get "$port")" 'served by nginx under tend' "GET /"
    # nginx exits on its own (TERM from someone else): tend sees it at once and starts it
    # again, adopting the new master from the rewritten pidfile.
    kill -TERM "$master"
    wait_log "${TS}nginx-daemon \\(pid $master\\): RUNNING -> (EXITED|STARTING|BACKOFF)" 30
    new=$(nth_pid nginx-daemon 2 adopted)
    wait_log "${TS}nginx-daemon \\(pid $new\\): STARTING -> RUNNING" 30
    [ "$new" != "$master" ] || fail "not restarted"
    expect_eq "$(cat "$T/nginx-pidfile/nginx.pid")" "$new" "nginx.pid after the restart"
    expect_match "$(http_get "$port")" 'served by nginx under tend' "GET / after the restart"
    tendctl stop nginx-daemon >/dev/null || fail "tend stop"
    "$H/waitfor" -t 30 --gone "$new" || fail "nginx did not stop"
    stop_tend
}

t_redis() {
    need redis-server redis-cli
    setup
    local port pid1 pid2
    port=$(free_port)
    use_example redis "^port 6379" "port $port"
    start_tend
    pid1=$(running_pid redis)
    waitfor "$T/redis/redis.log" 'Ready to accept connections' 15 || fail "redis not ready"
    expect_eq "$(redis-cli -p "$port" ping)" PONG "PING"
    expect_eq "$(redis-cli -p "$port" set k v)" OK "SET"
    redis-cli -p "$port" save >/dev/null
    kill -KILL "$pid1"
    pid2=$(wait_log "${TS}redis \\(pid $pid1\\): RUNNING -> (STARTING|BACKOFF)" 30
           running_pid redis)
    [ "$pid2" != "$pid1" ] || fail "not restarted"
    waitfor "$T/redis/redis.log" "^$pid2:.*Ready to accept connections" 15 ||
        fail "the new redis is not ready"
    expect_eq "$(redis-cli -p "$port" get k)" v "the saved key, after the restart"
    tendctl stop redis >/dev/null || fail "tend stop redis"
    expect_match "$(grep -E "redis \\(pid $pid2\\): STOPPING -> STOPPED" "$LOG")" "exit 0" \
        "redis's exit after TERM"
    stop_tend
}

t_python_prefork() {
    need python3
    setup
    local port master body workers w
    port=$(free_port)
    use_example python-prefork "127.0.0.1:8000" "127.0.0.1:$port"
    start_tend
    master=$(running_pid web)
    waitfor "$T/python-prefork/web.log" "^master $master: listening" 15 || fail "not listening"
    for w in 1 2 3; do
        waitfor "$T/python-prefork/web.log" "^master $master: worker [0-9]+ started" 15
    done
    workers=$(children_of "$master" | sort | xargs)
    expect_eq "$(wc -w <<<"$workers")" 3 "workers of the master"
    body=$(http_get "$port") || fail "GET /"
    expect_match "$body" "^hello from worker [0-9]+ of master $master\$" "GET /"
    w=$(sed -E 's/^hello from worker ([0-9]+) .*/\1/' <<<"$body")
    [[ " $workers " == *" $w "* ]] || fail "answered by $w, not one of $workers"
    # The master replaces a dead worker itself; tend has nothing to do.
    kill -KILL "${workers%% *}"
    waitfor "$T/python-prefork/web.log" "^master $master: worker ${workers%% *} exited" 15
    expect_eq "$(st web pid)" "$master" "the master, untouched by tend"
    # Killed outright, the master is restarted by tend, and its orphaned workers are killed
    # with it (killasgroup): the new master can bind the port again.
    tendctl restart web >/dev/null || fail "tend restart web"
    local master2
    master2=$(st web pid)
    [ "$master2" != "$master" ] || fail "not restarted"
    for w in $workers; do "$H/waitfor" -t 10 --gone "$w" || fail "old worker $w survived"; done
    waitfor "$T/python-prefork/web.log" "^master $master2: listening" 15 || fail "not listening"
    expect_match "$(http_get "$port")" "of master $master2\$" "GET / after the restart"
    tendctl stop web >/dev/null
    expect_file_match "$T/python-prefork/web.log" "^master $master2: every worker stopped"
    stop_tend
}

t_worker_pool() {
    need python3
    setup
    use_example worker-pool
    start_tend
    local n
    for n in 00 01 02 03; do
        running_pid "workers:worker_$n" >/dev/null
        waitfor "$T/worker-pool/worker_$n.log" "^worker_$n: ready" 15 || fail "worker_$n not ready"
    done
    expect_eq "$(tendctl status 'workers:*' | awk 'NR > 1 && $2 == "RUNNING"' | wc -l)" 4 \
        "RUNNING workers"
    # Twenty jobs, each done exactly once, by one of the four.
    for n in $(seq -w 1 20); do
        echo "payload $n" >"$T/worker-pool/spool/.j$n"
        mv "$T/worker-pool/spool/.j$n" "$T/worker-pool/spool/queue/j$n.job"
    done
    for n in $(seq -w 1 20); do
        "$H/waitfor" -t 30 --exists "$T/worker-pool/spool/done/j$n.job" || fail "job $n not done"
        expect_match "$(cat "$T/worker-pool/spool/done/j$n.job")" \
            "^j$n.job PAYLOAD $n by worker_0[0-3] pid [0-9]+\$" "result $n"
    done
    expect_eq "$(ls "$T/worker-pool/spool/queue" "$T/worker-pool/spool/claimed" | grep -c job)" 0 \
        "jobs left in the queue"
    # One worker killed: only it is restarted.
    local old new
    old=$(st workers:worker_00 pid)
    kill -KILL "$old"
    wait_log "${TS}workers:worker_00 \\(pid $old\\): RUNNING -> (STARTING|BACKOFF)" 30
    new=$(running_pid workers:worker_00)
    [ "$new" != "$old" ] || fail "worker_00 not restarted"
    waitfor "$T/worker-pool/worker_00.log" "^worker_00: ready, pid $new\$" 15 ||
        fail "the new worker_00 is not ready"
    for n in 01 02 03; do
        expect_eq "$(grep -c "workers:worker_$n: spawned" "$LOG")" 1 "worker_$n spawns"
    done
    # The pool stops warmly.
    tendctl stop 'workers:*' >/dev/null || fail "tend stop workers:*"
    for n in 00 01 02 03; do
        expect_file_match "$T/worker-pool/worker_$n.log" "^worker_$n: warm shutdown"
    done
    stop_tend
}

t_node() {
    need node
    setup
    local port pid
    port=$(free_port)
    use_example node 'PORT="3000"' "PORT=\"$port\""
    start_tend
    pid=$(running_pid node)
    waitfor "$T/node/node.log" "^listening on 127.0.0.1:$port, pid $pid\$" 15 || fail "not listening"
    expect_match "$(http_get "$port" /hi)" "^hello from node v[0-9.]+ pid $pid\$" "GET /hi"
    expect_file_match "$T/node/node.log" '^GET /hi$'
    tendctl stop node >/dev/null || fail "tend stop node"
    expect_file_match "$T/node/node.log" '^SIGTERM: closing$'
    expect_match "$(grep -E "node \\(pid $pid\\): STOPPING -> STOPPED" "$LOG")" "exit 0" \
        "node's exit after TERM"
    stop_tend
}

t_periodic_job() {
    setup
    use_example periodic 'INTERVAL="3600"' 'INTERVAL="1"'
    mkdir -p "$T/periodic/spool"
    touch -d '2 days ago' "$T/periodic/spool/old.tmp"
    touch "$T/periodic/spool/new.tmp"
    start_tend
    running_pid periodic >/dev/null
    # Three runs, a second apart: the loop goes on by itself.
    waitfor "$T/periodic/periodic.log" "pruned 1 file\\(s\\) from $(re "$T/periodic/spool")\$" 15 ||
        fail "first run"
    # grep -m 3 returns at the third line tail -f hands it; timeout only bounds a hang.
    local runs
    runs=$(timeout 20 grep -m 3 'pruned [0-9]* file' < <(tail -n +1 -f "$T/periodic/periodic.log") |
        wc -l)
    [ "$runs" = 3 ] || fail "$runs runs, not 3: $(cat "$T/periodic/periodic.log")"
    [ ! -e "$T/periodic/spool/old.tmp" ] && [ -e "$T/periodic/spool/new.tmp" ] ||
        fail "the job pruned the wrong files"
    tendctl stop periodic >/dev/null || fail "tend stop periodic"
    [ -z "$(children_of "$TEND_PID")" ] || fail "left: $(describe $(children_of "$TEND_PID"))"
    stop_tend
}

run_tests
