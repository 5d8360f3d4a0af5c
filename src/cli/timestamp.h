// docker's GetTimestamp for --since/--until: Go durations ("10m", "1h30m") relative to now,
// RFC 3339 dates, or unix timestamps passed through, in the daemon's "seconds[.nanos]" form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::cli {

// Go's time.ParseDuration, in nanoseconds.
std::optional<int64_t> parse_go_duration(std::string_view s);
Result<std::string> get_timestamp(std::string_view value, int64_t now_unix);

}  // namespace berth::cli
