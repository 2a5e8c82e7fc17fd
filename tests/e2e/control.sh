#!/usr/bin/env bash
# End-to-end tests of the control socket (doc/protocol.md): the real `tend daemon -n` in a
# fresh directory $T with its own socket, driven by the real CLI (every verb, its output and
# exit code) and by tests/helpers/e2e_rawclient (raw bytes on the socket: garbage, a megabyte
# without a newline, a wrong version, connections that never speak, hundreds of them).
#
# After each abuse the supervisor must still answer `tend status` promptly (within PROMPT_MS,
# far below the client's own 10 s timeout, which is what a stalled loop would show) AND still
# supervise: a program killed with SIGKILL is seen to exit and a new instance runs.
#
# Synchronisation is on events only: a line in tend's log or a helper's ready file (waitfor,
# inotify), a process going away (waitfor --gone), the CLI returning (start/stop wait for the
# state), the server closing a connection. Deadlines only turn a hang into a failure.
#
# Sanitizers: every tend and every CLI run writes its sanitizer reports to $T (log_path); a
# case fails if any report, or tend's stderr, mentions AddressSanitizer, LeakSanitizer or a
# runtime error. Each case ends by stopping tend cleanly, so LeakSanitizer sees its exit.
. "$(dirname "$0")/lib.sh"

SUBREAPER=$PPID    # lib.sh runs this shell as the subreaper's child
TEND_PID="" KEEPER_PID=""        # the current case's tend
CONF="" LOG="" SOCK=""
RC=0               # exit status of the last cli / cli_as
# "Promptly": far below the client's 10 s timeout, which is what a stalled loop would show;
# generous for a loaded machine, more so under the sanitizers.
case ${TEND_BUILD:-} in
    */asan) PROMPT_MS=${TEND_PROMPT_MS:-5000} ;;
    *) PROMPT_MS=${TEND_PROMPT_MS:-3000} ;;
esac
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (INFO|WARN|ERROR|DEBUG) '
RAW=$H/e2e_rawclient

skip() { echo "SKIP: $*" >&2; exit 0; }

# ---------------------------------------------------------------------------------------------
# Setup, cleanup, sanitizers

setup() {
    CONF=$T/tend.conf
    LOG=$T/tend.log
    SOCK=$T/tend.sock
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/ubsan"
    trap cleanup EXIT
}

check_sanitizers() {
    local f
    for f in "$T"/tend.err "$LOG" "$T"/asan.* "$T"/ubsan.* "$T"/nb/asan.* "$T"/nb/ubsan.*; do
        [ -e "$f" ] || continue
        if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$f"; then
            echo "--- $f:"
            cat "$f"
            fail "sanitizer report in $f"
        fi
    done
}

# pstat PID N: field N (1-based, as proc(5) numbers them) of /proc/PID/stat.
pstat() {
    local line rest n=$2
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    set -- $rest
    shift $((n - 3))
    echo "$1"
}
# is_alive PID: exists and is not a zombie.
is_alive() { local s; s=$(pstat "$1" 3) && [ "$s" != Z ] && [ "$s" != X ]; }

children_of() {   # PID: its live children, one a line
    local parent=$1 f line rest
    for f in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$f" || continue
        rest=${line##*) }
        set -- $rest
        [ "$2" = "$parent" ] && [ "$1" != Z ] && echo "${f//[^0-9]/}"
    done
    return 0
}

cleanup() {
    local rc=$? p pids
    set +e
    if [ -n "$KEEPER_PID" ]; then
        kill -KILL "$KEEPER_PID" $TEND_PID 2>/dev/null
        { wait "$KEEPER_PID"; } 2>/dev/null
    fi
    for _ in 1 2 3 4 5; do
        pids=$(children_of "$SUBREAPER" | grep -vx "$$")
        [ -n "$pids" ] || break
        for p in $pids; do kill -KILL "$p" 2>/dev/null; done
        for p in $pids; do "$H/waitfor" -t 10 --gone "$p" >/dev/null 2>&1; done
    done
    if [ "$rc" = 0 ]; then
        (check_sanitizers) || rc=1
    else
        echo "--- tend's log:"; cat "$LOG" 2>/dev/null | tail -n 40
        echo "--- tend's stderr:"; cat "$T/tend.err" 2>/dev/null | tail -n 40
    fi
    exit "$rc"
}

# write_conf [TEND_KEY=VALUE...] < PROGRAM SECTIONS: the config, with tend's log and socket
# in $T. Written to a temporary file and renamed, so that a reload never reads half of it.
write_conf() {
    {
        printf '[tend]\nlogfile=%s\nsocket=%s\n' "$LOG" "$SOCK"
        [ $# -eq 0 ] || printf '%s\n' "$@"
        cat
    } >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
}

start_tend() {
    "$TEND" daemon -n -c "$CONF" >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 20 ||
        fail "tend did not start: $(cat "$T/tend.err")"
}

# stop_tend: SIGTERM; tend must exit 0 with "tend exiting" as its last log line.
stop_tend() {
    local rc=0
    kill -TERM "$KEEPER_PID"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit after SIGTERM"
    wait "$KEEPER_PID" || rc=$?
    TEND_PID="" KEEPER_PID=""
    check_sanitizers
    expect_eq "$rc" 0 "tend's exit status"
    expect_match "$(tail -n 1 "$LOG")" "${TS}tend exiting\$" "the last line of tend's log"
}

# ---------------------------------------------------------------------------------------------
# The CLI

# cli ARG...: `tend -s $SOCK ARG...`; stdout in $T/out, stderr in $T/err, exit status in RC.
cli() {
    RC=0
    "$TEND" -s "$SOCK" "$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
}
out() { cat "$T/out"; }
err() { cat "$T/err"; }
# expect_cli RC STDOUT STDERR WHAT: the last cli's exit status and exact output.
expect_cli() {
    local ctx
    ctx="$4 (stdout: '$(out)', stderr: '$(err)')"
    expect_eq "$RC" "$1" "exit status of $ctx"
    expect_eq "$(out)" "$2" "stdout of $4"
    expect_eq "$(err)" "$3" "stderr of $4"
}

# cli_as SETPRIV_OPTION... -- ARG...: cli, run through setpriv (another user). Its sanitizer
# reports go to $T/nb, which that user can write.
cli_as() {
    local opts=()
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    mkdir -p "$T/nb"
    chmod 1777 "$T/nb"
    RC=0
    ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$T/nb/asan" \
        UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$T/nb/ubsan" \
        setpriv "${opts[@]}" "$TEND" -s "$SOCK" "$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
}

ms_now() { local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t / 1000)); }

# status_promptly: `tend status` answers, with every program RUNNING, within PROMPT_MS.
status_promptly() {
    local t0 t1
    t0=$(ms_now)
    cli status
    t1=$(ms_now)
    # 0 or 3 (a program still STARTING): either way the supervisor answered.
    case $RC in 0 | 3) ;; *) fail "exit status of status: $RC (stderr: $(err); stdout: $(out))" ;; esac
    [ $((t1 - t0)) -le "$PROMPT_MS" ] || fail "status took $((t1 - t0)) ms (limit $PROMPT_MS)"
}

# cell FILE NAME TITLE: the cell in row NAME, column TITLE, of a status table in FILE (the
# header row gives each column's offset). Fails if there is no such row or column.
cell() {
    awk -v name="$2" -v title="$3" '
        NR == 1 {
            for (i = 1; i <= length($0); i++)
                if (substr($0, i, 1) != " " && (i == 1 || substr($0, i - 1, 1) == " ")) {
                    pos[++n] = i; t[n] = substr($0, i); sub(/ .*/, "", t[n])
                }
            next
        }
        {
            nm = substr($0, 1, pos[2] - 1); sub(/ +$/, "", nm)
            if (nm != name) next
            for (c = 1; c <= n; c++)
                if (t[c] == title) {
                    v = c < n ? substr($0, pos[c], pos[c + 1] - pos[c]) : substr($0, pos[c])
                    sub(/ +$/, "", v); print v; found = 1
                }
        }
        END { exit !found }' "$1" || fail "no cell ($2, $3) in: $(cat "$1")"
}

# check_columns FILE: in a status table, every cell of every row starts at its header's column
# and follows at least two blanks; no line ends in a blank.
check_columns() {
    awk '
        NR == 1 {
            for (i = 1; i <= length($0); i++)
                if (substr($0, i, 1) != " " && (i == 1 || substr($0, i - 1, 1) == " "))
                    pos[++n] = i
            for (c = 2; c <= n; c++)
                if (substr($0, pos[c] - 2, 2) != "  ") { print "header: column " c; bad = 1 }
        }
        / $/ { print "trailing blank in line " NR; bad = 1 }
        NR > 1 {
            for (c = 1; c <= n && pos[c] <= length($0); c++)
                if (substr($0, pos[c], 1) == " " || (c > 1 && substr($0, pos[c] - 2, 2) != "  ")) {
                    print "line " NR ", column " c " is not aligned: " $0; bad = 1
                }
        }
        END { exit bad }' "$1" || fail "misaligned status table: $(cat "$1")"
}

# ---------------------------------------------------------------------------------------------
# tend's log and the programs

wait_log() { waitfor "$LOG" "$1" "${2:-20}" || fail "no line /$1/ in tend's log"; }
count_log() { grep -Ec -- "$1" "$LOG" || true; }

ready_pid() {   # READYFILE: wait for a helper's "ready PID" line and print PID
    waitfor "$1" '^ready [0-9]+$' 20 >&2 || fail "no ready line in $1"
    sed -n 's/^ready \([0-9]*\)$/\1/p' "$1"
}

# running NAME READYFILE: wait until NAME's helper is up and tend says RUNNING; print its pid.
running() {
    local pid
    pid=$(ready_pid "$2")
    wait_log "${TS}$1 \\(pid $pid\\): STARTING -> RUNNING" >&2
    echo "$pid"
}

# still_supervises: SIGKILL the RUNNING program beat (a sleeper writing $T/beat.ready); tend
# must log its exit and start a new instance that becomes RUNNING.
still_supervises() {
    local name=beat old new
    old=$(running "$name" "$T/$name.ready")
    rm -f "$T/$name.ready"
    kill -KILL "$old"
    wait_log "${TS}$name \\(pid $old\\): RUNNING -> (STARTING|BACKOFF): exited: signal 9 \\(SIGKILL\\)"
    new=$(running "$name" "$T/$name.ready")
    [ "$new" != "$old" ] || fail "$name was not restarted with a new pid"
    is_alive "$new" || fail "the new $name (pid $new) is not alive"
}

# A supervisor with one program, beat, RUNNING: the subject of the robustness cases.
start_beat() {
    setup
    write_conf <<EOF
[program:beat]
command=$H/sleeper -r $T/beat.ready
startsecs=0
EOF
    start_tend
    running beat "$T/beat.ready" >/dev/null
}

# raw FILE: send the file's bytes on a fresh connection, keep the sending side open,
# and print the reply; the server must close the connection after it.
raw() {
    local rc=0
    "$RAW" req -t 20 "$SOCK" <"$1" >"$T/raw.out" 2>"$T/raw.err" || rc=$?
    [ $rc = 0 ] || fail "the server did not close the connection: $(cat "$T/raw.err")"
    cat "$T/raw.out"
}

# queue_raw_err CODE TEXT_ERE PRINTF_ARGS...: `printf PRINTF_ARGS...` is a request to send on a
# connection of its own; its reply must be exactly one line "err CODE TEXT" (TEXT matching
# TEXT_ERE, or absent), after which the server closes. check_raw_errs sends every queued one
# (one e2e_rawclient run for all: a sanitizer build starts a process slowly) and checks.
NQ=0
queue_raw_err() {
    local code=$1 ere=$2
    shift 2
    NQ=$((NQ + 1))
    mkdir -p "$T/q"
    # shellcheck disable=SC2059
    printf "$@" >"$T/q/$(printf %03d "$NQ").req"
    printf '%s\n' "^err $code( $ere)?\$" >"$T/q/$(printf %03d "$NQ").want"
}
check_raw_errs() {
    local i f rc=0 reply
    "$RAW" req -t 20 "$SOCK" "$T"/q/*.req >"$T/q/all.out" 2>"$T/q/all.err" || rc=$?
    [ $rc = 0 ] || fail "the server left a connection open: $(cat "$T/q/all.err")"$'\n'"$(cat "$T/q/all.out")"
    awk -v dir="$T/q" '
        BEGIN { i = 1; f = sprintf("%s/%03d.reply", dir, i); printf "" > f }
        /^--- (closed|timeout|error)$/ { close(f); i++; f = sprintf("%s/%03d.reply", dir, i); printf "" > f; next }
        { print > f }' "$T/q/all.out"
    for ((i = 1; i <= NQ; i++)); do
        f=$T/q/$(printf %03d "$i")
        reply=$(cat "$f.reply")
        expect_eq "$(wc -l <"$f.reply")" 1 "lines in the reply to $(od -An -c "$f.req" | tr -s ' ' | head -c 120): '$reply'"
        expect_match "$reply" "$(cat "$f.want")" "reply to '$(head -c 60 "$f.req" | od -An -c | tr -s ' ' | head -c 160)'"
    done
    rm -rf "$T/q"
    NQ=0
}

# ---------------------------------------------------------------------------------------------
# Cases: verbs

# status: the table (columns NAME STATE PID UPTIME RESTARTS, EXIT/REASON when any has one),
# the pids of the real processes, "-" without a process, the reason of a FATAL program, and
# exit 3 as soon as one listed process is not RUNNING. Names, GROUP:* and the group's name.
t_status_table_and_exit_codes() {
    setup
    write_conf <<EOF
[program:web]
command=$H/sleeper -r $T/web_%(process_num)d.ready
process_name=web_%(process_num)d
numprocs=2
startsecs=0
[group:g]
programs=web
[program:bad]
command=$T/missing-program
[program:idle]
command=$H/sleeper
autostart=false
EOF
    start_tend
    local w0 w1
    w0=$(running g:web_0 "$T/web_0.ready")
    w1=$(running g:web_1 "$T/web_1.ready")
    wait_log "${TS}bad \\(pid [0-9]+\\): STARTING -> FATAL"

    cli status
    expect_eq "$RC" 3 "status with a FATAL and a STOPPED program (stderr: $(err))"
    expect_eq "$(err)" "" "stderr of status"
    check_columns "$T/out"
    expect_match "$(head -n 1 "$T/out")" '^NAME +STATE +PID +UPTIME +RESTARTS( +MEM +CPU +TASKS)? +EXIT/REASON$' "header"
    expect_eq "$(tail -n +2 "$T/out" | awk '{print $1}' | tr '\n' ' ')" "bad idle g:web_0 g:web_1 " \
        "rows (by priority, then program name)"
    expect_eq "$(cell "$T/out" g:web_0 STATE)" RUNNING "state of g:web_0"
    expect_eq "$(cell "$T/out" g:web_0 PID)" "$w0" "pid of g:web_0"
    expect_eq "$(cell "$T/out" g:web_1 PID)" "$w1" "pid of g:web_1"
    expect_match "$(cell "$T/out" g:web_1 UPTIME)" '^0:00:[0-9]{2}$' "uptime of g:web_1"
    expect_eq "$(cell "$T/out" g:web_1 RESTARTS)" 0 "restarts of g:web_1"
    expect_eq "$(cell "$T/out" g:web_1 EXIT/REASON)" "" "exit/reason of a running program"
    expect_eq "$(cell "$T/out" bad STATE)" FATAL "state of bad"
    expect_eq "$(cell "$T/out" bad PID)" - "pid of bad"
    expect_eq "$(cell "$T/out" bad UPTIME)" - "uptime of bad"
    expect_eq "$(cell "$T/out" bad EXIT/REASON)" \
        "cannot execute $T/missing-program: No such file or directory (exit 127)" "reason of bad"
    expect_eq "$(cell "$T/out" idle STATE)" STOPPED "state of idle"
    expect_eq "$(cell "$T/out" idle PID)" - "pid of idle"

    # Only RUNNING ones listed: exit 0, and no EXIT/REASON column.
    cli status g:web_0 web_1
    expect_eq "$RC" 0 "status of two RUNNING processes (stderr: $(err))"
    check_columns "$T/out"
    expect_match "$(head -n 1 "$T/out")" '^NAME +STATE +PID +UPTIME +RESTARTS( +MEM +CPU +TASKS)?$' "header without reasons"
    expect_eq "$(tail -n +2 "$T/out" | awk '{print $1 " " $2 " " $3}' | tr '\n' ,)" \
        "g:web_0 RUNNING $w0,g:web_1 RUNNING $w1," "rows of status g:web_0 web_1"
    local sel
    for sel in 'g:*' g; do
        cli status "$sel"
        expect_eq "$RC" 0 "status $sel"
        expect_eq "$(tail -n +2 "$T/out" | awk '{print $1}' | tr '\n' ' ')" "g:web_0 g:web_1 " "rows of status $sel"
    done
    cli status bad
    expect_eq "$RC" 3 "status of a FATAL program"
    expect_eq "$(cell "$T/out" bad STATE)" FATAL "status bad"
    expect_match "$(cell "$T/out" bad EXIT/REASON)" "^cannot execute $T/missing-program: No such file" "status bad: reason"
    cli status idle
    expect_eq "$RC" 3 "status of a STOPPED program"
    cli status g:web_0 idle
    expect_eq "$RC" 3 "status of a RUNNING and a STOPPED program"
    # The -c FILE way to the socket.
    RC=0
    "$TEND" -c "$CONF" status 'g:*' >"$T/out" 2>"$T/err" || RC=$?
    expect_eq "$RC" 0 "tend -c CONF status (stderr: $(err))"
    expect_eq "$(grep -c RUNNING "$T/out")" 2 "RUNNING rows through -c"

    # Unknown names: exit 1, one line, with a suggestion when one is close.
    cli status nosuchthing
    expect_cli 1 "" "tend: no such process 'nosuchthing'" "status nosuchthing"
    cli status g:web_9
    expect_eq "$RC" 1 "status g:web_9"
    expect_match "$(err)" "^tend: no such process 'g:web_9'; did you mean 'g:web_[01]'\\?\$" "status g:web_9"
    cli status 'nogroup:*'
    expect_eq "$RC" 1 "status nogroup:*"
    # A usage error is found before connecting.
    cli status --no-wait
    expect_eq "$RC" 2 "status --no-wait"
    stop_tend
}

# status --json: one valid JSON document on stdout (checked by a real parser), an array of one
# object per process with the documented keys in order and types, strings escaped.
t_status_json() {
    setup
    write_conf <<EOF
[program:web]
command=$H/sleeper -r $T/web.ready
startsecs=0
[program:quoted]
command=$H/sleeper
directory=$T/no"such\\dir	tab
EOF
    start_tend
    local w keys
    w=$(running web "$T/web.ready")
    wait_log "${TS}quoted \\(pid [0-9]+\\): STARTING -> FATAL"
    cli status --json
    expect_eq "$RC" 3 "status --json with a FATAL program"
    expect_eq "$(err)" "" "stderr of status --json"
    "$RAW" json <"$T/out" >"$T/flat" 2>"$T/json.err" ||
        fail "status --json is not valid JSON: $(cat "$T/json.err"): $(out)"
    grep -qvE '^\[[01]\]\.[a-z]+=' "$T/flat" && fail "not an array of 2 flat objects: $(cat "$T/flat")"
    keys="name group state pid uptime restarts exit reason health waiting dropped "
    expect_eq "$(sed -n 's/^\[0\]\.\([a-z]*\)=.*/\1/p' "$T/flat" | tr '\n' ' ')" "$keys" "keys of object 0"
    # Usage keys follow for a service with a process, when tend uses cgroups.
    expect_match "$(sed -n 's/^\[1\]\.\([a-z]*\)=.*/\1/p' "$T/flat" | tr '\n' ' ')" "^$keys(memory cpu tasks )?\$" "keys of object 1"
    expect_eq "$(grep -cE '^\[[01]\]\.(pid|uptime|restarts|dropped)=(0|[1-9][0-9]*)$' "$T/flat")" 8 \
        "numbers as JSON numbers"
    expect_eq "$(grep -cE '^\[[01]\]\.(name|group|state|exit|reason|health|waiting)="' "$T/flat")" 14 \
        "strings as JSON strings"
    expect_eq "$(grep '^\[1\]\.name=' "$T/flat")" '[1].name="web"' "web is the second object"
    expect_eq "$(grep '^\[1\]\.state=' "$T/flat")" '[1].state="RUNNING"' "web's state"
    expect_eq "$(grep '^\[1\]\.pid=' "$T/flat")" "[1].pid=$w" "web's pid"
    expect_eq "$(grep '^\[0\]\.state=' "$T/flat")" '[0].state="FATAL"' "quoted's state"
    expect_eq "$(grep '^\[0\]\.reason=' "$T/flat")" \
        "[0].reason=\"cannot change directory to $T/no\\\"such\\\\dir\\ttab: No such file or directory\"" \
        "quoted's reason, escaped"
    # Only RUNNING listed: exit 0; one object.
    cli status --json web
    expect_eq "$RC" 0 "status --json web"
    "$RAW" json <"$T/out" >"$T/flat" || fail "status --json web is not valid JSON: $(out)"
    expect_eq "$(grep -c '\.name=' "$T/flat")" 1 "objects for status --json web"
    # Errors still go to stderr, stdout stays empty.
    cli status --json nosuch
    expect_cli 1 "" "tend: no such process 'nosuch'" "status --json nosuch"
    stop_tend
}

# start, stop and restart of a NAME, a GROUP:*, and all: the reply lines, the exit codes, and
# what really happened to the processes (pids gone, new pids, /proc).
t_start_stop_restart() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
[program:b]
command=$H/sleeper -r $T/b.ready
startsecs=0
[group:g]
programs=a,b
[program:c]
command=$H/sleeper -r $T/c.ready
startsecs=0
EOF
    start_tend
    local a b c a2 b2 c2
    a=$(running g:a "$T/a.ready")
    b=$(running g:b "$T/b.ready")
    c=$(running c "$T/c.ready")

    # NAME
    rm "$T/a.ready"
    cli stop g:a
    expect_cli 0 "g:a: stopped" "" "stop g:a"
    [ ! -e "/proc/$a" ] || fail "g:a (pid $a) still exists after stop returned"
    cli status g:a
    expect_eq "$RC" 3 "status of a stopped process"
    expect_eq "$(cell "$T/out" g:a STATE)" STOPPED "state after stop"
    cli stop a
    expect_cli 0 "g:a: stopped" "" "stop of a stopped process (by its short name)"
    cli start g:a
    expect_cli 0 "g:a: started" "" "start g:a"
    a2=$(ready_pid "$T/a.ready")
    [ "$a2" != "$a" ] || fail "start reused pid $a"
    expect_eq "$(pstat "$a2" 4)" "$TEND_PID" "parent of the started process"
    cli start g:a
    expect_cli 0 "g:a: already running" "" "start of a running process"
    rm "$T/a.ready"
    cli restart g:a
    expect_cli 0 "g:a: restarted" "" "restart g:a"
    [ ! -e "/proc/$a2" ] || fail "the old g:a (pid $a2) still exists after restart"
    a=$(ready_pid "$T/a.ready")
    [ "$a" != "$a2" ] || fail "restart kept pid $a2"
    is_alive "$c" || fail "c was touched"

    # GROUP:*
    rm "$T/a.ready" "$T/b.ready"
    cli stop 'g:*'
    expect_eq "$RC" 0 "stop g:* (stderr: $(err))"
    expect_eq "$(out | sort | tr '\n' ,)" "g:a: stopped,g:b: stopped," "stop g:*"
    [ ! -e "/proc/$a" ] && [ ! -e "/proc/$b" ] || fail "a group member survived stop g:*"
    is_alive "$c" || fail "c was stopped with group g"
    cli start 'g:*'
    expect_eq "$RC" 0 "start g:* (stderr: $(err))"
    expect_eq "$(out | sort | tr '\n' ,)" "g:a: started,g:b: started," "start g:*"
    a=$(ready_pid "$T/a.ready")
    b=$(ready_pid "$T/b.ready")
    rm "$T/a.ready" "$T/b.ready"
    cli restart 'g:*'
    expect_eq "$(out | sort | tr '\n' ,)" "g:a: restarted,g:b: restarted," "restart g:*"
    expect_eq "$RC" 0 "restart g:*"
    a2=$(ready_pid "$T/a.ready")
    b2=$(ready_pid "$T/b.ready")
    [ "$a2" != "$a" ] && [ "$b2" != "$b" ] || fail "restart g:* kept a pid"

    # all
    rm "$T/a.ready" "$T/b.ready" "$T/c.ready"
    cli restart all
    expect_eq "$RC" 0 "restart all"
    expect_eq "$(out | sort | tr '\n' ,)" "c: restarted,g:a: restarted,g:b: restarted," "restart all"
    c2=$(ready_pid "$T/c.ready")
    [ "$c2" != "$c" ] || fail "restart all kept c's pid"
    cli stop all
    expect_eq "$(out | sort | tr '\n' ,)" "c: stopped,g:a: stopped,g:b: stopped," "stop all"
    expect_eq "$RC" 0 "stop all"
    [ -z "$(children_of_tend)" ] || fail "processes left after stop all: $(children_of_tend)"
    cli status
    expect_eq "$RC" 3 "status after stop all"
    expect_eq "$(grep -c STOPPED "$T/out")" 3 "STOPPED rows"
    cli start all
    expect_eq "$(out | sort | tr '\n' ,)" "c: started,g:a: started,g:b: started," "start all"
    expect_eq "$RC" 0 "start all"
    cli status
    expect_eq "$RC" 0 "status after start all"

    # Names are all checked before anything is done.
    rm -f "$T/a.ready"
    cli stop g:a
    cli start g:a nosuch
    expect_cli 1 "" "tend: no such process 'nosuch'" "start g:a nosuch"
    cli status g:a
    expect_eq "$(cell "$T/out" g:a STATE)" STOPPED "g:a after a rejected start"
    cli start g:aa
    expect_eq "$RC" 1 "start g:aa"
    expect_eq "$(err)" "tend: no such process 'g:aa'; did you mean 'g:a'?" "start g:aa"
    cli restart nosuch
    expect_eq "$RC" 1 "restart nosuch"
    cli stop nosuch
    expect_eq "$RC" 1 "stop nosuch"
    local verb
    for verb in start stop restart; do
        cli "$verb"
        expect_eq "$RC" 2 "$verb without a name"
        expect_match "$(err)" "^tend: $verb needs a NAME, GROUP:\\* or all" "$verb without a name"
    done
    stop_tend
}

children_of_tend() { children_of "$TEND_PID"; }

# A FATAL program in a start/restart: its line says FATAL and why, the exit is 1, the others
# still start.
t_start_with_a_fatal_one() {
    setup
    write_conf <<EOF
[program:ok]
command=$H/sleeper -r $T/ok.ready
startsecs=0
autostart=false
[program:bad]
command=$T/missing-program
autostart=false
EOF
    start_tend
    cli start ok bad
    expect_eq "$RC" 1 "start ok bad"
    expect_eq "$(out | sort | tr '\n' ,)" \
        "bad: FATAL: cannot execute $T/missing-program: No such file or directory,ok: started," "start ok bad"
    expect_eq "$(err)" "tend: not every process reached its state" "stderr of start ok bad"
    ready_pid "$T/ok.ready" >/dev/null
    cli restart all
    expect_eq "$RC" 1 "restart all"
    expect_eq "$(out | sort | tr '\n' ,)" \
        "bad: FATAL: cannot execute $T/missing-program: No such file or directory,ok: restarted," "restart all"
    cli stop all
    expect_cli 0 "$(printf 'bad: stopped\nok: stopped')" "" "stop all (a FATAL one counts as stopped)"
    stop_tend
}

# --no-wait: the reply comes once the requests are issued, while the processes are still
# STARTING / STOPPING.
t_no_wait() {
    setup
    write_conf <<EOF
[program:slow]
command=$H/sleeper -r $T/slow.ready
startsecs=3
autostart=false
[program:stubborn]
command=$H/ignoreterm -r $T/stubborn.ready
startsecs=0
stopwaitsecs=2
EOF
    start_tend
    local s
    running stubborn "$T/stubborn.ready" >/dev/null
    cli start --no-wait slow
    expect_cli 0 "slow: start requested" "" "start --no-wait slow"
    cli status slow
    expect_eq "$RC" 3 "status right after start --no-wait"
    expect_eq "$(cell "$T/out" slow STATE)" STARTING "slow right after start --no-wait"
    cli stop --no-wait stubborn
    expect_cli 0 "stubborn: stop requested" "" "stop --no-wait stubborn"
    cli status stubborn
    expect_eq "$(cell "$T/out" stubborn STATE)" STOPPING "stubborn right after stop --no-wait"
    wait_log "${TS}stubborn \\(pid [0-9]+\\): STOPPING -> STOPPED"
    s=$(running slow "$T/slow.ready")
    rm "$T/slow.ready"
    cli restart --no-wait slow
    expect_cli 0 "slow: restart requested" "" "restart --no-wait slow"
    cli status slow
    expect_eq "$RC" 3 "status right after restart --no-wait"
    expect_match "$(cell "$T/out" slow STATE)" '^(STOPPING|STARTING)$' "slow right after restart --no-wait"
    running slow "$T/slow.ready" >/dev/null
    cli start --no-wait nosuch
    expect_eq "$RC" 1 "start --no-wait nosuch"
    cli pid --no-wait
    expect_eq "$RC" 2 "pid --no-wait"
    stop_tend
}

# start while STARTING (startsecs=3) waits, and returns once tend has made it RUNNING.
t_start_while_starting() {
    setup
    write_conf <<EOF
[program:slow]
command=$H/sleeper -r $T/slow.ready
startsecs=3
EOF
    start_tend
    local pid t_start t_run
    pid=$(ready_pid "$T/slow.ready")
    cli status slow
    expect_eq "$RC" 3 "status while STARTING"
    expect_eq "$(cell "$T/out" slow STATE)" STARTING "state"
    expect_eq "$(cell "$T/out" slow PID)" "$pid" "pid while STARTING"
    [ "$(count_log "slow.*-> RUNNING")" = 0 ] || fail "RUNNING before the start call"
    cli start slow
    expect_cli 0 "slow: started" "" "start slow while STARTING"
    # The reply came after the transition: it is in the log already.
    expect_eq "$(count_log "${TS}slow \\(pid $pid\\): STARTING -> RUNNING")" 1 "RUNNING line at the reply"
    t_start=$(date -d "$(grep -E "${TS}slow: STOPPED -> STARTING" "$LOG" | cut -c1-23)" +%s%3N)
    t_run=$(date -d "$(grep -E "${TS}slow \\(pid $pid\\): STARTING -> RUNNING" "$LOG" | cut -c1-23)" +%s%3N)
    [ $((t_run - t_start)) -ge 2998 ] || fail "RUNNING $((t_run - t_start)) ms after STARTING (startsecs=3)"
    cli status slow
    expect_eq "$RC" 0 "status after start"
    # stop while STARTING: stopped.
    rm "$T/slow.ready"
    cli restart --no-wait slow
    pid=$(ready_pid "$T/slow.ready")
    cli stop slow
    expect_cli 0 "slow: stopped" "" "stop while STARTING"
    [ ! -e "/proc/$pid" ] || fail "slow (pid $pid) survived stop"
    stop_tend
}

# start of a program in BACKOFF (it dies at once; startretries=2) waits through the retries
# and ends with FATAL and exit 1.
t_start_while_backoff() {
    setup
    write_conf <<EOF
[program:crash]
command=$H/exitwith 3
startsecs=1
startretries=2
EOF
    start_tend
    wait_log "${TS}crash \\(pid [0-9]+\\): STARTING -> BACKOFF"
    [ "$(count_log "crash.*FATAL")" = 0 ] || fail "FATAL already"
    cli status crash
    expect_eq "$RC" 3 "status in BACKOFF"
    expect_match "$(cell "$T/out" crash STATE)" '^(BACKOFF|STARTING)$' "state during the retries"
    cli start crash
    expect_cli 1 "crash: FATAL: could not stay up for startsecs=1 in 3 tries" \
        "tend: not every process reached its state" "start crash while BACKOFF"
    expect_eq "$(count_log "${TS}crash: spawned pid")" 3 "spawns of crash"
    cli status crash
    expect_eq "$RC" 3 "status of the FATAL program"
    expect_eq "$(cell "$T/out" crash STATE)" FATAL "state"
    expect_eq "$(cell "$T/out" crash EXIT/REASON)" "could not stay up for startsecs=1 in 3 tries (exit 3)" "reason"
    stop_tend
}

# stop of a program that ignores SIGTERM (stopwaitsecs=2) waits through the SIGKILL and says
# stopped; a second stop during STOPPING waits too; start during STOPPING starts it after.
t_stop_while_stopping() {
    setup
    write_conf <<EOF
[program:stubborn]
command=$H/ignoreterm -r $T/stubborn.ready
startsecs=0
stopwaitsecs=2
EOF
    start_tend
    local pid t0 t1
    pid=$(running stubborn "$T/stubborn.ready")
    t0=$(ms_now)
    cli stop --no-wait stubborn
    cli status stubborn
    expect_eq "$(cell "$T/out" stubborn STATE)" STOPPING "state after stop --no-wait"
    cli stop stubborn
    t1=$(ms_now)
    expect_cli 0 "stubborn: stopped (it ignored its stop signal: SIGKILL sent after stopwaitsecs)" "" \
        "stop during STOPPING"
    expect_eq "$(count_log "${TS}stubborn \\(pid $pid\\): still alive 2s after SIGTERM: sending SIGKILL")" 1 \
        "the SIGKILL line"
    expect_eq "$(count_log "${TS}stubborn \\(pid $pid\\): STOPPING -> STOPPED: stopped: signal 9 \\(SIGKILL\\)")" 1 \
        "the STOPPED line"
    [ ! -e "/proc/$pid" ] || fail "stubborn (pid $pid) still exists"
    [ $((t1 - t0)) -ge 1900 ] || fail "stop returned after $((t1 - t0)) ms, before stopwaitsecs=2"

    # start during STOPPING: the stop completes, then the start.
    cli start stubborn
    pid=$(running stubborn "$T/stubborn.ready")
    rm "$T/stubborn.ready"
    cli stop --no-wait stubborn
    cli start stubborn
    expect_cli 0 "stubborn: started" "" "start during STOPPING"
    [ ! -e "/proc/$pid" ] || fail "the old stubborn (pid $pid) still exists"
    [ "$(ready_pid "$T/stubborn.ready")" != "$pid" ] || fail "no new stubborn"
    stop_tend
}

# signal: the target really receives it (a recorder appends each signal with a sequence number
# and its sender's pid), by every spelling of the name, by number, kill's -SIG form, to a group
# and to all; a stopped one cannot be signalled (exit 1, the others still are); a bad name
# never reaches tend.
t_signal() {
    setup
    write_conf <<EOF
[program:r1]
command=$RAW sigrec $T/r1.sig $T/r1.ready
startsecs=0
[program:r2]
command=$RAW sigrec $T/r2.sig $T/r2.ready
startsecs=0
[group:rec]
programs=r1,r2
[program:off]
command=$H/sleeper
autostart=false
EOF
    start_tend
    local p1 p2 n spelled
    p1=$(running rec:r1 "$T/r1.ready")
    p2=$(running rec:r2 "$T/r2.ready")
    n=0
    for spelled in USR1 SIGUSR2 hup sigwinch 10 RTMIN+2 rtmin+3 SIGRTMIN; do
        cli signal "$spelled" rec:r1
        expect_eq "$RC" 0 "signal $spelled (stderr: $(err))"
        expect_match "$(out)" "^rec:r1: sent SIG[A-Z0-9+?]+ to pid $p1\$" "signal $spelled"
        n=$((n + 1))
        waitfor "$T/r1.sig" "^$n [A-Z0-9+]+ $TEND_PID\$" >/dev/null || fail "r1 did not get $spelled"
    done
    expect_eq "$(awk '{print $2}' "$T/r1.sig" | tr '\n' ' ')" \
        "USR1 USR2 HUP WINCH USR1 RTMIN+2 RTMIN+3 RTMIN+0 " "signals r1 received"
    expect_eq "$(awk '{print $3}' "$T/r1.sig" | sort -u)" "$TEND_PID" "the sender of every signal"
    # kill's -SIGNAL form.
    cli signal -USR2 rec:r2
    expect_cli 0 "rec:r2: sent SIGUSR2 to pid $p2" "" "signal -USR2"
    waitfor "$T/r2.sig" "^1 USR2 $TEND_PID\$" >/dev/null || fail "r2 did not get USR2"
    # A group, then all.
    cli signal HUP 'rec:*'
    expect_eq "$(out | sort | tr '\n' ,)" "rec:r1: sent SIGHUP to pid $p1,rec:r2: sent SIGHUP to pid $p2," \
        "signal HUP rec:*"
    waitfor "$T/r1.sig" "^9 HUP $TEND_PID\$" >/dev/null || fail "r1 did not get HUP"
    waitfor "$T/r2.sig" "^2 HUP $TEND_PID\$" >/dev/null || fail "r2 did not get HUP"
    cli signal USR1 all
    expect_eq "$RC" 1 "signal to all with a stopped program"
    expect_eq "$(out | sort | tr '\n' ,)" \
        "off: cannot signal: not running,rec:r1: sent SIGUSR1 to pid $p1,rec:r2: sent SIGUSR1 to pid $p2," \
        "signal USR1 all"
    expect_eq "$(err)" "tend: some processes could not be signalled" "stderr of signal USR1 all"
    waitfor "$T/r1.sig" "^10 USR1 $TEND_PID\$" >/dev/null || fail "r1 did not get USR1"
    waitfor "$T/r2.sig" "^3 USR1 $TEND_PID\$" >/dev/null || fail "r2 did not get USR1"
    # The recorders are still the same processes: no signal killed them.
    is_alive "$p1" && is_alive "$p2" || fail "a recorder died"
    # Bad names: exit 2, even without a supervisor (found before connecting).
    for spelled in BOGUS SIGFOO 0 99 -BOGUS RTMIN+99 ''; do
        cli signal "$spelled" rec:r1
        expect_eq "$RC" 2 "signal '$spelled'"
    done
    cli signal BOGUS rec:r1
    expect_cli 2 "" "tend: unknown signal 'BOGUS' (a name as in kill -l, or a number)" "signal BOGUS"
    RC=0
    "$TEND" -s "$T/nothing-here.sock" signal BOGUS x >"$T/out" 2>"$T/err" || RC=$?
    expect_eq "$RC" 2 "signal BOGUS without a supervisor"
    cli signal USR1 nosuch
    expect_cli 1 "" "tend: no such process 'nosuch'" "signal USR1 nosuch"
    cli signal USR1
    expect_eq "$RC" 2 "signal without a NAME"
    # The reply names the signal it sent, real-time ones too.
    cli signal RTMIN+2 rec:r1
    waitfor "$T/r1.sig" "^11 RTMIN\\+2 $TEND_PID\$" >/dev/null || fail "r1 did not get RTMIN+2"
    expect_cli 0 "rec:r1: sent SIGRTMIN+2 to pid $p1" "" "signal RTMIN+2: the reply"
    # Nothing more reached r1 than the 11 signals sent: stop it and look (TERM is the 12th).
    cli stop rec:r1
    expect_eq "$(awk '{print $1 " " $2}' "$T/r1.sig" | tail -n 2 | tr '\n' ,)" "11 RTMIN+2,12 TERM," \
        "the last signals r1 received"
    stop_tend
}

# reload: what was added, changed and removed, and that it happened; "no changes" for the same
# file; a broken config lists its errors as FILE:LINE, exits 1 and changes nothing.
t_reload() {
    setup
    write_conf <<EOF
[program:keep]
command=$H/sleeper -r $T/keep.ready
startsecs=0
[program:change]
command=$H/sleeper -r $T/change.ready
startsecs=0
[program:gone]
command=$H/sleeper -r $T/gone.ready
startsecs=0
EOF
    start_tend
    local keep change gone new change2 l1 l2
    keep=$(running keep "$T/keep.ready")
    change=$(running change "$T/change.ready")
    gone=$(running gone "$T/gone.ready")
    cli reload
    expect_cli 0 "no changes" "" "reload of the same file"
    rm "$T/change.ready"
    write_conf <<EOF
[program:keep]
command=$H/sleeper -r $T/keep.ready
startsecs=0
[program:change]
command=$H/sleeper -r $T/change.ready -c 1
startsecs=0
[program:new]
command=$H/sleeper -r $T/new.ready
startsecs=0
EOF
    cli reload
    expect_eq "$RC" 0 "reload (stderr: $(err))"
    expect_eq "$(out | sort | tr '\n' ,)" "added new,changed change,removed gone," "reload's report"
    expect_eq "$(err)" "" "stderr of reload"
    wait_log "${TS}gone: removed"
    "$H/waitfor" -t 10 --gone "$gone" || fail "the removed program still runs"
    new=$(running new "$T/new.ready")
    change2=$(running change "$T/change.ready")
    [ "$change2" != "$change" ] || fail "the changed program was not restarted"
    [ ! -e "/proc/$change" ] || fail "the old instance of change still exists"
    is_alive "$keep" || fail "keep was restarted"
    cli status
    expect_eq "$(tail -n +2 "$T/out" | awk '{print $1 "=" $3}' | tr '\n' ' ')" \
        "change=$change2 keep=$keep new=$new " "status after reload"
    cli status gone
    expect_eq "$RC" 1 "status of the removed program"

    # Broken: every error with FILE:LINE, exit 1, nothing changed.
    cp "$CONF" "$T/good.conf"
    {
        cat "$T/good.conf"
        printf '[program:more]\ncommand=%s\nstartsecs=abc\n[program:nocommand]\nautostart=true\n' "$H/sleeper"
    } >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    l1=$(grep -n '^startsecs=abc$' "$CONF" | cut -d: -f1)
    l2=$(grep -n '^\[program:nocommand\]$' "$CONF" | cut -d: -f1)
    cli reload
    expect_eq "$RC" 1 "reload of a broken config"
    expect_eq "$(err)" "tend: the config has errors; nothing changed" "stderr of a failed reload"
    grep -qE "^$CONF:$l1: error: .*startsecs.*'abc'" "$T/out" || fail "no error for line $l1: $(out)"
    grep -qE "^$CONF:$l2: error: .*command" "$T/out" || fail "no error for line $l2: $(out)"
    [ -z "$(grep -vE "^$CONF:[0-9]+: (error|warning): " "$T/out")" ] || fail "other lines in the reply: $(out)"
    wait_log "${TS}reload: $CONF has errors; nothing changed"
    cli status
    expect_eq "$(tail -n +2 "$T/out" | awk '{print $1 "=" $3}' | tr '\n' ' ')" \
        "change=$change2 keep=$keep new=$new " "status after the failed reload"
    expect_eq "$(count_log "more")" 0 "log lines about the broken config's program"
    cli reload extra
    expect_eq "$RC" 2 "reload with an argument"
    # Fixed again: no changes.
    mv "$T/good.conf" "$CONF"
    cli reload
    expect_cli 0 "no changes" "" "reload after fixing the file"
    stop_tend
}

# pid: tend's own pid without NAME, the pid of each process NAME selects, 0 without one; all
# checked against /proc.
t_pid() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
[program:b]
command=$H/sleeper -r $T/b.ready
startsecs=0
[group:g]
programs=a,b
[program:off]
command=$H/sleeper
autostart=false
EOF
    start_tend
    local a b
    a=$(running g:a "$T/a.ready")
    b=$(running g:b "$T/b.ready")
    cli pid
    expect_cli 0 "$TEND_PID" "" "pid"
    expect_eq "$(readlink "/proc/$TEND_PID/exe")" "$(readlink -f "$TEND")" "the executable of pid's answer"
    cli pid g:a
    expect_cli 0 "$a" "" "pid g:a"
    expect_eq "$(pstat "$a" 4)" "$TEND_PID" "parent of g:a"
    expect_eq "$(pstat "$a" 5)" "$a" "process group of g:a"
    expect_eq "$(tr '\0' ' ' <"/proc/$a/cmdline")" "$H/sleeper -r $T/a.ready " "cmdline of pid g:a"
    cli pid 'g:*'
    expect_eq "$(out | sort | tr '\n' ' ')" "$(printf '%s\n' "$a" "$b" | sort | tr '\n' ' ')" "pid g:*"
    cli pid off
    expect_cli 0 0 "" "pid of a stopped process"
    cli pid nosuch
    expect_cli 1 "" "tend: no such process 'nosuch'" "pid nosuch"
    cli pid g:a g:b
    expect_eq "$RC" 2 "pid with two names"
    stop_tend
}

# logrotate: tend's log is reopened (a rotated-away file stops growing, a new one starts).
t_logrotate() {
    setup
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    running a "$T/a.ready" >/dev/null
    mv "$LOG" "$LOG.1"
    cli logrotate
    expect_cli 0 "" "" "logrotate"
    [ -f "$LOG" ] || fail "logrotate did not create a new $LOG"
    cli stop a
    wait_log "${TS}a \\(pid [0-9]+\\): STOPPING -> STOPPED"
    grep -q 'STOPPING' "$LOG.1" && fail "the rotated log still grows"
    cli logrotate x
    expect_eq "$RC" 2 "logrotate with an argument"
    stop_tend
}

# shutdown: ok at once, while the programs are still stopping; start is refused meanwhile;
# then tend exits 0, the programs and the socket are gone, and the CLI says no supervisor.
t_shutdown() {
    setup
    write_conf <<EOF
[program:stubborn]
command=$H/ignoreterm -r $T/stubborn.ready
startsecs=0
stopwaitsecs=2
[program:easy]
command=$H/sleeper -r $T/easy.ready
startsecs=0
EOF
    start_tend
    local s e rc=0 t0 t1
    s=$(running stubborn "$T/stubborn.ready")
    e=$(running easy "$T/easy.ready")
    t0=$(ms_now)
    cli shutdown
    t1=$(ms_now)
    expect_cli 0 "shutting down" "" "shutdown"
    [ $((t1 - t0)) -lt 1900 ] || fail "shutdown answered after $((t1 - t0)) ms: not at once"
    wait_log "${TS}control: shutdown requested by uid 0"
    cli start easy
    expect_cli 1 "" "tend: tend is shutting down" "start during the shutdown"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
    wait "$KEEPER_PID" || rc=$?
    TEND_PID="" KEEPER_PID=""
    check_sanitizers
    expect_eq "$rc" 0 "tend's exit status"
    [ ! -e "/proc/$s" ] && [ ! -e "/proc/$e" ] || fail "a program outlived tend"
    [ ! -e "$SOCK" ] || fail "the socket is still there"
    cli status
    expect_cli 4 "" "tend: no supervisor running (socket (-s) $SOCK: No such file or directory)" \
        "status after shutdown"
    RC=0
    "$TEND" -c "$CONF" status >"$T/out" 2>"$T/err" || RC=$?
    expect_cli 4 "" \
        "tend: no supervisor running (socket of $CONF $SOCK: No such file or directory)" \
        "tend -c CONF status after shutdown"
}

# No supervisor: every verb exits 4 with one line, for a missing socket and a stale one
# (ECONNREFUSED); a bad command line is still exit 2 (nothing is sent).
t_no_supervisor() {
    setup
    local args
    SOCK=$T/none.sock
    while IFS= read -r args; do
        eval "cli $args"
        expect_cli 4 "" "tend: no supervisor running (socket (-s) $SOCK: No such file or directory)" \
            "$args"
    done <<'EOF'
status
status --json x
start x
stop --no-wait all
restart 'g:*'
signal HUP x
reload
shutdown
pid
pid x
logrotate
EOF
    while IFS= read -r args; do
        eval "cli $args"
        expect_eq "$RC" 2 "'$args' without a supervisor (stderr: $(err))"
        expect_eq "$(out)" "" "stdout of '$args'"
    done <<'EOF'
frobnicate
status --no-wait
start
signal BOGUS x
signal HUP
pid a b
reload now
--bogus status
EOF
    # A stale socket: tend was killed, the file stays, nobody listens.
    SOCK=$T/tend.sock
    write_conf <<EOF
[program:a]
command=$H/sleeper
startsecs=0
EOF
    start_tend
    kill -KILL "$KEEPER_PID" "$TEND_PID"
    "$H/waitfor" -t 10 --gone "$TEND_PID"
    { wait "$KEEPER_PID"; } 2>/dev/null || true
    TEND_PID="" KEEPER_PID=""
    [ -S "$SOCK" ] || fail "the socket file went away with a SIGKILLed tend"
    cli status
    expect_cli 4 "" "tend: no supervisor running (socket (-s) $SOCK: Connection refused)" \
        "status on a stale socket"
    # A new tend replaces the stale socket.
    start_tend
    cli start a   # waits until a is RUNNING, so that status can be expected to exit 0
    status_promptly
    wait_log "${TS}control: replaced a stale socket at $SOCK"
    stop_tend
}

# ---------------------------------------------------------------------------------------------
# Cases: permissions

need_nobody() {
    command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
    [ "$(id -u)" = 0 ] || skip "needs root to run the client as another user"
    [ "$(id -u nobody 2>/dev/null)" = 65534 ] || skip "no user nobody with uid 65534"
    chmod 711 "$T"   # nobody may reach the socket inside
}

# socket_mode=0666: nobody can connect, and is refused by tend (SO_PEERCRED): a permission
# error, exit 1, "refused uid 65534" in tend's log, and nothing happens.
t_unprivileged_refused() {
    setup
    need_nobody
    write_conf socket_mode=0666 <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    local a verb
    a=$(running a "$T/a.ready")
    expect_eq "$(stat -c %a "$SOCK")" 666 "mode of the socket"
    for verb in status "stop a" shutdown "signal KILL a" reload pid; do
        # shellcheck disable=SC2086
        cli_as --reuid=65534 --regid=65534 --clear-groups -- $verb
        expect_cli 1 "" "tend: permission denied: uid 65534 may not control this supervisor" \
            "$verb as nobody"
    done
    expect_eq "$(count_log "${TS}control: refused uid 65534 \\(pid [0-9]+\\): not allowed")" 6 \
        "refusals in tend's log"
    is_alive "$a" || fail "a was stopped or killed by nobody"
    status_promptly
    stop_tend
}

# The default socket mode (0600): nobody cannot even connect.
t_unprivileged_cannot_connect() {
    setup
    need_nobody
    write_conf <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    running a "$T/a.ready" >/dev/null
    expect_eq "$(stat -c '%a %F' "$SOCK")" "600 socket" "mode of the socket"
    cli_as --reuid=65534 --regid=65534 --clear-groups -- status
    expect_cli 1 "" \
        "tend: cannot reach the supervisor: permission denied (socket (-s) $SOCK: Permission denied)" \
        "status as nobody on a 0600 socket"
    expect_eq "$(count_log "refused")" 0 "refusals logged (nobody never got through)"
    status_promptly
    stop_tend
}

# socket_group: its members may connect (as primary or supplementary group); others not.
t_socket_group_members_allowed() {
    setup
    need_nobody
    getent group nogroup >/dev/null || skip "no group nogroup"
    local gid
    gid=$(getent group nogroup | cut -d: -f3)
    write_conf socket_mode=0666 socket_group=nogroup <<EOF
[program:a]
command=$H/sleeper -r $T/a.ready
startsecs=0
EOF
    start_tend
    running a "$T/a.ready" >/dev/null
    cli_as --reuid=65534 --regid="$gid" --clear-groups -- status
    expect_eq "$RC" 0 "status as a primary member (stderr: $(err))"
    cli_as --reuid=65534 --regid=12345 --groups="$gid" -- pid a
    expect_eq "$RC" 0 "pid as a supplementary member (stderr: $(err))"
    cli_as --reuid=65534 --regid=12345 --clear-groups -- status
    expect_cli 1 "" "tend: permission denied: uid 65534 may not control this supervisor" \
        "status as a non-member"
    expect_eq "$(count_log "refused uid 65534")" 1 "refusals"
    stop_tend
}

# ---------------------------------------------------------------------------------------------
# Cases: robustness (raw bytes on the socket)

# Garbage: random bytes with NUL bytes and no newline, the connection closed right after;
# twenty times, of sizes up to 64 KiB.
t_garbage_then_close() {
    start_beat
    local i size
    for i in $(seq 10 29); do
        size=$(( (RANDOM * 4 + RANDOM % 4) % 65000 + 1 ))
        { head -c "$size" /dev/urandom | tr -d '\n'; printf '\0\0x'; } >"$T/garbage.$i"
    done
    "$RAW" req -c "$SOCK" "$T"/garbage.* >/dev/null || fail "cannot send garbage"
    status_promptly
    still_supervises
    status_promptly
    stop_tend
}

# Malformed requests with a newline get exactly one err line each, with the code the protocol
# gives, and the connection is closed.
t_malformed_requests_answered() {
    start_beat
    queue_raw_err syntax '.+' 'tend/1 st\0atus\n'
    queue_raw_err syntax '.+' '\n'
    queue_raw_err syntax '.*empty%20word.*' 'tend/1  status\n'
    queue_raw_err version '.+' ' tend/1 status\n'   # the first word is empty: not tend/1
    queue_raw_err syntax '.+' 'tend/1 status \n'
    queue_raw_err syntax '.+' 'tend/1 status %%zz\n'
    queue_raw_err syntax '.+' 'tend/1 status %%4\n'
    queue_raw_err syntax '.+' 'tend/1 status %%00\n'
    queue_raw_err syntax '.+' 'tend/1 status\r\n'
    queue_raw_err syntax '.+' 'tend/1 status be\001at\n'
    queue_raw_err syntax '.+' 'tend/1\n'
    queue_raw_err unknown-verb '.+' 'tend/1 frobnicate\n'
    queue_raw_err no-such-process '.+' 'tend/1 logs nosuch\n'
    queue_raw_err bad-argument '.+' 'tend/1 start --frob beat\n'
    queue_raw_err bad-argument '.+' 'tend/1 start\n'
    queue_raw_err bad-argument '.+' 'tend/1 status --no-wait\n'
    queue_raw_err bad-argument '.+' 'tend/1 reload now\n'
    queue_raw_err bad-signal '.+' 'tend/1 signal BOGUS beat\n'
    queue_raw_err no-such-process '.+' 'tend/1 status nosuch\n'
    queue_raw_err no-such-process '.+' 'tend/1 stop -- -beat\n'
    check_raw_errs
    # An escaped name is decoded: %62eat is beat.
    printf 'tend/1 pid %%62eat\n' >"$T/req"
    expect_eq "$(raw "$T/req")" "$(printf 'msg %s\nok' "$(ready_pid "$T/beat.ready")")" "pid %62eat"
    # Random bytes with a NUL, then a newline.
    { head -c 3000 /dev/urandom | tr -d '\n\0'; printf 'x\0y\n'; } >"$T/req"
    expect_match "$(raw "$T/req")" '^err syntax( .*)?$' "random bytes with a NUL and a newline"
    # Bytes after the request line are ignored; the reply still comes.
    printf 'tend/1 status beat\nand more\n' >"$T/req"
    expect_match "$(raw "$T/req")" $'^proc name=beat .*state=RUNNING.*\nok$' "a request with a tail"
    # A half-close after the request: the reply still comes in full.
    printf 'tend/1 status\n' | "$RAW" req -s "$SOCK" >"$T/raw.out" 2>"$T/raw.err" || fail "half-close"
    expect_match "$(cat "$T/raw.out")" $'^proc name=beat .*\nok$' "reply after a half-close"
    status_promptly
    still_supervises
    stop_tend
}

# A megabyte without a newline: err toolong at 64 KiB, the connection closed (the client's
# send then fails). The limit is exact: 65536 bytes with the newline are a request, 65537 not.
t_megabyte_request() {
    start_beat
    local name reply
    head -c 1048576 /dev/zero | tr '\0' a >"$T/big"
    reply=$(raw "$T/big")
    expect_eq "$reply" "err toolong request%20longer%20than%2065536%20bytes" "reply to 1 MiB"
    grep -q '^e2e_rawclient: send: .* after [0-9]* of 1048576 bytes$' "$T/raw.err" ||
        fail "the server read the whole megabyte: $(cat "$T/raw.err")"
    { head -c 1048576 /dev/zero | tr '\0' a; printf '\n'; } >"$T/big"
    expect_eq "$(raw "$T/big")" "err toolong request%20longer%20than%2065536%20bytes" "reply to 1 MiB + newline"
    status_promptly
    # 14 bytes of "tend/1 status " + name + newline = 65536.
    name=$(head -c 65521 /dev/zero | tr '\0' x)
    printf 'tend/1 status %s\n' "$name" >"$T/req"
    expect_eq "$(stat -c %s "$T/req")" 65536 "size of the largest request"
    expect_match "$(raw "$T/req")" "^err no-such-process no%20such%20process%20'x+" "reply to a 65536-byte request"
    printf 'tend/1 status %sx\n' "$name" >"$T/req"
    expect_eq "$(raw "$T/req")" "err toolong request%20longer%20than%2065536%20bytes" "reply to a 65537-byte request"
    status_promptly
    still_supervises
    stop_tend
}

# Another protocol version gets err version, whatever follows.
t_wrong_version() {
    start_beat
    queue_raw_err version '.*tend/2.*' 'tend/2 status\n'
    queue_raw_err version '.+' 'TEND/1 status\n'
    queue_raw_err version '.+' 'tend/1.0 status\n'
    queue_raw_err version '.+' 'tend/10 status\n'
    queue_raw_err version '.+' 'status\n'
    queue_raw_err version '.+' 'tend/2 %%zz  \001\n'
    queue_raw_err version '.+' 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
    check_raw_errs
    status_promptly
    still_supervises
    stop_tend
}

# Clients that connect and never speak: one, then 200 more at once. tend still answers status
# promptly and still supervises with them all open, and closes each one after its own 10 s
# request timeout with "err syntax", logging why.
t_idle_connections_time_out() {
    start_beat
    local h1 h200 rc=0 lo hi
    "$RAW" hold -t 25 "$SOCK" 1 "$T/hold1.ready" >"$T/hold1.out" 2>&1 &
    h1=$!
    ready_pid "$T/hold1.ready" >/dev/null
    status_promptly
    still_supervises
    "$RAW" hold -t 25 "$SOCK" 200 "$T/hold200.ready" >"$T/hold200.out" 2>&1 &
    h200=$!
    ready_pid "$T/hold200.ready" >/dev/null
    status_promptly
    still_supervises
    cli pid beat
    expect_eq "$RC" 0 "pid beat with 201 idle connections"

    wait "$h1" || rc=$?
    expect_eq "$rc" 0 "the idle connection was closed by tend: $(cat "$T/hold1.out")"
    expect_eq "$(sed -n 2p "$T/hold1.out")" "1 err syntax no%20request%20received%20in%20time" \
        "what tend sent the idle connection"
    read -r lo hi < <(sed -n 's/^closed 1 of 1 after \([0-9]*\)\.\.\([0-9]*\) ms$/\1 \2/p' "$T/hold1.out")
    [ -n "$lo" ] && [ "$lo" -ge 9500 ] && [ "$hi" -le 15000 ] ||
        fail "closed after ${lo:-?} ms, expected 10 s: $(cat "$T/hold1.out")"
    wait "$h200" || rc=$?
    expect_eq "$rc" 0 "all 200 closed by tend: $(cat "$T/hold200.out")"
    expect_eq "$(sed -n 2p "$T/hold200.out")" "200 err syntax no%20request%20received%20in%20time" \
        "what tend sent the 200"
    read -r lo hi < <(sed -n 's/^closed 200 of 200 after \([0-9]*\)\.\.\([0-9]*\) ms$/\1 \2/p' "$T/hold200.out")
    [ -n "$lo" ] && [ "$lo" -ge 9500 ] && [ "$hi" -le 15000 ] ||
        fail "closed after ${lo:-?}..${hi:-?} ms, expected 10 s: $(cat "$T/hold200.out")"
    expect_eq "$(count_log "${TS}control: client uid 0 sent no request within 10s; closed\$")" 201 \
        "timeouts logged"
    status_promptly
    still_supervises
    stop_tend
}

# Beyond CONTROL_MAX_CONNS (512) connections a client is told "busy" at once, and served again
# when they are gone.
t_busy_beyond_max_connections() {
    start_beat
    local hp
    "$RAW" hold -t 60 "$SOCK" 512 "$T/hold.ready" >"$T/hold.out" 2>&1 &
    hp=$!
    ready_pid "$T/hold.ready" >/dev/null
    cli status
    expect_cli 1 "" "tend: too many connections (512)" "status with 512 connections open"
    kill -TERM "$hp"
    { wait "$hp"; } 2>/dev/null || true
    # The holder's exit closed its 512 sockets before our next connect; tend sees those
    # hangups ahead of the new connection.
    status_promptly
    still_supervises
    stop_tend
}

# A client that goes away while it waits for a stop: the stop still completes, tend is fine.
t_client_gone_while_waiting() {
    setup
    write_conf <<EOF
[program:stubborn]
command=$H/ignoreterm -r $T/stubborn.ready
startsecs=0
stopwaitsecs=2
[program:beat]
command=$H/sleeper -r $T/beat.ready
startsecs=0
EOF
    start_tend
    local s cp
    s=$(running stubborn "$T/stubborn.ready")
    running beat "$T/beat.ready" >/dev/null
    "$TEND" -s "$SOCK" stop stubborn >"$T/bg.out" 2>&1 &
    cp=$!
    wait_log "${TS}stubborn \\(pid $s\\): RUNNING -> STOPPING"
    kill -KILL "$cp"
    { wait "$cp"; } 2>/dev/null || true
    cli status stubborn
    expect_eq "$(cell "$T/out" stubborn STATE)" STOPPING "stubborn after its client left"
    wait_log "${TS}stubborn \\(pid $s\\): STOPPING -> STOPPED"
    cli start stubborn
    expect_cli 0 "stubborn: started" "" "start after the abandoned stop"
    status_promptly
    still_supervises
    stop_tend
}

# TEND_CASES=ERE runs only the cases whose name matches (for a quick loop while developing).
if [ -n "${TEND_CASES:-}" ]; then
    for f in $(declare -F | awk '{print $3}' | grep '^t_'); do
        [[ ${f#t_} =~ $TEND_CASES ]] || unset -f "$f"
    done
fi
run_tests
