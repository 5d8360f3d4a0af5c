// The shared CgroupManagerTestSuite (instantiated per backend in v1_test.cc, v2_test.cc and
// host_test.cc), its harnesses, and the fake cgroup tree.
#include "runtime/cgroups/testsuite.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>

#include "base/file.h"
#include "base/strings.h"
#include "runtime/cgroups/internal.h"

namespace berth::runtime::cgroups::testing {

namespace {

const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& v1_files() {
  static const std::map<std::string, std::vector<std::pair<std::string, std::string>>> files = {
      {"cpuset", {{"cpuset.cpus", ""}, {"cpuset.mems", ""}}},
      {"cpu",
       {{"cpu.shares", "1024\n"},
        {"cpu.cfs_period_us", "100000\n"},
        {"cpu.cfs_quota_us", "-1\n"},
        {"cpu.cfs_burst_us", "0\n"},
        {"cpu.rt_period_us", "1000000\n"},
        {"cpu.rt_runtime_us", "0\n"},
        {"cpu.idle", "0\n"}}},
      {"cpuacct", {{"cpuacct.usage", "0\n"}}},
      {"memory",
       {{"memory.limit_in_bytes", "9223372036854771712\n"},
        {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
        {"memory.soft_limit_in_bytes", "9223372036854771712\n"},
        {"memory.kmem.limit_in_bytes", "9223372036854771712\n"},
        {"memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n"},
        {"memory.swappiness", "60\n"},
        {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"}}},
      {"devices", {{"devices.allow", ""}, {"devices.deny", ""}, {"devices.list", "a *:* rwm\n"}}},
      // No freezer.self_freezing: a file cannot turn 1 when we freeze (older kernels lack it too).
      {"freezer", {{"freezer.state", "THAWED\n"}}},
      {"blkio",
       {{"blkio.bfq.weight", "100\n"},
        {"blkio.bfq.weight_device", ""},
        {"blkio.throttle.read_bps_device", ""},
        {"blkio.throttle.write_bps_device", ""},
        {"blkio.throttle.read_iops_device", ""},
        {"blkio.throttle.write_iops_device", ""}}},
      {"pids", {{"pids.max", "max\n"}}},
      {"hugetlb",
       {{"hugetlb.2MB.limit_in_bytes", "9223372036854771712\n"},
        {"hugetlb.2MB.rsvd.limit_in_bytes", "9223372036854771712\n"},
        {"hugetlb.1GB.limit_in_bytes", "9223372036854771712\n"},
        {"hugetlb.1GB.rsvd.limit_in_bytes", "9223372036854771712\n"}}},
      {"net_cls", {{"net_cls.classid", "0\n"}}},
      {"net_prio", {{"net_prio.ifpriomap", ""}}},
      {"systemd", {}},
  };
  return files;
}

const std::map<std::string, std::vector<std::pair<std::string, std::string>>>& v2_files() {
  static const std::map<std::string, std::vector<std::pair<std::string, std::string>>> files = {
      {"memory",
       {{"memory.max", "max\n"},
        {"memory.swap.max", "max\n"},
        {"memory.low", "0\n"},
        {"memory.current", "0\n"},
        {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"}}},
      {"cpu",
       {{"cpu.weight", "100\n"},
        {"cpu.max", "max 100000\n"},
        {"cpu.max.burst", "0\n"},
        {"cpu.idle", "0\n"}}},
      {"cpuset", {{"cpuset.cpus", ""}, {"cpuset.mems", ""}}},
      {"io", {{"io.weight", "default 100\n"}, {"io.max", ""}}},
      {"pids", {{"pids.max", "max\n"}}},
      {"hugetlb",
       {{"hugetlb.2MB.max", "max\n"},
        {"hugetlb.2MB.rsvd.max", "max\n"},
        {"hugetlb.1GB.max", "max\n"},
        {"hugetlb.1GB.rsvd.max", "max\n"}}},
  };
  return files;
}

bool is_cgroup2(const std::string& path) {
  struct statfs sf;
  return ::statfs(path.c_str(), &sf) == 0 && static_cast<unsigned long>(sf.f_type) == 0x63677270;
}

}  // namespace

// ---- FakeTree ----

FakeTree::FakeTree() {
  // tmpfs when there is one: a fake tree is ~100 small files, slow to make on a disk.
  for (const char* base : {"/dev/shm", "/tmp"}) {
    std::string tmpl = std::string(base) + "/berth-cgtest-XXXXXX";
    if (const char* d = ::mkdtemp(tmpl.data())) {
      root_ = d;
      return;
    }
  }
  std::abort();
}

FakeTree::~FakeTree() {
  (void)remove_all(root_);
}

void FakeTree::write(const std::string& rel, const std::string& content) {
  std::string p = path(rel);
  (void)mkdir_all(p.substr(0, p.find_last_of('/')));
  std::ofstream(p, std::ios::trunc) << content;
}

std::string FakeTree::read(const std::string& rel) const {
  std::ifstream f(path(rel));
  if (!f) return "<missing>";
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool FakeTree::exists(const std::string& rel) const {
  return path_exists(path(rel));
}

void FakeTree::mkdir(const std::string& rel) {
  (void)mkdir_all(path(rel));
}

void FakeTree::populate_v1_cgroup(const std::string& hierarchy, const std::string& rel_dir) {
  mkdir(rel_dir);
  write(rel_dir + "/cgroup.procs", "");
  write(rel_dir + "/tasks", "");
  for (const auto& c : split(hierarchy, ',')) {
    auto it = v1_files().find(c);
    if (it == v1_files().end()) continue;
    for (const auto& [file, content] : it->second) write(rel_dir + "/" + file, content);
  }
}

void FakeTree::add_v1_hierarchy(const std::string& name) {
  populate_v1_cgroup(name, name);
  if (name == "cpuset") {
    write("cpuset/cpuset.cpus", "0-1\n");
    write("cpuset/cpuset.mems", "0\n");
  }
}

void FakeTree::populate_v2_cgroup(const std::string& rel_dir, const std::string& controllers) {
  mkdir(rel_dir);
  write(rel_dir + "/cgroup.procs", "");
  write(rel_dir + "/cgroup.controllers", controllers + "\n");
  write(rel_dir + "/cgroup.subtree_control", "");
  write(rel_dir + "/cgroup.freeze", "0\n");
  // A regular file cannot change by itself: it reads "frozen 1" so that a freeze completes.
  write(rel_dir + "/cgroup.events", "populated 0\nfrozen 1\n");
  write(rel_dir + "/cgroup.kill", "");
  for (const auto& c : split(controllers, ' ')) {
    auto it = v2_files().find(c);
    if (it == v2_files().end()) continue;
    for (const auto& [file, content] : it->second) write(rel_dir + "/" + file, content);
  }
}

void FakeTree::strip_files(const std::string& rel) {
  std::string p = path(rel);
  DIR* d = ::opendir(p.c_str());
  if (!d) return;
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    entries.emplace_back(n, e->d_type == DT_DIR);
  }
  ::closedir(d);
  for (const auto& [n, dir] : entries) {
    if (dir)
      strip_files(rel + "/" + n);
    else
      ::unlink((p + "/" + n).c_str());
  }
}

std::unique_ptr<FakeTree> FakeTree::v1() {
  auto t = std::make_unique<FakeTree>();
  for (const char* h : {"cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                        "hugetlb", "net_cls", "net_prio", "systemd"})
    t->add_v1_hierarchy(h);
  // systemd's symlinks for the co-mount: they must not count as hierarchies of their own.
  (void)::symlink("cpu,cpuacct", t->path("cpu").c_str());
  (void)::symlink("cpu,cpuacct", t->path("cpuacct").c_str());
  return t;
}

std::unique_ptr<FakeTree> FakeTree::hybrid(bool hugetlb_on_v2) {
  auto t = std::make_unique<FakeTree>();
  for (const char* h : {"cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                        "net_cls", "net_prio", "systemd"})
    t->add_v1_hierarchy(h);
  if (!hugetlb_on_v2) t->add_v1_hierarchy("hugetlb");
  t->populate_v2_cgroup("unified", hugetlb_on_v2 ? "hugetlb" : "");
  return t;
}

std::unique_ptr<FakeTree> FakeTree::v2() {
  auto t = std::make_unique<FakeTree>();
  t->write("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
  t->write("cgroup.subtree_control", "");
  t->write("cgroup.procs", "");
  return t;
}

void populate_fake_cgroups(FakeTree& tree, const CgroupManager& m,
                           const std::string& v2_controllers) {
  for (const auto& [controller, dir] : m.paths()) {
    std::string rel = dir.substr(tree.root().size() + 1);
    if (controller.empty())
      tree.populate_v2_cgroup(rel, v2_controllers);
    else
      tree.populate_v1_cgroup(rel.substr(0, rel.find('/')), rel);
  }
}

// ---- harnesses ----

namespace {

class FakeHarness : public Harness {
 public:
  FakeHarness(std::unique_ptr<FakeTree> tree, Mode mode, std::string v2_controllers)
      : tree_(std::move(tree)), mode_(mode), v2_controllers_(std::move(v2_controllers)) {}
  CgroupConfig config(const std::string& cgroups_path) override {
    CgroupConfig c;
    c.cgroups_path = cgroups_path;
    c.container_id = "test";
    c.root = tree_->root();
    return c;
  }
  bool real() const override { return false; }
  Mode expected_mode() const override { return mode_; }
  // The kernel gives a new cgroup its files; here the harness does, before create().
  void before_create(const CgroupManager& m) override {
    populate_fake_cgroups(*tree_, m, v2_controllers_);
  }
  // rmdir works on a cgroup with its files; on a fake tree they must go first.
  void before_destroy(const CgroupManager& m) override {
    for (const auto& [controller, dir] : m.paths())
      if (dir.size() > tree_->root().size())
        tree_->strip_files(dir.substr(tree_->root().size() + 1));
  }

 private:
  std::unique_ptr<FakeTree> tree_;
  Mode mode_;
  std::string v2_controllers_;
};

class HostHarness : public Harness {
 public:
  HostHarness(const std::string& root, std::optional<Mode> forced, bool scratch) : forced_(forced) {
    if (::geteuid() != 0) {
      why_ = "needs root";
    } else if (!path_exists(root)) {
      why_ = root + " does not exist";
    } else if (forced == Mode::kV2 && !is_cgroup2(root)) {
      why_ = root + " is not a cgroup2 mount";
    } else if (scratch) {
      scratch_ = std::make_unique<ScratchCgroup2>(root);
      if (!scratch_->ok()) why_ = "cannot create a scratch cgroup under " + root;
      root_ = scratch_->path();
    } else {
      root_ = root;
      restorer_ = std::make_unique<SubtreeControlRestorer>(root_);
    }
  }
  std::string skip_reason() const override { return why_; }
  CgroupConfig config(const std::string& cgroups_path) override {
    CgroupConfig c;
    c.cgroups_path = cgroups_path;
    c.container_id = "test";
    c.root = root_;
    c.mode = forced_;
    return c;
  }
  bool real() const override { return true; }
  Mode expected_mode() const override {
    if (forced_) return *forced_;
    auto m = detect_mode(root_);
    return m ? *m : Mode::kV1;
  }

 private:
  std::optional<Mode> forced_;
  std::string why_;
  std::string root_;
  std::unique_ptr<ScratchCgroup2> scratch_;
  std::unique_ptr<SubtreeControlRestorer> restorer_;
};

}  // namespace

std::unique_ptr<Harness> fake_v1_harness() {
  return std::make_unique<FakeHarness>(FakeTree::v1(), Mode::kV1, "");
}
std::unique_ptr<Harness> fake_hybrid_harness() {
  return std::make_unique<FakeHarness>(FakeTree::hybrid(), Mode::kHybrid, "");  // unified: none
}
std::unique_ptr<Harness> fake_v2_harness() {
  return std::make_unique<FakeHarness>(FakeTree::v2(), Mode::kV2,
                                       "cpuset cpu io memory hugetlb pids");
}
std::unique_ptr<Harness> host_harness() {
  return std::make_unique<HostHarness>("/sys/fs/cgroup", std::nullopt, false);
}
std::unique_ptr<Harness> unified_as_v2_harness() {
  return std::make_unique<HostHarness>("/sys/fs/cgroup/unified", Mode::kV2, true);
}

static std::vector<std::string> subtree_words(const std::string& root) {
  std::vector<std::string> out;
  if (auto s = read_file(root + "/cgroup.subtree_control"))
    for (auto& w : split(std::string(trim(*s)), ' '))
      if (!w.empty()) out.push_back(w);
  return out;
}

SubtreeControlRestorer::SubtreeControlRestorer(std::string root)
    : root_(std::move(root)), saved_(subtree_words(root_)) {}

SubtreeControlRestorer::~SubtreeControlRestorer() {
  for (const auto& c : subtree_words(root_))
    if (std::find(saved_.begin(), saved_.end(), c) == saved_.end())
      (void)write_file(root_ + "/cgroup.subtree_control", "-" + c);
}

ScratchCgroup2::ScratchCgroup2(const std::string& parent) {
  path_ = parent + unique_cgroup_path() + "-root";
  ok_ = ::mkdir(path_.c_str(), 0755) == 0;
}

ScratchCgroup2::~ScratchCgroup2() {
  if (ok_) (void)detail::remove_cgroup(path_);
}

std::string unique_cgroup_path() {
  static std::atomic<int> counter{0};
  return "/berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// ---- Sleeper ----

Sleeper::Sleeper() {
  pid_ = ::fork();
  if (pid_ == 0) {
    for (;;) ::pause();
  }
}

Sleeper::~Sleeper() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
}

int Sleeper::wait_exit(int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 5) {
    int st;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return st;
    }
    struct timespec ts {
      0, 5'000'000
    };
    ::nanosleep(&ts, nullptr);
  }
  return -1;
}

// ---- the suite ----

std::string suite_name(const ::testing::TestParamInfo<HarnessFactory>& info) {
  return info.param.name;
}

void CgroupManagerTestSuite::SetUp() {
  harness_ = GetParam().make();
  if (auto why = harness_->skip_reason(); !why.empty()) GTEST_SKIP() << why;
}

void CgroupManagerTestSuite::TearDown() {
  for (auto& m : managers_) {
    if (harness_->real()) (void)m->kill_all(SIGKILL);
    harness_->before_destroy(*m);
    (void)m->destroy();
  }
}

std::unique_ptr<CgroupManager> CgroupManagerTestSuite::make_created() {
  auto m = make_cgroup_manager(harness_->config(unique_cgroup_path()));
  EXPECT_TRUE(m.has_value()) << m.error().message();
  if (!m) return nullptr;
  harness_->before_create(**m);
  auto created = (*m)->create();
  EXPECT_TRUE(created.has_value()) << created.error().message();
  // Keep a second manager on the same paths for TearDown, so tests may move theirs.
  CgroupConfig again = harness_->config("/unused");
  again.paths = (*m)->paths();
  auto keeper = make_cgroup_manager(again);
  EXPECT_TRUE(keeper.has_value());
  if (keeper) managers_.push_back(std::move(*keeper));
  return std::move(*m);
}

namespace {

bool contains(const std::vector<pid_t>& v, pid_t p) {
  return std::find(v.begin(), v.end(), p) != v.end();
}

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

TEST_P(CgroupManagerTestSuite, DetectsTheHostMode) {
  auto m = make_created();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode(), harness_->expected_mode());
}

TEST_P(CgroupManagerTestSuite, CreateMakesTheDirectoryInEveryHierarchy) {
  auto m = make_created();
  ASSERT_TRUE(m);
  std::string name = m->path();
  EXPECT_TRUE(name.starts_with("/berth-test-")) << name;
  auto paths = m->paths();
  ASSERT_FALSE(paths.empty());
  for (const auto& [controller, dir] : paths) {
    EXPECT_TRUE(is_dir(dir)) << controller << " " << dir;
    EXPECT_TRUE(dir.ends_with(name)) << dir;
  }
  EXPECT_EQ(paths.contains("memory"), m->mode() != Mode::kV2);
  EXPECT_EQ(paths.contains(""), m->mode() != Mode::kV1);
  EXPECT_TRUE(m->create()) << "create is idempotent";
}

TEST_P(CgroupManagerTestSuite, AddProcessMakesPidsListIt) {
  auto m = make_created();
  ASSERT_TRUE(m);
  Sleeper child;
  ASSERT_TRUE(m->add_process(child.pid()));
  auto pids = m->pids();
  ASSERT_TRUE(pids) << pids.error().message();
  EXPECT_TRUE(contains(*pids, child.pid()));
  if (harness_->real()) {
    auto own = read_file("/proc/" + std::to_string(child.pid()) + "/cgroup");
    ASSERT_TRUE(own);
    EXPECT_NE(own->find(m->path()), std::string::npos) << *own;
  }
}

TEST_P(CgroupManagerTestSuite, FreezeThenThawRoundTrips) {
  auto m = make_created();
  ASSERT_TRUE(m);
  Sleeper child;
  ASSERT_TRUE(m->add_process(child.pid()));
  EXPECT_EQ(m->frozen(), false);
  auto f = m->freeze();
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(m->frozen(), true);
  ASSERT_TRUE(m->thaw());
  EXPECT_EQ(m->frozen(), false);
}

TEST_P(CgroupManagerTestSuite, KillAllWithSigkillKillsEveryProcess) {
  if (!harness_->real()) GTEST_SKIP() << "needs a kernel to deliver signals";
  auto m = make_created();
  ASSERT_TRUE(m);
  Sleeper a, b;
  ASSERT_TRUE(m->add_process(a.pid()));
  ASSERT_TRUE(m->add_process(b.pid()));
  auto k = m->kill_all(SIGKILL);
  ASSERT_TRUE(k) << k.error().message();
  for (Sleeper* s : {&a, &b}) {
    int st = s->wait_exit();
    ASSERT_NE(st, -1) << "process survived kill_all";
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  }
}

TEST_P(CgroupManagerTestSuite, KillAllDeliversOtherSignalsToAFrozenCgroupToo) {
  if (!harness_->real()) GTEST_SKIP() << "needs a kernel to deliver signals";
  auto m = make_created();
  ASSERT_TRUE(m);
  Sleeper a;
  ASSERT_TRUE(m->add_process(a.pid()));
  auto k = m->kill_all(SIGTERM);
  ASSERT_TRUE(k) << k.error().message();
  int st = a.wait_exit();
  ASSERT_NE(st, -1);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
  EXPECT_EQ(m->frozen(), false) << "kill_all must thaw what it froze";
}

TEST_P(CgroupManagerTestSuite, DestroyRemovesEveryDirectoryAndChildCgroups) {
  auto m = make_created();
  ASSERT_TRUE(m);
  for (const auto& [c, dir] : m->paths())
    ASSERT_EQ(::mkdir((dir + "/sub").c_str(), 0755) == 0 || errno == EEXIST, true);
  for (const auto& [c, dir] : m->paths()) (void)::mkdir((dir + "/sub/leaf").c_str(), 0755);
  harness_->before_destroy(*m);
  auto d = m->destroy();
  ASSERT_TRUE(d) << d.error().message();
  for (const auto& [c, dir] : m->paths()) EXPECT_FALSE(path_exists(dir)) << dir;
  EXPECT_TRUE(m->destroy()) << "destroying what is gone is fine";
}

TEST_P(CgroupManagerTestSuite, DestroyRightAfterKillWaitsForTheDyingProcess) {
  if (!harness_->real()) GTEST_SKIP() << "needs processes that take time to die";
  auto m = make_created();
  ASSERT_TRUE(m);
  Sleeper a;
  ASSERT_TRUE(m->add_process(a.pid()));
  ASSERT_TRUE(m->kill_all(SIGKILL));
  auto d = m->destroy();  // the child may still be exiting: EBUSY is retried
  ASSERT_TRUE(d) << d.error().message();
  for (const auto& [c, dir] : m->paths()) EXPECT_FALSE(path_exists(dir)) << dir;
}

TEST_P(CgroupManagerTestSuite, OomKilledIsFalseForAFreshCgroup) {
  auto m = make_created();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->oom_killed(), false);
}

TEST_P(CgroupManagerTestSuite, RecordedPathsRebuildTheSameManager) {
  auto m = make_created();
  ASSERT_TRUE(m);
  // Another process (a later `delete`) resolving a relative path would land elsewhere: the
  // recorded paths must win over cgroups_path.
  CgroupConfig cfg = harness_->config("relative/elsewhere");
  cfg.paths = m->paths();
  auto again = make_cgroup_manager(cfg);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ((*again)->paths(), m->paths());
  EXPECT_EQ((*again)->path(), m->path());
  EXPECT_EQ((*again)->mode(), m->mode());
}

TEST_P(CgroupManagerTestSuite, ApplyWithNothingSetSucceeds) {
  auto m = make_created();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.cpu = oci::CpuResources{};
  EXPECT_TRUE(m->apply(r));
}

TEST_P(CgroupManagerTestSuite, ApplyRejectsBadValuesBeforeWriting) {
  auto m = make_created();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = -5;
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(res.error().message().starts_with("linux.resources.memory.limit: "))
      << res.error().message();
  r = {};
  r.unified["../../etc/passwd"] = "x";
  res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message().find("linux.resources.unified.../../etc/passwd"),
            std::string::npos)
      << res.error().message();
}

}  // namespace berth::runtime::cgroups::testing
