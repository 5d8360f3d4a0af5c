// Root-only tests on the machine's real cgroups (skipped otherwise): the shared suite on the
// host hierarchy and on the hybrid host's unified mount driven as pure v2, then what the kernel
// shows after apply/freeze/destroy, an OOM kill, and the eBPF device filter denying a device.
// Every cgroup has a unique name and is removed in TearDown, also when a test fails.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "runtime/cgroups/testsuite.h"

namespace berth::runtime::cgroups::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Host, CgroupManagerTestSuite,
                         ::testing::Values(HarnessFactory{"Host", host_harness},
                                           HarnessFactory{"UnifiedAsV2", unified_as_v2_harness}),
                         suite_name);

bool is_cgroup2(const std::string& p) {
  struct statfs sf;
  return ::statfs(p.c_str(), &sf) == 0 && sf.f_type == 0x63677270;
}

// A child that waits for a byte on a pipe, then runs body and exits with its result: lets the
// parent move it into the cgroup before it does anything.
class GatedChild {
 public:
  template <class F>
  explicit GatedChild(F body) {
    if (::pipe2(fds_, O_CLOEXEC) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      char c;
      ::close(fds_[1]);
      if (::read(fds_[0], &c, 1) != 1) ::_exit(100);
      ::_exit(body());
    }
    ::close(fds_[0]);
  }
  ~GatedChild() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  pid_t pid() const { return pid_; }
  void go() {
    char c = 'x';
    (void)!::write(fds_[1], &c, 1);
    ::close(fds_[1]);
    fds_[1] = -1;
  }
  int wait() {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    reaped_ = true;
    return st;
  }

 private:
  int fds_[2] = {-1, -1};
  pid_t pid_ = -1;
  bool reaped_ = false;
};

class CgroupHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!path_exists("/sys/fs/cgroup")) GTEST_SKIP() << "no /sys/fs/cgroup";
  }
  void TearDown() override {
    if (m_) {
      (void)m_->kill_all(SIGKILL);
      (void)m_->destroy();
    }
  }
  std::unique_ptr<CgroupManager>& make(const std::string& root = "/sys/fs/cgroup",
                                       std::optional<Mode> mode = std::nullopt) {
    name_ = unique_cgroup_path();
    restorer_ = std::make_unique<SubtreeControlRestorer>(root);
    CgroupConfig c;
    c.cgroups_path = name_;
    c.container_id = "host-test";
    c.root = root;
    c.mode = mode;
    auto m = make_cgroup_manager(c);
    EXPECT_TRUE(m) << m.error().message();
    if (m) {
      m_ = std::move(*m);
      auto created = m_->create();
      EXPECT_TRUE(created) << created.error().message();
    }
    return m_;
  }

  std::string name_;
  // Declared before m_: they outlive the container cgroup (removed in TearDown).
  std::unique_ptr<ScratchCgroup2> scratch_;
  std::unique_ptr<SubtreeControlRestorer> restorer_;
  std::unique_ptr<CgroupManager> m_;
};

TEST_F(CgroupHostTest, MemoryLimitIsWhatTheKernelReportsBack) {
  auto& m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 64 << 20;
  auto res = m->apply(r);
  ASSERT_TRUE(res) << res.error().message();
  std::string file = m->mode() == Mode::kV2
                         ? "/sys/fs/cgroup" + name_ + "/memory.max"
                         : "/sys/fs/cgroup/memory" + name_ + "/memory.limit_in_bytes";
  EXPECT_EQ(read_file(file).value_or("?"), "67108864\n");
}

TEST_F(CgroupHostTest, NewCpusetInheritsTheParentsCpusAndMems) {
  auto& m = make();
  ASSERT_TRUE(m);
  if (m->mode() == Mode::kV2) GTEST_SKIP() << "v1 only";
  auto parent = read_file("/sys/fs/cgroup/cpuset/cpuset.cpus");
  ASSERT_TRUE(parent);
  EXPECT_EQ(read_file("/sys/fs/cgroup/cpuset" + name_ + "/cpuset.cpus").value_or("?"), *parent);
  Sleeper s;
  EXPECT_TRUE(m->add_process(s.pid())) << "a cpuset without cpus would refuse the task";
}

TEST_F(CgroupHostTest, FreezeIsVisibleInTheFreezerAndThawUndoesIt) {
  auto& m = make();
  ASSERT_TRUE(m);
  Sleeper s;
  ASSERT_TRUE(m->add_process(s.pid()));
  ASSERT_TRUE(m->freeze());
  if (m->mode() == Mode::kV2) {
    EXPECT_NE(read_file("/sys/fs/cgroup" + name_ + "/cgroup.events").value_or("").find("frozen 1"),
              std::string::npos);
  } else {
    EXPECT_EQ(read_file("/sys/fs/cgroup/freezer" + name_ + "/freezer.state").value_or("?"),
              "FROZEN\n");
  }
  ASSERT_TRUE(m->thaw());
  if (m->mode() != Mode::kV2) {
    EXPECT_EQ(read_file("/sys/fs/cgroup/freezer" + name_ + "/freezer.state").value_or("?"),
              "THAWED\n");
  }
}

TEST_F(CgroupHostTest, DestroyLeavesNoDirectoryInAnyHierarchy) {
  auto& m = make();
  ASSERT_TRUE(m);
  Sleeper s;
  ASSERT_TRUE(m->add_process(s.pid()));
  ASSERT_TRUE(m->kill_all(SIGKILL));
  auto d = m->destroy();
  ASSERT_TRUE(d) << d.error().message();
  DIR* dir = ::opendir("/sys/fs/cgroup");
  ASSERT_TRUE(dir);
  int checked = 0;
  while (struct dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.' || e->d_type != DT_DIR) continue;
    std::string p = std::string("/sys/fs/cgroup/") + e->d_name + name_;
    EXPECT_FALSE(path_exists(p)) << p;  // includes /sys/fs/cgroup/unified/<name> on hybrid
    ++checked;
  }
  ::closedir(dir);
  EXPECT_FALSE(path_exists("/sys/fs/cgroup" + name_));
  if (m->mode() == Mode::kHybrid) {
    EXPECT_GE(checked, 2);
  }
}

TEST_F(CgroupHostTest, OomKillIsReported) {
  auto& m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 32 << 20;
  r.memory->swap = 32 << 20;  // memory+swap = memory: no escape to swap
  auto res = m->apply(r);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(m->oom_killed(), false);
  GatedChild child([] {
    const size_t size = 256 << 20;
    char* p = static_cast<char*>(
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 2;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    return 0;
  });
  ASSERT_TRUE(m->add_process(child.pid()));
  child.go();
  int st = child.wait();
  ASSERT_TRUE(WIFSIGNALED(st)) << "child was not killed, status " << st;
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
  EXPECT_EQ(m->oom_killed(), true);
}

TEST_F(CgroupHostTest, V1DevicesListMatchesTheRules) {
  auto& m = make();
  ASSERT_TRUE(m);
  if (m->mode() == Mode::kV2) GTEST_SKIP() << "v1 only";
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
               {true, "c", 1, 3, "rwm"},
               {true, "c", 1, 5, "r"}};
  auto res = m->apply(r);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(read_file("/sys/fs/cgroup/devices" + name_ + "/devices.list").value_or("?"),
            "c 1:3 rwm\nc 1:5 r\n");
  // Applying the same rules again is a no-op transition; a change writes only the difference.
  r.devices[2].access = "rw";
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(read_file("/sys/fs/cgroup/devices" + name_ + "/devices.list").value_or("?"),
            "c 1:3 rwm\nc 1:5 rw\n");
}

// The eBPF device filter, on a cgroup2 hierarchy: the host's own when it is v2, else the hybrid
// host's unified mount.
TEST_F(CgroupHostTest, EbpfDeviceFilterDeniesWhatIsNotAllowed) {
  std::string root = "/sys/fs/cgroup";
  if (!is_cgroup2(root)) {
    if (!is_cgroup2("/sys/fs/cgroup/unified")) GTEST_SKIP() << "no cgroup2 hierarchy";
    // A private parent, so that create() enables controllers there and not in the host's root.
    scratch_ = std::make_unique<ScratchCgroup2>("/sys/fs/cgroup/unified");
    ASSERT_TRUE(scratch_->ok());
    root = scratch_->path();
  }
  auto& m = make(root, Mode::kV2);
  ASSERT_TRUE(m);
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rwm"}};
  auto res = m->apply(r);
  ASSERT_TRUE(res) << res.error().message();
  auto probe = [] {
    int code = 0;
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      code |= 1;  // allowed device refused
    else
      ::close(fd);
    fd = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      code |= 2;  // denied device opened
      ::close(fd);
    } else if (errno != EPERM) {
      code |= 4;
    }
    return code;
  };
  {
    GatedChild child(probe);
    ASSERT_TRUE(m->add_process(child.pid()));
    child.go();
    int st = child.wait();
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 0) << "1: /dev/null refused, 2: /dev/zero allowed, 4: not EPERM";
  }
  // A second apply replaces the filter rather than stacking a stricter one.
  r.devices.push_back({true, "c", 1, 5, "r"});
  ASSERT_TRUE(m->apply(r));
  GatedChild child([] {
    int fd = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? 0 : 1;
  });
  ASSERT_TRUE(m->add_process(child.pid()));
  child.go();
  int st = child.wait();
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "/dev/zero still denied after the filter was replaced";
}

}  // namespace
}  // namespace berth::runtime::cgroups::testing
