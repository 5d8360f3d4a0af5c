// The container child: everything between clone() and execve() of the container process.
// It runs on a copy of the runtime's memory (no re-exec), never logs, and reports errors to the
// parent over the sync channel.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "oci/spec.h"
#include "runtime/security/security.h"

namespace berth::runtime {

struct InitConfig {
  const oci::Spec* spec = nullptr;
  const security::PreparedSecurity* security = nullptr;  // compiled in the parent
  std::string rootfs;
  std::string cgroup_path;
  std::map<std::string, std::string> cgroup_dirs;  // CgroupManager::paths(), for cgroup mounts
  int sync_fd = -1;
  int fifo_fd = -1;            // create: wait here (read) until `start`; -1: wait for kStart
  int console_sock = -1;       // --console-socket connection
  bool proxy_console = false;  // foreground run with a terminal: master goes to the parent
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool new_userns = false;
  bool parent_hooks = false;     // prestart/createRuntime hooks: pause before pivot_root
  std::vector<int> join_ns_fds;  // opened by the parent, joined in order (user first)
  int unshare_after_join = 0;    // CLONE_NEW* flags unshared after joining (cgroup ns always)
};

[[noreturn]] void run_init(const InitConfig& cfg);

// Finds args[0] in PATH (from env) relative to the current root; "" if not found.
std::string find_executable(const std::string& name, const std::vector<std::string>& env);

// Shared by init and exec. apply_process_security() applies the security layer (attributes,
// LSM labels, user, caps, seccomp) and, for SCMP_ACT_NOTIFY, hands the listener fd to the parent
// over the sync socket (the parent forwards it to linux.seccomp.listenerPath).
Result<> apply_process_security(const oci::Process& process, const oci::Linux* linux,
                                const security::PreparedSecurity& prepared, int sync_fd);
// Closes what must not leak, resets signals and execs. Returns only on failure.
Error exec_process(const oci::Process& process, int preserve_fds);
// True if the compiled filter hands out a listener fd (SCMP_ACT_NOTIFY).
bool has_seccomp_listener(const security::PreparedSecurity& prepared);

}  // namespace berth::runtime
