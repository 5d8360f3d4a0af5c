// Internals shared by the cgroup managers (not for callers outside runtime/cgroups): cgroup-file
// helpers whose errors name the file ("write memory.max: device or resource busy"), cgroups_path
// resolution and v1 hierarchy discovery, the up-front resource validation, and the
// per-controller writers. The v2 writers are shared: the hybrid manager uses them for
// controllers that the host bound to the unified hierarchy instead of a v1 mount.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"
#include "runtime/cgroups/manager.h"

namespace berth::runtime::cgroups::detail {

// ---- cgroup files (util.cc) ----

// One open + one write(2) of value to dir/file; errors read "write <file>: <reason>".
Result<> write_cg(const std::string& dir, std::string_view file, std::string_view value);
// One open, then one write(2) per line (newline-terminated): io.max, devices.allow, ifpriomap.
Result<> write_cg_lines(const std::string& dir, std::string_view file,
                        const std::vector<std::string>& lines);
Result<std::string> read_cg(const std::string& dir, std::string_view file);
bool cg_exists(const std::string& dir, std::string_view file);
// The number after `key` in a "key value" file (memory.events, memory.oom_control).
std::optional<uint64_t> find_key(std::string_view content, std::string_view key);
// Whitespace-separated words (cgroup.controllers).
std::vector<std::string> words(std::string_view s);
// cgroup.procs of dir and every cgroup below it.
Result<std::vector<pid_t>> read_procs_recursive(const std::string& dir);
// Writes pid to dir/cgroup.procs, retrying EINVAL (a task still in TASK_NEW) like runc.
Result<> add_pid(const std::string& dir, pid_t pid);
// rmdir of dir and its child cgroups, bottom-up; a missing dir is fine; EBUSY is retried for
// about one second (processes that were just killed may still be exiting).
Result<> remove_cgroup(const std::string& dir);
// "linux.resources.<field>: <inner>"
Error field_error(std::string_view field, Error inner);

// ---- paths (paths.cc) ----

struct V1Hierarchy {
  std::string name;                      // directory under root: "memory", "cpu,cpuacct"
  std::vector<std::string> controllers;  // "cpu", "cpuacct"; "name=systemd" for "systemd"
  std::string mount;                     // root + "/" + name
};

// The v1 hierarchies mounted under root, found from the directory names (systemd and
// cgroupfs-mount name each mount after its controllers; co-mounts get symlinks that are
// skipped). Cached per root for the life of the process.
Result<std::vector<V1Hierarchy>> v1_hierarchies(const std::string& root);
// Lexically cleans linux.cgroupsPath; ".." that climbs above the start, "/" and "." are errors.
Result<std::string> clean_cgroups_path(std::string_view path);
// /proc/<pid>/cgroup → controller → path ("" for the v2 entry; "name=systemd" kept as is).
Result<std::map<std::string, std::string>> parse_proc_cgroup(std::string_view content);
// The container's directories keyed as in CgroupManager::paths().
Result<std::map<std::string, std::string>> resolve_paths(const CgroupConfig& config, Mode mode,
                                                         const std::vector<V1Hierarchy>& v1);
// a + "/" + b, cleaned.
std::string join_path(std::string_view a, std::string_view b);

// ---- validation (validate.cc) ----

// Checks every value before anything is written, so a bad request changes nothing.
Result<> validate_resources(const oci::Resources& r);
bool memory_requested(const oci::Resources& r);
bool cpu_requested(const oci::Resources& r);  // everything in linux.resources.cpu but cpus/mems
bool cpuset_requested(const oci::Resources& r);
bool pids_requested(const oci::Resources& r);
bool blkio_requested(const oci::Resources& r);

// ---- v1 writers (v1_resources.cc); dir is the container's directory in that hierarchy ----

namespace v1 {
Result<> apply_memory(const std::string& dir, const oci::MemoryResources& m);
Result<> apply_cpu(const std::string& dir, const oci::CpuResources& c);
Result<> apply_cpuset(const std::string& dir, const oci::CpuResources& c);
Result<> apply_pids(const std::string& dir, const oci::PidsResources& p);
Result<> apply_blkio(const std::string& dir, const oci::BlockIoResources& b);
Result<> apply_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);
Result<> apply_net_cls(const std::string& dir, const oci::NetworkResources& n);
Result<> apply_net_prio(const std::string& dir, const oci::NetworkResources& n);
Result<> apply_devices(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules);
// Creates the directories from mount down to dir, copying cpuset.cpus/mems from the parent
// into every level where they are empty (tasks cannot join a cpuset without them).
Result<> create_cpuset(const std::string& mount, const std::string& dir);
}  // namespace v1

// ---- v2 writers (v2_resources.cc) ----

namespace v2 {
Result<> apply_memory(const std::string& dir, const oci::MemoryResources& m);
Result<> apply_cpu(const std::string& dir, const oci::CpuResources& c);
Result<> apply_cpuset(const std::string& dir, const oci::CpuResources& c);
Result<> apply_pids(const std::string& dir, const oci::PidsResources& p);
Result<> apply_io(const std::string& dir, const oci::BlockIoResources& b);
Result<> apply_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits);
Result<> apply_unified(const std::string& dir, const std::map<std::string, std::string>& unified);
Result<> apply_devices(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules);
// Writes "+c1 +c2" to cgroup.subtree_control of root and every directory between it and dir
// (dir itself excluded), falling back to one controller at a time; errors are ignored like
// runc (a populated parent cannot enable domain controllers; the writers report what fails).
void enable_controllers(const std::string& root, const std::string& dir,
                        const std::vector<std::string>& controllers);
}  // namespace v2

}  // namespace berth::runtime::cgroups::detail
