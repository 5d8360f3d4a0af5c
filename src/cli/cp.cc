// cp between a container and the local filesystem through GET/PUT /containers/{id}/archive.
// The local side of the tar is handled by a tar(1) child (streamed through a pipe, so size is
// unbounded); renaming the copied entry to the destination name uses tar's --transform, which
// gives docker's rules: into an existing directory keep the name, otherwise take the new name.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/stream.h"

namespace berth::cli {

namespace {

struct CpArg {
  std::string container;  // empty: local
  std::string path;
};

CpArg split_cp_arg(const std::string& a) {
  if (a.empty() || a[0] == '/' || a[0] == '.') return {"", a};
  const auto colon = a.find(':');
  if (colon == std::string::npos) return {"", a};
  return {a.substr(0, colon), a.substr(colon + 1)};
}

std::string base_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto s = p.rfind('/');
  if (s == std::string::npos) return ".";
  return s == 0 ? "/" : p.substr(0, s);
}

// tar --transform takes a sed expression: escape regex syntax in the pattern and \ | & in the
// replacement.
std::string sed_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\|.*[]^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string sed_replacement(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '|' || c == '&') out += '\\';
    out += c;
  }
  return out;
}

// Starts tar with one end of a pipe as its stdin or stdout; returns the other end.
Result<std::pair<pid_t, UniqueFd>> spawn_tar(const std::vector<std::string>& argv, bool writes) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
  UniqueFd r(p[0]), w(p[1]);
  const pid_t pid = fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) {
    if (writes) {
      dup2(w.get(), 1);
    } else {
      dup2(r.get(), 0);
    }
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execvp("tar", cargv.data());
    _exit(127);
  }
  return std::pair<pid_t, UniqueFd>(pid, writes ? std::move(r) : std::move(w));
}

Result<void> wait_tar(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno_error("waitpid tar");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error(ErrorCode::kInternal, "tar failed");
  return {};
}

std::string decode_base64(std::string_view in) {
  static const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
    const auto pos = chars.find(c);
    if (pos == std::string::npos) break;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

Status copy_from_container(Cli& cli, const CpArg& src, const std::string& dst, bool archive) {
  (void)archive;
  auto s = cli.stream("GET", "/containers/" + http::url_encode(src.container) + "/archive" +
                                 http::query_string({{"path", src.path}}));
  if (!s) return fail(s.error());
  if (dst == "-") {
    while (true) {
      auto chunk = (*s)->read_some();
      if (!chunk) return fail(chunk.error());
      if (chunk->empty()) return ok();
      if (auto w = write_all(1, *chunk); !w) return fail(w.error());
    }
  }
  std::string name = base_name(src.path);
  auto stat = parse_json(decode_base64((*s)->header("X-Docker-Container-Path-Stat")), "path stat");
  if (stat && stat->is_object() && !stat->value("name", "").empty()) name = stat->value("name", "");
  struct stat st {};
  std::vector<std::string> argv = {"tar", "-x", "-f", "-"};
  const bool contents = src.path.ends_with("/.");
  if (::stat(dst.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    argv.insert(argv.end(), {"-C", dst});
    if (contents) argv.push_back("--transform=s|^" + sed_escape(name) + "/\\?||");
  } else {
    if (dst.ends_with("/")) return fail(1, "destination directory \"" + dst + "\" must exist");
    argv.insert(argv.end(), {"-C", dir_name(dst),
                             "--transform=s|^" + sed_escape(name) + "|" +
                                 sed_replacement(base_name(dst)) + "|"});
  }
  auto tar = spawn_tar(argv, false);
  if (!tar) return fail(tar.error());
  Result<void> copied;
  while (true) {
    auto chunk = (*s)->read_some();
    if (!chunk) {
      copied = std::unexpected(chunk.error());
      break;
    }
    if (chunk->empty()) break;
    if (auto w = write_all(tar->second.get(), *chunk); !w) {
      copied = std::unexpected(w.error());
      break;
    }
  }
  tar->second.reset();
  auto waited = wait_tar(tar->first);
  if (!copied) return fail(copied.error());
  if (!waited) return fail(1, "failed to extract archive into " + dst);
  return ok();
}

Status copy_to_container(Cli& cli, const std::string& src, const CpArg& dst, bool archive) {
  const std::string cpath = "/containers/" + http::url_encode(dst.container) + "/archive";
  http::RequestOptions o;
  o.content_type = "application/x-tar";
  std::string target = dst.path;
  std::optional<std::pair<pid_t, UniqueFd>> tar;
  if (src == "-") {
    o.body_reader = [](char* buf, size_t len) -> Result<size_t> {
      const ssize_t n = ::read(0, buf, len);
      if (n < 0) return errno_error("read stdin");
      return static_cast<size_t>(n);
    };
  } else {
    struct stat st {};
    if (::lstat(src.c_str(), &st) != 0)
      return fail(1, "lstat " + src + ": no such file or directory");
    // Is the destination an existing directory in the container?
    bool dst_is_dir = false;
    auto head = cli.call("HEAD", cpath + http::query_string({{"path", dst.path}}));
    if (head) {
      auto stat = parse_json(decode_base64(head->header("X-Docker-Container-Path-Stat")), "stat");
      if (stat && stat->is_object()) {
        const uint64_t mode = stat->value("mode", uint64_t{0});
        dst_is_dir = (mode & (uint64_t{1} << 31)) != 0;
      }
    } else if (head.error().code() != ErrorCode::kNotFound) {
      return fail(head.error());
    }
    const bool contents = src.ends_with("/.");
    std::vector<std::string> argv = {"tar", "-c", "-f", "-"};
    if (!archive) argv.insert(argv.end(), {"--owner=0", "--group=0", "--numeric-owner"});
    if (dst_is_dir) {
      if (contents) {
        argv.insert(argv.end(), {"-C", src, "."});
      } else {
        argv.insert(argv.end(), {"-C", dir_name(src), base_name(src)});
      }
    } else {
      if (dst.path.ends_with("/"))
        return fail(1, "Error response from daemon: Could not find the file " + dst.path +
                           " in container " + dst.container);
      target = dir_name(dst.path);
      const std::string from = base_name(src), to = base_name(dst.path);
      argv.insert(argv.end(),
                  {"--transform=s|^" + sed_escape(from) + "|" + sed_replacement(to) + "|", "-C",
                   dir_name(src), from});
    }
    auto t = spawn_tar(argv, true);
    if (!t) return fail(t.error());
    tar = std::move(*t);
    const int fd = tar->second.get();
    o.body_reader = [fd](char* buf, size_t len) -> Result<size_t> {
      while (true) {
        const ssize_t n = ::read(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error("reading tar");
        return static_cast<size_t>(n);
      }
    };
  }
  auto r = cli.call("PUT",
                    cpath + http::query_string({{"path", target},
                                                {"noOverwriteDirNonDir", "true"},
                                                {"copyUIDGID", archive ? "true" : ""}}),
                    o);
  if (tar) {
    tar->second.reset();
    (void)wait_tar(tar->first);
  }
  if (!r) return fail(r.error());
  return ok();
}

}  // namespace

Status cmd_cp(Cli& cli, const Args& args) {
  bool archive = false, follow = false, quiet = false;
  std::string src_s, dst_s;
  CLI::App app("Copy files/folders between a container and the local filesystem", "cp");
  setup_app(app);
  app.add_flag("-a,--archive", archive, "Archive mode (copy all uid/gid information)");
  app.add_flag("-L,--follow-link", follow, "Always follow symbol link in SRC_PATH");
  app.add_flag("-q,--quiet", quiet, "Suppress progress output during copy");
  app.add_option("src", src_s)->required();
  app.add_option("dst", dst_s)->required();
  if (auto st = parse_args(app, args)) return *st;
  const CpArg src = split_cp_arg(src_s), dst = split_cp_arg(dst_s);
  if (!src.container.empty() && !dst.container.empty())
    return fail(1, "copying between containers is not supported");
  if (src.container.empty() && dst.container.empty())
    return fail(1, "must specify at least one container source");
  if (!src.container.empty()) return copy_from_container(cli, src, dst_s, archive);
  return copy_to_container(cli, src_s, dst, archive);
}

}  // namespace berth::cli
