"""Seccomp in berthd containers, driven by the real docker CLI: docker's default profile applies
unless --privileged or --security-opt seccomp=unconfined, capabilities unlock what the profile
ties to them, --security-opt seccomp=<file> loads that profile, and a bad one is refused at create.

The probe is `unshare -U true`: creating a user namespace needs no capability, so only seccomp
can refuse it (docker's profile allows unshare only with CAP_SYS_ADMIN); busybox then prints
"Operation not permitted".
"""

import http.client
import json
import os
import socket
import unittest

from engine_lib import DaemonTestCase


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.path)


class SeccompTest(DaemonTestCase):
    def run_sh(self, *opts, script):
        return self.d.docker("run", "--rm", *opts, "busybox", "sh", "-c", script)

    def write_profile(self, name, profile):
        path = os.path.join(self.d.dir, name)
        with open(path, "w") as f:
            json.dump(profile, f)
        return path

    def test_default_profile_is_applied(self):
        out = self.docker_ok("run", "--rm", "busybox", "grep", "^Seccomp:", "/proc/self/status")
        self.assertEqual(out.split(), ["Seccomp:", "2"])
        # docker exec'd processes run under the container's filter too.
        self.docker_ok("run", "-d", "--name", "sc-exec", "busybox", "sleep", "600")
        try:
            out = self.docker_ok("exec", "sc-exec", "grep", "^Seccomp:", "/proc/self/status")
            self.assertEqual(out.split(), ["Seccomp:", "2"])
        finally:
            self.d.docker("rm", "-f", "sc-exec")

    def test_default_profile_refuses_unshare_with_eperm(self):
        r = self.run_sh(script="unshare -U true")
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("Operation not permitted", r.stderr)
        # Allowed syscalls still work: the filter is an allowlist, not a wall.
        out = self.docker_ok("run", "--rm", "busybox", "sh", "-c", "mkdir /tmp/d && echo ok")
        self.assertEqual(out, "ok\n")

    def test_privileged_and_unconfined_run_without_filter(self):
        for opts in (["--privileged"], ["--security-opt", "seccomp=unconfined"]):
            r = self.run_sh(*opts, script="grep ^Seccomp: /proc/self/status && unshare -U true "
                                          "&& echo unshared")
            self.assertEqual(r.returncode, 0, f"{opts}: {r.stderr}")
            self.assertEqual(r.stdout.split(), ["Seccomp:", "0", "unshared"], opts)

    def test_cap_sys_admin_unlocks_unshare(self):
        r = self.run_sh("--cap-add", "SYS_ADMIN", script="grep ^Seccomp: /proc/self/status && "
                                                          "unshare -U true && echo unshared")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["Seccomp:", "2", "unshared"])

    def test_custom_profile_from_file(self):
        # Docker's format: the CLI reads the file and sends its JSON in HostConfig.SecurityOpt.
        path = self.write_profile("deny-mkdir.json", {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 13}]})
        r = self.run_sh("--security-opt", f"seccomp={path}", script="mkdir /tmp/d")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stderr)
        # The rest is allowed by that profile, unshare included.
        r = self.run_sh("--security-opt", f"seccomp={path}", script="unshare -U true && echo ok")
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)

    def test_bad_profile_is_refused_at_create_naming_the_field(self):
        path = self.write_profile("bad.json", {
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["write"], "action": "SCMP_ACT_SOMETIMES"}]})
        r = self.d.docker("run", "--rm", "--security-opt", f"seccomp={path}", "busybox", "true")
        self.assertEqual(r.returncode, 125, r.stderr)
        self.assertIn("syscalls[1].action", r.stderr)
        self.assertEqual(self.docker_ok("ps", "-aq").strip(), "", "no container left behind")
        # The API answers 400.
        body = json.dumps({"Image": "busybox", "Cmd": ["true"],
                           "HostConfig": {"SecurityOpt": ["seccomp={\"defaultAction\": 5}"]}})
        conn = UnixHTTPConnection(self.d.sock)
        try:
            conn.request("POST", "/v1.41/containers/create", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            message = json.loads(resp.read())["message"]
        finally:
            conn.close()
        self.assertEqual(resp.status, 400, message)
        self.assertIn("defaultAction", message)

    def test_info_lists_the_builtin_profile(self):
        out = self.docker_ok("info", "--format", "{{json .SecurityOptions}}")
        self.assertIn("name=seccomp,profile=builtin", json.loads(out))


if __name__ == "__main__":
    unittest.main()
