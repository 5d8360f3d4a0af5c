// The commands that act on an existing container: state, list, kill, delete, pause, resume, ps,
// update, and status derivation. Read-only commands never clone, re-exec or touch cgroups except
// to ask the freezer, so `state` stays a few hundred microseconds.
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "base/syscalls.h"
#include "runtime/container_internal.h"
#include "runtime/hooks.h"
#include "runtime/security/seccomp.h"
#include "runtime/terminal.h"

namespace berth::runtime {

std::string seccomp_cache_dir(const GlobalOptions& g) { return g.root + "/.cache/seccomp"; }

Result<> forward_seccomp_listener(int sync_fd, const oci::Linux& linux, pid_t pid,
                                  const std::string& state_json) {
  ASSIGN_OR_RETURN(UniqueFd fd, recv_fd(sync_fd));
  std::string msg = security::seccomp_listener_message(state_json, pid, linux.seccomp->listener_metadata);
  TRY_CTX(security::send_seccomp_listener_fd(linux.seccomp->listener_path, fd.get(), msg),
          "linux.seccomp.listenerPath");
  return {};
}

Result<std::unique_ptr<cgroups::CgroupManager>> cgroup_for(const GlobalOptions& g,
                                                           const ContainerState& s) {
  cgroups::CgroupConfig cg;
  cg.container_id = s.id;
  cg.cgroups_path = s.cgroups_path;
  cg.systemd = s.systemd_cgroup || g.systemd_cgroup;
  cg.paths = s.cgroup_paths;
  return cgroups::make_cgroup_manager(cg);
}

Result<Status> container_status(const GlobalOptions& g, const ContainerState& s) {
  if (!init_alive(s)) return Status::kStopped;
  if (path_exists(exec_fifo_path(g.root, s.id))) return Status::kCreated;
  auto cg = cgroup_for(g, s);
  if (cg) {
    auto frozen = (*cg)->frozen();
    if (frozen && *frozen) return Status::kPaused;
  }
  return Status::kRunning;
}

static json::Json runc_state(const ContainerState& s, Status status) {
  json::Json j = {{"ociVersion", oci::kOciVersion},
                  {"id", s.id},
                  {"pid", status == Status::kStopped ? 0 : s.init_pid},
                  {"status", status_name(status)},
                  {"bundle", s.bundle},
                  {"rootfs", s.rootfs},
                  {"created", s.created},
                  {"owner", s.owner}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

Result<json::Json> state_json(const GlobalOptions& g, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  return runc_state(s, st);
}

Result<std::vector<json::Json>> list_containers(const GlobalOptions& g) {
  std::vector<json::Json> out;
  DIR* dir = ::opendir(g.root.c_str());
  if (!dir) {
    if (errno == ENOENT) return out;
    return errno_error("open " + g.root);
  }
  std::vector<std::string> ids;
  while (struct dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ids.emplace_back(e->d_name);
  ::closedir(dir);
  std::sort(ids.begin(), ids.end());
  for (auto& id : ids) {
    auto s = load_state(g.root, id);
    if (!s) continue;  // being created or deleted
    auto st = container_status(g, *s);
    if (!st) continue;
    out.push_back(runc_state(*s, *st));
  }
  return out;
}

// Signals the init through a pidfd after checking it is still the container's process.
static Result<> signal_init(const ContainerState& s, int sig) {
  int fd = sys::pidfd_open(s.init_pid);
  if (fd < 0) return make_error(ErrorCode::kNotFound, "container not running");
  UniqueFd pidfd(fd);
  if (!init_alive(s)) return make_error(ErrorCode::kNotFound, "container not running");
  if (sys::pidfd_send_signal(pidfd.get(), sig) != 0) {
    if (errno == ESRCH) return make_error(ErrorCode::kNotFound, "container not running");
    return errno_error("kill container");
  }
  return {};
}

Result<> kill_container(const GlobalOptions& g, const std::string& id, int sig, bool all) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  if (all) {
    ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));
    TRY((cg)->kill_all(sig));
    return {};
  }
  if (st == Status::kStopped) return make_error(ErrorCode::kNotFound, "container not running");
  return signal_init(s, sig);
}

// Waits for a non-child process to exit (pidfd becomes readable), up to timeout.
static bool wait_exit(pid_t pid, uint64_t start_time, std::chrono::milliseconds timeout) {
  int fd = sys::pidfd_open(pid);
  if (fd < 0) return true;
  UniqueFd pidfd(fd);
  if (process_start_time(pid) != start_time) return true;
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

static Result<> destroy_container(const GlobalOptions& g, const ContainerState& s) {
  ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));
  // Anything still in the cgroup (forked daemons, exec'd processes) goes too.
  (void)cg->kill_all(SIGKILL);
  TRY(cg->destroy());
  // Parsing the whole spec (seccomp profile and all) only pays off when there are hooks to run.
  const json::Json* hooks =
      s.config.is_object() && s.config.contains("hooks") ? &s.config["hooks"] : nullptr;
  auto spec = hooks && hooks->is_object() && hooks->contains("poststop")
                  ? oci::parse_spec(s.config)
                  : Result<oci::Spec>(make_error(ErrorCode::kNotFound, "no poststop hooks"));
  if (spec && !spec->hooks.poststop.empty()) {
    std::string state = json::dump(spec_state_json(s, Status::kStopped));
    if (auto h = run_hooks(spec->hooks.poststop, "poststop", state); !h)
      log::warn(h.error().message());
  }
  TRY(remove_all(state_dir(g.root, s.id)));
  return {};
}

Result<> delete_container(const GlobalOptions& g, const std::string& id, bool force) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  if (st == Status::kRunning || st == Status::kPaused) {
    if (!force)
      return make_error(ErrorCode::kFailedPrecondition,
                        "cannot delete container " + id + " that is not stopped: " +
                            status_name(st));
  }
  if (st != Status::kStopped) {
    // created (runc deletes those without --force), running or paused: kill, thaw, wait.
    ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));
    (void)signal_init(s, SIGKILL);
    (void)cg->kill_all(SIGKILL);
    if (st == Status::kPaused) (void)cg->thaw();
    if (!wait_exit(s.init_pid, s.init_start_time, std::chrono::seconds(10)))
      return make_error(ErrorCode::kUnavailable, "container " + id + " did not exit after SIGKILL");
  }
  return destroy_container(g, s);
}

Result<> pause_container(const GlobalOptions& g, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  if (st != Status::kRunning && st != Status::kCreated)
    return make_error(ErrorCode::kFailedPrecondition, "container not running");
  ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));
  return cg->freeze();
}

Result<> resume_container(const GlobalOptions& g, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  if (st != Status::kPaused) return make_error(ErrorCode::kFailedPrecondition, "container not paused");
  ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));
  return cg->thaw();
}

Result<std::vector<pid_t>> container_pids(const GlobalOptions& g, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));
  return cg->pids();
}

Result<> update_container(const GlobalOptions& g, const std::string& id,
                          const oci::Resources& resources) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  if (st == Status::kStopped) return make_error(ErrorCode::kFailedPrecondition, "container not running");
  ASSIGN_OR_RETURN(auto cg, cgroup_for(g, s));
  return cg->apply(resources);
}

}  // namespace berth::runtime
