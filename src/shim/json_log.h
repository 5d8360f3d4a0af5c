// Docker's json-file log driver: the writer the shim feeds with a container's output, and the
// reader berthd uses for `docker logs`. One JSON object a line,
// {"log":"hello\n","stream":"stdout","time":"2026-11-27T03:04:05.123456789Z"}, output split at
// newlines (a line longer than 16 KiB is written in pieces without the newline, as docker does),
// rotated by size into path.1 .. path.(max_file-1).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::shim {

struct LogEntry {
  std::string stream;
  std::string log;
  std::string time;
  int64_t time_ns = 0;
};

struct LogReadOptions {
  int64_t tail = -1;  // -1 = all
  int64_t since_ns = 0, until_ns = 0;
  bool follow = false;
};

// Reads path (and its rotated files path.1..path.(max_file-1), oldest first) and calls emit for
// each entry; with follow, keeps reading as the file grows and across rotation until
// should_stop() returns true and the file is drained, or emit returns false.
Result<> read_json_log(const std::string& path, int max_file, const LogReadOptions& o,
                       const std::function<bool(const LogEntry&)>& emit,
                       const std::function<bool()>& should_stop);

// Parses one log line. InvalidArgument if it is not a json-file entry.
Result<LogEntry> parse_log_line(std::string_view line);
// RFC 3339 ("2026-11-27T03:04:05.123456789Z", any number of fraction digits, Z or +hh:mm) to
// nanoseconds since the epoch.
Result<int64_t> parse_rfc3339_ns(std::string_view s);
// Appends s JSON-escaped the way Go's encoding/json does (<, > and & as \u003c..., invalid
// UTF-8 as U+FFFD), without the quotes.
void append_json_escaped(std::string& out, std::string_view s);

class JsonLogWriter {
 public:
  enum Stream { kStdout = 0, kStderr = 1 };
  static constexpr size_t kMaxLine = 16 * 1024;

  // max_size -1 = never rotate; max_file >= 1 (1: the file is truncated instead of rotated).
  static Result<std::unique_ptr<JsonLogWriter>> open(const std::string& path, int64_t max_size,
                                                     int max_file);

  // Output as it arrives: whole lines are logged, a partial line waits for its newline (or until
  // it reaches kMaxLine).
  Result<> write(Stream stream, std::string_view data);
  // Logs what is left of partial lines (at exit).
  Result<> flush();

 private:
  JsonLogWriter(std::string path, UniqueFd fd, int64_t size, int64_t max_size, int max_file)
      : path_(std::move(path)),
        fd_(std::move(fd)),
        size_(size),
        max_size_(max_size),
        max_file_(max_file) {}
  Result<> emit(Stream stream, std::string_view msg);
  Result<> rotate();

  std::string path_;
  UniqueFd fd_;
  int64_t size_ = 0;
  int64_t max_size_;
  int max_file_;
  std::string partial_[2];
  std::string line_;  // scratch buffer, reused
};

}  // namespace berth::shim
