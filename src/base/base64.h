// Base64 (RFC 4648) in both alphabets: standard for Basic auth and config.json "auth" fields,
// URL-safe for docker's X-Registry-Auth header. Decoding accepts either alphabet, with or
// without padding, since clients differ.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berth {

std::string base64_encode(std::string_view data, bool url_safe = false);
// nullopt on a character outside both alphabets or a bad length.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace berth
