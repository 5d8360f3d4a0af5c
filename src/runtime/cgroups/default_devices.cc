// runc's default device allow-list (libcontainer/specconv AllowedDevices), appended to the
// container's own rules so that a config that denies everything still gets the devices every
// container needs. runc itself calls this behaviour questionable but callers depend on it.
#include <algorithm>

#include "runtime/cgroups/manager.h"

namespace berth::runtime::cgroups {

namespace {

struct DefaultDevice {
  const char* path;  // nullptr: a rule with no device node behind it
  char type;
  int64_t major, minor;  // -1: any
  const char* access;
};

constexpr DefaultDevice kAllowedDevices[] = {
    {nullptr, 'c', -1, -1, "m"},  // mknod of any device (the node still needs a rule to be used)
    {nullptr, 'b', -1, -1, "m"},        {"/dev/null", 'c', 1, 3, "rwm"},
    {"/dev/random", 'c', 1, 8, "rwm"},  {"/dev/full", 'c', 1, 7, "rwm"},
    {"/dev/tty", 'c', 5, 0, "rwm"},     {"/dev/zero", 'c', 1, 5, "rwm"},
    {"/dev/urandom", 'c', 1, 9, "rwm"}, {nullptr, 'c', 136, -1, "rwm"},  // /dev/pts/*
    {nullptr, 'c', 5, 2, "rwm"},                                         // /dev/ptmx
    {nullptr, 'c', 10, 200, "rwm"},  // /dev/net/tun, kept by runc for compatibility
};

}  // namespace

std::vector<oci::DeviceCgroupRule> container_device_rules(const oci::Linux& linux) {
  std::vector<oci::DeviceCgroupRule> rules;
  if (linux.resources) rules = linux.resources->devices;
  for (const auto& d : kAllowedDevices) {
    if (d.path && std::any_of(linux.devices.begin(), linux.devices.end(),
                              [&](const oci::Device& sd) { return sd.path == d.path; }))
      continue;  // the config defines this node itself
    oci::DeviceCgroupRule r;
    r.allow = true;
    r.type = std::string(1, d.type);
    if (d.major >= 0) r.major = d.major;
    if (d.minor >= 0) r.minor = d.minor;
    r.access = d.access;
    rules.push_back(std::move(r));
  }
  return rules;
}

}  // namespace berth::runtime::cgroups
