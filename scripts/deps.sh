#!/bin/sh
# Installs the Debian packages tend needs for a purpose, and only those that are missing, so a
# second run costs one dpkg query. Needs root to install.
#   sh scripts/deps.sh build   compile tend (make, make demo)
#   sh scripts/deps.sh test    build + what the tests and benchmarks use (make check-fast,
#                              make bench), including Debian's supervisor package, whose stock
#                              supervisord.conf the migration test starts tend with
#   sh scripts/deps.sh lint    build + cppcheck and clang-tidy (make lint)
#   sh scripts/deps.sh all     everything (make check; the default)
#   sh scripts/deps.sh --list SET   print the set's packages, one a line, install nothing
# No service is started or enabled by an install here: supervisor's postinst would start a system
# supervisord on a machine without systemd, so a policy-rc.d that refuses is in place during
# the install (and removed after, when this script put it there).
set -eu
# build: what make (tend, tend-keeper, tend-web, the helpers) needs (tend-keeper: musl-tools,
# linked statically with musl; tend-web: libmicrohttpd for HTTP, expat for XML-RPC; liburing
# for the capture pipes held past the descriptor limit, fdring.c); test:
# what make check needs besides.
build="gcc make libc6-dev musl-tools libmicrohttpd-dev libexpat1-dev pkg-config liburing-dev"
# Debian's supervisor: its stock config is the migration test's, and its supervisorctl and
# supervisord are the XML-RPC test's (tests/e2e/supervisorctl.sh). The package tests need
# dpkg-dev, debhelper, fakeroot, lintian, systemd (systemd-analyze; no running systemd) and
# binutils (readelf); completion zsh; the stacks' examples nginx-light,
# redis-server, python3, nodejs (Debian does not start them here: no init, policy-rc.d);
# tend-web's tests curl, chromium (headless) and prometheus (promtool and a real scraper).
test="util-linux procps coreutils bc supervisor dpkg-dev debhelper fakeroot lintian systemd
      binutils zsh nginx-light redis-server python3 nodejs curl chromium prometheus"
lint="cppcheck clang-tidy"
list=0
if [ "${1:-}" = --list ]; then
    list=1
    shift
fi
case "${1:-all}" in
build) pkgs=$build ;;
test) pkgs="$build $test" ;;
lint) pkgs="$build $lint" ;;
all) pkgs="$build $test $lint" ;;
*) echo "deps: unknown set '$1' (build, test, lint or all)" >&2; exit 2 ;;
esac
if [ $list -eq 1 ]; then
    printf '%s\n' $pkgs
    exit 0
fi
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
# node and npm run the browser test's puppeteer-core (from npm, tests/browser/package.json).
# A node that brings its own npm (NodeSource) is kept: Debian's npm would conflict with it.
case "${1:-all}" in
test | all) command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm" ;;
esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "deps: installing$missing"
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# tend scripts/deps.sh: no service starts during this install\nexit 101\n' \
        >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
fi
rc=0
apt-get -o DPkg::Lock::Timeout=600 update -qq || rc=$?
if [ $rc -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends $missing || rc=$?
fi
[ $made_policy -eq 0 ] || rm -f /usr/sbin/policy-rc.d
# Only supervisor's files are wanted (the migration test copies its stock config): its
# postinst enables the service for the next boot, which this undoes.
case " $missing " in
*" supervisor "*)
    if [ $rc -eq 0 ]; then
        update-rc.d supervisor disable >/dev/null 2>&1 || true     # sysvinit links
        deb-systemd-helper disable supervisor.service >/dev/null 2>&1 || true
    fi ;;
esac
exit $rc
