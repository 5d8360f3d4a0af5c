// CgroupV1Manager. Resources are written hierarchy by hierarchy in runc's subsystem order
// (cpuset, devices, memory, cpu, pids, blkio, hugetlb, net_cls, net_prio), each group through the
// v1 writer when its controller is mounted, else (hybrid) through the v2 writer on the unified
// directory when the host bound the controller there, else an error naming the field.
#include "runtime/cgroups/v1.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "base/file.h"
#include "base/strings.h"
#include "runtime/cgroups/internal.h"
#include "runtime/cgroups/v2.h"

namespace berth::runtime::cgroups {

using namespace detail;

namespace {

void sleep_for(long ns) {
  struct timespec ts {
    ns / 1000000000L, ns % 1000000000L
  };
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

Result<std::string> freezer_state(const std::string& dir) {
  ASSIGN_OR_RETURN(auto s, read_cg(dir, "freezer.state"));
  return std::string(trim(s));
}

// cgroup v1 cannot always freeze while tasks keep forking (FREEZING sticks): rewrite FROZEN and
// re-read, with an occasional thaw and short sleeps, the schedule runc found to work.
Result<> v1_freeze(const std::string& dir) {
  auto fail = [&](Error e) {
    (void)write_cg(dir, "freezer.state", "THAWED");  // never leave it half-frozen
    return std::unexpected(std::move(e).wrap("freeze " + dir));
  };
  for (int i = 0; i < 1000; ++i) {
    if (i % 50 == 49) {
      (void)write_cg(dir, "freezer.state", "THAWED");
      sleep_for(10'000'000);
    }
    if (auto r = write_cg(dir, "freezer.state", "FROZEN"); !r) return fail(std::move(r).error());
    if (i % 25 == 24) sleep_for(10'000);
    auto state = freezer_state(dir);
    if (!state) return fail(std::move(state).error());
    if (*state == "FROZEN") return {};
    if (*state != "FREEZING")
      return fail(Error(ErrorCode::kInternal, "unexpected freezer state " + *state));
  }
  return fail(Error(ErrorCode::kUnavailable, "unable to freeze: stuck in FREEZING"));
}

}  // namespace

CgroupV1Manager::CgroupV1Manager(Mode mode, std::string root, std::vector<Hierarchy> hierarchies,
                                 std::string unified_dir)
    : mode_(mode),
      root_(std::move(root)),
      hierarchies_(std::move(hierarchies)),
      unified_dir_(std::move(unified_dir)) {}

const CgroupV1Manager::Hierarchy* CgroupV1Manager::find(std::string_view controller) const {
  for (const auto& h : hierarchies_)
    if (std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end())
      return &h;
  return nullptr;
}

Result<> CgroupV1Manager::create() {
  for (const auto& h : hierarchies_) {
    if (h.controllers.front() == "cpuset" && h.dir.starts_with(h.mount + "/")) {
      TRY(v1::create_cpuset(h.mount, h.dir));
    } else {
      TRY(mkdir_all(h.dir));
    }
  }
  if (!unified_dir_.empty()) TRY(mkdir_all(unified_dir_));
  return {};
}

Result<bool> CgroupV1Manager::unified_has(const std::string& controller) {
  if (unified_dir_.empty()) return false;
  if (controller == "devices" || controller == "freezer") return true;  // built into cgroup2
  const std::string unified_root = root_ + "/unified";
  if (!unified_controllers_) {
    auto c = read_cg(unified_root, "cgroup.controllers");
    unified_controllers_ = c ? words(*c) : std::vector<std::string>{};
  }
  if (std::find(unified_controllers_->begin(), unified_controllers_->end(), controller) ==
      unified_controllers_->end())
    return false;
  v2::enable_controllers(unified_root, unified_dir_, {controller});
  return true;
}

template <class V1Fn, class V2Fn>
Result<> CgroupV1Manager::apply_group(std::string_view field, std::string_view v1_controller,
                                      std::string v2_controller, V1Fn&& on_v1, V2Fn&& on_v2) {
  if (const Hierarchy* h = find(v1_controller)) return on_v1(h->dir);
  if (!v2_controller.empty()) {
    ASSIGN_OR_RETURN(bool bound_to_v2, unified_has(v2_controller));
    if (bound_to_v2) return on_v2(unified_dir_);
  }
  return std::unexpected(field_error(
      field, Error(ErrorCode::kFailedPrecondition,
                   std::string(v1_controller) + " cgroup controller not found (not mounted under " +
                       root_ + ")")));
}

Result<> CgroupV1Manager::apply(const oci::Resources& r) {
  TRY(validate_resources(r));
  if (!r.unified.empty() && unified_dir_.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "linux.resources.unified." + r.unified.begin()->first +
                          ": cgroup v2 unified resources are not supported on a cgroup v1 host");

  if (cpuset_requested(r))
    TRY(apply_group(
        "cpu", "cpuset", "cpuset",
        [&](const std::string& d) { return v1::apply_cpuset(d, *r.cpu); },
        [&](const std::string& d) { return v2::apply_cpuset(d, *r.cpu); }));
  if (!r.devices.empty())
    TRY(apply_group(
        "devices", "devices", "devices",
        [&](const std::string& d) { return v1::apply_devices(d, r.devices); },
        [&](const std::string& d) { return v2::apply_devices(d, r.devices); }));
  if (memory_requested(r))
    TRY(apply_group(
        "memory", "memory", "memory",
        [&](const std::string& d) { return v1::apply_memory(d, *r.memory); },
        [&](const std::string& d) { return v2::apply_memory(d, *r.memory); }));
  if (cpu_requested(r))
    TRY(apply_group(
        "cpu", "cpu", "cpu", [&](const std::string& d) { return v1::apply_cpu(d, *r.cpu); },
        [&](const std::string& d) { return v2::apply_cpu(d, *r.cpu); }));
  if (pids_requested(r))
    TRY(apply_group(
        "pids", "pids", "pids", [&](const std::string& d) { return v1::apply_pids(d, *r.pids); },
        [&](const std::string& d) { return v2::apply_pids(d, *r.pids); }));
  if (blkio_requested(r))
    TRY(apply_group(
        "blockIO", "blkio", "io",
        [&](const std::string& d) { return v1::apply_blkio(d, *r.block_io); },
        [&](const std::string& d) { return v2::apply_io(d, *r.block_io); }));
  if (!r.hugepage_limits.empty())
    TRY(apply_group(
        "hugepageLimits", "hugetlb", "hugetlb",
        [&](const std::string& d) { return v1::apply_hugetlb(d, r.hugepage_limits); },
        [&](const std::string& d) { return v2::apply_hugetlb(d, r.hugepage_limits); }));
  // net_cls/net_prio are optional: where they are not mounted the request is skipped.
  if (r.network) {
    if (const Hierarchy* h = find("net_cls")) TRY(v1::apply_net_cls(h->dir, *r.network));
    if (const Hierarchy* h = find("net_prio")) TRY(v1::apply_net_prio(h->dir, *r.network));
  }
  if (!r.unified.empty()) TRY(v2::apply_unified(unified_dir_, r.unified));
  return {};
}

Result<> CgroupV1Manager::add_process(pid_t pid) {
  // cpuset can take tasks: create() filled in its cpus and mems.
  for (const auto& h : hierarchies_) TRY(add_pid(h.dir, pid));
  if (!unified_dir_.empty()) TRY(add_pid(unified_dir_, pid));
  return {};
}

Result<std::vector<pid_t>> CgroupV1Manager::pids() const {
  for (const char* c : {"pids", "memory", "freezer", "devices", "cpu"})
    if (const Hierarchy* h = find(c)) return read_procs_recursive(h->dir);
  if (!hierarchies_.empty()) return read_procs_recursive(hierarchies_.front().dir);
  if (!unified_dir_.empty()) return read_procs_recursive(unified_dir_);
  return std::vector<pid_t>{};
}

Result<> CgroupV1Manager::freeze() {
  if (const Hierarchy* h = find("freezer")) return v1_freeze(h->dir);
  if (!unified_dir_.empty()) return v2_set_frozen(unified_dir_, true);
  return make_error(ErrorCode::kFailedPrecondition,
                    "cannot freeze: the freezer cgroup is not mounted under " + root_);
}

Result<> CgroupV1Manager::thaw() {
  if (const Hierarchy* h = find("freezer")) {
    TRY_CTX(write_cg(h->dir, "freezer.state", "THAWED"), "thaw " + h->dir);
    return {};
  }
  if (!unified_dir_.empty()) return v2_set_frozen(unified_dir_, false);
  return {};
}

Result<bool> CgroupV1Manager::frozen() const {
  const Hierarchy* h = find("freezer");
  if (!h) return unified_dir_.empty() ? Result<bool>(false) : v2_frozen(unified_dir_);
  for (int i = 0; i < 1000; ++i) {
    auto state = freezer_state(h->dir);
    if (!state) {
      if (state.error().sys_errno() == ENOENT || state.error().sys_errno() == ENODEV) return false;
      return std::unexpected(std::move(state).error());
    }
    if (*state == "THAWED") return false;
    if (*state == "FROZEN") {
      // FROZEN can be inherited from a frozen ancestor; only our own freeze counts.
      auto self = read_cg(h->dir, "freezer.self_freezing");
      if (!self) return true;  // kernel without the file
      return trim(*self) == "1";
    }
    if (*state != "FREEZING")
      return make_error(ErrorCode::kInternal, "unknown freezer.state \"" + *state + "\"");
    sleep_for(1'000'000);  // wait for a stable state
  }
  return true;
}

Result<> CgroupV1Manager::kill_all(int sig) {
  if (sig == SIGKILL && !unified_dir_.empty()) {
    // Hybrid: every process also sits in the unified directory, where cgroup.kill (5.14+) kills
    // the subtree including new forks; then sweep the v1 list for anything not in it.
    auto r = write_cg(unified_dir_, "cgroup.kill", "1");
    if (r) {
      auto pids = this->pids();
      if (!pids) return std::unexpected(std::move(pids).error());
      for (pid_t pid : *pids)
        if (::kill(pid, SIGKILL) != 0 && errno != ESRCH)
          return errno_error("kill " + std::to_string(pid));
      return {};
    }
    if (r.error().sys_errno() != ENOENT)
      return std::unexpected(std::move(r).error().wrap("kill " + unified_dir_));
  }
  return signal_all(*this, sig);
}

Result<> CgroupV1Manager::destroy() {
  Result<> result;
  for (const auto& h : hierarchies_) {
    auto r = remove_cgroup(h.dir);
    if (!r && result) result = std::move(r);
  }
  if (!unified_dir_.empty()) {
    auto r = remove_cgroup(unified_dir_);
    if (!r && result) result = std::move(r);
  }
  return result;
}

Result<bool> CgroupV1Manager::oom_killed() const {
  const Hierarchy* h = find("memory");
  if (!h) return false;
  auto control = read_cg(h->dir, "memory.oom_control");
  if (!control) {
    if (control.error().sys_errno() == ENOENT) return false;
    return std::unexpected(std::move(control).error());
  }
  return find_key(*control, "oom_kill").value_or(0) > 0;
}

std::string CgroupV1Manager::path() const {
  const Hierarchy* h = find("memory");
  if (!h && !hierarchies_.empty()) h = &hierarchies_.front();
  if (!h || !h->dir.starts_with(h->mount) || h->dir.size() == h->mount.size()) return "/";
  return h->dir.substr(h->mount.size());
}

std::map<std::string, std::string> CgroupV1Manager::paths() const {
  std::map<std::string, std::string> out;
  for (const auto& h : hierarchies_)
    for (const auto& c : h.controllers) out[c] = h.dir;
  if (!unified_dir_.empty()) out[""] = unified_dir_;
  return out;
}

}  // namespace berth::runtime::cgroups
