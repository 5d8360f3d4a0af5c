// JSON parse boundary: nlohmann exceptions become Errors with the line and column.
#include "base/json.h"

#include "base/file.h"

namespace berth::json {

Result<Json> parse(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string msg = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..." -> after "] "
    auto pos = msg.find("] ");
    if (pos != std::string::npos) msg = msg.substr(pos + 2);
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": " + msg);
  }
}

Result<Json> parse_file(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, read_file(path));
  return parse(text, path);
}

std::string dump(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace berth::json
