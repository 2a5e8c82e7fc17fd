#!/usr/bin/env bash
# bench/chart.sh: turns a CSV of bench/compare.sh into a chart, with gnuplot (Debian's
# gnuplot-nox, installed when missing).
#
#   bash bench/chart.sh [CSV] [OUT_PREFIX]
#
# CSV defaults to the newest bench/results/compare-*.csv; OUT_PREFIX to the CSV's path
# without .csv. Writes OUT_PREFIX.png and OUT_PREFIX.svg: one panel per figure (fast
# settings), one bar per system, the floor in grey; the value is printed on each bar, and
# "n/a" where a system has no figure. Most panels are on a log scale: the systems differ by
# orders of magnitude.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
csv=${1:-$(ls -t "$root"/bench/results/compare-*.csv 2>/dev/null | head -1)}
if [[ -z $csv || ! -r $csv ]]; then
    echo "chart.sh: no CSV (run bash bench/compare.sh first, or name one)" >&2
    exit 2
fi
out=${2:-${csv%.csv}}

if ! command -v gnuplot >/dev/null 2>&1; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "chart.sh: gnuplot is missing (apt-get install gnuplot-nox)" >&2
        exit 1
    fi
    echo "chart.sh: installing gnuplot-nox"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox \
        >/dev/null || { echo "chart.sh: cannot install gnuplot-nox" >&2; exit 1; }
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tend-chart.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

date=$(awk -F': ' '/^# date:/ { print $2; exit }' "$csv")
machine=$(awk -F': ' '/^# machine:/ { print $2; exit }' "$csv")
load=$(awk -F': ' '/^# load average:/ { print $2; exit }' "$csv")
versions=$(awk -F': ' '/^# versions:/ { print $2; exit }' "$csv")
systems="floor tend supervisord runit s6 daemontools"
# The memory figures carry the program count in their name (rss_1000 with BENCH_N=1000).
nbig=$(awk -F, '!/^#/ && $1 ~ /^pss_[0-9]+$/ { n = substr($1, 5) + 0; if (n > m) m = n }
                END { print m + 0 }' "$csv")

# figure|title|log scale (1/0)
panels=(
    "restart_latency_median|restart latency after SIGKILL, median (us)|1"
    "restart_latency_p99|restart latency after SIGKILL, p99 (us)|1"
    "pss_$nbig|supervisor memory with $nbig programs, PSS summed (KiB)|1"
    "rss_$nbig|supervisor memory with $nbig programs, RSS summed (KiB)|1"
    "start_all|start $nbig programs until all run (ms)|1"
    "killall_all_back|$nbig killed at once until all back (ms)|1"
    "status_median|status of all $nbig programs, median (ms)|1"
    "idle_cpu|CPU while idle with $nbig programs (ms)|0"
    "idle_wakeups|context switches while idle with $nbig programs|0"
    "log_throughput|log capture of 100-byte lines (MB/s, higher is better)|1"
)

plots=""
count=0
for p in "${panels[@]}"; do
    IFS='|' read -r fig title logscale <<<"$p"
    dat=$tmp/$fig.dat
    awk -F, -v fig="$fig" -v systems="$systems" '
        !/^#/ && $1 == fig && $3 == "fast" { v[$2] = $4 }
        END {
            n = split(systems, s, " ")
            for (i = 1; i <= n; i++) {
                if (!(s[i] in v)) continue
                val = v[s[i]]
                printf "%d \"%s\" %s \"%s\" %d %s\n", i - 1, s[i], (val == "n/a" ? "NaN" : val),
                       (val == "n/a" ? "n/a" : sprintf(val + 0 >= 100 ? "%.0f" : "%.1f", val)), i,
                       (val == "n/a" ? "@" : val)
            }
        }' "$csv" >"$dat"
    [[ -s $dat ]] || continue
    count=$((count + 1))
    ymin=$(awk '$3 != "NaN" && $3 > 0 { if (m == "" || $3 < m) m = $3 } END { print (m == "" ? 1 : m) }' "$dat")
    ymax=$(awk '$3 != "NaN" { if ($3 > m) m = $3 } END { print (m > 0 ? m : 1) }' "$dat")
    sed -i "s/ @\$/ $ymin/" "$dat"
    plots+="set title \"$title\"
"
    if [[ $logscale == 1 ]]; then
        plots+="set logscale y; set yrange [$ymin/3:$ymax*6]; set format y '%.0s%c'
"
    else
        plots+="unset logscale y; set yrange [0:$ymax*1.3]; set format y '%g'
"
    fi
    plots+="plot '$dat' using 1:3:(0.7):5:xtic(2) with boxes fillstyle solid 0.8 lc variable notitle, \\
     '' using 1:6:4 with labels offset 0,0.7 font ',9' notitle
"
done
if [[ $count -eq 0 ]]; then
    echo "chart.sh: $csv holds no figure of the fast settings" >&2
    exit 1
fi
rows=$(((count + 1) / 2))

for term in png svg; do
    if [[ $term == png ]]; then
        t="set terminal pngcairo size 1400,$((rows * 330 + 90)) font 'sans,10'"
    else
        t="set terminal svg size 1400,$((rows * 330 + 90)) font 'sans,10' dynamic"
    fi
    gnuplot <<EOF || { echo "chart.sh: gnuplot failed ($term)" >&2; exit 1; }
$t
set output "$out.$term"
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set xrange [-0.6:5.6]
set linetype 1 lc rgb "#9e9e9e"
set linetype 2 lc rgb "#2e7d32"
set linetype 3 lc rgb "#1565c0"
set linetype 4 lc rgb "#6a1b9a"
set linetype 5 lc rgb "#ef6c00"
set linetype 6 lc rgb "#c62828"
set multiplot layout $rows,2 title "tend vs supervisord, runit, s6, daemontools (fast settings; grey: the floor measured alongside) -- $date\n$machine; load average $load\n$versions" font ',11'
$plots
unset multiplot
EOF
done
echo "chart.sh: wrote $out.png and $out.svg"
