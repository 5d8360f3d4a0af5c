// seccomp through libseccomp: builds the filter from linux.seccomp and loads it in the container
// child right before exec. Supports every action (SCMP_ACT_KILL, KILL_PROCESS, KILL_THREAD, TRAP,
// ERRNO, TRACE, ALLOW, LOG, NOTIFY), errnoRet/defaultErrnoRet, argument filters, flags
// (SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW, _WAIT_KILLABLE_RECV), and architectures.
//
// As runc does, libseccomp only compiles: the program is exported as classic BPF, prefixed with a
// stub that answers ENOSYS for syscalls newer than any the profile names (so libc falls back from
// clone3 & co. instead of seeing EPERM), and loaded with seccomp(2) directly. Compiling is split
// from loading so the parent can compile (or reuse a compiled program) before it clones the child,
// which then needs one syscall and no allocation.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/spec.h"

namespace berth::runtime::security {

// Checks names of actions, ops, archs, flags and syscalls without loading anything.
Result<> validate_seccomp(const oci::Seccomp& seccomp);

// A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).
struct SeccompProgram {
  std::vector<sock_filter> instructions;  // empty: seccomp disabled (no defaultAction, no rules)
  unsigned flags = 0;  // SECCOMP_FILTER_FLAG_*; NEW_LISTENER with SCMP_ACT_NOTIFY
  bool empty() const { return instructions.empty(); }
};

// Builds the program (libseccomp, then the ENOSYS stub). Unknown syscall names are skipped (they
// may not exist on this architecture); rules whose action equals the default are dropped.
Result<SeccompProgram> compile_seccomp(const oci::Seccomp& seccomp);

// compile_seccomp through an on-disk cache (crun keeps one too): cache_dir/<hash>.bpf holds the
// profile's canonical key and the program, so a hit is a file read (~0.05 ms) instead of a
// libseccomp compile (~10-20 ms for Docker's default profile). The stored key is compared byte for
// byte, so a hash collision can never load another profile's filter; files not owned by us or
// writable by others are ignored. Failing to write the cache is not an error. Use a root-only
// directory on tmpfs (e.g. under the runtime's --root): it is created 0700 when missing.
Result<SeccompProgram> compile_seccomp_cached(const oci::Seccomp& seccomp,
                                              const std::string& cache_dir);

// Loads a compiled program into the calling thread. Returns the listener fd when the program has
// SCMP_ACT_NOTIFY rules, otherwise an invalid fd. One syscall; safe in the container child.
// no_new_privs is not set here: without it the caller needs CAP_SYS_ADMIN.
Result<UniqueFd> load_seccomp_program(const SeccompProgram& program);

// compile_seccomp + load_seccomp_program. If an action is SCMP_ACT_NOTIFY, returns the listener
// fd (the caller sends it to linux.seccomp.listenerPath); otherwise an invalid fd.
// Must not log (runs in the container child).
Result<UniqueFd> load_seccomp(const oci::Seccomp& seccomp);

// The runtime-spec "container process state" sent to a seccomp agent: {"ociVersion", "fds":
// ["seccompFd"], "pid", "metadata" (listenerMetadata, omitted when empty), "state"}.
// state_json is the container's `state` JSON.
std::string seccomp_listener_message(const std::string& state_json, int pid,
                                     const std::string& metadata);

// Connects (AF_UNIX, SOCK_STREAM) to listener_path and sends message with fd as SCM_RIGHTS, as runc
// does for SCMP_ACT_NOTIFY. The fd goes with the first byte; the rest follows if the socket takes
// it in pieces.
Result<> send_seccomp_listener_fd(const std::string& listener_path, int fd,
                                  const std::string& message);

// For `features`: names this build accepts, and the flags the running kernel supports.
std::vector<std::string> seccomp_known_actions();
std::vector<std::string> seccomp_known_operators();
std::vector<std::string> seccomp_known_archs();  // those libseccomp (as linked) supports
std::vector<std::string> seccomp_known_flags();
std::vector<std::string> seccomp_supported_flags();

}  // namespace berth::runtime::security
