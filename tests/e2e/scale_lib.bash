# Sourced by scale.sh and scale10k.sh after lib.sh and tendcase.bash: configs of many
# programs and waiting for them.
asan_build() { grep -q __asan_init "$TEND"; }

# programs N [KEY=VALUE...]: N [program:pNNNN] sections of sleepers, on defaults otherwise.
programs() {
    local n=$1
    shift
    awk -v n="$n" -v cmd="$H/sleeper" -v extra="$*" 'BEGIN {
        for (i = 1; i <= n; i++) {
            printf "[program:p%05d]\ncommand=%s\n", i, cmd
            m = split(extra, kv, " ")
            for (j = 1; j <= m; j++) print kv[j]
        }
    }'
}

# running_count: how many programs `tend status` shows RUNNING.
running_count() { tendctl status 2>/dev/null | awk '$2 == "RUNNING" { n++ } END { print n + 0 }'; }

# wait_running N SECS: until N programs are RUNNING (a condition, polled; SECS only turns a
# hang into a failure).
wait_running() {
    local want=$1 secs=$2 start now got
    start=$(date +%s)
    while :; do
        got=$(running_count)
        [ "$got" -ge "$want" ] && return 0
        now=$(date +%s)
        [ $((now - start)) -lt "$secs" ] || fail "$got of $want programs RUNNING after ${secs}s"
        sleep 0.5
    done
}

start_tend_slow() {   # like start_tend, with a start-up bound for a big config
    "$TEND" daemon -n -c "$CONF" >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" "${1:-120}" ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
}

