// seccomp through libseccomp: builds the filter from linux.seccomp and loads it in the container
// child right before exec. Supports every action (SCMP_ACT_KILL, KILL_PROCESS, KILL_THREAD, TRAP,
// ERRNO, TRACE, ALLOW, LOG, NOTIFY), errnoRet/defaultErrnoRet, argument filters, flags
// (SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV), and architectures.
#pragma once

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/spec.h"

namespace berth::runtime::security {

// Checks names of actions, ops, archs, flags and syscalls without loading anything.
Result<> validate_seccomp(const oci::Seccomp& seccomp);

// Loads the filter into the calling process. If an action is SCMP_ACT_NOTIFY, returns the
// listener fd (the caller sends it to linux.seccomp.listenerPath); otherwise an invalid fd.
// Must not log (runs in the container child).
Result<UniqueFd> load_seccomp(const oci::Seccomp& seccomp);

}  // namespace berth::runtime::security
