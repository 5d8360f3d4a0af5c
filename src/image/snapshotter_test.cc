// Tests for the overlay snapshotter: chain IDs, committing layers (idempotent, concurrent, digest
// checked), and real overlay mounts of committed chains (whiteouts hide lower files, a hundred
// layers mount through lowerdir+). Mount tests need root and always unmount.
#include "image/snapshotter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <thread>

#include "base/unique_fd.h"
#include "image/archive_test_util.h"

namespace berth::image {
namespace {

using testing::read_text;
using testing::sh;
using testing::sh_output;
using testing::TempDir;
using testing::write_text;

// Makes a layer tar at path from a shell snippet run in an empty dir (plus .wh. files as given).
std::string make_layer(const TempDir& tmp, const std::string& name, const std::string& setup) {
  std::string dir = tmp / (name + ".d");
  EXPECT_EQ(sh("mkdir -p " + dir + " && cd " + dir + " && " + setup), 0) << setup;
  std::string tar = tmp / (name + ".tar");
  EXPECT_EQ(sh("tar -C " + dir + " -cf " + tar + " ."), 0);
  return tar;
}

Result<CommittedInfo> apply(Snapshotter& s, const std::string& parent, const std::string& tar,
                            const std::string& expected = "") {
  int fd = ::open(tar.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + tar);
  UniqueFd owned(fd);
  return s.apply_layer(parent, fd, expected);
}

std::string file_sha(const std::string& path) {
  return "sha256:" + sh_output("sha256sum " + path + " | cut -d' ' -f1");
}

class SnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Snapshotter::create(tmp_ / "snapshots");
    ASSERT_TRUE(s) << s.error().message();
    snap_ = std::move(*s);
    ASSERT_EQ(::mkdir((tmp_ / "mnt").c_str(), 0755), 0);
  }
  void TearDown() override {
    if (mounted_) ::umount2((tmp_ / "mnt").c_str(), MNT_DETACH);
  }
  std::string tmp_entries() { return sh_output("ls -A " + tmp_ / "snapshots/tmp"); }

  TempDir tmp_;
  std::unique_ptr<Snapshotter> snap_;
  bool mounted_ = false;
};

TEST(ChainId, FollowsTheImageSpec) {
  EXPECT_EQ(chain_id("", "sha256:aa"), "sha256:aa");
  EXPECT_EQ(chain_id("sha256:aa", "sha256:bb"),
            "sha256:" + sh_output("printf 'sha256:aa sha256:bb' | sha256sum | cut -d' ' -f1"));
}

TEST_F(SnapshotterTest, ApplyLayerCommitsOnceAndReusesTheChain) {
  std::string l1 = make_layer(tmp_, "l1", "echo one > f && mkdir d && echo x > d/x");
  auto first = apply(*snap_, "", l1);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->diff_id, file_sha(l1));
  EXPECT_EQ(first->chain_id, first->diff_id);
  EXPECT_EQ(first->parent, "");
  EXPECT_EQ(first->size, 6);
  EXPECT_TRUE(snap_->has_committed(first->chain_id));
  auto lowers = snap_->lower_dirs(first->chain_id);
  ASSERT_TRUE(lowers);
  ASSERT_EQ(lowers->size(), 1u);
  EXPECT_EQ(read_text((*lowers)[0] + "/d/x"), "x\n");

  auto again = apply(*snap_, "", l1);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->chain_id, first->chain_id);
  auto known = apply(*snap_, "", l1, first->diff_id);  // known chain: not unpacked again
  ASSERT_TRUE(known);
  EXPECT_EQ(known->chain_id, first->chain_id);
  EXPECT_EQ(tmp_entries(), "");

  std::string l2 = make_layer(tmp_, "l2", "echo two > g");
  auto second = apply(*snap_, first->chain_id, l2);
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->chain_id, chain_id(first->chain_id, second->diff_id));
  EXPECT_EQ(second->parent, first->chain_id);
  auto info = snap_->committed(second->chain_id);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->diff_id, second->diff_id);
  EXPECT_EQ(info->parent, first->chain_id);
  auto all = snap_->list_committed();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u);
  auto chain = snap_->lower_dirs(second->chain_id);
  ASSERT_TRUE(chain);
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ(read_text((*chain)[0] + "/g"), "two\n");  // highest first
  EXPECT_EQ(read_text((*chain)[1] + "/f"), "one\n");

  EXPECT_FALSE(apply(*snap_, "sha256:" + std::string(64, '0'), l2));  // unknown parent
  ASSERT_TRUE(snap_->remove_committed(second->chain_id));
  EXPECT_FALSE(snap_->has_committed(second->chain_id));
  EXPECT_TRUE(snap_->remove_committed(second->chain_id));  // missing is fine
}

TEST_F(SnapshotterTest, DiffIdMismatchKeepsNothing) {
  std::string l1 = make_layer(tmp_, "l1", "echo one > f");
  std::string wrong = "sha256:" + std::string(64, 'a');
  auto r = apply(*snap_, "", l1, wrong);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(wrong), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(file_sha(l1)), std::string::npos) << r.error().message();
  EXPECT_EQ(sh_output("ls -A " + tmp_ / "snapshots/committed"), "");
  EXPECT_EQ(tmp_entries(), "");
  // A corrupt stream leaves nothing either.
  ASSERT_EQ(sh("head -c 700 " + l1 + " > " + tmp_ / "cut.tar"), 0);
  EXPECT_FALSE(apply(*snap_, "", tmp_ / "cut.tar"));
  EXPECT_EQ(sh_output("ls -A " + tmp_ / "snapshots/committed"), "");
  EXPECT_EQ(tmp_entries(), "");
}

TEST_F(SnapshotterTest, ConcurrentAppliesOfOneLayerConverge) {
  std::string l1 = make_layer(tmp_, "l1", "head -c 2000000 /dev/urandom > big && touch a b c");
  std::vector<std::thread> threads;
  std::vector<std::string> ids(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      auto r = apply(*snap_, "", l1);
      ids[i] = r ? r->chain_id : r.error().message();
    });
  for (auto& t : threads) t.join();
  for (const auto& id : ids) EXPECT_EQ(id, file_sha(l1));
  EXPECT_EQ(sh_output("ls -A " + tmp_ / "snapshots/committed | wc -l"), "1");
  EXPECT_EQ(tmp_entries(), "");
}

TEST_F(SnapshotterTest, ActiveSnapshotsLifecycle) {
  std::string l1 = make_layer(tmp_, "l1", "echo one > f");
  auto base = apply(*snap_, "", l1);
  ASSERT_TRUE(base);
  ASSERT_TRUE(snap_->prepare("c1", base->chain_id));
  ASSERT_TRUE(snap_->prepare("c2", ""));
  EXPECT_FALSE(snap_->prepare("c1", base->chain_id));  // exists
  EXPECT_FALSE(snap_->prepare("../x", ""));
  EXPECT_FALSE(snap_->prepare("c3", "sha256:" + std::string(64, 'f')));
  EXPECT_EQ(snap_->list_active(), (std::vector<std::string>{"c1", "c2"}));
  auto opts = snap_->mount_options("c1");
  ASSERT_TRUE(opts);
  auto lowers = snap_->lower_dirs(base->chain_id);
  EXPECT_EQ(*opts, "lowerdir=" + (*lowers)[0] + ",upperdir=" + snap_->upper_dir("c1") +
                       ",workdir=" + tmp_ / "snapshots/active/c1/work" +
                       ",index=off,redirect_dir=off,metacopy=off");
  write_text(snap_->upper_dir("c1") + "/data", std::string(1000, 'x'));
  ASSERT_EQ(::link((snap_->upper_dir("c1") + "/data").c_str(),
                   (snap_->upper_dir("c1") + "/data2").c_str()),
            0);
  auto usage = snap_->active_usage("c1");
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, 1000);
  ASSERT_TRUE(snap_->remove("c1"));
  EXPECT_FALSE(snap_->has_active("c1"));
  EXPECT_TRUE(snap_->remove("c1"));  // missing is fine
  EXPECT_EQ(snap_->list_active(), (std::vector<std::string>{"c2"}));
}

TEST_F(SnapshotterTest, MountedChainHidesWhiteoutsAndOpaqueDirs) {
  if (!testing::is_root()) GTEST_SKIP() << "needs root";
  std::string l1 = make_layer(
      tmp_, "l1", "mkdir d && echo x > d/x && echo y > d/y && echo a > a && echo k > keep");
  std::string l2 =
      make_layer(tmp_, "l2", "mkdir d && touch .wh.a d/.wh..wh..opq && echo n > d/new");
  auto c1 = apply(*snap_, "", l1);
  ASSERT_TRUE(c1) << c1.error().message();
  auto c2 = apply(*snap_, c1->chain_id, l2);
  ASSERT_TRUE(c2) << c2.error().message();
  ASSERT_TRUE(snap_->prepare("ctr", c2->chain_id));
  auto m = snap_->mount("ctr", tmp_ / "mnt");
  ASSERT_TRUE(m) << m.error().message();
  mounted_ = true;
  EXPECT_EQ(sh_output("cd " + tmp_ / "mnt" + " && find . | sort | tr '\\n' ' '"),
            ". ./d ./d/new ./keep ");
  write_text(tmp_ / "mnt/written", "by container");
  ASSERT_EQ(sh("rm " + tmp_ / "mnt/keep"), 0);
  ASSERT_TRUE(snap_->unmount(tmp_ / "mnt"));
  mounted_ = false;
  EXPECT_TRUE(snap_->unmount(tmp_ / "mnt"));  // not mounted: fine
  EXPECT_EQ(read_text(snap_->upper_dir("ctr") + "/written"), "by container");
  auto lowers = snap_->lower_dirs(c2->chain_id);
  ASSERT_TRUE(lowers);
  auto changes = overlay_changes(snap_->upper_dir("ctr"), *lowers);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].path, "/keep");
  EXPECT_EQ((*changes)[0].kind, Change::kDeleted);
  EXPECT_EQ((*changes)[1].path, "/written");
  EXPECT_EQ((*changes)[1].kind, Change::kAdded);
  ASSERT_TRUE(snap_->remove("ctr"));
}

TEST_F(SnapshotterTest, EmptyParentMountsAWritableEmptyRoot) {
  if (!testing::is_root()) GTEST_SKIP() << "needs root";
  ASSERT_TRUE(snap_->prepare("scratch", ""));
  auto m = snap_->mount("scratch", tmp_ / "mnt");
  ASSERT_TRUE(m) << m.error().message();
  mounted_ = true;
  EXPECT_EQ(sh_output("ls -A " + tmp_ / "mnt"), "");
  write_text(tmp_ / "mnt/f", "x");
  ASSERT_TRUE(snap_->unmount(tmp_ / "mnt"));
  mounted_ = false;
  EXPECT_EQ(read_text(snap_->upper_dir("scratch") + "/f"), "x");
}

TEST_F(SnapshotterTest, HundredLayersMountBeyondAPageOfOptions) {
  if (!testing::is_root()) GTEST_SKIP() << "needs root";
  std::string parent;
  for (int i = 0; i < 100; ++i) {
    std::string n = std::to_string(i);
    std::string tar =
        make_layer(tmp_, "l" + n, "echo " + n + " > f" + n + " && echo " + n + " > top");
    auto c = apply(*snap_, parent, tar);
    ASSERT_TRUE(c) << c.error().message();
    parent = c->chain_id;
  }
  ASSERT_TRUE(snap_->prepare("tall", parent));
  auto opts = snap_->mount_options("tall");
  ASSERT_TRUE(opts);
  EXPECT_GT(opts->size(), 4096u);
  auto m = snap_->mount("tall", tmp_ / "mnt");
  ASSERT_TRUE(m) << m.error().message();
  mounted_ = true;
  EXPECT_EQ(read_text(tmp_ / "mnt/top"), "99\n");
  EXPECT_EQ(read_text(tmp_ / "mnt/f0"), "0\n");
  EXPECT_EQ(sh_output("ls " + tmp_ / "mnt" + " | wc -l"), "101");
}

}  // namespace
}  // namespace berth::image
