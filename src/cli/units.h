// Human-readable units as the docker CLI prints and parses them (github.com/docker/go-units):
// "2 minutes ago" durations, "1.98MB" decimal sizes, "1.5MiB" binary sizes, and "64m" -> bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::cli {

// go-units HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks".
std::string human_duration(int64_t seconds);
// go-units HumanSizeWithPrecision (decimal units, kB/MB/GB): precision 3 gives "1.98MB".
std::string human_size(double bytes, int precision = 4);
// go-units BytesSize (binary units, KiB/MiB/GiB, "%.4g"): what stats prints.
std::string bytes_size(double bytes);
// go-units RAMInBytes: "64m", "1g", "512k", "1.5GiB" (binary multipliers) -> bytes.
Result<int64_t> ram_in_bytes(std::string_view s);
// go-units FromHumanSize: decimal multipliers ("1m" = 1000000).
Result<int64_t> from_human_size(std::string_view s);
// Go's strconv.FormatFloat(f, 'g', -1, 64): shortest form, exponent at >= 1e21 or < 1e-4.
std::string go_float(double f);
// Go's %.*g (C's %g agrees on these cases).
std::string go_g(double f, int precision);
// Go's strconv.Quote: double quotes, Go escapes for control characters, UTF-8 kept.
std::string go_quote(std::string_view s);
// Number of UTF-8 code points.
size_t rune_count(std::string_view s);
// docker's formatter.Ellipsis: at most max runes, cut ones end in "…".
std::string ellipsis(std::string_view s, size_t max);
// Go's time.Time.String() in local time: "2026-11-27 02:45:00 +0000 UTC".
std::string go_time_string(int64_t unix_seconds);
// "sha256:abcdef..." or "abcdef..." -> first 12 hex characters.
std::string truncate_id(std::string_view id);

}  // namespace berth::cli
