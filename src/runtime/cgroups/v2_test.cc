// CgroupV2Manager on a fake cgroup2 tree: the shared suite, then every v2 file with the v1 → v2
// conversions applied, controller enabling, and the errors a user sees.
#include "runtime/cgroups/v2.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "runtime/cgroups/testsuite.h"

namespace berth::runtime::cgroups::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(V2, CgroupManagerTestSuite,
                         ::testing::Values(HarnessFactory{"FakeV2", fake_v2_harness}), suite_name);

constexpr const char* kAll = "cpuset cpu io memory hugetlb pids";

class CgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override { tree_ = FakeTree::v2(); }

  std::unique_ptr<CgroupManager> make(const std::string& name = "/c1",
                                      const std::string& controllers = kAll) {
    name_ = name;
    CgroupConfig c;
    c.cgroups_path = name;
    c.container_id = "c1";
    c.root = tree_->root();
    auto m = make_cgroup_manager(c);
    EXPECT_TRUE(m) << m.error().message();
    if (!m) return nullptr;
    populate_fake_cgroups(*tree_, **m, controllers);
    auto created = (*m)->create();
    EXPECT_TRUE(created) << created.error().message();
    return std::move(*m);
  }
  std::string file(const std::string& f) { return tree_->read(name_.substr(1) + "/" + f); }

  std::unique_ptr<FakeTree> tree_;
  std::string name_;
};

TEST_F(CgroupV2Test, DetectsV2FromTheTree) {
  auto m = make();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mode(), Mode::kV2);
  EXPECT_EQ(m->path(), "/c1");
  EXPECT_EQ(m->paths(), (std::map<std::string, std::string>{{"", tree_->path("c1")}}));
}

TEST_F(CgroupV2Test, ApplyWritesEveryV2FileWithConvertedValues) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 256 << 20;
  r.memory->swap = 512 << 20;  // memory+swap: 256 MiB of swap
  r.memory->reservation = 128 << 20;
  r.memory->swappiness = 10;            // no v2 file: ignored
  r.memory->kernel = 1 << 20;           // ignored
  r.memory->disable_oom_killer = true;  // ignored, like runc
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->burst = 1000;
  r.cpu->idle = 1;
  r.cpu->cpus = "0-1";
  r.cpu->mems = "0";
  r.pids = oci::PidsResources{100};
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 500;
  r.block_io->throttle_read_bps = {{8, 0, 1048576}};
  r.block_io->throttle_write_bps = {{8, 16, 2048}};
  r.block_io->throttle_read_iops = {{8, 0, 100}};
  r.block_io->throttle_write_iops = {{8, 0, 200}};
  r.hugepage_limits = {{"2MB", 1 << 30}};
  r.network = oci::NetworkResources{};  // no v2 controller: ignored
  r.network->class_id = 5;
  tree_->write("c1/memory.high", "max\n");
  r.unified["memory.high"] = "1073741824";
  auto res = m->apply(r);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(file("memory.max"), "268435456");
  EXPECT_EQ(file("memory.swap.max"), "268435456");
  EXPECT_EQ(file("memory.low"), "134217728");
  EXPECT_EQ(file("cpu.weight"), "100");  // shares 1024 → weight 100
  EXPECT_EQ(file("cpu.max"), "50000 100000");
  EXPECT_EQ(file("cpu.max.burst"), "1000");
  EXPECT_EQ(file("cpu.idle"), "1");
  EXPECT_EQ(file("cpuset.cpus"), "0-1");
  EXPECT_EQ(file("cpuset.mems"), "0");
  EXPECT_EQ(file("pids.max"), "100");
  EXPECT_EQ(file("io.weight"), "4950");  // no BFQ: 1 + (500-10)*9999/990
  EXPECT_EQ(file("io.max"), "8:0 rbps=1048576\n8:16 wbps=2048\n8:0 riops=100\n8:0 wiops=200\n");
  EXPECT_EQ(file("hugetlb.2MB.max"), "1073741824");
  EXPECT_EQ(file("hugetlb.2MB.rsvd.max"), "1073741824");
  EXPECT_EQ(file("memory.high"), "1073741824");
}

TEST_F(CgroupV2Test, UnifiedIsWrittenLastAndOverridesConvertedValues) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 2048;
  r.unified["cpu.weight"] = "500";
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu.weight"), "500");
}

TEST_F(CgroupV2Test, BfqTakesTheV1WeightUnchanged) {
  auto m = make();
  ASSERT_TRUE(m);
  tree_->write("c1/io.bfq.weight", "default 100\n");
  oci::Resources r;
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 500;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("io.bfq.weight"), "500");
  EXPECT_EQ(file("io.weight"), "default 100\n");
}

TEST_F(CgroupV2Test, MemorySwapConversions) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 1 << 20;
  r.memory->swap = 1 << 20;  // equal: no swap at all
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory.swap.max"), "0");
  r.memory->limit = -1;
  r.memory->swap.reset();  // unlimited memory, swap unset: both unlimited
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("memory.max"), "max");
  EXPECT_EQ(file("memory.swap.max"), "max");
  r.memory->limit.reset();
  r.memory->swap = 1 << 20;  // swap without a memory limit cannot be converted
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().message(),
            "linux.resources.memory.swap: unable to set swap limit without memory limit");
}

TEST_F(CgroupV2Test, PeriodWithoutQuotaMeansNoQuota) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->period = 50000;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu.max"), "max 50000");
  r.cpu->period.reset();
  r.cpu->quota = 25000;
  ASSERT_TRUE(m->apply(r));
  EXPECT_EQ(file("cpu.max"), "25000 100000");
}

TEST_F(CgroupV2Test, RealtimeIsRejected) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->realtime_runtime = 1000;
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(
      res.error().message(),
      "linux.resources.cpu.realtimeRuntime: realtime scheduling is not supported on cgroup v2");
}

TEST_F(CgroupV2Test, UnifiedKeyMissingNamesTheKey) {
  auto m = make();
  ASSERT_TRUE(m);
  oci::Resources r;
  r.unified["foo.bar"] = "1";
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().message(),
            "linux.resources.unified.foo.bar: write foo.bar: no such file or directory (is the foo "
            "controller enabled?)");
}

TEST_F(CgroupV2Test, UnifiedKeysThatLeaveTheDirectoryAreRejected) {
  auto m = make();
  ASSERT_TRUE(m);
  for (const char* key : {"../cgroup.procs", "sub/memory.max", "..", ".", ""}) {
    oci::Resources r;
    r.pids = oci::PidsResources{5};
    r.unified[key] = "1";
    auto res = m->apply(r);
    ASSERT_FALSE(res) << key;
    EXPECT_EQ(res.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(
        res.error().message().starts_with("linux.resources.unified." + std::string(key) + ": "))
        << res.error().message();
  }
  EXPECT_EQ(file("pids.max"), "max\n") << "nothing is written when a key is bad";
}

TEST_F(CgroupV2Test, HugetlbWithoutTheControllerFails) {
  auto m = make("/c1", "cpu memory pids");
  ASSERT_TRUE(m);
  oci::Resources r;
  r.hugepage_limits = {{"2MB", 1 << 21}};
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().message(),
            "linux.resources.hugepageLimits: hugetlb cgroup controller not found");
}

TEST_F(CgroupV2Test, CreateEnablesControllersOnEveryLevelAbove) {
  tree_->populate_v2_cgroup("berth", kAll);
  auto m = make("/berth/c1");
  ASSERT_TRUE(m);
  EXPECT_EQ(tree_->read("cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_EQ(tree_->read("berth/cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");
  EXPECT_EQ(tree_->read("berth/c1/cgroup.subtree_control"), "") << "the leaf keeps its processes";
}

TEST_F(CgroupV2Test, KillAllWithSigkillWritesCgroupKill) {
  auto m = make();
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->kill_all(SIGKILL));
  EXPECT_EQ(file("cgroup.kill"), "1");
}

TEST_F(CgroupV2Test, OomKilledReadsMemoryEvents) {
  auto m = make();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->oom_killed(), false);
  tree_->write("c1/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  EXPECT_EQ(m->oom_killed(), true);
}

TEST_F(CgroupV2Test, CheckBeforeUpdateRefusesALimitBelowUsage) {
  auto m = make();
  ASSERT_TRUE(m);
  tree_->write("c1/memory.current", "300000000\n");
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 256 << 20;
  r.memory->check_before_update = true;
  auto res = m->apply(r);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().message(),
            "linux.resources.memory.limit: rejecting memory limit 268435456 <= usage 300000000");
  EXPECT_EQ(file("memory.max"), "max\n");
}

}  // namespace
}  // namespace berth::runtime::cgroups::testing
