// The container's filesystem view, built in the child inside its new mount namespace:
//   prepare_rootfs()  - rootfsPropagation, bind the rootfs onto itself, every config mount (each
//                       destination resolved inside the rootfs with openat2 RESOLVE_IN_ROOT),
//                       /dev (default devices, linux.devices, /dev symlinks, /dev/pts/ptmx);
//   enter_rootfs()    - pivot_root (or chroot-like MS_MOVE with --no-pivot) and detach the old root;
//   finalize_rootfs() - maskedPaths, readonlyPaths, root.readonly, /dev read-only where asked.
// None of these log: they run in the cloned child and return errors naming the mount or path.
#pragma once

#include <string>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime {

struct RootfsOptions {
  std::string rootfs;          // absolute host path of root.path
  bool no_pivot = false;       // --no-pivot
  bool in_user_namespace = false;  // devices are bind-mounted from the host, not mknod'ed
  std::string cgroup_path;     // the container's cgroup (for cgroup mounts in v1: per controller)
};

Result<> prepare_rootfs(const oci::Spec& spec, const RootfsOptions& opts);
Result<> enter_rootfs(const RootfsOptions& opts);
Result<> finalize_rootfs(const oci::Spec& spec);

// Parsed mount options: flags for mount(2), propagation flags, recursive attributes (rro ...),
// and the rest as the data string. Exposed for unit tests.
struct MountOptions {
  unsigned long flags = 0;
  unsigned long clear_flags = 0;  // options like "rw", "dev", "suid" that clear a flag
  unsigned long propagation = 0;  // MS_PRIVATE|MS_REC ...
  uint64_t attr_set = 0;          // MOUNT_ATTR_* for recursive "r*" options (rro, rnosuid ...)
  uint64_t attr_clr = 0;
  bool bind = false;
  bool recursive = false;
  std::string data;
};
Result<MountOptions> parse_mount_options(const std::vector<std::string>& options);

}  // namespace berth::runtime
