// Safe path resolution inside a root directory (a container's rootfs). Every lookup goes through
// openat2(RESOLVE_IN_ROOT): symlinks and ".." are resolved as if rootfd were "/", so an image
// cannot redirect a mount or a write to the host.
#pragma once

#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth {

// Opens path (absolute or relative, taken inside root) with flags (O_CLOEXEC added).
Result<UniqueFd> open_in_root(int rootfd, const std::string& path, int flags, int mode = 0);
// Creates every missing directory of path inside root, returning an O_PATH fd of the last one.
Result<UniqueFd> mkdir_all_in_root(int rootfd, const std::string& path, int mode = 0755);
// Makes sure path exists inside root as a directory (is_dir) or an empty file, creating parents;
// returns an O_PATH fd to it. Used for mount targets.
Result<UniqueFd> ensure_in_root(int rootfd, const std::string& path, bool is_dir, int mode = 0755);
// "/proc/self/fd/N": a path that names exactly the file an fd refers to.
std::string fd_path(int fd);
// Lexically cleans a path ("a//b/../c" -> "a/c"), keeping a leading "/".
std::string clean_path(const std::string& path);

}  // namespace berth
