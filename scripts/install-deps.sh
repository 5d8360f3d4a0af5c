#!/usr/bin/env bash
# Installs every build, test and benchmark dependency of berth from Debian packages.
# Idempotent: packages already present are skipped by apt.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

build=(build-essential cmake ninja-build pkg-config clang-format
       nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
       libseccomp-dev libcap-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
       libboost-dev libboost-system-dev libarchive-dev libsqlite3-dev libssl-dev zlib1g-dev
       libzstd-dev libisal-dev libcurl4-openssl-dev)
test=(busybox-static runc crun podman docker.io jq iproute2 util-linux procps python3
      docker-registry skopeo umoci docker-compose apache2-utils sqlite3 python3-cryptography debootstrap)
bench=(hyperfine time)

missing=()
for p in "${build[@]}" "${test[@]}" "${bench[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # dockerd must not start on its own: tests and benchmarks start it with their own flags.
  $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  $SUDO rm -f /usr/sbin/policy-rc.d
fi
