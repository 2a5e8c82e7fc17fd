#!/usr/bin/env bash
# End-to-end tests of tend-web, the HTTP front ([inet_http_server]): a real `tend daemon -n`
# starts it as the unprivileged user nobody, and curl drives it over real HTTP on loopback:
# every endpoint of /api/v1, /metrics (checked by promtool when it is installed), the status
# page's files; authentication required, refused (and slowed), accepted in plain and {SHA}
# form; CSRF refused; oversized and malformed requests; 500 slow clients at once while a
# program is killed and restarted on time; and /proc showing that tend-web holds no
# privilege and that nobody else can use its door into tend.
#
# tend-web listens on port 0 (any free port) and prints the port in its log, which is where
# the tests read it: no fixed port. Synchronisation is on events (a line in a log, a process
# gone, a pid changing in the API); deadlines only turn a hang into a failure.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WEB_LOG=""   # tend-web's own log (its stdout and stderr)
BASE=""      # http://127.0.0.1:PORT

command -v curl >/dev/null || { echo "FAIL web/setup: curl is not installed (scripts/deps.sh)"; exit 1; }

# Sanitizer reports of tend-web, which runs as nobody: they go to a directory it may write.
web_setup() {
    setup
    chmod 711 "$T"
    mkdir -p "$T/san"
    chmod 1777 "$T/san"
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$T/san/asan"
    export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$T/san/ubsan"
    WEB_LOG=$T/logs/e2e/tend-web-stdout.log
}

check_web_sanitizers() { scan_sanitizers "$T"/san/* "$WEB_LOG"; }

# A program that prints a numbered line five times a second and says when it gets SIGHUP.
talker() {
    printf '[program:%s]\ncommand=/bin/sh -c %s\nstopasgroup=true\nstartsecs=0\n' "$1" \
        "'trap \"echo got HUP\" HUP; i=0; while :; do i=\$((i+1)); echo $1 line \$i; sleep 0.2; done'"
}

# ere_other N: an ERE group matching every decimal number without leading zeros except N
# (as in health.sh): to wait for a log line about a pid other than N.
# web_port [PID]: the port tend-web (the one with pid PID, if given) says it listens on.
web_port() {
    local re='listening on http://'
    [ $# -eq 0 ] || re="^tend-web\\[$1\\]: $re"
    waitfor "$WEB_LOG" "$re" 20 >/dev/null ||
        fail "tend-web did not start; its log: $(cat "$WEB_LOG" 2>/dev/null)"
    grep -E "$re" "$WEB_LOG" | tail -n 1 | sed -E 's|.*:([0-9]+)/$|\1|'
}

# start_web_tend [LINE...]: tend with the programs in $T/progs and [inet_http_server] (plus
# the LINEs), on any free port; BASE is where tend-web listens.
start_web_tend() {
    { cat "$T/progs"; printf '[inet_http_server]\nport=127.0.0.1:0\n'; printf '%s\n' "$@"; } |
        write_conf identifier=e2e
    start_tend
    BASE="http://127.0.0.1:$(web_port)"
}

stop_web_tend() {
    stop_tend
    check_web_sanitizers
}

# http METHOD PATH [curl options...]: the status code on stdout, the body in $T/body, the
# headers in $T/headers.
http() {
    local method=$1 path=$2
    shift 2
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --max-time 20 -X "$method" "$@" \
        "$BASE$path"
}
post() { http POST "$1" -H 'X-Tend-Request: 1' "${@:2}"; }
body() { cat "$T/body"; }
header() { sed -n "s/^$1: //Ip" "$T/headers" | tr -d '\r'; }
json() { "$H/e2e_rawclient" json <"$T/body" || fail "not JSON: $(body)"; }
jfield() { json | sed -n "s/^$(re "$1")=//p" | sed 's/^"//; s/"$//'; }   # PATH

web_pid() { tendctl pid tend-web | head -n 1; }

expect_security_headers() {   # WHAT
    expect_match "$(header Content-Security-Policy)" "default-src 'none'.*frame-ancestors 'none'" "$1: CSP"
    expect_eq "$(header X-Frame-Options)" DENY "$1: X-Frame-Options"
    expect_eq "$(header X-Content-Type-Options)" nosniff "$1: X-Content-Type-Options"
    expect_eq "$(header Referrer-Policy)" no-referrer "$1: Referrer-Policy"
}

# wait_new_pid NAME OLDPID: waits until tend logs NAME RUNNING under another pid; prints it.
wait_new_pid() {
    wait_log "^.{24}[A-Z]+ $(re "$1") \(pid $(ere_other "$2")\): STARTING -> RUNNING" 15
    grep -E " $(re "$1") \(pid $(ere_other "$2")\): STARTING -> RUNNING" "$LOG" | tail -n 1 |
        sed -E 's/.*\(pid ([0-9]+)\).*/\1/'
}

# ---------------------------------------------------------------------------------------------

t_api_status_version_and_pages() {
    web_setup
    { talker a; talker b; } >"$T/progs"
    start_web_tend
    wait_log 'a \(pid [0-9]+\): STARTING -> RUNNING'
    wait_log 'b \(pid [0-9]+\): STARTING -> RUNNING'
    wait_log 'tend-web \(pid [0-9]+\): STARTING -> RUNNING'

    # The status document is the one `tend status --json` prints (uptime aside: it ticks).
    expect_eq "$(http GET /api/v1/status)" 200 "GET status"
    expect_eq "$(header Content-Type)" application/json "status content type"
    expect_security_headers status
    json >/dev/null
    # Uptime and the cgroup usage tick between the two reads: masked.
    local mask='s/"(uptime|memory|cpu|tasks)": [0-9]+/"\1": U/g'
    expect_eq "$(body | sed -E "$mask")" "$(tendctl status --json | sed -E "$mask")" \
        "API status vs CLI"
    expect_eq "$(http GET '/api/v1/status?name=b')" 200 "status of b"
    expect_eq "$(jfield '[0].name')" b "status?name=b"
    expect_eq "$(json | grep -c '^\[[0-9]*\]\.name=')" 1 "one process for one name"
    expect_eq "$(jfield '[0].pid')" "$(tendctl pid b)" "b's pid"
    expect_eq "$(http GET '/api/v1/status?name=a&name=b')" 200 "status of a and b"
    expect_eq "$(json | grep -c '^\[[0-9]*\]\.name=')" 2 "two names"
    expect_eq "$(http GET '/api/v1/status?name=nope')" 404 "status of an unknown name"
    expect_match "$(jfield .error)" "no such process 'nope'" "its error"

    expect_eq "$(http GET /api/v1/version)" 200 "GET version"
    expect_eq "$(jfield .version)" "$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")" "version"
    expect_eq "$(jfield .pid)" "$TEND_PID" "tend's pid"
    expect_match "$(jfield .uptime)" '^[0-9]+$' "uptime"
    expect_eq "$(jfield .processes)" 3 "processes (a, b and tend-web)"

    # The page and its two files, all from tend-web itself.
    expect_eq "$(http GET /)" 200 "GET /"
    expect_eq "$(header Content-Type)" "text/html; charset=utf-8" "page type"
    expect_security_headers page
    body | grep -q '<script src="/app.js"' || fail "the page does not load /app.js"
    if body | grep -Eq '(src|href)="(https?:)?//'; then fail "the page loads an external asset"; fi
    expect_eq "$(http GET /app.js)" 200 "GET /app.js"
    expect_eq "$(header Content-Type)" "text/javascript; charset=utf-8" "script type"
    expect_eq "$(http GET /app.css)" 200 "GET /app.css"
    expect_eq "$(http HEAD /api/v1/status -I)" 200 "HEAD status"
    expect_eq "$(http GET /nope)" 404 "unknown page"
    expect_security_headers "404"
    expect_eq "$(http GET /api/v1/nope)" 404 "unknown endpoint"
    expect_eq "$(http GET /api/v2/status)" 404 "another API version"
    expect_eq "$(http POST /api/v1/status -H 'X-Tend-Request: 1')" 405 "POST status"
    expect_eq "$(header Allow)" "GET, HEAD" "Allow of status"
    stop_web_tend
}

t_api_start_stop_restart_signal_reload() {
    web_setup
    { talker a; talker b; } >"$T/progs"
    start_web_tend
    wait_log 'a \(pid [0-9]+\): STARTING -> RUNNING'
    local old new
    old=$(tendctl pid a)

    expect_eq "$(post /api/v1/processes/a/restart)" 200 "restart a"
    expect_eq "$(jfield .ok)" true "restart ok"
    expect_eq "$(jfield '.messages[0]')" "a: restarted" "restart message"
    new=$(tendctl pid a)
    [ "$new" != "$old" ] && [ "$new" != 0 ] || fail "a's pid did not change ($old -> $new)"

    expect_eq "$(post /api/v1/processes/a/stop)" 200 "stop a"
    expect_eq "$(jfield '.messages[0]')" "a: stopped" "stop message"
    expect_eq "$(st a state)" STOPPED "a after stop"
    expect_eq "$(post /api/v1/processes/a/stop)" 200 "stop a again"
    expect_eq "$(post /api/v1/processes/a/start)" 200 "start a"
    expect_eq "$(jfield '.messages[0]')" "a: started" "start message"
    expect_eq "$(st a state)" RUNNING "a after start"
    expect_eq "$(http GET /api/v1/processes/a/restart)" 405 "GET restart"
    expect_eq "$(header Allow)" POST "Allow of restart"

    # A group name is a known name too.
    expect_eq "$(post /api/v1/processes/b/restart)" 200 "restart the group b"

    # Signals: by name, the program sees it; a bad one is a 400 from tend's own check.
    expect_eq "$(post '/api/v1/processes/b/signal?signal=HUP')" 200 "signal HUP"
    expect_match "$(jfield '.messages[0]')" "^b: sent SIGHUP to pid [0-9]+$" "signal message"
    waitfor "$T/logs/e2e/b-stdout.log" '^got HUP$' 10 >/dev/null || fail "b did not get SIGHUP"
    expect_eq "$(post '/api/v1/processes/b/signal?signal=NOPE')" 400 "unknown signal"
    expect_match "$(jfield .error)" "unknown signal" "its error"
    expect_eq "$(post /api/v1/processes/b/signal)" 400 "signal without signal="

    # Names are checked against tend's list before anything else; never used as a path.
    expect_eq "$(post /api/v1/processes/nope/restart)" 404 "unknown name"
    expect_eq "$(post '/api/v1/processes/..%2F..%2Fetc/restart')" 404 "a path as a name"
    expect_eq "$(post '/api/v1/processes/all/stop')" 404 "all is not a process name"
    expect_eq "$(st a state)" RUNNING "a after the refused 'all'"
    expect_eq "$(post /api/v1/processes/a/explode)" 404 "unknown action"

    # Reload: a new program is added, the answer says so, and metrics count it.
    talker c >>"$CONF"
    expect_eq "$(post /api/v1/reload)" 200 "reload"
    expect_eq "$(jfield '.messages[0]')" "added c" "reload message"
    wait_log 'c \(pid [0-9]+\): STARTING -> RUNNING'
    expect_eq "$(post /api/v1/reload)" 200 "reload with no change"
    expect_eq "$(jfield '.messages[0]')" "no changes" "no changes"
    expect_eq "$(http GET /metrics)" 200 "metrics"
    body | grep -qx 'tend_reloads_total 2' || fail "reloads not counted: $(body | grep reloads)"
    echo '[program:broken' >>"$CONF"
    expect_eq "$(post /api/v1/reload)" 500 "reload of a broken config"
    expect_match "$(jfield .error)" "nothing changed" "its error"
    expect_match "$(body)" "tend.conf:[0-9]+:" "the config error with FILE:LINE"
    stop_web_tend
}

t_api_logs_and_follow() {
    web_setup
    talker a >"$T/progs"
    start_web_tend
    waitfor "$T/logs/e2e/a-stdout.log" '^a line 5$' 10 >/dev/null || fail "a does not talk"

    expect_eq "$(http GET '/api/v1/processes/a/log?lines=3')" 200 "log tail"
    expect_eq "$(json | grep -c '^\.lines\[')" 3 "three lines"
    expect_match "$(jfield '.lines[2]')" '^a line [0-9]+$' "a line"
    expect_eq "$(http GET '/api/v1/processes/a/log?lines=x')" 400 "bad lines="
    expect_eq "$(http GET '/api/v1/processes/a/log?stream=stdin')" 400 "bad stream="
    expect_eq "$(http GET '/api/v1/processes/a/log?stream=stderr')" 200 "stderr log"

    # Live: the events carry lines written after the follow began.
    local last
    last=$(tail -n 1 "$T/logs/e2e/a-stdout.log" | grep -Eo '[0-9]+$')
    curl -sN -D "$T/sse.h" --max-time 30 "$BASE/api/v1/processes/a/log/follow?lines=1" \
        >"$T/sse" 2>&1 &
    local cpid=$!
    TRACKED="$TRACKED $cpid"
    waitfor "$T/sse" "^data: \"a line $((last + 3))\"$" 15 >/dev/null ||
        fail "no live line in the stream: $(cat "$T/sse")"
    grep -qx 'retry: 2000' "$T/sse" || fail "no retry: in the stream"
    grep -qi '^Content-Type: text/event-stream' "$T/sse.h" || fail "follow type: $(cat "$T/sse.h")"
    kill "$cpid"
    expect_eq "$(http GET '/api/v1/processes/nope/log/follow')" 404 "follow of an unknown name"

    # At most 8 live streams (each holds a control connection and an inotify instance in
    # tend): the 9th is told 503; once the others leave, streams are served again.
    local i pids=()
    for i in $(seq 1 8); do
        curl -sN --max-time 60 "$BASE/api/v1/processes/a/log/follow?lines=0" >"$T/f$i" 2>&1 &
        pids+=($!)
    done
    TRACKED="$TRACKED ${pids[*]}"
    # The stream killed above is released when tend-web notices (at a's next line): a
    # follower refused meanwhile tries again, a bounded number of times.
    local try
    for i in $(seq 1 8); do
        for try in $(seq 1 20); do
            waitfor "$T/f$i" '^data: |too many live log streams' 20 >/dev/null ||
                fail "follower $i got no line"
            grep -q '^data: ' "$T/f$i" && break
            "$H/waitfor" -t 10 --gone "${pids[$((i - 1))]}" >/dev/null
            # Emptied here, not only by the background job's redirection, which may come
            # after the next waitfor has read the refusal again.
            : >"$T/f$i"
            curl -sN --max-time 60 "$BASE/api/v1/processes/a/log/follow?lines=0" >"$T/f$i" 2>&1 &
            pids[$((i - 1))]=$!
            TRACKED="$TRACKED $!"
        done
        grep -q '^data: ' "$T/f$i" || fail "follower $i was refused 20 times"
    done
    expect_eq "$(http GET '/api/v1/processes/a/log/follow')" 503 "the 9th stream"
    expect_match "$(jfield .error)" "too many live log streams" "its error"
    expect_eq "$(http GET '/api/v1/status')" 200 "other requests beside 8 streams"
    kill "${pids[@]}"
    for i in "${pids[@]}"; do "$H/waitfor" -t 10 --gone "$i" >/dev/null || fail "curl $i stays"; done
    # tend-web notices a gone reader at its next write (a's next line, within 0.2 s).
    local code=""
    for i in $(seq 1 30); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/api/v1/processes/a/log/follow" || true)
        [ "$code" = 200 ] && break
    done
    expect_eq "$code" 200 "a stream once the others left"
    stop_web_tend
}

t_metrics_format() {
    web_setup
    { talker a; printf '[program:dead]\ncommand=/bin/sh -c "exit 3"\nstartsecs=0\nautorestart=false\n'; } \
        >"$T/progs"
    start_web_tend
    wait_log 'a \(pid [0-9]+\): STARTING -> RUNNING'
    wait_log 'dead \(pid [0-9]+\): .* -> EXITED'
    expect_eq "$(http GET /metrics)" 200 "metrics"
    expect_match "$(header Content-Type)" '^text/plain; version=0.0.4' "metrics type"
    local m
    m=$(body)
    grep -qx 'tend_process_up{name="a",group="a"} 1' <<<"$m" || fail "a not up: $m"
    grep -qx 'tend_process_up{name="dead",group="dead"} 0' <<<"$m" || fail "dead up"
    grep -qx 'tend_process_state{name="a",group="a",state="RUNNING"} 1' <<<"$m" || fail "state"
    grep -qx 'tend_process_state{name="dead",group="dead",state="EXITED"} 1' <<<"$m" || fail "EXITED"
    grep -qx 'tend_process_last_exit_code{name="dead",group="dead"} 3' <<<"$m" || fail "exit code"
    grep -Eqx 'tend_process_start_time_seconds\{name="a",group="a"\} [0-9]{10}' <<<"$m" || fail "start time"
    grep -Eqx 'tend_process_log_written_bytes_total\{name="a",group="a"\} [1-9][0-9]*' <<<"$m" ||
        fail "written bytes"
    grep -qx 'tend_process_log_dropped_bytes_total{name="a",group="a"} 0' <<<"$m" || fail "dropped"
    grep -qx 'tend_process_restarts_total{name="a",group="a"} 0' <<<"$m" || fail "restarts"
    grep -Eqx 'tend_cpu_seconds_total [0-9]+\.[0-9]{6}' <<<"$m" || fail "cpu"
    grep -Eqx 'tend_resident_memory_bytes [1-9][0-9]+' <<<"$m" || fail "rss"
    grep -qx 'tend_alert_runs_total 0' <<<"$m" || fail "alert runs"
    grep -qx 'tend_build_info{version="0.1.0"} 1' <<<"$m" || fail "build info"
    # A kill shows as a restart and a signal.
    local old
    old=$(tendctl pid a)
    kill -KILL "$old"
    wait_new_pid a "$old" >/dev/null
    http GET /metrics >/dev/null
    grep -qx 'tend_process_restarts_total{name="a",group="a"} 1' "$T/body" || fail "restart not counted"
    grep -qx 'tend_process_last_exit_signal{name="a",group="a"} 9' "$T/body" || fail "exit signal"
    if command -v promtool >/dev/null; then
        promtool check metrics <"$T/body" || fail "promtool check metrics refused /metrics"
    else
        fail "promtool is not installed (scripts/deps.sh installs prometheus)"
    fi
    stop_web_tend
}

t_auth_required_refused_slowed_accepted() {
    web_setup
    talker a >"$T/progs"
    start_web_tend username=admin 'password=s3cret pass'
    expect_eq "$(http GET /api/v1/status)" 401 "no credentials"
    expect_match "$(header WWW-Authenticate)" '^Basic realm="tend"' "challenge"
    expect_security_headers 401
    expect_eq "$(http GET /metrics)" 401 "metrics without credentials"
    expect_eq "$(http GET /)" 401 "page without credentials"
    local t0 t1
    t0=$(date +%s%3N)
    expect_eq "$(http GET /api/v1/status -u 'admin:wrong')" 401 "wrong password"
    expect_eq "$(http GET /api/v1/status -u 'root:s3cret pass')" 401 "wrong user"
    t1=$(date +%s%3N)
    # Each failure holds the failure slot 500 ms: two cannot take less than a second.
    [ $((t1 - t0)) -ge 1000 ] || fail "two failed logins took only $((t1 - t0)) ms"
    expect_eq "$(http GET /api/v1/status -u 'admin:s3cret pass')" 200 "right credentials"
    expect_eq "$(post /api/v1/processes/a/restart -u 'admin:s3cret pass')" 200 "restart with credentials"
    expect_eq "$(post /api/v1/processes/a/restart)" 401 "restart without credentials"
    # The password left tend-web's environment once read.
    if tr '\0' '\n' <"/proc/$(web_pid)/environ" | grep -q 's3cret'; then
        fail "the password is still in tend-web's environment"
    fi
    stop_web_tend
}

# {SHA}: the SHA-1 of the password, as supervisord takes it.
t_auth_sha_password() {
    web_setup
    local sha
    sha=$(printf '%s' 'other pw' | sha1sum | cut -d' ' -f1)
    talker a >"$T/progs"
    start_web_tend username=u "password={SHA}$sha"
    expect_eq "$(http GET /api/v1/status -u 'u:other pw')" 200 "SHA password"
    expect_eq "$(http GET /api/v1/status -u "u:{SHA}$sha")" 401 "the digest itself is no password"
    stop_web_tend
}

t_csrf_refused() {
    web_setup
    talker a >"$T/progs"
    start_web_tend
    wait_log 'a \(pid [0-9]+\): STARTING -> RUNNING'
    local pid
    pid=$(tendctl pid a)
    expect_eq "$(http POST /api/v1/processes/a/restart)" 403 "no X-Tend-Request"
    expect_match "$(jfield .error)" "X-Tend-Request" "its error"
    # What a cross-site form would send: a form content type, no custom header.
    expect_eq "$(http POST /api/v1/processes/a/restart -H 'Content-Type: application/x-www-form-urlencoded' -H 'Origin: http://evil.example' --data 'x=1')" 403 "form post"
    expect_eq "$(post /api/v1/processes/a/restart -H 'Origin: http://evil.example')" 403 "foreign Origin"
    expect_eq "$(post /api/v1/processes/a/restart -H 'Sec-Fetch-Site: cross-site')" 403 "cross-site fetch"
    # DNS rebinding: a page under its own name resolved to 127.0.0.1 is same-origin, but its
    # Host is its name; with no password only addresses and localhost are served.
    local port=${BASE##*:}
    expect_eq "$(post /api/v1/processes/a/restart -H "Host: evil.example:$port" -H "Origin: http://evil.example:$port")" 421 "rebound name, POST"
    expect_eq "$(http GET /api/v1/status -H "Host: evil.example:$port")" 421 "rebound name, GET"
    expect_eq "$(http GET /api/v1/status -H "Host: localhost:$port")" 200 "localhost"
    expect_eq "$(http GET /api/v1/status -H "Host: [::1]:$port")" 200 "[::1]"
    expect_eq "$(post /api/v1/reload -H 'Origin: null')" 403 "opaque origin"
    expect_eq "$(http OPTIONS /api/v1/processes/a/restart -H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: POST')" 405 "preflight"
    [ -z "$(header Access-Control-Allow-Origin)" ] || fail "CORS granted"
    expect_eq "$(tendctl pid a)" "$pid" "a's pid after refused requests"
    # The same origin passes.
    expect_eq "$(post /api/v1/processes/a/restart -H "Origin: http://127.0.0.1:$port" -H 'Sec-Fetch-Site: same-origin')" 200 "same origin"
    stop_web_tend
}

t_oversized_and_malformed_requests() {
    web_setup
    talker a >"$T/progs"
    start_web_tend
    local port=${BASE##*:} big code
    big=$(head -c 20000 /dev/zero | tr '\0' x)
    code=$(http GET /api/v1/status -H "X-Big: $big")
    [[ $code =~ ^4[0-9][0-9]$ ]] || fail "a 20 kB header got $code"
    code=$(http GET "/api/v1/status?x=$big")
    [[ $code =~ ^4[0-9][0-9]$ ]] || fail "a 20 kB URL got $code"
    local hdrs=()
    for i in $(seq 1 2000); do hdrs+=(-H "X-H$i: v"); done
    code=$(http GET /api/v1/status "${hdrs[@]}")
    [[ $code =~ ^4[0-9][0-9]$ ]] || fail "2000 headers got $code"
    head -c 100000 /dev/zero >"$T/bigbody"
    expect_eq "$(post /api/v1/reload --data-binary "@$T/bigbody" -H 'Content-Type: application/octet-stream')" 413 "a 100 kB body"
    # Bytes that are no HTTP at all, and a request line that is cut off then left hanging.
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GARBAGE \x01\x02 NOT/HTTP\r\n\r\n' >&3
    local reply
    reply=$(timeout 10 head -n 1 <&3 | tr -d '\r') || true
    exec 3>&-
    expect_match "$reply" '^HTTP/1\.[01] 400' "garbage"
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET /api/v1/status HTTP/1.1\r\nHost: x\r\n' >&3
    # Left hanging: the connection timeout (15 s) closes it; meanwhile others are served.
    expect_eq "$(http GET /api/v1/status)" 200 "served beside a hanging request"
    exec 3>&-
    expect_eq "$(http GET /api/v1/status)" 200 "still serving"
    stop_web_tend
}

t_500_slow_clients_while_a_program_is_restarted() {
    web_setup
    talker a >"$T/progs"
    start_web_tend
    wait_log 'a \(pid [0-9]+\): STARTING -> RUNNING'
    local port=${BASE##*:} fds=() fd i
    ulimit -n 4096
    # 500 connections that send half a request line and then nothing.
    for i in $(seq 1 500); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$port" || fail "connection $i refused"
        printf 'GET /api/v1/stat' >&"$fd"
        fds+=("$fd")
    done
    local old new t0 t1
    old=$(tendctl pid a)
    t0=$(date +%s%3N)
    kill -KILL "$old"
    new=$(wait_new_pid a "$old")
    t1=$(date +%s%3N)
    [ "$new" != "$old" ] || fail "a was not restarted"
    # startsecs=0 and no backoff for a first failure: the restart is immediate. 5 s is the
    # bound that separates "on time" from "stalled behind the clients".
    [ $((t1 - t0)) -lt 5000 ] || fail "the restart took $((t1 - t0)) ms"
    # The front still answers with the 500 hanging, and tells the new pid.
    expect_eq "$(http GET '/api/v1/status?name=a')" 200 "status beside 500 slow clients"
    expect_eq "$(jfield '[0].pid')" "$new" "the new pid in the API"
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    expect_eq "$(http GET /metrics)" 200 "metrics after the slow clients left"
    stop_web_tend
}

t_unprivileged_and_alone_on_its_socket() {
    web_setup
    talker a >"$T/progs"
    start_web_tend
    local wp
    wp=$(web_pid)
    [ "$wp" -gt 0 ] || fail "no tend-web pid"
    # No root, no capability, no group of tend's.
    expect_eq "$(proc_status "$wp" Uid)" "65534	65534	65534	65534" "tend-web's uids"
    expect_eq "$(proc_status "$wp" Gid)" "65534	65534	65534	65534" "tend-web's gids"
    expect_eq "$(proc_status "$wp" Groups | tr -d ' ')" "65534" "tend-web's groups"
    expect_eq "$(proc_status "$wp" CapEff)" 0000000000000000 "CapEff"
    expect_eq "$(proc_status "$wp" CapPrm)" 0000000000000000 "CapPrm"
    expect_eq "$(proc_status "$wp" CapAmb)" 0000000000000000 "CapAmb"
    # Not dumpable: another process of nobody cannot ptrace it or read its memory.
    if setpriv --reuid=65534 --regid=65534 --clear-groups cat "/proc/$wp/environ" >/dev/null 2>&1; then
        fail "another nobody process can read tend-web's environment"
    fi
    # The CLI does not load HTTP code.
    if ldd "$TEND" | grep -q microhttpd; then fail "tend links libmicrohttpd"; fi
    ldd "$(dirname "$TEND")/tend-web" | grep -q microhttpd || fail "tend-web without libmicrohttpd?"

    # Its door into tend: an abstract socket that serves tend-web's pid and nobody else,
    # even a process of the same user; and nobody cannot use the main socket either.
    local door
    door=$(grep -Eo '@tend-web-[0-9a-f]{32}' /proc/net/unix | head -n 1)
    [ -n "$door" ] || fail "no abstract socket for tend-web"
    printf 'tend/1 status\n' | setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$H/e2e_rawclient" req -t 10 "$door" >"$T/door" 2>&1 || true
    expect_match "$(cat "$T/door")" '^err denied' "nobody on tend-web's door"
    printf 'tend/1 status\n' | "$H/e2e_rawclient" req -t 10 "$door" >"$T/door" 2>&1 || true
    expect_match "$(cat "$T/door")" '^err denied' "root on tend-web's door"
    if setpriv --reuid=65534 --regid=65534 --clear-groups "$TEND" -s "$T/tend.sock" status >/dev/null 2>&1; then
        fail "nobody may use the main control socket"
    fi
    stop_web_tend
}

t_front_is_supervised_like_a_program() {
    web_setup
    talker a >"$T/progs"
    start_web_tend
    local wp new
    wp=$(web_pid)
    expect_eq "$(http GET /api/v1/status)" 200 "before the kill"
    kill -KILL "$wp"
    new=$(wait_new_pid tend-web "$wp")
    BASE="http://127.0.0.1:$(web_port "$new")"
    expect_eq "$(http GET '/api/v1/status?name=tend-web')" 200 "the new front answers"
    expect_eq "$(jfield '[0].pid')" "$new" "the API shows the new front's pid"
    stop_web_tend
}

# The supervisor killed: tend-web is taken back like any program (same pid, not restarted),
# and its socket into tend, held by the keeper, leads to the new supervisor.
t_front_kept_when_the_supervisor_is_killed() {
    web_setup
    talker a >"$T/progs"
    start_web_tend
    local wp old=$TEND_PID
    wp=$(web_pid)
    expect_eq "$(http GET /api/v1/status)" 200 "before the kill"
    kill -KILL "$TEND_PID"
    wait_log "generation 2;"
    TEND_PID=$(sed -n "s/.* started as pid \\([0-9]*\\) (keeper $KEEPER_PID).*/\\1/p" "$LOG" | tail -n 1)
    [ "$TEND_PID" != "$old" ] || fail "the supervisor was not restarted"
    expect_eq "$(web_pid)" "$wp" "tend-web's pid after the supervisor's restart"
    expect_eq "$(http GET '/api/v1/status?name=a')" 200 "the front answers"
    expect_eq "$(jfield '[0].supervisor_pid')" "$TEND_PID" "the supervisor behind the answer"
    [ "$(count_log "tend-web.*restarted")" = 0 ] || fail "tend-web was restarted"
    stop_web_tend
}

t_config_errors_stop_tend() {
    web_setup
    printf '[inet_http_server]\nport=0.0.0.0:0\n' | write_conf identifier=e2e
    if "$TEND" check -c "$CONF" >"$T/check" 2>&1; then fail "tend check accepted 0.0.0.0 without a password"; fi
    expect_match "$(cat "$T/check")" "tend.conf:[0-9]+: error: port: '0.0.0.0:0' listens beyond loopback" "the error"
}

run_tests
