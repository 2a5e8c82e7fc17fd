#!/usr/bin/env bash
# End-to-end tests of the static build (make static: musl, build/static/tend) as a
# container's entry point, without a container runtime: the static binary runs as PID 1 of
# a new PID namespace (unshare --pid --fork --mount-proc), with its own /etc/passwd and
# /etc/group bind-mounted in that namespace's mount table only, as an image would have them.
# It must resolve user= from those files (musl reads them itself: no NSS), run and restart a
# program, reap an orphan that was reparented to it, answer the control socket, and stop
# everything and exit 0 on SIGTERM, as `docker stop` sends it.
#
# Then the daeml and supervisor suites (tests/e2e/daeml.sh, supervisor.sh: the launcher and
# the supervisor's core, which is what a container runs) run against the static binary: each
# suite is one case here (suite_daeml, suite_supervisor), and when it fails its output names
# the failing cases as static/daeml/NAME or static/supervisor/NAME.
#
# Plain flavour only (the static build has no sanitizer flavour), and only once the static
# binary is built (make check builds it; make static alone does too).
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S=$ROOT/build/static/tend

can_run() {
    case ${TEND_BUILD:-} in */asan) skip "the static build is tested by the plain flavour" ;; esac
    [ -x "$S" ] || skip "no $S (make static; needs musl-tools)"
}

t_is_one_static_file() {
    can_run
    ! readelf -lW "$S" | grep -q 'INTERP' || fail "$S has a program interpreter"
    ! readelf -dW "$S" | grep -q 'NEEDED' || fail "$S needs shared libraries"
    "$S" --version | grep -qx 'tend [0-9.]*' || fail "$S --version"
    expect_eq "$(cd "$ROOT/build/static" && ./daeml --version)" "daeml (tend) ${VERSION:-$("$S" --version | cut -d' ' -f2)}" "daeml link"
    echo "size: $(stat -c %s "$S") bytes"
}

t_pid1_of_a_pid_namespace() {
    can_run
    [ "$(id -u)" = 0 ] || skip "unshare --pid and bind mounts need root"
    setup
    chmod 755 "$T"
    mkdir -m 1777 "$T/pub"
    # The image's own user database (not the host's): a user with a primary group and two
    # supplementary ones, under names the host does not have.
    cat >"$T/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
tendimg:x:4242:4242:tend image user:/nonexistent:/usr/sbin/nologin
EOF
    cat >"$T/group" <<EOF
root:x:0:
nogroup:x:65534:
tendimg:x:4242:
tendimgaux1:x:4243:tendimg
tendimgaux2:x:4244:nobody,tendimg
EOF
    write_conf loglevel=debug <<EOF
[program:one]
command=$H/sleeper -r $T/pub/one.ready
user=tendimg
startsecs=0
[program:orphaner]
command=$H/doublefork -r $T/pub/orphan.ready $H/exitwith 0
startsecs=0
autorestart=false
EOF
    unshare --pid --fork --mount-proc sh -c '
        mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group &&
        exec "$2" daemon -n -c "$1/tend.conf"' _ "$T" "$S" >"$T/tend.out" 2>"$T/tend.err" &
    TEND_PID=$!   # unshare: it waits for tend and exits with its status
    wait_log "started as pid [0-9]+ \\(keeper 1\\)"
    waitfor "$T/pub/one.ready" '^ready [0-9]+$' || fail "one did not start"
    local tend_host one one_ns
    tend_host=$(children_of "$TEND_PID")
    expect_eq "$(wc -w <<<"$tend_host")" 1 "tend's host pid"
    # tend daemon became the keeper (it executed itself as tend __keeper).
    expect_eq "$(readlink "/proc/$tend_host/exe")" "$S" "PID 1 of the namespace"
    expect_match "$(tr '\0' ' ' <"/proc/$tend_host/cmdline")" "__keeper .*-- -c $T/tend.conf " \
        "PID 1's command line"
    expect_eq "$(proc_status "$tend_host" NSpid | awk '{print $NF}')" 1 "tend's pid inside"
    one_ns=$(sed -n 's/^ready //p' "$T/pub/one.ready")
    # Programs are the children of the supervisor, the keeper's child.
    local sup_host
    sup_host=$(children_of "$tend_host" | head -n 1)
    one=$(children_of "$sup_host" | while read -r p; do
        [ "$(proc_status "$p" NSpid | awk '{print $NF}')" = "$one_ns" ] && echo "$p"; done)
    [ -n "$one" ] || fail "no host pid for one (pid $one_ns inside)"
    # user= from the bind-mounted files: uid, gid and the supplementary groups.
    expect_eq "$(proc_status "$one" Uid | awk '{print $1, $2, $3, $4}')" "4242 4242 4242 4242" "Uid"
    expect_eq "$(proc_status "$one" Gid | awk '{print $1, $2, $3, $4}')" "4242 4242 4242 4242" "Gid"
    expect_eq "$(proc_status "$one" Groups | xargs)" "4242 4243 4244" "Groups"
    # The double-forked grandchild was reparented to tend (the supervisor, a subreaper) and
    # reaped there.
    waitfor "$T/pub/orphan.ready" '^ready [0-9]+$' || fail "no orphan"
    local orphan
    orphan=$(sed -n 's/^ready //p' "$T/pub/orphan.ready")
    wait_log "reaped orphan pid $orphan\$"
    [ -z "$(zombies_of "$tend_host")$(zombies_of "$sup_host")" ] ||
        fail "zombies under tend: $(zombies_of "$tend_host") $(zombies_of "$sup_host")"
    # The control socket, with the static binary as the client too.
    expect_match "$("$S" -s "$T/tend.sock" status one)" "^one +RUNNING +$one_ns " "status"
    # A killed program comes back.
    kill -KILL "$one"
    wait_log "one \\(pid $one_ns\\): RUNNING -> (BACKOFF|STARTING)"
    waitfor "$T/pub/one.ready" "^ready [0-9]+\$" || fail "one did not come back"
    wait_log "one: spawned pid [0-9]+"
    # SIGTERM from outside, as a container runtime stops its entry point: exit 0.
    local rc=0
    kill -TERM "$tend_host"
    "$H/waitfor" -t 30 --gone "$TEND_PID" || fail "tend did not stop on SIGTERM"
    wait "$TEND_PID" || rc=$?
    TEND_PID=""
    expect_eq "$rc" 0 "tend's exit status as PID 1 (through unshare)"
    expect_file_match "$LOG" "received SIGTERM"
    expect_eq "$(tail -n 1 "$LOG" | sed -E "s/$TS//")" "tend exiting" "tend's last log line"
    [ -z "$(leftovers)" ] || fail "left behind: $(describe $(leftovers))"
}

# examples/container: its config is valid for the static binary, and what its Dockerfile
# copies from the build context (the repository's root) exists.
t_container_example() {
    can_run
    local dir=$ROOT/examples/container src
    "$S" check -c "$dir/tend.conf" >check.out 2>&1 || { cat check.out; fail "tend check"; }
    for src in $(awk '$1 == "COPY" { print $2 }' "$dir/Dockerfile"); do
        [ -e "$ROOT/$src" ] || fail "the Dockerfile copies $src, which is not there"
    done
    grep -q '^COPY build/static/tend /usr/local/bin/tend$' "$dir/Dockerfile" ||
        fail "the Dockerfile does not ship the static binary"
    grep -q '^ENTRYPOINT \["/usr/local/bin/tend", "daemon", "-n"\]$' "$dir/Dockerfile" ||
        fail "the entry point is not tend daemon -n"
}

# run_suite NAME: tests/e2e/NAME.sh against the static binary; its case lines, renamed
# static/NAME/CASE, are this case's output (shown when it fails).
run_suite() {
    can_run
    TEND=$S DAEML=$ROOT/build/static/daeml TEND_UNDER_SUBREAPER="" \
        bash "$ROOT/tests/e2e/$1.sh" >suite.out 2>&1 || true
    sed -E "s#^(ok|FAIL|skip) $1/#\\1 static/$1/#" suite.out
    grep -q "^ok $1/" suite.out || fail "no case of $1.sh passed"
    ! grep -q "^FAIL " suite.out || fail "$1.sh failed against the static binary"
}
t_suite_daeml() { run_suite daeml; }
t_suite_supervisor() { run_suite supervisor; }

run_tests
