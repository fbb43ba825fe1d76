#!/usr/bin/env bash
# The quickstart, on a fresh Debian machine as root with no daemon and no cloud:
#   bash examples/quickstart/run.sh
# Installs debootstrap and git if missing, builds repro, makes a small upstream repository and
# serves it on 127.0.0.1 with `git daemon` (a chroot shares the host's network, not its files),
# then validates, plans, applies, re-plans (No changes.) and checks the result inside the chroot.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v git >/dev/null || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "== building repro"
(cd "$repo" && { [ -d node_modules ] || npm ci --no-audit --no-fund --silent; } && npm run build --silent >/dev/null)
repro() { node "$repo/dist/src/cli/repro.js" -f "$here/repro.yaml" "$@"; }

upstream="$here/.repro/upstream"
if [ ! -d "$upstream/pipeline.git" ]; then
  echo "== making the upstream repository $upstream/pipeline.git"
  work="$(mktemp -d)"
  git init -q -b main "$work"
  mkdir -p "$work/bin"
  printf '#!/bin/sh\n# A stand-in analysis pipeline: reads its version with jq.\necho %s | jq -r .version\n' \
    "'{\"version\": \"pipeline 1.0.0\"}'" >"$work/bin/pipeline"
  chmod +x "$work/bin/pipeline"
  (cd "$work" && git add -A &&
    GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z \
      git -c user.name=quickstart -c user.email=quickstart@example.org commit -q -m "pipeline 1.0.0" &&
    git tag v1.0.0)
  git clone -q --bare "$work" "$upstream/pipeline.git"
  rm -rf "$work"
fi
git daemon --reuseaddr --listen=127.0.0.1 --port=19418 --base-path="$upstream" --export-all "$upstream" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
sleep 1

echo "== repro validate"; repro validate
echo "== repro plan"; repro plan
echo "== repro apply"; repro apply --auto-approve
echo "== repro plan (again)"; repro plan --detailed-exitcode
echo "== inside the chroot"
chroot "$here/.repro/roots/quickstart" /bin/sh -c \
  '. /etc/profile.d/repro-quickstart.sh; echo "ANALYSIS_THREADS=$ANALYSIS_THREADS"; pipeline --version; dpkg-query -W jq git; cat /etc/pipeline.conf'
echo "== repro drift"; repro drift
echo "Done. The state is in $here/state/scratch.json and the lock in $here/repro.lock."
echo "Remove everything with: node $repo/dist/src/cli/repro.js -f $here/repro.yaml destroy --auto-approve"
