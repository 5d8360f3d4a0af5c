// prepare_rootfs() and enter_rootfs(): the container's mount namespace is cut off from the
// host's propagation ("/" rslave, or linux.rootfsPropagation), the rootfs becomes a mount of its
// own (skipped when it already is one, e.g. an overlay: one mount less per start), every
// config mount is made inside it, /dev is populated, and then the process moves in with
// pivot_root(".", ".") (no put_old directory needed) or, with --no-pivot, runc's MS_MOVE + chroot.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <array>
#include <string_view>

#include "base/file.h"
#include "base/strings.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime {
namespace rootfs {
namespace {

struct Propagation {
  std::string_view name;
  unsigned long flags;
};

constexpr std::array<Propagation, 8> kRootPropagation{{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
}};

Result<unsigned long> root_propagation(const oci::Spec& spec) {
  if (!spec.linux || spec.linux->rootfs_propagation.empty()) return MS_SLAVE | MS_REC;
  for (const auto& p : kRootPropagation)
    if (p.name == spec.linux->rootfs_propagation) return p.flags;
  return make_error(ErrorCode::kInvalidArgument, "linux.rootfsPropagation: unknown value \"" +
                                                     spec.linux->rootfs_propagation + "\"");
}

// Nothing mounted in this namespace can reach the host's (and pivot_root's "not shared" rules
// hold) when "/" was made recursively slave or private.
bool isolated(unsigned long propagation) {
  return (propagation & MS_REC) && (propagation & (MS_SLAVE | MS_PRIVATE));
}

Result<struct statx> statx_path(const std::string& path, unsigned mask) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_NO_AUTOMOUNT, mask, &stx) != 0)
    return errno_error("stat " + path);
  return stx;
}

bool is_mount_root(const std::string& path) {
  auto stx = statx_path(path, 0);
  return stx && (stx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (stx->stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// With a shared or non-recursive rootfsPropagation, the mount holding the rootfs is made private
// (runc's rootfsParentMountPrivate): otherwise the self-bind would propagate to the host and
// pivot_root would refuse. Found by walking up until the mount id changes, not via mountinfo.
Result<> make_containing_mount_private(const std::string& rootfs) {
  ASSIGN_OR_RETURN(struct statx self, statx_path(rootfs, STATX_MNT_ID));
  std::string top = rootfs;
  while (top != "/") {
    auto slash = top.find_last_of('/');
    std::string parent = slash == 0 ? "/" : top.substr(0, slash);
    ASSIGN_OR_RETURN(struct statx up, statx_path(parent, STATX_MNT_ID));
    if (up.stx_mnt_id != self.stx_mnt_id) break;
    top = parent;
  }
  if (::mount(nullptr, top.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
    return errno_error("make " + top + " private");
  return {};
}

std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// runc's msMoveRoot: full procfs/sysfs mounts of the host stay reachable after a chroot and
// would let the container mount a fresh, unmasked proc; detach (or cover) them first.
Result<> move_root(const std::string& rootfs) {
  ASSIGN_OR_RETURN(std::string info, read_file("/proc/self/mountinfo"));
  std::vector<std::string> targets;
  for (const std::string& line : split(info, '\n')) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::vector<std::string> f = split(line.substr(0, sep), ' ');
    std::vector<std::string> tail = split(line.substr(sep + 3), ' ');
    if (f.size() < 5 || tail.empty()) continue;
    if (f[3] != "/" || (tail[0] != "proc" && tail[0] != "sysfs")) continue;
    std::string mp = unescape_mountinfo(f[4]);
    if (mp == rootfs || starts_with(mp, rootfs + "/")) continue;
    targets.push_back(mp);
  }
  for (const std::string& mp : targets) {
    if (::mount(nullptr, mp.c_str(), nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      return errno_error("make " + mp + " rslave");
    }
    if (::umount2(mp.c_str(), MNT_DETACH) != 0) {
      if (errno != EINVAL && errno != EPERM) return errno_error("unmount " + mp);
      if (::mount("tmpfs", mp.c_str(), "tmpfs", 0, nullptr) != 0) return errno_error("cover " + mp);
    }
  }
  if (::mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0)
    return errno_error("move rootfs to /");
  if (::chroot(".") != 0) return errno_error("chroot");
  if (::chdir("/") != 0) return errno_error("chdir /");
  return {};
}

// pivot_root(".", "."): the old root ends up stacked on the new one and is detached from there.
Result<> pivot(bool old_root_isolated) {
  int fd = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("open old root");
  UniqueFd old_root(fd);
  if (sys::pivot_root(".", ".") != 0) return errno_error("pivot_root");
  if (::fchdir(old_root.get()) != 0) return errno_error("chdir to old root");
  // Unmount events must not reach the host (already so when "/" was made rslave/rprivate).
  if (!old_root_isolated && ::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
    return errno_error("make old root rslave");
  if (::umount2(".", MNT_DETACH) != 0) return errno_error("detach old root");
  if (::chdir("/") != 0) return errno_error("chdir /");
  return {};
}

bool has_namespace(const oci::Spec& spec, const char* type) {
  return spec.linux && spec.linux->find_namespace(type) != nullptr;
}

}  // namespace
}  // namespace rootfs

Result<> prepare_rootfs(const oci::Spec& spec, const RootfsOptions& opts) {
  using namespace rootfs;
  RootfsState& state = rootfs_state();
  state = RootfsState{};
  ASSIGN_OR_RETURN(unsigned long propagation, root_propagation(spec));
  if (::mount(nullptr, "/", nullptr, propagation, nullptr) != 0)
    return errno_error("rootfs propagation: mount /");
  const bool iso = isolated(propagation);
  if (!iso) TRY_CTX(make_containing_mount_private(opts.rootfs), "rootfs propagation");
  if (!iso || !is_mount_root(opts.rootfs)) {
    if (::mount(opts.rootfs.c_str(), opts.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return errno_error("bind mount rootfs " + opts.rootfs);
  }
  int fd = ::open(opts.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("open rootfs " + opts.rootfs);
  UniqueFd root(fd);

  MountContext ctx;
  ctx.root = root.get();
  ctx.opts = &opts;
  ctx.has_cgroupns = has_namespace(spec, "cgroup");
  if (spec.linux && !spec.linux->mount_label.empty()) {
    struct statfs sf {};
    if (::statfs("/sys/fs/selinux", &sf) == 0 && sf.f_type == SELINUX_MAGIC)
      ctx.mount_label = spec.linux->mount_label;
  }
  bool dev_bound = false, dev_mounted = false;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const oci::Mount& m = spec.mounts[i];
    TRY(mount_entry(ctx, m, i));
    if (clean_destination(m.destination) == "/dev") {
      auto o = parse_mount_options(m.options);
      bool bind = m.type == "bind" || (o && o->bind);
      dev_bound = bind;
      dev_mounted = !bind;
    }
  }
  // /dev is filled only when the config mounted a fresh filesystem there; an image's own /dev
  // is left alone. linux.devices are created unless /dev is a bind of the host's (runc).
  TRY(setup_devices(spec, ctx, dev_mounted, !dev_bound));

  state.root = std::move(root);
  state.isolated = iso;
  state.root_propagation =
      (spec.linux && !spec.linux->rootfs_propagation.empty()) ? propagation : 0;
  state.dev_populated = dev_mounted;
  state.mount_label = ctx.mount_label;
  return {};
}

Result<> enter_rootfs(const RootfsOptions& opts) {
  using namespace rootfs;
  RootfsState& state = rootfs_state();
  UniqueFd root = std::move(state.root);
  if (!root) {
    int fd = ::open(opts.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("open rootfs " + opts.rootfs);
    root = UniqueFd(fd);
  }
  if (::fchdir(root.get()) != 0) return errno_error("chdir to rootfs " + opts.rootfs);
  root.reset();
  if (opts.no_pivot) {
    TRY_CTX(move_root(opts.rootfs), "jailing process inside rootfs");
  } else {
    TRY_CTX(pivot(state.isolated), "jailing process inside rootfs");
  }
  // Applied again now that the rootfs is "/" (runc): before, it only reached the old root.
  if (state.root_propagation &&
      ::mount(nullptr, "/", nullptr, state.root_propagation, nullptr) != 0)
    return errno_error("linux.rootfsPropagation: mount /");
  if (state.dev_populated) TRY_CTX(reopen_dev_null(), "reopening /dev/null inside container");
  return {};
}

}  // namespace berth::runtime
