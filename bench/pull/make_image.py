#!/usr/bin/env python3
"""Makes an OCI image layout directory from a root filesystem (bench/pull's Debian minbase).

The rootfs is split into --layers gzip layers (1: everything in one layer; N: its second-level
directories packed by size into N layers, each layer carrying the parent directories it needs).
/dev, /proc, /sys, /run and /tmp keep their directories but not their contents, as in images
built by docker. Entries are sorted, owners numeric, so the same rootfs gives the same bytes.
gzip level 6 through the system's gzip (or pigz).

Usage: make_image.py --rootfs DIR --layers N --out LAYOUT_DIR [--tag bench]
"""
import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tarfile

EMPTY_DIRS = ("dev", "proc", "sys", "run", "tmp")


def go_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def walk(rootfs):
    """Sorted relative paths of every entry to pack."""
    out = []
    for top in sorted(os.listdir(rootfs)):
        out.append(top)
        full = os.path.join(rootfs, top)
        if top in EMPTY_DIRS or not os.path.isdir(full) or os.path.islink(full):
            continue
        for d, dirs, files in os.walk(full):
            dirs.sort()
            rel = os.path.relpath(d, rootfs)
            for name in sorted(dirs + files):
                out.append(os.path.join(rel, name))
    return out


def entry_size(rootfs, rel):
    st = os.lstat(os.path.join(rootfs, rel))
    return st.st_size if os.path.isfile(os.path.join(rootfs, rel)) else 0


def split(rootfs, paths, n):
    if n <= 1:
        return [paths]
    groups = {}
    for p in paths:
        parts = p.split("/")
        key = "/".join(parts[:2]) if len(parts) >= 2 else parts[0]
        groups.setdefault(key, []).append(p)
    sizes = {k: sum(entry_size(rootfs, p) for p in v) for k, v in groups.items()}
    bins = [[] for _ in range(n)]
    totals = [0] * n
    for k in sorted(groups, key=lambda k: -sizes[k]):
        i = totals.index(min(totals))
        bins[i].append(k)
        totals[i] += sizes[k]
    layers = []
    for keys in bins:
        chosen = sorted(p for k in keys for p in groups[k])
        need = set()
        for p in chosen:
            parts = p.split("/")
            for j in range(1, len(parts)):
                need.add("/".join(parts[:j]))
        layers.append(sorted(set(chosen) | need))
    return layers


def write_layer(rootfs, paths, tmp_tar):
    with tarfile.open(tmp_tar, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            ti = tar.gettarinfo(os.path.join(rootfs, rel), arcname=rel)
            ti.uname = ti.gname = ""
            if ti.isreg():
                with open(os.path.join(rootfs, rel), "rb") as f:
                    tar.addfile(ti, f)
            else:
                tar.addfile(ti)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest(), os.path.getsize(path)


def put_blob(blobs, src):
    digest, size = sha256_file(src)
    dst = os.path.join(blobs, digest[7:])
    os.replace(src, dst)
    return digest, size


def put_bytes(blobs, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest[7:]), "wb") as f:
        f.write(data)
    return digest, len(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="bench")
    args = ap.parse_args()
    tmp = args.out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    blobs = os.path.join(tmp, "blobs", "sha256")
    os.makedirs(blobs)
    gz = shutil.which("pigz") or "gzip"
    diff_ids, descs = [], []
    for i, paths in enumerate(split(args.rootfs, walk(args.rootfs), args.layers)):
        raw = os.path.join(tmp, f"layer{i}.tar")
        write_layer(args.rootfs, paths, raw)
        diff_ids.append(sha256_file(raw)[0])
        subprocess.run([gz, "-6", "-n", "-f", raw], check=True)
        digest, size = put_blob(blobs, raw + ".gz")
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": digest, "size": size})
    created = "2024-01-01T00:00:00Z"
    config = {"architecture": go_arch(), "os": "linux", "created": created,
              "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                         "Cmd": ["bash"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created": created, "created_by": f"bench/pull layer {i}"}
                          for i in range(len(diff_ids))]}
    cdigest, csize = put_bytes(blobs, json.dumps(config, sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cdigest, "size": csize},
                "layers": descs}
    mdigest, msize = put_bytes(blobs, json.dumps(manifest, sort_keys=True).encode())
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": mdigest, "size": msize,
                            "annotations": {"org.opencontainers.image.ref.name": args.tag}}]}
    with open(os.path.join(tmp, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(tmp, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    shutil.rmtree(args.out, ignore_errors=True)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(descs)} layers, {sum(d['size'] for d in descs) / 1e6:.1f} MB gzip")


if __name__ == "__main__":
    main()
