// CgroupV2Manager. create() enables the available controllers on every level above the
// container's directory (runc's CreateCgroupPath) so the controller files appear in it; apply()
// validates everything first, then writes controller by controller with the unified map last so
// that it can override converted values.
#include "runtime/cgroups/v2.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/file.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "runtime/cgroups/internal.h"

namespace berth::runtime::cgroups {

using namespace detail;

CgroupV2Manager::CgroupV2Manager(std::string root, std::string dir)
    : root_(std::move(root)), dir_(std::move(dir)) {}

Result<> CgroupV2Manager::create() {
  TRY(mkdir_all(dir_));
  // Controllers the root offers; a missing file (not cgroupfs) just means none to enable.
  std::vector<std::string> controllers;
  if (auto c = read_cg(root_, "cgroup.controllers")) controllers = words(*c);
  v2::enable_controllers(root_, dir_, controllers);
  return {};
}

Result<> CgroupV2Manager::apply(const oci::Resources& r) {
  TRY(validate_resources(r));
  if (pids_requested(r)) TRY(v2::apply_pids(dir_, *r.pids));
  if (r.memory) TRY(v2::apply_memory(dir_, *r.memory));
  if (blkio_requested(r)) TRY(v2::apply_io(dir_, *r.block_io));
  if (cpu_requested(r)) TRY(v2::apply_cpu(dir_, *r.cpu));
  if (cpuset_requested(r)) TRY(v2::apply_cpuset(dir_, *r.cpu));
  TRY(v2::apply_hugetlb(dir_, r.hugepage_limits));
  // linux.resources.network has no v2 controller (net_cls/net_prio are v1 only): ignored, as
  // runc does; eBPF programs or the network namespace take that role on v2.
  if (!r.devices.empty()) TRY(v2::apply_devices(dir_, r.devices));
  return v2::apply_unified(dir_, r.unified);
}

Result<> CgroupV2Manager::add_process(pid_t pid) {
  return add_pid(dir_, pid);
}

Result<std::vector<pid_t>> CgroupV2Manager::pids() const {
  return read_procs_recursive(dir_);
}

namespace detail {

Result<> v2_set_frozen(const std::string& dir, bool frozen) {
  auto r = write_cg(dir, "cgroup.freeze", frozen ? "1" : "0");
  if (!r) {
    // No freezer (kernel < 5.2): thawing is then trivially done.
    if (!frozen && r.error().sys_errno() == ENOENT) return {};
    return std::unexpected(std::move(r).error().wrap("freeze " + dir));
  }
  if (!frozen) return {};
  int fd = ::open((dir + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    (void)write_cg(dir, "cgroup.freeze", "0");
    return errno_error(e, "freeze " + dir + ": read cgroup.events");
  }
  UniqueFd events(fd);
  // cgroup.events signals POLLPRI on change; poll with a timeout anyway (10 s in total, as runc).
  char buf[256];
  for (int i = 0; i < 1000; ++i) {
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      (void)write_cg(dir, "cgroup.freeze", "0");
      return errno_error(e, "freeze " + dir + ": read cgroup.events");
    }
    if (find_key(std::string_view(buf, static_cast<size_t>(n)), "frozen") == 1u) return {};
    struct pollfd p {
      fd, POLLPRI, 0
    };
    ::poll(&p, 1, 10);
  }
  // Never leave a cgroup half-frozen.
  (void)write_cg(dir, "cgroup.freeze", "0");
  return make_error(ErrorCode::kUnavailable,
                    "freeze " + dir + ": timeout of 10s reached waiting for the cgroup to freeze");
}

Result<bool> v2_frozen(const std::string& dir) {
  auto s = read_cg(dir, "cgroup.freeze");
  if (!s) {
    if (s.error().sys_errno() == ENOENT || s.error().sys_errno() == ENODEV) return false;
    return std::unexpected(std::move(s).error());
  }
  return trim(*s) == "1";
}

Result<> signal_all(CgroupManager& m, int sig) {
  // Frozen, the processes cannot fork new ones between our listing and our kill().
  bool was_frozen = m.frozen().value_or(false);
  bool froze = !was_frozen && m.freeze().has_value();
  auto pids = m.pids();
  Result<> result;
  if (!pids) {
    result = std::unexpected(std::move(pids).error());
  } else {
    for (pid_t pid : *pids) {
      if (::kill(pid, sig) != 0 && errno != ESRCH && result)
        result = errno_error("kill " + std::to_string(pid));
    }
  }
  if (froze || (was_frozen && sig == SIGKILL)) {
    auto t = m.thaw();
    if (!t && result) result = std::move(t);
  }
  return result;
}

}  // namespace detail

Result<> CgroupV2Manager::freeze() {
  return v2_set_frozen(dir_, true);
}
Result<> CgroupV2Manager::thaw() {
  return v2_set_frozen(dir_, false);
}
Result<bool> CgroupV2Manager::frozen() const {
  return v2_frozen(dir_);
}

Result<> CgroupV2Manager::kill_all(int sig) {
  if (sig == SIGKILL) {
    // One write kills the whole subtree, new forks included (Linux 5.14+).
    auto r = write_cg(dir_, "cgroup.kill", "1");
    if (r) return {};
    if (r.error().sys_errno() != ENOENT)
      return std::unexpected(std::move(r).error().wrap("kill " + dir_));
  }
  return signal_all(*this, sig);
}

Result<> CgroupV2Manager::destroy() {
  return remove_cgroup(dir_);
}

Result<bool> CgroupV2Manager::oom_killed() const {
  auto events = read_cg(dir_, "memory.events");
  if (!events) {
    if (events.error().sys_errno() == ENOENT) return false;  // no memory controller here
    return std::unexpected(std::move(events).error());
  }
  return find_key(*events, "oom_kill").value_or(0) > 0;
}

std::string CgroupV2Manager::path() const {
  if (dir_.size() <= root_.size()) return "/";
  return dir_.substr(root_.size());
}

std::map<std::string, std::string> CgroupV2Manager::paths() const {
  return {{"", dir_}};
}

}  // namespace berth::runtime::cgroups
