// fs_ops: every path is opened relative to an O_PATH fd of the root with RESOLVE_IN_ROOT; the
// host path handed to the tar writer is read back from /proc/self/fd of that resolved fd (after
// checking it lies under the root), never built by concatenating the container's path.
#include "engine/fs_ops.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <ctime>

#include "base/path.h"
#include "image/archive.h"

namespace berth::engine {

namespace {

// The path as docker sees it: absolute, cleaned; follow_last when it ended in "/" or "/.".
struct InRoot {
  std::string abs, parent, base;
  bool follow_last = false;
};

InRoot split_path(const std::string& path) {
  InRoot p;
  p.follow_last =
      !path.empty() && (path.back() == '/' || path == "." ||
                        (path.size() >= 2 && path.compare(path.size() - 2, 2, "/.") == 0));
  p.abs = clean_path("/" + path);
  if (p.abs == "/") {
    p.parent = "/";
    p.base = "/";
    return p;
  }
  auto slash = p.abs.rfind('/');
  p.parent = slash == 0 ? "/" : p.abs.substr(0, slash);
  p.base = p.abs.substr(slash + 1);
  return p;
}

Result<std::string> fd_host_path(int fd) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(fd_path(fd).c_str(), buf, sizeof buf - 1);
  if (n < 0) return errno_error("readlink " + fd_path(fd));
  return std::string(buf, static_cast<size_t>(n));
}

// The container path ("/a/b") of a host path under root_host.
Result<std::string> container_path(const std::string& root_host, const std::string& host) {
  if (host == root_host) return std::string("/");
  if (root_host == "/") return host;
  if (host.size() > root_host.size() && host.compare(0, root_host.size(), root_host) == 0 &&
      host[root_host.size()] == '/')
    return host.substr(root_host.size());
  return make_error(ErrorCode::kInternal, "path " + host + " resolved outside of " + root_host);
}

std::string not_found_msg(const std::string& abs) {
  return "stat " + abs + ": no such file or directory";
}

Result<UniqueFd> open_root(const std::string& root) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("open container root " + root);
  return UniqueFd(fd);
}

// Resolves the parent of p inside root; ENOENT/ENOTDIR become NotFound naming the path.
Result<UniqueFd> open_parent(int rootfd, const InRoot& p) {
  auto fd = open_in_root(rootfd, p.parent, O_PATH | O_DIRECTORY);
  if (!fd) {
    int e = fd.error().sys_errno();
    if (e == ENOENT || e == ENOTDIR)
      return make_error(ErrorCode::kNotFound, not_found_msg(p.abs), e);
    return std::unexpected(fd.error());
  }
  return fd;
}

// Go's time.RFC3339Nano in UTC: fractional seconds with trailing zeros dropped.
std::string rfc3339_nano(const struct timespec& ts) {
  std::tm tm{};
  std::time_t t = ts.tv_sec;
  ::gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (ts.tv_nsec) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09ld", static_cast<long>(ts.tv_nsec));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

// A symlink's target resolved inside the root; for a dangling link, lexically.
std::string link_target(int rootfd, const std::string& root_host, int parentfd, const InRoot& p) {
  if (auto fd = open_in_root(rootfd, p.abs, O_PATH)) {
    if (auto host = fd_host_path(fd->get()))
      if (auto c = container_path(root_host, *host)) return *c;
  }
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(parentfd, p.base.c_str(), buf, sizeof buf - 1);
  if (n < 0) return "";
  std::string target(buf, static_cast<size_t>(n));
  return clean_path(target[0] == '/' ? target : p.parent + "/" + target);
}

// An unlinked temporary file holding everything read from in_fd, positioned at its start.
Result<UniqueFd> spool(int in_fd) {
  int raw = ::open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (raw < 0) raw = ::memfd_create("berth-cp", MFD_CLOEXEC);
  if (raw < 0) return errno_error("creating a spool file for the archive");
  UniqueFd fd(raw);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("reading the archive");
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(fd.get(), buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno_error("spooling the archive");
      off += w;
    }
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return errno_error("rewinding the archive spool");
  return fd;
}

// moby's noOverwriteDirNonDir check, on every entry of the tar against what dest already holds.
Result<> check_no_dir_swap(int rootfd, const std::string& dest_abs, int tar_fd) {
  struct archive* a = archive_read_new();
  ScopeGuard free_a([&] { archive_read_free(a); });
  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  if (archive_read_open_fd(a, tar_fd, 1 << 16) != ARCHIVE_OK)
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("reading the archive: ") + archive_error_string(a));
  struct archive_entry* e;
  int rc;
  while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    std::string name = clean_path(std::string("/") + archive_entry_pathname(e));
    std::string base = name.substr(name.rfind('/') + 1);
    if (name == "/" || base.starts_with(".wh.")) continue;
    std::string target = clean_path(dest_abs + name);
    auto fd = open_in_root(rootfd, target, O_PATH | O_NOFOLLOW);
    if (!fd) continue;  // absent (or unreachable): nothing to overwrite
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) continue;
    bool entry_dir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
    if (S_ISDIR(st.st_mode) && !entry_dir)
      return make_error(ErrorCode::kInvalidArgument, "cannot overwrite directory \"" + target +
                                                         "\" with non-directory \"" + name + "\"");
    if (!S_ISDIR(st.st_mode) && entry_dir)
      return make_error(ErrorCode::kInvalidArgument, "cannot overwrite non-directory \"" + target +
                                                         "\" with directory \"" + name + "\"");
  }
  if (rc != ARCHIVE_EOF)
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("reading the archive: ") + archive_error_string(a));
  return {};
}

}  // namespace

uint32_t go_file_mode(unsigned st_mode) {
  uint32_t m = st_mode & 0777;
  switch (st_mode & S_IFMT) {
    case S_IFDIR:
      m |= 1u << 31;
      break;
    case S_IFLNK:
      m |= 1u << 27;
      break;
    case S_IFIFO:
      m |= 1u << 25;
      break;
    case S_IFSOCK:
      m |= 1u << 24;
      break;
    case S_IFBLK:
      m |= 1u << 26;
      break;
    case S_IFCHR:
      m |= (1u << 26) | (1u << 21);
      break;
    default:
      break;
  }
  if (st_mode & S_ISUID) m |= 1u << 23;
  if (st_mode & S_ISGID) m |= 1u << 22;
  if (st_mode & S_ISVTX) m |= 1u << 20;
  return m;
}

Result<json::Json> fs_path_stat(const std::string& root, const std::string& path) {
  InRoot p = split_path(path);
  ASSIGN_OR_RETURN(UniqueFd rootfd, open_root(root));
  ASSIGN_OR_RETURN(std::string root_host, fd_host_path(rootfd.get()));
  ASSIGN_OR_RETURN(UniqueFd parentfd, open_parent(rootfd.get(), p));
  struct stat st {};
  int rc;
  if (p.abs == "/") {
    rc = ::fstat(rootfd.get(), &st);
  } else if (p.follow_last) {
    auto fd = open_in_root(rootfd.get(), p.abs, O_PATH);
    if (!fd) {
      int e = fd.error().sys_errno();
      if (e == ENOENT || e == ENOTDIR)
        return make_error(ErrorCode::kNotFound, not_found_msg(p.abs), e);
      return std::unexpected(fd.error());
    }
    rc = ::fstat(fd->get(), &st);
  } else {
    rc = ::fstatat(parentfd.get(), p.base.c_str(), &st, AT_SYMLINK_NOFOLLOW);
  }
  if (rc != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      return make_error(ErrorCode::kNotFound, not_found_msg(p.abs), e);
    return errno_error(e, "stat " + p.abs);
  }
  std::string target;
  if (S_ISLNK(st.st_mode)) target = link_target(rootfd.get(), root_host, parentfd.get(), p);
  return json::Json{{"name", p.base},
                    {"size", static_cast<int64_t>(st.st_size)},
                    {"mode", go_file_mode(st.st_mode)},
                    {"mtime", rfc3339_nano(st.st_mtim)},
                    {"linkTarget", target}};
}

Result<> fs_archive_get(const std::string& root, const std::string& path, int out_fd) {
  InRoot p = split_path(path);
  ASSIGN_OR_RETURN(UniqueFd rootfd, open_root(root));
  ASSIGN_OR_RETURN(std::string root_host, fd_host_path(rootfd.get()));
  ASSIGN_OR_RETURN(UniqueFd parentfd, open_parent(rootfd.get(), p));
  std::string host;
  if (p.abs == "/") {
    host = root_host;
  } else if (p.follow_last) {
    auto fd = open_in_root(rootfd.get(), p.abs, O_PATH);
    if (!fd) {
      int e = fd.error().sys_errno();
      if (e == ENOENT || e == ENOTDIR)
        return make_error(ErrorCode::kNotFound, not_found_msg(p.abs), e);
      return std::unexpected(fd.error());
    }
    ASSIGN_OR_RETURN(host, fd_host_path(fd->get()));
  } else {
    struct stat st {};
    if (::fstatat(parentfd.get(), p.base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      int e = errno;
      if (e == ENOENT || e == ENOTDIR)
        return make_error(ErrorCode::kNotFound, not_found_msg(p.abs), e);
      return errno_error(e, "stat " + p.abs);
    }
    ASSIGN_OR_RETURN(std::string parent_host, fd_host_path(parentfd.get()));
    host = (parent_host == "/" ? "" : parent_host) + "/" + p.base;
  }
  // Re-check that what will be read lies under the root (the fd paths above guarantee it unless
  // the root itself moved).
  TRY(container_path(root_host, host));
  image::TarOptions o;
  // The top entry is named as the requested path's last element, as docker's rebase does; for
  // "/dir/." and "/" that is ".", so entries read "./x" (the CLI rebases on that prefix).
  bool dot = p.abs == "/" || path == "." || path.ends_with("/.");
  o.rename_root = dot ? "." : p.base;
  TRY_CTX(image::write_tar(host, out_fd, o), "archiving " + p.abs);
  return {};
}

Result<> fs_archive_put(const std::string& root, const std::string& path, int in_fd,
                        const ArchivePutOptions& opts) {
  std::string abs = clean_path("/" + path);
  ASSIGN_OR_RETURN(UniqueFd rootfd, open_root(root));
  // Extraction follows the last element too: a symlink to a directory is a valid target.
  auto dir = open_in_root(rootfd.get(), abs, O_PATH);
  if (!dir) {
    int e = dir.error().sys_errno();
    if (e == ENOENT || e == ENOTDIR) return make_error(ErrorCode::kNotFound, not_found_msg(abs), e);
    return std::unexpected(dir.error());
  }
  struct stat st {};
  if (::fstat(dir->get(), &st) != 0) return errno_error("stat " + abs);
  if (!S_ISDIR(st.st_mode))
    return make_error(ErrorCode::kInvalidArgument, "extraction point is not a directory");
  image::UnpackOptions o;
  o.whiteouts = image::Whiteouts::kApply;
  o.preserve_owner = opts.copy_uid_gid;
  o.subdir = abs == "/" ? "" : abs.substr(1);  // resolved again inside root by unpack_tar
  if (opts.no_overwrite_dir_non_dir) {
    ASSIGN_OR_RETURN(UniqueFd spooled, spool(in_fd));
    TRY(check_no_dir_swap(rootfd.get(), abs == "/" ? "" : abs, spooled.get()));
    if (::lseek(spooled.get(), 0, SEEK_SET) != 0) return errno_error("rewinding the archive spool");
    TRY_CTX(image::unpack_tar(spooled.get(), root, o), "extracting to " + abs);
    return {};
  }
  TRY_CTX(image::unpack_tar(in_fd, root, o), "extracting to " + abs);
  return {};
}

}  // namespace berth::engine
