#!/usr/bin/env bash
# End-to-end tests of supervisord's [supervisord] keys that tend now implements: strip_ansi
# (ANSI escape sequences taken out of the programs' captured output, in the file tend
# writes) and silent (in the foreground, nothing of tend's log on stderr).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

# A program writes coloured lines; with strip_ansi=true its log file holds the text alone,
# without strip_ansi the escapes are kept as written.
t_strip_ansi() {
    setup
    printf '#!/bin/sh\nprintf "\\033[1;31mred\\033[0m plain \\033[2Kcleared \\0337saved\\n"\nprintf "done\\n"\nexec sleep 1000\n' >"$T/colour.sh"
    chmod +x "$T/colour.sh"
    write_conf "strip_ansi=true" <<CONF
[program:colour]
command=$T/colour.sh
stdout_logfile=$T/colour.log
CONF
    start_tend
    waitfor "$T/colour.log" '^done$' 15 >/dev/null || fail "no output captured: $(cat "$T/colour.log" 2>/dev/null)"
    expect_eq "$(head -n 1 "$T/colour.log")" "red plain cleared saved" "the captured line"
    if grep -q $'\033' "$T/colour.log"; then fail "an escape is left in the log"; fi
    stop_tend

    : >"$LOG"
    rm -f "$T/colour.log"
    write_conf <<CONF
[program:colour]
command=$T/colour.sh
stdout_logfile=$T/colour.log
CONF
    start_tend
    waitfor "$T/colour.log" '^done$' 15 >/dev/null || fail "no output captured"
    expect_eq "$(head -n 1 "$T/colour.log")" $'\033[1;31mred\033[0m plain \033[2Kcleared \0337saved' \
        "the line kept as written without strip_ansi"
    stop_tend
}

# silent=true: `tend daemon -n` with logfile=NONE writes nothing on stderr (without it, its
# log goes there).
t_silent() {
    setup
    local conf=$T/silent.conf
    for silent in false true; do
        cat >"$conf" <<CONF
[tend]
logfile=NONE
silent=$silent
childlogdir=$T/logs
socket=$T/tend.sock
[program:a]
command=$H/sleeper -r $T/a.ready
CONF
        rm -f "$T/a.ready" "$T/s.err"
        "$TEND" daemon -n -c "$conf" >"$T/s.out" 2>"$T/s.err" </dev/null &
        KEEPER_PID=$!
        waitfor "$T/a.ready" '^ready' 15 >/dev/null || fail "a did not start (silent=$silent)"
        "$TEND" -s "$T/tend.sock" shutdown >/dev/null || fail "shutdown (silent=$silent)"
        "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
        wait "$KEEPER_PID" || fail "tend's exit status (silent=$silent)"
        KEEPER_PID=""
        if [ $silent = false ]; then
            expect_file_match "$T/s.err" "tend exiting"
        else
            expect_eq "$(grep -v -e AddressSanitizer -e 'runtime error' "$T/s.err")" "" \
                "tend's stderr with silent=true"
            expect_eq "$(cat "$T/s.out")" "" "tend's stdout with silent=true"
        fi
    done
}

run_tests
