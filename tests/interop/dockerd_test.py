#!/usr/bin/env python3
"""Debian's dockerd (through its own containerd and containerd-shim-runc-v2) drives
$BERTH_RUNTIME, registered with --add-runtime berth=<wrapper>, and the docker CLI talks to it
over a private socket: run --rm, run -t, exec, stop, rm, pause, update.

The daemon runs isolated: every state directory in a temporary directory, no iptables, no
bridge, no ip_forward change, and a private mount namespace where /run and /etc/docker are
empty tmpfs (dockerd writes /etc/docker/key.json and /run/docker/plugins, containerd puts shim
sockets in /run/containerd/s whatever their --root says). dockerd is not told --containerd, so
it starts its own containerd with state under --exec-root/--data-root; when the test ends the
daemon, containerd, the shims and every container are killed and the mounts die with the
namespace.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_lib import (Workspace, describe, existing_cgroup_dirs, pids_mentioning,  # noqa: E402
                         read_file, run, wait_for)

DOCKERD = shutil.which("dockerd")
DOCKER = next((p for p in ("/usr/local/bin/docker", "/usr/bin/docker") if os.access(p, os.X_OK)),
              shutil.which("docker"))
IMAGE = "busybox:test"
LOOP_UNTIL_TERM = "trap 'exit 0' TERM; while :; do usleep 50000; done"
MiB = 1024 * 1024


class DockerdTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not DOCKERD or not DOCKER:
            raise unittest.SkipTest("dockerd or docker CLI missing (scripts/install-deps.sh)")
        if not shutil.which("unshare"):
            raise unittest.SkipTest("unshare (util-linux) missing")
        cls.ws = Workspace("berth-dockerd-")
        cls.daemon = None
        cls.addClassCleanup(cls._cleanup)
        d = cls.ws.dir
        cls.sock = os.path.join(d, "docker.sock")
        cls.env = dict(os.environ, DOCKER_HOST=f"unix://{cls.sock}",
                       DOCKER_CONFIG=os.path.join(d, "cli-config"))
        with open(os.path.join(d, "daemon.json"), "w") as f:
            f.write("{}\n")
        dockerd = [DOCKERD, "--config-file", f"{d}/daemon.json", "--data-root", f"{d}/data",
                   "--exec-root", f"{d}/exec", "--pidfile", f"{d}/docker.pid",
                   "-H", f"unix://{cls.sock}", "--iptables=false", "--ip-forward=false",
                   "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
                   "--add-runtime", f"berth={cls.ws.wrapper}",
                   "--exec-opt", "native.cgroupdriver=cgroupfs",
                   "--cgroup-parent", cls.ws.cgroup_parent, "--log-level", "warn"]
        # /etc/docker is shadowed only where it exists (mounting needs the directory).
        setup = ("mount -t tmpfs -o mode=755 tmpfs /run && "
                 "{ [ ! -d /etc/docker ] || mount -t tmpfs -o mode=755 tmpfs /etc/docker; } && "
                 'exec "$@"')
        if not os.path.isdir("/etc/docker"):
            cls.ws.remove_if_created("/etc/docker")
        cls.log = open(os.path.join(d, "dockerd.log"), "w")
        cls.daemon = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", setup,
             "sh", *dockerd],
            stdin=subprocess.DEVNULL, stdout=cls.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            p = run([DOCKER, "version", "--format", "{{.Server.Version}}"], env=cls.env,
                    timeout=30)
            if p.returncode == 0:
                break
            if cls.daemon.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dockerd did not come up:\n"
                                     + open(os.path.join(d, "dockerd.log")).read()[-3000:])
            time.sleep(0.2)
        p = run([DOCKER, "import", cls.ws.rootfs_tar(), IMAGE], env=cls.env, timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"docker import failed\n{describe(p)}")

    @classmethod
    def _cleanup(cls):
        if cls.daemon is not None and cls.daemon.poll() is None:
            p = run([DOCKER, "ps", "-aq"], env=cls.env, timeout=30)
            ids = p.stdout.split()
            if ids:
                run([DOCKER, "rm", "-f", *ids], env=cls.env, timeout=60)
            cls.daemon.send_signal(signal.SIGTERM)
            try:
                cls.daemon.wait(20)
            except subprocess.TimeoutExpired:
                cls.daemon.kill()
                cls.daemon.wait(10)
        if getattr(cls, "log", None):
            cls.log.close()
        # containerd and the shims name the temporary directory on their command lines.
        cls.ws.kill_leftovers(grace=5)
        cls.ws.cleanup()

    def docker(self, *args, input=None, timeout=60):
        return run([DOCKER, *args], input=input, timeout=timeout, env=self.env)

    def assert_ok(self, p):
        self.assertEqual(p.returncode, 0, describe(p))
        return p.stdout

    def run_args(self, *extra):
        return ["run", "--runtime", "berth", "--network", "none", *extra]

    def status(self, name):
        return self.assert_ok(self.docker("inspect", "--format", "{{.State.Status}}",
                                          name)).strip()

    def test_run_rm_echo_hello(self):
        out = self.assert_ok(self.docker(*self.run_args("--rm", IMAGE, "echo", "hello")))
        self.assertEqual(out, "hello\n")
        calls = self.ws.runtime_calls()
        creates = [c for c in calls if " create " in f" {c} "]
        self.assertTrue(creates, "dockerd did not call the berth runtime")
        self.assertIn(f"--root {self.ws.dir}/exec/", creates[-1])
        self.assertIn("--log-format json", creates[-1])

    def test_run_exit_code(self):
        p = self.docker(*self.run_args("--rm", IMAGE, "sh", "-c", "exit 4"))
        self.assertEqual(p.returncode, 4, describe(p))

    def test_run_with_tty(self):
        out = self.assert_ok(self.docker(*self.run_args("--rm", "-t", IMAGE, "tty")))
        self.assertEqual(out.strip(), "/dev/pts/0")

    def test_detached_exec_stop_rm(self):
        name = "worker"
        cid = self.assert_ok(self.docker(*self.run_args("-d", "--name", name, IMAGE,
                                                        "sh", "-c", LOOP_UNTIL_TERM))).strip()
        self.assertEqual(self.status(name), "running")
        out = self.assert_ok(self.docker("exec", name, "sh", "-c", "echo exec-ok; echo $$"))
        self.assertEqual(out.split()[0], "exec-ok")
        out = self.assert_ok(self.docker("exec", "-u", "1000", "-w", "/tmp", name,
                                         "sh", "-c", "id -u; pwd"))
        self.assertEqual(out, "1000\n/tmp\n")
        self.assertEqual(self.docker("exec", name, "sh", "-c", "exit 9").returncode, 9)

        t0 = time.monotonic()
        self.assert_ok(self.docker("stop", "-t", "10", name))
        self.assertLess(time.monotonic() - t0, 8, "SIGTERM did not stop the container")
        self.assertEqual(self.assert_ok(self.docker("inspect", "--format",
                                                    "{{.State.ExitCode}}", name)).strip(), "0")
        self.assert_ok(self.docker("rm", name))
        self.assertNotIn(cid, self.assert_ok(self.docker("ps", "-aq", "--no-trunc")))

        verbs = self.ws.runtime_verbs(cid)
        self.assertEqual(verbs[:2], ["create", "start"], verbs)
        self.assertIn("exec", verbs)
        self.assertIn("kill", verbs)
        self.assertEqual(verbs[-1], "delete", verbs)
        wait_for(lambda: not [d for d in existing_cgroup_dirs(self.ws.cgroup_parent)
                              if cid in os.listdir(d)], 5, what="container cgroups removed")

    def test_pause_unpause(self):
        name = "pausable"
        self.assert_ok(self.docker(*self.run_args("-d", "--name", name, IMAGE,
                                                  "sh", "-c", LOOP_UNTIL_TERM)))
        self.assert_ok(self.docker("pause", name))
        self.assertEqual(self.status(name), "paused")
        self.assert_ok(self.docker("unpause", name))
        self.assertEqual(self.assert_ok(self.docker("exec", name, "echo", "alive")), "alive\n")
        self.assert_ok(self.docker("rm", "-f", name))

    def test_resources_and_update(self):
        name = "limited"
        cid = self.assert_ok(self.docker(*self.run_args(
            "-d", "--name", name, "--memory", "32m", "--pids-limit", "50", IMAGE,
            "sh", "-c", LOOP_UNTIL_TERM))).strip()
        self.assert_ok(self.docker("update", "--memory", "64m", "--memory-swap", "128m",
                                   "--pids-limit", "60", name))
        limits = {}
        for d in existing_cgroup_dirs(f"{self.ws.cgroup_parent}/{cid}"):
            for f in ("memory.limit_in_bytes", "memory.max", "pids.max"):
                if os.path.exists(os.path.join(d, f)):
                    limits[f] = read_file(os.path.join(d, f)).strip()
        mem = limits.get("memory.limit_in_bytes") or limits.get("memory.max")
        self.assertEqual(int(mem), 64 * MiB, limits)
        self.assertEqual(limits["pids.max"], "60")
        self.assertIn("update", self.ws.runtime_verbs(cid), "the shim updates via the runtime")
        self.assert_ok(self.docker("rm", "-f", name))

    def test_daemon_runs_its_own_containerd(self):
        containerds = [pid for pid in pids_mentioning(self.ws.dir)
                       if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "containerd"]
        self.assertEqual(len(containerds), 1, "dockerd must start exactly one containerd")
        cmdline = read_file(f"/proc/{containerds[0]}/cmdline").replace("\0", " ")
        self.assertIn(f"{self.ws.dir}/exec/containerd/containerd.toml", cmdline)
        # It lives in the daemon's private mount namespace, apart from any system containerd.
        self.assertNotEqual(os.readlink(f"/proc/{containerds[0]}/ns/mnt"),
                            os.readlink("/proc/self/ns/mnt"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
