// The order of the security steps in the container child, and the parent-side preparation.
//
// Why this order:
//  - rlimits, oom_score_adj, ioprio RT, scheduler RT/nice: need CAP_SYS_RESOURCE / CAP_SYS_NICE /
//    CAP_SYS_ADMIN, so before capabilities are dropped;
//  - personality and the LSM attr/exec writes: before seccomp, whose profile may forbid them
//    (Docker's allows only a few personality() values);
//  - seccomp without no_new_privs needs CAP_SYS_ADMIN: loaded before the capability drop (the
//    filter must then allow capset/setresuid/prctl, as Docker's does); with no_new_privs it goes
//    last, so the fewest syscalls run under it;
//  - user switch + capabilities (PR_SET_KEEPCAPS ... capset, ambient): after everything that
//    needs privilege; no_new_privs right after.
#include "runtime/security/security.h"

#include <sys/prctl.h>

#include "runtime/security/capabilities.h"
#include "runtime/security/process_attrs.h"

namespace berth::runtime::security {

Result<> validate_security(const oci::Process& process, const oci::Linux* linux) {
  if (process.capabilities)
    TRY(validate_capabilities(*process.capabilities, "process.capabilities"));
  if (process.user.umask && *process.user.umask > 0777)
    return make_error(
        ErrorCode::kInvalidArgument,
        "process.user.umask: " + std::to_string(*process.user.umask) + " out of range [0, 0777]");
  TRY(validate_process_attrs(process, linux));
  if (linux && linux->seccomp) TRY(validate_seccomp(*linux->seccomp));
  return {};
}

Result<PreparedSecurity> prepare_security(const oci::Process& process, const oci::Linux* linux,
                                          const std::string& seccomp_cache_dir) {
  TRY(validate_security(process, linux));
  (void)last_cap();  // cached for the child, which may have no /proc yet
  PreparedSecurity prepared;
  if (linux && linux->seccomp) {
    auto prog = seccomp_cache_dir.empty()
                    ? compile_seccomp(*linux->seccomp)
                    : compile_seccomp_cached(*linux->seccomp, seccomp_cache_dir);
    if (!prog) return std::unexpected(std::move(prog).error());
    prepared.seccomp = std::move(*prog);
  }
  return prepared;
}

Result<UniqueFd> apply_security(const oci::Process& process, const oci::Linux* linux,
                                const PreparedSecurity& prepared) {
  TRY(apply_rlimits(process));
  TRY(apply_oom_score_adj(process));
  TRY(apply_io_priority(process));
  TRY(apply_scheduler(process));
  if (linux) TRY(apply_personality(*linux));
  TRY(apply_lsm_labels(process));

  UniqueFd listener;
  const bool seccomp = !prepared.seccomp.empty();
  if (seccomp && !process.no_new_privileges) {
    auto fd = load_seccomp_program(prepared.seccomp);
    if (!fd) return std::unexpected(std::move(fd).error().wrap("linux.seccomp"));
    listener = std::move(*fd);
  }
  TRY(apply_user_and_capabilities(process));
  if (process.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return errno_error("process.noNewPrivileges: prctl PR_SET_NO_NEW_PRIVS");
  if (seccomp && process.no_new_privileges) {
    auto fd = load_seccomp_program(prepared.seccomp);
    if (!fd) return std::unexpected(std::move(fd).error().wrap("linux.seccomp"));
    listener = std::move(*fd);
  }
  return listener;
}

}  // namespace berth::runtime::security
