// Tar streams in and out of directories: layer unpack (with whiteouts converted to overlayfs's
// form), layer creation from an overlay upper directory (overlay whiteouts back to .wh. files),
// plain directory tars (export, cp), and the change list of an upper directory (docker diff).
//
// Every write during unpack is resolved inside dest (openat2 RESOLVE_IN_ROOT): `..` paths,
// absolute or escaping symlinks and hardlinks out of the root can never touch anything outside.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::image {

enum class Whiteouts {
  kOverlay,  // .wh.x -> char device 0/0 "x"; .wh..wh..opq -> trusted.overlay.opaque=y (layers)
  kApply,    // .wh.x deletes x already in dest; opaque clears the dir (docker cp, plain extract)
  kKeep,     // .wh. entries are written as ordinary files (never used for images)
};

struct UnpackOptions {
  Whiteouts whiteouts = Whiteouts::kOverlay;
  bool allow_devices = false;   // device nodes are refused (error naming the entry) unless set
  bool preserve_owner = true;   // chown entries to their uid/gid
  std::string subdir;           // extract under dest/subdir (resolved inside dest), "" = dest
  bool hash_compressed = true;  // false: compressed_digest stays "" (hashed elsewhere)
};

struct UnpackResult {
  std::string diff_id;            // "sha256:<hex>" of the uncompressed tar stream
  std::string compressed_digest;  // "sha256:<hex>" of the bytes read from fd
  int64_t compressed_size = 0;    // bytes read from fd
  int64_t unpacked_size = 0;      // sum of regular file sizes written
};

// Reads a tar stream (gzip, zstd or uncompressed: detected from the first bytes) from fd and
// writes it under dest, which must exist. A truncated or corrupt stream is an error; whatever was
// written stays inside dest (callers unpack into a temporary directory and rename on success).
Result<UnpackResult> unpack_tar(int fd, const std::string& dest, const UnpackOptions& opts = {});

enum class Compression { kNone, kGzip };

struct TarOptions {
  Compression compression = Compression::kNone;
  bool overlay_whiteouts =
      false;                // dir is an overlay upper: char 0/0 -> .wh.x, opaque -> .wh..wh..opq
  std::string rename_root;  // name the top entry this instead of "." (docker cp: "file.txt")
  bool zero_times = false;  // mtime 0 for reproducible layers (save)
};

struct TarResult {
  std::string diff_id;  // "sha256:<hex>" of the uncompressed tar
  std::string digest;   // "sha256:<hex>" of the bytes written to out_fd
  int64_t size = 0;     // bytes written to out_fd
};

// Writes a tar of path (a directory, or a single file with rename_root) to out_fd. Entries are
// relative ("./x" style not used: "x", "dir/y"), sorted for reproducibility.
Result<TarResult> write_tar(const std::string& path, int out_fd, const TarOptions& opts = {});

struct Change {
  enum Kind { kModified = 0, kAdded = 1, kDeleted = 2 };  // docker's numbering (C, A, D)
  std::string path;  // absolute inside the container: "/etc/hosts"
  Kind kind;
};

// docker diff: what an overlay upper directory changes relative to its lower directories
// (highest first, as in overlay's lowerdir=). Parents of changed entries that exist below are
// reported as modified, as docker does. Sorted by path.
Result<std::vector<Change>> overlay_changes(const std::string& upper,
                                            const std::vector<std::string>& lowers);

}  // namespace berth::image
