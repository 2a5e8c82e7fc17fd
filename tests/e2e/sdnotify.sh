#!/usr/bin/env bash
# End-to-end tests of tend's own notifications to a service manager (systemd's Type=notify
# protocol), without systemd: tests/helpers/notifysink binds the datagram socket that
# $NOTIFY_SOCKET names and writes down every line it receives ("SEQ COUNT LINE", COUNT being
# how many datagrams so far held that line). `tend daemon -n` runs with NOTIFY_SOCKET set, and
# the cases check READY=1 with a STATUS= summary (only once every autostart program is ready),
# RELOADING=1 + MONOTONIC_USEC= then READY=1
# around `tend reload`, STOPPING=1 at shutdown, WATCHDOG=1 pings with WATCHDOG_USEC (and none
# when WATCHDOG_PID names another process), the abstract '@' form, and that no supervised
# program inherits the variables. Synchronisation: waitfor on the sink's file and tend's log.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

NOTES=""
start_sink() {   # SOCKET: a sink on SOCKET writing to $T/notes
    NOTES=$T/notes
    "$H/notifysink" "$1" "$NOTES" 2>>"$T/sink.err" &
    TRACKED="$TRACKED $!"
    waitfor "$NOTES" '^listening [0-9]+$' || fail "notifysink did not start: $(cat "$T/sink.err")"
}
note() { waitfor "$NOTES" "$1" "${2:-15}" || { cat "$NOTES"; fail "no notification /$1/"; }; }
# The sequence number of the first datagram with a line matching ERE.
seq_of() { grep -E -- "$1" "$NOTES" | head -n 1 | cut -d' ' -f1; }

conf_sleeper() {
    write_conf <<EOF
[program:one]
command=/bin/sh -c 'env >$T/one.env; exec $H/sleeper -r $T/one.ready'
startsecs=0
EOF
}

t_ready_reload_stopping() {
    setup
    start_sink "$T/notify.sock"
    conf_sleeper
    NOTIFY_SOCKET=$T/notify.sock start_tend
    note '^[0-9]+ 1 READY=1$'
    note '^[0-9]+ 1 STATUS=1 process(: [0-9]+ [a-z]+)?$'
    waitfor "$T/one.ready" '^ready' || fail "one did not start"
    # STATUS= follows the program's state (coalesced, within SDNOTIFY_STATUS_MS).
    note '^[0-9]+ [0-9]+ STATUS=1 process: 1 running$'
    # The program did not inherit tend's notification socket.
    ! grep -E '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=' "$T/one.env" ||
        fail "the program inherited the notification variables"

    # A reload: RELOADING=1 with the monotonic time, then READY=1 again, in that order.
    local before after r1 r2
    before=$(($(cut -d' ' -f1 /proc/uptime | tr -d .)0000))   # µs, at 10 ms resolution
    tendctl reload >reload.out || { cat reload.out; fail "tend reload"; }
    note '^[0-9]+ 1 RELOADING=1$'
    r1=$(seq_of '^[0-9]+ 1 RELOADING=1$')
    note "^$r1 1 MONOTONIC_USEC=[0-9]+\$"
    after=$(($(cut -d' ' -f1 /proc/uptime | tr -d .)0000 + 10000))
    local usec
    usec=$(sed -nE "s/^$r1 1 MONOTONIC_USEC=([0-9]+)\$/\\1/p" "$NOTES")
    [ "$usec" -ge "$before" ] && [ "$usec" -le "$after" ] ||
        fail "MONOTONIC_USEC=$usec not between $before and $after (CLOCK_MONOTONIC)"
    note '^[0-9]+ 2 READY=1$'
    r2=$(seq_of '^[0-9]+ 2 READY=1$')
    [ "$r2" -gt "$r1" ] || fail "READY=1 (datagram $r2) before RELOADING=1 (datagram $r1)"
    # A rejected reload is announced and ended the same way: the manager must not wait.
    echo '[program:bad]' >>"$CONF"
    echo 'comand=x' >>"$CONF"
    ! tendctl reload >reload.out 2>&1 || fail "a broken config was accepted"
    note '^[0-9]+ 2 RELOADING=1$'
    note '^[0-9]+ 3 READY=1$'

    ! grep -q 'STOPPING=1' "$NOTES" || fail "STOPPING=1 before the shutdown"
    stop_tend
    note '^[0-9]+ 1 STOPPING=1$'
    [ "$(seq_of 'STOPPING=1')" -gt "$(seq_of '^[0-9]+ 3 READY=1$')" ] || fail "STOPPING=1 order"
}

t_abstract_socket() {
    setup
    local name="@tend-e2e-$$-$RANDOM"
    start_sink "$name"
    conf_sleeper
    NOTIFY_SOCKET=$name start_tend
    note '^[0-9]+ 1 READY=1$'
    tendctl shutdown >/dev/null
    note '^[0-9]+ 1 STOPPING=1$'
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
    wait "$KEEPER_PID" || fail "tend's exit status after shutdown: $?"
    TEND_PID="" KEEPER_PID=""
}

# READY=1 waits until every autostart program reached its first steady state: here a
# readiness=notify program that is ready only when the test says so, and one that needs it.
t_ready_waits_for_programs_to_be_ready() {
    setup
    start_sink "$T/notify.sock"
    cat >"$T/db.sh" <<EOF
$H/waitfor -t 60 $T/go '^go\$' || exit 3
exec $H/readyprog -n $T/db.note
EOF
    write_conf <<EOF
[program:db]
command=/bin/sh $T/db.sh
readiness=notify
[program:web]
command=$H/readyprog $T/web.note
startsecs=0
depends_on=db
EOF
    NOTIFY_SOCKET=$T/notify.sock start_tend
    wait_log "${TS}web: waiting for db"
    # Not ready while db is not: the STATUS= updates come, READY=1 does not.
    note '^[0-9]+ [0-9]+ STATUS=2 processes: 1 stopped, 1 starting$'
    ! grep -q 'READY=1' "$NOTES" || fail "READY=1 before db was ready"
    echo go >"$T/go"
    note '^[0-9]+ 1 READY=1$'
    waitfor "$T/web.note" '^ready ' 15 || fail "web did not start"
    expect_eq "$(grep -c 'READY=1' "$NOTES")" 1 "READY=1 datagrams"
    # READY=1 came with both running: after db was ready and web started.
    grep -E '^[0-9]+ 1 READY=1$' -A1 "$NOTES" | grep -q 'STATUS=2 processes: 2 running' ||
        fail "READY=1 before both were running: $(cat "$NOTES")"
    stop_tend
}

t_watchdog_pings() {
    setup
    start_sink "$T/notify.sock"
    conf_sleeper
    # 200 ms: tend pings every 100 ms, from its event loop's timer.
    NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 start_tend
    # Pings start at once; READY=1 follows once the program is up.
    note '^[0-9]+ 1 READY=1$'
    note '^[0-9]+ 5 WATCHDOG=1$'
    # Pings keep coming while tend serves requests.
    tendctl status >/dev/null || true
    note '^[0-9]+ 8 WATCHDOG=1$'
    ! grep -E '^WATCHDOG_' "$T/one.env" || fail "the program inherited WATCHDOG_*"
    stop_tend
}

# WATCHDOG_PID names another process (the watchdog was meant for tend's parent): no pings.
# The program's startsecs=1 makes a second pass that tend spends in its loop (a 200 ms
# watchdog would ping ten times meanwhile).
t_watchdog_for_another_pid() {
    setup
    start_sink "$T/notify.sock"
    write_conf <<EOF
[program:one]
command=$H/sleeper -r $T/one.ready
startsecs=1
EOF
    NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 WATCHDOG_PID=1 start_tend
    note '^[0-9]+ 1 READY=1$'
    wait_log "${TS}one \\(pid [0-9]+\\): STARTING -> RUNNING"
    note 'STATUS=1 process: 1 running$'
    ! grep -q 'WATCHDOG=1' "$NOTES" || { cat "$NOTES"; fail "pinged for WATCHDOG_PID=1"; }
    stop_tend
}

# A NOTIFY_SOCKET nobody listens on, or one that makes no sense: tend runs as usual and says
# why it cannot notify.
t_unreachable_or_bad_socket() {
    setup
    conf_sleeper
    NOTIFY_SOCKET=$T/nobody.sock start_tend
    waitfor "$T/one.ready" '^ready' || fail "one did not start"
    tendctl reload >/dev/null || fail "reload"
    stop_tend
    : >"$LOG"
    NOTIFY_SOCKET=relative/path start_tend
    wait_log "${TS}sd_notify: NOTIFY_SOCKET='relative/path' ignored: not an absolute path"
    stop_tend
}

run_tests
