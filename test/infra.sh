#!/usr/bin/env bash
# Makes this machine ready for the integration tests, idempotently: Debian's docker.io,
# debootstrap, git and openssh-client (ssh-keygen and ssh-agent for the ssh tests; their sshd
# image is built by test/integration/ssh-helpers.ts); a Docker daemon (started in the background
# when none answers); the cached `debootstrap --variant=minbase bookworm` root tarball; and the
# base image imported from it.
# Runs on a fresh Debian bookworm machine as root with only Debian's mirror and the npm registry
# reachable (no image can be pulled). Prints one line per step; exits non-zero with the reason.
#
# The tarball and the image carry a recipe stamp (recipe version + hash of the host CA bundle):
# when the recipe or the host's CAs change they are rebuilt once, otherwise reused as they are.
# The host CA bundle goes into the root because HTTPS (the npm registry) passes through a gateway
# whose authority only the host trusts.
set -euo pipefail

CACHE_DIR=${REPRO_TEST_CACHE:-/var/cache/repro-test}
TARBALL=$CACHE_DIR/bookworm-minbase.tar.gz
STAMP=$TARBALL.recipe
IMAGE=repro-test/bookworm:base
SUITE=bookworm
MIRROR=${REPRO_TEST_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
DOCKERD_LOG=${REPRO_TEST_DOCKERD_LOG:-/var/log/repro-test-dockerd.log}
DOCKERD_PID=${REPRO_TEST_DOCKERD_PID:-/run/repro-test-dockerd.pid}
RECIPE_VERSION=2

step() { printf 'infra: %s\n' "$*"; }
fail() {
  printf 'infra: FAILED: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap, mount and dockerd need it)"

# 1. Packages.
missing=()
for pkg in docker.io debootstrap git ca-certificates openssh-client; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    fail "apt-get install ${missing[*]} failed"
else
  step "packages docker.io debootstrap git openssh-client present"
fi

# 2. Docker daemon.
if docker info >/dev/null 2>&1; then
  step "dockerd answers"
else
  step "starting dockerd (log $DOCKERD_LOG, pid $DOCKERD_PID)"
  mkdir -p "$(dirname "$DOCKERD_LOG")" "$(dirname "$DOCKERD_PID")"
  # setsid: the daemon outlives this script and is not hit by the caller's Ctrl-C.
  setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  echo $! >"$DOCKERD_PID"
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$(cat "$DOCKERD_PID")" 2>/dev/null ||
      fail "dockerd exited; last lines of $DOCKERD_LOG:$(printf '\n'; tail -n 15 "$DOCKERD_LOG")"
    sleep 1
  done
  docker info >/dev/null 2>&1 ||
    fail "dockerd did not answer within 60 s; see $DOCKERD_LOG"
  step "dockerd answers"
fi

# 3. Root filesystem tarball.
ca_hash=none
[ -f "$CA_BUNDLE" ] && ca_hash=$(sha256sum "$CA_BUNDLE" | cut -c1-16)
recipe="v$RECIPE_VERSION-$SUITE-minbase-ca-$ca_hash"

if [ -f "$TARBALL" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$recipe" ]; then
  step "rootfs tarball $TARBALL up to date ($recipe)"
else
  step "building $TARBALL with debootstrap --variant=minbase $SUITE (about a minute)"
  mkdir -p "$CACHE_DIR"
  build=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
  cleanup_build() {
    # debootstrap unmounts what it mounts, but never rm -rf across a mount point.
    grep -F " $build/" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l || true
    rm -rf --one-file-system "$build"
  }
  trap cleanup_build EXIT
  debootstrap --variant=minbase "$SUITE" "$build" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
    fail "debootstrap failed; last lines of $CACHE_DIR/debootstrap.log:$(printf '\n'; tail -n 15 "$CACHE_DIR/debootstrap.log")"
  if [ -f "$CA_BUNDLE" ]; then
    mkdir -p "$build/etc/ssl/certs"
    cp "$CA_BUNDLE" "$build$CA_BUNDLE"
  fi
  printf '#!/bin/sh\nexit 101\n' >"$build/usr/sbin/policy-rc.d"
  chmod 755 "$build/usr/sbin/policy-rc.d"
  # Write then rename, so a concurrent reader never sees half a tarball.
  tar --numeric-owner -C "$build" -czf "$TARBALL.tmp" . || fail "tar of $build failed"
  mv -f "$TARBALL.tmp" "$TARBALL"
  echo "$recipe" >"$STAMP"
  cleanup_build
  trap - EXIT
  step "built $TARBALL ($recipe)"
fi

# 4. Base image.
have=$(docker image inspect --format '{{index .Config.Labels "repro-test.recipe"}}' "$IMAGE" 2>/dev/null || true)
if [ "$have" = "$recipe" ]; then
  step "image $IMAGE up to date ($recipe)"
else
  old=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  step "importing $TARBALL as $IMAGE"
  docker import --change 'LABEL repro-test=true' --change "LABEL repro-test.recipe=$recipe" \
    "$TARBALL" "$IMAGE" >/dev/null || fail "docker import of $TARBALL failed"
  # The previous build, now untagged; kept if containers still use it.
  [ -n "$old" ] && docker image rm "$old" >/dev/null 2>&1 || true
  step "image $IMAGE ready"
fi
step "ready"
