// How the shim drives the OCI runtime: in-process through the berth runtime library (the
// default: no runtime binary is exec'd per container), or through a runc-compatible binary's
// command line. Both leave the container's init as the shim's child (cloned directly, or
// reparented to the shim, a child subreaper, when the runtime process exits).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "shim/client.h"

namespace berth::shim {

// The fds a new process gets as its 0, 1, 2 (unused with a terminal).
struct Stdio {
  int in = -1, out = -1, err = -1;
};

class RuntimeDriver {
 public:
  virtual ~RuntimeDriver() = default;
  // Creates the container, whose init then waits for start(); returns the init's pid. With a
  // terminal, the init sends the pty master to console_socket.
  virtual Result<pid_t> create(const Stdio& stdio, const std::string& console_socket) = 0;
  virtual Result<> start() = 0;
  virtual Result<> kill(int sig, bool all) = 0;
  virtual Result<> pause() = 0;
  virtual Result<> resume() = 0;
  // delete --force.
  virtual Result<> destroy() = 0;
  // Runs in the exec helper (a forked child of the shim) whose 0/1/2 are the process's stdio:
  // starts the process detached and returns its pid. It is reparented to the shim when the
  // helper exits.
  virtual Result<pid_t> exec(const json::Json& process, const std::string& console_socket,
                             const std::string& pid_file) = 0;
  // The container's cgroup directories by controller ("" for the v2 unified hierarchy).
  virtual std::map<std::string, std::string> cgroup_paths() = 0;
};

std::unique_ptr<RuntimeDriver> make_runtime_driver(const SpawnOptions& o);

// The cgroup's OOM-kill count (v2 memory.events or v1 memory.oom_control "oom_kill"); 0 if
// unknown.
int64_t read_oom_kills(const std::map<std::string, std::string>& cgroup_paths);

}  // namespace berth::shim
