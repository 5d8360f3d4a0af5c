// docker top: run ps on the host and keep the rows of the container's processes, exactly as
// moby does (ps <args> -q <pids>, falling back to a full listing for options -q refuses, then
// filtering on the PID column; thread rows "-" follow the process row they belong to).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace berth::engine {

// {"Titles": [...], "Processes": [[...], ...]}. ps_args "" means "-ef". InvalidArgument for
// "k=PID"-style args other than pid= (docker refuses them); Internal "Couldn't find PID field in
// ps output" when the listing has no PID column; Internal "ps: <first stderr line>" if ps fails.
Result<json::Json> top_processes(const std::vector<pid_t>& pids, const std::string& ps_args);

// The filtering half, on ps output text (for tests and for callers with their own listing).
Result<json::Json> parse_ps_output(const std::string& output, const std::vector<pid_t>& pids);

}  // namespace berth::engine
