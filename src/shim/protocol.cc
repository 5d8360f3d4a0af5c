// Serialisation shared by berthd's client and the shim.
#include "shim/protocol.h"

namespace berth::shim {

json::Json options_to_json(const SpawnOptions& o) {
  return {{"id", o.id},
          {"bundle", o.bundle},
          {"state_dir", o.state_dir},
          {"runtime_root", o.runtime_root},
          {"runtime", o.runtime},
          {"log_path", o.log_path},
          {"log_max_size", o.log_max_size},
          {"log_max_file", o.log_max_file},
          {"open_stdin", o.open_stdin},
          {"stdin_once", o.stdin_once},
          {"tty", o.tty},
          {"tty_height", o.tty_height},
          {"tty_width", o.tty_width}};
}

Result<SpawnOptions> options_from_json(const json::Json& j) {
  try {
    SpawnOptions o;
    o.id = j.at("id").get<std::string>();
    o.bundle = j.at("bundle").get<std::string>();
    o.state_dir = j.at("state_dir").get<std::string>();
    o.runtime_root = j.at("runtime_root").get<std::string>();
    o.runtime = j.value("runtime", "");
    o.log_path = j.value("log_path", "");
    o.log_max_size = j.value("log_max_size", int64_t{-1});
    o.log_max_file = j.value("log_max_file", 1);
    o.open_stdin = j.value("open_stdin", false);
    o.stdin_once = j.value("stdin_once", false);
    o.tty = j.value("tty", false);
    o.tty_height = j.value("tty_height", uint16_t{0});
    o.tty_width = j.value("tty_width", uint16_t{0});
    return o;
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string("shim options: ") + e.what());
  }
}

json::Json exit_to_json(const ExitStatus& e) {
  return {{"exit_code", e.exit_code},
          {"oom_killed", e.oom_killed},
          {"started_at", e.started_at},
          {"finished_at", e.finished_at}};
}

ExitStatus exit_from_json(const json::Json& j) {
  ExitStatus e;
  if (!j.is_object()) return e;
  e.exit_code = j.value("exit_code", 0);
  e.oom_killed = j.value("oom_killed", false);
  e.started_at = j.value("started_at", "");
  e.finished_at = j.value("finished_at", "");
  return e;
}

json::Json error_to_json(const Error& e) {
  return {{"error", e.message()}, {"code", std::string(error_code_name(e.code()))}};
}

Result<> check_reply(const json::Json& reply) {
  if (!reply.is_object() || !reply.contains("error")) return {};
  std::string code = reply.value("code", "Internal");
  ErrorCode c = ErrorCode::kInternal;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i)
    if (error_code_name(static_cast<ErrorCode>(i)) == code) c = static_cast<ErrorCode>(i);
  std::string msg = reply["error"].is_string() ? reply["error"].get<std::string>() : "shim error";
  return make_error(c, std::move(msg));
}

}  // namespace berth::shim
