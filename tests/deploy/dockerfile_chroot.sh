#!/usr/bin/env bash
# Proves deploy/Dockerfile without a Docker engine: tests/deploy/dockerfile.py
# reads the Dockerfile and runs its instructions (RUN, COPY [--from], ENV,
# ARG, WORKDIR, USER, HEALTHCHECK, ENTRYPOINT, CMD, ...) in debootstrapped
# Debian 12 roots standing in for debian:bookworm-slim, with the build context
# cut by deploy/Dockerfile.dockerignore; then tests/deploy/check_image.py
# runs the final stage as a container (read-only root, the VOLUME writable,
# USER uid, secrets as *_FILE, own network namespace) and checks intake, the
# HEALTHCHECK command and a clean stop. See those files for the details.
#
# usage: tests/deploy/dockerfile_chroot.sh [Dockerfile]      (root only)
# env:   DOCKERFILE_TEST_DIR   scratch + cache dir (default build-dockerfile/,
#                              gitignored; cache/ in it survives runs)
#        DEBIAN_MIRROR         default http://deb.debian.org/debian
#        DOCKERFILE_TEST_KEEP=1  keep the stage roots after the run
#        DOCKERFILE_TEST_VERBOSE=1  print every RUN's output
# Needs: debootstrap, util-linux (unshare, mount), tar, python3, openssl.
# Time: 2.5-5 min cold (debootstrap, apt downloads, compile; depends on the
# mirror and the machine's load), 1.5-3 min with a warm cache/: the prepared
# base root (rebuilt weekly) and apt's .debs are kept, every RUN still runs.
#
# Everything runs in `unshare --mount --pid --fork --kill-child`: the mounts
# RUN and the container need live in a private mount namespace, and when the
# run ends for any reason (error, Ctrl-C, kill) the kernel kills every process
# left in it and drops every mount. Only then are the roots deleted, from
# outside, where no mount of ours is visible.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dockerfile=$(realpath "${1:-$repo/deploy/Dockerfile}")
work=${DOCKERFILE_TEST_DIR:-$repo/build-dockerfile}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
samples=${GS_TEST_DATA_DIR:-$repo/tests/data}/okta/samples

if [ "$(id -u)" != 0 ]; then
  echo "dockerfile_chroot: needs root (debootstrap, chroot, mounts)" >&2; exit 1
fi
for tool in debootstrap unshare mount tar python3 openssl; do
  command -v "$tool" >/dev/null || { echo "dockerfile_chroot: $tool is missing (scripts/setup.sh)" >&2; exit 1; }
done
[ -f "$samples/delivery-group-add.json" ] || { echo "dockerfile_chroot: no Okta samples in $samples" >&2; exit 1; }

mkdir -p "$work/cache"
run="$work/run"
cleanup() {
  if [ "${DOCKERFILE_TEST_KEEP:-0}" != 1 ]; then rm -rf --one-file-system "$run"; fi
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM
# leftovers of an earlier, killed run: its namespace died with it
rm -rf --one-file-system "$run"
mkdir -p "$run"

start=$(date +%s)
verbose=()
[ "${DOCKERFILE_TEST_VERBOSE:-0}" = 1 ] && verbose=(--verbose)
# shellcheck disable=SC2016  # the inner script expands its own $1..$9
unshare --mount --propagation private --pid --fork --kill-child --mount-proc \
  bash -c '
    set -euo pipefail
    python3 "$1/dockerfile.py" --file "$2" --context "$3" --work "$4" --cache "$5" \
      --mirror "$6" --config-out "$4/image.json" "${@:9}"
    # the container gets a network namespace of its own: port 8080 is free there
    unshare --net python3 "$1/check_image.py" --config "$4/image.json" \
      --work "$4/container" --samples "$7" --compose "$8"
  ' dockerfile_chroot "$here" "$dockerfile" "$repo" "$run" "$work/cache" "$mirror" \
    "$samples" "$repo/deploy/docker-compose.yml" "${verbose[@]}"
echo "dockerfile_chroot: passed in $(( $(date +%s) - start ))s" >&2
