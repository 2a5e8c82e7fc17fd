#!/bin/sh
# Installs the Debian packages that building, testing and benchmarking tend need, and only
# those that are missing, so a second run costs one dpkg query. Needs root to install.
set -eu
pkgs="gcc make libc6-dev util-linux procps coreutils cppcheck clang-tidy bc"
# The Debian package (make deb, tests/e2e/package.sh): building, checking, and the unit's
# offline check (systemd-analyze, in systemd; no running systemd needed). binutils: readelf.
pkgs="$pkgs dpkg-dev debhelper fakeroot lintian systemd binutils"
# The static build (make static) and completion tests.
pkgs="$pkgs musl-tools zsh"
# The stacks in examples/stacks/, run for real by tests/e2e/stacks.sh (a few MB in all).
# Debian's packages do not start them on install here (policy-rc.d denies it, and there is no
# init to start them); the tests run their own copies on free ports.
pkgs="$pkgs nginx-light redis-server python3 nodejs"
# libmicrohttpd-dev: the HTTP server library of tend-web; curl drives it in tests;
# chromium (headless) runs the status page test; prometheus gives promtool and a real scraper.
pkgs="$pkgs libmicrohttpd-dev pkg-config curl chromium prometheus"
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
# node and npm run the browser test's puppeteer-core (from npm, tests/browser/package.json).
# A node that brings its own npm (NodeSource) is kept: Debian's npm would conflict with it.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "deps: installing$missing"
apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq $missing
