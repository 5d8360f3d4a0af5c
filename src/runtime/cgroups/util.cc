// Cgroup-file helpers. cgroupfs files take one value per write(2) and report a bad value as the
// write's errno, so every helper opens, writes once (or once per line) and closes, and names the
// file (not the whole path) in its error: the caller prefixes the resource field.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

#include "base/strings.h"
#include "base/unique_fd.h"
#include "runtime/cgroups/internal.h"

namespace berth::runtime::cgroups::detail {

namespace {

std::string file_path(const std::string& dir, std::string_view file) {
  std::string p;
  p.reserve(dir.size() + 1 + file.size());
  p += dir;
  p += '/';
  p += file;
  return p;
}

Result<> write_all(int fd, std::string_view data, std::string_view file) {
  for (;;) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) {
      if (static_cast<size_t>(n) != data.size())
        return make_error(ErrorCode::kInternal, "write " + std::string(file) + ": short write");
      return {};
    }
    if (errno != EINTR) return errno_error("write " + std::string(file));
  }
}

void sleep_ms(long ms) {
  struct timespec ts {
    ms / 1000, (ms % 1000) * 1000000L
  };
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace

Error field_error(std::string_view field, Error inner) {
  return std::move(inner).wrap("linux.resources." + std::string(field));
}

Result<> write_cg(const std::string& dir, std::string_view file, std::string_view value) {
  // O_TRUNC is a no-op on cgroupfs; it matters for the regular files of a fake test tree.
  int fd = ::open(file_path(dir, file).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno_error("write " + std::string(file));
  UniqueFd owned(fd);
  return write_all(fd, value, file);
}

Result<> write_cg_lines(const std::string& dir, std::string_view file,
                        const std::vector<std::string>& lines) {
  if (lines.empty()) return {};
  int fd = ::open(file_path(dir, file).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno_error("write " + std::string(file));
  UniqueFd owned(fd);
  std::string buf;
  for (const auto& line : lines) {
    buf.assign(line);
    buf += '\n';
    TRY(write_all(fd, buf, file));
  }
  return {};
}

Result<std::string> read_cg(const std::string& dir, std::string_view file) {
  int fd = ::open(file_path(dir, file).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("read " + std::string(file));
  UniqueFd owned(fd);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + std::string(file));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool cg_exists(const std::string& dir, std::string_view file) {
  return ::access(file_path(dir, file).c_str(), F_OK) == 0;
}

std::optional<uint64_t> find_key(std::string_view content, std::string_view key) {
  size_t pos = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) eol = content.size();
    std::string_view line = content.substr(pos, eol - pos);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ')
      return parse_uint(line.substr(key.size() + 1));
    pos = eol + 1;
  }
  return std::nullopt;
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

static Result<> collect_procs(const std::string& dir, std::vector<pid_t>& out) {
  auto content = read_cg(dir, "cgroup.procs");
  // A threaded cgroup refuses cgroup.procs reads with ENOTSUP: list its threads instead.
  if (!content && content.error().sys_errno() == EOPNOTSUPP)
    content = read_cg(dir, "cgroup.threads");
  if (!content) {
    if (content.error().sys_errno() == ENOENT || content.error().sys_errno() == ENODEV) return {};
    return std::unexpected(content.error().wrap(dir));
  }
  std::string_view s = *content;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t eol = s.find('\n', pos);
    if (eol == std::string_view::npos) eol = s.size();
    if (auto pid = parse_int(s.substr(pos, eol - pos)); pid && *pid > 0)
      out.push_back(static_cast<pid_t>(*pid));
    pos = eol + 1;
  }
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return {};
    return errno_error("opendir " + dir);
  }
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir =
          ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) children.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& c : children) TRY(collect_procs(dir + "/" + c, out));
  return {};
}

Result<std::vector<pid_t>> read_procs_recursive(const std::string& dir) {
  std::vector<pid_t> out;
  TRY(collect_procs(dir, out));
  return out;
}

Result<> add_pid(const std::string& dir, pid_t pid) {
  int fd = ::open(file_path(dir, "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("write " + dir + "/cgroup.procs");
  UniqueFd owned(fd);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, pid);
  std::string_view value(buf, static_cast<size_t>(end - buf));
  for (int attempt = 0;; ++attempt) {
    ssize_t n = ::write(fd, value.data(), value.size());
    if (n >= 0) return {};
    if (errno == EINTR) continue;
    // EINVAL: the task is still in TASK_NEW (just forked); runc retries 5 times, 30 ms apart.
    if (errno == EINVAL && attempt < 5) {
      sleep_ms(30);
      continue;
    }
    return errno_error("write " + dir + "/cgroup.procs");
  }
}

static bool is_missing(int e) {
  return e == ENOENT;
}

Result<> remove_cgroup(const std::string& dir) {
  // Fast path: an empty cgroup goes in one rmdir.
  if (::rmdir(dir.c_str()) == 0 || is_missing(errno)) return {};
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (is_missing(errno)) return {};
    return errno_error("rmdir " + dir);
  }
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    if (e->d_type == DT_DIR) children.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const auto& c : children) TRY(remove_cgroup(dir + "/" + c));
  // Processes that were just killed leave the cgroup asynchronously: retry EBUSY with doubling
  // sleeps, 1 ms .. 512 ms, about one second in total (runc's schedule).
  long delay = 1;
  for (int tries = 0;; ++tries) {
    if (::rmdir(dir.c_str()) == 0 || is_missing(errno)) return {};
    int e = errno;
    if (e == EINTR) continue;
    if (e != EBUSY || tries >= 10) return errno_error(e, "rmdir " + dir);
    sleep_ms(delay);
    delay *= 2;
  }
}

}  // namespace berth::runtime::cgroups::detail
