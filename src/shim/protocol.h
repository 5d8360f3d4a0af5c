// Pieces both ends of the shim share: the SpawnOptions file the shim is started with
// (<state_dir>/shim.json), the exit record, and the error shape on the wire
// ({"error": "...", "code": "NotFound"}).
#pragma once

#include <string>

#include "base/error.h"
#include "base/json.h"
#include "shim/client.h"

namespace berth::shim {

inline constexpr const char* kConfigFile = "shim.json";
inline constexpr const char* kSocketFile = "shim.sock";
inline constexpr const char* kExitFile = "exit.json";
inline constexpr const char* kPidFile = "shim.pid";
inline constexpr const char* kLogFile = "shim.log";
// The shim reports its start-up on this fd (inherited from spawn()).
inline constexpr int kReportFd = 3;

json::Json options_to_json(const SpawnOptions& o);
Result<SpawnOptions> options_from_json(const json::Json& j);

json::Json exit_to_json(const ExitStatus& e);
ExitStatus exit_from_json(const json::Json& j);

json::Json error_to_json(const Error& e);
// A reply carrying "error" becomes that Error (category from "code").
Result<> check_reply(const json::Json& reply);

}  // namespace berth::shim
