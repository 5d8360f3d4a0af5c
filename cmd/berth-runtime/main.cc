// berth-runtime: an OCI runtime with runc's command line. This file holds the global options,
// the sealed re-exec for commands that enter a container, and error reporting in runc's shape.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <set>

#include "base/log.h"
#include "commands.h"
#include "runtime/exe_seal.h"

namespace {

// The command name without parsing everything: the first argument that is not a global option.
std::string command_name(int argc, char** argv) {
  static const char* kTakesValue[] = {"--root", "--log", "--log-format", "--criu", "--rootless"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.empty() || a[0] != '-') return a;
    if (a.find('=') != std::string::npos) continue;
    for (auto* opt : kTakesValue)
      if (a == opt) {
        ++i;
        break;
      }
  }
  return "";
}

// `exec [options] -- ID ARGS...`: CLI11's prefix mode does not take a "--" before the id, so drop
// it there (a "--" after the id belongs to the process's arguments and stays).
void drop_exec_separator(int& argc, char** argv) {
  static const char* kTakesValue[] = {"--console-socket",
                                      "--cwd",
                                      "-e",
                                      "--env",
                                      "-u",
                                      "--user",
                                      "-g",
                                      "--additional-gids",
                                      "-p",
                                      "--process",
                                      "--pid-file",
                                      "--process-label",
                                      "--apparmor",
                                      "-c",
                                      "--cap",
                                      "--preserve-fds",
                                      "--cgroup"};
  int i = 1;
  while (i < argc && std::strcmp(argv[i], "exec") != 0) ++i;
  for (++i; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      return;
    }
    if (a.empty() || a[0] != '-') return;
    if (a.find('=') != std::string::npos) continue;
    for (auto* opt : kTakesValue)
      if (a == opt) {
        ++i;
        break;
      }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Answered before CLI11, whose --version throws: in a static binary the first exception makes
  // the unwinder sort every FDE of the registered .eh_frame (~20M instructions, several ms).
  if (argc == 2 && (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "-v"))) {
    std::cout << "berth-runtime version " << BERTH_VERSION << "\nspec: 1.2.0\n";
    return 0;
  }
  std::string cmd = command_name(argc, argv);
  if (cmd == "exec") drop_exec_separator(argc, argv);
  if ((cmd == "create" || cmd == "run" || cmd == "exec") && !berth::runtime::exe_is_sealed()) {
    berth::Error err = berth::runtime::reexec_sealed(argv, environ);
    std::cerr << "berth-runtime: " << err.message() << "\n";
    return 1;
  }

  CLI::App app{"berth-runtime: an OCI container runtime (runc-compatible command line)",
               "berth-runtime"};
  app.require_subcommand(0, 1);
  bool version_flag = false;  // handled above; here only for --help
  app.add_flag("-v,--version", version_flag, "print the version");
  berth::cli::Context ctx;
  std::string log_path, log_format = "text", rootless;
  bool debug = false;
  app.add_option("--root", ctx.global.root, "root directory for storage of container state")
      ->capture_default_str();
  app.add_option("--log", log_path, "set the log file to write runtime logs to (default stderr)");
  app.add_option("--log-format", log_format, "set the log format ('text' (default), or 'json')")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", debug, "enable debug logging");
  app.add_flag("--systemd-cgroup", ctx.global.systemd_cgroup,
               "enable systemd cgroup support (cgroupsPath is slice:prefix:name)");
  app.add_option("--rootless", rootless, "ignore cgroup permission errors (true, false, auto)");
  app.add_option("--criu", "path to the criu binary (checkpoint is not supported)");

  // Building CLI11's option tables costs ~1M instructions for every command; register only the
  // group that holds the command being run (all of them for help and unknown commands).
  static const std::set<std::string> kLifecycle = {"create", "start", "run", "kill", "delete"};
  static const std::set<std::string> kQuery = {"state", "list", "ls", "ps", "features", "spec"};
  static const std::set<std::string> kControl = {"exec", "pause", "resume", "update"};
  bool known = kLifecycle.count(cmd) || kQuery.count(cmd) || kControl.count(cmd);
  if (!known || kLifecycle.count(cmd)) berth::cli::add_lifecycle_commands(app, ctx);
  if (!known || kQuery.count(cmd)) berth::cli::add_query_commands(app, ctx);
  if (!known || kControl.count(cmd)) berth::cli::add_control_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!ctx.action) {
    std::cout << app.help();
    return 0;
  }
  ctx.global.debug = debug;
  auto fmt = log_format == "json" ? berth::log::Format::kJson : berth::log::Format::kText;
  if (auto r = berth::log::configure(log_path, fmt, debug); !r) {
    std::cerr << r.error().message() << "\n";
    return 1;
  }
  auto result = ctx.action();
  if (!result) {
    // runc's shape: the log gets the error line; with a log file, stderr gets the bare message.
    berth::log::error(result.error().message());
    if (berth::log::to_file()) std::cerr << result.error().message() << "\n";
    return 1;
  }
  return *result;
}
