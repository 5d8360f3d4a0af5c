// Writes to the calling thread's procfs files (attr/exec, oom_score_adj) that refuse to be
// redirected: in the container child, /proc is a mount the container's config made, so the file is
// opened with openat2(RESOLVE_BENEATH|RESOLVE_NO_XDEV|RESOLVE_NO_MAGICLINKS) below a /proc that
// must be a real procfs, and the opened file must be on procfs too (the CVE-2019-16884 and
// CVE-2025-52881 class: an LSM label or a sysctl written somewhere else).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::runtime::security {

// Opens rel (e.g. "thread-self/attr/exec") below /proc; O_CLOEXEC is added.
Result<UniqueFd> open_procfs_file(const std::string& rel, int flags);
// Writes data with one write(2); errors read "write /proc/<rel>: <reason>".
Result<> write_procfs_file(const std::string& rel, std::string_view data);

}  // namespace berth::runtime::security
