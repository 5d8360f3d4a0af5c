// Running a helper program (hooks, tools): argv, env, bytes on stdin, an optional timeout.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth {

struct SubprocessOptions {
  std::string path;                 // executable, absolute
  std::vector<std::string> args;    // argv, args[0] included; path used when empty
  std::vector<std::string> env;     // "K=V"; empty means an empty environment
  std::string stdin_data;           // written then stdin closed
  std::optional<std::chrono::milliseconds> timeout;
};

struct SubprocessResult {
  int exit_code = 0;   // exit status, or 128+signal when killed
  bool timed_out = false;
  std::string output;  // stdout and stderr, captured (capped at 64 KiB)
};

Result<SubprocessResult> run_subprocess(const SubprocessOptions& opts);

}  // namespace berth
