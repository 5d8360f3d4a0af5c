#!/usr/bin/env python3
"""Bad input fails cleanly: a non-zero exit, one stderr line that names the field or path at
fault (berth; runc words several differently, see assert_error), and nothing left behind
(state dir, cgroup in any hierarchy, mounts of the bundle, processes)."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import Bundle, RuntimeTestCase, main, mountinfo_lines  # noqa: E402


class BadInputTest(RuntimeTestCase):

    def failed_create(self, bundle, *fragments, runc_fragments=None, cid=None):
        cid, r = self.create(bundle, cid, check=False)
        self.assert_error(r, *fragments, runc_fragments=runc_fragments)
        self.assert_nothing_left(cid, bundle if isinstance(bundle, Bundle) else None)
        return r

    def test_malformed_config_json(self):
        b = self.make_bundle(["true"])
        b.save = lambda: None  # keep the broken file below
        with open(b.config_path, "w") as f:
            f.write('{"ociVersion": "1.0.2", "process": {"args": ["true"]')
        self.failed_create(b, "config.json")

    def test_config_with_wrong_field_type(self):
        b = self.make_bundle(["true"])
        b.process["args"] = "true"  # must be an array
        self.failed_create(b, "process.args")

    def test_missing_bundle_directory(self):
        missing = os.path.join(self.tmp, "no-such-bundle")
        cid = self.unique_id()
        self.container_ids.append(cid)
        r = self.rt_detached("create", "--bundle", missing, cid)
        self.assert_error(r, missing, runc_fragments=[missing])
        self.assert_nothing_left(cid)

    def test_missing_config_json(self):
        b = self.make_bundle(["true"])
        os.unlink(b.config_path)
        b.save = lambda: None
        self.failed_create(b, "config.json", runc_fragments=["config.json"])

    def test_missing_rootfs(self):
        b = self.make_bundle(["true"])
        shutil.rmtree(b.rootfs)
        self.failed_create(b, b.rootfs, runc_fragments=[b.rootfs])

    def test_unknown_container_id(self):
        for cmd in (["state"], ["start"], ["kill"], ["delete"], ["pause"], ["resume"], ["ps"],
                    ["exec", "--", "nope-id", "true"], ["update", "--pids-limit", "5"]):
            with self.subTest(cmd=cmd[0]):
                args = cmd if "nope-id" in cmd else cmd + ["nope-id"]
                r = self.rt(*args)
                self.assert_error(r, "container does not exist",
                                  runc_fragments=["container does not exist"])
        self.assertFalse(os.path.exists(os.path.join(self.root, "nope-id")))

    def test_duplicate_container_id(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create(b)
        pid = self.state(cid)["pid"]
        other = self.make_bundle(["sleep", "30"])
        _, r = self.create(other, cid, check=False)
        self.assert_error(r, "already exists", runc_fragments=["already exists"])
        # The first container is untouched; the second left nothing.
        st = self.state(cid)
        self.assertEqual((st["status"], st["pid"], st["bundle"]), ("created", pid, b.path))
        self.assertEqual(os.listdir(self.root), [cid])
        self.assertFalse([l for l in mountinfo_lines() if other.path in l])

    def test_invalid_container_id(self):
        b = self.make_bundle(["true"])
        for bad in ("../escape", "a/b", ".."):
            with self.subTest(id=bad):
                cid, r = self.create(b, bad, check=False)
                self.container_ids.remove(bad)
                self.assert_error(r, "invalid container ID format",
                                  runc_fragments=["invalid container ID format"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escape")))

    def test_unknown_namespace_type(self):
        b = self.make_bundle(["true"])
        b.linux["namespaces"].append({"type": "bogus"})
        self.failed_create(b, "linux.namespaces", "bogus", runc_fragments=["bogus"])

    def test_unsupported_feature_intel_rdt(self):
        if os.path.isdir("/sys/fs/resctrl/info"):
            self.skipTest("host has resctrl: Intel RDT is supported here")
        b = self.make_bundle(["true"])
        b.linux["intelRdt"] = {"closID": "berth", "l3CacheSchema": "L3:0=f"}
        self.failed_create(b, "linux.intelRdt", runc_fragments=["intelRdt"])

    def test_failing_prestart_hook(self):
        b = self.make_bundle(["true"])
        hook = self.write_script(os.path.join(self.tmp, "fail.sh"), "#!/bin/sh\nexit 1\n")
        b.config["hooks"] = {"prestart": [{"path": hook}]}
        self.failed_create(b, "prestart")

    def test_invalid_rlimit_type(self):
        b = self.make_bundle(["true"])
        b.process["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
        self.failed_create(b, "process.rlimits", "RLIMIT_BOGUS",
                           runc_fragments=["RLIMIT_BOGUS"])

    def test_empty_args(self):
        b = self.make_bundle(["true"])
        b.process["args"] = []
        self.failed_create(b, "process.args", runc_fragments=["args must not be empty"])

    def test_relative_cwd(self):
        b = self.make_bundle(["true"])
        b.process["cwd"] = "tmp"
        self.failed_create(b, "process.cwd", runc_fragments=["Cwd must be an absolute path"])

    def test_missing_bind_mount_source(self):
        b = self.make_bundle(["true"])
        src = os.path.join(self.tmp, "no-such-source")
        b.add_mount("/x", "bind", src, ["rbind"])
        self.failed_create(b, src, runc_fragments=[src])

    def test_executable_not_found(self):
        b = self.make_bundle(["/no/such/binary"])
        self.failed_create(b, "/no/such/binary", runc_fragments=["/no/such/binary"])

    def test_invalid_signal(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(b)
        for sig in ("SIGBOGUS", "BOGUS", "99"):
            with self.subTest(signal=sig):
                r = self.rt("kill", cid, sig)
                frag = ["unknown signal"] if not sig.lstrip("-").isdigit() else []
                self.assert_error(r, *(frag or ["signal"]), runc_fragments=frag)
        self.assertEqual(self.status(cid), "running")

    def test_start_twice_and_delete_running(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(b)
        self.assert_error(self.rt("start", cid), "cannot start an already running container",
                          runc_fragments=["cannot start an already running container"])
        self.assert_error(self.rt("delete", cid), "is not stopped",
                          runc_fragments=["not stopped"])
        self.assertEqual(self.status(cid), "running")

    def test_start_of_stopped_container(self):
        b = self.make_bundle(["true"])
        cid, _ = self.create_running(b)
        self.wait_status(cid, "stopped")
        self.assert_error(self.rt("start", cid), "cannot start a container that has stopped",
                          runc_fragments=["cannot start a container that has stopped"])

    def test_bad_update_resources_json(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(b)
        r = self.rt("update", "--resources", "-", cid, input="{not json")
        self.assert_error(r, "resources")
        r = self.rt("update", "--resources", os.path.join(self.tmp, "missing.json"), cid)
        self.assert_error(r, "missing.json", runc_fragments=["missing.json"])
        self.assertEqual(self.status(cid), "running")

    def test_detached_terminal_without_console_socket(self):
        b = self.make_bundle(["sh"])
        b.process["terminal"] = True
        b.save()
        cid = self.unique_id()
        self.container_ids.append(cid)
        r = self.rt_detached("create", "--bundle", b.path, cid)
        self.assert_error(r, "console", runc_fragments=["console socket"])
        self.assert_nothing_left(cid, b)

    def test_unknown_command_and_flag(self):
        r = self.rt("frobnicate")
        self.assertNotEqual(r.rc, 0)
        r = self.rt("state", "--no-such-flag", "x")
        self.assertNotEqual(r.rc, 0)
        self.assertIn("no-such-flag", r.err)

    def test_state_file_is_json_even_after_failed_calls(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create(b)
        self.rt("kill", cid, "BOGUS")
        self.rt("start", "nope-id")
        self.assertEqual(json.loads(self.rt("state", cid).out)["status"], "created")


if __name__ == "__main__":
    main()
