// The security layer in two calls, so the order lives in one place:
//   prepare_security() in the runtime (parent) before the child is cloned: validates every
//     security field (capabilities, rlimits, scheduler, ioPriority, personality, LSM availability,
//     seccomp) and compiles the seccomp filter, through the on-disk cache when one is given;
//   apply_security() in the container child right before execve: rlimits, oom_score_adj, I/O
//     priority, scheduler, personality, LSM exec labels, [seccomp if no NNP], user + capabilities +
//     umask, no_new_privs, [seccomp if NNP]. Returns the seccomp listener fd (SCMP_ACT_NOTIFY).
#pragma once

#include <string>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/spec.h"
#include "runtime/security/seccomp.h"

namespace berth::runtime::security {

// Every name and range check of this layer; errors name the config field. No side effects (but
// probes the LSMs once and caches the answer for the child).
Result<> validate_security(const oci::Process& process, const oci::Linux* linux);

struct PreparedSecurity {
  SeccompProgram seccomp;  // empty when linux.seccomp is absent or disabled
};

// validate_security + compile linux.seccomp (compile_seccomp_cached when seccomp_cache_dir is set).
Result<PreparedSecurity> prepare_security(const oci::Process& process, const oci::Linux* linux,
                                          const std::string& seccomp_cache_dir = {});

// Applies everything in the order the kernel needs (see top of file). Runs in the child, never
// logs; the first failure is returned with its field named. The caller then closes fds and execs.
Result<UniqueFd> apply_security(const oci::Process& process, const oci::Linux* linux,
                                const PreparedSecurity& prepared);

}  // namespace berth::runtime::security
