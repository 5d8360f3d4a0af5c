"""Shared pieces of the engine tests: a berthd of its own per test class, or a private dockerd.

Each Daemon lives in one temporary directory (data root, exec root, socket, logs) with its own
cgroup parent, talks to the real docker CLI (/usr/local/bin/docker, CLI 28) and the berth CLI
through DOCKER_HOST, and cleans up everything it made even when a test fails: containers (their
shims and processes), mounts under its directory, its cgroups, the directory itself.

Dockerd is the same for Debian's dockerd (docker.io 20.10), to check that tests describe docker's
behaviour; new_daemon(prefix) picks one by BERTH_TEST_DAEMON (berthd by default).
"""

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
from berth_testlib import (MNT_DETACH, _libc, existing_cgroup_dirs, mounts_under,  # noqa: E402
                           pids_mentioning, remove_cgroup_tree, wait_for)

BERTHD = os.environ.get("BERTHD") or os.path.join(BUILD_DIR, "berthd")
DOCKER = shutil.which("docker", path="/usr/local/bin:/usr/bin") or "docker"
DOCKERD = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin:/sbin:/bin")
DAEMON_KIND = os.environ.get("BERTH_TEST_DAEMON", "berthd")
IMAGE_SCRIPT = os.path.join(SOURCE_DIR, "tests", "lib", "make_busybox_image.py")


def make_busybox_image(path, fmt="docker", tag="busybox:latest", layers=0):
    """Writes a busybox image tarball (docker-save or OCI layout) built from busybox-static."""
    args = [sys.executable, IMAGE_SCRIPT, "--format", fmt, "--tag", tag, "--output", path]
    if layers:
        args += ["--layers", str(layers)]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return path


class Daemon:
    """One berthd with its own state; docker(...) runs the real docker CLI against it.

    copy_binaries: run copies of berthd and berth-shim (in the daemon's directory), for tests
    that run while the build tree is rebuilt."""

    kind = "berthd"
    sock_name = "berthd.sock"

    def __init__(self, prefix="berthd-test-", copy_binaries=False):
        if os.geteuid() != 0:
            raise unittest.SkipTest("engine tests need root")
        self.check_binaries()
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        self.data_root = os.path.join(self.dir, "data")
        self.exec_root = os.path.join(self.dir, "exec")
        self.sock = os.path.join(self.dir, self.sock_name)
        self.cgroup_parent = f"/berth-etest-{uuid.uuid4().hex[:12]}"
        self.log_path = os.path.join(self.dir, f"{self.kind}.log")
        self.docker_config = os.path.join(self.dir, "docker-config")
        os.makedirs(self.docker_config)
        self.proc = None
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=self.docker_config, DOCKER_CLI_HINTS="false")
        self.env.pop("DOCKER_API_VERSION", None)
        self.berthd_bin = BERTHD
        self.shim_bin = os.environ.get("BERTH_SHIM")
        if copy_binaries:
            self.copy_binaries()

    def check_binaries(self):
        if not os.access(BERTHD, os.X_OK):
            raise unittest.SkipTest(f"berthd not built: {BERTHD!r} (set BERTHD)")

    def copy_binaries(self):
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        self.berthd_bin = shutil.copy2(BERTHD, os.path.join(bindir, "berthd"))
        shim = self.shim_bin or os.path.join(os.path.dirname(BERTHD), "berth-shim")
        if os.access(shim, os.X_OK):
            self.shim_bin = shutil.copy2(shim, os.path.join(bindir, "berth-shim"))

    # ---- daemon ------------------------------------------------------------------------
    def start(self, extra_args=()):
        args = [self.berthd_bin, "--data-root", self.data_root, "--exec-root", self.exec_root,
                "-H", f"unix://{self.sock}", "--cgroup-parent", self.cgroup_parent]
        if self.shim_bin:
            args += ["--shim", self.shim_bin]
        args += list(extra_args)
        self.spawn(args)
        self.wait_ready(timeout=20, interval=0.05)
        return self

    def spawn(self, args):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def wait_ready(self, timeout, interval):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} exited {self.proc.returncode}: "
                                     f"{self.read_log()}")
            r = subprocess.run([DOCKER, "version", "--format", "{{.Server.Version}}"],
                               env=self.env, capture_output=True, text=True)
            return r.returncode == 0
        wait_for(ready, timeout=timeout, interval=interval, what=f"{self.kind} to answer")

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
                                 f"{r.stderr}\n--- {self.kind} log ---\n{self.read_log()}")
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
        self.kill_leftovers()
        for _ in range(3):
            for m in sorted(mounts_under(self.dir), key=len, reverse=True):
                _libc.umount2(m.encode(), MNT_DETACH)
        if self.cgroup_parent:
            for d in existing_cgroup_dirs(self.cgroup_parent):
                remove_cgroup_tree(d)
        shutil.rmtree(self.dir, ignore_errors=True)

    def kill_leftovers(self):
        """SIGKILL to every process whose command line names the daemon's directory."""
        for _ in range(3):
            pids = pids_mentioning(self.dir)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
            if not pids:
                break


class Dockerd(Daemon):
    """Debian's dockerd (docker.io 20.10) with the interface of Daemon, in a private mount
    namespace (/run and /etc/docker on tmpfs, so the host's docker is never touched), without
    iptables, bridge or cgroup parent. dockerd treats 127.0.0.0/8 registries as insecure."""

    kind = "dockerd"
    sock_name = "docker.sock"
    # A private mount namespace with empty /run (containerd's shim sockets) and /etc/docker.
    NAMESPACE_SETUP = ("mount -t tmpfs -o mode=755 tmpfs /run && "
                       "{ [ ! -d /etc/docker ] || mount -t tmpfs -o mode=755 tmpfs /etc/docker; } "
                       '&& exec "$@"')

    def __init__(self, prefix="dockerd-test-"):
        super().__init__(prefix)
        self.cgroup_parent = None  # dockerd's default parent, removed with its containers

    def check_binaries(self):
        if not DOCKERD or not shutil.which("unshare"):
            raise unittest.SkipTest("dockerd or unshare missing")

    def start(self, extra_args=()):
        d = self.dir
        with open(os.path.join(d, "daemon.json"), "w") as f:
            f.write("{}\n")
        dockerd = [DOCKERD, "--config-file", f"{d}/daemon.json", "--data-root", self.data_root,
                   "--exec-root", self.exec_root, "--pidfile", f"{d}/docker.pid",
                   "-H", f"unix://{self.sock}", "--iptables=false", "--ip-forward=false",
                   "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
                   "--exec-opt", "native.cgroupdriver=cgroupfs", "--log-level", "warn",
                   *extra_args]
        self.spawn(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                    self.NAMESPACE_SETUP, "sh", *dockerd])
        self.wait_ready(timeout=60, interval=0.2)
        return self

    def kill9(self):
        """SIGKILL of dockerd and of the containerd it started (in the namespace that a
        restarted dockerd, in a new namespace, could not reach again): its containers end too,
        unlike berthd's."""
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.kill_leftovers()
        time.sleep(0.5)
        for name in ("docker.pid", "exec/containerd/containerd.pid"):
            try:
                os.unlink(os.path.join(self.dir, name))
            except OSError:
                pass

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def new_daemon(prefix, kind=None, copy_binaries=False):
    """A Daemon (berthd) or Dockerd by kind, default BERTH_TEST_DAEMON (berthd); its directory is
    /tmp/<prefix><kind>-XXXXXXXX. copy_binaries: see Daemon."""
    kind = kind or DAEMON_KIND
    if kind == "dockerd":
        return Dockerd(f"{prefix}dockerd-")
    if kind == "berthd":
        return Daemon(f"{prefix}berthd-", copy_binaries=copy_binaries)
    raise ValueError(f"BERTH_TEST_DAEMON={kind!r}: want berthd or dockerd")


class DaemonTestCase(unittest.TestCase):
    """A class-wide berthd (or what new_test_daemon gives) with busybox loaded; tests use
    self.d.docker(...)."""

    @classmethod
    def new_test_daemon(cls):
        return Daemon()

    @classmethod
    def setUpClass(cls):
        cls.d = cls.new_test_daemon()
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
                                          f"--- {self.d.kind} log ---\n{self.d.read_log()}")
        return r.stdout
