// stats: per-container CPU/memory/network/block-IO from /containers/{id}/stats computed like
// docker's stats_helpers.go; --no-stream prints one table, otherwise the table is redrawn about
// once a second (cursor home + clear, as docker does).
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/table.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

Value stats_row(const Value& s, const std::string& container, bool trunc) {
  Value r = Value::object();
  const Value cpu = s.value("cpu_stats", Value::object());
  const Value pre = s.value("precpu_stats", Value::object());
  const double cpu_delta =
      static_cast<double>(
          cpu.value("cpu_usage", Value::object()).value("total_usage", uint64_t{0})) -
      static_cast<double>(
          pre.value("cpu_usage", Value::object()).value("total_usage", uint64_t{0}));
  const double sys_delta = static_cast<double>(cpu.value("system_cpu_usage", uint64_t{0})) -
                           static_cast<double>(pre.value("system_cpu_usage", uint64_t{0}));
  double online = static_cast<double>(cpu.value("online_cpus", uint64_t{0}));
  if (online == 0) {
    const Value per = cpu.value("cpu_usage", Value::object()).value("percpu_usage", Value::array());
    online = static_cast<double>(per.size());
  }
  double cpu_pct = 0;
  if (sys_delta > 0 && cpu_delta > 0) cpu_pct = cpu_delta / sys_delta * online * 100.0;
  const Value mem = s.value("memory_stats", Value::object());
  double usage = static_cast<double>(mem.value("usage", uint64_t{0}));
  const Value mstats = mem.value("stats", Value::object());
  if (mstats.contains("total_inactive_file")) {
    const double v = static_cast<double>(mstats.value("total_inactive_file", uint64_t{0}));
    if (v < usage) usage -= v;
  } else if (mstats.contains("inactive_file")) {
    const double v = static_cast<double>(mstats.value("inactive_file", uint64_t{0}));
    if (v < usage) usage -= v;
  }
  const double limit = static_cast<double>(mem.value("limit", uint64_t{0}));
  double rx = 0, tx = 0;
  if (s.contains("networks") && s["networks"].is_object())
    for (const auto& n : s["networks"]) {
      rx += static_cast<double>(n.value("rx_bytes", uint64_t{0}));
      tx += static_cast<double>(n.value("tx_bytes", uint64_t{0}));
    }
  double blk_r = 0, blk_w = 0;
  const Value blk = s.value("blkio_stats", Value::object());
  if (blk.contains("io_service_bytes_recursive") && blk["io_service_bytes_recursive"].is_array())
    for (const auto& e : blk["io_service_bytes_recursive"]) {
      const std::string op = e.value("op", "");
      if (op.empty()) continue;
      if (op[0] == 'r' || op[0] == 'R') blk_r += static_cast<double>(e.value("value", uint64_t{0}));
      if (op[0] == 'w' || op[0] == 'W') blk_w += static_cast<double>(e.value("value", uint64_t{0}));
    }
  std::string name = s.value("name", "");
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  const std::string id = s.value("id", "");
  r["BlockIO"] = human_size(blk_r, 3) + " / " + human_size(blk_w, 3);
  r["CPUPerc"] = fmt::format("{:.2f}%", cpu_pct);
  r["Container"] = container;
  r["ID"] = trunc ? truncate_id(id) : id;
  r["MemPerc"] = fmt::format("{:.2f}%", limit > 0 ? usage / limit * 100.0 : 0.0);
  r["MemUsage"] = bytes_size(usage) + " / " + bytes_size(limit);
  r["Name"] = name.empty() ? "--" : name;
  r["NetIO"] = human_size(rx, 3) + " / " + human_size(tx, 3);
  r["PIDs"] = std::to_string(s.value("pids_stats", Value::object()).value("current", uint64_t{0}));
  return r;
}

}  // namespace

Status cmd_stats(Cli& cli, const Args& args) {
  bool all = false, no_stream = false, no_trunc = false;
  std::string format;
  std::vector<std::string> names;
  CLI::App app("Display a live stream of container(s) resource usage statistics", "stats");
  setup_app(app);
  app.add_flag("-a,--all", all, "Show all containers (default shows just running)");
  app.add_flag("--no-stream", no_stream, "Disable streaming stats and only pull the first result");
  app.add_flag("--no-trunc", no_trunc, "Do not truncate output");
  app.add_option("--format", format, "Format output using a custom template");
  app.add_option("containers", names);
  if (auto st = parse_args(app, args)) return *st;
  RowFormat f;
  f.header = Value{{"Container", "CONTAINER"},
                   {"ID", "CONTAINER ID"},
                   {"Name", "NAME"},
                   {"CPUPerc", "CPU %"},
                   {"MemUsage", "MEM USAGE / LIMIT"},
                   {"MemPerc", "MEM %"},
                   {"NetIO", "NET I/O"},
                   {"BlockIO", "BLOCK I/O"},
                   {"PIDs", "PIDS"}};
  f.format = format.empty()     ? "table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t"
                                  "{{.MemPerc}}\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}"
             : format == "json" ? "{{json .}}"
                                : format;
  const bool explicit_names = !names.empty();
  const bool tty = isatty(1);
  while (true) {
    std::vector<std::string> targets = names;
    if (!explicit_names) {
      auto list = cli.get_json(std::string("/containers/json") + (all ? "?all=1" : ""));
      if (!list) return fail(list.error());
      for (const auto& c : *list) targets.push_back(c.value("Id", ""));
    }
    std::vector<Value> rows;
    std::string errors;
    for (const auto& t : targets) {
      auto s = cli.get_json("/containers/" + http::url_encode(t) + "/stats?stream=0");
      if (!s) {
        if (explicit_names) errors += (errors.empty() ? "" : "\n") + s.error().message();
        continue;
      }
      rows.push_back(stats_row(*s, explicit_names ? t : truncate_id(t), !no_trunc));
    }
    if (!errors.empty()) return fail(1, errors);
    auto text = render_rows(f, rows);
    if (!text) return fail(text.error());
    if (!no_stream && tty) out("\033[H\033[2J");
    out(*text);
    if (no_stream) return ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace berth::cli
