"""Shared pieces of the interop tests (real podman and dockerd driving the runtime).

Each test class works in one temporary directory: a busybox rootfs tarball to import, a
wrapper script that records every runtime call (so a test can prove the engine really used
$BERTH_RUNTIME) and the engine's own state. cleanup() kills whatever still mentions that
directory, removes the class's cgroup parent in every hierarchy, unmounts and deletes it.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from berth_testlib import (BUNDLE_SCRIPT, IS_RUNC, RUNTIME, _libc, MNT_DETACH,  # noqa: E402,F401
                           cgroup_mounts, existing_cgroup_dirs, mounts_under, pids_mentioning,
                           read_file, remove_cgroup_tree, wait_for)

IMAGE = "localhost/busybox:test"


class Workspace:
    """Temporary directory, runtime wrapper, rootfs tarball and cgroup parent of one class."""

    def __init__(self, prefix, wrapper_sets_root=False):
        if os.geteuid() != 0:
            raise unittest.SkipTest("interop tests need root")
        if not RUNTIME or not os.access(RUNTIME, os.X_OK):
            raise unittest.SkipTest(f"runtime binary not found: {RUNTIME!r} (set BERTH_RUNTIME)")
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        self.cgroup_parent = f"/berth-interop-{uuid.uuid4().hex[:12]}"
        self.calls_log = os.path.join(self.dir, "runtime-calls.log")
        self.wrapper = os.path.join(self.dir, "runtime-wrapper")
        # wrapper_sets_root: the wrapper adds --root <dir>/runtime-root when the caller
        # passes no --root of its own.
        self.runtime_root = os.path.join(self.dir, "runtime-root")
        root_args = ""
        if wrapper_sets_root:
            root_args = (f'case "$1" in --root|--root=*) ;; '
                         f'*) set -- --root {self.runtime_root} "$@" ;; esac\n')
        with open(self.wrapper, "w") as f:
            f.write(f'#!/bin/sh\n{root_args}echo "$*" >> {self.calls_log}\n'
                    f'exec {RUNTIME} "$@"\n')
        os.chmod(self.wrapper, 0o755)
        self._restore = []  # callables undoing changes outside self.dir

    def rootfs_tar(self):
        rootfs_parent = os.path.join(self.dir, "image")
        subprocess.run([BUNDLE_SCRIPT, "--no-config", "--hardlink", rootfs_parent], check=True)
        tar = os.path.join(self.dir, "rootfs.tar")
        subprocess.run(["tar", "-C", os.path.join(rootfs_parent, "rootfs"), "-cf", tar, "."],
                       check=True)
        shutil.rmtree(rootfs_parent)
        return tar

    def remove_if_created(self, path):
        """Registers path for removal at cleanup if it does not exist now (global state an
        engine insists on creating, e.g. podman's blob-info cache)."""
        if not os.path.lexists(path):
            self._restore.append(lambda: shutil.rmtree(path, ignore_errors=True))

    def runtime_calls(self):
        try:
            with open(self.calls_log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def runtime_verbs(self, container_id):
        """The runtime subcommands an engine ran for one container, in order."""
        verbs = []
        for line in self.runtime_calls():
            words = line.split()
            if container_id not in words:
                continue
            for w in words:
                if w in ("create", "start", "exec", "kill", "delete", "pause", "resume",
                         "state", "update", "ps"):
                    verbs.append(w)
                    break
        return verbs

    def kill_leftovers(self, grace=0.0):
        pids = pids_mentioning(self.dir)
        if grace and pids:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and pids_mentioning(self.dir):
                time.sleep(0.1)
        for _ in range(3):
            for pid in pids_mentioning(self.dir):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    def cleanup(self):
        self.kill_leftovers()
        for mnt, _, _ in cgroup_mounts():
            remove_cgroup_tree(os.path.join(mnt, self.cgroup_parent.lstrip("/")))
        for point in mounts_under(self.dir):
            _libc.umount2(point.encode(), MNT_DETACH)
        shutil.rmtree(self.dir, ignore_errors=True)
        for undo in self._restore:
            undo()


def run(argv, *, input=None, timeout=60, env=None):
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p


def describe(p):
    return f"$ {' '.join(p.args)}\nexit {p.returncode}\nstdout: {p.stdout!r}\nstderr: {p.stderr!r}"
