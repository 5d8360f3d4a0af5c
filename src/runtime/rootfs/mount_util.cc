// fd-based mount primitives for the rootfs set-up: opening mount targets inside the rootfs,
// mount(2) onto an fd, detached trees (open_tree/move_mount) and mount_setattr with runc's
// locked-flag fallback, plus the /proc destination check (CVE-2019-16884/19921 class).
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <array>
#include <deque>
#include <string_view>
#include <vector>

#include "base/path.h"
#include "base/strings.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime::rootfs {

RootfsState& rootfs_state() {
  static RootfsState state;
  return state;
}

std::string mount_context(const std::string& dest, const std::string& type) {
  return "mount " + dest + " (type " + (type.empty() ? "none" : type) + ")";
}

std::string clean_destination(const std::string& dest) {
  return clean_path("/" + dest);
}

Result<UniqueFd> create_in_root(int root, const std::string& path, bool last_is_dir) {
  constexpr int kMaxLinks = 40, kMaxRetries = 8;
  std::deque<std::string> todo;
  for (std::string& c : split(clean_path("/" + path), '/'))
    if (!c.empty()) todo.push_back(std::move(c));
  // dirs[i] is the directory reached after i real (non-symlink) components; dirs[0] is root.
  std::vector<UniqueFd> dirs;
  int fd0 = ::openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd0 < 0) return errno_error("open root");
  dirs.emplace_back(fd0);
  std::string where;  // the resolved path so far, for error messages
  int links = 0, retries = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {  // never above root, and never through the kernel's ".."
      if (dirs.size() > 1) {
        dirs.pop_back();
        where.erase(where.find_last_of('/'));
      }
      continue;
    }
    const bool last = todo.empty();
    const int cur = dirs.back().get();
    struct stat st {};
    if (::fstatat(cur, c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) return errno_error("stat " + where + "/" + c + " in root");
      int r = (!last || last_is_dir) ? ::mkdirat(cur, c.c_str(), 0755)
                                     : ::mknodat(cur, c.c_str(), S_IFREG | 0644, 0);
      if (r != 0 && errno != EEXIST) return errno_error("create " + where + "/" + c + " in root");
      if (++retries > kMaxRetries)  // something keeps replacing it: give up
        return errno_error(EAGAIN, "create " + where + "/" + c + " in root");
      todo.push_front(std::move(c));  // look again at what is there now
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > kMaxLinks) return errno_error(ELOOP, "resolve " + path + " in root");
      std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096) + 1, '\0');
      ssize_t n = ::readlinkat(cur, c.c_str(), target.data(), target.size());
      if (n < 0) return errno_error("readlink " + where + "/" + c + " in root");
      target.resize(static_cast<size_t>(n));
      // Followed inside root: an absolute target starts again from root, not from the host's /.
      if (!target.empty() && target[0] == '/') {
        dirs.resize(1);
        where.clear();
      }
      std::vector<std::string> parts = split(target, '/');
      for (auto it = parts.rbegin(); it != parts.rend(); ++it)
        if (!it->empty()) todo.push_front(std::move(*it));
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode))
      return errno_error(ENOTDIR, "open " + where + "/" + c + " in root");
    int fd = ::openat(cur, c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + where + "/" + c + " in root");
    dirs.emplace_back(fd);
    where += "/" + c;
    retries = 0;
  }
  return std::move(dirs.back());
}

namespace {

// The common case of a missing target: its parent exists and we create the last component
// ourselves (then nothing can be a symlink there). Anything else (missing parents, a dangling
// symlink at the last component) takes the component-by-component walk.
Result<UniqueFd> open_or_create_in_root(int root, const std::string& dest, bool is_dir) {
  auto fd = open_in_root(root, dest, O_PATH | (is_dir ? O_DIRECTORY : 0));
  if (fd || fd.error().sys_errno() != ENOENT) return fd;
  std::string path = clean_path("/" + dest);
  auto slash = path.find_last_of('/');
  std::string name = path.substr(slash + 1);
  if (!name.empty() && name != "..") {
    auto parent =
        open_in_root(root, slash == 0 ? "/" : path.substr(0, slash), O_PATH | O_DIRECTORY);
    if (parent) {
      int r = is_dir ? ::mkdirat(parent->get(), name.c_str(), 0755)
                     : ::mknodat(parent->get(), name.c_str(), S_IFREG | 0644, 0);
      if (r == 0) {
        int f = ::openat(parent->get(), name.c_str(),
                         O_PATH | O_NOFOLLOW | O_CLOEXEC | (is_dir ? O_DIRECTORY : 0));
        if (f >= 0) return UniqueFd(f);
      }
    }
  }
  return create_in_root(root, dest, is_dir);
}

}  // namespace

Result<UniqueFd> open_dir_in_root(int root, const std::string& dest) {
  return open_or_create_in_root(root, dest, true);
}

Result<UniqueFd> open_file_in_root(int root, const std::string& dest) {
  return open_or_create_in_root(root, dest, false);
}

Result<UniqueFd> open_plain_dir_in_root(int root, const std::string& dest,
                                        const std::string& type) {
  auto fd = open_in_root(root, dest, O_PATH | O_DIRECTORY | O_NOFOLLOW);
  if (fd) return fd;
  int e = fd.error().sys_errno();
  if (e == ENOENT) return create_in_root(root, dest, true);
  if (e == ENOTDIR || e == ELOOP)
    return make_error(ErrorCode::kInvalidArgument,
                      "filesystem \"" + type + "\" must be mounted on ordinary directory", e);
  return fd;
}

Result<UniqueFd> open_nofollow_in_root(int root, const std::string& path) {
  return open_in_root(root, path, O_PATH | O_NOFOLLOW);
}

Result<> check_proc_destination(int dest_fd, const std::string& dest, const std::string& type,
                                bool source_is_procfs) {
  // Files that lxcfs and similar tools overmount with emulated content (runc's list).
  static constexpr std::array<std::string_view, 10> kAllowed{
      "/proc/cpuinfo", "/proc/diskstats",
      "/proc/meminfo", "/proc/stat",
      "/proc/swaps",   "/proc/uptime",
      "/proc/loadavg", "/proc/slabinfo",
      "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  if (type == "proc") return {};
  for (auto a : kAllowed)
    if (dest == a) return {};
  if (dest == "/proc") {
    if (source_is_procfs) return {};
    return make_error(ErrorCode::kInvalidArgument,
                      "\"/proc\" cannot be mounted because it is not of type proc");
  }
  bool inside = starts_with(dest, "/proc/");
  if (!inside) {
    // A symlink in the image may have led an innocent-looking path into the container's procfs.
    struct statfs sf {};
    if (::fstatfs(dest_fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC) inside = true;
  }
  if (inside)
    return make_error(ErrorCode::kInvalidArgument,
                      "\"" + dest + "\" cannot be mounted because it is inside /proc");
  return {};
}

Result<> mount_on_fd(const std::string& source, int fd, const std::string& type,
                     unsigned long flags, const std::string& data) {
  std::string target = fd_path(fd);
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
              type.empty() ? nullptr : type.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    // The caller names the mount ("mount /proc (type proc)"): the reason alone follows.
    Error e = Error::from_errno(errno, "");
    return std::unexpected(Error(e.code(), e.message().substr(2), e.sys_errno()));
  }
  return {};
}

Result<UniqueFd> clone_tree(int dirfd, const std::string& path, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  if (path.empty()) flags |= AT_EMPTY_PATH;
  int fd = sys::open_tree(dirfd, path.c_str(), flags);
  if (fd < 0) return errno_error("open_tree " + path);
  return UniqueFd(fd);
}

Result<> attach_tree(int tree_fd, int target_fd) {
  if (sys::move_mount(tree_fd, "", target_fd, "",
                      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return errno_error("move_mount");
  return {};
}

namespace {

// The MOUNT_ATTR_* flags a mount has now (statvfs reports the per-mount flags).
uint64_t current_attrs(int fd) {
  struct statvfs sv {};
  if (::fstatvfs(fd, &sv) != 0) return 0;
  uint64_t a = 0;
  if (sv.f_flag & ST_RDONLY) a |= MOUNT_ATTR_RDONLY;
  if (sv.f_flag & ST_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (sv.f_flag & ST_NODEV) a |= MOUNT_ATTR_NODEV;
  if (sv.f_flag & ST_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (sv.f_flag & ST_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  if (sv.f_flag & ST_NOATIME) a |= MOUNT_ATTR_NOATIME;
  return a;
}

}  // namespace

Result<> set_mount_attrs(int fd, uint64_t set, uint64_t clr, bool recursive) {
  if (set == 0 && clr == 0) return {};
  struct mount_attr attr {};
  attr.attr_set = set;
  attr.attr_clr = clr;
  unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  if (sys::mount_setattr(fd, "", flags, &attr) == 0) return {};
  int e = errno;
  if (e == EPERM && clr != 0) {
    // In a user namespace the flags inherited from a more privileged one are locked: keep
    // what the mount has (and its atime mode) instead of failing, as runc does.
    uint64_t have = current_attrs(fd);
    attr.attr_clr &= ~have;
    if (clr & MOUNT_ATTR__ATIME) {
      attr.attr_clr &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
      attr.attr_set &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
    }
    if (attr.attr_set == 0 && attr.attr_clr == 0) return {};
    if (sys::mount_setattr(fd, "", flags, &attr) == 0) return {};
    e = errno;
  }
  return errno_error(e, "mount_setattr");
}

Result<> set_propagation(int fd, const std::vector<unsigned long>& propagation) {
  for (unsigned long p : propagation) {
    struct mount_attr attr {};
    attr.propagation = p & ~static_cast<unsigned long>(MS_REC);
    unsigned flags = AT_EMPTY_PATH | ((p & MS_REC) ? AT_RECURSIVE : 0);
    if (sys::mount_setattr(fd, "", flags, &attr) != 0) return errno_error("set propagation");
  }
  return {};
}

}  // namespace berth::runtime::rootfs
