#!/bin/sh
# make deb: builds the Debian package from a clean copy of the tree, so that nothing left in
# the working tree (build/, objects, a stale binary) can end up in the package. The copy is
# build/deb/tend-VERSION/; the .deb and the build log are left in build/deb/.
set -eu
cd "$(dirname "$0")/.."
version=$(dpkg-parsechangelog -S Version)
out=${DEB_OUT:-build/deb}   # DEB_OUT: somewhere else (a test's temporary directory)
src=$out/tend-$version
rm -rf "$out"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked files and new ones not ignored: what a commit of this tree would hold.
    # A file deleted but not yet committed is listed and missing: skip it.
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -e "$f" ] && cp -P --parents "$f" "$0"; done; :' "$src"
else
    tar --exclude=./build -cf - . | tar -C "$src" -xf -
fi
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "deb: dpkg-buildpackage failed; full log in $out/build.log" >&2
    exit 1
}
ls "$out"/*.deb
