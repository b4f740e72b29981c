#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs what is
# missing, builds (Release and ASan+UBSan), runs unit and integration
# tests under CTest, the threaded ones again under ThreadSanitizer, a short
# fuzz run of every fuzz target, then the container image: deploy/Dockerfile
# built and run in debootstrapped Debian 12 chroots
# (tests/deploy/dockerfile_chroot.sh; needs root and the Debian mirror;
# 2.5-5 min cold, 1.5-3 min with its cache in build-dockerfile/).
# usage: scripts/test.sh            (everything)
#        FUZZ_SECONDS=0 scripts/test.sh   (skip fuzzing)
#        DOCKERFILE_TEST=0 scripts/test.sh  (skip the Dockerfile stage)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== Release build, all tests"
dir=$(scripts/build.sh Release)
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"

echo "== ASan+UBSan build, all tests"
dir=$(scripts/build.sh Asan)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"

# ThreadSanitizer on the threaded parts: every unit test (queue, metrics,
# token caches... take a few seconds) and the integration suites that run
# the server, the workers and the queue at once (intake over HTTP and
# HTTPS, sync, metrics, admin commands and reconcile while serving, okta
# setup's verification), the connection guard's watchdog closing slow and
# idle clients, workers under remote faults and shutdown mid-call, and
# restarts under load (the floods of test_hostile need real speed: Release
# and ASan only). Any report fails the test: halt_on_error stops
# the process, and the harness fails a test whose groupsync log or CLI
# stderr holds a report. tests/tsan.supp lists civetweb's own races only.
echo "== TSan build, threaded tests"
dir=$(CC=clang scripts/build.sh Tsan -DCMAKE_C_COMPILER=clang)
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" \
  -R '^(unit\.|it\.test_(admin|intake|metrics|okta_setup|reconcile|sync)\.|sec\.test_hostile\.(Bodies|Secrets)\.|sec\.test_hostile\.UnderAttack\.test_(single_slow_body|unauthorized_slow_body|idle_keepalive)|rel\.test_faults_remote\.Remote(Dropped|Status|SlowShutdown)\.|rel\.test_crash\.Restart\.)'

if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  echo "== fuzzing (${FUZZ_SECONDS:-30}s per target)"
  tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi

if [ "${DOCKERFILE_TEST:-1}" != 0 ]; then
  echo "== deploy/Dockerfile: build and run in Debian 12 chroots"
  tests/deploy/dockerfile_chroot.sh
fi
echo "== all tests passed"
