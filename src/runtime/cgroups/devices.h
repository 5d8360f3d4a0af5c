// The devices cgroup as a state machine: an emulator of the v1 devices controller (a port of
// runc's devices emulator). Both backends go through it so that v1 and v2 enforce the same
// rules: v1 writes the minimal transition from what devices.list says now to the target
// (devices.deny "a" then devices.allow per rule, in runc's order), v2 compiles the emulated
// target into an eBPF program (ebpf.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "oci/spec.h"

namespace berth::runtime::cgroups {

inline constexpr uint8_t kDevRead = 1, kDevWrite = 2, kDevMknod = 4, kDevAll = 7;

struct DeviceRule {
  char type = 'a';     // 'a' (every device), 'b', 'c'
  int64_t major = -1;  // -1: any ("*")
  int64_t minor = -1;
  uint8_t access = kDevAll;  // kDev* bits
  bool allow = false;

  // "c 1:3 rwm", "a *:* rwm": what devices.allow / devices.deny take.
  std::string cgroup_string() const;
  bool operator==(const DeviceRule&) const = default;
};

std::string access_string(uint8_t access);

class DeviceEmulator {
 public:
  // The state a fresh v1 cgroup would reach after writing the OCI rules in order, starting
  // from deny-all (runc's buildEmulator: the target is always an allow-list unless a rule
  // switches it).
  static Result<DeviceEmulator> from_rules(const std::vector<oci::DeviceCgroupRule>& rules);
  // The state described by a devices.list read from the kernel.
  static Result<DeviceEmulator> from_list(std::string_view list);

  Result<> apply(const DeviceRule& rule);
  // The rules that take a cgroup in this state to target with the least disruption; an "a"
  // rule comes first whenever the default policy changes or this cgroup is a deny-list
  // (devices.list cannot show deny-list exceptions). Sorted by (major, minor, type) like runc.
  std::vector<DeviceRule> transition_to(const DeviceEmulator& target) const;
  // transition_to() from deny-all: the rules that describe this state.
  std::vector<DeviceRule> rules() const;

  bool default_allow() const { return default_allow_; }
  bool operator==(const DeviceEmulator&) const = default;

 private:
  struct Meta {
    int64_t major;
    int64_t minor;
    char type;
    auto operator<=>(const Meta&) const = default;  // runc's (major, minor, type) order
  };
  Result<> add(const Meta& m, uint8_t access);
  Result<> remove(const Meta& m, uint8_t access);

  bool default_allow_ = false;
  std::map<Meta, uint8_t> rules_;
};

}  // namespace berth::runtime::cgroups
