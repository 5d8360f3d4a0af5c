// Tests for VolumeStore: docker's JSON shapes, persistence in metadata.db, filters, in-use
// conflicts, prune rules, and (as root) tmpfs and bind driver options.
#include "engine/volumes.h"

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdlib>

#include "base/file.h"

namespace berth::engine {
namespace {

class VolumeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-volumes-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto vs = VolumeStore::open(root_);
    ASSERT_TRUE(vs) << vs.error().message();
    vs_ = std::move(*vs);
  }
  void TearDown() override {
    // Unmount anything a failed test left behind before deleting the tree.
    for (const auto& n : vs_ ? vs_->names() : std::vector<std::string>{})
      ::umount2((root_ + "/volumes/" + n + "/_data").c_str(), MNT_DETACH);
    vs_.reset();
    (void)remove_all(root_);
  }
  std::string root_;
  std::unique_ptr<VolumeStore> vs_;
};

using Filters = VolumeFilters;

TEST_F(VolumeStoreTest, CreateReturnsDockerShapeAndMakesDataDir) {
  auto v = vs_->create({{"Name", "data"}, {"Labels", {{"a", "1"}}}});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ((*v)["Name"], "data");
  EXPECT_EQ((*v)["Driver"], "local");
  EXPECT_EQ((*v)["Scope"], "local");
  EXPECT_EQ((*v)["Mountpoint"], root_ + "/volumes/data/_data");
  EXPECT_EQ((*v)["Labels"]["a"], "1");
  EXPECT_TRUE((*v)["Options"].is_object());
  std::string created = (*v)["CreatedAt"];
  EXPECT_EQ(created.size(), 20u);
  EXPECT_EQ(created.back(), 'Z');
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/volumes/data/_data").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(VolumeStoreTest, CreatingAnExistingNameReturnsIt) {
  ASSERT_TRUE(vs_->create({{"Name", "data"}, {"Labels", {{"a", "1"}}}}));
  auto again = vs_->create({{"Name", "data"}});
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["Labels"]["a"], "1");
  EXPECT_EQ(vs_->names().size(), 1u);
}

TEST_F(VolumeStoreTest, EmptyNameMakesAnonymousVolume) {
  auto v = vs_->create(json::Json::object());
  ASSERT_TRUE(v) << v.error().message();
  std::string name = (*v)["Name"];
  EXPECT_EQ(name.size(), 64u);
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ((*v)["Labels"][VolumeStore::kAnonymousLabel], "");
  EXPECT_TRUE(vs_->is_anonymous(name));
}

TEST_F(VolumeStoreTest, RejectsBadNamesDriversAndOptions) {
  auto bad = vs_->create({{"Name", "a/b"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("\"a/b\" includes invalid characters"), std::string::npos);
  EXPECT_FALSE(vs_->create({{"Name", "_x"}}));
  auto drv = vs_->create({{"Name", "x1"}, {"Driver", "nfs"}});
  ASSERT_FALSE(drv);
  EXPECT_EQ(drv.error().message(), "volume driver nfs not supported");
  auto opt = vs_->create({{"Name", "x1"}, {"DriverOpts", {{"type", "nfs"}, {"device", ":/x"}}}});
  ASSERT_FALSE(opt);
  EXPECT_EQ(opt.error().code(), ErrorCode::kInvalidArgument);
  auto key = vs_->create({{"Name", "x1"}, {"DriverOpts", {{"colour", "red"}}}});
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(vs_->names().empty());
  EXPECT_FALSE(path_exists(root_ + "/volumes/x1"));
}

TEST_F(VolumeStoreTest, InspectMissingIsNotFound) {
  auto r = vs_->inspect("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), "get nope: no such volume");
}

TEST_F(VolumeStoreTest, RecordsSurviveReopen) {
  ASSERT_TRUE(vs_->create({{"Name", "keep"}, {"Labels", {{"k", "v"}}}}));
  auto before = vs_->inspect("keep");
  vs_.reset();
  auto vs = VolumeStore::open(root_);
  ASSERT_TRUE(vs);
  vs_ = std::move(*vs);
  auto after = vs_->inspect("keep");
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, *before);
}

TEST_F(VolumeStoreTest, EnsureCreatesOnceAndLabelsAnonymous) {
  auto mp = vs_->ensure("cafe01", true);
  ASSERT_TRUE(mp) << mp.error().message();
  EXPECT_EQ(*mp, root_ + "/volumes/cafe01/_data");
  EXPECT_TRUE(vs_->is_anonymous("cafe01"));
  auto named = vs_->ensure("named", false);
  ASSERT_TRUE(named);
  EXPECT_FALSE(vs_->is_anonymous("named"));
  ASSERT_TRUE(vs_->ensure("named", true));
  EXPECT_FALSE(vs_->is_anonymous("named"));  // an existing volume is not relabelled
}

TEST_F(VolumeStoreTest, ListFiltersByNameLabelAndDangling) {
  ASSERT_TRUE(vs_->create({{"Name", "web-data"}, {"Labels", {{"app", "web"}}}}));
  ASSERT_TRUE(vs_->create({{"Name", "db-data"}, {"Labels", {{"app", "db"}, {"tier", "x"}}}}));
  auto names = [](const json::Json& j) {
    std::vector<std::string> out;
    for (const auto& v : j["Volumes"]) out.push_back(v["Name"]);
    return out;
  };
  VolumeUsers users = [](const std::string& n) {
    return n == "db-data" ? std::vector<std::string>{"c1"} : std::vector<std::string>{};
  };
  auto all = vs_->list({}, users);
  ASSERT_TRUE(all);
  EXPECT_EQ(names(*all), (std::vector<std::string>{"db-data", "web-data"}));
  EXPECT_TRUE((*all)["Warnings"].is_array());
  EXPECT_EQ(names(*vs_->list(Filters{{"name", {"^web"}}}, users)),
            std::vector<std::string>{"web-data"});
  EXPECT_EQ(names(*vs_->list(Filters{{"label", {"app=db"}}}, users)),
            std::vector<std::string>{"db-data"});
  EXPECT_EQ(names(*vs_->list(Filters{{"label", {"tier"}}}, users)),
            std::vector<std::string>{"db-data"});
  EXPECT_EQ(names(*vs_->list(Filters{{"dangling", {"true"}}}, users)),
            std::vector<std::string>{"web-data"});
  EXPECT_EQ(names(*vs_->list(Filters{{"dangling", {"0"}}}, users)),
            std::vector<std::string>{"db-data"});
  auto bad = vs_->list(Filters{{"colour", {"x"}}}, users);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "invalid filter 'colour'");
  EXPECT_FALSE(vs_->list(Filters{{"dangling", {"maybe"}}}, users));
}

TEST_F(VolumeStoreTest, RemoveInUseIsConflictNamingContainers) {
  ASSERT_TRUE(vs_->create({{"Name", "busy"}}));
  VolumeUsers users = [](const std::string&) { return std::vector<std::string>{"c1", "c2"}; };
  auto r = vs_->remove("busy", true, users);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(r.error().message(), "remove busy: volume is in use - [c1 c2]");
  EXPECT_TRUE(vs_->exists("busy"));
}

TEST_F(VolumeStoreTest, UsersCallbackMayCallBackIntoTheStore) {
  ASSERT_TRUE(vs_->ensure("anon", true));
  ASSERT_TRUE(vs_->create({{"Name", "named"}}));
  VolumeUsers users = [&](const std::string& n) {
    // An engine callback takes its own locks and may look at volumes: no deadlock.
    return vs_->is_anonymous(n) ? std::vector<std::string>{} : std::vector<std::string>{"c"};
  };
  auto listed = vs_->list(Filters{{"dangling", {"true"}}}, users);
  ASSERT_TRUE(listed);
  EXPECT_EQ((*listed)["Volumes"].size(), 1u);
  EXPECT_FALSE(vs_->remove("named", false, users));
  auto pruned = vs_->prune(Filters{{"all", {"1"}}}, users);
  ASSERT_TRUE(pruned);
  EXPECT_EQ((*pruned)["VolumesDeleted"], json::Json::array({"anon"}));
  EXPECT_TRUE(vs_->exists("named"));
}

TEST_F(VolumeStoreTest, RemoveDeletesDataAndRecord) {
  ASSERT_TRUE(vs_->create({{"Name", "gone"}}));
  ASSERT_TRUE(write_file_atomic(root_ + "/volumes/gone/_data/f", "x", 0644, false));
  ASSERT_TRUE(vs_->remove("gone", false, nullptr));
  EXPECT_FALSE(path_exists(root_ + "/volumes/gone"));
  EXPECT_FALSE(vs_->exists("gone"));
  auto missing = vs_->remove("gone", false, nullptr);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(vs_->remove("gone", true, nullptr));
  vs_.reset();
  vs_ = std::move(*VolumeStore::open(root_));
  EXPECT_FALSE(vs_->exists("gone"));
}

TEST_F(VolumeStoreTest, PruneRemovesOnlyUnusedAnonymousUnlessAll) {
  ASSERT_TRUE(vs_->create({{"Name", "named"}}));
  ASSERT_TRUE(vs_->ensure("anon1", true));
  ASSERT_TRUE(vs_->ensure("anon2", true));
  ASSERT_TRUE(write_file_atomic(root_ + "/volumes/anon1/_data/f", "12345", 0644, false));
  VolumeUsers users = [](const std::string& n) {
    return n == "anon2" ? std::vector<std::string>{"c"} : std::vector<std::string>{};
  };
  auto p = vs_->prune({}, users);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ((*p)["VolumesDeleted"], json::Json::array({"anon1"}));
  EXPECT_EQ((*p)["SpaceReclaimed"], 5);
  EXPECT_TRUE(vs_->exists("named"));
  EXPECT_TRUE(vs_->exists("anon2"));
  auto kept = vs_->prune(Filters{{"all", {"true"}}, {"label!", {"keep"}}},
                         [](const std::string&) { return std::vector<std::string>{}; });
  ASSERT_TRUE(kept);
  EXPECT_EQ((*kept)["VolumesDeleted"].size(), 2u);
  EXPECT_TRUE(vs_->names().empty());
  EXPECT_FALSE(vs_->prune(Filters{{"dangling", {"true"}}}, nullptr));
}

TEST_F(VolumeStoreTest, UsageReportsSizeAndRefCount) {
  ASSERT_TRUE(vs_->create({{"Name", "sized"}}));
  ASSERT_TRUE(
      write_file_atomic(root_ + "/volumes/sized/_data/a", std::string(1000, 'a'), 0644, false));
  ASSERT_EQ(::link((root_ + "/volumes/sized/_data/a").c_str(),
                   (root_ + "/volumes/sized/_data/b").c_str()),
            0);
  auto u = vs_->usage([](const std::string&) { return std::vector<std::string>{"x", "y"}; });
  ASSERT_TRUE(u);
  ASSERT_EQ(u->size(), 1u);
  EXPECT_EQ((*u)[0]["UsageData"]["Size"], 1000);
  EXPECT_EQ((*u)[0]["UsageData"]["RefCount"], 2);
  EXPECT_EQ(*vs_->size("sized"), 1000);
}

TEST_F(VolumeStoreTest, TmpfsVolumeIsMountedOnUseAndUnmountedOnRemove) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  auto v = vs_->create(
      {{"Name", "scratch"},
       {"DriverOpts", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m,nosuid"}}}});
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ((*v)["Options"]["type"], "tmpfs");
  auto mp = vs_->mountpoint("scratch");
  ASSERT_TRUE(mp) << mp.error().message();
  struct statfs sf {};
  ASSERT_EQ(::statfs(mp->c_str(), &sf), 0);
  EXPECT_EQ(sf.f_type, TMPFS_MAGIC);
  EXPECT_EQ(sf.f_blocks * sf.f_bsize, 1024u * 1024u);
  ASSERT_TRUE(vs_->mountpoint("scratch"));  // a second use does not stack a second mount
  ASSERT_TRUE(vs_->remove("scratch", false, nullptr));
  EXPECT_FALSE(path_exists(*mp));
}

TEST_F(VolumeStoreTest, BindVolumeShowsHostDirAndRemoveKeepsIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string host = root_ + "/host";
  ASSERT_TRUE(mkdir_all(host));
  ASSERT_TRUE(write_file_atomic(host + "/keep.txt", "precious", 0644, false));
  ASSERT_TRUE(vs_->create(
      {{"Name", "bound"}, {"DriverOpts", {{"type", "none"}, {"o", "bind"}, {"device", host}}}}));
  auto mp = vs_->ensure("bound", false);
  ASSERT_TRUE(mp) << mp.error().message();
  auto content = read_file(*mp + "/keep.txt");
  ASSERT_TRUE(content);
  EXPECT_EQ(*content, "precious");
  ASSERT_TRUE(vs_->remove("bound", false, nullptr));
  EXPECT_TRUE(path_exists(host + "/keep.txt"));
}

}  // namespace
}  // namespace berth::engine
