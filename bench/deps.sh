#!/usr/bin/env bash
# bench/deps.sh: what dependencies and readiness cost.
#
#   1. Start: N programs (1000) in a 10-level dependency tree (level k's programs all need
#      level k-1's group) until every one is RUNNING, against the same N programs with no
#      dependencies, in the same run; and the orderly shutdown of each (dependents first vs
#      by priority alone).
#   2. Restart latency: a program killed with SIGKILL until it is RUNNING again, when
#      readiness=notify (it must send READY=1 first) against readiness=startsecs with
#      startsecs=0 (RUNNING on the confirmed exec). Measured from tend's own log timestamps
#      (the exit line to the RUNNING line, ms), so the client's polling adds nothing.
#
#   bash bench/deps.sh [BUILD_DIR]
#
# Knobs: BENCH_DEPS_N (1000), BENCH_DEPS_ROUNDS (start/stop rounds of each kind, 3; the
# median is reported), BENCH_DEPS_KILLS (restart samples of each kind, 100). Figures are
# reported, never judged: the exit status is non-zero only when the benchmark broke.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
build=${build%/}
[[ $build == "$root"/* ]] && build=${build#"$root"/}
cd "$root" || exit 1
if ! make --no-print-directory "$build/tend" "$build/helpers/readyprog" \
    "$build/helpers/waitfor" >/dev/null; then
    if [[ ! -x $build/tend || ! -x $build/helpers/readyprog ]]; then
        echo "deps.sh: cannot build $build/tend and $build/helpers/readyprog" >&2
        exit 1
    fi
    echo "deps.sh: warning: cannot rebuild; measuring the existing binaries" >&2
fi
tend=$root/$build/tend
ready=$root/$build/helpers/readyprog
N=${BENCH_DEPS_N:-1000}
LEVELS=10
ROUNDS=${BENCH_DEPS_ROUNDS:-3}
KILLS=${BENCH_DEPS_KILLS:-100}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d "${TMPDIR:-/tmp}/tend-depsbench.XXXXXX") || exit 1
keeper=""
cleanup() {
    [ -z "$keeper" ] || kill -KILL "$keeper" 2>/dev/null
    [ -n "${BENCH_DEPS_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

now_ms() { local t=${EPOCHREALTIME/,/.}; echo "${t%.*}${t#*.}" | cut -c1-13; }

header() {   # CONF
    printf '[tend]\nlogfile=%s/tend.log\nchildlogdir=%s\nsocket=%s/tend.sock\n' \
        "$work" "$work" "$work" >"$1"
}

# KIND (flat|tree): N programs in LEVELS groups of N/LEVELS; in a tree, each program of
# level k > 0 needs the whole group of level k-1.
write_start_conf() {
    local kind=$1 conf=$work/$1.conf per=$((N / LEVELS)) l p names
    header "$conf"
    for ((l = 0; l < LEVELS; l++)); do
        names=$(seq -f "l${l}_p%03g" -s , 0 $((per - 1)))
        printf '[group:lvl%d]\nprograms=%s\n' "$l" "$names" >>"$conf"
        for ((p = 0; p < per; p++)); do
            printf '[program:l%d_p%03d]\ncommand=/bin/sleep 1000000\nstartsecs=0\n' "$l" "$p"
            printf 'stdout_logfile=NONE\nstderr_logfile=NONE\nstopwaitsecs=30\n'
            [[ $kind == tree && $l -gt 0 ]] && printf 'depends_on=lvl%d\n' $((l - 1))
        done >>"$conf"
    done
}

start_tend() {   # CONF
    : >"$work/tend.log"
    "$tend" daemon -n -c "$1" >"$work/tend.out" 2>&1 </dev/null &
    keeper=$!
}

stop_tend() {
    kill -TERM "$keeper" 2>/dev/null
    wait "$keeper" 2>/dev/null
    keeper=""
}

# Waits until tend's log has COUNT lines matching ERE (polling every 10 ms, for SECS).
wait_count() {   # ERE COUNT SECS
    local deadline=$((SECONDS + $3))
    while [ "$(grep -Ec -- "$1" "$work/tend.log")" -lt "$2" ]; do
        [ $SECONDS -lt "$deadline" ] || return 1
        sleep 0.01
    done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

start_round() {   # KIND: prints "START_MS STOP_MS"
    local t0 t1 t2
    t0=$(now_ms)
    start_tend "$work/$1.conf"
    wait_count ' -> RUNNING' "$N" 120 || { echo "deps.sh: $1: not all RUNNING" >&2; return 1; }
    t1=$(now_ms)
    stop_tend
    t2=$(now_ms)
    echo "$((t1 - t0)) $((t2 - t1))"
}

broke=0
if [ "${BENCH_DEPS_SKIP_START:-}" != 1 ]; then
write_start_conf flat
write_start_conf tree
for kind in flat tree; do
    : >"$work/$kind.times"
done
for ((r = 0; r < ROUNDS; r++)); do
    for kind in flat tree; do
        start_round "$kind" >>"$work/$kind.times" || broke=1
    done
done
[ $broke -eq 0 ] || exit 1
fs=$(cut -d' ' -f1 "$work/flat.times" | median)
ts=$(cut -d' ' -f1 "$work/tree.times" | median)
fq=$(cut -d' ' -f2 "$work/flat.times" | median)
tq=$(cut -d' ' -f2 "$work/tree.times" | median)
echo "  start of $N programs until all RUNNING (median of $ROUNDS):"
awk -v a="$ts" -v b="$fs" 'BEGIN { printf "    10-level tree %7d ms   no dependencies %7d ms   ratio %.2f\n", a, b, a / b }'
echo "  orderly shutdown of the same (median of $ROUNDS):"
awk -v a="$tq" -v b="$fq" 'BEGIN { printf "    10-level tree %7d ms   by priority     %7d ms   ratio %.2f\n", a, b, a / b }'
fi

# -- restart latency ---------------------------------------------------------------------------
# Kills rotate over KILLS/2 programs, each killed twice at most: tend backs off a program
# that dies PROC_CRASH_LOOP_AFTER (3) times in a row within 10 s, which is not measured here.
restart_kind() {   # KIND (startsecs|notify): prints the mean restart latency in ms
    local conf=$work/r.conf i k pid m=$(((KILLS + 1) / 2))
    header "$conf"
    for ((k = 0; k < m; k++)); do
        if [[ $1 == notify ]]; then
            printf '[program:r%03d]\ncommand=%s -n %s/r%03d.note\nreadiness=notify\n' \
                "$k" "$ready" "$work" "$k"
        else
            printf '[program:r%03d]\ncommand=%s %s/r%03d.note\nstartsecs=0\n' \
                "$k" "$ready" "$work" "$k"
        fi
        printf 'stdout_logfile=NONE\nstderr_logfile=NONE\n'
        : >"$work/r$(printf %03d "$k").note"
    done >>"$conf"
    start_tend "$conf"
    wait_count 'r[0-9]+ \(pid [0-9]+\): STARTING -> RUNNING' "$m" 60 || return 1
    for ((i = 1; i <= KILLS; i++)); do
        k=$(printf %03d $(((i - 1) % m)))
        pid=$(awk '$1 == "ready" { p = $3 } END { print p }' "$work/r$k.note")
        kill -KILL "$pid"
        wait_count "r$k \\(pid [0-9]+\\): STARTING -> RUNNING" $(((i - 1) / m + 2)) 30 || return 1
    done
    stop_tend
    # Pair each program's exit line with its next RUNNING line.
    awk '
        function ms(t,  c) { split(t, c, /[:.]/); return ((c[1] * 60 + c[2]) * 60 + c[3]) * 1000 + c[4] }
        $4 ~ /^r[0-9]+$/ && / RUNNING -> (STARTING|EXITED|BACKOFF): exited: signal 9/ { t0[$4] = ms($2); next }
        $4 ~ /^r[0-9]+$/ && ($4 in t0) && / STARTING -> RUNNING/ { sum += ms($2) - t0[$4]; n++; delete t0[$4] }
        END { if (n) printf "%.2f %d\n", sum / n, n; else print "nan 0" }
    ' "$work/tend.log"
}
base=$(restart_kind startsecs) || { echo "deps.sh: restart (startsecs) broke" >&2; exit 1; }
notify=$(restart_kind notify) || { echo "deps.sh: restart (notify) broke" >&2; exit 1; }
echo "  restart after SIGKILL until RUNNING again (mean of $KILLS, from tend's log):"
awk -v a="${notify% *}" -v b="${base% *}" 'BEGIN { printf "    readiness=notify %6.2f ms   startsecs=0 %6.2f ms   ratio %.2f\n", a, b, (b > 0 ? a / b : 0) }'
exit 0
