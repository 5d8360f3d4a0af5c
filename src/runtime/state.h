// A container's persisted state: <root>/<id>/state.json (written atomically), plus the exec FIFO
// whose presence means "created, not yet started". Status is derived, never stored: the init
// process is checked by pid and start time (so a reused pid is not mistaken for the container).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "base/error.h"
#include "base/json.h"

namespace berth::runtime {

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
const char* status_name(Status s);

struct ContainerState {
  std::string id;
  pid_t init_pid = 0;
  uint64_t init_start_time = 0;  // /proc/<pid>/stat field 22, in clock ticks since boot
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 with nanoseconds
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::string cgroups_path;  // linux.cgroupsPath as given (the manager resolves it again)
  std::map<std::string, std::string> cgroup_paths;  // resolved directories (runc's cgroup_paths)
  bool systemd_cgroup = false;
  json::Json config;  // the config.json the container was created from
};

// Paths under the runtime root.
std::string state_dir(const std::string& root, const std::string& id);
std::string exec_fifo_path(const std::string& root, const std::string& id);

// Container ids: runc's rule, ^[\w+\-.]+$ (letters, digits, _ + - .), not "." or "..".
Result<> validate_container_id(const std::string& id);

Result<> save_state(const std::string& root, const ContainerState& state);
// NotFound: `container "x" does not exist`.
Result<ContainerState> load_state(const std::string& root, const std::string& id);

// Start time of a live process, or 0 if it is gone or a zombie.
uint64_t process_start_time(pid_t pid);
// Is the init still the same live process?
bool init_alive(const ContainerState& state);

// The state JSON a hook receives on stdin and `state` prints (runtime-spec + runc's fields).
json::Json spec_state_json(const ContainerState& state, Status status);

}  // namespace berth::runtime
