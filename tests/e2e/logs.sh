#!/usr/bin/env bash
# End-to-end tests of log capture: the real supervisor (`tend daemon -n`) runs the helpers in
# tests/helpers, whose output goes through logcap's pipes into files under the case's
# directory $T. Assertions are on file contents: every numbered line of `flood` present once
# and in order across rotated files, file sizes within maxbytes, the "dropped" note after a
# full disk, timestamps, redirect_stderr, AUTO names, refused symlinks.
#
# Synchronisation is on events only: a line appearing in a file (waitfor, inotify), a helper's
# ready file, a process going away. Deadlines only turn a hang into a failure.
. "$(dirname "$0")/lib.sh"

SUBREAPER=$PPID     # lib.sh runs this shell as the subreaper's child
TEND_PID="" KEEPER_PID=""
TRACKED=""
MOUNTED=""
CONF="" LOG=""
TS='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (INFO|WARN|ERROR|DEBUG) '

# ---------------------------------------------------------------------------------------------
# Per-case setup and cleanup (the shape of supervisor.sh's)

children_of() {
    local parent=$1 f line rest
    for f in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$f" || continue
        rest=${line##*) }
        set -- $rest
        [ "$2" = "$parent" ] && [ "$1" != Z ] && [ "$1" != X ] && echo "${f//[^0-9]/}"
    done
    return 0
}
leftovers() { children_of "$SUBREAPER" | grep -vx "$$" || true; }

setup() {
    CONF=$T/tend.conf
    LOG=$T/tend.log
    mkdir -p "$T/logs"
    trap cleanup EXIT
}

check_sanitizers() {
    local f
    for f in "$T"/*.err; do
        [ -e "$f" ] || continue
        if grep -Eq 'ERROR: AddressSanitizer|LeakSanitizer|runtime error' "$f"; then
            echo "--- $f:"
            cat "$f"
            fail "sanitizer report in $f"
        fi
    done
}

cleanup() {
    local rc=$? p pids round
    set +e
    if [ -n "$KEEPER_PID" ]; then
        kill -KILL "$KEEPER_PID" $TEND_PID 2>/dev/null
        { wait "$KEEPER_PID"; } 2>/dev/null
    fi
    pids=$TRACKED
    for round in 1 2 3 4 5 6; do
        for p in $pids; do kill -KILL "$p" 2>/dev/null; done
        for p in $pids; do "$H/waitfor" -t 10 --gone "$p" >/dev/null 2>&1; done
        pids=$(leftovers)
        [ -n "$pids" ] || break
    done
    # Every process that held a file there is gone now.
    [ -z "$MOUNTED" ] || umount "$MOUNTED" || umount -l "$MOUNTED"
    if [ "$rc" = 0 ]; then
        (check_sanitizers) || rc=1
    fi
    if [ "$rc" != 0 ] && [ -e "$LOG" ]; then
        echo "--- tend's log:"
        cat "$LOG"
    fi
    exit "$rc"
}

# write_conf: stdin, after the [tend] section every case uses, becomes $CONF.
write_conf() {
    {
        printf '[tend]\nlogfile=%s\nchildlogdir=%s\nsocket=%s\n' "$LOG" "$T/logs" "$T/tend.sock"
        cat
    } >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
}

start_tend() {
    "$TEND" daemon -n -c "$CONF" >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 15 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"$'\n'"log:"$'\n'"$(cat "$LOG" 2>/dev/null)"
}

# stop_tend: SIGTERM; tend must exit 0 with "tend exiting" last and no sanitizer report.
stop_tend() {
    local rc=0
    kill -TERM "$KEEPER_PID"
    "$H/waitfor" -t 30 --gone "$KEEPER_PID" || fail "tend did not exit"
    wait "$KEEPER_PID" || rc=$?
    TEND_PID="" KEEPER_PID=""
    check_sanitizers
    expect_eq "$rc" 0 "tend's exit status"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "the last line of tend's log"
}

wait_log() { waitfor "$LOG" "$1" "${2:-15}" || fail "no line /$1/ in tend's log"; }

# wait_file FILE ERE [SECONDS]
wait_file() { waitfor "$1" "$2" "${3:-15}" || fail "no line /$2/ in $1"; }

ready_pid() {
    waitfor "$1" '^ready [0-9]+$' 15 >&2 || fail "no ready line in $1"
    sed -n 's/^ready \([0-9]*\)$/\1/p' "$1"
}

spawned() { sed -nE "s/${TS}$1: spawned pid ([0-9]+)\$/\\2/p" "$LOG"; }

# flood_lines N [SIZE]: what `flood -n N -s SIZE` writes, for comparisons.
flood_lines() { "$H/flood" -n "$1" -s "${2:-64}"; }

# in_order FILE...: the concatenation is flood lines numbered 1, 2, 3... with no gap or
# repeat; prints how many.
in_order() {
    cat "$@" | awk '{ if ($1 + 0 != NR) { print "line " NR " is: " substr($0, 1, 40) > "/dev/stderr"; exit 1 } }
                    END { print NR }'
}

# ---------------------------------------------------------------------------------------------
# Cases

# stdout and stderr go to their files, whole lines, in order, nothing lost.
t_output_reaches_files() {
    setup
    write_conf <<EOF
[program:talk]
command=sh -c '$H/flood -n 30000 -s 100; $H/flood -n 20000 -s 50 -e'
stdout_logfile=$T/out.log
stderr_logfile=$T/err.log
autorestart=false
startsecs=0
EOF
    start_tend
    wait_file "$T/err.log" '^00020000 ' 30
    expect_eq "$(in_order "$T/out.log")" 30000 "stdout lines"
    expect_eq "$(in_order "$T/err.log")" 20000 "stderr lines"
    cmp -s "$T/out.log" <(flood_lines 30000 100) || fail "out.log differs from flood's output"
    expect_eq "$(stat -c %a "$T/out.log")" 640 "mode of out.log"
    stop_tend
}

# Three instances (the first two exit 1 and are restarted) write through the same pipe into
# files rotated at 64 KB with enough backups: every line of every instance is there once, in
# order, and no file is over maxbytes.
t_rotation_across_restarts() {
    setup
    flood_lines 5000 100 >"$T/one"
    cat "$T/one" "$T/one" "$T/one" >"$T/expected"
    write_conf <<EOF
[program:burst]
command=sh -c 'n=\$(cat $T/count 2>/dev/null || echo 0); echo \$((n + 1)) >$T/count; $H/flood -n 5000 -s 100; [ \$n -ge 2 ]'
stdout_logfile=$T/burst.log
stdout_logfile_maxbytes=64KB
stdout_logfile_backups=30
autorestart=unexpected
startsecs=0
EOF
    start_tend
    wait_log "${TS}burst \\(pid [0-9]+\\): [A-Z]+ -> EXITED.*\\(expected\\)" 30
    local files=() i size
    for i in $(seq 30 -1 1); do
        [ -e "$T/burst.log.$i" ] && files+=("$T/burst.log.$i")
    done
    files+=("$T/burst.log")
    [ ${#files[@]} -ge 20 ] || fail "only ${#files[@]} files for 1.5 MB at 64 KB each"
    for i in "${files[@]}"; do
        size=$(stat -c %s "$i")
        [ "$size" -le 65536 ] || fail "$i is $size bytes, over maxbytes"
    done
    cat "${files[@]}" | cmp -s - "$T/expected" || fail "the rotated files do not hold the three runs exactly"
    expect_eq "$(grep -c . "$T/count")" 1 "count file"
    expect_eq "$(cat "$T/count")" 3 "instances"
    stop_tend
}

# Backups beyond N are never kept: with backups=3 only burst.log and .1 .. .3 exist, and
# they hold the newest lines, in order, ending with the last.
t_rotation_keeps_n_backups() {
    setup
    write_conf <<EOF
[program:burst]
command=$H/flood -n 20000 -s 100
stdout_logfile=$T/b.log
stdout_logfile_maxbytes=100KB
stdout_logfile_backups=3
autorestart=false
startsecs=0
EOF
    start_tend
    wait_file "$T/b.log" '^00020000 ' 30
    [ -e "$T/b.log.3" ] || fail "no b.log.3"
    [ ! -e "$T/b.log.4" ] || fail "b.log.4 exists"
    cat "$T/b.log.3" "$T/b.log.2" "$T/b.log.1" "$T/b.log" |
        awk 'NR == 1 { prev = $1 - 1 } { if ($1 != prev + 1) exit 1; prev = $1 } END { if (prev != 20000) exit 1 }' ||
        fail "the kept files are not a contiguous run ending at 20000"
    stop_tend
}

# stdout_timestamps: each line starts with ISO-8601 local time, milliseconds and offset.
t_timestamps() {
    setup
    write_conf <<EOF
[program:stamp]
command=sh -c 'echo hello; echo world'
stdout_logfile=$T/s.log
stdout_timestamps=true
autorestart=false
startsecs=0
EOF
    start_tend
    wait_file "$T/s.log" ' world$'
    local re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} '
    expect_eq "$(grep -Ec "${re}(hello|world)\$" "$T/s.log")" 2 "timestamped lines"
    expect_eq "$(wc -l <"$T/s.log")" 2 "lines"
    stop_tend
}

# redirect_stderr: both streams in the stdout file, no stderr file.
t_redirect_stderr() {
    setup
    write_conf <<EOF
[program:both]
command=sh -c 'echo to-out; echo to-err >&2; echo done'
stdout_logfile=$T/both.log
stderr_logfile=$T/never.log
redirect_stderr=true
autorestart=false
startsecs=0
EOF
    start_tend
    wait_file "$T/both.log" '^done$'
    expect_eq "$(cat "$T/both.log")" $'to-out\nto-err\ndone' "both.log"
    [ ! -e "$T/never.log" ] || fail "stderr_logfile was created despite redirect_stderr"
    stop_tend
}

# AUTO (the default): files NAME-stdout.log / NAME-stderr.log in this supervisor's directory
# in childlogdir; NONE: no file.
t_auto_and_none() {
    setup
    write_conf <<EOF
[program:auto]
command=sh -c 'echo out; echo err >&2'
autorestart=false
startsecs=0
[program:quiet]
command=sh -c 'echo nothing; echo nothing >&2'
stdout_logfile=NONE
stderr_logfile=NONE
autorestart=false
startsecs=0
EOF
    start_tend
    local inst
    inst=$(ls "$T/logs")   # this supervisor's own directory in childlogdir (tend.conf-HASH)
    expect_match "$inst" '^tend-[0-9a-f]{8}$' "the instance directory"
    wait_file "$T/logs/$inst/auto-stdout.log" '^out$'
    wait_file "$T/logs/$inst/auto-stderr.log" '^err$'
    wait_log "${TS}quiet \\(pid [0-9]+\\): .*EXITED"
    expect_eq "$(ls "$T/logs/$inst" | sort | tr '\n' ' ')" "auto-stderr.log auto-stdout.log " \
        "childlogdir"
    stop_tend
}

# A log path that is a symlink is refused (tend runs as root here: a planted link must not
# redirect its writes); the program runs anyway, its output is dropped and counted, and once
# the link is gone the file is created with the note.
t_symlink_refused() {
    setup
    : >"$T/victim"
    ln -s "$T/victim" "$T/link.log"
    write_conf <<EOF
[program:sneaky]
command=sh -c 'echo overwrite; exec $H/exitwith -r $T/sneaky.ready -u 0'
stdout_logfile=$T/link.log
autorestart=false
startsecs=0
EOF
    start_tend
    ready_pid "$T/sneaky.ready" >/dev/null
    wait_log "link.log is a symbolic link \\(refused\\)"
    expect_eq "$(stat -c %s "$T/victim")" 0 "size of the symlink's target"
    # The admin removes the link: the retry creates a real file and reports the loss there.
    rm "$T/link.log"
    wait_file "$T/link.log" '^\[tend: dropped 1 lines \(10 bytes\) while the log could not be written: Too many levels of symbolic links\]$' 40
    [ ! -L "$T/link.log" ] || fail "link.log is still a symlink"
    expect_eq "$(stat -c %s "$T/victim")" 0 "size of the symlink's target"
    stop_tend
}

# SIGUSR2 (and `tend logrotate`): a forced rotation; after logrotate(8) moved the file, a
# reopen (no rename chain).
t_sigusr2_rotates_and_reopens() {
    setup
    mkfifo "$T/go1" "$T/go2"
    write_conf <<EOF
[program:rot]
command=sh -c 'echo first; read x <$T/go1; echo second; read x <$T/go2; echo third; exec $H/exitwith -u 0'
stdout_logfile=$T/r.log
autorestart=false
startsecs=0
EOF
    start_tend
    wait_file "$T/r.log" '^first$'
    kill -USR2 "$TEND_PID"
    wait_file "$T/r.log.1" '^first$'
    echo go >"$T/go1"
    wait_file "$T/r.log" '^second$'
    expect_eq "$(cat "$T/r.log")" second "r.log after the rotation"
    mv "$T/r.log" "$T/r.log-moved"
    kill -USR2 "$TEND_PID"
    "$H/waitfor" -t 15 --exists "$T/r.log" || fail "r.log was not reopened"
    echo go >"$T/go2"
    wait_file "$T/r.log" '^third$'
    expect_eq "$(cat "$T/r.log")" third "r.log after the reopen"
    expect_eq "$(cat "$T/r.log-moved")" second "the moved file"
    expect_eq "$(cat "$T/r.log.1")" first "r.log.1"
    [ ! -e "$T/r.log.2" ] || fail "a reopen must not rotate"
    stop_tend
}

# A full disk (a 1 MiB tmpfs): a program flooding 2 MB finishes (it was never blocked), its
# lines beyond the space are dropped and counted, another program is restarted meanwhile, and
# when space is freed each log gets the "dropped" line and takes output again.
t_full_disk() {
    setup
    mkdir "$T/small"
    mount -t tmpfs -o size=1m tmpfs "$T/small" 2>/dev/null || skip "cannot mount a tmpfs (not root?)"
    MOUNTED=$T/small
    # Leave about 128 KiB free.
    head -c $((896 * 1024)) /dev/zero >"$T/small/filler"
    write_conf <<EOF
[program:flooder]
command=sh -c '$H/flood -n 20000 -s 100; exec $H/exitwith -r $T/flooder.ready -u 0'
stdout_logfile=$T/small/flooder.log
stdout_logfile_maxbytes=0
autorestart=false
startsecs=0
[program:bouncer]
command=sh -c 'echo bouncer-started \$\$; exec $H/exitwith -r $T/bouncer.ready -u 0'
stdout_logfile=$T/small/bouncer.log
autorestart=true
startsecs=0
priority=2000
EOF
    start_tend
    # The flood (2 MB into a 64 KiB pipe) could only end if tend kept reading: not blocked.
    ready_pid "$T/flooder.ready" >/dev/null
    wait_log "flooder: cannot write $T/small/flooder.log: No space left on device; its stdout is dropped"
    local size
    size=$(stat -c %s "$T/small/flooder.log")
    [ "$size" -lt 200000 ] || fail "flooder.log is $size bytes on a 128 KiB free disk"
    [ "$(tail -c 1 "$T/small/flooder.log" | od -An -c | tr -d ' ')" = '\n' ] ||
        fail "flooder.log ends in the middle of a line"
    # Fill the last bytes, so the bouncer's output cannot be written either.
    head -c 1M /dev/zero >"$T/small/filler2" 2>/dev/null || true
    # The other program is restarted while the disk is full.
    local b1 b2 b3
    b1=$(ready_pid "$T/bouncer.ready")
    rm -f "$T/bouncer.ready"
    kill -USR1 "$b1"
    b2=$(ready_pid "$T/bouncer.ready")
    [ "$b2" != "$b1" ] || fail "bouncer was not restarted"
    expect_eq "$(spawned bouncer | wc -l)" 2 "bouncer spawns"
    # Space comes back: the retry writes the note, then output flows again.
    rm -f "$T/small/filler" "$T/small/filler2"
    wait_file "$T/small/flooder.log" '^\[tend: dropped [0-9]+ lines \([0-9]+ bytes\) while the log could not be written: No space left on device\]$' 40
    local kept dropped
    kept=$(grep -c '^[0-9]' "$T/small/flooder.log")
    dropped=$(sed -nE 's/^\[tend: dropped ([0-9]+) lines.*/\1/p' "$T/small/flooder.log")
    expect_eq "$((kept + dropped))" 20000 "lines kept + lines dropped"
    grep -v '^\[tend' "$T/small/flooder.log" | in_order >/dev/null || fail "kept lines are not 1..K"
    wait_log "flooder: $T/small/flooder.log: dropped $dropped lines"
    # The bouncer's log takes output again too: a third instance's line arrives, after the
    # note about what was dropped while the disk was full.
    rm -f "$T/bouncer.ready"
    kill -USR1 "$b2"
    b3=$(ready_pid "$T/bouncer.ready")
    wait_file "$T/small/bouncer.log" "^bouncer-started $b3\$" 40
    expect_eq "$(tail -n 1 "$T/small/bouncer.log")" "bouncer-started $b3" "bouncer.log's last line"
    grep -Eq '^\[tend: dropped [0-9]+ lines' "$T/small/bouncer.log" ||
        grep -q "^bouncer-started $b2\$" "$T/small/bouncer.log" ||
        fail "the second instance's line is neither in bouncer.log nor counted as dropped"
    stop_tend
}

# RLIMIT_FSIZE on tend itself (ulimit -f): the log write past it fails with EFBIG (SIGXFSZ
# must not kill tend), the output beyond is dropped and counted, and tend goes on; once the
# limit is lifted (prlimit) the note is written.
t_file_size_limit() {
    setup
    command -v prlimit >/dev/null || skip "no prlimit(1) to lift the limit again"
    write_conf <<EOF
[program:big]
command=sh -c '$H/flood -n 10000 -s 100; exec $H/exitwith -r $T/big.ready -u 0'
stdout_logfile=$T/big.log
stdout_logfile_maxbytes=0
autorestart=false
startsecs=0
EOF
    # ulimit -f counts 1024-byte blocks: 200 KiB, a fifth of what the program writes. Soft
    # only, so that it can be lifted again without CAP_SYS_RESOURCE.
    (ulimit -S -f 200; exec "$TEND" daemon -n -c "$CONF") >>"$T/tend.out" 2>>"$T/tend.err" </dev/null &
    KEEPER_PID=$!
    tend_started "$KEEPER_PID" "$LOG" 15 ||
        fail "tend did not start; stderr:"$'\n'"$(cat "$T/tend.err")"
    ready_pid "$T/big.ready" >/dev/null
    wait_log "big: cannot write $T/big.log: File too large; its stdout is dropped"
    kill -0 "$TEND_PID" 2>/dev/null || fail "tend died"
    [ "$(stat -c %s "$T/big.log")" -le 204800 ] || fail "big.log is over the limit"
    in_order "$T/big.log" >/dev/null || fail "big.log is not whole lines 1..K"
    # The limit goes: the retry writes the note, accounting for every line not kept.
    prlimit --pid "$TEND_PID" --fsize=unlimited || fail "cannot lift tend's file size limit"
    wait_file "$T/big.log" '^\[tend: dropped [0-9]+ lines \([0-9]+ bytes\) while the log could not be written: File too large\]$' 40
    local kept dropped
    kept=$(grep -c '^[0-9]' "$T/big.log")
    dropped=$(sed -nE 's/^\[tend: dropped ([0-9]+) lines.*/\1/p' "$T/big.log")
    expect_eq "$((kept + dropped))" 10000 "lines kept + lines dropped"
    stop_tend
}

# syslog: lines go to /dev/log with the program name as ident (needs /dev/log free, to stand
# in for the system logger).
t_syslog() {
    setup
    [ ! -e /dev/log ] || skip "/dev/log exists: not replacing the system logger"
    "$H/logsink" -r "$T/sink.ready" /dev/log "$T/syslog.out" 2>"$T/sink.err" &
    local sink=$!
    TRACKED="$TRACKED $sink"
    ready_pid "$T/sink.ready" >/dev/null
    write_conf <<EOF
[program:chatty]
command=sh -c 'echo to-syslog; echo also-err >&2'
stdout_logfile=syslog
stderr_logfile=$T/err.log
stderr_syslog=true
autorestart=false
startsecs=0
EOF
    start_tend
    wait_file "$T/syslog.out" '^<30>.* chatty: to-syslog$'
    wait_file "$T/syslog.out" '^<27>.* chatty: also-err$'
    wait_file "$T/err.log" '^also-err$'
    stop_tend
    kill -TERM "$sink"
    "$H/waitfor" -t 10 --gone "$sink" || true
}

run_tests
