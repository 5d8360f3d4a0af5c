// /_ping, /version, /info, /events, /system/df.
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "api/internal.h"
#include "base/file.h"
#include "base/log.h"
#include "engine/event_filter.h"

namespace berth::api {
namespace {

std::string kernel_version() {
  struct utsname u {};
  ::uname(&u);
  return u.release;
}

http::ResponseWriter::Headers ping_headers() {
  return {{"Api-Version", kApiVersion},
          {"Builder-Version", "1"},
          {"Docker-Experimental", "false"},
          {"OSType", "linux"},
          {"Swarm", "inactive"},
          {"Cache-Control", "no-cache, no-store, must-revalidate"},
          {"Pragma", "no-cache"}};
}

std::string cgroup_driver_version() {
  // cgroup2 at /sys/fs/cgroup means a unified host; else v1 (hybrid counts as v1 for docker).
  auto m = read_file("/proc/self/mountinfo");
  if (m && m->find(" /sys/fs/cgroup cgroup2 ") != std::string::npos) return "2";
  return "1";
}

}  // namespace

namespace {

// docker info's RegistryConfig: the daemon's insecure registries (CIDRs apart) and mirrors.
Json registry_config(const registry::Options& reg) {
  Json cidrs = Json::array({"127.0.0.0/8"});
  Json mirrors = Json::array();
  for (const auto& m : reg.mirrors) mirrors.push_back(m.ends_with("/") ? m : m + "/");
  Json index = {
      {"docker.io",
       {{"Name", "docker.io"}, {"Mirrors", mirrors}, {"Secure", true}, {"Official", true}}}};
  for (const auto& r : reg.insecure_registries) {
    if (r.find('/') != std::string::npos)
      cidrs.push_back(r);
    else
      index[r] = {{"Name", r}, {"Mirrors", Json::array()}, {"Secure", false}, {"Official", false}};
  }
  return {{"AllowNondistributableArtifactsCIDRs", Json::array()},
          {"AllowNondistributableArtifactsHostnames", Json::array()},
          {"InsecureRegistryCIDRs", cidrs},
          {"IndexConfigs", index},
          {"Mirrors", mirrors}};
}

}  // namespace

void register_system_routes(http::Router& r, engine::Engine& e, const registry::Options& reg) {
  auto ping = [](http::Request& req, http::ResponseWriter& w) {
    if (req.method == "HEAD")
      w.send(200, "text/plain; charset=utf-8", "", ping_headers());
    else
      w.send(200, "text/plain; charset=utf-8", "OK", ping_headers());
  };
  r.add("GET", "/_ping", ping);
  r.add("HEAD", "/_ping", ping);
  r.add("GET", "/version", [](http::Request&, http::ResponseWriter& w) {
    std::string version = BERTH_ENGINE_VERSION;
    Json engine_details = {{"ApiVersion", kApiVersion},
                           {"MinAPIVersion", kMinApiVersion},
                           {"GitCommit", "berth"},
                           {"GoVersion", "n/a"},
                           {"Os", "linux"},
                           {"Arch", "amd64"},
                           {"KernelVersion", kernel_version()},
                           {"BuildTime", ""},
                           {"Experimental", "false"}};
    w.send_json(
        200, Json{{"Platform", {{"Name", "berth"}}},
                  {"Components",
                   Json::array(
                       {{{"Name", "Engine"}, {"Version", version}, {"Details", engine_details}}})},
                  {"Version", version},
                  {"ApiVersion", kApiVersion},
                  {"MinAPIVersion", kMinApiVersion},
                  {"GitCommit", "berth"},
                  {"GoVersion", "n/a"},
                  {"Os", "linux"},
                  {"Arch", "amd64"},
                  {"KernelVersion", kernel_version()},
                  {"BuildTime", ""}});
  });
  r.add("GET", "/info",
        route([&e, rc = registry_config(reg)](http::Request&, http::ResponseWriter& w) -> Result<> {
          auto n = e.counts();
          auto images = e.images().list();
          struct sysinfo si {};
          ::sysinfo(&si);
          char host[256] = {};
          ::gethostname(host, sizeof host - 1);
          Json runtimes = {{"berth", {{"path", "berth-shim (in-process runtime)"}}}};
          for (const auto& [name, path] : e.options().runtimes) runtimes[name] = {{"path", path}};
          w.send_json(
              200,
              Json{{"ID", "berth"},
                   {"Containers", n.total},
                   {"ContainersRunning", n.running},
                   {"ContainersPaused", n.paused},
                   {"ContainersStopped", n.stopped},
                   {"Images", images ? images->size() : 0},
                   {"Driver", "overlay2"},
                   {"DriverStatus", Json::array({Json::array({"Backing Filesystem", "extfs"})})},
                   {"DockerRootDir", e.options().data_root},
                   {"Plugins",
                    {{"Volume", {"local"}}, {"Network", {"host", "null"}}, {"Log", {"json-file"}}}},
                   {"MemoryLimit", true},
                   {"SwapLimit", true},
                   {"CpuCfsPeriod", true},
                   {"CpuCfsQuota", true},
                   {"CPUShares", true},
                   {"CPUSet", true},
                   {"PidsLimit", true},
                   {"IPv4Forwarding", true},
                   {"Debug", false},
                   {"NFd", 0},
                   {"NGoroutines", 0},
                   {"SystemTime", log::rfc3339_now(true)},
                   {"LoggingDriver", "json-file"},
                   {"CgroupDriver", "cgroupfs"},
                   {"CgroupVersion", cgroup_driver_version()},
                   {"NEventsListener", 0},
                   {"KernelVersion", kernel_version()},
                   {"OperatingSystem", "berth"},
                   {"OSVersion", ""},
                   {"OSType", "linux"},
                   {"Architecture", "x86_64"},
                   {"NCPU", get_nprocs()},
                   {"MemTotal", static_cast<int64_t>(si.totalram) * si.mem_unit},
                   {"IndexServerAddress", "https://index.docker.io/v1/"},
                   {"RegistryConfig", rc},
                   {"GenericResources", nullptr},
                   {"HttpProxy", ""},
                   {"HttpsProxy", ""},
                   {"NoProxy", ""},
                   {"Name", host},
                   {"Labels", Json::array()},
                   {"ExperimentalBuild", false},
                   {"ServerVersion", BERTH_ENGINE_VERSION},
                   {"Runtimes", runtimes},
                   {"DefaultRuntime", "berth"},
                   {"Swarm",
                    {{"NodeID", ""},
                     {"NodeAddr", ""},
                     {"LocalNodeState", "inactive"},
                     {"ControlAvailable", false},
                     {"Error", ""},
                     {"RemoteManagers", nullptr}}},
                   {"LiveRestoreEnabled", true},
                   {"Isolation", ""},
                   {"InitBinary", "docker-init"},
                   {"ContainerdCommit", {{"ID", ""}, {"Expected", ""}}},
                   {"RuncCommit", {{"ID", ""}, {"Expected", ""}}},
                   {"InitCommit", {{"ID", ""}, {"Expected", ""}}},
                   {"SecurityOptions", {"name=seccomp,profile=builtin"}},
                   {"Warnings", Json::array()}});
          return {};
        }));
  r.add("GET", "/events", route([&e](http::Request& req, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto f, parse_filters(req.q("filters")));
          int64_t since = parse_time_ns(req.q("since"));
          int64_t until = parse_time_ns(req.q("until"));
          TRY(w.begin_stream(200, "application/json"));
          uint64_t cursor = 0;
          auto past = e.events().history(req.q("since").empty() ? INT64_MAX : since,
                                         until ? until : INT64_MAX, &cursor);
          for (const auto& ev : past)
            if (engine::event_matches(ev, f) && !w.write(ev.dump() + "\n")) return {};
          if (!req.q("since").empty() && until == 0 && false) return {};
          for (;;) {
            if (until && std::chrono::system_clock::now().time_since_epoch().count() >= until)
              break;
            if (w.client_gone()) break;
            Json ev;
            if (!e.events().next(&cursor, &ev, 500)) continue;
            if (until && ev.value("timeNano", int64_t{0}) >= until) break;
            if (engine::event_matches(ev, f) && !w.write(ev.dump() + "\n")) break;
          }
          (void)w.end_stream();
          return {};
        }));
  r.add("GET", "/system/df", route([&e](http::Request&, http::ResponseWriter& w) -> Result<> {
          ASSIGN_OR_RETURN(auto j, e.disk_usage());
          w.send_json(200, j);
          return {};
        }));
  // No user-defined networks and no build cache exist yet; docker system prune asks anyway.
  r.add("POST", "/networks/prune", [](http::Request&, http::ResponseWriter& w) {
    w.send_json(200, Json{{"NetworksDeleted", Json::array()}});
  });
  r.add("POST", "/build/prune", [](http::Request&, http::ResponseWriter& w) {
    w.send_json(200, Json{{"CachesDeleted", Json::array()}, {"SpaceReclaimed", 0}});
  });
}

}  // namespace berth::api
