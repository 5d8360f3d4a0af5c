// Per-process attributes from config.json's process object, applied in the container child:
// rlimits, oomScoreAdj, ioPriority, scheduler, personality, and the LSM labels (AppArmor profile,
// SELinux label), which are refused with a clear error where the host lacks that LSM.
#pragma once

#include <optional>
#include <string_view>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime::security {

// Checks names and ranges (rlimit types, oomScoreAdj -1000..1000, ioPriority class and 0..7,
// scheduler policy/flags/nice/priority, personality domain/flags) and that a requested AppArmor
// profile / SELinux label can be honoured on this host. Run it before anything is set up.
Result<> validate_process_attrs(const oci::Process& process, const oci::Linux* linux);

// Each runs in the child, never logs, and names the field in its error.
Result<> apply_rlimits(const oci::Process& process);
Result<> apply_oom_score_adj(const oci::Process& process);  // writes /proc/self/oom_score_adj
Result<> apply_io_priority(const oci::Process& process);
Result<> apply_scheduler(const oci::Process& process);
Result<> apply_personality(const oci::Linux& linux);
// Arranges the AppArmor profile / SELinux label for the next execve (attr/exec).
Result<> apply_lsm_labels(const oci::Process& process);

// RLIMIT_NOFILE -> 7.
std::optional<int> rlimit_from_name(std::string_view name);

// Both are probed once and cached, so the answer the parent got while validating is the one the
// container child uses (its /sys may be missing).
bool apparmor_enabled();
bool selinux_enabled();

}  // namespace berth::runtime::security
