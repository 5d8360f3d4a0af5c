// Shared pieces of the rootfs set-up (private to src/runtime/rootfs/): the state carried from
// prepare_rootfs() to enter_rootfs() in the child, the new-mount-API wrappers base/syscalls.h does
// not have, and fd-based mount helpers. Every target is an fd opened inside the rootfs; nothing
// here takes a host path for a mount target.
#pragma once

#include <sys/mount.h>
#include <sys/stat.h>

#include <string>

#include "base/error.h"
#include "base/syscalls.h"
#include "base/unique_fd.h"
#include "oci/spec.h"
#include "runtime/rootfs.h"

namespace berth::runtime::rootfs {

inline int sys_fsopen(const char* fstype, unsigned flags) {
  return static_cast<int>(::syscall(SYS_fsopen, fstype, flags));
}
inline int sys_fsconfig(int fd, unsigned cmd, const char* key, const void* value, int aux) {
  return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}
inline int sys_fsmount(int fd, unsigned flags, unsigned attr_flags) {
  return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attr_flags));
}

// Carried from prepare_rootfs() to enter_rootfs() (the child runs them in sequence).
struct RootfsState {
  UniqueFd root;                       // O_PATH fd of the rootfs mount (after the self-bind)
  unsigned long root_propagation = 0;  // linux.rootfsPropagation, re-applied to "/" after pivot
  bool isolated = false;       // "/" was made rslave/rprivate: the old root needs no rslave pass
  bool dev_populated = false;  // we filled /dev: reopen stdio on /dev/null after pivot
  std::string mount_label;     // linux.mountLabel if SELinux is on (masked dirs' tmpfs)
};
RootfsState& rootfs_state();

// What every mount needs to know about the container.
struct MountContext {
  int root = -1;  // rootfs fd: every destination is resolved inside it
  const RootfsOptions* opts = nullptr;
  bool has_cgroupns = false;
  std::string mount_label;  // linux.mountLabel when SELinux is enabled, else ""
};

// "mount <dest> (type <type>)": the prefix of every error about one config mount.
std::string mount_context(const std::string& dest, const std::string& type);
// The destination of m, absolute and lexically clean ("a/../b" -> "/b").
std::string clean_destination(const std::string& dest);

// Resolves path inside root as the kernel would with root as "/", one component at a time with
// O_NOFOLLOW, creating what is missing: directories, and the last component as a directory or
// an empty file. Symlinks (dangling ones too, and the last component) are followed inside root,
// so rootfs/mnt -> /etc makes rootfs/etc, never the host's. Returns an O_PATH fd.
Result<UniqueFd> create_in_root(int root, const std::string& path, bool last_is_dir);
// Opens dest inside root as a directory (O_PATH), creating it and its parents if missing.
Result<UniqueFd> open_dir_in_root(int root, const std::string& dest);
// Same for a file (bind mounts of files), created empty if missing.
Result<UniqueFd> open_file_in_root(int root, const std::string& dest);
// Same, but for filesystems that must land on an ordinary directory (proc, sysfs): a symlink at
// the last component is refused rather than followed (CVE-2019-19921).
Result<UniqueFd> open_plain_dir_in_root(int root, const std::string& dest, const std::string& type);
// Opens an existing dest inside root with O_PATH|O_NOFOLLOW; ENOENT is returned as an error.
Result<UniqueFd> open_nofollow_in_root(int root, const std::string& path);

// Refuses a destination inside /proc (lexically, or because it resolved onto a procfs) unless
// it is one of the files lxcfs-style tools overmount; "/proc" itself only takes proc.
Result<> check_proc_destination(int dest_fd, const std::string& dest, const std::string& type,
                                bool source_is_procfs);

// mount(2) onto the file fd refers to (through /proc/self/fd/N of the host's /proc).
Result<> mount_on_fd(const std::string& source, int fd, const std::string& type,
                     unsigned long flags, const std::string& data);
// Clones the mount tree at source_fd/source (open_tree OPEN_TREE_CLONE), detached.
Result<UniqueFd> clone_tree(int dirfd, const std::string& path, bool recursive);
// Attaches a detached tree onto the file target_fd refers to.
Result<> attach_tree(int tree_fd, int target_fd);
// mount_setattr on the mount fd refers to. When clearing a flag fails with EPERM (a flag locked
// by a less privileged user namespace), the flags the mount already has are kept, as runc does.
Result<> set_mount_attrs(int fd, uint64_t set, uint64_t clr, bool recursive);
// Propagation changes (MS_SHARED|MS_REC ...) on the mount fd refers to, in order.
Result<> set_propagation(int fd, const std::vector<unsigned long>& propagation);
// The mount_setattr equivalent of MountOptions flags (for bind mounts, which keep everything
// they do not name).
void mount_flags_to_attrs(const MountOptions& o, uint64_t* set, uint64_t* clr);

// Mounts one spec.mounts entry (index i) inside the rootfs.
Result<> mount_entry(const MountContext& ctx, const oci::Mount& m, size_t index);
// The cgroup filesystem type: v1 (tmpfs + a bind or mount per hierarchy) or v2.
Result<> mount_cgroup(const MountContext& ctx, const MountOptions& o, const std::string& dest,
                      int dest_fd);
// Recursively copies the directory src into dst (tmpcopyup): files, dirs, symlinks, devices,
// with their owner and mode.
Result<> copy_tree(int src_dir, int dst_dir);

// linux.devices (create_devices), and with populate_dev the default devices, /dev symlinks and
// /dev/ptmx (see devices.cc).
Result<> setup_devices(const oci::Spec& spec, const MountContext& ctx, bool populate_dev,
                       bool create_devices);
// After pivot_root: stdio fds pointing at the host's /dev/null move to the container's.
Result<> reopen_dev_null();

}  // namespace berth::runtime::rootfs
