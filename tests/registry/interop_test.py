#!/usr/bin/env python3
"""save/load round trips with real peers: a private dockerd (Debian's docker.io 20.10), skopeo
(docker-archive:, oci:, oci-archive:) and umoci (unpack, repack).

The daemon under test is BERTH_TEST_DAEMON (berthd by default, or dockerd); the dockerd peer is
always there. dockerd 20.10 writes the docker <= 24 save format and loads only tarballs with a
manifest.json, so the OCI-layout cases (berth save read as OCI, OCI layouts loaded) run against
berthd only, and say so when skipped.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_lib import DAEMON_KIND, DOCKER, busybox_tarball, new_daemon  # noqa: E402

NAME = "five:latest"


def describe(r):
    return (f"$ {' '.join(map(str, r.args))}\nexit {r.returncode}\nstdout: {r.stdout[-2000:]!r}\n"
            f"stderr: {r.stderr[-2000:]!r}")


class InteropTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="berth-interop-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        for tool in ("skopeo", "umoci"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} not installed")
        # busybox with 5 small layers on top; the first whites out /etc/motd.
        cls.five = busybox_tarball(cls.tmp, "five.tar", tag=NAME, layers=5)
        cls.d = new_daemon()
        cls.addClassCleanup(cls.d.cleanup)
        cls.d.start()
        cls.peer = new_daemon("berth-interop-peer-", "dockerd")
        cls.addClassCleanup(cls.peer.cleanup)
        cls.peer.start()
        r = cls.d.docker("load", "-i", cls.five, timeout=120)
        if r.returncode != 0:
            raise AssertionError(describe(r))
        cls.image_id = cls.d.docker("image", "inspect", "-f", "{{.Id}}", NAME,
                                    check=True).stdout.strip()

    def path(self, name):
        return os.path.join(self.tmp, f"{self._testMethodName}-{name}")

    def ok(self, r):
        self.assertEqual(r.returncode, 0, describe(r))
        return r

    def docker(self, *args, daemon=None, timeout=300):
        d = daemon or self.d
        r = d.docker(*args, timeout=timeout)
        self.assertEqual(r.returncode, 0, describe(r) + "\n--- daemon log ---\n" + d.read_log())
        return r.stdout

    def tool(self, *args, timeout=300):
        return self.ok(subprocess.run(args, capture_output=True, text=True, timeout=timeout))

    def check_five(self, ref, daemon=None):
        """The five-layer image runs: top layer present, /etc/motd whited out."""
        out = self.docker("run", "--rm", "--network", "none", ref, "sh", "-c",
                          "cat /layer1.txt /layer5.txt; test -e /etc/motd && echo motd; true",
                          daemon=daemon)
        self.assertEqual(out, "layer 1\nlayer 5\n")

    def load(self, tarball, daemon=None):
        return self.docker("load", "-i", tarball, daemon=daemon)

    def image_id_of(self, ref, daemon=None):
        return self.docker("image", "inspect", "-f", "{{.Id}}", ref, daemon=daemon).strip()

    def layers_of(self, ref, daemon=None):
        return self.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", ref,
                           daemon=daemon).strip()

    def need_oci(self):
        if DAEMON_KIND == "dockerd":
            self.skipTest("dockerd 20.10 neither writes nor loads OCI layouts (docker >= 25 does)")

    # ---- dockerd ------------------------------------------------------------------------

    def test_save_load_with_dockerd(self):
        saved = self.path("saved.tar")
        self.docker("save", "-o", saved, NAME)
        self.assertIn(f"Loaded image: {NAME}", self.load(saved, daemon=self.peer))
        self.assertEqual(self.image_id_of(NAME, daemon=self.peer), self.image_id)
        self.check_five(NAME, daemon=self.peer)
        back = self.path("back.tar")
        self.docker("tag", NAME, "fromdockerd:v1", daemon=self.peer)
        self.docker("save", "-o", back, "fromdockerd:v1", daemon=self.peer)
        self.assertIn("Loaded image: fromdockerd:v1", self.load(back))
        self.assertEqual(self.image_id_of("fromdockerd:v1"), self.image_id)
        self.check_five("fromdockerd:v1")
        # The same through a pipe: save | load.
        self.docker("rmi", "fromdockerd:v1")
        save = subprocess.Popen([DOCKER, "save", "fromdockerd:v1"],
                                env=self.peer.env, stdout=subprocess.PIPE)
        try:
            r = subprocess.run([DOCKER, "load"], stdin=save.stdout, env=self.d.env,
                               capture_output=True, text=True, timeout=300)
        finally:
            save.stdout.close()
            save.wait()
        self.ok(r)
        self.assertEqual(save.returncode, 0)
        self.check_five("fromdockerd:v1")

    # ---- skopeo -------------------------------------------------------------------------

    def test_skopeo_docker_archive_and_oci_dir(self):
        saved = self.path("saved.tar")
        self.docker("save", "-o", saved, NAME)
        layout = self.path("layout")
        self.tool("skopeo", "copy", "--quiet", f"docker-archive:{saved}", f"oci:{layout}:five")
        out = self.path("skopeo.tar")
        self.tool("skopeo", "copy", "--quiet", f"oci:{layout}:five",
                  f"docker-archive:{out}:skopeo/five:v1")
        self.assertIn("Loaded image: skopeo/five:v1", self.load(out))
        # skopeo rewrites the config into OCI form (another image ID); the layers stay.
        self.assertEqual(self.layers_of("skopeo/five:v1"), self.layers_of(NAME))
        self.check_five("skopeo/five:v1")
        inspect = self.tool("skopeo", "inspect", f"docker-archive:{saved}").stdout
        self.assertIn('"Layers"', inspect)

    def test_skopeo_oci_archive_both_ways(self):
        self.need_oci()
        saved = self.path("saved.tar")
        self.docker("save", "-o", saved, NAME)
        # berth's save is an OCI layout too.
        layout = self.path("layout")
        self.tool("skopeo", "copy", "--quiet", f"oci-archive:{saved}:latest", f"oci:{layout}:x")
        ociarc = self.path("oci-archive.tar")
        self.tool("skopeo", "copy", "--quiet", f"docker-archive:{self.five}",
                  f"oci-archive:{ociarc}:five")
        out = self.load(ociarc)
        m = re.search(r"Loaded image ID: (sha256:[0-9a-f]{64})", out)
        self.assertTrue(m, out)
        self.assertEqual(self.layers_of(m.group(1)), self.layers_of(NAME))
        self.check_five(m.group(1))

    # ---- umoci --------------------------------------------------------------------------

    def test_umoci_unpack_and_repack(self):
        self.need_oci()
        saved = self.path("saved.tar")
        self.docker("save", "-o", saved, NAME)
        layout = self.path("layout")
        os.makedirs(layout)
        with tarfile.open(saved) as t:
            t.extractall(layout, filter="tar")
        tags = self.tool("umoci", "ls", "--layout", layout).stdout.split()
        self.assertIn("latest", tags)
        bundle = self.path("bundle")
        self.tool("umoci", "unpack", "--image", f"{layout}:latest", bundle)
        rootfs = os.path.join(bundle, "rootfs")
        with open(os.path.join(rootfs, "layer5.txt")) as f:
            self.assertEqual(f.read(), "layer 5\n")
        self.assertFalse(os.path.lexists(os.path.join(rootfs, "etc", "motd")))
        self.assertTrue(os.path.islink(os.path.join(rootfs, "bin", "sh")))
        with open(os.path.join(rootfs, "umoci.txt"), "w") as f:
            f.write("repacked by umoci\n")
        os.unlink(os.path.join(rootfs, "layer1.txt"))
        self.tool("umoci", "repack", "--image", f"{layout}:repacked", bundle)
        self.tool("umoci", "config", "--image", f"{layout}:repacked", "--tag", "repacked",
                  "--config.cmd", "cat", "--config.cmd", "/umoci.txt")
        # A pure OCI layout: umoci keeps index.json, not docker's manifest.json (which load
        # would prefer, as docker does). umoci copied the original's annotations to the new
        # tag: name it.
        for name in ("manifest.json", "repositories"):
            if os.path.exists(os.path.join(layout, name)):
                os.unlink(os.path.join(layout, name))
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
        for desc in index["manifests"]:
            if desc["annotations"]["org.opencontainers.image.ref.name"] == "repacked":
                desc["annotations"]["io.containerd.image.name"] = "docker.io/library/umoci:repacked"
        with open(os.path.join(layout, "index.json"), "w") as f:
            json.dump(index, f)
        out = self.path("repacked.tar")
        with tarfile.open(out, "w") as t:
            for name in sorted(os.listdir(layout)):
                t.add(os.path.join(layout, name), arcname=name)
        loaded = self.load(out)
        self.assertIn("Loaded image: umoci:repacked", loaded)
        self.assertEqual(self.image_id_of(NAME), self.image_id)
        r = self.docker("run", "--rm", "--network", "none", "umoci:repacked")
        self.assertEqual(r, "repacked by umoci\n")
        r = self.docker("run", "--rm", "--network", "none", "umoci:repacked", "sh", "-c",
                        "test -e /layer1.txt || echo gone; cat /layer5.txt")
        self.assertEqual(r, "gone\nlayer 5\n")


if __name__ == "__main__":
    unittest.main()
