// json-file logs: the writer keeps one append-only fd and rotates by renaming (path -> path.1 ->
// ...), exactly as docker's json-file driver; the reader follows the live file by fd and notices
// rotation when the path names a different inode, draining the old fd before switching.
#include "shim/json_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <thread>

#include "base/json.h"

namespace berth::shim {
namespace {

constexpr const char* kStreamNames[] = {"stdout", "stderr"};

Result<> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

void append_time_now(std::string& out) {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  ::gmtime_r(&ts.tv_sec, &tm);
  char buf[48];
  size_t n = ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  n += static_cast<size_t>(::snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec));
  out.append(buf, n);
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is invalid.
size_t utf8_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0)
    len = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0)
    len = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

// Reads what fd has now; calls on_line for every complete line (without its newline).
// Returns false if on_line asked to stop.
template <class F>
Result<bool> read_lines(int fd, std::string& buf, const std::string& path, F&& on_line) {
  char chunk[16384];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read " + path);
    }
    if (n == 0) return true;
    buf.append(chunk, static_cast<size_t>(n));
    size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      std::string_view line(buf.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && !on_line(line)) {
        buf.erase(0, start);
        return false;
      }
    }
    buf.erase(0, start);
  }
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    // Runs of plain printable ASCII are the common case: copy them in one go.
    size_t run = i;
    while (run < s.size()) {
      auto r = static_cast<unsigned char>(s[run]);
      if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&') break;
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t len = utf8_len(s, i);
      if (len == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
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
      case '<':
      case '>':
      case '&':
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

Result<int64_t> parse_rfc3339_ns(std::string_view s) {
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument, "invalid timestamp \"" + std::string(s) + "\"");
  };
  struct tm tm {};
  int consumed = 0;
  std::string str(s);
  if (::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19)
    return bad();
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t secs = ::timegm(&tm);
  size_t i = 19;
  int64_t frac = 0;
  if (i < str.size() && str[i] == '.') {
    ++i;
    int digits = 0;
    while (i < str.size() && str[i] >= '0' && str[i] <= '9') {
      if (digits < 9) frac = frac * 10 + (str[i] - '0'), ++digits;
      ++i;
    }
    if (digits == 0) return bad();
    for (; digits < 9; ++digits) frac *= 10;
  }
  if (i >= str.size()) return bad();
  if (str[i] == 'Z' || str[i] == 'z') {
    if (i + 1 != str.size()) return bad();
  } else if (str[i] == '+' || str[i] == '-') {
    int hh = 0, mm = 0;
    if (str.size() - i != 6 || ::sscanf(str.c_str() + i + 1, "%2d:%2d", &hh, &mm) != 2)
      return bad();
    int64_t off = (hh * 60 + mm) * 60;
    secs -= str[i] == '+' ? off : -off;
  } else {
    return bad();
  }
  return secs * 1000000000 + frac;
}

Result<LogEntry> parse_log_line(std::string_view line) {
  ASSIGN_OR_RETURN(json::Json j, json::parse(line, "log line"));
  if (!j.is_object() || !j.contains("log") || !j["log"].is_string())
    return make_error(ErrorCode::kInvalidArgument, "log line: not a json-file entry");
  LogEntry e;
  e.log = j["log"].get<std::string>();
  e.stream = j.value("stream", "");
  e.time = j.value("time", "");
  if (!e.time.empty()) {
    ASSIGN_OR_RETURN(e.time_ns, parse_rfc3339_ns(e.time));
  }
  return e;
}

// ---- writer --------------------------------------------------------------------------------

Result<std::unique_ptr<JsonLogWriter>> JsonLogWriter::open(const std::string& path,
                                                           int64_t max_size, int max_file) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return errno_error("open log " + path);
  UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno_error("stat log " + path);
  return std::unique_ptr<JsonLogWriter>(
      new JsonLogWriter(path, std::move(owned), st.st_size, max_size, max_file < 1 ? 1 : max_file));
}

Result<> JsonLogWriter::rotate() {
  if (max_file_ <= 1) {
    if (::ftruncate(fd_.get(), 0) != 0) return errno_error("truncate log " + path_);
    size_ = 0;
    return {};
  }
  for (int i = max_file_ - 1; i > 1; --i) {
    std::string from = path_ + "." + std::to_string(i - 1), to = path_ + "." + std::to_string(i);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
      return errno_error("rotate log " + from);
  }
  if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0)
    return errno_error("rotate log " + path_);
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return errno_error("open log " + path_);
  fd_.reset(fd);
  size_ = 0;
  return {};
}

Result<> JsonLogWriter::emit(Stream stream, std::string_view msg) {
  // docker checks the size before each write, so a file ends just past max-size.
  if (max_size_ > 0 && size_ >= max_size_) TRY(rotate());
  line_.clear();
  line_ += "{\"log\":\"";
  append_json_escaped(line_, msg);
  line_ += "\",\"stream\":\"";
  line_ += kStreamNames[stream];
  line_ += "\",\"time\":\"";
  append_time_now(line_);
  line_ += "\"}\n";
  TRY(write_all(fd_.get(), line_, path_));
  size_ += static_cast<int64_t>(line_.size());
  if (line_.capacity() > 4 * kMaxLine) std::string().swap(line_);
  return {};
}

Result<> JsonLogWriter::write(Stream stream, std::string_view data) {
  std::string& part = partial_[stream];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    size_t line_end = nl == std::string_view::npos ? data.size() : nl + 1;
    size_t room = kMaxLine - part.size();
    if (line_end > room) {  // a full 16 KiB without a newline: log it as a partial entry
      part.append(data.substr(0, room));
      data.remove_prefix(room);
      TRY(emit(stream, part));
      part.clear();
      continue;
    }
    if (nl == std::string_view::npos) {
      part.append(data);
      break;
    }
    std::string_view line = data.substr(0, line_end);
    data.remove_prefix(line_end);
    if (part.empty()) {
      TRY(emit(stream, line));
    } else {
      part.append(line);
      TRY(emit(stream, part));
      part.clear();
    }
  }
  if (part.empty() && part.capacity() > 4096) std::string().swap(part);
  return {};
}

Result<> JsonLogWriter::flush() {
  for (int s : {kStdout, kStderr}) {
    if (partial_[s].empty()) continue;
    TRY(emit(static_cast<Stream>(s), partial_[s]));
    partial_[s].clear();
  }
  return {};
}

// ---- reader --------------------------------------------------------------------------------

Result<> read_json_log(const std::string& path, int max_file, const LogReadOptions& o,
                       const std::function<bool(const LogEntry&)>& emit,
                       const std::function<bool()>& should_stop) {
  bool done = false;
  // Filters and emits one line; false when the reader should stop.
  auto deliver = [&](std::string_view line) {
    auto e = parse_log_line(line);
    if (!e) return true;  // a torn or foreign line: skip it, as docker does
    if (o.since_ns > 0 && e->time_ns < o.since_ns) return true;
    if (o.until_ns > 0 && e->time_ns > o.until_ns) {
      done = true;
      return false;
    }
    if (!emit(*e)) {
      done = true;
      return false;
    }
    return true;
  };
  std::deque<std::string> tail;
  auto collect = [&](std::string_view line) {
    if (o.tail < 0) return deliver(line);
    if (o.tail == 0) return true;
    tail.emplace_back(line);
    if (static_cast<int64_t>(tail.size()) > o.tail) tail.pop_front();
    return true;
  };

  for (int i = max_file - 1; i >= 1 && !done; --i) {
    std::string rotated = path + "." + std::to_string(i);
    int fd = ::open(rotated.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return errno_error("open log " + rotated);
    }
    UniqueFd owned(fd);
    std::string buf;
    TRY(read_lines(fd, buf, rotated, collect));
  }
  UniqueFd live;
  std::string buf;
  if (!done) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) return errno_error("open log " + path);
    live.reset(fd);
    if (live) TRY(read_lines(live.get(), buf, path, collect));
  }
  for (auto& line : tail) {
    if (done || !deliver(line)) break;
  }
  if (done || !o.follow) return {};

  for (;;) {
    bool stop = should_stop && should_stop();
    if (!live) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) live.reset(fd), buf.clear();
    }
    if (live) {
      struct stat st;
      // Truncated in place (max-file 1): start again from the top.
      if (::fstat(live.get(), &st) == 0 && st.st_size < ::lseek(live.get(), 0, SEEK_CUR)) {
        ::lseek(live.get(), 0, SEEK_SET);
        buf.clear();
      }
      ASSIGN_OR_RETURN(bool more, read_lines(live.get(), buf, path, deliver));
      if (!more) return {};
      struct stat cur;
      bool rotated =
          ::stat(path.c_str(), &cur) != 0 || cur.st_ino != st.st_ino || cur.st_dev != st.st_dev;
      if (rotated) {
        // The writer may have appended to the old file just before renaming it: drain it.
        ASSIGN_OR_RETURN(bool again, read_lines(live.get(), buf, path, deliver));
        if (!again) return {};
        // It may have rotated more than once since: the files newer than ours come first.
        int ours = max_file;  // not found: every rotated file is newer than ours
        for (int k = 1; k < max_file; ++k) {
          struct stat rs;
          if (::stat((path + "." + std::to_string(k)).c_str(), &rs) == 0 &&
              rs.st_ino == st.st_ino && rs.st_dev == st.st_dev) {
            ours = k;
            break;
          }
        }
        for (int k = ours - 1; k >= 1; --k) {
          std::string newer = path + "." + std::to_string(k);
          int nfd = ::open(newer.c_str(), O_RDONLY | O_CLOEXEC);
          if (nfd < 0) continue;
          UniqueFd owned(nfd);
          std::string nbuf;
          ASSIGN_OR_RETURN(bool cont, read_lines(nfd, nbuf, newer, deliver));
          if (!cont) return {};
        }
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        live.reset(fd);
        buf.clear();
        if (fd >= 0) continue;
      }
    }
    if (stop) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace berth::shim
