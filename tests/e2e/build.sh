#!/usr/bin/env bash
# End-to-end tests of the first build and the demo (issue 14): a plain `make` builds daeml
# too, `make demo` installs only what building needs (no linters), and the demo's port is
# free by default or the one TEND_DEMO_PORT names.
#
# The Makefile is asked with `make -n` (what it would run, nothing run) in a copy of the
# tree, so that the answer does not depend on what this tree has built already.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)

copy_tree() {   # the files the Makefile reads, into $T/tree
    mkdir -p "$T/tree/tests"
    cp -r "$ROOT/Makefile" "$ROOT/src" "$ROOT/scripts" "$ROOT/examples" "$ROOT/bench" "$T/tree/"
    cp -r "$ROOT/tests/helpers" "$ROOT/tests/unit" "$T/tree/tests/"
}

# ---------------------------------------------------------------------------------------------

# `make` alone builds tend, the daeml link and the test programs.
t_plain_make_builds_daeml() {
    copy_tree
    local out
    out=$(make -n -C "$T/tree" 2>&1) || fail "make -n: $out"
    expect_match "$out" 'ln -sf tend build/daeml' "make builds the daeml link"
    expect_match "$out" '-o build/tend( |$)' "make builds tend"
}

# make demo installs the build set only; the build set has no linter in it.
t_demo_installs_build_deps_only() {
    copy_tree
    local out
    out=$(make -n -C "$T/tree" demo 2>&1) || fail "make -n demo: $out"
    expect_match "$out" 'sh scripts/deps.sh build' "demo's deps"
    if printf '%s\n' "$out" | grep -Eq 'deps.sh( all)?$'; then fail "demo installs every set"; fi
    local build
    build=$(sh "$ROOT/scripts/deps.sh" --list build)
    ! printf '%s\n' "$build" | grep -Eqx 'cppcheck|clang-tidy' || fail "linters in the build set"
    printf '%s\n' "$build" | grep -qx gcc || fail "no compiler in the build set"
    # check still installs everything, linters and supervisor included.
    out=$(make -n -C "$T/tree" check 2>&1 | head -n 3)
    expect_match "$out" 'sh scripts/deps.sh all' "check's deps"
    local all
    all=$(sh "$ROOT/scripts/deps.sh" --list all)
    for p in cppcheck clang-tidy supervisor; do
        printf '%s\n' "$all" | grep -qx "$p" || fail "$p not in the all set"
    done
}

# The demo's port: a free one by default (said at the start), or TEND_DEMO_PORT's.
t_demo_port() {
    [ -x "$ROOT/build/examples/standin" ] && [ -x "$ROOT/build/helpers/e2e_httpd" ] ||
        skip "the demo needs the plain build (make build-all)"
    local out port
    out=$(cd "$ROOT" && TEND_DEMO_DIR=$T/demo bash examples/demo.sh build 2>&1) ||
        { echo "$out"; fail "the demo failed"; }
    port=$(printf '%s\n' "$out" | sed -n 's/^demo: business listens on 127\.0\.0\.1:\([0-9]*\) .*/\1/p')
    [ -n "$port" ] || { echo "$out"; fail "the demo does not say its port"; }
    expect_match "$out" "business answers on 127\.0\.0\.1:$port" "the port used"
    port=$("$ROOT/build/helpers/e2e_httpd" --free-port)
    out=$(cd "$ROOT" && TEND_DEMO_DIR=$T/demo2 TEND_DEMO_PORT=$port bash examples/demo.sh build 2>&1) ||
        { echo "$out"; fail "the demo failed with TEND_DEMO_PORT"; }
    expect_match "$out" "business listens on 127\.0\.0\.1:$port " "TEND_DEMO_PORT"
}

run_tests
