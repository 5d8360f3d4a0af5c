// volume create/ls/inspect/rm/prune over /volumes, with docker's volume table fields.
#include <map>

#include "cli/commands.h"
#include "cli/table.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

Value volume_row(const Value& v) {
  Value r = Value::object();
  r["Availability"] = "N/A";
  r["CreatedAt"] = v.value("CreatedAt", "");
  r["Driver"] = v.value("Driver", "");
  r["Group"] = "N/A";
  std::vector<std::string> labels;
  if (v.contains("Labels") && v["Labels"].is_object())
    for (auto it = v["Labels"].begin(); it != v["Labels"].end(); ++it)
      labels.push_back(it.key() + "=" +
                       (it.value().is_string() ? it.value().get<std::string>() : ""));
  std::sort(labels.begin(), labels.end());
  std::string lj;
  for (size_t i = 0; i < labels.size(); ++i) lj += (i ? "," : "") + labels[i];
  r["Labels"] = lj;
  int64_t refs = -1, size = -1;
  if (v.contains("UsageData") && v["UsageData"].is_object()) {
    refs = v["UsageData"].value("RefCount", int64_t{-1});
    size = v["UsageData"].value("Size", int64_t{-1});
  }
  r["Links"] = refs == -1 ? "N/A" : std::to_string(refs);
  r["Mountpoint"] = v.value("Mountpoint", "");
  r["Name"] = v.value("Name", "");
  r["Scope"] = v.value("Scope", "");
  r["Size"] = size == -1 ? "N/A" : human_size(static_cast<double>(size), 3);
  r["Status"] = "N/A";
  return r;
}

}  // namespace

Status cmd_volume_create(Cli& cli, const Args& args) {
  std::string name, driver = "local";
  std::vector<std::string> opts, labels;
  CLI::App app("Create a volume", "create");
  setup_app(app);
  app.add_option("-d,--driver", driver, "Specify volume driver name");
  app.add_option("-o,--opt", opts, "Set driver specific options")->allow_extra_args(false);
  app.add_option("--label", labels, "Set metadata for a volume")->allow_extra_args(false);
  app.add_option("--name", name, "Specify volume name");
  std::string positional;
  app.add_option("volume", positional);
  if (auto st = parse_args(app, args)) return *st;
  if (!positional.empty()) {
    if (!name.empty() && name != positional)
      return fail(1,
                  "conflicting options: cannot specify a volume-name through both --name and "
                  "as a positional arg");
    name = positional;
  }
  Value body = Value::object();
  body["Driver"] = driver;
  Value dopts = Value::object(), lab = Value::object();
  for (const auto& o : opts) {
    const auto eq = o.find('=');
    if (eq == std::string::npos)
      return fail(125, "invalid key value pair format in driver options");
    dopts[o.substr(0, eq)] = o.substr(eq + 1);
  }
  for (const auto& l : labels) {
    const auto eq = l.find('=');
    lab[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  body["DriverOpts"] = dopts;
  body["Labels"] = lab;
  body["Name"] = name;
  auto r = cli.call_json("POST", "/volumes/create", body);
  if (!r) return fail(r.error());
  auto j = parse_json(r->body, "volume create response");
  if (!j) return fail(j.error());
  out(j->value("Name", "") + "\n");
  return ok();
}

Status cmd_volume_ls(Cli& cli, const Args& args) {
  bool quiet = false;
  std::string format;
  std::vector<std::string> filters;
  CLI::App app("List volumes", "ls");
  setup_app(app);
  app.add_flag("-q,--quiet", quiet, "Only display volume names");
  app.add_option("--format", format, "Format output using a custom template");
  app.add_option("-f,--filter", filters, "Provide filter values")->allow_extra_args(false);
  if (auto st = parse_args(app, args)) return *st;
  auto fj = filters_json(filters);
  if (!fj) return fail(fj.error());
  auto j = cli.get_json("/volumes" + http::query_string({{"filters", *fj}}));
  if (!j) return fail(j.error());
  std::vector<Value> rows;
  if ((*j)["Volumes"].is_array()) {
    std::vector<Value> vols((*j)["Volumes"].begin(), (*j)["Volumes"].end());
    // docker sorts volumes by name.
    std::sort(vols.begin(), vols.end(), [](const Value& a, const Value& b) {
      return a.value("Name", "") < b.value("Name", "");
    });
    for (const auto& v : vols) rows.push_back(volume_row(v));
  }
  RowFormat f;
  f.header = Value{{"Name", "VOLUME NAME"}, {"Driver", "DRIVER"},
                   {"Scope", "SCOPE"},      {"Mountpoint", "MOUNTPOINT"},
                   {"Labels", "LABELS"},    {"Links", "LINKS"},
                   {"Size", "SIZE"},        {"CreatedAt", "CREATED AT"}};
  f.format = quiet              ? "{{.Name}}"
             : format.empty()   ? "table {{.Driver}}\\t{{.Name}}"
             : format == "json" ? "{{json .}}"
                                : format;
  auto text = render_rows(f, rows);
  if (!text) return fail(text.error());
  out(*text);
  return ok();
}

Status cmd_volume_rm(Cli& cli, const Args& args) {
  bool force = false;
  std::vector<std::string> names;
  CLI::App app("Remove one or more volumes", "rm");
  setup_app(app);
  app.add_flag("-f,--force", force, "Force the removal of one or more volumes");
  app.add_option("volumes", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  std::string errors;
  for (const auto& n : names) {
    auto r = cli.call("DELETE", "/volumes/" + http::url_encode(n) +
                                    http::query_string({{"force", force ? "1" : ""}}));
    if (!r) {
      errors += (errors.empty() ? "" : "\n") + r.error().message();
      continue;
    }
    out(n + "\n");
  }
  if (!errors.empty()) return fail(1, errors);
  return ok();
}

Status cmd_volume_prune(Cli& cli, const Args& args) {
  bool force = false, all = false;
  std::vector<std::string> filters;
  CLI::App app("Remove unused local volumes", "prune");
  setup_app(app);
  app.add_flag("-f,--force", force, "Do not prompt for confirmation");
  app.add_flag("-a,--all", all, "Remove all unused volumes, not just anonymous ones");
  app.add_option("--filter", filters, "Provide filter values")->allow_extra_args(false);
  if (auto st = parse_args(app, args)) return *st;
  if (!confirm("WARNING! This will remove anonymous local volumes not used by at least one "
               "container.",
               force))
    return ok();
  if (all) filters.push_back("all=true");
  auto fj = filters_json(filters);
  if (!fj) return fail(fj.error());
  auto r = cli.call("POST", "/volumes/prune" + http::query_string({{"filters", *fj}}));
  if (!r) return fail(r.error());
  auto j = parse_json(r->body, "prune response");
  if (!j) return fail(j.error());
  std::string text;
  if ((*j)["VolumesDeleted"].is_array() && !(*j)["VolumesDeleted"].empty()) {
    text += "Deleted Volumes:\n";
    for (const auto& v : (*j)["VolumesDeleted"]) text += v.get<std::string>() + "\n";
    text += "\n";
  }
  out(text + "Total reclaimed space: " +
      human_size(static_cast<double>(j->value("SpaceReclaimed", int64_t{0}))) + "\n");
  return ok();
}

}  // namespace berth::cli
