#!/usr/bin/env bash
# Builds an OCI bundle (rootfs + config.json) from Debian's static busybox, for the runtime's
# integration tests, interop tests and benchmarks.
#
# The rootfs (bin/busybox, a symlink per applet, /etc/passwd and /etc/group, empty mount
# points, /true) is built once into a cache keyed by the busybox binary, then copied with
# `cp -a` (or hard-linked with --hardlink), so a bundle takes a few milliseconds.
#
# Usage: make-busybox-bundle.sh [options] DIR [ARG...]
#   ARG...            process.args (default: sh)
#   --runtime PATH    config.json from `PATH spec` (default: a built-in runc-style spec)
#   --rootless        `spec --rootless` (built-in spec: user namespace mapping the caller's ids)
#   --jq FILTER       apply a jq filter to config.json (repeatable, applied in order)
#   --no-config       write the rootfs only
#   --hardlink        hard-link rootfs files from the cache (faster; never chown or write them)
#   --busybox PATH    busybox binary (default: /bin/busybox)
# Env: BERTH_BUNDLE_CACHE  cache directory (default: /var/tmp/berth-busybox-rootfs)
#
# The generated config always has process.terminal=false and process.args=ARG...; everything
# else is the runtime's `spec` output (pid, network, ipc, uts, mount namespaces; read-only root).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2; }

runtime="" rootless=0 no_config=0 hardlink=0 busybox=/bin/busybox
filters=()
while (($#)); do
  case "$1" in
    --runtime) runtime=${2:?--runtime needs a path}; shift 2 ;;
    --rootless) rootless=1; shift ;;
    --jq) filters+=("${2:?--jq needs a filter}"); shift 2 ;;
    --no-config) no_config=1; shift ;;
    --hardlink) hardlink=1; shift ;;
    --busybox) busybox=${2:?--busybox needs a path}; shift 2 ;;
    -h|--help) usage ;;
    --) shift; break ;;
    -*) echo "make-busybox-bundle: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($#)) || usage
dir=$1; shift
args=("$@")
((${#args[@]})) || args=(sh)

die() { echo "make-busybox-bundle: $*" >&2; exit 1; }
[ -x "$busybox" ] || die "$busybox: not found (apt-get install busybox-static)"
if [ -e "$dir/rootfs" ] || [ -e "$dir/config.json" ]; then
  die "$dir: bundle already exists"
fi

# ---- rootfs cache -----------------------------------------------------------------------
cache_root=${BERTH_BUNDLE_CACHE:-/var/tmp/berth-busybox-rootfs}
key=$(stat -L -c '%s-%Y-%i' "$busybox")-v1
cache=$cache_root/$key

build_cache() {
  mkdir -p "$cache_root"
  local tmp
  tmp=$(mktemp -d "$cache_root/.build.XXXXXX")
  local r=$tmp/rootfs
  mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root,home/berth,var/tmp,run}
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 700 "$r/root"
  cp "$busybox" "$r/bin/busybox"
  chmod 755 "$r/bin/busybox"
  # One symlink per applet, all in /bin; the usual other PATH directories point at it.
  local applet
  while read -r applet; do
    [ "$applet" = busybox ] || ln -s busybox "$r/bin/$applet"
  done < <("$busybox" --list)
  ln -s bin "$r/sbin"
  mkdir -p "$r/usr"
  ln -s ../bin "$r/usr/bin"
  ln -s ../bin "$r/usr/sbin"
  # busybox picks the applet from argv[0]'s basename, so /true runs `true`.
  ln -s bin/busybox "$r/true"
  cat > "$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
berth:x:1000:1000:berth test user:/home/berth:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat > "$r/etc/group" <<'EOF'
root:x:0:
tty:x:5:
berth:x:1000:
nogroup:x:65534:
EOF
  echo berth > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$r/etc/hosts"
  : > "$r/etc/resolv.conf"
  chown 1000:1000 "$r/home/berth"
  # Publish atomically: concurrent builders race on rename, the loser discards its copy.
  if ! mv -T "$tmp" "$cache" 2>/dev/null; then
    rm -rf "$tmp"
  fi
}
[ -d "$cache/rootfs/bin" ] || build_cache

mkdir -p "$dir"
if ((hardlink)); then
  cp -al "$cache/rootfs" "$dir/rootfs"
else
  cp -a "$cache/rootfs" "$dir/rootfs"
fi
((no_config)) && exit 0

# ---- config.json ------------------------------------------------------------------------
default_spec() {
  # runc 1.1's `runc spec` output (runtime-spec 1.0.2), verbatim.
  cat <<'EOF'
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "runc",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                   {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                    "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}

command -v jq >/dev/null || die "jq not found (apt-get install jq)"
if [ -n "$runtime" ]; then
  spec_args=(spec --bundle "$dir")
  ((rootless)) && spec_args+=(--rootless)
  "$runtime" "${spec_args[@]}"
  spec=$(cat "$dir/config.json")
else
  spec=$(default_spec)
  if ((rootless)); then
    uid=$(id -u) gid=$(id -g)
    spec=$(jq --argjson u "$uid" --argjson g "$gid" '
      .linux.namespaces += [{"type": "user"}]
      | .linux.uidMappings = [{"containerID": 0, "hostID": $u, "size": 1}]
      | .linux.gidMappings = [{"containerID": 0, "hostID": $g, "size": 1}]
      | del(.linux.resources)' <<<"$spec")
  fi
fi

# jq 1.6 parses options after --args, so each arg travels as its own --arg a<i>.
jq_args=()
for i in "${!args[@]}"; do jq_args+=(--arg "a$i" "${args[$i]}"); done
filter="[range(${#args[@]}) as \$i | \$ARGS.named[\"a\\(\$i)\"]] as \$args
  | .process.terminal = false | .process.args = \$args"
for f in "${filters[@]+"${filters[@]}"}"; do filter+=" | ($f)"; done
jq "${jq_args[@]}" "$filter" <<<"$spec" > "$dir/config.json.tmp"
mv "$dir/config.json.tmp" "$dir/config.json"
