#!/usr/bin/env bash
# uids and gids above 2^31 (valid on Linux: uid_t is unsigned 32-bit) are printed as the
# unsigned numbers they are, never as negative ones: in tend's log, in a client's error, in
# config errors. Run as root (setpriv to a uid no passwd entry names, chown to it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

BIG=3000000000   # > 2^31; as a signed int it would read -1294967296

# A client running as uid BIG is refused: tend's log and the client's error say uid BIG.
t_control_client_with_big_uid() {
    local rc=0 out
    setup
    [ "$(id -u)" = 0 ] || skip "needs root (setpriv)"
    command -v setpriv >/dev/null || skip "no setpriv"
    write_conf socket_mode=0777 </dev/null
    chmod 0711 "$T"   # others may reach the socket, not list the directory
    start_tend
    out=$(setpriv --reuid=$BIG --regid=$BIG --clear-groups "$TEND" -s "$T/tend.sock" status 2>&1) ||
        rc=$?
    expect_eq "$rc" 1 "the client's exit status"
    expect_match "$out" "permission denied: uid $BIG may not control this supervisor" "client error"
    wait_log "${TS}control: refused uid $BIG \(pid [0-9]+\): not allowed\$"
    if grep -q -- '-1294967296' "$LOG"; then fail "a negative uid in tend's log"; fi
    stop_tend
}

# An included file owned by uid BIG: refused, naming uid BIG.
t_include_owned_by_big_uid() {
    local rc=0
    setup
    mkdir "$T/conf.d"
    printf '[program:x]\ncommand=/bin/true\n' >"$T/conf.d/x.conf"
    chown $BIG:$BIG "$T/conf.d/x.conf"
    printf '[include]\nfiles = conf.d/*.conf\n' | write_conf
    "$TEND" check -c "$CONF" >"$T/c.out" 2>&1 || rc=$?
    expect_eq "$rc" 1 "check status"
    expect_file_match "$T/c.out" "refusing included file '.*/x.conf': it is owned by uid $BIG, neither root nor tend's user\$"
}

run_tests
