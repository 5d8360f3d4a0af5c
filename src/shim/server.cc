// The shim's loop and the container's life: set-up (listener, log, stdio, create), requests,
// output fan-out to the log and attached clients, stdin from clients, and the exit sequence
// (reap, OOM count, drain, exit.json, delete, answer waits, short grace).
#include "shim/server.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/stdcopy.h"
#include "shim/fd_util.h"
#include "shim/memory.h"

namespace berth::shim {
namespace {

constexpr size_t kMaxClientBuffer = 4 << 20;  // a client further behind than this is dropped
constexpr size_t kMaxStdinBuffer = 64 << 10;  // stop reading a client while stdin is this full
constexpr size_t kMaxRequest = 1 << 20;
constexpr auto kGrace = std::chrono::seconds(2);

int g_sigchld_w = -1;
void on_sigchld(int) {
  int saved = errno;
  char c = 0;
  (void)!::write(g_sigchld_w, &c, 1);
  errno = saved;
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

Server::Server(SpawnOptions o) : o_(std::move(o)), driver_(make_runtime_driver(o_)) {}

Result<pid_t> Server::setup() {
  int sp[2];
  if (::pipe2(sp, O_CLOEXEC | O_NONBLOCK) != 0) return errno_error("pipe");
  sig_r_.reset(sp[0]);
  g_sigchld_w = sp[1];
  struct sigaction sa {};
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  ::sigaction(SIGCHLD, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  ASSIGN_OR_RETURN(listener_, listen_unix(o_.state_dir + "/" + kSocketFile));
  set_nonblock(listener_.get());
  if (!o_.log_path.empty()) {
    ASSIGN_OR_RETURN(log_, JsonLogWriter::open(o_.log_path, o_.log_max_size, o_.log_max_file));
  }

  Stdio stdio;
  Pipe in, out, err;
  UniqueFd null_in, console_listener;
  std::string console_path;
  io_.tty = o_.tty;
  if (o_.tty) {
    ASSIGN_OR_RETURN(console_path, console_socket_path(o_.state_dir, "console.sock"));
    ASSIGN_OR_RETURN(console_listener, listen_unix(console_path));
  } else {
    if (o_.open_stdin) {
      ASSIGN_OR_RETURN(in, make_pipe());
      stdio.in = in.r.get();
    } else {
      ASSIGN_OR_RETURN(null_in, open_fd("/dev/null", O_RDONLY | O_CLOEXEC));
      stdio.in = null_in.get();
    }
    ASSIGN_OR_RETURN(out, make_pipe());
    ASSIGN_OR_RETURN(err, make_pipe());
    stdio.out = out.w.get();
    stdio.err = err.w.get();
  }
  created_at_ = log::rfc3339_now(true);
  auto pid = driver_->create(stdio, console_path);
  if (!pid) {
    if (!console_path.empty()) remove_console_socket(console_path);
    return std::unexpected(pid.error());
  }
  init_pid_ = *pid;
  auto undo = [&](Error e) -> Result<pid_t> {
    (void)driver_->destroy();
    return std::unexpected(std::move(e));
  };
  if (o_.tty) {
    // The init connected and sent the master during create: both wait in the socket.
    auto master = accept_fd(console_listener.get(), 10000);
    remove_console_socket(console_path);
    if (!master) return undo(master.error().wrap("console socket"));
    io_.master = std::move(*master);
    set_winsize(io_.master.get(), o_.tty_height, o_.tty_width);
    io_.out.reset(::fcntl(io_.master.get(), F_DUPFD_CLOEXEC, 0));
    if (o_.open_stdin) io_.in.reset(::fcntl(io_.master.get(), F_DUPFD_CLOEXEC, 0));
  } else {
    io_.in = std::move(in.w);
    io_.out = std::move(out.r);
    io_.err = std::move(err.r);
  }
  for (int fd : {io_.in.get(), io_.out.get(), io_.err.get()})
    if (fd >= 0) set_nonblock(fd);
  oom_baseline_ = read_oom_kills(driver_->cgroup_paths());
  (void)write_file_atomic(o_.state_dir + "/" + kPidFile, std::to_string(::getpid()), 0644, false);
  ::malloc_trim(0);  // create parsed the bundle; give that memory back
  // release_unused_text() runs in the loop's first turn, after berthd has the pid.
  trim_pending_ = true;
  trim_at_ = Clock::now();
  return init_pid_;
}

// ---- output -------------------------------------------------------------------------------

void Server::deliver(Exec* x, int stream, std::string_view data) {
  if (!x && log_) {
    auto r = log_->write(stream == 2 ? JsonLogWriter::kStderr : JsonLogWriter::kStdout, data);
    if (!r) {
      log::error("container " + o_.id + ": " + r.error().message());
      log_.reset();  // one message, not one per line
    }
  }
  for (auto& cp : conns_) {
    Conn& c = *cp;
    if (c.dead) continue;
    if (x ? (c.mode != Conn::Mode::kExec || c.exec_id != x->id) : c.mode != Conn::Mode::kAttach)
      continue;
    if ((stream == 1 && !c.want_out) || (stream == 2 && !c.want_err)) continue;
    if (c.tty)
      c.out.append(data);
    else
      stdcopy::append_frame(c.out, static_cast<stdcopy::Stream>(stream), data);
    if (c.out.size() > kMaxClientBuffer) c.dead = true;
  }
}

void Server::read_output(ProcIo& io, bool err_stream, Exec* x) {
  UniqueFd& fd = err_stream ? io.err : io.out;
  char buf[16384];
  for (int i = 0; i < 4 && fd; ++i) {  // bounded, so one busy stream cannot starve the rest
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      deliver(x, err_stream ? 2 : 1, std::string_view(buf, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) < sizeof buf) return;
      continue;
    }
    if (n < 0 && (errno == EINTR)) continue;
    if (n < 0 && errno == EAGAIN) return;
    fd.reset();  // EOF, or EIO from a pty master whose slave is closed
  }
}

// After the process exited: whatever is still in the pipes, then close them.
void Server::drain(ProcIo& io, Exec* x) {
  for (bool err_stream : {false, true}) {
    UniqueFd& fd = err_stream ? io.err : io.out;
    char buf[16384];
    while (fd) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        deliver(x, err_stream ? 2 : 1, std::string_view(buf, static_cast<size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      fd.reset();
    }
  }
  io.in.reset();
  io.in_buf.clear();
}

void Server::write_input(ProcIo& io) {
  while (io.in && !io.in_buf.empty()) {
    ssize_t n = ::write(io.in.get(), io.in_buf.data(), io.in_buf.size());
    if (n > 0) {
      io.in_buf.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    io.in.reset();  // the process closed its stdin
    io.in_buf.clear();
  }
  if (io.in_buf.empty() && io.close_in && !io.tty) io.in.reset();
}

// ---- clients ------------------------------------------------------------------------------

Conn* Server::find_conn(uint64_t id) {
  for (auto& c : conns_)
    if (c->id == id && !c->dead) return c.get();
  return nullptr;
}

void Server::accept_conns() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    auto c = std::make_unique<Conn>();
    c->id = next_conn_id_++;
    c->fd.reset(fd);
    conns_.push_back(std::move(c));
  }
}

void Server::reply(Conn& c, const json::Json& j, bool close) {
  std::string line = json::dump(j);
  line += '\n';
  if (c.reply_held) {
    c.out.insert(0, line);
    c.reply_held = false;
  } else {
    c.out += line;
  }
  if (close) c.close_when_flushed = true;
}

ProcIo* Server::stdin_target(Conn& c) {
  if (c.mode == Conn::Mode::kAttach) return io_.in ? &io_ : nullptr;
  if (c.mode == Conn::Mode::kExec) {
    Exec* x = find_exec(c.exec_id);
    return x && x->io.in ? &x->io : nullptr;
  }
  return nullptr;
}

void Server::stdin_data(Conn& c, std::string_view data) {
  if (!c.want_in) return;
  ProcIo* io = stdin_target(c);
  std::string fwd;
  bool detached = c.detach ? c.detach->feed(data, fwd) : (fwd.assign(data), false);
  if (io) io->in_buf += fwd;
  if (detached) {
    // The client leaves; the process and its stdin are untouched.
    c.want_in = false;
    c.close_when_flushed = true;
    c.mode = Conn::Mode::kRequest;  // no more output for it
    c.out.clear();
  }
  if (io) write_input(*io);
}

void Server::stdin_eof(Conn& c) {
  c.read_eof = true;
  if (!c.want_in) return;
  c.want_in = false;
  ProcIo* io = stdin_target(c);
  if (!io) return;
  if (c.detach) {
    std::string rest;
    c.detach->flush(rest);
    io->in_buf += rest;
  }
  // docker: an exec's stdin always ends with its client's; the container's with StdinOnce.
  if (c.mode == Conn::Mode::kExec || o_.stdin_once) io->close_in = true;
  write_input(*io);
}

void Server::read_conn(Conn& c) {
  char buf[16384];
  ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) c.dead = true;
    return;
  }
  if (n == 0) {
    if (c.mode == Conn::Mode::kRequest && !c.close_when_flushed) c.dead = true;
    stdin_eof(c);
    return;
  }
  std::string_view data(buf, static_cast<size_t>(n));
  if (c.mode != Conn::Mode::kRequest || c.close_when_flushed) {
    stdin_data(c, data);
    return;
  }
  c.in.append(data);
  size_t nl = c.in.find('\n');
  if (nl == std::string::npos) {
    if (c.in.size() > kMaxRequest) c.dead = true;
    return;
  }
  std::string line = c.in.substr(0, nl);
  std::string rest = c.in.substr(nl + 1);
  c.in.clear();
  c.in.shrink_to_fit();
  auto req = json::parse(line, "shim request");
  if (!req || !req->is_object()) {
    reply_error(
        c, req ? Error(ErrorCode::kInvalidArgument, "shim request: not an object") : req.error());
    return;
  }
  trim_pending_ = true;
  trim_at_ = Clock::now() + std::chrono::seconds(1);
  try {
    handle_request(c, *req);
  } catch (const std::exception& e) {
    reply_error(c, Error(ErrorCode::kInvalidArgument, std::string("shim request: ") + e.what()));
    return;
  }
  if (!rest.empty()) stdin_data(c, rest);
}

void Server::write_conn(Conn& c) {
  if (c.reply_held) return;
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    c.dead = true;
    return;
  }
  if (c.out.capacity() > 65536) std::string().swap(c.out);
  if (c.close_when_flushed) c.dead = true;
}

json::Json Server::state_json() const {
  json::Json j = {{"pid", init_pid_}, {"running", started_ && !exited_}, {"paused", paused_}};
  if (exited_) j["exit"] = exit_to_json(exit_);
  return j;
}

void Server::op_attach(Conn& c, const json::Json& req) {
  bool logs = req.value("logs", false);
  if (exited_ && !logs) {
    reply_error(c, Error(ErrorCode::kFailedPrecondition,
                         "container " + o_.id + " is not running: cannot attach"));
    return;
  }
  std::string keys;
  if (req.value("stdin", false)) {
    auto k = parse_detach_keys(req.value("detach_keys", ""));
    if (!k) return reply_error(c, k.error());
    keys = *k;
  }
  c.want_in = req.value("stdin", false);
  c.want_out = req.value("stdout", true);
  c.want_err = req.value("stderr", true);
  c.tty = o_.tty;
  if (c.want_in) c.detach.emplace(keys);
  reply(c, json::Json::object(), false);
  if (logs && !o_.log_path.empty()) {
    (void)read_json_log(
        o_.log_path, o_.log_max_file, LogReadOptions{},
        [&](const LogEntry& e) {
          int s = e.stream == "stderr" ? 2 : 1;
          if ((s == 1 && !c.want_out) || (s == 2 && !c.want_err)) return true;
          if (c.tty)
            c.out += e.log;
          else
            stdcopy::append_frame(c.out, static_cast<stdcopy::Stream>(s), e.log);
          return c.out.size() < kMaxClientBuffer;
        },
        nullptr);
  }
  if (exited_) {
    c.close_when_flushed = true;
    return;
  }
  c.mode = Conn::Mode::kAttach;
}

void Server::handle_request(Conn& c, const json::Json& req) {
  std::string op = req.value("op", "");
  if (op == "state") return reply(c, state_json());
  if (op == "wait") {
    if (exited_) return reply(c, exit_to_json(exit_));
    c.mode = Conn::Mode::kWait;
    return;
  }
  if (op == "attach") return op_attach(c, req);
  if (op == "exec") return op_exec(c, req);
  if (op == "exec_state" || op == "exec_resize" || op == "exec_kill") {
    Exec* x = find_exec(req.value("exec_id", ""));
    if (!x)
      return reply_error(
          c, Error(ErrorCode::kNotFound, "no such exec: " + req.value("exec_id", std::string())));
    if (op == "exec_state") return reply(c, exec_state_json(*x));
    if (!x->running)
      return reply_error(
          c, Error(ErrorCode::kFailedPrecondition, "exec " + x->id + " is not running"));
    if (op == "exec_resize") {
      if (!x->io.master)
        return reply_error(
            c, Error(ErrorCode::kFailedPrecondition, "exec " + x->id + " has no terminal"));
      set_winsize(x->io.master.get(), req.value("height", uint16_t{0}),
                  req.value("width", uint16_t{0}));
      return reply(c, json::Json::object());
    }
    // Still our unreaped child, so the pid cannot have been reused.
    if (::kill(x->pid, req.value("signal", SIGKILL)) != 0)
      return reply_error(c, Error::last("kill exec " + x->id));
    return reply(c, json::Json::object());
  }
  if (op == "shutdown") {
    reply(c, json::Json::object());
    shutdown_requested_ = true;
    if (!exited_) {
      if (auto r = driver_->kill(SIGKILL, true); !r) {
        if (::kill(init_pid_, SIGKILL) != 0) log::error("shutdown: " + r.error().message());
      }
    }
    return;
  }
  if (exited_ && op != "resize")
    return reply_error(
        c, Error(ErrorCode::kFailedPrecondition, "container " + o_.id + " is not running"));
  Result<> r;
  if (op == "start") {
    if (started_)
      return reply_error(
          c, Error(ErrorCode::kFailedPrecondition, "container " + o_.id + " is already started"));
    r = driver_->start();
    if (r) {
      started_ = true;
      exit_.started_at = log::rfc3339_now(true);
      // From here on only the loop runs: release_unused_text() once the reply is out.
      trim_at_ = Clock::now();
    }
  } else if (op == "kill") {
    r = driver_->kill(req.value("signal", SIGTERM), req.value("all", false));
  } else if (op == "pause") {
    r = driver_->pause();
    if (r) paused_ = true;
  } else if (op == "resume") {
    r = driver_->resume();
    if (r) paused_ = false;
  } else if (op == "resize") {
    if (!io_.master)
      return reply_error(
          c, Error(ErrorCode::kFailedPrecondition, "container " + o_.id + " has no terminal"));
    set_winsize(io_.master.get(), req.value("height", uint16_t{0}),
                req.value("width", uint16_t{0}));
  } else {
    return reply_error(c,
                       Error(ErrorCode::kInvalidArgument, "unknown shim request \"" + op + "\""));
  }
  if (!r) return reply_error(c, r.error());
  reply(c, json::Json::object());
}

// ---- exit ---------------------------------------------------------------------------------

void Server::on_init_exit(int status) {
  exited_ = true;
  paused_ = false;
  exit_.exit_code = exit_code_of(status);
  exit_.finished_at = log::rfc3339_now(true);
  if (exit_.started_at.empty()) exit_.started_at = created_at_;
  // Before delete, which removes the cgroup and its counters.
  int64_t ooms = read_oom_kills(driver_->cgroup_paths());
  exit_.oom_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && ooms > oom_baseline_;
  drain(io_, nullptr);
  io_.master.reset();
  if (log_) {
    if (auto r = log_->flush(); !r) log::error("container " + o_.id + ": " + r.error().message());
  }
  // Not fsynced: the state dir is runtime state (tmpfs /run), gone after a reboot anyway.
  if (auto r = write_file_atomic(o_.state_dir + "/" + kExitFile, json::dump(exit_to_json(exit_)),
                                 0644, false);
      !r)
    log::error(r.error().message());
  if (auto r = driver_->destroy(); !r)
    log::error("delete container " + o_.id + ": " + r.error().message());
  for (auto& c : conns_) {
    if (c->dead) continue;
    if (c->mode == Conn::Mode::kWait) reply(*c, exit_to_json(exit_));
    if (c->mode == Conn::Mode::kAttach) c->close_when_flushed = true;
  }
  grace_until_ = Clock::now() + kGrace;
}

void Server::reap() {
  char buf[64];
  while (::read(sig_r_.get(), buf, sizeof buf) > 0) {
  }
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == init_pid_ && !exited_) {
      on_init_exit(status);
      continue;
    }
    bool known = false;
    for (auto& [id, x] : execs_) {
      if (x->running && x->pid == pid) {
        on_exec_exit(*x, status);
        known = true;
      } else if (x->helper == pid) {
        x->helper = 0;  // its report (or EOF) says what happened
        known = true;
      }
    }
    if (!known && !exited_ && orphans_.size() < 256) orphans_[pid] = status;
  }
}

// ---- loop ---------------------------------------------------------------------------------

void Server::run() {
  enum Kind { kSig, kListen, kOut, kErr, kIn, kReport, kConn };
  struct Tag {
    Kind kind;
    Exec* exec;
    Conn* conn;
  };
  std::vector<struct pollfd> pfds;
  std::vector<Tag> tags;
  // events 0 still reports POLLHUP/POLLERR: how a client that went away is noticed.
  auto add = [&](int fd, short events, Tag tag) {
    if (fd < 0 || (events == 0 && tag.kind != kConn)) return;
    pfds.push_back({fd, events, 0});
    tags.push_back(tag);
  };
  auto add_io = [&](ProcIo& io, Exec* x) {
    add(io.out.get(), POLLIN, {kOut, x, nullptr});
    add(io.err.get(), POLLIN, {kErr, x, nullptr});
    if (!io.in_buf.empty()) add(io.in.get(), POLLOUT, {kIn, x, nullptr});
  };
  while (!quit_) {
    pfds.clear();
    tags.clear();
    add(sig_r_.get(), POLLIN, {kSig, nullptr, nullptr});
    add(listener_.get(), POLLIN, {kListen, nullptr, nullptr});
    add_io(io_, nullptr);
    for (auto& [id, x] : execs_) {
      add_io(x->io, x.get());
      add(x->report.get(), POLLIN, {kReport, x.get(), nullptr});
    }
    for (auto& c : conns_) {
      short ev = 0;
      if (!c->read_eof) {
        ProcIo* target = c->want_in ? stdin_target(*c) : nullptr;
        if (!target || target->in_buf.size() < kMaxStdinBuffer) ev |= POLLIN;
      }
      if (!c->out.empty() && !c->reply_held) ev |= POLLOUT;
      add(c->fd.get(), ev, {kConn, nullptr, c.get()});
    }
    auto ms_until = [](Clock::time_point t) {  // rounded up, so poll never spins on 0
      auto left = std::chrono::ceil<std::chrono::milliseconds>(t - Clock::now());
      return static_cast<int>(std::max<int64_t>(0, left.count()));
    };
    int timeout = -1;
    if (exited_)
      timeout = ms_until(grace_until_);
    else if (trim_pending_)
      timeout = ms_until(trim_at_);
    int n = ::poll(pfds.data(), pfds.size(), timeout);
    if (n < 0 && errno != EINTR) {
      log::error(std::string("poll: ") + std::strerror(errno));
      return;
    }
    if (trim_pending_ && !exited_ && Clock::now() >= trim_at_) {
      // A second after the last request: drop the code it touched from our RSS again.
      release_unused_text();
      trim_pending_ = false;
    }
    for (size_t i = 0; n > 0 && i < pfds.size(); ++i) {
      short re = pfds[i].revents;
      if (re == 0) continue;
      Tag& t = tags[i];
      ProcIo& io = t.exec ? t.exec->io : io_;
      switch (t.kind) {
        case kSig:
          reap();
          break;
        case kListen:
          accept_conns();
          break;
        case kOut:
          read_output(io, false, t.exec);
          break;
        case kErr:
          read_output(io, true, t.exec);
          break;
        case kIn:
          write_input(io);
          break;
        case kReport:
          read_exec_report(*t.exec);
          break;
        case kConn: {
          Conn& c = *t.conn;
          if (c.dead) break;
          if (re & (POLLIN | POLLHUP | POLLERR)) {
            if (re & POLLIN) read_conn(c);
            if (!c.dead && (re & (POLLHUP | POLLERR)) && !(re & POLLIN)) {
              stdin_eof(c);
              c.dead = true;
            }
          }
          if (!c.dead && (re & POLLOUT)) write_conn(c);
          break;
        }
      }
    }
    // Replies and output produced above go out now where the socket has room.
    for (auto& c : conns_)
      if (!c->dead && (!c->out.empty() || c->close_when_flushed)) write_conn(*c);
    std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->dead; });
    if (exited_) {
      bool execs_done = true, flushed = true;
      for (auto& [id, x] : execs_)
        if (x->running || x->report) execs_done = false;
      for (auto& c : conns_)
        if (!c->out.empty()) flushed = false;
      // After shutdown, attached clients still get the last of the output (within the grace).
      if ((shutdown_requested_ && flushed) || (Clock::now() >= grace_until_ && execs_done))
        quit_ = true;
    }
  }
  ::unlink((o_.state_dir + "/" + kSocketFile).c_str());
}

int run_shim(const SpawnOptions& opts, int report_fd) {
  Server server(opts);
  auto pid = server.setup();
  if (!pid) {
    // Gone before the spawner hears of it; the report fd closes when we exit, which is what
    // spawn() waits for, so that a failed spawn leaves no shim behind.
    ::unlink((opts.state_dir + "/" + kSocketFile).c_str());
    std::string line = json::dump(error_to_json(pid.error())) + "\n";
    (void)!::write(report_fd, line.data(), line.size());
    return 1;
  }
  std::string line = json::dump(json::Json{{"pid", *pid}}) + "\n";
  (void)!::write(report_fd, line.data(), line.size());
  ::close(report_fd);
  server.run();
  return 0;
}

}  // namespace berth::shim
