// cgroupsPath resolution (absolute, relative, empty, escapes), /proc/self/cgroup parsing, v1
// hierarchy discovery, mode detection and the systemd driver refusal.
#include <gtest/gtest.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/file.h"
#include "runtime/cgroups/internal.h"
#include "runtime/cgroups/testsuite.h"

namespace berth::runtime::cgroups::testing {
namespace {

using detail::clean_cgroups_path;
using detail::parse_proc_cgroup;

TEST(CgroupPaths, CleansCgroupsPath) {
  EXPECT_EQ(clean_cgroups_path(""), "");
  EXPECT_EQ(clean_cgroups_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(clean_cgroups_path("a//b/./c/"), "a/b/c");
  EXPECT_EQ(clean_cgroups_path("/docker/abc"), "/docker/abc");
}

TEST(CgroupPaths, RejectsEscapesAndTheRoot) {
  for (const char* bad : {"..", "../x", "/../x", "/a/../../x", "a/../..", "/", ".", "//", "a/.."}) {
    auto r = clean_cgroups_path(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(r.error().message().starts_with("linux.cgroupsPath: ")) << r.error().message();
  }
}

TEST(CgroupPaths, ParsesProcSelfCgroup) {
  auto m = parse_proc_cgroup(
      "12:pids:/user.slice\n4:cpu,cpuacct:/a\n1:name=systemd:/user.slice/x.scope\n0::/odd:path\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("pids"), "/user.slice");
  EXPECT_EQ(m->at("cpu"), "/a");
  EXPECT_EQ(m->at("cpuacct"), "/a");
  EXPECT_EQ(m->at("name=systemd"), "/user.slice/x.scope");
  EXPECT_EQ(m->at(""), "/odd:path");
  EXPECT_FALSE(parse_proc_cgroup("garbage\n"));
}

TEST(CgroupPaths, DiscoversV1HierarchiesFromTheTree) {
  auto tree = FakeTree::v1();
  tree->mkdir("not-a-controller");
  tree->mkdir("unified");
  auto hs = detail::v1_hierarchies(tree->root());
  ASSERT_TRUE(hs);
  std::vector<std::string> names;
  for (const auto& h : *hs) names.push_back(h.name);
  EXPECT_EQ(names, (std::vector<std::string>{"blkio", "cpu,cpuacct", "cpuset", "devices", "freezer",
                                             "hugetlb", "memory", "net_cls", "net_prio", "pids",
                                             "systemd"}));
  EXPECT_EQ((*hs)[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(hs->back().controllers, (std::vector<std::string>{"name=systemd"}));
}

class CgroupResolveTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<CgroupManager>> make(std::unique_ptr<FakeTree>& tree,
                                              const std::string& path,
                                              const std::string& proc_self = "") {
    CgroupConfig c;
    c.cgroups_path = path;
    c.container_id = "ctr";
    c.root = tree->root();
    if (!proc_self.empty()) {
      tree->write("proc-self-cgroup", proc_self);
      c.proc_self_cgroup = tree->path("proc-self-cgroup");
    }
    return make_cgroup_manager(c);
  }
};

TEST_F(CgroupResolveTest, AbsolutePathGoesUnderEveryHierarchyRoot) {
  auto tree = FakeTree::v1();
  auto m = make(tree, "/docker/abc");
  ASSERT_TRUE(m) << m.error().message();
  auto p = (*m)->paths();
  EXPECT_EQ(p.at("memory"), tree->path("memory/docker/abc"));
  EXPECT_EQ(p.at("cpu"), tree->path("cpu,cpuacct/docker/abc"));
  EXPECT_EQ(p.at("cpuacct"), tree->path("cpu,cpuacct/docker/abc"));
  EXPECT_EQ(p.at("name=systemd"), tree->path("systemd/docker/abc"));
  EXPECT_FALSE(p.contains("")) << "no unified directory on pure v1";
  EXPECT_EQ((*m)->path(), "/docker/abc");
}

TEST_F(CgroupResolveTest, RelativePathOnV1GoesUnderOurCgroupPerHierarchy) {
  auto tree = FakeTree::v1();
  auto m = make(tree, "sub/ctr",
                "11:memory:/process_api/84eb\n10:cpu,cpuacct:/\n9:devices:/dev\n"
                "8:name=systemd:/user.slice/s.scope\n0::/user.slice/s.scope\n");
  ASSERT_TRUE(m) << m.error().message();
  auto p = (*m)->paths();
  EXPECT_EQ(p.at("memory"), tree->path("memory/process_api/84eb/sub/ctr"));
  EXPECT_EQ(p.at("cpu"), tree->path("cpu,cpuacct/sub/ctr"));
  EXPECT_EQ(p.at("devices"), tree->path("devices/dev/sub/ctr"));
  EXPECT_EQ(p.at("name=systemd"), tree->path("systemd/user.slice/s.scope/sub/ctr"));
  EXPECT_FALSE(p.contains("pids")) << "hierarchies we are not in are skipped";
  EXPECT_EQ((*m)->path(), "/process_api/84eb/sub/ctr");
}

TEST_F(CgroupResolveTest, RelativePathWithoutOurDevicesCgroupFails) {
  auto tree = FakeTree::v1();
  auto m = make(tree, "ctr", "11:memory:/\n");
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("devices"), std::string::npos);
}

TEST_F(CgroupResolveTest, EmptyPathIsTheContainerIdRelativeLikeRunc) {
  auto tree = FakeTree::v2();
  auto m = make(tree, "", "0::/user.slice/user-0.slice/session-1.scope\n");
  ASSERT_TRUE(m) << m.error().message();
  // v2: next to our own (populated) cgroup, under its parent.
  EXPECT_EQ((*m)->paths().at(""), tree->path("user.slice/user-0.slice/ctr"));
  EXPECT_EQ((*m)->path(), "/user.slice/user-0.slice/ctr");
}

TEST_F(CgroupResolveTest, RelativePathOnV2AtTheRootCgroup) {
  auto tree = FakeTree::v2();
  auto m = make(tree, "a/b", "0::/\n");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ((*m)->paths().at(""), tree->path("a/b"));
}

TEST_F(CgroupResolveTest, HybridUnifiedDirectoryFollowsOurOwnCgroup) {
  auto tree = FakeTree::hybrid();
  auto m = make(tree, "ctr", "9:devices:/\n4:memory:/m\n3:cpu,cpuacct:/\n0::/user.slice/s.scope\n");
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ((*m)->mode(), Mode::kHybrid);
  EXPECT_EQ((*m)->paths().at(""), tree->path("unified/user.slice/s.scope/ctr"));
  EXPECT_EQ((*m)->paths().at("memory"), tree->path("memory/m/ctr"));
  auto abs = make(tree, "/x/y");
  ASSERT_TRUE(abs);
  EXPECT_EQ((*abs)->paths().at(""), tree->path("unified/x/y"));
}

TEST_F(CgroupResolveTest, EscapingPathIsRejected) {
  auto tree = FakeTree::v1();
  auto m = make(tree, "/a/../../etc");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(m.error().message(), "linux.cgroupsPath: /a/../../etc: \"..\" leaves the cgroup root");
}

TEST_F(CgroupResolveTest, ContainerIdThatCannotNameACgroupIsRejected) {
  auto tree = FakeTree::v2();
  CgroupConfig c;
  c.container_id = "..";
  c.root = tree->root();
  auto m = make_cgroup_manager(c);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument);
}

TEST(CgroupDetect, DetectsModeFromFakeTrees) {
  EXPECT_EQ(detect_mode(FakeTree::v1()->root()), Mode::kV1);
  EXPECT_EQ(detect_mode(FakeTree::hybrid()->root()), Mode::kHybrid);
  EXPECT_EQ(detect_mode(FakeTree::v2()->root()), Mode::kV2);
  EXPECT_FALSE(detect_mode("/nonexistent/cgroup/root"));
}

TEST(CgroupDetect, DetectsTheHostFromItsMounts) {
  struct statfs sf;
  if (::statfs("/sys/fs/cgroup", &sf) != 0) GTEST_SKIP() << "no /sys/fs/cgroup";
  auto mode = detect_mode("/sys/fs/cgroup");
  ASSERT_TRUE(mode);
  struct statfs uf;
  bool unified_is_cgroup2 = ::statfs("/sys/fs/cgroup/unified", &uf) == 0 && uf.f_type == 0x63677270;
  Mode want = sf.f_type == 0x63677270 ? Mode::kV2 : unified_is_cgroup2 ? Mode::kHybrid : Mode::kV1;
  EXPECT_EQ(*mode, want);
}

TEST(CgroupDetect, ForcedModeWins) {
  auto tree = FakeTree::hybrid();
  CgroupConfig c;
  c.cgroups_path = "/x";
  c.root = tree->root();
  c.mode = Mode::kV1;
  auto m = make_cgroup_manager(c);
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)->mode(), Mode::kV1);
  EXPECT_FALSE((*m)->paths().contains(""));
}

TEST(CgroupSystemd, SystemdDriverIsRefusedWithAClearMessage) {
  CgroupConfig c;
  c.cgroups_path = "system.slice:berth:abc";
  c.systemd = true;
  auto m = make_cgroup_manager(c);
  ASSERT_FALSE(m);
  if (!path_exists("/run/systemd/system")) {
    EXPECT_EQ(m.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(m.error().message(),
              "systemd cgroup driver requested (--systemd-cgroup) but systemd is not running");
  } else {
    EXPECT_EQ(m.error().code(), ErrorCode::kUnimplemented);
  }
}

}  // namespace
}  // namespace berth::runtime::cgroups::testing
