#!/usr/bin/env python3
"""Builds a busybox image tarball from the host's static busybox (Debian busybox-static).

The rootfs holds /bin/busybox with a symlink per applet, /etc/passwd and /etc/group (root,
nobody), /etc/motd, /tmp (1777), /root, and empty /dev /proc /sys. Output formats:

  --format docker         docker-save tarball as docker >= 25 writes it (manifest.json with
                          blobs/sha256 paths, repositories, oci-layout, index.json)
  --format docker-legacy  docker <= 24 form (<layer id>/layer.tar, <config hex>.json, manifest.json)
  --format oci            OCI image layout tarball (oci-layout, index.json, blobs/sha256)

--layers N adds N small layers on top (layerK.txt each; the first also whites out /etc/motd).
--gzip compresses the layers (OCI format only; docker-save layers are uncompressed).
--pad-mb N adds one more layer on top holding /pad.bin, N MiB of seeded pseudo-random bytes
(incompressible, the same for the same N): large images for load/save benchmarks.
Output is deterministic: same busybox and arguments, same bytes.

Usage: make_busybox_image.py -o out.tar [--format docker|docker-legacy|oci] [--tag busybox:latest]
       [--layers N] [--pad-mb N] [--gzip] [--busybox /bin/busybox] [--arch amd64]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import random
import subprocess
import sys
import tarfile

MTIME = 1700000000  # fixed: 2023-11-14T22:13:20Z
CREATED = "2023-11-14T22:13:20Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def go_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def applets(busybox):
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    names = sorted(set(n.strip() for n in out.split() if n.strip() and "/" not in n))
    return [n for n in names if n != "busybox"]


class Layer:
    """An uncompressed layer tar built entry by entry with fixed metadata."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, kind, mode):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.mtime = MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    def dir(self, name, mode=0o755):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode))

    def file(self, name, data, mode=0o644):
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def base_layer(busybox):
    layer = Layer()
    for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("proc", 0o555),
                    ("root", 0o700), ("sys", 0o555), ("tmp", 0o1777), ("usr", 0o755),
                    ("usr/bin", 0o755), ("var", 0o755)):
        layer.dir(d, mode)
    with open(busybox, "rb") as f:
        layer.file("bin/busybox", f.read(), 0o755)
    for name in applets(busybox):
        layer.symlink("bin/" + name, "busybox")
    layer.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
               b"nobody:x:65534:65534:nobody:/home:/bin/false\n")
    layer.file("etc/group", b"root:x:0:\nnobody:x:65534:\n")
    layer.file("etc/motd", b"welcome to berth busybox\n")
    return layer.bytes()


def extra_layer(k):
    layer = Layer()
    layer.file("layer%d.txt" % k, ("layer %d\n" % k).encode())
    if k == 1:
        layer.dir("etc")
        layer.file("etc/.wh.motd", b"")
    return layer.bytes()


def pad_layer(mib):
    layer = Layer()
    layer.file("pad.bin", random.Random(mib).randbytes(mib << 20))
    return layer.bytes()


def normalise(ref):
    name, tag = ref, "latest"
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        name, tag = ref[:colon], ref[colon + 1:]
    first = name.split("/")[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
    return name, tag


def familiar(ref):
    name, tag = normalise(ref)
    if name.startswith("docker.io/library/") and name.count("/") == 2:
        name = name[len("docker.io/library/"):]
    elif name.startswith("docker.io/"):
        name = name[len("docker.io/"):]
    return name + ":" + tag


def add_file(tar, name, data):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    ti.mtime = 0
    ti.uname = ti.gname = ""
    tar.addfile(ti, io.BytesIO(data))


def add_dir(tar, name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    ti.mtime = 0
    tar.addfile(ti)


def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--format", choices=("docker", "docker-legacy", "oci"), default="docker")
    ap.add_argument("--tag", default="busybox:latest", help="repo tag; empty for none")
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--pad-mb", type=int, default=0, help="add a layer of N MiB of random data")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--arch", default=go_arch())
    args = ap.parse_args()

    layers = [base_layer(args.busybox)] + [extra_layer(k) for k in range(1, args.layers + 1)]
    if args.pad_mb > 0:
        layers.append(pad_layer(args.pad_mb))
    diff_ids = [sha256(l) for l in layers]
    history = [{"created": CREATED, "created_by": "/bin/sh -c #(nop) ADD file:busybox in / "}]
    history += [{"created": CREATED, "created_by": "/bin/sh -c #(nop) ADD file:layer%d.txt in / " % k}
                for k in range(1, args.layers + 1)]
    if args.pad_mb > 0:
        history.append({"created": CREATED,
                        "created_by": "/bin/sh -c #(nop) ADD file:pad.bin in / "})
    history.append({"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True})
    config = {
        "architecture": args.arch,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "created": CREATED,
        "history": history,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_bytes = jdump(config)
    config_digest = sha256(config_bytes)

    tmp = args.output + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        if args.format == "docker-legacy":
            parent = ""
            ids = []
            for i, l in enumerate(layers):
                v1 = hashlib.sha256((parent + " " + diff_ids[i]).encode()).hexdigest()
                ids.append(v1)
                add_dir(tar, v1)
                add_file(tar, v1 + "/VERSION", b"1.0")
                j = {"id": v1, "created": CREATED}
                if parent:
                    j["parent"] = parent
                add_file(tar, v1 + "/json", jdump(j))
                add_file(tar, v1 + "/layer.tar", l)
                parent = v1
            add_file(tar, config_digest[7:] + ".json", config_bytes)
            entry = {"Config": config_digest[7:] + ".json",
                     "RepoTags": [familiar(args.tag)] if args.tag else None,
                     "Layers": [i + "/layer.tar" for i in ids]}
            add_file(tar, "manifest.json", jdump([entry]))
            if args.tag:
                name, tag = familiar(args.tag).rsplit(":", 1)
                add_file(tar, "repositories", jdump({name: {tag: ids[-1]}}))
            return finish(tmp, args.output)

        blobs = {}
        layer_descs = []
        for l in layers:
            data = l
            mt = "application/vnd.oci.image.layer.v1.tar"
            if args.gzip and args.format == "oci":
                data = gzip.compress(l, mtime=0)
                mt += "+gzip"
            blobs[sha256(data)] = data
            layer_descs.append({"mediaType": mt, "digest": sha256(data), "size": len(data)})
        blobs[config_digest] = config_bytes
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               "digest": config_digest, "size": len(config_bytes)},
                    "layers": layer_descs}
        manifest_bytes = jdump(manifest)
        blobs[sha256(manifest_bytes)] = manifest_bytes
        desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256(manifest_bytes), "size": len(manifest_bytes)}
        if args.tag:
            name, tag = normalise(args.tag)
            desc["annotations"] = {"io.containerd.image.name": name + ":" + tag,
                                   "org.opencontainers.image.ref.name": tag}
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [desc]}
        add_dir(tar, "blobs")
        add_dir(tar, "blobs/sha256")
        for d in sorted(blobs):
            add_file(tar, "blobs/sha256/" + d[7:], blobs[d])
        add_file(tar, "index.json", jdump(index))
        if args.format == "docker":
            entry = {"Config": "blobs/sha256/" + config_digest[7:],
                     "RepoTags": [familiar(args.tag)] if args.tag else None,
                     "Layers": ["blobs/sha256/" + d[7:] for d in diff_ids]}
            add_file(tar, "manifest.json", jdump([entry]))
        add_file(tar, "oci-layout", jdump({"imageLayoutVersion": "1.0.0"}))
        if args.format == "docker" and args.tag:
            name, tag = familiar(args.tag).rsplit(":", 1)
            add_file(tar, "repositories", jdump({name: {tag: diff_ids[-1][7:]}}))
    return finish(tmp, args.output)


def finish(tmp, out):
    os.replace(tmp, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
