// The container's filesystem view, built in the child inside its new mount namespace:
//   prepare_rootfs()  - rootfsPropagation, bind the rootfs onto itself, every config mount (each
//                       destination resolved inside the rootfs with openat2 RESOLVE_IN_ROOT),
//                       /dev (default devices, linux.devices, /dev symlinks, /dev/pts/ptmx);
//   enter_rootfs()    - pivot_root (or MS_MOVE + chroot with --no-pivot), old root detached;
//   finalize_rootfs() - maskedPaths, readonlyPaths, root.readonly, /dev read-only where asked.
// None of these log: they run in the cloned child and return errors naming the mount or path.
// Mount targets are never named by a path string: they are opened inside the rootfs and mounted
// onto through their fd (mount(2) on /proc/self/fd/N, or open_tree/move_mount/mount_setattr), so
// the kernel floor is Linux 5.12 (openat2, the new mount API, mount_setattr).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/spec.h"

namespace berth::runtime {

struct RootfsOptions {
  std::string rootfs;              // absolute host path of root.path
  bool no_pivot = false;           // --no-pivot
  bool in_user_namespace = false;  // devices are bind-mounted from the host, not mknod'ed
  std::string cgroup_path;  // the container's cgroup (for cgroup mounts in v1: per controller)
  // Optional, preferred over cgroup_path: CgroupManager::paths() (controller name such as "cpu"
  // or "name=systemd" -> absolute host directory; "" is the v2/unified one).
  std::map<std::string, std::string> cgroup_dirs;
  // Optional, indexed like spec.mounts: a detached tree from open_idmapped_tree() for mounts with
  // the "idmap"/"ridmap" option (made by the parent: the child, inside the user namespace, may
  // not idmap host filesystems), -1 elsewhere.
  std::vector<int> idmap_tree_fds;
};

Result<> prepare_rootfs(const oci::Spec& spec, const RootfsOptions& opts);
Result<> enter_rootfs(const RootfsOptions& opts);
Result<> finalize_rootfs(const oci::Spec& spec);

// Parsed mount options: flags for mount(2), propagation flags, recursive attributes (rro ...),
// and the rest as the data string. Later options override earlier ones ("ro,rw" is rw).
struct MountOptions {
  unsigned long flags = 0;
  unsigned long clear_flags = 0;  // options like "rw", "dev", "suid" that clear a flag
  // MS_PRIVATE|MS_REC ..., in the order given: each one is a separate mount(2) call.
  std::vector<unsigned long> propagation;
  uint64_t attr_set = 0;  // MOUNT_ATTR_* for recursive "r*" options (rro, rnosuid ...)
  uint64_t attr_clr = 0;
  bool bind = false;
  bool recursive = false;  // rbind
  bool tmpcopyup = false;  // tmpfs: copy the destination's content into the new tmpfs
  bool idmap = false;      // idmap / ridmap
  bool recursive_idmap = false;
  std::string data;
};
Result<MountOptions> parse_mount_options(const std::vector<std::string>& options);
// Every option name parse_mount_options() recognises (features.mountOptions), sorted.
const std::vector<std::string>& recognized_mount_options();

// Parent side of idmapped mounts: a detached clone of source (recursive for "ridmap") whose
// ownership is mapped through the user namespace userns_fd; pass it in
// RootfsOptions::idmap_tree_fds. Needs CAP_SYS_ADMIN over the source filesystem.
Result<UniqueFd> open_idmapped_tree(const std::string& source, int userns_fd, bool recursive);

}  // namespace berth::runtime
