// exec: a new process in a running container. The runtime points its pid_for_children (and
// time_for_children) at the container through the init's pidfd and forks; the child joins the
// remaining namespaces with one setns(pidfd, flags) call, is moved into the cgroup by the parent,
// and then takes the same last steps as the init (attributes, user, caps, seccomp, exec).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/syscalls.h"
#include "runtime/container_internal.h"
#include "runtime/init.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

namespace berth::runtime {
namespace {

pid_t g_exec_pid = 0;
void forward(int sig) {
  if (g_exec_pid > 0) ::kill(g_exec_pid, sig);
}

int ns_flag(const std::string& type) {
  if (type == "user") return CLONE_NEWUSER;
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

Result<oci::Process> build_process(const oci::Spec& spec, const ExecOptions& o) {
  if (o.process) return *o.process;
  if (o.args.empty()) return make_error(ErrorCode::kInvalidArgument, "exec: process args cannot be empty");
  oci::Process p = *spec.process;
  p.args = o.args;
  p.terminal = o.tty;
  p.console_size.reset();
  for (auto& e : o.env) {
    if (e.find('=') == std::string::npos)
      return make_error(ErrorCode::kInvalidArgument, "--env: expected KEY=VALUE, got \"" + e + "\"");
    p.env.push_back(e);
  }
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (!o.user.empty()) {
    auto parts = split(o.user, ':');
    auto uid = parse_uint(parts[0]);
    if (!uid || parts.size() > 2)
      return make_error(ErrorCode::kInvalidArgument, "--user: expected UID[:GID], got \"" + o.user + "\"");
    p.user.uid = static_cast<uint32_t>(*uid);
    if (parts.size() == 2) {
      auto gid = parse_uint(parts[1]);
      if (!gid) return make_error(ErrorCode::kInvalidArgument, "--user: bad gid in \"" + o.user + "\"");
      p.user.gid = static_cast<uint32_t>(*gid);
    }
  }
  for (auto g : o.additional_gids) p.user.additional_gids.push_back(g);
  if (!o.caps.empty()) {
    if (!p.capabilities) p.capabilities.emplace();
    for (auto& c : o.caps) {
      p.capabilities->bounding.push_back(c);
      p.capabilities->effective.push_back(c);
      p.capabilities->permitted.push_back(c);
      p.capabilities->ambient.push_back(c);
    }
  }
  if (o.no_new_privs) p.no_new_privileges = true;
  return p;
}

}  // namespace

Result<int> exec_in_container(const GlobalOptions& g, const ExecOptions& o) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, o.id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  if (st == Status::kStopped)
    return make_error(ErrorCode::kFailedPrecondition, "cannot exec in a stopped container");
  if (st == Status::kPaused)
    return make_error(ErrorCode::kFailedPrecondition, "cannot exec in a paused container");
  auto spec = oci::parse_spec(s.config);
  if (!spec) return std::unexpected(spec.error().wrap("state of container " + o.id));
  ASSIGN_OR_RETURN(oci::Process proc, build_process(*spec, o));
  if (proc.args.empty())
    return make_error(ErrorCode::kInvalidArgument, "process.args: must not be empty");
  if (proc.cwd.empty() || proc.cwd[0] != '/')
    return make_error(ErrorCode::kInvalidArgument, "process.cwd: must be an absolute path");
  const oci::Linux* linux = spec->linux ? &*spec->linux : nullptr;
  ASSIGN_OR_RETURN(security::PreparedSecurity prepared,
                   security::prepare_security(proc, linux, seccomp_cache_dir(g)));
  bool proxy = proc.terminal && o.console_socket.empty();
  if (proxy && o.detach)
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot allocate tty if the runtime will detach without setting console socket");
  if (!proc.terminal && !o.console_socket.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot use console socket if the runtime will not allocate tty");

  int pidfd_raw = sys::pidfd_open(s.init_pid);
  if (pidfd_raw < 0 || !init_alive(s))
    return make_error(ErrorCode::kFailedPrecondition, "cannot exec in a stopped container");
  UniqueFd pidfd(pidfd_raw);

  int join = 0, for_children = 0;
  if (spec->linux)
    for (auto& ns : spec->linux->namespaces) {
      int f = ns_flag(ns.type);
      if (f == CLONE_NEWPID || f == CLONE_NEWTIME) for_children |= f;
      else join |= f;
    }
  ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));

  UniqueFd console;
  if (!o.console_socket.empty()) {
    ASSIGN_OR_RETURN(console, connect_console_socket(o.console_socket));
  }
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
    return errno_error("socketpair");
  UniqueFd parent_sock(sp[0]), child_sock(sp[1]);

  UniqueFd own_pidns, own_timens;
  if (for_children & CLONE_NEWPID) {
    ASSIGN_OR_RETURN(own_pidns, open_fd("/proc/self/ns/pid", O_RDONLY));
  }
  if (for_children & CLONE_NEWTIME) {
    ASSIGN_OR_RETURN(own_timens, open_fd("/proc/self/ns/time", O_RDONLY));
  }
  if (for_children && ::setns(pidfd.get(), for_children) != 0)
    return errno_error("join container pid namespace");
  pid_t pid = ::fork();
  if (own_pidns) ::setns(own_pidns.get(), CLONE_NEWPID);
  if (own_timens) ::setns(own_timens.get(), CLONE_NEWTIME);
  if (pid < 0) return errno_error("fork exec process");
  if (pid == 0) {
    parent_sock.reset();
    int sync = child_sock.get();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto go = sync_expect(sync, SyncType::kGo);
    if (!go) _exit(1);
    if (join && ::setns(pidfd.get(), join) != 0)
      child_fail(sync, Error::last("join container namespaces"));
    if (proc.terminal) {
      auto master = setup_console(console.get(), proc, false);
      if (!master) child_fail(sync, master.error().wrap("console"));
      if (proxy) {
        if (auto r = send_fd(sync, master->get(), "console"); !r) child_fail(sync, r.error());
      }
      console.reset();
    }
    if (::chdir(proc.cwd.c_str()) != 0)
      child_fail(sync, Error::last("chdir to cwd (\"" + proc.cwd + "\") failed"));
    char buf[4096];
    if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
      child_fail(sync, Error(ErrorCode::kPermissionDenied,
                             "current working directory is outside of container mount namespace "
                             "root -- possible container breakout detected"));
    if (o.detach) ::prctl(PR_SET_PDEATHSIG, 0);
    if (auto r = apply_process_security(proc, linux, prepared, sync); !r) child_fail(sync, r.error());
    child_fail(sync, exec_process(proc, o.preserve_fds));
  }
  child_sock.reset();
  console.reset();
  auto reap = [&] {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  if (auto r = cg->add_process(pid); !r) {
    reap();
    return std::unexpected(r.error());
  }
  std::string state = json::dump(spec_state_json(s, Status::kRunning));
  if (auto r = sync_send(parent_sock.get(), SyncType::kGo, state); !r) {
    reap();
    return std::unexpected(r.error());
  }
  UniqueFd master;
  if (proxy) {
    auto fd = recv_fd(parent_sock.get());
    if (!fd) {
      auto err = sync_wait_exec(parent_sock.get());
      reap();
      if (!err) return std::unexpected(err.error());
      return std::unexpected(fd.error());
    }
    master = std::move(*fd);
  }
  if (has_seccomp_listener(prepared)) {
    if (auto r = forward_seccomp_listener(parent_sock.get(), *linux, pid, state); !r) {
      auto child_err = sync_wait_exec(parent_sock.get());
      reap();
      return std::unexpected(child_err ? r.error() : child_err.error());
    }
  }
  if (auto r = sync_wait_exec(parent_sock.get()); !r) {
    reap();
    return std::unexpected(r.error());
  }
  if (!o.pid_file.empty()) {
    auto r = write_file_atomic(o.pid_file, std::to_string(pid), 0644, false);
    if (!r) return std::unexpected(std::move(r).error().wrap("--pid-file"));
  }
  if (o.detach) return 0;
  g_exec_pid = pid;
  struct sigaction sa {};
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT})
    ::sigaction(sig, &sa, nullptr);
  if (master) proxy_terminal(master.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_exec_pid = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace berth::runtime
