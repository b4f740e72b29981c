#!/usr/bin/env bash
# Installs everything groupsync needs to build, run and test on Debian 12:
# Debian packages, the civetweb source (Debian's own, built by CMake, kept
# out of git under .deps/) and the pinned npm packages of the test stand-ins.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PKGS=(build-essential cmake pkg-config dpkg-dev ca-certificates curl
      libssl-dev libjson-c-dev libcurl4-openssl-dev libsqlite3-dev
      libcmocka-dev sqlite3 libpq-dev postgresql-15 openssl clang libclang-rt-14-dev cppcheck
      nginx-light wrk nodejs npm python3
      sslscan testssl.sh systemd debootstrap util-linux tar prometheus chromium faketime)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from another source (e.g. nodesource ships npm inside nodejs)
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
  missing=("${missing[@]/nodejs}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done

# civetweb is built from Debian's source package: Debian's binary libcivetweb1
# loads libssl at run time and crashes with OpenSSL 3 (see README). Exactly
# this version: src/civetweb_glue.c reads civetweb's private structs and pins
# their layout, and CMakeLists.txt refuses any other civetweb.h.
CIVETWEB_DEB_VERSION=1.15+dfsg-4
# SHA-256 of Debian's upstream tarball civetweb_1.15+dfsg.orig.tar.xz
# (491284 bytes), computed from the apt download of 1.15+dfsg-4.
CIVETWEB_ORIG_SHA256=ec372e9737bc820118bbb735f46a07d41f795814ca0f38bc6e67048e7a460f33
# SHA-256 of Debian's packaging civetweb_1.15+dfsg-4.debian.tar.xz (7864
# bytes: debian/ with the two patches dpkg-source applies), same download.
CIVETWEB_DEBIAN_SHA256=2fe67d05a15be93764398275372f41f6228b17497b23d04f149482ffde7b3fb8
# GROUPSYNC_DEPS_DIR only serves to try this fetch elsewhere (.deps may be
# shared); the build reads .deps/civetweb unless given -DCIVETWEB_SOURCE_DIR.
DEPS=${GROUPSYNC_DEPS_DIR:-.deps}
CIVETWEB_DIR=$DEPS/civetweb
# A verified fetch writes $CIVETWEB_DIR/.groupsync-pin: the version, both
# pinned sums and a digest of src/ and include/ (what the build compiles).
# A tree whose stamp differs (none: fetched before the pin; another version;
# edited since) is fetched again, so no other tree is used silently.
civetweb_digest() {
  (cd "$1" && find src include -type f -print0 | LC_ALL=C sort -z |
     xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
civetweb_stamp() {
  printf 'civetweb %s orig-sha256 %s debian-sha256 %s tree-sha256 %s\n' \
    "$CIVETWEB_DEB_VERSION" "$CIVETWEB_ORIG_SHA256" "$CIVETWEB_DEBIAN_SHA256" \
    "$(civetweb_digest "$1")"
}
civetweb_ok() {
  [ -f "$CIVETWEB_DIR/src/civetweb.c" ] && [ -f "$CIVETWEB_DIR/.groupsync-pin" ] &&
    [ "$(cat "$CIVETWEB_DIR/.groupsync-pin")" = "$(civetweb_stamp "$CIVETWEB_DIR")" ]
}

SRCLIST=/etc/apt/sources.list.d/groupsync-deb-src.sources
need_update=0
if [ ! -f "$SRCLIST" ]; then
  $SUDO tee "$SRCLIST" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  need_update=1
fi
if [ "${#want[@]}" -gt 0 ] || [ "$need_update" = 1 ] || ! civetweb_ok; then
  echo "setup: apt-get update" >&2
  $SUDO apt-get update -qq
fi
if [ "${#want[@]}" -gt 0 ]; then
  echo "setup: installing ${want[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

civetweb_fail() {
  echo "setup: civetweb $CIVETWEB_DEB_VERSION: $*" >&2
  exit 1
}
civetweb_sum() { # file expected-sha256
  local actual
  actual=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$actual" = "$2" ] ||
    civetweb_fail "$(basename "$1"): SHA-256 mismatch: expected $2 (pinned in scripts/setup.sh), actual $actual"
}
# Fetch into a scratch dir beside the tree, check every file before it is
# unpacked, and only then put the tree in place.
civetweb_fetch() {
  local tmp up orig deb got
  up=${CIVETWEB_DEB_VERSION%-*}
  mkdir -p "$DEPS"
  tmp=$(mktemp -d "$DEPS/civetweb-fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get source --download-only -qq "civetweb=$CIVETWEB_DEB_VERSION") \
       >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    got=$(apt-cache showsrc civetweb 2>/dev/null | sed -n 's/^Version: //p' | paste -sd' ')
    civetweb_fail "apt-get source failed: expected version $CIVETWEB_DEB_VERSION, apt offers: ${got:-none}"
  fi
  orig=$(find "$tmp" -maxdepth 1 -name "civetweb_$up.orig.tar.*")
  deb=$(find "$tmp" -maxdepth 1 -name "civetweb_$CIVETWEB_DEB_VERSION.debian.tar.*")
  [ -n "$orig" ] && [ "$(echo "$orig" | wc -l)" = 1 ] ||
    civetweb_fail "expected one civetweb_$up.orig.tar.*, found: ${orig:-none}"
  [ -n "$deb" ] && [ "$(echo "$deb" | wc -l)" = 1 ] ||
    civetweb_fail "expected one civetweb_$CIVETWEB_DEB_VERSION.debian.tar.*, found: ${deb:-none}"
  [ -f "$tmp/civetweb_$CIVETWEB_DEB_VERSION.dsc" ] ||
    civetweb_fail "expected civetweb_$CIVETWEB_DEB_VERSION.dsc, missing"
  civetweb_sum "$orig" "$CIVETWEB_ORIG_SHA256"
  civetweb_sum "$deb" "$CIVETWEB_DEBIAN_SHA256"
  # dpkg-source also checks both against the .dsc (and warns that it has no
  # key to check the .dsc's signature: apt took it from the signed index).
  if ! dpkg-source -x "$tmp/civetweb_$CIVETWEB_DEB_VERSION.dsc" "$tmp/tree" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    civetweb_fail "dpkg-source -x failed"
  fi
  got=$(sed -n '1s/^civetweb (\([^)]*\)).*/\1/p' "$tmp/tree/debian/changelog")
  [ "$got" = "$CIVETWEB_DEB_VERSION" ] ||
    civetweb_fail "debian/changelog: expected version $CIVETWEB_DEB_VERSION, actual ${got:-none}"
  [ -f "$tmp/tree/src/civetweb.c" ] || civetweb_fail "src/civetweb.c missing from the source package"
  if [ -d "$CIVETWEB_DIR" ] &&
     diff -rq --no-dereference --exclude='.groupsync-pin*' "$tmp/tree" "$CIVETWEB_DIR" >/dev/null 2>&1; then
    # Same content as the tree in place (e.g. fetched before the pin): only
    # stamp it, atomically, and leave the tree others may be building from.
    civetweb_stamp "$CIVETWEB_DIR" >"$CIVETWEB_DIR/.groupsync-pin.tmp"
    mv -f "$CIVETWEB_DIR/.groupsync-pin.tmp" "$CIVETWEB_DIR/.groupsync-pin"
    echo "setup: civetweb $CIVETWEB_DEB_VERSION: tree in place verified and stamped" >&2
  else
    civetweb_stamp "$tmp/tree" >"$tmp/tree/.groupsync-pin"
    # Two renames: the old tree (wrong anyway) is gone only between them.
    [ ! -e "$CIVETWEB_DIR" ] || mv "$CIVETWEB_DIR" "$tmp/old"
    mv "$tmp/tree" "$CIVETWEB_DIR"
    echo "setup: civetweb $CIVETWEB_DEB_VERSION: fetched, verified and stamped" >&2
  fi
  rm -rf "$tmp"
  trap - EXIT
}
if ! civetweb_ok; then
  echo "setup: fetching Debian's civetweb $CIVETWEB_DEB_VERSION source" >&2
  civetweb_fetch
  civetweb_ok || civetweb_fail "$CIVETWEB_DIR/.groupsync-pin does not match after the fetch"
fi

# Test stand-ins from npm, versions pinned in tests/package-lock.json. A
# stamp of the lock file's hash makes a new or changed pin install here
# too, not only in a fresh clone.
lock_sum=$(sha256sum tests/package-lock.json | cut -d' ' -f1)
if [ -L tests/node_modules ]; then
  echo "setup: tests/node_modules is a link to another install: leaving it alone" >&2
elif [ "$(cat tests/node_modules/.groupsync-lock 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: npm ci (tests/)" >&2
  (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$lock_sum" > tests/node_modules/.groupsync-lock
fi
echo "setup: ok" >&2
