// The container child: everything between clone() and execve() of the container process.
// It runs on a copy of the runtime's memory (no re-exec), never logs, and reports errors to the
// parent over the sync channel.
#pragma once

#include <string>
#include <vector>

#include "oci/spec.h"

namespace berth::runtime {

struct InitConfig {
  const oci::Spec* spec = nullptr;
  std::string rootfs;
  std::string cgroup_path;
  int sync_fd = -1;
  int fifo_fd = -1;          // create: wait here (read) until `start`; -1: wait for kStart
  int console_sock = -1;     // --console-socket connection
  bool proxy_console = false;  // foreground run with a terminal: master goes to the parent
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool new_userns = false;
  bool parent_hooks = false;  // prestart/createRuntime hooks: pause before pivot_root
  std::vector<int> join_ns_fds;  // opened by the parent, joined in order (user first)
  int unshare_after_join = 0;    // CLONE_NEW* flags unshared after joining (cgroup ns always)
};

[[noreturn]] void run_init(const InitConfig& cfg);

// Finds args[0] in PATH (from env) relative to the current root; "" if not found.
std::string find_executable(const std::string& name, const std::vector<std::string>& env);

// Shared by init and exec: the last steps before execve (attributes, LSM, user, caps, seccomp,
// fd closing) and the execve itself. Returns only on failure.
Error exec_process(const oci::Process& process, const oci::Linux* linux, int preserve_fds,
                   const std::string& state_json);

}  // namespace berth::runtime
