// The cgroup v2 writers, one per controller, following runc's fs2 package: v1-shaped OCI values
// are converted (convert.h), 0 leaves a limit unset, -1 becomes "max", values v2 has no file
// for are ignored as runc ignores them (swappiness, kernel memory, OOM-killer switch, leaf
// weights), and the unified map is written verbatim after validation.
#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "base/strings.h"
#include "base/unique_fd.h"
#include "runtime/cgroups/convert.h"
#include "runtime/cgroups/devices.h"
#include "runtime/cgroups/ebpf.h"
#include "runtime/cgroups/internal.h"

namespace berth::runtime::cgroups::detail::v2 {

namespace {

Result<> put(std::string_view field, const std::string& dir, std::string_view file,
             std::string_view value) {
  auto r = write_cg(dir, file, value);
  if (!r) return std::unexpected(field_error(field, std::move(r).error()));
  return {};
}

Result<> put_lines(std::string_view field, const std::string& dir, std::string_view file,
                   const std::vector<std::string>& lines) {
  auto r = write_cg_lines(dir, file, lines);
  if (!r) return std::unexpected(field_error(field, std::move(r).error()));
  return {};
}

std::unexpected<Error> invalid(std::string_view field, std::string msg) {
  return std::unexpected(field_error(field, Error(ErrorCode::kInvalidArgument, std::move(msg))));
}

int64_t val(const std::optional<int64_t>& v) {
  return v.value_or(0);
}

}  // namespace

Result<> apply_memory(const std::string& dir, const oci::MemoryResources& m) {
  int64_t limit = val(m.limit), swap = val(m.swap), reservation = val(m.reservation);
  if (limit == 0 && swap == 0 && reservation == 0) return {};
  if (m.check_before_update.value_or(false) && (limit > 0 || swap > 0)) {
    // Refuse a limit below current usage instead of letting the kernel reclaim or OOM-kill.
    auto cur = read_cg(dir, "memory.current");
    if (!cur)
      return std::unexpected(field_error("memory.checkBeforeUpdate", std::move(cur).error()));
    uint64_t usage = parse_uint(*cur).value_or(0);
    if (swap > 0 && static_cast<uint64_t>(swap) <= usage)
      return invalid("memory.swap", "rejecting memory+swap limit " + std::to_string(swap) +
                                        " <= usage " + std::to_string(usage));
    if (limit > 0 && static_cast<uint64_t>(limit) <= usage)
      return invalid("memory.limit", "rejecting memory limit " + std::to_string(limit) +
                                         " <= usage " + std::to_string(usage));
  }
  auto swap_v2 = memory_swap_to_v2(swap, limit);
  if (!swap_v2) return std::unexpected(field_error("memory.swap", std::move(swap_v2).error()));
  std::string swap_str = v2_limit(*swap_v2);
  if (*swap_v2 == 0 && swap > 0) swap_str = "0";  // memory == memory+swap: no swap at all
  if (!swap_str.empty()) {
    auto r = write_cg(dir, "memory.swap.max", swap_str);
    // Without swap accounting there is no file; "max" and "0" are then already true.
    if (!r && !(r.error().sys_errno() == ENOENT && (swap_str == "max" || swap_str == "0")))
      return std::unexpected(field_error("memory.swap", std::move(r).error()));
  }
  if (limit != 0) TRY(put("memory.limit", dir, "memory.max", v2_limit(limit)));
  if (reservation != 0) TRY(put("memory.reservation", dir, "memory.low", v2_limit(reservation)));
  return {};
}

Result<> apply_cpu(const std::string& dir, const oci::CpuResources& c) {
  if (val(c.realtime_runtime) != 0)
    return invalid("cpu.realtimeRuntime", "realtime scheduling is not supported on cgroup v2");
  if (c.realtime_period && *c.realtime_period)
    return invalid("cpu.realtimePeriod", "realtime scheduling is not supported on cgroup v2");
  if (c.shares && *c.shares)
    TRY(put("cpu.shares", dir, "cpu.weight", std::to_string(cpu_shares_to_weight(*c.shares))));
  if (c.idle) TRY(put("cpu.idle", dir, "cpu.idle", std::to_string(*c.idle)));
  std::string cpu_max_value = cpu_max(c.quota, c.period);
  std::string burst;
  if (c.burst) {
    auto r = write_cg(dir, "cpu.max.burst", std::to_string(*c.burst));
    if (!r && r.error().sys_errno() != ENOENT) {  // no burst knob (kernel < 5.14): skip
      // A burst above the old quota is refused; retry once the new quota is in.
      if (r.error().sys_errno() != EINVAL || cpu_max_value.empty())
        return std::unexpected(field_error("cpu.burst", std::move(r).error()));
      burst = std::to_string(*c.burst);
    }
  }
  if (!cpu_max_value.empty()) {
    std::string_view field = val(c.quota) != 0 ? "cpu.quota" : "cpu.period";
    TRY(put(field, dir, "cpu.max", cpu_max_value));
    if (!burst.empty()) TRY(put("cpu.burst", dir, "cpu.max.burst", burst));
  }
  return {};
}

Result<> apply_cpuset(const std::string& dir, const oci::CpuResources& c) {
  if (!c.cpus.empty()) TRY(put("cpu.cpus", dir, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) TRY(put("cpu.mems", dir, "cpuset.mems", c.mems));
  return {};
}

Result<> apply_pids(const std::string& dir, const oci::PidsResources& p) {
  return put("pids.limit", dir, "pids.max", p.limit > 0 ? std::to_string(p.limit) : "max");
}

Result<> apply_io(const std::string& dir, const oci::BlockIoResources& b) {
  // BFQ takes the v1 weight unchanged; without BFQ io.weight takes the converted one.
  bool bfq = true;
  if (b.weight && *b.weight) {
    auto r = write_cg(dir, "io.bfq.weight", std::to_string(*b.weight));
    if (!r) {
      if (r.error().sys_errno() != ENOENT)
        return std::unexpected(field_error("blockIO.weight", std::move(r).error()));
      bfq = false;
      TRY(put("blockIO.weight", dir, "io.weight",
              std::to_string(blkio_weight_to_io_weight(*b.weight))));
    }
  } else if (!b.weight_device.empty()) {
    bfq = cg_exists(dir, "io.bfq.weight");
  }
  std::vector<std::string> weights;
  for (const auto& wd : b.weight_device) {
    if (!wd.weight || !*wd.weight) continue;  // leaf weights have no v2 counterpart
    uint64_t w = bfq ? *wd.weight : blkio_weight_to_io_weight(*wd.weight);
    weights.push_back(std::to_string(wd.major) + ":" + std::to_string(wd.minor) + " " +
                      std::to_string(w));
  }
  TRY(put_lines("blockIO.weightDevice", dir, bfq ? "io.bfq.weight" : "io.weight", weights));
  std::vector<std::string> max;
  auto add = [&](const std::vector<oci::ThrottleDevice>& list, const char* key) {
    for (const auto& t : list)
      max.push_back(std::to_string(t.major) + ":" + std::to_string(t.minor) + " " + key + "=" +
                    std::to_string(t.rate));
  };
  add(b.throttle_read_bps, "rbps");
  add(b.throttle_write_bps, "wbps");
  add(b.throttle_read_iops, "riops");
  add(b.throttle_write_iops, "wiops");
  return put_lines("blockIO", dir, "io.max", max);
}

Result<> apply_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
  if (limits.empty()) return {};
  auto controllers = read_cg(dir, "cgroup.controllers");
  if (!controllers)
    return std::unexpected(field_error("hugepageLimits", std::move(controllers).error()));
  auto have = words(*controllers);
  if (std::find(have.begin(), have.end(), "hugetlb") == have.end())
    return std::unexpected(
        field_error("hugepageLimits",
                    Error(ErrorCode::kFailedPrecondition, "hugetlb cgroup controller not found")));
  bool rsvd = true;
  for (size_t i = 0; i < limits.size(); ++i) {
    const auto& l = limits[i];
    std::string field = "hugepageLimits[" + std::to_string(i) + "]";
    std::string value = std::to_string(l.limit);
    TRY(put(field, dir, "hugetlb." + l.page_size + ".max", value));
    if (!rsvd) continue;
    auto r = write_cg(dir, "hugetlb." + l.page_size + ".rsvd.max", value);
    if (!r) {
      if (r.error().sys_errno() != ENOENT)
        return std::unexpected(field_error(field, std::move(r).error()));
      rsvd = false;
    }
  }
  return {};
}

Result<> apply_unified(const std::string& dir, const std::map<std::string, std::string>& unified) {
  // Keys were validated (no '/', no "..") before anything was written.
  for (const auto& [key, value] : unified) {
    auto r = write_cg(dir, key, value);
    if (!r) {
      Error e = std::move(r).error();
      if (e.sys_errno() == ENOENT) {
        auto dot = key.find('.');
        e = Error(ErrorCode::kNotFound,
                  e.message() + " (is the " + key.substr(0, dot) + " controller enabled?)", ENOENT);
      }
      return std::unexpected(field_error("unified." + key, std::move(e)));
    }
  }
  return {};
}

Result<> apply_devices(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules) {
  ASSIGN_OR_RETURN(auto emulator, DeviceEmulator::from_rules(rules));
  auto prog = device_filter_program(emulator);
  if (!prog) return std::unexpected(field_error("devices", std::move(prog).error()));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(field_error("devices", Error::last("open " + dir)));
  UniqueFd dirfd(fd);
  auto r = attach_device_filter(dirfd.get(), *prog);
  if (!r) return std::unexpected(field_error("devices", std::move(r).error()));
  return {};
}

void enable_controllers(const std::string& root, const std::string& dir,
                        const std::vector<std::string>& controllers) {
  if (controllers.empty() || dir.size() <= root.size()) return;
  std::string all;
  for (const auto& c : controllers) {
    if (!all.empty()) all += ' ';
    all += '+';
    all += c;
  }
  // The levels above dir: root, then each intermediate directory.
  std::vector<std::string> levels{root};
  std::vector<std::string> parts;
  for (auto& p : split(std::string_view(dir).substr(root.size()), '/'))
    if (!p.empty()) parts.push_back(std::move(p));
  for (size_t i = 0; i + 1 < parts.size(); ++i) levels.push_back(levels.back() + "/" + parts[i]);
  for (const auto& level : levels) {
    if (write_cg(level, "cgroup.subtree_control", all)) continue;
    for (const auto& c : controllers) (void)write_cg(level, "cgroup.subtree_control", "+" + c);
  }
}

}  // namespace berth::runtime::cgroups::detail::v2
