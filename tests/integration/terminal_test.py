#!/usr/bin/env python3
"""process.terminal with --console-socket: the runtime sends the pty master over SCM_RIGHTS,
the container sees a controlling tty at /dev/pts/0 of its own devpts, input and output flow
through the master, consoleSize applies, and `exec -t` gets its own pty."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from berth_testlib import (ConsoleSocket, RuntimeTestCase, main, read_until)  # noqa: E402


class TerminalTest(RuntimeTestCase):

    def console(self, name="console.sock"):
        c = ConsoleSocket(os.path.join(self.tmp, name))
        self.addCleanup(c.close)
        return c

    def terminal_bundle(self, args):
        b = self.make_bundle(args)
        b.process["terminal"] = True
        return b

    def test_console_socket_delivers_working_pty(self):
        b = self.terminal_bundle(["sh", "-c", "tty; read line; echo got:$line; "
                                              "ls -l /proc/self/fd/0"])
        con = self.console()
        cid, r = self.create(b, extra=("--console-socket", con.path))
        master = con.wait_master()
        self.start(cid)
        out = read_until(master, b"/dev/pts/0")
        self.assertIn(b"/dev/pts/0\r\n", out)
        os.write(master, b"hello\n")
        out = read_until(master, b"-> /dev/pts/0")
        self.assertIn(b"got:hello", out)
        self.wait_status(cid, "stopped")
        self.assertNotIn("got:hello", r.read_out(), "output must go to the pty, not stdout")

    def test_console_socket_payload_and_master_is_a_tty(self):
        b = self.terminal_bundle(["sleep", "30"])
        con = self.console()
        self.create(b, extra=("--console-socket", con.path))
        master = con.wait_master()
        self.assertTrue(os.isatty(master))
        # The master is a ptmx fd of the container's devpts instance (/dev/pts/ptmx there).
        self.assertTrue(os.readlink(f"/proc/self/fd/{master}").endswith("ptmx"))
        self.assertTrue(con.name, "runc sends the file name as the message payload")

    def test_console_size_is_applied(self):
        b = self.terminal_bundle(["stty", "size"])
        b.process["consoleSize"] = {"height": 31, "width": 101}
        con = self.console()
        cid, _ = self.create(b, extra=("--console-socket", con.path))
        master = con.wait_master()
        self.start(cid)
        self.assertIn(b"31 101", read_until(master, b"31 101"))

    def test_terminal_has_controlling_tty_and_session(self):
        # A process with a controlling terminal can open /dev/tty.
        b = self.terminal_bundle(["sh", "-c", "echo via-dev-tty > /dev/tty"])
        con = self.console()
        cid, _ = self.create(b, extra=("--console-socket", con.path))
        master = con.wait_master()
        self.start(cid)
        read_until(master, b"via-dev-tty")

    def test_run_detached_with_terminal(self):
        b = self.terminal_bundle(["sh", "-c", "tty; sleep 30"])
        con = self.console()
        cid, r = self.run_detached(b, extra=("--console-socket", con.path))
        self.assert_ok(r)
        read_until(con.wait_master(), b"/dev/pts/0")
        self.assertEqual(self.status(cid), "running")

    def test_exec_with_tty_gets_its_own_pty(self):
        b = self.make_bundle(["sleep", "30"])
        cid, _ = self.create_running(b)
        con = self.console("exec.sock")
        r = self.rt_detached("exec", "-t", "-d", "--console-socket", con.path, cid,
                             "sh", "-c", "tty; echo exec-out")
        self.assert_ok(r)
        out = read_until(con.wait_master(), b"exec-out")
        self.assertRegex(out.decode(), r"/dev/pts/\d+")


if __name__ == "__main__":
    main()
