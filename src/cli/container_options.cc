// run/create flags -> the create request, following docker's cli/command/container/opts.go: the
// CLI does the parsing people see errors from (sizes, cpus, mounts, ulimits, ports, restart),
// the daemon validates the rest.
#include "cli/container_options.h"

#include <cmath>
#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "base/strings.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

Error bad_flag(std::string_view value, std::string_view flag, std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               fmt::format("invalid argument \"{}\" for \"{}\" flag: {}", value, flag, why));
}

// "K=V" stays; "K" takes the caller's value when set (and is kept bare otherwise, as docker).
std::string expand_env(const std::string& e) {
  if (e.find('=') != std::string::npos) return e;
  if (const char* v = std::getenv(e.c_str())) return e + "=" + v;
  return e;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Result<bool> parse_bool(std::string_view v, std::string_view what) {
  const std::string l = lower(std::string(v));
  if (l == "1" || l == "true" || l == "t") return true;
  if (l == "0" || l == "false" || l == "f") return false;
  return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid value for {}: {}", what, v));
}

Result<std::pair<int64_t, int64_t>> parse_port_range(std::string_view s) {
  const auto dash = s.find('-');
  auto a = parse_uint(s.substr(0, dash));
  auto b = dash == std::string_view::npos ? a : parse_uint(s.substr(dash + 1));
  if (!a || !b || *a > 65535 || *b > 65535 || *b < *a)
    return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid port range: {}", s));
  return std::pair<int64_t, int64_t>(static_cast<int64_t>(*a), static_cast<int64_t>(*b));
}

}  // namespace

Result<int64_t> parse_cpus(std::string_view s) {
  char* end = nullptr;
  const std::string str(s);
  const double v = std::strtod(str.c_str(), &end);
  if (str.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
    return std::unexpected(
        bad_flag(s, "--cpus", "failed to parse " + str + " as a rational number"));
  const double nano = v * 1e9;
  if (nano != std::floor(nano))
    return std::unexpected(bad_flag(s, "--cpus", "value is too precise"));
  return static_cast<int64_t>(nano);
}

Result<Value> parse_ulimit(std::string_view s) {
  const auto eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return std::unexpected(bad_flag(s, "--ulimit", "invalid ulimit argument: " + std::string(s)));
  const std::string name(s.substr(0, eq));
  const std::string_view limits = s.substr(eq + 1);
  const auto colon = limits.find(':');
  auto soft = parse_int(limits.substr(0, colon));
  auto hard = colon == std::string_view::npos ? soft : parse_int(limits.substr(colon + 1));
  if (!soft || !hard)
    return std::unexpected(bad_flag(s, "--ulimit", "invalid ulimit argument: " + std::string(s)));
  if (*soft > *hard)
    return std::unexpected(
        bad_flag(s, "--ulimit",
                 fmt::format("ulimit soft limit must be less than or equal to hard limit: {} > {}",
                             *soft, *hard)));
  Value u = Value::object();
  u["Name"] = name;
  u["Hard"] = *hard;
  u["Soft"] = *soft;
  return u;
}

Result<Value> parse_restart(std::string_view s) {
  Value p = Value::object();
  const auto colon = s.find(':');
  const std::string name(s.substr(0, colon));
  int64_t count = 0;
  if (colon != std::string_view::npos) {
    auto n = parse_int(s.substr(colon + 1));
    if (!n || *n < 0)
      return std::unexpected(bad_flag(s, "--restart", "maximum retry count must be an integer"));
    if (name != "on-failure")
      return std::unexpected(bad_flag(
          s, "--restart",
          fmt::format("maximum retry count cannot be used with restart policy '{}'", name)));
    count = *n;
  }
  p["Name"] = name;
  p["MaximumRetryCount"] = count;
  return p;
}

Result<Value> parse_mount(std::string_view s) {
  Value m = Value::object();
  std::string type = "volume";
  Value bind = Value::object(), vol = Value::object(), tmpfs = Value::object();
  std::string source, target;
  std::optional<bool> read_only;
  for (const std::string& field : split(s, ',')) {
    if (field.empty()) continue;
    const auto eq = field.find('=');
    const std::string key = lower(field.substr(0, eq));
    const bool has_value = eq != std::string::npos;
    const std::string val = has_value ? field.substr(eq + 1) : "";
    if (!has_value && key != "readonly" && key != "ro" && key != "volume-nocopy" &&
        key != "bind-nonrecursive")
      return std::unexpected(bad_flag(
          s, "--mount", fmt::format("invalid field '{}' must be a key=value pair", field)));
    if (key == "type") {
      type = lower(val);
    } else if (key == "source" || key == "src") {
      source = val;
    } else if (key == "target" || key == "dst" || key == "destination") {
      target = val;
    } else if (key == "readonly" || key == "ro") {
      if (has_value) {
        auto b = parse_bool(val, key);
        if (!b) return std::unexpected(bad_flag(s, "--mount", b.error().message()));
        read_only = *b;
      } else {
        read_only = true;
      }
    } else if (key == "consistency") {
      m["Consistency"] = val;
    } else if (key == "bind-propagation") {
      bind["Propagation"] = lower(val);
    } else if (key == "bind-nonrecursive") {
      bind["NonRecursive"] = true;
    } else if (key == "volume-nocopy") {
      bool b = true;
      if (has_value) {
        auto r = parse_bool(val, key);
        if (!r) return std::unexpected(bad_flag(s, "--mount", r.error().message()));
        b = *r;
      }
      vol["NoCopy"] = b;
    } else if (key == "volume-label") {
      const auto e2 = val.find('=');
      vol["Labels"][val.substr(0, e2)] = e2 == std::string::npos ? "" : val.substr(e2 + 1);
    } else if (key == "volume-driver") {
      vol["DriverConfig"]["Name"] = val;
    } else if (key == "volume-opt") {
      const auto e2 = val.find('=');
      vol["DriverConfig"]["Options"][val.substr(0, e2)] =
          e2 == std::string::npos ? "" : val.substr(e2 + 1);
    } else if (key == "tmpfs-size") {
      auto n = ram_in_bytes(val);
      if (!n) return std::unexpected(bad_flag(s, "--mount", n.error().message()));
      tmpfs["SizeBytes"] = *n;
    } else if (key == "tmpfs-mode") {
      char* end = nullptr;
      const long mode = std::strtol(val.c_str(), &end, 8);
      if (val.empty() || *end)
        return std::unexpected(bad_flag(s, "--mount", "invalid value for tmpfs-mode: " + val));
      tmpfs["Mode"] = mode;
    } else {
      return std::unexpected(
          bad_flag(s, "--mount", fmt::format("unexpected key '{}' in '{}'", key, field)));
    }
  }
  if (target.empty()) return std::unexpected(bad_flag(s, "--mount", "target is required"));
  if (type != "bind" && !bind.empty())
    return std::unexpected(bad_flag(
        s, "--mount", fmt::format("cannot mix 'bind-*' options with mount type '{}'", type)));
  if (type != "volume" && !vol.empty())
    return std::unexpected(bad_flag(
        s, "--mount", fmt::format("cannot mix 'volume-*' options with mount type '{}'", type)));
  if (type != "tmpfs" && !tmpfs.empty())
    return std::unexpected(bad_flag(
        s, "--mount", fmt::format("cannot mix 'tmpfs-*' options with mount type '{}'", type)));
  m["Type"] = type;
  if (!source.empty()) m["Source"] = source;
  m["Target"] = target;
  if (read_only && *read_only) m["ReadOnly"] = true;
  if (!bind.empty()) m["BindOptions"] = bind;
  if (!vol.empty()) m["VolumeOptions"] = vol;
  if (!tmpfs.empty()) m["TmpfsOptions"] = tmpfs;
  return m;
}

Result<void> parse_publish(std::string_view s, Value& exposed, Value& bindings) {
  std::string spec(s), proto = "tcp";
  if (auto slash = spec.rfind('/'); slash != std::string::npos) {
    proto = lower(spec.substr(slash + 1));
    spec.resize(slash);
  }
  std::string ip, host, ctr;
  if (!spec.empty() && spec[0] == '[') {  // [::1]:8080:80
    const auto close = spec.find(']');
    if (close == std::string::npos)
      return make_error(ErrorCode::kInvalidArgument, "invalid IP address: " + spec);
    ip = spec.substr(1, close - 1);
    spec = spec.substr(close + 1);
    if (!spec.empty() && spec[0] == ':') spec.erase(0, 1);
    const auto c = spec.find(':');
    host = c == std::string::npos ? "" : spec.substr(0, c);
    ctr = c == std::string::npos ? spec : spec.substr(c + 1);
  } else {
    auto parts = split(spec, ':');
    if (parts.size() == 1) {
      ctr = parts[0];
    } else if (parts.size() == 2) {
      host = parts[0], ctr = parts[1];
    } else if (parts.size() == 3) {
      ip = parts[0], host = parts[1], ctr = parts[2];
    } else {
      return make_error(ErrorCode::kInvalidArgument, "invalid proto: " + std::string(s));
    }
  }
  if (ctr.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "no port specified: " + std::string(s) + "<empty>");
  if (proto != "tcp" && proto != "udp" && proto != "sctp")
    return make_error(ErrorCode::kInvalidArgument, "invalid proto: " + proto);
  ASSIGN_OR_RETURN(auto cr, parse_port_range(ctr));
  std::pair<int64_t, int64_t> hr{0, -1};
  if (!host.empty()) {
    ASSIGN_OR_RETURN(hr, parse_port_range(host));
    if (cr.second != cr.first && hr.second - hr.first != cr.second - cr.first)
      return make_error(
          ErrorCode::kInvalidArgument,
          "invalid ranges specified for container and host Ports: " + ctr + " and " + host);
  }
  for (int64_t p = cr.first; p <= cr.second; ++p) {
    const std::string key = fmt::format("{}/{}", p, proto);
    exposed[key] = Value::object();
    std::string hp;
    if (!host.empty()) {
      if (cr.first == cr.second && hr.first != hr.second) {
        hp = fmt::format("{}-{}", hr.first, hr.second);
      } else {
        hp = std::to_string(hr.first + (p - cr.first));
      }
    }
    Value b = Value::object();
    b["HostIp"] = ip;
    b["HostPort"] = hp;
    bindings[key].push_back(b);
  }
  return {};
}

Result<std::vector<std::string>> read_env_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "open " + path + ": no such file or directory");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view d = line;
    while (!d.empty() && std::isspace(static_cast<unsigned char>(d.front()))) d.remove_prefix(1);
    if (d.empty() || d.front() == '#') continue;
    const auto eq = d.find('=');
    const std::string var(trim(d.substr(0, eq)));
    if (var.find_first_of(" \t") != std::string::npos)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("variable '{}' contains whitespaces", var));
    if (eq != std::string_view::npos) {
      out.push_back(var + "=" + std::string(d.substr(eq + 1)));
    } else if (const char* v = std::getenv(var.c_str())) {
      out.push_back(var + "=" + v);
    }
  }
  return out;
}

Result<Value> build_create_body(const ContainerOptions& o) {
  Value cfg = Value::object();
  Value host = Value::object();

  bool attach_in = o.interactive && !o.detach, attach_out = !o.detach, attach_err = !o.detach;
  if (!o.attach.empty()) {
    if (o.detach) return make_error(ErrorCode::kInvalidArgument, "Conflicting options: -a and -d");
    attach_in = attach_out = attach_err = false;
    for (const auto& a : o.attach) {
      const std::string l = lower(a);
      if (l == "stdin")
        attach_in = true;
      else if (l == "stdout")
        attach_out = true;
      else if (l == "stderr")
        attach_err = true;
      else
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("invalid argument \"{}\" for \"-a, --attach\" flag: "
                                      "valid streams are STDIN, STDOUT and STDERR",
                                      a));
    }
  }
  if (o.rm && !o.restart.empty() && o.restart != "no")
    return make_error(ErrorCode::kInvalidArgument, "Conflicting options: --restart and --rm");

  cfg["Hostname"] = o.hostname;
  cfg["Domainname"] = "";
  cfg["User"] = o.user;
  cfg["AttachStdin"] = attach_in;
  cfg["AttachStdout"] = attach_out;
  cfg["AttachStderr"] = attach_err;

  Value exposed = Value::object(), bindings = Value::object();
  for (const auto& p : o.publish) {
    auto r = parse_publish(p, exposed, bindings);
    if (!r) return std::unexpected(bad_flag(p, "-p, --publish", r.error().message()));
  }
  for (const auto& e : o.expose) {
    std::string spec = e, proto = "tcp";
    if (auto slash = spec.rfind('/'); slash != std::string::npos) {
      proto = spec.substr(slash + 1);
      spec.resize(slash);
    }
    auto r = parse_port_range(spec);
    if (!r) return std::unexpected(bad_flag(e, "--expose", r.error().message()));
    for (int64_t p = r->first; p <= r->second; ++p)
      exposed[fmt::format("{}/{}", p, proto)] = Value::object();
  }
  if (!exposed.empty()) cfg["ExposedPorts"] = exposed;
  cfg["Tty"] = o.tty;
  cfg["OpenStdin"] = o.interactive;
  cfg["StdinOnce"] = o.interactive && attach_in;

  Value env = Value::array();
  for (const auto& f : o.env_file) {
    ASSIGN_OR_RETURN(auto lines, read_env_file(f));
    for (auto& l : lines) env.push_back(l);
  }
  for (const auto& e : o.env) env.push_back(expand_env(e));
  cfg["Env"] = env;
  if (!o.command.empty()) cfg["Cmd"] = o.command;
  cfg["Image"] = o.image;

  Value volumes = Value::object(), binds = Value::array();
  for (const auto& v : o.volumes) {
    if (v.empty()) return std::unexpected(bad_flag(v, "-v, --volume", "bad format for path"));
    if (v.find(':') != std::string::npos) {
      binds.push_back(v);
    } else {
      volumes[v] = Value::object();
    }
  }
  if (!volumes.empty()) cfg["Volumes"] = volumes;
  cfg["WorkingDir"] = o.workdir;
  if (o.entrypoint) {
    cfg["Entrypoint"] = o.entrypoint->empty() ? Value::array({""}) : Value::array({*o.entrypoint});
  }
  Value labels = Value::object();
  for (const auto& l : o.labels) {
    const auto eq = l.find('=');
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  cfg["Labels"] = labels;
  if (!o.stop_signal.empty()) cfg["StopSignal"] = o.stop_signal;
  if (o.stop_timeout) cfg["StopTimeout"] = *o.stop_timeout;

  host["Binds"] = binds.empty() ? Value() : binds;
  Value log = Value::object();
  log["Type"] = o.log_driver;
  Value log_cfg = Value::object();
  for (const auto& l : o.log_opts) {
    const auto eq = l.find('=');
    if (eq == std::string::npos)
      return std::unexpected(
          bad_flag(l, "--log-opt", "invalid key value pair format in driver options"));
    log_cfg[l.substr(0, eq)] = l.substr(eq + 1);
  }
  log["Config"] = log_cfg;
  host["LogConfig"] = log;
  host["NetworkMode"] = o.network.empty() ? "default" : o.network;
  host["PortBindings"] = bindings;
  if (!o.restart.empty()) {
    auto r = parse_restart(o.restart);
    if (!r) return std::unexpected(r.error());
    host["RestartPolicy"] = *r;
  } else {
    host["RestartPolicy"] = Value{{"Name", "no"}, {"MaximumRetryCount", 0}};
  }
  host["AutoRemove"] = o.rm;
  if (!o.volumes_from.empty()) host["VolumesFrom"] = o.volumes_from;
  if (!o.cap_add.empty()) host["CapAdd"] = o.cap_add;
  if (!o.cap_drop.empty()) host["CapDrop"] = o.cap_drop;
  if (!o.dns.empty()) host["Dns"] = o.dns;
  if (!o.add_host.empty()) host["ExtraHosts"] = o.add_host;
  if (!o.security_opt.empty()) host["SecurityOpt"] = o.security_opt;
  host["Privileged"] = o.privileged;
  host["ReadonlyRootfs"] = o.read_only;
  if (!o.sysctls.empty()) {
    Value s = Value::object();
    for (const auto& kv : o.sysctls) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos)
        return std::unexpected(bad_flag(kv, "--sysctl", "invalid sysctl value"));
      s[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    host["Sysctls"] = s;
  }
  if (!o.tmpfs.empty()) {
    Value t = Value::object();
    for (const auto& spec : o.tmpfs) {
      const auto colon = spec.find(':');
      t[spec.substr(0, colon)] = colon == std::string::npos ? "" : spec.substr(colon + 1);
    }
    host["Tmpfs"] = t;
  }
  if (!o.shm_size.empty()) {
    auto n = ram_in_bytes(o.shm_size);
    if (!n) return std::unexpected(bad_flag(o.shm_size, "--shm-size", n.error().message()));
    host["ShmSize"] = *n;
  }
  if (o.init_set) host["Init"] = o.init;
  if (!o.memory.empty()) {
    auto n = ram_in_bytes(o.memory);
    if (!n) return std::unexpected(bad_flag(o.memory, "-m, --memory", n.error().message()));
    host["Memory"] = *n;
  }
  if (!o.memory_swap.empty()) {
    if (o.memory_swap == "-1") {
      host["MemorySwap"] = -1;
    } else {
      auto n = ram_in_bytes(o.memory_swap);
      if (!n) return std::unexpected(bad_flag(o.memory_swap, "--memory-swap", n.error().message()));
      host["MemorySwap"] = *n;
    }
  }
  if (!o.cpus.empty()) {
    ASSIGN_OR_RETURN(int64_t n, parse_cpus(o.cpus));
    host["NanoCpus"] = n;
  }
  if (o.cpu_shares) host["CpuShares"] = *o.cpu_shares;
  if (o.pids_limit) host["PidsLimit"] = *o.pids_limit;
  if (!o.ulimits.empty()) {
    Value u = Value::array();
    for (const auto& s : o.ulimits) {
      ASSIGN_OR_RETURN(Value v, parse_ulimit(s));
      u.push_back(v);
    }
    host["Ulimits"] = u;
  }
  if (!o.devices.empty()) {
    Value d = Value::array();
    for (const auto& s : o.devices) {
      auto parts = split(s, ':');
      Value dev = Value::object();
      dev["PathOnHost"] = parts[0];
      dev["PathInContainer"] = parts.size() > 1 ? parts[1] : parts[0];
      dev["CgroupPermissions"] = parts.size() > 2 ? parts[2] : "rwm";
      d.push_back(dev);
    }
    host["Devices"] = d;
  }
  if (!o.mounts.empty()) {
    Value m = Value::array();
    for (const auto& s : o.mounts) {
      ASSIGN_OR_RETURN(Value v, parse_mount(s));
      m.push_back(v);
    }
    host["Mounts"] = m;
  }

  Value body = cfg;
  body["HostConfig"] = host;
  body["NetworkingConfig"] = Value{{"EndpointsConfig", Value::object()}};
  return body;
}

void add_container_flags(CLI::App& app, ContainerOptions& o, bool run) {
  auto multi = [&](const std::string& names, std::vector<std::string>& v, const std::string& d) {
    app.add_option(names, v, d)->allow_extra_args(false)->type_name("string");
  };
  if (run) {
    app.add_flag("-d,--detach", o.detach, "Run container in background and print container ID");
    app.add_flag("--sig-proxy{true}", o.sig_proxy, "Proxy received signals to the process");
    app.add_option("--detach-keys", o.detach_keys, "Override the key sequence for detaching");
  }
  app.add_flag("-i,--interactive", o.interactive, "Keep STDIN open even if not attached");
  app.add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
  app.add_flag("--rm", o.rm, "Automatically remove the container when it exits");
  app.add_option("--name", o.name, "Assign a name to the container");
  multi("-a,--attach", o.attach, "Attach to STDIN, STDOUT or STDERR");
  multi("-e,--env", o.env, "Set environment variables");
  multi("--env-file", o.env_file, "Read in a file of environment variables");
  app.add_option("-w,--workdir", o.workdir, "Working directory inside the container");
  app.add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  app.add_option_function<std::string>(
      "--entrypoint", [&o](const std::string& v) { o.entrypoint = v; },
      "Overwrite the default ENTRYPOINT of the image");
  multi("-l,--label", o.labels, "Set meta data on a container");
  app.add_option("-h,--hostname", o.hostname, "Container host name");
  app.add_option("--restart", o.restart, "Restart policy to apply when a container exits");
  app.add_option("-m,--memory", o.memory, "Memory limit");
  app.add_option("--memory-swap", o.memory_swap, "Swap limit equal to memory plus swap");
  app.add_option("--cpus", o.cpus, "Number of CPUs");
  app.add_option_function<int64_t>(
      "-c,--cpu-shares", [&o](const int64_t& v) { o.cpu_shares = v; }, "CPU shares");
  app.add_option_function<int64_t>(
      "--pids-limit", [&o](const int64_t& v) { o.pids_limit = v; }, "Tune container pids limit");
  multi("--ulimit", o.ulimits, "Ulimit options");
  multi("--cap-add", o.cap_add, "Add Linux capabilities");
  multi("--cap-drop", o.cap_drop, "Drop Linux capabilities");
  app.add_flag("--privileged", o.privileged, "Give extended privileges to this container");
  app.add_flag("--read-only", o.read_only, "Mount the container's root filesystem as read only");
  multi("--tmpfs", o.tmpfs, "Mount a tmpfs directory");
  multi("-v,--volume", o.volumes, "Bind mount a volume");
  multi("--mount", o.mounts, "Attach a filesystem mount to the container");
  multi("--volumes-from", o.volumes_from, "Mount volumes from the specified container(s)");
  app.add_option("--network,--net", o.network, "Connect a container to a network");
  app.add_flag_function(
      "--init", [&o](int64_t) { o.init = true, o.init_set = true; },
      "Run an init inside the container that forwards signals and reaps processes");
  app.add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
  app.add_option_function<int64_t>(
      "--stop-timeout", [&o](const int64_t& v) { o.stop_timeout = v; },
      "Timeout (in seconds) to stop a container");
  app.add_option("--log-driver", o.log_driver, "Logging driver for the container");
  multi("--log-opt", o.log_opts, "Log driver options");
  multi("-p,--publish", o.publish, "Publish a container's port(s) to the host");
  multi("--expose", o.expose, "Expose a port or a range of ports");
  multi("--dns", o.dns, "Set custom DNS servers");
  multi("--add-host", o.add_host, "Add a custom host-to-IP mapping (host:ip)");
  multi("--device", o.devices, "Add a host device to the container");
  multi("--security-opt", o.security_opt, "Security Options");
  multi("--sysctl", o.sysctls, "Sysctl options");
  app.add_option("--shm-size", o.shm_size, "Size of /dev/shm");
  app.add_option("--platform", o.platform, "Set platform if server is multi-platform capable");
  app.add_option("--pull", o.pull,
                 "Pull image before running (\"always\", \"missing\", \"never\")");
  app.add_option("--cidfile", o.cidfile, "Write the container ID to the file");
  app.add_option("image", o.image, "Image")->required();
}

std::pair<std::vector<std::string>, std::vector<std::string>> split_command_args(
    CLI::App& app, const std::vector<std::string>& args, size_t positionals) {
  auto takes_value = [&app](const std::string& name) {
    const CLI::Option* opt = app.get_option_no_throw(name);
    return opt && opt->get_items_expected_min() > 0;
  };
  size_t seen = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      // Everything after "--" is positional: the first `positionals` go to the command.
      std::vector<std::string> head(args.begin(), args.begin() + static_cast<long>(i) + 1);
      size_t j = i + 1;
      for (; j < args.size() && seen < positionals; ++j, ++seen) head.push_back(args[j]);
      return {head, std::vector<std::string>(args.begin() + static_cast<long>(j), args.end())};
    }
    if (a.size() > 2 && a.starts_with("--")) {
      if (a.find('=') == std::string::npos && takes_value(a)) ++i;
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      for (size_t k = 1; k < a.size(); ++k) {
        if (takes_value(std::string("-") + a[k])) {
          if (k + 1 == a.size()) ++i;  // value is the next argument
          break;                       // else the rest of the cluster is the value
        }
      }
      continue;
    }
    if (++seen == positionals) {
      return {std::vector<std::string>(args.begin(), args.begin() + static_cast<long>(i) + 1),
              std::vector<std::string>(args.begin() + static_cast<long>(i) + 1, args.end())};
    }
  }
  return {args, {}};
}

}  // namespace berth::cli
