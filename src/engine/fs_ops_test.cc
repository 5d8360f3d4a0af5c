// Tests for docker cp's file operations: stat fields, Go file modes, and that symlinks pointing
// outside the root (absolute, "..", host paths) resolve inside it for stat, get and put.
#include "engine/fs_ops.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "base/file.h"

namespace berth::engine {
namespace {

class FsOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-fsops-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    root_ = tmp_ + "/rootfs";
    host_ = tmp_ + "/host";
    ASSERT_TRUE(mkdir_all(root_ + "/etc"));
    ASSERT_TRUE(mkdir_all(root_ + "/dir/sub"));
    ASSERT_TRUE(mkdir_all(host_));
    ASSERT_TRUE(write_file_atomic(root_ + "/etc/hostname", "box\n", 0644, false));
    ASSERT_TRUE(write_file_atomic(root_ + "/dir/sub/file.txt", "hello", 0600, false));
    ASSERT_TRUE(write_file_atomic(host_ + "/secret", "host secret", 0600, false));
    ASSERT_EQ(::symlink("/", (root_ + "/escape").c_str()), 0);
    ASSERT_EQ(::symlink("../../../..", (root_ + "/dir/up").c_str()), 0);
    ASSERT_EQ(::symlink("/etc", (root_ + "/etclink").c_str()), 0);
    ASSERT_EQ(::symlink("/nonexistent/x", (root_ + "/dangling").c_str()), 0);
    ASSERT_EQ(::symlink(host_.c_str(), (root_ + "/hostlink").c_str()), 0);
    ASSERT_EQ(::symlink((host_ + "/secret").c_str(), (root_ + "/secretlink").c_str()), 0);
  }
  void TearDown() override { (void)remove_all(tmp_); }

  // Entry name -> contents ("" for non-files) of a tar in a file.
  std::map<std::string, std::string> read_tar(const std::string& file) {
    std::map<std::string, std::string> out;
    struct archive* a = archive_read_new();
    archive_read_support_format_tar(a);
    EXPECT_EQ(archive_read_open_filename(a, file.c_str(), 10240), ARCHIVE_OK);
    struct archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
      std::string data;
      char buf[4096];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0) data.append(buf, n);
      std::string name = archive_entry_pathname(e);
      if (archive_entry_filetype(e) == AE_IFLNK)
        data = std::string("-> ") + archive_entry_symlink(e);
      out[name] = data;
    }
    archive_read_free(a);
    return out;
  }

  // Writes a tar with the given files (name -> contents) and returns a readable fd of it.
  UniqueFd make_tar(const std::map<std::string, std::string>& files) {
    std::string path = tmp_ + "/in.tar";
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    EXPECT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
    for (const auto& [name, data] : files) {
      struct archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, name.c_str());
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
      archive_write_header(a, e);
      archive_write_data(a, data.data(), data.size());
      archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }

  std::string tmp_, root_, host_;
};

TEST(GoFileMode, MapsTypeAndSpecialBits) {
  EXPECT_EQ(go_file_mode(S_IFREG | 0644), 0644u);
  EXPECT_EQ(go_file_mode(S_IFDIR | 0755), 0x80000000u | 0755);
  EXPECT_EQ(go_file_mode(S_IFLNK | 0777), 0x08000000u | 0777);
  EXPECT_EQ(go_file_mode(S_IFCHR | 0666), 0x04000000u | 0x00200000u | 0666);
  EXPECT_EQ(go_file_mode(S_IFIFO | 0600), 0x02000000u | 0600);
  EXPECT_EQ(go_file_mode(S_IFREG | S_ISUID | 0755), 0x00800000u | 0755);
  EXPECT_EQ(go_file_mode(S_IFDIR | S_ISVTX | 0777), 0x80000000u | 0x00100000u | 0777);
}

TEST_F(FsOpsTest, StatRegularFileAndDirectory) {
  struct timespec ts[2] = {{1700000000, 120000000}, {1700000000, 120000000}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root_ + "/etc/hostname").c_str(), ts, 0), 0);
  auto f = fs_path_stat(root_, "/etc/hostname");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ((*f)["name"], "hostname");
  EXPECT_EQ((*f)["size"], 4);
  EXPECT_EQ((*f)["mode"], 0644);
  EXPECT_EQ((*f)["mtime"], "2023-11-14T22:13:20.12Z");
  EXPECT_EQ((*f)["linkTarget"], "");
  auto d = fs_path_stat(root_, "etc");
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)["name"], "etc");
  EXPECT_TRUE((*d)["mode"].get<uint32_t>() & 0x80000000u);
  auto r = fs_path_stat(root_, "/");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["name"], "/");
}

TEST_F(FsOpsTest, StatSymlinkReportsTargetResolvedInsideRoot) {
  auto l = fs_path_stat(root_, "/etclink");
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_TRUE((*l)["mode"].get<uint32_t>() & 0x08000000u);
  EXPECT_EQ((*l)["linkTarget"], "/etc");
  EXPECT_EQ((*fs_path_stat(root_, "/escape"))["linkTarget"], "/");
  EXPECT_EQ((*fs_path_stat(root_, "/dir/up"))["linkTarget"], "/");
  EXPECT_EQ((*fs_path_stat(root_, "/dangling"))["linkTarget"], "/nonexistent/x");
  // A link to a host path names the same path inside the container, which does not exist here.
  EXPECT_EQ((*fs_path_stat(root_, "/secretlink"))["linkTarget"], host_ + "/secret");
}

TEST_F(FsOpsTest, StatTrailingSlashFollowsTheLastLink) {
  auto l = fs_path_stat(root_, "/etclink/");
  ASSERT_TRUE(l);
  EXPECT_TRUE((*l)["mode"].get<uint32_t>() & 0x80000000u);
  EXPECT_EQ((*l)["linkTarget"], "");
}

TEST_F(FsOpsTest, EscapingSymlinksStayInsideTheRoot) {
  // "/escape" is "/" of the container, "/dir/up" climbs to it too: both reach the rootfs's etc.
  auto a = fs_path_stat(root_, "/escape/etc/hostname");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ((*a)["size"], 4);
  auto b = fs_path_stat(root_, "/dir/up/etc/hostname");
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["size"], 4);
  auto c = fs_path_stat(root_, "/../../../etc/hostname");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["size"], 4);
  // The host directory behind an absolute link is not reachable.
  auto h = fs_path_stat(root_, "/hostlink/secret");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(fs_path_stat(root_, "/secretlink/"));
}

TEST_F(FsOpsTest, StatMissingIsNotFound) {
  auto m = fs_path_stat(root_, "/no/such/file");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), ErrorCode::kNotFound);
  auto under_file = fs_path_stat(root_, "/etc/hostname/x");
  ASSERT_FALSE(under_file);
  EXPECT_EQ(under_file.error().code(), ErrorCode::kNotFound);
}

TEST_F(FsOpsTest, ArchiveGetNamesTopEntryAfterBasename) {
  std::string out = tmp_ + "/out.tar";
  {
    UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto r = fs_archive_get(root_, "/etc/hostname", fd.get());
    ASSERT_TRUE(r) << r.error().message();
  }
  auto entries = read_tar(out);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries.begin()->first, "hostname");
  EXPECT_EQ(entries.begin()->second, "box\n");
}

TEST_F(FsOpsTest, ArchiveGetThroughEscapingLinkReadsTheContainer) {
  std::string out = tmp_ + "/out.tar";
  {
    UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto r = fs_archive_get(root_, "/dir/up/dir", fd.get());
    ASSERT_TRUE(r) << r.error().message();
  }
  auto entries = read_tar(out);
  bool found = false;
  for (const auto& [name, data] : entries) {
    EXPECT_EQ(name.rfind("dir", 0), 0u) << name;
    if (name == "dir/sub/file.txt") found = data == "hello";
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(entries["dir/up"], "-> ../../../..");  // links inside are stored, not followed
  UniqueFd fd(::open(out.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  auto missing = fs_archive_get(root_, "/hostlink/secret", fd.get());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(FsOpsTest, ArchiveGetOfDirDotPrefixesEntriesWithDot) {
  std::string out = tmp_ + "/out.tar";
  {
    UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto r = fs_archive_get(root_, "/dir/.", fd.get());
    ASSERT_TRUE(r) << r.error().message();
  }
  auto entries = read_tar(out);
  ASSERT_FALSE(entries.empty());
  for (const auto& [name, data] : entries) EXPECT_EQ(name.rfind(".", 0), 0u) << name;
  EXPECT_EQ(entries["./sub/file.txt"], "hello");
}

TEST_F(FsOpsTest, ArchiveGetOfALinkWithoutSlashArchivesTheLink) {
  std::string out = tmp_ + "/out.tar";
  {
    UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    auto r = fs_archive_get(root_, "/secretlink", fd.get());
    ASSERT_TRUE(r) << r.error().message();
  }
  auto entries = read_tar(out);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries["secretlink"], "-> " + host_ + "/secret");
}

TEST_F(FsOpsTest, ArchivePutExtractsIntoDirectoryInsideRoot) {
  auto in = make_tar({{"new.txt", "data"}, {"nested/b.txt", "bee"}});
  ASSERT_TRUE(in);
  auto r = fs_archive_put(root_, "/escape/dir", in.get());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*read_file(root_ + "/dir/new.txt"), "data");
  EXPECT_EQ(*read_file(root_ + "/dir/nested/b.txt"), "bee");
  EXPECT_FALSE(path_exists("/dir/new.txt"));
}

TEST_F(FsOpsTest, ArchivePutRefusesFilesAndHostLinks) {
  auto in = make_tar({{"x.txt", "x"}});
  auto file = fs_archive_put(root_, "/etc/hostname", in.get());
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(file.error().message(), "extraction point is not a directory");
  auto host = fs_archive_put(root_, "/hostlink", in.get());
  ASSERT_FALSE(host);
  EXPECT_EQ(host.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(path_exists(host_ + "/x.txt"));
}

TEST_F(FsOpsTest, NoOverwriteDirNonDirRefusesBeforeWriting) {
  // "sub" is a directory in /dir: a file named sub must not replace it, and nothing is written.
  auto in = make_tar({{"aaa.txt", "first"}, {"sub", "file now"}});
  auto r = fs_archive_put(root_, "/dir", in.get(), {.no_overwrite_dir_non_dir = true});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(),
            "cannot overwrite directory \"/dir/sub\" with non-directory \"/sub\"");
  EXPECT_FALSE(path_exists(root_ + "/dir/aaa.txt"));
  EXPECT_TRUE(path_exists(root_ + "/dir/sub/file.txt"));
  // Without the option, or without a conflict, the tar is extracted.
  auto ok = make_tar({{"aaa.txt", "first"}, {"sub/new.txt", "n"}});
  auto r2 = fs_archive_put(root_, "/dir", ok.get(), {.no_overwrite_dir_non_dir = true});
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_EQ(*read_file(root_ + "/dir/aaa.txt"), "first");
  EXPECT_EQ(*read_file(root_ + "/dir/sub/new.txt"), "n");
}

TEST_F(FsOpsTest, ArchivePutCannotEscapeThroughEntryNamesOrLinks) {
  // A tar entry climbing with ".." lands inside the root as well.
  auto in = make_tar({{"../../../host/evil.txt", "evil"}});
  (void)fs_archive_put(root_, "/dir", in.get());
  EXPECT_FALSE(path_exists(host_ + "/evil.txt"));
  // Extraction into a link to the host dir, once the container has that path, stays inside.
  ASSERT_TRUE(mkdir_all(root_ + host_));
  auto in2 = make_tar({{"y.txt", "y"}});
  auto r = fs_archive_put(root_, "/hostlink", in2.get());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(path_exists(root_ + host_ + "/y.txt"));
  EXPECT_FALSE(path_exists(host_ + "/y.txt"));
}

}  // namespace
}  // namespace berth::engine
