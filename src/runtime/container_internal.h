// Pieces shared by the container_*.cc files; not part of the library's interface.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "oci/spec.h"
#include "runtime/cgroups/manager.h"
#include "runtime/security/security.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace berth::runtime {

struct LoadedBundle {
  std::string bundle;  // absolute
  std::string rootfs;  // absolute, resolved
  json::Json config;
  oci::Spec spec;
  security::PreparedSecurity security;  // validated, seccomp compiled
};

// Reads and checks <bundle>/config.json and the rootfs it names, and prepares the security layer
// (every name and range checked, seccomp compiled through the cache under the runtime root).
Result<LoadedBundle> load_bundle(const GlobalOptions& g, const std::string& bundle);
// Where compiled seccomp filters are kept (tmpfs, root only).
std::string seccomp_cache_dir(const GlobalOptions& g);
// Forwards a seccomp listener fd received from a child to linux.seccomp.listenerPath.
Result<> forward_seccomp_listener(int sync_fd, const oci::Linux& linux, pid_t pid,
                                  const std::string& state_json);

// The cgroup manager of an existing container (from its state).
Result<std::unique_ptr<cgroups::CgroupManager>> cgroup_for(const GlobalOptions& g,
                                                           const ContainerState& s);

}  // namespace berth::runtime
