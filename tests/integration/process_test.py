#!/usr/bin/env python3
"""The container process as configured by `process`: args, env, cwd, user and groups,
capabilities, rlimits, no_new_privs, oom_score_adj, umask, scheduler, I/O priority,
personality, inherited fds (--preserve-fds) and no leaked fds."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (CAP_NAMES, IS_RUNC, RUNTIME, RuntimeTestCase, cap_mask,  # noqa: E402
                           host_cap_bounding, main, read_file, skip_for_runc, status_field,
                           wait_for)


class ProcessTest(RuntimeTestCase):

    def test_args_env_and_cwd(self):
        b = self.make_bundle(["sh", "-c", 'echo "$FOO|$EMPTY|$0|$1"; pwd', "zero", "one two"])
        b.process["env"] = ["PATH=/bin", "FOO=bar baz", "EMPTY="]
        b.process["cwd"] = "/tmp"
        self.assertEqual(self.run_ok(b), "bar baz||zero|one two\n/tmp\n")

    def test_home_comes_from_passwd_when_not_set(self):
        b = self.make_bundle(["sh", "-c", "echo $HOME"])
        b.process["env"] = ["PATH=/bin"]
        b.process["user"] = {"uid": 1000, "gid": 1000}
        self.assertEqual(self.run_ok(b), "/home/berth\n")

    def test_user_group_and_additional_gids(self):
        b = self.make_bundle(["sh", "-c", "id -u; id -g; id -G; id -un"])
        b.process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 65534]}
        uid, gid, groups, name = self.run_ok(b).splitlines()
        self.assertEqual((uid, gid, name), ("1000", "1000", "berth"))
        self.assertEqual(set(groups.split()), {"1000", "5", "65534"})

    def test_capability_sets_match_config(self):
        caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        b = self.make_bundle(["grep", "^Cap", "/proc/self/status"])
        b.process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps,
                                     "inheritable": [], "ambient": []}
        out = self.run_ok(b)
        want = cap_mask(caps)
        self.assertEqual(int(status_field(out, "CapBnd"), 16), want)
        self.assertEqual(int(status_field(out, "CapEff"), 16), want)
        self.assertEqual(int(status_field(out, "CapPrm"), 16), want)
        self.assertEqual(int(status_field(out, "CapInh"), 16), 0)
        self.assertEqual(int(status_field(out, "CapAmb"), 16), 0)

    def test_ambient_caps_reach_non_root_user(self):
        caps = ["CAP_NET_BIND_SERVICE"]
        b = self.make_bundle(["grep", "^Cap", "/proc/self/status"])
        b.process["user"] = {"uid": 1000, "gid": 1000}
        b.set_caps(caps, ambient=True)
        out = self.run_ok(b)
        self.assertEqual(int(status_field(out, "CapEff"), 16), cap_mask(caps))
        self.assertEqual(int(status_field(out, "CapAmb"), 16), cap_mask(caps))

    def test_missing_capability_is_enforced(self):
        b = self.make_bundle(["sh", "-c", "touch /tmp/f; chown 1000 /tmp/f && echo chowned"],
                             writable=True)
        b.set_caps(["CAP_KILL"])
        r = self.run_container(b)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("Operation not permitted", r.err)
        b.set_caps(["CAP_CHOWN"])
        self.assertEqual(self.run_ok(b), "chowned\n")

    def test_all_caps_the_host_can_grant(self):
        # Every capability in the host's bounding set (this host lacks CAP_SYS_RESOURCE).
        host = host_cap_bounding()
        caps = [c for i, c in enumerate(CAP_NAMES) if host & (1 << i)]
        b = self.make_bundle(["grep", "^Cap", "/proc/self/status"])
        b.set_caps(caps)
        out = self.run_ok(b)
        self.assertEqual(int(status_field(out, "CapEff"), 16), host)
        self.assertEqual(int(status_field(out, "CapBnd"), 16), host)

    @skip_for_runc("runc 1.1.5 fails with 'unable to apply caps' for a cap outside the host "
                   "bounding set; berth grants what the bounding set allows")
    def test_request_for_every_capability_is_clamped_to_host_bounding_set(self):
        b = self.make_bundle(["grep", "^Cap", "/proc/self/status"])
        b.set_caps(CAP_NAMES)
        out = self.run_ok(b)
        host = host_cap_bounding()
        self.assertEqual(int(status_field(out, "CapEff"), 16), cap_mask(CAP_NAMES) & host)
        self.assertEqual(int(status_field(out, "CapBnd"), 16), cap_mask(CAP_NAMES) & host)

    def test_rlimits_apply(self):
        b = self.make_bundle(["sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Su"])
        b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                                {"type": "RLIMIT_NPROC", "soft": 77, "hard": 88}]
        self.assertEqual(self.run_ok(b).split(), ["321", "654", "77"])

    def test_no_new_privileges_flag(self):
        for flag, want in ((True, "1"), (False, "0")):
            with self.subTest(noNewPrivileges=flag):
                b = self.make_bundle(["grep", "^NoNewPrivs", "/proc/self/status"])
                b.process["noNewPrivileges"] = flag
                self.assertEqual(self.run_ok(b).split()[1], want)

    def test_oom_score_adj(self):
        b = self.make_bundle(["cat", "/proc/self/oom_score_adj"])
        b.process["oomScoreAdj"] = 523
        self.assertEqual(self.run_ok(b).strip(), "523")

    def test_umask(self):
        b = self.make_bundle(["sh", "-c", "umask; touch /tmp/f; stat -c %a /tmp/f"],
                             writable=True)
        b.process["user"]["umask"] = 0o027
        self.assertEqual(self.run_ok(b).split(), ["0027", "640"])

    @skip_for_runc("process.scheduler needs runc >= 1.2")
    def test_scheduler_policy_and_nice(self):
        b = self.make_bundle(["cat", "/proc/self/stat"])
        b.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7}
        fields = self.run_ok(b).rpartition(")")[2].split()
        # After the comm field: nice is stat field 19, policy field 41 (1-based).
        self.assertEqual(fields[19 - 3], "7")
        self.assertEqual(fields[41 - 3], "3")  # SCHED_BATCH

    @skip_for_runc("process.ioPriority needs runc >= 1.2")
    def test_io_priority(self):
        b = self.make_bundle(["ionice", "-p", "1"])
        b.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
        self.assertEqual(self.run_ok(b).strip(), "best-effort: prio 6")

    @skip_for_runc("linux.personality needs runc >= 1.2")
    def test_personality_linux32(self):
        b = self.make_bundle(["uname", "-m"])
        b.linux["personality"] = {"domain": "LINUX32"}
        self.assertIn(self.run_ok(b).strip(), ("i686", "i386"))

    def test_preserve_fds_passes_extra_fds(self):
        data = os.path.join(self.tmp, "fd3-data")
        with open(data, "w") as f:
            f.write("from-fd-3\n")
        b = self.make_bundle(["sh", "-c", "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '"])
        b.save()
        cid = self.unique_id()
        self.container_ids.append(cid)
        # fd 3 of the runtime is opened by a shell so that its number is exactly 3.
        p = subprocess.run(["/bin/sh", "-c", 'exec 3<"$0"; exec "$@"', data, RUNTIME,
                            "--root", self.root, "run", "--preserve-fds", "1",
                            "--bundle", b.path, cid],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "from-fd-3")
        # 0-2, the preserved 3, and the directory ls is reading; nothing else leaked.
        self.assertEqual(lines[1].split(), ["0", "1", "2", "3", "4"])

    def test_container_process_has_only_stdio_fds(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(b)
        pid = self.state(cid)["pid"]
        wait_for(lambda: read_file(f"/proc/{pid}/comm", "").strip() == "sleep",
                 what="sleep to be exec'd")
        self.assertEqual(sorted(int(fd) for fd in os.listdir(f"/proc/{pid}/fd")), [0, 1, 2])
        if not IS_RUNC:
            # The exec'd binary must be the container's, not the runtime's.
            self.assertNotIn(os.path.basename(RUNTIME), os.readlink(f"/proc/{pid}/exe"))

    def test_created_process_waits_for_start(self):
        b = self.make_bundle(["sh", "-c", "echo started > /tmp/marker"], writable=True)
        cid, _ = self.create(b)
        marker = os.path.join(b.rootfs, "tmp", "marker")
        time.sleep(0.2)
        self.assertFalse(os.path.exists(marker), "process ran before start")
        self.start(cid)
        wait_for(lambda: os.path.exists(marker), what="process to run after start")


if __name__ == "__main__":
    main()
