#!/usr/bin/env python3
"""OCI hooks: all six run, in order, each with the container state JSON on stdin, with their
args and env; a failing or hung prestart/createRuntime hook fails create and leaves nothing
behind; a failing poststop hook only warns."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (IS_RUNC, RuntimeTestCase, existing_cgroup_dirs, main,  # noqa: E402
                           read_file, wait_for)

ALL_HOOKS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
             "poststop"]
# Hooks that run in the runtime's namespaces (the others run in the container's).
HOST_HOOKS = ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]


def spec_order(names):
    """names with runc 1.1.5's misplaced poststart removed (it runs poststart hooks during
    create, before the process is started; fixed in runc 1.2). Unchanged for berth."""
    if IS_RUNC and "poststart" in names:
        return [n for n in names if n != "poststart"] + ["(poststart)"]
    return names


class HooksTest(RuntimeTestCase):

    def setUp(self):
        super().setUp()
        self.log_dir = os.path.join(self.tmp, "hooklog")
        os.mkdir(self.log_dir)
        self.log = os.path.join(self.log_dir, "log")

    def hook_script(self, name, body=None):
        """A host hook that appends `<name> <args> HOOKVAR=<v> <stdin>` as one log line."""
        # One write per line: the container may append to the same log at the same time.
        body = body or (f'line="$(printf "%s %s HOOKVAR=%s " {name} "$*" "$HOOKVAR")$(cat)"\n'
                        f'printf "%s\\n" "$line" >> {self.log}\n')
        return self.write_script(os.path.join(self.tmp, f"{name}.sh"), "#!/bin/sh\n" + body)

    def bundle_with_hooks(self, args, failing=None, hooks=ALL_HOOKS):
        b = self.make_bundle(args)
        # startContainer runs inside the container: its script lives in the rootfs and logs
        # through a bind mount of the host log directory.
        os.mkdir(os.path.join(b.rootfs, "hooklog"))
        b.add_mount("/hooklog", "bind", self.log_dir, ["rbind", "rw"])
        self.write_script(os.path.join(b.rootfs, "start-hook.sh"),
                          '#!/bin/sh\nline="$(printf "%s %s HOOKVAR=%s " startContainer "$*" '
                          '"$HOOKVAR")$(cat)"\nprintf "%s\\n" "$line" >> /hooklog/log\n')
        b.config["hooks"] = {}
        for name in hooks:
            path = "/start-hook.sh" if name == "startContainer" else self.hook_script(name)
            hook = {"path": path, "args": [path, "arg1", name], "env": [f"HOOKVAR={name}"]}
            if name == failing:
                hook = {"path": self.hook_script(name + "-fail", "cat >/dev/null; exit 3\n")}
            b.config["hooks"][name] = [hook]
        return b

    def entries(self):
        """[(hook name, args text, HOOKVAR, state dict)] in log order."""
        result = []
        for line in read_file(self.log, "").splitlines():
            head, sep, state = line.partition(" {")
            if not sep:
                continue  # a line the container wrote
            name, *rest = head.split(" ")
            var = rest[-1].split("=", 1)[1] if rest and rest[-1].startswith("HOOKVAR=") else ""
            result.append((name, " ".join(rest[:-1]), var, json.loads("{" + state)))
        return result

    def test_hooks_run_in_order_with_state_on_stdin(self):
        b = self.bundle_with_hooks(["sh", "-c", "echo ran >> /hooklog/log"])
        cid, _ = self.create(b)
        pid = self.state(cid)["pid"]
        self.assertEqual(spec_order([e[0] for e in self.entries()]),
                         spec_order(["prestart", "createRuntime", "createContainer"]
                                    + (["poststart"] if IS_RUNC else [])))
        self.start(cid)
        self.wait_status(cid, "stopped")
        self.delete(cid)
        lines = read_file(self.log).splitlines()
        # The container process runs between startContainer and (at the latest) poststop.
        names = [l.split(" ")[0] for l in lines]
        self.assertEqual(spec_order([n for n in names if n != "ran"]), spec_order(ALL_HOOKS))
        self.assertLess(names.index("startContainer"), names.index("ran"))

        entries = self.entries()
        for name, args, var, state in entries:
            with self.subTest(hook=name):
                self.assertEqual(args, f"arg1 {name}")
                self.assertEqual(var, name)
                self.assertEqual(state["id"], cid)
                self.assertEqual(state["bundle"], b.path)
                self.assertIn("ociVersion", state)
                if name in ("createContainer", "startContainer"):
                    # Run inside the container's pid namespace: runc reports pid 1 there.
                    self.assertIn(state["pid"], (pid, 1))
                elif name != "poststop":
                    self.assertEqual(state["pid"], pid)
        status = {name: state["status"] for name, _, _, state in entries}
        self.assertEqual(status["prestart"], "creating")
        self.assertEqual(status["createRuntime"], "creating")
        self.assertEqual(status["createContainer"], "creating")
        self.assertEqual(status["startContainer"], "created")
        if not IS_RUNC:  # runc 1.1.5 runs poststart during create and reports "created"
            self.assertEqual(status["poststart"], "running")
        self.assertEqual(status["poststop"], "stopped")

    def test_hooks_run_for_run_command(self):
        b = self.bundle_with_hooks(["true"])
        self.assert_ok(self.run_container(b))
        self.assertEqual(spec_order([e[0] for e in self.entries()]), spec_order(ALL_HOOKS))

    def test_failing_prestart_hook_fails_create_and_leaves_nothing(self):
        for hook in ("prestart", "createRuntime", "createContainer"):
            with self.subTest(hook=hook):
                b = self.bundle_with_hooks(["true"], failing=hook,
                                           hooks=["prestart", "createRuntime",
                                                  "createContainer"])
                cid, r = self.create(b, check=False)
                self.assert_error(r, hook)
                self.assert_nothing_left(cid, b)

    def test_hung_hook_times_out(self):
        b = self.make_bundle(["true"])
        hook = self.hook_script("slow", "exec sleep 20\n")
        b.config["hooks"] = {"createRuntime": [{"path": hook, "timeout": 1}]}
        t0 = time.monotonic()
        cid, r = self.create(b, check=False)
        self.assertLess(time.monotonic() - t0, 10, "hook timeout not enforced")
        self.assert_error(r, "createRuntime", "timed out")
        self.assert_nothing_left(cid, b)

    def test_failing_poststop_hook_does_not_fail_delete(self):
        b = self.bundle_with_hooks(["true"], failing="poststop",
                                   hooks=["poststart", "poststop"])
        cid, _ = self.create_running(b)
        self.wait_status(cid, "stopped")
        self.delete(cid)
        self.assert_nothing_left(cid, b)

    def test_prestart_hook_sees_container_namespaces(self):
        # A prestart hook can configure the container's network namespace via its pid.
        b = self.make_bundle(["sleep", "30"])
        out = os.path.join(self.tmp, "ns")
        hook = self.hook_script("ns", "pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/')\n"
                                      f"readlink /proc/$pid/ns/net > {out}\n")
        b.config["hooks"] = {"prestart": [{"path": hook}]}
        cid, _ = self.create(b)
        pid = self.state(cid)["pid"]
        wait_for(lambda: read_file(out, ""), what="hook output")
        self.assertEqual(read_file(out).strip(), os.readlink(f"/proc/{pid}/ns/net"))
        self.assertNotEqual(read_file(out).strip(), os.readlink("/proc/self/ns/net"))
        self.assertTrue(existing_cgroup_dirs(b.cgroups_path))


if __name__ == "__main__":
    main()
