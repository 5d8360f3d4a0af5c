// Semantic validation of a parsed config.json, and the default config that `spec` writes.
#include <set>

#include "oci/spec.h"

namespace berth::oci {

namespace {
Result<> invalid(const std::string& msg) { return make_error(ErrorCode::kInvalidArgument, msg); }

const std::set<std::string>& namespace_types() {
  static const std::set<std::string> kTypes = {"pid",  "network", "mount", "ipc",
                                               "uts",  "user",    "cgroup", "time"};
  return kTypes;
}
}  // namespace

Result<> validate_spec(const Spec& spec) {
  if (spec.oci_version.empty()) return invalid("ociVersion: required");
  if (spec.oci_version[0] != '1') return invalid("ociVersion: unsupported version " + spec.oci_version);
  if (spec.root_path.empty()) return invalid("root.path: required");
  if (!spec.process) return invalid("process: required");
  const Process& p = *spec.process;
  if (p.args.empty()) return invalid("process.args: must not be empty");
  if (p.cwd.empty() || p.cwd[0] != '/') return invalid("process.cwd: must be an absolute path, got \"" + p.cwd + "\"");
  for (size_t i = 0; i < p.env.size(); ++i)
    if (p.env[i].find('=') == std::string::npos)
      return invalid("process.env[" + std::to_string(i) + "]: expected KEY=VALUE, got \"" + p.env[i] + "\"");
  for (size_t i = 0; i < p.rlimits.size(); ++i)
    if (p.rlimits[i].soft > p.rlimits[i].hard)
      return invalid("process.rlimits[" + std::to_string(i) + "]: soft limit exceeds hard limit");
  if (p.terminal && p.console_size && (p.console_size->height == 0 && p.console_size->width == 0)) {
    // allowed: zero size means "leave as is"
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const Mount& m = spec.mounts[i];
    if (m.destination.empty())
      return invalid("mounts[" + std::to_string(i) + "].destination: must not be empty");
  }
  auto check_hooks = [&](const std::vector<Hook>& hooks, const char* name) -> Result<> {
    for (size_t i = 0; i < hooks.size(); ++i)
      if (hooks[i].path.empty() || hooks[i].path[0] != '/')
        return invalid(std::string("hooks.") + name + "[" + std::to_string(i) +
                       "].path: must be an absolute path, got \"" + hooks[i].path + "\"");
    return {};
  };
  TRY(check_hooks(spec.hooks.prestart, "prestart"));
  TRY(check_hooks(spec.hooks.create_runtime, "createRuntime"));
  TRY(check_hooks(spec.hooks.create_container, "createContainer"));
  TRY(check_hooks(spec.hooks.start_container, "startContainer"));
  TRY(check_hooks(spec.hooks.poststart, "poststart"));
  TRY(check_hooks(spec.hooks.poststop, "poststop"));
  if (spec.linux) {
    const Linux& l = *spec.linux;
    std::set<std::string> seen;
    for (size_t i = 0; i < l.namespaces.size(); ++i) {
      const auto& ns = l.namespaces[i];
      std::string f = "linux.namespaces[" + std::to_string(i) + "]";
      if (!namespace_types().count(ns.type))
        return invalid(f + ".type: unknown namespace type \"" + ns.type + "\"");
      if (!seen.insert(ns.type).second)
        return invalid(f + ".type: duplicate namespace \"" + ns.type + "\"");
      if (!ns.path.empty() && ns.path[0] != '/')
        return invalid(f + ".path: must be an absolute path, got \"" + ns.path + "\"");
    }
    bool userns = seen.count("user") > 0;
    if ((!l.uid_mappings.empty() || !l.gid_mappings.empty()) && !userns)
      return invalid("linux.uidMappings: mappings given without a user namespace");
    if (userns && l.find_namespace("user")->path.empty() &&
        (l.uid_mappings.empty() || l.gid_mappings.empty()))
      return invalid("linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
    for (auto* maps : {&l.uid_mappings, &l.gid_mappings})
      for (size_t i = 0; i < maps->size(); ++i)
        if ((*maps)[i].size == 0)
          return invalid(std::string(maps == &l.uid_mappings ? "linux.uidMappings" : "linux.gidMappings") +
                         "[" + std::to_string(i) + "].size: must be greater than zero");
    if (!l.time_offsets.empty() && !seen.count("time"))
      return invalid("linux.timeOffsets: offsets given without a time namespace");
    for (auto& [k, _] : l.time_offsets)
      if (k != "monotonic" && k != "boottime")
        return invalid("linux.timeOffsets." + k + ": unknown clock");
    if (!spec.hostname.empty() && !seen.count("uts"))
      return invalid("hostname: setting the hostname needs a uts namespace");
    if (!spec.domainname.empty() && !seen.count("uts"))
      return invalid("domainname: setting the domainname needs a uts namespace");
    static const std::set<std::string> kProp = {"", "private", "rprivate", "slave", "rslave",
                                                "shared", "rshared", "unbindable", "runbindable"};
    if (!kProp.count(l.rootfs_propagation))
      return invalid("linux.rootfsPropagation: unknown propagation \"" + l.rootfs_propagation + "\"");
    for (size_t i = 0; i < l.devices.size(); ++i) {
      const auto& d = l.devices[i];
      std::string f = "linux.devices[" + std::to_string(i) + "]";
      if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
        return invalid(f + ".type: must be one of c, b, u, p, got \"" + d.type + "\"");
      if (d.path.empty() || d.path[0] != '/')
        return invalid(f + ".path: must be an absolute path, got \"" + d.path + "\"");
    }
    for (auto& path : l.masked_paths)
      if (path.empty() || path[0] != '/')
        return invalid("linux.maskedPaths: must be absolute, got \"" + path + "\"");
    for (auto& path : l.readonly_paths)
      if (path.empty() || path[0] != '/')
        return invalid("linux.readonlyPaths: must be absolute, got \"" + path + "\"");
  } else if (!spec.hostname.empty()) {
    return invalid("hostname: setting the hostname needs a uts namespace");
  }
  return {};
}

json::Json default_spec_json(bool rootless) {
  using json::Json;
  Json caps = Json::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  Json spec = {
      {"ociVersion", kOciVersion},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "berth"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
         {"options", rootless ? Json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
                              : Json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        rootless ? Json{{"destination", "/sys"}, {"type", "none"}, {"source", "/sys"},
                        {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}}
                 : Json{{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
                        {"options", {"nosuid", "noexec", "nodev", "ro"}}},
        {{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
         {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}}}},
      {"linux",
       {{"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
  if (rootless) {
    spec["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    spec["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    spec["linux"]["namespaces"] = {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                   {{"type", "mount"}}, {{"type", "user"}}};
  } else {
    spec["linux"]["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
    spec["linux"]["namespaces"] = {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}},
                                   {{"type", "uts"}}, {{"type", "mount"}}};
  }
  return spec;
}

}  // namespace berth::oci
