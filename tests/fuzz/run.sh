#!/usr/bin/env bash
# Builds the fuzz targets with clang and runs each for N seconds (default
# 30) on a copy of its committed seed corpus. A crash fails the run and
# leaves the input in build-fuzz/artifacts/.
# usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DGROUPSYNC_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang >/dev/null
targets=$(sed -n 's/^gs_fuzz_target(\(.*\))$/\1/p' tests/fuzz/CMakeLists.txt)
cmake --build build-fuzz -j"$(nproc)" --target $targets >/dev/null
rm -rf build-fuzz/artifacts && mkdir -p build-fuzz/artifacts
for t in $targets; do
  seeds=tests/fuzz/corpus/${t#fuzz_}
  work=build-fuzz/corpus-$t
  mkdir -p "$work"
  echo "fuzz: $t for ${secs}s (seeds: $seeds)"
  rc=0
  build-fuzz/tests/fuzz/$t -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ \
    "$work" "$seeds" >build-fuzz/$t.log 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)" build-fuzz/$t.log || true
  if [ "$rc" != 0 ]; then
    tail -n 40 build-fuzz/$t.log >&2
    echo "fuzz: $t failed (exit $rc): input in build-fuzz/artifacts/" >&2
    exit 1
  fi
done
