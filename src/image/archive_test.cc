// Tests for layer tars: round trips keep metadata, digests match the tools', compressed inputs,
// hostile tars stay inside dest, whiteouts in both directions, and docker diff on a real
// overlay upper dir. Tests that chown, mknod, set trusted.* xattrs or mount need root.
#include "image/archive.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "base/file.h"
#include "base/unique_fd.h"
#include "image/archive_test_util.h"

namespace berth::image {
namespace {

using testing::describe_tree;
using testing::read_text;
using testing::sh;
using testing::sh_output;
using testing::TempDir;
using testing::write_text;

#define REQUIRE_ROOT() \
  if (!testing::is_root()) GTEST_SKIP() << "needs root"

// Builds a tar with python3's tarfile: body calls f(name, data), d(name), l(name, target),
// h(name, target), c(name, major, minor), p(name) (fifo).
void make_tar(const std::string& tar, const std::string& body) {
  std::string script = tar + ".py";
  write_text(script, R"(import tarfile, io, sys
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
def add(name, typ, **kw):
    i = tarfile.TarInfo(name); i.type = typ; i.mtime = 1700000000
    for k, v in kw.items(): setattr(i, k, v)
    return i
def f(name, data=b'x', mode=0o644):
    i = add(name, tarfile.REGTYPE, mode=mode, size=len(data)); t.addfile(i, io.BytesIO(data))
def d(name, mode=0o755): t.addfile(add(name, tarfile.DIRTYPE, mode=mode))
def l(name, target): t.addfile(add(name, tarfile.SYMTYPE, linkname=target))
def h(name, target): t.addfile(add(name, tarfile.LNKTYPE, linkname=target))
def c(name, ma, mi): t.addfile(add(name, tarfile.CHRTYPE, devmajor=ma, devminor=mi))
def p(name): t.addfile(add(name, tarfile.FIFOTYPE))
)" + body + "\nt.close()\n");
  ASSERT_EQ(sh("python3 " + script + " " + tar), 0) << body;
}

Result<UnpackResult> unpack_file(const std::string& tar, const std::string& dest,
                                 const UnpackOptions& opts = {}) {
  int fd = ::open(tar.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + tar);
  UniqueFd owned(fd);
  return unpack_tar(fd, dest, opts);
}

Result<TarResult> tar_to_file(const std::string& src, const std::string& out,
                              const TarOptions& opts = {}) {
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("open " + out);
  UniqueFd owned(fd);
  return write_tar(src, fd, opts);
}

std::string sha256sum(const std::string& cmd_or_file, bool is_cmd = false) {
  std::string cmd = is_cmd ? cmd_or_file + " | sha256sum" : "sha256sum " + cmd_or_file;
  return "sha256:" + sh_output(cmd + " | cut -d' ' -f1");
}

void set_mtime(const std::string& path, time_t sec) {
  struct timespec ts[2] = {{sec, 0}, {sec, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// A tree with every kind of entry and metadata unpack must keep.
void make_rich_tree(const std::string& src) {
  ASSERT_EQ(sh("mkdir -p " + src + "/bin " + src + "/data/sub " + src + "/empty"), 0);
  write_text(src + "/bin/su", "#!/bin/sh\necho su\n", 0755);
  ASSERT_EQ(::chmod((src + "/bin/su").c_str(), 04755), 0);
  write_text(src + "/bin/ping", std::string(100000, 'p'), 0755);
  ASSERT_EQ(sh("setcap cap_net_raw+ep " + src + "/bin/ping"), 0);
  write_text(src + "/data/f", "owned by 1234", 0640);
  ASSERT_EQ(::chown((src + "/data/f").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::setxattr((src + "/data/f").c_str(), "user.note", "hello", 5, 0), 0);
  ASSERT_EQ(::setxattr((src + "/data/f").c_str(), "trusted.tag", "t", 1, 0), 0);
  ASSERT_EQ(::link((src + "/data/f").c_str(), (src + "/data/hard").c_str()), 0);
  ASSERT_EQ(::symlink("../bin/su", (src + "/data/link").c_str()), 0);
  ASSERT_EQ(::lchown((src + "/data/link").c_str(), 42, 43), 0);
  ASSERT_EQ(::mkfifo((src + "/data/fifo").c_str(), 0620), 0);
  ASSERT_EQ(::mknod((src + "/data/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  std::string long_dir = src + "/data/sub/" + std::string(90, 'd');
  ASSERT_EQ(::mkdir(long_dir.c_str(), 0750), 0);
  write_text(long_dir + "/" + std::string(120, 'n'), "long name");
  write_text(src + "/data/sub/sparse", "");
  ASSERT_EQ(::truncate((src + "/data/sub/sparse").c_str(), 5 << 20), 0);
  ASSERT_EQ(::chmod((src + "/empty").c_str(), 01777), 0);
  time_t t = 1600000000;
  for (const char* p :
       {"bin/su", "bin/ping", "data/f", "data/link", "data/fifo", "data/null", "data/sub/sparse"})
    set_mtime(src + "/" + p, t++);
  set_mtime(long_dir + "/" + std::string(120, 'n'), t++);
  set_mtime(long_dir, t++);
  for (const char* p : {"data/sub", "data", "bin", "empty"}) set_mtime(src + "/" + p, t++);
}

TEST(UnpackTar, RoundTripKeepsModesOwnersLinksXattrsAndTimes) {
  REQUIRE_ROOT();
  TempDir tmp;
  make_rich_tree(tmp / "src");
  ASSERT_EQ(::mkdir((tmp / "dest").c_str(), 0755), 0);
  auto written =
      tar_to_file(tmp / "src", tmp / "layer.tar.gz", {.compression = Compression::kGzip});
  ASSERT_TRUE(written) << written.error().message();
  auto unpacked = unpack_file(tmp / "layer.tar.gz", tmp / "dest", {.allow_devices = true});
  ASSERT_TRUE(unpacked) << unpacked.error().message();
  EXPECT_EQ(describe_tree(tmp / "dest"), describe_tree(tmp / "src"));
  EXPECT_NE(describe_tree(tmp / "dest").find("security.capability"), std::string::npos);
  EXPECT_EQ(unpacked->diff_id, written->diff_id);
  EXPECT_EQ(unpacked->compressed_digest, written->digest);
  EXPECT_EQ(unpacked->compressed_size, written->size);
  // su + ping + f (hard counted once as a link) + long + sparse
  EXPECT_EQ(unpacked->unpacked_size, 18 + 100000 + 13 + 9 + (5 << 20));
}

TEST(UnpackTar, GnuTarArchivesUnpackTheSame) {
  REQUIRE_ROOT();
  TempDir tmp;
  make_rich_tree(tmp / "src");
  ASSERT_EQ(::mkdir((tmp / "dest").c_str(), 0755), 0);
  ASSERT_EQ(sh("tar --xattrs --xattrs-include='*' --sparse -C " + tmp / "src" + " -czf " +
               tmp / "gnu.tgz" + " ."),
            0);
  auto unpacked = unpack_file(tmp / "gnu.tgz", tmp / "dest", {.allow_devices = true});
  ASSERT_TRUE(unpacked) << unpacked.error().message();
  EXPECT_EQ(describe_tree(tmp / "dest"), describe_tree(tmp / "src"));
  EXPECT_EQ(unpacked->diff_id, sha256sum("gzip -dc " + tmp / "gnu.tgz", true));
}

TEST(WriteTar, DiffIdIsSha256OfTheUncompressedTar) {
  TempDir tmp;
  ASSERT_EQ(sh("mkdir -p " + tmp / "src/a/b && echo hi > " + tmp / "src/a/b/c"), 0);
  auto plain = tar_to_file(tmp / "src", tmp / "l.tar");
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->diff_id, sha256sum(tmp / "l.tar"));
  EXPECT_EQ(plain->digest, plain->diff_id);
  auto gz = tar_to_file(tmp / "src", tmp / "l.tar.gz", {.compression = Compression::kGzip});
  ASSERT_TRUE(gz) << gz.error().message();
  EXPECT_EQ(gz->diff_id, plain->diff_id);
  EXPECT_EQ(gz->digest, sha256sum(tmp / "l.tar.gz"));
  EXPECT_EQ(sha256sum("gzip -dc " + tmp / "l.tar.gz", true), plain->diff_id);
  EXPECT_EQ(gz->size, std::stoll(sh_output("stat -c %s " + tmp / "l.tar.gz")));
  // Entries are relative, sorted, directories first.
  EXPECT_EQ(sh_output("tar -tf " + tmp / "l.tar" + " | tr '\\n' ' '"), "a/ a/b/ a/b/c ");
  ASSERT_EQ(::mkdir((tmp / "dest").c_str(), 0755), 0);
  auto unpacked = unpack_file(tmp / "l.tar.gz", tmp / "dest");
  ASSERT_TRUE(unpacked) << unpacked.error().message();
  EXPECT_EQ(unpacked->diff_id, plain->diff_id);
  EXPECT_EQ(unpacked->compressed_digest, gz->digest);
}

TEST(WriteTar, ZeroTimesIsReproducible) {
  TempDir tmp;
  ASSERT_EQ(sh("mkdir -p " + tmp / "src/d && echo x > " + tmp / "src/d/f"), 0);
  auto first = tar_to_file(tmp / "src", tmp / "1.tar", {.zero_times = true});
  ASSERT_TRUE(first);
  ASSERT_EQ(sh("touch -d 2001-01-01 " + tmp / "src/d/f"), 0);
  auto second = tar_to_file(tmp / "src", tmp / "2.tar", {.zero_times = true});
  ASSERT_TRUE(second);
  EXPECT_EQ(first->diff_id, second->diff_id);
  EXPECT_NE(sh_output("tar -tvf " + tmp / "1.tar").find("1970-01-01"), std::string::npos);
}

TEST(WriteTar, RenameRootNamesASingleFileOrDir) {
  TempDir tmp;
  ASSERT_EQ(sh("mkdir -p " + tmp / "src/dir && echo body > " + tmp / "src/dir/file.txt"), 0);
  auto file = tar_to_file(tmp / "src/dir/file.txt", tmp / "f.tar", {.rename_root = "copy.txt"});
  ASSERT_TRUE(file) << file.error().message();
  EXPECT_EQ(sh_output("tar -tf " + tmp / "f.tar"), "copy.txt");
  auto dir = tar_to_file(tmp / "src/dir", tmp / "d.tar", {.rename_root = "renamed"});
  ASSERT_TRUE(dir) << dir.error().message();
  EXPECT_EQ(sh_output("tar -tf " + tmp / "d.tar" + " | tr '\\n' ' '"),
            "renamed/ renamed/file.txt ");
}

TEST(UnpackTar, ZstdAndMultiMemberGzipInputs) {
  TempDir tmp;
  ASSERT_EQ(sh("mkdir -p " + tmp / "src && head -c 3000000 /dev/urandom > " + tmp / "src/big"), 0);
  auto plain = tar_to_file(tmp / "src", tmp / "l.tar");
  ASSERT_TRUE(plain);
  ASSERT_EQ(sh("zstd -q -c " + tmp / "l.tar" + " > " + tmp / "l.tar.zst"), 0);
  ASSERT_EQ(sh("head -c 1000000 " + tmp / "l.tar" + " | gzip -c > " +
               tmp / "m.gz && tail -c +1000001 " + tmp / "l.tar" + " | gzip -c >> " + tmp / "m.gz"),
            0);
  for (const char* name : {"l.tar.zst", "m.gz"}) {
    std::string dest = tmp / (std::string(name) + ".out");
    ASSERT_EQ(::mkdir(dest.c_str(), 0755), 0);
    auto r = unpack_file(tmp / name, dest);
    ASSERT_TRUE(r) << name << ": " << r.error().message();
    EXPECT_EQ(r->diff_id, plain->diff_id) << name;
    EXPECT_EQ(r->compressed_digest, sha256sum(tmp / name)) << name;
    EXPECT_EQ(sh("cmp -s " + tmp / "src/big" + " " + dest + "/big"), 0) << name;
  }
}

TEST(UnpackTar, TruncatedOrCorruptStreamsAreErrors) {
  TempDir tmp;
  ASSERT_EQ(sh("mkdir -p " + tmp / "src && head -c 300000 /dev/urandom > " + tmp / "src/big"), 0);
  ASSERT_TRUE(tar_to_file(tmp / "src", tmp / "l.tar"));
  ASSERT_EQ(sh("gzip -c " + tmp / "l.tar" + " > " + tmp / "l.gz"), 0);
  ASSERT_EQ(sh("zstd -q -c " + tmp / "l.tar" + " > " + tmp / "l.zst"), 0);
  int64_t gz = std::stoll(sh_output("stat -c %s " + tmp / "l.gz"));
  int64_t zs = std::stoll(sh_output("stat -c %s " + tmp / "l.zst"));
  struct Case {
    std::string name, cmd, want;
  } cases[] = {
      {"half.gz", "head -c " + std::to_string(gz / 2) + " " + tmp / "l.gz", "gzip"},
      {"notrailer.gz", "head -c " + std::to_string(gz - 4) + " " + tmp / "l.gz", "gzip"},
      {"badcrc.gz",
       "python3 -c \"import sys; b=bytearray(open('" + tmp / "l.gz" +
           "','rb').read()); b[-6]^=0xff; sys.stdout.buffer.write(b)\"",
       "gzip"},
      {"flipped.gz",
       "python3 -c \"import sys; b=bytearray(open('" + tmp / "l.gz" +
           "','rb').read()); b[len(b)//2]^=0x55; b[len(b)//2+1]^=0x55; "
           "sys.stdout.buffer.write(b)\"",
       "gzip"},
      {"half.zst", "head -c " + std::to_string(zs / 2) + " " + tmp / "l.zst", "zstd"},
      {"half.tar", "head -c 150000 " + tmp / "l.tar", "layer"},
      // Cut exactly after an entry: parses cleanly, only the missing end blocks tell.
      {"boundary.tar", "head -c 1024 " + tmp / "small.tar", "end-of-archive"},
      {"boundary.tar.gz", "head -c 1024 " + tmp / "small.tar" + " | gzip -c", "end-of-archive"},
      {"empty", "true", "layer"},
  };
  make_tar(tmp / "small.tar", "f('a', b'1')\nf('b', b'2')");
  for (const auto& c : cases) {
    ASSERT_EQ(sh(c.cmd + " > " + tmp / c.name), 0) << c.name;
    std::string dest = tmp / (c.name + ".out");
    ASSERT_EQ(::mkdir(dest.c_str(), 0755), 0);
    auto r = unpack_file(tmp / c.name, dest);
    ASSERT_FALSE(r) << c.name << " unpacked";
    EXPECT_NE(r.error().message().find(c.want), std::string::npos)
        << c.name << ": " << r.error().message();
  }
}

TEST(UnpackTar, TrailingGarbageAfterTheStreamIsHashedButIgnored) {
  TempDir tmp;
  ASSERT_EQ(sh("mkdir -p " + tmp / "src && echo hi > " + tmp / "src/f"), 0);
  auto plain = tar_to_file(tmp / "src", tmp / "l.tar");
  ASSERT_TRUE(plain);
  ASSERT_EQ(
      sh("gzip -c " + tmp / "l.tar" + " > " + tmp / "l.gz && printf 'garbage!' >> " + tmp / "l.gz"),
      0);
  ASSERT_EQ(::mkdir((tmp / "dest").c_str(), 0755), 0);
  auto r = unpack_file(tmp / "l.gz", tmp / "dest");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->diff_id, plain->diff_id);
  EXPECT_EQ(r->compressed_digest, sha256sum(tmp / "l.gz"));
  EXPECT_EQ(read_text(tmp / "dest/f"), "hi\n");
}

// Each hostile tar is unpacked into top/dest next to top/sentinel: whatever it does, the
// sentinel and the host stay untouched.
class HostileTar : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sh("mkdir -p " + top_ / "dest " + top_ / "sentinel"), 0);
    write_text(top_ / "sentinel/file", "keep");
    sentinel_ = describe_tree(top_ / "sentinel");
    ::unlink("/tmp/berth-escape-marker");
  }
  void TearDown() override {
    EXPECT_EQ(describe_tree(top_ / "sentinel"), sentinel_);
    EXPECT_NE(::access("/tmp/berth-escape-marker", F_OK), 0) << "a write escaped to the host";
    ::unlink("/tmp/berth-escape-marker");
  }
  Result<UnpackResult> unpack(const std::string& body) {
    make_tar(top_ / "layer.tar", body);
    return unpack_file(top_ / "layer.tar", top_ / "dest");
  }
  TempDir top_;
  std::string sentinel_;
};

TEST_F(HostileTar, DotDotNamesAreCleanedIntoTheRoot) {
  auto r =
      unpack("f('../../../../../../tmp/berth-escape-marker')\nf('../sentinel/file', b'pwned')");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_text(top_ / "dest/tmp/berth-escape-marker"), "x");
  EXPECT_EQ(read_text(top_ / "dest/sentinel/file"), "pwned");
}

TEST_F(HostileTar, AbsoluteNamesLandInsideDest) {
  auto r = unpack("f('/tmp/berth-escape-marker')\nf('" + top_ / "sentinel/file" + "', b'pwned')");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_text(top_ / "dest/tmp/berth-escape-marker"), "x");
  EXPECT_EQ(read_text(top_ / ("dest" + top_ / "sentinel/file")), "pwned");
}

TEST_F(HostileTar, SymlinkToRootIsNotFollowedOutOfDest) {
  auto r = unpack(
      "l('evil', '/')\nf('evil/tmp/berth-escape-marker')\nl('up', '../../..')\n"
      "f('up/tmp/berth-escape-marker2')");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_text(top_ / "dest/tmp/berth-escape-marker"), "x");
  EXPECT_EQ(read_text(top_ / "dest/tmp/berth-escape-marker2"), "x");
  // A parent symlink whose target does not exist inside dest: an error, nothing written.
  auto dangling = unpack("l('s', '" + top_ / "sentinel" + "')\nf('s/file', b'pwned')");
  ASSERT_FALSE(dangling);
  EXPECT_NE(dangling.error().message().find("layer entry s/file"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::lstat((top_ / "dest/evil").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));  // symlinks are data: created as given
}

TEST_F(HostileTar, FileOverSymlinkReplacesTheLink) {
  auto r = unpack("l('link', '" + top_ / "sentinel/file" +
                  "')\nf('link', b'pwned')\n"
                  "l('hl_src', '" +
                  top_ / "sentinel/file" + "')\nh('hl', 'hl_src')\nf('hl', b'x')");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_text(top_ / "dest/link"), "pwned");
  struct stat st;
  ASSERT_EQ(::lstat((top_ / "dest/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(HostileTar, HardlinkOutsideDestIsAnErrorNamingTheEntry) {
  auto r = unpack("h('hl', '../../sentinel/file')");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("layer entry hl"), std::string::npos) << r.error().message();
  auto abs = unpack("h('hl2', '" + top_ / "sentinel/file" + "')");
  ASSERT_FALSE(abs);
  EXPECT_NE(abs.error().message().find("hl2"), std::string::npos);
  // Through a symlinked parent: still resolved inside dest.
  auto via = unpack("l('s', '" + top_ / "sentinel" + "')\nh('hl3', 's/file')");
  ASSERT_FALSE(via);
  EXPECT_NE(via.error().message().find("hl3"), std::string::npos);
}

TEST_F(HostileTar, DeviceNodesAreRefusedUnlessAllowed) {
  auto r = unpack("d('dev')\nc('dev/x', 8, 0)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "layer entry dev/x: device nodes are not allowed");
  EXPECT_NE(::access((top_ / "dest/dev/x").c_str(), F_OK), 0);
  auto fifo = unpack("p('pipe')");
  ASSERT_TRUE(fifo) << fifo.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((top_ / "dest/pipe").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(UnpackTar, EntryErrorInALargeCompressedStreamStopsTheReaderThread) {
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "dest").c_str(), 0755), 0);
  make_tar(tmp / "l.tar", "c('dev', 1, 3)\nimport os\nf('big', os.urandom(8 << 20))");
  ASSERT_EQ(sh("gzip -1 " + tmp / "l.tar"), 0);
  auto r = unpack_file(tmp / "l.tar.gz", tmp / "dest");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "layer entry dev: device nodes are not allowed");
}

TEST(UnpackTar, LaterEntriesReplaceEarlierOnesAsTarDoes) {
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "dest").c_str(), 0755), 0);
  make_tar(tmp / "l.tar",
           "d('x')\nf('x/a')\nf('x', b'now a file')\n"
           "d('y', 0o700)\nf('y/a', b'kept')\nd('y', 0o751)\n"
           "f('z', b'old')\nd('z')\nf('z/b', b'in dir')");
  auto r = unpack_file(tmp / "l.tar", tmp / "dest");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_text(tmp / "dest/x"), "now a file");
  EXPECT_EQ(read_text(tmp / "dest/y/a"), "kept");
  struct stat st;
  ASSERT_EQ(::stat((tmp / "dest/y").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  EXPECT_EQ(read_text(tmp / "dest/z/b"), "in dir");
}

TEST(UnpackTar, WhiteoutsBecomeOverlayWhiteouts) {
  REQUIRE_ROOT();
  TempDir tmp;
  ASSERT_EQ(::mkdir((tmp / "dest").c_str(), 0755), 0);
  make_tar(tmp / "l.tar",
           "f('.wh.gone', b'')\nd('dir')\nf('dir/.wh..wh..opq', b'')\nf('dir/keep')\n"
           "f('sub/.wh.deep', b'')\nf('.wh..wh.plnk', b'')");
  auto r = unpack_file(tmp / "l.tar", tmp / "dest");
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((tmp / "dest/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  ASSERT_EQ(::lstat((tmp / "dest/sub/deep").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  char v[4] = {};
  EXPECT_EQ(::getxattr((tmp / "dest/dir").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_EQ(read_text(tmp / "dest/dir/keep"), "x");
  EXPECT_EQ(sh_output("find " + tmp / "dest" + " -name '.wh.*'"), "");
}

TEST(UnpackTar, ApplyWhiteoutsDeleteFromDest) {
  TempDir tmp;
  ASSERT_EQ(
      sh("mkdir -p " + tmp / "dest/dir/olddir " + tmp / "dest/gonedir && touch " +
         tmp / "dest/gone " + tmp / "dest/dir/old " + tmp / "dest/gonedir/x " + tmp / "dest/stay"),
      0);
  make_tar(tmp / "l.tar",
           "f('.wh.gone', b'')\nf('.wh.gonedir', b'')\nd('dir')\nf('dir/new')\n"
           "f('dir/.wh..wh..opq', b'')\nf('.wh.never-there', b'')");
  auto r = unpack_file(tmp / "l.tar", tmp / "dest", {.whiteouts = Whiteouts::kApply});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(sh_output("cd " + tmp / "dest" + " && find . | sort | tr '\\n' ' '"),
            ". ./dir ./dir/new ./stay ");
}

TEST(UnpackTar, SubdirExtractsBelowDest) {
  TempDir tmp;
  ASSERT_EQ(sh("mkdir -p " + tmp / "dest/a && ln -s / " + tmp / "dest/link"), 0);
  make_tar(tmp / "l.tar", "f('../../f')");
  auto r = unpack_file(tmp / "l.tar", tmp / "dest", {.subdir = "link/a"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(read_text(tmp / "dest/a/f"), "x");
}

// A container-like upper dir: made by a real overlay mount, then changed through it.
class OverlayUpper : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::is_root()) GTEST_SKIP() << "needs root";
    ASSERT_EQ(sh("mkdir -p " + t_ / "lower/d/sub " + t_ / "lower/etc " + t_ / "upper " +
                 t_ / "work " + t_ / "merged"),
              0);
    for (const char* f : {"a", "d/x", "d/sub/y", "keep", "etc/hosts"})
      write_text(t_ / ("lower/" + std::string(f)), "lower");
    std::string opts = "lowerdir=" + t_ / "lower" + ",upperdir=" + t_ / "upper" +
                       ",workdir=" + t_ / "work" + ",index=off";
    ASSERT_EQ(::mount("overlay", (t_ / "merged").c_str(), "overlay", 0, opts.c_str()), 0)
        << strerror(errno);
    mounted_ = true;
    std::string m = t_ / "merged";
    ASSERT_EQ(sh("rm " + m + "/a && rm -r " + m + "/d && mkdir " + m + "/d && echo new > " + m +
                 "/d/new && echo changed > " + m + "/keep && mkdir " + m + "/newdir && touch " + m +
                 "/newdir/f " + m + "/etc/added"),
              0);
    ASSERT_EQ(::umount2(m.c_str(), 0), 0);
    mounted_ = false;
  }
  void TearDown() override {
    if (mounted_) ::umount2((t_ / "merged").c_str(), MNT_DETACH);
  }
  TempDir t_;
  bool mounted_ = false;
};

TEST_F(OverlayUpper, WriteTarConvertsOverlayWhiteouts) {
  auto r = tar_to_file(t_ / "upper", t_ / "diff.tar", {.overlay_whiteouts = true});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(sh_output("tar -tf " + t_ / "diff.tar" + " | tr '\\n' ' '"),
            ".wh.a d/ d/.wh..wh..opq d/new etc/ etc/added keep newdir/ newdir/f ");
  // No overlay-private xattrs leak into the layer.
  EXPECT_EQ(sh_output("tar --xattrs -tvvf " + t_ / "diff.tar" + " 2>&1 | grep -c trusted.overlay"),
            "0");
}

TEST_F(OverlayUpper, OverlayChangesListsWhatDockerDiffShows) {
  auto changes = overlay_changes(t_ / "upper", {t_ / "lower"});
  ASSERT_TRUE(changes) << changes.error().message();
  std::string got;
  for (const auto& c : *changes) got += "CAD"[c.kind] + std::string(" ") + c.path + "\n";
  EXPECT_EQ(got,
            "D /a\n"
            "C /d\n"
            "A /d/new\n"
            "C /etc\n"
            "A /etc/added\n"
            "C /keep\n"
            "A /newdir\n"
            "A /newdir/f\n");
}

}  // namespace
}  // namespace berth::image
