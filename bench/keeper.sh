#!/usr/bin/env bash
# The keeper (issue: a kill -9 of tend loses nothing), measured with N programs (default
# 1,000; BENCH_KEEPER_PROGRAMS):
#   - recovery: from `kill -9` of the supervisor to `tend status` answering again (the client
#     waits in the listening socket's backlog, which the keeper holds), beside one ordinary
#     `tend status` in the same run: the ratio is what a supervisor death costs a client;
#   (restart latency with the keeper in place is bench/supervisor.sh's: tend daemon is the
#   keeper there too);
#   - the keeper's memory: VmRSS and Pss (smaps_rollup) with N programs, beside the
#     supervisor's; then the same for a keeper inside tend (a copy of tend alone, without
#     tend-keeper beside it), the baseline of the same run.
# Usage: bash bench/keeper.sh [BUILD]. Everything lives in a temporary directory.
set -u
cd "$(dirname "$0")/.." || exit 1
build=${1:-build}
n=${BENCH_KEEPER_PROGRAMS:-1000}
rounds=${BENCH_KEEPER_ROUNDS:-15}
TEND=$PWD/$build/tend
H=$PWD/$build/helpers
[ -x "$TEND" ] && [ -x "$H/sleeper" ] && [ -x "$H/waitfor" ] || { echo "  not built"; exit 1; }
T=$(mktemp -d /tmp/tend-bench-keeper.XXXXXX)
keeper=""
cleanup() {
    [ -n "$keeper" ] && kill -TERM "$keeper" 2>/dev/null && "$H/waitfor" -t 60 --gone "$keeper"
    rm -rf "$T"
}
trap cleanup EXIT

now_us() { local t; t=$(date +%s%N); echo $((t / 1000)); }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
sup_pid() { sed -n "s/.* started as pid \\([0-9]*\\) (keeper $keeper).*/\\1/p" "$T/tend.log" | tail -n 1; }

# conf NAME: a config of n programs whose log and socket are $T/NAME.log and $T/NAME.sock.
conf() {
    printf '[tend]\nlogfile=%s/%s.log\nsocket=%s/%s.sock\nchildlogdir=%s/logs\n' \
        "$T" "$1" "$T" "$1" "$T"
    for i in $(seq 1 "$n"); do
        printf '[program:p%d]\ncommand=%s/sleeper\nstartsecs=0\nstdout_logfile=NONE\n' "$i" "$H"
        printf 'stderr_logfile=NONE\n'
    done
}

# run_tend BINARY NAME: tend daemon -n on conf NAME, until every program answers in status.
run_tend() {
    conf "$2" >"$T/$2.conf"
    "$1" daemon -n -c "$T/$2.conf" >"$T/$2.out" 2>&1 </dev/null &
    keeper=$!
    "$H/waitfor" -t 60 "$T/$2.log" "started as pid" >/dev/null ||
        { echo "  tend did not start"; exit 1; }
    for _ in $(seq 1 120); do
        [ "$("$TEND" -s "$T/$2.sock" status 2>/dev/null | grep -c ' RUNNING ')" = "$n" ] && break
        "$H/waitfor" -t 1 "$T/never" x >/dev/null 2>&1   # bounded pause while they start
    done
}

# memory WHO PID: one line of its resident memory.
memory() {
    local rss anon file pss
    rss=$(sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$2/status")
    anon=$(sed -n 's/^RssAnon:[[:space:]]*//p' "/proc/$2/status")
    file=$(sed -n 's/^RssFile:[[:space:]]*//p' "/proc/$2/status")
    pss=$(sed -n 's/^Pss:[[:space:]]*//p' "/proc/$2/smaps_rollup")
    echo "  $1 with $n programs: VmRSS $rss (RssAnon $anon, RssFile $file), Pss $pss"
}
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

run_tend "$TEND" tend

# One ordinary status call, and the recovery after a kill -9, alternately.
: >"$T/status"
: >"$T/recover"
for r in $(seq 1 "$rounds"); do
    t0=$(now_us)
    "$TEND" -s "$T/tend.sock" status >/dev/null 2>&1
    t1=$(now_us)
    echo $((t1 - t0)) >>"$T/status"
    sup=$(sup_pid)
    t0=$(now_us)
    kill -KILL "$sup"
    "$TEND" -s "$T/tend.sock" status >/dev/null 2>&1
    t1=$(now_us)
    echo $((t1 - t0)) >>"$T/recover"
    "$H/waitfor" -t 30 "$T/tend.log" "generation $((r + 1));" >/dev/null
done
st=$(median <"$T/status")
rc=$(median <"$T/recover")
echo "  tend status, $n programs: median $((st / 1000)).$(((st % 1000) / 100)) ms"
echo "  kill -9 of the supervisor -> tend status answered: median $((rc / 1000)).$(((rc % 1000) / 100)) ms" \
     "(ratio $(echo "scale=2; $rc / $st" | bc) to one status call)"

# RssFile is mostly the C library's and tend's pages, shared with every process that maps
# them (tend-keeper is static and maps few): RssAnon is the process's own memory.
sup=$(sup_pid)
memory "keeper ($(basename "$(readlink "/proc/$keeper/exe")"))" "$keeper"
memory supervisor "$sup"
small=$(rss_kb "$keeper")
kill -TERM "$keeper" && "$H/waitfor" -t 60 --gone "$keeper"
wait "$keeper" 2>/dev/null
keeper=""

# The baseline: tend copied alone, so the keeper runs inside it.
mkdir "$T/alone"
cp "$TEND" "$T/alone/tend"
run_tend "$T/alone/tend" alone
memory "keeper inside tend (baseline)" "$keeper"
big=$(rss_kb "$keeper")
echo "  keeper VmRSS: tend-keeper $small kB, inside tend $big kB" \
     "(ratio $(echo "scale=2; $small / $big" | bc))"
