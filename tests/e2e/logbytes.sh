#!/usr/bin/env bash
# `tend logs` shows a program's output byte for byte: a NUL no longer cuts the line. Written
# to a file or pipe, and with --raw anywhere, the bytes are exactly the program's; on a
# terminal (a real pty, tests/helpers/inpty) control bytes, NUL and bytes that are not UTF-8
# are escaped visibly. The same holds for several processes (name | line) and for -f.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tendcase.bash"

# The program: two lines full of awkward bytes, then (once the test writes to its FIFO) a
# third, then it stays up.
#   line 1: a NUL b TAB c ESC[31m red CR \back 0xff 0xfe é(UTF-8) U+0085(C1, UTF-8) end
#   line 2: plain
#   line 3: x NUL y
make_program() {
    mkfifo "$T/go"
    cat >"$T/bytes.sh" <<EOF
#!/bin/sh
printf 'a\\000b\\tc\\033[31mred\\r\\\\back\\377\\376\\303\\251\\302\\205end\\nplain\\n'
read -r _ <"$T/go"
printf 'x\\000y\\n'
exec sleep 100000
EOF
    chmod +x "$T/bytes.sh"
    printf '[program:b]\ncommand=%s\nstdout_logfile=%s\nstartsecs=0\n' "$T/bytes.sh" "$T/b.log" |
        write_conf
}

# The exact bytes of the first two lines, and of the third.
expected_raw() { printf 'a\000b\tc\033[31mred\r\\back\377\376\303\251\302\205end\nplain\n'; }
expected_tty() { printf '%s\n' 'a\0b	c\x1b[31mred\r\\back\xff\xfeé\xc2\x85end' plain; }

same_bytes() {   # FILE EXPECTED-FILE WHAT
    cmp -s "$1" "$2" || {
        echo "--- got:"; od -c "$1" | head -n 20
        echo "--- expected:"; od -c "$2" | head -n 20
        fail "$3: the bytes differ"
    }
}

t_nul_and_control_bytes() {
    setup
    make_program
    start_tend
    waitfor "$T/b.log" '^plain$' 15 || fail "the program's output was not captured"
    expected_raw >"$T/want.raw"
    expected_tty >"$T/want.tty"
    # The capture itself kept every byte.
    same_bytes "$T/b.log" "$T/want.raw" "the log file"
    # Not a terminal: the bytes as they are; --raw the same.
    tendctl logs b >"$T/got.pipe"
    same_bytes "$T/got.pipe" "$T/want.raw" "tend logs into a pipe"
    tendctl logs --raw b >"$T/got.raw"
    same_bytes "$T/got.raw" "$T/want.raw" "tend logs --raw"
    # On a terminal: escaped; with --raw: exact.
    "$H/inpty" "$TEND" -s "$T/tend.sock" logs b >"$T/got.tty"
    same_bytes "$T/got.tty" "$T/want.tty" "tend logs on a terminal"
    "$H/inpty" "$TEND" -s "$T/tend.sock" logs --raw b >"$T/got.ttyraw"
    same_bytes "$T/got.ttyraw" "$T/want.raw" "tend logs --raw on a terminal"
    # Several processes (here: all): each line after the name, bytes intact.
    tendctl logs all >"$T/got.all"
    expected_raw | sed 's/^/b | /' >"$T/want.all"
    same_bytes "$T/got.all" "$T/want.all" "tend logs all"
    # --raw is an option of logs only.
    if tendctl status --raw >/dev/null 2>"$T/st.err"; then fail "status --raw accepted"; fi
    expect_file_match "$T/st.err" "options of logs"
    stop_tend
}

t_follow_keeps_nul_lines() {
    local f
    setup
    make_program
    start_tend
    waitfor "$T/b.log" '^plain$' 15 || fail "the program's output was not captured"
    tendctl logs -f -n 1 b >"$T/follow.out" 2>"$T/follow.err" &
    f=$!
    TRACKED="$TRACKED $f"
    # The last line arrives once tend watches the log's directory for this follower (it
    # sends the tail after setting the watch): a line written now must reach it. The FIFO
    # lets the program write its third line.
    waitfor "$T/follow.out" '^plain$' 15 || fail "the follower did not start"
    echo go >"$T/go"
    waitfor "$T/follow.out" '^x' 15 || fail "the followed line did not arrive"
    printf 'plain\nx\000y\n' >"$T/want.follow"
    same_bytes "$T/follow.out" "$T/want.follow" "tend logs -f"
    kill -TERM "$f"
    stop_tend
}

run_tests
