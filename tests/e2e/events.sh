#!/usr/bin/env bash
# End-to-end tests of [eventlistener:x]: listeners written against supervisord's own helper
# module (supervisor.childutils, from Debian's supervisor package) run under the real tend
# and receive the events supervisord would send, with its header and payload fields; a FAIL
# result gets the event sent again; a listener that never answers blocks nothing (its pool
# drops the oldest events past buffer_size, and says so); and the "stop the container when a
# program dies" idiom (a listener that sends SIGQUIT to its parent) stops tend in order, with
# exit status 5 when a program had failed and 0 when none had.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

# Debian's python3, where the supervisor package puts its modules (a pyenv python on PATH
# would not see them).
PY=/usr/bin/python3

need_childutils() {
    "$PY" -c 'import supervisor.childutils' 2>/dev/null ||
        skip "supervisor.childutils is not installed (scripts/deps.sh installs supervisor)"
}

ready_pid() {   # FILE: wait for a helper's "ready PID" file and print the PID
    waitfor "$1" '^ready [0-9]+' 15 >&2 || fail "no ready line in $1"
    sed -nE 's/^ready ([0-9]+).*/\1/p' "$1"
}

# make_listener: $T/listener.py OUT records every event as one line of OUT:
#   "HEADERS | PAYLOAD" (the header fields as received, then the payload with each newline
# written as \n), and answers OK,
# except that it FAILs the first delivery of each serial whose event name is in $FAIL_FIRST.
make_listener() {
    cat >"$T/listener.py" <<'PYEOF'
import os
import sys
from supervisor import childutils

out = sys.argv[1]
fail_first = set(os.environ.get("FAIL_FIRST", "").split(","))
failed = set()
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    line = " ".join("%s:%s" % (k, headers[k]) for k in
                    ("ver", "server", "serial", "pool", "poolserial", "eventname", "len"))
    with open(out, "a") as f:
        f.write("%s | %s\n" % (line, payload.replace("\n", "\\n")))
    if headers["eventname"] in fail_first and headers["serial"] not in failed:
        failed.add(headers["serial"])
        childutils.listener.fail(sys.stdout)
    else:
        childutils.listener.ok(sys.stdout)
PYEOF
}

# watch_and_victim COMMAND: the config of a listener "watch" of PROCESS_STATE_EXITED (run as
# $PY COMMAND, started first) and of a program "victim" that writes $T/v.ready.
watch_and_victim() {
    write_conf <<CONF
[eventlistener:watch]
command=$PY $1
events=PROCESS_STATE_EXITED
priority=1
[program:victim]
command=$H/sleeper -r $T/v.ready
startsecs=0
CONF
}

# victim_exit_reaches LPID WHAT: kills the victim (pid $v), whose exit must reach listener
# LPID (which logs "PID got EVENTNAME | PAYLOAD" in $T/events.log); v becomes the next
# victim, and KILLED lists the pids killed.
victim_exit_reaches() {
    local next
    rm -f "$T/v.ready"
    kill -KILL "$v"
    KILLED+=("$v")
    next=$(ready_pid "$T/v.ready")
    waitfor "$T/events.log" "^$1 got PROCESS_STATE_EXITED \| processname:victim .* pid:$v\$" 15 >/dev/null ||
        fail "$2: listener $1 did not get the exit of pid $v; got: $(cat "$T/events.log" 2>/dev/null)"
    v=$next
}

# A killed program: the listener gets PROCESS_STATE_EXITED (expected:0, its pid) and then
# PROCESS_STATE_STARTING (from EXITED), with supervisord's header; a FAIL is sent again with
# the same serial; SUPERVISOR_STATE_CHANGE_RUNNING came first.
t_listener_gets_process_state() {
    need_childutils
    setup
    make_listener
    write_conf <<CONF
[eventlistener:watch]
command=$PY $T/listener.py $T/events.log
events=PROCESS_STATE,SUPERVISOR_STATE_CHANGE
environment=FAIL_FIRST=PROCESS_STATE_EXITED
priority=1
[program:victim]
command=$H/sleeper -r $T/v.ready
startsecs=0
CONF
    start_tend
    local pid1 pid2 ere
    pid1=$(ready_pid "$T/v.ready")
    waitfor "$T/events.log" "eventname:PROCESS_STATE_RUNNING .*\\| processname:victim groupname:victim from_state:STARTING pid:$pid1\$" 15 >/dev/null ||
        fail "no RUNNING event for victim; got: $(cat "$T/events.log" 2>/dev/null)"
    expect_file_match "$T/events.log" '^ver:3\.0 server:supervisor serial:[0-9]+ pool:watch poolserial:[0-9]+ eventname:SUPERVISOR_STATE_CHANGE_RUNNING len:0 \| $'
    rm -f "$T/v.ready"
    kill -KILL "$pid1"
    pid2=$(ready_pid "$T/v.ready")
    ere="eventname:PROCESS_STATE_EXITED len:[0-9]+ \\| processname:victim groupname:victim from_state:RUNNING expected:0 pid:$pid1\$"
    waitfor "$T/events.log" "$ere" 15 >/dev/null || fail "no EXITED event; got: $(cat "$T/events.log")"
    # Rejected once, sent again: the same serial twice, the second time answered OK, then
    # the events after it.
    waitfor "$T/events.log" "eventname:PROCESS_STATE_RUNNING .*from_state:STARTING pid:$pid2\$" 15 >/dev/null ||
        fail "no RUNNING event for the new instance; got: $(cat "$T/events.log")"
    expect_eq "$(grep -Ec -- "$ere" "$T/events.log")" 2 "deliveries of the rejected EXITED event"
    local serials
    serials=$(grep -E -- "$ere" "$T/events.log" | sed -E 's/.* serial:([0-9]+) .*/\1/' | sort -u | wc -l)
    expect_eq "$serials" 1 "serials of the two deliveries (the same event again)"
    wait_log "watch: listener rejected event PROCESS_STATE_EXITED serial [0-9]+ \\(FAIL\\): it will be sent again"
    expect_file_match "$T/events.log" "eventname:PROCESS_STATE_STARTING len:[0-9]+ \\| processname:victim groupname:victim from_state:EXITED tries:0\$"
    # len: is the payload's length, byte for byte.
    local bad
    bad=$(awk -F' \\| ' '{ n = split($1, h, " "); for (i = 1; i <= n; i++) if (h[i] ~ /^len:/) l = substr(h[i], 5)
                           if (length($2) != l + 0) print }' "$T/events.log")
    expect_eq "$bad" "" "events whose len: differs from their payload"
    # Pool serials count up by one per event queued in the pool.
    local ps
    ps=$(sed -E 's/.* poolserial:([0-9]+) .*/\1/' "$T/events.log" | sort -un | head -n 3 | tr '\n' ' ')
    expect_eq "$ps" "1 2 3 " "the first pool serials"
    stop_tend
}

# A listener that says READY and never answers: tend still answers status, restarts killed
# programs, and past buffer_size drops the oldest events of that pool, logged.
t_stuck_listener_blocks_nothing() {
    setup
    write_conf <<CONF
[eventlistener:stuck]
command=/bin/sh -c 'printf "READY\\n"; exec sleep 1000'
events=EVENT
buffer_size=2
[program:victim]
command=$H/sleeper -r $T/v.ready
startsecs=0
CONF
    start_tend
    local pid i
    pid=$(ready_pid "$T/v.ready")
    for i in 1 2 3 4 5; do
        rm -f "$T/v.ready"
        kill -KILL "$pid"
        pid=$(ready_pid "$T/v.ready")
        expect_eq "$(st victim pid)" "$pid" "victim's pid after kill $i"
    done
    expect_eq "$(st stuck state)" RUNNING "the stuck listener"
    wait_log "event listener pool stuck: buffer full \\(buffer_size=2\\): dropped event [A-Z_]+ serial [0-9]+"
    stop_tend
}

# The container idiom: a listener on PROCESS_STATE_EXITED/FATAL sends SIGQUIT to its parent
# (the supervisor). tend stops every program in order and exits 5: a program had failed.
t_container_idiom_exit_status() {
    setup
    cat >"$T/stopper.sh" <<'SH'
#!/bin/sh
printf 'READY\n'
while read -r line; do
    echo "got: $line" >&2
    kill -QUIT "$PPID"
done
SH
    chmod +x "$T/stopper.sh"
    write_conf <<CONF
[eventlistener:stopper]
command=$T/stopper.sh
events=PROCESS_STATE_EXITED,PROCESS_STATE_FATAL
[program:job]
command=$H/exitwith -r $T/job.ready -u 3
startsecs=0
autorestart=false
[program:other]
command=$H/sleeper -r $T/o.ready
CONF
    start_tend
    local job other rc=0
    job=$(ready_pid "$T/job.ready")
    other=$(ready_pid "$T/o.ready")
    kill -USR1 "$job"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not stop"
    wait "$KEEPER_PID" || rc=$?
    KEEPER_PID="" TEND_PID=""
    expect_eq "$rc" 5 "tend's exit status after a program failed"
    wait_log "received SIGQUIT"
    wait_log "the stop signal came from pid [0-9]+, one of tend's programs"
    wait_log "job had failed \\(EXITED\\) when a program stopped tend: tend will exit with status 5"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "the last line of tend's log"
    if alive "$other"; then fail "other still runs after tend stopped"; fi
    check_sanitizers

    # The same with a program that ends as expected (exit 0): status 0.
    : >"$LOG"
    rm -f "$T/job.ready" "$T/o.ready"
    sed -i "s| -u 3\$| -u 0|" "$CONF"
    start_tend
    job=$(ready_pid "$T/job.ready")
    kill -USR1 "$job"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not stop"
    rc=0
    wait "$KEEPER_PID" || rc=$?
    KEEPER_PID="" TEND_PID=""
    expect_eq "$rc" 0 "tend's exit status when the program exited as expected"
    wait_log "received SIGQUIT"

    # SIGQUIT sent from outside to the keeper (the pid in tend's pidfile) is passed on to the
    # supervisor, which stops every program in order: the keeper does not die of it.
    : >"$LOG"
    rm -f "$T/o.ready"
    start_tend
    other=$(ready_pid "$T/o.ready")
    kill -QUIT "$KEEPER_PID"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not stop on SIGQUIT"
    rc=0
    wait "$KEEPER_PID" || rc=$?
    KEEPER_PID="" TEND_PID=""
    expect_eq "$rc" 0 "tend's exit status after SIGQUIT with nothing failed"
    wait_log "received SIGQUIT"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "the last line of tend's log"
    if alive "$other"; then fail "other still runs after SIGQUIT to the keeper"; fi
}

# TICK_5 every five seconds (when: is the time); after a kill -9 of the supervisor the
# keeper starts another, which takes the listener back with its pipes: the same listener
# process gets the next ticks.
t_ticks_and_supervisor_restart() {
    need_childutils
    setup
    make_listener
    # Each listener process records into its own file, named by its pid.
    write_conf <<CONF
[eventlistener:ticks]
command=/bin/sh -c 'exec $PY $T/listener.py $T/events.\$\$.log'
events=TICK_5
CONF
    start_tend
    local lpid when now sup
    lpid=$(st ticks pid)
    waitfor "$T/events.$lpid.log" 'eventname:TICK_5 len:[0-9]+ \| when:[0-9]+$' 15 >/dev/null ||
        fail "no TICK_5 event; got: $(cat "$T"/events.*.log 2>/dev/null)"
    when=$(sed -nE 's/.*\| when:([0-9]+)$/\1/p' "$T/events.$lpid.log" | head -n 1)
    now=$(date +%s)
    [ $((now - when)) -ge 0 ] && [ $((now - when)) -le 30 ] || fail "when:$when is not now ($now)"
    sup=$(tendctl pid)
    kill -KILL "$sup"
    wait_log "generation 2;"
    # Only ticks from now on: the listener makes its file again at the next one.
    rm "$T/events.$lpid.log"
    waitfor "$T/events.$lpid.log" 'eventname:TICK_5 len:[0-9]+ \| when:[0-9]+$' 15 >/dev/null ||
        fail "no tick reached listener $lpid after the supervisor's restart (now pid $(st ticks pid))"
    expect_eq "$(st ticks pid)" "$lpid" "the listener's pid after the supervisor's restart"
    expect_eq "$(count_log 'event listener restarted')" 0 "listener restarts"
    stop_tend
}

# A listener is taken back by the next supervisor where its protocol stood, not restarted:
# idle (READY) across a kill -9 of the supervisor, and holding an event (written whole, its
# RESULT not yet sent) across a kill -9 and across `tend upgrade`. Each exit of the victim
# reaches the same listener process exactly once.
t_listener_kept_mid_event() {
    need_childutils
    setup
    # Records each event; while the file HOLD exists it does not answer (busy with it).
    cat >"$T/gated.py" <<'PYEOF'
import os
import sys
import time
from supervisor import childutils

out, hold = sys.argv[1], sys.argv[2]
while True:
    headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
    with open(out, "a") as f:
        f.write("%s got %s | %s\n" % (os.getpid(), headers["eventname"], payload))
    while os.path.exists(hold):
        time.sleep(0.01)
    childutils.listener.ok(sys.stdout)
PYEOF
    watch_and_victim "$T/gated.py $T/events.log $T/hold"
    start_tend
    local lpid sup gen=1 how p
    KILLED=()
    lpid=$(st watch pid)
    v=$(ready_pid "$T/v.ready")
    # Idle, then killed with the supervisor.
    victim_exit_reaches "$lpid" idle
    sup=$(tendctl pid)
    kill -KILL "$sup"
    gen=$((gen + 1))
    wait_log "generation $gen;"
    victim_exit_reaches "$lpid" "after a kill -9"
    # Holding an event across a kill -9, then across an upgrade.
    for how in kill upgrade; do
        touch "$T/hold"
        victim_exit_reaches "$lpid" "before the $how"
        sup=$(tendctl pid)
        if [ "$how" = kill ]; then
            kill -KILL "$sup"
            gen=$((gen + 1))
            wait_log "generation $gen;"
        else
            tendctl upgrade >/dev/null || fail "tend upgrade failed"
            [ "$(tendctl pid)" != "$sup" ] || fail "tend upgrade left supervisor $sup"
        fi
        # Its RESULT, once sent, must free it for the next event.
        rm "$T/hold"
        victim_exit_reaches "$lpid" "after the $how"
    done
    expect_eq "$(count_log 'watch: listener answered OK to the event the previous supervisor sent it')" 2 \
        "RESULTs taken for events the previous supervisors sent"
    expect_eq "$(st watch pid)" "$lpid" "the listener's pid"
    expect_eq "$(count_log 'event listener restarted')" 0 "listener restarts"
    for p in "${KILLED[@]}"; do
        expect_eq "$(grep -c " pid:$p\$" "$T/events.log")" 1 "deliveries of the exit of pid $p"
    done
    stop_tend
}

# A supervisor killed right after it read what a listener wrote, before it acted on it
# (TEND_TEST_KILL_IN_EVENTS kills it there, once): the next one takes the listener back and
# nothing deadlocks. Three instants: a whole RESULT read (the slot still says an event is
# out), a RESULT's head read without its body (the next supervisor reads "OK" then READY as
# one line), and a READY read (the slot still says it waits for READY, which will not come
# again). After each, the next exit of the victim reaches the same listener process.
t_listener_kept_when_its_words_are_lost() {
    setup
    cat >"$T/steps.py" <<'PYEOF'
import os
import sys
import time

out, gates = sys.argv[1], sys.argv[2]


def gate(name):
    while os.path.exists(os.path.join(gates, name)):
        time.sleep(0.01)


def say(s):
    sys.stdout.write(s)
    sys.stdout.flush()


def log(s):
    with open(out, "a") as f:
        f.write("%d %s\n" % (os.getpid(), s))


n = 0
while True:
    gate("ready")
    say("READY\n")
    n += 1
    log("said READY %d" % n)
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    hdr = dict(f.split(":", 1) for f in line.split())
    body = sys.stdin.read(int(hdr["len"]))
    log("got %s | %s" % (hdr["eventname"], body))
    gate("result")
    if os.path.exists(os.path.join(gates, "body")):  # the RESULT in two writes
        say("RESULT 2\n")
        gate("body")
        say("OK")
    else:
        say("RESULT 2\nOK")
    log("said OK")
PYEOF
    mkdir "$T/gates"
    watch_and_victim "$T/steps.py $T/events.log $T/gates"
    export TEND_TEST_KILL_IN_EVENTS="read:$T/kill"
    start_tend
    unset TEND_TEST_KILL_IN_EVENTS
    local lpid gen=1 step
    lpid=$(st watch pid)
    v=$(ready_pid "$T/v.ready")
    waitfor "$T/events.log" "^$lpid said READY 1\$" 15 >/dev/null || fail "listener $lpid never ready"
    supervisor_killed() {   # opens gate $1 with the kill point armed; waits for the next one
        local sup
        sup=$(tendctl pid)
        touch "$T/kill"
        rm "$T/gates/$1"
        "$H/waitfor" -t 15 --gone "$sup" || fail "$1: the kill point did not fire"
        [ ! -e "$T/kill" ] || fail "$1: the kill file is still there"
        gen=$((gen + 1))
        wait_log "generation $gen;"
    }
    for step in whole head ready; do
        touch "$T/gates/result" "$T/gates/ready"
        [ "$step" = head ] && touch "$T/gates/body"
        victim_exit_reaches "$lpid" "$step: before"
        case $step in
        whole)   # "RESULT 2\nOK" read in one go, then the death
            supervisor_killed result
            rm "$T/gates/ready" ;;
        head)    # "RESULT 2\n" read, then the death; OK and READY come to the next one
            supervisor_killed result
            rm "$T/gates/body" "$T/gates/ready" ;;
        ready)   # the RESULT taken, then READY read and the death
            rm "$T/gates/result"
            waitfor "$T/events.log" "^$lpid said OK\$" 15 >/dev/null || fail "no OK"
            supervisor_killed ready ;;
        esac
        victim_exit_reaches "$lpid" "$step: after"
        rm -f "$T/gates/"*
    done
    expect_eq "$(st watch pid)" "$lpid" "the listener's pid"
    expect_eq "$(count_log 'event listener restarted')" 0 "listener restarts"
    expect_eq "$(count_log 'outside the protocol')" 0 "protocol lines dropped"
    expect_eq "$(count_log 'the end of a RESULT the previous supervisor began to read')" 1 \
        "RESULT bodies read after the death of the supervisor that read their head"
    stop_tend
}

# The one state no supervisor can take a listener back in: the previous one died while an
# event was being written (here one of 20 KB, into a stdin pipe the listener shrank to one
# page and does not read). How much of it the listener will read is unknown, so the next
# supervisor restarts the listener, says so, and the new listener gets events whole.
t_listener_mid_write_is_restarted() {
    need_childutils
    setup
    cat >"$T/slow.py" <<'PYEOF'
import fcntl
import os
import sys
import time

out, hold = sys.argv[1], sys.argv[2]
fcntl.fcntl(0, 1031, 4096)  # F_SETPIPE_SZ: its stdin holds one page


def log(s):
    with open(out, "a") as f:
        f.write("%d %s\n" % (os.getpid(), s))


log("ready")
while True:
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    while os.path.exists(hold):
        time.sleep(0.01)
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    hdr = dict(f.split(":", 1) for f in line.split())
    body = sys.stdin.read(int(hdr["len"]))
    log("got %s %d" % (hdr["eventname"], len(body)))
    sys.stdout.write("RESULT 2\nOK")
    sys.stdout.flush()
PYEOF
    # One line of 20,000 bytes, in one write, each time a line comes through the fifo.
    cat >"$T/talker.py" <<'PYEOF'
import os
import sys

while True:
    with open(sys.argv[1]) as f:
        f.read()
    os.write(1, b"x" * 20000 + b"\n")
PYEOF
    mkfifo "$T/go"
    touch "$T/hold"
    write_conf <<CONF
[eventlistener:watch]
command=$PY $T/slow.py $T/events.log $T/hold
events=PROCESS_LOG_STDOUT
[program:talker]
command=$PY $T/talker.py $T/go
stdout_events_enabled=true
stdout_logfile=$T/talker.log
CONF
    start_tend
    local lpid newpid sup
    lpid=$(st watch pid)
    waitfor "$T/events.log" "^$lpid ready\$" 15 >/dev/null || fail "listener $lpid never started"
    echo go >"$T/go"
    # The event is being written: the listener's stdin pipe is full.
    "$PY" - "/proc/$lpid/fd/0" <<'PYEOF' || fail "the event never filled the listener's stdin"
import fcntl, os, struct, sys, termios, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
deadline = time.monotonic() + 15
while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0] < 4096:
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.01)
PYEOF
    sup=$(tendctl pid)
    kill -KILL "$sup"
    wait_log "generation 2;"
    wait_log "watch: event listener restarted: the previous supervisor left its protocol"
    "$H/waitfor" -t 15 --gone "$lpid" || fail "the listener mid-event stays"
    rm "$T/hold"
    newpid=$(st watch pid)
    [ "$newpid" != "$lpid" ] && [ "$newpid" != 0 ] || fail "listener pid after the restart: $newpid"
    waitfor "$T/events.log" "^$newpid ready\$" 15 >/dev/null || fail "listener $newpid never started"
    echo go >"$T/go"
    waitfor "$T/events.log" "^$newpid got PROCESS_LOG_STDOUT [0-9]+\$" 15 >/dev/null ||
        fail "the new listener got no event; got: $(cat "$T/events.log")"
    local n
    n=$(sed -nE "s/^$newpid got PROCESS_LOG_STDOUT ([0-9]+)\$/\\1/p" "$T/events.log" | head -n 1)
    [ "$n" -gt 20000 ] || fail "the new listener's event has $n bytes, not the whole line"
    stop_tend
}

# stdout_events_enabled: each line a program writes is also a PROCESS_LOG_STDOUT event
# (processname, groupname, pid, channel, then the data), and still reaches its log file;
# stderr without stderr_events_enabled raises nothing.
t_process_log_events() {
    need_childutils
    setup
    make_listener
    printf '#!/bin/sh\necho "hello out"\necho "hello err" >&2\nexec sleep 1000\n' >"$T/chatty.sh"
    chmod +x "$T/chatty.sh"
    write_conf <<CONF
[eventlistener:logs]
command=$PY $T/listener.py $T/events.log
events=PROCESS_LOG
priority=1
[program:chatty]
command=$T/chatty.sh
stdout_logfile=$T/chatty.log
stdout_events_enabled=true
priority=2
CONF
    start_tend
    local pid
    waitfor "$T/events.log" 'eventname:PROCESS_LOG_STDOUT' 15 >/dev/null ||
        fail "no PROCESS_LOG_STDOUT event; got: $(cat "$T/events.log" 2>/dev/null)"
    pid=$(st chatty pid)
    expect_file_match "$T/events.log" "^ver:3\\.0 server:supervisor serial:[0-9]+ pool:logs poolserial:[0-9]+ eventname:PROCESS_LOG_STDOUT len:[0-9]+ \\| processname:chatty groupname:chatty pid:$pid channel:stdout\\\\nhello out\\\\n\$"
    waitfor "$T/chatty.log" '^hello out$' 15 >/dev/null || fail "the line did not reach the log file"
    if grep -q 'PROCESS_LOG_STDERR' "$T/events.log"; then fail "a stderr event without stderr_events_enabled"; fi
    stop_tend
}

# Capture mode (stdout_capture_maxbytes): what a program writes between supervisord's tokens
# is a PROCESS_COMMUNICATION_STDOUT event (processname, groupname, pid, then the newest
# capture_maxbytes of the data) and stays out of its log file; the rest goes to the log.
t_capture_mode_communication() {
    need_childutils
    setup
    make_listener
    printf '#!/bin/sh\necho before\necho "<!--XSUPERVISOR:BEGIN-->abcdefghijKLMNOPQR<!--XSUPERVISOR:END-->"\necho after\nexec sleep 1000\n' >"$T/comm.sh"
    chmod +x "$T/comm.sh"
    write_conf <<CONF
[eventlistener:comms]
command=$PY $T/listener.py $T/events.log
events=PROCESS_COMMUNICATION
priority=1
[program:comm]
command=$T/comm.sh
stdout_logfile=$T/comm.log
stdout_capture_maxbytes=8
priority=2
CONF
    start_tend
    waitfor "$T/events.log" 'eventname:PROCESS_COMMUNICATION_STDOUT' 15 >/dev/null ||
        fail "no PROCESS_COMMUNICATION_STDOUT event; got: $(cat "$T/events.log" 2>/dev/null)"
    local pid
    pid=$(st comm pid)
    expect_file_match "$T/events.log" "eventname:PROCESS_COMMUNICATION_STDOUT len:[0-9]+ \\| processname:comm groupname:comm pid:$pid\\\\nKLMNOPQR\$"
    waitfor "$T/comm.log" '^after$' 15 >/dev/null || fail "the output after the capture is not in the log"
    expect_eq "$(cat "$T/comm.log")" $'before\n\nafter' "the log file (the capture left out)"
    stop_tend
}

# A listener's stdout is the protocol's: tend gives it no capture pipe (none counted, none
# held, its stdout_logfile= not opened), unless redirect_stderr sends its stderr there, where
# its stderr's lines then land.
t_listener_stdout_is_the_protocol() {
    need_childutils
    setup
    make_listener
    printf 'import sys\nsys.stderr.write("said on stderr\\n")\nsys.stderr.flush()\nexec(open(sys.argv[2]).read())\n' >"$T/loud.py"
    write_conf <<CONF
[eventlistener:quiet]
command=$PY $T/listener.py $T/quiet.events
events=PROCESS_STATE
stdout_logfile=$T/quiet.out
stderr_logfile=NONE
[eventlistener:loud]
command=$PY $T/loud.py $T/loud.events $T/listener.py
events=PROCESS_STATE
stdout_logfile=$T/loud.out
redirect_stderr=true
CONF
    start_tend
    # Each: its two protocol pipes and the pidfd of a process taken back; loud: its pipe.
    wait_log "descriptors: the programs need up to 7, "
    waitfor "$T/loud.out" '^said on stderr$' 15 >/dev/null || fail "loud's stderr is not in its log"
    waitfor "$T/quiet.events" 'processname:loud ' 15 >/dev/null ||
        fail "quiet got no event of loud; got: $(cat "$T/quiet.events" 2>/dev/null)"
    [ ! -e "$T/quiet.out" ] || fail "quiet's stdout_logfile was opened: $(cat "$T/quiet.out")"
    expect_eq "$(cat "$T/loud.out")" "said on stderr" "loud's log (its stderr, no protocol)"
    stop_tend
}

run_tests
