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
      libcmocka-dev sqlite3 openssl clang libclang-rt-14-dev
      nginx-light wrk nodejs npm python3
      sslscan testssl.sh systemd debootstrap util-linux tar)
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
# loads libssl at run time and crashes with OpenSSL 3 (see README).
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
if [ "${#want[@]}" -gt 0 ] || [ "$need_update" = 1 ] || [ ! -d .deps/civetweb ]; then
  echo "setup: apt-get update" >&2
  $SUDO apt-get update -qq
fi
if [ "${#want[@]}" -gt 0 ]; then
  echo "setup: installing ${want[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

if [ ! -f .deps/civetweb/src/civetweb.c ]; then
  echo "setup: fetching Debian's civetweb source" >&2
  rm -rf .deps/civetweb-src && mkdir -p .deps/civetweb-src
  (cd .deps/civetweb-src && apt-get source -qq civetweb >/dev/null)
  dir=$(find .deps/civetweb-src -maxdepth 1 -mindepth 1 -type d -name 'civetweb-*' | head -n1)
  [ -n "$dir" ] || { echo "setup: apt-get source civetweb produced nothing" >&2; exit 1; }
  rm -rf .deps/civetweb && mv "$dir" .deps/civetweb && rm -rf .deps/civetweb-src
fi

# Test stand-ins from npm, versions pinned in tests/package.json.
if [ ! -x tests/node_modules/.bin/json-server ]; then
  echo "setup: npm install (tests/)" >&2
  (cd tests && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
echo "setup: ok" >&2
