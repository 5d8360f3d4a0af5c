// Logger: one line per write(2), O_APPEND, so concurrent runtime calls never interleave a line.
#include "base/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace berth::log {
namespace {
int g_fd = STDERR_FILENO;
Format g_format = Format::kText;
bool g_debug = false;

std::string_view level_name(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warning";
    case Level::kError: return "error";
  }
  return "info";
}
}  // namespace

std::string rfc3339_now(bool nanos) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (nanos) {
    char frac[16];
    snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
    out += frac;
  }
  out += 'Z';
  return out;
}

Result<> configure(const std::string& path, Format format, bool debug) {
  g_format = format;
  g_debug = debug;
  if (!path.empty()) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error("open log file " + path);
    g_fd = fd;
  }
  return {};
}

bool to_file() { return g_fd != STDERR_FILENO; }

void write(Level level, std::string_view msg) {
  if (level == Level::kDebug && !g_debug) return;
  std::string line;
  if (g_format == Format::kJson) {
    nlohmann::json j = {{"level", level_name(level)}, {"msg", msg}, {"time", rfc3339_now()}};
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    nlohmann::json quoted = msg;
    line = "time=\"" + rfc3339_now() + "\" level=" + std::string(level_name(level)) +
           " msg=" + quoted.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  line += '\n';
  ssize_t r = ::write(g_fd, line.data(), line.size());
  (void)r;
}

}  // namespace berth::log
