#!/usr/bin/env python3
"""linux.resources as they take effect: memory limit and OOM kill, pids limit, CPU quota,
shares and cpuset, the devices cgroup, and `update` on a running container. Values are read
from the container's cgroup on the host (v1 or v2 file names, whichever the host has) and
behaviour is observed from inside."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (RuntimeTestCase, cgroup_dir, main,  # noqa: E402
                           read_file, wait_for)

MiB = 1024 * 1024
# Allocates ~100 MiB in `tail` (it keeps the newline-free input in memory).
ALLOCATE_100M = "head -c 104857600 /dev/zero | tail"
V2_MAX = "max"


def cpu_weight_from_shares(shares):
    # runc/crun conversion: cpu.shares [2, 262144] -> cpu.weight [1, 10000].
    return 1 + ((shares - 2) * 9999) // 262142


class ResourcesTest(RuntimeTestCase):

    def cg(self, bundle, controller, v1_file, v2_file):
        """Contents of a container cgroup file (stripped), from the v1 or v2 hierarchy."""
        d, version = cgroup_dir(controller, bundle.cgroups_path)
        return read_file(os.path.join(d, v1_file if version == 1 else v2_file)).strip(), version

    def test_memory_limit_oom_kills_with_137(self):
        b = self.make_bundle(["sh", "-c", ALLOCATE_100M])
        b.resources()["memory"] = {"limit": 16 * MiB, "swap": 16 * MiB}
        r = self.run_container(b, timeout=60)
        self.assertEqual(r.rc, 137, r)

    def test_oom_kill_is_counted_in_container_cgroup(self):
        b = self.make_bundle(["sh", "-c", ALLOCATE_100M + "; echo status=$?; sleep 30"])
        b.resources()["memory"] = {"limit": 16 * MiB, "swap": 16 * MiB}
        cid, r = self.create_running(b)
        wait_for(lambda: "status=" in r.read_out(), 20, what="allocation to be killed")
        self.assertIn("status=137", r.read_out())
        text, version = self.cg(b, "memory", "memory.oom_control", "memory.events")
        kills = int(dict(l.split() for l in text.splitlines())["oom_kill"])
        self.assertGreaterEqual(kills, 1)
        self.assertEqual(self.status(cid), "running", "only the allocating process dies")

    def test_memory_limit_values_on_host(self):
        b = self.make_bundle(["sleep", "30"])
        b.resources()["memory"] = {"limit": 32 * MiB, "swap": 48 * MiB, "reservation": 8 * MiB}
        self.create(b)
        limit, version = self.cg(b, "memory", "memory.limit_in_bytes", "memory.max")
        self.assertEqual(int(limit), 32 * MiB)
        soft, _ = self.cg(b, "memory", "memory.soft_limit_in_bytes", "memory.low")
        self.assertEqual(int(soft), 8 * MiB)
        d, _ = cgroup_dir("memory", b.cgroups_path)
        if version == 1 and os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
            self.assertEqual(int(read_file(os.path.join(d, "memory.memsw.limit_in_bytes"))),
                             48 * MiB)
        elif version == 2:
            # v2 counts swap separately: swap.max = swap - limit.
            self.assertEqual(int(read_file(os.path.join(d, "memory.swap.max"))), 16 * MiB)

    def test_pids_limit_makes_fork_fail(self):
        b = self.make_bundle(["sh", "-c", "for i in $(seq 20); do sleep 5 & done; echo done"])
        b.resources()["pids"] = {"limit": 8}
        r = self.run_container(b)
        self.assertIn("can't fork", r.err, r)
        self.assertIn("Resource temporarily unavailable", r.err, r)

    def test_pids_limit_value_on_host(self):
        b = self.make_bundle(["sleep", "30"])
        b.resources()["pids"] = {"limit": 42}
        self.create(b)
        self.assertEqual(self.cg(b, "pids", "pids.max", "pids.max")[0], "42")

    def test_cpu_quota_and_period(self):
        b = self.make_bundle(["sleep", "30"])
        b.resources()["cpu"] = {"quota": 50000, "period": 100000}
        self.create(b)
        d, version = cgroup_dir("cpu", b.cgroups_path)
        if version == 1:
            self.assertEqual(read_file(os.path.join(d, "cpu.cfs_quota_us")).strip(), "50000")
            self.assertEqual(read_file(os.path.join(d, "cpu.cfs_period_us")).strip(), "100000")
        else:
            self.assertEqual(read_file(os.path.join(d, "cpu.max")).split(), ["50000", "100000"])

    def test_cpu_quota_visible_inside_container(self):
        b = self.make_bundle(["sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
                                          "2>/dev/null || cat /sys/fs/cgroup/cpu.max"])
        b.resources()["cpu"] = {"quota": 25000, "period": 100000}
        self.assertEqual(self.run_ok(b).split()[0], "25000")

    def test_cpu_shares_and_cpuset(self):
        b = self.make_bundle(["sh", "-c", "grep Cpus_allowed_list /proc/self/status"])
        b.resources()["cpu"] = {"shares": 512, "cpus": "0", "mems": "0"}
        cid, r = self.create(b)
        shares, version = self.cg(b, "cpu", "cpu.shares", "cpu.weight")
        self.assertEqual(int(shares), 512 if version == 1 else cpu_weight_from_shares(512))
        self.assertEqual(self.cg(b, "cpuset", "cpuset.cpus", "cpuset.cpus")[0], "0")
        self.start(cid)
        self.wait_status(cid, "stopped")
        self.assertEqual(r.read_out().split()[-1], "0")

    def test_devices_cgroup_denies_unlisted_device(self):
        # /dev/mem (c 1:1) is not in the allow list: mknod works (CAP_MKNOD), open is denied.
        b = self.make_bundle(["sh", "-c", "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem; "
                                          "head -c 1 /dev/zero | wc -c"], writable=True)
        b.set_caps(["CAP_MKNOD", "CAP_DAC_OVERRIDE", "CAP_SYS_RAWIO"])
        r = self.run_container(b)
        self.assertIn("Operation not permitted", r.err, r)
        self.assertEqual(r.out.strip(), "1", "the default devices (/dev/zero) stay usable")

    def test_update_changes_running_container_limits(self):
        b = self.make_bundle(["sleep", "30"])
        b.resources()["memory"] = {"limit": 64 * MiB}
        b.resources()["pids"] = {"limit": 100}
        b.resources()["cpu"] = {"quota": 20000, "period": 100000}
        cid, _ = self.create_running(b)
        r = self.rt("update", "--memory", str(96 * MiB), "--pids-limit", "50",
                    "--cpu-quota", "30000", cid)
        self.assert_ok(r)
        self.assertEqual(int(self.cg(b, "memory", "memory.limit_in_bytes", "memory.max")[0]),
                         96 * MiB)
        self.assertEqual(self.cg(b, "pids", "pids.max", "pids.max")[0], "50")
        quota, version = self.cg(b, "cpu", "cpu.cfs_quota_us", "cpu.max")
        self.assertEqual(quota.split()[0], "30000")

    def test_update_resources_from_stdin(self):
        b = self.make_bundle(["sleep", "30"])
        b.resources()["pids"] = {"limit": 100}
        cid, _ = self.create_running(b)
        r = self.rt("update", "--resources", "-", cid,
                    input=json.dumps({"pids": {"limit": 33}, "cpu": {"shares": 256}}))
        self.assert_ok(r)
        self.assertEqual(self.cg(b, "pids", "pids.max", "pids.max")[0], "33")
        shares, version = self.cg(b, "cpu", "cpu.shares", "cpu.weight")
        self.assertEqual(int(shares), 256 if version == 1 else cpu_weight_from_shares(256))

    def test_update_resources_from_file(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(b)
        path = os.path.join(self.tmp, "res.json")
        with open(path, "w") as f:
            json.dump({"memory": {"limit": 40 * MiB}}, f)
        self.assert_ok(self.rt("update", "--resources", path, cid))
        self.assertEqual(int(self.cg(b, "memory", "memory.limit_in_bytes", "memory.max")[0]),
                         40 * MiB)

    def test_update_of_stopped_container_fails(self):
        b = self.make_bundle(["true"])
        cid, _ = self.create_running(b)
        self.wait_status(cid, "stopped")
        r = self.rt("update", "--pids-limit", "10", cid)
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("container not running", r.err)

    def test_no_memory_limit_means_unlimited(self):
        b = self.make_bundle(["sleep", "30"])
        self.create(b)
        limit, version = self.cg(b, "memory", "memory.limit_in_bytes", "memory.max")
        if version == 2:
            self.assertEqual(limit, V2_MAX)
        else:
            self.assertGreater(int(limit), 1 << 50)


if __name__ == "__main__":
    main()
