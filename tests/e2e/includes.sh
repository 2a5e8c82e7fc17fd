#!/usr/bin/env bash
# End-to-end tests of untrusted [include]s and of config errors that must not leak what they
# read. An included file or a directory an include pattern lists that a user other than root
# (or tend's own user) could change is refused with FILE:LINE of the include's files= line,
# by `tend check` and by `tend daemon` alike, and nothing from it runs. A file that is not a
# config (here a symlink to a root-only 0600 file in shadow(5) format) is reported by file
# and line without a byte of its content. Run as root: other users' files are made with
# chown nobody.
. "$(dirname "$0")/lib.sh"

setup() {
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/ubsan"
    [ "$(id -u)" = 0 ] || skip "needs root (chown to nobody)"
    id nobody >/dev/null 2>&1 || skip "no user nobody"
    # mktemp -d made $T 0700 and ours; the parents are / and the sticky /tmp.
    cat >"$T/main.conf" <<EOF
[tend]
logfile=$T/tend.log
childlogdir=$T
socket=$T/tend.sock

[include]
files = conf.d/*.conf
EOF
    mkdir -m 0755 "$T/conf.d"
}

check_sanitizers() {
    local f
    for f in "$T"/asan.* "$T"/ubsan.*; do
        [ -e "$f" ] || continue
        if grep -Eq 'ERROR: AddressSanitizer|LeakSanitizer|runtime error' "$f"; then
            cat "$f"
            fail "sanitizer report in $f"
        fi
    done
}

run_check() {   # `tend check -c main.conf`: output in $T/c.out (both streams), status in $rc
    rc=0
    "$TEND" check -c "$T/main.conf" >"$T/c.out" 2>&1 </dev/null || rc=$?
    check_sanitizers
}

# A program that would prove it ran: it creates $T/ran.NAME.
program() {   # NAME
    printf '[program:%s]\ncommand=/bin/touch %s\nautorestart=false\nstartsecs=0\n' "$1" "$T/ran.$1"
}

re() { printf '%s' "$1" | sed 's/[][\.*^$(){}?+|/]/\\&/g'; }   # STRING: as a literal ERE
files_line() { grep -n '^files = ' "$T/main.conf" | cut -d: -f1; }

# A trusted include is read: the baseline the refusals are measured against.
t_trusted_include_is_read() {
    setup
    program ok >"$T/conf.d/ok.conf"
    run_check
    expect_eq "$rc" 0 "check status; output: $(cat "$T/c.out")"
}

# An included file owned by another user (nobody) is refused at the files= line.
t_file_owned_by_another_user() {
    setup
    program evil >"$T/conf.d/evil.conf"
    chown nobody "$T/conf.d/evil.conf"
    run_check
    expect_eq "$rc" 1 "check status"
    expect_file_match "$T/c.out" "^$(re "$T/main.conf"):$(files_line): error: files: refusing included file '$(re "$T/conf.d/evil.conf")': it is owned by uid $(id -u nobody), neither root nor tend's user\$"
    if grep -q 'program:evil\|\[program' "$T/c.out"; then fail "the file was read"; fi
}

# A file others can write (o+w; g+w for a group that is not root's) is refused; g+w for
# root's group is fine.
t_file_writable_by_others() {
    setup
    program w >"$T/conf.d/w.conf"
    chmod 0646 "$T/conf.d/w.conf"
    run_check
    expect_eq "$rc" 1 "check status (o+w)"
    expect_file_match "$T/c.out" ":$(files_line): error: files: refusing included file '.*/w.conf': it is writable by every user \(mode 0646\)\$"
    chmod 0664 "$T/conf.d/w.conf"
    chgrp "$(id -gn nobody)" "$T/conf.d/w.conf"
    run_check
    expect_eq "$rc" 1 "check status (g+w, nobody's group)"
    expect_file_match "$T/c.out" "it is writable by a group other than root's or tend's \(mode 0664\)\$"
    chgrp 0 "$T/conf.d/w.conf"
    run_check
    expect_eq "$rc" 0 "check status (g+w, root's group); output: $(cat "$T/c.out")"
}

# A world-writable include directory, even sticky like /tmp, is refused: anyone could drop a
# program in it. tend daemon refuses to start with the same FILE:LINE, and nothing runs.
t_world_writable_directory() {
    setup
    program dropped >"$T/conf.d/dropped.conf"
    chmod 1777 "$T/conf.d"
    run_check
    expect_eq "$rc" 1 "check status"
    expect_file_match "$T/c.out" "^$(re "$T/main.conf"):$(files_line): error: files: refusing 'conf.d/\*.conf': the directory $(re "$T/conf.d") it lists is writable by every user \(mode 1777\): they could add a program to it\$"
    rc=0
    timeout 20 "$TEND" daemon -n -c "$T/main.conf" >"$T/d.out" 2>&1 </dev/null || rc=$?
    [ "$rc" -ne 0 ] || fail "tend daemon started"
    expect_file_match "$T/d.out" "$(re "$T/main.conf"):$(files_line): error: files: refusing 'conf.d/\*.conf'"
    [ ! -e "$T/ran.dropped" ] || fail "the dropped program ran"
    check_sanitizers
}

# A directory on the way owned by another user, or a symlinked include directory whose link
# another user owns, is refused too.
t_parent_directory_and_symlink() {
    setup
    mkdir -m 0755 "$T/theirs" "$T/theirs/conf.d"
    program p >"$T/theirs/conf.d/p.conf"
    chown nobody "$T/theirs"
    sed -i "s|^files = .*|files = $T/theirs/conf.d/*.conf|" "$T/main.conf"
    run_check
    expect_eq "$rc" 1 "check status (parent owned by nobody)"
    expect_file_match "$T/c.out" ":$(files_line): error: files: refusing '.*': its directory $(re "$T/theirs") is owned by uid $(id -u nobody), neither root nor tend's user\$"
    chown 0 "$T/theirs"
    run_check
    expect_eq "$rc" 0 "check status (parent back to root); output: $(cat "$T/c.out")"
    # conf.d -> theirs/conf.d through a link nobody owns.
    rmdir "$T/conf.d"
    ln -s "$T/theirs/conf.d" "$T/conf.d"
    chown -h nobody "$T/conf.d"
    sed -i "s|^files = .*|files = conf.d/*.conf|" "$T/main.conf"
    run_check
    expect_eq "$rc" 1 "check status (link owned by nobody)"
    expect_file_match "$T/c.out" ":$(files_line): error: files: refusing 'conf.d/\*.conf': it is reached through symlink $(re "$T/conf.d"), owned by uid $(id -u nobody) \(neither root nor tend's user\)\$"
}

# An included symlink to a root-only file that is not a config (shadow(5) lines): every
# error names the file and line, and no byte of it is shown.
t_unparsable_file_is_not_quoted() {
    setup
    local secret='root:$6$Xq3kT7wz$Sup3rS3cretHashValue0123456789abcdef:19700:0:99999:7:::'
    printf '%s\nbin:*:19700:0:99999:7:::\nplainword\n[broken\n[tend] junk\n' "$secret" \
        >"$T/shadow"
    chmod 0600 "$T/shadow"
    ln -s "$T/shadow" "$T/conf.d/x.conf"
    run_check
    expect_eq "$rc" 1 "check status"
    expect_file_match "$T/c.out" "^$(re "$T/conf.d/x.conf"):1: error: a key \('key = value'\) before any \[section\] \(the line is not shown\)\$"
    expect_file_match "$T/c.out" "^$(re "$T/conf.d/x.conf"):3: error: expected '\[section\]', 'key = value' or a comment \(the line is not shown\)\$"
    expect_file_match "$T/c.out" "^$(re "$T/conf.d/x.conf"):4: error: section header is missing its closing '\]'\$"
    expect_file_match "$T/c.out" "^$(re "$T/conf.d/x.conf"):5: error: unexpected text after the section header's '\]'\$"
    for word in root Sup3rS3cret 19700 plainword broken junk bin; do
        if grep -q -- "$word" "$T/c.out"; then
            cat "$T/c.out"
            fail "the output shows '$word' from the file"
        fi
    done
    # The JSON form as well.
    "$TEND" check --json -c "$T/main.conf" >"$T/j.out" 2>&1 </dev/null || true
    if grep -q -- 'Sup3rS3cret\|plainword\|root:' "$T/j.out"; then fail "check --json shows content"; fi
}

run_tests
