#!/usr/bin/env bash
# End-to-end tests of alerts ([alert] sections and per-program on_event=) and of crash
# loops: the real tend runs real programs, and every alert command is a recorder script
# ($T/rec.sh LABEL) that saves its environment (the TEND_* variables) and its stdin (the
# summary line) to a file and appends "LABEL EVENT PROCESS PID FILE" to $T/alerts.log.
# Assertions are on what the commands received and on tend's log ("alert 'NAME' (EVENT of
# PROCESS, pid N): started" is logged when a command is launched), never on timings except
# generous sanity bounds; the crash-loop case compares spawns with the back-off schedule of
# src/proc.h and tend's CPU time with 5% of one core.
. "$(dirname "$0")/lib.sh"
PROC_H=$(cd "$(dirname "$0")/../.." && pwd)/src/proc.h

. "$(dirname "$0")/tendcase.bash"

ready_pid() {   # FILE: wait for a helper's "ready PID" file and print the PID
    waitfor "$1" '^ready [0-9]+' 15 >&2 || fail "no ready line in $1"
    sed -nE 's/^ready ([0-9]+).*/\1/p' "$1"
}

# make_recorder: $T/rec.sh LABEL records one alert: its environment and stdin go to a file,
# and "SEQ LABEL EVENT PROCESS PID FILE" to $T/alerts.log, where SEQ numbers the records
# 1, 2, 3... (under a lock), so that a test can wait for the N-th one.
make_recorder() {
    mkdir -p "$T/alerts"
    cat >"$T/rec.sh" <<EOF2
#!/bin/sh
f=\$(mktemp "$T/alerts/\$1.XXXXXX") || exit 1
{ printf 'STDIN=%s\n' "\$(cat)"; env | grep '^TEND_' | sort; } >"\$f.tmp"
mv "\$f.tmp" "\$f.env"
exec 9>>"$T/alerts.lock"
flock 9
n=\$(( \$(wc -l <"$T/alerts.log" 2>/dev/null || echo 0) + 1 ))
printf '%s %s %s %s %s %s\n' "\$n" "\$1" "\$TEND_EVENT" "\$TEND_PROCESS" "\$TEND_PID" "\$f.env" >>"$T/alerts.log"
EOF2
    chmod +x "$T/rec.sh"
    : >"$T/alerts.log"
}

# wait_alert LABEL EVENT PROCESS [PID]: wait until the recorder saw that alert; print the
# file holding its environment (the latest one if there are several).
wait_alert() {
    local ere="^[0-9]+ $1 $2 $(re "$3") ${4:-[0-9]+} "
    waitfor "$T/alerts.log" "$ere" 15 >&2 || fail "no alert $1 for $2 of $3 ${4:-}"
    grep -E -- "$ere" "$T/alerts.log" | tail -n 1 | awk '{print $6}'
}
# aenv FILE VAR: the value of VAR (TEND_X or STDIN) in a recorded alert.
aenv() { sed -n "s/^$2=//p" "$1"; }
# nrec LABEL [EVENT [PROCESS]]: alerts the recorder saw.
nrec() {
    local ere="^[0-9]+ $1 ${2:-[A-Z_]+} "
    [ -z "${3:-}" ] || ere="$ere$(re "$3") "
    grep -Ec -- "$ere" "$T/alerts.log" || true
}
# nstarted NAME [EVENT [PROCESS]]: alert commands tend logged as started.
nstarted() {
    local proc='[^,]+'
    [ -z "${3:-}" ] || proc=$(re "$3")
    count_log "${TS}alert '$(re "$1")' \\(${2:-[A-Z_]+} of $proc, pid [0-9]+\\): started\$"
}
# wait_records N: the recorder has finished N alerts in all.
wait_records() {
    [ "$1" -gt 0 ] || return 0
    waitfor "$T/alerts.log" "^$1 " 15 >/dev/null ||
        fail "only $(wc -l <"$T/alerts.log") alerts recorded, expected $1"
}

# -- cases ------------------------------------------------------------------------------------
ALL_EVENTS=STARTING,RUNNING,BACKOFF,STOPPING,EXITED,FATAL,STOPPED,HEALTH_FAILED,PROCESS_UNEXPECTED_EXIT,CONFIG_RELOADED,CRASH_LOOP_ENTERED,CRASH_LOOP_EXITED

# check_common FILE: what every alert carries whatever the event.
check_common() {
    local f=$1 t now ts
    expect_eq "$(aenv "$f" TEND_HOST)" "$(uname -n)" "TEND_HOST in $f"
    expect_eq "$(aenv "$f" TEND_SUPPRESSED)" 0 "TEND_SUPPRESSED in $f"
    t=$(aenv "$f" TEND_TIME)
    expect_match "$t" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}$' "TEND_TIME in $f"
    ts=$(date -d "${t:0:19}${t:19:3}:${t:22:2}" +%s)
    now=$(date +%s)
    [ $((now - ts)) -ge -2 ] && [ $((now - ts)) -le 120 ] || fail "TEND_TIME $t is not now"
    expect_match "$(aenv "$f" TEND_UPTIME)" '^[0-9]+$' "TEND_UPTIME in $f"
    expect_match "$(aenv "$f" TEND_RESTARTS)" '^[0-9]+$' "TEND_RESTARTS in $f"
    # The summary on stdin starts with the same time and the host.
    expect_match "$(aenv "$f" STDIN)" "^$(re "$t") $(re "$(uname -n)"): " "the summary in $f"
}

# Each event fires the alert with its facts: program, group, process, the pid of the
# instance the event is about, exit status or signal, restarts, reason, and the summary.
t_event_environment() {
    setup
    make_recorder
    write_conf <<EOF2
[group:grp]
programs=x
[program:x]
command=$H/sleeper -r $T/x.ready
startsecs=0
[program:e]
command=$H/exitwith -r $T/e.ready -u 3
startsecs=0
autorestart=false
[program:f]
command=$T/missing-program
startsecs=0
[alert:all]
command=$T/rec.sh all
events=$ALL_EVENTS
rate=1000/60
EOF2
    start_tend
    local x1 x2 e f t
    # FATAL: the reason, no pid, no exit.
    f=$(wait_alert all FATAL f)
    check_common "$f"
    expect_eq "$(aenv "$f" TEND_PROGRAM)" f "FATAL: TEND_PROGRAM"
    expect_eq "$(aenv "$f" TEND_GROUP)" f "FATAL: TEND_GROUP"
    expect_eq "$(aenv "$f" TEND_PROCESS)" f "FATAL: TEND_PROCESS"
    expect_match "$(aenv "$f" TEND_REASON)" "^cannot execute $(re "$T/missing-program"): No such file or directory\$" "FATAL: TEND_REASON"
    expect_eq "$(aenv "$f" TEND_EXIT_STATUS)" "" "FATAL: TEND_EXIT_STATUS"
    expect_eq "$(aenv "$f" TEND_SIGNAL)" "" "FATAL: TEND_SIGNAL"
    t=$(aenv "$f" TEND_TIME)
    expect_eq "$(aenv "$f" STDIN)" "$t $(uname -n): f FATAL: $(aenv "$f" TEND_REASON)" "FATAL: the summary"

    # RUNNING: the running pid, in a group.
    x1=$(ready_pid "$T/x.ready")
    f=$(wait_alert all RUNNING grp:x "$x1")
    check_common "$f"
    expect_eq "$(aenv "$f" TEND_PROGRAM)" x "RUNNING: TEND_PROGRAM"
    expect_eq "$(aenv "$f" TEND_GROUP)" grp "RUNNING: TEND_GROUP"
    expect_eq "$(aenv "$f" TEND_PROCESS)" grp:x "RUNNING: TEND_PROCESS"
    expect_eq "$(aenv "$f" TEND_RESTARTS)" 0 "RUNNING: TEND_RESTARTS"
    expect_eq "$(aenv "$f" TEND_EXIT_STATUS)" "" "RUNNING: TEND_EXIT_STATUS"
    expect_eq "$(aenv "$f" TEND_SIGNAL)" "" "RUNNING: TEND_SIGNAL"
    expect_eq "$(aenv "$f" STDIN)" "$(aenv "$f" TEND_TIME) $(uname -n): grp:x RUNNING" "RUNNING: the summary"

    # Killed: EXITED and PROCESS_UNEXPECTED_EXIT about the instance that died.
    rm -f "$T/x.ready"
    kill -KILL "$x1"
    for ev in EXITED PROCESS_UNEXPECTED_EXIT; do
        f=$(wait_alert all "$ev" grp:x "$x1")
        check_common "$f"
        expect_eq "$(aenv "$f" TEND_PID)" "$x1" "$ev: TEND_PID"
        expect_eq "$(aenv "$f" TEND_SIGNAL)" SIGKILL "$ev: TEND_SIGNAL"
        expect_eq "$(aenv "$f" TEND_EXIT_STATUS)" "" "$ev: TEND_EXIT_STATUS"
        expect_eq "$(aenv "$f" TEND_RESTARTS)" 1 "$ev: TEND_RESTARTS"
        expect_eq "$(aenv "$f" STDIN)" "$(aenv "$f" TEND_TIME) $(uname -n): grp:x $ev SIGKILL" "$ev: the summary"
    done
    x2=$(ready_pid "$T/x.ready")
    f=$(wait_alert all RUNNING grp:x "$x2")
    expect_eq "$(aenv "$f" TEND_RESTARTS)" 1 "RUNNING after the restart: TEND_RESTARTS"

    # An exit status.
    e=$(ready_pid "$T/e.ready")
    wait_alert all RUNNING e "$e" >/dev/null
    kill -USR1 "$e"
    for ev in EXITED PROCESS_UNEXPECTED_EXIT; do
        f=$(wait_alert all "$ev" e "$e")
        check_common "$f"
        expect_eq "$(aenv "$f" TEND_EXIT_STATUS)" 3 "$ev of e: TEND_EXIT_STATUS"
        expect_eq "$(aenv "$f" TEND_SIGNAL)" "" "$ev of e: TEND_SIGNAL"
        expect_eq "$(aenv "$f" TEND_RESTARTS)" 0 "$ev of e: TEND_RESTARTS"
        expect_eq "$(aenv "$f" STDIN)" "$(aenv "$f" TEND_TIME) $(uname -n): e $ev exit 3" "$ev of e: the summary"
    done

    # Stop: STOPPING (with the pid being stopped), then STOPPED.
    tendctl stop grp:x >/dev/null
    f=$(wait_alert all STOPPING grp:x "$x2")
    check_common "$f"
    f=$(wait_alert all STOPPED grp:x)
    check_common "$f"
    wait_log "${TS}grp:x \\(pid $x2\\): STOPPING -> STOPPED"

    # Exactly one alert per event, as tend's log and the recorder both count them.
    local n=0 ev want
    declare -A want=(
        [grp:x]="STARTING=2 RUNNING=2 EXITED=1 PROCESS_UNEXPECTED_EXIT=1 STOPPING=1 STOPPED=1 BACKOFF=0 FATAL=0"
        [e]="STARTING=1 RUNNING=1 EXITED=1 PROCESS_UNEXPECTED_EXIT=1 STOPPING=0 STOPPED=0 BACKOFF=0 FATAL=0"
        [f]="STARTING=1 RUNNING=0 EXITED=0 PROCESS_UNEXPECTED_EXIT=0 FATAL=1"
    )
    local proc pair
    for proc in grp:x e f; do
        for pair in ${want[$proc]}; do
            ev=${pair%=*}
            expect_eq "$(nstarted alert:all "$ev" "$proc")" "${pair#*=}" "alerts for $ev of $proc"
        done
    done
    n=$(nstarted alert:all)
    wait_records "$n"
    expect_eq "$(nrec all)" "$n" "alerts recorded"
    stop_tend
}

# events= and programs= (globs on program, group and process names) choose which alerts
# run; an alert without events= gets the default set (FATAL, PROCESS_UNEXPECTED_EXIT,
# HEALTH_FAILED, CRASH_LOOP_ENTERED).
t_events_and_programs_filter() {
    setup
    make_recorder
    write_conf <<EOF2
[group:back]
programs=db
[program:web1]
command=$H/sleeper -r $T/web1.ready
startsecs=0
[program:web2]
command=$H/sleeper -r $T/web2.ready
startsecs=0
[program:db]
command=$H/sleeper -r $T/db.ready
startsecs=0
[alert:webs]
command=$T/rec.sh webs
programs=web*
events=PROCESS_UNEXPECTED_EXIT
[alert:back]
command=$T/rec.sh back
programs=back
events=RUNNING,PROCESS_UNEXPECTED_EXIT
[alert:one]
command=$T/rec.sh one
programs=web2, back:db
events=STOPPED
[alert:dflt]
command=$T/rec.sh dflt
EOF2
    start_tend
    local w1 w2 db db2
    w1=$(ready_pid "$T/web1.ready")
    w2=$(ready_pid "$T/web2.ready")
    db=$(ready_pid "$T/db.ready")
    wait_alert back RUNNING back:db "$db" >/dev/null
    rm -f "$T/db.ready"
    kill -KILL "$w1" "$db"
    wait_alert webs PROCESS_UNEXPECTED_EXIT web1 "$w1" >/dev/null
    wait_alert back PROCESS_UNEXPECTED_EXIT back:db "$db" >/dev/null
    wait_alert dflt PROCESS_UNEXPECTED_EXIT web1 "$w1" >/dev/null
    wait_alert dflt PROCESS_UNEXPECTED_EXIT back:db "$db" >/dev/null
    db2=$(ready_pid "$T/db.ready")
    wait_alert back RUNNING back:db "$db2" >/dev/null
    tendctl stop web1 web2 back:db >/dev/null
    wait_alert one STOPPED web2 >/dev/null
    wait_alert one STOPPED back:db >/dev/null
    wait_log "${TS}web1 \\(pid [0-9]+\\): STOPPING -> STOPPED"
    # Everything tend started has been recorded; now count.
    local n=0 a
    for a in webs back one dflt; do n=$((n + $(nstarted "alert:$a"))); done
    wait_records "$n"
    expect_eq "$(nrec webs)" 1 "webs: alerts (web1's exit only)"
    expect_eq "$(nrec back)" 3 "back: alerts (db: RUNNING, exit, RUNNING)"
    expect_eq "$(nrec back RUNNING back:db)" 2 "back: RUNNING alerts"
    expect_eq "$(nrec one)" 2 "one: alerts (web2 and back:db stopped, not web1)"
    expect_eq "$(nrec one STOPPED web1)" 0 "one: alert for web1"
    expect_eq "$(nrec dflt)" 2 "dflt: alerts (the two unexpected exits)"
    expect_eq "$(nrec dflt PROCESS_UNEXPECTED_EXIT)" 2 "dflt: PROCESS_UNEXPECTED_EXIT alerts"
    stop_tend
}

# on_event= in a program runs for that program's events (the default set), and only its.
t_on_event_per_program() {
    setup
    make_recorder
    write_conf <<EOF2
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
on_event=$T/rec.sh onev
[program:b]
command=$H/sleeper -r $T/b.ready
startsecs=0
[program:c]
command=$T/missing-program
startsecs=0
on_event=$T/rec.sh onev
EOF2
    start_tend
    local a b f
    a=$(ready_pid "$T/a.ready")
    b=$(ready_pid "$T/b.ready")
    f=$(wait_alert onev FATAL c)
    expect_match "$(aenv "$f" TEND_REASON)" "cannot execute" "on_event FATAL: TEND_REASON"
    kill -KILL "$a" "$b"
    f=$(wait_alert onev PROCESS_UNEXPECTED_EXIT a "$a")
    expect_eq "$(aenv "$f" TEND_SIGNAL)" SIGKILL "on_event: TEND_SIGNAL"
    check_common "$f"
    wait_log "${TS}b \\(pid $b\\): RUNNING -> STARTING: exited: signal 9"
    wait_log "${TS}a: spawned pid [0-9]+\$"
    wait_log "${TS}b: spawned pid [0-9]+\$"
    local n
    n=$(nstarted on_event)
    expect_eq "$n" 2 "on_event commands started (c's FATAL, a's exit)"
    expect_eq "$(nstarted on_event '[A-Z_]+' b)" 0 "on_event commands for b"
    wait_records "$n"
    expect_eq "$(nrec onev)" 2 "on_event alerts recorded"
    stop_tend
}

# SIGHUP (and `tend reload`) rereads the config and fires CONFIG_RELOADED, about tend itself.
t_config_reloaded_on_sighup() {
    setup
    make_recorder
    write_conf <<EOF2
[program:a]
command=$H/sleeper
startsecs=0
[alert:cfg]
command=$T/rec.sh cfg
events=CONFIG_RELOADED
EOF2
    start_tend
    local f
    kill -HUP "$TEND_PID"
    f=$(wait_alert cfg CONFIG_RELOADED tend)
    check_common "$f"
    expect_eq "$(aenv "$f" TEND_PROGRAM)" tend "TEND_PROGRAM"
    expect_eq "$(aenv "$f" TEND_PID)" "$TEND_PID" "TEND_PID"
    expect_eq "$(aenv "$f" TEND_REASON)" "$(realpath "$CONF")" "TEND_REASON"
    expect_eq "$(aenv "$f" STDIN)" "$(aenv "$f" TEND_TIME) $(uname -n): tend CONFIG_RELOADED: $(realpath "$CONF")" "the summary"
    tendctl reload >/dev/null || fail "tend reload failed"
    wait_records 2
    expect_eq "$(nrec cfg CONFIG_RELOADED tend)" 2 "CONFIG_RELOADED alerts"
    stop_tend
}

# rate=2/60: a burst of events (a program crashing at once, over and over: STARTING,
# RUNNING, EXITED, PROCESS_UNEXPECTED_EXIT, BACKOFF...) runs the alert twice, no more.
t_rate_limit_burst() {
    setup
    make_recorder
    write_conf <<EOF2
[program:crash]
command=$H/exitwith 1
startsecs=0
autorestart=true
[alert:burst]
command=$T/rec.sh burst
events=STARTING,RUNNING,EXITED,PROCESS_UNEXPECTED_EXIT,BACKOFF
rate=2/60
EOF2
    start_tend
    wait_log "${TS}crash \\(pid [0-9]+\\): [A-Z]+ -> BACKOFF: .*crash loop" 30
    local events
    events=$(count_log "${TS}crash( \\(pid [0-9]+\\))?: [A-Z]+ -> (STARTING|RUNNING|BACKOFF)")
    [ "$events" -ge 5 ] || fail "only $events events"
    expect_eq "$(nstarted alert:burst)" 2 "alerts started for $events+ events"
    wait_records 2
    expect_eq "$(nrec burst)" 2 "alerts recorded"
    tendctl stop crash >/dev/null
    stop_tend
}

# rate=2/2: the first two exits in a window alert, the next ones are counted, and the first
# alert that goes out once the window has passed carries their number (TEND_SUPPRESSED and
# the summary). The exits come from tend's own crash-loop back-off (immediate, immediate,
# immediate, +1 s, +2 s...); what should have gone out is worked out from the exits' times
# in tend's log, the way the rate limiter counts.
t_rate_limit_reports_suppressed() {
    setup
    make_recorder
    write_conf <<EOF2
[program:crash]
command=$H/exitwith 1
startsecs=0
autorestart=true
[alert:rate]
command=$T/rec.sh rate
events=PROCESS_UNEXPECTED_EXIT
rate=2/2
EOF2
    start_tend
    wait_log "${TS}crash \\(pid [0-9]+\\): RUNNING -> BACKOFF: exited: exit 1 after [0-9.]+s \\(unexpected\\); crash loop \\(5 short runs in a row\\)" 30
    tendctl stop crash >/dev/null
    # The exits, in order: "MS PID".
    local exits expected sent
    exits=$(grep -E "${TS}crash \\(pid [0-9]+\\): RUNNING -> [A-Z]+: exited: exit 1" "$LOG" |
        while read -r d t rest; do
            printf '%s %s\n' "$(date -d "$d $t" +%s%3N)" "$(sed -E 's/.*\(pid ([0-9]+)\).*/\1/' <<<"$rest")"
        done)
    echo "exits (ms pid):"; echo "$exits"
    [ "$(wc -l <<<"$exits")" -ge 5 ] || fail "fewer than 5 exits"
    # What rate=2/2 lets through: "PID SUPPRESSED" per alert sent.
    expected=$(awk '{ if (count == 0 || $1 - start >= 2000) { start = $1; count = 0 }
                      if (count >= 2) { sup++; next }
                      count++; print $2, sup + 0; sup = 0 }' <<<"$exits")
    echo "expected alerts (pid suppressed):"; echo "$expected"
    wait_records "$(nstarted alert:rate)"
    expect_eq "$(nstarted alert:rate)" "$(wc -l <<<"$expected")" "alerts sent"
    sent=$(for f in "$T"/alerts/rate.*.env; do
               printf '%s %s\n' "$(aenv "$f" TEND_PID)" "$(aenv "$f" TEND_SUPPRESSED)"
           done | sort -n)
    expect_eq "$sent" "$(sort -n <<<"$expected")" "alerts sent (pid suppressed)"
    # The scenario must really have suppressed something and reported it.
    local line pid n f
    line=$(awk '$2 > 0' <<<"$expected" | head -n 1)
    [ -n "$line" ] || fail "nothing was suppressed: the machine is too slow for this case"
    pid=${line% *} n=${line#* }
    f=$(wait_alert rate PROCESS_UNEXPECTED_EXIT crash "$pid")
    expect_match "$(aenv "$f" STDIN)" " \\($n earlier alerts suppressed by rate=\\)\$" "the summary"
    stop_tend
}

# A hanging alert command is killed at its timeout (with what it started) and never delays
# supervision: the program it is about, and another one, restart at once while it runs.
t_hanging_alert_killed_and_harmless() {
    setup
    make_recorder
    write_conf <<EOF2
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
[program:b]
command=$H/sleeper -r $T/b.ready
startsecs=0
[alert:hang]
command=echo \$\$ > $T/hang.sh.tmp && mv $T/hang.sh.tmp $T/hang.sh; sleep 1000 & echo \$! > $T/hang.sleep.tmp && mv $T/hang.sleep.tmp $T/hang.sleep; wait
programs=a
events=PROCESS_UNEXPECTED_EXIT
timeout=1
[alert:long]
command=echo \$\$ > $T/long.sh.tmp && mv $T/long.sh.tmp $T/long.sh; exec sleep 1000
programs=a
events=PROCESS_UNEXPECTED_EXIT
timeout=600
EOF2
    start_tend
    local a b a2 b2 sh sl long t0 t1
    a=$(ready_pid "$T/a.ready")
    b=$(ready_pid "$T/b.ready")
    rm -f "$T/a.ready" "$T/b.ready"
    kill -KILL "$a"
    waitfor "$T/long.sh" '^[0-9]+$' || fail "the long alert did not start"
    long=$(cat "$T/long.sh")
    a2=$(ready_pid "$T/a.ready")
    [ "$a2" != "$a" ] || fail "a not restarted"
    # While both alert commands run, another program dies and comes back at once.
    t0=$(date +%s%3N)
    kill -KILL "$b"
    b2=$(ready_pid "$T/b.ready")
    t1=$(date +%s%3N)
    echo "b restarted $((t1 - t0)) ms after its kill, with two alert commands running"
    [ $((t1 - t0)) -lt 5000 ] || fail "b's restart took $((t1 - t0)) ms"
    is_alive "$long" || fail "the long alert command is not running any more"
    # The one with timeout=1 is killed, and so is what it started.
    waitfor "$T/hang.sleep" '^[0-9]+$' || fail "the hanging alert did not start its sleep"
    sh=$(cat "$T/hang.sh")
    sl=$(cat "$T/hang.sleep")
    wait_log "${TS}alert 'alert:hang' \\(PROCESS_UNEXPECTED_EXIT of a, pid $sh\\): still running after 1s; killed\$"
    "$H/waitfor" -t 10 --gone "$sh" || fail "the alert command $sh survived"
    "$H/waitfor" -t 10 --gone "$sl" || fail "the sleep $sl the alert started survived"
    is_alive "$long" || fail "the long alert command was killed early"
    expect_eq "$(st a pid)" "$a2" "a's pid"
    expect_eq "$(st b pid)" "$b2" "b's pid"
    no_zombies_in_a_while
    stop_tend
}

# A failing alert command is logged with its status and never run again for that event.
t_failing_alert_not_retried() {
    setup
    make_recorder
    write_conf <<EOF2
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
[alert:fail]
command=echo run >> $T/fail.runs; exit 3
programs=a
events=PROCESS_UNEXPECTED_EXIT
[alert:sync]
command=$T/rec.sh sync
programs=a
events=STOPPED
EOF2
    start_tend
    local a
    a=$(ready_pid "$T/a.ready")
    rm -f "$T/a.ready"
    kill -KILL "$a"
    wait_log "${TS}alert 'alert:fail' \\(PROCESS_UNEXPECTED_EXIT of a, pid [0-9]+\\): failed with exit 3 \\(not retried\\)\$"
    ready_pid "$T/a.ready" >/dev/null
    tendctl stop a >/dev/null
    wait_alert sync STOPPED a >/dev/null
    expect_eq "$(wc -l <"$T/fail.runs")" 1 "runs of the failing alert"
    expect_eq "$(nstarted alert:fail)" 1 "starts of the failing alert"
    stop_tend
}

# HEALTH_FAILED carries the reason of the restart.
t_health_failed_alert() {
    setup
    make_recorder
    write_conf <<EOF2
[program:h]
command=$H/sleeper -r $T/h.ready
startsecs=0
healthcheck=exec:/bin/sh -c "echo not today; exit 4"
healthcheck_interval=1
healthcheck_retries=2
healthcheck_grace=0
[alert:hf]
command=$T/rec.sh hf
events=HEALTH_FAILED
EOF2
    start_tend
    local h f
    h=$(ready_pid "$T/h.ready")
    f=$(wait_alert hf HEALTH_FAILED h "$h")
    tendctl stop h >/dev/null
    check_common "$f"
    expect_eq "$(aenv "$f" TEND_REASON)" "health check failed 2 times: exit status 4: not today" "TEND_REASON"
    expect_eq "$(aenv "$f" TEND_PID)" "$h" "TEND_PID"
    expect_eq "$(aenv "$f" STDIN)" "$(aenv "$f" TEND_TIME) $(uname -n): h HEALTH_FAILED: health check failed 2 times: exit status 4: not today" "the summary"
    stop_tend
}

# CRASH_LOOP_ENTERED on the PROC_CRASH_LOOP_AFTER-th quick crash in a row, then
# CRASH_LOOP_EXITED once the program has stayed up PROC_CRASH_RUN_S.
t_crash_loop_entered_and_exited() {
    setup
    make_recorder
    write_conf <<EOF2
[program:flaky]
command=/bin/sh -c "[ -e $T/fixed ] && exec $H/sleeper -r $T/flaky.ready; exit 2"
startsecs=0
autorestart=true
[alert:loop]
command=$T/rec.sh loop
events=CRASH_LOOP_ENTERED,CRASH_LOOP_EXITED
EOF2
    start_tend
    local f pid
    f=$(wait_alert loop CRASH_LOOP_ENTERED flaky)
    check_common "$f"
    expect_eq "$(aenv "$f" TEND_EXIT_STATUS)" 2 "CRASH_LOOP_ENTERED: TEND_EXIT_STATUS"
    expect_eq "$(aenv "$f" TEND_RESTARTS)" "$(crash_const PROC_CRASH_LOOP_AFTER)" "CRASH_LOOP_ENTERED: TEND_RESTARTS"
    touch "$T/fixed"
    pid=$(ready_pid "$T/flaky.ready")
    f=$(wait_alert loop CRASH_LOOP_EXITED flaky "$pid")
    check_common "$f"
    wait_log "${TS}flaky \\(pid $pid\\): up for [0-9]+s: crash loop over"
    expect_eq "$(nstarted alert:loop)" 2 "crash loop alerts"
    stop_tend
}

# crash_const NAME: a crash-loop constant of src/proc.h.
crash_const() {
    local v
    v=$(sed -nE "s/^#define $1 ([0-9]+).*/\\1/p" "$PROC_H")
    [ -n "$v" ] || fail "no $1 in src/proc.h"
    echo "$v"
}

# 50 programs that exit at once, forever: over ~30 s tend spends under 5% of one core, each
# program is spawned no more often than the back-off schedule of src/proc.h allows (at once
# for the first PROC_CRASH_LOOP_AFTER crashes, then 1, 2, 4, 8... s apart), and every program
# raises CRASH_LOOP_ENTERED once.
t_crash_loop_is_cheap_and_backs_off() {
    setup
    make_recorder
    local n=50 i after max_s
    after=$(crash_const PROC_CRASH_LOOP_AFTER)
    max_s=$(crash_const PROC_CRASH_BACKOFF_MAX_S)
    local false_cmd
    false_cmd=$(type -P false) || fail "no false(1)"
    {
        for ((i = 0; i < n; i++)); do
            printf '[program:c%02d]\ncommand=%s\nstartsecs=0\nautorestart=true\n' "$i" "$false_cmd"
        done
        printf '[alert:loop]\ncommand=%s loop\nevents=CRASH_LOOP_ENTERED\n' "$T/rec.sh"
    } | write_conf
    start_tend
    local hz t_start cpu0 cpu1 t_end
    hz=$(getconf CLK_TCK)
    t_start=$(date +%s%3N)
    cpu0=$(( $(pstat "$TEND_PID" 14) + $(pstat "$TEND_PID" 15) ))
    # The window: until every program has crashed after its first spawn at or past 30 s.
    # Spawns by then: PROC_CRASH_LOOP_AFTER at once, then one per back-off step (1, 2, 4...
    # s, at most PROC_CRASH_BACKOFF_MAX_S), the last step ending at or past 30 s.
    local steps=0 total=0 d=1 want
    while [ "$total" -lt 30 ]; do
        [ "$d" -le "$max_s" ] || d=$max_s
        total=$((total + d)); steps=$((steps + 1)); d=$((d * 2))
    done
    want=$((after + steps))
    echo "spawns per program in the window: $want ($after at once, $steps back-off steps, ${total}s)"
    local deadline=$((SECONDS + 150))
    for ((i = 0; i < n; i++)); do
        wait_log "${TS}c$(printf %02d "$i") \\(pid [0-9]+\\): [A-Z]+ -> BACKOFF: .*crash loop \\($want short runs in a row\\)" \
            $((deadline - SECONDS > 5 ? deadline - SECONDS : 5))
    done
    cpu1=$(( $(pstat "$TEND_PID" 14) + $(pstat "$TEND_PID" 15) ))
    t_end=$(date +%s%3N)
    local cpu_ms=$(( (cpu1 - cpu0) * 1000 / hz )) wall_ms=$((t_end - t_start)) pct=5
    # A sanitizer build forks a much bigger address space: its bound is 4 times looser.
    if grep -q __asan_init "$TEND"; then pct=20; fi
    echo "tend used ${cpu_ms} ms of CPU in ${wall_ms} ms with $n programs crash-looping (bound ${pct}%)"
    [ $((cpu_ms * 100)) -lt $((wall_ms * pct)) ] ||
        fail "tend used ${cpu_ms} ms of CPU in ${wall_ms} ms (>= ${pct}% of one core)"
    # Spawns per program: exactly the schedule, each back-off step waited for in full.
    local name times prev k gap need
    for ((i = 0; i < n; i++)); do
        name=c$(printf %02d "$i")
        # Counted up to the line that says it entered its crash loop: later back-off steps
        # (this loop is slow on a loaded machine) are not part of the window.
        times=$(awk -v s="$name: spawned pid " -v e="$name (pid" -v w="crash loop ($want short" \
                    'index($0, e) && index($0, w) { exit } index($0, s) { print $1, $2 }' "$LOG" |
                while read -r d t; do date -d "$d $t" +%s%3N; done)
        expect_eq "$(wc -l <<<"$times")" "$want" "spawns of $name"
        k=0; prev=""
        for t in $times; do
            k=$((k + 1))
            if [ "$k" -gt "$after" ]; then
                need=$(( 1 << (k - after - 1) ))
                [ "$need" -le "$max_s" ] || need=$max_s
                gap=$((t - prev))
                # Log times are truncated to the millisecond: allow 2 ms.
                [ "$gap" -ge $((need * 1000 - 2)) ] ||
                    fail "$name: spawn #$k came $gap ms after #$((k - 1)), the back-off is ${need}s"
            fi
            prev=$t
        done
    done
    # One CRASH_LOOP_ENTERED per program.
    expect_eq "$(nstarted alert:loop CRASH_LOOP_ENTERED)" "$n" "CRASH_LOOP_ENTERED alerts"
    wait_records "$n"
    for ((i = 0; i < n; i++)); do
        expect_eq "$(nrec loop CRASH_LOOP_ENTERED "c$(printf %02d "$i")")" 1 "CRASH_LOOP_ENTERED of c$i"
    done
    no_zombies_in_a_while
    stop_tend
}

# no_zombies_in_a_while: fails if tend has a zombie child that stays one across two control
# round trips (each answered from a later turn of tend's loop than a pending SIGCHLD).
no_zombies_in_a_while() {
    local z1 z2 p
    z1=$(zombies_of "$TEND_PID")
    [ -n "$z1" ] || return 0
    tendctl status >/dev/null
    tendctl status >/dev/null
    z2=$(zombies_of "$TEND_PID")
    for p in $z1; do
        if printf '%s\n' $z2 | grep -qx "$p"; then
            fail "tend leaves a zombie child:"$'\n'"$(describe "$p")"
        fi
    done
}

run_tests
