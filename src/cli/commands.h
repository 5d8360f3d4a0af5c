// Every berth command as a function of (context, arguments after the command name), so that
// cmd/berth/main.cc is only a table. Each returns the exit status and the error line to print.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/cli.h"

namespace berth::cli {

using Args = std::vector<std::string>;
using CommandFn = Status (*)(Cli&, const Args&);

// Parses args with app (docker conventions: --help only, no -h; errors exit 125 with
// "See 'berth <cmd> --help'."). Returns a Status when the command must stop here.
std::optional<Status> parse_args(CLI::App& app, const Args& args);
// A CLI11 app configured like docker's commands.
void setup_app(CLI::App& app);

// Containers.
Status cmd_run(Cli& cli, const Args& args);
Status cmd_create(Cli& cli, const Args& args);
Status cmd_start(Cli& cli, const Args& args);
Status cmd_attach(Cli& cli, const Args& args);
Status cmd_exec(Cli& cli, const Args& args);
Status cmd_stop(Cli& cli, const Args& args);
Status cmd_restart(Cli& cli, const Args& args);
Status cmd_kill(Cli& cli, const Args& args);
Status cmd_rm(Cli& cli, const Args& args);
Status cmd_wait(Cli& cli, const Args& args);
Status cmd_rename(Cli& cli, const Args& args);
Status cmd_pause(Cli& cli, const Args& args);
Status cmd_unpause(Cli& cli, const Args& args);
Status cmd_update(Cli& cli, const Args& args);
Status cmd_top(Cli& cli, const Args& args);
Status cmd_diff(Cli& cli, const Args& args);
Status cmd_export(Cli& cli, const Args& args);
Status cmd_commit(Cli& cli, const Args& args);
Status cmd_port(Cli& cli, const Args& args);
Status cmd_logs(Cli& cli, const Args& args);
Status cmd_ps(Cli& cli, const Args& args);
Status cmd_container_prune(Cli& cli, const Args& args);
Status cmd_container_inspect(Cli& cli, const Args& args);
Status cmd_cp(Cli& cli, const Args& args);
Status cmd_stats(Cli& cli, const Args& args);

// Any object.
Status cmd_inspect(Cli& cli, const Args& args);

// Images.
Status cmd_images(Cli& cli, const Args& args);
Status cmd_image_inspect(Cli& cli, const Args& args);
Status cmd_tag(Cli& cli, const Args& args);
Status cmd_rmi(Cli& cli, const Args& args);
Status cmd_history(Cli& cli, const Args& args);
Status cmd_import(Cli& cli, const Args& args);
Status cmd_save(Cli& cli, const Args& args);
Status cmd_load(Cli& cli, const Args& args);
Status cmd_pull(Cli& cli, const Args& args);
Status cmd_push(Cli& cli, const Args& args);
Status cmd_image_prune(Cli& cli, const Args& args);

// Registries.
Status cmd_login(Cli& cli, const Args& args);
Status cmd_logout(Cli& cli, const Args& args);

// Volumes.
Status cmd_volume_create(Cli& cli, const Args& args);
Status cmd_volume_ls(Cli& cli, const Args& args);
Status cmd_volume_inspect(Cli& cli, const Args& args);
Status cmd_volume_rm(Cli& cli, const Args& args);
Status cmd_volume_prune(Cli& cli, const Args& args);

// System.
Status cmd_info(Cli& cli, const Args& args);
Status cmd_version(Cli& cli, const Args& args);
Status cmd_events(Cli& cli, const Args& args);
Status cmd_system_df(Cli& cli, const Args& args);
Status cmd_system_prune(Cli& cli, const Args& args);

// Helpers shared by command files.
// docker's filters JSON: {"key":{"value":true}} from "key=value" flags.
Result<std::string> filters_json(const std::vector<std::string>& filters);
// Asks "Are you sure you want to continue? [y/N] " unless forced.
bool confirm(const std::string& warning, bool force);
// The container exit status docker maps a run/start error to (125, 126 or 127).
int run_error_status(const std::string& message);

}  // namespace berth::cli
