#!/usr/bin/env bash
# bench/compare.sh: tend beside what its users would otherwise pick (supervisord, runit, s6,
# daemontools), on the same machine, in the same run, through the same scenario code
# (bench/sup_driver.c), each figure beside the physical floor. See bench/README.md.
#
#   bash bench/compare.sh [BUILD_DIR] [latency|rss|start|idle|status|killall|logs]...
#
# BUILD_DIR defaults to build; no scenario means all of them. BENCH_SYSTEMS selects systems
# (default: "tend supervisord runit s6 daemontools"), BENCH_CONFIGS the configurations for
# latency and rss-100 (default: "fast default"). Every other BENCH_* knob of sup_driver.c
# applies; this script only changes the defaults of a few so that the whole comparison stays
# within 15 minutes on a 2-core machine (BENCH_IDLE_SECS=60, BENCH_LATENCY_SECS=15,
# BENCH_ROUNDS=2, BENCH_START_ROUNDS=1).
#
# Installs the peers it needs from Debian's packages when they are missing (apt-get, as
# root), never enabling or starting their system services: a policy-rc.d that denies every
# start is in place during the install, and a system instance found running afterwards is
# stopped and reported. Each peer is started by hand, by the driver, as its own child in a
# scratch directory, and stopped by pid; the driver is a child subreaper, so every program
# a peer leaves behind is found and killed.
#
# Output: the driver's lines, a plain table, bench/results/compare-DATE.csv (RESULT and
# SETTINGS lines turned into rows; '#' lines describe the machine and the run) and
# bench/results/compare-DATE.log (everything printed). bench/chart.sh turns the CSV into a
# chart. Figures are reported, never judged: the exit status is non-zero only when the
# benchmark itself broke.
set -u

all_scenarios=(latency rss start idle status killall logs)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

is_scenario() {
    local s
    for s in "${all_scenarios[@]}"; do
        [[ $1 == "$s" ]] && return 0
    done
    return 1
}

build=build
if [[ $# -gt 0 ]] && ! is_scenario "$1"; then
    build=$1
    shift
fi
build=${build%/}
[[ $build == "$root"/* ]] && build=${build#"$root"/}
scenarios=("$@")
[[ ${#scenarios[@]} -eq 0 ]] && scenarios=("${all_scenarios[@]}")
for s in "${scenarios[@]}"; do
    if ! is_scenario "$s"; then
        echo "compare.sh: unknown scenario '$s' (known: ${all_scenarios[*]})" >&2
        exit 2
    fi
done

export BENCH_SYSTEMS=${BENCH_SYSTEMS:-tend supervisord runit s6 daemontools}
export BENCH_CONFIGS=${BENCH_CONFIGS:-fast default}
export BENCH_IDLE_SECS=${BENCH_IDLE_SECS:-60}
export BENCH_LATENCY_SECS=${BENCH_LATENCY_SECS:-15}
export BENCH_ROUNDS=${BENCH_ROUNDS:-2}
export BENCH_START_ROUNDS=${BENCH_START_ROUNDS:-1}

cd "$root" || exit 1

# -- The peers: installed from Debian when missing, never started as system services --------

declare -A pkg_of=([supervisord]=supervisor [runit]=runit [s6]=s6 [daemontools]=daemontools)
declare -A bin_of=([supervisord]="supervisord supervisorctl" [runit]="runsvdir runsv sv"
                   [s6]="s6-svscan s6-supervise s6-svstat" [daemontools]="svscan supervise svstat")
# What a system instance of each would look like: its scanner on the system's directories.
system_instances() {
    ps -eo pid=,args= | awk '
        /supervisord/ && !/-c \/tmp\// && !/tend-bench/ { print; next }
        /(^|[ \/])runsvdir / && /\/etc\/service|\/etc\/runit|\/var\/service/ { print; next }
        /(^|[ \/])svscan / && /\/etc\/service|\/service/ && !/tend-bench/ { print; next }
        /s6-svscan/ && /\/run\/service|\/etc\/s6|\/service/ && !/tend-bench/ { print }' |
        grep -v -e awk -e compare.sh || true
}

missing=()
for sys in $BENCH_SYSTEMS; do
    [[ $sys == tend ]] && continue
    [[ -n ${pkg_of[$sys]:-} ]] || { echo "compare.sh: unknown system '$sys'" >&2; exit 2; }
    for b in ${bin_of[$sys]}; do
        if ! command -v "$b" >/dev/null 2>&1; then
            missing+=("${pkg_of[$sys]}")
            break
        fi
    done
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "compare.sh: missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
        exit 1
    fi
    before=$(system_instances)
    echo "compare.sh: installing ${missing[*]} (apt-get; their services are not started)"
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# compare.sh: no service starts during this install\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    # apt's chatter goes to a file of its own, shown only when the install fails.
    aptlog=$(mktemp "${TMPDIR:-/tmp}/compare-apt.XXXXXX") || exit 1
    rc=0
    if ! apt-cache policy "${missing[@]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update -qq >>"$aptlog" 2>&1 || rc=$?
    fi
    if [[ $rc -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >>"$aptlog" 2>&1 || rc=$?
    fi
    [[ $made_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
    if [[ $rc -ne 0 ]]; then
        tail -40 "$aptlog" >&2
        rm -f "$aptlog"
        echo "compare.sh: apt-get failed (exit $rc; its last lines above)" >&2
        exit 1
    fi
    rm -f "$aptlog"
    # No system instance may run: stop (by pid) any the install started.
    while read -r pid args; do
        [[ -n $pid ]] || continue
        if ! grep -q "^ *$pid " <<<"$before"; then
            echo "compare.sh: the install started a system instance: $pid $args; stopping it"
            kill -TERM "$pid" 2>/dev/null
        fi
    done <<<"$(system_instances)"
fi
running=$(system_instances)
[[ -z $running ]] || printf 'compare.sh: note: system instances running (not ours, left alone):\n%s\n' "$running"

# -- Build --------------------------------------------------------------------------------

driver=$build/bench/sup_driver
beacon=$build/bench/sup_beacon
if ! make --no-print-directory "$driver" "$beacon" >/dev/null; then
    echo "compare.sh: cannot build $driver and $beacon" >&2
    exit 1
fi
if ! make --no-print-directory "$build/tend" >/dev/null; then
    if [[ -x $build/tend ]]; then
        echo "compare.sh: warning: cannot rebuild $build/tend; measuring the existing one" >&2
    else
        echo "compare.sh: cannot build $build/tend" >&2
        exit 1
    fi
fi
# Log capture: only when tend's supervisor hands stdout_logfile= to logcap.
if grep -q 'logcap_new' src/supervisor.c 2>/dev/null; then
    export BENCH_TEND_LOGCAP=${BENCH_TEND_LOGCAP:-1}
else
    export BENCH_TEND_LOGCAP=${BENCH_TEND_LOGCAP:-0}
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# -- Run ----------------------------------------------------------------------------------

mkdir -p bench/results
stamp=$(date -u +%Y%m%d-%H%M%S)
csv=bench/results/compare-$stamp.csv
log=bench/results/compare-$stamp.log
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
version() {
    local v
    case $1 in
        tend) "$build/tend" --version 2>/dev/null | awk '{ print $2 }' ;;
        *) v=$(dpkg-query -W -f='${Version}' "${pkg_of[$1]}" 2>/dev/null); echo "${v:-?}" ;;
    esac
}
versions=""
for sys in $BENCH_SYSTEMS; do
    versions+="$sys $(version "$sys"); "
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
date0=$(date -u '+%Y-%m-%d %H:%M UTC')
scen=$(IFS=,; echo "${scenarios[*]}")
knobs=$(env | grep '^BENCH_' | sort | tr '\n' ' ')
# How the BENCH_N phase will run: all systems up at once, or one at a time when the pids
# would not fit (BENCH_SEQUENTIAL forces either); the driver decides again when it gets
# there and prints its decision as a SETTINGS phase= line.
plan=$("$driver" plan "$build/tend" "$beacon" 2>/dev/null | tail -1)
knobs+="(BENCH_N phase: ${plan:-unknown})"
{
    echo "tend vs peers: $date0 on $(uname -n): $(nproc) cores ($cpu)," \
        "kernel $(uname -r), load average $load0"
    echo "versions: ${versions%; }"
    echo "command: bash bench/compare.sh $build ${scenarios[*]}"
    echo "knobs: $knobs"
} | tee "$log"

start=${EPOCHREALTIME/,/.}
"$driver" "$scen" "$build/tend" "$beacon" 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
end=${EPOCHREALTIME/,/.}
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# -- The CSV and the table ----------------------------------------------------------------

{
    echo "# tend vs peers, bench/compare.sh"
    echo "# date: $date0 (start; it ended $(date -u '+%H:%M UTC'))"
    echo "# machine: $(uname -n), $(nproc) cores, $cpu, kernel $(uname -r)"
    echo "# load average: $load0 at the start, $load1 at the end"
    echo "# versions: ${versions%; }"
    echo "# command: bash bench/compare.sh $build ${scenarios[*]}"
    echo "# knobs: $knobs"
    awk '/^SETTINGS / { sub(/^SETTINGS /, ""); if (!seen[$0]++) print "# settings: " $0 }' "$log"
    echo "figure,system,config,value,unit,n,floor,vs_floor,vs_tend,target"
    awk '
        /^RESULT / {
            delete f
            for (i = 2; i <= NF; i++) {
                eq = index($i, "=")
                f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
            }
            v = f["value"] + 0 < 0 ? "n/a" : f["value"]
            printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", f["name"], f["system"], f["config"], v,
                   f["unit"], f["n"], f["baseline"], f["ratio"], f["vs_tend"], f["target"]
        }' "$log"
} >"$csv"

{
    echo
    echo "== comparison (value, and x its ratio to tend's in the same configuration; lower is"
    echo "   better except log_throughput). Config fast unless marked /default."
    awk -F, -v systems="floor $BENCH_SYSTEMS" '
        /^#/ || /^figure,/ { next }
        {
            key = $1 ($3 == "default" ? "/default" : "")
            if (!(key in seen)) { seen[key] = 1; order[++nk] = key; unit[key] = $5 }
            val = $4 == "n/a" ? "n/a" : sprintf($4 >= 100 ? "%.0f" : "%.1f", $4)
            cell[key, $2] = val ($4 != "n/a" && $9 != "nan" && $2 != "tend" ? " x" $9 : "")
            if ($6 != "" && $2 != "floor") nsamp[key, $2] = $6
        }
        END {
            ns = split(systems, sy, " ")
            printf "%-31s %-5s", "figure", "unit"
            for (j = 1; j <= ns; j++) printf " %16s", sy[j]
            printf "\n"
            for (i = 1; i <= nk; i++) {
                k = order[i]
                printf "%-31s %-5s", k, unit[k]
                for (j = 1; j <= ns; j++) printf " %16s", ((k, sy[j]) in cell) ? cell[k, sy[j]] : "-"
                printf "\n"
            }
        }' "$csv"
    awk -v a="$start" -v b="$end" -v l0="$load0" -v l1="$load1" 'BEGIN {
        printf "\n(the comparison took %.0f s; load average %s at the start, %s at the end)\n",
               b - a, l0, l1 }'
    echo "results: $csv (chart: bash bench/chart.sh $csv), full output: $log"
} | tee -a "$log"

if [[ $rc -ne 0 ]]; then
    echo "compare.sh: the driver broke (exit $rc); the figures above are incomplete" >&2
    exit 1
fi
exit 0
