// JSON helpers on nlohmann::json: parsing into Result (nlohmann throws; we stop that here),
// and typed field access that names the field in its error.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::json {

using Json = nlohmann::json;

Result<Json> parse(std::string_view text, std::string_view what);
Result<Json> parse_file(const std::string& path);
std::string dump(const Json& j, int indent = -1);

}  // namespace berth::json
