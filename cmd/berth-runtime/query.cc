// state, list, ps, features, spec.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <set>

#include "base/file.h"
#include "base/strings.h"
#include "base/subprocess.h"
#include "commands.h"

namespace berth::cli {

void add_query_commands(CLI::App& app, Context& ctx) {
  static std::string state_id;
  auto* state = app.add_subcommand("state", "output the state of a container");
  state->add_option("id", state_id, "container id")->required();
  state->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      ASSIGN_OR_RETURN(auto j, runtime::state_json(ctx.global, state_id));
      std::cout << j.dump(2) << "\n";
      return 0;
    };
  });

  static std::string list_format = "table";
  static bool list_quiet = false;
  auto* list = app.add_subcommand("list", "lists containers started by berth-runtime with the given root");
  list->alias("ls");
  list->add_option("-f,--format", list_format, "table or json")->check(CLI::IsMember({"table", "json"}));
  list->add_flag("-q,--quiet", list_quiet, "display only container IDs");
  list->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      ASSIGN_OR_RETURN(auto all, runtime::list_containers(ctx.global));
      if (list_quiet) {
        for (auto& c : all) std::cout << c["id"].get<std::string>() << "\n";
      } else if (list_format == "json") {
        std::cout << json::Json(all).dump() << "\n";
      } else {
        std::printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
        for (auto& c : all)
          std::printf("%-12s %-8d %-10s %-40s %-30s %s\n", c["id"].get<std::string>().c_str(),
                      c["pid"].get<int>(), c["status"].get<std::string>().c_str(),
                      c["bundle"].get<std::string>().c_str(), c["created"].get<std::string>().c_str(),
                      c["owner"].get<std::string>().empty() ? "root" : c["owner"].get<std::string>().c_str());
      }
      return 0;
    };
  });

  static std::string ps_id, ps_format = "table";
  static std::vector<std::string> ps_args;
  auto* ps = app.add_subcommand("ps", "ps displays the processes running inside a container");
  ps->add_option("-f,--format", ps_format, "table or json")->check(CLI::IsMember({"table", "json"}));
  ps->add_option("id", ps_id, "container id")->required();
  ps->add_option("ps-args", ps_args, "arguments for ps (default -ef)");
  ps->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      ASSIGN_OR_RETURN(auto pids, runtime::container_pids(ctx.global, ps_id));
      if (ps_format == "json") {
        std::cout << json::Json(pids).dump() << "\n";
        return 0;
      }
      // Like runc: run the host's ps and keep the header and the container's lines.
      SubprocessOptions sp;
      sp.path = "/bin/ps";
      sp.args = {"ps"};
      if (ps_args.empty()) sp.args.push_back("-ef");
      for (auto& a : ps_args) sp.args.push_back(a);
      sp.env = {"PATH=/usr/bin:/bin"};
      ASSIGN_OR_RETURN(auto out, run_subprocess(sp));
      auto lines = split(out.output, '\n');
      if (lines.empty()) return 0;
      auto header = split(std::string(trim(lines[0])), ' ');
      size_t pid_col = 0;
      std::vector<std::string> cols;
      for (auto& h : header)
        if (!h.empty()) cols.push_back(h);
      for (size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = i;
      std::set<pid_t> want(pids.begin(), pids.end());
      std::cout << lines[0] << "\n";
      for (size_t i = 1; i < lines.size(); ++i) {
        std::vector<std::string> f;
        for (auto& x : split(lines[i], ' '))
          if (!x.empty()) f.push_back(x);
        if (f.size() <= pid_col) continue;
        auto pid = parse_int(f[pid_col]);
        if (pid && want.count(static_cast<pid_t>(*pid))) std::cout << lines[i] << "\n";
      }
      return 0;
    };
  });

  auto* features = app.add_subcommand("features", "show the enabled features");
  features->callback([&ctx] {
    ctx.action = []() -> Result<int> {
      std::cout << runtime::features_json().dump(4) << "\n";
      return 0;
    };
  });

  static std::string spec_bundle = ".";
  static bool spec_rootless = false;
  auto* spec = app.add_subcommand("spec", "create a new specification file (config.json)");
  spec->add_option("-b,--bundle", spec_bundle, "path to the root of the bundle directory");
  spec->add_flag("--rootless", spec_rootless, "generate a configuration for a rootless container");
  spec->callback([&ctx] {
    ctx.action = []() -> Result<int> {
      auto j = oci::default_spec_json(spec_rootless);
      if (spec_rootless) {
        j["linux"]["uidMappings"][0]["hostID"] = ::getuid();
        j["linux"]["gidMappings"][0]["hostID"] = ::getgid();
      }
      std::string path = spec_bundle + "/config.json";
      if (path_exists(path))
        return make_error(ErrorCode::kAlreadyExists, "File " + path + " exists. Remove it first");
      auto fd = open_fd(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
      if (!fd) return std::unexpected(fd.error());
      std::string text = j.dump(2) + "\n";
      if (::write(fd->get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        return errno_error("write " + path);
      return 0;
    };
  });
}

}  // namespace berth::cli
