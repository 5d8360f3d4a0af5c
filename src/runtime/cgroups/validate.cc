// Up-front checks of linux.resources, shared by v1 and v2: every value is checked before the
// first write, so a rejected `create` or `update` leaves the cgroup as it was. Also the
// "is anything in this group set" predicates (runc's isMemorySet & co.): 0 means unset for the
// numeric limits, as in runc, whose configs model has no optional values.
#include <cstdint>
#include <string>

#include "runtime/cgroups/internal.h"

namespace berth::runtime::cgroups::detail {

namespace {

std::unexpected<Error> invalid(std::string_view field, const std::string& msg) {
  return make_error(ErrorCode::kInvalidArgument,
                    "linux.resources." + std::string(field) + ": " + msg);
}

// Limits take -1 (unlimited), 0 (unset) or a positive value.
Result<> check_limit(std::string_view field, const std::optional<int64_t>& v) {
  if (v && *v < -1)
    return invalid(field, "invalid value " + std::to_string(*v) + " (want -1 or >= 0)");
  return {};
}

Result<> check_weight(std::string_view field, const std::optional<uint16_t>& w) {
  if (w && *w != 0 && (*w < 10 || *w > 1000))
    return invalid(field, "invalid weight " + std::to_string(*w) + " (want 10-1000)");
  return {};
}

bool nonzero(const std::optional<int64_t>& v) {
  return v && *v != 0;
}
bool nonzero(const std::optional<uint64_t>& v) {
  return v && *v != 0;
}

}  // namespace

bool memory_requested(const oci::Resources& r) {
  if (!r.memory) return false;
  const auto& m = *r.memory;
  return nonzero(m.limit) || nonzero(m.reservation) || nonzero(m.swap) || nonzero(m.kernel) ||
         nonzero(m.kernel_tcp) || (m.swappiness && *m.swappiness != UINT64_MAX) ||
         m.disable_oom_killer.value_or(false);
}

bool cpu_requested(const oci::Resources& r) {
  if (!r.cpu) return false;
  const auto& c = *r.cpu;
  return nonzero(c.shares) || nonzero(c.quota) || nonzero(c.period) || c.burst.has_value() ||
         nonzero(c.realtime_runtime) || nonzero(c.realtime_period) || c.idle.has_value();
}

bool cpuset_requested(const oci::Resources& r) {
  return r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty());
}

bool pids_requested(const oci::Resources& r) {
  return r.pids.has_value();
}

bool blkio_requested(const oci::Resources& r) {
  if (!r.block_io) return false;
  const auto& b = *r.block_io;
  return (b.weight && *b.weight) || (b.leaf_weight && *b.leaf_weight) || !b.weight_device.empty() ||
         !b.throttle_read_bps.empty() || !b.throttle_write_bps.empty() ||
         !b.throttle_read_iops.empty() || !b.throttle_write_iops.empty();
}

Result<> validate_resources(const oci::Resources& r) {
  if (r.memory) {
    const auto& m = *r.memory;
    TRY(check_limit("memory.limit", m.limit));
    TRY(check_limit("memory.reservation", m.reservation));
    TRY(check_limit("memory.swap", m.swap));
    TRY(check_limit("memory.kernel", m.kernel));
    TRY(check_limit("memory.kernelTCP", m.kernel_tcp));
    // -1 arrives as UINT64_MAX through the unsigned model and means "unset", as in runc.
    if (m.swappiness && *m.swappiness != UINT64_MAX && *m.swappiness > 100)
      return invalid("memory.swappiness",
                     "invalid value " + std::to_string(*m.swappiness) + " (want 0-100)");
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    TRY(check_limit("cpu.quota", c.quota));
    TRY(check_limit("cpu.realtimeRuntime", c.realtime_runtime));
    if (c.idle && *c.idle != 0 && *c.idle != 1)
      return invalid("cpu.idle", "invalid value " + std::to_string(*c.idle) + " (want 0 or 1)");
  }
  if (r.pids && r.pids->limit < -1)
    return invalid("pids.limit",
                   "invalid value " + std::to_string(r.pids->limit) + " (want -1 or >= 0)");
  if (r.block_io) {
    const auto& b = *r.block_io;
    TRY(check_weight("blockIO.weight", b.weight));
    TRY(check_weight("blockIO.leafWeight", b.leaf_weight));
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
      std::string f = "blockIO.weightDevice[" + std::to_string(i) + "]";
      TRY(check_weight(f + ".weight", b.weight_device[i].weight));
      TRY(check_weight(f + ".leafWeight", b.weight_device[i].leaf_weight));
      if (b.weight_device[i].major < 0 || b.weight_device[i].minor < 0)
        return invalid(f, "negative device number");
    }
    auto throttles = {std::pair{"blockIO.throttleReadBpsDevice", &b.throttle_read_bps},
                      std::pair{"blockIO.throttleWriteBpsDevice", &b.throttle_write_bps},
                      std::pair{"blockIO.throttleReadIOPSDevice", &b.throttle_read_iops},
                      std::pair{"blockIO.throttleWriteIOPSDevice", &b.throttle_write_iops}};
    for (const auto& [name, list] : throttles)
      for (size_t i = 0; i < list->size(); ++i)
        if ((*list)[i].major < 0 || (*list)[i].minor < 0)
          return invalid(std::string(name) + "[" + std::to_string(i) + "]",
                         "negative device number");
  }
  for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
    const auto& size = r.hugepage_limits[i].page_size;
    if (size.empty() || size.find('/') != std::string::npos || size.find("..") != std::string::npos)
      return invalid("hugepageLimits[" + std::to_string(i) + "].pageSize",
                     "invalid page size \"" + size + "\"");
  }
  for (const auto& [key, value] : r.unified) {
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos ||
        key == ".")
      return invalid("unified." + key, "invalid key: must name a file in the cgroup directory");
  }
  for (size_t i = 0; i < r.devices.size(); ++i) {
    const auto& d = r.devices[i];
    std::string f = "devices[" + std::to_string(i) + "]";
    if (d.type != "a" && d.type != "b" && d.type != "c")
      return invalid(f + ".type", "invalid device type \"" + d.type + "\" (want a, b or c)");
    if (d.access.empty()) return invalid(f + ".access", "cannot be empty");
    if (d.access.find_first_not_of("rwm") != std::string::npos)
      return invalid(f + ".access", "invalid access \"" + d.access + "\" (want a subset of rwm)");
    if ((d.major && (*d.major < -1 || *d.major > UINT32_MAX)) ||
        (d.minor && (*d.minor < -1 || *d.minor > UINT32_MAX)))
      return invalid(f, "device number out of range");
  }
  return {};
}

}  // namespace berth::runtime::cgroups::detail
