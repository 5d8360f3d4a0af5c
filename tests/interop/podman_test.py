#!/usr/bin/env python3
"""Debian's podman (through conmon) drives $BERTH_RUNTIME: run, run -t (console socket),
run -i, exec, stop, rm. Podman keeps all its state in a temporary directory (--root,
--runroot, --tmpdir, runtime --root, vfs storage, cgroupfs manager, file events) and the
image is the busybox rootfs imported with `podman import`.

--ulimit nofile/nproc: podman otherwise asks for the host's hard limits, which a runtime
cannot set without CAP_SYS_RESOURCE (missing from this host's bounding set).
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop_lib import IMAGE, Workspace, describe, existing_cgroup_dirs, run  # noqa: E402

PODMAN = shutil.which("podman")
LOOP_UNTIL_TERM = "trap 'exit 0' TERM; while :; do usleep 50000; done"


class PodmanTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not PODMAN:
            raise unittest.SkipTest("podman not installed (scripts/install-deps.sh)")
        # podman 4.3's exit command (`podman container cleanup`, which deletes the container)
        # drops --runtime-flag, so the runtime's --root comes from the wrapper instead.
        cls.ws = Workspace("berth-podman-", wrapper_sets_root=True)
        cls.addClassCleanup(cls._cleanup)
        d = cls.ws.dir
        # containers/image writes its blob-info cache to /var/lib/containers/cache whatever
        # --root says; remove it afterwards if this test created it.
        cls.ws.remove_if_created("/var/lib/containers")
        cls.ws.remove_if_created("/var/lib/containers/cache")
        cls.podman = [PODMAN, "--root", f"{d}/root", "--runroot", f"{d}/runroot",
                      "--tmpdir", f"{d}/tmp", "--storage-driver", "vfs",
                      "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                      "--runtime", cls.ws.wrapper,
                      "--log-level", "error"]
        p = run(cls.podman + ["import", cls.ws.rootfs_tar(), IMAGE], timeout=120)
        if p.returncode != 0:
            raise AssertionError(f"podman import failed\n{describe(p)}")

    @classmethod
    def _cleanup(cls):
        run(cls.podman + ["rm", "--all", "--force", "--time", "0"], timeout=60)
        cls.ws.cleanup()

    def pm(self, *args, input=None, timeout=60):
        return run(self.podman + list(args), input=input, timeout=timeout)

    def run_args(self, *extra):
        return ["run", "--network", "none", "--cgroup-parent", self.ws.cgroup_parent,
                "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", *extra]

    def assert_ok(self, p):
        self.assertEqual(p.returncode, 0, describe(p))
        return p.stdout

    def container_id(self, name):
        return self.assert_ok(self.pm("inspect", "--format", "{{.Id}}", name)).strip()

    def test_run_prints_output_via_runtime(self):
        out = self.assert_ok(self.pm(*self.run_args("--rm", "--name", "hello", IMAGE,
                                                    "sh", "-c", "echo hello; echo pid=$$")))
        self.assertEqual(out, "hello\npid=1\n")
        calls = "\n".join(self.ws.runtime_calls())
        self.assertIn("create", calls)
        self.assertIn(f"--root {self.ws.runtime_root} create", calls)

    def test_run_exit_code(self):
        p = self.pm(*self.run_args("--rm", IMAGE, "sh", "-c", "exit 3"))
        self.assertEqual(p.returncode, 3, describe(p))

    def test_run_interactive_stdin(self):
        p = self.pm(*self.run_args("--rm", "-i", IMAGE, "sh", "-c", "read x; echo got:$x"),
                    input="abc\n")
        self.assertEqual(self.assert_ok(p), "got:abc\n")

    def test_run_with_tty_uses_console_socket(self):
        out = self.assert_ok(self.pm(*self.run_args("--rm", "-t", IMAGE, "tty")))
        self.assertEqual(out.strip(), "/dev/pts/0")

    def test_detached_exec_stop_rm(self):
        name = "worker"
        self.assert_ok(self.pm(*self.run_args("-d", "--name", name, IMAGE,
                                              "sh", "-c", LOOP_UNTIL_TERM)))
        cid = self.container_id(name)
        out = self.assert_ok(self.pm("exec", name, "sh", "-c", "echo exec-ok; cat /proc/1/cmdline"))
        self.assertTrue(out.startswith("exec-ok\nsh\0-c\0"), out)
        out = self.assert_ok(self.pm("exec", "--user", "1000", "-w", "/tmp", name,
                                     "sh", "-c", "id -u; pwd"))
        self.assertEqual(out, "1000\n/tmp\n")
        self.assertEqual(self.pm("exec", name, "sh", "-c", "exit 6").returncode, 6)
        self.assertEqual(self.assert_ok(self.pm("inspect", "--format", "{{.State.Status}}",
                                                name)).strip(), "running")

        self.assert_ok(self.pm("stop", "--time", "10", name))
        state = self.assert_ok(self.pm("inspect", "--format",
                                       "{{.State.Status}} {{.State.ExitCode}}", name)).split()
        self.assertEqual(state, ["exited", "0"], "SIGTERM must reach the trap")
        self.assert_ok(self.pm("rm", name))
        self.assertNotIn(cid, self.assert_ok(self.pm("ps", "--all", "--no-trunc", "-q")))

        verbs = self.ws.runtime_verbs(cid)
        self.assertEqual(verbs[:2], ["create", "start"], verbs)
        self.assertIn("exec", verbs)
        self.assertIn("kill", verbs)
        self.assertEqual(verbs[-1], "delete", verbs)
        self.assertFalse(os.path.exists(os.path.join(self.ws.runtime_root, cid)))
        self.assertEqual([d for d in existing_cgroup_dirs(self.ws.cgroup_parent)
                          if cid in os.listdir(d)], [])

    def test_pause_unpause(self):
        name = "pausable"
        self.assert_ok(self.pm(*self.run_args("-d", "--name", name, IMAGE,
                                              "sh", "-c", LOOP_UNTIL_TERM)))
        self.assert_ok(self.pm("pause", name))
        self.assertEqual(self.assert_ok(self.pm("inspect", "--format", "{{.State.Status}}",
                                                name)).strip(), "paused")
        self.assert_ok(self.pm("unpause", name))
        self.assertEqual(self.assert_ok(self.pm("exec", name, "echo", "alive")), "alive\n")
        self.assert_ok(self.pm("rm", "--force", "--time", "0", name))


if __name__ == "__main__":
    unittest.main(verbosity=2)
