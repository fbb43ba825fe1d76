#!/usr/bin/env bash
# The one test command (`npm test`): makes this machine ready (Debian's docker.io, debootstrap,
# git; dockerd in the background; the cached base image), builds, then runs unit tests and the
# integration tests against the real daemon, a real chroot and the local machine.
# With CI=true a missing piece of infrastructure fails the run instead of skipping tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash test/infra.sh
npm run build --silent
# Integration test files share one dockerd and the host's apt: run files one at a time.
node --test --test-concurrency=1 --test-reporter=spec dist/test/unit/ dist/test/integration/
