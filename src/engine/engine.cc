// Engine construction, restore after a daemon restart, the container table (lookup by id, name
// or prefix), container creation and listing.
#include "engine/engine.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <regex>
#include <set>

#include "base/file.h"
#include "base/log.h"
#include "base/strings.h"
#include "engine/engine_internal.h"
#include "engine/seccomp_profile.h"
#include "engine/spec_builder.h"
#include "shim/client.h"

namespace berth::engine {

using json::Json;

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd || ::read(fd.get(), raw.data(), bytes) != static_cast<ssize_t>(bytes)) {
    std::random_device rd;
    for (auto& ch : raw) ch = static_cast<char>(rd());
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char ch : raw) out += hex[ch >> 4], out += hex[ch & 15];
  return out;
}

std::string generate_name() {
  static const char* left[] = {"admiring", "bold",    "brave",   "clever", "eager", "elegant",
                               "festive",  "focused", "gallant", "happy",  "jolly", "keen",
                               "loving",   "nifty",   "quirky",  "serene", "sharp", "vibrant"};
  static const char* right[] = {"babbage", "curie",    "darwin", "einstein", "feynman", "hopper",
                                "kepler",  "lovelace", "newton", "noether",  "pasteur", "ritchie",
                                "shannon", "thompson", "turing", "wozniak"};
  std::random_device rd;
  return std::string(left[rd() % std::size(left)]) + "_" + right[rd() % std::size(right)];
}

int64_t parse_size(const std::string& s) {
  if (s.empty()) return -1;
  size_t i = 0;
  while (i < s.size() && (isdigit(s[i]) || s[i] == '.')) ++i;
  if (i == 0) return -1;
  double v = std::stod(s.substr(0, i));
  std::string unit = s.substr(i);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  double mult = 1;
  if (unit == "k")
    mult = 1024;
  else if (unit == "m")
    mult = 1024.0 * 1024;
  else if (unit == "g")
    mult = 1024.0 * 1024 * 1024;
  else if (!unit.empty())
    return -1;
  return static_cast<int64_t>(v * mult);
}

int64_t rfc3339_to_ns(const std::string& s) {
  struct tm tm {};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return 0;
  int64_t ns = static_cast<int64_t>(timegm(&tm)) * 1000000000;
  if (*rest == '.') {
    ++rest;
    int64_t frac = 0;
    int digits = 0;
    while (isdigit(*rest)) {
      if (digits < 9) frac = frac * 10 + (*rest - '0'), ++digits;
      ++rest;
    }
    while (digits++ < 9) frac *= 10;
    ns += frac;
  }
  return ns;
}

std::string Engine::Impl::container_dir(const std::string& id) const {
  return engine->opts_.data_root + "/containers/" + id;
}
std::string Engine::Impl::bundle_dir(const std::string& id) const {
  return engine->opts_.exec_root + "/containers/" + id;
}
std::string Engine::Impl::log_path(const std::string& id) const {
  return container_dir(id) + "/" + id + "-json.log";
}

Result<std::shared_ptr<Entry>> Engine::Impl::find(const std::string& ref) {
  std::lock_guard lock(mu);
  if (auto it = by_id.find(ref); it != by_id.end()) return it->second;
  std::string name = ref.starts_with("/") ? ref : "/" + ref;
  if (auto it = names.find(name); it != names.end()) return by_id.at(it->second);
  if (!ref.empty() && ref.size() < 64) {
    std::shared_ptr<Entry> match;
    for (auto& [id, e] : by_id) {
      if (id.compare(0, ref.size(), ref) != 0) continue;
      if (match)
        return make_error(ErrorCode::kInvalidArgument,
                          "multiple IDs found with provided prefix: " + ref);
      match = e;
    }
    if (match) return match;
  }
  return make_error(ErrorCode::kNotFound, "No such container: " + ref);
}

Result<> Engine::Impl::persist(const Container& c) {
  return db->put(c);
}

void Engine::Impl::publish(const Container& c, const std::string& action,
                           std::map<std::string, std::string> extra) {
  std::map<std::string, std::string> attrs = std::move(extra);
  attrs["name"] = c.bare_name();
  attrs["image"] = c.image_ref;
  for (const Json obj_k = c.config.value("Labels", Json::object());
       const auto& [k, v] : obj_k.items())
    if (v.is_string()) attrs[k] = v.get<std::string>();
  engine->events_.publish("container", action, c.id, std::move(attrs));
}

Engine::Engine(Options opts) : opts_(std::move(opts)), impl_(std::make_unique<Impl>()) {
  impl_->engine = this;
}

Engine::~Engine() {
  shutdown();
}

void Engine::shutdown() {
  impl_->stopping = true;
}

static std::string exe_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, n);
  return p.substr(0, p.rfind('/'));
}

Result<std::unique_ptr<Engine>> Engine::create(const Options& opts) {
  std::unique_ptr<Engine> e(new Engine(opts));
  Impl& im = *e->impl_;
  for (const auto& root : {opts.data_root, opts.exec_root})
    (void)remove_all(root + "/" + kTrashDir);  // removed containers a crash left behind
  for (const auto& d : {opts.data_root, opts.data_root + "/containers", opts.exec_root,
                        opts.exec_root + "/containers", opts.exec_root + "/runtime",
                        opts.data_root + "/" + kTrashDir, opts.exec_root + "/" + kTrashDir})
    TRY_CTX(mkdir_all(d, 0711), "creating " + d);
  ASSIGN_OR_RETURN(e->images_, image::ImageStore::open(opts.data_root));
  ASSIGN_OR_RETURN(im.db, ContainerDb::open(opts.data_root + "/metadata.db"));
  ASSIGN_OR_RETURN(im.volumes, VolumeStore::open(opts.data_root));
  im.runtime_root = opts.exec_root + "/runtime";
  im.shim_path = opts.shim_path.empty() ? exe_dir() + "/berth-shim" : opts.shim_path;
  for (const char* p : {"/usr/bin/docker-init", "/usr/bin/tini-static", "/usr/bin/tini"})
    if (::access(p, X_OK) == 0) {
      im.init_path = p;
      break;
    }
  ASSIGN_OR_RETURN(auto records, im.db->load_all());
  std::lock_guard lock(im.mu);
  for (auto& c : records) {
    auto entry = std::make_shared<Entry>();
    im.names[c.name] = c.id;
    entry->c = std::move(c);
    im.by_id[entry->c.id] = entry;
  }
  return e;
}

namespace {

std::string fmt_octal(int v) {
  char buf[16];
  snprintf(buf, sizeof buf, "%o", v);
  return buf;
}

const std::regex kNameRe("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$");

std::vector<std::string> strings_of(const Json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// Validates HostConfig fields the engine cannot honour, with docker's wording where it has one.
Result<> validate_host_config(const Json& hc) {
  std::string net = hc.value("NetworkMode", "");
  if (!net.empty() && net != "default" && net != "bridge" && net != "none" && net != "host")
    return make_error(ErrorCode::kNotFound, "network " + net + " not found");
  auto pb = hc.value("PortBindings", Json::object());
  if (pb.is_object() && !pb.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "port publishing (-p) needs the bridge network, which this berthd does "
                      "not provide yet: use --network host");
  if (int64_t m = hc.value("Memory", int64_t{0}); m != 0 && m < 6 * 1024 * 1024)
    return make_error(ErrorCode::kInvalidArgument, "Minimum memory limit allowed is 6MB");
  if (int64_t s = hc.value("MemorySwap", int64_t{0}); s > 0) {
    int64_t m = hc.value("Memory", int64_t{0});
    if (m == 0)
      return make_error(ErrorCode::kInvalidArgument,
                        "You should always set the Memory limit when using Memoryswap limit, "
                        "see usage");
    if (s < m)
      return make_error(ErrorCode::kInvalidArgument,
                        "Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  auto rp = hc.value("RestartPolicy", Json::object());
  std::string policy = rp.is_object() ? rp.value("Name", "") : "";
  if (!policy.empty() && policy != "no" && policy != "always" && policy != "on-failure" &&
      policy != "unless-stopped")
    return make_error(ErrorCode::kInvalidArgument, "invalid restart policy '" + policy + "'");
  if (policy != "on-failure" && rp.is_object() && rp.value("MaximumRetryCount", 0) != 0)
    return make_error(
        ErrorCode::kInvalidArgument,
        "invalid restart policy: maximum retry count can only be used with 'on-failure'");
  if (hc.value("AutoRemove", false) && !policy.empty() && policy != "no")
    return make_error(ErrorCode::kInvalidArgument,
                      "can't create 'AutoRemove' container with restart policy");
  if (hc.contains("CpuShares") && hc["CpuShares"].is_number_integer() &&
      hc["CpuShares"].get<int64_t>() < 0)
    return make_error(ErrorCode::kInvalidArgument, "invalid CPU shares: must be positive");
  TRY(validate_seccomp_opt(hc));
  return {};
}

}  // namespace

Result<CreateResult> Engine::create_container(const std::string& name_in, const Json& body) {
  Impl& im = *impl_;
  if (!body.is_object())
    return make_error(ErrorCode::kInvalidArgument,
                      "config cannot be empty in order to create a container");
  Json config = body;
  Json hc = config.value("HostConfig", Json::object());
  if (hc.is_null()) hc = Json::object();
  config.erase("HostConfig");
  config.erase("NetworkingConfig");
  TRY(validate_host_config(hc));

  std::string image_ref = config.value("Image", "");
  if (image_ref.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "config cannot be empty in order to create a container");
  ASSIGN_OR_RETURN(image::Image img, images_->resolve(image_ref));

  std::string name = name_in;
  if (!name.empty() && !std::regex_match(name, kNameRe))
    return make_error(
        ErrorCode::kInvalidArgument,
        "Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");

  Container c;
  c.id = random_hex(32);
  c.created = log::rfc3339_now(true);
  c.image_id = img.id;
  c.image_ref = image_ref;
  c.runtime = hc.value("Runtime", "");
  if (c.runtime == "berth" || (c.runtime == "runc" && !opts_.runtimes.count("runc"))) {
    if (c.runtime == "runc")
      return make_error(ErrorCode::kInvalidArgument, "unknown or invalid runtime name: runc");
    c.runtime = "";
  }
  if (!c.runtime.empty() && !opts_.runtimes.count(c.runtime))
    return make_error(ErrorCode::kInvalidArgument, "unknown or invalid runtime name: " + c.runtime);
  std::string net = hc.value("NetworkMode", "");
  if (net.empty() || net == "default" || net == "bridge") hc["NetworkMode"] = "none";
  if (!hc.contains("LogConfig") || !hc["LogConfig"].is_object() ||
      hc["LogConfig"].value("Type", "").empty())
    hc["LogConfig"] = {
        {"Type", "json-file"},
        {"Config", hc.value("LogConfig", Json::object()).value("Config", Json::object())}};
  if (auto t = hc["LogConfig"].value("Type", ""); t != "json-file" && t != "none")
    return make_error(ErrorCode::kInvalidArgument, "logging driver " + t + " is not supported");
  if (!hc.contains("RestartPolicy") || !hc["RestartPolicy"].is_object())
    hc["RestartPolicy"] = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (hc["RestartPolicy"].value("Name", "").empty()) hc["RestartPolicy"]["Name"] = "no";
  if (!config.contains("Labels") || !config["Labels"].is_object())
    config["Labels"] = Json::object();
  const Json& ic = img.config.value("config", Json::object());
  // Image defaults show in inspect's Config, as docker merges them at create.
  if (!config.contains("Env") || !config["Env"].is_array()) config["Env"] = Json::array();
  {
    auto env = effective_env(config, ic);
    config["Env"] = env;
  }
  auto argv = effective_argv(config, ic);
  if (argv.empty()) return make_error(ErrorCode::kInvalidArgument, "no command specified");
  if ((!config.contains("Cmd") || config["Cmd"].is_null() || config["Cmd"].empty()) &&
      !(config.contains("Entrypoint") && config["Entrypoint"].is_array()))
    config["Cmd"] = ic.value("Cmd", Json(nullptr));
  if (!config.contains("Entrypoint") || config["Entrypoint"].is_null())
    config["Entrypoint"] = ic.value("Entrypoint", Json(nullptr));
  if (config.value("WorkingDir", "").empty()) config["WorkingDir"] = ic.value("WorkingDir", "");
  if (config.value("User", "").empty()) config["User"] = ic.value("User", "");
  for (const Json obj_k = ic.value("Labels", Json::object()); const auto& [k, v] : obj_k.items())
    if (!config["Labels"].contains(k)) config["Labels"][k] = v;
  if (config.value("StopSignal", "").empty() && ic.contains("StopSignal"))
    config["StopSignal"] = ic["StopSignal"];
  if (auto ss = config.value("StopSignal", ""); !ss.empty()) TRY(parse_signal(ss));
  if (config.value("Hostname", "").empty()) config["Hostname"] = c.id.substr(0, 12);
  c.path = argv[0];
  c.args.assign(argv.begin() + 1, argv.end());
  c.config = config;
  c.host_config = hc;

  // Volumes: -v/--mount, and the image's VOLUMEs as anonymous volumes.
  std::set<std::string> dests;
  auto add_volume = [&](const std::string& vol, const std::string& dst, bool rw,
                        bool anonymous) -> Result<> {
    ASSIGN_OR_RETURN(std::string mp, im.volumes->ensure(vol, anonymous));
    MountPoint m{.type = "volume",
                 .name = vol,
                 .source = mp,
                 .destination = dst,
                 .mode = rw ? "z" : "ro",
                 .rw = rw,
                 .propagation = ""};
    if (!rw)
      m.mode = "ro";
    else
      m.mode = "z";
    c.mounts.push_back(m);
    dests.insert(dst);
    return {};
  };
  for (const auto& b : strings_of(hc.value("Binds", Json::array()))) {
    auto parts = split(b, ':');
    if (parts.size() < 2 || parts.size() > 3 || parts[1].empty() || parts[1][0] != '/')
      return make_error(ErrorCode::kInvalidArgument, "invalid volume specification: '" + b + "'");
    std::string opts = parts.size() == 3 ? parts[2] : "";
    bool rw = true;
    std::string propagation;
    for (const auto& o : split(opts, ','))
      if (o == "ro")
        rw = false;
      else if (o == "rw" || o == "z" || o == "Z" || o == "nocopy" || o.empty()) {
      } else if (o == "private" || o == "rprivate" || o == "shared" || o == "rshared" ||
                 o == "slave" || o == "rslave")
        propagation = o;
      else
        return make_error(ErrorCode::kInvalidArgument, "invalid mode: " + o);
    if (dests.count(parts[1]))
      return make_error(ErrorCode::kInvalidArgument, "Duplicate mount point: " + parts[1]);
    if (parts[0].starts_with("/")) {
      if (!path_exists(parts[0]))
        TRY_CTX(mkdir_all(parts[0], 0755), "creating bind source " + parts[0]);
      c.mounts.push_back(MountPoint{.type = "bind",
                                    .name = "",
                                    .source = parts[0],
                                    .destination = parts[1],
                                    .mode = opts,
                                    .rw = rw,
                                    .propagation = propagation.empty() ? "rprivate" : propagation});
      dests.insert(parts[1]);
    } else {
      TRY(add_volume(parts[0], parts[1], rw, false));
    }
  }
  for (const auto& m : hc.value("Mounts", Json::array())) {
    std::string type = m.value("Type", "volume"), src = m.value("Source", ""),
                dst = m.value("Target", "");
    bool ro = m.value("ReadOnly", false);
    if (dst.empty() || dst[0] != '/')
      return make_error(ErrorCode::kInvalidArgument,
                        "invalid mount config: Target must be an absolute path");
    if (dests.count(dst))
      return make_error(ErrorCode::kInvalidArgument, "Duplicate mount point: " + dst);
    if (type == "bind") {
      if (!path_exists(src))
        return make_error(
            ErrorCode::kInvalidArgument,
            "invalid mount config for type \"bind\": bind source path does not exist: " + src);
      std::string prop = m.value("BindOptions", Json::object()).value("Propagation", "rprivate");
      c.mounts.push_back(MountPoint{.type = "bind",
                                    .name = "",
                                    .source = src,
                                    .destination = dst,
                                    .mode = "",
                                    .rw = !ro,
                                    .propagation = prop});
      dests.insert(dst);
    } else if (type == "volume") {
      TRY(add_volume(src.empty() ? random_hex(32) : src, dst, !ro, src.empty()));
    } else if (type == "tmpfs") {
      std::string opts;
      auto to = m.value("TmpfsOptions", Json::object());
      if (int64_t sz = to.value("SizeBytes", int64_t{0}); sz > 0)
        opts = "size=" + std::to_string(sz);
      if (to.contains("Mode"))
        opts += std::string(opts.empty() ? "" : ",") + "mode=" + fmt_octal(to["Mode"].get<int>());
      c.mounts.push_back(MountPoint{.type = "tmpfs",
                                    .name = "",
                                    .source = "",
                                    .destination = dst,
                                    .mode = opts,
                                    .rw = true,
                                    .propagation = ""});
      dests.insert(dst);
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "invalid mount config: mount type unknown: " + type);
    }
  }
  // Anonymous volumes: `-v /path` (Config.Volumes of the request) and the image's VOLUMEs.
  for (const Json& vols : {config.value("Volumes", Json::object()), ic.value("Volumes", Json::object())}) {
    if (!vols.is_object()) continue;
    for (const auto& [dst, _] : vols.items()) {
      if (dests.count(dst)) continue;
      TRY(add_volume(random_hex(32), dst, true, true));
      dests.insert(dst);
    }
  }

  // Rootfs snapshot and the container directory.
  const std::string dir = im.container_dir(c.id);
  ScopeGuard undo([&] {
    (void)images_->snapshotter().remove(c.id);
    (void)remove_all(dir);
  });
  TRY_CTX(mkdir_all(dir, 0710), "creating " + dir);
  TRY(images_->snapshotter().prepare(c.id, img.top_chain_id()));
  std::string hostname = config.value("Hostname", c.id.substr(0, 12));
  TRY(write_file_atomic(dir + "/hostname", hostname + "\n", 0644, false));
  std::string hosts =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  if (hc.value("NetworkMode", "") == "host") {
    auto h = read_file("/etc/hosts");
    if (h) hosts = *h;
  } else {
    hosts += "127.0.1.1\t" + hostname + "\n";
  }
  for (const auto& extra : strings_of(hc.value("ExtraHosts", Json::array()))) {
    auto colon = extra.find(':');
    if (colon == std::string::npos)
      return make_error(ErrorCode::kInvalidArgument, "invalid extra host: " + extra);
    hosts += extra.substr(colon + 1) + "\t" + extra.substr(0, colon) + "\n";
  }
  TRY(write_file_atomic(dir + "/hosts", hosts, 0644, false));
  auto resolv = read_file("/etc/resolv.conf");
  TRY(write_file_atomic(dir + "/resolv.conf", resolv ? *resolv : "", 0644, false));

  {
    std::lock_guard lock(im.mu);
    if (name.empty()) {
      do name = "/" + generate_name();
      while (im.names.count(name));
    }
    if (name[0] != '/') name = "/" + name;
    if (auto it = im.names.find(name); it != im.names.end())
      return make_error(ErrorCode::kConflict,
                        "Conflict. The container name \"" + name +
                            "\" is already in use by container \"" + it->second +
                            "\". You have to remove (or rename) that container to be able to "
                            "reuse that name.");
    c.name = name;
    TRY(im.persist(c));
    auto entry = std::make_shared<Entry>();
    entry->c = c;
    im.by_id[c.id] = entry;
    im.names[name] = c.id;
  }
  undo.dismiss();
  im.publish(c, "create");
  return CreateResult{c.id, {}};
}

Result<Container> Engine::inspect(const std::string& ref) {
  ASSIGN_OR_RETURN(auto e, impl_->find(ref));
  std::lock_guard lock(impl_->mu);
  return e->c;
}

static bool label_matches(const Json& labels, const std::string& f) {
  auto eq = f.find('=');
  std::string k = f.substr(0, eq);
  if (!labels.contains(k)) return false;
  return eq == std::string::npos || labels[k] == f.substr(eq + 1);
}

Result<std::vector<Container>> Engine::list(const ListOptions& o) {
  std::vector<Container> all;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, e] : impl_->by_id) all.push_back(e->c);
  }
  std::sort(all.begin(), all.end(),
            [](const Container& a, const Container& b) { return a.created > b.created; });
  for (const auto& [key, _] : o.filters)
    if (key != "id" && key != "name" && key != "label" && key != "status" && key != "exited" &&
        key != "ancestor" && key != "before" && key != "since" && key != "volume" &&
        key != "network" && key != "health" && key != "is-task")
      return make_error(ErrorCode::kInvalidArgument, "invalid filter '" + key + "'");
  std::vector<Container> out;
  for (auto& c : all) {
    bool show = o.all || c.running();
    bool explicit_status = o.filters.count("status") || o.filters.count("exited");
    if (!show && !explicit_status) continue;
    bool ok = true;
    for (const auto& [key, values] : o.filters) {
      bool any = false;
      for (const auto& v : values) {
        if (key == "id")
          any |= c.id.starts_with(v);
        else if (key == "name")
          any |= c.bare_name().find(v.starts_with("/") ? v.substr(1) : v) != std::string::npos;
        else if (key == "label")
          any |= label_matches(c.config.value("Labels", Json::object()), v);
        else if (key == "status")
          any |= v == state_name(c.state);
        else if (key == "exited")
          any |= c.state == State::kExited && std::to_string(c.exit_code) == v;
        else if (key == "ancestor") {
          auto img = images_->resolve(v);
          any |= c.image_ref == v || (img && img->id == c.image_id);
        } else if (key == "volume") {
          for (const auto& m : c.mounts) any |= m.name == v || m.destination == v;
        } else if (key == "network")
          any |= c.host_config.value("NetworkMode", "") == v;
        else
          any = true;
      }
      if (key == "label") {  // every label filter must match
        any = true;
        for (const auto& v : values)
          any &= label_matches(c.config.value("Labels", Json::object()), v);
      }
      ok &= any;
    }
    if (!ok) continue;
    if (!o.all && !explicit_status && !c.running()) continue;
    out.push_back(std::move(c));
    if (o.limit > 0 && static_cast<int>(out.size()) >= o.limit) break;
  }
  return out;
}

Engine::Counts Engine::counts() {
  Counts n;
  std::lock_guard lock(impl_->mu);
  for (auto& [id, e] : impl_->by_id) {
    ++n.total;
    if (e->c.state == State::kPaused)
      ++n.paused;
    else if (e->c.running())
      ++n.running;
    else
      ++n.stopped;
  }
  return n;
}

int Engine::containers_using_image(const std::string& image_id) {
  std::lock_guard lock(impl_->mu);
  int n = 0;
  for (auto& [id, e] : impl_->by_id) n += e->c.image_id == image_id;
  return n;
}

}  // namespace berth::engine
