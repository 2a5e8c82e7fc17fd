#!/usr/bin/env bash
# End-to-end tests of a supervisord user's first hour with tend (issue 14): Debian's stock
# supervisord.conf starts tend, `tend check` finds what `tend daemon` would refuse, a failed
# start leaves nothing behind, and the client finds the supervisor the user means from any
# directory. Each case runs in its own $T; TEND_RUNTIME_DIR points the runtime directory (where
# running supervisors advertise themselves) into it, so parallel tests never see each other.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

STOCK=/etc/supervisor/supervisord.conf

# A daemonized tend of this case (its keeper's pid, from its pidfile), killed at the end.
track_pidfile() {   # PIDFILE
    local p
    waitfor "$1" '^[0-9]+' 15 >/dev/null || fail "no pidfile $1"
    p=$(head -n 1 "$1")
    TRACKED="$TRACKED $p"
    echo "$p"
}

# stock_copy: Debian's supervisord.conf copied to $T/etc/supervisor, with only its absolute
# paths moved under $T (/var/run, /var/log/supervisor, /etc/supervisor/conf.d); $T/var/run
# is a symlink to $T/run, as /var/run is to /run on Debian.
stock_copy() {
    [ -f "$STOCK" ] || fail "$STOCK missing: scripts/deps.sh installs Debian's supervisor"
    mkdir -p "$T/etc/supervisor/conf.d" "$T/run" "$T/var/log/supervisor"
    chmod 755 "$T/run"
    ln -s ../run "$T/var/run"
    sed -e "s#/var/run/#$T/var/run/#g" -e "s#/var/log/supervisor#$T/var/log/supervisor#g" \
        -e "s#/etc/supervisor/conf.d#$T/etc/supervisor/conf.d#g" "$STOCK" \
        >"$T/etc/supervisor/supervisord.conf"
    # Nothing else may differ from the stock file.
    local changed
    changed=$(diff "$STOCK" "$T/etc/supervisor/supervisord.conf" | grep -c '^>' || true)
    expect_eq "$changed" 6 "lines rewritten in the stock config"
}

# ---------------------------------------------------------------------------------------------

# Debian's stock config, a program in its conf.d: `tend daemon` starts (its socket is reached
# through the /var/run symlink), and `tend status` run from an unrelated directory without
# -c or -s finds that supervisor.
t_debian_stock_conf_starts() {
    setup
    export TEND_RUNTIME_DIR=$T/rt
    stock_copy
    cat >"$T/etc/supervisor/conf.d/web.conf" <<EOF
[program:web]
command=$H/sleeper -r $T/web.ready
startsecs=0
EOF
    local conf=$T/etc/supervisor/supervisord.conf out rc=0
    LOG=$T/var/log/supervisor/supervisord.log
    "$TEND" check -c "$conf" >"$T/check.out" 2>&1 || { cat "$T/check.out"; fail "check"; }
    "$TEND" daemon -c "$conf" >"$T/tend.out" 2>"$T/tend.err" || {
        cat "$T/tend.out" "$T/tend.err"; fail "tend daemon with the stock config"; }
    local pid
    pid=$(track_pidfile "$T/run/supervisord.pid")
    [ -S "$T/run/supervisor.sock" ] || fail "no socket at $T/run/supervisor.sock"
    waitfor "$T/web.ready" '^ready' 15 >/dev/null || fail "web did not start"
    # The stock config has [rpcinterface:supervisor]: tend-web serves supervisorctl on the
    # same socket (issue 16), and is a process of its own.
    waitfor "$LOG" 'tend-web \(pid [0-9]+\): STARTING -> RUNNING' 15 >/dev/null ||
        fail "tend-web did not start"
    mkdir "$T/elsewhere"
    out=$(cd "$T/elsewhere" && "$TEND" status 2>&1) || rc=$?
    expect_eq "$rc" 0 "tend status from another directory (output: $out)"
    expect_match "$out" '^web +RUNNING ' "status"
    out=$(supervisorctl -c "$conf" status 2>&1) || fail "supervisorctl status: $out"
    expect_match "$out" '^web +RUNNING +pid [0-9]+, uptime ' "supervisorctl status"
    (cd / && "$TEND" -c "$conf" shutdown) >/dev/null
    "$H/waitfor" -t 30 --gone "$pid" || fail "tend did not exit"
    [ ! -e "$T/run/supervisord.pid" ] || fail "pidfile left after shutdown"
    [ ! -e "$T/run/supervisor.sock" ] || fail "socket left after shutdown"
}

# The stock file itself, unmodified, passes check (check creates nothing).
t_debian_stock_conf_checks() {
    setup
    [ -f "$STOCK" ] || fail "$STOCK missing: scripts/deps.sh installs Debian's supervisor"
    local out
    out=$("$TEND" check -c "$STOCK" 2>&1) || fail "check of $STOCK: $out"
    expect_match "$out" "^$STOCK: ok" "check"
}

# A socket directory reached through a symlink is judged by what the link leads to: a link to
# a directory others may write into is refused, by check and by daemon alike.
t_symlinked_socket_dir_judged_by_target() {
    setup
    mkdir -m 0777 "$T/open"
    chmod 0777 "$T/open"    # against the umask
    ln -s open "$T/sockdir"
    write_conf <<EOF
EOF
    sed -i "s#^socket=.*#socket=$T/sockdir/tend.sock#" "$CONF"
    local out rc=0
    out=$("$TEND" check -c "$CONF" 2>&1) || rc=$?
    expect_eq "$rc" 1 "check's status (output: $out)"
    expect_match "$out" "$(re "$T/open")" "check names the resolved directory"
    expect_match "$out" "writable by others" "check says why"
    rc=0
    "$TEND" daemon -n -c "$CONF" >"$T/d.out" 2>&1 || rc=$?
    expect_eq "$rc" 1 "daemon's status"
    [ ! -e "$T/open/tend.sock" ] || fail "socket created"
}

# A symlink on the way that someone other than root or us owns could be turned elsewhere:
# refused even though its target is fine.
t_symlink_owned_by_other_refused() {
    setup
    id nobody >/dev/null 2>&1 || skip "no user nobody"
    [ "$(id -u)" = 0 ] || skip "needs root to chown a symlink"
    mkdir -m 0700 "$T/good"
    ln -s good "$T/sockdir"
    chown -h nobody "$T/sockdir"
    write_conf <<EOF
EOF
    sed -i "s#^socket=.*#socket=$T/sockdir/tend.sock#" "$CONF"
    local out rc=0
    out=$("$TEND" check -c "$CONF" 2>&1) || rc=$?
    expect_eq "$rc" 1 "check's status (output: $out)"
    expect_match "$out" "symlink $(re "$T/sockdir") .*owned by uid" "check names the link"
}

# What daemon finds at start-up without privilege, check finds too: a missing directory for
# the pidfile, for the log file, for directory=, an unknown socket_group or user.
t_check_finds_startup_problems() {
    setup
    write_conf "pidfile=$T/no/such/dir/tend.pid" "directory=$T/nowhere" \
        "socket_group=no-such-group-tend" <<EOF
EOF
    sed -i "s#^logfile=.*#logfile=$T/nolog/tend.log#" "$CONF"
    local out rc=0
    out=$("$TEND" check -c "$CONF" 2>&1) || rc=$?
    expect_eq "$rc" 1 "check's status (output: $out)"
    expect_match "$out" "pidfile.*$(re "$T/no/such/dir")" "the pidfile's directory"
    expect_match "$out" "logfile.*$(re "$T/nolog")" "the log's directory"
    expect_match "$out" "directory.*$(re "$T/nowhere")" "directory="
    expect_match "$out" "socket_group.*no-such-group-tend" "socket_group"
    expect_match "$out" "$(re "$CONF"):[0-9]+: error: " "FILE:LINE: error shape"
    rc=0
    "$TEND" daemon -n -c "$CONF" >"$T/d.out" 2>&1 || rc=$?
    expect_eq "$rc" 1 "daemon's status"
}

# A start that fails after the pidfile is written (the socket is held by a live listener)
# removes the pidfile and leaves the other listener's socket alone.
t_failed_start_leaves_nothing() {
    setup
    write_conf "pidfile=$T/tend.pid" <<EOF
[program:a]
command=$H/sleeper
EOF
    # The first tend holds the socket; a second one with another pidfile must fail.
    start_tend
    sed -i "s#^pidfile=.*#pidfile=$T/second.pid#; s#^logfile=.*#logfile=$T/second.log#" "$CONF"
    local rc=0
    "$TEND" daemon -c "$CONF" >"$T/d.out" 2>&1 || rc=$?
    expect_eq "$rc" 1 "second daemon's status ($(cat "$T/d.out"))"
    expect_match "$(cat "$T/d.out")" "in use" "the reason"
    [ ! -e "$T/second.pid" ] || fail "failed start left its pidfile: $(cat "$T/second.pid")"
    [ ! -e "$T/second.pid.new" ] || fail "failed start left a pidfile.new"
    [ -S "$T/tend.sock" ] || fail "the running tend's socket was removed"
    tendctl pid >/dev/null || fail "the first tend no longer answers"
    rc=0
    "$TEND" daemon -n -c "$CONF" >"$T/d.out" 2>&1 || rc=$?
    expect_eq "$rc" 1 "second foreground daemon's status"
    [ ! -e "$T/second.pid" ] || fail "failed foreground start left its pidfile"
    stop_tend
}

# The issue's case: a tend started from directory A with its ./tend.conf; `tend status` from
# directory B, with no -c, -s or $TEND_SOCKET, finds it (through its advertisement), even with
# a system supervisord.conf around; when it is gone, the error names what was tried.
t_client_finds_supervisor_from_any_dir() {
    setup
    export TEND_RUNTIME_DIR=$T/rt
    unset TEND_SOCKET
    mkdir "$T/a" "$T/b"
    write_conf "pidfile=$T/tend.pid" <<EOF
[program:web]
command=$H/sleeper -r $T/web.ready
startsecs=0
EOF
    mv "$CONF" "$T/a/tend.conf"
    (cd "$T/a" && "$TEND" daemon) >"$T/d.out" 2>&1 || { cat "$T/d.out"; fail "daemon"; }
    local pid out rc=0
    pid=$(track_pidfile "$T/tend.pid")
    waitfor "$T/web.ready" '^ready' 15 >/dev/null || fail "web did not start"
    [ -f "$T/rt/supervisors/$pid" ] || fail "no advertisement in $T/rt/supervisors"
    expect_file_match "$T/rt/supervisors/$pid" "^socket=$(re "$T/tend.sock")\$"
    expect_file_match "$T/rt/supervisors/$pid" "^config=$(re "$T/a/tend.conf")\$"
    out=$(cd "$T/b" && "$TEND" status 2>&1) || rc=$?
    expect_eq "$rc" 0 "status from B (output: $out)"
    expect_match "$out" '^web +RUNNING ' "status from B"
    # The advertisement is named by the keeper (the pidfile's pid); `tend pid` answers the
    # supervisor's, which the keeper started.
    local sup
    sup=$(cd "$T/b" && "$TEND" pid) || fail "pid from B"
    expect_eq "$(stat_field "$sup" 4)" "$pid" "the supervisor's parent (pid from B: $sup)"
    # A supervisor killed outright is restarted by the keeper and advertises itself again:
    # the advertisement is rewritten (no stale one of the dead supervisor's), still found.
    rm -f "$T/rt/supervisors/$pid"
    kill -KILL "$sup"
    "$H/waitfor" -t 15 "$T/rt/supervisors/$pid" '^socket=' >/dev/null ||
        fail "the restarted supervisor did not advertise itself again"
    expect_eq "$(ls "$T/rt/supervisors")" "$pid" "advertisements after the restart"
    rc=0
    out=$(cd "$T/b" && "$TEND" status 2>&1) || rc=$?
    expect_eq "$rc" 0 "status from B after the restart (output: $out)"
    (cd "$T/b" && "$TEND" shutdown) >/dev/null
    "$H/waitfor" -t 30 --gone "$pid" || fail "tend did not exit"
    [ ! -e "$T/rt/supervisors/$pid" ] || fail "advertisement left after shutdown"
    rc=0
    out=$(cd "$T/b" && "$TEND" status 2>&1) || rc=$?
    expect_eq "$rc" 4 "status with no supervisor (output: $out)"
    expect_match "$out" "no running supervisor advertised in $(re "$T/rt")/supervisors" \
        "the error names the runtime directory"
    expect_match "$out" "default socket $(re "$T/rt/tend.sock"): No such file" \
        "the error names the default socket and why"
}

# Every "cannot reach" names the config and the socket it tried, and why.
t_cannot_reach_names_config_and_socket() {
    setup
    export TEND_RUNTIME_DIR=$T/rt
    write_conf </dev/null
    local out rc=0
    out=$("$TEND" -c "$CONF" status 2>&1) || rc=$?
    expect_eq "$rc" 4 "exit status"
    expect_match "$out" "socket of $(re "$CONF") $(re "$T/tend.sock"): No such file" "-c"
    # A socket file nobody listens on: a tend killed with SIGKILL leaves one.
    start_tend
    kill_tend_whole
    [ -S "$T/tend.sock" ] || fail "no stale socket"
    rc=0
    out=$("$TEND" -c "$CONF" status 2>&1) || rc=$?
    expect_eq "$rc" 4 "exit status, refused"
    expect_match "$out" "socket of $(re "$CONF") $(re "$T/tend.sock"): Connection refused" \
        "refused"
    out=$("$TEND" -s "$T/none.sock" status 2>&1) || true
    expect_match "$out" "socket \(-s\) $(re "$T/none.sock"): No such file" "-s"
    out=$(TEND_SOCKET=$T/none.sock "$TEND" status 2>&1) || true
    expect_match "$out" "socket \(\\\$TEND_SOCKET\) $(re "$T/none.sock"): No such file" "env"
    # With a ./tend.conf here, its supervisor is the one meant: its socket is named.
    out=$(cd "$T" && "$TEND" status 2>&1) || true
    expect_match "$out" "socket of \./tend\.conf $(re "$T/tend.sock")" "./tend.conf"
}

# Two running supervisors and no way to tell which one is meant: the client lists both and
# asks, rather than picking one.
t_two_supervisors_client_asks() {
    setup
    export TEND_RUNTIME_DIR=$T/rt
    mkdir "$T/one" "$T/two" "$T/b"
    local n p1 p2 out rc=0
    for n in one two; do
        printf '[tend]\nlogfile=%s\nsocket=%s\npidfile=%s\n' "$T/$n/tend.log" \
            "$T/$n/tend.sock" "$T/$n/tend.pid" >"$T/$n/tend.conf"
        "$TEND" daemon -c "$T/$n/tend.conf" >"$T/d.out" 2>&1 || { cat "$T/d.out"; fail "$n"; }
    done
    p1=$(track_pidfile "$T/one/tend.pid")
    p2=$(track_pidfile "$T/two/tend.pid")
    out=$(cd "$T/b" && "$TEND" status 2>&1) || rc=$?
    expect_eq "$rc" 2 "exit status (output: $out)"
    expect_match "$out" "2 supervisors are running" "the question"
    expect_match "$out" "$(re "$T/one/tend.conf")" "the first one"
    expect_match "$out" "$(re "$T/two/tend.conf")" "the second one"
    "$TEND" -c "$T/one/tend.conf" shutdown >/dev/null
    "$H/waitfor" -t 30 --gone "$p1" || fail "one did not exit"
    out=$(cd "$T/b" && "$TEND" pid)
    expect_eq "$(stat_field "$out" 4)" "$p2" "with one left, it is found (its keeper)"
    "$TEND" -c "$T/two/tend.conf" shutdown >/dev/null
    "$H/waitfor" -t 30 --gone "$p2" || fail "two did not exit"
}

run_tests
