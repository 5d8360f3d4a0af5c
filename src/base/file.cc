// File helpers. Every fd opened here is O_CLOEXEC.
#include "base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace berth {

Result<UniqueFd> open_fd(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("open " + path);
  return UniqueFd(fd);
}

static Result<std::string> read_all(int fd, const std::string& path) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> read_file(const std::string& path) { return read_file_at(AT_FDCWD, path); }

Result<std::string> read_file_at(int dirfd, const std::string& path) {
  int fd = ::openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + path);
  UniqueFd owned(fd);
  return read_all(fd, path);
}

Result<> write_file(const std::string& path, std::string_view data) {
  return write_file_at(AT_FDCWD, path, data);
}

Result<> write_file_at(int dirfd, const std::string& path, std::string_view data) {
  int fd = ::openat(dirfd, path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + path);
  UniqueFd owned(fd);
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("write " + path);
  if (static_cast<size_t>(n) != data.size())
    return make_error(ErrorCode::kInternal, "short write to " + path);
  return {};
}

Result<> write_file_atomic(const std::string& path, std::string_view data, int mode,
                           bool durable) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("create " + tmp);
  UniqueFd owned(fd);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::unlink(tmp.c_str());
      return errno_error(e, "write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return errno_error(e, "fsync " + tmp);
  }
  owned.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return errno_error(e, "rename " + tmp);
  }
  return {};
}

Result<> mkdir_all(const std::string& path, int mode) {
  if (path.empty()) return {};
  if (::mkdir(path.c_str(), mode) == 0) return {};
  if (errno == EEXIST) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return errno_error(ENOTDIR, "mkdir " + path);
  }
  if (errno != ENOENT) return errno_error("mkdir " + path);
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) TRY(mkdir_all(path.substr(0, slash), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return errno_error("mkdir " + path);
  return {};
}

static Result<> remove_all_at(int dirfd, const char* name, const std::string& shown) {
  if (::unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return {};
  if (errno != EISDIR && errno != EPERM) return errno_error("remove " + shown);
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + shown);
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    ::close(fd);
    return errno_error("opendir " + shown);
  }
  while (struct dirent* e = ::readdir(dir)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    auto r = remove_all_at(::dirfd(dir), e->d_name, shown + "/" + e->d_name);
    if (!r) {
      ::closedir(dir);
      return r;
    }
  }
  ::closedir(dir);
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
    return errno_error("remove " + shown);
  return {};
}

Result<> remove_all(const std::string& path) { return remove_all_at(AT_FDCWD, path.c_str(), path); }

bool path_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace berth
