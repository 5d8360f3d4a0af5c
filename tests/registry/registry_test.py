#!/usr/bin/env python3
"""Pull, push, login and logout end to end: the docker CLI (28) and the berth CLI against a
daemon of their own, and Debian's docker-registry (distribution 2.8) on 127.0.0.1, plain, with
htpasswd and with token auth; faults through registry_lib.FaultyRegistry.

BERTH_TEST_DAEMON=berthd (default; $BERTHD, $BERTH_SHIM, $BERTH_CLI) or dockerd (Debian's
dockerd 20.10 in a private mount namespace): every test here was first checked against dockerd
(the berth CLI ones with the berth CLI talking to dockerd). Two are berthd-only and say so when
skipped: schema 1 and manifests over 4 MiB, which dockerd 20.10 still pulls. The checks of
berthd's store (nothing left in <data-root>/content/ingest, no unverified blob in content/blobs)
find nothing to check under dockerd. Everything made (registries, daemons, temp dirs) is removed
even on failure; each test class has its own daemon, registries and ports.
"""

import base64
import io
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
from registry_lib import (DAEMON_KIND, DOCKER, FaultyRegistry, Image, Registry,  # noqa: E402
                          berth_cli, busybox_tarball, go_arch, image_ids, ingest_leftovers,
                          new_daemon, non_loopback_ipv4, stored_blob, push_image, skopeo_inspect,
                          zstd_compress, MT_OCI_LAYER)

MOTD = "welcome to berth busybox"


def describe(r):
    return (f"$ {' '.join(map(str, r.args))}\nexit {r.returncode}\nstdout: {r.stdout[-2000:]!r}\n"
            f"stderr: {r.stderr[-2000:]!r}")


class Base(unittest.TestCase):
    """A class-wide temp dir and daemon (self.d); registries are made by subclasses."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="berth-regtest-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.tarball = busybox_tarball(cls.tmp)
        cls.d = new_daemon()
        cls.addClassCleanup(cls.d.cleanup)
        cls.d.start()

    def docker(self, *args, ok=True, timeout=300, daemon=None):
        d = daemon or self.d
        r = d.docker(*args, timeout=timeout)
        if ok:
            self.assertEqual(r.returncode, 0, describe(r) + "\n--- daemon log ---\n" + d.read_log())
        return r

    def fails(self, *args, timeout=300, daemon=None):
        r = (daemon or self.d).docker(*args, timeout=timeout)
        self.assertNotEqual(r.returncode, 0, describe(r))
        return r

    def run_motd(self, ref, daemon=None):
        r = self.docker("run", "--rm", "--network", "none", ref, "cat", "/etc/motd", daemon=daemon)
        self.assertEqual(r.stdout.strip(), MOTD)

    def repo_digests(self, ref, daemon=None):
        r = self.docker("image", "inspect", "-f", "{{json .RepoDigests}}", ref, daemon=daemon)
        return json.loads(r.stdout)

    def docker_config(self, daemon=None):
        path = os.path.join((daemon or self.d).docker_config, "config.json")
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return json.load(f)

    def login(self, reg, password=None, daemon=None):
        return (daemon or self.d).docker("login", reg.host, "-u", reg.user, "--password-stdin",
                                         input=(password or reg.password) + "\n", timeout=120)

    def berth(self, *args, input=None, timeout=300, daemon=None):
        d = daemon or self.d
        return subprocess.run([self.berth_bin, "-H", f"unix://{d.sock}", *args], input=input,
                              capture_output=True, text=True, timeout=timeout, env=d.env)


# ---- pull ---------------------------------------------------------------------------------------

class PullTest(Base):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reg = Registry()
        cls.addClassCleanup(cls.reg.close)
        push_image(cls.tarball, cls.reg.url, "lib/busybox:1.0")
        cls.digest = skopeo_inspect(cls.reg.ref("lib/busybox:1.0"))["Digest"]

    def test_pull_tag_then_run(self):
        ref = self.reg.ref("lib/busybox:1.0")
        r = self.docker("pull", ref)
        self.assertIn(f"Digest: {self.digest}", r.stdout)
        self.assertIn(f"Status: Downloaded newer image for {ref}", r.stdout)
        self.assertEqual(r.stdout.strip().splitlines()[-1], ref)
        self.run_motd(ref)
        self.assertIn(f"{self.reg.host}/lib/busybox@{self.digest}", self.repo_digests(ref))
        # Pulled again: nothing to do.
        r = self.docker("pull", ref)
        self.assertIn(f"Status: Image is up to date for {ref}", r.stdout)

    def test_pull_by_digest_and_images_digests(self):
        push_image(self.tarball, self.reg.url, "lib/bydigest:v1")
        ref = f"{self.reg.host}/lib/bydigest@{self.digest}"
        r = self.docker("pull", ref)
        self.assertIn(f"Digest: {self.digest}", r.stdout)
        self.assertEqual(r.stdout.strip().splitlines()[-1], ref)
        r = self.docker("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}",
                        f"{self.reg.host}/lib/bydigest")
        self.assertEqual(r.stdout.split("\n")[0].split(), [f"{self.reg.host}/lib/bydigest",
                                                            "<none>", self.digest], r.stdout)
        self.run_motd(ref)

    def test_images_filtered_by_repository(self):
        push_image(self.tarball, self.reg.url, "lib/filter:v1")
        ref = self.reg.ref("lib/filter:v1")
        self.docker("pull", ref)
        self.docker("tag", ref, "regtest/alias:v1")
        self.addCleanup(self.d.docker, "rmi", "regtest/alias:v1")
        r = self.docker("images", "--format", "{{.Repository}}:{{.Tag}}", "regtest/alias")
        self.assertEqual(r.stdout.split(), ["regtest/alias:v1"])
        r = self.docker("images", "--format", "{{.Repository}}:{{.Tag}}",
                        f"{self.reg.host}/lib/filter")
        self.assertEqual(r.stdout.split(), [ref])

    def test_missing_tag_and_repository(self):
        r = self.fails("pull", self.reg.ref("lib/busybox:nope"))
        self.assertIn("manifest unknown", r.stderr)
        r = self.fails("pull", self.reg.ref("nothing/here:v1"))
        self.assertRegex(r.stderr, r"manifest unknown|not found|repository does not exist")

    def test_multi_arch_index(self):
        host = go_arch()
        other = "arm64" if host != "arm64" else "amd64"
        oci_tar = busybox_tarball(self.tmp, "busybox-oci.tar", fmt="oci")
        native = Image.from_tarball(oci_tar)
        foreign = native.with_config(architecture=other)
        entries = [(foreign, {"architecture": other, "os": "linux"}),
                   (native, {"architecture": host, "os": "linux"})]
        index = self.reg.client().push_index("lib/multi", "v1", entries)
        ref = self.reg.ref("lib/multi:v1")
        r = self.docker("pull", ref)
        self.assertIn(f"Digest: {index}", r.stdout)
        inspect = json.loads(self.docker("image", "inspect", ref).stdout)[0]
        self.assertEqual(inspect["Architecture"], host)
        self.assertEqual(inspect["Id"], native.config_digest)
        self.assertIn(f"{self.reg.host}/lib/multi@{index}", inspect["RepoDigests"])
        self.run_motd(ref)
        self.docker("rmi", ref)
        self.docker("pull", "--platform", f"linux/{other}", ref)
        inspect = json.loads(self.docker("image", "inspect", ref).stdout)[0]
        self.assertEqual(inspect["Architecture"], other)
        self.assertEqual(inspect["Id"], foreign.config_digest)
        self.docker("rmi", ref)
        r = self.fails("pull", "--platform", "linux/s390x", ref)
        self.assertIn("no matching manifest for linux/s390x", r.stderr)

    def test_zstd_layer(self):
        oci_tar = busybox_tarball(self.tmp, "busybox-oci.tar", fmt="oci")
        plain = Image.from_tarball(oci_tar, gzip_layers=False)
        zimg = Image(plain.config, [(MT_OCI_LAYER + "+zstd", zstd_compress(d))
                                    for _, d in plain.layers], oci=True)
        digest = self.reg.client().push("lib/zstd", "v1", zimg)
        ref = self.reg.ref("lib/zstd:v1")
        r = self.docker("pull", ref)
        self.assertIn(f"Digest: {digest}", r.stdout)
        self.run_motd(ref)

    def test_uncompressed_docker_layers(self):
        img = Image.from_tarball(self.tarball, gzip_layers=False)
        self.assertTrue(all(mt.endswith(".tar") for mt, _ in img.layers))
        self.reg.client().push("lib/plainlayers", "v1", img)
        ref = self.reg.ref("lib/plainlayers:v1")
        self.docker("pull", ref)
        self.run_motd(ref)

    def test_schema1_refused(self):
        if DAEMON_KIND == "dockerd":
            self.skipTest("dockerd 20.10 still pulls schema 1 (docker >= 28 refuses it)")
        with FaultyRegistry(Image.from_tarball(self.tarball), "schema1") as f:
            before = image_ids(self.d)
            r = self.fails("pull", f"{f.host}/legacy/app:latest")
            self.assertTrue(any("/manifests/" in q["path"] for q in f.requests), f.requests)
            self.assertRegex(r.stderr, re.compile(r"schema ?1|schemaVersion.?1", re.I))
            self.assertEqual(image_ids(self.d), before)

    def test_huge_manifest_refused(self):
        if DAEMON_KIND == "dockerd":
            self.skipTest("dockerd 20.10 reads manifests of any size; berth refuses over 4 MiB")
        with FaultyRegistry(Image.from_tarball(self.tarball), "huge-manifest", huge_mb=8) as f:
            before = image_ids(self.d)
            r = self.fails("pull", f"{f.host}/big/app:latest")
            self.assertTrue(any("/manifests/" in q["path"] for q in f.requests), f.requests)
            self.assertRegex(r.stderr, re.compile(r"larger than|too (large|big)|exceed|limit", re.I))
            self.assertEqual(image_ids(self.d), before)
            self.assertEqual(ingest_leftovers(self.d), [])

    def test_berth_pull(self):
        self.berth_bin = berth_cli()
        push_image(self.tarball, self.reg.url, "lib/berthpull:v1")
        ref = self.reg.ref("lib/berthpull:v1")
        r = self.berth("pull", ref)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn(self.digest, r.stdout + r.stderr)
        self.run_motd(ref)
        self.assertIn(f"{self.reg.host}/lib/berthpull@{self.digest}", self.repo_digests(ref))
        r = self.berth("pull", self.reg.ref("lib/berthpull:missing"))
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertIn("manifest unknown", r.stderr)


# ---- push ---------------------------------------------------------------------------------------

class PushTest(Base):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reg = Registry()
        cls.addClassCleanup(cls.reg.close)
        cls.d.load_busybox()
        cls.d2 = new_daemon("berth-reg2-")
        cls.addClassCleanup(cls.d2.cleanup)
        cls.d2.start()

    def pushed_digest(self, out, tag):
        m = re.search(rf"^{re.escape(tag)}: digest: (sha256:[0-9a-f]{{64}}) size: (\d+)$", out, re.M)
        self.assertTrue(m, f"no digest line for {tag} in {out!r}")
        return m.group(1)

    def test_push_loaded_image(self):
        ref = self.reg.ref("pushed/busybox:v1")
        self.docker("tag", "busybox:latest", ref)
        r = self.docker("push", ref)
        self.assertIn(f"The push refers to repository [{self.reg.host}/pushed/busybox]", r.stdout)
        digest = self.pushed_digest(r.stdout, "v1")
        info = skopeo_inspect(ref)
        self.assertEqual(info["Digest"], digest)
        self.assertEqual(info["Architecture"], go_arch())
        self.assertEqual(len(info["Layers"]), 1)
        raw = skopeo_inspect(ref, raw=True)
        self.assertIn(raw["mediaType"], ("application/vnd.docker.distribution.manifest.v2+json",
                                         "application/vnd.oci.image.manifest.v1+json"))
        local_id = self.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
        self.assertEqual(raw["config"]["digest"], local_id)
        self.assertIn(f"{self.reg.host}/pushed/busybox@{digest}", self.repo_digests(ref))
        # Pushed again: every layer is already there.
        r = self.docker("push", ref)
        self.assertIn("Layer already exists", r.stdout)
        self.assertEqual(self.pushed_digest(r.stdout, "v1"), digest)
        # Pulled back into another daemon.
        self.docker("pull", ref, daemon=self.d2)
        self.run_motd(ref, daemon=self.d2)
        self.assertEqual(self.docker("image", "inspect", "-f", "{{.Id}}", ref,
                                     daemon=self.d2).stdout.strip(), local_id)

    def test_push_committed_image(self):
        name = "regtest-commit"
        self.docker("run", "--name", name, "--network", "none", "busybox",
                    "sh", "-c", "echo committed > /committed.txt")
        self.addCleanup(self.d.docker, "rm", "-f", name)
        ref = self.reg.ref("pushed/committed:v2")
        self.docker("commit", name, ref)
        r = self.docker("push", ref)
        digest = self.pushed_digest(r.stdout, "v2")
        info = skopeo_inspect(ref)
        self.assertEqual(info["Digest"], digest)
        self.assertEqual(len(info["Layers"]), 2)
        self.docker("pull", ref, daemon=self.d2)
        r = self.docker("run", "--rm", "--network", "none", ref, "cat", "/committed.txt",
                        "/etc/motd", daemon=self.d2)
        self.assertEqual(r.stdout.split("\n")[:2], ["committed", MOTD])

    def test_push_unknown_image(self):
        r = self.fails("push", self.reg.ref("pushed/nothing:v1"))
        self.assertRegex(r.stderr, r"(An image does not exist locally with the tag|No such image)")

    def test_berth_push(self):
        self.berth_bin = berth_cli()
        ref = self.reg.ref("pushed/berth:v3")
        self.docker("tag", "busybox:latest", ref)
        r = self.berth("push", ref)
        self.assertEqual(r.returncode, 0, describe(r))
        info = skopeo_inspect(ref)
        self.assertIn(info["Digest"], r.stdout + r.stderr)
        self.docker("pull", ref, daemon=self.d2)
        self.run_motd(ref, daemon=self.d2)


class DaemonOptionsTest(Base):
    """--insecure-registry host:port and --registry-mirror URL (for docker.io)."""

    @classmethod
    def setUpClass(cls):
        cls.ip = non_loopback_ipv4()
        if not cls.ip:
            raise unittest.SkipTest("no non-loopback IPv4 address for an 'insecure' registry")
        cls.tmp = tempfile.mkdtemp(prefix="berth-regtest-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.tarball = busybox_tarball(cls.tmp)
        cls.insecure = Registry(address=cls.ip)
        cls.addClassCleanup(cls.insecure.close)
        cls.unlisted = Registry(address=cls.ip)
        cls.addClassCleanup(cls.unlisted.close)
        cls.mirror = Registry()
        cls.addClassCleanup(cls.mirror.close)
        cls.d = new_daemon()
        cls.addClassCleanup(cls.d.cleanup)
        cls.d.start(["--insecure-registry", cls.insecure.host,
                     "--registry-mirror", cls.mirror.url])

    def test_insecure_registry(self):
        push_image(self.tarball, self.insecure.url, "plain/busybox:v1")
        ref = self.insecure.ref("plain/busybox:v1")
        self.docker("pull", ref)
        self.run_motd(ref)
        # Not listed: HTTPS only, which a plain HTTP registry cannot answer.
        push_image(self.tarball, self.unlisted.url, "plain/busybox:v1")
        r = self.fails("pull", self.unlisted.ref("plain/busybox:v1"))
        self.assertRegex(r.stderr, re.compile(r"https|tls|ssl|http response", re.I))

    def test_registry_mirror(self):
        push_image(self.tarball, self.mirror.url, "library/mirrored:v1")
        r = self.docker("pull", "mirrored:v1")
        self.assertIn("Status: Downloaded newer image for mirrored:v1", r.stdout)
        self.assertEqual(r.stdout.strip().splitlines()[-1], "docker.io/library/mirrored:v1")
        self.run_motd("mirrored:v1")
        digest = skopeo_inspect(self.mirror.ref("library/mirrored:v1"))["Digest"]
        self.assertIn(f"mirrored@{digest}", self.repo_digests("mirrored:v1"))


# ---- auth ---------------------------------------------------------------------------------------

class HtpasswdTest(Base):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reg = Registry(auth="htpasswd")
        cls.addClassCleanup(cls.reg.close)
        push_image(cls.tarball, cls.reg.url, "private/busybox:v1", creds=cls.reg.creds())

    def tearDown(self):
        self.d.docker("logout", self.reg.host)

    def test_wrong_password(self):
        r = self.login(self.reg, password="wrong")
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertIn("Error response from daemon", r.stderr)
        self.assertRegex(r.stderr, re.compile("unauthorized", re.I))
        self.assertNotIn(self.reg.host, self.docker_config().get("auths", {}))

    def test_pull_without_login_fails(self):
        r = self.fails("pull", self.reg.ref("private/busybox:v1"))
        self.assertRegex(r.stderr, re.compile(r"no basic auth credentials|unauthorized|"
                                              r"authentication required", re.I))

    def test_login_pull_push_logout(self):
        r = self.login(self.reg)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("Login Succeeded", r.stdout)
        auths = self.docker_config()["auths"]
        self.assertEqual(base64.b64decode(auths[self.reg.host]["auth"]).decode(), "user:pass")
        ref = self.reg.ref("private/busybox:v1")
        self.docker("pull", ref)
        self.run_motd(ref)
        pushed = self.reg.ref("private/again:v2")
        self.docker("tag", ref, pushed)
        self.docker("push", pushed)
        self.assertEqual(skopeo_inspect(pushed, creds=self.reg.creds())["Layers"],
                         skopeo_inspect(ref, creds=self.reg.creds())["Layers"])
        r = self.docker("logout", self.reg.host)
        self.assertIn(f"Removing login credentials for {self.reg.host}", r.stdout)
        self.assertNotIn(self.reg.host, self.docker_config().get("auths", {}))
        self.docker("rmi", ref)
        self.fails("pull", ref)

    def test_berth_login_pull_push_logout(self):
        self.berth_bin = berth_cli()
        r = self.berth("login", self.reg.host, "-u", "user", "--password-stdin", input="wrong\n")
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stderr, re.compile("unauthorized", re.I))
        self.assertNotIn(self.reg.host, self.docker_config().get("auths", {}))
        r = self.berth("login", self.reg.host, "-u", "user", "--password-stdin", input="pass\n")
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertIn("Login Succeeded", r.stdout)
        auths = self.docker_config()["auths"]
        self.assertEqual(base64.b64decode(auths[self.reg.host]["auth"]).decode(), "user:pass")
        ref = self.reg.ref("private/busybox:v1")
        r = self.berth("pull", ref)
        self.assertEqual(r.returncode, 0, describe(r))
        self.run_motd(ref)
        pushed = self.reg.ref("private/berth:v3")
        self.docker("tag", ref, pushed)
        r = self.berth("push", pushed)
        self.assertEqual(r.returncode, 0, describe(r))
        skopeo_inspect(pushed, creds=self.reg.creds())
        r = self.berth("logout", self.reg.host)
        self.assertEqual(r.returncode, 0, describe(r))
        self.assertNotIn(self.reg.host, self.docker_config().get("auths", {}))


class TokenAuthTest(Base):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reg = Registry(auth="token")
        cls.addClassCleanup(cls.reg.close)
        cls.five = busybox_tarball(cls.tmp, "five.tar", tag="five:latest", layers=5)
        push_image(cls.five, cls.reg.url, "tok/five:v1", creds=cls.reg.creds())

    def test_login_pull_push_with_token_reuse(self):
        issuer = self.reg.issuer
        r = self.login(self.reg, password="wrong")
        self.assertNotEqual(r.returncode, 0, describe(r))
        self.assertRegex(r.stderr, re.compile("unauthorized", re.I))
        r = self.login(self.reg)
        self.assertEqual(r.returncode, 0, describe(r))
        self.addCleanup(self.d.docker, "logout", self.reg.host)
        # First a push of a loaded image: nothing pulled yet, so no cross-repository mount to ask
        # for (docker asks one token per mount attempt).
        self.docker("load", "-i", busybox_tarball(self.tmp, "other.tar", tag="other:v1",
                                                  layers=3))
        issuer.reset()
        pushed = self.reg.ref("tok/other:v2")
        self.docker("tag", "other:v1", pushed)
        self.docker("push", pushed)
        self.assertGreaterEqual(issuer.requests, 1)
        self.assertLessEqual(issuer.requests, 3, issuer.log)
        scopes = [s for e in issuer.log for s in e["query"].get("scope", [])]
        self.assertTrue(all(re.fullmatch(r"repository:tok/other:(pull,push|push,pull)", s)
                            for s in scopes), scopes)
        self.assertEqual(len(skopeo_inspect(pushed, creds=self.reg.creds())["Layers"]), 4)
        # 6 layers, a config and a manifest: one token for them all (a second or third one is
        # fine, one per blob is not).
        issuer.reset()
        ref = self.reg.ref("tok/five:v1")
        self.docker("pull", ref)
        r = self.docker("run", "--rm", "--network", "none", ref, "cat", "/layer5.txt")
        self.assertEqual(r.stdout, "layer 5\n")
        self.assertGreaterEqual(issuer.requests, 1)
        self.assertLessEqual(issuer.requests, 3, issuer.log)
        self.assertTrue(all(e["user"] == "user" for e in issuer.log), issuer.log)

    def test_anonymous_pull_denied(self):
        r = self.fails("pull", self.reg.ref("tok/five:v1"))
        self.assertRegex(r.stderr, re.compile(r"unauthorized|authentication required|denied", re.I))


# ---- faults -------------------------------------------------------------------------------------

class FaultTest(Base):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = Image.from_tarball(cls.tarball)

    def image(self):
        """busybox plus a 2 MiB random layer of this test's own: the layer that fails."""
        return self.base.with_unique_layer(self._testMethodName)

    def assert_nothing_new(self, before):
        self.assertEqual(image_ids(self.d), before)
        self.assertEqual(ingest_leftovers(self.d), [])

    def test_corrupt_blob(self):
        with FaultyRegistry(self.image(), "corrupt") as f:
            before = image_ids(self.d)
            r = self.fails("pull", f"{f.host}/fault/app:latest")
            self.assertTrue(f.blob_gets(f.target_layer), f.requests)
            self.assertRegex(r.stderr, re.compile(r"digest|checksum|verif", re.I))
            self.assert_nothing_new(before)
            self.assertFalse(stored_blob(self.d, f.target_layer))

    def test_hostile_layer_writes_nothing_outside_its_snapshot(self):
        # A layer that tries every way out: `..` paths, an absolute symlink followed by a file
        # through it, a relative symlink climbing out, and a hardlink to a host file.
        canary = tempfile.mkdtemp(prefix="berth-hostile-")
        self.addCleanup(shutil.rmtree, canary, ignore_errors=True)
        passwd_links = os.stat("/etc/passwd").st_nlink
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            def add(name, data=b"owned\n", **kw):
                ti = tarfile.TarInfo(name)
                ti.mtime, ti.mode = 1700000000, 0o644
                for k, v in kw.items():
                    setattr(ti, k, v)
                if ti.type == tarfile.REGTYPE:
                    ti.size = len(data)
                    tar.addfile(ti, io.BytesIO(data))
                else:
                    tar.addfile(ti)
            add("../../../../../.." + canary + "/dotdot")
            add("abs", type=tarfile.SYMTYPE, linkname=canary)
            add("abs/through-absolute-symlink")
            add("rel", type=tarfile.SYMTYPE, linkname="../../../../../../.." + canary)
            add("rel/through-relative-symlink")
            add("hard", type=tarfile.LNKTYPE, linkname="/etc/passwd")
        image = self.base.with_layer(buf.getvalue())
        with FaultyRegistry(image) as f:
            before = image_ids(self.d)
            r = self.d.docker("pull", f"{f.host}/fault/hostile:latest", timeout=300)
            self.assertEqual(os.listdir(canary), [], describe(r))
            self.assertEqual(os.stat("/etc/passwd").st_nlink, passwd_links)
            if r.returncode != 0:
                self.assert_nothing_new(before)
            else:
                # Whatever landed is inside the container's view, not on the host.
                r = self.docker("run", "--rm", f"{f.host}/fault/hostile:latest", "ls", "/")
                self.assertEqual(os.listdir(canary), [])

    def test_dropped_connection_resumes(self):
        with FaultyRegistry(self.image(), "drop", count=1) as f:
            ref = f"{f.host}/fault/drop:latest"
            self.docker("pull", ref)
            gets = f.blob_gets(f.target_layer)
            self.assertGreaterEqual(len(gets), 2, gets)
            self.assertTrue(any(g["range"] and not g["range"].startswith("bytes=0-")
                                for g in gets[1:]), f"no resuming Range request: {gets}")
            self.run_motd(ref)

    def test_500_twice_then_success(self):
        with FaultyRegistry(self.image(), "500", count=2) as f:
            ref = f"{f.host}/fault/five-hundred:latest"
            self.docker("pull", ref)
            self.assertEqual(f.faults, 2)
            self.run_motd(ref)

    def test_500_forever_fails(self):
        with FaultyRegistry(self.image(), "500-forever") as f:
            before = image_ids(self.d)
            # Bounded retries: the subprocess timeout is the bound.
            r = self.fails("pull", f"{f.host}/fault/storm:latest", timeout=240)
            self.assertRegex(r.stderr, re.compile(r"500|internal server error|injected", re.I))
            # Retried (5xx is worth retrying), but not without end.
            self.assertGreaterEqual(f.faults, 2)
            self.assertLessEqual(f.faults, 20)
            self.assert_nothing_new(before)

    def test_redirect_drops_authorization(self):
        with FaultyRegistry(self.image(), "redirect", auth="basic") as f:
            r = self.login(f)
            self.assertEqual(r.returncode, 0, describe(r))
            self.addCleanup(self.d.docker, "logout", f.host)
            ref = f"{f.host}/fault/redirect:latest"
            self.docker("pull", ref)
            self.assertTrue(any(q["authorization"] for q in f.requests), "no auth at the registry")
            self.assertTrue(f.redirect_requests, "the redirect was not followed")
            self.assertEqual([q for q in f.redirect_requests if q["authorization"]], [])
            self.run_motd(ref)

    def test_sigkill_mid_pull(self):
        with FaultyRegistry(self.image(), "stall") as f:
            ref = f"{f.host}/fault/stall:latest"
            before = image_ids(self.d)
            pull = subprocess.Popen([DOCKER, "pull", ref], env=self.d.env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                for _ in range(1500):  # a guard against a hang, not a timing check
                    if f.stalled.wait(0.2):
                        break
                    if pull.poll() is not None:
                        out, err = pull.communicate()
                        self.fail(f"the pull ended before the stalled layer: {out}{err}")
                else:
                    self.fail("the pull never reached the stalled layer")
                self.d.kill9()
                out, err = pull.communicate(timeout=60)
                self.assertNotEqual(pull.returncode, 0, out + err)
            finally:
                if pull.poll() is None:
                    pull.kill()
                    pull.communicate()
            f.mode = None
            f.release()
            self.d.start()
            self.assertEqual(image_ids(self.d), before)
            self.docker("pull", ref)
            self.run_motd(ref)
            self.assertEqual(ingest_leftovers(self.d), [])
            r = self.docker("images", "--format", "{{.Repository}}:{{.Tag}}",
                            f"{f.host}/fault/stall")
            self.assertEqual(r.stdout.split(), [ref])
            self.docker("rmi", ref)
            self.assertEqual(image_ids(self.d), before)


if __name__ == "__main__":
    unittest.main()
