#!/usr/bin/env bash
# The status page of tend-web in a real browser: Debian's Chromium, headless, driven by
# puppeteer-core from npm (tests/browser/package.json and its lock, installed under
# build/browser on first use). tend runs programs a and b; tests/browser/page.test.js opens
# the page (no password: loopback) and checks that it lists them, that its restart button
# restarts a and the row shows the new pid, that b killed with SIGKILL shows up restarted
# without a reload, that the log panel follows a's output, and that the page loads nothing
# from outside and raises no script error (the CSP would report a violation as one). This
# script then compares the pids the page showed with what `tend` says.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/tendcase.bash"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_DIR=$ROOT/build/browser

# puppeteer-core, exactly as locked; reinstalled only when the lock changed.
install_puppeteer() {
    command -v node >/dev/null && command -v npm >/dev/null ||
        fail "node and npm are needed (scripts/deps.sh installs them)"
    [ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (scripts/deps.sh installs chromium)"
    mkdir -p "$NODE_DIR"
    if ! cmp -s "$ROOT/tests/browser/package-lock.json" "$NODE_DIR/package-lock.json" ||
        [ ! -d "$NODE_DIR/node_modules/puppeteer-core" ]; then
        cp "$ROOT/tests/browser/package.json" "$ROOT/tests/browser/package-lock.json" "$NODE_DIR/"
        # --ignore-scripts: puppeteer-core downloads no browser; Debian's is the one used.
        (cd "$NODE_DIR" && npm ci --no-audit --no-fund --ignore-scripts) >"$T/npm.log" 2>&1 ||
            fail "npm ci failed: $(tail -n 5 "$T/npm.log")"
    fi
}

t_status_page_in_chromium() {
    setup
    chmod 711 "$T"
    mkdir -p "$T/san"
    chmod 1777 "$T/san"
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$T/san/asan"
    export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$T/san/ubsan"
    install_puppeteer
    local p
    for p in a b; do
        printf '[program:%s]\ncommand=/bin/sh -c %s\nstopasgroup=true\nstartsecs=0\n' "$p" \
            "'i=0; while :; do i=\$((i+1)); echo $p line \$i; sleep 0.2; done'"
    done | { cat; printf '[inet_http_server]\nport=127.0.0.1:0\n'; } | write_conf identifier=e2e
    start_tend
    waitfor "$T/logs/e2e/tend-web-stdout.log" 'listening on http://' 20 >/dev/null || fail "no tend-web"
    local url
    url=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+/' "$T/logs/e2e/tend-web-stdout.log" | tail -n 1)
    NODE_PATH=$NODE_DIR/node_modules timeout 120 node "$ROOT/tests/browser/page.test.js" \
        "$url" "$T/chrome-profile" >"$T/page.out" 2>&1 || {
        cat "$T/page.out"
        fail "the page test failed"
    }
    cat "$T/page.out"
    r() { sed -n "s/^result $1 //p" "$T/page.out"; }
    expect_eq "$(r listed)" "a,b,tend-web" "the processes the page lists"
    [ "$(r new_a)" != "$(r old_a)" ] || fail "a's pid did not change on the page"
    expect_eq "$(r new_a)" "$(tendctl pid a)" "a's new pid on the page vs tend"
    expect_eq "$(r new_b)" "$(tendctl pid b)" "b's new pid on the page vs tend"
    expect_eq "$(r restarts_b)" 1 "b's restarts on the page"
    stop_tend
    local f
    for f in "$T"/san/*; do
        [ -e "$f" ] || continue
        grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error' "$f" && { cat "$f"; fail "sanitizer report"; }
    done
    return 0
}

run_tests
