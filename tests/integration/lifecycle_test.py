#!/usr/bin/env python3
"""Container lifecycle as a caller sees it: create/start/state/delete, run, kill, pause,
list, ps, pid files and the state JSON (runc's fields)."""

import datetime
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (IS_RUNC, RuntimeTestCase, existing_cgroup_dirs, main,  # noqa: E402
                           process_alive, read_file, wait_for)

# Loops until the host creates <rootfs>/tmp/stop; lets a test decide when the container exits.
WAIT_FOR_STOP = "while [ ! -e /tmp/stop ]; do usleep 10000; done"


def parse_rfc3339(text):
    # runc prints nanoseconds; Python wants at most microseconds.
    text = text.replace("Z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.datetime.fromisoformat(text)


class LifecycleTest(RuntimeTestCase):

    def test_create_start_stop_delete_walks_through_states(self):
        b = self.make_bundle(["sh", "-c", WAIT_FOR_STOP + "; echo done"])
        cid, created = self.create(b)
        st = self.state(cid)
        self.assertEqual(st["status"], "created")
        pid = st["pid"]
        self.assertGreater(pid, 0)
        self.assertTrue(process_alive(pid))
        self.assertEqual(created.read_out(), "", "process must not run before start")

        self.start(cid)
        self.assertEqual(self.status(cid), "running")
        self.assertEqual(self.state(cid)["pid"], pid)

        open(os.path.join(b.rootfs, "tmp", "stop"), "w").close()
        self.wait_status(cid, "stopped")
        wait_for(lambda: "done" in created.read_out(), what="container output")
        self.delete(cid)
        self.assert_nothing_left(cid, b, pids=[pid])

    def test_state_json_has_runc_fields(self):
        b = self.make_bundle(["sleep", "30"])
        b.config["annotations"] = {"org.berth.test": "yes"}
        before = datetime.datetime.now(datetime.timezone.utc)
        cid, _ = self.create(b)
        st = self.state(cid)
        self.assertEqual(st["id"], cid)
        self.assertEqual(st["status"], "created")
        self.assertIsInstance(st["pid"], int)
        self.assertEqual(st["bundle"], b.path)
        self.assertTrue(os.path.isabs(st["bundle"]))
        self.assertEqual(st["rootfs"], b.rootfs)
        self.assertIn("ociVersion", st)
        self.assertEqual(st["annotations"], {"org.berth.test": "yes"})
        self.assertEqual(st["owner"], "")
        created = parse_rfc3339(st["created"])
        self.assertLess(abs((created - before).total_seconds()), 30)

    def test_list_shows_containers_as_json_and_quiet(self):
        b1 = self.make_bundle(["sleep", "30"])
        b2 = self.make_bundle(["sleep", "30"])
        c1, _ = self.create(b1)
        c2, _ = self.create_running(b2)
        r = self.rt("list", "--format", "json")
        self.assert_ok(r)
        entries = {e["id"]: e for e in json.loads(r.out)}
        self.assertEqual(set(entries), {c1, c2})
        self.assertEqual(entries[c1]["status"], "created")
        self.assertEqual(entries[c2]["status"], "running")
        for cid, b in ((c1, b1), (c2, b2)):
            e = entries[cid]
            self.assertEqual(e["bundle"], b.path)
            self.assertEqual(e["pid"], self.state(cid)["pid"])
            for key in ("ociVersion", "rootfs", "created", "owner"):
                self.assertIn(key, e)
        q = self.rt("list", "-q")
        self.assert_ok(q)
        self.assertEqual(sorted(q.out.split()), sorted([c1, c2]))
        table = self.rt("list")
        self.assert_ok(table)
        self.assertEqual(table.out.split()[:6], ["ID", "PID", "STATUS", "BUNDLE", "CREATED",
                                                 "OWNER"])

    def test_list_of_empty_root_is_empty(self):
        r = self.rt("list", "--format", "json")
        self.assert_ok(r)
        # runc prints "null"; an empty array means the same to go-runc's decoder.
        self.assertIn(r.out.strip(), ("[]", "null"))

    def test_run_propagates_exit_code_and_output(self):
        b = self.make_bundle(["sh", "-c", "echo out; echo err >&2; exit 7"])
        r = self.run_container(b)
        self.assertEqual(r.rc, 7, r)
        self.assertEqual(r.out, "out\n")
        self.assertIn("err", r.err)

    def test_run_removes_container_after_exit(self):
        b = self.make_bundle(["true"])
        cid = self.unique_id()
        r = self.run_container(b, cid)
        self.assert_ok(r)
        self.assert_nothing_left(cid, b)

    def test_run_passes_stdin(self):
        b = self.make_bundle(["sh", "-c", "read line; echo got:$line"])
        r = self.run_container(b, input="hello\n")
        self.assert_ok(r)
        self.assertEqual(r.out, "got:hello\n")

    def test_run_detached_returns_while_container_runs(self):
        b = self.make_bundle(["sh", "-c", WAIT_FOR_STOP])
        t0 = time.monotonic()
        cid, r = self.run_detached(b)
        self.assert_ok(r)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(self.status(cid), "running")
        open(os.path.join(b.rootfs, "tmp", "stop"), "w").close()
        self.wait_status(cid, "stopped")
        self.delete(cid)
        self.assert_nothing_left(cid, b)

    def test_pid_file_holds_container_pid(self):
        b = self.make_bundle(["sleep", "30"])
        pid_file = os.path.join(self.tmp, "c.pid")
        cid, _ = self.create(b, extra=("--pid-file", pid_file))
        self.assertEqual(int(read_file(pid_file).strip()), self.state(cid)["pid"])

    def test_kill_default_signal_is_sigterm(self):
        # PID 1 ignores signals it has no handler for, so the container traps TERM.
        b = self.make_bundle(["sh", "-c", "trap 'echo got-term; exit 0' TERM; "
                                          "while :; do usleep 10000; done"])
        cid, r = self.create_running(b)
        time.sleep(0.1)  # let the shell install its trap
        self.assert_ok(self.rt("kill", cid))
        self.wait_status(cid, "stopped")
        self.assertIn("got-term", r.read_out())

    def test_kill_accepts_numeric_and_named_signals(self):
        for sig in ("9", "KILL", "SIGKILL"):
            with self.subTest(signal=sig):
                b = self.make_bundle(["sleep", "30"])
                cid, _ = self.create_running(b)
                self.assert_ok(self.rt("kill", cid, sig))
                self.wait_status(cid, "stopped")
                self.delete(cid)
                self.assert_nothing_left(cid, b)

    def test_kill_all_kills_every_process(self):
        b = self.make_bundle(["sh", "-c", "sleep 30 & sleep 30 & wait"])
        cid, _ = self.create_running(b)
        d = existing_cgroup_dirs(b.cgroups_path)[0]

        def procs():
            return read_file(os.path.join(d, "cgroup.procs"), "").split()
        wait_for(lambda: len(procs()) == 3, what="three container processes")
        self.assert_ok(self.rt("kill", "--all", cid, "KILL"))
        wait_for(lambda: procs() == [], what="every process to die")
        self.wait_status(cid, "stopped")

    def test_delete_force_of_running_container_leaves_nothing(self):
        b = self.make_bundle(["sh", "-c", "sleep 30 & sleep 30"])
        cid, _ = self.create_running(b)
        pid = self.state(cid)["pid"]
        self.assertTrue(existing_cgroup_dirs(b.cgroups_path))
        self.delete(cid, force=True)
        self.assert_nothing_left(cid, b, pids=[pid])

    def test_delete_force_of_created_container_leaves_nothing(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create(b)
        pid = self.state(cid)["pid"]
        self.delete(cid, force=True)
        self.assert_nothing_left(cid, b, pids=[pid])

    def test_pause_freezes_and_resume_thaws(self):
        b = self.make_bundle(["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; "
                                          "usleep 5000; done"], writable=True)
        cid, _ = self.create_running(b)
        counter = os.path.join(b.rootfs, "tmp", "n")

        def value():
            text = read_file(counter, "").strip()
            return int(text) if text.isdigit() else 0
        wait_for(lambda: value() > 2, what="counter to advance")
        self.assert_ok(self.rt("pause", cid))
        self.assertEqual(self.status(cid), "paused")
        time.sleep(0.05)
        frozen = value()
        time.sleep(0.2)
        self.assertEqual(value(), frozen, "counter advanced while paused")
        self.assert_ok(self.rt("resume", cid))
        self.assertEqual(self.status(cid), "running")
        wait_for(lambda: value() > frozen + 2, what="counter to advance after resume")

    def test_ps_lists_container_processes(self):
        b = self.make_bundle(["sh", "-c", "sleep 30 & wait"])
        cid, _ = self.create_running(b)
        init = self.state(cid)["pid"]
        d = existing_cgroup_dirs(b.cgroups_path)[0]
        wait_for(lambda: len(read_file(os.path.join(d, "cgroup.procs")).split()) == 2,
                 what="two processes")
        r = self.rt("ps", "--format", "json", cid)
        self.assert_ok(r)
        pids = json.loads(r.out)
        self.assertEqual(len(pids), 2)
        self.assertIn(init, pids)
        table = self.rt("ps", cid)
        self.assert_ok(table)
        self.assertIn("PID", table.out.splitlines()[0])
        self.assertIn(str(init), table.out)

    def test_delete_of_stopped_container_without_force(self):
        b = self.make_bundle(["true"])
        cid, _ = self.create_running(b)
        self.wait_status(cid, "stopped")
        self.delete(cid)
        self.assert_nothing_left(cid, b)

    def test_features_reports_capabilities_of_runtime(self):
        r = self.rt("features")
        self.assert_ok(r)
        f = json.loads(r.out)
        self.assertIn("ociVersionMin", f)
        self.assertIn("ociVersionMax", f)
        for hook in ("prestart", "createRuntime", "createContainer", "startContainer",
                     "poststart", "poststop"):
            self.assertIn(hook, f["hooks"])
        self.assertIn("pid", f["linux"]["namespaces"])
        self.assertIn("CAP_SYS_ADMIN", f["linux"]["capabilities"])
        if not IS_RUNC:  # runc 1.1.5 does not list "rro" (added in runc 1.2)
            self.assertIn("rro", f["mountOptions"])

    def test_spec_writes_default_config(self):
        d = os.path.join(self.tmp, "spec")
        os.mkdir(d)
        self.assert_ok(self.rt("spec", "--bundle", d))
        c = json.loads(read_file(os.path.join(d, "config.json")))
        self.assertEqual(c["process"]["args"], ["sh"])
        self.assertEqual(c["root"]["path"], "rootfs")
        types = {n["type"] for n in c["linux"]["namespaces"]}
        self.assertTrue({"pid", "mount", "ipc", "uts", "network"} <= types)
        rd = os.path.join(self.tmp, "spec-rootless")
        os.mkdir(rd)
        self.assert_ok(self.rt("spec", "--rootless", "--bundle", rd))
        rc = json.loads(read_file(os.path.join(rd, "config.json")))
        self.assertIn("user", {n["type"] for n in rc["linux"]["namespaces"]})
        self.assertTrue(rc["linux"]["uidMappings"])


if __name__ == "__main__":
    main()
