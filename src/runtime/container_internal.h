// Pieces shared by the container_*.cc files; not part of the library's interface.
#pragma once

#include <memory>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "oci/spec.h"
#include "runtime/cgroups/manager.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace berth::runtime {

// In the state directory: the creator's /proc/self/cgroup, for relative cgroupsPath resolution.
inline constexpr const char* kParentCgroupFile = "parent.cgroup";

struct LoadedBundle {
  std::string bundle;  // absolute
  std::string rootfs;  // absolute, resolved
  json::Json config;
  oci::Spec spec;
};

// Reads and checks <bundle>/config.json and the rootfs it names.
Result<LoadedBundle> load_bundle(const std::string& bundle);
// validate_spec plus what this runtime checks before touching anything: capability names,
// seccomp names, process attributes and LSM availability, required mount namespace.
Result<> validate_full_spec(const oci::Spec& spec);

// The cgroup manager of an existing container (from its state).
Result<std::unique_ptr<cgroups::CgroupManager>> cgroup_for(const GlobalOptions& g,
                                                           const ContainerState& s);

}  // namespace berth::runtime
