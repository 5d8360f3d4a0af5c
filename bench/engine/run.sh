#!/usr/bin/env bash
# bench/engine: the docker CLI against berthd vs dockerd (Debian's docker.io, --iptables=false
# --bridge=none) vs podman, in one run:
#   - `load` of a small busybox image tarball and of a 200 MB one (busybox plus a layer of random
#     data; the image is removed before each timed load),
#   - `run --rm --network none busybox true` end to end,
#   - 100 containers started concurrently (`run -d --network none busybox sleep 600` x 100 through
#     xargs -P 100): wall time until all 100 run, then memory per container of the per-container
#     monitor (berth-shim, containerd-shim-runc-v2, conmon): VmRSS and PSS (smaps_rollup) / 100.
# Each daemon gets its own temporary state; dockerd runs in a private mount namespace with /run on
# tmpfs, as in tests/interop/dockerd_test.py. Medians; ratios are berthd/dockerd.
# Root. Usage: bench/engine/run.sh [--runs N] [--berthd PATH] [--heavy-runs N] [--pad-mb N]
#                                  [--skip-concurrent] [--skip-big-load]
# --runs N: runs of the small load and of `run` (hyperfine); --heavy-runs N (default: --runs):
# rounds of the 100-container start and of the big load.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); src=$(cd "$here/../.." && pwd)
runs=50; berthd=${BERTHD:-$src/build/release/berthd}; heavy_runs=""; pad_mb=200
skip_concurrent=0; skip_big_load=0; concurrency=100
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2;;
    --berthd) berthd=$2; shift 2;;
    --heavy-runs) heavy_runs=$2; shift 2;;
    --pad-mb) pad_mb=$2; shift 2;;
    --skip-concurrent) skip_concurrent=1; shift;;
    --skip-big-load) skip_big_load=1; shift;;
    *) echo "unknown $1" >&2; exit 2;;
  esac
done
heavy_runs=${heavy_runs:-$runs}
work=$(mktemp -d /tmp/berth-bench-engine.XXXXXX)
cleanup() {
  for s in b d; do
    DOCKER_HOST=unix://$work/$s.sock docker rm -f $(DOCKER_HOST=unix://$work/$s.sock docker ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  done
  [ -z "${podman+x}" ] || "${podman[@]}" rm -f -t 0 -a >/dev/null 2>&1 || true
  [ -f "$work/berthd.pid" ] && kill "$(cat "$work/berthd.pid")" 2>/dev/null || true
  [ -f "$work/dockerd.pid" ] && kill "$(cat "$work/dockerd.pid")" 2>/dev/null || true
  sleep 1
  pkill -9 -f "$work" 2>/dev/null || true
  grep "$work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
  for c in /sys/fs/cgroup/*/berth-bench /sys/fs/cgroup/berth-bench; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
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

# ---- 200 MB load: the image is removed before each timed load -------------------------------
if [ "$skip_big_load" = 0 ]; then
  python3 "$src/tests/lib/make_busybox_image.py" --output "$work/big.tar" --tag bench-pad:latest \
    --pad-mb "$pad_mb" >/dev/null
  for s in b d; do
    printf '#!/bin/sh\ndocker -H unix://%s rmi -f bench-pad:latest >/dev/null 2>&1 || true\n' "$work/$s.sock" >"$work/rmi-$s.sh"
  done
  printf '#!/bin/sh\n%s rmi -f bench-pad:latest >/dev/null 2>&1 || true\n' "${podman[*]}" >"$work/rmi-p.sh"
  chmod +x "$work"/rmi-*.sh
  du -m "$work/big.tar" | cut -f1 >"$work/big.mb"
  echo "load of a $(cat "$work/big.mb") MB image tarball ($heavy_runs runs each, removed before each):"
  hyperfine -N --warmup 1 --runs "$heavy_runs" --export-json "$work/bigload.json" \
    --prepare "$work/rmi-b.sh" -n berthd "docker -H unix://$work/b.sock load -q -i $work/big.tar" \
    --prepare "$work/rmi-d.sh" -n dockerd "docker -H unix://$work/d.sock load -q -i $work/big.tar" \
    --prepare "$work/rmi-p.sh" -n podman "${podman[*]} load -q -i $work/big.tar" >/dev/null
  for s in b d p; do "$work/rmi-$s.sh"; done
  rm -f "$work/big.tar"
fi

# ---- 100 containers started concurrently ------------------------------------------------------
# shim_mem COMM IDS: "count rss_kib pss_kib" summed over the COMM processes whose command line
# names one of the containers in file IDS (12-character ids; berth-shim names a longer prefix).
shim_mem() {
  local comm=$1 ids=$2 n=0 rss=0 pss=0 p r q c
  for p in $(pgrep -x "$comm"); do
    c=$( { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null) || continue
    grep -qFf "$ids" <<<"$c" || continue
    r=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null) || continue
    q=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    n=$((n + 1)); rss=$((rss + ${r:-0})); pss=$((pss + ${q:-0}))
  done
  echo "$n $rss $pss"
}
# concurrent NAME COMM CLI...: one round; appends "NAME wall_ms shims rss_kib pss_kib" to conc.txt.
concurrent() {
  local name=$1 comm=$2; shift 2
  local cli=("$@") extra=() t0 t1 n
  [ "$name" = podman ] && extra=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
  t0=$(date +%s%N)
  if ! seq "$concurrency" | xargs -P "$concurrency" -I{} "${cli[@]}" run -d --network none "${extra[@]}" \
       busybox sleep 600 >/dev/null 2>"$work/conc-$name.err"; then
    echo "bench/engine: $name: a concurrent run failed: $(sort -u "$work/conc-$name.err" | head -3)" >&2
    exit 1
  fi
  for _ in $(seq 1200); do
    n=$("${cli[@]}" ps -q --filter status=running | wc -l)
    [ "$n" -ge "$concurrency" ] && break
    sleep 0.05
  done
  t1=$(date +%s%N)
  [ "$n" -ge "$concurrency" ] || { echo "bench/engine: $name: only $n of $concurrency running" >&2; exit 1; }
  "${cli[@]}" ps -q | cut -c1-12 >"$work/ids-$name"
  echo "$name $(( (t1 - t0) / 1000000 )) $(shim_mem "$comm" "$work/ids-$name")" >>"$work/conc.txt"
  if [ "$name" = podman ]; then "${cli[@]}" rm -f -t 0 -a >/dev/null
  else "${cli[@]}" rm -f $("${cli[@]}" ps -aq) >/dev/null; fi
}
if [ "$skip_concurrent" = 0 ]; then
  echo "$concurrency containers started concurrently ($heavy_runs rounds each):"
  : >"$work/conc.txt"
  for r in $(seq "$heavy_runs"); do
    concurrent berthd berth-shim docker -H "unix://$work/b.sock"
    concurrent dockerd containerd-shim docker -H "unix://$work/d.sock"
    concurrent podman conmon "${podman[@]}"
  done
fi

python3 - "$work" "$concurrency" <<'PY'
import json, os, statistics, sys
w, n = sys.argv[1], int(sys.argv[2])
order = ("berthd", "dockerd", "podman")
def row(label, vals, unit, fmt="{:7.1f}"):
    d = vals.get("dockerd")
    cells = "  ".join(f"{k} {fmt.format(vals[k])} {unit}" for k in order if k in vals)
    ratio = f"  berthd/dockerd {vals['berthd'] / d:.2f}x" if d and "berthd" in vals else ""
    print(f"{label:30s} {cells}{ratio}")
big_mb = open(f"{w}/big.mb").read().strip() if os.path.exists(f"{w}/big.mb") else "?"
for name, label in (("load", "load busybox (ms)"), ("run", "run --rm busybox true (ms)"),
                    ("bigload", f"load {big_mb} MB image (ms)")):
    path = f"{w}/{name}.json"
    if os.path.exists(path):
        res = {r["command"]: r["median"] * 1000 for r in json.load(open(path))["results"]}
        row(label, res, "ms")
if os.path.exists(f"{w}/conc.txt"):
    rounds = {}
    for line in open(f"{w}/conc.txt"):
        name, wall, shims, rss, pss = line.split()
        rounds.setdefault(name, []).append((int(wall), int(shims), int(rss), int(pss)))
    med = lambda name, i, per=1: statistics.median(r[i] / per for r in rounds[name])
    row(f"{n} concurrent run -d (ms)", {k: med(k, 0) for k in rounds}, "ms", "{:7.0f}")
    row("monitor RSS per container", {k: med(k, 2, n * 1024) for k in rounds}, "MiB", "{:6.2f}")
    row("monitor PSS per container", {k: med(k, 3, n * 1024) for k in rounds}, "MiB", "{:6.2f}")
    print("  monitors found per round: " + ", ".join(
        f"{k} ({'berth-shim' if k == 'berthd' else 'containerd-shim-runc-v2' if k == 'dockerd' else 'conmon'}) "
        + "/".join(str(r[1]) for r in rounds[k]) for k in order if k in rounds))
PY
