// finalize_rootfs(), after pivot_root: linux.readonlyPaths (a recursive read-only bind of the
// path onto itself), linux.maskedPaths (files: the container's /dev/null bound over them, after
// checking it really is the null device, CVE-2025-31133; directories: one read-only tmpfs made
// once and bound onto each, as runc 1.5 does, so K8s' dozens of masked dirs cost one superblock),
// /dev read-only when its mount says ro, and root.readonly. Targets are opened inside "/" with
// O_NOFOLLOW and mounted onto through their fds with open_tree/move_mount/mount_setattr, so
// nothing depends on the container's /proc being the procfs it claims to be.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/path.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime {
namespace rootfs {
namespace {

class Masker {
 public:
  Masker(int root, std::string label) : root_(root), label_(std::move(label)) {}

  Result<> mask(const std::string& path) {
    auto fd = open_nofollow_in_root(root_, path);
    if (!fd) {
      if (fd.error().sys_errno() == ENOENT) return {};  // nothing to hide
      return std::unexpected(std::move(fd).error());
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return errno_error("stat " + path);
    if (S_ISLNK(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, path + " is a symlink");
    if (S_ISDIR(st.st_mode)) return mask_dir(fd->get());
    return mask_file(fd->get());
  }

 private:
  Result<> mask_file(int target) {
    if (!null_) {
      ASSIGN_OR_RETURN(UniqueFd null, open_nofollow_in_root(root_, "/dev/null"));
      struct stat st {};
      if (::fstat(null.get(), &st) != 0) return errno_error("stat /dev/null");
      if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
        return make_error(ErrorCode::kFailedPrecondition, "/dev/null is not the null device");
      null_ = std::move(null);
    }
    ASSIGN_OR_RETURN(UniqueFd tree, clone_tree(null_.get(), "", false));
    return attach_tree(tree.get(), target);
  }

  Result<> mask_dir(int target) {
    if (tmpfs_) {
      ASSIGN_OR_RETURN(UniqueFd tree, clone_tree(tmpfs_.get(), "", false));
      return attach_tree(tree.get(), target);
    }
    int fs = sys_fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) return errno_error("fsopen tmpfs");
    UniqueFd fsfd(fs);
    if (!label_.empty() &&
        sys_fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "context", label_.c_str(), 0) != 0)
      return errno_error("fsconfig context");
    if (sys_fsconfig(fsfd.get(), FSCONFIG_SET_FLAG, "ro", nullptr, 0) != 0)
      return errno_error("fsconfig ro");
    if (sys_fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
      return errno_error("fsconfig create tmpfs");
    int mnt =
        sys_fsmount(fsfd.get(), FSMOUNT_CLOEXEC,
                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (mnt < 0) return errno_error("fsmount tmpfs");
    UniqueFd tmpfs(mnt);
    TRY(attach_tree(tmpfs.get(), target));
    tmpfs_ = std::move(tmpfs);  // attached now: later dirs get clones of it
    return {};
  }

  int root_;
  std::string label_;
  UniqueFd null_;
  UniqueFd tmpfs_;
};

Result<> readonly_path(int root, const std::string& path) {
  auto fd = open_nofollow_in_root(root, path);
  if (!fd) {
    if (fd.error().sys_errno() == ENOENT) return {};
    return std::unexpected(std::move(fd).error());
  }
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return errno_error("stat " + path);
  if (S_ISLNK(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, path + " is a symlink");
  ASSIGN_OR_RETURN(UniqueFd tree, clone_tree(fd->get(), "", true));
  TRY(set_mount_attrs(tree.get(), MOUNT_ATTR_RDONLY, 0, true));
  return attach_tree(tree.get(), fd->get());
}

}  // namespace
}  // namespace rootfs

Result<> finalize_rootfs(const oci::Spec& spec) {
  using namespace rootfs;
  int fd = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("open /");
  UniqueFd root(fd);
  if (spec.linux) {
    for (const std::string& p : spec.linux->readonly_paths)
      TRY_CTX(readonly_path(root.get(), p), "linux.readonlyPaths " + p);
    if (!spec.linux->masked_paths.empty()) {
      Masker masker(root.get(), rootfs_state().mount_label);
      for (const std::string& p : spec.linux->masked_paths)
        TRY_CTX(masker.mask(p), "linux.maskedPaths " + p);
    }
  }
  // /dev was mounted writable so devices could be made in it; now it gets its ro.
  for (const auto& m : spec.mounts) {
    if (clean_destination(m.destination) != "/dev") continue;
    auto o = parse_mount_options(m.options);
    if (o && (o->flags & MS_RDONLY)) {
      ASSIGN_OR_RETURN(UniqueFd dev, open_in_root(root.get(), "/dev", O_PATH | O_DIRECTORY));
      TRY_CTX(set_mount_attrs(dev.get(), MOUNT_ATTR_RDONLY, 0, false), "remount /dev read-only");
    }
  }
  if (spec.root_readonly)
    TRY_CTX(set_mount_attrs(root.get(), MOUNT_ATTR_RDONLY, 0, false), "root.readonly");
  ::umask(022);  // runc's finalizeRootfs; process.user.umask, if any, is applied later
  return {};
}

}  // namespace berth::runtime
