#!/usr/bin/env bash
# make demo: tend supervising the origin article's servers (examples/article.conf).
# A short guided run: start the supervisor as a daemon, kill a server and watch it come
# back at once, watch a crashing server being restarted, then shut everything down.
# DEMO_KEEP=1 leaves the supervisor running for you to explore (stop: kill -TERM PID).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tend=$build/tend
waitfor=$build/helpers/waitfor
export TEND_DEMO_DIR=$PWD/$build/demo
export TEND_DEMO_PORT=${TEND_DEMO_PORT:-18080}
log=$TEND_DEMO_DIR/tend.log

rm -rf "$TEND_DEMO_DIR"
mkdir -p "$TEND_DEMO_DIR"
say() { printf '\n== %s\n' "$*"; }
pid_of() { sed -n "s/^.* $1: spawned pid \([0-9]*\).*/\1/p" "$log" | tail -n 1; }

say "tend check -c examples/article.conf"
"$tend" check -c examples/article.conf

say "tend daemon -c examples/article.conf   (returns once the supervisor is up)"
"$tend" daemon -c examples/article.conf
tend_pid=$(cat "$TEND_DEMO_DIR/tend.pid")
echo "supervisor running as pid $tend_pid"
trap '[ "${DEMO_KEEP:-}" = 1 ] || kill -TERM "$tend_pid" 2>/dev/null || true' EXIT

for s in login_server msg_server route_server http_msg_server business; do
    "$waitfor" -t 10 "$log" "[ :]$s \(pid [0-9]+\): STARTING -> RUNNING"
done
if [ -x "$tend" ] && "$tend" status >/dev/null 2>&1; then "$tend" status || true; fi
say "all five servers are RUNNING; tend's log so far ($log):"
cat "$log"

victim=$(pid_of "im:msg_server")
say "kill -9 msg_server (pid $victim): tend sees the exit at once, no polling"
kill -9 "$victim"
"$waitfor" -t 10 "$log" "im:msg_server \(pid $victim\): .*signal 9"
"$waitfor" -t 10 "$log" "im:msg_server: spawned pid"
grep -E "im:msg_server" "$log" | tail -n 3

say "http_msg_server crashes every 3 s by design; tend restarts it each time"
"$waitfor" -t 15 "$log" "http_msg_server .*restart #1"
grep -E "http_msg_server .*restart" "$log" | tail -n 2

say "business answers on 127.0.0.1:$TEND_DEMO_PORT"
exec 3<>"/dev/tcp/127.0.0.1/$TEND_DEMO_PORT"
printf 'GET / HTTP/1.0\r\n\r\n' >&3
head -n 1 <&3
exec 3<&-

if [ "${DEMO_KEEP:-}" = 1 ]; then
    say "supervisor left running as pid $tend_pid; log: $log"
    exit 0
fi
say "kill -TERM $tend_pid: stop every server by descending priority, then exit"
kill -TERM "$tend_pid"
"$waitfor" -t 20 --gone "$tend_pid"
tail -n 8 "$log"
trap - EXIT
