#!/usr/bin/env bash
# bench/pidfile.sh: restart latency of a pidfile= program (one that daemonizes itself, as the
# origin article's servers do: launched through `daeml --pidfile`, found by tend through its
# pidfile) after SIGKILL, beside tend's latency for a foreground program measured in the same
# run, and beside the article's monitor.sh, which polls every 15 s. See
# bench/pidfile_latency.c for how it measures.
#
#   bash bench/pidfile.sh [BUILD_DIR]
#
# Knobs: BENCH_PIDFILE_KILLS (samples of each kind, 100), BENCH_WARMUP (5).
# Figures are reported, never judged: the exit status is non-zero only when the benchmark
# broke (a build failed, tend did not start, a program did not come back).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
build=${build%/}
[[ $build == "$root"/* ]] && build=${build#"$root"/}
cd "$root" || exit 1

driver=$build/bench/pidfile_latency
beacon=$build/bench/sup_beacon
if ! make --no-print-directory "$driver" "$beacon" "$build/daeml" >/dev/null; then
    echo "pidfile.sh: cannot build $driver, $beacon and $build/daeml" >&2
    exit 1
fi
# tend may be mid-edit by someone else: a failed rebuild with a binary in place is a warning.
if ! make --no-print-directory "$build/tend" >/dev/null; then
    if [[ -x $build/tend ]]; then
        echo "pidfile.sh: warning: cannot rebuild $build/tend; measuring the existing one" >&2
    else
        echo "pidfile.sh: cannot build $build/tend" >&2
        exit 1
    fi
fi
echo "tend pidfile benchmark: $build/tend on $(nproc) cores, $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$driver" "$PWD/$build/tend" "$PWD/$build/daeml" "$PWD/$beacon"
