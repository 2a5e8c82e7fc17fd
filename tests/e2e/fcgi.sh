#!/usr/bin/env bash
# End-to-end tests of [fcgi-program:x]: tend binds socket= once and hands it to each of the
# numprocs instances as fd 0. A client that connects in a loop while the instances are
# killed again and again, and while the supervisor itself is killed with SIGKILL and started
# again by the keeper, is never refused: the socket stays bound throughout (the same socket,
# by inode, in every instance). A unix socket gets socket_mode; a TCP one is bound on a port
# chosen free at run time. Removing the program closes the socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

# The instances: each writes "ready PID" to $T/ready.NAME, then answers every connection
# on its stdin (the listening socket) with its pid.
make_server() {
    cat >"$T/server.py" <<'PYEOF'
import os
import socket
import sys

name = os.environ["SUPERVISOR_PROCESS_NAME"]
lst = socket.socket(fileno=0)
with open("%s/ready.%s.tmp" % (sys.argv[1], name), "w") as f:
    f.write("ready %d %s\n" % (os.getpid(), lst.getsockname()))
os.rename("%s/ready.%s.tmp" % (sys.argv[1], name), "%s/ready.%s" % (sys.argv[1], name))
while True:
    c, _ = lst.accept()
    try:
        c.sendall(b"%d\n" % os.getpid())
    finally:
        c.close()
PYEOF
    # The client: connects in a loop until STOPFILE exists; counts answers, refusals and
    # anything else; writes "ok N refused N other N" to OUT.
    cat >"$T/client.py" <<'PYEOF'
import errno
import os
import socket
import sys

addr, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
ok = refused = other = 0
while not os.path.exists(stop):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = addr
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host, int(port))
    s.settimeout(20)
    try:
        s.connect(target)
        data = s.recv(64)
        if data.strip().isdigit():
            ok += 1
        else:
            other += 1
    except OSError as e:
        if e.errno in (errno.ECONNREFUSED, errno.ENOENT):
            refused += 1
            sys.stderr.write("refused: %s\n" % e)
        else:
            other += 1
    finally:
        s.close()
with open(out + ".tmp", "w") as f:
    f.write("ok %d refused %d other %d\n" % (ok, refused, other))
os.rename(out + ".tmp", out)
PYEOF
}

ready_pid() {   # NAME: wait for that instance's ready file and print its pid
    waitfor "$T/ready.$1" '^ready [0-9]+' 15 >&2 || fail "no ready line from $1"
    sed -nE 's/^ready ([0-9]+).*/\1/p' "$T/ready.$1"
}

sock_ino() { stat -L -c %i "/proc/$1/fd/0"; }   # PID: the inode of its stdin

# kill_and_wait NAME: SIGKILL the instance and wait for its successor; prints the new pid.
kill_and_wait() {
    local old new
    old=$(ready_pid "$1")
    rm -f "$T/ready.$1"
    kill -KILL "$old"
    new=$(ready_pid "$1")
    [ "$new" != "$old" ] || fail "$1 was not restarted"
    echo "$new"
}

run_case() {   # SOCKET-SPEC CLIENT-ADDR
    make_server
    write_conf <<CONF
[fcgi-program:php]
command=/usr/bin/python3 $T/server.py $T
socket=$1
socket_mode=0660
numprocs=2
process_name=%(program_name)s_%(process_num)d
startsecs=0
CONF
    start_tend
    local p0 p1 ino i
    p0=$(ready_pid php_0)
    p1=$(ready_pid php_1)
    ino=$(sock_ino "$p0")
    expect_eq "$(sock_ino "$p1")" "$ino" "the socket of both instances"
    /usr/bin/python3 "$T/client.py" "$2" "$T/stop" "$T/client.out" 2>"$T/client.err" &
    local client=$!
    for i in 1 2 3 4; do
        p0=$(kill_and_wait php_0)
        p1=$(kill_and_wait php_1)
        expect_eq "$(sock_ino "$p0")" "$ino" "php_0's socket after kill $i"
    done
    # The supervisor dies; the keeper starts another, which takes the socket back.
    local sup
    sup=$("$TEND" -s "$T/tend.sock" pid)
    kill -KILL "$sup"
    wait_log "took back the socket $(re "$1")"
    p0=$(kill_and_wait php_0)
    p1=$(kill_and_wait php_1)
    expect_eq "$(sock_ino "$p0")" "$ino" "php_0's socket after the supervisor's restart"
    expect_eq "$(sock_ino "$p1")" "$ino" "php_1's socket after the supervisor's restart"
    touch "$T/stop"
    waitfor "$T/client.out" '^ok' 30 >/dev/null || fail "the client did not finish"
    wait "$client" || true
    local ok refused
    read -r _ ok _ refused _ _ <"$T/client.out"
    expect_eq "$refused" 0 "connections refused ($(cat "$T/client.out"); $(head -3 "$T/client.err"))"
    [ "$ok" -ge 10 ] || fail "only $ok connections answered: $(cat "$T/client.out")"
    stop_tend
}

t_unix_socket_never_refuses() {
    setup
    run_case "unix://$T/php.sock" "$T/php.sock"
}

t_unix_socket_mode() {
    setup
    make_server
    write_conf <<CONF
[fcgi-program:php]
command=/usr/bin/python3 $T/server.py $T
socket=unix://$T/php.sock
socket_mode=0660
startsecs=0
CONF
    start_tend
    ready_pid php >/dev/null
    expect_eq "$(stat -c %a "$T/php.sock")" 660 "the socket file's mode"
    expect_eq "$(stat -c %F "$T/php.sock")" socket "the socket file's type"
    stop_tend
    [ ! -e "$T/php.sock" ] || fail "the socket file is left after tend stopped"
}

t_tcp_socket_never_refuses() {
    setup
    local port
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    run_case "tcp://127.0.0.1:$port" "127.0.0.1:$port"
}

# A socket that cannot be bound: the program is FATAL with the reason, tend goes on.
t_bind_failure_is_fatal() {
    setup
    make_server
    write_conf <<CONF
[fcgi-program:php]
command=/usr/bin/python3 $T/server.py $T
socket=unix://$T/no/such/dir/php.sock
startsecs=0
CONF
    start_tend
    wait_log "php: .*cannot bind unix://$(re "$T")/no/such/dir/php.sock: No such file or directory"
    expect_eq "$(st php state)" FATAL "php's state"
    stop_tend   # a FATAL program and a stop from outside: status 0 still
}

run_tests
