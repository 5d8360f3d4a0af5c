// The one-call container commands (stop, restart, kill, rm, wait, rename, pause, unpause,
// update, top, diff, export, commit, port, container prune): each maps its flags to one
// endpoint per container, prints the name it was given on success and collects errors.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/container_options.h"
#include "cli/stream.h"
#include "cli/table.h"
#include "cli/units.h"

namespace berth::cli {

namespace {

// Runs fn for each container; prints the name on success (when print), collects error lines.
Status for_each(const std::vector<std::string>& names,
                const std::function<Result<void>(const std::string&)>& fn, bool print = true) {
  std::vector<std::string> errors;
  for (const auto& n : names) {
    auto r = fn(n);
    if (!r) {
      errors.push_back(r.error().message());
      continue;
    }
    if (print) out(n + "\n");
  }
  if (errors.empty()) return ok();
  std::string msg;
  for (const auto& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return fail(1, msg);
}

std::string cpath(const std::string& name, std::string_view suffix) {
  return "/containers/" + http::url_encode(name) + std::string(suffix);
}

Status simple(Cli& cli, const Args& args, const char* name, const char* desc,
              std::string_view suffix) {
  std::vector<std::string> names;
  CLI::App app(desc, name);
  setup_app(app);
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  return for_each(names, [&](const std::string& n) -> Result<void> {
    TRY(cli.call("POST", cpath(n, suffix)));
    return {};
  });
}

}  // namespace

Status cmd_stop(Cli& cli, const Args& args) {
  std::vector<std::string> names;
  std::string signal;
  std::optional<int> timeout;
  CLI::App app("Stop one or more running containers", "stop");
  setup_app(app);
  app.add_option_function<int>(
      "-t,--time,--timeout", [&](const int& t) { timeout = t; },
      "Seconds to wait before killing the container");
  app.add_option("-s,--signal", signal, "Signal to send to the container");
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  std::string q;
  if (timeout) q = "?t=" + std::to_string(*timeout);
  if (!signal.empty())
    q += (q.empty() ? "?" : "&") + std::string("signal=") + http::url_encode(signal);
  return for_each(names, [&](const std::string& n) -> Result<void> {
    TRY(cli.call("POST", cpath(n, "/stop" + q)));
    return {};
  });
}

Status cmd_restart(Cli& cli, const Args& args) {
  std::vector<std::string> names;
  std::optional<int> timeout;
  CLI::App app("Restart one or more containers", "restart");
  setup_app(app);
  app.add_option_function<int>(
      "-t,--time,--timeout", [&](const int& t) { timeout = t; },
      "Seconds to wait before killing the container");
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  const std::string q = timeout ? "?t=" + std::to_string(*timeout) : "";
  return for_each(names, [&](const std::string& n) -> Result<void> {
    TRY(cli.call("POST", cpath(n, "/restart" + q)));
    return {};
  });
}

Status cmd_kill(Cli& cli, const Args& args) {
  std::vector<std::string> names;
  std::string signal;
  CLI::App app("Kill one or more running containers", "kill");
  setup_app(app);
  app.add_option("-s,--signal", signal, "Signal to send to the container");
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  const std::string q = signal.empty() ? "" : "?signal=" + http::url_encode(signal);
  return for_each(names, [&](const std::string& n) -> Result<void> {
    TRY(cli.call("POST", cpath(n, "/kill" + q)));
    return {};
  });
}

Status cmd_rm(Cli& cli, const Args& args) {
  std::vector<std::string> names;
  bool force = false, volumes = false, link = false;
  CLI::App app("Remove one or more containers", "rm");
  setup_app(app);
  app.add_flag("-f,--force", force, "Force the removal of a running container (uses SIGKILL)");
  app.add_flag("-v,--volumes", volumes, "Remove anonymous volumes associated with the container");
  app.add_flag("-l,--link", link, "Remove the specified link");
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  const std::string q = http::query_string(
      {{"v", volumes ? "1" : ""}, {"force", force ? "1" : ""}, {"link", link ? "1" : ""}});
  return for_each(names, [&](const std::string& n) -> Result<void> {
    if (n.empty() || n == "/")
      return make_error(ErrorCode::kInvalidArgument, "Container name cannot be empty");
    auto r = cli.call("DELETE", cpath(n, q));
    if (!r && force && r.error().code() == ErrorCode::kNotFound) return {};
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Status cmd_wait(Cli& cli, const Args& args) {
  std::vector<std::string> names;
  CLI::App app("Block until one or more containers stop, then print their exit codes", "wait");
  setup_app(app);
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  return for_each(
      names,
      [&](const std::string& n) -> Result<void> {
        ASSIGN_OR_RETURN(auto r, cli.call("POST", cpath(n, "/wait")));
        ASSIGN_OR_RETURN(Value v, parse_json(r.body, "wait response"));
        if (v.contains("Error") && v["Error"].is_object() &&
            !v["Error"].value("Message", "").empty())
          return make_error(ErrorCode::kInternal, v["Error"].value("Message", ""));
        out(std::to_string(v.value("StatusCode", 0)) + "\n");
        return {};
      },
      false);
}

Status cmd_rename(Cli& cli, const Args& args) {
  std::string from, to;
  CLI::App app("Rename a container", "rename");
  setup_app(app);
  app.add_option("container", from)->required();
  app.add_option("new_name", to)->required();
  if (auto st = parse_args(app, args)) return *st;
  if (to.empty()) return fail(1, "Error: neither old nor new names may be empty");
  auto r = cli.call("POST", cpath(from, "/rename?name=" + http::url_encode(to)));
  if (!r) return fail(1, r.error().message() + "\nError: failed to rename container named " + from);
  return ok();
}

Status cmd_pause(Cli& cli, const Args& args) {
  return simple(cli, args, "pause", "Pause all processes within one or more containers", "/pause");
}

Status cmd_unpause(Cli& cli, const Args& args) {
  return simple(cli, args, "unpause", "Unpause all processes within one or more containers",
                "/unpause");
}

Status cmd_update(Cli& cli, const Args& args) {
  std::vector<std::string> names;
  std::string memory, memory_swap, cpus, restart, memory_reservation;
  std::optional<int64_t> cpu_shares, pids_limit;
  CLI::App app("Update configuration of one or more containers", "update");
  setup_app(app);
  app.add_option("-m,--memory", memory, "Memory limit");
  app.add_option("--memory-swap", memory_swap, "Swap limit");
  app.add_option("--memory-reservation", memory_reservation, "Memory soft limit");
  app.add_option("--cpus", cpus, "Number of CPUs");
  app.add_option_function<int64_t>(
      "-c,--cpu-shares", [&](const int64_t& v) { cpu_shares = v; }, "CPU shares");
  app.add_option_function<int64_t>(
      "--pids-limit", [&](const int64_t& v) { pids_limit = v; }, "Tune container pids limit");
  app.add_option("--restart", restart, "Restart policy to apply when a container exits");
  app.add_option("containers", names)->required();
  if (auto st = parse_args(app, args)) return *st;
  Value body = Value::object();
  auto size = [&](const std::string& v, const char* key, const char* flag) -> Result<void> {
    if (v.empty()) return {};
    if (v == "-1") {
      body[key] = -1;
      return {};
    }
    auto n = ram_in_bytes(v);
    if (!n)
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("invalid argument \"{}\" for \"{}\" flag: {}", v, flag, n.error().message()));
    body[key] = *n;
    return {};
  };
  if (auto r = size(memory, "Memory", "-m, --memory"); !r) return fail(r.error(), 125);
  if (auto r = size(memory_swap, "MemorySwap", "--memory-swap"); !r) return fail(r.error(), 125);
  if (auto r = size(memory_reservation, "MemoryReservation", "--memory-reservation"); !r)
    return fail(r.error(), 125);
  if (!cpus.empty()) {
    auto n = parse_cpus(cpus);
    if (!n) return fail(n.error(), 125);
    body["NanoCpus"] = *n;
  }
  if (cpu_shares) body["CpuShares"] = *cpu_shares;
  if (pids_limit) body["PidsLimit"] = *pids_limit;
  if (!restart.empty()) {
    auto r = parse_restart(restart);
    if (!r) return fail(r.error(), 125);
    body["RestartPolicy"] = *r;
  }
  return for_each(names, [&](const std::string& n) -> Result<void> {
    ASSIGN_OR_RETURN(auto r, cli.call_json("POST", cpath(n, "/update"), body));
    auto v = parse_json(r.body, "update response");
    if (v && v->contains("Warnings") && (*v)["Warnings"].is_array())
      for (const auto& w : (*v)["Warnings"])
        if (w.is_string()) err("WARNING: " + w.get<std::string>() + "\n");
    return {};
  });
}

Status cmd_top(Cli& cli, const Args& args) {
  std::string name;
  std::vector<std::string> ps_args;
  CLI::App app("Display the running processes of a container", "top");
  setup_app(app);
  app.add_option("container", name)->required();
  app.add_option("ps_options", ps_args);
  auto [flags, rest] = split_command_args(app, args, 1);
  if (auto st = parse_args(app, flags)) return *st;
  std::string q;
  for (const auto& a : rest) q += (q.empty() ? "" : " ") + a;
  auto v = cli.get_json(cpath(name, "/top" + http::query_string({{"ps_args", q}})));
  if (!v) return fail(v.error());
  std::string text;
  const auto& titles = (*v)["Titles"];
  for (size_t i = 0; i < titles.size(); ++i)
    text += titles[i].get<std::string>() + (i + 1 < titles.size() ? "\t" : "\n");
  for (const auto& p : (*v)["Processes"]) {
    for (size_t i = 0; i < p.size(); ++i)
      text += p[i].get<std::string>() + (i + 1 < p.size() ? "\t" : "\n");
  }
  // docker top: tabwriter(20, 1, 3).
  out(tabwrite(text, 20, 3));
  return ok();
}

Status cmd_diff(Cli& cli, const Args& args) {
  std::string name;
  CLI::App app("Inspect changes to files or directories on a container's filesystem", "diff");
  setup_app(app);
  app.add_option("container", name)->required();
  if (auto st = parse_args(app, args)) return *st;
  auto v = cli.get_json(cpath(name, "/changes"));
  if (!v) return fail(v.error());
  std::string text;
  if (v->is_array()) {
    for (const auto& c : *v) {
      const int kind = c.value("Kind", 0);
      const char k = kind == 0 ? 'C' : kind == 1 ? 'A' : 'D';
      text += fmt::format("{} {}\n", k, c.value("Path", ""));
    }
  }
  out(text);
  return ok();
}

Status cmd_export(Cli& cli, const Args& args) {
  std::string name, output;
  CLI::App app("Export a container's filesystem as a tar archive", "export");
  setup_app(app);
  app.add_option("-o,--output", output, "Write to a file, instead of STDOUT");
  app.add_option("container", name)->required();
  if (auto st = parse_args(app, args)) return *st;
  if (output.empty() && isatty(1))
    return fail(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
  auto s = cli.stream("GET", cpath(name, "/export"));
  if (!s) return fail(s.error());
  int fd = 1;
  UniqueFd file;
  if (!output.empty()) {
    file = UniqueFd(::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file) return fail(1, "failed to export container: " + Error::last(output).message());
    fd = file.get();
  }
  while (true) {
    auto chunk = (*s)->read_some();
    if (!chunk) return fail(chunk.error());
    if (chunk->empty()) break;
    if (auto w = write_all(fd, *chunk); !w) return fail(w.error());
  }
  return ok();
}

Status cmd_commit(Cli& cli, const Args& args) {
  std::string name, ref, message, author;
  std::vector<std::string> changes;
  bool pause = true;
  CLI::App app("Create a new image from a container's changes", "commit");
  setup_app(app);
  app.add_option("-m,--message", message, "Commit message");
  app.add_option("-a,--author", author, "Author");
  app.add_option("-c,--change", changes, "Apply Dockerfile instruction to the created image")
      ->allow_extra_args(false);
  app.add_flag("-p,--pause{true}", pause, "Pause container during commit");
  app.add_option("container", name)->required();
  app.add_option("repository", ref);
  if (auto st = parse_args(app, args)) return *st;
  std::string repo = ref, tag;
  if (auto c = ref.rfind(':'); c != std::string::npos && ref.find('/', c) == std::string::npos)
    repo = ref.substr(0, c), tag = ref.substr(c + 1);
  std::vector<std::pair<std::string, std::string>> q = {
      {"container", name},  {"repo", repo},     {"tag", tag},
      {"comment", message}, {"author", author}, {"pause", pause ? "" : "0"}};
  for (const auto& c : changes) q.push_back({"changes", c});
  auto r = cli.call_json("POST", "/commit" + http::query_string(q), Value::object());
  if (!r) return fail(r.error());
  auto v = parse_json(r->body, "commit response");
  if (!v) return fail(v.error());
  out(v->value("Id", "") + "\n");
  return ok();
}

Status cmd_port(Cli& cli, const Args& args) {
  std::string name, port;
  CLI::App app("List port mappings or a specific mapping for the container", "port");
  setup_app(app);
  app.add_option("container", name)->required();
  app.add_option("port", port);
  if (auto st = parse_args(app, args)) return *st;
  auto v = cli.get_json(cpath(name, "/json"));
  if (!v) return fail(v.error());
  const Value ports = (*v)["NetworkSettings"].value("Ports", Value::object());
  std::string text;
  if (!port.empty() && port.find('/') == std::string::npos) port += "/tcp";
  if (ports.is_object()) {
    for (auto it = ports.begin(); it != ports.end(); ++it) {
      if (!port.empty() && it.key() != port) continue;
      if (!it.value().is_array()) continue;
      for (const auto& b : it.value()) {
        const std::string hp = b.value("HostIp", "") + ":" + b.value("HostPort", "");
        text += port.empty() ? it.key() + " -> " + hp + "\n" : hp + "\n";
      }
    }
  }
  if (!port.empty() && text.empty())
    return fail(1, "Error: No public port '" + port + "' published for " + name);
  out(text);
  return ok();
}

Status cmd_container_prune(Cli& cli, const Args& args) {
  bool force = false;
  std::vector<std::string> filters;
  CLI::App app("Remove all stopped containers", "prune");
  setup_app(app);
  app.add_flag("-f,--force", force, "Do not prompt for confirmation");
  app.add_option("--filter", filters, "Provide filter values")->allow_extra_args(false);
  if (auto st = parse_args(app, args)) return *st;
  if (!confirm("WARNING! This will remove all stopped containers.", force)) return ok();
  auto f = filters_json(filters);
  if (!f) return fail(f.error());
  auto v = cli.call("POST", "/containers/prune" + http::query_string({{"filters", *f}}));
  if (!v) return fail(v.error());
  auto j = parse_json(v->body, "prune response");
  if (!j) return fail(j.error());
  std::string text;
  if ((*j)["ContainersDeleted"].is_array() && !(*j)["ContainersDeleted"].empty()) {
    text += "Deleted Containers:\n";
    for (const auto& id : (*j)["ContainersDeleted"]) text += id.get<std::string>() + "\n";
    text += "\n";
  }
  text += "Total reclaimed space: " +
          human_size(static_cast<double>((*j).value("SpaceReclaimed", int64_t{0}))) + "\n";
  out(text);
  return ok();
}

}  // namespace berth::cli
