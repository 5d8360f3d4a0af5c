// Test support (test binary only): a fake cgroup tree of regular files standing in for cgroupfs,
// and the shared CgroupManagerTestSuite that every backend runs (containerd's
// snapshots/testsuite pattern). A Harness says where the cgroup lives (fake v1, fake hybrid,
// fake v2, or the real host) and plays the kernel's part on a fake tree: populating a new
// cgroup's files, and emptying directories before rmdir.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/cgroups/manager.h"

namespace berth::runtime::cgroups::testing {

// A temporary directory tree of regular files, removed on destruction.
class FakeTree {
 public:
  FakeTree();
  ~FakeTree();
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }
  void write(const std::string& rel, const std::string& content);  // creates parents
  std::string read(const std::string& rel) const;                  // "<missing>" if absent
  bool exists(const std::string& rel) const;
  void mkdir(const std::string& rel);

  // A v1 hierarchy root "name" (e.g. "memory", "cpu,cpuacct", "systemd") with its files.
  void add_v1_hierarchy(const std::string& name);
  // The files the kernel shows in a new cgroup directory of a v1 hierarchy / of cgroup2.
  void populate_v1_cgroup(const std::string& hierarchy, const std::string& rel_dir);
  void populate_v2_cgroup(const std::string& rel_dir, const std::string& controllers);
  // Removes the regular files below rel (what rmdir on cgroupfs does not need).
  void strip_files(const std::string& rel);

  // Standard layouts. v1: cpu,cpuacct co-mounted (with symlinks), cpuset, memory, devices,
  // freezer, blkio, pids, hugetlb, net_cls, net_prio, systemd. hybrid: the same plus unified/
  // offering "hugetlb" (minus the v1 hugetlb mount when hugetlb_on_v2). v2: the root offers
  // "cpuset cpu io memory hugetlb pids".
  static std::unique_ptr<FakeTree> v1();
  static std::unique_ptr<FakeTree> hybrid(bool hugetlb_on_v2 = false);
  static std::unique_ptr<FakeTree> v2();

 private:
  std::string root_;
};

// Plays the kernel for a manager on a fake tree: gives each of its directories the files a new
// cgroup would have (v2_controllers for the v2 / unified directory).
void populate_fake_cgroups(FakeTree& tree, const CgroupManager& m,
                           const std::string& v2_controllers);

// Where the shared suite runs.
class Harness {
 public:
  virtual ~Harness() = default;
  // Empty when usable; else why the suite must be skipped (not root, no such hierarchy).
  virtual std::string skip_reason() const { return {}; }
  virtual CgroupConfig config(const std::string& cgroups_path) = 0;
  // True when the kernel does the work (processes move, freezing stops them).
  virtual bool real() const = 0;
  virtual void before_create(const CgroupManager&) {}
  virtual void before_destroy(const CgroupManager&) {}
  virtual Mode expected_mode() const = 0;
};

struct HarnessFactory {
  std::string name;
  std::function<std::unique_ptr<Harness>()> make;
};

// Test names and parameter dumps show the harness name.
inline void PrintTo(const HarnessFactory& f, std::ostream* os) {
  *os << f.name;
}

std::unique_ptr<Harness> fake_v1_harness();
std::unique_ptr<Harness> fake_hybrid_harness();
std::unique_ptr<Harness> fake_v2_harness();
// The host's own hierarchy at /sys/fs/cgroup (whatever it is); needs root.
std::unique_ptr<Harness> host_harness();
// The hybrid host's /sys/fs/cgroup/unified driven as a pure v2 root (through a ScratchCgroup2
// below it); needs root and cgroup2 there.
std::unique_ptr<Harness> unified_as_v2_harness();

// Records root/cgroup.subtree_control and on destruction disables what was enabled since:
// create() on v2 enables controllers in the root, as runc does, and tests give the host back
// what it had.
class SubtreeControlRestorer {
 public:
  explicit SubtreeControlRestorer(std::string root);
  ~SubtreeControlRestorer();
  SubtreeControlRestorer(const SubtreeControlRestorer&) = delete;
  SubtreeControlRestorer& operator=(const SubtreeControlRestorer&) = delete;

 private:
  std::string root_;
  std::vector<std::string> saved_;
};

// A private cgroup2 directory (parent/berth-test-<pid>-<n>-root) to use as a v2 manager's root in
// tests: create() then enables controllers in it instead of in the host's root, so tests running
// in parallel never change host state. Removed (with anything left below it) on destruction.
class ScratchCgroup2 {
 public:
  explicit ScratchCgroup2(const std::string& parent);
  ~ScratchCgroup2();
  ScratchCgroup2(const ScratchCgroup2&) = delete;
  ScratchCgroup2& operator=(const ScratchCgroup2&) = delete;
  bool ok() const { return ok_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool ok_ = false;
};

// A unique cgroup name for this process and test: "/berth-test-<pid>-<n>".
std::string unique_cgroup_path();

// A forked child that waits in pause() until killed; reaped on destruction.
class Sleeper {
 public:
  Sleeper();
  ~Sleeper();
  pid_t pid() const { return pid_; }
  // Waits for the child to end; returns its wait status, or -1 on timeout.
  int wait_exit(int timeout_ms = 5000);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

class CgroupManagerTestSuite : public ::testing::TestWithParam<HarnessFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // A manager for a fresh unique cgroup, created (harness hooks included).
  std::unique_ptr<CgroupManager> make_created();

  std::unique_ptr<Harness> harness_;
  std::vector<std::unique_ptr<CgroupManager>> managers_;  // destroyed in TearDown
};

std::string suite_name(const ::testing::TestParamInfo<HarnessFactory>& info);

}  // namespace berth::runtime::cgroups::testing
