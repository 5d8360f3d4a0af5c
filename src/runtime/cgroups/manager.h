// CgroupManager: one container's cgroup, whatever the host runs (cgroup v1, v2, or hybrid: v1
// controllers plus an empty v2 "unified" hierarchy). make_cgroup_manager() looks at the host and
// picks the implementation; callers never branch on the cgroup version.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime::cgroups {

enum class Mode { kV1, kV2, kHybrid };

struct CgroupConfig {
  // linux.cgroupsPath: absolute ("/a/b": under each hierarchy's root), relative ("a/b": under
  // the runtime's own cgroup; on pure v2 under its parent, as runc does), or empty: then the
  // container id, relative, exactly like runc's cgroupfs driver. ".." may not climb out.
  std::string cgroups_path;
  std::string container_id;
  // The cgroupfs mount point; tests point it at a fake tree.
  std::string root = "/sys/fs/cgroup";
  bool systemd = false;  // --systemd-cgroup
  // Forces the mode instead of detecting it (tests, fake trees).
  std::optional<Mode> mode;
  // The cgroup directories recorded at create time (paths() of the first manager, runc's
  // state.json "cgroup_paths"). When set they are used as-is: a relative cgroups_path resolves
  // against the caller's own cgroup, which differs between `create` and a later `delete`.
  std::map<std::string, std::string> paths;
  // Where the runtime's own cgroup is read from for relative paths; tests point it at a file.
  std::string proc_self_cgroup = "/proc/self/cgroup";
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
  // On v1 with a relative cgroups_path the hierarchies can differ; this is the memory one.
  virtual std::string path() const = 0;
  // Every directory, keyed like runc's state.json "cgroup_paths": controller name ("cpu",
  // "cpuacct", "name=systemd", ...) → absolute directory; "" is the v2 (or hybrid unified) one.
  // Feed it back through CgroupConfig::paths to manage the same cgroup from another process.
  virtual std::map<std::string, std::string> paths() const = 0;
};

// Detects v1, v2 or hybrid from what is mounted at root.
Result<Mode> detect_mode(const std::string& root = "/sys/fs/cgroup");

Result<std::unique_ptr<CgroupManager>> make_cgroup_manager(const CgroupConfig& config);

// The device rules runc gives the cgroup for a config: linux.resources.devices, then the rules
// runc always appends (its specconv AllowedDevices: mknod of any char/block device, /dev/null,
// random, full, tty, zero, urandom, /dev/pts/*, /dev/ptmx, /dev/net/tun), minus those whose path
// linux.devices redefines. Pass these, not resources.devices alone, to apply() at create time.
std::vector<oci::DeviceCgroupRule> container_device_rules(const oci::Linux& linux);

}  // namespace berth::runtime::cgroups
