// Root tests of the container filesystem set-up: each runs prepare/enter/finalize on a busybox
// rootfs in a forked child with its own mount (and pid, net ...) namespaces and checks, from
// inside, what a container process would see. Skipped unless run as root.
#include <linux/magic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "base/file.h"
#include "runtime/rootfs/testing.h"

namespace berth::runtime::rootfs {
namespace {

using namespace rootfs_testing;

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

#define SKIP_UNLESS_ROOT_AND_BUNDLE(bundle)                                  \
  do {                                                                       \
    if (!is_root()) GTEST_SKIP() << "needs root";                            \
    ASSERT_TRUE((bundle).ok())                                               \
        << "cannot build a busybox rootfs (apt-get install busybox-static)"; \
  } while (0)

// A spec with a procfs and only the namespaces the runner unshares.
oci::Spec minimal_spec() {
  oci::Spec s;
  s.root_path = "rootfs";
  s.mounts.push_back({"/proc", "proc", "proc", {}});
  s.linux.emplace();
  s.linux->namespaces = {{"pid", ""}, {"mount", ""}};
  return s;
}

std::string slurp(const std::string& path) {
  auto r = read_file(path);
  return r ? *r : "<unreadable " + path + ">";
}

std::string readlink_str(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// The mountinfo line whose mount point is mp ("" if none).
std::string mountinfo_line(const std::string& mp) {
  std::istringstream in(slurp("/proc/self/mountinfo"));
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (point == mp) found = line;  // the last one is the top of the stack
  }
  return found;
}

// Masked files the host kernel has (kcore needs CONFIG_PROC_KCORE), looked up before the test
// forks, i.e. in the test's own namespace.
bool host_has(const char* path) {
  static const bool kcore = exists("/proc/kcore"), keys = exists("/proc/keys"),
                    timer_list = exists("/proc/timer_list");
  std::string p = path;
  return p == "/proc/kcore"  ? kcore
         : p == "/proc/keys" ? keys
                             : p == "/proc/timer_list" && timer_list;
}

bool host_is_cgroup2() {
  struct statfs sf {};
  return ::statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

TEST(RootfsSetup, DefaultSpecBuildsTheRuncLayout) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  const bool v2 = host_is_cgroup2();
  host_has("/proc/kcore");
  std::vector<std::string> masked_dirs;
  for (const char* d : {"/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware"}) {
    struct stat st {};
    if (::stat(d, &st) == 0 && S_ISDIR(st.st_mode)) masked_dirs.push_back(d);
  }
  ContainerRun run;
  run.spec = default_spec();
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  run.inside = [&](int) {
    std::string e;
    if (::getpid() != 1) e += "not pid 1 of its namespace\n";
    e += check_fs("/proc", PROC_SUPER_MAGIC);
    e += check_fs("/dev", TMPFS_MAGIC);
    e += check_char_device("/dev/null", 1, 3);
    e += check_char_device("/dev/zero", 1, 5);
    e += check_char_device("/dev/full", 1, 7);
    e += check_char_device("/dev/random", 1, 8);
    e += check_char_device("/dev/urandom", 1, 9);
    e += check_char_device("/dev/tty", 5, 0);
    e += check_fs("/dev/pts", DEVPTS_SUPER_MAGIC);
    e += check_fs("/dev/shm", TMPFS_MAGIC);
    e += check_fs("/dev/mqueue", MQUEUE_MAGIC);
    if (readlink_str("/dev/fd") != "/proc/self/fd") e += "/dev/fd link\n";
    if (readlink_str("/dev/stdin") != "/proc/self/fd/0") e += "/dev/stdin link\n";
    if (readlink_str("/dev/stdout") != "/proc/self/fd/1") e += "/dev/stdout link\n";
    if (readlink_str("/dev/stderr") != "/proc/self/fd/2") e += "/dev/stderr link\n";
    if (readlink_str("/dev/ptmx") != "pts/ptmx") e += "/dev/ptmx link\n";
    if (exists("/proc/kcore") && readlink_str("/dev/core") != "/proc/kcore") e += "/dev/core\n";
    e += check_writable("/dev");
    e += check_writable("/dev/shm");
    e += check_fs("/sys", SYSFS_MAGIC);
    e += check_mount_flag("/sys", ST_RDONLY, true);
    if (v2) {
      e += check_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC);
    } else {
      e += check_fs("/sys/fs/cgroup", TMPFS_MAGIC);
      e += check_fs("/sys/fs/cgroup/memory", CGROUP_SUPER_MAGIC);
      e += check_mount_flag("/sys/fs/cgroup/memory", ST_RDONLY, true);
      if (exists("/sys/fs/cgroup/unified")) e += "hybrid unified hierarchy exposed\n";
    }
    e += check_mount_flag("/sys/fs/cgroup", ST_RDONLY, true);
    // maskedPaths: files read as /dev/null, directories are one empty read-only tmpfs.
    for (const char* f : {"/proc/kcore", "/proc/keys", "/proc/timer_list"}) {
      if (!host_has(f)) continue;
      e += check_char_device(f, 1, 3);
      if (!slurp(f).empty()) e += std::string(f) + " is not empty\n";
    }
    dev_t shared = 0;
    for (const std::string& d : masked_dirs) {
      e += check_fs(d, TMPFS_MAGIC);
      e += check_read_only(d);
      if (count_entries(d) != 0) e += d + " is not empty\n";
      struct stat st {};
      ::stat(d.c_str(), &st);
      if (shared && st.st_dev != shared) e += d + ": masked dirs do not share one tmpfs\n";
      shared = st.st_dev;
    }
    // readonlyPaths.
    e += check_mount_flag("/proc/sys", ST_RDONLY, true);
    int fd = ::open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 || errno != EROFS) e += "/proc/sys/kernel/hostname is writable\n";
    if (fd >= 0) ::close(fd);
    if (exists("/proc/sysrq-trigger"))
      e += check_mount_flag("/proc/sysrq-trigger", ST_RDONLY, true);
    // root.readonly.
    e += check_read_only("/");
    e += check_read_only("/tmp");
    // The old root is gone.
    if (exists(bundle.dir())) e += "host path visible inside\n";
    if (!exists("/bin/busybox")) e += "rootfs content missing\n";
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, BusyboxShellRunsInTheContainer) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = default_spec();
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  run.inside = [](int out) {
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execl("/bin/sh", "sh", "-c",
            "cat /proc/1/cmdline >/dev/null && ls /dev/null && echo x >/dev/null && "
            "cat /proc/keys && echo done",
            static_cast<char*>(nullptr));
    return std::string("exec /bin/sh failed");
  };
  RunResult r = run_container(run);
  ASSERT_TRUE(WIFEXITED(r.status)) << r.output;
  EXPECT_EQ(WEXITSTATUS(r.status), 0) << r.output;
  EXPECT_EQ(r.output, "/dev/null\ndone\n");
}

TEST(RootfsSetup, BindMountWithRoIsReadOnlyAndSourceStaysWritable) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string src = bundle.dir() + "/src";
  ASSERT_TRUE(mkdir_all(src));
  ASSERT_TRUE(write_file_atomic(src + "/hello", "hi", 0644, false));
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back({"/data", "bind", src, {"rbind", "ro"}});
  run.spec.mounts.push_back({"/etc/hello", "none", src + "/hello", {"bind", "ro"}});
  run.spec.mounts.push_back({"/rw", "bind", src, {"rbind", "rw"}});
  run.opts.rootfs = bundle.rootfs();
  run.after_prepare = [&](const Result<>&) { return check_writable(src); };
  run.inside = [](int) {
    std::string e;
    if (slurp("/data/hello") != "hi") e += "/data/hello content\n";
    if (slurp("/etc/hello") != "hi") e += "/etc/hello content\n";
    e += check_read_only("/data");
    e += check_mount_flag("/data", ST_RDONLY, true);
    int fd = ::open("/etc/hello", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 || errno != EROFS) e += "/etc/hello is writable\n";
    if (fd >= 0) ::close(fd);
    e += check_writable("/rw");
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, BindMountFlagsAreApplied) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string src = bundle.dir() + "/src";
  ASSERT_TRUE(mkdir_all(src));
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back({"/data", "bind", src, {"bind", "nosuid", "nodev", "noexec"}});
  run.opts.rootfs = bundle.rootfs();
  run.inside = [](int) {
    return check_mount_flag("/data", ST_NOSUID, true) + check_mount_flag("/data", ST_NODEV, true) +
           check_mount_flag("/data", ST_NOEXEC, true) + check_mount_flag("/data", ST_RDONLY, false);
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, RecursiveReadOnlyReachesSubmounts) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string src = bundle.dir() + "/src";
  ASSERT_TRUE(mkdir_all(src + "/sub"));
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back({"/rro", "bind", src, {"rbind", "rro"}});
  run.spec.mounts.push_back({"/ro", "bind", src, {"rbind", "ro"}});
  run.opts.rootfs = bundle.rootfs();
  run.setup = [&] {
    return ::mount("tmpfs", (src + "/sub").c_str(), "tmpfs", 0, nullptr) == 0 ? "" : "mount tmpfs";
  };
  run.inside = [](int) {
    return check_read_only("/rro") + check_read_only("/rro/sub") + check_read_only("/ro") +
           check_writable("/ro/sub");
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, TmpfsHonoursModeSizeAndFlags) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back(
      {"/scratch", "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=1750", "size=1m"}});
  run.spec.mounts.push_back({"/frozen", "tmpfs", "tmpfs", {"ro"}});
  // Missing parents are created, through a dangling relative symlink too (all in the rootfs).
  run.spec.mounts.push_back({"/a/b/c/d/e/f/g/h/i/j/k/deep", "tmpfs", "tmpfs", {}});
  run.spec.mounts.push_back({"/lnk/x/y", "tmpfs", "tmpfs", {}});
  ASSERT_EQ(::symlink("../made/by/link", (bundle.rootfs() + "/lnk").c_str()), 0);
  run.opts.rootfs = bundle.rootfs();
  run.inside = [](int) {
    std::string e = check_fs("/scratch", TMPFS_MAGIC);
    struct stat st {};
    ::stat("/scratch", &st);
    if ((st.st_mode & 07777) != 01750) e += "/scratch mode " + std::to_string(st.st_mode) + "\n";
    struct statfs sf {};
    ::statfs("/scratch", &sf);
    if (static_cast<uint64_t>(sf.f_blocks) * sf.f_bsize != (1u << 20)) e += "/scratch size\n";
    e += check_mount_flag("/scratch", ST_NOSUID, true);
    e += check_mount_flag("/scratch", ST_NODEV, true);
    e += check_writable("/scratch");
    e += check_read_only("/frozen");
    e += check_fs("/a/b/c/d/e/f/g/h/i/j/k/deep", TMPFS_MAGIC);
    e += check_fs("/made/by/link/x/y", TMPFS_MAGIC);
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, TmpcopyupCopiesTheImageContent) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string data = bundle.rootfs() + "/opt/data";
  ASSERT_TRUE(mkdir_all(data + "/sub"));
  ASSERT_TRUE(write_file_atomic(data + "/a.txt", "A", 0640, false));
  ASSERT_TRUE(write_file_atomic(data + "/sub/b.txt", "B", 0644, false));
  ASSERT_EQ(::symlink("a.txt", (data + "/link").c_str()), 0);
  ASSERT_EQ(::chmod((data + "/sub").c_str(), 0750), 0);
  ASSERT_EQ(::chown((data + "/sub").c_str(), 12, 34), 0);
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back({"/opt/data", "tmpfs", "tmpfs", {"tmpcopyup", "mode=755"}});
  run.opts.rootfs = bundle.rootfs();
  run.inside = [](int) {
    std::string e = check_fs("/opt/data", TMPFS_MAGIC);
    if (slurp("/opt/data/a.txt") != "A") e += "a.txt\n";
    if (slurp("/opt/data/sub/b.txt") != "B") e += "sub/b.txt\n";
    if (readlink_str("/opt/data/link") != "a.txt") e += "link\n";
    struct stat st {};
    ::stat("/opt/data/sub", &st);
    if ((st.st_mode & 07777) != 0750 || st.st_uid != 12 || st.st_gid != 34) e += "sub owner/mode\n";
    ::stat("/opt/data/a.txt", &st);
    if ((st.st_mode & 07777) != 0640) e += "a.txt mode\n";
    if (!write_file_atomic("/opt/data/new", "n", 0644, false)) e += "tmpfs not writable\n";
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_FALSE(exists(data + "/new")) << "a write in the tmpfs reached the image";
}

TEST(RootfsSetup, PropagationOptionsReachTheMounts) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string src = bundle.dir() + "/src";
  ASSERT_TRUE(mkdir_all(src));
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back({"/shared", "bind", src, {"rbind", "rshared"}});
  run.spec.mounts.push_back({"/private", "bind", src, {"rbind", "rprivate"}});
  run.spec.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"shared"}});
  run.opts.rootfs = bundle.rootfs();
  run.inside = [](int) {
    std::string e;
    std::string shared = mountinfo_line("/shared"), priv = mountinfo_line("/private"),
                tmp = mountinfo_line("/tmp");
    if (shared.find(" shared:") == std::string::npos) e += "/shared: " + shared + "\n";
    if (tmp.find(" shared:") == std::string::npos) e += "/tmp: " + tmp + "\n";
    if (priv.empty() || priv.find(" shared:") != std::string::npos ||
        priv.find(" master:") != std::string::npos)
      e += "/private: " + priv + "\n";
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, RootfsPropagationSharedAndPrivate) {
  for (const char* prop : {"rshared", "shared", "private", "rprivate"}) {
    TempBundle bundle;
    SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
    ContainerRun run;
    run.spec = minimal_spec();
    run.spec.linux->rootfs_propagation = prop;
    run.opts.rootfs = bundle.rootfs();
    const bool want_shared = std::string(prop).find("shared") != std::string::npos;
    run.inside = [&](int) {
      std::string root = mountinfo_line("/");
      bool shared = root.find(" shared:") != std::string::npos;
      return shared == want_shared ? std::string() : "/ propagation: " + root;
    };
    RunResult r = run_container(run);
    EXPECT_TRUE(r.ok()) << prop << ": " << r.output;
  }
}

TEST(RootfsSetup, UnknownRootfsPropagationIsRejected) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.linux->rootfs_propagation = "sideways";
  run.opts.rootfs = bundle.rootfs();
  RunResult r = run_container(run);
  EXPECT_EQ(r.output, "prepare: linux.rootfsPropagation: unknown value \"sideways\"");
}

TEST(RootfsSetup, NoPivotChrootsIntoTheRootfs) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = default_spec();
  run.opts.rootfs = bundle.rootfs();
  run.opts.no_pivot = true;
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.inside = [&](int) {
    std::string e = check_fs("/proc", PROC_SUPER_MAGIC) + check_char_device("/dev/null", 1, 3);
    if (!exists("/bin/busybox")) e += "not in the rootfs\n";
    if (exists(bundle.dir())) e += "host path visible inside\n";
    e += check_read_only("/");
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, LinuxDevicesGetTheirModeAndOwner) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = default_spec();
  oci::Device null_copy{"c", "/dev/mynull", 1, 3, 0600, 1000, 1001};
  oci::Device fifo{"p", "/dev/myfifo", 0, 0, 0640, std::nullopt, std::nullopt};
  oci::Device outside{"c", "/devices/zero", 1, 5, std::nullopt, std::nullopt, std::nullopt};
  run.spec.linux->devices = {null_copy, fifo, outside};
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.inside = [](int) {
    std::string e =
        check_char_device("/dev/mynull", 1, 3) + check_char_device("/devices/zero", 1, 5);
    struct stat st {};
    ::lstat("/dev/mynull", &st);
    if ((st.st_mode & 07777) != 0600 || st.st_uid != 1000 || st.st_gid != 1001)
      e += "/dev/mynull mode/owner\n";
    ::lstat("/dev/myfifo", &st);
    if (!S_ISFIFO(st.st_mode) || (st.st_mode & 07777) != 0640) e += "/dev/myfifo\n";
    ::lstat("/devices/zero", &st);
    if ((st.st_mode & 07777) != 0666) e += "/devices/zero default mode\n";
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, UserNamespaceModeBindsHostDevices) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = default_spec();
  run.opts.rootfs = bundle.rootfs();
  run.opts.in_user_namespace = true;
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.inside = [](int) {
    std::string e;
    for (const char* d : {"/dev/null", "/dev/zero", "/dev/tty"}) {
      if (!is_mount_root(d)) e += std::string(d) + " is not a bind mount\n";
    }
    e += check_char_device("/dev/null", 1, 3);
    int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "x", 1) != 1) e += "/dev/null not writable\n";
    if (fd >= 0) ::close(fd);
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSetup, CgroupNamespaceGetsFreshCgroupMounts) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  const bool v2 = host_is_cgroup2();
  ContainerRun run;
  run.spec = default_spec();
  run.spec.linux->namespaces.push_back({"cgroup", ""});
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWCGROUP;
  run.inside = [&](int) {
    std::string e;
    if (v2) {
      e += check_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC);
    } else {
      e += check_fs("/sys/fs/cgroup/memory", CGROUP_SUPER_MAGIC);
      e += check_fs("/sys/fs/cgroup/systemd", CGROUP_SUPER_MAGIC);
      // Rooted at the namespace: this process's cgroup is the hierarchy's root.
      if (slurp("/proc/self/cgroup").find("memory:/\n") == std::string::npos)
        e += "memory cgroup not at the namespace root\n";
      if (!exists("/sys/fs/cgroup/memory/cgroup.procs")) e += "memory hierarchy empty\n";
      e += check_mount_flag("/sys/fs/cgroup/memory", ST_RDONLY, true);
    }
    e += check_mount_flag("/sys/fs/cgroup", ST_RDONLY, true);
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

// A pure cgroup v2 host, emulated in the test's mount namespace by binding the cgroup2 hierarchy
// of a hybrid host over /sys/fs/cgroup. With a user namespace (no cgroup namespace) cgroup2
// cannot be mounted and the hierarchy is bound instead, read-only.
TEST(RootfsSetup, CgroupV2HostGetsCgroup2OrABind) {
  for (bool userns : {false, true}) {
    TempBundle bundle;
    SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
    ContainerRun run;
    run.spec = default_spec(userns);
    run.opts.rootfs = bundle.rootfs();
    run.opts.in_user_namespace = userns;
    run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | (userns ? CLONE_NEWUSER : 0);
    run.setup = [] {
      if (host_is_cgroup2()) return std::string();
      if (!exists("/sys/fs/cgroup/unified")) return std::string("no cgroup2 hierarchy");
      return ::mount("/sys/fs/cgroup/unified", "/sys/fs/cgroup", nullptr, MS_BIND, nullptr) == 0
                 ? std::string()
                 : std::string("bind cgroup2: ") + std::strerror(errno);
    };
    run.inside = [](int) {
      return check_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC) +
             check_mount_flag("/sys/fs/cgroup", ST_RDONLY, true) +
             (exists("/sys/fs/cgroup/cgroup.procs") ? "" : "no cgroup.procs\n");
    };
    RunResult r = run_container(run);
    EXPECT_TRUE(r.ok()) << (userns ? "userns: " : "") << r.output;
  }
}

// Mounts from the host are locked in a user namespace: flags are kept, devices are bound, and
// sysfs (no network namespace of its own here) falls back to a bind of /sys, read-only all the
// way down.
TEST(RootfsSetup, RootlessSpecInAUserNamespace) {
  for (bool sysfs_type : {false, true}) {
    TempBundle bundle;
    SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
    ContainerRun run;
    run.spec = default_spec(true);
    if (sysfs_type) {
      for (auto& m : run.spec.mounts)
        if (m.destination == "/sys")
          m = {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}};
      // Without the cgroup mount, the host's submounts of /sys stay visible.
      std::erase_if(run.spec.mounts, [](const oci::Mount& m) { return m.type == "cgroup"; });
    }
    run.opts.rootfs = bundle.rootfs();
    run.opts.in_user_namespace = true;
    run.unshare_flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    run.inside = [&](int) {
      std::string e = check_fs("/proc", PROC_SUPER_MAGIC);
      e += check_char_device("/dev/null", 1, 3);
      if (!is_mount_root("/dev/null")) e += "/dev/null not bound from the host\n";
      e += check_fs("/dev/pts", DEVPTS_SUPER_MAGIC);
      e += check_fs("/sys", SYSFS_MAGIC);
      e += check_mount_flag("/sys", ST_RDONLY, true);
      e += check_read_only("/sys/fs");
      if (sysfs_type && !is_mount_root("/sys/fs/cgroup")) e += "/sys not bound recursively\n";
      if (sysfs_type) e += check_read_only("/sys/fs/cgroup");  // a submount of the bound /sys
      e += check_mount_flag("/proc/sys", ST_RDONLY, true);
      if (!slurp("/proc/keys").empty()) e += "/proc/keys not masked\n";
      e += check_read_only("/");
      return e;
    };
    RunResult r = run_container(run);
    EXPECT_TRUE(r.ok()) << (sysfs_type ? "sysfs: " : "rbind: ") << r.output;
  }
}

TEST(RootfsSetup, MountErrorsNameTheDestination) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back({"/data", "bind", bundle.dir() + "/missing", {"rbind"}});
  run.opts.rootfs = bundle.rootfs();
  RunResult r = run_container(run);
  EXPECT_EQ(r.output, "prepare: mount /data (type bind): open_tree " + bundle.dir() +
                          "/missing: no such file or directory");
  run.spec.mounts.back() = {"/x", "nosuchfs", "none", {}};
  r = run_container(run);
  EXPECT_EQ(r.output, "prepare: mount /x (type nosuchfs): no such device");
}

TEST(RootfsSetup, ReadOnlyDevIsFilledThenMadeReadOnly) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = default_spec();
  for (auto& m : run.spec.mounts)
    if (m.destination == "/dev") m.options.push_back("ro");
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.inside = [](int) {
    return check_char_device("/dev/null", 1, 3) + check_read_only("/dev") +
           check_writable("/dev/shm");
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

// The parent side of idmapped mounts: a tree mapped through a user namespace (0 -> 1000) by
// open_idmapped_tree(), attached by the child for an "idmap" mount.
TEST(RootfsSetup, IdmappedBindShowsMappedOwners) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string src = bundle.dir() + "/src";
  ASSERT_TRUE(mkdir_all(src));
  ASSERT_TRUE(write_file_atomic(src + "/owned-by-root", "x", 0644, false));
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  pid_t holder = ::fork();
  if (holder == 0) {
    ::close(go[1]);
    if (::unshare(CLONE_NEWUSER) != 0) ::_exit(1);
    char c;
    (void)::read(go[0], &c, 1);  // until the parent is done with our namespace
    ::_exit(0);
  }
  ::close(go[0]);
  UniqueFd release(go[1]);
  std::string proc = "/proc/" + std::to_string(holder);
  UniqueFd userns;
  for (int i = 0; i < 1000 && !userns; ++i) {  // wait for the unshare
    auto ns = open_fd(proc + "/ns/user", O_RDONLY);
    struct stat a {
    }, b{};
    if (ns && ::fstat(ns->get(), &a) == 0 && ::stat("/proc/self/ns/user", &b) == 0 &&
        a.st_ino != b.st_ino)
      userns = std::move(*ns);
    else
      ::usleep(1000);
  }
  ASSERT_TRUE(userns);
  ASSERT_TRUE(write_file(proc + "/uid_map", "0 1000 1"));
  ASSERT_TRUE(write_file(proc + "/gid_map", "0 1000 1"));
  auto tree = open_idmapped_tree(src, userns.get(), false);
  release.reset();
  int st = 0;
  ::waitpid(holder, &st, 0);
  ASSERT_TRUE(tree) << tree.error().message();

  ContainerRun run;
  run.spec = minimal_spec();
  run.spec.mounts.push_back({"/data", "bind", src, {"bind", "idmap"}});
  run.opts.rootfs = bundle.rootfs();
  run.opts.idmap_tree_fds = {-1, tree->get()};
  run.inside = [](int) {
    struct stat s {};
    if (::stat("/data/owned-by-root", &s) != 0) return std::string("/data/owned-by-root missing");
    if (s.st_uid != 1000 || s.st_gid != 1000)
      return "owner " + std::to_string(s.st_uid) + ":" + std::to_string(s.st_gid);
    return std::string();
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
  // Without a prepared tree the mount is refused, naming it.
  run.opts.idmap_tree_fds.clear();
  r = run_container(run);
  EXPECT_EQ(r.output, "prepare: mount /data (type bind): idmapped mount of " + src +
                          ": no tree prepared by the runtime");
}

}  // namespace
}  // namespace berth::runtime::rootfs
