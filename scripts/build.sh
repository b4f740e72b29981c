#!/usr/bin/env bash
# Configures and builds one build type into build/ (or build-<type>/).
# usage: scripts/build.sh [Release|Debug|Asan|Tsan] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
type=${1:-Release}
shift || true
dir=build
[ "$type" = Release ] || dir="build-$(echo "$type" | tr '[:upper:]' '[:lower:]')"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DGROUPSYNC_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
echo "$dir"
