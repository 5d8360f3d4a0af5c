// Logging in runc's shapes: text (logrus: time="..." level=error msg="...") or JSON lines
// ({"level":"error","msg":"...","time":"..."}) that containerd reads from --log files.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// Sets where lines go: a file path (appended, created 0644) or "" for stderr.
Result<> configure(const std::string& path, Format format, bool debug);
bool to_file();
void write(Level level, std::string_view msg);
inline void debug(std::string_view msg) { write(Level::kDebug, msg); }
inline void info(std::string_view msg) { write(Level::kInfo, msg); }
inline void warn(std::string_view msg) { write(Level::kWarn, msg); }
inline void error(std::string_view msg) { write(Level::kError, msg); }

// RFC 3339 UTC time with seconds ("2026-11-26T23:30:07Z"), or nanoseconds when nanos is set.
std::string rfc3339_now(bool nanos = false);

}  // namespace berth::log
