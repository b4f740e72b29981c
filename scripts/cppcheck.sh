#!/usr/bin/env bash
# Static analysis of groupsync's own C (src/, include/) with cppcheck
# (Debian 12: 2.10). Any finding fails. Suppressions, each with its reason:
# - variableScope: the house style declares a function's variables at its
#   top (OpenBSD style(9), ../shared/STYLE.md), which is what it flags.
# - missingIncludeSystem: system and library headers are not analysed;
#   what cppcheck must know of json-c is in scripts/cppcheck/json-c.cfg.
# - src/intake/civetweb_glue.c is civetweb.c included whole (third-party
#   code, built unpatched); the glue's own accessors are a few lines.
# Inline suppressions (// cppcheck-suppress) carry their reason beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cppcheck >/dev/null || { echo "cppcheck: not installed (scripts/setup.sh)" >&2; exit 1; }
cppcheck --std=c11 --enable=warning,style,performance,portability --inline-suppr \
  --error-exitcode=1 -q --library=scripts/cppcheck/json-c.cfg \
  -I include -I src/intake -D_POSIX_C_SOURCE=200809L -DGROUPSYNC_VERSION='"0"' \
  --suppress=missingIncludeSystem --suppress=variableScope \
  -i src/intake/civetweb_glue.c src
echo "cppcheck: no findings"
