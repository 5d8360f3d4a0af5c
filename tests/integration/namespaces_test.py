#!/usr/bin/env python3
"""Namespaces as seen from inside the container: PID 1, hostname, user-namespace maps,
private network/ipc/mount/cgroup namespaces, joining a namespace by path, time offsets."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (IS_RUNC, RuntimeTestCase, existing_cgroup_dirs,  # noqa: E402
                           host_ns, main, mountinfo_lines, read_file, skip_for_runc, wait_for)


class NamespacesTest(RuntimeTestCase):

    def test_container_process_is_pid_1(self):
        # The trailing echo keeps the shell from exec'ing ps as its last command.
        b = self.make_bundle(["sh", "-c", "echo pid=$$; ps -o pid,args; echo end"])
        out = self.run_ok(b)
        self.assertIn("pid=1\n", out)
        rows = [l.split(None, 1) for l in out.splitlines()[2:-1]]
        self.assertEqual(rows[0][0], "1")
        self.assertIn("sh -c echo pid=$$", rows[0][1])
        # Only the shell and ps itself: no host process is visible.
        self.assertEqual(len(rows), 2, out)

    def test_hostname_and_domainname_are_set(self):
        b = self.make_bundle(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
        b.config["hostname"] = "berth-host"
        b.config["domainname"] = "berth.test"
        hostname, domainname = self.run_ok(b).split()
        self.assertEqual(hostname, "berth-host")
        if not IS_RUNC:  # runc 1.1.5 ignores "domainname" (supported from runc 1.2)
            self.assertEqual(domainname, "berth.test")
        self.assertNotEqual(os.uname().nodename, "berth-host")

    def test_user_namespace_maps_root_to_host_range(self):
        b = self.make_bundle(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; "
                                          "touch /tmp/f && stat -c %u /tmp/f"],
                             userns=(100000, 65536), writable=True)
        out = self.run_ok(b).split("\n")
        self.assertEqual(out[0].split(), ["0", "100000", "65536"])
        self.assertEqual(out[1].split(), ["0", "100000", "65536"])
        self.assertEqual(out[2], "0")
        self.assertEqual(out[3], "0")
        # The file the container's root created belongs to host uid 100000.
        self.assertEqual(os.stat(os.path.join(b.rootfs, "tmp", "f")).st_uid, 100000)

    def test_user_namespace_unmapped_host_root_is_nobody(self):
        b = self.make_bundle(["stat", "-c", "%u", "/hostfile"], userns=(100000, 65536))
        b.add_mount("/hostfile", "bind", os.path.join(self.tmp, "owned-by-root"),
                    ["bind", "ro"])
        open(os.path.join(self.tmp, "owned-by-root"), "w").close()
        self.assertEqual(self.run_ok(b).strip(), "65534")

    def test_network_namespace_has_only_loopback(self):
        b = self.make_bundle(["cat", "/proc/net/dev"])
        out = self.run_ok(b)
        ifaces = [l.split(":")[0].strip() for l in out.splitlines()[2:]]
        self.assertEqual(ifaces, ["lo"])

    def test_namespaces_differ_from_host(self):
        names = ["pid", "net", "ipc", "uts", "mnt"]
        b = self.make_bundle(["sh", "-c", "for n in %s; do readlink /proc/1/ns/$n; done"
                              % " ".join(names)])
        out = self.run_ok(b).split()
        for name, inside in zip(names, out):
            self.assertNotEqual(inside, host_ns(name), f"{name} namespace shared with host")

    def test_without_network_namespace_host_network_is_shared(self):
        b = self.make_bundle(["readlink", "/proc/self/ns/net"])
        b.remove_namespace("network")
        self.assertEqual(self.run_ok(b).strip(), host_ns("net"))

    def test_join_network_namespace_by_path(self):
        first = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(first)
        pid = self.state(cid)["pid"]
        second = self.make_bundle(["readlink", "/proc/self/ns/net"])
        second.add_namespace("network", f"/proc/{pid}/ns/net")
        self.assertEqual(self.run_ok(second).strip(), os.readlink(f"/proc/{pid}/ns/net"))

    def test_join_ipc_and_uts_namespaces_by_path(self):
        first = self.make_bundle(["sleep", "30"])
        first.config["hostname"] = "shared-uts"
        cid, _ = self.create_running(first)
        pid = self.state(cid)["pid"]
        second = self.make_bundle(["sh", "-c", "hostname; readlink /proc/self/ns/ipc"])
        second.add_namespace("ipc", f"/proc/{pid}/ns/ipc")
        second.add_namespace("uts", f"/proc/{pid}/ns/uts")
        second.config.pop("hostname", None)  # a joined uts namespace keeps its name
        out = self.run_ok(second).split()
        self.assertEqual(out, ["shared-uts", os.readlink(f"/proc/{pid}/ns/ipc")])

    def test_mounts_inside_do_not_reach_host(self):
        b = self.make_bundle(["sh", "-c", "mount -t tmpfs none /mnt && echo mounted"],
                             writable=True)
        os.mkdir(os.path.join(b.rootfs, "mnt"))
        b.set_caps(["CAP_SYS_ADMIN"])
        self.assertEqual(self.run_ok(b), "mounted\n")
        self.assertFalse([l for l in mountinfo_lines() if b.rootfs in l])

    def test_cgroup_namespace_hides_host_cgroup_path(self):
        b = self.make_bundle(["cat", "/proc/self/cgroup"])
        b.add_namespace("cgroup")
        for line in self.run_ok(b).splitlines():
            path = line.split(":", 2)[2]
            self.assertEqual(path, "/", f"cgroup path visible inside: {line}")

    def test_pid_namespace_init_exit_kills_the_rest(self):
        b = self.make_bundle(["sh", "-c", "sleep 30 & sleep 30 & "
                                          "while [ ! -e /tmp/stop ]; do usleep 10000; done"])
        cid, _ = self.create_running(b)
        d = existing_cgroup_dirs(b.cgroups_path)[0]
        procs = os.path.join(d, "cgroup.procs")
        wait_for(lambda: len(read_file(procs).split()) == 3, what="three processes")
        open(os.path.join(b.rootfs, "tmp", "stop"), "w").close()
        self.wait_status(cid, "stopped")
        # The background sleeps died with the namespace's init: the cgroup is empty.
        wait_for(lambda: read_file(procs).split() == [], what="orphans to be killed")

    @skip_for_runc("time namespaces need runc >= 1.2 (runc 1.1.5 rejects the type)")
    def test_time_namespace_offsets_uptime(self):
        b = self.make_bundle(["cat", "/proc/uptime"])
        b.add_namespace("time")
        b.linux["timeOffsets"] = {"monotonic": {"secs": 864000, "nanosecs": 0},
                                  "boottime": {"secs": 864000, "nanosecs": 0}}
        uptime = float(self.run_ok(b).split()[0])
        host = float(read_file("/proc/uptime").split()[0])
        self.assertGreater(uptime, host + 863000)

    def test_sysctl_applies_in_container_namespaces(self):
        b = self.make_bundle(["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward "
                                          "/proc/sys/kernel/msgmax"])
        b.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}
        host_fwd = read_file("/proc/sys/net/ipv4/ip_forward").strip()
        self.assertEqual(self.run_ok(b).split(), ["1", "12345"])
        self.assertEqual(read_file("/proc/sys/net/ipv4/ip_forward").strip(), host_fwd)

    def test_created_container_already_has_its_namespaces(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create(b)
        pid = self.state(cid)["pid"]
        wait_for(lambda: os.path.exists(f"/proc/{pid}/ns/uts"), what="process")
        for name in ("pid_for_children", "net", "ipc", "uts", "mnt"):
            if name == "pid_for_children":
                # The init process sits in the new pid namespace: its own pid ns differs.
                name = "pid"
            self.assertNotEqual(os.readlink(f"/proc/{pid}/ns/{name}"), host_ns(name), name)


if __name__ == "__main__":
    main()
