"""Shared pieces of the engine tests: a berthd of its own per test class.

Each Daemon lives in one temporary directory (data root, exec root, socket, logs) with its own
cgroup parent, talks to the real docker CLI (/usr/local/bin/docker, CLI 28) and the berth CLI
through DOCKER_HOST, and cleans up everything it made even when a test fails: containers (their
shims and processes), mounts under its directory, its cgroups, the directory itself.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("BERTH_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("BERTH_BUILD_DIR", "")
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
from berth_testlib import (MNT_DETACH, _libc, mounts_under, pids_mentioning,  # noqa: E402
                           remove_cgroup_tree, wait_for)

BERTHD = os.environ.get("BERTHD") or os.path.join(BUILD_DIR, "berthd")
DOCKER = shutil.which("docker", path="/usr/local/bin:/usr/bin") or "docker"
IMAGE_SCRIPT = os.path.join(SOURCE_DIR, "tests", "lib", "make_busybox_image.py")


def make_busybox_image(path, fmt="docker", tag="busybox:latest", layers=0):
    """Writes a busybox image tarball (docker-save or OCI layout) built from busybox-static."""
    args = [sys.executable, IMAGE_SCRIPT, "--format", fmt, "--tag", tag, "--output", path]
    if layers:
        args += ["--layers", str(layers)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return path


class Daemon:
    """One berthd with its own state; docker(...) runs the real docker CLI against it."""

    def __init__(self, prefix="berthd-test-"):
        if os.geteuid() != 0:
            raise unittest.SkipTest("engine tests need root")
        if not os.access(BERTHD, os.X_OK):
            raise unittest.SkipTest(f"berthd not built: {BERTHD!r} (set BERTHD)")
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.sock = os.path.join(self.dir, "berthd.sock")
        self.cgroup_parent = f"/berth-etest-{uuid.uuid4().hex[:12]}"
        self.log_path = os.path.join(self.dir, "berthd.log")
        self.docker_config = os.path.join(self.dir, "docker-config")
        os.makedirs(self.docker_config)
        self.proc = None
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=self.docker_config, DOCKER_CLI_HINTS="false")
        self.env.pop("DOCKER_API_VERSION", None)

    # ---- daemon ------------------------------------------------------------------------
    def start(self, extra_args=()):
        args = [BERTHD, "--data-root", self.data_root, "--exec-root", self.exec_root,
                "-H", f"unix://{self.sock}", "--cgroup-parent", self.cgroup_parent]
        shim = os.environ.get("BERTH_SHIM")
        if shim:
            args += ["--shim", shim]
        args += list(extra_args)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"berthd exited {self.proc.returncode}: {self.read_log()}")
            r = subprocess.run([DOCKER, "version", "--format", "{{.Server.Version}}"],
                               env=self.env, capture_output=True, text=True)
            return r.returncode == 0
        wait_for(ready, timeout=20, interval=0.05, what="berthd to answer")
        return self

    def kill9(self):
        """SIGKILL, as a crash: containers must survive it."""
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # ---- clients -----------------------------------------------------------------------
    def docker(self, *args, input=None, check=False, timeout=120, binary=None):
        r = subprocess.run([binary or DOCKER, *args], env=self.env, input=input,
                           capture_output=True, text=isinstance(input, str) or input is None,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {r.returncode}: "
                                 f"{r.stderr}\n--- berthd log ---\n{self.read_log()}")
        return r

    def load_busybox(self, tag="busybox:latest"):
        tar = os.path.join(self.dir, "busybox.tar")
        if not os.path.exists(tar):
            make_busybox_image(tar, tag=tag)
        return self.docker("load", "-i", tar, check=True)

    # ---- cleanup -----------------------------------------------------------------------
    def cleanup(self):
        try:
            if self.proc and self.proc.poll() is None:
                ids = self.docker("ps", "-aq", timeout=30).stdout.split()
                if ids:
                    self.docker("rm", "-f", *ids, timeout=60)
        except Exception:  # noqa: BLE001 - cleanup goes on regardless
            pass
        self.stop()
        for pid in pids_mentioning(self.dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
        for _ in range(3):
            for m in sorted(mounts_under(self.dir), key=len, reverse=True):
                _libc.umount2(m.encode(), MNT_DETACH)
        remove_cgroup_tree(self.cgroup_parent)
        shutil.rmtree(self.dir, ignore_errors=True)


class DaemonTestCase(unittest.TestCase):
    """A class-wide berthd with busybox loaded; tests use self.d.docker(...)."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        try:
            cls.d.start()
            cls.d.load_busybox()
        except BaseException:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def docker_ok(self, *args, **kw):
        r = self.d.docker(*args, **kw)
        self.assertEqual(r.returncode, 0, f"docker {' '.join(args)}: {r.stderr}\n"
                                          f"--- berthd log ---\n{self.d.read_log()}")
        return r.stdout
