// Root tests for hostile images: symlinks in the rootfs (at /proc, /dev, a mount destination,
// a bind target, /dev/null) must never make the set-up mount or write outside the rootfs
// (runc CVE-2019-19921, CVE-2021-30465, CVE-2025-31133, CVE-2026-41579 classes). "Host"
// directories are made next to the rootfs and checked, from the test's mount namespace, to be
// untouched after prepare_rootfs().
#include <linux/magic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/file.h"
#include "runtime/rootfs/testing.h"

namespace berth::runtime::rootfs {
namespace {

using namespace rootfs_testing;

#define SKIP_UNLESS_ROOT_AND_BUNDLE(bundle)                                  \
  do {                                                                       \
    if (!is_root()) GTEST_SKIP() << "needs root";                            \
    ASSERT_TRUE((bundle).ok())                                               \
        << "cannot build a busybox rootfs (apt-get install busybox-static)"; \
  } while (0)

// A host directory with one sentinel file: untouched means still exactly that, and no mount.
std::string make_host_dir(const TempBundle& bundle, const std::string& name) {
  std::string dir = bundle.dir() + "/" + name;
  (void)mkdir_all(dir);
  (void)write_file_atomic(dir + "/sentinel", "host", 0644, false);
  return dir;
}

std::string check_host_untouched(const std::string& dir) {
  std::string e;
  if (is_mount_root(dir)) e += dir + " got a mount\n";
  if (count_entries(dir) != 1) e += dir + " gained or lost entries\n";
  struct statfs sf {};
  if (::statfs(dir.c_str(), &sf) == 0 &&
      (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == TMPFS_MAGIC))
    e += dir + " is covered by a procfs/tmpfs\n";
  return e;
}

TEST(RootfsSecurity, ProcSymlinkToTheHostIsRefused) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string host = make_host_dir(bundle, "host");
  ASSERT_EQ(::rmdir((bundle.rootfs() + "/proc").c_str()), 0);
  ASSERT_EQ(::symlink(host.c_str(), (bundle.rootfs() + "/proc").c_str()), 0);
  ContainerRun run;
  run.spec = default_spec();
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.after_prepare = [&](const Result<>&) { return check_host_untouched(host); };
  RunResult r = run_container(run);
  EXPECT_EQ(r.output,
            "prepare: mount /proc (type proc): filesystem \"proc\" must be mounted on ordinary "
            "directory");
  EXPECT_EQ(check_host_untouched(host), "");
}

TEST(RootfsSecurity, DestinationThroughAbsoluteSymlinkStaysInTheRootfs) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string host = make_host_dir(bundle, "host");
  std::string src = make_host_dir(bundle, "src");
  // rootfs/mnt -> <absolute host dir>; rootfs/etc/hosts -> <absolute host file>.
  ASSERT_EQ(::symlink(host.c_str(), (bundle.rootfs() + "/mnt").c_str()), 0);
  ASSERT_EQ(::symlink((host + "/sentinel").c_str(), (bundle.rootfs() + "/etc/hosts").c_str()), 0);
  ContainerRun run;
  run.spec = default_spec();
  run.spec.mounts.push_back({"/mnt/data", "tmpfs", "tmpfs", {}});
  run.spec.mounts.push_back({"/mnt/bound", "bind", src, {"rbind", "ro"}});
  run.spec.mounts.push_back({"/etc/hosts", "bind", src + "/sentinel", {"bind"}});
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.after_prepare = [&](const Result<>& r) {
    std::string e = check_host_untouched(host);
    if (is_mount_root(host + "/sentinel")) e += "host file got a bind\n";
    // Where the mounts belong: the symlinks' targets taken inside the rootfs.
    if (r) {
      std::string inside = bundle.rootfs() + host;
      e += check_fs(inside + "/data", TMPFS_MAGIC);
      if (!is_mount_root(inside + "/bound")) e += "bind not in the rootfs\n";
      if (!is_mount_root(inside + "/sentinel")) e += "file bind not in the rootfs\n";
    }
    return e;
  };
  run.inside = [&](int) {
    std::string e = check_fs("/mnt/data", TMPFS_MAGIC);
    if (!exists("/mnt/bound/sentinel")) e += "/mnt/bound empty\n";
    e += check_read_only("/mnt/bound");
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(check_host_untouched(host), "");
  EXPECT_EQ(read_file(host + "/sentinel").value_or(""), "host");
}

TEST(RootfsSecurity, DevSymlinkToTheHostGetsNoWrites) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string host = make_host_dir(bundle, "hostdev");
  ASSERT_EQ(::rmdir((bundle.rootfs() + "/dev").c_str()), 0);
  ASSERT_EQ(::symlink(host.c_str(), (bundle.rootfs() + "/dev").c_str()), 0);
  ContainerRun run;
  run.spec = default_spec();
  run.spec.linux->devices = {{"c", "/dev/extra", 1, 3, 0600, 0, 0}};
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.after_prepare = [&](const Result<>&) { return check_host_untouched(host); };
  run.inside = [](int) {
    return check_char_device("/dev/null", 1, 3) + check_char_device("/dev/extra", 1, 3) +
           check_fs("/dev/pts", DEVPTS_SUPER_MAGIC);
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(check_host_untouched(host), "");
}

TEST(RootfsSecurity, DevSymlinkWithoutDevMountCreatesDevicesInsideOnly) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string host = make_host_dir(bundle, "hostdev");
  ASSERT_EQ(::rmdir((bundle.rootfs() + "/dev").c_str()), 0);
  ASSERT_EQ(::symlink(host.c_str(), (bundle.rootfs() + "/dev").c_str()), 0);
  ContainerRun run;
  run.spec = default_spec();
  // No /dev mount: the image's /dev is used and only linux.devices are made (runc).
  std::erase_if(run.spec.mounts,
                [](const oci::Mount& m) { return m.destination.starts_with("/dev"); });
  run.spec.linux->devices = {{"c", "/dev/extra", 1, 3, 0600, 0, 0}};
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.spec.linux->masked_paths.clear();
  run.after_prepare = [&](const Result<>&) {
    std::string e = check_host_untouched(host);
    e += check_char_device(bundle.rootfs() + host + "/extra", 1, 3);
    return e;
  };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(check_host_untouched(host), "");
}

TEST(RootfsSecurity, MaskedPathsRefuseAFakeDevNull) {
  for (bool as_symlink : {true, false}) {
    TempBundle bundle;
    SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
    std::string fake = bundle.rootfs() + "/dev/null";
    if (as_symlink) {
      ASSERT_EQ(::symlink("/proc/sys/kernel/core_pattern", fake.c_str()), 0);
    } else {
      ASSERT_TRUE(write_file_atomic(fake, "", 0666, false));
    }
    ContainerRun run;
    run.spec = default_spec();
    std::erase_if(run.spec.mounts,
                  [](const oci::Mount& m) { return m.destination.starts_with("/dev"); });
    run.spec.linux->readonly_paths.clear();
    run.spec.linux->masked_paths = {"/proc/acpi", "/proc/keys"};
    run.opts.rootfs = bundle.rootfs();
    run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
    RunResult r = run_container(run);
    EXPECT_EQ(r.output, "finalize: linux.maskedPaths /proc/keys: /dev/null is not the null device");
  }
}

TEST(RootfsSecurity, MountsInsideProcAreRefused) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  ContainerRun run;
  run.spec = default_spec();
  run.spec.mounts.push_back({"/proc/sys", "tmpfs", "tmpfs", {}});
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  RunResult r = run_container(run);
  EXPECT_EQ(r.output,
            "prepare: mount /proc/sys (type tmpfs): \"/proc/sys\" cannot be mounted because it is "
            "inside /proc");
  // The same through a symlink of the image: /evil -> /proc/sys.
  ASSERT_EQ(::symlink("/proc/sys", (bundle.rootfs() + "/evil").c_str()), 0);
  run.spec.mounts.back().destination = "/evil";
  r = run_container(run);
  EXPECT_EQ(r.output,
            "prepare: mount /evil (type tmpfs): \"/evil\" cannot be mounted because it is inside "
            "/proc");
  // lxcfs-style file overmounts stay allowed.
  std::string src = bundle.dir() + "/meminfo";
  ASSERT_TRUE(write_file_atomic(src, "MemTotal: 1 kB\n", 0644, false));
  run.spec.mounts.back() = {"/proc/meminfo", "bind", src, {"bind", "ro"}};
  run.inside = [](int) {
    auto m = read_file("/proc/meminfo");
    return m && *m == "MemTotal: 1 kB\n" ? std::string() : std::string("meminfo not overmounted");
  };
  r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
}

TEST(RootfsSecurity, DevicePathsCannotClimbOutOfTheRootfs) {
  TempBundle bundle;
  SKIP_UNLESS_ROOT_AND_BUNDLE(bundle);
  std::string host = make_host_dir(bundle, "host");
  ContainerRun run;
  run.spec = default_spec();
  run.spec.linux->devices = {{"c", "/dev/../../../../.." + host + "/x", 1, 3, 0666, 0, 0}};
  run.opts.rootfs = bundle.rootfs();
  run.unshare_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC;
  run.after_prepare = [&](const Result<>&) { return check_host_untouched(host); };
  run.inside = [&](int) { return check_char_device(host + "/x", 1, 3); };
  RunResult r = run_container(run);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(check_host_untouched(host), "");
}

}  // namespace
}  // namespace berth::runtime::rootfs
