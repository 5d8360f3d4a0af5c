#!/usr/bin/env bash
# bench/pull: image distribution against one local registry (Debian's docker-registry on
# 127.0.0.1), side by side in one run:
#   - cold pull, until the image is ready to run: `berth pull` (berthd) vs `docker pull`
#     (Debian's dockerd 20.10, --iptables=false --bridge=none) vs `skopeo copy` to an OCI layout
#     + `umoci unpack`; before each run the image is removed and the daemon's images pruned
#     (the skopeo/umoci directories deleted);
#   - push to an empty registry (a second docker-registry, restarted on fresh storage before each
#     run): `berth push` vs `docker push` vs `skopeo copy oci:… docker://…`.
# Images: a Debian bookworm minbase rootfs (debootstrap --variant=minbase) as one gzip layer and
# as 5 layers, built once and cached under /var/tmp/berth-bench-pull (delete it to rebuild).
# Each daemon gets its own temporary state; dockerd runs in a private mount namespace with /run on
# tmpfs, as in bench/engine. Medians in ms; ratios are berth/docker. A berth command that fails
# (e.g. before berth can pull) prints "failed" in its column and the run goes on.
# Root. Usage: bench/pull/run.sh [--runs N] [--berthd PATH] [--berth PATH] [--shim PATH]
#                                [--skip-push] [--only one|five]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); src=$(cd "$here/../.." && pwd)
runs=5; berthd=${BERTHD:-$src/build/release/berthd}; berth=${BERTH_CLI:-$src/build/release/berth}
shim=${BERTH_SHIM:-$src/build/release/berth-shim}; skip_push=0; only=""
cache=/var/tmp/berth-bench-pull
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2;;
    --berthd) berthd=$2; shift 2;;
    --berth) berth=$2; shift 2;;
    --shim) shim=$2; shift 2;;
    --skip-push) skip_push=1; shift;;
    --only) only=$2; shift 2;;
    *) echo "unknown $1" >&2; exit 2;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/pull: needs root" >&2; exit 1; }
for t in docker-registry skopeo umoci dockerd debootstrap docker; do
  command -v "$t" >/dev/null || { echo "bench/pull: $t missing" >&2; exit 1; }
done

# ---- cached images ----------------------------------------------------------------------------
mkdir -p "$cache"
if [ ! -d "$cache/rootfs" ]; then
  echo "building the Debian minbase rootfs (debootstrap, once) ..."
  rm -rf "$cache/rootfs.tmp"
  debootstrap --variant=minbase bookworm "$cache/rootfs.tmp" http://deb.debian.org/debian \
    >"$cache/debootstrap.log" 2>&1 || { echo "debootstrap failed: $cache/debootstrap.log" >&2; exit 1; }
  mv "$cache/rootfs.tmp" "$cache/rootfs"
fi
for n in 1 5; do
  [ -f "$cache/oci-$n/index.json" ] || python3 "$here/make_image.py" --rootfs "$cache/rootfs" \
    --layers "$n" --out "$cache/oci-$n"
done

# ---- state ------------------------------------------------------------------------------------
work=$(mktemp -d /tmp/berth-bench-pull.XXXXXX)
chmod 755 "$work"
# kill_mentioning: SIGKILL the processes whose command line names $work (the daemons' children:
# shims, containerd), by pid.
kill_mentioning() {
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$work" && kill -9 "$p" 2>/dev/null || true
  done
}
cleanup() {
  set +e
  for s in b d; do
    DOCKER_HOST=unix://$work/$s.sock docker rm -f $(DOCKER_HOST=unix://$work/$s.sock docker ps -aq 2>/dev/null) >/dev/null 2>&1
  done
  for f in berthd.pid dockerd.pid; do [ -f "$work/$f" ] && kill "$(cat "$work/$f")" 2>/dev/null; done
  [ -f "$work/seed.pid" ] && kill "$(cat "$work/seed.pid")" 2>/dev/null
  stop_push_registry
  sleep 2
  kill_mentioning
  grep -F "$work" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$work"
  for c in /sys/fs/cgroup/*/berth-bench-pull /sys/fs/cgroup/berth-bench-pull; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  true
}
trap cleanup EXIT
mkdir -p "$work/bin" "$work/res"
cp "$berthd" "$work/bin/berthd"; cp "$shim" "$work/bin/berth-shim"
if [ -x "$berth" ]; then cp "$berth" "$work/bin/berth"; else printf '#!/bin/sh\necho "berth CLI not built" >&2; exit 1\n' >"$work/bin/berth"; chmod +x "$work/bin/berth"; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_registry NAME PORT: docker-registry on 127.0.0.1:PORT with storage $work/NAME; pid in
# $work/NAME.pid.
start_registry() {
  local name=$1 port=$2
  rm -rf "$work/$name"; mkdir -p "$work/$name"
  cat >"$work/$name.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/$name
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  (docker-registry serve "$work/$name.yml" >>"$work/$name.log" 2>&1 & echo $! >"$work/$name.pid")
  for _ in $(seq 200); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "bench/pull: registry $name did not start: $(tail -3 "$work/$name.log")" >&2; exit 1
}
stop_push_registry() {
  if [ -f "$work/push.pid" ]; then
    kill "$(cat "$work/push.pid")" 2>/dev/null || true
    while kill -0 "$(cat "$work/push.pid")" 2>/dev/null; do sleep 0.05; done
    rm -f "$work/push.pid"
  fi
}

seed_port=$(free_port); start_registry seed "$seed_port"; seed=127.0.0.1:$seed_port
push_port=$(free_port); push=127.0.0.1:$push_port

"$work/bin/berthd" --data-root "$work/berth" --exec-root "$work/berth-exec" -H "unix://$work/b.sock" \
  --cgroup-parent /berth-bench-pull --shim "$work/bin/berth-shim" --pidfile "$work/berthd.pid" \
  >"$work/berthd.log" 2>&1 &
echo '{}' > "$work/daemon.json"
unshare --mount --propagation private -- sh -c 'mount -t tmpfs tmpfs /run && { [ ! -d /etc/docker ] || mount -t tmpfs tmpfs /etc/docker; } && exec "$@"' sh \
  dockerd --config-file "$work/daemon.json" --data-root "$work/docker" --exec-root "$work/docker-exec" \
  --pidfile "$work/dockerd.pid" -H "unix://$work/d.sock" --iptables=false --ip-forward=false \
  --ip-masq=false --bridge=none --userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs \
  --log-level warn >"$work/dockerd.log" 2>&1 &
for s in b d; do
  for _ in $(seq 300); do DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 && break; sleep 0.1; done
  DOCKER_HOST=unix://$work/$s.sock docker version >/dev/null 2>&1 || { echo "bench/pull: daemon $s did not start" >&2; exit 1; }
done
export DOCKER_CONFIG=$work/docker-config; mkdir -p "$DOCKER_CONFIG"
B=(docker -H "unix://$work/b.sock"); D=(docker -H "unix://$work/d.sock")
BERTH=("$work/bin/berth" -H "unix://$work/b.sock")

images=(one five); [ -n "$only" ] && images=("$only")
declare -A layers=([one]=1 [five]=5)
for img in "${images[@]}"; do
  skopeo copy --quiet --dest-tls-verify=false "oci:$cache/oci-${layers[$img]}:bench" \
    "docker://$seed/bench/$img:v1"
done

# timed NAME CMD...: runs CMD, appends its wall time in ms to $work/res/NAME (or "fail"); the
# first failure's stderr is kept in $work/res/NAME.err.
timed() {
  local name=$1 t0 t1; shift
  t0=$(date +%s%N)
  if "$@" >/dev/null 2>"$work/res/last.err"; then
    t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )) >>"$work/res/$name"
  else
    echo fail >>"$work/res/$name"
    [ -f "$work/res/$name.err" ] || cp "$work/res/last.err" "$work/res/$name.err"
  fi
}
# pushed NAME REF: a push that said it worked must have left the whole image in the registry.
pushed() {
  [ "$(tail -1 "$work/res/$1")" = fail ] && return 0
  if ! skopeo copy --quiet --src-tls-verify=false "docker://$2" "oci:$work/check:v" >/dev/null 2>"$work/res/check.err"; then
    sed -i '$ s/.*/fail/' "$work/res/$1"
    [ -f "$work/res/$1.err" ] || { echo "pushed image unreadable:"; cat "$work/res/check.err"; } >"$work/res/$1.err"
  fi
  rm -rf "$work/check"
}
reset_daemon() {  # reset_daemon DOCKER-CLI...: no images, nothing cached
  "$@" rmi -f $("$@" images -aq 2>/dev/null) >/dev/null 2>&1 || true
  "$@" image prune -af >/dev/null 2>&1 || true
}
skopeo_umoci_pull() {
  rm -rf "$work/su"; mkdir -p "$work/su"
  skopeo copy --quiet --src-tls-verify=false "docker://$1" "oci:$work/su/layout:v1" &&
    umoci unpack --image "$work/su/layout:v1" "$work/su/bundle"
}

echo "cold pull from a local docker-registry ($runs runs each; ms, median):"
for r in $(seq "$runs"); do
  for img in "${images[@]}"; do
    ref=$seed/bench/$img:v1
    reset_daemon "${B[@]}"; timed "pull-$img-berth" "${BERTH[@]}" pull "$ref"
    reset_daemon "${D[@]}"; timed "pull-$img-docker" "${D[@]}" pull "$ref"
    timed "pull-$img-skopeo" skopeo_umoci_pull "$ref"
    rm -rf "$work/su"
  done
done

if [ "$skip_push" = 0 ]; then
  for img in "${images[@]}"; do  # both daemons hold the image to push
    "${BERTH[@]}" pull "$seed/bench/$img:v1" >/dev/null 2>&1 || "${B[@]}" pull "$seed/bench/$img:v1" >/dev/null 2>&1 || true
    "${D[@]}" pull "$seed/bench/$img:v1" >/dev/null
    "${B[@]}" tag "$seed/bench/$img:v1" "$push/bench/$img:v1" >/dev/null 2>&1 || true
    "${D[@]}" tag "$seed/bench/$img:v1" "$push/bench/$img:v1"
  done
  echo "push to an empty docker-registry ($runs runs each):"
  for r in $(seq "$runs"); do
    for img in "${images[@]}"; do
      ref=$push/bench/$img:v1
      stop_push_registry; start_registry push "$push_port"; timed "push-$img-berth" "${BERTH[@]}" push "$ref"
      pushed "push-$img-berth" "$ref"
      stop_push_registry; start_registry push "$push_port"; timed "push-$img-docker" "${D[@]}" push "$ref"
      pushed "push-$img-docker" "$ref"
      stop_push_registry; start_registry push "$push_port"
      timed "push-$img-skopeo" skopeo copy --quiet --dest-tls-verify=false \
        "oci:$cache/oci-${layers[$img]}:bench" "docker://$ref"
    done
  done
  stop_push_registry
fi

# ---- report -----------------------------------------------------------------------------------
median() {  # median FILE: median of the numbers in FILE, or "failed" if any run failed
  [ -f "$1" ] || { echo "-"; return; }
  grep -q fail "$1" && { echo failed; return; }
  sort -n "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'
}
describe_img() {
  local n=${layers[$1]} gz
  gz=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(round(sum(l["size"] for l in m["layers"])/1e6))' \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"]; print(sys.argv[1]+"/blobs/sha256/"+d[7:])' "$cache/oci-$n")")
  echo "debian minbase, $n layer$([ "$n" = 1 ] || echo s) ($gz MB gz)"
}
echo
echo "rootfs: $(du -sm --apparent-size "$cache/rootfs" | cut -f1) MB, $(find "$cache/rootfs" | wc -l) entries; runs: $runs; medians in ms"
printf '%-8s %-36s %10s %10s %14s %14s\n' op image berth docker skopeo+umoci berth/docker
for op in pull push; do
  [ "$op" = push ] && [ "$skip_push" = 1 ] && continue
  for img in "${images[@]}"; do
    b=$(median "$work/res/$op-$img-berth"); d=$(median "$work/res/$op-$img-docker")
    s=$(median "$work/res/$op-$img-skopeo"); ratio=-
    if [[ "$b" =~ ^[0-9]+$ && "$d" =~ ^[0-9]+$ && "$d" -gt 0 ]]; then
      ratio=$(awk -v b="$b" -v d="$d" 'BEGIN {printf "%.2fx", b/d}')
    fi
    [ "$op" = push ] && [ "$s" != - ] && s="$s (copy)"
    printf '%-8s %-36s %10s %10s %14s %14s\n' "$op" "$(describe_img "$img")" "$b" "$d" "$s" "$ratio"
  done
done
for f in "$work"/res/*-*.err; do
  [ -f "$f" ] || continue
  echo "$(basename "$f" .err) failed: $(grep -v '^\s*$' "$f" | head -1 | cut -c1-200)"
done
