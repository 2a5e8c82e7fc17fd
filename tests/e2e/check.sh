#!/usr/bin/env bash
# End-to-end tests of `tend check -c FILE`: a valid config is "ok" with status 0; every
# mistake in a config is reported, each with its file and exact line, and the status is 1;
# supervisord keys tend does not support are warnings only (status 0). check runs nothing.
#
# Line numbers are not written by hand: each is looked up in the config text by the line's
# content, so editing a config keeps the test right.
. "$(dirname "$0")/lib.sh"

setup() {
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/ubsan"
}

check_sanitizers() {
    local f
    for f in "$T"/*.err "$T"/asan.* "$T"/ubsan.*; do
        [ -e "$f" ] || continue
        if grep -Eq 'ERROR: AddressSanitizer|LeakSanitizer|runtime error' "$f"; then
            echo "--- $f:"
            sed '/^Shadow bytes around/,$d' "$f"   # the report without the shadow map
            fail "sanitizer report in $f"
        fi
    done
}

# run_check ARGS...: `tend check ARGS` with stdout, stderr and status in $T/c.out, $T/c.err
# and $rc; nothing a sanitizer reports is tolerated.
run_check() {
    rc=0
    "$TEND" check "$@" >"$T/c.out" 2>"$T/c.err" </dev/null || rc=$?
    check_sanitizers
}

output() { cat "$T/c.out" "$T/c.err"; }

# line_of FILE TEXT: the number of the line of FILE that is exactly TEXT (exactly one must be).
line_of() {
    local n
    n=$(grep -nxF -- "$2" "$1" | cut -d: -f1)
    [ "$(printf '%s\n' "$n" | grep -c .)" = 1 ] || fail "test bug: '$2' is not one line of $1"
    echo "$n"
}

# expect_diag FILE LINE SEVERITY ERE: exactly one diagnostic "FILE:LINE: SEVERITY: ..." and
# it matches ERE.
expect_diag() {
    local lines
    lines=$(output | grep -F -- "$1:$2: $3: " || true)
    [ -n "$lines" ] || { output; fail "no $3 reported at $1:$2"; }
    [ "$(printf '%s\n' "$lines" | grep -c .)" = 1 ] || fail "several diagnostics at $1:$2: $lines"
    expect_match "$lines" "$4" "the $3 at $1:$2"
}

# count_diags SEVERITY: how many "FILE:LINE: SEVERITY: " lines were printed.
count_diags() { output | grep -Ec -- "^[^ ]+:[0-9]+: $1: " || true; }

# ---------------------------------------------------------------------------------------------

# A valid config in supervisord's dialect (aliases, groups, numprocs, an include) is ok, with
# the number of processes it defines; nothing is started and nothing is warned about.
t_valid_config_ok() {
    setup
    mkdir "$T/conf.d"
    cat >"$T/tend.conf" <<EOF
; a comment
[supervisord]
logfile=$T/tend.log
pidfile=$T/tend.pid
loglevel=info

[unix_http_server]
file=$T/tend.sock
chmod=0700

[program:a]
command=$H/exitwith -r $T/started 0
autostart=true
autorestart=unexpected
exitcodes=0,2
startsecs=3
startretries=5
stopsignal=INT
stopwaitsecs=7
stopasgroup=true
priority=-1
directory=$T
umask=022
environment=A="1",B="two words"
redirect_stderr=true
stdout_logfile=$T/a.out

[program:web]
command=$H/exitwith -r $T/started 0 %(process_num)d
process_name=%(program_name)s_%(process_num)02d
numprocs=2

[group:g]
programs=a,web
priority=10

[include]
files=conf.d/*.conf
EOF
    cat >"$T/conf.d/more.conf" <<EOF
[program:inc]
command=$H/exitwith -r $T/started 0
EOF
    run_check -c "$T/tend.conf"
    expect_eq "$rc" 0 "status of tend check on a valid config; output: $(output)"
    expect_eq "$(cat "$T/c.out")" "$T/tend.conf: ok (4 processes)" "what check prints"
    [ ! -s "$T/c.err" ] || fail "check printed on stderr: $(cat "$T/c.err")"
    [ ! -e "$T/started" ] || fail "tend check started a program"
    [ ! -e "$T/tend.pid" ] && [ ! -e "$T/tend.log" ] && [ ! -e "$T/tend.sock" ] ||
        fail "tend check created files: $(ls "$T")"
}

# Every mistake is reported, not just the first, each at its own line: bad values, an unknown
# section with a suggestion, a missing command; an unknown key (with the nearest valid one) and
# a supervisord key tend does not support are warnings only, as supervisord ignores both.
# Status 1 and no "ok".
t_errors_each_with_line() {
    setup
    local f=$T/bad.conf
    cat >"$f" <<'EOF'
[tend]
logfle=/tmp/tend-e2e-x.log

[program:a]
command=/bin/true
startsec=3
autorestart=maybe

[programme:b]
command=/bin/true

[program:c]
autostart=true

[program:d]
command=/bin/sleep 1
serverurl=AUTO
startsecs=abc
stopsignal=BOGUS
exitcodes=0,300
EOF
    run_check -c "$f"
    expect_eq "$rc" 1 "status of tend check on a config with errors; output: $(output)"
    if output | grep -q ': ok'; then fail "check said ok: $(output)"; fi
    expect_diag "$f" "$(line_of "$f" 'logfle=/tmp/tend-e2e-x.log')" warning \
        "unknown key 'logfle' in \\[tend\\].*did you mean 'logfile'"
    expect_diag "$f" "$(line_of "$f" 'startsec=3')" warning \
        "unknown key 'startsec' in \\[program:a\\].*did you mean 'startsecs'"
    expect_diag "$f" "$(line_of "$f" 'autorestart=maybe')" error "autorestart.*'maybe'"
    expect_diag "$f" "$(line_of "$f" '[programme:b]')" error \
        "unknown section \\[programme:b\\].*did you mean \\[program:b\\]"
    expect_diag "$f" "$(line_of "$f" '[program:c]')" error "\\[program:c\\].*command"
    expect_diag "$f" "$(line_of "$f" 'serverurl=AUTO')" warning \
        "serverurl.*not supported"
    expect_diag "$f" "$(line_of "$f" 'startsecs=abc')" error "startsecs.*'abc'"
    expect_diag "$f" "$(line_of "$f" 'stopsignal=BOGUS')" error "stopsignal.*'BOGUS'"
    expect_diag "$f" "$(line_of "$f" 'exitcodes=0,300')" error "exitcodes.*'300'"
    expect_eq "$(count_diags error)" 6 "errors reported; output: $(output)"
    expect_eq "$(count_diags warning)" 3 "warnings reported; output: $(output)"
}

# Only warnings (supervisord keys tend does not support and a key nobody knows, in three kinds
# of section): each is reported at its line, and the config is ok.
t_warnings_only_exit_0() {
    setup
    local f=$T/warn.conf
    cat >"$f" <<EOF
[supervisord]
logfile=$T/tend.log
nosuchkey=true

[unix_http_server]
file=$T/tend.sock
username=someone

[program:d]
command=/bin/sleep 1
serverurl=AUTO
EOF
    run_check -c "$f"
    expect_eq "$rc" 0 "status of tend check with warnings only; output: $(output)"
    expect_match "$(cat "$T/c.out")" "^$f: ok \\(1 process\\)\$" "what check prints"
    expect_diag "$f" "$(line_of "$f" 'nosuchkey=true')" warning "unknown key 'nosuchkey'"
    expect_diag "$f" "$(line_of "$f" 'username=someone')" warning "username"
    expect_diag "$f" "$(line_of "$f" 'serverurl=AUTO')" warning "serverurl"
    expect_eq "$(count_diags warning)" 3 "warnings reported"
    expect_eq "$(count_diags error)" 0 "errors reported"
}

# What supervisord runs, tend runs: keys it ignores (inherit= in a program, program keys pasted
# into [supervisord], a typo) are warnings that name FILE:LINE and the nearest valid key, and
# [ctlplugin:x] (a supervisorctl section) is ignored. --strict makes every warning an error:
# the same lines, status 1.
t_lenient_and_strict() {
    setup
    local f=$T/lenient.conf
    cat >"$f" <<EOF
[supervisord]
logfile=$T/tend.log
autorestart=true

[ctlplugin:wildcards]
supervisor.ctl_factory = supervisorwildcards.controllerplugin:make_wildcards_controllerplugin

[program:d]
command=/bin/sleep 1
inherit=base
stopwaitsec=3
EOF
    run_check -c "$f"
    expect_eq "$rc" 0 "status of tend check on a config supervisord runs; output: $(output)"
    expect_match "$(cat "$T/c.out")" "^$f: ok \\(1 process\\)\$" "what check prints"
    expect_diag "$f" "$(line_of "$f" 'autorestart=true')" warning \
        "unknown key 'autorestart' in \\[supervisord\\]"
    expect_diag "$f" "$(line_of "$f" 'inherit=base')" warning "unknown key 'inherit'"
    expect_diag "$f" "$(line_of "$f" 'stopwaitsec=3')" warning \
        "unknown key 'stopwaitsec'.*did you mean 'stopwaitsecs'"
    expect_eq "$(count_diags warning)" 3 "warnings reported; output: $(output)"
    expect_eq "$(count_diags error)" 0 "errors reported; output: $(output)"

    run_check --strict -c "$f"
    expect_eq "$rc" 1 "status of tend check --strict with warnings; output: $(output)"
    if output | grep -q ': ok'; then fail "check --strict said ok: $(output)"; fi
    expect_diag "$f" "$(line_of "$f" 'inherit=base')" error "unknown key 'inherit'"
    expect_diag "$f" "$(line_of "$f" 'stopwaitsec=3')" error "did you mean 'stopwaitsecs'"
    expect_eq "$(count_diags error)" 3 "errors under --strict; output: $(output)"
    expect_eq "$(count_diags warning)" 0 "warnings left under --strict; output: $(output)"

    local out
    out=$("$TEND" check --json --strict "$f") && fail "check --json --strict exited 0"
    expect_eq "$(python3 -c 'import json, sys; d = json.load(sys.stdin)
print(d["ok"], sorted(set(x["severity"] for x in d["diagnostics"])))' <<<"$out")" \
        "False ['error']" "check --json --strict"

    # Without warnings, --strict changes nothing.
    sed -i '/^autorestart=true$/d; /^inherit=base$/d; s/^stopwaitsec=3$/stopwaitsecs=3/' "$f"
    run_check --strict -c "$f"
    expect_eq "$rc" 0 "status of tend check --strict on a clean config; output: $(output)"
}

# A mistake in an included file is reported with that file's path (one that names it from
# where check runs) and its line, along with the main file's own mistakes.
t_errors_in_included_file() {
    setup
    mkdir -p "$T/etc/conf.d"
    cat >"$T/etc/main.conf" <<'EOF'
[program:a]
command=/bin/true
priority=high

[include]
files=conf.d/*.conf
EOF
    cat >"$T/etc/conf.d/x.conf" <<'EOF'
[program:x]
command=/bin/true
autostart=maybe
EOF
    run_check -c etc/main.conf
    expect_eq "$rc" 1 "status; output: $(output)"
    expect_diag etc/main.conf "$(line_of "$T/etc/main.conf" 'priority=high')" error "priority.*'high'"
    local line file
    line=$(output | grep -F "x.conf:$(line_of "$T/etc/conf.d/x.conf" 'autostart=maybe'): error: " || true)
    [ -n "$line" ] || fail "no error at line 3 of the included file: $(output)"
    expect_match "$line" "autostart: 'maybe'" "the included file's error"
    file=${line%%:*}
    [ -e "$file" ] && [ "$(realpath "$file")" = "$T/etc/conf.d/x.conf" ] ||
        fail "the included file is reported as '$file', which does not name it from $PWD"
    expect_eq "$(count_diags error)" 2 "errors reported; output: $(output)"
}

# A missing file is an error naming it; bad arguments are a usage error (status 2).
t_missing_file_and_usage() {
    setup
    run_check -c "$T/nope.conf"
    expect_eq "$rc" 1 "status of tend check on a missing file"
    expect_match "$(output)" "$T/nope.conf.*No such file or directory" "the message"
    if output | grep -q ': ok'; then fail "check said ok: $(output)"; fi

    printf '[program:a]\ncommand=/bin/true\n' >"$T/ok.conf"
    run_check -c "$T/ok.conf" extra
    expect_eq "$rc" 2 "status of tend check with an extra argument; output: $(output)"
    run_check -c
    expect_eq "$rc" 2 "status of tend check -c without a file; output: $(output)"
    run_check --bogus
    expect_eq "$rc" 2 "status of tend check --bogus; output: $(output)"
}

run_tests
