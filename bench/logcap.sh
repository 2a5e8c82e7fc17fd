#!/usr/bin/env bash
# Log capture throughput: a program writes BENCH_LOG_MB (default 1024) MiB of 100-byte lines
# to stdout; through tend (stdout_logfile, rotation off) into a file, beside the baseline
# `flood | cat > file` (a pipe and a file, nothing else) measured in the same run, on the
# same filesystem. Reports MB/s for both, their ratio (target >= 0.8), and tend's CPU time
# per GB written (utime+stime from /proc/PID/stat, before and after).
#   bash bench/logcap.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
make -s "$build/tend" "$build/helpers/flood" "$build/helpers/waitfor" >/dev/null
mb=${BENCH_LOG_MB:-1024}
lines=$(( mb * 1024 * 1024 / 100 ))
bytes=$(( lines * 100 ))
dir=$(mktemp -d "${TMPDIR:-/tmp}/tend-bench-log.XXXXXX")
tend_pid=
cleanup() {
    [ -n "$tend_pid" ] && kill "$tend_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
now() { date +%s.%N; }
tick=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tick" '{ sub(/^.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

# Baseline: the same lines through a pipe into a file.
t0=$(now)
"$build/helpers/flood" -n "$lines" -s 100 | cat > "$dir/cat.log"
t1=$(now)
base_s=$(echo "$t1 - $t0" | bc -l)
rm -f "$dir/cat.log"

# run_tend LIMIT: the same lines through tend (under the descriptor limit LIMIT, without
# CAP_SYS_RESOURCE, when LIMIT is not empty); sets tend_s and cpu_used.
run_tend() {
    rm -f "$dir/flood.log" "$dir/tend.log"
    cat > "$dir/tend.conf" <<CONF
[tend]
logfile = $dir/tend.log
socket = $dir/tend.sock
[program:flood]
command = $PWD/$build/helpers/flood -n $lines -s 100
autostart = false
autorestart = false
startsecs = 0
stdout_logfile = $dir/flood.log
stdout_logfile_maxbytes = 0
CONF
    if [ -n "$1" ]; then
        (ulimit -n "$1" && exec setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource \
            "$build/tend" daemon -n -c "$dir/tend.conf") 2>"$dir/tend.err" &
    else
        "$build/tend" daemon -n -c "$dir/tend.conf" 2>"$dir/tend.err" &
    fi
    tend_pid=$!
    "$build/helpers/waitfor" -t 30 "$dir/tend.log" "listening on"
    # The supervisor does the work (tend_pid is the keeper, its parent).
    sup=$("$build/tend" -s "$dir/tend.sock" pid)
    cpu0=$(cpu_of "$sup")
    t0=$(now)
    "$build/tend" -s "$dir/tend.sock" start --no-wait flood >/dev/null
    # Done when the program has exited and every byte is in the file.
    "$build/helpers/waitfor" -t 600 "$dir/tend.log" "flood \(pid [0-9]+\): .*exited: exit 0"
    while [ "$(stat -c %s "$dir/flood.log" 2>/dev/null || echo 0)" -lt "$bytes" ]; do
        "$build/helpers/waitfor" -t 60 "$dir/tend.log" "flood" >/dev/null   # bounded re-check
        [ "$(echo "$(now) - $t0 > 600" | bc)" = 1 ] && { echo "log never complete"; exit 1; }
    done
    t1=$(now)
    cpu1=$(cpu_of "$sup")
    tend_s=$(echo "$t1 - $t0" | bc -l)
    cpu_used=$(echo "$cpu1 - $cpu0" | bc -l)
    size=$(stat -c %s "$dir/flood.log")
    [ "$size" -eq "$bytes" ] || { echo "log size $size != $bytes"; exit 1; }
    kill "$tend_pid"; wait "$tend_pid" 2>/dev/null || true; tend_pid=
}

run_tend ""
fd_s=$tend_s fd_cpu=$cpu_used
# The same with the program's pipes held in an io_uring past the descriptor limit (fdring.h):
# this config needs 101 (the program 3, its two log files 2, the fixed part 96), so a limit
# of 99 leaves both of its read ends to the ring. Each pump then borrows a descriptor of the pipe (an io_uring_enter and a
# close more).
ring_s=
if command -v setpriv >/dev/null; then
    run_tend 99
    if grep -q "capture pipes past the limit are held in an io_uring" "$dir/tend.log"; then
        ring_s=$tend_s ring_cpu=$cpu_used
    fi
fi
tend_s=$fd_s cpu0=0 cpu1=$fd_cpu
mbps() { echo "scale=1; $bytes / 1048576 / $1" | bc -l; }
tend_mbps=$(mbps "$tend_s"); base_mbps=$(mbps "$base_s")
ratio=$(echo "scale=2; $tend_mbps / $base_mbps" | bc -l)
cpu_per_gb=$(echo "scale=3; ($cpu1 - $cpu0) * 1073741824 / $bytes" | bc -l)
printf '  %d MiB of 100-byte lines: tend %s MB/s (%.2f s), flood | cat > file %s MB/s (%.2f s)\n' \
    "$mb" "$tend_mbps" "$tend_s" "$base_mbps" "$base_s"
printf '  tend CPU per GB written: %s s   (load average %s)\n' "$cpu_per_gb" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "RESULT name=log_throughput value=$tend_mbps unit=MB/s baseline=$base_mbps ratio=$ratio target=ratio>=0.8"
echo "RESULT name=log_cpu_per_gb value=$cpu_per_gb unit=s baseline=nan ratio=nan"
if [ -n "$ring_s" ]; then
    ring_mbps=$(mbps "$ring_s")
    ring_cpu_gb=$(echo "scale=3; $ring_cpu * 1073741824 / $bytes" | bc -l)
    printf '  the pipe held in an io_uring: tend %s MB/s (%.2f s), CPU per GB %s s\n' \
        "$ring_mbps" "$ring_s" "$ring_cpu_gb"
    echo "RESULT name=log_throughput_ring value=$ring_mbps unit=MB/s baseline=$tend_mbps ratio=$(echo "scale=2; $ring_mbps / $tend_mbps" | bc -l)"
    echo "RESULT name=log_cpu_per_gb_ring value=$ring_cpu_gb unit=s baseline=$cpu_per_gb ratio=$(echo "scale=2; $ring_cpu_gb / $cpu_per_gb" | bc -l)"
fi
