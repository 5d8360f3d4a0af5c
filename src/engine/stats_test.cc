// Tests for read_stats: fake v1, v2 and hybrid cgroup trees with a fake /proc, and one real
// cgroup (root only) holding a process that burns CPU and memory.
#include "engine/stats.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>

#include "base/file.h"
#include "base/strings.h"

namespace berth::engine {
namespace {

void put(const std::string& path, const std::string& text) {
  ASSERT_TRUE(mkdir_all(path.substr(0, path.rfind('/'))));
  std::ofstream(path) << text;
}

constexpr const char* kNetDev =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:     100       1    0    0    0     0          0         0      100       1    0    "
    "0    0     0       0          0\n"
    "  eth0:    5000      40    1    2    0     0          0         0     3000      30    3    "
    "4    0     0       0          0\n";

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-stats-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    proc_ = root_ + "/proc";
    put(proc_ + "/stat", "cpu  100 20 30 1000 5 1 2 7 0 0\ncpu0 50 10 15 500 2 0 1 3 0 0\n");
    put(proc_ + "/meminfo", "MemTotal:        2048000 kB\nMemFree:  1000 kB\n");
    put(proc_ + "/42/net/dev", kNetDev);
    src_.proc_root = proc_;
    src_.online_cpus = 2;
  }
  void TearDown() override { (void)remove_all(root_); }
  std::string root_, proc_;
  StatsSources src_;
};

uint64_t tick_ns() {
  return 1000000000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
}

TEST_F(StatsTest, SystemCpuUsageSumsTheFirstSevenFields) {
  auto v = system_cpu_usage_ns(proc_);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, (100 + 20 + 30 + 1000 + 5 + 1 + 2) * tick_ns());
}

TEST_F(StatsTest, NetDevSkipsLoopback) {
  auto n = parse_net_dev(kNetDev);
  EXPECT_FALSE(n.contains("lo"));
  ASSERT_TRUE(n.contains("eth0"));
  EXPECT_EQ(n["eth0"]["rx_bytes"], 5000);
  EXPECT_EQ(n["eth0"]["rx_packets"], 40);
  EXPECT_EQ(n["eth0"]["rx_errors"], 1);
  EXPECT_EQ(n["eth0"]["rx_dropped"], 2);
  EXPECT_EQ(n["eth0"]["tx_bytes"], 3000);
  EXPECT_EQ(n["eth0"]["tx_dropped"], 4);
}

std::map<std::string, std::string> fake_v1(const std::string& cg) {
  std::map<std::string, std::string> p;
  for (const char* c : {"cpu", "cpuacct"}) p[c] = cg + "/cpu,cpuacct/c1";
  p["memory"] = cg + "/memory/c1";
  p["pids"] = cg + "/pids/c1";
  p["blkio"] = cg + "/blkio/c1";
  p["name=systemd"] = cg + "/systemd/c1";
  put(p["cpuacct"] + "/cpuacct.usage", "5000000\n");
  put(p["cpuacct"] + "/cpuacct.usage_percpu", "3000000 2000000 \n");
  put(p["cpuacct"] + "/cpuacct.usage_user", "4000000\n");
  put(p["cpuacct"] + "/cpuacct.usage_sys", "1000000\n");
  put(p["cpu"] + "/cpu.stat", "nr_periods 10\nnr_throttled 2\nthrottled_time 999\n");
  put(p["memory"] + "/memory.usage_in_bytes", "8192000\n");
  put(p["memory"] + "/memory.max_usage_in_bytes", "9000000\n");
  put(p["memory"] + "/memory.limit_in_bytes", "9223372036854771712\n");
  put(p["memory"] + "/memory.failcnt", "0\n");
  put(p["memory"] + "/memory.stat", "cache 4096\nrss 8192\ntotal_inactive_file 1024\n");
  put(p["pids"] + "/pids.current", "3\n");
  put(p["pids"] + "/pids.max", "max\n");
  put(p["blkio"] + "/blkio.io_service_bytes_recursive", "Total 0\n");
  put(p["blkio"] + "/blkio.throttle.io_service_bytes_recursive",
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n"
      "8:0 Total 12288\nTotal 12288\n");
  return p;
}

TEST_F(StatsTest, V1TreeGivesDockerShape) {
  auto paths = fake_v1(root_ + "/cg");
  auto s = read_stats(paths, 42, nullptr, src_);
  ASSERT_TRUE(s) << s.error().message();
  const auto& cpu = (*s)["cpu_stats"];
  EXPECT_EQ(cpu["cpu_usage"]["total_usage"], 5000000);
  EXPECT_EQ(cpu["cpu_usage"]["percpu_usage"], json::Json::array({3000000, 2000000}));
  EXPECT_EQ(cpu["cpu_usage"]["usage_in_usermode"], 4000000);
  EXPECT_EQ(cpu["cpu_usage"]["usage_in_kernelmode"], 1000000);
  EXPECT_EQ(cpu["throttling_data"]["periods"], 10);
  EXPECT_EQ(cpu["throttling_data"]["throttled_periods"], 2);
  EXPECT_EQ(cpu["throttling_data"]["throttled_time"], 999);
  EXPECT_EQ(cpu["online_cpus"], 2);
  EXPECT_EQ(cpu["system_cpu_usage"], 1158 * tick_ns());
  const auto& mem = (*s)["memory_stats"];
  EXPECT_EQ(mem["usage"], 8192000);
  EXPECT_EQ(mem["max_usage"], 9000000);
  EXPECT_EQ(mem["limit"], 2048000ull * 1024);  // unlimited -> host MemTotal
  EXPECT_EQ(mem["stats"]["total_inactive_file"], 1024);
  EXPECT_EQ((*s)["pids_stats"]["current"], 3);
  EXPECT_EQ((*s)["pids_stats"]["limit"], 0);
  const auto& io = (*s)["blkio_stats"]["io_service_bytes_recursive"];
  ASSERT_EQ(io.size(), 6u);
  EXPECT_EQ(io[0], json::Json({{"major", 8}, {"minor", 0}, {"op", "Read"}, {"value", 4096}}));
  EXPECT_EQ(io[1]["op"], "Write");
  EXPECT_EQ((*s)["networks"]["eth0"]["tx_bytes"], 3000);
  EXPECT_FALSE((*s)["networks"].contains("lo"));
  EXPECT_EQ((*s)["preread"], "0001-01-01T00:00:00Z");
  EXPECT_EQ((*s)["precpu_stats"]["cpu_usage"]["total_usage"], 0);
  std::string read = (*s)["read"];
  EXPECT_EQ(read.size(), 30u);  // 2026-01-02T03:04:05.123456789Z
}

TEST_F(StatsTest, PreviousSampleBecomesPrecpuAndPreread) {
  auto paths = fake_v1(root_ + "/cg");
  auto first = read_stats(paths, 0, nullptr, src_);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->contains("networks"));
  put(paths["cpuacct"] + "/cpuacct.usage", "7000000\n");
  auto second = read_stats(paths, 0, *first, src_);
  ASSERT_TRUE(second);
  EXPECT_EQ((*second)["preread"], (*first)["read"]);
  EXPECT_EQ((*second)["precpu_stats"]["cpu_usage"]["total_usage"], 5000000);
  EXPECT_EQ((*second)["precpu_stats"]["system_cpu_usage"], 1158 * tick_ns());
  EXPECT_EQ((*second)["cpu_stats"]["cpu_usage"]["total_usage"], 7000000);
}

TEST_F(StatsTest, V1LimitBelowHostIsKept) {
  auto paths = fake_v1(root_ + "/cg");
  put(paths["memory"] + "/memory.limit_in_bytes", "104857600\n");
  put(paths["pids"] + "/pids.max", "64\n");
  auto s = read_stats(paths, 0, nullptr, src_);
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["memory_stats"]["limit"], 104857600);
  EXPECT_EQ((*s)["pids_stats"]["limit"], 64);
}

TEST_F(StatsTest, HybridUsesV1Controllers) {
  auto paths = fake_v1(root_ + "/cg");
  paths[""] = root_ + "/cg/unified/c1";  // empty v2 hierarchy, no controller files
  ASSERT_TRUE(mkdir_all(paths[""]));
  auto s = read_stats(paths, 0, nullptr, src_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)["memory_stats"]["usage"], 8192000);
  EXPECT_EQ((*s)["cpu_stats"]["cpu_usage"]["total_usage"], 5000000);
}

TEST_F(StatsTest, V2TreeGivesDockerShape) {
  std::string d = root_ + "/cg2/c1";
  put(d + "/cpu.stat",
      "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 5\nnr_throttled 1\n"
      "throttled_usec 7\n");
  put(d + "/memory.current", "4096000\n");
  put(d + "/memory.max", "max\n");
  put(d + "/memory.stat", "anon 1000\nfile 2000\ninactive_file 512\n");
  put(d + "/pids.current", "2\n");
  put(d + "/pids.max", "100\n");
  put(d + "/io.stat", "8:16 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
  auto s = read_stats({{"", d}}, 42, nullptr, src_);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)["cpu_stats"]["cpu_usage"]["total_usage"], 3000000);
  EXPECT_EQ((*s)["cpu_stats"]["cpu_usage"]["usage_in_usermode"], 2000000);
  EXPECT_EQ((*s)["cpu_stats"]["cpu_usage"]["usage_in_kernelmode"], 1000000);
  EXPECT_FALSE((*s)["cpu_stats"]["cpu_usage"].contains("percpu_usage"));
  EXPECT_EQ((*s)["cpu_stats"]["throttling_data"]["throttled_time"], 7000);
  EXPECT_EQ((*s)["memory_stats"]["usage"], 4096000);
  EXPECT_EQ((*s)["memory_stats"]["limit"], 2048000ull * 1024);
  EXPECT_EQ((*s)["memory_stats"]["stats"]["inactive_file"], 512);
  EXPECT_EQ((*s)["pids_stats"]["current"], 2);
  EXPECT_EQ((*s)["pids_stats"]["limit"], 100);
  const auto& io = (*s)["blkio_stats"]["io_service_bytes_recursive"];
  ASSERT_EQ(io.size(), 2u);
  EXPECT_EQ(io[0], json::Json({{"major", 8}, {"minor", 16}, {"op", "read"}, {"value", 100}}));
  EXPECT_EQ(io[1]["op"], "write");
  EXPECT_EQ(io[1]["value"], 200);
  EXPECT_TRUE((*s)["networks"].contains("eth0"));
  // "unified" is accepted as the v2 key too.
  EXPECT_TRUE(read_stats({{"unified", d}}, 0, nullptr, src_));
}

TEST_F(StatsTest, MissingCgroupIsNotFoundAndNoPathsIsInvalid) {
  auto gone = read_stats({{"", root_ + "/nope"}}, 0, nullptr, src_);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  auto gone1 = read_stats({{"memory", root_ + "/nope"}}, 0, nullptr, src_);
  ASSERT_FALSE(gone1);
  EXPECT_EQ(gone1.error().code(), ErrorCode::kNotFound);
  auto none = read_stats({}, 0, nullptr, src_);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kInvalidArgument);
}

// The real thing: a child in fresh cgroups (under our own, per controller) burns CPU and touches
// memory; its sample must show it.
TEST(StatsRealCgroup, ReportsCpuMemoryAndPidsOfARealCgroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  bool v2 = path_exists("/sys/fs/cgroup/cgroup.controllers");
  auto self = read_file("/proc/self/cgroup");
  ASSERT_TRUE(self);
  std::string leaf = "berth-stats-test-" + std::to_string(::getpid());
  std::map<std::string, std::string> paths;
  for (const auto& line : split(*self, '\n')) {
    auto parts = split(line, ':');
    if (parts.size() != 3) continue;
    if (v2 && parts[0] == "0") paths[""] = "/sys/fs/cgroup" + parts[2] + "/" + leaf;
    if (v2) continue;
    for (const auto& c : split(parts[1], ','))
      if (c == "cpuacct" || c == "memory" || c == "pids")
        paths[c] = "/sys/fs/cgroup/" + c + (parts[2] == "/" ? "" : parts[2]) + "/" + leaf;
  }
  ASSERT_FALSE(paths.empty());
  std::vector<std::string> made;
  for (const auto& [c, d] : paths) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) continue;
    made.push_back(d);
  }
  int go[2], done[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(done), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Once moved (the parent writes cgroup.procs, then a byte), use 8 MiB and 150 ms of CPU
    // time (measured, so a loaded machine only makes it slower), then report and wait.
    char b;
    if (::read(go[0], &b, 1) != 1) std::_Exit(1);
    char* mem = static_cast<char*>(std::malloc(8 << 20));
    std::memset(mem, 1, 8 << 20);
    volatile uint64_t x = 0;
    struct timespec ts {};
    do {
      for (int i = 0; i < 100000; ++i) x = x + 1;
      ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while (ts.tv_sec == 0 && ts.tv_nsec < 150000000);
    if (::write(done[1], "x", 1) != 1) std::_Exit(1);
    ::pause();
    std::_Exit(0);
  }
  ::close(go[0]);
  ::close(done[1]);
  auto cleanup = [&] {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(go[1]);
    ::close(done[0]);
    for (const auto& d : made) ::rmdir(d.c_str());
  };
  for (const auto& d : made)
    if (!write_file(d + "/cgroup.procs", std::to_string(child))) {
      cleanup();
      FAIL() << "cannot move child into " << d;
    }
  char b;
  if (::write(go[1], "g", 1) != 1 || ::read(done[0], &b, 1) != 1) {
    cleanup();
    FAIL() << "child did not run";
  }
  auto s = read_stats(paths, child, nullptr);
  cleanup();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_GE((*s)["cpu_stats"]["cpu_usage"]["total_usage"].get<uint64_t>(),
            120000000u);  // of its ~150 ms
  EXPECT_GT((*s)["cpu_stats"]["system_cpu_usage"].get<uint64_t>(), 0u);
  EXPECT_GE((*s)["cpu_stats"]["online_cpus"].get<int>(), 1);
  if (paths.contains("memory")) {
    EXPECT_GE((*s)["memory_stats"]["usage"].get<uint64_t>(), 8u << 20);
    EXPECT_GT((*s)["memory_stats"]["limit"].get<uint64_t>(), 0u);
  }
  if (paths.contains("pids")) {
    EXPECT_EQ((*s)["pids_stats"]["current"], 1);
  }
}

}  // namespace
}  // namespace berth::engine
