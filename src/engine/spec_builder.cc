// Docker container -> OCI spec. The defaults follow dockerd's (daemon/oci_linux.go and
// oci/defaults.go): 14 default capabilities, the same masked and read-only paths, /dev as tmpfs,
// 64 MiB /dev/shm, docker's default seccomp profile (seccomp_profile.h), and the
// hostname/hosts/resolv.conf files bind-mounted from the container directory.
#include "engine/spec_builder.h"

#include <fcntl.h>

#include <algorithm>
#include <set>

#include "base/file.h"
#include "base/path.h"
#include "base/strings.h"
#include "engine/seccomp_profile.h"
#include "runtime/security/signals.h"

namespace berth::engine {
namespace {

using json::Json;

const std::vector<std::string> kAllCaps = {"CAP_CHOWN",
                                           "CAP_DAC_OVERRIDE",
                                           "CAP_DAC_READ_SEARCH",
                                           "CAP_FOWNER",
                                           "CAP_FSETID",
                                           "CAP_KILL",
                                           "CAP_SETGID",
                                           "CAP_SETUID",
                                           "CAP_SETPCAP",
                                           "CAP_LINUX_IMMUTABLE",
                                           "CAP_NET_BIND_SERVICE",
                                           "CAP_NET_BROADCAST",
                                           "CAP_NET_ADMIN",
                                           "CAP_NET_RAW",
                                           "CAP_IPC_LOCK",
                                           "CAP_IPC_OWNER",
                                           "CAP_SYS_MODULE",
                                           "CAP_SYS_RAWIO",
                                           "CAP_SYS_CHROOT",
                                           "CAP_SYS_PTRACE",
                                           "CAP_SYS_PACCT",
                                           "CAP_SYS_ADMIN",
                                           "CAP_SYS_BOOT",
                                           "CAP_SYS_NICE",
                                           "CAP_SYS_RESOURCE",
                                           "CAP_SYS_TIME",
                                           "CAP_SYS_TTY_CONFIG",
                                           "CAP_MKNOD",
                                           "CAP_LEASE",
                                           "CAP_AUDIT_WRITE",
                                           "CAP_AUDIT_CONTROL",
                                           "CAP_SETFCAP",
                                           "CAP_MAC_OVERRIDE",
                                           "CAP_MAC_ADMIN",
                                           "CAP_SYSLOG",
                                           "CAP_WAKE_ALARM",
                                           "CAP_BLOCK_SUSPEND",
                                           "CAP_AUDIT_READ",
                                           "CAP_PERFMON",
                                           "CAP_BPF",
                                           "CAP_CHECKPOINT_RESTORE"};

const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::vector<std::string> strings_of(const Json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::string normalize_cap(std::string c) {
  std::transform(c.begin(), c.end(), c.begin(), ::toupper);
  if (!starts_with(c, "CAP_") && c != "ALL") c = "CAP_" + c;
  return c;
}

Result<std::vector<std::string>> capabilities(const Json& hc) {
  if (hc.value("Privileged", false)) return kAllCaps;
  std::vector<std::string> caps = default_capabilities();
  for (auto c : strings_of(hc.value("CapDrop", Json::array()))) {
    c = normalize_cap(c);
    if (c == "ALL") {
      caps.clear();
      continue;
    }
    if (std::find(kAllCaps.begin(), kAllCaps.end(), c) == kAllCaps.end())
      return make_error(ErrorCode::kInvalidArgument, "unknown capability drop: \"" + c + "\"");
    std::erase(caps, c);
  }
  for (auto c : strings_of(hc.value("CapAdd", Json::array()))) {
    c = normalize_cap(c);
    if (c == "ALL") return kAllCaps;
    if (std::find(kAllCaps.begin(), kAllCaps.end(), c) == kAllCaps.end())
      return make_error(ErrorCode::kInvalidArgument, "unknown capability: \"" + c + "\"");
    if (std::find(caps.begin(), caps.end(), c) == caps.end()) caps.push_back(c);
  }
  return caps;
}

// Looks up a name or number in a colon-separated /etc file inside rootfs: returns the fields.
std::optional<std::vector<std::string>> etc_lookup(const std::string& rootfs,
                                                   const std::string& file,
                                                   const std::string& key) {
  auto root = open_fd(rootfs, O_PATH | O_DIRECTORY);
  if (!root) return std::nullopt;
  auto fd = open_in_root(root->get(), file, O_RDONLY);
  if (!fd) return std::nullopt;
  auto content = read_file(fd_path(fd->get()));
  if (!content) return std::nullopt;
  for (const auto& line : split(*content, '\n')) {
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    if (f[0] == key || f[2] == key) return f;
  }
  return std::nullopt;
}

Result<uint32_t> id_of(const std::string& rootfs, const std::string& file, const std::string& v,
                       int field) {
  if (auto n = parse_uint(v)) return static_cast<uint32_t>(*n);
  auto f = etc_lookup(rootfs, file, v);
  if (!f || f->size() <= static_cast<size_t>(field))
    return make_error(ErrorCode::kInvalidArgument,
                      "unable to find " + std::string(file == "/etc/passwd" ? "user " : "group ") +
                          v + ": no matching entries in " +
                          (file == "/etc/passwd" ? "passwd" : "group") + " file");
  auto n = parse_uint((*f)[field]);
  if (!n) return make_error(ErrorCode::kInvalidArgument, "bad entry for " + v + " in " + file);
  return static_cast<uint32_t>(*n);
}

Json rlimits(const Json& hc) {
  Json out = Json::array();
  for (const auto& u : hc.value("Ulimits", Json::array())) {
    if (!u.is_object()) continue;
    std::string name = u.value("Name", "");
    std::transform(name.begin(), name.end(), name.begin(), ::toupper);
    out.push_back({{"type", "RLIMIT_" + name},
                   {"soft", u.value("Soft", int64_t{0})},
                   {"hard", u.value("Hard", int64_t{0})}});
  }
  return out;
}

Result<Json> resources(const Json& hc) {
  Json r = Json::object();
  Json mem = Json::object();
  if (int64_t m = hc.value("Memory", int64_t{0}); m > 0) mem["limit"] = m;
  if (int64_t s = hc.value("MemorySwap", int64_t{0}); s != 0) mem["swap"] = s;
  if (int64_t res = hc.value("MemoryReservation", int64_t{0}); res > 0) mem["reservation"] = res;
  if (hc.value("OomKillDisable", false)) mem["disableOOMKiller"] = true;
  if (!mem.empty()) r["memory"] = mem;
  Json cpu = Json::object();
  if (int64_t shares = hc.value("CpuShares", int64_t{0}); shares > 0) cpu["shares"] = shares;
  int64_t nano = hc.value("NanoCpus", int64_t{0});
  int64_t quota = hc.value("CpuQuota", int64_t{0}), period = hc.value("CpuPeriod", int64_t{0});
  if (nano > 0 && (quota > 0 || period > 0))
    return make_error(ErrorCode::kInvalidArgument,
                      "conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (nano > 0) {
    period = 100000;
    quota = nano * period / 1000000000;
  }
  if (quota > 0) cpu["quota"] = quota;
  if (period > 0) cpu["period"] = period;
  if (auto s = hc.value("CpusetCpus", std::string()); !s.empty()) cpu["cpus"] = s;
  if (auto s = hc.value("CpusetMems", std::string()); !s.empty()) cpu["mems"] = s;
  if (!cpu.empty()) r["cpu"] = cpu;
  if (hc.contains("PidsLimit") && hc["PidsLimit"].is_number_integer()) {
    int64_t p = hc["PidsLimit"].get<int64_t>();
    if (p > 0) r["pids"] = {{"limit", p}};
  }
  if (int w = hc.value("BlkioWeight", 0); w > 0) r["blockIO"] = {{"weight", w}};
  if (hc.value("Privileged", false))
    r["devices"] = Json::array({{{"allow", true}, {"access", "rwm"}}});
  else
    r["devices"] = Json::array({{{"allow", false}, {"access", "rwm"}}});
  return r;
}

Json bind_mount(const std::string& src, const std::string& dst, bool ro,
                const std::string& propagation = "rprivate") {
  Json opts = Json::array({"rbind", ro ? "ro" : "rw"});
  if (!propagation.empty()) opts.push_back(propagation);
  return {{"destination", dst}, {"type", "bind"}, {"source", src}, {"options", opts}};
}

}  // namespace

Result<int> parse_signal(const std::string& s) {
  auto sig = runtime::security::parse_signal(s);
  if (!sig) return make_error(ErrorCode::kInvalidArgument, "invalid signal: " + s);
  return *sig;
}

std::vector<std::string> effective_argv(const Json& config, const Json& image_config) {
  const Json& ic = image_config.is_object() ? image_config : Json::object();
  bool has_ep = config.contains("Entrypoint") && config["Entrypoint"].is_array();
  std::vector<std::string> ep =
      has_ep ? strings_of(config["Entrypoint"]) : strings_of(ic.value("Entrypoint", Json::array()));
  std::vector<std::string> cmd;
  if (config.contains("Cmd") && config["Cmd"].is_array() && !config["Cmd"].empty())
    cmd = strings_of(config["Cmd"]);
  else if (!has_ep)  // a new entrypoint drops the image's Cmd, as docker does
    cmd = strings_of(ic.value("Cmd", Json::array()));
  ep.insert(ep.end(), cmd.begin(), cmd.end());
  return ep;
}

std::vector<std::string> effective_env(const Json& config, const Json& image_config) {
  std::vector<std::string> env;
  auto set = [&](const std::string& kv) {
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    if (eq == std::string::npos) return;  // "-e FOO" without a value and no host value: skip
    for (auto& e : env)
      if (e.compare(0, key.size() + 1, key + "=") == 0) return void(e = kv);
    env.push_back(kv);
  };
  if (image_config.is_object())
    for (const auto& kv : strings_of(image_config.value("Env", Json::array()))) set(kv);
  for (const auto& kv : strings_of(config.value("Env", Json::array()))) set(kv);
  bool has_path =
      std::any_of(env.begin(), env.end(), [](auto& e) { return starts_with(e, "PATH="); });
  if (!has_path) env.insert(env.begin(), kDefaultPath);
  return env;
}

Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& user,
                                  const std::vector<std::string>& group_add) {
  ResolvedUser r;
  std::string u = user, g;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    u = user.substr(0, colon);
    g = user.substr(colon + 1);
  }
  if (!u.empty()) {
    ASSIGN_OR_RETURN(r.uid, id_of(rootfs, "/etc/passwd", u, 2));
    if (g.empty()) {
      auto f = etc_lookup(rootfs, "/etc/passwd", u);
      if (f && f->size() > 3)
        if (auto n = parse_uint((*f)[3])) r.gid = static_cast<uint32_t>(*n);
    }
  }
  if (!g.empty()) {
    ASSIGN_OR_RETURN(r.gid, id_of(rootfs, "/etc/group", g, 2));
  }
  for (const auto& ga : group_add) {
    ASSIGN_OR_RETURN(uint32_t gid, id_of(rootfs, "/etc/group", ga, 2));
    r.additional_gids.push_back(gid);
  }
  return r;
}

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return caps;
}

Result<Json> build_spec(const SpecInputs& in) {
  const Container& c = *in.container;
  const Json& cfg = c.config;
  const Json& hc = c.host_config;
  const Json ic = in.image_config.is_object() ? in.image_config : Json::object();
  const bool privileged = hc.value("Privileged", false);

  auto argv = effective_argv(cfg, ic);
  if (argv.empty()) return make_error(ErrorCode::kInvalidArgument, "no command specified");
  std::string hostname = cfg.value("Hostname", "");
  if (hostname.empty()) hostname = c.short_id();
  auto env = effective_env(cfg, ic);
  if (std::none_of(env.begin(), env.end(), [](auto& e) { return starts_with(e, "HOSTNAME="); }))
    env.push_back("HOSTNAME=" + hostname);
  if (c.tty() &&
      std::none_of(env.begin(), env.end(), [](auto& e) { return starts_with(e, "TERM="); }))
    env.push_back("TERM=xterm");

  std::string user = cfg.value("User", "");
  if (user.empty()) user = ic.value("User", "");
  ASSIGN_OR_RETURN(auto ids,
                   resolve_user(in.rootfs, user, strings_of(hc.value("GroupAdd", Json::array()))));
  std::string cwd = cfg.value("WorkingDir", "");
  if (cwd.empty()) cwd = ic.value("WorkingDir", "");
  if (cwd.empty()) cwd = "/";

  if (hc.value("Init", false) && !in.init_path.empty())
    argv.insert(argv.begin(), {"/sbin/docker-init", "--"});

  ASSIGN_OR_RETURN(auto caps, capabilities(hc));
  Json jcaps = caps;
  Json process = {
      {"terminal", c.tty()},
      {"user", {{"uid", ids.uid}, {"gid", ids.gid}}},
      {"args", argv},
      {"env", env},
      {"cwd", cwd},
      {"capabilities", {{"bounding", jcaps}, {"effective", jcaps}, {"permitted", jcaps}}},
      {"rlimits", rlimits(hc)}};
  if (!ids.additional_gids.empty()) process["user"]["additionalGids"] = ids.additional_gids;
  for (const auto& opt : strings_of(hc.value("SecurityOpt", Json::array())))
    if (opt == "no-new-privileges" || opt == "no-new-privileges:true" ||
        opt == "no-new-privileges=true")
      process["noNewPrivileges"] = true;
  if (hc.contains("OomScoreAdj") && hc["OomScoreAdj"].is_number_integer() &&
      hc["OomScoreAdj"].get<int>() != 0)
    process["oomScoreAdj"] = hc["OomScoreAdj"];
  if (c.tty()) {
    auto cs = hc.value("ConsoleSize", Json::array());
    if (cs.is_array() && cs.size() == 2 && cs[0].is_number() && cs[0].get<int>() > 0)
      process["consoleSize"] = {{"height", cs[0]}, {"width", cs[1]}};
  }

  Json mounts = Json::array({
      {{"destination", "/proc"},
       {"type", "proc"},
       {"source", "proc"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", privileged ? "rw" : "ro"}}},
      {{"destination", "/sys/fs/cgroup"},
       {"type", "cgroup"},
       {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
  });
  int64_t shm = hc.value("ShmSize", int64_t{0});
  if (shm <= 0) shm = 64 << 20;
  mounts.push_back(
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm)}}});

  // User mounts: binds, volumes and tmpfs, in docker's order (sorted by destination depth so that
  // parents mount first).
  std::vector<Json> user_mounts;
  std::set<std::string> user_dests;
  for (const auto& m : c.mounts) {
    user_dests.insert(m.destination);
    if (m.type == "tmpfs") {
      Json opts = Json::array({"nosuid", "nodev", "noexec"});
      for (const auto& o : split(m.mode, ','))
        if (!o.empty()) opts.push_back(o);
      user_mounts.push_back({{"destination", m.destination},
                             {"type", "tmpfs"},
                             {"source", "tmpfs"},
                             {"options", opts}});
    } else {
      user_mounts.push_back(bind_mount(m.source, m.destination, !m.rw,
                                       m.propagation.empty() ? "rprivate" : m.propagation));
    }
  }
  for (const Json obj_k = hc.value("Tmpfs", Json::object()); const auto& [k, v] : obj_k.items()) {
    if (user_dests.count(k)) continue;
    user_dests.insert(k);
    Json opts = Json::array({"nosuid", "nodev", "noexec"});
    if (v.is_string())
      for (const auto& o : split(v.get<std::string>(), ','))
        if (!o.empty()) opts.push_back(o);
    user_mounts.push_back(
        {{"destination", k}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", opts}});
  }
  std::stable_sort(user_mounts.begin(), user_mounts.end(), [](const Json& a, const Json& b) {
    auto da = a["destination"].get<std::string>(), db = b["destination"].get<std::string>();
    return std::count(da.begin(), da.end(), '/') < std::count(db.begin(), db.end(), '/');
  });
  for (const char* f : {"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"})
    if (!user_dests.count(f))
      mounts.push_back(bind_mount(in.container_dir + (std::string(f).substr(4)), f, false));
  if (hc.value("Init", false) && !in.init_path.empty())
    mounts.push_back(bind_mount(in.init_path, "/sbin/docker-init", true));
  for (auto& m : user_mounts) mounts.push_back(std::move(m));

  std::string net = hc.value("NetworkMode", "");
  Json namespaces =
      Json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (net != "host") namespaces.push_back({{"type", "network"}});
  ASSIGN_OR_RETURN(Json res, resources(hc));
  Json linux_ = {{"namespaces", namespaces}, {"resources", res}, {"cgroupsPath", in.cgroups_path}};
  if (!privileged) {
    linux_["maskedPaths"] = {"/proc/asound",
                             "/proc/acpi",
                             "/proc/kcore",
                             "/proc/keys",
                             "/proc/latency_stats",
                             "/proc/timer_list",
                             "/proc/timer_stats",
                             "/proc/sched_debug",
                             "/proc/scsi",
                             "/sys/firmware",
                             "/sys/devices/virtual/powercap"};
    linux_["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                               "/proc/sysrq-trigger"};
  }
  Json sysctl = Json::object();
  for (const Json obj_k = hc.value("Sysctls", Json::object()); const auto& [k, v] : obj_k.items())
    if (v.is_string()) sysctl[k] = v;
  if (!sysctl.empty()) linux_["sysctl"] = sysctl;
  ASSIGN_OR_RETURN(Json seccomp, container_seccomp(hc, caps));
  if (!seccomp.is_null()) linux_["seccomp"] = std::move(seccomp);

  Json spec = {{"ociVersion", "1.2.0"},
               {"process", process},
               {"root", {{"path", in.rootfs}, {"readonly", hc.value("ReadonlyRootfs", false)}}},
               {"mounts", mounts},
               {"linux", linux_}};
  if (net != "host") spec["hostname"] = hostname;
  if (auto d = cfg.value("Domainname", ""); !d.empty() && net != "host") spec["domainname"] = d;
  Json annotations = Json::object();
  for (const Json obj_k = cfg.value("Labels", Json::object()); const auto& [k, v] : obj_k.items())
    if (v.is_string()) annotations[k] = v;
  if (!annotations.empty()) spec["annotations"] = annotations;
  return spec;
}

}  // namespace berth::engine
