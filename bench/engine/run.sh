#!/usr/bin/env bash
# bench/engine: `run --rm --network none busybox true` end to end from the docker CLI, berthd vs
# dockerd (Debian's docker.io, --iptables=false --bridge=none) vs podman, in one run, plus
# `load` of the same busybox image tarball. Each daemon gets its own temporary state; dockerd
# runs in a private mount namespace with /run on tmpfs, as in tests/interop/dockerd_test.py.
# Root. Usage: bench/engine/run.sh [--runs N] [--berthd PATH]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); src=$(cd "$here/../.." && pwd)
runs=50; berthd=${BERTHD:-$src/build/release/berthd}
while [ $# -gt 0 ]; do
  case "$1" in --runs) runs=$2; shift 2;; --berthd) berthd=$2; shift 2;; *) echo "unknown $1" >&2; exit 2;; esac
done
work=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
cleanup() {
  DOCKER_HOST=unix://$work/b.sock docker rm -f $(DOCKER_HOST=unix://$work/b.sock docker ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -f "$work/berthd.pid" ] && kill "$(cat "$work/berthd.pid")" 2>/dev/null || true
  [ -f "$work/dockerd.pid" ] && kill "$(cat "$work/dockerd.pid")" 2>/dev/null || true
  sleep 1
  pkill -9 -f "$work" 2>/dev/null || true
  grep "$work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
python3 "$src/tests/lib/make_busybox_image.py" --output "$work/busybox.tar" >/dev/null

"$berthd" --data-root "$work/berth" --exec-root "$work/berth-exec" -H "unix://$work/b.sock" \
  --cgroup-parent /berth-bench --pidfile "$work/berthd.pid" >"$work/berthd.log" 2>&1 &
echo '{}' > "$work/daemon.json"
unshare --mount --propagation private -- sh -c 'mount -t tmpfs tmpfs /run && { [ ! -d /etc/docker ] || mount -t tmpfs tmpfs /etc/docker; } && exec "$@"' sh \
  dockerd --config-file "$work/daemon.json" --data-root "$work/docker" --exec-root "$work/docker-exec" \
  --pidfile "$work/dockerd.pid" -H "unix://$work/d.sock" --iptables=false --ip-forward=false \
  --ip-masq=false --bridge=none --userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs \
  --log-level warn >"$work/dockerd.log" 2>&1 &
for s in b d; do
  for _ in $(seq 300); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.1; done
done
podman=(podman --runtime /usr/sbin/runc --root "$work/podman" --runroot "$work/podman-run" --cgroup-manager=cgroupfs --events-backend=none)

echo "load of the busybox image tarball ($(du -h "$work/busybox.tar" | cut -f1)):"
hyperfine -N --warmup 1 --runs 10 --export-json "$work/load.json" \
  -n berthd "docker -H unix://$work/b.sock load -q -i $work/busybox.tar" \
  -n dockerd "docker -H unix://$work/d.sock load -q -i $work/busybox.tar" \
  -n podman "${podman[*]} load -q -i $work/busybox.tar" >/dev/null
podman_run="${podman[*]} run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 busybox true"
for cmd in "docker -H unix://$work/b.sock run --rm --network none busybox true" \
           "docker -H unix://$work/d.sock run --rm --network none busybox true" "$podman_run"; do
  $cmd || { echo "bench/engine: failed: $cmd" >&2; exit 1; }
done
echo "run --rm --network none busybox true ($runs runs each):"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/run.json" \
  -n berthd "docker -H unix://$work/b.sock run --rm --network none busybox true" \
  -n dockerd "docker -H unix://$work/d.sock run --rm --network none busybox true" \
  -n podman "$podman_run" >/dev/null
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
for name in ("load", "run"):
    res = {r["command"]: r for r in json.load(open(f"{w}/{name}.json"))["results"]}
    d = res["dockerd"]["median"]
    print(f"{name:5s} " + "  ".join(f"{k} {v['median']*1000:7.1f} ms ({v['median']/d:.2f}x docker)" for k, v in res.items()))
PY
