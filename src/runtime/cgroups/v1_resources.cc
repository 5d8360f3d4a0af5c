// The cgroup v1 writers, one per controller, in runc's file order and with runc's semantics
// (libcontainer/cgroups/fs): 0 leaves a limit unset, writes whose order the kernel checks
// (memory vs memsw, cfs period vs quota) are sequenced so that updates in either direction pass,
// and every error names the resource field.
#include <sys/stat.h>
#include <sys/statfs.h>

#include <atomic>
#include <cerrno>

#include "base/strings.h"
#include "runtime/cgroups/devices.h"
#include "runtime/cgroups/internal.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

namespace berth::runtime::cgroups::detail::v1 {

namespace {

std::string num(int64_t v) {
  return std::to_string(v);
}
std::string unum(uint64_t v) {
  return std::to_string(v);
}

// Writes value, prefixing the field on error.
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

int64_t val(const std::optional<int64_t>& v) {
  return v.value_or(0);
}

}  // namespace

Result<> apply_memory(const std::string& dir, const oci::MemoryResources& m) {
  constexpr std::string_view kLimit = "memory.limit_in_bytes",
                             kMemsw = "memory.memsw.limit_in_bytes";
  int64_t limit = val(m.limit), swap = val(m.swap);
  // Unlimited memory with swap left unset means unlimited memory+swap too (where swap
  // accounting exists), or the old memsw limit would cap the new memory limit.
  if (limit == -1 && swap == 0 && cg_exists(dir, kMemsw)) swap = -1;
  // The kernel requires limit <= memsw at every step: when raising, memsw goes first.
  bool swap_first = false;
  if (limit != 0 && swap != 0) {
    auto cur = read_cg(dir, kLimit);
    if (!cur) return std::unexpected(field_error("memory.limit", std::move(cur).error()));
    auto cur_limit = parse_uint(*cur);
    swap_first = swap == -1 || (cur_limit && *cur_limit < static_cast<uint64_t>(swap));
  }
  if (swap_first) TRY(put("memory.swap", dir, kMemsw, num(swap)));
  if (limit != 0) TRY(put("memory.limit", dir, kLimit, num(limit)));
  if (!swap_first && swap != 0) TRY(put("memory.swap", dir, kMemsw, num(swap)));

  if (val(m.reservation) != 0)
    TRY(put("memory.reservation", dir, "memory.soft_limit_in_bytes", num(*m.reservation)));
  // Kernel memory limits are deprecated (write-only stubs or gone on recent kernels): set them
  // only where the file exists and accepts a value.
  auto put_optional = [&](std::string_view field, std::string_view file, int64_t v) -> Result<> {
    if (v == 0 || !cg_exists(dir, file)) return {};
    auto r = write_cg(dir, file, num(v));
    if (!r && r.error().sys_errno() != EOPNOTSUPP && r.error().sys_errno() != ENOENT)
      return std::unexpected(field_error(field, std::move(r).error()));
    return {};
  };
  TRY(put_optional("memory.kernel", "memory.kmem.limit_in_bytes", val(m.kernel)));
  TRY(put_optional("memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes", val(m.kernel_tcp)));
  // Like runc, only "true" is written: the kernel default is enabled, and writing "0" on every
  // create (engines often send false explicitly) would be a wasted write.
  if (m.disable_oom_killer.value_or(false))
    TRY(put("memory.disableOOMKiller", dir, "memory.oom_control", "1"));
  if (m.swappiness && *m.swappiness != UINT64_MAX)
    TRY(put("memory.swappiness", dir, "memory.swappiness", unum(*m.swappiness)));
  return {};
}

Result<> apply_cpu(const std::string& dir, const oci::CpuResources& c) {
  if (c.shares && *c.shares) {
    TRY(put("cpu.shares", dir, "cpu.shares", unum(*c.shares)));
    // The kernel clamps out-of-range shares silently: read back and say so, like runc.
    auto got = read_cg(dir, "cpu.shares");
    if (!got) return std::unexpected(field_error("cpu.shares", std::move(got).error()));
    if (auto v = parse_uint(*got); v && *v != *c.shares)
      return std::unexpected(field_error(
          "cpu.shares", Error(ErrorCode::kInvalidArgument,
                              std::string(*c.shares > *v ? "the maximum" : "the minimum") +
                                  " allowed cpu-shares is " + unum(*v))));
  }
  int64_t quota = val(c.quota);
  // A smaller period (or larger burst) can be refused (EINVAL) while the old quota is in place
  // and the parent's limit would be exceeded: retry after the quota when one is coming.
  std::string period, burst;
  if (c.period && *c.period) {
    auto r = write_cg(dir, "cpu.cfs_period_us", unum(*c.period));
    if (!r) {
      if (r.error().sys_errno() != EINVAL || quota == 0)
        return std::unexpected(field_error("cpu.period", std::move(r).error()));
      period = unum(*c.period);
    }
  }
  if (c.burst) {
    auto r = write_cg(dir, "cpu.cfs_burst_us", unum(*c.burst));
    if (!r && r.error().sys_errno() != ENOENT) {  // no burst knob (kernel < 5.14): skip
      if (r.error().sys_errno() != EINVAL || quota == 0)
        return std::unexpected(field_error("cpu.burst", std::move(r).error()));
      burst = unum(*c.burst);
    }
  }
  if (quota != 0) {
    TRY(put("cpu.quota", dir, "cpu.cfs_quota_us", num(quota)));
    if (!period.empty()) TRY(put("cpu.period", dir, "cpu.cfs_period_us", period));
    if (!burst.empty()) TRY(put("cpu.burst", dir, "cpu.cfs_burst_us", burst));
  }
  if (c.realtime_period && *c.realtime_period)
    TRY(put("cpu.realtimePeriod", dir, "cpu.rt_period_us", unum(*c.realtime_period)));
  if (val(c.realtime_runtime) != 0)
    TRY(put("cpu.realtimeRuntime", dir, "cpu.rt_runtime_us", num(*c.realtime_runtime)));
  if (c.idle) TRY(put("cpu.idle", dir, "cpu.idle", num(*c.idle)));
  return {};
}

// The cpuset files are "cpuset.cpus" unless the hierarchy is mounted with noprefix (Android).
static std::string cpuset_file(const std::string& dir, std::string_view name) {
  static std::atomic<int> prefixed{-1};  // probed once per process, like runc
  int p = prefixed.load(std::memory_order_relaxed);
  if (p < 0) {
    if (cg_exists(dir, "cpuset." + std::string(name)))
      p = 1;
    else if (cg_exists(dir, name))
      p = 0;
    else
      return "cpuset." + std::string(name);
    prefixed.store(p, std::memory_order_relaxed);
  }
  return p ? "cpuset." + std::string(name) : std::string(name);
}

Result<> apply_cpuset(const std::string& dir, const oci::CpuResources& c) {
  if (!c.cpus.empty()) TRY(put("cpu.cpus", dir, cpuset_file(dir, "cpus"), c.cpus));
  if (!c.mems.empty()) TRY(put("cpu.mems", dir, cpuset_file(dir, "mems"), c.mems));
  return {};
}

Result<> create_cpuset(const std::string& mount, const std::string& dir) {
  std::string cpus_file = cpuset_file(mount, "cpus"), mems_file = cpuset_file(mount, "mems");
  auto read_trimmed = [](const std::string& d, const std::string& f) -> Result<std::string> {
    ASSIGN_OR_RETURN(auto s, read_cg(d, f));
    return std::string(trim(s));
  };
  ASSIGN_OR_RETURN(std::string cpus, read_trimmed(mount, cpus_file));
  ASSIGN_OR_RETURN(std::string mems, read_trimmed(mount, mems_file));
  std::string cur = mount;
  for (const auto& part : split(std::string_view(dir).substr(mount.size()), '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    bool created = ::mkdir(cur.c_str(), 0755) == 0;
    if (!created && errno != EEXIST) return errno_error("mkdir " + cur);
    // A new cpuset starts empty and refuses tasks; an existing one may have been left empty.
    std::string my_cpus, my_mems;
    if (!created) {
      ASSIGN_OR_RETURN(my_cpus, read_trimmed(cur, cpus_file));
      ASSIGN_OR_RETURN(my_mems, read_trimmed(cur, mems_file));
    }
    if (my_cpus.empty()) {
      TRY_CTX(write_cg(cur, cpus_file, cpus), "init cpuset " + cur);
      my_cpus = cpus;
    }
    if (my_mems.empty()) {
      TRY_CTX(write_cg(cur, mems_file, mems), "init cpuset " + cur);
      my_mems = mems;
    }
    cpus = std::move(my_cpus);
    mems = std::move(my_mems);
  }
  return {};
}

Result<> apply_pids(const std::string& dir, const oci::PidsResources& p) {
  return put("pids.limit", dir, "pids.max", p.limit > 0 ? num(p.limit) : "max");
}

Result<> apply_blkio(const std::string& dir, const oci::BlockIoResources& b) {
  // CFQ's blkio.weight is gone since 5.0; BFQ has blkio.bfq.weight (same 10-1000 range).
  const bool cfq = cg_exists(dir, "blkio.weight");
  const std::string weight_file = cfq ? "blkio.weight" : "blkio.bfq.weight";
  const std::string weight_device_file = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";
  if (b.weight && *b.weight) TRY(put("blockIO.weight", dir, weight_file, unum(*b.weight)));
  if (b.leaf_weight && *b.leaf_weight)
    TRY(put("blockIO.leafWeight", dir, "blkio.leaf_weight", unum(*b.leaf_weight)));
  std::vector<std::string> weights, leaf_weights;
  for (const auto& wd : b.weight_device) {
    std::string dev = num(wd.major) + ":" + num(wd.minor) + " ";
    if (wd.weight && *wd.weight) weights.push_back(dev + unum(*wd.weight));
    if (wd.leaf_weight && *wd.leaf_weight) leaf_weights.push_back(dev + unum(*wd.leaf_weight));
  }
  TRY(put_lines("blockIO.weightDevice", dir, weight_device_file, weights));
  TRY(put_lines("blockIO.weightDevice", dir, "blkio.leaf_weight_device", leaf_weights));
  auto throttle = [&](std::string_view field, std::string_view file,
                      const std::vector<oci::ThrottleDevice>& list) -> Result<> {
    std::vector<std::string> lines;
    for (const auto& t : list)
      lines.push_back(num(t.major) + ":" + num(t.minor) + " " + unum(t.rate));
    return put_lines(field, dir, file, lines);
  };
  TRY(throttle("blockIO.throttleReadBpsDevice", "blkio.throttle.read_bps_device",
               b.throttle_read_bps));
  TRY(throttle("blockIO.throttleWriteBpsDevice", "blkio.throttle.write_bps_device",
               b.throttle_write_bps));
  TRY(throttle("blockIO.throttleReadIOPSDevice", "blkio.throttle.read_iops_device",
               b.throttle_read_iops));
  TRY(throttle("blockIO.throttleWriteIOPSDevice", "blkio.throttle.write_iops_device",
               b.throttle_write_iops));
  return {};
}

Result<> apply_hugetlb(const std::string& dir, const std::vector<oci::HugepageLimit>& limits) {
  bool rsvd = true;
  for (size_t i = 0; i < limits.size(); ++i) {
    const auto& l = limits[i];
    std::string field = "hugepageLimits[" + std::to_string(i) + "]";
    std::string value = unum(l.limit);
    TRY(put(field, dir, "hugetlb." + l.page_size + ".limit_in_bytes", value));
    // Reservations (5.7+) get the same limit, as runc does, where the kernel has them.
    if (!rsvd) continue;
    auto r = write_cg(dir, "hugetlb." + l.page_size + ".rsvd.limit_in_bytes", value);
    if (!r) {
      if (r.error().sys_errno() != ENOENT)
        return std::unexpected(field_error(field, std::move(r).error()));
      rsvd = false;
    }
  }
  return {};
}

Result<> apply_net_cls(const std::string& dir, const oci::NetworkResources& n) {
  if (!n.class_id) return {};
  return put("network.classID", dir, "net_cls.classid", unum(*n.class_id));
}

Result<> apply_net_prio(const std::string& dir, const oci::NetworkResources& n) {
  std::vector<std::string> lines;
  for (const auto& [ifname, prio] : n.priorities) lines.push_back(ifname + " " + unum(prio));
  return put_lines("network.priorities", dir, "net_prio.ifpriomap", lines);
}

Result<> apply_devices(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules) {
  auto fail = [](Error e) { return std::unexpected(field_error("devices", std::move(e))); };
  auto current_list = read_cg(dir, "devices.list");
  if (!current_list) return fail(std::move(current_list).error());
  auto current = DeviceEmulator::from_list(*current_list);
  if (!current) return fail(std::move(current).error());
  ASSIGN_OR_RETURN(auto target, DeviceEmulator::from_rules(rules));
  auto transition = current->transition_to(target);
  // Consecutive rules for the same file share one open.
  for (size_t i = 0; i < transition.size();) {
    bool allow = transition[i].allow;
    std::vector<std::string> lines;
    for (; i < transition.size() && transition[i].allow == allow; ++i)
      lines.push_back(transition[i].cgroup_string());
    TRY(put_lines("devices", dir, allow ? "devices.allow" : "devices.deny", lines));
  }
  // Check that the kernel ended where we meant to (runc does the same). A tree that is not
  // cgroupfs (a test's fake) has a devices.list that no write changes: nothing to check there.
  struct statfs sf;
  if (transition.empty() || ::statfs(dir.c_str(), &sf) != 0 ||
      static_cast<unsigned long>(sf.f_type) != CGROUP_SUPER_MAGIC)
    return {};
  auto after_list = read_cg(dir, "devices.list");
  if (!after_list) return fail(std::move(after_list).error());
  auto after = DeviceEmulator::from_list(*after_list);
  if (!after) return fail(std::move(after).error());
  if (target.default_allow() ? !after->default_allow() : !(*after == target))
    return fail(Error(ErrorCode::kInternal, "resulting devices cgroup does not match the rules"));
  return {};
}

}  // namespace berth::runtime::cgroups::detail::v1
