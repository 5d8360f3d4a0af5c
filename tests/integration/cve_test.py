#!/usr/bin/env python3
"""The defences that runc's CVEs teach, each checked from where an attacker would stand:
CVE-2019-5736 (the runtime binary reachable through /proc/<pid>/exe of a process that enters the
container), CVE-2024-21626 (a host fd reaching the container through process.cwd) and the mount
and /dev symlink races (a symlink in the image redirecting a mount or a write to the host)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (RuntimeTestCase, main, read_file, skip_for_runc,  # noqa: E402
                           wait_for)

# A createRuntime hook runs (on the host, outside the container's pid namespace so that it can
# outlive it) while the container's init, a copy of the runtime, is alive in its namespaces.
# It does what the 2019 exploit did with the init's /proc/<pid>/exe: keeps a handle on the file
# and, once the runtime copy is gone, tries to open it for writing.
PROBE = r'''#!/usr/bin/python3
import errno, json, os, sys, time
state = json.load(sys.stdin)
exe = "/proc/%d/exe" % state["pid"]
rdonly = bool(os.statvfs(exe).f_flag & os.ST_RDONLY)
handle = os.open(exe, os.O_PATH)  # what the 2019 exploit kept: a handle on the runtime's file
if os.fork():
    os._exit(0)  # the hook returns; the child waits for the runtime copy to be gone
os.setsid()
null = os.open("/dev/null", os.O_RDWR)
for i in (0, 1, 2):
    os.dup2(null, i)
deadline = time.time() + 20
while not os.path.exists(sys.argv[1] + ".go") and time.time() < deadline:
    time.sleep(0.01)  # the test says when every runtime process of this container is gone
with open("/proc/self/fdinfo/%d" % handle) as f:
    mnt_id = [l.split()[1] for l in f if l.startswith("mnt_id:")][0]
with open("/proc/self/mountinfo") as f:
    in_host_mounts = any(l.split()[0] == mnt_id for l in f)
try:
    fd = os.open("/proc/self/fd/%d" % handle, os.O_WRONLY)
    os.close(fd)
    result = "ok"
except OSError as e:
    result = errno.errorcode[e.errno]
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump({"rdonly": rdonly, "open_write_after_exit": result,
               "in_host_mounts": in_host_mounts}, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
'''


def is_static(path):
    with open(path, "rb") as f:
        return b"/ld-linux" not in f.read(8192)


class CveTest(RuntimeTestCase):

    @skip_for_runc("runc re-execs through its own sealed copy; the probe targets berth's model")
    def test_runtime_binary_cannot_be_reopened_for_writing_cve_2019_5736(self):
        b = self.make_bundle(["true"])
        probe = self.write_script(os.path.join(self.tmp, "probe.py"), PROBE)
        result = os.path.join(self.tmp, "probe.json")
        b.config["hooks"] = {"createRuntime": [{"path": probe, "args": [probe, result]}]}
        self.run_ok(b)
        with open(result + ".go", "w"):
            pass
        wait_for(lambda: os.path.exists(result), 20, what="probe result")
        out = json.loads(read_file(result))
        # The file behind the handle sits on a read-only mount that is in no mount table, so
        # nobody can remount it writable; opening it for writing fails (EROFS, or ETXTBSY while
        # another runtime process, e.g. a parallel test's, runs the same binary) where the host
        # binary itself would open.
        self.assertTrue(out["rdonly"], out)
        self.assertFalse(out["in_host_mounts"], out)
        self.assertIn(out["open_write_after_exit"], ("EROFS", "ETXTBSY"), out)

    @skip_for_runc("runc re-execs through its own sealed copy; the probe targets berth's model")
    def test_proc_self_exe_in_exec_reaches_only_the_sealed_copy_cve_2019_5736(self):
        # The attack's entry: a container program that is /proc/self/exe at the final execve
        # runs the runtime binary. It must be the read-only copy: it says so through statvfs.
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(b)
        if not is_static(os.environ["BERTH_RUNTIME"]):
            self.skipTest("a dynamically linked runtime cannot run inside a busybox rootfs")
        r = self.exec_(cid, "/proc/self/exe", "--version")
        self.assert_ok(r)
        self.assertIn("berth-runtime version", r.out)

    def test_cwd_through_a_leaked_fd_is_refused_cve_2024_21626(self):
        for fd in range(3, 12):
            with self.subTest(fd=fd):
                b = self.make_bundle(["sh", "-c", "pwd; ls"])
                b.process["cwd"] = "/proc/self/fd/%d" % fd
                r = self.run_container(b)
                # Either refused, or the cwd is a directory inside the container: never a host
                # directory ("(unreachable)/..." or a listing of the host's files).
                self.assertNotIn("unreachable", r.out)
                if r.rc == 0:
                    self.assertFalse(r.out.startswith("/proc/self/fd"), r)

    def test_mount_through_symlink_to_host_stays_in_rootfs(self):
        victim = os.path.join(self.tmp, "host-victim")
        os.mkdir(victim)
        b = self.make_bundle(["sh", "-c", "ls /evil >/dev/null && echo mounted"], writable=True)
        os.symlink(victim, os.path.join(b.rootfs, "evil"))  # absolute host path in the image
        b.add_mount("/evil", "tmpfs", "tmpfs", ["size=1m"])
        r = self.run_container(b)
        self.assertEqual(os.listdir(victim), [])
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(victim, f.read())
        self.assert_ok(r)

    @skip_for_runc("Debian's runc 1.1.5 writes through an image's /dev symlink (CVE-2026-41579)")
    def test_dev_symlink_to_host_gets_no_writes(self):
        victim = os.path.join(self.tmp, "host-dev")
        os.mkdir(victim)
        b = self.make_bundle(["true"], writable=True)
        os.rmdir(os.path.join(b.rootfs, "dev"))
        os.symlink(victim, os.path.join(b.rootfs, "dev"))
        r = self.run_container(b)
        self.assertEqual(os.listdir(victim), [], r)
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(victim, f.read())


if __name__ == "__main__":
    main()
