// ps: GET /containers/json, then docker's ContainerContext fields (formatter/container.go) per
// row, so default tables, -q, --no-trunc and --format templates print what docker prints.
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/ps_format.h"
#include "cli/table.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

struct Port {
  std::string ip, type;
  int priv = 0, pub = 0;
};

std::string form_group(const std::string& key, int first, int last) {
  std::string ip, type = key;
  if (auto slash = key.find('/'); slash != std::string::npos)
    ip = key.substr(0, slash), type = key.substr(slash + 1);
  std::string g = std::to_string(first);
  if (first != last) g += "-" + std::to_string(last);
  if (!ip.empty()) g = ip + ":" + g + "->" + g;
  return g + "/" + type;
}

}  // namespace

std::string displayable_ports(const Value& ports) {
  std::vector<Port> ps;
  if (ports.is_array()) {
    for (const auto& p : ports)
      ps.push_back({p.value("IP", ""), p.value("Type", ""), p.value("PrivatePort", 0),
                    p.value("PublicPort", 0)});
  }
  std::sort(ps.begin(), ps.end(), [](const Port& a, const Port& b) {
    if (a.priv != b.priv) return a.priv < b.priv;
    if (a.ip != b.ip) return a.ip < b.ip;
    if (a.pub != b.pub) return a.pub < b.pub;
    return a.type < b.type;
  });
  std::map<std::string, std::pair<int, int>> groups;
  std::vector<std::string> keys, result, host_mappings;
  for (const auto& p : ps) {
    std::string key = p.type;
    if (!p.ip.empty()) {
      if (p.pub != p.priv) {
        const std::string host = p.ip.find(':') != std::string::npos ? "[" + p.ip + "]" : p.ip;
        host_mappings.push_back(fmt::format("{}:{}->{}/{}", host, p.pub, p.priv, p.type));
        continue;
      }
      key = p.ip + "/" + p.type;
    }
    auto it = groups.find(key);
    if (it == groups.end()) {
      groups[key] = {p.priv, p.priv};
      keys.push_back(key);
      continue;
    }
    if (p.priv == it->second.second + 1) {
      it->second.second = p.priv;
      continue;
    }
    result.push_back(form_group(key, it->second.first, it->second.second));
    it->second = {p.priv, p.priv};
  }
  for (const auto& k : keys) result.push_back(form_group(k, groups[k].first, groups[k].second));
  for (auto& h : host_mappings) result.push_back(h);
  std::string out;
  for (size_t i = 0; i < result.size(); ++i) out += (i ? ", " : "") + result[i];
  return out;
}

Value container_row(const Value& c, bool trunc, int64_t now) {
  Value r = Value::object();
  const int64_t created = c.value("Created", int64_t{0});
  std::string command = c.value("Command", "");
  if (trunc) command = ellipsis(command, 20);
  r["Command"] = go_quote(command);
  r["CreatedAt"] = go_time_string(created);
  const std::string id = c.value("Id", "");
  r["ID"] = trunc ? truncate_id(id) : id;
  std::string image = c.value("Image", "");
  if (image.empty()) {
    image = "<no image>";
  } else if (trunc) {
    const std::string image_id = c.value("ImageID", "");
    if (truncate_id(image_id) == truncate_id(image)) {
      image = truncate_id(image);
    } else if (auto at = image.find('@'); at != std::string::npos) {
      image = image.substr(0, at);
    }
  }
  r["Image"] = image;
  std::vector<std::string> labels;
  if (c.contains("Labels") && c["Labels"].is_object())
    for (auto it = c["Labels"].begin(); it != c["Labels"].end(); ++it)
      labels.push_back(it.key() + "=" +
                       (it.value().is_string() ? it.value().get<std::string>() : ""));
  std::sort(labels.begin(), labels.end());
  std::string lj;
  for (size_t i = 0; i < labels.size(); ++i) lj += (i ? "," : "") + labels[i];
  r["Labels"] = lj;
  int local_volumes = 0;
  std::string mounts;
  if (c.contains("Mounts") && c["Mounts"].is_array()) {
    for (const auto& m : c["Mounts"]) {
      std::string name = m.value("Name", "");
      if (name.empty()) name = m.value("Source", "");
      if (trunc) name = ellipsis(name, 15);
      mounts += (mounts.empty() ? "" : ",") + name;
      if (m.value("Driver", "") == "local") ++local_volumes;
    }
  }
  r["LocalVolumes"] = std::to_string(local_volumes);
  r["Mounts"] = mounts;
  std::vector<std::string> names;
  if (c.contains("Names") && c["Names"].is_array())
    for (const auto& n : c["Names"]) {
      std::string s = n.get<std::string>();
      if (!s.empty() && s[0] == '/') s.erase(0, 1);
      names.push_back(s);
    }
  if (!trunc) {
    for (const auto& n : names)
      if (n.find('/') == std::string::npos) {
        names = {n};
        break;
      }
  }
  std::string nj;
  for (size_t i = 0; i < names.size(); ++i) nj += (i ? "," : "") + names[i];
  r["Names"] = nj;
  std::vector<std::string> nets;
  if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object() &&
      c["NetworkSettings"].contains("Networks") && c["NetworkSettings"]["Networks"].is_object())
    for (auto it = c["NetworkSettings"]["Networks"].begin();
         it != c["NetworkSettings"]["Networks"].end(); ++it)
      nets.push_back(it.key());
  std::sort(nets.begin(), nets.end());
  std::string netj;
  for (size_t i = 0; i < nets.size(); ++i) netj += (i ? "," : "") + nets[i];
  r["Networks"] = netj;
  r["Ports"] = displayable_ports(c.value("Ports", Value::array()));
  r["RunningFor"] = human_duration(now - created) + " ago";
  const auto size_rw = c.value("SizeRw", int64_t{0});
  const auto size_root = c.value("SizeRootFs", int64_t{0});
  std::string size = human_size(static_cast<double>(size_rw), 3);
  if (size_root > 0) size += " (virtual " + human_size(static_cast<double>(size_root), 3) + ")";
  r["Size"] = size;
  r["State"] = c.value("State", "");
  r["Status"] = c.value("Status", "");
  r["Platform"] = nullptr;
  // {{json .}} prints the fields sorted, as Go marshals docker's field map.
  std::map<std::string, Value> sorted;
  for (auto it = r.begin(); it != r.end(); ++it) sorted[it.key()] = it.value();
  Value out = Value::object();
  for (auto& [k, v] : sorted) out[k] = std::move(v);
  return out;
}

Value container_header() {
  return Value{{"ID", "CONTAINER ID"},    {"Image", "IMAGE"},
               {"Command", "COMMAND"},    {"CreatedAt", "CREATED AT"},
               {"RunningFor", "CREATED"}, {"Ports", "PORTS"},
               {"State", "STATE"},        {"Status", "STATUS"},
               {"Size", "SIZE"},          {"Names", "NAMES"},
               {"Labels", "LABELS"},      {"Label", "LABEL"},
               {"Mounts", "MOUNTS"},      {"LocalVolumes", "LOCAL VOLUMES"},
               {"Networks", "NETWORKS"}};
}

Status cmd_ps(Cli& cli, const Args& args) {
  bool all = false, quiet = false, latest = false, no_trunc = false, size = false;
  int last = -1;
  std::string format;
  std::vector<std::string> filters;
  CLI::App app("List containers", "ps");
  setup_app(app);
  app.add_flag("-a,--all", all, "Show all containers (default shows just running)");
  app.add_flag("-q,--quiet", quiet, "Only display container IDs");
  app.add_flag("-l,--latest", latest, "Show the latest created container (includes all states)");
  app.add_option("-n,--last", last, "Show n last created containers (includes all states)");
  app.add_flag("--no-trunc", no_trunc, "Don't truncate output");
  app.add_flag("-s,--size", size, "Display total file sizes");
  app.add_option("--format", format, "Format output using a custom template");
  app.add_option("-f,--filter", filters, "Filter output based on conditions provided")
      ->allow_extra_args(false);
  if (auto st = parse_args(app, args)) return *st;
  auto fj = filters_json(filters);
  if (!fj) return fail(fj.error());
  int limit = latest ? 1 : last;
  // docker requests sizes when the template uses .Size.
  if (format.find(".Size") != std::string::npos || format.find("json .}}") != std::string::npos ||
      format == "json")
    size = true;
  std::vector<std::pair<std::string, std::string>> q = {
      {"all", all ? "1" : ""},
      {"limit", limit > 0 ? std::to_string(limit) : ""},
      {"size", size ? "1" : ""},
      {"filters", *fj}};
  auto list = cli.get_json("/containers/json" + http::query_string(q));
  if (!list) return fail(list.error());

  RowFormat f;
  if (quiet) {
    f.format = "{{.ID}}";
  } else if (!format.empty()) {
    f.format = format == "table" ? kDefaultPsFormat : format;
    if (format == "json") f.format = "{{json .}}";
  } else {
    f.format = kDefaultPsFormat;
    if (size) f.format += "\\t{{.Size}}";
  }
  f.header = container_header();
  std::map<std::string, Value> labels;
  std::vector<Value> rows;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& c : *list) {
    Value row = container_row(c, !no_trunc, now);
    labels[row["ID"].get<std::string>()] = c.value("Labels", Value::object());
    rows.push_back(std::move(row));
  }
  f.hook = [&labels](const Value& dot, std::string_view name,
                     const std::vector<Value>& a) -> std::optional<Result<Value>> {
    if (name != "Label" || a.size() != 1 || !dot.is_object() || !dot.contains("ID"))
      return std::nullopt;
    const Value& l = labels[dot["ID"].get<std::string>()];
    const std::string key = a[0].is_string() ? a[0].get<std::string>() : "";
    if (l.is_object() && l.contains(key) && l[key].is_string()) return Result<Value>(l[key]);
    return Result<Value>(Value(""));
  };
  auto text = render_rows(f, rows);
  if (!text) return fail(text.error());
  out(*text);
  return ok();
}

}  // namespace berth::cli
