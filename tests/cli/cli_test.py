#!/usr/bin/env python3
"""The berth CLI against a real daemon, side by side with the docker CLI (CLI 28).

Both CLIs talk to the same daemon and the outputs that must match are compared byte for byte:
ps (table, -q, --format, --no-trunc, filters), images, inspect -f and raw inspect, logs, exec,
exit codes of run, stdin piping, cp round trips, volume ls, error lines.

BERTH_TEST_DAEMON selects the daemon: "dockerd" (default: Debian's dockerd 20.10, started and
cleaned up by tests/engine/engine_lib.Dockerd in a temporary directory and a private mount
namespace) or "berthd" ($BERTHD, by tests/engine/engine_lib.Daemon; or an already running daemon
at $BERTH_TEST_HOST). The berth binary is $BERTH_CLI or <build>/berth.
"""

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("BERTH_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
BUILD = os.environ.get("BERTH_BUILD_DIR", os.path.join(SOURCE, "build", "cli"))
BERTH = os.environ.get("BERTH_CLI", os.path.join(BUILD, "berth"))
DOCKER = next((p for p in ("/usr/local/bin/docker", "/usr/bin/docker") if os.access(p, os.X_OK)),
              shutil.which("docker"))
DAEMON = os.environ.get("BERTH_TEST_DAEMON", "dockerd")
BUNDLE_SCRIPT = os.path.join(SOURCE, "scripts", "make-busybox-bundle.sh")
IMAGE = "busybox:test"
sys.path.insert(0, os.path.join(SOURCE, "tests", "engine"))
import engine_lib  # noqa: E402


def run(argv, *, input=None, timeout=60, env=None, text=True):
    return subprocess.run(argv, input=input, capture_output=True, text=text, timeout=timeout,
                          env=env)


def describe(p):
    return f"$ {' '.join(p.args)}\nexit {p.returncode}\nstdout: {p.stdout!r}\nstderr: {p.stderr!r}"


class CliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("cli tests start a daemon and need root")
        if not os.access(BERTH, os.X_OK):
            raise unittest.SkipTest(f"berth binary not found: {BERTH} (set BERTH_CLI)")
        if not DOCKER:
            raise unittest.SkipTest("docker CLI missing")
        cls.dir = tempfile.mkdtemp(prefix="berth-cli-")
        os.chmod(cls.dir, 0o755)
        cls.daemon = None
        cls.addClassCleanup(cls._cleanup)
        if DAEMON == "berthd" and os.environ.get("BERTH_TEST_HOST"):
            cls.host = os.environ["BERTH_TEST_HOST"]
        else:
            cls.daemon = engine_lib.new_daemon("berth-cli-", DAEMON)
            cls.daemon.start()
            cls.host = f"unix://{cls.daemon.sock}"
        cls.env = dict(os.environ, DOCKER_HOST=cls.host,
                       DOCKER_CONFIG=os.path.join(cls.dir, "cli-config"))
        cls.env.pop("DOCKER_API_VERSION", None)
        p = run([DOCKER, "version", "--format", "{{.Server.Version}}"], env=cls.env, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"daemon does not answer: {describe(p)}")
        cls._import_busybox()

    @classmethod
    def _import_busybox(cls):
        if cls.daemon and cls.daemon.kind == "berthd":
            cls.daemon.load_busybox(tag=IMAGE)
            return
        parent = os.path.join(cls.dir, "image")
        subprocess.run([BUNDLE_SCRIPT, "--no-config", "--hardlink", parent], check=True,
                       stdout=subprocess.DEVNULL)
        tar = os.path.join(cls.dir, "rootfs.tar")
        subprocess.run(["tar", "-C", os.path.join(parent, "rootfs"), "-cf", tar, "."],
                       check=True)
        shutil.rmtree(parent)
        p = run([DOCKER, "import", tar, IMAGE], env=cls.env, timeout=120)
        if p.returncode != 0:
            raise AssertionError(describe(p))
        os.unlink(tar)

    @classmethod
    def _cleanup(cls):
        if cls.daemon:
            cls.daemon.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    # ---- helpers ------------------------------------------------------------------------

    def berth(self, *args, input=None, timeout=60, text=True):
        return run([BERTH, "-H", self.host, *args], input=input, timeout=timeout,
                   env=self.env, text=text)

    def docker(self, *args, input=None, timeout=60, text=True):
        return run([DOCKER, *args], input=input, timeout=timeout, env=self.env, text=text)

    def ok(self, p):
        self.assertEqual(p.returncode, 0, describe(p))
        return p.stdout

    def assert_same(self, *args, input=None, stderr=False):
        """Runs the command through both CLIs and compares stdout (and exit codes). Outputs
        with relative times can straddle a second boundary: retry a few times."""
        for attempt in range(4):
            d = self.docker(*args, input=input)
            b = self.berth(*args, input=input)
            same = d.stdout == b.stdout and d.returncode == b.returncode
            if stderr:
                same = same and d.stderr == b.stderr
            if same:
                return b.stdout
            time.sleep(0.3)
        self.assertEqual(b.stdout, d.stdout, f"berth vs docker differ\n{describe(b)}\n{describe(d)}")
        self.assertEqual(b.returncode, d.returncode, f"{describe(b)}\n{describe(d)}")
        if stderr:
            self.assertEqual(b.stderr, d.stderr)
        return b.stdout

    def run_detached(self, *args):
        return self.ok(self.berth("run", "-d", "--network", "none", *args)).strip()

    def rm(self, *names):
        self.docker("rm", "-f", *names)

    # ---- tests --------------------------------------------------------------------------

    def test_run_detached_prints_full_id_and_ps_matches_docker(self):
        cid = self.run_detached("--name", "ps1", "-l", "app=web", "-l", "tier=front", IMAGE,
                                "sh", "-c", "while true; do sleep 1; done")
        self.addCleanup(self.rm, "ps1")
        self.assertRegex(cid, r"^[0-9a-f]{64}$")
        self.ok(self.berth("create", "--name", "ps2", "-l", "app=db", IMAGE, "true"))
        self.addCleanup(self.rm, "ps2")
        self.assertIn(cid[:12], self.assert_same("ps"))
        out = self.assert_same("ps", "-a")
        self.assertIn("ps2", out)
        self.assert_same("ps", "-a", "-q")
        self.assert_same("ps", "-a", "--no-trunc")
        self.assert_same("ps", "-a", "-s")
        self.assert_same("ps", "-a", "-n", "1")
        self.assert_same("ps", "-l", "-q")
        self.assert_same("ps", "-a", "--filter", "label=app=web", "-q")
        self.assert_same("ps", "-a", "--filter", "name=ps2")
        self.assert_same("ps", "-a", "--format", "{{.Names}}\t{{.Label \"app\"}}\t{{.Labels}}")
        self.assert_same("ps", "-a", "--format",
                         "table {{.ID}}\\t{{.Names}}\\t{{.State}}\\t{{upper .Image}}")
        self.assert_same("ps", "-a", "--format", "{{json .}}")
        self.assert_same("container", "ls", "-a", "--format", "{{.Command}} {{.Mounts}} {{.Networks}}")

    def test_images_match_docker(self):
        self.ok(self.berth("tag", IMAGE, "berth-extra:v1"))
        self.addCleanup(self.docker, "rmi", "berth-extra:v1")
        out = self.assert_same("images")
        self.assertIn("berth-extra", out)
        self.assert_same("images", "-q")
        self.assert_same("images", "--no-trunc")
        self.assert_same("images", "--digests")
        self.assert_same("images", "busybox")
        self.assert_same("image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}")
        self.assert_same("images", "--format", "table {{.Repository}}\\t{{.CreatedSince}}")
        self.assert_same("history", IMAGE)
        self.assert_same("image", "inspect", "-f", "{{.Os}} {{.Architecture}} {{.RepoTags}}", IMAGE)

    def test_inspect_templates_and_raw_json_match_docker(self):
        self.run_detached("--name", "insp", "-l", "k=v", "-e", "A=1", "-m", "64m", "--cpus",
                          "1.5", "--ulimit", "nofile=1024:2048", "--tmpfs", "/x:size=1m",
                          "--restart", "on-failure:3", IMAGE, "sleep", "300")
        self.addCleanup(self.rm, "insp")
        for tmpl in ["{{.State.Status}}", "{{.Name}} {{.Config.Labels}}",
                     "{{json .Config.Labels}}", "{{index .Config.Labels \"k\"}}",
                     "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}",
                     "{{range .Config.Env}}[{{.}}]{{end}}",
                     "{{if .State.Running}}up{{else}}down{{end}}",
                     "{{join .Config.Cmd \",\"}}", "{{.HostConfig.RestartPolicy.Name}}:"
                     "{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
                     "{{json .HostConfig.Tmpfs}} {{(index .HostConfig.Ulimits 0).Soft}}",
                     "{{lower .State.Status}} {{len .Config.Env}}"]:
            self.assert_same("inspect", "-f", tmpl, "insp")
        self.assertEqual(self.ok(self.berth("inspect", "-f", "{{.HostConfig.Memory}} "
                                            "{{.HostConfig.NanoCpus}}", "insp")).strip(),
                         "67108864 1500000000")
        b = json.loads(self.ok(self.berth("inspect", "insp")))
        d = json.loads(self.ok(self.docker("inspect", "insp")))
        self.assertEqual(b, d)
        self.assert_same("inspect", "--type", "image", "-f", "{{.Id}}", IMAGE)
        # Missing objects: "[]" on stdout, one error line, exit 1.
        p = self.berth("inspect", "nosuch-object")
        self.assertEqual((p.returncode, p.stdout), (1, "[]\n"), describe(p))
        self.assertEqual(p.stderr, "Error: No such object: nosuch-object\n")
        self.assert_same("inspect", "-f", "{{.Name}}", "insp", "nosuch-object", stderr=True)

    def test_logs_match_docker(self):
        self.ok(self.berth("run", "--name", "logs1", "--network", "none", IMAGE, "sh", "-c",
                           "echo out1; echo err1 >&2; echo out2; echo err2 >&2"))
        self.addCleanup(self.rm, "logs1")
        for args in (["logs", "logs1"], ["logs", "--tail", "1", "logs1"],
                     ["logs", "-t", "logs1"], ["logs", "--since", "1h", "logs1"]):
            b, d = self.berth(*args), self.docker(*args)
            self.assertEqual((b.stdout, b.stderr, b.returncode), (d.stdout, d.stderr, d.returncode),
                             f"{describe(b)}\n{describe(d)}")
        b = self.berth("logs", "logs1")
        self.assertEqual(b.stdout, "out1\nout2\n")
        self.assertEqual(b.stderr, "err1\nerr2\n")

    def test_logs_follow_streams_until_exit(self):
        self.run_detached("--name", "follow1", IMAGE, "sh", "-c",
                          "for i in 1 2 3; do echo line$i; sleep 0.3; done")
        self.addCleanup(self.rm, "follow1")
        p = self.berth("logs", "-f", "follow1", timeout=30)
        self.assertEqual(p.stdout, "line1\nline2\nline3\n", describe(p))

    def test_run_exit_codes_match_docker(self):
        for args, want in ((["sh", "-c", "exit 3"], 3), (["true"], 0),
                           (["nosuchcmd"], 127), (["/etc"], 126)):
            b = self.berth("run", "--rm", "--network", "none", IMAGE, *args)
            d = self.docker("run", "--rm", "--network", "none", IMAGE, *args)
            self.assertEqual(b.returncode, want, describe(b))
            self.assertEqual(b.returncode, d.returncode, f"{describe(b)}\n{describe(d)}")
        b = self.berth("run", "--rm", "--pull", "never", "no-such-image:v0")
        self.assertEqual(b.returncode, 125, describe(b))
        self.assertIn("No such image", b.stderr)
        b = self.berth("run", "--rm", "-m", "lots", IMAGE)
        self.assertEqual(b.returncode, 125, describe(b))
        self.assertIn('invalid argument "lots"', b.stderr)

    def test_run_output_streams_are_separated(self):
        b = self.berth("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                       "echo to-out; echo to-err >&2")
        self.assertEqual(b.stdout, "to-out\n")
        self.assertIn("to-err\n", b.stderr)

    def test_stdin_is_piped_and_closed(self):
        b = self.berth("run", "--rm", "-i", "--network", "none", IMAGE, "cat", input="hi\n")
        self.assertEqual((b.returncode, b.stdout), (0, "hi\n"), describe(b))
        data = "".join(f"line {i}\n" for i in range(20000))
        b = self.berth("run", "--rm", "-i", "--network", "none", IMAGE, "wc", "-l", input=data)
        self.assertEqual(b.stdout.strip(), "20000", describe(b))

    def test_run_with_tty_uses_a_terminal(self):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BERTH, [BERTH, "-H", self.host, "run", "--rm", "-t", "--network", "none",
                             IMAGE, "sh", "-c", "tty; exit 5"])
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        self.assertIn(b"/dev/pts/", out)
        self.assertEqual(os.WEXITSTATUS(status), 5)

    def wait_running(self, name, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.docker("inspect", "-f", "{{.State.Running}}", name)
            if p.stdout.strip() == "true":
                return
            time.sleep(0.1)
        self.fail(f"{name} did not start")

    def test_signals_are_proxied_to_the_container(self):
        proc = subprocess.Popen([BERTH, "-H", self.host, "run", "--rm", "--name", "sig1",
                                 "--network", "none", IMAGE, "sh", "-c",
                                 "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self.addCleanup(self.rm, "sig1")
        try:
            self.assertEqual(proc.stdout.readline(), b"ready\n")
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(20), 42)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_detach_keys_leave_the_container_running(self):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BERTH, [BERTH, "-H", self.host, "run", "-it", "--name", "det1",
                             "--network", "none", IMAGE, "sh"])
        self.addCleanup(self.rm, "det1")
        try:
            self.wait_running("det1")
            time.sleep(0.3)
            os.write(fd, b"echo typed\r")
            time.sleep(0.3)
            os.write(fd, b"\x10\x11")
            deadline = time.monotonic() + 20
            status = None
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                try:
                    os.read(fd, 4096)
                except OSError:
                    pass
                time.sleep(0.05)
            self.assertIsNotNone(status)
            self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status)
            self.assertEqual(self.ok(self.berth("inspect", "-f", "{{.State.Running}}", "det1")),
                             "true\n")
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            os.close(fd)

    def test_exec_output_exit_code_and_stdin(self):
        self.run_detached("--name", "exec1", IMAGE, "sleep", "300")
        self.addCleanup(self.rm, "exec1")
        self.assert_same("exec", "exec1", "sh", "-c", "echo hello; echo oops >&2; exit 4")
        b = self.berth("exec", "exec1", "sh", "-c", "exit 4")
        self.assertEqual(b.returncode, 4)
        b = self.berth("exec", "-i", "exec1", "cat", input="piped\n")
        self.assertEqual(b.stdout, "piped\n", describe(b))
        b = self.berth("exec", "-e", "FOO=bar", "-w", "/tmp", "exec1", "sh", "-c", "echo $FOO $PWD")
        self.assertEqual(b.stdout, "bar /tmp\n")
        self.ok(self.berth("exec", "-d", "exec1", "touch", "/tmp/detached"))
        time.sleep(0.5)
        self.ok(self.berth("exec", "exec1", "test", "-f", "/tmp/detached"))
        self.assert_same("exec", "nosuch-container", "true", stderr=True)
        self.ok(self.berth("exec", "exec1", "mkdir", "/tmp/newdir"))
        self.assert_same("exec", "exec1", "nosuchcmd", stderr=True)
        self.assert_same("diff", "exec1")
        self.assert_same("top", "exec1")
        self.assert_same("port", "exec1")

    def test_cp_round_trip(self):
        self.run_detached("--name", "cp1", IMAGE, "sleep", "300")
        self.addCleanup(self.rm, "cp1")
        work = tempfile.mkdtemp(dir=self.dir)
        src = os.path.join(work, "data.bin")
        payload = os.urandom(300000)
        with open(src, "wb") as f:
            f.write(payload)
        self.ok(self.berth("cp", src, "cp1:/tmp/"))
        self.ok(self.berth("cp", src, "cp1:/tmp/renamed.bin"))
        back = os.path.join(work, "back.bin")
        self.ok(self.berth("cp", "cp1:/tmp/renamed.bin", back))
        with open(back, "rb") as f:
            self.assertEqual(f.read(), payload)
        self.ok(self.berth("cp", "cp1:/tmp/data.bin", work + "/"))
        # A directory into an existing directory keeps its name.
        os.makedirs(os.path.join(work, "tree", "sub"))
        with open(os.path.join(work, "tree", "sub", "f"), "w") as f:
            f.write("x")
        self.ok(self.berth("cp", os.path.join(work, "tree"), "cp1:/tmp"))
        self.assertEqual(self.ok(self.berth("exec", "cp1", "cat", "/tmp/tree/sub/f")), "x")
        # "-" streams a tar.
        p = self.berth("cp", "cp1:/etc/passwd", "-", text=False)
        self.assertEqual(p.returncode, 0)
        with tarfile.open(fileobj=__import__("io").BytesIO(p.stdout)) as t:
            self.assertEqual(t.getnames(), ["passwd"])
        p = self.berth("cp", "cp1:/nonexistent", work)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Could not find the file /nonexistent", p.stderr)

    def test_volumes_match_docker(self):
        self.ok(self.berth("volume", "create", "vol-a"))
        self.ok(self.berth("volume", "create", "--label", "x=y", "vol-b"))
        self.addCleanup(self.docker, "volume", "rm", "-f", "vol-a", "vol-b")
        out = self.assert_same("volume", "ls")
        self.assertIn("vol-a", out)
        self.assert_same("volume", "ls", "-q")
        self.assert_same("volume", "ls", "--format", "{{.Name}} {{.Labels}} {{.Driver}}")
        self.assert_same("volume", "ls", "--filter", "label=x")
        self.assert_same("volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Mountpoint}}", "vol-b")
        self.ok(self.berth("run", "--rm", "--network", "none", "-v", "vol-a:/data", IMAGE, "sh",
                           "-c", "echo persisted > /data/f"))
        b = self.berth("run", "--rm", "--network", "none", "--mount",
                       "type=volume,src=vol-a,dst=/d,readonly", IMAGE, "cat", "/d/f")
        self.assertEqual(b.stdout, "persisted\n", describe(b))
        self.assertEqual(self.ok(self.berth("volume", "rm", "vol-b")), "vol-b\n")

    def test_lifecycle_commands(self):
        self.run_detached("--name", "life1", IMAGE, "sleep", "300")
        self.addCleanup(self.rm, "life1", "life2")
        st = lambda n: self.ok(self.berth("inspect", "-f", "{{.State.Status}}", n)).strip()
        self.assertEqual(self.ok(self.berth("pause", "life1")), "life1\n")
        self.assertEqual(st("life1"), "paused")
        self.ok(self.berth("unpause", "life1"))
        self.assertEqual(st("life1"), "running")
        self.ok(self.berth("rename", "life1", "life2"))
        self.assertEqual(self.ok(self.berth("kill", "-s", "KILL", "life2")), "life2\n")
        self.assertEqual(self.ok(self.berth("wait", "life2")), "137\n")
        self.ok(self.berth("start", "life2"))
        self.assertEqual(st("life2"), "running")
        self.ok(self.berth("update", "-m", "32m", "--memory-swap", "64m", "life2"))
        self.assertEqual(self.ok(self.berth("inspect", "-f", "{{.HostConfig.Memory}}", "life2")),
                         "33554432\n")
        self.ok(self.berth("stop", "-t", "1", "life2"))
        self.assertEqual(st("life2"), "exited")
        self.assertEqual(self.ok(self.berth("rm", "life2")), "life2\n")
        self.assert_same("rm", "life2", stderr=True)
        self.assert_same("stop", "nosuch1", "nosuch2", stderr=True)

    def test_start_attach_reports_exit_status(self):
        self.ok(self.berth("create", "--name", "sa1", "--network", "none", IMAGE, "sh", "-c",
                           "echo attached; exit 7"))
        self.addCleanup(self.rm, "sa1")
        self.assert_same("attach", "sa1", stderr=True)  # stopped: refused, exit 1
        b = self.berth("start", "-a", "sa1")
        self.assertEqual((b.returncode, b.stdout), (7, "attached\n"), describe(b))

    def test_run_rm_removes_container(self):
        self.ok(self.berth("run", "--rm", "--name", "gone1", "--network", "none", IMAGE, "true"))
        p = self.berth("inspect", "gone1")
        self.assertEqual(p.returncode, 1)

    def test_save_load_round_trip(self):
        tar = os.path.join(self.dir, "img.tar")
        self.ok(self.berth("tag", IMAGE, "roundtrip:v1"))
        self.ok(self.berth("save", "-o", tar, "roundtrip:v1"))
        self.assertEqual(self.ok(self.berth("rmi", "roundtrip:v1")), "Untagged: roundtrip:v1\n")
        b = self.berth("load", "-i", tar)
        self.assertEqual(b.stdout, "Loaded image: roundtrip:v1\n", describe(b))
        self.addCleanup(self.docker, "rmi", "roundtrip:v1")
        self.assertIn("roundtrip", self.ok(self.berth("images", "roundtrip")))

    def test_import_and_export(self):
        self.ok(self.berth("create", "--name", "exp1", IMAGE, "true"))
        self.addCleanup(self.rm, "exp1")
        tar = os.path.join(self.dir, "exp.tar")
        self.ok(self.berth("export", "-o", tar, "exp1"))
        with tarfile.open(tar) as t:
            self.assertIn("bin/busybox", t.getnames())
        out = self.ok(self.berth("import", tar, "imported:v1"))
        self.addCleanup(self.docker, "rmi", "imported:v1")
        self.assertRegex(out.strip(), r"^sha256:[0-9a-f]{64}$")

    def test_version_info_df_events(self):
        self.assert_same("version", "-f", "{{.Server.APIVersion}} {{.Server.Version}}")
        self.assert_same("info", "-f", "{{.OSType}} {{.Driver}} {{json .Swarm.LocalNodeState}}")
        self.assert_same("system", "df")
        since = str(int(time.time()) - 600)
        self.assert_same("events", "--since", since, "--until", str(int(time.time())),
                         "--filter", "type=volume")

    def test_bad_template_is_a_clear_error(self):
        p = self.berth("ps", "--format", "{{nosuchfunc .ID}}")
        self.assertEqual(p.returncode, 1)
        self.assertIn('function "nosuchfunc" not defined', p.stderr)


if __name__ == "__main__":
    unittest.main()
