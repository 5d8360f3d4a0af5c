// CgroupV1Manager on fake v1 and hybrid trees: the shared suite, then every v1 resource file,
// the hybrid unified directory, and the errors a user sees.
#include "runtime/cgroups/v1.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <functional>

#include "runtime/cgroups/testsuite.h"

namespace berth::runtime::cgroups::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(V1, CgroupManagerTestSuite,
                         ::testing::Values(HarnessFactory{"FakeV1", fake_v1_harness},
                                           HarnessFactory{"FakeHybrid", fake_hybrid_harness}),
                         suite_name);

class CgroupV1Test : public ::testing::Test {
 protected:
  void SetUp() override { tree_ = FakeTree::v1(); }

  // A created manager for name on the tree (after the kernel's part is played).
  std::unique_ptr<CgroupManager> make(const std::string& name = "/c1",
                                      const std::function<void()>& before_create = {}) {
    name_ = name;
    CgroupConfig c;
    c.cgroups_path = name;
    c.container_id = "c1";
    c.root = tree_->root();
    auto m = make_cgroup_manager(c);
    EXPECT_TRUE(m) << m.error().message();
    if (!m) return nullptr;
    populate_fake_cgroups(*tree_, **m, unified_controllers_);
    if (before_create) before_create();
    auto created = (*m)->create();
    EXPECT_TRUE(created) << created.error().message();
    return std::move(*m);
  }
  std::string file(const std::string& hierarchy, const std::string& f) {
    return tree_->read(hierarchy + name_ + "/" + f);
  }

  std::unique_ptr<FakeTree> tree_;
  std::string name_;
  std::string unified_controllers_;
};

oci::Resources everything() {
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 256 << 20;
  r.memory->reservation = 128 << 20;
  r.memory->swap = 512 << 20;
  r.memory->kernel = 64 << 20;
  r.memory->kernel_tcp = 32 << 20;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->burst = 1000;
  r.cpu->realtime_period = 1000000;
  r.cpu->realtime_runtime = 950000;
  r.cpu->cpus = "0";
  r.cpu->mems = "0";
  r.cpu->idle = 1;
  r.pids = oci::PidsResources{100};
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 500;
  r.block_io->weight_device = {oci::WeightDevice{8, 0, 300, std::nullopt}};
  r.block_io->throttle_read_bps = {{8, 0, 1048576}};
  r.block_io->throttle_write_bps = {{8, 16, 2048}, {8, 0, 4096}};
  r.block_io->throttle_read_iops = {{8, 0, 100}};
  r.block_io->throttle_write_iops = {{8, 0, 200}};
  r.hugepage_limits = {{"2MB", 1 << 30}};
  r.network = oci::NetworkResources{};
  r.network->class_id = 0x100001;
  r.network->priorities = {{"eth0", 5}, {"lo", 1}};
  r.devices = {
      {false, "a", std::nullopt, std::nullopt, "rwm"},
      {true, "c", 1, 3, "rwm"},
      {true, "c", 136, std::nullopt, "rwm"},
      {true, "c", std::nullopt, std::nullopt, "m"},
  };
  return r;
}

TEST_F(CgroupV1Test, ApplyWritesEveryV1ResourceFile) {
  auto m = make();
  ASSERT_TRUE(m);
  auto r = m->apply(everything());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "268435456");
  EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), "536870912");
  EXPECT_EQ(file("memory", "memory.soft_limit_in_bytes"), "134217728");
  EXPECT_EQ(file("memory", "memory.kmem.limit_in_bytes"), "67108864");
  EXPECT_EQ(file("memory", "memory.kmem.tcp.limit_in_bytes"), "33554432");
  EXPECT_EQ(file("memory", "memory.swappiness"), "10");
  EXPECT_EQ(file("memory", "memory.oom_control"), "1");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.shares"), "512");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.cfs_burst_us"), "1000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.rt_period_us"), "1000000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.rt_runtime_us"), "950000");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.idle"), "1");
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "0");
  EXPECT_EQ(file("cpuset", "cpuset.mems"), "0");
  EXPECT_EQ(file("pids", "pids.max"), "100");
  EXPECT_EQ(file("blkio", "blkio.bfq.weight"), "500");  // no CFQ blkio.weight: BFQ's file
  EXPECT_EQ(file("blkio", "blkio.bfq.weight_device"), "8:0 300\n");
  EXPECT_EQ(file("blkio", "blkio.throttle.read_bps_device"), "8:0 1048576\n");
  EXPECT_EQ(file("blkio", "blkio.throttle.write_bps_device"), "8:16 2048\n8:0 4096\n");
  EXPECT_EQ(file("blkio", "blkio.throttle.read_iops_device"), "8:0 100\n");
  EXPECT_EQ(file("blkio", "blkio.throttle.write_iops_device"), "8:0 200\n");
  EXPECT_EQ(file("hugetlb", "hugetlb.2MB.limit_in_bytes"), "1073741824");
  EXPECT_EQ(file("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes"), "1073741824");
  EXPECT_EQ(file("net_cls", "net_cls.classid"), "1048577");
  EXPECT_EQ(file("net_prio", "net_prio.ifpriomap"), "eth0 5\nlo 1\n");
  // runc's emulator: reset to deny-all, then the allow rules sorted by (major, minor, type).
  EXPECT_EQ(file("devices", "devices.deny"), "a *:* rwm\n");
  EXPECT_EQ(file("devices", "devices.allow"), "c *:* m\nc 1:3 rwm\nc 136:* rwm\n");
}

TEST_F(CgroupV1Test, CreateCopiesCpusetFromTheParent) {
  tree_->populate_v1_cgroup("cpuset", "cpuset/berth");  // an existing, still empty level
  auto m = make("/berth/c1");
  ASSERT_TRUE(m);
  EXPECT_EQ(tree_->read("cpuset/berth/cpuset.cpus"), "0-1");
  EXPECT_EQ(tree_->read("cpuset/berth/cpuset.mems"), "0");
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "0-1");
  EXPECT_EQ(file("cpuset", "cpuset.mems"), "0");
}

TEST_F(CgroupV1Test, CreateKeepsAnExistingCpuset) {
  auto m = make("/c1", [&] { tree_->write("cpuset/c1/cpuset.cpus", "1\n"); });
  ASSERT_TRUE(m);
  EXPECT_EQ(file("cpuset", "cpuset.cpus"), "1\n");
  EXPECT_EQ(file("cpuset", "cpuset.mems"), "0");
}

TEST_F(CgroupV1Test, UpdateLeavesUnsetValuesUntouched) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources first;
  first.memory = oci::MemoryResources{};
  first.memory->limit = 1 << 30;
  ASSERT_TRUE(m->apply(first));
  oci::Resources update;
  update.pids = oci::PidsResources{42};
  update.memory = oci::MemoryResources{};  // present but empty
  ASSERT_TRUE(m->apply(update));
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "1073741824");
  EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), "9223372036854771712\n");
  EXPECT_EQ(file("cpu,cpuacct", "cpu.shares"), "1024\n");
  EXPECT_EQ(file("devices", "devices.deny"), "");
  EXPECT_EQ(file("pids", "pids.max"), "42");
}

TEST_F(CgroupV1Test, UnlimitedMemoryAlsoLiftsMemsw) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = -1;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "-1");
  EXPECT_EQ(file("memory", "memory.memsw.limit_in_bytes"), "-1");
}

TEST_F(CgroupV1Test, PidsLimitZeroOrMinusOneMeansMax) {
  auto m = make();
  ASSERT_TRUE(m);
  for (int64_t limit : {0, -1}) {
    tree_->write("pids/c1/pids.max", "7\n");
    oci::Resources r;
    r.pids = oci::PidsResources{limit};
    ASSERT_TRUE(m->apply(r));
    EXPECT_EQ(file("pids", "pids.max"), "max") << limit;
  }
}

TEST_F(CgroupV1Test, WriteErrorNamesTheFieldAndTheFile) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.block_io = oci::BlockIoResources{};
  r.block_io->leaf_weight = 100;  // CFQ only: no such file on BFQ kernels
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(
      res.error().message(),
      "linux.resources.blockIO.leafWeight: write blkio.leaf_weight: no such file or directory");
}

TEST_F(CgroupV1Test, UnifiedIsAnErrorOnAV1HostNamingTheKey) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.unified["memory.high"] = "1G";
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().message(),
            "linux.resources.unified.memory.high: cgroup v2 unified resources are not supported on "
            "a cgroup v1 host");
}

TEST_F(CgroupV1Test, RejectedRequestWritesNothing) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.memory->swappiness = 200;
  r.pids = oci::PidsResources{10};
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().message(),
            "linux.resources.memory.swappiness: invalid value 200 (want 0-100)");
  EXPECT_EQ(file("memory", "memory.limit_in_bytes"), "9223372036854771712\n");
  EXPECT_EQ(file("pids", "pids.max"), "max\n");
}

TEST_F(CgroupV1Test, NegativeValuesAreRejected) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->quota = -2;
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().message().starts_with("linux.resources.cpu.quota: invalid value -2"));
  r = {};
  r.pids = oci::PidsResources{-7};
  EXPECT_FALSE(m->apply(r));
}

TEST_F(CgroupV1Test, MissingHugetlbControllerFailsOnlyWhenLimitsAreAsked) {
  tree_->strip_files("hugetlb");
  ASSERT_EQ(::rmdir(tree_->path("hugetlb").c_str()), 0);
  auto m = make();
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->apply(oci::Resources{}));
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 1 << 21}};
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_TRUE(res.error().message().starts_with(
      "linux.resources.hugepageLimits: hugetlb cgroup controller not found"))
      << res.error().message();
}

TEST_F(CgroupV1Test, NetworkIsSkippedWhereNetClsIsNotMounted) {
  for (const char* h : {"net_cls", "net_prio"}) {
    tree_->strip_files(h);
    ASSERT_EQ(::rmdir(tree_->path(h).c_str()), 0);
  }
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.network = oci::NetworkResources{};
  r.network->class_id = 7;
  EXPECT_TRUE(m->apply(r));
}

TEST_F(CgroupV1Test, DevicesPunchingAHoleInAWildcardIsRefused) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
               {true, "c", std::nullopt, std::nullopt, "rwm"},
               {false, "c", 1, 3, "rwm"}};
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message().find("cannot punch a hole"), std::string::npos)
      << res.error().message();
  EXPECT_EQ(file("devices", "devices.deny"), "");
}

TEST_F(CgroupV1Test, FrozenOnlyCountsOurOwnFreeze) {
  auto m = make();
  ASSERT_TRUE(m);
  tree_->write("freezer/c1/freezer.state", "FROZEN\n");
  tree_->write("freezer/c1/freezer.self_freezing", "0\n");  // frozen by an ancestor
  EXPECT_EQ(m->frozen(), false);
  tree_->write("freezer/c1/freezer.self_freezing", "1\n");
  EXPECT_EQ(m->frozen(), true);
}

TEST_F(CgroupV1Test, OomKilledReadsTheKillCount) {
  auto m = make();
  ASSERT_TRUE(m);
  tree_->write("memory/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  EXPECT_EQ(m->oom_killed(), true);
}

TEST_F(CgroupV1Test, PidsReadsChildCgroupsToo) {
  auto m = make();
  ASSERT_TRUE(m);
  tree_->write("pids/c1/cgroup.procs", "10\n11\n");
  tree_->write("pids/c1/sub/cgroup.procs", "12\n");
  tree_->write("pids/c1/sub/deeper/cgroup.procs", "13\n");
  auto pids = m->pids();
  ASSERT_TRUE(pids);
  std::sort(pids->begin(), pids->end());
  EXPECT_EQ(*pids, (std::vector<pid_t>{10, 11, 12, 13}));
}

// ---- hybrid ----

class CgroupHybridTest : public CgroupV1Test {
 protected:
  void SetUp() override { tree_ = FakeTree::hybrid(); }
};

TEST_F(CgroupHybridTest, ProcessesJoinTheUnifiedHierarchyToo) {
  auto m = make();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode(), Mode::kHybrid);
  EXPECT_EQ(m->paths().at(""), tree_->path("unified/c1"));
  ASSERT_TRUE(m->add_process(4242));
  EXPECT_EQ(tree_->read("unified/c1/cgroup.procs"), "4242");
  EXPECT_EQ(tree_->read("memory/c1/cgroup.procs"), "4242");
  EXPECT_EQ(tree_->read("systemd/c1/cgroup.procs"), "4242");
}

TEST_F(CgroupHybridTest, UnifiedKeysAreWrittenInTheUnifiedDirectory) {
  auto m = make();
  ASSERT_TRUE(m);
  tree_->write("unified/c1/cgroup.max.depth", "max\n");
  oci::Resources r;
  r.unified["cgroup.max.depth"] = "5";
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(tree_->read("unified/c1/cgroup.max.depth"), "5");
}

TEST_F(CgroupHybridTest, HugetlbBoundToTheUnifiedHierarchyIsUsedThere) {
  tree_ = FakeTree::hybrid(/*hugetlb_on_v2=*/true);
  unified_controllers_ = "hugetlb";
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 1 << 22}};
  auto res = m->apply(r);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(tree_->read("unified/c1/hugetlb.2MB.max"), "4194304");
  EXPECT_EQ(tree_->read("unified/cgroup.subtree_control"), "+hugetlb");
}

TEST_F(CgroupHybridTest, KillAllWithSigkillUsesCgroupKillThenSweepsV1) {
  auto m = make();
  ASSERT_TRUE(m);
  Sleeper child;
  ASSERT_TRUE(m->add_process(child.pid()));
  ASSERT_TRUE(m->kill_all(SIGKILL));
  EXPECT_EQ(tree_->read("unified/c1/cgroup.kill"), "1");
  int st = child.wait_exit();  // the fake cannot kill: the sweep of the v1 list did
  ASSERT_NE(st, -1);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

}  // namespace
}  // namespace berth::runtime::cgroups::testing
