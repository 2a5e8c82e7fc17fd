#!/usr/bin/env bash
# make demo: tend supervising the origin article's servers (examples/article.conf).
# A short guided run: start the supervisor as a daemon, kill a daemonized server and watch
# it come back at once, watch a crashing server being restarted, freeze the business
# server and watch its health check restart it, then shut everything down.
# DEMO_KEEP=1 leaves the supervisor running for you to explore (stop: tend ... shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tend=$PWD/$build/tend
waitfor=$PWD/$build/helpers/waitfor
export TEND_DEMO_DIR=${TEND_DEMO_DIR:-$PWD/$build/demo}   # a test points it into its own directory
# The business server's port: TEND_DEMO_PORT=N picks it; by default a port that is free now
# (the kernel's choice for a bind to port 0), so the demo never collides with a service.
if [ -z "${TEND_DEMO_PORT:-}" ]; then
    TEND_DEMO_PORT=$("$PWD/$build/helpers/e2e_httpd" --free-port) || {
        echo "demo: cannot find a free port (set TEND_DEMO_PORT)" >&2; exit 1; }
fi
export TEND_DEMO_PORT
conf=examples/article.conf
log=$TEND_DEMO_DIR/tend.log
ctl() { "$tend" -c "$conf" "$@"; }

if [ -f "$TEND_DEMO_DIR/tend.pid" ] && ctl pid >/dev/null 2>&1; then
    echo "demo: a demo supervisor is still running; stopping it first"
    ctl shutdown >/dev/null || true
    "$waitfor" -t 30 --gone "$(cat "$TEND_DEMO_DIR/tend.pid")" || true
fi
rm -rf "$TEND_DEMO_DIR"
mkdir -p "$TEND_DEMO_DIR"
say() { printf '\n== %s\n' "$*"; }

echo "demo: business listens on 127.0.0.1:$TEND_DEMO_PORT (TEND_DEMO_PORT=N to choose)"
say "tend check -c $conf"
"$tend" check -c "$conf"

say "tend daemon -c $conf   (returns once the supervisor is up)"
"$tend" daemon -c "$conf"
trap '[ "${DEMO_KEEP:-}" = 1 ] || ctl shutdown >/dev/null 2>&1 || true' EXIT

say "tend start all   (waits until every server is RUNNING)"
ctl start all
ctl status

victim=$(ctl pid im:msg_server)
say "kill -9 msg_server's daemon (pid $victim): its exit reaches tend at once, no polling"
kill -9 "$victim"
"$waitfor" -t 10 "$log" "im:msg_server \(pid $victim\): .*signal 9"
"$waitfor" -t 10 "$log" "im:msg_server: adopted pid"
grep -E "im:msg_server" "$log" | tail -n 4

say "http_msg_server crashes every 3 s by design; tend restarts it each time"
"$waitfor" -t 15 "$log" "http_msg_server .*restart #1"
grep -E "http_msg_server .*(restart|adopted)" "$log" | tail -n 2

biz=$(ctl pid business)
say "business answers on 127.0.0.1:$TEND_DEMO_PORT; now freeze it (kill -STOP $biz)"
kill -STOP "$biz"
"$waitfor" -t 20 "$log" "business: restarting: health check failed"
"$waitfor" -t 20 "$log" "business: spawned pid"
grep -E "business" "$log" | tail -n 5

say "alerts sent (examples/alert-file.sh appends them to $TEND_DEMO_DIR/alerts.log)"
"$waitfor" -t 10 "$TEND_DEMO_DIR/alerts.log" "HEALTH_FAILED"
grep -v '^    ' "$TEND_DEMO_DIR/alerts.log" | tail -n 5

ctl start business >/dev/null || true
ctl status || true
if [ "${DEMO_KEEP:-}" = 1 ]; then
    say "supervisor left running; try: $build/tend -c $conf status | restart all | shutdown"
    exit 0
fi
say "tend shutdown: stop every server by descending priority, then exit"
tend_pid=$(cat "$TEND_DEMO_DIR/tend.pid")
ctl shutdown
"$waitfor" -t 30 --gone "$tend_pid"
tail -n 6 "$log"
trap - EXIT
