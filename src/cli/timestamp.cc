// Time arguments as the docker CLI converts them before they reach the daemon.
#include "cli/timestamp.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace berth::cli {

std::optional<int64_t> parse_go_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') neg = s[0] == '-', s.remove_prefix(1);
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    const double v = std::stod(std::string(s.substr(0, i)));
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    const std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "µs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else
      return std::nullopt;
    total += v * mult;
  }
  return static_cast<int64_t>(neg ? -total : total);
}

Result<std::string> get_timestamp(std::string_view value, int64_t now_unix) {
  if (value != "0") {
    if (auto d = parse_go_duration(value)) {
      return std::to_string(now_unix - *d / 1000000000);
    }
  }
  if (value.find('-') != std::string_view::npos) {
    std::string v(value);
    struct tm tm {};
    const char* rest = strptime(v.c_str(), "%Y-%m-%d", &tm);
    if (!rest)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("parsing time \"{}\": cannot parse", value));
    int64_t nanos = 0;
    bool utc = false;
    int offset = 0;
    if (*rest == 'T') {
      rest = strptime(rest + 1, "%H:%M", &tm);
      if (rest && *rest == ':') rest = strptime(rest + 1, "%S", &tm);
      if (!rest)
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("parsing time \"{}\": cannot parse", value));
      if (*rest == '.') {
        ++rest;
        std::string frac;
        while (std::isdigit(static_cast<unsigned char>(*rest))) frac += *rest++;
        frac.resize(9, '0');
        nanos = std::stoll(frac.substr(0, 9));
      }
    }
    if (*rest == 'Z' || *rest == 'z') {
      utc = true;
      ++rest;
    } else if (*rest == '+' || *rest == '-') {
      int h = 0, m = 0;
      if (std::sscanf(rest + 1, "%d:%d", &h, &m) < 1)
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("parsing time \"{}\": bad zone", value));
      offset = (*rest == '-' ? -1 : 1) * (h * 3600 + m * 60);
      utc = true;
      rest += std::string_view(rest).size();
    }
    if (*rest)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("parsing time \"{}\": extra text", value));
    int64_t secs;
    if (utc) {
      secs = static_cast<int64_t>(timegm(&tm)) - offset;
    } else {
      tm.tm_isdst = -1;
      secs = static_cast<int64_t>(mktime(&tm));
    }
    return fmt::format("{}.{:09d}", secs, nanos);
  }
  // A unix timestamp ("1700000000" or "1700000000.5") goes to the daemon as is.
  std::string v(value);
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  if (v.empty() || *end)
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("failed to parse value as time or duration: \"{}\"", value));
  return v;
}

}  // namespace berth::cli
