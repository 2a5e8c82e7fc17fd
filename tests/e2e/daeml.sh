#!/usr/bin/env bash
# End-to-end tests of `daeml`: launch real programs (tests/helpers/procinfo above all, which
# writes a snapshot of the state it was started in) and check the daemon's process state, the
# caller's exit status and messages, and that a failed launch leaves nothing running.
#
# Every case runs under the script's subreaper, so a daemon that daeml detaches is reparented
# to the subreaper: "left running" means "a live child of the subreaper other than the
# script's own shell". Each case kills what it started on exit (trap cleanup EXIT); the
# subreaper kills anything left when the script ends. Synchronisation is on events only:
# procinfo's output file appearing, a process going away.
. "$(dirname "$0")/lib.sh"
: "${DAEML:?run through tests/run.sh (DAEML unset)}"

SUBREAPER=$PPID     # lib.sh runs this shell as the subreaper's child
TEST_USER=tendtest  # created (with groups tendtestg1..3) by the --user cases; left in place

# ---------------------------------------------------------------------------------------------
# Helpers

skip() { echo "SKIP: $*" >&2; exit 0; }

# hex STRING: the bytes of STRING as lowercase hex, as procinfo encodes argv and environ.
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# iget FILE KEY: the value(s) of KEY in a procinfo snapshot, one per line ("" if empty).
iget() { sed -n -e "s/^$2 //p" -e "/^$2\$/s/.*//p" "$1"; }

# snap FILE: wait for procinfo's snapshot in FILE to be complete.
snap() { waitfor "$1" '^end$'; }

# pstat PID N: field N (1-based, as proc(5) numbers them) of /proc/PID/stat.
pstat() {
    local line rest n=$2
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    rest=${line##*) }
    set -- $rest
    shift $((n - 3))
    echo "$1"
}

# live_children PID: the live (non-zombie) children of PID, one per line.
live_children() {
    local parent=$1 f line rest
    for f in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$f" || continue
        rest=${line##*) }
        set -- $rest
        [ "$2" = "$parent" ] && [ "$1" != Z ] && [ "$1" != X ] && echo "${f//[^0-9]/}"
    done
    return 0
}

# running PID: PID exists and is not a zombie.
running() { [ -e "/proc/$1" ] && [ "$(pstat "$1" 3)" != Z ]; }

# leftovers: processes reparented to the subreaper, i.e. detached by something this case ran.
leftovers() { live_children "$SUBREAPER" | grep -vx "$$" || true; }

describe() {  # PID...: one line per process, for failure messages
    local p
    for p in "$@"; do
        printf '  %s: %s [%s]\n' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" \
            "$(readlink "/proc/$p/exe" 2>/dev/null)"
    done
}

nothing_left() {
    local left
    left=$(leftovers)
    [ -z "$left" ] || fail "left running:"$'\n'"$(describe $left)"
}

TRACKED=""
track() { TRACKED="$TRACKED $*"; }   # PID...: also kill these when the case ends

# Kill everything the case left behind and wait until it is gone, so the next case starts
# with no leftovers. Tracked processes go first: what they started is orphaned by their death
# and shows up as a leftover, so leftovers are collected until none is left.
cleanup() {
    local p pids=$TRACKED round
    for round in 1 2 3 4 5; do
        for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
        for p in $pids; do "$H/waitfor" -t 10 --gone "$p" || true; done
        pids=$(leftovers)
        [ -n "$pids" ] || break
    done
    return 0
}

# daeml_run ARGS...: run daeml with its stdout, stderr and status in $T/d.out, $T/d.err, $rc.
daeml_run() { rc=0; "$DAEML" "$@" >"$T/d.out" 2>"$T/d.err" </dev/null || rc=$?; }

# The launch worked: status 0 and nothing printed.
expect_launched() {
    [ "$rc" = 0 ] || fail "daeml exited $rc, expected 0; stderr: $(cat "$T/d.err")"
    [ ! -s "$T/d.out" ] || fail "daeml printed on stdout: $(cat "$T/d.out")"
    [ ! -s "$T/d.err" ] || fail "daeml printed on stderr: $(cat "$T/d.err")"
}

# expect_refused STATUS ERE: daeml failed with STATUS ("nonzero" for any failure), printed
# exactly one line on stderr, "daeml: ..." matching ERE, nothing on stdout, and left nothing
# running.
expect_refused() {
    local lines
    if [ "$1" = nonzero ]; then
        [ "$rc" != 0 ] || fail "daeml exited 0, expected a failure"
    else
        [ "$rc" = "$1" ] || fail "daeml exited $rc, expected $1; stderr: $(cat "$T/d.err")"
    fi
    lines=$(grep -c '' "$T/d.err" || true)
    [ "$lines" = 1 ] || fail "expected one line on stderr, got $lines:"$'\n'"$(cat "$T/d.err")"
    expect_file_match "$T/d.err" '^daeml: '
    expect_file_match "$T/d.err" "$2"
    [ ! -s "$T/d.out" ] || fail "daeml printed on stdout: $(cat "$T/d.out")"
    nothing_left
}

# The one daemon this case launched: exactly one process is detached, and it is PROGRAM.
sole_daemon() {  # PROGRAM (path): prints its pid
    local left n
    left=$(leftovers)
    n=$(printf '%s' "$left" | grep -c '' || true)
    [ "$n" = 1 ] || fail "expected exactly one detached process, found $n:"$'\n'"$(describe $left)"
    expect_eq "$(readlink "/proc/$left/exe")" "$(readlink -f "$1")" "exe of the daemon"
    echo "$left"
}

ensure_test_user() {
    local g
    [ "$(id -u)" = 0 ] || skip "needs root to create and use $TEST_USER"
    # Another test script may create them at the same moment: a failed add is fine if the
    # entry exists afterwards.
    for g in tendtestg1 tendtestg2 tendtestg3; do
        getent group "$g" >/dev/null || groupadd "$g" 2>/dev/null ||
            getent group "$g" >/dev/null || fail "cannot create group $g"
    done
    id "$TEST_USER" >/dev/null 2>&1 ||
        useradd -M -N -d /nonexistent -s /usr/sbin/nologin -g tendtestg1 \
            -G tendtestg2,tendtestg3 "$TEST_USER" 2>/dev/null ||
        id "$TEST_USER" >/dev/null 2>&1 || fail "cannot create user $TEST_USER"
}

# A directory any user can write to, for a daemon that runs as someone else ($T is 0700).
shared_dir() {
    chmod 711 "$T"
    mkdir -p "$T/shared"
    chmod 1777 "$T/shared"
    echo "$T/shared"
}

# on_pty CMD...: run CMD on a new pseudo-terminal (its controlling terminal, stdin, stdout and
# stderr), everything it printed in $T/pty.out; fail loudly unless it exits 0 having printed
# nothing.
on_pty() {
    local st=0
    "$H/inpty" "$@" >"$T/pty.out" || st=$?
    [ "$st" = 0 ] || fail "on a pty, $1 exited $st: $(cat "$T/pty.out")"
    [ ! -s "$T/pty.out" ] || fail "on a pty, $1 printed: $(cat "$T/pty.out")"
}

sorted() { tr ' ' '\n' | grep . | sort -n | tr '\n' ' '; }

# ---------------------------------------------------------------------------------------------
# Command line

t_help() {
    daeml_run --help
    [ "$rc" = 0 ] || fail "--help exited $rc"
    [ ! -s "$T/d.err" ] || fail "--help printed on stderr: $(cat "$T/d.err")"
    expect_file_match "$T/d.out" '[Uu]sage:.*daeml'
    local opt
    for opt in --pidfile --user --chdir --umask --stdout --stderr --syslog --env --no-close \
        --foreground --help --version; do
        grep -q -- "$opt" "$T/d.out" || fail "--help does not mention $opt"
    done
}

t_version() {
    daeml_run --version
    [ "$rc" = 0 ] || fail "--version exited $rc"
    [ ! -s "$T/d.err" ] || fail "--version printed on stderr: $(cat "$T/d.err")"
    expect_eq "$(grep -c '' "$T/d.out")" 1 "lines printed by --version"
    expect_file_match "$T/d.out" '[0-9]+\.[0-9]+(\.[0-9]+)?'
}

t_bad_option_refused() {
    trap cleanup EXIT
    daeml_run --no-such-option "$H/procinfo" "$T/info"
    expect_refused nonzero 'no-such-option'
    [ ! -e "$T/info" ] || fail "the program ran despite the bad option"
}

t_missing_program_argument_refused() {
    trap cleanup EXIT
    daeml_run
    [ "$rc" != 0 ] || fail "daeml with no PROGRAM exited 0"
    [ -s "$T/d.err" ] || fail "daeml with no PROGRAM printed nothing on stderr"
    nothing_left
}

t_options_after_program_are_its_args() {
    trap cleanup EXIT
    daeml_run "$H/procinfo" "$T/info" --pidfile "$T/pid" --help
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" argc)" 5 "argc"
    expect_eq "$(iget "$T/info" 'arg 2')" "$(hex --pidfile)" "arg 2"
    expect_eq "$(iget "$T/info" 'arg 4')" "$(hex --help)" "arg 4"
    [ ! -e "$T/pid" ] || fail "daeml took --pidfile after PROGRAM as its own option"
}

# ---------------------------------------------------------------------------------------------
# Success: when daeml returns, the exec has happened

t_launch_is_silent_and_returns_zero() {
    trap cleanup EXIT
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
}

t_returns_only_after_exec() {
    trap cleanup EXIT
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    # No waiting: at return the only detached process must already be running PROGRAM.
    sole_daemon "$H/procinfo" >/dev/null
}

t_program_exit_status_does_not_matter() {
    trap cleanup EXIT
    # The exec succeeds, then the program fails: that is the daemon's business, not daeml's.
    daeml_run "$H/exitwith" -r "$T/ready" 3
    expect_launched
    waitfor "$T/ready" '^ready'
}

# ---------------------------------------------------------------------------------------------
# The daemon's process state

t_no_controlling_terminal() {
    trap cleanup EXIT
    # Sanity: a program started on the pty has it as its terminal.
    on_pty "$H/procinfo" -e "$T/direct"
    expect_match "$(iget "$T/direct" tty_nr)" '^[1-9][0-9]*$' "tty_nr of a program on the pty"
    on_pty "$DAEML" "$H/procinfo" "$T/info"
    snap "$T/info"
    expect_eq "$(iget "$T/info" tty_nr)" 0 "tty_nr of the daemon (procinfo)"
    expect_eq "$(pstat "$(iget "$T/info" pid)" 7)" 0 "tty_nr of the daemon (/proc)"
}

t_not_a_session_leader() {
    trap cleanup EXIT
    on_pty "$DAEML" "$H/procinfo" "$T/info"
    snap "$T/info"
    local pid sid
    pid=$(iget "$T/info" pid)
    sid=$(iget "$T/info" sid)
    # A session leader would acquire a controlling terminal just by opening one.
    [ "$sid" != "$pid" ] || fail "the daemon is a session leader (sid = pid = $pid)"
    expect_eq "$(iget "$T/info" session_leader)" 0 "session_leader"
}

t_left_the_callers_session_and_group() {
    trap cleanup EXIT
    # The caller is a shell that leads the pty's session; procinfo run from it directly shows
    # the caller's session and group, then the shell execs daeml (same pid, same session).
    on_pty bash -c '"$1" -e "$2" && exec "$3" "$1" "$4"' - "$H/procinfo" "$T/direct" \
        "$DAEML" "$T/info"
    snap "$T/info"
    [ "$(iget "$T/info" sid)" != "$(iget "$T/direct" sid)" ] || fail "in the caller's session"
    [ "$(iget "$T/info" pgid)" != "$(iget "$T/direct" pgid)" ] || fail "in the caller's group"
}

t_survives_terminal_hangup() {
    trap cleanup EXIT
    # daeml is the pty's controlling process: when it exits (inpty returns after that), the
    # kernel hangs the terminal up and SIGHUPs the foreground group. A daemon still in the
    # session or group would be killed by it, or have it pending right now.
    on_pty "$DAEML" "$H/procinfo" "$T/info"
    snap "$T/info"
    local pid
    pid=$(iget "$T/info" pid)
    running "$pid" || fail "the daemon died with its terminal"
    expect_eq "$(proc_status "$pid" ShdPnd)" 0000000000000000 "signals pending for the daemon"
    expect_eq "$(proc_status "$pid" SigPnd)" 0000000000000000 "signals pending for the daemon"
}

t_reparented_away_from_daeml() {
    trap cleanup EXIT
    local daeml_pid pid
    "$DAEML" "$H/procinfo" "$T/info" &
    daeml_pid=$!
    wait "$daeml_pid" || fail "daeml exited $?"
    pid=$(sole_daemon "$H/procinfo")
    [ "$(pstat "$pid" 4)" != "$daeml_pid" ] || fail "the daemon is still daeml's child"
    expect_eq "$(pstat "$pid" 4)" "$SUBREAPER" "ppid of the daemon (the test's subreaper)"
}

t_not_a_zombie() {
    trap cleanup EXIT
    local pid
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    pid=$(sole_daemon "$H/procinfo")
    expect_match "$(pstat "$pid" 3)" '^[RS]$' "state of the running daemon"
    # A daemon that exits at once becomes a zombie of whoever is its parent; that must be a
    # process that reaps (here the subreaper), not a lingering intermediate of daeml's.
    daeml_run "$H/exitwith" -r "$T/ready" 0
    expect_launched
    waitfor "$T/ready" '^ready'
    pid=$(sed -n 's/^ready //p' "$T/ready")
    "$H/waitfor" -t 10 --gone "$pid"
    if [ -e "/proc/$pid" ] && [ "$(pstat "$pid" 3)" = Z ]; then
        expect_eq "$(pstat "$pid" 4)" "$SUBREAPER" "parent of the exited daemon"
    fi
}

t_cwd_is_root() {
    trap cleanup EXIT
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" cwd)" / "cwd of the daemon"
    expect_eq "$(readlink "/proc/$(iget "$T/info" pid)/cwd")" / "/proc/PID/cwd"
}

t_umask_is_022() {
    trap cleanup EXIT
    umask 077
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" umask)" 0022 "umask of the daemon (caller had 077)"
}

t_stdio_on_dev_null() {
    trap cleanup EXIT
    # Launched from a terminal: the caller's 0, 1, 2 are the pty.
    on_pty "$DAEML" "$H/procinfo" "$T/info"
    snap "$T/info"
    local fd
    for fd in 0 1 2; do
        expect_eq "$(iget "$T/info" "fd $fd")" /dev/null "fd $fd of the daemon"
    done
}

t_no_inherited_fds() {
    trap cleanup EXIT
    # Descriptors without close-on-exec: 3, 200 (above the article's "< 128"), and one above
    # the current soft RLIMIT_NOFILE (opened with a higher limit, which was then lowered), so
    # neither a fixed bound nor getdtablesize() is enough to find them.
    local hard high
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=65536
    high=$(( hard > 4096 ? 4000 : hard - 1 ))
    [ "$high" -gt 1024 ] || skip "hard RLIMIT_NOFILE $hard is too low for this case"
    exec 3>"$T/fd3" 200>"$T/fd200"
    ulimit -Sn $((high + 1))
    eval "exec $high>\"\$T/fdhigh\""
    ulimit -Sn 1024
    # Sanity: an ordinary child does inherit all three.
    "$H/procinfo" -e "$T/direct"
    expect_file_match "$T/direct" "^fd 3 $T/fd3\$"
    expect_file_match "$T/direct" "^fd 200 $T/fd200\$"
    expect_file_match "$T/direct" "^fd $high $T/fdhigh\$"
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" fds)" "0 1 2" "open descriptors of the daemon"
}

t_no_inherited_fds_at_the_limit() {
    trap cleanup EXIT
    # The highest descriptor the soft limit allows, with the soft limit raised to the hard.
    local hard top
    hard=$(ulimit -Hn)
    [ "$hard" = unlimited ] && hard=1048576
    [ "$hard" -gt 1024 ] || skip "hard RLIMIT_NOFILE $hard: nothing to raise"
    [ "$hard" -le 1048576 ] || hard=1048576
    ulimit -Sn "$hard"
    top=$((hard - 1))
    eval "exec $top>\"\$T/fdtop\""
    "$H/procinfo" -e "$T/direct"
    expect_file_match "$T/direct" "^fd $top $T/fdtop\$"
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" fds)" "0 1 2" "open descriptors of the daemon"
}

t_ignored_signals_reset() {
    trap cleanup EXIT
    # As under nohup, and with SIGPIPE ignored as many servers do.
    trap '' HUP PIPE
    "$H/procinfo" -e "$T/direct"
    [ "$(iget "$T/direct" sigign)" != 0000000000000000 ] || fail "sanity: trap '' did nothing"
    daeml_run "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" sigign)" 0000000000000000 "SigIgn of the daemon"
}

t_every_ignored_signal_reset() {
    trap cleanup EXIT
    # Everything ignorable is ignored, SIGCHLD included (the seed's daemon kept SIGCHLD
    # ignored, and daeml itself must still learn how its children ended).
    rc=0
    "$H/withsigs" -i all "$DAEML" "$H/procinfo" "$T/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" sigign)" 0000000000000000 "SigIgn of the daemon"
}

t_signal_mask_cleared() {
    trap cleanup EXIT
    "$H/withsigs" -b all "$H/procinfo" -e "$T/direct"
    [ "$(iget "$T/direct" sigblk)" != 0000000000000000 ] || fail "sanity: nothing was blocked"
    rc=0
    "$H/withsigs" -b all "$DAEML" "$H/procinfo" "$T/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" sigblk)" 0000000000000000 "SigBlk of the daemon"
    expect_eq "$(iget "$T/info" sigpnd)" 0000000000000000 "SigPnd of the daemon"
}

t_exec_failure_reported_with_sigchld_ignored() {
    trap cleanup EXIT
    rc=0
    "$H/withsigs" -i CHLD "$DAEML" /nonexistent/tendtest-prog >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_refused 127 '/nonexistent/tendtest-prog.*No such file or directory'
}

# ---------------------------------------------------------------------------------------------
# argv, environment, PATH

t_argv_passed_exactly() {
    trap cleanup EXIT
    local args=("two words" "" "é ü 日本語" "-x" "--" "*" $'tab\there' $'new\nline' "  ")
    local i
    daeml_run "$H/procinfo" "$T/info" "${args[@]}"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" argc)" $((2 + ${#args[@]})) "argc"
    expect_eq "$(iget "$T/info" 'arg 0')" "$(hex "$H/procinfo")" "argv[0]"
    for i in "${!args[@]}"; do
        expect_eq "$(iget "$T/info" "arg $((i + 2))")" "$(hex "${args[$i]}")" "argv[$((i + 2))]"
    done
}

t_environment_passed_exactly() {
    trap cleanup EXIT
    local vars=("PATH=/usr/bin:/bin" "A=1" "SPACES=a b  c" "EMPTY=" "UTF=é日" "EQ=x=y=z"
        $'NL=line1\nline2')
    local i
    # Keep the sanitizer settings, so the sanitizer build behaves the same.
    if [ -n "${ASAN_OPTIONS:-}" ]; then vars+=("ASAN_OPTIONS=$ASAN_OPTIONS"); fi
    if [ -n "${UBSAN_OPTIONS:-}" ]; then vars+=("UBSAN_OPTIONS=$UBSAN_OPTIONS"); fi
    rc=0
    env -i "${vars[@]}" "$DAEML" "$H/procinfo" "$T/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" envc)" "${#vars[@]}" "number of environment entries"
    for i in "${!vars[@]}"; do
        expect_eq "$(iget "$T/info" "env $i")" "$(hex "${vars[$i]}")" "environ[$i]"
    done
}

t_program_found_on_path() {
    trap cleanup EXIT
    mkdir "$T/bin"
    ln -s "$H/procinfo" "$T/bin/tendtest-prog"
    rc=0
    PATH="$T/bin:$PATH" "$DAEML" tendtest-prog "$T/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" 'arg 0')" "$(hex tendtest-prog)" "argv[0] (as given)"
    expect_eq "$(iget "$T/info" exe)" "$(readlink -f "$H/procinfo")" "program run"
}

t_path_search_skips_non_executable() {
    trap cleanup EXIT
    # As execvp does: a match that cannot be executed does not stop the search.
    mkdir "$T/a" "$T/b"
    printf 'not a program\n' >"$T/a/tendtest-prog"
    chmod 644 "$T/a/tendtest-prog"
    ln -s "$H/procinfo" "$T/b/tendtest-prog"
    rc=0
    PATH="$T/a:$T/b:$PATH" "$DAEML" tendtest-prog "$T/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_launched
    snap "$T/info"
}

t_program_missing_from_path() {
    trap cleanup EXIT
    rc=0
    PATH="$T/empty:/usr/bin:/bin" "$DAEML" tendtest-no-such-program >"$T/d.out" 2>"$T/d.err" ||
        rc=$?
    expect_refused 127 'tendtest-no-such-program.*No such file or directory'
}

# ---------------------------------------------------------------------------------------------
# Exec failures: one line naming PROGRAM and the errno text, nothing left running

t_missing_program() {
    trap cleanup EXIT
    daeml_run /nonexistent/tendtest-prog
    expect_refused 127 '^daeml: /nonexistent/tendtest-prog: .*No such file or directory$'
}

t_not_executable() {
    trap cleanup EXIT
    printf '#!/bin/sh\nexit 0\n' >"$T/noexec"
    chmod 644 "$T/noexec"
    daeml_run "$T/noexec"
    expect_refused 126 "^daeml: $T/noexec: .*Permission denied\$"
}

t_directory_as_program() {
    trap cleanup EXIT
    mkdir "$T/dir"
    daeml_run "$T/dir"
    expect_refused 126 "^daeml: $T/dir: .*Permission denied\$"
}

t_exec_fails_text_file_busy() {
    trap cleanup EXIT
    # A program still open for writing cannot be executed (ETXTBSY): a failure that no
    # check before the fork can see.
    cp "$H/procinfo" "$T/busy"
    exec 9>>"$T/busy"
    daeml_run "$T/busy" "$T/info"
    expect_refused nonzero "^daeml: $T/busy: .*Text file busy\$"
}

t_exec_fails_missing_interpreter() {
    trap cleanup EXIT
    printf '#!/nonexistent/tendtest-interp\n' >"$T/script"
    chmod 755 "$T/script"
    daeml_run "$T/script"
    expect_refused nonzero "^daeml: $T/script: .*No such file or directory\$"
}

t_fd_exhaustion_is_a_clean_failure() {
    trap cleanup EXIT
    # One descriptor to spare (the dynamic loader needs it to open libc): daeml cannot make a
    # pipe. It must say so and leave nothing behind (or, if it manages without, launch
    # properly).
    rc=0
    (ulimit -n 4; exec "$DAEML" "$H/sleeper") >"$T/d.out" 2>"$T/d.err" || rc=$?
    if [ "$rc" = 0 ]; then
        expect_launched
        sole_daemon "$H/sleeper" >/dev/null   # (it inherits the limit: it opens nothing)
    else
        expect_refused nonzero 'Too many open files|No file descriptors available'   # glibc | musl
    fi
}

# ---------------------------------------------------------------------------------------------
# --pidfile

t_pidfile_written_before_return() {
    trap cleanup EXIT
    local pid
    daeml_run --pidfile "$T/pid" "$H/procinfo" "$T/info"
    expect_launched
    # No waiting: the file is there at return, whole, with the daemon's pid.
    [ -f "$T/pid" ] || fail "no pidfile when daeml returned"
    expect_file_match "$T/pid" '^[0-9]+$'
    expect_eq "$(grep -c '' "$T/pid")" 1 "lines in the pidfile"
    pid=$(cat "$T/pid")
    expect_eq "$(sole_daemon "$H/procinfo")" "$pid" "pid in the pidfile"
    snap "$T/info"
    expect_eq "$(iget "$T/info" pid)" "$pid" "pid reported by the daemon"
    # Written atomically: no temporary file left next to it.
    local f files=""
    for f in "$T"/*; do
        case ${f##*/} in d.out | d.err) ;; *) files="$files ${f##*/}" ;; esac
    done
    expect_eq "$files" " info pid" "files next to the pidfile"
}

t_pidfile_refuses_second_launch() {
    trap cleanup EXIT
    # Several rounds, each with a fresh daemon: how close the daemon's start and the file's
    # mtime fall varies, and a launcher that compares them carelessly is fooled only by some.
    local first round
    for round in 1 2 3 4 5 6 7 8 9 10; do
        daeml_run --pidfile "$T/pid" "$H/procinfo" "$T/info"
        expect_launched
        first=$(cat "$T/pid")
        daeml_run --pidfile "$T/pid" "$H/procinfo" "$T/info2"
        [ "$rc" != 0 ] || fail "round $round: second launch on a live pidfile exited 0"
        expect_eq "$(grep -c '' "$T/d.err")" 1 "lines on stderr"
        expect_file_match "$T/d.err" "^daeml: .*($first|running)"
        expect_eq "$(cat "$T/pid")" "$first" "pidfile after the refused launch"
        expect_eq "$(sole_daemon "$H/procinfo")" "$first" "the one daemon running"
        [ ! -e "$T/info2" ] || fail "the refused program ran"
        kill -KILL "$first"
        "$H/waitfor" -t 10 --gone "$first"
    done
}

t_pidfile_stale_dead_pid_replaced() {
    trap cleanup EXIT
    local dead
    "$H/exitwith" 0 &
    dead=$!
    wait "$dead"
    echo "$dead" >"$T/pid"
    daeml_run --pidfile "$T/pid" "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(cat "$T/pid")" "$(iget "$T/info" pid)" "pidfile after replacing a stale one"
}

t_pidfile_stale_reused_pid_replaced() {
    trap cleanup EXIT
    # The pid in the file now belongs to an unrelated process that started after the file was
    # written: stale, and that process must not be touched.
    local other
    "$H/sleeper" -r "$T/other.ready" &
    other=$!
    track "$other"
    waitfor "$T/other.ready" '^ready'
    echo "$other" >"$T/pid"
    touch -d "@$(( $(date +%s) - 3600 ))" "$T/pid"
    daeml_run --pidfile "$T/pid" "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(cat "$T/pid")" "$(iget "$T/info" pid)" "pidfile after replacing a stale one"
    running "$other" || fail "the unrelated process that had the stale pid was hurt"
}

t_pidfile_unwritable_refused() {
    trap cleanup EXIT
    daeml_run --pidfile "$T/missing-dir/pid" "$H/procinfo" "$T/info"
    expect_refused nonzero "$T/missing-dir/pid"
}

t_pidfile_concurrent_launches_one_wins() {
    trap cleanup EXIT
    local i pids=() ok=0 rcs=""
    for i in 1 2 3 4 5; do
        "$DAEML" --pidfile "$T/pid" "$H/procinfo" "$T/info$i" >"$T/out$i" 2>"$T/err$i" &
        pids+=($!)
    done
    for i in 1 2 3 4 5; do
        rc=0
        wait "${pids[$((i - 1))]}" || rc=$?
        rcs="$rcs $rc"
        if [ "$rc" = 0 ]; then
            ok=$((ok + 1))
        else
            expect_eq "$(grep -c '' "$T/err$i")" 1 "lines on stderr of a refused launch"
        fi
    done
    expect_eq "$ok" 1 "launches that succeeded (statuses:$rcs)"
    expect_eq "$(sole_daemon "$H/procinfo")" "$(cat "$T/pid")" "the daemon in the pidfile"
}

# ---------------------------------------------------------------------------------------------
# --user

t_user_drops_to_user_and_its_groups() {
    trap cleanup EXIT
    ensure_test_user
    local dir uid gid
    dir=$(shared_dir)
    uid=$(id -u "$TEST_USER")
    gid=$(id -g "$TEST_USER")
    daeml_run --user "$TEST_USER" "$H/procinfo" "$dir/info"
    expect_launched
    snap "$dir/info"
    expect_eq "$(iget "$dir/info" uid)" "$uid $uid $uid $uid" "Uid (real effective saved fs)"
    expect_eq "$(iget "$dir/info" gid)" "$gid $gid $gid $gid" "Gid (real effective saved fs)"
    expect_eq "$(iget "$dir/info" groups | sorted)" "$(id -G "$TEST_USER" | sorted)" "Groups"
    expect_eq "$(iget "$dir/info" capeff)" 0000000000000000 "CapEff"
    expect_eq "$(iget "$dir/info" capprm)" 0000000000000000 "CapPrm"
}

t_user_with_group() {
    trap cleanup EXIT
    ensure_test_user
    local dir uid gid g allowed
    dir=$(shared_dir)
    uid=$(id -u "$TEST_USER")
    gid=$(getent group tendtestg3 | cut -d: -f3)
    daeml_run --user "$TEST_USER:tendtestg3" "$H/procinfo" "$dir/info"
    expect_launched
    snap "$dir/info"
    expect_eq "$(iget "$dir/info" uid)" "$uid $uid $uid $uid" "Uid"
    expect_eq "$(iget "$dir/info" gid)" "$gid $gid $gid $gid" "Gid"
    # The user's supplementary groups, possibly with the chosen group; root's never.
    allowed=" $(id -G "$TEST_USER") $gid "
    for g in $(iget "$dir/info" groups); do
        case $allowed in *" $g "*) ;; *) fail "group $g is not one of $TEST_USER's" ;; esac
    done
    for g in $(id -G "$TEST_USER"); do
        [ "$g" = "$(id -g "$TEST_USER")" ] && continue   # the primary one may be replaced
        case " $(iget "$dir/info" groups) " in *" $g "*) ;; *) fail "group $g missing" ;; esac
    done
}

t_user_unknown_refused() {
    trap cleanup EXIT
    [ "$(id -u)" = 0 ] || skip "needs root"
    daeml_run --user tendtest-no-such-user "$H/procinfo" "$T/info"
    expect_refused nonzero 'tendtest-no-such-user'
}

t_user_unknown_group_refused() {
    trap cleanup EXIT
    ensure_test_user
    daeml_run --user "$TEST_USER:tendtest-no-such-group" "$H/procinfo" "$T/info"
    expect_refused nonzero 'tendtest-no-such-group'
}

t_user_refused_when_not_root() {
    trap cleanup EXIT
    ensure_test_user
    command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
    local dir
    dir=$(shared_dir)
    rc=0
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$DAEML" --user "$TEST_USER" "$H/procinfo" "$dir/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_refused nonzero 'root|privilege|permi'
}

t_unprivileged_caller_can_launch() {
    trap cleanup EXIT
    command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
    [ "$(id -u)" = 0 ] || skip "needs root to become nobody"
    local dir nobody
    dir=$(shared_dir)
    nobody=$(id -u nobody)
    rc=0
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$DAEML" "$H/procinfo" "$dir/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_launched
    snap "$dir/info"
    expect_eq "$(iget "$dir/info" uid)" "$nobody $nobody $nobody $nobody" "Uid"
}

# ---------------------------------------------------------------------------------------------
# --chdir, --umask, --stdout, --stderr, --env, --no-close

t_chdir_option() {
    trap cleanup EXIT
    mkdir "$T/work dir"
    daeml_run --chdir "$T/work dir" "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(readlink "/proc/$(iget "$T/info" pid)/cwd")" "$T/work dir" "cwd of the daemon"
}

t_chdir_missing_refused() {
    trap cleanup EXIT
    daeml_run --chdir "$T/no-such-dir" "$H/procinfo" "$T/info"
    expect_refused nonzero 'No such file or directory'
}

t_umask_option() {
    trap cleanup EXIT
    umask 000
    daeml_run --umask 027 "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" umask)" 0027 "umask of the daemon"
}

t_umask_invalid_refused() {
    trap cleanup EXIT
    local bad
    for bad in 8 abc 1777777 ""; do
        daeml_run --umask "$bad" "$H/procinfo" "$T/info"
        expect_refused nonzero 'umask'
    done
}

t_stdout_stderr_files_appended() {
    trap cleanup EXIT
    umask 022
    echo "old line" >"$T/out.log"
    chmod 600 "$T/out.log"
    daeml_run --stdout "$T/out.log" --stderr "$T/err.log" \
        /bin/sh -c 'echo to-stdout; echo to-stderr >&2; echo done >&2'
    expect_launched
    waitfor "$T/err.log" '^done$'
    waitfor "$T/out.log" '^to-stdout$'
    expect_eq "$(cat "$T/out.log")" $'old line\nto-stdout' "stdout file (appended to)"
    expect_eq "$(cat "$T/err.log")" $'to-stderr\ndone' "stderr file"
    expect_eq "$(stat -c %a "$T/err.log")" 640 "mode of the created stderr file"
    expect_eq "$(stat -c %a "$T/out.log")" 600 "mode of the existing stdout file (kept)"
}

t_stdout_stderr_descriptors() {
    trap cleanup EXIT
    daeml_run --stdout "$T/out.log" --stderr "$T/err.log" "$H/procinfo" "$T/info"
    expect_launched
    snap "$T/info"
    expect_eq "$(iget "$T/info" 'fd 0')" /dev/null "fd 0"
    expect_eq "$(iget "$T/info" 'fd 1')" "$T/out.log" "fd 1"
    expect_eq "$(iget "$T/info" 'fd 2')" "$T/err.log" "fd 2"
    expect_eq "$(iget "$T/info" fds)" "0 1 2" "open descriptors"
    local fd flags
    for fd in 1 2; do
        flags=$(iget "$T/info" "fdflags $fd")
        (( (8#$flags & 8#2000) != 0 )) || fail "fd $fd is not O_APPEND (flags $flags)"
    done
}

t_env_option() {
    trap cleanup EXIT
    local envs
    rc=0
    env -i PATH=/usr/bin:/bin KEEP=kept OVER=old "$DAEML" --env NEW=1 --env 'SP=a b' \
        --env OVER=new --env 'EQ=x=y' "$H/procinfo" "$T/info" >"$T/d.out" 2>"$T/d.err" || rc=$?
    expect_launched
    snap "$T/info"
    envs=$(iget "$T/info" env | sed 's/^[0-9]* //')
    local want
    for want in KEEP=kept NEW=1 'SP=a b' OVER=new EQ=x=y; do
        printf '%s\n' "$envs" | grep -qx "$(hex "$want")" || fail "environment lacks '$want'"
    done
    if printf '%s\n' "$envs" | grep -qx "$(hex OVER=old)"; then fail "OVER=old was kept"; fi
    expect_eq "$(printf '%s\n' "$envs" | grep -c "^$(hex OVER=)")" 1 "entries for OVER"
}

t_env_option_invalid_refused() {
    trap cleanup EXIT
    daeml_run --env NOEQUALSSIGN "$H/procinfo" "$T/info"
    expect_refused nonzero 'NOEQUALSSIGN'
}

t_no_close_keeps_stdio_only() {
    trap cleanup EXIT
    echo input >"$T/in"
    exec 200>"$T/fd200"
    rc=0
    "$DAEML" --no-close "$H/procinfo" "$T/info" <"$T/in" >"$T/so" 2>"$T/se" || rc=$?
    [ "$rc" = 0 ] || fail "daeml exited $rc: $(cat "$T/se")"
    snap "$T/info"
    expect_eq "$(iget "$T/info" 'fd 0')" "$T/in" "fd 0 with --no-close"
    expect_eq "$(iget "$T/info" 'fd 1')" "$T/so" "fd 1 with --no-close"
    expect_eq "$(iget "$T/info" 'fd 2')" "$T/se" "fd 2 with --no-close"
    expect_eq "$(iget "$T/info" fds)" "0 1 2" "open descriptors with --no-close"
}

# ---------------------------------------------------------------------------------------------
# --foreground

t_foreground_same_pid() {
    trap cleanup EXIT
    local pid rc
    "$DAEML" --foreground "$H/procinfo" "$T/info" &
    pid=$!
    track "$pid"
    snap "$T/info"
    expect_eq "$(iget "$T/info" pid)" "$pid" "pid of the program (daeml's own)"
    expect_eq "$(readlink "/proc/$pid/exe")" "$(readlink -f "$H/procinfo")" "exe"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    TRACKED=""   # reaped: the pid may be reused now
    expect_eq "$rc" 0 "status of the program, seen by daeml's parent"
}

t_foreground_applies_the_setup() {
    trap cleanup EXIT
    local pid
    umask 077
    exec 200>"$T/fd200"
    trap '' HUP PIPE
    "$H/withsigs" -b all "$DAEML" --foreground "$H/procinfo" "$T/info" &
    pid=$!
    track "$pid"
    snap "$T/info"
    expect_eq "$(iget "$T/info" cwd)" / "cwd"
    expect_eq "$(iget "$T/info" umask)" 0022 "umask"
    expect_eq "$(iget "$T/info" fds)" "0 1 2" "open descriptors"
    expect_eq "$(iget "$T/info" sigign)" 0000000000000000 "SigIgn"
    expect_eq "$(iget "$T/info" sigblk)" 0000000000000000 "SigBlk"
}

t_foreground_stdio_on_dev_null() {
    trap cleanup EXIT
    local fd
    "$H/inpty" "$DAEML" --foreground "$H/procinfo" "$T/info" >"$T/pty.out" &
    track $!
    snap "$T/info"
    track "$(iget "$T/info" pid)"
    for fd in 0 1 2; do
        expect_eq "$(iget "$T/info" "fd $fd")" /dev/null "fd $fd (the caller's was the pty)"
    done
}

t_foreground_exec_failure() {
    trap cleanup EXIT
    daeml_run --foreground /nonexistent/tendtest-prog
    expect_refused 127 '/nonexistent/tendtest-prog.*No such file or directory'
}

# ---------------------------------------------------------------------------------------------
# --syslog, hermetically: a private mount namespace whose /dev is an overlay on the real one,
# with /dev/log bound by tests/helpers/logsink. Nothing outside the namespace sees the socket.

t_syslog() {
    trap cleanup EXIT
    [ "$(id -u)" = 0 ] || skip "needs root for a private mount namespace"
    command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
    mkdir -p "$T/ovl/up" "$T/ovl/work"
    rc=0
    T=$T H=$H DAEML=$DAEML unshare -m bash -c '
        set -eu
        mount -t overlay overlay \
            -o "lowerdir=/dev,upperdir=$T/ovl/up,workdir=$T/ovl/work" /dev 2>"$T/mount.err" ||
            exit 77
        "$H/logsink" -r "$T/sink.ready" /dev/log "$T/syslog" &
        "$H/waitfor" -t 10 "$T/sink.ready" "^ready"
        rc=0
        "$DAEML" --syslog tendtest-tag /bin/sh -c "echo to-stdout; echo to-stderr >&2" \
            >"$T/d.out" 2>"$T/d.err" || rc=$?
        [ "$rc" = 0 ] || { echo "daeml exited $rc: $(cat "$T/d.err")"; exit 1; }
        "$H/waitfor" -t 10 "$T/syslog" "tendtest-tag(\[[0-9]+\])?: to-stdout\$"
        "$H/waitfor" -t 10 "$T/syslog" "tendtest-tag(\[[0-9]+\])?: to-stderr\$"
    ' || rc=$?
    [ "$rc" != 77 ] || skip "cannot mount an overlay on /dev: $(cat "$T/mount.err")"
    [ "$rc" = 0 ] || { cat "$T/syslog" 2>/dev/null; fail "syslog case failed ($rc)"; }
    expect_launched
}

run_tests
