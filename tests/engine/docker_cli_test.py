"""The real docker CLI (28) against berthd: every command of issue 3, checked on what it prints.

One berthd per class (engine_lib.DaemonTestCase) with a busybox image made from busybox-static.
"""

import json
import os
import subprocess
import tarfile
import io
import time
import unittest

from engine_lib import DaemonTestCase, Daemon, make_busybox_image, wait_for


class RunTest(DaemonTestCase):
    def test_run_prints_from_inside_and_removes_itself(self):
        out = self.docker_ok("run", "--rm", "busybox", "sh", "-c", "echo hello from $(hostname)")
        self.assertRegex(out, r"^hello from [0-9a-f]{12}\n$")
        self.assertEqual(self.docker_ok("ps", "-aq", "--filter", "status=exited").strip(), "")

    def test_exit_codes_follow_docker(self):
        self.assertEqual(self.d.docker("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode, 3)
        r = self.d.docker("run", "--rm", "busybox", "/nonexistent")
        self.assertEqual(r.returncode, 127, r.stderr)
        r = self.d.docker("run", "--rm", "busybox", "/etc")
        self.assertEqual(r.returncode, 126, r.stderr)
        # A signal ends the process: 128+signal (PID 1 ignores its own kill -9, so a child).
        r = self.d.docker("run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$")
        self.assertEqual(r.returncode, 137, r.stderr)
        r = self.d.docker("run", "--rm", "nosuchimage:1")
        self.assertEqual(r.returncode, 125, r.stderr)

    def test_pid1_env_workdir_user_hostname(self):
        out = self.docker_ok("run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "65534:65534",
                             "-h", "myhost", "busybox", "sh", "-c",
                             "echo $$ $FOO $(pwd) $(id -u):$(id -g) $(hostname)")
        self.assertEqual(out.split(), ["1", "bar", "/tmp", "65534:65534", "myhost"])

    def test_stdin_is_piped(self):
        out = self.docker_ok("run", "--rm", "-i", "busybox", "cat", input="piped line\n")
        self.assertEqual(out, "piped line\n")

    def test_env_file_labels_entrypoint(self):
        env_file = os.path.join(self.d.dir, "env.list")
        with open(env_file, "w") as f:
            f.write("A=1\nB=two\n")
        out = self.docker_ok("run", "--rm", "--env-file", env_file, "--entrypoint", "sh",
                             "busybox", "-c", "echo $A $B")
        self.assertEqual(out, "1 two\n")

    def test_memory_limit_oom_kill(self):
        name = "oomer"
        r = self.d.docker("run", "--name", name, "-m", "8m", "--memory-swap", "8m", "busybox",
                          "tail", "/dev/zero")
        self.assertEqual(r.returncode, 137, r.stderr)
        state = json.loads(self.docker_ok("inspect", "--format", "{{json .State}}", name))
        self.assertTrue(state["OOMKilled"], state)
        self.assertEqual(state["ExitCode"], 137)
        self.docker_ok("rm", name)

    def test_read_only_tmpfs_and_caps(self):
        r = self.d.docker("run", "--rm", "--read-only", "busybox", "touch", "/x")
        self.assertNotEqual(r.returncode, 0)
        out = self.docker_ok("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox",
                             "sh", "-c", "touch /scratch/x && echo ok")
        self.assertEqual(out, "ok\n")
        caps = self.docker_ok("run", "--rm", "--cap-drop", "ALL", "busybox",
                              "grep", "CapEff", "/proc/self/status")
        self.assertIn("0000000000000000", caps)

    def test_network_none_has_loopback(self):
        out = self.docker_ok("run", "--rm", "busybox", "cat", "/sys/class/net/lo/operstate")
        self.assertIn(out.strip(), ("unknown", "up"))
        r = self.d.docker("run", "--rm", "-p", "8080:80", "busybox", "true")
        self.assertEqual(r.returncode, 125)
        self.assertIn("bridge", r.stderr)


class LifecycleTest(DaemonTestCase):
    def test_detached_container_lifecycle(self):
        cid = self.docker_ok("run", "-d", "--name", "web", "-l", "tier=front", "busybox",
                             "sh", "-c", "echo started; exec sleep 600").strip()
        self.assertRegex(cid, r"^[0-9a-f]{64}$")
        ps = self.docker_ok("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}")
        self.assertRegex(ps, rf"{cid[:12]} web Up ")
        self.assertEqual(self.docker_ok("ps", "-q", "--filter", "label=tier=front").strip(), cid[:12])
        wait_for(lambda: "started" in self.d.docker("logs", "web").stdout, what="log line")
        self.assertEqual(self.docker_ok("exec", "web", "sh", "-c", "echo $((6*7))"), "42\n")
        self.assertEqual(self.d.docker("exec", "web", "sh", "-c", "exit 5").returncode, 5)
        top = self.docker_ok("top", "web")
        self.assertIn("sleep 600", top)
        self.docker_ok("pause", "web")
        self.assertIn("Paused", self.docker_ok("ps", "--format", "{{.Status}}", "-f", "name=web"))
        self.docker_ok("unpause", "web")
        self.docker_ok("rename", "web", "web2")
        t0 = time.monotonic()
        self.docker_ok("stop", "-t", "1", "web2")
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual(self.docker_ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web2").split(),
                         ["exited", "137"])
        self.docker_ok("start", "web2")
        self.assertEqual(self.docker_ok("inspect", "-f", "{{.State.Running}}", "web2").strip(), "true")
        self.docker_ok("restart", "-t", "1", "web2")
        self.docker_ok("kill", "web2")
        self.assertEqual(self.docker_ok("wait", "web2").strip(), "137")
        self.docker_ok("rm", "web2")
        r = self.d.docker("inspect", "web2")
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such object", r.stderr)

    def test_name_conflict_and_unknown_container(self):
        self.docker_ok("create", "--name", "dup", "busybox", "true")
        r = self.d.docker("create", "--name", "dup", "busybox", "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is already in use", r.stderr)
        r = self.d.docker("rm", "nosuch")
        self.assertIn("No such container: nosuch", r.stderr)
        self.docker_ok("rm", "dup")

    def test_rm_running_needs_force(self):
        self.docker_ok("run", "-d", "--name", "busy", "busybox", "sleep", "600")
        r = self.d.docker("rm", "busy")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("force", r.stderr)
        self.docker_ok("rm", "-f", "busy")
        self.assertEqual(self.docker_ok("ps", "-aq", "-f", "name=busy").strip(), "")

    def test_restart_policy_on_failure(self):
        self.docker_ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox",
                       "sh", "-c", "exit 1")
        wait_for(lambda: self.d.docker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}",
                                       "flaky").stdout.split() == ["2", "exited"],
                 timeout=20, what="two restarts then exited")
        self.docker_ok("rm", "-f", "flaky")

    def test_logs_tail_timestamps_follow(self):
        self.docker_ok("run", "-d", "--name", "talker", "busybox", "sh", "-c",
                       "for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; sleep 2; echo last")
        wait_for(lambda: "err" in self.d.docker("logs", "talker").stderr, what="stderr line")
        r = self.d.docker("logs", "--tail", "2", "talker")
        self.assertEqual((r.stdout, r.stderr), ("line5\n", "err\n"))
        ts = self.docker_ok("logs", "-t", "--tail", "2", "talker")
        self.assertRegex(ts, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line5\n$")
        follow = self.docker_ok("logs", "-f", "talker", timeout=30)
        self.assertTrue(follow.endswith("line5\nlast\n"), follow)
        self.docker_ok("rm", "talker")


class FilesystemTest(DaemonTestCase):
    def test_cp_both_ways_diff_export_commit(self):
        self.docker_ok("run", "-d", "--name", "fs", "busybox", "sh", "-c",
                       "echo inside > /root/in.txt; rm /etc/group; exec sleep 600")
        wait_for(lambda: self.d.docker("exec", "fs", "test", "-f", "/root/in.txt").returncode == 0,
                 what="file inside")
        host = os.path.join(self.d.dir, "out.txt")
        self.docker_ok("cp", "fs:/root/in.txt", host)
        with open(host) as f:
            self.assertEqual(f.read(), "inside\n")
        src = os.path.join(self.d.dir, "to-container.txt")
        with open(src, "w") as f:
            f.write("from host\n")
        self.docker_ok("cp", src, "fs:/tmp/")
        self.assertEqual(self.docker_ok("exec", "fs", "cat", "/tmp/to-container.txt"), "from host\n")
        diff = self.docker_ok("diff", "fs").splitlines()
        self.assertIn("A /root/in.txt", diff)
        self.assertIn("D /etc/group", diff)
        tar_path = os.path.join(self.d.dir, "export.tar")
        self.docker_ok("export", "-o", tar_path, "fs")
        with tarfile.open(tar_path) as t:
            names = t.getnames()
        self.assertTrue(any(n.endswith("root/in.txt") for n in names))
        self.assertFalse(any(n.endswith("etc/group") for n in names))
        self.docker_ok("commit", "-m", "snap", "fs", "snap:1")
        self.assertEqual(self.docker_ok("run", "--rm", "snap:1", "cat", "/root/in.txt"), "inside\n")
        r = self.d.docker("run", "--rm", "snap:1", "cat", "/etc/group")
        self.assertNotEqual(r.returncode, 0)
        self.docker_ok("rm", "-f", "fs")
        self.docker_ok("rmi", "snap:1")

    def test_copy_on_write_is_private(self):
        self.docker_ok("run", "--name", "w1", "busybox", "sh", "-c", "echo changed > /bin/marker")
        self.assertNotEqual(self.d.docker("run", "--rm", "busybox", "cat", "/bin/marker").returncode, 0)
        self.docker_ok("rm", "w1")

    def test_volumes(self):
        self.docker_ok("volume", "create", "--label", "k=v", "data")
        self.docker_ok("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
        self.assertEqual(self.docker_ok("run", "--rm", "-v", "data:/data:ro", "busybox", "cat", "/data/f"), "kept\n")
        r = self.d.docker("run", "--rm", "-v", "data:/data:ro", "busybox", "touch", "/data/g")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("data", self.docker_ok("volume", "ls", "-q", "--filter", "label=k=v").split())
        mp = self.docker_ok("volume", "inspect", "-f", "{{.Mountpoint}}", "data").strip()
        with open(os.path.join(mp, "f")) as f:
            self.assertEqual(f.read(), "kept\n")
        bind = os.path.join(self.d.dir, "bind")
        os.makedirs(bind)
        self.docker_ok("run", "--rm", "--mount", f"type=bind,source={bind},target=/b", "busybox",
                       "sh", "-c", "echo via-bind > /b/x")
        with open(os.path.join(bind, "x")) as f:
            self.assertEqual(f.read(), "via-bind\n")
        self.docker_ok("volume", "rm", "data")
        self.assertNotIn("data", self.docker_ok("volume", "ls", "-q").split())


class ImagesTest(DaemonTestCase):
    def test_images_tag_inspect_history_rmi(self):
        out = self.docker_ok("images", "--format", "{{.Repository}}:{{.Tag}}")
        self.assertIn("busybox:latest", out.split())
        self.docker_ok("tag", "busybox", "mybox:v1")
        ids = {self.docker_ok("image", "inspect", "-f", "{{.Id}}", r).strip() for r in ("busybox", "mybox:v1")}
        self.assertEqual(len(ids), 1)
        self.assertIn("mybox", self.docker_ok("images", "mybox"))
        self.assertTrue(self.docker_ok("history", "-q", "busybox").strip())
        self.assertIn("Untagged: mybox:v1", self.docker_ok("rmi", "mybox:v1"))
        r = self.d.docker("rmi", "nosuch:tag")
        self.assertIn("No such image", r.stderr)

    def test_save_load_round_trip_and_oci_layout(self):
        tar = os.path.join(self.d.dir, "saved.tar")
        self.docker_ok("save", "-o", tar, "busybox")
        with tarfile.open(tar) as t:
            self.assertIn("manifest.json", t.getnames())
        self.docker_ok("tag", "busybox", "keep:1")
        self.docker_ok("rmi", "busybox")
        self.assertIn("Loaded image: busybox:latest", self.docker_ok("load", "-i", tar))
        oci = make_busybox_image(os.path.join(self.d.dir, "oci.tar"), fmt="oci", tag="ocibox:1")
        self.assertIn("ocibox", self.docker_ok("load", "-i", oci))
        self.assertEqual(self.docker_ok("run", "--rm", "ocibox:1", "echo", "oci ok"), "oci ok\n")
        self.docker_ok("rmi", "keep:1")

    def test_import_and_corrupt_load(self):
        rootfs_tar = os.path.join(self.d.dir, "rootfs.tar")
        self.docker_ok("create", "--name", "src", "busybox", "true")
        self.docker_ok("export", "-o", rootfs_tar, "src")
        self.docker_ok("rm", "src")
        self.docker_ok("import", "--change", "CMD [\"echo\",\"imported\"]", rootfs_tar, "imp:1")
        self.assertEqual(self.docker_ok("run", "--rm", "imp:1"), "imported\n")
        bad = os.path.join(self.d.dir, "bad.tar")
        with open(self.d.dir + "/busybox.tar", "rb") as f:
            data = f.read()
        with open(bad, "wb") as f:
            f.write(data[: len(data) // 2])
        before = self.docker_ok("images", "-q")
        r = self.d.docker("load", "-i", bad)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(self.docker_ok("images", "-q"), before)


class SystemTest(DaemonTestCase):
    def test_version_info_df_events_prune(self):
        self.assertEqual(self.docker_ok("version", "--format", "{{.Server.APIVersion}}").strip(), "1.41")
        info = json.loads(self.docker_ok("info", "--format", "{{json .}}"))
        self.assertEqual(info["Swarm"]["LocalNodeState"], "inactive")
        since = str(int(time.time()) - 1)
        self.docker_ok("run", "--rm", "--name", "evt", "busybox", "true")
        until = str(int(time.time()) + 1)
        ev = self.docker_ok("events", "--since", since, "--until", until, "--filter", "container=evt",
                            "--format", "{{.Action}}").split()
        for action in ("create", "start", "die", "destroy"):
            self.assertIn(action, ev)
        self.assertIn("Images", self.docker_ok("system", "df"))
        self.docker_ok("create", "--name", "stale", "busybox", "true")
        self.assertIn("Total reclaimed space", self.docker_ok("container", "prune", "-f"))
        self.assertEqual(self.docker_ok("ps", "-aq", "-f", "name=stale").strip(), "")

    def test_stats_no_stream(self):
        self.docker_ok("run", "-d", "--name", "st", "-m", "64m", "busybox", "sleep", "600")
        out = self.docker_ok("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "st")
        self.assertRegex(out, r"^st .+ / 64MiB 1\n$")
        self.docker_ok("rm", "-f", "st")

    def test_update_memory(self):
        self.docker_ok("run", "-d", "--name", "up", "busybox", "sleep", "600")
        self.docker_ok("update", "-m", "32m", "--memory-swap", "64m", "up")
        self.assertEqual(self.docker_ok("inspect", "-f", "{{.HostConfig.Memory}}", "up").strip(), str(32 << 20))
        self.docker_ok("rm", "-f", "up")


class DaemonRestartTest(unittest.TestCase):
    """berthd killed with SIGKILL: containers keep running and are reattached."""

    def setUp(self):
        self.d = Daemon()
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.d.load_busybox()

    def ok(self, *args, **kw):
        r = self.d.docker(*args, **kw)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stderr}\n{self.d.read_log()}")
        return r.stdout

    def test_kill9_and_reattach(self):
        self.ok("run", "-d", "--name", "survivor", "busybox", "sh", "-c",
                "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done")
        self.ok("run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "600")
        self.ok("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 2; exit 7")
        logs = subprocess.Popen(["docker", "logs", "-f", "survivor"], env=self.d.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        pid = int(self.ok("inspect", "-f", "{{.State.Pid}}", "survivor"))
        self.d.kill9()
        logs.wait(timeout=10)
        os.kill(pid, 0)  # still alive
        time.sleep(2.5)  # "short" exits while no daemon runs
        self.d.start()
        self.assertEqual(self.ok("inspect", "-f", "{{.State.Status}}", "survivor").strip(), "running")
        self.assertEqual(self.ok("inspect", "-f", "{{.State.Pid}}", "survivor").strip(), str(pid))
        wait_for(lambda: self.d.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                                       "short").stdout.split() == ["exited", "7"],
                 timeout=10, what="exit recorded while the daemon was down")
        self.assertEqual(self.ok("exec", "survivor", "echo", "reattached"), "reattached\n")
        n = self.ok("logs", "survivor").count("tick")
        wait_for(lambda: self.ok("logs", "survivor").count("tick") > n, what="logs keep flowing")
        self.ok("stop", "-t", "1", "survivor")
        self.assertEqual(self.ok("wait", "survivor").strip(), "137")
        # restart policy still enforced after reattach
        apid = int(self.ok("inspect", "-f", "{{.State.Pid}}", "always"))
        os.kill(apid, 9)
        wait_for(lambda: self.d.docker("inspect", "-f", "{{.RestartCount}}", "always").stdout.strip() == "1",
                 timeout=10, what="restart after reattach")


if __name__ == "__main__":
    unittest.main()
