// CgroupV1Manager: a container's cgroup on cgroup v1, one directory per mounted hierarchy
// (memory, cpu,cpuacct, ..., name=systemd), and the hybrid layout: the same path is also created
// under the unified cgroup2 mount and processes join it too, as runc does. Controllers that a
// hybrid host binds to the unified hierarchy instead of a v1 mount (e.g. hugetlb) are driven
// there with the v2 writers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cgroups/manager.h"

namespace berth::runtime::cgroups {

class CgroupV1Manager final : public CgroupManager {
 public:
  struct Hierarchy {
    std::vector<std::string> controllers;  // "cpu", "cpuacct"; "name=systemd"
    std::string mount;                     // the hierarchy's root directory
    std::string dir;                       // the container's directory in it
  };

  // unified_dir is the container's directory under root/unified in hybrid mode, else empty.
  CgroupV1Manager(Mode mode, std::string root, std::vector<Hierarchy> hierarchies,
                  std::string unified_dir);

  Mode mode() const override { return mode_; }
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
  const Hierarchy* find(std::string_view controller) const;
  // Hybrid only: whether the unified hierarchy offers controller (enabling it down to our
  // directory when it does).
  Result<bool> unified_has(const std::string& controller);
  template <class V1Fn, class V2Fn>
  Result<> apply_group(std::string_view field, std::string_view v1_controller,
                       std::string v2_controller, V1Fn&& on_v1, V2Fn&& on_v2);

  Mode mode_;
  std::string root_;
  std::vector<Hierarchy> hierarchies_;
  std::string unified_dir_;
  std::optional<std::vector<std::string>> unified_controllers_;
};

}  // namespace berth::runtime::cgroups
