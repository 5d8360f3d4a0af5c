// Picks the cgroup backend for this host. Detection is two statfs calls at most and works on a
// fake tree: a cgroup2 mount at root is v2, a cgroup2 mount at root/unified is hybrid, and for a
// tree that is not cgroupfs at all (tests) the marker file cgroup.controllers plays the mount.
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "runtime/cgroups/internal.h"
#include "runtime/cgroups/manager.h"
#include "runtime/cgroups/v1.h"
#include "runtime/cgroups/v2.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

namespace berth::runtime::cgroups {

namespace {

bool is_fs(const std::string& path, unsigned long magic) {
  struct statfs sf;
  return ::statfs(path.c_str(), &sf) == 0 && static_cast<unsigned long>(sf.f_type) == magic;
}

Result<std::unique_ptr<CgroupManager>> systemd_driver() {
  if (!path_exists("/run/systemd/system"))
    return make_error(
        ErrorCode::kFailedPrecondition,
        "systemd cgroup driver requested (--systemd-cgroup) but systemd is not running");
  return make_error(ErrorCode::kUnimplemented,
                    "the systemd cgroup driver (--systemd-cgroup) is not implemented yet: run "
                    "without --systemd-cgroup to use the cgroupfs driver");
}

}  // namespace

Result<Mode> detect_mode(const std::string& root) {
  struct statfs sf;
  if (::statfs(root.c_str(), &sf) != 0) return errno_error("statfs " + root);
  auto type = static_cast<unsigned long>(sf.f_type);
  if (type == CGROUP2_SUPER_MAGIC) return Mode::kV2;
  if (type == CGROUP_SUPER_MAGIC) return Mode::kV1;  // a single v1 hierarchy mounted at root
  const std::string unified = root + "/unified";
  if (is_fs(unified, CGROUP2_SUPER_MAGIC)) return Mode::kHybrid;
  // Not cgroupfs: a fake tree (tests) says what it stands for with cgroup.controllers.
  if (::access((root + "/cgroup.controllers").c_str(), F_OK) == 0) return Mode::kV2;
  if (::access((unified + "/cgroup.controllers").c_str(), F_OK) == 0) return Mode::kHybrid;
  return Mode::kV1;
}

Result<std::unique_ptr<CgroupManager>> make_cgroup_manager(const CgroupConfig& config) {
  if (config.systemd) return systemd_driver();
  Mode mode;
  if (config.mode) {
    mode = *config.mode;
  } else {
    ASSIGN_OR_RETURN(mode, detect_mode(config.root));
  }
  std::string root = config.root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();

  std::vector<detail::V1Hierarchy> v1;
  if (mode != Mode::kV2) {
    ASSIGN_OR_RETURN(v1, detail::v1_hierarchies(root));
    if (v1.empty())
      return make_error(ErrorCode::kFailedPrecondition,
                        "no cgroup v1 hierarchy found under " + root);
  }
  std::map<std::string, std::string> paths = config.paths;
  if (paths.empty()) {
    CgroupConfig resolved = config;
    resolved.root = root;
    ASSIGN_OR_RETURN(paths, detail::resolve_paths(resolved, mode, v1));
  }

  if (mode == Mode::kV2) {
    auto it = paths.find("");
    if (it == paths.end())
      return make_error(ErrorCode::kInvalidArgument, "cgroup paths lack the cgroup v2 directory");
    return std::make_unique<CgroupV2Manager>(root, it->second);
  }
  std::vector<CgroupV1Manager::Hierarchy> hierarchies;
  for (const auto& h : v1) {
    auto it = std::find_if(h.controllers.begin(), h.controllers.end(),
                           [&](const std::string& c) { return paths.contains(c); });
    if (it == h.controllers.end()) continue;  // not ours (not in /proc/self/cgroup, or state)
    hierarchies.push_back({h.controllers, h.mount, paths[*it]});
  }
  std::string unified;
  if (mode == Mode::kHybrid)
    if (auto it = paths.find(""); it != paths.end()) unified = it->second;
  return std::make_unique<CgroupV1Manager>(mode, root, std::move(hierarchies), std::move(unified));
}

}  // namespace berth::runtime::cgroups
