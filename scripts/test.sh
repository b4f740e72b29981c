#!/usr/bin/env bash
# The whole test suite from a fresh Debian 12 machine: installs what is
# missing, runs cppcheck, builds (Release and ASan+UBSan), runs the unit and integration
# tests under CTest in both builds, the reliability (rel.*) and security
# (sec.*) suites once, in the ASan+UBSan build, the threaded tests again
# under ThreadSanitizer, a short fuzz run of every fuzz target, then the
# container image: deploy/Dockerfile built and run in debootstrapped
# Debian 12 chroots (tests/deploy/dockerfile_chroot.sh; needs root and the
# Debian mirror; 2.5-5 min cold, 1.5-3 min with its cache in
# build-dockerfile/). Ends with a table of each stage's wall time, also
# when a stage fails.
# usage: scripts/test.sh            (everything)
#        FUZZ_SECONDS=0 scripts/test.sh   (skip fuzzing)
#        DOCKERFILE_TEST=0 scripts/test.sh  (skip the Dockerfile stage)
set -euo pipefail
cd "$(dirname "$0")/.."

# ---- stage timing: stage NAME starts one (and ends the one before) -----
stages=()     # "seconds<TAB>status<TAB>name", in order
stage_name="" # the stage running, if any
stage_t0=0
run_t0=$SECONDS

stage_end() {
  if [ -n "$stage_name" ]; then
    stages+=("$((SECONDS - stage_t0))"$'\t'"$1"$'\t'"$stage_name")
    stage_name=""
  fi
}

stage() {
  stage_end ok
  stage_name=$1
  stage_t0=$SECONDS
  echo "== $1"
}

report() {
  local rc=$? row secs status name
  stage_end "FAILED (exit $rc)"
  echo
  echo "== stage times (wall clock, $(nproc) CPUs)"
  printf '%-52s %9s  %s\n' "stage" "time" "result"
  for row in "${stages[@]}"; do
    IFS=$'\t' read -r secs status name <<<"$row"
    printf '%-52s %5dm%02ds  %s\n' "$name" $((secs / 60)) $((secs % 60)) "$status"
  done
  secs=$((SECONDS - run_t0))
  printf '%-52s %5dm%02ds  %s\n' "total" $((secs / 60)) $((secs % 60)) \
    "$([ "$rc" = 0 ] && echo "all tests passed" || echo "FAILED (exit $rc)")"
  exit "$rc"
}
trap report EXIT
trap "exit 130" INT
trap "exit 143" TERM

stage "setup (scripts/setup.sh)"
scripts/setup.sh

# Release: what ships. The reliability and security suites run only in
# the ASan+UBSan build below: the same scenarios with memory errors,
# leaks and undefined behaviour caught on top.
stage "cppcheck (scripts/cppcheck.sh)"
scripts/cppcheck.sh

stage "Release: build"
dir=$(scripts/build.sh Release)
stage "Release: no two files call each other (scripts/check_calls.py)"
scripts/check_calls.py "$dir"
stage "Release: unit, integration"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" -E '^(rel|sec)\.'

stage "ASan+UBSan: build"
dir=$(scripts/build.sh Asan)
stage "ASan+UBSan: unit, integration, reliability, security"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"

# ThreadSanitizer on the threaded parts: every unit test (queue, metrics,
# token caches... take a few seconds) and the integration suites that run
# the server, the workers and the queue at once (intake over HTTP and
# HTTPS, sync, metrics, admin commands and reconcile while serving, okta
# setup's verification), the connection guard's watchdog closing slow and
# idle clients, workers under remote faults and shutdown mid-call, and
# restarts under load (the floods of test_hostile need real speed: ASan
# only). Any report fails the test: halt_on_error stops
# the process, and the harness fails a test whose groupsync log or CLI
# stderr holds a report. tests/tsan.supp lists civetweb's own races only.
stage "TSan: build"
dir=$(CC=clang scripts/build.sh Tsan -DCMAKE_C_COMPILER=clang)
stage "TSan: threaded tests"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" \
  -R '^(unit\.|it\.test_(admin|intake|metrics|okta_setup|reconcile|sync)\.|sec\.test_hostile\.(Bodies|Secrets)\.|sec\.test_hostile\.UnderAttack\.test_(single_slow_body|unauthorized_slow_body|idle_keepalive)|rel\.test_faults_remote\.Remote(Dropped|Status|SlowShutdown)\.|rel\.test_crash\.Restart\.)'

if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  stage "fuzz: build, ${FUZZ_SECONDS:-30}s per target"
  tests/fuzz/run.sh "${FUZZ_SECONDS:-30}"
fi

if [ "${DOCKERFILE_TEST:-1}" != 0 ]; then
  stage "deploy/Dockerfile: build and run in chroots"
  tests/deploy/dockerfile_chroot.sh
fi
stage_end ok
