// Per-process attributes from config.json's process object, applied in the container child:
// rlimits, oomScoreAdj, ioPriority, scheduler, personality, and the LSM labels (AppArmor profile,
// SELinux label), which are refused with a clear error where the host lacks that LSM.
#pragma once

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime::security {

Result<> validate_process_attrs(const oci::Process& process, const oci::Linux* linux);

// Each runs in the child, never logs, and names the field in its error.
Result<> apply_rlimits(const oci::Process& process);
Result<> apply_oom_score_adj(const oci::Process& process);  // writes /proc/self/oom_score_adj
Result<> apply_io_priority(const oci::Process& process);
Result<> apply_scheduler(const oci::Process& process);
Result<> apply_personality(const oci::Linux& linux);
// Arranges the AppArmor profile / SELinux label for the next execve (attr/exec).
Result<> apply_lsm_labels(const oci::Process& process);

bool apparmor_enabled();
bool selinux_enabled();

}  // namespace berth::runtime::security
