// CgroupManager: one container's cgroup, whatever the host runs (cgroup v1, v2, or hybrid: v1
// controllers plus an empty v2 "unified" hierarchy). make_cgroup_manager() looks at the host and
// picks the implementation; callers never branch on the cgroup version.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime::cgroups {

enum class Mode { kV1, kV2, kHybrid };

struct CgroupConfig {
  // linux.cgroupsPath: absolute ("/a/b": under each hierarchy's root), relative ("a/b": under
  // the runtime's own cgroup), or empty (then "/berth/<id>"... see cgroup_path_for()).
  std::string cgroups_path;
  std::string container_id;
  // The cgroupfs mount point; tests point it at a fake tree.
  std::string root = "/sys/fs/cgroup";
  bool systemd = false;  // --systemd-cgroup
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;
  virtual Mode mode() const = 0;
  // Creates the cgroup directories (every controller in v1; one directory in v2). Idempotent.
  virtual Result<> create() = 0;
  // Writes linux.resources; also used by `update`. Fields that are absent stay unchanged.
  virtual Result<> apply(const oci::Resources& resources) = 0;
  // Moves a process in (cgroup.procs in every hierarchy).
  virtual Result<> add_process(pid_t pid) = 0;
  // Every process in the cgroup (and its descendants).
  virtual Result<std::vector<pid_t>> pids() const = 0;
  virtual Result<> freeze() = 0;
  virtual Result<> thaw() = 0;
  virtual Result<bool> frozen() const = 0;
  // Sends sig to every process in the cgroup (v2: cgroup.kill for SIGKILL where available).
  virtual Result<> kill_all(int sig) = 0;
  // Removes the directories; retries briefly on EBUSY while processes finish dying.
  virtual Result<> destroy() = 0;
  // True if the memory controller recorded an OOM kill in this cgroup.
  virtual Result<bool> oom_killed() const = 0;
  // The cgroup path relative to the hierarchy roots ("/berth/abc"), as stored in state.json.
  virtual std::string path() const = 0;
};

// Detects v1, v2 or hybrid from what is mounted at root.
Result<Mode> detect_mode(const std::string& root = "/sys/fs/cgroup");

Result<std::unique_ptr<CgroupManager>> make_cgroup_manager(const CgroupConfig& config);

}  // namespace berth::runtime::cgroups
