// docker cp on a mounted container rootfs: stat a path (X-Docker-Container-Path-Stat), tar a path
// out, extract a tar into a directory. Every lookup is resolved INSIDE the root (openat2
// RESOLVE_IN_ROOT), so a symlink in the container pointing at "/" or "../.." names a file of the
// container, never of the host. Path semantics follow moby's container.ResolvePath: the parent
// is resolved with symlinks followed; the last element is not, unless the path ends in "/" or
// "/." (then it is followed, as for extraction, which always follows it).
#pragma once

#include <string>

#include "base/error.h"
#include "base/json.h"

namespace berth::engine {

// {"name", "size", "mode" (Go os.FileMode: perm | 0x80000000 dir | 0x08000000 symlink | ...),
//  "mtime" (RFC 3339, nanoseconds), "linkTarget" (the symlink fully resolved inside the root, as an
// absolute container path; "" otherwise)}. NotFound when the path does not exist (the caller
// words docker's "Could not find the file <path> in container <name>").
Result<json::Json> fs_path_stat(const std::string& root, const std::string& path);

// Go's os.FileMode bits for a struct stat st_mode.
uint32_t go_file_mode(unsigned st_mode);

// Writes a tar of path to out_fd, its top entry named as the path's basename (docker cp).
Result<> fs_archive_get(const std::string& root, const std::string& path, int out_fd);

struct ArchivePutOptions {
  bool copy_uid_gid = false;  // docker cp -a: keep the tar's owners; else files belong to root
  // docker cp's noOverwriteDirNonDir (the CLI always sets it): refuse, before writing anything,
  // a tar that would replace a directory with a non-directory or the reverse. The stream is
  // spooled to an unlinked temporary file to be read twice.
  bool no_overwrite_dir_non_dir = false;
};

// Extracts the tar read from in_fd into the directory path (which must exist and be a directory,
// else InvalidArgument "extraction point is not a directory"); .wh. whiteouts delete.
// A refused overwrite is InvalidArgument "cannot overwrite directory \"/a\" with non-directory
// \"/a\"" (or "non-directory ... with directory").
Result<> fs_archive_put(const std::string& root, const std::string& path, int in_fd,
                        const ArchivePutOptions& opts = {});

}  // namespace berth::engine
