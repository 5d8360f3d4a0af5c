// version, info, events, system df and system prune: daemon-wide views printed in docker's
// layouts (version/info text blocks, events lines with sorted attributes, df table).
#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <map>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/table.h"
#include "cli/timestamp.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

std::string arch() {
  struct utsname u {};
  uname(&u);
  const std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

Result<std::string> render_template(const std::string& format, const Value& data) {
  auto t = Template::parse(preformat(format == "json" ? "{{json .}}" : format, nullptr));
  if (!t) return std::unexpected(t.error().wrap("template parsing error"));
  auto s = t->execute(data);
  if (!s) return std::unexpected(s.error().wrap("template parsing error"));
  return *s + "\n";
}

// RFC3339NanoFixed in local time: 2026-11-27T02:41:56.123456789Z / +01:00.
std::string rfc3339_nano_fixed(int64_t nanos) {
  const time_t secs = static_cast<time_t>(nanos / 1000000000);
  struct tm tm {};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string zone;
  if (tm.tm_gmtoff == 0) {
    zone = "Z";
  } else {
    const long off = tm.tm_gmtoff;
    zone = fmt::format("{}{:02d}:{:02d}", off < 0 ? '-' : '+', std::abs(off) / 3600,
                       (std::abs(off) % 3600) / 60);
  }
  return fmt::format("{}.{:09d}{}", buf, nanos % 1000000000, zone);
}

}  // namespace

Status cmd_version(Cli& cli, const Args& args) {
  std::string format;
  CLI::App app("Show the berth version information", "version");
  setup_app(app);
  app.add_option("-f,--format", format, "Format output using a custom template");
  if (auto st = parse_args(app, args)) return *st;
  Value client = Value::object();
  client["Platform"] = Value{{"Name", "berth"}};
  client["Version"] = cli.client_version;
  client["ApiVersion"] = std::string(kMaxApiVersion);
  client["DefaultAPIVersion"] = std::string(kMaxApiVersion);
  client["GitCommit"] = "";
  client["GoVersion"] = "";
  client["Os"] = "linux";
  client["Arch"] = arch();
  client["BuildTime"] = "";
  client["Context"] = "default";
  Value data = Value::object();
  data["Client"] = client;
  auto server = cli.get_json("/version");
  if (server) {
    data["Server"] = *server;
    auto v = cli.api_version();
    if (v) data["Client"]["ApiVersion"] = *v;
  } else {
    data["Server"] = nullptr;
  }
  std::string text;
  if (!format.empty()) {
    auto s = render_template(format, data);
    if (!s) return fail(s.error());
    text = *s;
  } else {
    const Value& c = data["Client"];
    text += "Client:\n";
    text += fmt::format(" Version:           {}\n", c["Version"].get<std::string>());
    std::string api = c["ApiVersion"].get<std::string>();
    if (api != kMaxApiVersion) api += fmt::format(" (downgraded from {})", kMaxApiVersion);
    text += fmt::format(" API version:       {}\n", api);
    text += fmt::format(" OS/Arch:           linux/{}\n", c["Arch"].get<std::string>());
    text += " Context:           default\n";
    if (server) {
      const Value& s = *server;
      text += "\nServer:\n";
      std::string name = "Engine";
      if (s.contains("Platform") && s["Platform"].is_object())
        name = s["Platform"].value("Name", "Engine");
      text += fmt::format(" {}:\n", s.contains("Components") ? "Engine" : name);
      text += fmt::format("  Version:          {}\n", s.value("Version", ""));
      text += fmt::format("  API version:      {} (minimum version {})\n",
                          s.value("ApiVersion", ""), s.value("MinAPIVersion", ""));
      if (!s.value("GoVersion", "").empty())
        text += fmt::format("  Go version:       {}\n", s.value("GoVersion", ""));
      text += fmt::format("  Git commit:       {}\n", s.value("GitCommit", ""));
      text += fmt::format("  Built:            {}\n", s.value("BuildTime", ""));
      text += fmt::format("  OS/Arch:          {}/{}\n", s.value("Os", ""), s.value("Arch", ""));
      text += fmt::format("  Experimental:     {}\n",
                          s.value("Experimental", false) ? "true" : "false");
      if (s.contains("Components") && s["Components"].is_array()) {
        for (const auto& comp : s["Components"]) {
          if (comp.value("Name", "") == "Engine") continue;
          text += fmt::format(" {}:\n", comp.value("Name", ""));
          text += fmt::format("  Version:          {}\n", comp.value("Version", ""));
          if (comp.contains("Details") && comp["Details"].is_object())
            for (auto it = comp["Details"].begin(); it != comp["Details"].end(); ++it)
              if (it.key() == "GitCommit")
                text += fmt::format("  GitCommit:        {}\n",
                                    it.value().is_string() ? it.value().get<std::string>() : "");
        }
      }
    }
  }
  out(text);
  if (!server) return fail(server.error());
  return ok();
}

Status cmd_info(Cli& cli, const Args& args) {
  std::string format;
  CLI::App app("Display system-wide information", "info");
  setup_app(app);
  app.add_option("-f,--format", format, "Format output using a custom template");
  if (auto st = parse_args(app, args)) return *st;
  auto info = cli.get_json("/info");
  if (!format.empty()) {
    if (!info) return fail(info.error());
    auto s = render_template(format, *info);
    if (!s) return fail(s.error());
    out(*s);
    return ok();
  }
  std::string text = "Client:\n";
  text += fmt::format(" Version:    {}\n Context:    default\n Debug Mode: false\n",
                      cli.client_version);
  text += "\nServer:\n";
  if (!info) {
    out(text);
    return fail(info.error());
  }
  const Value& i = *info;
  auto n = [&](const char* k) { return i.value(k, int64_t{0}); };
  auto s = [&](const char* k) { return i.value(k, std::string()); };
  text +=
      fmt::format(" Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n", n("Containers"),
                  n("ContainersRunning"), n("ContainersPaused"), n("ContainersStopped"));
  text += fmt::format(" Images: {}\n", n("Images"));
  text += fmt::format(" Server Version: {}\n", s("ServerVersion"));
  text += fmt::format(" Storage Driver: {}\n", s("Driver"));
  text += fmt::format(" Logging Driver: {}\n", s("LoggingDriver"));
  text += fmt::format(" Cgroup Driver: {}\n", s("CgroupDriver"));
  text += fmt::format(" Cgroup Version: {}\n", s("CgroupVersion"));
  if (i.contains("Swarm") && i["Swarm"].is_object())
    text += fmt::format(" Swarm: {}\n", i["Swarm"].value("LocalNodeState", ""));
  text += fmt::format(" Default Runtime: {}\n", s("DefaultRuntime"));
  text += fmt::format(" Kernel Version: {}\n", s("KernelVersion"));
  text += fmt::format(" Operating System: {}\n", s("OperatingSystem"));
  text += fmt::format(" OSType: {}\n", s("OSType"));
  text += fmt::format(" Architecture: {}\n", s("Architecture"));
  text += fmt::format(" CPUs: {}\n", n("NCPU"));
  text += fmt::format(" Total Memory: {}\n", bytes_size(static_cast<double>(n("MemTotal"))));
  text += fmt::format(" Name: {}\n", s("Name"));
  text += fmt::format(" ID: {}\n", s("ID"));
  text += fmt::format(" Docker Root Dir: {}\n", s("DockerRootDir"));
  text += fmt::format(" Debug Mode: {}\n", i.value("Debug", false) ? "true" : "false");
  text +=
      fmt::format(" Experimental: {}\n", i.value("ExperimentalBuild", false) ? "true" : "false");
  text += fmt::format(" Live Restore Enabled: {}\n",
                      i.value("LiveRestoreEnabled", false) ? "true" : "false");
  out(text);
  if (i.contains("Warnings") && i["Warnings"].is_array())
    for (const auto& w : i["Warnings"])
      if (w.is_string()) err(w.get<std::string>() + "\n");
  return ok();
}

Status cmd_events(Cli& cli, const Args& args) {
  std::string since, until, format;
  std::vector<std::string> filters;
  CLI::App app("Get real time events from the server", "events");
  setup_app(app);
  app.add_option("--since", since, "Show all events created since timestamp");
  app.add_option("--until", until, "Stream events until this timestamp");
  app.add_option("--format", format, "Format the output using the given Go template");
  app.add_option("-f,--filter", filters, "Filter output based on conditions provided")
      ->allow_extra_args(false);
  if (auto st = parse_args(app, args)) return *st;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string since_ts, until_ts;
  if (!since.empty()) {
    auto t = get_timestamp(since, now);
    if (!t) return fail(t.error());
    since_ts = *t;
  }
  if (!until.empty()) {
    auto t = get_timestamp(until, now);
    if (!t) return fail(t.error());
    until_ts = *t;
  }
  auto fj = filters_json(filters);
  if (!fj) return fail(fj.error());
  std::optional<Template> tmpl;
  if (!format.empty()) {
    auto t = Template::parse(preformat(format == "json" ? "{{json .}}" : format, nullptr));
    if (!t) return fail(1, "template parsing error: " + t.error().message());
    tmpl = std::move(*t);
  }
  auto s = cli.stream(
      "GET",
      "/events" + http::query_string({{"since", since_ts}, {"until", until_ts}, {"filters", *fj}}));
  if (!s) return fail(s.error());
  std::string buf;
  while (true) {
    auto chunk = (*s)->read_some();
    if (!chunk) return fail(chunk.error());
    if (chunk->empty()) break;
    buf += *chunk;
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      const std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (line.empty()) continue;
      auto ev = parse_json(line, "event");
      if (!ev) return fail(ev.error());
      if (tmpl) {
        auto t = tmpl->execute(*ev);
        if (!t) return fail(1, "template parsing error: " + t.error().message());
        out(*t + "\n");
        continue;
      }
      const Value& e = *ev;
      std::string text;
      const int64_t tn = e.value("timeNano", int64_t{0});
      const int64_t ts = e.value("time", int64_t{0});
      if (tn != 0) {
        text += rfc3339_nano_fixed(tn) + " ";
      } else if (ts != 0) {
        text += rfc3339_nano_fixed(ts * 1000000000) + " ";
      }
      const Value actor = e.value("Actor", Value::object());
      text += fmt::format("{} {} {}", e.value("Type", ""), e.value("Action", ""),
                          actor.value("ID", ""));
      if (actor.contains("Attributes") && actor["Attributes"].is_object() &&
          !actor["Attributes"].empty()) {
        std::map<std::string, std::string> attrs;
        for (auto it = actor["Attributes"].begin(); it != actor["Attributes"].end(); ++it)
          attrs[it.key()] = it.value().is_string() ? it.value().get<std::string>() : "";
        std::string a;
        for (const auto& [k, v] : attrs) a += (a.empty() ? "" : ", ") + k + "=" + v;
        text += " (" + a + ")";
      }
      out(text + "\n");
    }
  }
  return ok();
}

Status cmd_system_df(Cli& cli, const Args& args) {
  bool verbose = false;
  std::string format;
  CLI::App app("Show docker disk usage", "df");
  setup_app(app);
  app.add_flag("-v,--verbose", verbose, "Show detailed information on space usage");
  app.add_option("--format", format, "Format output using a custom template");
  if (auto st = parse_args(app, args)) return *st;
  auto j = cli.get_json("/system/df");
  if (!j) return fail(j.error());
  const Value& d = *j;
  auto pct = [](int64_t reclaimable, int64_t total) {
    if (total > 0)
      return fmt::format("{} ({}%)", human_size(static_cast<double>(reclaimable)),
                         reclaimable * 100 / total);
    return human_size(static_cast<double>(reclaimable));
  };
  std::vector<Value> rows;
  {
    int64_t total = 0, active = 0, used = 0;
    const int64_t size = d.value("LayersSize", int64_t{0});
    if (d["Images"].is_array()) {
      for (const auto& i : d["Images"]) {
        ++total;
        if (i.value("Containers", int64_t{0}) > 0) {
          ++active;
          const int64_t sz = i.value("Size", int64_t{-1}), sh = i.value("SharedSize", int64_t{-1});
          if (sz != -1 && sh != -1) used += sz - sh;
        }
      }
    }
    rows.push_back(Value{{"Type", "Images"},
                         {"TotalCount", std::to_string(total)},
                         {"Active", std::to_string(active)},
                         {"Size", human_size(static_cast<double>(size))},
                         {"Reclaimable", pct(size - used, size)}});
  }
  {
    int64_t total = 0, active = 0, size = 0, reclaimable = 0;
    if (d["Containers"].is_array()) {
      for (const auto& c : d["Containers"]) {
        ++total;
        const int64_t rw = c.value("SizeRw", int64_t{0});
        size += rw;
        if (c.value("State", "") == "running") {
          ++active;
        } else {
          reclaimable += rw;
        }
      }
    }
    rows.push_back(Value{{"Type", "Containers"},
                         {"TotalCount", std::to_string(total)},
                         {"Active", std::to_string(active)},
                         {"Size", human_size(static_cast<double>(size))},
                         {"Reclaimable", pct(reclaimable, size)}});
  }
  {
    int64_t total = 0, active = 0, size = 0, reclaimable = 0;
    if (d["Volumes"].is_array()) {
      for (const auto& v : d["Volumes"]) {
        ++total;
        const Value u = v.value("UsageData", Value::object());
        const int64_t sz = u.value("Size", int64_t{-1});
        const int64_t refs = u.value("RefCount", int64_t{0});
        if (refs > 0) ++active;
        if (sz > 0) {
          size += sz;
          if (refs == 0) reclaimable += sz;
        }
      }
    }
    rows.push_back(Value{{"Type", "Local Volumes"},
                         {"TotalCount", std::to_string(total)},
                         {"Active", std::to_string(active)},
                         {"Size", human_size(static_cast<double>(size))},
                         {"Reclaimable", pct(reclaimable, size)}});
  }
  {
    int64_t total = 0, active = 0, size = 0, reclaimable = 0;
    if (d["BuildCache"].is_array()) {
      for (const auto& b : d["BuildCache"]) {
        ++total;
        const int64_t sz = b.value("Size", int64_t{0});
        size += sz;
        if (b.value("InUse", false)) ++active;
        if (!b.value("InUse", false) && !b.value("Shared", false)) reclaimable += sz;
      }
    }
    rows.push_back(Value{{"Type", "Build Cache"},
                         {"TotalCount", std::to_string(total)},
                         {"Active", std::to_string(active)},
                         {"Size", human_size(static_cast<double>(size))},
                         {"Reclaimable", human_size(static_cast<double>(reclaimable))}});
  }
  RowFormat f;
  f.header = Value{{"Type", "TYPE"},
                   {"TotalCount", "TOTAL"},
                   {"Active", "ACTIVE"},
                   {"Size", "SIZE"},
                   {"Reclaimable", "RECLAIMABLE"}};
  f.format = format.empty()
                 ? "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}"
             : format == "json" ? "{{json .}}"
                                : format;
  auto text = render_rows(f, rows);
  if (!text) return fail(text.error());
  out(*text);
  return ok();
}

Status cmd_system_prune(Cli& cli, const Args& args) {
  bool all = false, force = false, volumes = false;
  std::vector<std::string> filters;
  CLI::App app("Remove unused data", "prune");
  setup_app(app);
  app.add_flag("-a,--all", all, "Remove all unused images not just dangling ones");
  app.add_flag("-f,--force", force, "Do not prompt for confirmation");
  app.add_flag("--volumes", volumes, "Prune anonymous volumes");
  app.add_option("--filter", filters, "Provide filter values")->allow_extra_args(false);
  if (auto st = parse_args(app, args)) return *st;
  std::string warning =
      "WARNING! This will remove:\n  - all stopped containers\n"
      "  - all networks not used by at least one container\n";
  if (volumes) warning += "  - all anonymous volumes not used by at least one container\n";
  warning += all ? "  - all images without at least one container associated to them\n"
                 : "  - all dangling images\n";
  warning += "  - unused build cache\n";
  if (!confirm(warning, force)) return ok();
  auto fj = filters_json(filters);
  if (!fj) return fail(fj.error());
  int64_t reclaimed = 0;
  std::string text;
  auto prune = [&](const std::string& path, const char* key, const char* title) -> Result<void> {
    ASSIGN_OR_RETURN(auto r, cli.call("POST", path));
    ASSIGN_OR_RETURN(Value j, parse_json(r.body, "prune response"));
    reclaimed += j.value("SpaceReclaimed", int64_t{0});
    if (j.contains(key) && j[key].is_array() && !j[key].empty()) {
      text += std::string(title) + ":\n";
      for (const auto& e : j[key]) {
        if (e.is_string()) {
          text += e.get<std::string>() + "\n";
        } else if (e.is_object()) {
          if (e.contains("Untagged")) text += "untagged: " + e.value("Untagged", "") + "\n";
          if (e.contains("Deleted")) text += "deleted: " + e.value("Deleted", "") + "\n";
        }
      }
      text += "\n";
    }
    return {};
  };
  const std::string q = http::query_string({{"filters", *fj}});
  if (auto r = prune("/containers/prune" + q, "ContainersDeleted", "Deleted Containers"); !r)
    return fail(r.error());
  if (volumes)
    if (auto r = prune("/volumes/prune" + q, "VolumesDeleted", "Deleted Volumes"); !r)
      return fail(r.error());
  (void)prune("/networks/prune" + q, "NetworksDeleted", "Deleted Networks");
  std::vector<std::string> img_filters = filters;
  img_filters.push_back(std::string("dangling=") + (all ? "false" : "true"));
  auto ifj = filters_json(img_filters);
  if (!ifj) return fail(ifj.error());
  if (auto r = prune("/images/prune" + http::query_string({{"filters", *ifj}}), "ImagesDeleted",
                     "Deleted Images");
      !r)
    return fail(r.error());
  (void)prune("/build/prune" + q, "CachesDeleted", "Deleted build cache objects");
  out(text + "Total reclaimed space: " + human_size(static_cast<double>(reclaimed)) + "\n");
  return ok();
}

}  // namespace berth::cli
