// go-units and Go fmt/strconv behaviour the docker CLI's output depends on, reproduced so that
// berth prints byte-for-byte what docker prints.
#include "cli/units.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace berth::cli {

std::string human_duration(int64_t seconds) {
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return fmt::format("{} seconds", seconds);
  const int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return fmt::format("{} minutes", minutes);
  const auto hours = static_cast<int64_t>(static_cast<double>(seconds) / 3600.0 + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::string go_g(double f, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, f);
  return buf;
}

namespace {

std::string sized(double size, double base, const char* const* units, int n, int precision) {
  int i = 0;
  while (size >= base && i < n - 1) {
    size /= base;
    ++i;
  }
  return go_g(size, precision) + units[i];
}

constexpr const char* kDecimal[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
constexpr const char* kBinary[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};

// ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$ as in go-units parseSize.
Result<int64_t> parse_size(std::string_view s, double base) {
  const std::string orig(s);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0 || s[0] == '.' || s[i - 1] == '.')
    return make_error(ErrorCode::kInvalidArgument, "invalid size: '" + orig + "'");
  double num = 0;
  try {
    num = std::stod(std::string(s.substr(0, i)));
  } catch (...) {
    return make_error(ErrorCode::kInvalidArgument, "invalid size: '" + orig + "'");
  }
  std::string_view rest = s.substr(i);
  if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
  double mult = 1;
  if (!rest.empty()) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(rest[0])));
    const std::string_view prefixes = "kmgtp";
    if (auto p = prefixes.find(c); p != std::string_view::npos) {
      mult = std::pow(base, static_cast<double>(p + 1));
      rest.remove_prefix(1);
    }
  }
  if (!rest.empty() && (rest[0] == 'i' || rest[0] == 'I')) rest.remove_prefix(1);
  if (!rest.empty() && (rest[0] == 'b' || rest[0] == 'B')) rest.remove_prefix(1);
  if (!rest.empty()) return make_error(ErrorCode::kInvalidArgument, "invalid size: '" + orig + "'");
  return static_cast<int64_t>(num * mult);
}

}  // namespace

std::string human_size(double bytes, int precision) {
  return sized(bytes, 1000.0, kDecimal, 9, precision);
}

std::string bytes_size(double bytes) {
  return sized(bytes, 1024.0, kBinary, 9, 4);
}

Result<int64_t> ram_in_bytes(std::string_view s) {
  return parse_size(s, 1024.0);
}
Result<int64_t> from_human_size(std::string_view s) {
  return parse_size(s, 1000.0);
}

std::string go_float(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f == 0) return std::signbit(f) ? "-0" : "0";
  // Shortest round-trip digits, then fmt's %v rule for float64: exponent form when the
  // decimal exponent is < -4 or >= 6 (strconv uses precision 6 for the shortest form).
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, end);  // d.ddde+XX
  const bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  const auto epos = sci.find('e');
  std::string digits = sci.substr(0, epos);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exp = std::stoi(sci.substr(epos + 1));
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
    return out;
  }
  if (exp < 0) {
    out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." +
           digits.substr(static_cast<size_t>(exp) + 1);
  }
  return out;
}

size_t rune_count(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string ellipsis(std::string_view s, size_t max) {
  if (max == 0) return "";
  if (rune_count(s) <= max) return std::string(s);
  if (max == 1) return "…";
  // Keep max-1 runes.
  size_t runes = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (runes == max - 1) break;
      ++runes;
    }
  }
  return std::string(s.substr(0, i)) + "…";
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string go_time_string(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
  return buf;
}

std::string truncate_id(std::string_view id) {
  if (auto p = id.find(':'); p != std::string_view::npos) id.remove_prefix(p + 1);
  return std::string(id.substr(0, 12));
}

}  // namespace berth::cli
