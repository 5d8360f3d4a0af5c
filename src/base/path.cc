// Safe in-root path resolution on openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
#include "base/path.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <vector>

#include "base/syscalls.h"

namespace berth {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string clean_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (path.empty() || path[0] != '/') parts.push_back("..");
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = (!path.empty() && path[0] == '/') ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

Result<UniqueFd> open_in_root(int rootfd, const std::string& path, int flags, int mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? static_cast<uint64_t>(mode) : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string rel = path;
  while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
  if (rel.empty()) rel = ".";
  int fd;
  do {
    fd = sys::openat2(rootfd, rel.c_str(), &how);
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0) return errno_error("open " + path + " in root");
  return UniqueFd(fd);
}

Result<UniqueFd> mkdir_all_in_root(int rootfd, const std::string& path, int mode) {
  std::string cleaned = clean_path("/" + path);
  // Walk component by component, each step resolved inside root from the previous directory.
  ASSIGN_OR_RETURN(UniqueFd cur, open_in_root(rootfd, "/", O_PATH | O_DIRECTORY));
  std::string sofar;
  size_t i = 1;
  while (i < cleaned.size()) {
    size_t j = cleaned.find('/', i);
    if (j == std::string::npos) j = cleaned.size();
    std::string part = cleaned.substr(i, j - i);
    sofar += "/" + part;
    // Resolve through root so a symlinked component stays inside it.
    auto next = open_in_root(rootfd, sofar, O_PATH | O_DIRECTORY);
    if (!next) {
      if (next.error().sys_errno() != ENOENT) return std::unexpected(next.error());
      if (::mkdirat(cur.get(), part.c_str(), mode) != 0 && errno != EEXIST)
        return errno_error("mkdir " + sofar + " in root");
      next = open_in_root(rootfd, sofar, O_PATH | O_DIRECTORY);
      if (!next) return std::unexpected(next.error());
    }
    cur = std::move(*next);
    i = j + 1;
  }
  return cur;
}

Result<UniqueFd> ensure_in_root(int rootfd, const std::string& path, bool is_dir, int mode) {
  if (is_dir) return mkdir_all_in_root(rootfd, path, mode);
  std::string cleaned = clean_path("/" + path);
  auto existing = open_in_root(rootfd, cleaned, O_PATH);
  if (existing) return existing;
  auto slash = cleaned.find_last_of('/');
  std::string parent = cleaned.substr(0, slash);
  std::string name = cleaned.substr(slash + 1);
  ASSIGN_OR_RETURN(UniqueFd dir, mkdir_all_in_root(rootfd, parent.empty() ? "/" : parent, 0755));
  int fd = ::openat(dir.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST) return errno_error("create " + cleaned + " in root");
  if (fd >= 0) ::close(fd);
  return open_in_root(rootfd, cleaned, O_PATH);
}

}  // namespace berth
