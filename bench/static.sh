#!/usr/bin/env bash
# bench/static.sh: the static build (make static: musl, build/static/tend) beside the normal
# one (glibc, dynamically linked) measured in the same run: file size, and start-up time.
#
#   bash bench/static.sh [BUILD_DIR]
#
# Figures (each: static, then the normal build as the baseline, then static / normal):
#   size_bytes           the file as shipped: both stripped (the normal build's copy is
#                        stripped here, as the Debian package strips it)
#   version_exec_ms      median of BENCH_RUNS runs of `tend --version`: exec, dynamic loading
#                        (none for the static one), exit
#   daemon_ready_ms      median of BENCH_STARTS runs of `tend daemon -c CONF` with one
#                        program: until the command returns, which it does once the
#                        supervisor is ready (control socket up); then `tend shutdown`
# Knobs: BENCH_RUNS (200), BENCH_STARTS (20). Reported, never judged; exit status non-zero
# only when the benchmark broke (the static build is missing: make static needs musl-tools).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
cd "$root" || exit 1
runs=${BENCH_RUNS:-200}
starts=${BENCH_STARTS:-20}
S=$root/build/static/tend
D=$root/$build/tend

if [ ! -x "$S" ] && ! make -s static >/dev/null 2>&1; then
    echo "static.sh: no $S and make static failed (musl-tools installed?)" >&2
    exit 1
fi
[ -x "$D" ] || { echo "static.sh: no $D (make)" >&2; exit 1; }
waitfor=$root/$build/helpers/waitfor
[ -x "$waitfor" ] || make -s "$build/helpers/waitfor" >/dev/null || exit 1
set -o pipefail   # a failed run must not leave a median of the others
dir=$(mktemp -d /tmp/tend-bench-static.XXXXXX)
trap 'rm -rf "$dir"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Runs of `BINARY --version`: one duration (ms) per line.
version_runs() {
    local i t0 t1
    for ((i = 0; i < runs; i++)); do
        t0=${EPOCHREALTIME/[.,]/}
        "$1" --version >/dev/null
        t1=${EPOCHREALTIME/[.,]/}
        echo "$(( (t1 - t0) / 1000 )).$(printf '%03d' $(( (t1 - t0) % 1000 )))"
    done
}

# Runs of `BINARY daemon` until it returns ready, then a shutdown (not timed).
daemon_runs() {
    local i t0 t1 pid conf=$dir/tend.conf
    printf '[tend]\nsocket=%s/tend.sock\nlogfile=%s/tend.log\n[program:sleeper]\ncommand=sleep 1000\n' \
        "$dir" "$dir" >"$conf"
    for ((i = 0; i < starts; i++)); do
        t0=${EPOCHREALTIME/[.,]/}
        "$1" daemon -c "$conf" >/dev/null 2>&1 || { echo "static.sh: $1 daemon failed" >&2; return 1; }
        t1=${EPOCHREALTIME/[.,]/}
        echo "$(( (t1 - t0) / 1000 )).$(printf '%03d' $(( (t1 - t0) % 1000 )))"
        pid=$("$1" -s "$dir/tend.sock" pid) && "$1" -s "$dir/tend.sock" shutdown >/dev/null 2>&1 ||
            { echo "static.sh: $1 pid/shutdown failed" >&2; return 1; }
        # The next start needs the socket free: wait until this supervisor has exited.
        "$waitfor" -t 30 --gone "$pid" || { echo "static.sh: tend $pid did not exit" >&2; return 1; }
    done
}

cp "$D" "$dir/tend-normal" && strip "$dir/tend-normal" || exit 1
size_s=$(stat -c %s "$S")
size_d=$(stat -c %s "$dir/tend-normal")
ver_s=$(version_runs "$S" | median)
ver_d=$(version_runs "$D" | median)
up_s=$(daemon_runs "$S" | median) || exit 1
up_d=$(daemon_runs "$D" | median) || exit 1

echo "static build: $S (musl) beside $D (glibc, dynamic) on $(nproc) cores, $(uname -r)"
printf '%-20s %14s %14s %8s\n' figure static normal ratio
row() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-20s %14.3f %14.3f %8.2f\n", n, a, b, a / b }'; }
row size_bytes "$size_s" "$size_d"
row version_exec_ms "$ver_s" "$ver_d"
row daemon_ready_ms "$up_s" "$up_d"
