// exec: a forked helper (the shim has no threads, so fork is safe) puts the process's stdio on
// 0/1/2 and has the runtime start it detached; it reports {"pid":N} (with the pty master over
// SCM_RIGHTS when there is a terminal) or the runtime's error, and exits. The process is then
// reparented to the shim, a child subreaper, which reaps it: its exit status is the exec's
// exit code. The client's request is answered only when the helper has reported, so an exec
// that cannot start fails the request with the runtime's message.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "shim/fd_util.h"
#include "shim/server.h"

namespace berth::shim {

Exec* Server::find_exec(const std::string& id) {
  auto it = execs_.find(id);
  return it == execs_.end() ? nullptr : it->second.get();
}

json::Json Server::exec_state_json(const Exec& x) const {
  json::Json j = {{"running", x.running}, {"pid", x.pid}};
  if (x.exit_code) j["exit_code"] = *x.exit_code;
  return j;
}

void Server::op_exec(Conn& c, const json::Json& req) {
  if (!started_ || exited_)
    return reply_error(
        c, Error(ErrorCode::kFailedPrecondition, "container " + o_.id + " is not running"));
  if (paused_)
    return reply_error(
        c, Error(ErrorCode::kFailedPrecondition,
                 "container " + o_.id + " is paused, unpause the container before exec"));
  std::string id = req.value("exec_id", "");
  if (id.empty())
    return reply_error(c, Error(ErrorCode::kInvalidArgument, "exec: exec_id is empty"));
  if (find_exec(id))
    return reply_error(c, Error(ErrorCode::kAlreadyExists, "exec " + id + " already exists"));
  json::Json process = req.value("process", json::Json::object());
  bool tty = process.value("terminal", false);
  bool detach = req.value("detach", false);
  bool a_in = !detach && req.value("attach_stdin", false);
  bool a_out = !detach && req.value("attach_stdout", true);
  bool a_err = !detach && req.value("attach_stderr", true);
  uint16_t h = req.value("tty_height", uint16_t{0}), w = req.value("tty_width", uint16_t{0});
  if (tty && (h || w)) process["consoleSize"] = {{"height", h}, {"width", w}};
  std::string keys;
  if (a_in) {
    auto k = parse_detach_keys(req.value("detach_keys", ""));
    if (!k) return reply_error(c, k.error());
    keys = *k;
  }

  auto x = std::make_unique<Exec>();
  x->id = id;
  x->seq = ++exec_seq_;
  x->detach = detach;
  x->io.tty = tty;
  auto null = open_fd("/dev/null", O_RDWR | O_CLOEXEC);
  if (!null) return reply_error(c, null.error());
  Stdio stdio{null->get(), null->get(), null->get()};
  Pipe in, out, err;
  auto pipe_for = [&](bool want, Pipe& p, int& slot, bool read_side) -> Result<> {
    if (!want || tty) return {};
    ASSIGN_OR_RETURN(p, make_pipe());
    slot = read_side ? p.r.get() : p.w.get();
    return {};
  };
  for (auto r : {pipe_for(a_in, in, stdio.in, true), pipe_for(a_out, out, stdio.out, false),
                 pipe_for(a_err, err, stdio.err, false)})
    if (!r) return reply_error(c, r.error());
  std::string base = o_.state_dir + "/exec-" + std::to_string(x->seq);
  std::string pid_file = base + ".pid", console;
  UniqueFd console_listener;
  if (tty) {
    auto path = console_socket_path(o_.state_dir, "exec-" + std::to_string(x->seq) + ".sock");
    if (!path) return reply_error(c, path.error());
    console = x->console = *path;
    auto l = listen_unix(console);
    if (!l) return reply_error(c, l.error());
    console_listener = std::move(*l);
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return reply_error(c, Error::last("socketpair"));
  UniqueFd report(sv[0]), child_report(sv[1]);

  pid_t pid = ::fork();
  if (pid < 0) return reply_error(c, Error::last("fork exec helper"));
  if (pid == 0) {
    ::signal(SIGCHLD, SIG_DFL);
    report.reset();
    ::dup2(stdio.in, 0);
    ::dup2(stdio.out, 1);
    ::dup2(stdio.err, 2);
    auto r = driver_->exec(process, console, pid_file);
    UniqueFd master;
    if (r && tty) {
      auto m = accept_fd(console_listener.get(), 10000);
      if (m) {
        master = std::move(*m);
      } else {
        ::kill(*r, SIGKILL);
        r = std::unexpected(m.error());
      }
    }
    json::Json msg = r ? json::Json{{"pid", *r}} : error_to_json(r.error());
    (void)send_msg(child_report.get(), json::dump(msg), master.get());
    _exit(r ? 0 : 1);
  }
  child_report.reset();
  console_listener.reset();
  x->helper = pid;
  x->report = std::move(report);
  x->io.in = std::move(in.w);
  x->io.out = std::move(out.r);
  x->io.err = std::move(err.r);
  for (int fd : {x->io.in.get(), x->io.out.get(), x->io.err.get()})
    if (fd >= 0) set_nonblock(fd);
  x->conn = c.id;
  c.mode = Conn::Mode::kExec;
  c.exec_id = id;
  c.reply_held = true;
  c.want_in = a_in;
  c.want_out = a_out;
  c.want_err = a_err;
  c.tty = tty;
  if (a_in) c.detach.emplace(keys);
  execs_[id] = std::move(x);
}

void Server::read_exec_report(Exec& x) {
  UniqueFd master;
  auto payload = recv_msg(x.report.get(), &master);
  x.report.reset();
  std::string base = o_.state_dir + "/exec-" + std::to_string(x.seq);
  if (!x.console.empty()) remove_console_socket(x.console);
  ::unlink((base + ".pid").c_str());
  Result<json::Json> msg = payload ? json::parse(*payload, "exec report")
                                   : Result<json::Json>(std::unexpected(payload.error()));
  if (payload && payload->empty())
    msg = make_error(ErrorCode::kInternal, "exec " + x.id + ": helper exited without a report");
  Result<> err = msg ? check_reply(*msg) : Result<>(std::unexpected(msg.error()));
  Conn* c = find_conn(x.conn);
  if (!err || !msg->contains("pid")) {
    Error e =
        err ? Error(ErrorCode::kInternal, "exec " + x.id + ": bad helper report") : err.error();
    const std::string& m = e.message();
    x.exit_code =
        (m.find("not found") != std::string::npos || m.find("no such file") != std::string::npos)
            ? 127
            : 126;
    x.io = ProcIo{};
    if (c) {
      c->out.clear();
      c->mode = Conn::Mode::kRequest;
      c->want_in = false;
      reply_error(*c, e);
    }
    x.conn = 0;
    return;
  }
  x.pid = (*msg)["pid"].get<pid_t>();
  x.running = true;
  if (master) {
    set_nonblock(master.get());
    x.io.out.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 0));
    if (c && c->want_in) x.io.in.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 0));
    x.io.master = std::move(master);
  }
  if (c) reply(*c, json::Json{{"pid", x.pid}}, x.detach);
  if (x.detach) x.conn = 0;
  if (auto it = orphans_.find(x.pid); it != orphans_.end()) {
    int status = it->second;
    orphans_.erase(it);
    on_exec_exit(x, status);
  }
}

void Server::on_exec_exit(Exec& x, int status) {
  x.running = false;
  x.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  drain(x.io, &x);
  x.io.master.reset();
  if (Conn* c = find_conn(x.conn)) c->close_when_flushed = true;
  x.conn = 0;
}

}  // namespace berth::shim
