#!/usr/bin/env python3
"""`exec` into a running container: joins every namespace and the cgroup, inherits the
container's process settings unless overridden (--env --cwd --user --cap --no-new-privs,
--process FILE), propagates the exit code and stdin, refuses stopped and paused containers."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (RUNTIME, RuntimeTestCase, cap_mask, main,  # noqa: E402
                           read_file, status_field, wait_for)

NAMESPACES = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user"]


class ExecTest(RuntimeTestCase):

    def running(self, args=("sleep", "30"), **kw):
        b = self.make_bundle(list(args), **kw)
        cid, r = self.create_running(b)
        return b, cid

    def assert_joins_every_namespace(self, cid):
        script = ("for n in %s; do echo $n $(readlink /proc/1/ns/$n) $(readlink "
                  "/proc/self/ns/$n); done" % " ".join(NAMESPACES))
        r = self.exec_(cid, "sh", "-c", script)
        self.assert_ok(r)
        for line in r.out.splitlines():
            name, init_ns, own_ns = line.split()
            self.assertEqual(own_ns, init_ns, f"exec did not join the {name} namespace")
        self.assertEqual(len(r.out.splitlines()), len(NAMESPACES))

    def test_exec_joins_every_namespace(self):
        b = self.make_bundle(["sleep", "30"])
        b.add_namespace("cgroup")
        cid, _ = self.create_running(b)
        self.assert_joins_every_namespace(cid)

    def test_exec_joins_user_namespace(self):
        b = self.make_bundle(["sleep", "30"], userns=(200000, 65536))
        b.add_namespace("cgroup")
        cid, _ = self.create_running(b)
        self.assert_joins_every_namespace(cid)
        r = self.exec_(cid, "cat", "/proc/self/uid_map")
        self.assertEqual(r.out.split(), ["0", "200000", "65536"])

    def test_exec_process_seen_from_host_shares_namespaces_and_cgroup(self):
        b, cid = self.running()
        init = self.state(cid)["pid"]
        pid_file = os.path.join(self.tmp, "exec.pid")
        r = self.rt_detached("exec", "-d", "--pid-file", pid_file, cid, "sleep", "30")
        self.assert_ok(r)
        pid = int(wait_for(lambda: read_file(pid_file, "").strip(), what="pid file"))
        for name in ("pid", "net", "ipc", "uts", "mnt"):
            self.assertEqual(os.readlink(f"/proc/{pid}/ns/{name}"),
                             os.readlink(f"/proc/{init}/ns/{name}"), name)
        self.assertEqual(read_file(f"/proc/{pid}/cgroup"), read_file(f"/proc/{init}/cgroup"))
        # NSpid lists the host pid and the pid inside the container's (nested) namespace.
        ns_pids = read_file(f"/proc/{pid}/status").split("NSpid:")[1].split("\n")[0].split()
        self.assertEqual(len(ns_pids), 2)
        self.assertEqual(ns_pids[0], str(pid))

    def test_exec_exit_code_and_output(self):
        _, cid = self.running()
        r = self.exec_(cid, "sh", "-c", "echo out; echo err >&2; exit 5")
        self.assertEqual(r.rc, 5)
        self.assertEqual(r.out, "out\n")
        self.assertEqual(r.err, "err\n")

    def test_exec_passes_stdin(self):
        _, cid = self.running()
        r = self.exec_(cid, "sh", "-c", "read x; echo got:$x", input="abc\n")
        self.assertEqual(r.out, "got:abc\n")

    def test_exec_inherits_container_process_settings(self):
        b = self.make_bundle(["sleep", "30"])
        b.process["env"] = ["PATH=/bin", "FROM_CONFIG=yes"]
        b.process["cwd"] = "/tmp"
        b.process["user"] = {"uid": 1000, "gid": 1000}
        b.process["noNewPrivileges"] = True
        cid, _ = self.create_running(b)
        r = self.exec_(cid, "sh", "-c", "echo $FROM_CONFIG; pwd; id -u; "
                                        "grep NoNewPrivs /proc/self/status")
        self.assert_ok(r)
        lines = r.out.splitlines()
        self.assertEqual(lines[:3], ["yes", "/tmp", "1000"])
        self.assertEqual(lines[3].split()[1], "1")

    def test_exec_overrides_env_cwd_user(self):
        b = self.make_bundle(["sleep", "30"])
        b.process["env"] = ["PATH=/bin", "FOO=config"]
        cid, _ = self.create_running(b)
        r = self.exec_(cid, "sh", "-c", "echo $FOO $BAR; pwd; id -u; id -g",
                       extra=("--env", "FOO=cli", "--env", "BAR=2", "--cwd", "/etc",
                              "--user", "1000:1000"))
        self.assert_ok(r)
        self.assertEqual(r.out.splitlines(), ["cli 2", "/etc", "1000", "1000"])

    def test_exec_cap_adds_capability(self):
        b = self.make_bundle(["sleep", "30"])
        b.set_caps(["CAP_KILL"], ambient=False)
        cid, _ = self.create_running(b)
        r = self.exec_(cid, "grep", "CapEff", "/proc/self/status",
                       extra=("--cap", "CAP_CHOWN"))
        self.assert_ok(r)
        self.assertEqual(int(status_field(r.out, "CapEff"), 16),
                         cap_mask(["CAP_KILL", "CAP_CHOWN"]))

    def test_exec_no_new_privs_flag(self):
        b = self.make_bundle(["sleep", "30"])
        b.process["noNewPrivileges"] = False
        cid, _ = self.create_running(b)
        plain = self.exec_(cid, "grep", "NoNewPrivs", "/proc/self/status")
        nnp = self.exec_(cid, "grep", "NoNewPrivs", "/proc/self/status",
                         extra=("--no-new-privs",))
        self.assertEqual(plain.out.split()[1], "0")
        self.assertEqual(nnp.out.split()[1], "1")

    def test_exec_process_file(self):
        _, cid = self.running()
        proc = {"terminal": False, "user": {"uid": 1000, "gid": 1000},
                "args": ["sh", "-c", "echo $X; pwd; id -u"], "env": ["PATH=/bin", "X=file"],
                "cwd": "/home/berth"}
        path = os.path.join(self.tmp, "process.json")
        with open(path, "w") as f:
            json.dump(proc, f)
        r = self.exec_(cid, extra=("--process", path))
        self.assert_ok(r)
        self.assertEqual(r.out.splitlines(), ["file", "/home/berth", "1000"])

    def test_exec_sees_container_filesystem_and_hostname(self):
        b = self.make_bundle(["sleep", "30"])
        b.config["hostname"] = "exec-host"
        cid, _ = self.create_running(b)
        r = self.exec_(cid, "sh", "-c", "hostname; cat /etc/hostname; grep -c ' / ' "
                                        "/proc/self/mountinfo")
        self.assert_ok(r)
        self.assertEqual(r.out.split()[:2], ["exec-host", "berth"])

    def test_exec_in_stopped_container_fails(self):
        b = self.make_bundle(["true"])
        cid, _ = self.create_running(b)
        self.wait_status(cid, "stopped")
        r = self.exec_(cid, "true")
        self.assert_error(r, "cannot exec in a stopped container",
                          runc_fragments=["cannot exec in a stopped container"])

    def test_exec_in_paused_container_fails(self):
        _, cid = self.running()
        self.assert_ok(self.rt("pause", cid))
        r = self.exec_(cid, "true", timeout=10)
        self.assert_error(r, "paused", runc_fragments=["paused"])
        self.assert_ok(self.rt("resume", cid))

    def test_exec_in_created_container(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create(b)
        r = self.exec_(cid, "echo", "in-created")
        self.assert_ok(r)
        self.assertEqual(r.out, "in-created\n")

    def test_exec_preserve_fds(self):
        _, cid = self.running()
        data = os.path.join(self.tmp, "data")
        with open(data, "w") as f:
            f.write("fd3\n")
        p = subprocess.run(["/bin/sh", "-c", 'exec 3<"$0"; exec "$@"', data, RUNTIME,
                            "--root", self.root, "exec", "--preserve-fds", "1", cid,
                            "sh", "-c", "cat <&3"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (0, "fd3\n"), p.stderr)


if __name__ == "__main__":
    main()
