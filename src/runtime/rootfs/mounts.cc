// One config.json mount inside the rootfs. The destination is opened inside the rootfs
// (openat2 RESOLVE_IN_ROOT: a symlink in the image cannot lead it to the host, CVE-2021-30465)
// and the mount lands on that fd. Bind mounts are detached clones (open_tree) that get their
// flags with mount_setattr before move_mount attaches them: no read-write window, and flags
// locked by a user namespace are kept. Filesystems go through mount(2) on /proc/self/fd/N.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "base/path.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime {
namespace rootfs {
namespace {

// Appends the SELinux context option for filesystems that take one.
std::string with_label(const MountContext& ctx, std::string data) {
  if (ctx.mount_label.empty()) return data;
  if (!data.empty()) data += ',';
  return data + "context=\"" + ctx.mount_label + "\"";
}

// After a filesystem mount: propagation and recursive attributes, on the new mount (reopened:
// the fd we mounted onto still names the directory underneath).
Result<> finish_fs_mount(const MountContext& ctx, const std::string& dest, const MountOptions& o) {
  if (o.propagation.empty() && o.attr_set == 0 && o.attr_clr == 0) return {};
  ASSIGN_OR_RETURN(UniqueFd top, open_in_root(ctx.root, dest, O_PATH | O_DIRECTORY));
  TRY(set_mount_attrs(top.get(), o.attr_set, o.attr_clr, true));
  return set_propagation(top.get(), o.propagation);
}

// Flags for mount(2) of a filesystem: no bind bits; /dev stays writable until finalize_rootfs()
// (devices are created in it first).
unsigned long fs_flags(const MountOptions& o, const std::string& dest) {
  unsigned long flags = o.flags & ~static_cast<unsigned long>(MS_BIND | MS_REC);
  if (dest == "/dev") flags &= ~static_cast<unsigned long>(MS_RDONLY);
  return flags;
}

Result<> mount_bind(const MountContext& ctx, const oci::Mount& m, const MountOptions& o,
                    const std::string& dest, size_t index) {
  if (o.flags & MS_REMOUNT) {
    // "bind,remount,ro": change the flags of what is already mounted at dest.
    ASSIGN_OR_RETURN(UniqueFd top, open_in_root(ctx.root, dest, O_PATH));
    uint64_t set, clr;
    mount_flags_to_attrs(o, &set, &clr);
    TRY(set_mount_attrs(top.get(), set, clr, false));
    TRY(set_mount_attrs(top.get(), o.attr_set, o.attr_clr, true));
    return set_propagation(top.get(), o.propagation);
  }
  UniqueFd owned;
  int tree = -1;
  if (o.idmap) {
    const auto& fds = ctx.opts->idmap_tree_fds;
    if (index >= fds.size() || fds[index] < 0)
      return make_error(ErrorCode::kUnimplemented,
                        "idmapped mount of " + m.source + ": no tree prepared by the runtime");
    tree = fds[index];
  } else {
    ASSIGN_OR_RETURN(owned, clone_tree(AT_FDCWD, m.source, o.recursive));
    tree = owned.get();
  }
  struct stat st {};
  if (::fstat(tree, &st) != 0) return errno_error("stat " + m.source);
  UniqueFd target;
  if (S_ISDIR(st.st_mode)) {
    ASSIGN_OR_RETURN(target, open_dir_in_root(ctx.root, dest));
  } else {
    ASSIGN_OR_RETURN(target, open_file_in_root(ctx.root, dest));
  }
  bool source_is_procfs = false;
  if (dest == "/proc") {
    struct statfs sf {};
    source_is_procfs = ::fstatfs(tree, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
  }
  TRY(check_proc_destination(target.get(), dest, "bind", source_is_procfs));
  uint64_t set, clr;
  mount_flags_to_attrs(o, &set, &clr);
  TRY(set_mount_attrs(tree, set, clr, false));
  TRY(set_mount_attrs(tree, o.attr_set, o.attr_clr, true));
  TRY(attach_tree(tree, target.get()));
  return set_propagation(tree, o.propagation);
}

Result<> mount_proc(const MountContext& ctx, const oci::Mount& m, const MountOptions& o,
                    const std::string& dest) {
  ASSIGN_OR_RETURN(UniqueFd target, open_plain_dir_in_root(ctx.root, dest, "proc"));
  TRY(mount_on_fd(m.source.empty() ? "proc" : m.source, target.get(), "proc", fs_flags(o, dest),
                  o.data));
  return finish_fs_mount(ctx, dest, o);
}

// A fresh sysfs shows the container's network namespace (or, for root without one, the host's,
// as runc does); a user namespace without its own network namespace gets EPERM and a bind.
Result<> mount_sysfs(const MountContext& ctx, const oci::Mount& m, const MountOptions& o,
                     const std::string& dest) {
  ASSIGN_OR_RETURN(UniqueFd target, open_plain_dir_in_root(ctx.root, dest, "sysfs"));
  TRY(check_proc_destination(target.get(), dest, "sysfs", false));
  auto r = mount_on_fd(m.source.empty() ? "sysfs" : m.source, target.get(), "sysfs",
                       fs_flags(o, dest), o.data);
  if (r) return finish_fs_mount(ctx, dest, o);
  int e = r.error().sys_errno();
  if (e != EPERM && e != EBUSY) return r;
  // A user namespace without its own network namespace may not mount sysfs: bind the host's,
  // as runc does, but with its flags (ro ...) on every submount, not just the top one.
  ASSIGN_OR_RETURN(UniqueFd tree, clone_tree(AT_FDCWD, "/sys", true));
  uint64_t set, clr;
  mount_flags_to_attrs(o, &set, &clr);
  TRY(set_mount_attrs(tree.get(), set, clr, true));
  TRY(set_mount_attrs(tree.get(), o.attr_set, o.attr_clr, true));
  TRY(attach_tree(tree.get(), target.get()));
  return set_propagation(tree.get(), o.propagation);
}

Result<> mount_tmpfs(const MountContext& ctx, const oci::Mount& m, const MountOptions& o,
                     const std::string& dest) {
  ASSIGN_OR_RETURN(UniqueFd target, open_dir_in_root(ctx.root, dest));
  TRY(check_proc_destination(target.get(), dest, "tmpfs", false));
  unsigned long flags = fs_flags(o, dest);
  UniqueFd below;
  if (o.tmpcopyup) {
    // The directory stays reachable through this fd once the tmpfs hides it: copy from it.
    int fd = ::openat(target.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("tmpcopyup: open " + dest);
    below = UniqueFd(fd);
    flags &= ~static_cast<unsigned long>(MS_RDONLY);  // read-only after the copy
  }
  TRY(mount_on_fd(m.source.empty() ? "tmpfs" : m.source, target.get(), "tmpfs", flags,
                  with_label(ctx, o.data)));
  if (o.tmpcopyup) {
    ASSIGN_OR_RETURN(UniqueFd top, open_in_root(ctx.root, dest, O_PATH | O_DIRECTORY));
    TRY_CTX(copy_tree(below.get(), top.get()), "tmpcopyup");
    if ((o.flags & MS_RDONLY) && dest != "/dev")
      TRY(set_mount_attrs(top.get(), MOUNT_ATTR_RDONLY, 0, false));
  }
  return finish_fs_mount(ctx, dest, o);
}

// devpts, mqueue, overlay, cgroup2 given by type, ...: passed through to mount(2).
Result<> mount_other(const MountContext& ctx, const oci::Mount& m, const MountOptions& o,
                     const std::string& dest) {
  ASSIGN_OR_RETURN(UniqueFd target, open_dir_in_root(ctx.root, dest));
  TRY(check_proc_destination(target.get(), dest, m.type, false));
  TRY(mount_on_fd(m.source.empty() ? m.type : m.source, target.get(), m.type, fs_flags(o, dest),
                  with_label(ctx, o.data)));
  return finish_fs_mount(ctx, dest, o);
}

}  // namespace

Result<> mount_entry(const MountContext& ctx, const oci::Mount& m, size_t index) {
  const std::string dest = clean_destination(m.destination);
  auto parsed = parse_mount_options(m.options);
  bool bind = parsed && (parsed->bind || m.type == "bind");
  const std::string what = mount_context(dest, m.type.empty() && bind ? "bind" : m.type);
  if (!parsed) return std::unexpected(std::move(parsed).error().wrap(what));
  if (dest == "/")  // it would hide the rootfs from every later mount (resolved below it)
    return make_error(ErrorCode::kInvalidArgument, what + ": the destination cannot be /");
  const MountOptions& o = *parsed;
  Result<> r;
  if (bind) {
    r = mount_bind(ctx, m, o, dest, index);
  } else if (m.type == "proc") {
    r = mount_proc(ctx, m, o, dest);
  } else if (m.type == "sysfs") {
    r = mount_sysfs(ctx, m, o, dest);
  } else if (m.type == "tmpfs") {
    r = mount_tmpfs(ctx, m, o, dest);
  } else if (m.type == "cgroup") {
    auto target = open_dir_in_root(ctx.root, dest);
    if (!target) return std::unexpected(std::move(target).error().wrap(what));
    r = check_proc_destination(target->get(), dest, m.type, false);
    if (r) r = mount_cgroup(ctx, o, dest, target->get());
  } else {
    r = mount_other(ctx, m, o, dest);
  }
  if (!r) return std::unexpected(std::move(r).error().wrap(what));
  return {};
}

}  // namespace rootfs

Result<UniqueFd> open_idmapped_tree(const std::string& source, int userns_fd, bool recursive) {
  ASSIGN_OR_RETURN(UniqueFd tree, rootfs::clone_tree(AT_FDCWD, source, recursive));
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr) !=
      0)
    return errno_error("idmap " + source);
  return tree;
}

}  // namespace berth::runtime
