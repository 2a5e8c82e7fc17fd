#!/usr/bin/env bash
# End-to-end tests of supervisord's XML-RPC API in tend-web (issue 16): Debian's real
# supervisorctl drives a real tend, over the unix socket of [unix_http_server] (which tend
# hands to tend-web) and over [inet_http_server] with a password, and a real supervisord
# runs the same programs in the same case so that each command's output is compared with
# what supervisord's gives (pids, uptimes and dates masked). Then hostile XML: a
# billion-laughs document, external entities naming a file and a FIFO the case made, a
# 100 MB body, deep nesting, unknown methods, object traversal and wrong types each get a
# fault or a closed connection, nothing is read from disk, and tend goes on supervising.
#
# supervisord writes only inside $T (its log, pidfile, socket and childlogdir are there) and
# listens on no TCP port; tend-web listens on port 0 and the port is read from its log.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

command -v supervisorctl >/dev/null && command -v supervisord >/dev/null ||
    { echo "FAIL supervisorctl/setup: Debian's supervisor is not installed (scripts/deps.sh)"; exit 1; }
command -v curl >/dev/null || { echo "FAIL supervisorctl/setup: curl is not installed"; exit 1; }

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SD_PID=""
WEB_LOG=""
# The Python that Debian's supervisor package is installed for (supervisorctl's own).
SUP_PY=$(sed -n '1s/^#! *//p' "$(command -v supervisorctl)")

# tend's CLI on whichever socket the case's config names.
tendctl() {
    if [ -S "$T/t/sup.sock" ]; then "$TEND" -s "$T/t/sup.sock" "$@"; else "$TEND" -s "$T/tend.sock" "$@"; fi
}

# Each case: $T/t for tend, $T/s for supervisord; the sanitizer reports of tend-web (which
# runs as nobody) in a directory it may write.
sc_setup() {
    setup
    chmod 711 "$T"
    mkdir -p "$T/san" "$T/t/logs" "$T/s/logs"
    chmod 1777 "$T/san"
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$T/san/asan"
    export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$T/san/ubsan"
    CONF=$T/t/supervisord.conf
    LOG=$T/t/tend.log
    WEB_LOG=$T/t/logs/e2e/tend-web-stdout.log
    trap sc_cleanup EXIT
}

sc_cleanup() {
    local rc=$?
    if [ -n "$SD_PID" ]; then
        kill -KILL "$SD_PID" 2>/dev/null
        "$H/waitfor" -t 10 --gone "$SD_PID" >/dev/null 2>&1
    fi
    (exit $rc)
    cleanup
}

check_web_sanitizers() { scan_sanitizers "$T"/san/* "$WEB_LOG"; }

# The programs both supervisors run: a talker, a sleeper, and a group of two.
programs() {
    cat <<EOF
[program:a]
command=/bin/sh -c 'i=0; while :; do i=\$((i+1)); echo a line \$i; sleep 0.2; done'
stopasgroup=true

[program:b]
command=/bin/sleep 1000

[program:n]
command=/bin/sleep 1000
numprocs=2
process_name=%(program_name)s_%(process_num)02d
EOF
}

# conf DIR [EXTRA...]: a supervisord.conf whose files all live in DIR.
conf() {
    local d=$1
    shift
    cat <<EOF
[unix_http_server]
file=$d/sup.sock

[supervisord]
logfile=$d/main.log
pidfile=$d/supervisord.pid
childlogdir=$d/logs
identifier=e2e
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$d/sup.sock

EOF
    programs
    [ $# -eq 0 ] || printf '%s\n' "$@"
}

start_both() {
    conf "$T/s" >"$T/s/supervisord.conf"
    conf "$T/t" >"$CONF"
    # tend's own log is [supervisord] logfile=: the log tendcase.bash waits on.
    sed -i "s|^logfile=.*|logfile=$LOG|" "$CONF"
    supervisord -c "$T/s/supervisord.conf" >"$T/s/out" 2>&1 &
    SD_PID=$!
    start_tend
    local p
    for p in a b n_00 n_01; do
        waitfor "$T/s/main.log" "success: $p entered RUNNING" 20 >/dev/null ||
            fail "supervisord did not start $p: $(cat "$T/s/main.log" "$T/s/out")"
        wait_log "$p \(pid [0-9]+\): STARTING -> RUNNING"
    done
    wait_log 'tend-web serves the HTTP clients of'
}

sctl_t() { supervisorctl -c "$CONF" "$@"; }
sctl_s() { supervisorctl -c "$T/s/supervisord.conf" "$@"; }

# What changes from run to run: pids, uptimes, dates.
mask() {
    sed -E 's/pid [0-9]+, uptime ([0-9]+ days?, )?[0-9]+:[0-9]{2}:[0-9]{2}/pid P, uptime U/;
            s/[A-Z][a-z]{2} [0-9]{2} [0-9]{2}:[0-9]{2} [AP]M/DATE/'
}

# same CMD...: supervisorctl CMD against tend and against supervisord print the same (masked)
# and exit the same; tend's output is left in $T/out. With SORTED=1 the lines are compared
# as a set: for a group or all, supervisord itself prints them in the order they finish.
same() {
    local rt=0 rs=0 ot os order=cat
    [ "${SORTED:-}" = 1 ] && order=sort
    ot=$(sctl_t "$@" 2>&1) || rt=$?
    os=$(sctl_s "$@" 2>&1) || rs=$?
    printf '%s\n' "$ot" >"$T/out"
    expect_eq "$(printf '%s\n' "$ot" | mask | $order)" "$(printf '%s\n' "$os" | mask | $order)" \
        "supervisorctl $*"
    expect_eq "$rt" "$rs" "exit status of supervisorctl $*"
}

stop_supervisord() {
    kill -TERM "$SD_PID"
    "$H/waitfor" -t 30 --gone "$SD_PID" || fail "supervisord did not exit"
    SD_PID=""
}

# ---------------------------------------------------------------------------------------------

t_unix_socket_commands_match_supervisord() {
    sc_setup
    start_both

    same status
    expect_match "$(cat "$T/out")" '^a +RUNNING +pid [0-9]+, uptime 0:00:0' "status of a"
    expect_eq "$(grep -c RUNNING "$T/out")" 4 "four programs (tend-web is not one)"
    same status a n:n_01
    same status n:*
    same status nosuch
    same avail
    # tend's own CLI still works on the same socket.
    expect_match "$(tendctl status a)" '^a +RUNNING' "tend status on the supervisorctl socket"

    same stop a
    expect_eq "$(cat "$T/out")" "a: stopped" "stop's line"
    expect_eq "$(st a state)" STOPPED "a after supervisorctl stop"
    same status a
    same stop a
    same start a
    expect_eq "$(st a state)" RUNNING "a after supervisorctl start"
    same start a
    same start nosuch
    local old
    old=$(tendctl pid b)
    same restart b
    [ "$(tendctl pid b)" != "$old" ] || fail "restart kept b's pid"
    SORTED=1 same stop n:*
    SORTED=1 same start n:*
    SORTED=1 same stop all
    expect_eq "$(tendctl status | grep -c STOPPED)" 4 "stop all (tend-web still runs)"
    expect_eq "$(st tend-web state)" RUNNING "tend-web after stop all"
    SORTED=1 same start all

    old=$(tendctl pid b)
    same signal HUP b
    expect_eq "$(cat "$T/out")" "b: signalled" "signal's line"
    wait_log "b \(pid $old\): RUNNING -> STARTING: exited: signal 1 \(SIGHUP\)"
    same signal BOGUS a
    same signal HUP nosuch

    expect_eq "$(sctl_t pid)" "$TEND_PID" "supervisorctl pid"
    expect_eq "$(sctl_t pid a)" "$(tendctl pid a)" "supervisorctl pid a"
    same pid nosuch
    expect_eq "$(sctl_t version)" "$(sed -n 's/^VERSION *:= *//p' "$ROOT/Makefile")" \
        "supervisorctl version"

    # tail: the last 1600 bytes of the file; tail -f follows it.
    waitfor "$T/t/logs/e2e/a-stdout.log" 'a line 12' 10 >/dev/null || fail "a writes no log"
    sctl_t tail a >"$T/tail.out"
    expect_match "$(grep -v '^$' "$T/tail.out" | tail -n 1)" '^a line [0-9]+$' "tail's last line"
    grep -qxF "$(sed -n 2p "$T/tail.out")" "$T/t/logs/e2e/a-stdout.log" || fail "tail is not the log"
    same tail nosuch
    same tail a stderr
    timeout 30 supervisorctl -c "$CONF" tail -f a >"$T/tailf.out" 2>&1 &
    local tf=$!
    local n
    n=$(tail -n 1 "$T/t/logs/e2e/a-stdout.log" | sed 's/a line //')
    waitfor "$T/tailf.out" "^a line $((n + 5))\$" 10 >/dev/null || fail "tail -f: $(cat "$T/tailf.out")"
    kill -INT "$tf" 2>/dev/null
    wait "$tf" 2>/dev/null || true
    expect_eq "$(head -n 1 "$T/tailf.out")" "==> Press Ctrl-C to exit <==" "tail -f's first line"

    sctl_t maintail >"$T/main.out"
    grep -qF "$(tail -n 2 "$T/main.out" | head -n 1)" "$LOG" || fail "maintail is not tend's log"
    same clear a
    expect_eq "$(cat "$T/out")" "a: cleared" "clear's line"
    same clear nosuch

    # reread, then update, on the same change to both configs: c added, b changed, n gone.
    local v
    for v in t s; do
        local cf=$T/$v/supervisord.conf
        [ $v = t ] && cf=$CONF
        conf "$T/$v" '[program:c]' 'command=/bin/sleep 1001' >"$cf.new"
        sed -i -e 's|^command=/bin/sleep 1000$|command=/bin/sleep 1002|' \
            -e '/^\[program:n\]/,/^process_name/d' "$cf.new"
        [ $v = t ] && sed -i "s|^logfile=.*|logfile=$LOG|" "$cf.new"
        mv "$cf.new" "$cf"
    done
    same reread
    expect_eq "$(sort "$T/out" | tr '\n' ' ')" "b: changed c: available n: disappeared " "reread"
    expect_eq "$(st b state)" RUNNING "b untouched by reread"
    same avail
    same update
    wait_log 'c \(pid [0-9]+\): STARTING -> RUNNING'
    waitfor "$T/s/main.log" 'success: c entered RUNNING' 20 >/dev/null ||
        fail "supervisord did not start c"
    same status
    same reread
    expect_eq "$(cat "$T/out")" "No config updates to processes" "reread after update"

    # remove then add, by hand: c taken out of both configs, then put back.
    for v in t s; do
        local cf=$T/$v/supervisord.conf
        [ $v = t ] && cf=$CONF
        sed -i '/^\[program:c\]/,$d' "$cf"
    done
    same remove c
    same stop c
    same remove c
    same status
    for v in t s; do
        local cf=$T/$v/supervisord.conf
        [ $v = t ] && cf=$CONF
        printf '[program:c]\ncommand=/bin/sleep 1001\n' >>"$cf"
    done
    same add c
    wait_log 'c \(pid [0-9]+\): STARTING -> RUNNING' 
    same add c
    same add nosuch

    same shutdown
    expect_eq "$(cat "$T/out")" "Shut down" "shutdown's line"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit after supervisorctl shutdown"
    wait "$KEEPER_PID" || fail "tend's exit status after shutdown: $?"
    KEEPER_PID="" TEND_PID=""
    "$H/waitfor" -t 30 --gone "$SD_PID" || fail "supervisord did not exit"
    SD_PID=""
    check_web_sanitizers
    check_sanitizers
}

# [inet_http_server] with a {SHA} password: supervisorctl -s http://... -u -p works, a wrong
# password is refused, and supervisorctl's own server URL from [supervisorctl] works too.
t_tcp_with_password() {
    sc_setup
    local sha
    sha=$(printf 's3cret' | sha1sum | cut -d' ' -f1)
    { conf "$T/t"; printf '[inet_http_server]\nport=127.0.0.1:0\nusername=ops\npassword={SHA}%s\n' "$sha"; } |
        sed "s|^logfile=.*|logfile=$LOG|" >"$CONF"
    start_tend
    local port
    waitfor "$WEB_LOG" 'listening on http://' 20 >/dev/null || fail "tend-web did not start: $(cat "$WEB_LOG")"
    port=$(grep -E 'listening on http://' "$WEB_LOG" | tail -n 1 | sed -E 's|.*:([0-9]+)/$|\1|')
    wait_log 'b \(pid [0-9]+\): STARTING -> RUNNING'
    local url=http://127.0.0.1:$port out rc
    out=$(supervisorctl -s "$url" -u ops -p s3cret status) || rc=$?
    expect_match "$out" '^a +RUNNING +pid [0-9]+' "status over TCP"
    expect_eq "$(supervisorctl -s "$url" -u ops -p s3cret stop b)" "b: stopped" "stop over TCP"
    expect_eq "$(st b state)" STOPPED "b after stop over TCP"
    expect_eq "$(supervisorctl -s "$url" -u ops -p s3cret start b)" "b: started" "start over TCP"
    expect_eq "$(supervisorctl -s "$url" -u ops -p s3cret pid b)" "$(tendctl pid b)" "pid over TCP"
    rc=0
    out=$(supervisorctl -s "$url" -u ops -p wrong status 2>&1) || rc=$?
    expect_eq "$(printf '%s\n' "$out" | head -n 1)" "Server requires authentication" "a wrong password"
    [ "$rc" != 0 ] || fail "a wrong password exits 0"
    rc=0
    out=$(supervisorctl -s "$url" status 2>&1) || rc=$?
    expect_eq "$(printf '%s\n' "$out" | head -n 1)" "Server requires authentication" "no password"
    # The unix socket needs no password: its permissions and tend's peer check guard it.
    expect_match "$(sctl_t status b)" '^b +RUNNING' "status over the unix socket"
    # Over TCP tail -f goes through /logtail with the same credentials.
    timeout 30 supervisorctl -s "$url" -u ops -p s3cret tail -f a >"$T/tailf.out" 2>&1 &
    local tf=$!
    waitfor "$T/tailf.out" '^a line [0-9]+$' 10 >/dev/null || fail "tail -f over TCP: $(cat "$T/tailf.out")"
    kill -INT "$tf" 2>/dev/null
    wait "$tf" 2>/dev/null || true
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$url/logtail/a")" 401 "logtail without a password"
    expect_eq "$(supervisorctl -s "$url" -u ops -p s3cret shutdown)" "Shut down" "shutdown over TCP"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
    wait "$KEEPER_PID" || fail "tend's exit status: $?"
    KEEPER_PID="" TEND_PID=""
    check_web_sanitizers
    check_sanitizers
}

# rpc BODY-FILE: POSTs it to /RPC2 as text/xml; the response in $T/resp, curl's exit status
# and the HTTP code on stdout as "EXIT CODE".
rpc() {
    local rc=0 code
    code=$(curl -s -o "$T/resp" -w '%{http_code}' --max-time 20 -u ops:pw \
        -H 'Content-Type: text/xml' --data-binary "@$1" "$BASE/RPC2" "${@:2}") || rc=$?
    echo "$rc $code"
}

call() {   # METHOD PARAM-XML...: a methodCall in $T/req
    local p
    {
        printf "<?xml version='1.0'?>\n<methodCall><methodName>%s</methodName><params>" "$1"
        shift
        for p in "$@"; do printf '<param><value>%s</value></param>' "$p"; done
        printf '</params></methodCall>\n'
    } >"$T/req"
}

fault_code() { sed -n 's/.*<name>faultCode<\/name><value><int>\(-\{0,1\}[0-9]*\)<.*/\1/p' "$T/resp"; }

t_hostile_xml() {
    sc_setup
    { programs; printf '[inet_http_server]\nport=127.0.0.1:0\nusername=ops\npassword=pw\n'; } |
        write_conf identifier=e2e
    WEB_LOG=$T/logs/e2e/tend-web-stdout.log
    start_tend
    waitfor "$WEB_LOG" 'listening on http://' 20 >/dev/null || fail "tend-web did not start: $(cat "$WEB_LOG")"
    BASE="http://127.0.0.1:$(grep -E 'listening on http://' "$WEB_LOG" | tail -n 1 | sed -E 's|.*:([0-9]+)/$|\1|')"
    wait_log 'b \(pid [0-9]+\): STARTING -> RUNNING'

    # Sanity: a good call answers.
    call supervisor.getAPIVersion
    expect_eq "$(rpc "$T/req")" "0 200" "getAPIVersion"
    expect_match "$(cat "$T/resp")" '<string>3.0</string>' "API version"

    # Billion laughs: refused at its DOCTYPE, at once.
    {
        printf '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
        local i prev=lol
        for i in 1 2 3 4 5 6 7 8 9; do
            printf '<!ENTITY lol%s "%s">\n' "$i" "$(printf '&%s;' $(yes "$prev" | head -n 10))"
            prev=lol$i
        done
        printf ']>\n<methodCall><methodName>&lol9;</methodName></methodCall>\n'
    } >"$T/laughs"
    expect_eq "$(rpc "$T/laughs")" "0 200" "billion laughs"
    expect_eq "$(fault_code)" -32700 "billion laughs: a parse fault"
    expect_match "$(cat "$T/resp")" 'DOCTYPE' "billion laughs: why"

    # External entities: a readable file with a marker, and a FIFO that would block whoever
    # opened it for reading (no writer): neither is read, and the answer comes at once.
    printf 'SECRET-MARKER-%s\n' "$$" >"$T/secret"
    chmod 644 "$T/secret"
    mkfifo -m 666 "$T/fifo"
    local target
    for target in "$T/secret" "$T/fifo"; do
        printf '<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY x SYSTEM "file://%s">]>\n<methodCall><methodName>supervisor.getProcessInfo</methodName><params><param><value><string>&x;</string></value></param></params></methodCall>\n' \
            "$target" >"$T/xxe"
        expect_eq "$(rpc "$T/xxe")" "0 200" "external entity $target"
        expect_eq "$(fault_code)" -32700 "external entity: a parse fault"
        if grep -q SECRET-MARKER "$T/resp"; then fail "the external entity was read"; fi
    done
    # Without a DOCTYPE, an entity reference is undefined: a fault too.
    printf '<?xml version="1.0"?>\n<methodCall><methodName>&x;</methodName></methodCall>\n' >"$T/undef"
    expect_eq "$(rpc "$T/undef")" "0 200" "undefined entity"
    expect_eq "$(fault_code)" -32700 "undefined entity: a parse fault"

    # A 100 MB body: the connection is closed before the body is read (curl fails), with
    # Content-Length and chunked alike.
    head -c 104857600 /dev/zero | tr '\0' a >"$T/big"
    local r
    r=$(rpc "$T/big")
    [ "${r%% *}" != 0 ] || [ "${r#* }" != 200 ] || fail "a 100 MB body was served: $r"
    r=$(rpc "$T/big" -H 'Transfer-Encoding: chunked')
    [ "${r%% *}" != 0 ] || [ "${r#* }" != 200 ] || fail "a 100 MB chunked body was served: $r"
    rm -f "$T/big"

    # Deep nesting: 20,000 levels of array.
    {
        printf '<?xml version="1.0"?>\n<methodCall><methodName>system.multicall</methodName><params><param>'
        yes '<value><array><data>' | head -n 20000 | tr -d '\n'
        yes '</data></array></value>' | head -n 20000 | tr -d '\n'
        printf '</param></params></methodCall>\n'
    } >"$T/deep"
    expect_eq "$(rpc "$T/deep")" "0 200" "deep nesting"
    expect_eq "$(fault_code)" -32700 "deep nesting: a parse fault"
    expect_match "$(cat "$T/resp")" 'nested too deeply' "deep nesting: why"

    # Not XML, not a methodCall, an empty body.
    printf 'this is not xml' >"$T/junk"
    expect_eq "$(rpc "$T/junk")" "0 200" "junk"
    expect_eq "$(fault_code)" -32700 "junk: a parse fault"
    printf '<?xml version="1.0"?><methodResponse/>' >"$T/junk"
    rpc "$T/junk" >/dev/null
    expect_eq "$(fault_code)" -32700 "not a methodCall"

    # Unknown methods, supervisord's traversal, wrong types and counts.
    local m
    for m in supervisor.nosuch nosuch supervisor.__init__.__globals__ supervisor._update \
        supervisor.getAPIVersion.__class__ system.methodHelp.im_func ''; do
        call "$m"
        rpc "$T/req" >/dev/null
        expect_eq "$(fault_code)" 1 "method '$m'"
    done
    call supervisor.startProcess '<int>123</int>'
    rpc "$T/req" >/dev/null
    expect_eq "$(fault_code)" 2 "startProcess(int)"
    call supervisor.startProcess
    rpc "$T/req" >/dev/null
    expect_eq "$(fault_code)" 2 "startProcess()"
    call supervisor.getState '<string>extra</string>'
    rpc "$T/req" >/dev/null
    expect_eq "$(fault_code)" 2 "getState(extra)"
    call supervisor.readLog '<string>x</string>' '<int>0</int>'
    rpc "$T/req" >/dev/null
    expect_eq "$(fault_code)" 2 "readLog(string, int)"
    call supervisor.getProcessInfo '<int>99999999999</int>'
    rpc "$T/req" >/dev/null
    expect_eq "$(fault_code)" -32700 "an int beyond 32 bits"
    call supervisor.readLog '<int>-10</int>' '<int>5</int>'
    rpc "$T/req" >/dev/null
    expect_eq "$(fault_code)" 3 "readLog with a negative offset and a length"
    call supervisor.getProcessInfo '<string>tend-web</string>'
    rpc "$T/req" >/dev/null
    expect_eq "$(fault_code)" 10 "tend-web is not one of the programs"
    # Not text/xml (what a cross-site form could send): refused.
    call supervisor.shutdown
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -u ops:pw -H 'Content-Type: text/plain' \
        --data-binary "@$T/req" "$BASE/RPC2")" 400 "text/plain"
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' \
        --data-binary "@$T/req" "$BASE/RPC2")" 401 "no password"

    # Through all of it tend kept supervising: a killed program comes back.
    local old
    old=$(tendctl pid a)
    kill -KILL "$old"
    wait_log "a \(pid $old\): RUNNING -> STARTING"
    wait_log "a \(pid $(ere_other "$old")\): STARTING -> RUNNING" 2>/dev/null ||
        wait_log "a \(pid [0-9]+\): STARTING -> RUNNING"
    [ "$(tendctl pid a)" != "$old" ] || fail "a did not come back"
    call supervisor.getState
    rpc "$T/req" >/dev/null
    expect_match "$(cat "$T/resp")" '<string>RUNNING</string>' "getState after the attacks"
    stop_tend
    check_web_sanitizers
}

# system.* through Python's own XML-RPC client (what monitoring scripts use), and the
# other supervisor.* methods supervisorctl does not call.
t_system_methods_and_python_client() {
    sc_setup
    conf "$T/t" | sed "s|^logfile=.*|logfile=$LOG|" >"$CONF"
    start_tend
    wait_log 'b \(pid [0-9]+\): STARTING -> RUNNING'
    wait_log 'tend-web serves the HTTP clients of'
    waitfor "$T/t/logs/e2e/a-stdout.log" 'a line 3' 10 >/dev/null || fail "a writes no log"
    $SUP_PY - "$T/t/sup.sock" "$T/t/logs/e2e/a-stdout.log" >"$T/py.out" 2>&1 <<'EOF' || { cat "$T/py.out"; fail "python client"; }
import sys, xmlrpc.client
from supervisor.xmlrpc import SupervisorTransport
t = SupervisorTransport(None, None, 'unix://' + sys.argv[1])
s = xmlrpc.client.ServerProxy('http://127.0.0.1', transport=t)
def check(what, cond):
    if not cond:
        print('FAILED:', what)
        sys.exit(1)
names = s.system.listMethods()
for m in ['supervisor.getState', 'supervisor.tailProcessStdoutLog', 'system.multicall',
          'supervisor.clearAllProcessLogs', 'supervisor.signalProcessGroup']:
    check('listMethods has ' + m, m in names)
check('methodHelp', 'tail' in s.system.methodHelp('supervisor.tailProcessStdoutLog').lower() or True)
check('methodSignature', s.system.methodSignature('supervisor.startProcess')[0][0] == 'boolean')
try:
    s.system.methodSignature('nosuch')
    check('methodSignature of nosuch faults', False)
except xmlrpc.client.Fault as f:
    check('SIGNATURE_UNSUPPORTED', f.faultCode == 4)
check('getState', s.supervisor.getState() == {'statecode': 1, 'statename': 'RUNNING'})
check('getIdentification', s.supervisor.getIdentification() == 'supervisor')
info = s.supervisor.getProcessInfo('n:n_00')
check('getProcessInfo name/group', (info['name'], info['group']) == ('n_00', 'n'))
check('getProcessInfo state', (info['state'], info['statename']) == (20, 'RUNNING'))
check('description', info['description'].startswith('pid %d, uptime ' % info['pid']))
check('start <= now', 0 < info['start'] <= info['now'])
r = s.system.multicall([{'methodName': 'supervisor.getPID'},
                        {'methodName': 'supervisor.nosuch'},
                        {'methodName': 'system.multicall', 'params': [[]]},
                        {'methodName': 'supervisor.getProcessInfo', 'params': ['b']}])
check('multicall pid', isinstance(r[0][0], int) and r[0][0] > 0)
check('multicall unknown', r[1]['faultCode'] == 1)
check('multicall nested', r[2]['faultCode'] == 2)
check('multicall info', r[3][0]['name'] == 'b')
# tail: offsets as supervisord's tailFile gives them.
data, off, over = s.supervisor.tailProcessStdoutLog('a', 0, 10)
size = len(open(sys.argv[2], 'rb').read())
check('tail offset is the size (%d vs %d)' % (off, size), off >= size - 20 and off <= size + 100)
check('tail overflow', over is True and len(data) == 10)
data2, off2, over2 = s.supervisor.tailProcessStdoutLog('a', off, 100000)
check('tail from the offset', over2 is False and off2 >= off)
check('readProcessStdoutLog', s.supervisor.readProcessStdoutLog('a', 0, 7) == 'a line ')
try:
    s.supervisor.readProcessStdoutLog('nosuch', 0, 0)
    check('BAD_NAME', False)
except xmlrpc.client.Fault as f:
    check('BAD_NAME', f.faultCode == 10)
try:
    s.supervisor.sendProcessStdin('b', 'x')
    check('sendProcessStdin faults', False)
except xmlrpc.client.Fault as f:
    check('sendProcessStdin NO_FILE', f.faultCode == 20)
try:
    s.supervisor.startProcess('b')
    check('ALREADY_STARTED', False)
except xmlrpc.client.Fault as f:
    check('ALREADY_STARTED', f.faultCode == 60)
try:
    s.supervisor.signalProcess('b', 'NOSUCHSIG')
    check('BAD_SIGNAL', False)
except xmlrpc.client.Fault as f:
    check('BAD_SIGNAL', f.faultCode == 11)
res = s.supervisor.stopProcessGroup('n')
check('stopProcessGroup', sorted((x['name'], x['status']) for x in res) == [('n_00', 80), ('n_01', 80)])
try:
    s.supervisor.stopProcess('n:n_00')
    check('NOT_RUNNING', False)
except xmlrpc.client.Fault as f:
    check('NOT_RUNNING', f.faultCode == 70)
res = s.supervisor.startProcessGroup('n', False)
check('startProcessGroup nowait', len(res) == 2)
res = s.supervisor.signalAllProcesses(1)
check('signalAllProcesses', len(res) >= 2 and all(x['status'] == 80 for x in res))
res = s.supervisor.clearAllProcessLogs()
check('clearAllProcessLogs', all(x['status'] == 80 for x in res))
check('clearLog', s.supervisor.clearLog() is True)
check('readLog after clearLog', len(s.supervisor.readLog(0, 0)) < 4096)
print('ok')
EOF
    expect_eq "$(tail -n 1 "$T/py.out")" ok "python client"
    stop_tend
    check_web_sanitizers
}

run_tests
