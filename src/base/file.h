// Small file helpers: whole-file reads, writes to kernel files (cgroupfs, procfs), atomic state
// writes (temp file, fsync, rename), and directory creation.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth {

Result<std::string> read_file(const std::string& path);
Result<std::string> read_file_at(int dirfd, const std::string& path);
// Writes data with one write(2) to an existing file (O_WRONLY|O_TRUNC): what kernel files expect.
Result<> write_file(const std::string& path, std::string_view data);
Result<> write_file_at(int dirfd, const std::string& path, std::string_view data);
// Writes to path.tmp, renames over path: readers see the old or the new file, never half.
// durable adds an fsync before the rename (for data that must survive a crash, not for /run).
Result<> write_file_atomic(const std::string& path, std::string_view data, int mode = 0644,
                           bool durable = true);
// mkdir -p; existing directories are fine.
Result<> mkdir_all(const std::string& path, int mode = 0755);
// Removes a directory tree (no symlinks followed). Missing path is fine.
Result<> remove_all(const std::string& path);
bool path_exists(const std::string& path);
Result<UniqueFd> open_fd(const std::string& path, int flags, int mode = 0);

}  // namespace berth
