// Helpers for the archive and snapshotter tests: temp dirs removed even when a test fails,
// shell commands (python3 tarfile builds hostile tars), and a tree listing that compares two
// directories by everything unpack must preserve.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "base/file.h"
#include "image/digest.h"

namespace berth::image::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-archive-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p ? p : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)remove_all(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Runs a shell command; returns its exit status (0 = success).
inline int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline std::string sh_output(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

inline void write_text(const std::string& path, const std::string& data, int mode = 0644) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fd);
}

inline std::string read_text(const std::string& path) {
  auto r = read_file(path);
  return r ? *r : "<missing>";
}

// One line per entry: path type mode uid gid mtime size/target/rdev xattrs content-hash; hard
// links show as the first path with the same inode.
inline std::string describe_tree(const std::string& root, bool with_dir_mtimes = true) {
  std::vector<std::string> lines;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;
  std::vector<std::string> stack{""};
  while (!stack.empty()) {
    std::string rel = stack.back();
    stack.pop_back();
    std::string dir = rel.empty() ? root : root + "/" + rel;
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<std::string> names;
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      std::string r = rel.empty() ? n : rel + "/" + n;
      std::string p = root + "/" + r;
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) continue;
      std::string line = r + " mode=" + std::to_string(st.st_mode) +
                         " uid=" + std::to_string(st.st_uid) + " gid=" + std::to_string(st.st_gid);
      if (!S_ISDIR(st.st_mode) || with_dir_mtimes)
        line += " mtime=" + std::to_string(st.st_mtim.tv_sec);
      if (S_ISREG(st.st_mode)) {
        auto [it, inserted] = inodes.try_emplace({st.st_dev, st.st_ino}, r);
        if (!inserted) {
          line += " link=" + it->second;
        } else {
          line += " size=" + std::to_string(st.st_size) + " " + sha256_digest(read_text(p));
        }
      } else if (S_ISLNK(st.st_mode)) {
        char buf[4096];
        ssize_t len = ::readlink(p.c_str(), buf, sizeof buf);
        line += " -> " + std::string(buf, len > 0 ? static_cast<size_t>(len) : 0);
      } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        line +=
            " rdev=" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
      } else if (S_ISDIR(st.st_mode)) {
        stack.push_back(r);
      }
      char names_buf[4096];
      ssize_t xl = ::llistxattr(p.c_str(), names_buf, sizeof names_buf);
      std::vector<std::string> xattrs;
      for (ssize_t i = 0; i < xl;) {
        std::string xn = names_buf + i;
        i += static_cast<ssize_t>(xn.size()) + 1;
        char v[4096];
        ssize_t vl = ::lgetxattr(p.c_str(), xn.c_str(), v, sizeof v);
        xattrs.push_back(xn + "=" + std::string(v, vl > 0 ? static_cast<size_t>(vl) : 0));
      }
      std::sort(xattrs.begin(), xattrs.end());
      for (const auto& x : xattrs) line += " xattr:" + x;
      lines.push_back(line);
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

inline bool is_root() {
  return ::geteuid() == 0;
}

}  // namespace berth::image::testing
