"""Helpers for the berth-runtime integration tests (stdlib only, root).

Every test gets its own temporary directory holding the runtime's --root, its bundles and
captured output, and its own cgroup parent (/berth-test-<uuid>); tearDown deletes every
container, kills what is left in those cgroups, removes the cgroups in every hierarchy,
unmounts anything under the temporary directory and removes it, even when the test failed.

The runtime binary comes from $BERTH_RUNTIME, so `BERTH_RUNTIME=$(which runc)` runs the same
tests against runc, the reference. Checks runc 1.1.5 legitimately cannot pass are marked with
`skip_for_runc` (whole test) or `if not IS_RUNC:` (one assertion), always with the reason.
"""

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("BERTH_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUNDLE_SCRIPT = os.path.join(SOURCE_DIR, "scripts", "make-busybox-bundle.sh")
RUNTIME = os.environ.get("BERTH_RUNTIME") or shutil.which("runc") or ""
# The reference implementation is recognised by name; BERTH_RUNTIME_IS_RUNC=1 forces it.
IS_RUNC = (os.path.basename(os.path.realpath(RUNTIME)) == "runc"
           or os.environ.get("BERTH_RUNTIME_IS_RUNC") == "1")

CGROUP_ROOT = "/sys/fs/cgroup"
_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2


def skip_for_runc(reason):
    """Skips a whole test for runc, which lacks the feature (reason says which)."""
    return unittest.skipIf(IS_RUNC, "runc cannot: " + reason)


def wait_for(predicate, timeout=5.0, interval=0.01, what="condition"):
    """Polls predicate until it returns a truthy value; fails with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---- cgroups -----------------------------------------------------------------------------

def cgroup_mounts():
    """Returns [(mountpoint, version, controllers)] for every cgroup hierarchy on the host."""
    result = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, post_fields = pre.split(), post.split()
            fstype, mnt = post_fields[0], fields[4]
            if fstype == "cgroup2":
                try:
                    with open(os.path.join(mnt, "cgroup.controllers")) as c:
                        ctrls = set(c.read().split())
                except OSError:
                    ctrls = set()
                result.append((mnt, 2, ctrls))
            elif fstype == "cgroup":
                opts = set(post_fields[2].split(","))
                ctrls = {o for o in opts if o not in ("rw", "ro", "relatime", "noatime",
                                                       "nosuid", "nodev", "noexec",
                                                       "clone_children")}
                result.append((mnt, 1, ctrls))
    return result


def cgroup_dir(controller, cgroups_path):
    """Host directory and version (1 or 2) holding `controller` for a container cgroup."""
    v2_dir = None
    for mnt, version, ctrls in cgroup_mounts():
        if version == 1 and controller in ctrls:
            return os.path.join(mnt, cgroups_path.lstrip("/")), 1
        if version == 2 and controller in ctrls:
            v2_dir = os.path.join(mnt, cgroups_path.lstrip("/"))
    if v2_dir is None:
        raise unittest.SkipTest(f"no cgroup hierarchy with the {controller} controller")
    return v2_dir, 2


def existing_cgroup_dirs(cgroups_path):
    """Every hierarchy's directory for cgroups_path that exists on the host."""
    dirs = []
    for mnt, _, _ in cgroup_mounts():
        d = os.path.join(mnt, cgroups_path.lstrip("/"))
        if os.path.isdir(d):
            dirs.append(d)
    return dirs


def read_file(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        if default is not None:
            return default
        raise


def _cgroup_pids(d):
    text = read_file(os.path.join(d, "cgroup.procs"), "")
    return [int(p) for p in text.split()]


def remove_cgroup_tree(top):
    """Thaws, kills everything in and removes a cgroup directory tree (bottom-up)."""
    if not os.path.isdir(top):
        return
    for dirpath, _, _ in sorted(os.walk(top), key=lambda e: -e[0].count("/")):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            try:
                with open(os.path.join(dirpath, name), "w") as f:
                    f.write(value)
            except OSError:
                pass
        for _ in range(200):
            pids = _cgroup_pids(dirpath)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        for _ in range(100):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


# ---- mounts and processes ----------------------------------------------------------------

def mountinfo_lines():
    with open("/proc/self/mountinfo") as f:
        return f.read().splitlines()


def mounts_under(path):
    """Mount points on the host at or below path (deepest first)."""
    points = []
    for line in mountinfo_lines():
        mnt = line.split()[4].replace("\\040", " ")
        if mnt == path or mnt.startswith(path.rstrip("/") + "/"):
            points.append(mnt)
    return sorted(points, key=len, reverse=True)


def process_alive(pid):
    """True if pid exists and is not a zombie."""
    stat = read_file(f"/proc/{pid}/stat", "")
    if not stat:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def pids_inside(path):
    """Host processes whose cwd or root is at or below path (e.g. a stuck runtime child)."""
    pids = []
    prefix = path.rstrip("/") + "/"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        for link in ("cwd", "root"):
            try:
                target = os.readlink(f"/proc/{entry}/{link}")
            except OSError:
                continue
            if (target == path or target.startswith(prefix)) and process_alive(int(entry)):
                pids.append(int(entry))
                break
    return pids


def pids_mentioning(text):
    """Host processes whose command line contains text (stuck runtime calls, hooks)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        cmdline = read_file(f"/proc/{entry}/cmdline", "")
        if text in cmdline.replace("\0", " "):
            pids.append(int(entry))
    return pids


# ---- runtime calls -----------------------------------------------------------------------

class Result:
    """Outcome of one runtime call: exit code and captured output."""

    def __init__(self, argv, rc, out, err, out_path=None, err_path=None):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err
        self.out_path, self.err_path = out_path, err_path

    def read_out(self):
        """Current contents of a detached call's stdout file (container output lands here)."""
        return read_file(self.out_path, "")

    def read_err(self):
        return read_file(self.err_path, "")

    def __repr__(self):
        return (f"$ {' '.join(self.argv)}\nexit {self.rc}\nstdout: {self.out!r}\n"
                f"stderr: {self.err!r}")


class Bundle:
    """An OCI bundle on disk; edit .config and the runtime helpers save it before use."""

    def __init__(self, path):
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.config_path = os.path.join(path, "config.json")
        with open(self.config_path) as f:
            self.config = json.load(f)

    @property
    def linux(self):
        return self.config.setdefault("linux", {})

    @property
    def process(self):
        return self.config.setdefault("process", {})

    @property
    def cgroups_path(self):
        return self.linux.get("cgroupsPath", "")

    def resources(self):
        return self.linux.setdefault("resources", {})

    def add_namespace(self, ns_type, path=None):
        entry = {"type": ns_type}
        if path:
            entry["path"] = path
        self.linux["namespaces"] = [n for n in self.linux.get("namespaces", [])
                                    if n["type"] != ns_type] + [entry]

    def remove_namespace(self, ns_type):
        self.linux["namespaces"] = [n for n in self.linux.get("namespaces", [])
                                    if n["type"] != ns_type]

    def add_mount(self, destination, mtype, source, options=None):
        m = {"destination": destination, "type": mtype, "source": source}
        if options is not None:
            m["options"] = options
        self.config.setdefault("mounts", []).append(m)

    def set_caps(self, caps, ambient=True):
        sets = {k: list(caps) for k in ("bounding", "effective", "permitted")}
        if ambient:
            sets["ambient"] = list(caps)
            sets["inheritable"] = list(caps)
        self.process["capabilities"] = sets

    def save(self):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.config, f, indent=1)
        os.rename(tmp, self.config_path)


class RuntimeTestCase(unittest.TestCase):
    """Base class: a private --root, bundles, cgroup parent and full cleanup per test."""

    # Most checks finish in well under a second; a stuck runtime must not hang the suite.
    CALL_TIMEOUT = 30

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("integration tests need root")
        if not RUNTIME or not os.access(RUNTIME, os.X_OK):
            self.skipTest(f"runtime binary not found: {RUNTIME!r} (set BERTH_RUNTIME)")
        if not os.access(BUNDLE_SCRIPT, os.X_OK):
            self.skipTest(f"{BUNDLE_SCRIPT} missing")
        self.tmp = tempfile.mkdtemp(prefix="berth-it-")
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "root")
        self.cgroup_parent = f"/berth-test-{uuid.uuid4().hex[:12]}"
        self.container_ids = []
        self._counter = 0
        self._fds = []
        self.addCleanup(self._cleanup)

    # ---- cleanup ----

    def _cleanup(self):
        ids = set(self.container_ids)
        if os.path.isdir(self.root):
            r = self._call(["list", "-q"], timeout=10)
            ids.update(r.out.split())
        for cid in sorted(ids):
            self._call(["delete", "--force", cid], timeout=10)
        for pid in pids_mentioning(self.tmp):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for mnt, _, _ in cgroup_mounts():
            remove_cgroup_tree(os.path.join(mnt, self.cgroup_parent.lstrip("/")))
        for point in mounts_under(self.tmp):
            _libc.umount2(point.encode(), MNT_DETACH)
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- names and bundles ----

    def unique_id(self, prefix="c"):
        self._counter += 1
        return f"{prefix}-{uuid.uuid4().hex[:10]}-{self._counter}"

    def make_bundle(self, args=None, *, writable=False, name=None, userns=None):
        """A busybox bundle whose linux.cgroupsPath is unique below the test's cgroup parent.

        writable: root.readonly=false. userns: (host_uid, size) to add a user namespace mapping
        container 0 to host_uid and chown the rootfs to it.
        """
        self._counter += 1
        path = os.path.join(self.tmp, name or f"bundle{self._counter}")
        cmd = [BUNDLE_SCRIPT, path] + list(args or ["sh"])
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        b = Bundle(path)
        b.linux["cgroupsPath"] = f"{self.cgroup_parent}/{os.path.basename(path)}"
        b.config["root"]["readonly"] = not writable
        if userns:
            host, size = userns
            b.add_namespace("user")
            b.linux["uidMappings"] = [{"containerID": 0, "hostID": host, "size": size}]
            b.linux["gidMappings"] = [{"containerID": 0, "hostID": host, "size": size}]
            self.chown_tree(b.rootfs, host)
        b.save()
        return b

    @staticmethod
    def chown_tree(top, offset):
        """Shifts every uid/gid in a tree by offset (what a userns-mapped rootfs needs)."""
        for dirpath, dirnames, filenames in os.walk(top):
            for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
                st = os.lstat(name)
                os.lchown(name, st.st_uid + offset, st.st_gid + offset)

    def write_script(self, path, body, mode=0o755):
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, mode)
        return path

    # ---- runtime invocations ----

    def _call(self, args, *, input=None, timeout=None, pass_fds=(), stdin=None, global_args=()):
        argv = [RUNTIME, "--root", self.root, *global_args, *args]
        try:
            p = subprocess.run(argv, input=input, capture_output=True, text=True,
                               timeout=timeout or self.CALL_TIMEOUT, pass_fds=pass_fds,
                               stdin=stdin if input is None else None)
            return Result(argv, p.returncode, p.stdout, p.stderr)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            return Result(argv, -1, out, err + f"\n[harness: timed out after {e.timeout}s]")

    def rt(self, *args, input=None, timeout=None, pass_fds=(), global_args=()):
        """Runs the runtime with pipes; for calls that leave no process holding them."""
        return self._call(list(args), input=input, timeout=timeout, pass_fds=pass_fds,
                          global_args=global_args)

    def rt_detached(self, *args, timeout=None, pass_fds=(), stdin_path=None):
        """Runs a call that leaves a container process behind (create, run -d, exec -d).

        Its stdout/stderr go to files (a pipe would be held open by the container); the files
        keep collecting the container's output, see Result.read_out().
        """
        self._counter += 1
        out_path = os.path.join(self.tmp, f"io{self._counter}.out")
        err_path = os.path.join(self.tmp, f"io{self._counter}.err")
        argv = [RUNTIME, "--root", self.root, *args]
        with open(out_path, "w") as out, open(err_path, "w") as err, \
                open(stdin_path or os.devnull) as stdin:
            try:
                p = subprocess.run(argv, stdin=stdin, stdout=out, stderr=err,
                                   timeout=timeout or self.CALL_TIMEOUT, pass_fds=pass_fds)
                rc = p.returncode
            except subprocess.TimeoutExpired:
                rc = -1
        return Result(argv, rc, read_file(out_path, ""), read_file(err_path, ""),
                      out_path, err_path)

    def run_container(self, bundle, cid=None, *, input=None, timeout=None, extra=()):
        """Foreground `run`: returns the Result with the container's exit code and output."""
        bundle.save()
        cid = cid or self.unique_id()
        self.container_ids.append(cid)
        return self.rt("run", *extra, "--bundle", bundle.path, cid, input=input,
                       timeout=timeout)

    def run_detached(self, bundle, cid=None, *, extra=()):
        """`run -d`; returns (cid, Result) whose files collect the container's output."""
        bundle.save()
        cid = cid or self.unique_id()
        self.container_ids.append(cid)
        return cid, self.rt_detached("run", "-d", *extra, "--bundle", bundle.path, cid)

    def create(self, bundle, cid=None, *, extra=(), check=True, pass_fds=()):
        """`create`; with check, asserts success and returns (cid, Result)."""
        bundle.save()
        cid = cid or self.unique_id()
        self.container_ids.append(cid)
        r = self.rt_detached("create", *extra, "--bundle", bundle.path, cid, pass_fds=pass_fds)
        if check:
            self.assertEqual(r.rc, 0, f"create failed:\n{r}")
        return cid, r

    def start(self, cid):
        r = self.rt("start", cid)
        self.assertEqual(r.rc, 0, f"start failed:\n{r}")
        return r

    def create_running(self, bundle, cid=None, extra=()):
        """create + start; returns (cid, create Result) whose files collect the output."""
        cid, r = self.create(bundle, cid, extra=extra)
        self.start(cid)
        return cid, r

    def state(self, cid):
        r = self.rt("state", cid)
        self.assertEqual(r.rc, 0, f"state failed:\n{r}")
        return json.loads(r.out)

    def status(self, cid):
        r = self.rt("state", cid)
        return json.loads(r.out)["status"] if r.rc == 0 else None

    def wait_status(self, cid, status, timeout=5.0):
        wait_for(lambda: self.status(cid) == status, timeout, what=f"{cid} to be {status}")

    def delete(self, cid, force=False):
        r = self.rt("delete", *(["--force"] if force else []), cid)
        self.assertEqual(r.rc, 0, f"delete failed:\n{r}")
        return r

    def exec_(self, cid, *args, extra=(), input=None, timeout=None):
        return self.rt("exec", *extra, cid, *args, input=input, timeout=timeout)

    # ---- assertions ----

    def assert_ok(self, r, msg=""):
        self.assertEqual(r.rc, 0, f"{msg}\n{r}")

    def assert_error(self, r, *fragments, runc_fragments=None):
        """A failed call: non-zero exit and, for berth, stderr is one line holding fragments.

        runc words many messages differently (or prints several lines), so the message check
        runs for runc only with runc_fragments; the exit code is always checked.
        """
        self.assertNotEqual(r.rc, 0, f"expected failure\n{r}")
        self.assertNotEqual(r.rc, -1, f"runtime hung\n{r}")
        lines = [l for l in r.err.splitlines() if l.strip()]
        if IS_RUNC:
            for frag in runc_fragments or ():
                self.assertIn(frag, r.err, f"runc message\n{r}")
            return
        self.assertEqual(len(lines), 1, f"stderr must be exactly one line\n{r}")
        for frag in fragments:
            self.assertIn(frag, lines[0], f"error message must name {frag!r}\n{r}")

    def assert_nothing_left(self, cid, bundle=None, pids=()):
        """No state, no cgroup (any hierarchy), no bundle mount and no process remain."""
        r = self.rt("state", cid)
        self.assertNotEqual(r.rc, 0, f"container {cid} still has state\n{r}")
        self.assertIn("does not exist", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.root, cid)),
                         f"state dir {self.root}/{cid} left behind")
        if bundle is not None:
            left = existing_cgroup_dirs(bundle.cgroups_path)
            self.assertEqual(left, [], "cgroup directories left behind")
            mounts = [l for l in mountinfo_lines() if bundle.path in l]
            self.assertEqual(mounts, [], "mounts of the bundle left behind")
            self.assertEqual(pids_inside(bundle.path), [], "processes left in the bundle")
        for pid in pids:
            wait_for(lambda: not process_alive(pid), 2, what=f"pid {pid} to exit")

    # ---- inside-the-container helpers ----

    def run_ok(self, bundle, timeout=None):
        """Runs the bundle in the foreground, asserts exit 0, returns stdout."""
        r = self.run_container(bundle, timeout=timeout)
        self.assertEqual(r.rc, 0, f"container failed\n{r}")
        return r.out


def host_ns(name, pid="self"):
    return os.readlink(f"/proc/{pid}/ns/{name}")


class ConsoleSocket:
    """A --console-socket listener that receives the pty master over SCM_RIGHTS (runc's
    protocol: one message, payload a file name, one fd in the ancillary data)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.bind(path)
        self.sock.listen(1)
        self.master = None
        self.name = None
        self.error = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            self.sock.settimeout(20)
            conn, _ = self.sock.accept()
            with conn:
                fds = []
                msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * 4))
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        n = len(data) // 4
                        fds.extend(int.from_bytes(data[i * 4:i * 4 + 4], "little")
                                   for i in range(n))
                self.name = msg.decode(errors="replace")
                if fds:
                    self.master = fds[0]
                    for extra in fds[1:]:
                        os.close(extra)
        except Exception as e:  # reported by wait_master
            self.error = e

    def wait_master(self, timeout=10):
        self.thread.join(timeout)
        if self.master is None:
            raise AssertionError(f"no pty master received on {self.path}: {self.error}")
        return self.master

    def close(self):
        self.sock.close()
        if self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass
            self.master = None


def read_until(fd, needle, timeout=5.0):
    """Reads from fd until needle (bytes) shows up; returns everything read."""
    import select
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; got {buf!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side closed
            break
        if not chunk:
            break
        buf += chunk
    if needle not in buf:
        raise AssertionError(f"{needle!r} not received; got {buf!r}")
    return buf


CAP_NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]


def cap_mask(names):
    mask = 0
    for n in names:
        mask |= 1 << CAP_NAMES.index(n)
    return mask


def status_field(status_text, field):
    """A field of /proc/<pid>/status text, e.g. status_field(text, "CapEff") -> int."""
    m = re.search(rf"^{field}:\s*(\S+)", status_text, re.M)
    if not m:
        raise AssertionError(f"{field} not in status:\n{status_text}")
    return m.group(1)


def host_cap_bounding():
    with open("/proc/self/status") as f:
        return int(status_field(f.read(), "CapBnd"), 16)


def main():
    unittest.main(verbosity=2)
