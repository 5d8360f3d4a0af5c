// berthd's side: spawn() writes the options to <state_dir>/shim.json, spawns berth-shim with
// a report pipe on fd 3 and reads its start-up report; Client opens one connection per request
// (JSON line out, JSON line back; attach and exec keep the connection as the stream).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "base/file.h"
#include "shim/client.h"
#include "shim/fd_util.h"
#include "shim/protocol.h"

extern char** environ;

namespace berth::shim {
namespace {

constexpr auto kSpawnTimeout = std::chrono::minutes(2);

Result<> send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write to shim");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Reads exactly one line, leaving whatever follows it (a stream) in the socket.
Result<std::string> recv_line(int fd) {
  std::string line;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read from shim");
    }
    if (n == 0)
      return make_error(ErrorCode::kUnavailable, "shim closed the connection without a reply");
    std::string_view got(buf, static_cast<size_t>(n));
    size_t nl = got.find('\n');
    size_t take = nl == std::string_view::npos ? got.size() : nl + 1;
    ssize_t r;
    do {
      r = ::recv(fd, buf, take, 0);
    } while (r < 0 && errno == EINTR);
    if (r != static_cast<ssize_t>(take)) return errno_error("read from shim");
    if (nl != std::string_view::npos) {
      line.append(buf, nl);
      return line;
    }
    line.append(buf, take);
    if (line.size() > (1 << 20)) return make_error(ErrorCode::kInternal, "shim reply too long");
  }
}

}  // namespace

Result<Started> spawn(const SpawnOptions& o) {
  if (o.state_dir.empty() || o.state_dir[0] != '/')
    return make_error(ErrorCode::kInvalidArgument,
                      "shim state dir must be an absolute path: \"" + o.state_dir + "\"");
  TRY(mkdir_all(o.state_dir, 0700));
  for (const char* f : {kExitFile, kSocketFile, kPidFile})
    ::unlink((o.state_dir + "/" + f).c_str());
  TRY(write_file_atomic(o.state_dir + "/" + kConfigFile, json::dump(options_to_json(o)), 0600,
                        false));

  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  if (wr.get() == kReportFd) {  // dup2 onto itself would keep close-on-exec: move it first
    wr.reset(::fcntl(p[1], F_DUPFD_CLOEXEC, kReportFd + 1));
    if (!wr) return errno_error("dup report pipe");
  }
  std::string path = o.shim_path, dir = o.state_dir;
  char* argv[] = {path.data(), dir.data(), nullptr};
  // posix_spawn is a vfork: berthd's page tables are not copied for a child that execs at once.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_adddup2(&actions, wr.get(), kReportFd);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv, environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (rc == ENOENT || rc == EACCES)
    return make_error(ErrorCode::kNotFound, "exec shim " + o.shim_path + ": not found");
  if (rc != 0) return errno_error(rc, "spawn shim " + o.shim_path);
  wr.reset();
  // The first shim process forks the real shim and exits at once.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  Started started;
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + kSpawnTimeout;
  for (;;) {
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      ASSIGN_OR_RETURN(json::Json j, json::parse(line, "shim report"));
      if (auto err = check_reply(j); !err) {
        // Wait for the shim to exit (EOF on the report pipe): a failed spawn leaves nothing.
        struct pollfd pfd = {rd.get(), POLLIN, 0};
        char sink[256];
        while (::poll(&pfd, 1, 5000) > 0 && ::read(rd.get(), sink, sizeof sink) > 0) {
        }
        return std::unexpected(err.error());
      }
      if (j.contains("shim_pid")) started.shim_pid = j["shim_pid"].get<pid_t>();
      if (j.contains("pid")) {
        started.pid = j["pid"].get<pid_t>();
        return started;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    struct pollfd pfd = {rd.get(), POLLIN, 0};
    int n = left.count() > 0 ? ::poll(&pfd, 1, static_cast<int>(left.count())) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      if (started.shim_pid > 0) ::kill(started.shim_pid, SIGKILL);
      return make_error(ErrorCode::kUnavailable, "shim for " + o.id + ": no report in time");
    }
    char chunk[1024];
    ssize_t r = ::read(rd.get(), chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return make_error(ErrorCode::kInternal, "shim for " + o.id +
                                                  " exited without reporting (see " + o.state_dir +
                                                  "/" + kLogFile + ")");
    buf.append(chunk, static_cast<size_t>(r));
  }
}

Result<ExitStatus> read_exit_file(const std::string& state_dir) {
  std::string path = state_dir + "/" + kExitFile;
  if (!path_exists(path))
    return make_error(ErrorCode::kNotFound, "exit record " + path + ": not found");
  ASSIGN_OR_RETURN(json::Json j, json::parse_file(path));
  return exit_from_json(j);
}

Result<Client> Client::connect(const std::string& state_dir) {
  std::string path = state_dir + "/" + kSocketFile;
  ASSIGN_OR_RETURN(UniqueFd probe, connect_unix(path));
  return Client(path);
}

Result<json::Json> Client::call(const json::Json& req, UniqueFd* keep_stream) {
  ASSIGN_OR_RETURN(UniqueFd fd, connect_unix(socket_path_));
  TRY(send_all(fd.get(), json::dump(req) + "\n"));
  ASSIGN_OR_RETURN(std::string line, recv_line(fd.get()));
  ASSIGN_OR_RETURN(json::Json reply, json::parse(line, "shim reply"));
  TRY(check_reply(reply));
  if (keep_stream) *keep_stream = std::move(fd);
  return reply;
}

Result<> Client::start() {
  TRY(call({{"op", "start"}}));
  return {};
}

Result<ShimState> Client::state() {
  ASSIGN_OR_RETURN(json::Json j, call({{"op", "state"}}));
  ShimState s;
  s.pid = j.value("pid", 0);
  s.running = j.value("running", false);
  s.paused = j.value("paused", false);
  if (j.contains("exit")) s.exit = exit_from_json(j["exit"]);
  return s;
}

Result<> Client::kill(int signal, bool all) {
  TRY(call({{"op", "kill"}, {"signal", signal}, {"all", all}}));
  return {};
}

Result<> Client::pause() {
  TRY(call({{"op", "pause"}}));
  return {};
}

Result<> Client::resume() {
  TRY(call({{"op", "resume"}}));
  return {};
}

Result<> Client::resize(uint16_t height, uint16_t width) {
  TRY(call({{"op", "resize"}, {"height", height}, {"width", width}}));
  return {};
}

Result<ExitStatus> Client::wait() {
  ASSIGN_OR_RETURN(json::Json j, call({{"op", "wait"}}));
  return exit_from_json(j);
}

Result<UniqueFd> Client::attach(const AttachRequest& req) {
  UniqueFd fd;
  TRY(call({{"op", "attach"},
            {"stdin", req.stdin},
            {"stdout", req.stdout},
            {"stderr", req.stderr},
            {"logs", req.logs},
            {"detach_keys", req.detach_keys}},
           &fd));
  return fd;
}

Result<UniqueFd> Client::exec(const ExecRequest& req) {
  UniqueFd fd;
  TRY(call({{"op", "exec"},
            {"exec_id", req.exec_id},
            {"process", req.process},
            {"attach_stdin", req.attach_stdin},
            {"attach_stdout", req.attach_stdout},
            {"attach_stderr", req.attach_stderr},
            {"detach", req.detach},
            {"tty_height", req.tty_height},
            {"tty_width", req.tty_width},
            {"detach_keys", req.detach_keys}},
           &fd));
  return fd;
}

Result<ExecState> Client::exec_state(const std::string& exec_id) {
  ASSIGN_OR_RETURN(json::Json j, call({{"op", "exec_state"}, {"exec_id", exec_id}}));
  ExecState s;
  s.running = j.value("running", false);
  s.pid = j.value("pid", 0);
  if (j.contains("exit_code") && j["exit_code"].is_number())
    s.exit_code = j["exit_code"].get<int>();
  return s;
}

Result<> Client::exec_resize(const std::string& exec_id, uint16_t height, uint16_t width) {
  TRY(call({{"op", "exec_resize"}, {"exec_id", exec_id}, {"height", height}, {"width", width}}));
  return {};
}

Result<> Client::exec_kill(const std::string& exec_id, int signal) {
  TRY(call({{"op", "exec_kill"}, {"exec_id", exec_id}, {"signal", signal}}));
  return {};
}

Result<> Client::shutdown() {
  TRY(call({{"op", "shutdown"}}));
  return {};
}

}  // namespace berth::shim
