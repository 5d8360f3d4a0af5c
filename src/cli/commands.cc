// Plumbing shared by the command files: docker-style argument parsing with CLI11, filters,
// confirmation prompts, and docker's mapping of run errors to exit statuses.
#include "cli/commands.h"

#include <unistd.h>

#include <iostream>
#include <map>

namespace berth::cli {

void setup_app(CLI::App& app) {
  app.set_help_flag("--help", "Print usage");
  app.allow_windows_style_options(false);
}

std::optional<Status> parse_args(CLI::App& app, const Args& args) {
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp&) {
    out(app.help());
    return ok();
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    // CLI11 words an unknown option as an unexpected argument; docker says "unknown flag".
    if (const auto colon = msg.find("not expected: -"); colon != std::string::npos)
      msg = "unknown flag: " + msg.substr(colon + 14);
    return fail(125, msg + "\nSee 'berth " + app.get_name() + " --help'.");
  }
  return std::nullopt;
}

Result<std::string> filters_json(const std::vector<std::string>& filters) {
  if (filters.empty()) return std::string();
  Value j = Value::object();
  for (const auto& f : filters) {
    const auto eq = f.find('=');
    if (eq == std::string::npos)
      return make_error(ErrorCode::kInvalidArgument,
                        "invalid argument \"" + f +
                            "\" for \"-f, --filter\" flag: bad format of "
                            "filter (expected name=value)");
    std::string key = f.substr(0, eq);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    j[key][f.substr(eq + 1)] = true;
  }
  return j.dump();
}

bool confirm(const std::string& warning, bool force) {
  if (force) return true;
  out(warning + "\nAre you sure you want to continue? [y/N] ");
  std::string line;
  if (!std::getline(std::cin, line)) return false;
  return line == "y" || line == "Y" || line == "yes" || line == "Yes";
}

int run_error_status(const std::string& message) {
  if (message.find("executable file not found") != std::string::npos ||
      message.find("no such file or directory") != std::string::npos ||
      message.find("system cannot find the file specified") != std::string::npos)
    return 127;
  if (message.find("permission denied") != std::string::npos ||
      message.find("is a directory") != std::string::npos ||
      message.find("not a directory") != std::string::npos)
    return 126;
  return 125;
}

}  // namespace berth::cli
