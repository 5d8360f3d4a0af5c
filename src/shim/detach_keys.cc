// Detach-key parsing (moby/term's ToBytes) and the matcher over a client's stdin.
#include "shim/detach_keys.h"

#include <cctype>

#include "base/strings.h"

namespace berth::shim {

Result<std::string> parse_detach_keys(std::string_view spec) {
  if (spec.empty()) return std::string("\x10\x11", 2);  // ctrl-p, ctrl-q
  std::string out;
  for (const std::string& raw : split(spec, ',')) {
    std::string key(trim(raw));
    if (key.size() == 1) {
      out += key[0];
      continue;
    }
    std::string lower = key;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.size() == 6 && starts_with(lower, "ctrl-")) {
      char x = lower[5];
      if (x >= 'a' && x <= 'z') {
        out += static_cast<char>(x - 'a' + 1);
        continue;
      }
      static constexpr std::string_view kPunct = "@[\\]^_";
      if (auto pos = kPunct.find(x); pos != std::string_view::npos) {
        out += static_cast<char>(pos == 0 ? 0 : 26 + pos);
        continue;
      }
    }
    return make_error(ErrorCode::kInvalidArgument,
                      "invalid detach keys: unknown character: '" + key + "'");
  }
  if (out.empty()) return make_error(ErrorCode::kInvalidArgument, "invalid detach keys: empty");
  return out;
}

bool DetachMatcher::feed(std::string_view in, std::string& out) {
  for (char c : in) {
    if (c == seq_[matched_]) {
      if (++matched_ == seq_.size()) {
        matched_ = 0;
        return true;
      }
      continue;
    }
    // Mismatch: what was held is ordinary input; c may itself start a new sequence.
    out.append(seq_, 0, matched_);
    matched_ = 0;
    if (c == seq_[0]) {
      if (seq_.size() == 1) return true;
      matched_ = 1;
    } else {
      out += c;
    }
  }
  return false;
}

}  // namespace berth::shim
