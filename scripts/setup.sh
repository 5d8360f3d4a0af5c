#!/usr/bin/env bash
# Quick start, step 1: installs dependencies (Debian packages), builds berth in release mode,
# installs it to /usr/local, then runs berth's main job: berthd is started (if it is not running
# yet), a busybox image built from Debian's busybox-static is loaded into it, and a container
# prints its hostname and `ps` (showing it is PID 1) through the berth CLI; the docker CLI works
# against the same socket.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
cmake --install build/release --prefix /usr/local >/dev/null
echo "installed: $(command -v berthd) ($(berthd --version | head -1))"

sock=/run/berth/berthd.sock
export DOCKER_HOST=unix://$sock
if ! berth version >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup berthd >>/var/log/berthd.log 2>&1 &
  for _ in $(seq 100); do berth version >/dev/null 2>&1 && break; sleep 0.1; done
  echo "berthd started (log: /var/log/berthd.log, socket: $sock)"
fi
image=$(mktemp /tmp/berth-busybox.XXXXXX.tar)
trap 'rm -f "$image"' EXIT
python3 tests/lib/make_busybox_image.py --format docker --tag busybox:latest --output "$image" >/dev/null
berth load -i "$image"
echo "--- berth run --rm busybox ---"
berth run --rm --hostname berth-quickstart busybox sh -c 'echo "hostname: $(hostname)"; ps'
echo "(the docker CLI works too: DOCKER_HOST=$DOCKER_HOST docker ps -a)"
