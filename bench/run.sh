#!/usr/bin/env bash
# Runs the benchmarks against a build directory (default: build) and prints one section per
# benchmark: a heading, a line saying what it measures, then its figures, each beside a
# baseline measured in the same run and their ratio (see bench/README.md). Figures are
# reported, never judged: the exit status is non-zero only when a benchmark broke (was not
# built, or exited non-zero); the other sections still run.
#
# Sections, in order:
#   - every function `bench_NAME` below (a benchmark program bench/NAME.c that needs its
#     arguments spelled out): add one for a new program;
#   - every script bench/NAME.sh other than this one and those of the peer comparison
#     (compare.sh, chart.sh: `make bench-compare`), run as `bash bench/NAME.sh BUILD`.
# A bench/*.c with neither is a building block of some script (e.g. a driver and the program
# it supervises) and is not run on its own.
#
# Knobs: BENCH_ONLY=SUBSTRING runs only the sections whose name contains it; BENCH_RUNS sets
# the number of runs of the benchmarks that take one (default 200).
set -u
cd "$(dirname "$0")/.." || exit 1
build=${1:-build}
only=${BENCH_ONLY:-}
runs=${BENCH_RUNS:-200}

# -- Sections that are programs -------------------------------------------------------------

# shellcheck disable=SC2034  # read through ${!desc_var} in run_section
describe_daeml_launch="daeml PROGRAM: time until daeml returns (it does once the exec has \
succeeded) and until PROGRAM's main() runs, vs a bare fork+exec+wait of PROGRAM"
bench_daeml_launch() {
    need "$build/bench/daeml_launch" "$build/daeml" || return 1
    "$build/bench/daeml_launch" -n "$runs" "$build/daeml"
}

# -- Runner ---------------------------------------------------------------------------------

need() {   # FILE...: each must be built
    local f
    for f in "$@"; do
        [ -x "$f" ] || { echo "  not built: $f (run make bench)"; return 1; }
    done
}

failed=0
run_section() {   # NAME COMMAND...
    local name=$1 desc_var="describe_$1" rc
    shift
    case $name in *"$only"*) ;; *) return 0 ;; esac
    printf '\n== %s\n' "$name"
    [ -z "${!desc_var:-}" ] || printf '  %s\n' "${!desc_var}"
    "$@"
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "  FAILED: $name exited $rc"
        failed=$((failed + 1))
    fi
}

printf 'tend benchmarks: %s on %s, %s CPUs, kernel %s, load average %s\n' "$build" \
    "$(uname -n)" "$(nproc 2>/dev/null || echo '?')" "$(uname -r)" \
    "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
for fn in $(declare -F | awk '{print $3}' | grep '^bench_'); do
    run_section "${fn#bench_}" "$fn"
done
for script in bench/*.sh; do
    case $script in bench/run.sh | bench/compare.sh | bench/chart.sh) continue ;; esac
    [ -e "$script" ] || continue
    run_section "$(basename "$script" .sh)" bash "$script" "$build"
done
echo
[ $failed -eq 0 ] || { echo "$failed benchmark(s) broke"; exit 1; }
