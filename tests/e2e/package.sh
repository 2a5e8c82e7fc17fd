#!/usr/bin/env bash
# End-to-end test of the Debian package: `make deb` builds it from a clean copy of the tree,
# lintian finds nothing to say, dpkg installs it, tend runs a program from /etc/tend/conf.d/
# with the package's own /etc/tend/tend.conf (found by default, no -c), the shipped unit
# passes `systemd-analyze verify`, and removing and purging the package leaves no file,
# directory or process behind.
#
# It installs into the real system, so: it runs only as root, only for the plain flavour (the
# package is the same for every flavour), never while a tend package or /etc/tend is already
# there (it would not be ours to purge), and a trap purges the package and kills whatever it
# started even when a step fails. The cases share one build, in $PKG (removed at the end).
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PKG=$(mktemp -d /tmp/tend-pkg.XXXXXX)
trap 'rm -rf "$PKG"' EXIT
DEB=$PKG/deb/tend_*_*.deb

can_run() {
    case ${TEND_BUILD:-} in */asan) skip "the package is built once, by the plain flavour" ;; esac
    [ "$(id -u)" = 0 ] || skip "installs a package: needs root"
    command -v dpkg-buildpackage >/dev/null && command -v lintian >/dev/null ||
        skip "dpkg-dev, debhelper or lintian missing (scripts/deps.sh installs them)"
}

# The build: from a copy of the tree, into $PKG/deb, then what the .deb holds.
t_build() {
    can_run
    # The unit tests run on their own in make check (nocheck), and the -dbgsym package is
    # not needed here: on a loaded machine each costs minutes of this file's time budget.
    DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" DEB_OUT=$PKG/deb \
        sh "$ROOT/scripts/deb.sh" >build.out 2>&1 || { cat build.out; fail "make deb"; }
    set -- $DEB
    [ -f "$1" ] || fail "no .deb in $PKG/deb: $(ls "$PKG/deb")"
    dpkg-deb -c "$1" | awk '{ print $6 $7 $8 }' | sed 's|^\./|/|' >contents
    local want
    for want in /usr/bin/tend /usr/bin/tend-keeper "/usr/sbin/daeml->../bin/tend" \
        /usr/share/man/man1/tend.1.gz \
        /usr/share/man/man5/tend.conf.5.gz /usr/share/man/man8/daeml.8.gz /etc/tend/tend.conf \
        /etc/tend/conf.d/ /lib/systemd/system/tend.service /usr/lib/tmpfiles.d/tend.conf \
        /usr/share/bash-completion/completions/tend /usr/share/zsh/vendor-completions/_tend \
        /usr/share/doc/tend/examples/article.conf /usr/share/doc/tend/copyright; do
        grep -qxF -- "$want" contents || { cat contents; fail "$want is not in the package"; }
    done
    # Stripped in the package (dh_strip), with the hardening flags of dpkg-buildflags.
    mkdir x && dpkg-deb -x "$1" x
    ! readelf -S x/usr/bin/tend | grep -q '\.debug_info' || fail "/usr/bin/tend is not stripped"
    ! readelf -S x/usr/bin/tend-keeper | grep -q '\.debug_info' ||
        fail "/usr/bin/tend-keeper is not stripped"
    ! readelf -l x/usr/bin/tend-keeper | grep -q 'INTERP' ||
        fail "/usr/bin/tend-keeper is not statically linked"
    readelf -d x/usr/bin/tend | grep -q 'BIND_NOW' || fail "/usr/bin/tend: no -z now"
    readelf -l x/usr/bin/tend | grep -q 'GNU_RELRO' || fail "/usr/bin/tend: no relro"
    readelf -W --dyn-syms x/usr/bin/tend | grep -q '__stack_chk_fail' ||
        fail "/usr/bin/tend: no stack protector"
    readelf -W --dyn-syms x/usr/bin/tend | grep -q '_chk@' || fail "/usr/bin/tend: not fortified"
    # The project's warnings stayed on, after Debian's CFLAGS.
    grep -q -- '-fstack-protector-strong .*-Werror -Wshadow -Wformat=2' "$PKG"/deb/build.log ||
        fail "the compile line lacks Debian's flags followed by -Werror -Wformat=2"
}

t_lintian() {
    can_run
    set -- $DEB
    [ -f "$1" ] || fail "no package (t_build failed)"
    # Every tag at every level but the experimental ones; overrides carry their reasons.
    lintian --pedantic -I -E --fail-on error,warning,info,pedantic "$1" >lintian.out 2>&1 || {
        cat lintian.out; fail "lintian"; }
    ! grep -E '^[EWIPX]: ' lintian.out || fail "lintian has something to say"
}

# Everything the package put on the system, and a trap that takes it all away again.
INSTALLED=""
restore() {
    local rc=$? p
    set +e
    for p in $(tend_pids); do kill -KILL "$p"; "$H/waitfor" -t 10 --gone "$p"; done
    [ -n "$SLEEPER" ] && kill -KILL "$SLEEPER" 2>/dev/null
    if [ -n "$INSTALLED" ]; then
        rm -f /etc/tend/conf.d/e2e.conf
        dpkg --purge tend >>dpkg.out 2>&1 || { cat dpkg.out; rc=1; }
    fi
    exit "$rc"
}
# Processes running the installed binaries (tend, daeml or tend-keeper), whatever their name.
tend_pids() {
    local f
    for f in /proc/[0-9]*/exe; do
        case $(readlink "$f" 2>/dev/null) in
            /usr/bin/tend | "/usr/bin/tend (deleted)" | /usr/bin/tend-keeper | \
                "/usr/bin/tend-keeper (deleted)")
                f=${f%/exe}; echo "${f#/proc/}" ;;
        esac
    done
}
SLEEPER=""

t_install_run_purge() {
    can_run
    set -- $DEB
    [ -f "$1" ] || fail "no package (t_build failed)"
    local version=${1##*/tend_}
    version=${version%%_*}
    if dpkg-query -W -f='${Status}' tend 2>/dev/null | grep -q installed; then
        skip "a tend package is already installed here: not ours to purge"
    fi
    [ ! -e /etc/tend ] || skip "/etc/tend exists and is not from our package"
    [ -z "$(tend_pids)" ] || skip "/usr/bin/tend is already running"
    # Other supervisors on this machine (other tests, as root) may share /run/tend: it must
    # be gone afterwards only if it was not there before.
    local run_dir=/run/tend
    [ -e /run/tend ] && run_dir=""
    trap restore EXIT
    INSTALLED=1
    dpkg -i "$1" >dpkg.out 2>&1 || { cat dpkg.out; fail "dpkg -i"; }
    dpkg -L tend >files
    [ -x /usr/bin/tend ] && [ "$(readlink -f /usr/sbin/daeml)" = /usr/bin/tend ] ||
        fail "tend or daeml not installed"
    expect_eq "$(/usr/sbin/daeml --version)" "daeml (tend) $version" "daeml --version"
    [ -d /run/tend ] || fail "no /run/tend after the install (tmpfiles)"
    [ -n "$run_dir" ] && expect_eq "$(stat -c %a:%U /run/tend)" 700:root "/run/tend (tmpfiles)"

    # The unit, checked offline: systemd-analyze needs no running systemd for this.
    systemd-analyze verify /lib/systemd/system/tend.service >verify.out 2>&1 ||
        { cat verify.out; fail "systemd-analyze verify"; }
    ! grep -q . verify.out || { cat verify.out; fail "systemd-analyze verify has warnings"; }

    # A program in conf.d, run by `tend daemon` with the package's config found by default.
    cat >/etc/tend/conf.d/e2e.conf <<EOF
[program:e2e-sleeper]
command = sh -c 'echo e2e-sleeper up; exec $H/sleeper -r $T/ready'
startsecs = 0
EOF
    /usr/bin/tend check >check.out 2>&1 || { cat check.out; fail "tend check"; }
    /usr/bin/tend daemon >daemon.out 2>&1 </dev/null || { cat daemon.out; fail "tend daemon"; }
    waitfor "$T/ready" '^ready [0-9]+$' 15 || fail "the program did not start"
    SLEEPER=$(sed -n 's/^ready //p' "$T/ready")
    local tend_pid
    tend_pid=$(/usr/bin/tend pid) || fail "tend pid"
    # Two: the keeper (tend daemon) and the supervisor (tend pid), its child.
    expect_eq "$(tend_pids | sort -n | tr '\n' ' ')" \
        "$(printf '%s\n' "$tend_pid" "$(awk '{print $4}' "/proc/$tend_pid/stat")" | sort -n | tr '\n' ' ')" \
        "the running /usr/bin/tend processes"
    expect_match "$(/usr/bin/tend status)" "^e2e-sleeper +RUNNING +$SLEEPER " "tend status"
    [ -S /run/tend/tend.sock ] || fail "no socket /run/tend/tend.sock"
    expect_file_match /var/log/tend/tend.log "started as pid $tend_pid \\(keeper [0-9]+\\) with /etc/tend/tend.conf"
    # Its first line, through tend logs (which writes out what the pipe holds first), in an
    # AUTO file under /var/log/tend (in the supervisor instance's own directory).
    expect_match "$(/usr/bin/tend logs e2e-sleeper)" "^e2e-sleeper up\$" "tend logs e2e-sleeper"
    ls /var/log/tend/*/e2e-sleeper-stdout.log >/dev/null 2>&1 || fail "no child log in /var/log/tend"
    # Completion as installed, loaded the way bash-completion loads it.
    bash -c '. /usr/share/bash-completion/completions/tend; complete -p tend' >comp.out 2>&1
    expect_eq "$(cat comp.out)" "complete -F _tend tend" "complete -p tend"

    # An upgrade (the same version again) while tend runs: a conffile changed here is kept,
    # and the postinst upgrades tend in place: the keeper stays, the supervisor is a new one,
    # the program keeps its pid.
    local keeper
    keeper=$(awk '{print $4}' "/proc/$tend_pid/stat")
    echo '; a local change' >>/etc/tend/tend.conf
    dpkg -i "$1" >>dpkg.out 2>&1 || { cat dpkg.out; fail "dpkg -i over the installed package"; }
    grep -qx '; a local change' /etc/tend/tend.conf || fail "the upgrade replaced a changed conffile"
    alive "$keeper" || fail "tend (its keeper) did not survive the upgrade"
    expect_file_match /var/log/tend/tend.log "supervisor exiting for the upgrade"
    [ "$(/usr/bin/tend pid)" != "$tend_pid" ] || fail "the supervisor was not upgraded in place"
    expect_match "$(/usr/bin/tend status)" "^e2e-sleeper +RUNNING +$SLEEPER " "status after the upgrade"

    /usr/bin/tend shutdown >shutdown.out 2>&1 || { cat shutdown.out; fail "tend shutdown"; }
    "$H/waitfor" -t 30 --gone "$keeper" || fail "tend did not exit"
    "$H/waitfor" -t 5 --gone "$SLEEPER" || fail "the program outlived tend"
    rm /etc/tend/conf.d/e2e.conf

    dpkg --remove tend >>dpkg.out 2>&1 || { cat dpkg.out; fail "dpkg --remove"; }
    [ ! -e /usr/bin/tend ] && [ ! -L /usr/sbin/daeml ] || fail "remove left the binary"
    [ -f /etc/tend/tend.conf ] || fail "remove (not purge) must keep the conffile"
    dpkg --purge tend >>dpkg.out 2>&1 || { cat dpkg.out; fail "dpkg --purge"; }
    INSTALLED=""
    local f left=""
    while read -r f; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        [ -d "$f" ] && ! [[ $f =~ tend|daeml ]] && continue   # shared: /usr/bin, /lib ...
        left="$left $f"
    done <files
    for f in /etc/tend $run_dir /var/log/tend /usr/share/doc/tend \
        /etc/systemd/system/multi-user.target.wants/tend.service \
        /var/lib/systemd/deb-systemd-helper-enabled/tend.service.dsh-also \
        /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/tend.service; do
        [ -e "$f" ] && left="$left $f"
    done
    [ -z "$left" ] || fail "left behind after purge:$left"
    [ -z "$(tend_pids)" ] || fail "tend processes left: $(tend_pids)"
    ! dpkg-query -W tend >/dev/null 2>&1 || fail "dpkg still knows tend"
}

run_tests
