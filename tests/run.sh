#!/usr/bin/env bash
# Runs every unit test binary and every end-to-end script against each build directory given
# (e.g. `build build/asan`), prints one line per test case, and ends with "N passed, M failed".
# A test file that crashes or times out counts as one failure under its own name.
set -u
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || set -- build
only=${TEST_ONLY:-}          # optional substring filter on test file names
per_file_timeout=${TEST_TIMEOUT:-900}
passed=0 failed=0 skipped=0
failures=()

account() {                  # $1 = label prefix; reads a test file's output on stdin
    local prefix=$1 line saw=0
    while IFS= read -r line; do
        case $line in
            "ok "*)   passed=$((passed + 1)); saw=1; echo "ok $prefix${line#ok }" ;;
            "skip "*) skipped=$((skipped + 1)); saw=1; echo "skip $prefix${line#skip }" ;;
            "FAIL "*) failed=$((failed + 1)); saw=1; failures+=("$prefix${line#FAIL }")
                      echo "FAIL $prefix${line#FAIL }" ;;
            *" passed, "*" failed"*) ;;   # the file's own summary; we print ours
            *) echo "    $line" ;;
        esac
    done
    return $saw
}

for dir in "$@"; do
    flavour=$(basename "$dir"); [ "$dir" = build ] && flavour=plain
    export TEND_BUILD="$PWD/$dir" TEND="$PWD/$dir/tend" DAEML="$PWD/$dir/daeml"
    # The helper programs are test tools, not the code under test: the plain build's are
    # used for every flavour when they exist (an ASan start-up per helper call adds up).
    if [ -d build/helpers ]; then
        export TEND_HELPERS="$PWD/build/helpers"
    else
        export TEND_HELPERS="$PWD/$dir/helpers"
    fi
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
    for t in "$dir"/tests/test_* tests/e2e/*.sh; do
        [ -e "$t" ] || continue
        case $t in *"$only"*) ;; *) continue ;; esac
        case $t in */lib.sh) continue ;; esac   # the e2e scripts' library, not a test
        name=$(basename "$t" .sh)
        case $t in *.sh) cmd=(bash "$t") ;; *) cmd=("$t") ;; esac
        out=$(timeout -k 5 "$per_file_timeout" "${cmd[@]}" 2>&1); rc=$?
        # Process substitution, not a pipe: account must run in this shell to count.
        case $t in *.sh) prefix="[$flavour] " ;; *) prefix="[$flavour] $name/" ;; esac
        if account "$prefix" < <(printf '%s\n' "$out"); then
            # No case lines at all: the file itself broke.
            failed=$((failed + 1)); failures+=("[$flavour] $name (exit $rc, no results)")
            echo "FAIL [$flavour] $name (exit $rc, no results)"
        elif [ $rc -ne 0 ] && ! printf '%s\n' "$out" | grep -q '^FAIL '; then
            failed=$((failed + 1)); failures+=("[$flavour] $name (exit $rc)")
            echo "FAIL [$flavour] $name (exit $rc after its cases passed)"
        fi
    done
done

if [ $failed -gt 0 ]; then
    echo "failures:"; printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
