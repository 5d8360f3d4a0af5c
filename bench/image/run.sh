#!/usr/bin/env bash
# Layer unpack benchmark: berth's unpack_tar vs GNU tar (tar xzf) vs umoci unpack, on the same
# gzip layer of many files, plus write_tar and zlib level figures. Root required (owners).
# Usage: bench/image/run.sh [WORKDIR]   (default build/bench-image; needs ~3 GB free)
# The layer is /usr/include, /usr/lib/gcc, /usr/share/{locale,man} (~740 MB, ~56k entries).
set -euo pipefail
repo=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
work=${1:-$repo/build/bench-image}
mkdir -p "$work"
work=$(cd "$work" && pwd)
cd "$work"

# Built with -O2 straight from the sources (objects cached in WORKDIR/obj), independent of CMake.
bin=$work/unpack_bench
mkdir -p obj
objs=()
for src in "$repo/bench/image/unpack_bench.cc" \
    "$repo"/src/image/{archive,archive_write,archive_changes,tar_codec,digest}.cc \
    "$repo"/src/base/{error,path,file,strings,json}.cc $(ls "$repo"/src/oci/*.cc | grep -v _test); do
  obj=obj/$(basename "$(dirname "$src")")_$(basename "$src" .cc).o
  if [[ ! -f $obj || $src -nt $obj || $repo/src/image/tar_codec.h -nt $obj ]]; then
    echo "compiling $src"
    g++ -std=c++23 -O2 -DFMT_HEADER_ONLY=1 -D_GNU_SOURCE=1 -I"$repo/src" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
g++ "${objs[@]}" -larchive -lcrypto -o "$bin"

if [[ ! -f layer.tar.gz ]]; then
  echo "making layer.tar.gz..."
  tar -C / -cf layer.tar usr/include usr/lib/gcc usr/share/locale usr/share/man 2>/dev/null || true
  gzip -c layer.tar > layer.tar.gz
  zstd -q -T0 -c layer.tar > layer.tar.zst
fi
echo "layer: $(du -m layer.tar.gz | cut -f1) MB gzip, $(du -m layer.tar | cut -f1) MB tar," \
  "$(tar -tzf layer.tar.gz | wc -l) entries"

timeit() {  # prints wall seconds of "$@"
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
# BENCH_DEST=/dev/shm/x measures on tmpfs: the CPU work of each tool, not the shared disk.
dest=${BENCH_DEST:-$work/out}
fresh() { rm -rf "$dest"; mkdir -p "$dest"; sync; }
cpu() { /usr/bin/time -f "%e s wall, %U user %S sys" "$@" 2>&1 >/dev/null | tail -1; }

cat layer.tar.gz layer.tar layer.tar.zst >/dev/null  # warm the page cache for every run
for round in 1 2; do
  echo "-- round $round (dest $dest)"
  fresh; echo "berth unpack_tar gzip:  $(cpu "$bin" unpack layer.tar.gz "$dest")"
  fresh; echo "GNU tar xzf:            $(cpu tar -C "$dest" --same-owner -xzf layer.tar.gz) (tar process; gzip child not counted)"
  fresh; echo "berth unpack_tar zstd:  $(cpu "$bin" unpack layer.tar.zst "$dest")"
  fresh; echo "berth unpack_tar plain: $(cpu "$bin" unpack layer.tar "$dest")"
  fresh; echo "GNU tar xf plain:       $(cpu tar -C "$dest" --same-owner -xf layer.tar)"
done
echo "gzip -dc only:          $(cpu gzip -dc layer.tar.gz)"

if command -v umoci >/dev/null; then
  rm -rf oci "$dest"
  umoci init --layout oci >/dev/null
  umoci new --image oci:bench >/dev/null
  umoci raw add-layer --image oci:bench layer.tar >/dev/null  # umoci gzips it itself
  sync
  echo "umoci unpack (gzip, incl. mtree): $(cpu umoci unpack --image oci:bench "$dest")"
  rm -rf oci "$dest"
fi
fresh; tar -C "$dest" -xf layer.tar
echo "berth write_tar+gzip:   $("$bin" pack "$dest" 2>&1)"
"$bin" levels layer.tar
rm -rf "$dest"
