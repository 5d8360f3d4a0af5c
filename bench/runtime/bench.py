#!/usr/bin/env python3
"""Side-by-side benchmark of berth-runtime, runc and crun on one busybox bundle.

Every runtime gets the same bundle (pid, mount, ipc, uts and network namespaces, a 64 MiB
memory limit, read-only root, args /true) and its own --root. The harness posix_spawn()s each
runtime call directly and reaps it with wait4() (elapsed time and ru_maxrss), so no shell sits
in the loop; its own floor (spawn + exec + wait of the static /true) is reported. Timed measurements are
interleaved round-robin across the runtimes so that load on a shared machine hits them alike.

On a hybrid cgroup host crun 1.8 refuses to run ("cgroups in hybrid mode not supported"), so
the whole benchmark re-executes itself in a private mount namespace where the empty cgroup2
mount at /sys/fs/cgroup/unified is unmounted: all three runtimes then see pure cgroup v1.
--keep-hybrid skips that (crun then fails and is reported as skipped).

Run as root: bench/runtime/run.sh [--runs N] [--runtimes berth,runc,crun] [--json FILE]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
BUNDLE_SCRIPT = os.path.join(SOURCE_DIR, "scripts", "make-busybox-bundle.sh")
DEFAULT_BERTH = os.path.join(SOURCE_DIR, "build", "release", "cmd", "berth-runtime",
                             "berth-runtime")
NS_MARKER = "BERTH_BENCH_IN_PRIVATE_NS"
MEMORY_LIMIT = 64 * 1024 * 1024
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


# ---- process spawning --------------------------------------------------------------------

class Spawner:
    """posix_spawn + wait4 with stdio on /dev/null and stderr appended to a log file."""

    def __init__(self, log_path):
        self.null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.log_path = log_path
        self.log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                           0o644)

    def run(self, argv, check=True):
        """Returns (milliseconds, exit code, ru_maxrss KiB) of one call."""
        actions = [(os.POSIX_SPAWN_DUP2, self.null, 0), (os.POSIX_SPAWN_DUP2, self.null, 1),
                   (os.POSIX_SPAWN_DUP2, self.log, 2)]
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, ENV, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        ms = (time.perf_counter_ns() - t0) / 1e6
        rc = os.waitstatus_to_exitcode(status)
        if check and rc != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {rc}; stderr tail:\n{self.tail()}")
        return ms, rc, usage.ru_maxrss

    def tail(self, n=2000):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-n:]


def summary(samples):
    s = sorted(samples)
    return {"median": statistics.median(s), "p95": s[min(len(s) - 1, int(0.95 * len(s)))],
            "mean": statistics.fmean(s), "n": len(s)}


# ---- cgroups -----------------------------------------------------------------------------

def cgroup_mounts():
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype = post.split()[0]
            if fstype in ("cgroup", "cgroup2"):
                mounts.append((pre.split()[4], fstype, post.split()[2]))
    return mounts


def cgroup_mode():
    kinds = {t for _, t, _ in cgroup_mounts()}
    if kinds == {"cgroup2"}:
        return "v2"
    return "hybrid" if "cgroup2" in kinds else "v1"


def memory_dir(cgroups_path):
    for mnt, fstype, opts in cgroup_mounts():
        if fstype == "cgroup" and "memory" in opts.split(","):
            return os.path.join(mnt, cgroups_path.lstrip("/")), "memory.max_usage_in_bytes"
    for mnt, fstype, _ in cgroup_mounts():
        if fstype == "cgroup2":
            return os.path.join(mnt, cgroups_path.lstrip("/")), "memory.peak"
    raise RuntimeError("no memory cgroup controller")


def remove_cgroup_tree(top_rel):
    for mnt, _, _ in cgroup_mounts():
        top = os.path.join(mnt, top_rel.lstrip("/"))
        if not os.path.isdir(top):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda e: -e[0].count("/")):
            for _ in range(50):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def wait_cgroup_empty(d, timeout=5.0):
    deadline = time.monotonic() + timeout
    procs = os.path.join(d, "cgroup.procs")
    while time.monotonic() < deadline:
        try:
            with open(procs) as f:
                if not f.read().strip():
                    return
        except FileNotFoundError:
            return
        time.sleep(0.0005)
    raise RuntimeError(f"{d}: container did not exit")


# ---- runtimes ----------------------------------------------------------------------------

class Runtime:
    def __init__(self, name, path, work, cgroup_parent, loops):
        self.name, self.path = name, path
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.root = os.path.join(self.dir, "root")
        self.spawner = Spawner(os.path.join(self.dir, "stderr.log"))
        self.bundles = []
        self.cgroups = []
        for k in range(loops):
            b = os.path.join(self.dir, f"bundle{k}")
            cg = f"{cgroup_parent}/{name}-{k}"
            subprocess.run([BUNDLE_SCRIPT, "--jq", f'.linux.cgroupsPath = "{cg}"',
                            "--jq", f".linux.resources.memory = {{limit: {MEMORY_LIMIT}}}",
                            b, "/true"], check=True, stdout=subprocess.DEVNULL)
            self.bundles.append(b)
            self.cgroups.append(cg)
        self.seq = 0

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]

    def call(self, *args, check=True):
        return self.spawner.run(self.argv(*args), check=check)

    def new_id(self, prefix):
        self.seq += 1
        return f"{prefix}-{self.seq}"

    def version(self):
        p = subprocess.run([self.path, "--version"], capture_output=True, text=True)
        return (p.stdout.splitlines() or ["?"])[0]


def one_run(rt):
    return rt.call("run", "--bundle", rt.bundles[0], rt.new_id("run"))[0]


def one_create_start_delete(rt):
    """Times of create, start and delete --force of one container (the wait between start
    and delete, until /true has left the cgroup, is not timed)."""
    cid = rt.new_id("csd")
    c = rt.call("create", "--bundle", rt.bundles[0], cid)[0]
    s = rt.call("start", cid)[0]
    wait_cgroup_empty(memory_dir(rt.cgroups[0])[0])
    d = rt.call("delete", "--force", cid)[0]
    return {"create": c, "start": s, "delete": d, "total": c + s + d}


def parallel_round(rt, loops, runs_per_loop):
    """`loops` threads each run their own bundle runs_per_loop times; returns wall seconds."""
    errors = []

    def loop(k):
        try:
            for _ in range(runs_per_loop):
                rt.call("run", "--bundle", rt.bundles[k], rt.new_id(f"par{k}"))
        except Exception as e:  # re-raised below
            errors.append(e)
    threads = [threading.Thread(target=loop, args=(k,)) for k in range(loops)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - t0


def interleave(runtimes, failed, fn, rounds, warmup=0):
    """Calls fn(rt) round-robin across runtimes, so that load changes on a shared machine hit
    every runtime alike; a runtime that raises is recorded in `failed` and dropped."""
    samples = {n: [] for n in runtimes}
    for i in range(warmup + rounds):
        for name, rt in runtimes.items():
            if name in failed:
                continue
            try:
                value = fn(rt)
            except Exception as e:
                failed[name] = e
                continue
            if i >= warmup:
                samples[name].append(value)
    return samples


def bench_memcg(rt, runs):
    """Peak memory charged to the container's cgroup over create + start + exit of /true."""
    d, peak_file = memory_dir(rt.cgroups[0])
    peaks = []
    for _ in range(runs + 2):
        cid = rt.new_id("mem")
        rt.call("create", "--bundle", rt.bundles[0], cid)
        rt.call("start", cid)
        wait_cgroup_empty(d)
        with open(os.path.join(d, peak_file)) as f:
            peaks.append(int(f.read()) / 1024)
        rt.call("delete", "--force", cid)
    return peaks[2:]


def bench_hyperfine(rt, runs, warmup, work):
    out = os.path.join(work, f"hyperfine-{rt.name}.json")
    cmd = " ".join(rt.argv("run", "--bundle", rt.bundles[0], "hf"))
    p = subprocess.run(["hyperfine", "-N", "--style", "none", "--warmup", str(warmup),
                        "--runs", str(runs), "--export-json", out, cmd],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"hyperfine: {p.stderr[-500:]}")
    with open(out) as f:
        r = json.load(f)["results"][0]
    return {"median": r["median"] * 1000, "mean": r["mean"] * 1000,
            "stddev": r["stddev"] * 1000}


def build_maxrss(work):
    """Compiles maxrss.c (static if possible); returns its path or None."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    out = os.path.join(work, "maxrss")
    for extra in (["-static"], []):
        p = subprocess.run([cc, "-O2", *extra, "-o", out, os.path.join(HERE, "maxrss.c")],
                           capture_output=True)
        if p.returncode == 0:
            return out
    return None


def peak_rss(helper, argv, runs, log):
    """ru_maxrss (KiB) of argv spawned from the tiny helper, `runs` times."""
    values = []
    for _ in range(runs):
        with open(log, "a") as err:
            p = subprocess.run([helper, *argv], stdout=subprocess.PIPE, stderr=err, text=True)
        kib, code = p.stdout.split()
        if code != "0":
            raise RuntimeError(f"{' '.join(argv)}: exit {code}")
        values.append(int(kib))
    return values


def bench_floor(spawner, true_path, runs):
    return [spawner.run([true_path])[0] for _ in range(runs + 10)][10:]


# ---- report ------------------------------------------------------------------------------

def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "ms":
        return f"{v:.2f} ms"
    if unit == "/s":
        return f"{v:.0f}/s"
    if unit == "KiB":
        return f"{v / 1024:.2f} MiB"
    return str(v)


def print_table(rows, names):
    header = ["metric"] + names + [f"{n}/runc" for n in names if n != "runc" and "runc" in names]
    table = [header]
    for label, unit, values in rows:
        line = [label] + [fmt(values.get(n), unit) for n in names]
        for n in names:
            if n == "runc" or "runc" not in names:
                continue
            a, b = values.get(n), values.get("runc")
            line.append(f"{a / b:.2f}x" if a is not None and b else "-")
        table.append(line)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j])
                        for j, c in enumerate(r)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtimes", default="berth,runc,crun")
    ap.add_argument("--berth", default=os.environ.get("BERTH_RUNTIME") or DEFAULT_BERTH)
    ap.add_argument("--runs", type=int, default=200, help="sequential runs per measurement")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--parallel", type=int, default=4, help="parallel loops")
    ap.add_argument("--parallel-runs", type=int, default=50, help="runs per parallel loop")
    ap.add_argument("--memcg-runs", type=int, default=20)
    ap.add_argument("--hyperfine", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--keep-hybrid", action="store_true",
                    help="do not unmount /sys/fs/cgroup/unified (crun 1.8 then fails)")
    ap.add_argument("--json", help="write all figures to this file")
    args = ap.parse_args()

    if os.geteuid() != 0:
        sys.exit("bench: needs root")
    if not args.keep_hybrid and os.environ.get(NS_MARKER) != "1" and cgroup_mode() == "hybrid":
        # Same view for every runtime: pure v1, the cgroup2 mount hidden in a private mount ns.
        os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", "--",
                               sys.executable, *sys.argv], dict(os.environ, **{NS_MARKER: "1"}))
    if os.environ.get(NS_MARKER) == "1" and os.path.ismount("/sys/fs/cgroup/unified"):
        subprocess.run(["umount", "/sys/fs/cgroup/unified"], check=True)

    paths = {"berth": args.berth, "runc": shutil.which("runc"), "crun": shutil.which("crun")}
    work = tempfile.mkdtemp(prefix="berth-bench-")
    cgroup_parent = f"/berth-bench-{uuid.uuid4().hex[:10]}"
    names, runtimes = [], {}
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}, cgroups {cgroup_mode()}"
          f"{' (cgroup2 hidden in a private mount ns)' if os.environ.get(NS_MARKER) else ''}")
    try:
        for name in args.runtimes.split(","):
            path = paths.get(name)
            if not path or not os.access(path, os.X_OK):
                print(f"{name}: not found ({path or 'not on PATH'}), skipping its column")
                continue
            runtimes[name] = Runtime(name, path, work, cgroup_parent, args.parallel)
            names.append(name)
            print(f"{name}: {path} ({runtimes[name].version()})")
        if not runtimes:
            sys.exit("bench: no runtime to measure")
        floor_spawner = Spawner(os.path.join(work, "floor.log"))
        true_path = os.path.join(next(iter(runtimes.values())).bundles[0], "rootfs", "true")
        floor = summary(bench_floor(floor_spawner, true_path, args.runs))
        print(f"harness floor (posix_spawn + exec + wait4 of the static /true): "
              f"median {floor['median']:.2f} ms, p95 {floor['p95']:.2f} ms")
        helper = build_maxrss(work)
        rss_floor = None
        if helper:
            rss_floor = statistics.median(peak_rss(helper, [true_path], 5,
                                                   os.path.join(work, "floor.log")))
            print(f"peak-RSS floor (maxrss helper running /true): {rss_floor / 1024:.2f} MiB")
        else:
            print("no C compiler: peak RSS not measured")
        print()

        use_hf = args.hyperfine == "yes" or (args.hyperfine == "auto" and shutil.which("hyperfine"))
        results = {n: {} for n in names}
        failed = {}

        def live():
            return {n: runtimes[n] for n in names if n not in failed}
        print("interleaved across runtimes: --version, run, parallel, create/start/delete, "
              "state", flush=True)
        for n, v in interleave(live(), failed, lambda rt: rt.call("--version")[0],
                               50, 5).items():
            results[n]["version"] = v and summary(v)
        for n, v in interleave(live(), failed, one_run, args.runs, args.warmup).items():
            results[n]["run"] = v and summary(v)
        # Parallel throughput in 5 alternating rounds per runtime.
        walls = interleave(live(), failed, lambda rt: parallel_round(
            rt, args.parallel, max(1, args.parallel_runs // 5)), 5)
        for n, v in walls.items():
            results[n]["parallel_per_s"] = (
                len(v) * args.parallel * max(1, args.parallel_runs // 5) / sum(v) if v else None)
        csd = interleave(live(), failed, one_create_start_delete, args.runs, args.warmup)
        for n, v in csd.items():
            results[n]["csd"] = {k: summary([x[k] for x in v]) for k in v[0]} if v else None
        state_ids = {}
        for n, rt in live().items():
            state_ids[n] = rt.new_id("state")
            try:
                rt.call("create", "--bundle", rt.bundles[0], state_ids[n])
            except Exception as e:
                failed[n] = e
        for n, v in interleave(live(), failed, lambda rt: rt.call("state", state_ids[rt.name])[0],
                               args.runs, 5).items():
            results[n]["state"] = v and summary(v)
        for n, rt in runtimes.items():
            if n in state_ids:
                rt.call("delete", "--force", state_ids[n], check=False)
        for name, rt in live().items():
            print(f"per runtime: peak RSS, memcg charge{', hyperfine' if use_hf else ''}: {name}",
                  flush=True)
            try:
                r = results[name]
                if helper:
                    r["rss_kib"] = summary(peak_rss(
                        helper, rt.argv("run", "--bundle", rt.bundles[0], "rss"),
                        args.memcg_runs, rt.spawner.log_path))
                r["memcg_kib"] = summary(bench_memcg(rt, args.memcg_runs))
                if use_hf:
                    r["hyperfine_run"] = bench_hyperfine(rt, args.runs, args.warmup, work)
            except Exception as e:
                failed[name] = e
        for name, e in failed.items():
            print(f"{name}: failed, skipping its column: {e}")
            names.remove(name)
        print()

        def col(fn):
            out = {}
            for n in names:
                try:
                    out[n] = fn(results[n])
                except KeyError:
                    out[n] = None
            return out
        rows = [
            ("run /true median", "ms", col(lambda r: r["run"]["median"])),
            ("run /true p95", "ms", col(lambda r: r["run"]["p95"])),
            ("run /true mean", "ms", col(lambda r: r["run"]["mean"])),
            (f"run x{args.parallel} parallel loops", "/s", col(lambda r: r["parallel_per_s"])),
            ("create median", "ms", col(lambda r: r["csd"]["create"]["median"])),
            ("start median", "ms", col(lambda r: r["csd"]["start"]["median"])),
            ("delete median", "ms", col(lambda r: r["csd"]["delete"]["median"])),
            ("create+start+delete median", "ms", col(lambda r: r["csd"]["total"]["median"])),
            ("state (created) median", "ms", col(lambda r: r["state"]["median"])),
            ("state (created) p95", "ms", col(lambda r: r["state"]["p95"])),
            ("--version median", "ms", col(lambda r: r["version"]["median"])),
            ("peak RSS of `run` (median)", "KiB", col(lambda r: r["rss_kib"]["median"])),
            ("memcg peak charge (median)", "KiB", col(lambda r: r["memcg_kib"]["median"])),
        ]
        if use_hf:
            rows.append(("run /true hyperfine median", "ms",
                         col(lambda r: r["hyperfine_run"]["median"])))
        print_table(rows, names)
        print(f"\n{args.runs} sequential runs after {args.warmup} warm-up; parallel: "
              f"{args.parallel} loops x {args.parallel_runs} runs; RSS and memcg: "
              f"{args.memcg_runs} containers. Every time includes the harness floor "
              f"({floor['median']:.2f} ms); load average now {os.getloadavg()[0]:.2f}.")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"floor": floor, "rss_floor_kib": rss_floor, "results": results,
                           "cgroups": cgroup_mode(), "loadavg": os.getloadavg()}, f, indent=1)
    finally:
        for rt in runtimes.values():
            subprocess.run(rt.argv("list", "-q"), capture_output=True)
            for cid in subprocess.run(rt.argv("list", "-q"), capture_output=True,
                                      text=True).stdout.split():
                subprocess.run(rt.argv("delete", "--force", cid), capture_output=True)
        remove_cgroup_tree(cgroup_parent)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
