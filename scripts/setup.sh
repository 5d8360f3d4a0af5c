#!/usr/bin/env bash
# Quick start, step 1: installs dependencies (Debian packages), builds berth in release mode,
# installs it to /usr/local, then runs berth's main job: a busybox container under
# berth-runtime that prints its hostname and shows (with ps) that it is PID 1.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
cmake --install build/release --prefix /usr/local >/dev/null
echo "installed: $(command -v berth-runtime) ($(berth-runtime --version | head -1))"

work=$(mktemp -d /tmp/berth-quickstart.XXXXXX)
trap 'berth-runtime --root "$work/state" delete --force quickstart >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
# A plain (non-terminal) process that says who it is.
./scripts/make-busybox-bundle.sh --jq '.hostname = "berth-quickstart"' "$work/bundle" \
  sh -c 'echo "hostname: $(hostname)"; ps' >/dev/null
echo "--- berth-runtime run quickstart ---"
berth-runtime --root "$work/state" run --bundle "$work/bundle" quickstart
