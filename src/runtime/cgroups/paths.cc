// Where a container's cgroup lives. linux.cgroupsPath is resolved as runc's cgroupfs driver does:
// absolute → under each hierarchy's root; relative → under the runtime's own cgroup from
// /proc/self/cgroup (per hierarchy on v1; on pure v2 under the parent of our cgroup, because our
// own cgroup holds processes and could not enable controllers for a child); empty → the container
// id, relative. runc clamps ".." silently (CleanPath); we refuse a path that climbs out instead.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <mutex>

#include "base/file.h"
#include "base/path.h"
#include "base/strings.h"
#include "runtime/cgroups/internal.h"

namespace berth::runtime::cgroups::detail {

namespace {

// The v1 controllers runc's fs manager joins (plus name=systemd, which it joins too).
constexpr std::string_view kV1Controllers[] = {
    "cpuset",   "cpu",   "cpuacct",    "memory",  "devices", "freezer", "net_cls",
    "net_prio", "blkio", "perf_event", "hugetlb", "pids",    "rdma",    "misc"};

bool known_v1_controller(std::string_view name) {
  return std::find(std::begin(kV1Controllers), std::end(kV1Controllers), name) !=
         std::end(kV1Controllers);
}

Result<std::vector<V1Hierarchy>> scan_v1_hierarchies(const std::string& root) {
  DIR* d = ::opendir(root.c_str());
  if (!d) return errno_error("opendir " + root);
  std::vector<V1Hierarchy> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || name == "unified") continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
    }
    // "cpu" -> "cpu,cpuacct" style symlinks name a co-mount that is listed by its real name.
    if (type != DT_DIR) continue;
    V1Hierarchy h;
    h.name = std::string(name);
    h.mount = root + "/" + h.name;
    if (name == "systemd") {
      h.controllers.push_back("name=systemd");
    } else {
      for (auto& c : split(name, ','))
        if (known_v1_controller(c)) h.controllers.push_back(std::move(c));
    }
    if (!h.controllers.empty()) out.push_back(std::move(h));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end(),
            [](const V1Hierarchy& a, const V1Hierarchy& b) { return a.name < b.name; });
  return out;
}

}  // namespace

Result<std::vector<V1Hierarchy>> v1_hierarchies(const std::string& root) {
  // Every runtime command resolves the same root, often several times: scan it once.
  static std::mutex mu;
  static std::map<std::string, std::vector<V1Hierarchy>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(root); it != cache.end()) return it->second;
  ASSIGN_OR_RETURN(auto found, scan_v1_hierarchies(root));
  cache.emplace(root, found);
  return found;
}

std::string join_path(std::string_view a, std::string_view b) {
  std::string s(a);
  s += '/';
  s += b;
  return clean_path(s);
}

Result<std::string> clean_cgroups_path(std::string_view path) {
  if (path.empty()) return std::string();
  bool absolute = path.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty())
        return make_error(ErrorCode::kInvalidArgument, "linux.cgroupsPath: " + std::string(path) +
                                                           ": \"..\" leaves the cgroup root");
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  if (parts.empty())
    return make_error(ErrorCode::kInvalidArgument, "linux.cgroupsPath: " + std::string(path) +
                                                       ": names no cgroup below the root");
  std::string out = absolute ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_proc_cgroup(std::string_view content) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) eol = content.size();
    std::string_view line = content.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    // hierarchy-ID:controller-list:cgroup-path (the path may itself contain ':')
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos)
      return make_error(ErrorCode::kInvalidArgument, "invalid cgroup entry \"" + std::string(line) +
                                                         "\": want id:controllers:path");
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (controllers.empty()) {
      out[""] = path;
      continue;
    }
    for (auto& c : split(controllers, ',')) out[c] = path;
  }
  return out;
}

Result<std::map<std::string, std::string>> resolve_paths(const CgroupConfig& config, Mode mode,
                                                         const std::vector<V1Hierarchy>& v1) {
  std::string inner;
  if (config.cgroups_path.empty()) {
    // runc: no cgroupsPath → Name = container id, no Parent → a relative path.
    const std::string& id = config.container_id;
    if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos)
      return make_error(ErrorCode::kInvalidArgument,
                        "cgroup: container id \"" + id + "\" cannot name a cgroup");
    inner = id;
  } else {
    ASSIGN_OR_RETURN(inner, clean_cgroups_path(config.cgroups_path));
  }
  const bool absolute = inner.front() == '/';

  std::map<std::string, std::string> own;
  if (!absolute) {
    ASSIGN_OR_RETURN(auto content, read_file(config.proc_self_cgroup));
    ASSIGN_OR_RETURN(own, parse_proc_cgroup(content));
  }

  std::map<std::string, std::string> out;
  if (mode == Mode::kV2) {
    std::string base = "/";
    if (!absolute) {
      auto it = own.find("");
      if (it == own.end())
        return make_error(ErrorCode::kNotFound, "no cgroup v2 entry in " + config.proc_self_cgroup);
      // Our own cgroup has processes in it, so (no internal processes) it cannot delegate
      // domain controllers to a child: go next to it, under its parent, as runc does.
      std::string parent = clean_path(it->second);
      auto slash = parent.find_last_of('/');
      base = slash == 0 || slash == std::string::npos ? "/" : parent.substr(0, slash);
    }
    out[""] = join_path(config.root, join_path(base, inner));
    return out;
  }

  for (const auto& h : v1) {
    std::string dir;
    if (absolute) {
      dir = join_path(h.mount, inner);
    } else {
      auto it = own.find(h.controllers.front());
      if (it == own.end()) {
        // A hierarchy we are not a member of (not in our /proc/self/cgroup): runc fails only
        // for devices, whose absence would silently lift the device restrictions.
        if (std::find(h.controllers.begin(), h.controllers.end(), "devices") != h.controllers.end())
          return make_error(ErrorCode::kNotFound, "cgroup: devices hierarchy " + h.mount +
                                                      " not found in " + config.proc_self_cgroup);
        continue;
      }
      dir = join_path(h.mount, join_path(it->second, inner));
    }
    for (const auto& c : h.controllers) out[c] = dir;
  }
  if (mode == Mode::kHybrid) {
    std::string unified_root = config.root + "/unified";
    if (absolute) {
      out[""] = join_path(unified_root, inner);
    } else if (auto it = own.find(""); it != own.end()) {
      // The hybrid unified hierarchy has no controllers, so no internal-process rule applies:
      // runc's "" subsystem goes under our own cgroup, like the v1 ones.
      out[""] = join_path(unified_root, join_path(it->second, inner));
    }
  }
  return out;
}

}  // namespace berth::runtime::cgroups::detail
