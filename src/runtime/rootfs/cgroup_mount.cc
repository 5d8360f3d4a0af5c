// The "cgroup" mount type, as runc does it. cgroup v2: a fresh cgroup2 mount (rooted at the
// container's cgroup namespace if it has one); where that is refused (a user namespace without
// a cgroup namespace), a bind of the container's cgroup (or of the whole hierarchy).
// cgroup v1 and hybrid hosts: a tmpfs with one entry per v1 hierarchy, either a fresh cgroup
// mount (with a cgroup namespace) or a bind of the container's cgroup directory in that
// hierarchy, plus symlinks for co-mounted controllers ("cpu" -> "cpu,cpuacct"); the tmpfs ends
// read-only when the mount asks for ro. Hierarchies are found by listing /sys/fs/cgroup (a
// dozen statfs calls) rather than parsing mountinfo.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/path.h"
#include "base/strings.h"
#include "runtime/rootfs/internal.h"

namespace berth::runtime::rootfs {
namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
constexpr unsigned long kCgroupFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

bool is_fs(const std::string& path, long magic) {
  struct statfs sf {};
  return ::statfs(path.c_str(), &sf) == 0 && static_cast<long>(sf.f_type) == magic;
}

// Names of the v1 hierarchies mounted under /sys/fs/cgroup ("cpu,cpuacct", "memory", "systemd").
Result<std::vector<std::string>> v1_hierarchies() {
  DIR* d = ::opendir(kCgroupRoot);
  if (!d) return errno_error(std::string("open ") + kCgroupRoot);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN)) continue;
    if (is_fs(std::string(kCgroupRoot) + "/" + name, CGROUP_SUPER_MAGIC)) names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The controllers of a hierarchy as /proc/self/cgroup and CgroupManager::paths() name them.
std::vector<std::string> hierarchy_keys(const std::string& hierarchy) {
  if (hierarchy == "systemd") return {"name=systemd"};
  std::vector<std::string> keys = split(hierarchy, ',');
  keys.push_back("name=" + hierarchy);  // other named hierarchies
  return keys;
}

class CgroupDirs {
 public:
  explicit CgroupDirs(const RootfsOptions& opts) : opts_(opts) {}

  // The container's directory in one v1 hierarchy, as a host path: from cgroup_dirs, else
  // cgroup_path under the hierarchy; asked again for the same hierarchy (that one did not
  // exist), the cgroup the child is in according to /proc/self/cgroup.
  Result<std::string> v1_dir(const std::string& hierarchy) {
    std::string mountpoint = std::string(kCgroupRoot) + "/" + hierarchy;
    for (const std::string& key : hierarchy_keys(hierarchy))
      if (auto it = opts_.cgroup_dirs.find(key); it != opts_.cgroup_dirs.end()) return it->second;
    if (!opts_.cgroup_path.empty() && !tried_path_.contains(hierarchy)) {
      tried_path_.insert(hierarchy);
      return clean_path(mountpoint + "/" + opts_.cgroup_path);
    }
    // Controllers the manager does not handle: the cgroup the child is in, as runc does.
    if (!self_) {
      auto text = read_file("/proc/self/cgroup");
      if (!text) return std::unexpected(std::move(text).error());
      self_ = std::move(*text);
    }
    std::vector<std::string> want = split(hierarchy, ',');
    std::sort(want.begin(), want.end());
    for (const std::string& line : split(*self_, '\n')) {
      auto first = line.find(':'), second = line.find(':', first + 1);
      if (first == std::string::npos || second == std::string::npos) continue;
      std::string controllers = line.substr(first + 1, second - first - 1);
      std::vector<std::string> have = split(controllers, ',');
      std::sort(have.begin(), have.end());
      if (have == want || controllers == "name=" + hierarchy)
        return clean_path(mountpoint + "/" + line.substr(second + 1));
    }
    return make_error(ErrorCode::kNotFound, "no cgroup of this process in " + mountpoint);
  }

  std::string v2_dir() const {
    if (auto it = opts_.cgroup_dirs.find(""); it != opts_.cgroup_dirs.end()) return it->second;
    return clean_path(std::string(kCgroupRoot) + "/" + opts_.cgroup_path);
  }

 private:
  const RootfsOptions& opts_;
  std::optional<std::string> self_;
  std::set<std::string> tried_path_;  // hierarchies already given cgroup_path
};

// Binds source onto target; flags are the caller's (one recursive mount_setattr at the end).
Result<> bind_into(const std::string& source, int target, const MountOptions& o, bool recursive) {
  ASSIGN_OR_RETURN(UniqueFd tree, clone_tree(AT_FDCWD, source, recursive));
  TRY(attach_tree(tree.get(), target));
  return set_propagation(tree.get(), o.propagation);
}

Result<> mount_v2(const MountContext& ctx, const MountOptions& o, const std::string& dest,
                  int dest_fd) {
  unsigned long flags = o.flags & ~static_cast<unsigned long>(MS_BIND | MS_REC);
  auto r = mount_on_fd("cgroup2", dest_fd, "cgroup2", flags, o.data);
  if (r) {
    if (o.propagation.empty() && o.attr_set == 0 && o.attr_clr == 0) return {};
    ASSIGN_OR_RETURN(UniqueFd top, open_in_root(ctx.root, dest, O_PATH | O_DIRECTORY));
    TRY(set_mount_attrs(top.get(), o.attr_set, o.attr_clr, true));
    return set_propagation(top.get(), o.propagation);
  }
  int e = r.error().sys_errno();
  if (e != EPERM && e != EBUSY) return r;
  // A user namespace without its own cgroup namespace cannot mount cgroup2 (runc #2158).
  std::string source = ctx.has_cgroupns ? CgroupDirs(*ctx.opts).v2_dir() : kCgroupRoot;
  TRY(bind_into(source, dest_fd, o, false));
  ASSIGN_OR_RETURN(UniqueFd top, open_in_root(ctx.root, dest, O_PATH | O_DIRECTORY));
  uint64_t set, clr;
  mount_flags_to_attrs(o, &set, &clr);
  TRY(set_mount_attrs(top.get(), set, clr, false));
  return set_mount_attrs(top.get(), o.attr_set, o.attr_clr, true);
}

Result<> mount_v1(const MountContext& ctx, const MountOptions& o, const std::string& dest,
                  int dest_fd) {
  ASSIGN_OR_RETURN(std::vector<std::string> hierarchies, v1_hierarchies());
  std::string data = "mode=755";
  if (!ctx.mount_label.empty()) data += ",context=\"" + ctx.mount_label + "\"";
  TRY(mount_on_fd("tmpfs", dest_fd, "tmpfs", kCgroupFlags, data));
  ASSIGN_OR_RETURN(UniqueFd dir, open_in_root(ctx.root, dest, O_PATH | O_DIRECTORY));
  TRY(set_propagation(dir.get(), o.propagation));
  CgroupDirs dirs(*ctx.opts);
  for (const std::string& h : hierarchies) {
    // A fresh tmpfs of ours: plain *at calls relative to its fd are safe.
    if (::mkdirat(dir.get(), h.c_str(), 0755) != 0 && errno != EEXIST)
      return errno_error("mkdir " + dest + "/" + h);
    int fd = ::openat(dir.get(), h.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + dest + "/" + h);
    UniqueFd sub(fd);
    if (ctx.has_cgroupns) {
      bool named = h == "systemd";
      TRY_CTX(mount_on_fd(named ? "systemd" : "cgroup", sub.get(), "cgroup", kCgroupFlags,
                          named ? "name=systemd" : h),
              "mount cgroup " + h);
    } else {
      // cgroup_path first; where the manager made no directory, the child's own cgroup.
      ASSIGN_OR_RETURN(std::string source, dirs.v1_dir(h));
      auto r = bind_into(source, sub.get(), o, true);
      if (!r && r.error().sys_errno() == ENOENT) {
        ASSIGN_OR_RETURN(source, dirs.v1_dir(h));
        r = bind_into(source, sub.get(), o, true);
      }
      TRY_CTX(r, "bind " + source);
    }
    if (h.find(',') != std::string::npos) {
      for (const std::string& c : split(h, ','))
        if (::symlinkat(h.c_str(), dir.get(), c.c_str()) != 0 && errno != EEXIST)
          return errno_error("symlink " + dest + "/" + c);
    }
  }
  // The mount's flags (ro, nosuid ...) on the tmpfs and every hierarchy in one call.
  uint64_t set, clr;
  mount_flags_to_attrs(o, &set, &clr);
  TRY(set_mount_attrs(dir.get(), set, clr, true));
  return set_mount_attrs(dir.get(), o.attr_set, o.attr_clr, true);
}

}  // namespace

Result<> mount_cgroup(const MountContext& ctx, const MountOptions& o, const std::string& dest,
                      int dest_fd) {
  if (is_fs(kCgroupRoot, CGROUP2_SUPER_MAGIC)) return mount_v2(ctx, o, dest, dest_fd);
  return mount_v1(ctx, o, dest, dest_fd);
}

}  // namespace berth::runtime::rootfs
