#!/usr/bin/env bash
# bench/status.sh: `tend status` with 1,000 programs, and what 100 clients hammering status do
# to the restart of a program. Each figure beside a baseline measured in the same run (see
# bench/README.md for the RESULT lines).
#
#   bash bench/status.sh [BUILD_DIR]
#
# BUILD_DIR defaults to build (relative to the repository root). Builds BUILD_DIR/tend,
# BUILD_DIR/bench/status_bench and BUILD_DIR/bench/sup_beacon with make, runs status_bench in
# a temporary directory (config, tend's log and socket, the beacons' socket; removed
# afterwards, kept and named if the benchmark breaks), and ends with a table. Figures are
# reported, never judged: the exit status is non-zero only when the benchmark itself broke.
#
# What is measured (details in bench/status_bench.c):
#   status_cli_median/p99          `tend status` (the real CLI, fork+exec) with 1,000 programs;
#                                  baseline: `tend pid`, the cost of any client call.
#                                  Target: within 3 ms of it (DESIGN.md).
#   client_cli_median              that `tend pid` call; baseline: fork+exec+wait of /bin/true.
#   status_raw_median/p99          connect + "tend/1 status" + read to the final line, from
#                                  inside the benchmark; baseline: the same for "tend/1 pid".
#   restart_latency_clients_*      SIGKILL of a RUNNING program -> main() of its next instance,
#                                  while 100 clients hammer status; baseline: the same without
#                                  them. Target: a few ms of delay.
#   status_throughput_clients      status replies per second served to the 100 clients;
#                                  baseline: one client at a time (1000 / status_raw_median).
#
# Knobs: BENCH_N (programs, 1000), BENCH_RUNS (CLI and raw calls, 100), BENCH_KILLS (restart
# samples per condition, 30), BENCH_CLIENTS (hammering clients, 100). About 30-60 s.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
build=${build%/}
[[ $build == "$root"/* ]] && build=${build#"$root"/}
cd "$root" || exit 1

bench=$build/bench/status_bench
beacon=$build/bench/sup_beacon
if ! make --no-print-directory "$bench" "$beacon" >/dev/null; then
    echo "status.sh: cannot build $bench and $beacon" >&2
    exit 1
fi
# tend may be mid-edit by someone else: a failed rebuild with a binary in place is a warning.
if ! make --no-print-directory "$build/tend" >/dev/null; then
    if [[ -x $build/tend ]]; then
        echo "status.sh: warning: cannot rebuild $build/tend; measuring the existing one" >&2
    else
        echo "status.sh: cannot build $build/tend" >&2
        exit 1
    fi
fi

# A thousand programs, a hundred clients: plenty of descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

dir=$(mktemp -d "${TMPDIR:-/tmp}/tend-statusbench.XXXXXX") || exit 1
out=$dir/bench.out
echo "tend status benchmark: $build/tend on $(nproc) cores, $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
start=${EPOCHREALTIME/,/.}
"$root/$bench" "$root/$build/tend" "$root/$beacon" "$dir" | tee "$out"
rc=${PIPESTATUS[0]}
awk -v a="$start" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "   (took %.1f s)\n", b - a }'

echo
echo "== status summary (ratio = figure / baseline; lower is better, except throughput)"
awk '
    /^RESULT / {
        delete f
        for (i = 2; i <= NF; i++) {
            eq = index($i, "=")
            f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
        }
        rows[++n] = sprintf("%-32s %12.3f %-6s %12.3f %-6s %7s   %s", f["name"], f["value"],
                            f["unit"], f["baseline"], f["unit"], f["ratio"],
                            ("target" in f) ? f["target"] : "")
    }
    END {
        printf "%-32s %19s %19s %7s   %s\n", "figure", "tend", "baseline", "ratio", "target"
        for (i = 1; i <= n; i++)
            print rows[i]
    }
' "$out"

if [[ $rc -ne 0 ]]; then
    echo "status.sh: the benchmark broke (exit $rc); its files are kept in $dir" >&2
    exit 1
fi
rm -rf "$dir"
exit 0
