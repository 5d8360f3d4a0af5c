#!/usr/bin/env python3
"""Isolation a user relies on: masked and read-only paths, read-only root, seccomp, mounts
(read-only binds, rro, symlinked destinations that try to leave the rootfs), /dev contents
and extra device nodes."""

import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (RuntimeTestCase, main, mounts_under, read_file,  # noqa: E402
                           skip_for_runc)

EROFS_TEXT = "Read-only file system"


class SecurityTest(RuntimeTestCase):

    def test_masked_paths_read_empty(self):
        # Masked files that have content on this host (kernels differ: /proc/kcore may be absent).
        files = [p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list")
                 if read_file(p, "")]
        self.assertTrue(files, "no maskable /proc file with content on this host")
        b = self.make_bundle(["sh", "-c", "for f in %s /etc/hostname; do wc -c < $f; done; "
                                          "ls -A /sys/firmware | wc -l" % " ".join(files)])
        b.linux["maskedPaths"] = b.linux["maskedPaths"] + ["/etc/hostname"]
        self.assertEqual(self.run_ok(b).split(), ["0"] * (len(files) + 2))
        self.assertTrue(os.listdir("/sys/firmware"), "host /sys/firmware must stay visible")
        self.assertTrue(read_file(os.path.join(b.rootfs, "etc", "hostname")))

    def test_readonly_paths_refuse_writes(self):
        b = self.make_bundle(["sh", "-c", "echo berth > /proc/sys/kernel/domainname; "
                                          "touch /etc/x; touch /tmp/ok && echo tmp-ok"],
                             writable=True)
        b.linux["readonlyPaths"] = b.linux["readonlyPaths"] + ["/etc"]
        b.set_caps(["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"])
        r = self.run_container(b)
        self.assertEqual(r.err.count(EROFS_TEXT), 2, r)
        self.assertIn("/proc/sys/kernel/domainname", r.err)
        self.assertIn("/etc/x", r.err)
        self.assertEqual(r.out, "tmp-ok\n")
        self.assertFalse(os.path.exists(os.path.join(b.rootfs, "etc", "x")))

    def test_readonly_root(self):
        b = self.make_bundle(["sh", "-c", "touch /x; touch /dev/shm/y && echo shm-ok"])
        r = self.run_container(b)
        self.assertIn(EROFS_TEXT, r.err, r)
        self.assertEqual(r.out, "shm-ok\n")

    def test_seccomp_errno_is_returned(self):
        b = self.make_bundle(["sh", "-c", "mkdir /tmp/d; echo rc=$?; touch /tmp/f && "
                                          "echo touch-ok"], writable=True)
        b.linux["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 42}],
        }
        r = self.run_container(b)
        # errno 42 is ENOMSG.
        self.assertIn("No message of desired type", r.err, r)
        self.assertEqual(r.out, "rc=1\ntouch-ok\n")

    def test_seccomp_kill_action_kills_process(self):
        b = self.make_bundle(["uname"])
        b.linux["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL"}],
        }
        r = self.run_container(b)
        self.assertEqual(r.rc, 128 + 31, r)  # killed by SIGSYS
        self.assertEqual(r.out, "")

    def test_seccomp_filter_argument_match(self):
        # Deny personality(PER_LINUX32) only: linux32 fails, linux64 (PER_LINUX) works.
        b = self.make_bundle(["sh", "-c", "linux64 true && echo linux64-ok; linux32 true; "
                                          "echo rc=$?"])
        b.linux["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
                          "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}],
        }
        r = self.run_container(b)
        self.assertEqual(r.out, "linux64-ok\nrc=1\n", r)
        self.assertIn("No message of desired type", r.err)

    def test_readonly_bind_mount(self):
        host_dir = os.path.join(self.tmp, "shared")
        os.mkdir(host_dir)
        with open(os.path.join(host_dir, "in"), "w") as f:
            f.write("host-data\n")
        b = self.make_bundle(["sh", "-c", "cat /ro/in; touch /ro/new; echo x > /rw/out"])
        os.mkdir(os.path.join(b.rootfs, "ro"))
        os.mkdir(os.path.join(b.rootfs, "rw"))
        b.add_mount("/ro", "bind", host_dir, ["rbind", "ro"])
        b.add_mount("/rw", "bind", host_dir, ["rbind", "rw"])
        r = self.run_container(b)
        self.assertEqual(r.out, "host-data\n")
        self.assertIn(EROFS_TEXT, r.err)
        self.assertEqual(read_file(os.path.join(host_dir, "out")), "x\n")
        self.assertFalse(os.path.exists(os.path.join(host_dir, "new")))

    def test_mount_destination_is_created(self):
        b = self.make_bundle(["sh", "-c", "grep ' /made/here ' /proc/self/mountinfo | "
                                          "cut -d' ' -f5"], writable=True)
        b.add_mount("/made/here", "tmpfs", "tmpfs", ["size=1m"])
        self.assertEqual(self.run_ok(b).strip(), "/made/here")

    @skip_for_runc("the rro mount option needs runc >= 1.2")
    def test_rro_makes_submounts_readonly(self):
        host_dir = os.path.join(self.tmp, "tree")
        sub = os.path.join(host_dir, "sub")
        os.makedirs(sub)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", sub], check=True)
        b = self.make_bundle(["sh", "-c", "touch /t/sub/f"])
        os.mkdir(os.path.join(b.rootfs, "t"))
        b.add_mount("/t", "bind", host_dir, ["rbind", "rro"])
        r = self.run_container(b)
        self.assertIn(EROFS_TEXT, r.err, r)
        self.assertFalse(os.path.exists(os.path.join(sub, "f")))
        self.assertTrue(mounts_under(sub), "host submount must stay (it is ours)")

    def test_symlinked_mount_destination_stays_in_rootfs(self):
        name = f"berth-escape-{uuid.uuid4().hex[:8]}"
        host_target = os.path.join("/etc", name)
        self.addCleanup(lambda: os.path.isdir(host_target) and os.rmdir(host_target))
        b = self.make_bundle(["sh", "-c", f"grep -c {name} /proc/self/mountinfo"],
                             writable=True)
        os.symlink("/etc", os.path.join(b.rootfs, "escape"))
        b.add_mount(f"/escape/{name}", "tmpfs", "tmpfs", ["size=1m"])
        r = self.run_container(b)
        self.assertFalse(os.path.exists(host_target),
                         f"mount destination escaped the rootfs: {host_target} created")
        if r.rc == 0:  # following the symlink inside the rootfs is the runc behaviour
            self.assertTrue(os.path.isdir(os.path.join(b.rootfs, "etc", name)))

    def test_dev_has_default_devices(self):
        b = self.make_bundle(["sh", "-c", "ls -A /dev; stat -c '%n %t,%T' /dev/null "
                                          "/dev/zero /dev/full /dev/random /dev/urandom "
                                          "/dev/tty; echo x > /dev/null && echo null-ok"])
        out = self.run_ok(b)
        names = set(out.split("\n/dev/null")[0].split())
        for dev in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
                    "mqueue", "fd", "stdin", "stdout", "stderr"):
            self.assertIn(dev, names, out)
        for line, want in (("/dev/null", "1,3"), ("/dev/zero", "1,5"), ("/dev/full", "1,7"),
                           ("/dev/random", "1,8"), ("/dev/urandom", "1,9"),
                           ("/dev/tty", "5,0")):
            self.assertIn(f"{line} {want}", out)
        self.assertIn("null-ok", out)

    def test_extra_device_node(self):
        b = self.make_bundle(["sh", "-c", "stat -c '%t,%T %a %u' /dev/berth-zero; "
                                          "head -c 3 /dev/berth-zero | wc -c"])
        b.linux["devices"] = [{"path": "/dev/berth-zero", "type": "c", "major": 1, "minor": 5,
                               "fileMode": 0o640, "uid": 0, "gid": 0}]
        b.resources()["devices"] = [{"allow": False, "access": "rwm"},
                                    {"allow": True, "type": "c", "major": 1, "minor": 5,
                                     "access": "rw"}]
        self.assertEqual(self.run_ok(b).split(), ["1,5", "640", "0", "3"])

    def test_proc_and_sys_are_fresh_mounts(self):
        b = self.make_bundle(["sh", "-c", "ls /proc | grep -E '^[0-9]+$' | wc -l; "
                                          "touch /sys/x"])
        r = self.run_container(b)
        # The shell, ls and grep; not the host's processes.
        self.assertLessEqual(int(r.out.split()[0]), 4, r)
        self.assertIn(EROFS_TEXT, r.err)


if __name__ == "__main__":
    main()
