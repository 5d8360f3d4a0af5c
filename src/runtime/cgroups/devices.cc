// Devices cgroup emulator, ported from runc's libcontainer/cgroups/devices/devices_emulator.go
// (Apache-2.0, Aleksa Sarai / SUSE): same state model, same refusal to punch holes in wildcard
// rules (which cgroup v1 would silently ignore), same transition order.
#include "runtime/cgroups/devices.h"

#include "base/strings.h"

namespace berth::runtime::cgroups {

std::string access_string(uint8_t access) {
  std::string s;
  if (access & kDevRead) s += 'r';
  if (access & kDevWrite) s += 'w';
  if (access & kDevMknod) s += 'm';
  return s;
}

std::string DeviceRule::cgroup_string() const {
  std::string s(1, type);
  s += ' ';
  s += major < 0 ? "*" : std::to_string(major);
  s += ':';
  s += minor < 0 ? "*" : std::to_string(minor);
  s += ' ';
  s += access_string(access);
  return s;
}

static Result<uint8_t> parse_access(std::string_view s) {
  uint8_t a = 0;
  for (char c : s) {
    switch (c) {
      case 'r':
        a |= kDevRead;
        break;
      case 'w':
        a |= kDevWrite;
        break;
      case 'm':
        a |= kDevMknod;
        break;
      default:
        return make_error(ErrorCode::kInvalidArgument,
                          "invalid device access \"" + std::string(s) + "\"");
    }
  }
  return a;
}

Result<> DeviceEmulator::add(const Meta& m, uint8_t access) {
  if (access) rules_[m] |= access;  // an empty access grants nothing: keep no empty entries
  return {};
}

Result<> DeviceEmulator::remove(const Meta& m, uint8_t access) {
  // cgroup v1 silently ignores removing part of a wildcard exception; refuse rather than give a
  // false sense of security (runc does the same).
  const Meta partial[] = {{-1, m.minor, m.type}, {m.major, -1, m.type}, {-1, -1, m.type}};
  for (const Meta& p : partial) {
    if (p == m) continue;
    auto it = rules_.find(p);
    if (it != rules_.end() && (it->second & access)) {
      DeviceRule asked{m.type, m.major, m.minor, access, false};
      DeviceRule wild{p.type, p.major, p.minor, it->second, false};
      return make_error(ErrorCode::kInvalidArgument,
                        "device rule \"" + asked.cgroup_string() +
                            "\" not supported by the devices cgroup: cannot punch a hole in " +
                            "wildcard rule \"" + wild.cgroup_string() + "\"");
    }
  }
  auto it = rules_.find(m);
  if (it == rules_.end()) return {};
  it->second &= static_cast<uint8_t>(~access);
  if (!it->second) rules_.erase(it);
  return {};
}

Result<> DeviceEmulator::apply(const DeviceRule& rule) {
  if (rule.type == 'a') {
    // "a" resets the cgroup: allow-all (deny-list mode) or deny-all (allow-list mode).
    default_allow_ = rule.allow;
    rules_.clear();
    return {};
  }
  if (rule.type != 'b' && rule.type != 'c')
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("invalid device type '") + rule.type + "'");
  Meta m{rule.major, rule.minor, rule.type};
  // In deny-list mode the map holds deny exceptions, in allow-list mode allow exceptions.
  if (rule.allow == default_allow_) return remove(m, rule.access);
  return add(m, rule.access);
}

Result<DeviceEmulator> DeviceEmulator::from_rules(const std::vector<oci::DeviceCgroupRule>& rules) {
  DeviceEmulator e;
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    std::string field = "linux.resources.devices[" + std::to_string(i) + "]";
    if (r.type.size() != 1)
      return make_error(ErrorCode::kInvalidArgument,
                        field + ".type: invalid device type \"" + r.type + "\"");
    auto access = parse_access(r.access);
    if (!access) return std::unexpected(std::move(access).error().wrap(field + ".access"));
    DeviceRule rule{r.type[0], r.major.value_or(-1), r.minor.value_or(-1), *access, r.allow};
    TRY_CTX(e.apply(rule), field);
  }
  return e;
}

Result<DeviceEmulator> DeviceEmulator::from_list(std::string_view list) {
  // devices.list is an allow list; a deny-list cgroup shows only "a *:* rwm".
  DeviceEmulator e;
  for (const auto& raw : split(list, '\n')) {
    std::string_view line = trim(raw);
    if (line.empty()) continue;
    auto bad = [&] {
      return make_error(ErrorCode::kInvalidArgument,
                        "malformed devices.list rule \"" + std::string(line) + "\"");
    };
    // "type major:minor access"
    auto sp1 = line.find(' ');
    auto colon = line.find(':');
    auto sp2 = line.rfind(' ');
    if (sp1 != 1 || colon == std::string_view::npos || sp2 == sp1 || colon < sp1 || colon > sp2)
      return bad();
    char type = line[0];
    auto num = [](std::string_view s) -> std::optional<int64_t> {
      if (s == "*") return -1;
      auto v = parse_uint(s);
      if (!v || *v > UINT32_MAX) return std::nullopt;
      return static_cast<int64_t>(*v);
    };
    auto major = num(line.substr(sp1 + 1, colon - sp1 - 1));
    auto minor = num(line.substr(colon + 1, sp2 - colon - 1));
    auto access = parse_access(line.substr(sp2 + 1));
    if (!major || !minor || !access || *access == 0) return bad();
    if (type == 'a') {
      TRY(e.apply(DeviceRule{'a', -1, -1, kDevAll, true}));
      continue;
    }
    if (type != 'b' && type != 'c') return bad();
    TRY(e.apply(DeviceRule{type, *major, *minor, *access, true}));
  }
  return e;
}

std::vector<DeviceRule> DeviceEmulator::transition_to(const DeviceEmulator& target) const {
  std::vector<DeviceRule> out;
  const std::map<Meta, uint8_t>* old_rules = &rules_;
  static const std::map<Meta, uint8_t> kNone;
  // A deny-list source may hide deny exceptions that devices.list cannot show, so it always
  // gets the disruptive reset, as does any change of default policy.
  if (default_allow_ || default_allow_ != target.default_allow_) {
    out.push_back(DeviceRule{'a', -1, -1, kDevAll, target.default_allow_});
    old_rules = &kNone;
  }
  // Withdraw what the old exceptions grant beyond the target's...
  for (const auto& [m, old_access] : *old_rules) {
    auto it = target.rules_.find(m);
    uint8_t dropped =
        old_access & static_cast<uint8_t>(~(it == target.rules_.end() ? 0 : it->second));
    if (dropped)
      out.push_back(DeviceRule{m.type, m.major, m.minor, dropped, target.default_allow_});
  }
  // ...then add what the target has that the old set lacks.
  for (const auto& [m, new_access] : target.rules_) {
    auto it = old_rules->find(m);
    uint8_t gained = new_access & static_cast<uint8_t>(~(it == old_rules->end() ? 0 : it->second));
    if (gained) out.push_back(DeviceRule{m.type, m.major, m.minor, gained, !target.default_allow_});
  }
  return out;
}

std::vector<DeviceRule> DeviceEmulator::rules() const {
  return DeviceEmulator{}.transition_to(*this);
}

}  // namespace berth::runtime::cgroups
