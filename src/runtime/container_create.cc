// create and run: the runtime side of starting a container. One clone() with every new
// namespace, a sync channel to the child, and nothing left behind when a step fails (the guard
// kills the child, removes the cgroup and the state directory).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "base/file.h"
#include "base/log.h"
#include "base/syscalls.h"
#include "runtime/cgroups/manager.h"
#include "runtime/container.h"
#include "runtime/container_internal.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

namespace berth::runtime {
namespace {

struct NsType {
  const char* name;
  int flag;
};
constexpr NsType kNamespaces[] = {
    {"user", CLONE_NEWUSER},     {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET},
    {"mount", CLONE_NEWNS},      {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

std::string mapping_text(const std::vector<oci::IdMapping>& maps) {
  std::string out;
  for (auto& m : maps)
    out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
           std::to_string(m.size) + "\n";
  return out;
}

// The pieces a create/run holds while it works; the destructor undoes whatever is not committed.
struct Creation {
  std::string state_path;
  std::unique_ptr<cgroups::CgroupManager> cgroup;
  pid_t child = 0;
  bool committed = false;
  ~Creation() {
    if (committed) return;
    if (child > 0) {
      ::kill(child, SIGKILL);
      while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    if (cgroup) {
      auto r = cgroup->destroy();
      if (!r) log::warn("cleanup: " + r.error().message());
    }
    if (!state_path.empty()) (void)remove_all(state_path);
  }
};

Result<> write_pid_file(const std::string& path, pid_t pid) {
  if (path.empty()) return {};
  auto r = write_file_atomic(path, std::to_string(pid), 0644, false);
  if (!r) return std::unexpected(std::move(r).error().wrap("--pid-file"));
  return {};
}

// The config's resources plus runc's default device rules (standard devices, ptys, mknod).
oci::Resources with_default_devices(const oci::Spec& spec) {
  oci::Resources r =
      spec.linux && spec.linux->resources ? *spec.linux->resources : oci::Resources{};
  if (spec.linux)
    r.devices = cgroups::container_device_rules(*spec.linux);  // includes the config's
  return r;
}

pid_t g_forward_pid = 0;
void forward_signal(int sig) {
  if (g_forward_pid > 0) ::kill(g_forward_pid, sig);
}

}  // namespace

Result<LoadedBundle> load_bundle(const GlobalOptions& g, const std::string& bundle_arg) {
  char abs[PATH_MAX];
  if (!::realpath(bundle_arg.c_str(), abs)) return errno_error("bundle " + bundle_arg);
  LoadedBundle b;
  b.bundle = abs;
  std::string config_path = b.bundle + "/config.json";
  auto j = json::parse_file(config_path);
  if (!j) return std::unexpected(j.error());
  b.config = std::move(*j);
  auto spec = oci::parse_spec(b.config);
  if (!spec) return std::unexpected(spec.error().wrap(config_path));
  b.spec = std::move(*spec);
  TRY_CTX(oci::validate_spec(b.spec), config_path);
  if (!b.spec.linux || !b.spec.linux->find_namespace("mount"))
    return make_error(ErrorCode::kInvalidArgument,
                      config_path + ": linux.namespaces: a mount namespace is required");
  auto prepared = security::prepare_security(*b.spec.process, &*b.spec.linux, seccomp_cache_dir(g));
  if (!prepared) return std::unexpected(prepared.error().wrap(config_path));
  b.security = std::move(*prepared);
  std::string root = b.spec.root_path;
  if (root[0] != '/') root = b.bundle + "/" + root;
  char rootabs[PATH_MAX];
  if (!::realpath(root.c_str(), rootabs)) {
    if (errno == ENOENT)
      return make_error(ErrorCode::kNotFound, "rootfs (" + root + ") does not exist");
    return errno_error("rootfs " + root);
  }
  struct stat st;
  if (::stat(rootabs, &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(ErrorCode::kInvalidArgument, "rootfs (" + root + ") is not a directory");
  b.rootfs = rootabs;
  return b;
}

static Result<int> create_in_bundle(const GlobalOptions& g, const CreateOptions& o,
                                    const std::string& pid_file, LoadedBundle b, bool run,
                                    bool detach);

static Result<int> create_impl(const GlobalOptions& g, const CreateOptions& o, bool run,
                               bool detach) {
  TRY(validate_container_id(o.id));
  ASSIGN_OR_RETURN(LoadedBundle b, load_bundle(g, o.bundle));
  const oci::Spec& spec = b.spec;
  const oci::Process& proc = *spec.process;
  if (proc.terminal && o.console_socket.empty() && (!run || detach))
    return make_error(
        ErrorCode::kInvalidArgument,
        "cannot allocate tty if the runtime will detach without setting console socket");
  if (!proc.terminal && !o.console_socket.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot use console socket if the runtime will not allocate tty");

  // Relative paths in config.json (bind sources, hooks' cwd) are relative to the bundle, as in
  // runc; the caller's relative paths were meant relative to where it ran.
  char cwd_buf[PATH_MAX];
  if (!::getcwd(cwd_buf, sizeof cwd_buf)) return errno_error("getcwd");
  auto absolute = [&](const std::string& p) {
    return p.empty() || p[0] == '/' ? p : std::string(cwd_buf) + "/" + p;
  };
  std::string pid_file = absolute(o.pid_file);
  CreateOptions opts = o;
  opts.console_socket = absolute(o.console_socket);
  GlobalOptions gl = g;
  gl.root = absolute(g.root);
  if (::chdir(b.bundle.c_str()) != 0) return errno_error("chdir to bundle " + b.bundle);
  return create_in_bundle(gl, opts, pid_file, std::move(b), run, detach);
}

static Result<int> create_in_bundle(const GlobalOptions& g, const CreateOptions& o,
                                    const std::string& pid_file, LoadedBundle b, bool run,
                                    bool detach) {
  const oci::Spec& spec = b.spec;
  const oci::Process& proc = *spec.process;
  TRY(mkdir_all(g.root, 0711));
  Creation c;
  std::string sdir = state_dir(g.root, o.id);
  if (::mkdir(sdir.c_str(), 0711) != 0) {
    if (errno == EEXIST)
      return make_error(ErrorCode::kAlreadyExists, "container " + o.id + " already exists");
    return errno_error("create state directory " + sdir);
  }
  c.state_path = sdir;

  cgroups::CgroupConfig cg;
  cg.container_id = o.id;
  cg.cgroups_path = spec.linux ? spec.linux->cgroups_path : "";
  cg.systemd = g.systemd_cgroup;
  ASSIGN_OR_RETURN(c.cgroup, cgroups::make_cgroup_manager(cg));
  TRY(c.cgroup->create());
  TRY(c.cgroup->apply(with_default_devices(spec)));

  // Namespaces: new ones go into the clone flags; existing ones are opened here, on the host.
  int clone_flags = 0;
  std::vector<UniqueFd> ns_fds;
  UniqueFd pidns_fd, timens_new;
  bool new_userns = false, join_userns = false;
  if (spec.linux) {
    for (auto& t : kNamespaces) {
      const oci::Namespace* ns = spec.linux->find_namespace(t.name);
      if (!ns) continue;
      if (ns->path.empty()) {
        clone_flags |= t.flag;
        if (t.flag == CLONE_NEWUSER) new_userns = true;
        continue;
      }
      auto fd = open_fd(ns->path, O_RDONLY);
      if (!fd) return std::unexpected(fd.error().wrap(std::string("linux.namespaces: ") + t.name));
      if (t.flag == CLONE_NEWPID)
        pidns_fd = std::move(*fd);
      else {
        if (t.flag == CLONE_NEWUSER) join_userns = true;
        ns_fds.push_back(std::move(*fd));  // user comes first in kNamespaces
      }
    }
  }
  int unshare_after = 0;
  // The cgroup namespace's root is the cgroup of whoever unshares it: the child unshares it
  // after the parent has moved it into the container's cgroup (as runc does).
  bool new_cgroupns = clone_flags & CLONE_NEWCGROUP;
  clone_flags &= ~CLONE_NEWCGROUP;
  if (join_userns) {
    // Namespaces created after joining a user namespace must belong to it: unshare them in the
    // child after setns. A new pid namespace would need a second fork; not supported yet.
    if (clone_flags & CLONE_NEWPID)
      return make_error(ErrorCode::kUnimplemented,
                        "linux.namespaces: joining a user namespace by path together with a new "
                        "pid namespace is not supported");
    unshare_after = clone_flags & ~(CLONE_NEWTIME);
    clone_flags &= CLONE_NEWTIME;
  }

  UniqueFd console;
  if (!o.console_socket.empty()) {
    ASSIGN_OR_RETURN(console, connect_console_socket(o.console_socket));
  }

  UniqueFd fifo;
  if (!run) {
    std::string fifo_path = exec_fifo_path(g.root, o.id);
    if (::mkfifo(fifo_path.c_str(), 0622) != 0) return errno_error("create exec fifo");
    // O_RDWR never blocks; the child keeps it and reads until `start` writes a byte.
    ASSIGN_OR_RETURN(fifo, open_fd(fifo_path, O_RDWR));
  }

  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
    return errno_error("socketpair");
  UniqueFd parent_sock(sp[0]), child_sock(sp[1]);

  // Time namespace offsets can only be written before any process enters: unshare here (our
  // children land in it), write offsets, clone, then step back.
  UniqueFd own_timens, own_pidns;
  if (clone_flags & CLONE_NEWTIME) {
    ASSIGN_OR_RETURN(own_timens, open_fd("/proc/self/ns/time", O_RDONLY));
    if (::unshare(CLONE_NEWTIME) != 0) return errno_error("linux.namespaces: unshare time");
    std::string offsets;
    for (auto& [clock, off] : spec.linux->time_offsets)
      offsets += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
    if (!offsets.empty()) {
      auto r = write_file("/proc/self/timens_offsets", offsets);
      if (!r) {
        ::setns(own_timens.get(), CLONE_NEWTIME);
        return std::unexpected(std::move(r).error().wrap("linux.timeOffsets"));
      }
    }
    clone_flags &= ~CLONE_NEWTIME;
  }
  if (pidns_fd) {
    ASSIGN_OR_RETURN(own_pidns, open_fd("/proc/self/ns/pid", O_RDONLY));
    if (::setns(pidns_fd.get(), CLONE_NEWPID) != 0)
      return errno_error("linux.namespaces: join pid namespace");
  }

  InitConfig icfg;
  icfg.spec = &spec;
  icfg.security = &b.security;
  icfg.rootfs = b.rootfs;
  icfg.cgroup_path = c.cgroup->path();
  icfg.cgroup_dirs = c.cgroup->paths();
  icfg.sync_fd = child_sock.get();
  icfg.fifo_fd = fifo.get();
  icfg.console_sock = console.get();
  icfg.proxy_console = run && !detach && proc.terminal && o.console_socket.empty();
  icfg.no_pivot = o.no_pivot;
  icfg.no_new_keyring = o.no_new_keyring;
  icfg.preserve_fds = o.preserve_fds;
  icfg.new_userns = new_userns;
  icfg.parent_hooks = !spec.hooks.prestart.empty() || !spec.hooks.create_runtime.empty();
  for (auto& fd : ns_fds) icfg.join_ns_fds.push_back(fd.get());
  icfg.unshare_after_join = unshare_after | (new_cgroupns ? CLONE_NEWCGROUP : 0);

  long pid = ::syscall(SYS_clone, static_cast<unsigned long>(clone_flags) | SIGCHLD, nullptr,
                       nullptr, nullptr, nullptr);
  if (pid == 0) {
    parent_sock.reset();
    run_init(icfg);
  }
  int clone_errno = errno;
  if (own_timens) ::setns(own_timens.get(), CLONE_NEWTIME);
  if (own_pidns) ::setns(own_pidns.get(), CLONE_NEWPID);
  if (pid < 0) return errno_error(clone_errno, "clone container process");
  c.child = static_cast<pid_t>(pid);
  child_sock.reset();
  fifo.reset();
  console.reset();

  if (new_userns) {
    std::string proc_dir = "/proc/" + std::to_string(pid);
    TRY_CTX(write_file(proc_dir + "/gid_map", mapping_text(spec.linux->gid_mappings)),
            "linux.gidMappings");
    TRY_CTX(write_file(proc_dir + "/uid_map", mapping_text(spec.linux->uid_mappings)),
            "linux.uidMappings");
  }
  TRY(c.cgroup->add_process(c.child));

  ContainerState st;
  st.id = o.id;
  st.init_pid = c.child;
  st.init_start_time = process_start_time(c.child);
  st.bundle = b.bundle;
  st.rootfs = b.rootfs;
  st.created = log::rfc3339_now(true);
  st.annotations = spec.annotations;
  st.cgroups_path = cg.cgroups_path;
  st.cgroup_paths = c.cgroup->paths();
  st.systemd_cgroup = g.systemd_cgroup;
  st.config = std::move(b.config);
  std::string creating = json::dump(spec_state_json(st, Status::kCreating));

  TRY(sync_send(parent_sock.get(), SyncType::kGo, creating));
  if (icfg.parent_hooks) {
    TRY(sync_expect(parent_sock.get(), SyncType::kPrestart));
    TRY(run_hooks(spec.hooks.prestart, "prestart", creating));
    TRY(run_hooks(spec.hooks.create_runtime, "createRuntime", creating));
    TRY(sync_send(parent_sock.get(), SyncType::kHooksDone));
  }
  UniqueFd master;
  if (icfg.proxy_console) {
    auto fd = recv_fd(parent_sock.get());
    if (!fd) {
      // The child failed before sending the console: its error message is next.
      TRY(sync_expect(parent_sock.get(), SyncType::kCreated));
      return std::unexpected(fd.error());
    }
    master = std::move(*fd);
  }
  if (has_seccomp_listener(b.security)) {
    auto r = forward_seccomp_listener(parent_sock.get(), *spec.linux, c.child, creating);
    if (!r) {
      TRY(sync_expect(parent_sock.get(), SyncType::kCreated));  // the child's own error first
      return std::unexpected(r.error());
    }
  }
  TRY(sync_expect(parent_sock.get(), SyncType::kCreated));
  TRY(save_state(g.root, st));
  TRY(write_pid_file(pid_file, c.child));

  if (!run) {
    c.committed = true;
    return 0;
  }
  std::string running = json::dump(spec_state_json(st, Status::kRunning));
  if (detach) {
    TRY(sync_send(parent_sock.get(), SyncType::kStart));
    TRY(sync_wait_exec(parent_sock.get()));
    c.committed = true;
    if (auto h = run_hooks(spec.hooks.poststart, "poststart", running); !h)
      log::warn(h.error().message());
    return 0;
  }

  // Foreground: forward signals, wait, clean up.
  g_forward_pid = c.child;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT})
    ::sigaction(sig, &sa, nullptr);
  TRY(sync_send(parent_sock.get(), SyncType::kStart));
  TRY(sync_wait_exec(parent_sock.get()));
  if (auto h = run_hooks(spec.hooks.poststart, "poststart", running); !h)
    log::warn(h.error().message());
  if (master) proxy_terminal(master.get());
  int status = 0;
  while (::waitpid(c.child, &status, 0) < 0 && errno == EINTR) {
  }
  g_forward_pid = 0;
  c.child = 0;  // reaped
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  // The container is gone: kill what it left in the cgroup, then remove everything.
  (void)c.cgroup->kill_all(SIGKILL);
  std::string stopped = json::dump(spec_state_json(st, Status::kStopped));
  if (auto h = run_hooks(spec.hooks.poststop, "poststop", stopped); !h)
    log::warn(h.error().message());
  return code;  // Creation's destructor removes the cgroup and the state directory
}

Result<> create_container(const GlobalOptions& g, const CreateOptions& o) {
  auto r = create_impl(g, o, false, false);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<int> run_container(const GlobalOptions& g, const CreateOptions& o, bool detach) {
  return create_impl(g, o, true, detach);
}

}  // namespace berth::runtime
