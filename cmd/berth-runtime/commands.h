// berth-runtime's commands: each add_* registers one runc command on the CLI11 app and sets the
// action that calls the runtime library.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "base/error.h"
#include "runtime/container.h"

namespace berth::cli {

struct Context {
  runtime::GlobalOptions global;
  // The chosen command's action; returns the process exit code or an error.
  std::function<Result<int>()> action;
};

void add_lifecycle_commands(CLI::App& app, Context& ctx);  // create start run delete kill
void add_query_commands(CLI::App& app, Context& ctx);      // state list ps features spec
void add_control_commands(CLI::App& app, Context& ctx);    // exec pause resume update

}  // namespace berth::cli
