// CVE-2019-5736 defence: a process that enters a container must not be running from a writable
// host binary, or the container could reopen /proc/<pid>/exe for writing and replace the runtime.
// Before create, run and exec, berth-runtime re-executes itself from a detached, read-only bind
// mount of its own binary (open_tree + mount_setattr; no copy, nothing in the mount table), or
// from a sealed memfd copy where the new mount API is unavailable.
#pragma once

#include "base/error.h"

namespace berth::runtime {

// True if /proc/self/exe is already on a read-only mount or a sealed memfd.
bool exe_is_sealed();
// Re-executes the current process image from a sealed copy with the same argv and environment.
// Returns only on failure.
Error reexec_sealed(char** argv, char** envp);

}  // namespace berth::runtime
