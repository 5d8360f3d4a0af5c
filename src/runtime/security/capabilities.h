// Linux capabilities: the name table ("CAP_SYS_ADMIN" <-> 21) and applying the five OCI sets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime::security {

std::optional<int> cap_from_name(std::string_view name);  // accepts "CAP_X" (case-insensitive)
std::string cap_name(int cap);                            // "CAP_X"; "" if unknown
int last_cap();                                           // /proc/sys/kernel/cap_last_cap
std::vector<std::string> all_cap_names();                 // every cap this build knows

// The five sets as bit masks (bit n = capability n).
struct CapabilitySets {
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};
// The calling thread's current sets (capget + PR_CAPBSET_READ + PR_CAP_AMBIENT_IS_SET).
Result<CapabilitySets> current_capabilities();

// Validates names (unknown name -> InvalidArgument naming the field and the cap).
Result<> validate_capabilities(const oci::Capabilities& caps, const std::string& field);

// Switches to process.user and installs the capability sets, in the order the kernel needs:
// umask (user.umask, default 0022), PR_SET_KEEPCAPS 1, drop bounding set, setgroups(additionalGids)
// (skipped where /proc/self/setgroups says "deny"), setresgid, setresuid, capset, ambient clear +
// raise, PR_SET_KEEPCAPS 0. Caps the current bounding set lacks are left out of every set
// (clamped), never fatal; absent process.capabilities means no capabilities at all (as runc).
// Runs in the container child before exec; must not log.
Result<> apply_user_and_capabilities(const oci::Process& process);

}  // namespace berth::runtime::security
