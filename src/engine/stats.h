// One `docker stats` sample for a container, read from its cgroup (v1, v2 or hybrid: the keys of
// cgroup_paths tell which) and from /proc (host CPU time, MemTotal, the container's net/dev).
// The JSON is docker's (notes/engine.md §2.6): read/preread, cpu_stats/precpu_stats,
// memory_stats, pids_stats, blkio_stats, networks; the caller adds "name" and "id".
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/json.h"

namespace berth::engine {

// Where host-wide numbers come from; tests point these at a fake tree.
struct StatsSources {
  std::string proc_root = "/proc";  // <proc_root>/stat, /meminfo, /<pid>/net/dev
  std::optional<int> online_cpus;   // default: sysconf(_SC_NPROCESSORS_ONLN)
};

// cgroup_paths: controller -> directory, as runtime::ContainerState::cgroup_paths ("memory",
// "cpuacct", "pids", "blkio", ... on v1 and hybrid; "" (or "unified") alone on v2). pid is the
// container's init, for its network namespace's /proc/<pid>/net/dev (0: no networks). previous
// is the last sample (or null): its cpu_stats become precpu_stats and its read becomes preread.
// A file missing from the cgroup reads as zero; a missing cgroup directory is NotFound.
Result<json::Json> read_stats(const std::map<std::string, std::string>& cgroup_paths, pid_t pid,
                              const json::Json& previous, const StatsSources& sources = {});

// Host CPU time in nanoseconds from <proc_root>/stat (docker's system_cpu_usage).
Result<uint64_t> system_cpu_usage_ns(const std::string& proc_root = "/proc");

// docker's "networks" object from a /proc/<pid>/net/dev text: every interface but lo.
json::Json parse_net_dev(const std::string& text);

}  // namespace berth::engine
