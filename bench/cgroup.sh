#!/usr/bin/env bash
# bench/cgroup.sh: what a cgroup per program costs. Each figure of tend with cgroups (the
# default) beside the same figure of tend with [tend] cgroups=false measured in the same run
# (the baseline), and their ratio. See bench/README.md for the RESULT lines.
#
#   bash bench/cgroup.sh [BUILD_DIR]
#
# What is measured (with bench/sup_driver.c, BENCH_SYSTEMS=tend, fast configuration):
#   cgroup_restart_latency_median/p99
#       SIGKILL of a RUNNING program -> main() of its next instance: with cgroups the spawn
#       goes through clone3(CLONE_INTO_CGROUP) and tend first checks that the dead instance
#       left nothing behind. Target: ratio <= 1.1 (within 10%).
#   cgroup_status_median/p99
#       `tend status` of 1,000 programs: with cgroups it reads every program's memory, CPU
#       and task count from its cgroup at the request (nothing is polled).
# Figures are reported, never judged: the exit status is non-zero only when a run broke.
#
# Knobs: BENCH_KILLS (restart samples per run, 100), BENCH_N (programs for status, 1000),
# BENCH_STATUS_RUNS (status queries per run, 20); the others of bench/sup_driver.c too.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
build=${build%/}
[[ $build == "$root"/* ]] && build=${build#"$root"/}
cd "$root" || exit 1
driver=$build/bench/sup_driver
beacon=$build/bench/sup_beacon
if ! make --no-print-directory "$driver" "$beacon" "$build/tend" >/dev/null; then
    echo "cgroup.sh: cannot build $driver, $beacon and $build/tend" >&2
    exit 1
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export BENCH_SYSTEMS=tend BENCH_CONFIGS=fast
export BENCH_KILLS=${BENCH_KILLS:-100} BENCH_N=${BENCH_N:-1000}

out=$(mktemp "${TMPDIR:-/tmp}/tend-cgbench.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
broken=0
# Alternate the two settings, so that both see the same machine noise.
for scenario in latency status; do
    for cg in 0 1 0 1; do
        if ! BENCH_TEND_CGROUPS=$cg "$driver" "$scenario" "$build/tend" "$beacon" |
            sed -n "s/^RESULT \(.* system=tend .*\)/cg=$cg \1/p" >>"$out"; then
            echo "cgroup.sh: $scenario with cgroups=$cg broke" >&2
            broken=1
        fi
    done
done

echo "tend with a cgroup per program vs cgroups=false: $build/tend on $(nproc) cores," \
    "$(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Each figure: the mean over the runs of each setting, then the ratio.
awk '
    {
        delete f
        for (i = 1; i <= NF; i++) {
            eq = index($i, "=")
            f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
        }
        key = f["name"]
        sum[key, f["cg"]] += f["value"]
        cnt[key, f["cg"]]++
        unit[key] = f["unit"]
        if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    }
    END {
        for (i = 1; i <= n; i++) {
            k = order[i]
            if (cnt[k, 1] == 0 || cnt[k, 0] == 0) continue
            with = sum[k, 1] / cnt[k, 1]
            without = sum[k, 0] / cnt[k, 0]
            ratio = without > 0 ? sprintf("%.2f", with / without) : "nan"
            target = k ~ /^restart_latency/ ? " target=ratio<=1.1" : ""
            printf "  %-26s with cgroups %10.1f %-3s  without %10.1f %-3s  x%s\n", k, with,
                   unit[k], without, unit[k], ratio
            printf "RESULT name=cgroup_%s system=tend config=fast value=%.3f unit=%s n=%d " \
                   "baseline=%.3f ratio=%s vs_tend=1.00%s\n", k, with, unit[k], cnt[k, 1],
                   without, ratio, target
        }
    }
' "$out"
exit $broken
