#!/usr/bin/env bash
# bench/web.sh: what tend-web ([inet_http_server]) costs and serves, with 1,000 programs.
# Each figure beside a baseline measured in the same run.
#
#   bash bench/web.sh [BUILD_DIR]
#
# Figures (RESULT lines, then a table):
#   status_cli_with_front          `tend status` (the real CLI, fork+exec) median, with tend-web
#                                  running; baseline: the same with no tend-web. Measured in
#                                  blocks in the order off on on off off on, each side the
#                                  median of its three block medians, so a drift of the
#                                  machine's load falls on both. Expected ratio: 1 within noise
#                                  (the CLI loads no HTTP code; the front is idle).
#   http_status_rps, http_metrics_rps
#                                  complete answers per second of GET /api/v1/status and GET
#                                  /metrics (BENCH_CLIENTS keep-alive clients); baseline: the
#                                  control socket's own rate of `tend/1 status` with as many
#                                  clients (each answer a connection, as the CLI does).
#   front_rss_idle, front_rss_after_load
#                                  tend-web's resident memory (VmRSS) before and after the
#                                  load; baseline: tend's own.
#
# Knobs: BENCH_N (programs, 1000), BENCH_RUNS (CLI calls per block, 100), BENCH_SECONDS (per
# rate, 5), BENCH_CLIENTS (4). About a minute. Figures are reported, never judged: the exit
# status is non-zero only when the benchmark itself broke.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
build=${build%/}
[[ $build == "$root"/* ]] && build=${build#"$root"/}
cd "$root" || exit 1
n=${BENCH_N:-1000}
runs=${BENCH_RUNS:-100}
secs=${BENCH_SECONDS:-5}
clients=${BENCH_CLIENTS:-4}

if ! make --no-print-directory "$build/tend" "$build/tend-web" "$build/bench/web_bench" \
    "$build/helpers/waitfor" >/dev/null; then
    echo "web.sh: cannot build tend, tend-web and the benchmark" >&2
    exit 1
fi
tend=$root/$build/tend
wb=$root/$build/bench/web_bench
waitfor=$root/$build/helpers/waitfor
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

dir=$(mktemp -d "${TMPDIR:-/tmp}/tend-webbench.XXXXXX") || exit 1
chmod 711 "$dir"
mkdir -p "$dir/logs" "$dir/web.d"
sock=$dir/tend.sock
log=$dir/tend.log
weblog=$dir/logs/tend-web-stdout.log
cat >"$dir/tend.conf" <<EOF2
[tend]
logfile=$log
childlogdir=$dir/logs
socket=$sock
[include]
files=web.d/*.conf
[program:p]
command=/bin/sleep 1000000
numprocs=$n
process_name=p_%(process_num)04d
startsecs=0
stdout_logfile=NONE
stderr_logfile=NONE
EOF2
tend_pid=""
broke() {
    echo "web.sh: $*; kept $dir" >&2
    [ -z "$tend_pid" ] || kill -TERM "$tend_pid" 2>/dev/null
    exit 1
}
"$tend" daemon -n -c "$dir/tend.conf" >"$dir/tend.out" 2>&1 &
tend_pid=$!
last=$(printf 'p_%04d' $((n - 1)))
"$waitfor" -t 120 "$log" "$last \(pid [0-9]+\): STARTING -> RUNNING" >/dev/null ||
    broke "tend did not start $n programs"

front() {   # on|off: add or remove [inet_http_server], reload, wait until it took effect
    local seen
    seen=$(grep -c 'listening on http://' "$weblog" 2>/dev/null) || seen=0
    if [ "$1" = on ]; then
        printf '[inet_http_server]\nport=127.0.0.1:0\n' >"$dir/web.d/web.conf"
    else
        rm -f "$dir/web.d/web.conf"
    fi
    "$tend" -s "$sock" reload >/dev/null || broke "reload failed"
    if [ "$1" = on ]; then
        local i
        for i in $(seq 1 200); do
            [ "$(grep -c 'listening on http://' "$weblog" 2>/dev/null || echo 0)" -gt "$seen" ] && break
            "$waitfor" -t 0.1 --gone "$tend_pid" >/dev/null 2>&1 && broke "tend died"
        done
        web_port=$(grep -Eo '127\.0\.0\.1:[0-9]+' "$weblog" | tail -n 1 | cut -d: -f2)
        web_pid=$("$tend" -s "$sock" pid tend-web)
    fi
}
cli_block() { "$wb" cli "$runs" "$tend" "$sock" | sed -E 's/.*median_ms=([0-9.]+).*/\1/'; }

echo "tend-web benchmark: $build on $(nproc) cores, $(uname -r), $n programs," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Blocks in the order off on on off off on (ABBA...), so that a steady drift of the machine's
# load weighs on both sides alike; each side's figure is the median of its block medians.
offs=() ons=() order=""
for side in off on on off off on; do
    [ "$side" = on ] && [ -z "${web_pid:-}" ] && front on
    [ "$side" = off ] && [ -n "${web_pid:-}" ] && { front off; web_pid=""; }
    m=$(cli_block) || broke "cli"
    if [ "$side" = on ]; then ons+=("$m"); else offs+=("$m"); fi
    order="$order $side $m,"
done
[ -n "${web_pid:-}" ] || front on
echo "  tend status median (ms), blocks of $runs:${order%,}"
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }
rss_idle=$(rss "$web_pid")
tend_rss=$(rss "$tend_pid")
st_rps=$("$wb" http "$secs" "$clients" "$web_port" /api/v1/status) || broke "http status"
me_rps=$("$wb" http "$secs" "$clients" "$web_port" /metrics) || broke "http metrics"
ctl_rps=$("$wb" ctl "$secs" "$clients" "$sock") || broke "ctl"
rss_load=$(rss "$web_pid")
echo "  GET /api/v1/status: $st_rps; GET /metrics: $me_rps; control socket status: $ctl_rps"
kill -TERM "$tend_pid"
"$waitfor" -t 60 --gone "$tend_pid" >/dev/null || broke "tend did not stop"

val() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }
result() {   # NAME VALUE UNIT BASELINE
    awk -v n="$1" -v v="$2" -v u="$3" -v b="$4" 'BEGIN {
        printf "RESULT name=%s value=%.3f unit=%s baseline=%.3f ratio=%.2f\n", n, v, u, b,
               (b > 0 ? v / b : 0) }'
}
{
    result status_cli_with_front "$(median3 "${ons[@]}")" ms "$(median3 "${offs[@]}")"
    result http_status_rps "$(val rps "$st_rps")" req/s "$(val rps "$ctl_rps")"
    result http_metrics_rps "$(val rps "$me_rps")" req/s "$(val rps "$ctl_rps")"
    result front_rss_idle "$rss_idle" kB "$tend_rss"
    result front_rss_after_load "$rss_load" kB "$tend_rss"
} | tee "$dir/results"
echo
echo "== web summary (ratio = figure / baseline)"
awk '/^RESULT / {
        delete f
        for (i = 2; i <= NF; i++) { eq = index($i, "="); f[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
        printf "%-24s %12s %-6s %12s %-6s %7s\n", f["name"], f["value"], f["unit"], f["baseline"],
               f["unit"], f["ratio"]
     }' "$dir/results"
rm -rf "$dir"
