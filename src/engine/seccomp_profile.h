// Docker-format seccomp profiles and the OCI linux.seccomp they turn into for one container.
// A docker profile is an OCI one plus an archMap (native arch -> its compat arches) and rules
// conditioned on the container's capabilities, the host arch and the kernel version (includes /
// excludes), so one profile serves every container: CAP_SYS_ADMIN unlocks mount and unshare,
// CAP_SYS_PTRACE ptrace, and so on. Docker's default profile is embedded (seccomp_default.cc);
// `--security-opt seccomp=<json>` profiles go through the same parser and renderer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace berth::engine {

struct SeccompFilter {
  std::vector<std::string> caps;    // includes: all held; excludes: any held
  std::vector<std::string> arches;  // Go names, as moby matches them: amd64, arm64, x86, s390x ...
  std::string min_kernel;           // "4.8": includes: kernel >= it; excludes: kernel < it
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errno_ret;
  json::Json args = json::Json::array();  // OCI args, validated and passed through
  SeccompFilter includes, excludes;
};

struct SeccompArchMap {
  std::string arch;  // SCMP_ARCH_X86_64
  std::vector<std::string> sub_arches;
};

struct SeccompProfile {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<SeccompArchMap> arch_map;
  std::vector<std::string> architectures;  // OCI style, instead of archMap
  std::vector<std::string> flags;
  std::string listener_path, listener_metadata;
  std::vector<SeccompRule> syscalls;
};

// What the conditions are evaluated against.
struct SeccompHost {
  std::string arch;  // Go name of the native arch: "amd64", "arm64", ...
  int kernel_major = 0, kernel_minor = 0;
};
const SeccompHost& seccomp_host();  // uname(2), once

// Docker's default profile: its text, and the profile parsed once.
std::string_view default_seccomp_profile_json();
const SeccompProfile& default_seccomp_profile();

// Parses a docker-format (or plain OCI) profile. InvalidArgument naming the field:
// "decoding seccomp profile failed: syscalls[3].action: unknown action SCMP_ACT_FOO".
Result<SeccompProfile> parse_seccomp_profile(std::string_view text);

// The OCI linux.seccomp for a container holding caps (its bounding set) on host. A profile with
// neither defaultAction nor rules disables seccomp: null.
json::Json render_seccomp(const SeccompProfile& profile, const std::vector<std::string>& caps,
                          const SeccompHost& host);

// Which profile HostConfig asks for: --privileged and `seccomp=unconfined` run without one,
// `seccomp=builtin` or nothing means docker's default, `seccomp=<json>` (the docker CLI sends the
// file's contents) that profile. Returns null when the container runs unconfined.
Result<json::Json> container_seccomp(const json::Json& host_config,
                                     const std::vector<std::string>& caps,
                                     const SeccompHost& host = seccomp_host());

// Checks HostConfig.SecurityOpt's seccomp entry at create, so a bad profile is a 400 there.
Result<> validate_seccomp_opt(const json::Json& host_config);

}  // namespace berth::engine
