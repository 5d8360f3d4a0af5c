"""More of issue 3 through the real docker CLI (28): the commands and flags docker_cli_test.py
does not cover, checked on what a user sees.

attach with detach keys (driven through a pty), json-file log rotation, restart policies
unless-stopped/always (also across a berthd kill -9), stats streaming, system/image prune,
rm -v, --stop-signal, --stop-timeout, --ulimit, --pids-limit, --cpus/--cpu-shares,
--memory-swap, --cap-add, exec -d -e -u -w, start -a -i, logs --since.

One daemon per class. BERTH_TEST_DAEMON=dockerd runs the same tests against a private dockerd
(engine_lib.Dockerd: Debian's docker.io, in a private mount namespace) to check that the tests
describe docker's behaviour; the default is berthd (engine_lib.Daemon).
"""

import datetime
import json
import os
import pty
import re
import select
import signal
import subprocess
import time
import unittest

from engine_lib import DAEMON_KIND, DOCKER, DaemonTestCase, new_daemon, wait_for
from berth_testlib import cgroup_mounts  # noqa: E402

ON_BERTHD = DAEMON_KIND != "dockerd"
PREFIX = "berth-more-"


class MoreTestCase(DaemonTestCase):
    """A class-wide daemon (by BERTH_TEST_DAEMON) with busybox loaded."""

    @classmethod
    def new_test_daemon(cls):
        return new_daemon(PREFIX)

    ok = DaemonTestCase.docker_ok

    def inspect(self, name, fmt):
        return self.ok("inspect", "-f", fmt, name).strip()

    def rm_later(self, *names):
        self.addCleanup(lambda: self.d.docker("rm", "-f", *names, timeout=60))

    def pid_of(self, name):
        pid = int(self.inspect(name, "{{.State.Pid}}"))
        self.assertGreater(pid, 0)
        return pid


def cgroup_file(pid, controller, name):
    """Path of `name` in the cgroup (v1 hierarchy with `controller`, else v2) of process pid."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    mounts = cgroup_mounts()
    for _, ctrls, path in lines:
        if controller in ctrls.split(","):
            for mnt, version, mctrls in mounts:
                if version == 1 and controller in mctrls:
                    return os.path.join(mnt, path.lstrip("/"), name)
    for _, ctrls, path in lines:
        if ctrls == "":
            for mnt, version, mctrls in mounts:
                if version == 2 and controller in mctrls:
                    return os.path.join(mnt, path.lstrip("/"), name)
    raise unittest.SkipTest(f"no {controller} cgroup for pid {pid}")


def read(path):
    with open(path) as f:
        return f.read().strip()


# ---- attach and detach keys ----------------------------------------------------------------

class PtyClient:
    """The docker CLI on a pseudo-terminal, as a user types at it."""

    def __init__(self, env, *args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(DOCKER, [DOCKER, *args], env)
            finally:
                os._exit(127)
        self.buf = b""

    def read_until(self, needle, timeout=30):
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {needle!r}; got {self.buf!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # EIO: the CLI exited
                chunk = b""
            if not chunk:
                raise AssertionError(f"CLI closed before {needle!r}; got {self.buf!r}")
            self.buf += chunk
        return self.buf

    def write(self, data):
        os.write(self.fd, data)

    def wait(self, timeout=30):
        """Exit status of the CLI (draining its output meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    self.buf += os.read(self.fd, 4096)
                except OSError:
                    pass
        raise AssertionError(f"CLI still running after {timeout}s; output {self.buf!r}")

    def close(self):
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


class AttachTest(MoreTestCase):
    def test_run_it_and_attach_detach_with_keys(self):
        self.rm_later("det")
        cli = PtyClient(self.d.env, "run", "-it", "--name", "det", "busybox", "sh")
        try:
            cli.read_until(b"# ")
            cli.write(b"echo typed-$((6*7))\r")
            cli.read_until(b"typed-42")
            cli.write(b"\x10\x11")  # the default detach keys: ctrl-p, ctrl-q
            self.assertEqual(cli.wait(), 0, cli.buf)
        finally:
            cli.close()
        self.assertEqual(self.inspect("det", "{{.State.Running}}"), "true")

        cli = PtyClient(self.d.env, "attach", "--detach-keys", "ctrl-x,y", "det")
        try:
            time.sleep(0.5)  # the attach stream is set up before typing
            cli.write(b"echo again-$((6*8))\r")
            cli.read_until(b"again-48")
            cli.write(b"\x18y")
            # docker attach reports the detach as an error: exit 1, "read escape sequence".
            self.assertEqual(cli.wait(), 1, cli.buf)
            self.assertIn(b"read escape sequence", cli.buf)
        finally:
            cli.close()
        self.assertEqual(self.inspect("det", "{{.State.Running}}"), "true")
        # The shell is the same one: what was typed before the detach ran in it.
        self.assertEqual(self.ok("exec", "det", "sh", "-c", "echo alive"), "alive\n")
        logs = self.ok("logs", "det")
        self.assertIn("typed-42", logs)
        self.assertIn("again-48", logs)


# ---- logs ----------------------------------------------------------------------------------

class LogsTest(MoreTestCase):
    def test_json_file_rotation_max_size_max_file(self):
        self.rm_later("rot")
        script = ("i=0; while [ $i -lt 400 ]; do echo line-$i-0123456789abcdefghij; "
                  "i=$((i+1)); done")
        self.ok("run", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
                "busybox", "sh", "-c", script)
        log_path = self.inspect("rot", "{{.LogPath}}")
        self.assertTrue(log_path)
        opts = json.loads(self.inspect("rot", "{{json .HostConfig.LogConfig}}"))
        self.assertEqual(opts["Config"], {"max-size": "1k", "max-file": "2"})
        d, base = os.path.split(log_path)
        files = sorted(f for f in os.listdir(d) if f.startswith(base))
        self.assertEqual(files, [base, base + ".1"])
        # docker rotates when a file reached max-size, before the next entry: a file can
        # exceed 1 KiB by at most one json entry (~100 bytes here).
        for f in files:
            self.assertLessEqual(os.path.getsize(os.path.join(d, f)), 1024 + 200, f)
        lines = self.ok("logs", "rot").splitlines()
        self.assertEqual(lines[-1], "line-399-0123456789abcdefghij")
        self.assertNotIn("line-0-0123456789abcdefghij", lines)
        self.assertLess(len(lines), 400)
        # What is kept is the newest lines, in order, without a gap.
        first = int(lines[0].split("-")[1])
        self.assertEqual(lines, [f"line-{i}-0123456789abcdefghij" for i in range(first, 400)])

    def test_logs_since(self):
        self.rm_later("since")
        self.ok("run", "--name", "since", "busybox", "sh", "-c", "echo early; sleep 2; echo late")
        stamped = self.ok("logs", "-t", "since").splitlines()
        self.assertEqual([line.split(" ", 1)[1] for line in stamped], ["early", "late"])
        early = datetime.datetime.fromisoformat(stamped[0].split(".", 1)[0])
        # the whole second after "early" (which is 2 s before "late"), as Unix time and RFC 3339
        between = int(early.replace(tzinfo=datetime.timezone.utc).timestamp()) + 1
        self.assertEqual(self.ok("logs", "--since", str(between), "since"), "late\n")
        rfc = datetime.datetime.fromtimestamp(between, datetime.timezone.utc)
        self.assertEqual(self.ok("logs", "--since", rfc.strftime("%Y-%m-%dT%H:%M:%SZ"), "since"),
                         "late\n")
        self.assertEqual(self.ok("logs", "--since", "1h", "since"), "early\nlate\n")
        self.assertEqual(self.ok("logs", "--since", "0", "since"), "early\nlate\n")
        future = str(int(time.time()) + 3600)
        self.assertEqual(self.ok("logs", "--since", future, "since"), "")

    def test_logs_since_is_inclusive_to_the_nanosecond(self):
        self.rm_later("since2")
        self.ok("run", "--name", "since2", "busybox", "sh", "-c", "echo early; sleep 1; echo late")
        stamped = self.ok("logs", "-t", "since2").splitlines()
        late_ts = stamped[1].split(" ", 1)[0]
        self.assertEqual(self.ok("logs", "--since", late_ts, "since2"), "late\n")


# ---- restart policies ----------------------------------------------------------------------

class RestartPolicyTest(unittest.TestCase):
    """Own daemon per test: one of them kills it."""

    def setUp(self):
        self.d = new_daemon(PREFIX)
        self.addCleanup(self.d.cleanup)
        self.d.start()
        self.d.load_busybox()

    ok = MoreTestCase.ok
    inspect = MoreTestCase.inspect

    def kill9(self):
        if not ON_BERTHD:
            self.skipTest("a killed private dockerd takes its containerd and containers along")
        self.d.kill9()

    def status(self, name):
        return self.inspect(name, "{{.State.Status}} {{.RestartCount}}").split()

    def test_unless_stopped_restarts_until_stopped(self):
        self.ok("run", "-d", "--name", "us", "--restart", "unless-stopped", "busybox",
                "sh", "-c", "sleep 1; exit 3")
        self.assertEqual(self.inspect("us", "{{.HostConfig.RestartPolicy.Name}}"),
                         "unless-stopped")
        wait_for(lambda: int(self.status("us")[1]) >= 1, timeout=30, interval=0.1,
                 what="a restart after the process exited")
        wait_for(lambda: self.status("us")[0] == "running", timeout=30, interval=0.1,
                 what="running again")
        self.ok("stop", "us")
        status, count = self.status("us")
        self.assertEqual(status, "exited")
        time.sleep(3)  # longer than the process lives and than the restart back-off
        self.assertEqual(self.status("us"), ["exited", count])

    def test_unless_stopped_and_always_across_daemon_kill9(self):
        self.ok("run", "-d", "--name", "us-stopped", "--restart", "unless-stopped", "busybox",
                "sleep", "600")
        self.ok("run", "-d", "--name", "us-running", "--restart", "unless-stopped", "busybox",
                "sh", "-c", "trap 'exit 5' USR1; while true; do sleep 0.1; done")
        self.ok("run", "-d", "--name", "always-dies", "--restart", "always", "busybox",
                "sleep", "600")
        self.ok("stop", "-t", "1", "us-stopped")
        running_pid = int(self.inspect("us-running", "{{.State.Pid}}"))
        dies_pid = int(self.inspect("always-dies", "{{.State.Pid}}"))
        self.kill9()
        os.kill(dies_pid, signal.SIGKILL)  # its process ends while no daemon runs
        self.d.start()
        wait_for(lambda: self.status("always-dies")[0] == "running", timeout=30, interval=0.1,
                 what="the restart-always container whose process died to come back")
        self.assertNotEqual(self.inspect("always-dies", "{{.State.Pid}}"), str(dies_pid))
        # The running one is reattached (same process), the stopped one stays stopped.
        self.assertEqual(self.inspect("us-running", "{{.State.Status}} {{.State.Pid}}").split(),
                         ["running", str(running_pid)])
        time.sleep(2)  # longer than the first restart back-off
        self.assertEqual(self.status("us-stopped"), ["exited", "0"])
        # After the restart the policy still applies: an exit restarts it, a stop is final.
        self.ok("kill", "-s", "USR1", "us-running")
        wait_for(lambda: self.status("us-running") == ["running", "1"], timeout=30,
                 interval=0.1, what="a restart of the reattached container")
        self.ok("stop", "-t", "1", "us-running")
        time.sleep(2)
        self.assertEqual(self.status("us-running"), ["exited", "1"])

    def test_always_comes_back_when_the_daemon_starts(self):
        self.ok("run", "-d", "--name", "always-stopped", "--restart", "always", "busybox",
                "sleep", "600")
        self.ok("stop", "-t", "1", "always-stopped")
        self.assertEqual(self.status("always-stopped")[0], "exited")
        self.kill9()
        self.d.start()
        wait_for(lambda: self.status("always-stopped")[0] == "running", timeout=30,
                 interval=0.1, what="the restart-always container to come back")


# ---- stats, prune, rm -v -------------------------------------------------------------------

class StatsTest(MoreTestCase):
    def test_stats_streams_until_killed(self):
        self.rm_later("st")
        self.ok("run", "-d", "--name", "st", "-m", "64m", "busybox", "sleep", "600")
        cli = subprocess.Popen([DOCKER, "stats", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}",
                                "st"], env=self.d.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        samples = []
        buf = b""
        try:
            deadline = time.monotonic() + 30
            while len(samples) < 2 and time.monotonic() < deadline:
                ready, _, _ = select.select([cli.stdout], [], [], 1)
                if not ready:
                    continue
                chunk = os.read(cli.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "\n", buf.decode(errors="replace"))
                samples = re.findall(r"^st (.+) / 64MiB (\d+)$", text, re.M)
            self.assertIsNone(cli.poll(), "stats must keep streaming")
        finally:
            cli.kill()
            cli.wait()
            cli.stdout.close()
            cli.stderr.close()
        self.assertGreaterEqual(len(samples), 2, buf)
        self.assertEqual(samples[-1][1], "1")


class PruneTest(MoreTestCase):
    def commit(self, name, *tag):
        self.ok("create", "--name", name, "busybox", "true")
        image = self.ok("commit", name, *tag).strip()
        self.ok("rm", name)
        return image

    def image_exists(self, ref):
        return self.d.docker("image", "inspect", ref).returncode == 0

    def test_image_prune_dangling_then_all(self):
        dangling = self.commit("c1")
        self.commit("c2", "unused:1")
        self.ok("create", "--name", "holder", "busybox", "true")
        self.rm_later("holder")
        out = self.ok("image", "prune", "-f")
        self.assertIn("Total reclaimed space", out)
        self.assertIn(dangling, out)
        self.assertFalse(self.image_exists(dangling))
        self.assertTrue(self.image_exists("unused:1"))
        out = self.ok("image", "prune", "-a", "-f")
        self.assertIn("untagged: unused:1", out)
        self.assertFalse(self.image_exists("unused:1"))
        self.assertTrue(self.image_exists("busybox"), "used by a container: kept")

    def test_system_prune(self):
        self.ok("create", "--name", "stopped", "busybox", "true")
        self.ok("run", "-d", "--name", "alive", "busybox", "sleep", "600")
        self.rm_later("alive", "stopped")
        self.ok("volume", "create", "keepvol")
        self.addCleanup(lambda: self.d.docker("volume", "rm", "-f", "keepvol"))
        dangling = self.commit("c3")
        out = self.ok("system", "prune", "-f")
        self.assertIn("Total reclaimed space", out)
        names = self.ok("ps", "-a", "--format", "{{.Names}}").split()
        self.assertNotIn("stopped", names)
        self.assertIn("alive", names)
        self.assertFalse(self.image_exists(dangling))
        self.assertTrue(self.image_exists("busybox"))
        self.assertIn("keepvol", self.ok("volume", "ls", "-q").split())


class VolumeRmTest(MoreTestCase):
    def anonymous_volume(self, name):
        mounts = json.loads(self.inspect(name, "{{json .Mounts}}"))
        anon = [m["Name"] for m in mounts if m["Destination"] == "/anon"]
        self.assertEqual(len(anon), 1, mounts)
        self.assertRegex(anon[0], r"^[0-9a-f]{64}$")
        return anon[0]

    def test_rm_v_removes_the_image_volume_keeps_named(self):
        # An image with a VOLUME: export + import --change (commit --change: see below).
        tar = os.path.join(self.d.dir, "volsrc.tar")
        self.ok("create", "--name", "volsrc", "busybox", "true")
        self.ok("export", "-o", tar, "volsrc")
        self.ok("rm", "volsrc")
        self.ok("import", "--change", "VOLUME /imgvol", tar, "withvolume:1")
        os.unlink(tar)
        self.addCleanup(lambda: self.d.docker("rmi", "-f", "withvolume:1"))
        self.ok("volume", "create", "named2")
        self.addCleanup(lambda: self.d.docker("volume", "rm", "-f", "named2"))
        self.ok("run", "--name", "imgvols", "-v", "named2:/named", "withvolume:1", "sh", "-c",
                "echo x > /imgvol/f; echo y > /named/f")
        mounts = json.loads(self.inspect("imgvols", "{{json .Mounts}}"))
        anon = [m["Name"] for m in mounts if m["Destination"] == "/imgvol"]
        self.assertEqual(len(anon), 1, mounts)
        self.assertRegex(anon[0], r"^[0-9a-f]{64}$")
        self.assertIn(anon[0], self.ok("volume", "ls", "-q").split())
        self.ok("rm", "-v", "imgvols")
        vols = self.ok("volume", "ls", "-q").split()
        self.assertNotIn(anon[0], vols)
        self.assertIn("named2", vols)

    def test_rm_v_removes_anonymous_volumes_only(self):
        self.ok("volume", "create", "named")
        self.addCleanup(lambda: self.d.docker("volume", "rm", "-f", "named"))
        self.ok("create", "--name", "withvols", "-v", "/anon", "-v", "named:/named", "busybox",
                "true")
        anon = self.anonymous_volume("withvols")
        self.assertIn(anon, self.ok("volume", "ls", "-q").split())
        self.ok("rm", "-v", "withvols")
        vols = self.ok("volume", "ls", "-q").split()
        self.assertNotIn(anon, vols)
        self.assertIn("named", vols)

    def test_rm_without_v_keeps_anonymous_volume(self):
        self.ok("create", "--name", "keepvols", "-v", "/anon", "busybox", "true")
        anon = self.anonymous_volume("keepvols")
        self.addCleanup(lambda: self.d.docker("volume", "rm", "-f", anon))
        self.ok("rm", "keepvols")
        self.assertIn(anon, self.ok("volume", "ls", "-q").split())


class CommitTest(MoreTestCase):
    def test_commit_change(self):
        self.ok("create", "--name", "chsrc", "busybox", "true")
        self.rm_later("chsrc")
        self.ok("commit", "--change", "ENV A=1", "--change", "VOLUME /v", "chsrc", "changed:1")
        self.addCleanup(lambda: self.d.docker("rmi", "-f", "changed:1"))
        self.assertIn("A=1", json.loads(self.ok("image", "inspect", "-f", "{{json .Config.Env}}",
                                                "changed:1")))
        self.assertEqual(self.ok("image", "inspect", "-f", "{{json .Config.Volumes}}",
                                 "changed:1").strip(), '{"/v":{}}')


# ---- stop signal and timeout ---------------------------------------------------------------

class StopTest(MoreTestCase):
    def test_stop_signal(self):
        self.rm_later("usr1")
        self.ok("run", "-d", "--name", "usr1", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c",
                'trap "echo got-usr1; exit 0" USR1; echo ready; while true; do sleep 0.1; done')
        self.assertEqual(self.inspect("usr1", "{{.Config.StopSignal}}"), "SIGUSR1")
        wait_for(lambda: "ready" in self.d.docker("logs", "usr1").stdout, timeout=10,
                 what="the trap to be set")
        self.ok("stop", "usr1")
        self.assertEqual(self.inspect("usr1", "{{.State.Status}} {{.State.ExitCode}}"), "exited 0")
        self.assertIn("got-usr1", self.ok("logs", "usr1"))

    def test_stop_timeout_then_kill(self):
        self.rm_later("stubborn")
        self.ok("run", "-d", "--name", "stubborn", "--stop-timeout", "1", "busybox", "sh", "-c",
                'trap "echo got-term" TERM; echo ready; while true; do sleep 0.1; done')
        self.assertEqual(self.inspect("stubborn", "{{.Config.StopTimeout}}"), "1")
        wait_for(lambda: "ready" in self.d.docker("logs", "stubborn").stdout, timeout=10,
                 what="the trap to be set")
        self.ok("stop", "stubborn")
        # SIGTERM was delivered (and ignored), then SIGKILL after the timeout.
        self.assertEqual(self.inspect("stubborn", "{{.State.Status}} {{.State.ExitCode}}"),
                         "exited 137")
        self.assertIn("got-term", self.ok("logs", "stubborn"))


# ---- resources -----------------------------------------------------------------------------

class ResourcesTest(MoreTestCase):
    def test_ulimit_nofile(self):
        with open("/proc/self/limits") as f:
            hard = re.search(r"^Max open files\s+\d+\s+(\d+)", f.read(), re.M).group(1)
        # Without CAP_SYS_RESOURCE a hard limit can only be lowered: stay under the host's.
        hard = min(1024, int(hard))
        soft = min(512, hard)
        out = self.ok("run", "--rm", "--ulimit", f"nofile={soft}:{hard}", "busybox",
                      "grep", "Max open files", "/proc/self/limits")
        self.assertEqual(out.split()[3:5], [str(soft), str(hard)])
        self.ok("create", "--name", "ul", "--ulimit", f"nofile={soft}:{hard}", "busybox", "true")
        self.rm_later("ul")
        ulimits = json.loads(self.inspect("ul", "{{json .HostConfig.Ulimits}}"))
        self.assertEqual(ulimits, [{"Name": "nofile", "Soft": soft, "Hard": hard}])

    def test_pids_limit(self):
        self.rm_later("pl")
        self.ok("run", "-d", "--name", "pl", "--pids-limit", "5", "busybox", "sleep", "600")
        self.assertEqual(self.inspect("pl", "{{.HostConfig.PidsLimit}}"), "5")
        self.assertEqual(read(cgroup_file(self.pid_of("pl"), "pids", "pids.max")), "5")
        r = self.d.docker("exec", "pl", "sh", "-c",
                          "for i in 1 2 3 4 5 6 7 8; do sleep 60 </dev/null >/dev/null 2>&1 & done")
        self.assertIn("can't fork", r.stderr)

    def test_cpus_and_cpu_shares(self):
        self.rm_later("cpu")
        self.ok("run", "-d", "--name", "cpu", "--cpus", "0.5", "--cpu-shares", "512", "busybox",
                "sleep", "600")
        self.assertEqual(self.inspect("cpu", "{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}}"),
                         "500000000 512")
        pid = self.pid_of("cpu")
        quota = cgroup_file(pid, "cpu", "cpu.cfs_quota_us")
        if os.path.exists(quota):
            period = read(cgroup_file(pid, "cpu", "cpu.cfs_period_us"))
            self.assertEqual(int(read(quota)) * 2, int(period))
            self.assertEqual(read(cgroup_file(pid, "cpu", "cpu.shares")), "512")
        else:  # cgroup v2
            q, p = read(cgroup_file(pid, "cpu", "cpu.max")).split()
            self.assertEqual(int(q) * 2, int(p))
            # runc's conversion of shares 512 to a weight
            self.assertEqual(read(cgroup_file(pid, "cpu", "cpu.weight")), "20")

    def test_memory_swap(self):
        self.rm_later("swap")
        self.ok("run", "-d", "--name", "swap", "-m", "32m", "--memory-swap", "64m", "busybox",
                "sleep", "600")
        self.assertEqual(self.inspect("swap", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"),
                         f"{32 << 20} {64 << 20}")
        pid = self.pid_of("swap")
        limit = cgroup_file(pid, "memory", "memory.limit_in_bytes")
        if os.path.exists(limit):
            self.assertEqual(read(limit), str(32 << 20))
            memsw = cgroup_file(pid, "memory", "memory.memsw.limit_in_bytes")
            if not os.path.exists(memsw):
                self.skipTest("no swap accounting (memory.memsw) on this host")
            self.assertEqual(read(memsw), str(64 << 20))
        else:  # cgroup v2: swap.max is the swap part only
            self.assertEqual(read(cgroup_file(pid, "memory", "memory.max")), str(32 << 20))
            self.assertEqual(read(cgroup_file(pid, "memory", "memory.swap.max")), str(32 << 20))
        self.ok("create", "--name", "swapless", "-m", "32m", "--memory-swap", "-1", "busybox",
                "true")
        self.rm_later("swapless")
        self.assertEqual(self.inspect("swapless", "{{.HostConfig.MemorySwap}}"), "-1")

    def test_cap_add(self):
        out = self.ok("run", "--rm", "--network", "none", "--cap-add", "NET_ADMIN", "busybox",
                      "sh", "-c",
                      "ip link set lo mtu 1400 && cat /sys/class/net/lo/mtu")
        self.assertEqual(out, "1400\n")
        r = self.d.docker("run", "--rm", "--network", "none", "busybox", "ip", "link", "set",
                          "lo", "mtu", "1400")
        self.assertNotEqual(r.returncode, 0, "without NET_ADMIN")
        self.ok("create", "--name", "capped", "--cap-add", "NET_ADMIN", "busybox", "true")
        self.rm_later("capped")
        # The docker CLI sends the canonical name.
        self.assertEqual(json.loads(self.inspect("capped", "{{json .HostConfig.CapAdd}}")),
                         ["CAP_NET_ADMIN"])


# ---- exec and start ------------------------------------------------------------------------

class ExecStartTest(MoreTestCase):
    def test_exec_detached_env_user_workdir(self):
        self.rm_later("ex")
        self.ok("run", "-d", "--name", "ex", "busybox", "sleep", "600")
        out = self.ok("exec", "-d", "-e", "FOO=bar", "-u", "65534:65534", "-w", "/tmp", "ex",
                      "sh", "-c", 'echo "$FOO $(id -u):$(id -g) $(pwd)" > /tmp/out.txt')
        self.assertEqual(out, "")
        wait_for(lambda: self.d.docker("exec", "ex", "cat", "/tmp/out.txt").stdout,
                 timeout=10, interval=0.1, what="the detached exec's file")
        self.assertEqual(self.ok("exec", "ex", "cat", "/tmp/out.txt"), "bar 65534:65534 /tmp\n")
        self.assertEqual(self.ok("exec", "ex", "stat", "-c", "%u", "/tmp/out.txt"), "65534\n")

    def test_start_attach_interactive(self):
        self.rm_later("sa")
        self.ok("create", "-i", "--name", "sa", "busybox", "sh", "-c",
                "read x; echo got-$x; echo err-$x >&2; exit 4")
        r = self.d.docker("start", "-a", "-i", "sa", input="hello\n")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (4, "got-hello\n", "err-hello\n"))
        self.assertEqual(self.inspect("sa", "{{.State.Status}} {{.State.ExitCode}}"), "exited 4")
        # start -a on a stopped container runs it again and streams its output
        self.ok("create", "--name", "sa2", "busybox", "echo", "second")
        self.rm_later("sa2")
        self.assertEqual(self.ok("start", "-a", "sa2"), "second\n")


if __name__ == "__main__":
    unittest.main()
