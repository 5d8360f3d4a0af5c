// CgroupV2Manager: a container's cgroup on the unified (v2) hierarchy: one directory, resources
// in controller files, devices through an eBPF program, freezing through cgroup.freeze and
// killing through cgroup.kill.
#pragma once

#include <string>

#include "runtime/cgroups/manager.h"

namespace berth::runtime::cgroups {

class CgroupV2Manager final : public CgroupManager {
 public:
  // root: the cgroup2 mount; dir: the container's directory below it.
  CgroupV2Manager(std::string root, std::string dir);

  Mode mode() const override { return Mode::kV2; }
  Result<> create() override;
  Result<> apply(const oci::Resources& resources) override;
  Result<> add_process(pid_t pid) override;
  Result<std::vector<pid_t>> pids() const override;
  Result<> freeze() override;
  Result<> thaw() override;
  Result<bool> frozen() const override;
  Result<> kill_all(int sig) override;
  Result<> destroy() override;
  Result<bool> oom_killed() const override;
  std::string path() const override;
  std::map<std::string, std::string> paths() const override;

 private:
  std::string root_;
  std::string dir_;
};

// The pieces the hybrid manager shares for its unified directory.
namespace detail {
// Writes cgroup.freeze and, when freezing, waits (poll on cgroup.events) for "frozen 1".
Result<> v2_set_frozen(const std::string& dir, bool frozen);
Result<bool> v2_frozen(const std::string& dir);
// Freezes (unless already frozen), signals every process, thaws again (always for SIGKILL:
// a frozen task cannot die).
Result<> signal_all(CgroupManager& m, int sig);
}  // namespace detail

}  // namespace berth::runtime::cgroups
