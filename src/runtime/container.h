// The runtime library's entry points: one function per runc command. The berth-runtime CLI is a
// thin table over these; berth-shim (later) calls them in-process.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "oci/spec.h"
#include "runtime/state.h"

namespace berth::runtime {

inline constexpr const char* kDefaultRoot = "/run/berth/runtime";

struct GlobalOptions {
  std::string root = kDefaultRoot;
  bool systemd_cgroup = false;
  bool debug = false;
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
};

// create: the container is set up and its process waits to be started.
Result<> create_container(const GlobalOptions& g, const CreateOptions& o);
// start: releases a created container's process.
Result<> start_container(const GlobalOptions& g, const std::string& id);
// run: create + start; in the foreground it waits, forwards signals, deletes the container and
// returns the process's exit code (128+signal if killed).
Result<int> run_container(const GlobalOptions& g, const CreateOptions& o, bool detach);

Result<Status> container_status(const GlobalOptions& g, const ContainerState& s);
// runc's state JSON: ociVersion id pid status bundle rootfs created owner [annotations].
Result<json::Json> state_json(const GlobalOptions& g, const std::string& id);
Result<std::vector<json::Json>> list_containers(const GlobalOptions& g);

Result<> kill_container(const GlobalOptions& g, const std::string& id, int sig, bool all);
Result<> delete_container(const GlobalOptions& g, const std::string& id, bool force);
Result<> pause_container(const GlobalOptions& g, const std::string& id);
Result<> resume_container(const GlobalOptions& g, const std::string& id);
Result<std::vector<pid_t>> container_pids(const GlobalOptions& g, const std::string& id);
Result<> update_container(const GlobalOptions& g, const std::string& id,
                          const oci::Resources& resources);

struct ExecOptions {
  std::string id;
  std::optional<oci::Process> process;  // --process FILE; else built from the fields below
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd;
  std::string user;  // uid[:gid]
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  bool tty = false;
  bool detach = false;
  bool no_new_privs = false;
  std::string console_socket;
  std::string pid_file;
  int preserve_fds = 0;
};
// exec: runs a new process inside a running container; returns its exit code (0 with detach).
Result<int> exec_in_container(const GlobalOptions& g, const ExecOptions& o);

// features: what this runtime supports (runtime-spec features.md schema).
json::Json features_json();

}  // namespace berth::runtime
