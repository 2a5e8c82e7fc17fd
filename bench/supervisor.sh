#!/usr/bin/env bash
# bench/supervisor.sh: the supervisor's performance figures (DESIGN.md, "Performance
# contract"), each beside a baseline measured in the same run. See bench/README.md.
#
#   bash bench/supervisor.sh [BUILD_DIR] [latency|rss|idle|killall|start|status|scale|logs]...
#
# BUILD_DIR defaults to build (relative to the repository root); no scenario means all of
# them but logs (run it by name; tend's log capture is not wired in yet). Builds what it
# needs with make, runs each scenario with build/bench/sup_driver (BENCH_SYSTEMS=tend),
# prints its lines and a table at the end. Figures are reported, never judged: the exit
# status is non-zero only when a benchmark itself broke (a build failed, tend did not start,
# a program never came back).
#
# Knobs: BENCH_IDLE_SECS (idle window, 30), BENCH_KILLS (latency samples, 200),
# BENCH_N (programs for idle/killall/start/status, 1000), BENCH_ROUNDS (killall/start rounds
# at most, 3), BENCH_BUDGET_SECS (no further killall/start round after this many seconds,
# 30); the others of bench/sup_driver.c too. The scale scenario runs start, rss and killall
# (with status timed during the restart) at each of BENCH_SIZES ("100 1000 10000"), one
# round each. bench/compare.sh runs the same scenarios on tend
# and its peers.
set -u

all_scenarios=(latency rss idle killall start status scale)
known_scenarios=("${all_scenarios[@]}" logs)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

is_scenario() {
    local s
    for s in "${known_scenarios[@]}"; do
        [[ $1 == "$s" ]] && return 0
    done
    return 1
}

build=build
if [[ $# -gt 0 ]] && ! is_scenario "$1"; then
    build=$1
    shift
fi
# The Makefile's rules are written for paths relative to the root (build/bench/NAME).
build=${build%/}
[[ $build == "$root"/* ]] && build=${build#"$root"/}
scenarios=("$@")
[[ ${#scenarios[@]} -eq 0 ]] && scenarios=("${all_scenarios[@]}")
for s in "${scenarios[@]}"; do
    if ! is_scenario "$s"; then
        echo "supervisor.sh: unknown scenario '$s' (known: ${known_scenarios[*]})" >&2
        exit 2
    fi
done

cd "$root" || exit 1
export BENCH_SYSTEMS=tend BENCH_CONFIGS=fast
grep -q 'logcap_new' src/supervisor.c 2>/dev/null && export BENCH_TEND_LOGCAP=${BENCH_TEND_LOGCAP:-1}
driver=$build/bench/sup_driver
beacon=$build/bench/sup_beacon
if ! make --no-print-directory "$driver" "$beacon" >/dev/null; then
    echo "supervisor.sh: cannot build $driver and $beacon" >&2
    exit 1
fi
# tend may be mid-edit by someone else: a failed rebuild with a binary in place is a warning.
if ! make --no-print-directory "$build/tend" >/dev/null; then
    if [[ -x $build/tend ]]; then
        echo "supervisor.sh: warning: cannot rebuild $build/tend; measuring the existing one" >&2
    else
        echo "supervisor.sh: cannot build $build/tend" >&2
        exit 1
    fi
fi

# Thousands of programs: every one briefly holds a pipe in tend while it starts.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

out=$(mktemp "${TMPDIR:-/tmp}/tend-supbench.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
broken=()
echo "tend supervisor benchmarks: $build/tend on $(nproc) cores, $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for s in "${scenarios[@]}"; do
    start=${EPOCHREALTIME/,/.}
    if [[ $s == scale ]]; then
        rc=0
        for n in ${BENCH_SIZES:-100 1000 10000}; do
            echo "-- scale: $n programs"
            BENCH_N=$n BENCH_ROUNDS=1 BENCH_MIN_UP_MS=0 \
                "$driver" start,rss,killall "$build/tend" "$beacon" |
                sed "s/^RESULT name=\([a-z_0-9]*\)/RESULT name=\1@$n/" | tee -a "$out"
            [[ ${PIPESTATUS[0]} -eq 0 ]] || rc=1
        done
    else
        "$driver" "$s" "$build/tend" "$beacon" | tee -a "$out"
        rc=${PIPESTATUS[0]}
    fi
    if [[ $rc -ne 0 ]]; then
        echo "supervisor.sh: scenario $s broke (exit $rc)" >&2
        broken+=("$s")
    fi
    awk -v a="$start" -v b="${EPOCHREALTIME/,/.}" -v s="$s" \
        'BEGIN { printf "   (%s took %.1f s)\n", s, b - a }'
done

echo
echo "== supervisor summary (ratio = tend / baseline; lower is better)"
awk '
    /^RESULT / && !/ system=floor / {
        delete f
        for (i = 2; i <= NF; i++) {
            eq = index($i, "=")
            f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
        }
        if (f["value"] + 0 < 0) f["value"] = "nan"
        rows[++n] = sprintf("%-34s %12.1f %-6s %12.1f %-6s %7s   %s", f["name"], f["value"],
                            f["unit"], f["baseline"], f["unit"], f["ratio"],
                            ("target" in f) ? f["target"] : "")
    }
    END {
        printf "%-34s %19s %19s %7s   %s\n", "figure", "tend", "baseline", "ratio", "target"
        for (i = 1; i <= n; i++)
            print rows[i]
    }
' "$out"
if [[ ${#broken[@]} -gt 0 ]]; then
    echo "supervisor.sh: broken: ${broken[*]}" >&2
    exit 1
fi
exit 0
