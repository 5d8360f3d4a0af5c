// The compiled-seccomp cache: hits equal a fresh compile, entries are private, and corrupt or
// foreign-writable entries are recompiled instead of loaded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/security/seccomp.h"
#include "runtime/security/seccomp_testing.h"

namespace berth::runtime::security {
namespace {

using namespace testing;  // NOLINT: rule(), docker_like_profile() ...

bool same_program(const SeccompProgram& a, const SeccompProgram& b) {
  return a.flags == b.flags && a.instructions.size() == b.instructions.size() &&
         std::memcmp(a.instructions.data(), b.instructions.data(),
                     a.instructions.size() * sizeof(sock_filter)) == 0;
}

ino_t inode_of(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::vector<std::string> cache_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().string());
  return out;
}

TEST_F(SeccompDir, CachedCompileHitsAndMatchesFreshCompile) {
  oci::Seccomp s = docker_like_profile();
  const std::string cache = dir_ + "/cache";
  auto fresh = compile_seccomp(s);
  ASSERT_TRUE(fresh);
  auto t0 = std::chrono::steady_clock::now();
  auto miss = compile_seccomp_cached(s, cache);
  auto t1 = std::chrono::steady_clock::now();
  auto hit = compile_seccomp_cached(s, cache);
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(miss && hit);
  EXPECT_TRUE(same_program(*fresh, *miss));
  EXPECT_TRUE(same_program(*fresh, *hit));
  std::printf("seccomp cache: miss %.2f ms, hit %.3f ms\n",
              std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count());
  auto entries = cache_entries(cache);
  ASSERT_EQ(entries.size(), 1u);
  struct stat st;
  ASSERT_EQ(stat(cache.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // A hit does not rewrite the entry.
  ino_t ino = inode_of(entries[0]);
  ASSERT_TRUE(compile_seccomp_cached(s, cache));
  EXPECT_EQ(inode_of(entries[0]), ino);

  // Another profile gets its own entry and its own program.
  oci::Seccomp other = allow_by_default();
  other.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", 42)};
  auto o = compile_seccomp_cached(other, cache);
  ASSERT_TRUE(o);
  EXPECT_TRUE(same_program(*o, *compile_seccomp(other)));
  EXPECT_EQ(cache_entries(cache).size(), 2u);
}

TEST_F(SeccompDir, CacheIgnoresCorruptAndForeignWritableEntries) {
  oci::Seccomp s = allow_by_default();
  s.syscalls = {rule({"mkdir"}, "SCMP_ACT_ERRNO", 42)};
  const std::string cache = dir_ + "/cache";
  auto fresh = compile_seccomp(s);
  ASSERT_TRUE(fresh && compile_seccomp_cached(s, cache));
  auto entries = cache_entries(cache);
  ASSERT_EQ(entries.size(), 1u);
  const std::string entry = entries[0];

  // Flip the last byte of the program: the checksum refuses it, the entry is rewritten.
  {
    int fd = open(entry.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    off_t end = lseek(fd, 0, SEEK_END);
    unsigned char b;
    ASSERT_EQ(pread(fd, &b, 1, end - 1), 1);
    b ^= 0xff;
    ASSERT_EQ(pwrite(fd, &b, 1, end - 1), 1);
    close(fd);
  }
  ino_t before = inode_of(entry);
  auto again = compile_seccomp_cached(s, cache);
  ASSERT_TRUE(again);
  EXPECT_TRUE(same_program(*fresh, *again));
  EXPECT_NE(inode_of(entry), before);

  // A world-writable entry is not trusted either.
  ASSERT_EQ(chmod(entry.c_str(), 0666), 0);
  before = inode_of(entry);
  again = compile_seccomp_cached(s, cache);
  ASSERT_TRUE(again);
  EXPECT_TRUE(same_program(*fresh, *again));
  EXPECT_NE(inode_of(entry), before);
}

}  // namespace
}  // namespace berth::runtime::security
