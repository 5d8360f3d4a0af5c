// json-file writer and reader: line splitting, escaping, rotation as docker's driver does it,
// and reading with tail, since/until and follow across rotation.
#include "shim/json_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/file.h"
#include "shim/detach_keys.h"

namespace berth::shim {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-jsonlog-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
  }
  ~TempDir() {
    if (!dir_.empty()) (void)remove_all(dir_);
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

std::vector<LogEntry> read_all(const std::string& path, int max_file, LogReadOptions o = {}) {
  std::vector<LogEntry> out;
  auto r = read_json_log(
      path, max_file, o,
      [&](const LogEntry& e) {
        out.push_back(e);
        return true;
      },
      nullptr);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return out;
}

TEST(JsonLogTest, WritesOneEntryPerLineWithStreamAndTime) {
  TempDir d;
  std::string path = d.path() + "/c.log";
  auto w = JsonLogWriter::open(path, -1, 1);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write(JsonLogWriter::kStdout, "hel"));
  ASSERT_TRUE((*w)->write(JsonLogWriter::kStderr, "oops\n"));
  ASSERT_TRUE((*w)->write(JsonLogWriter::kStdout, "lo\nwor"));
  ASSERT_TRUE((*w)->flush());
  auto text = read_file(path);
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"time\":\""), std::string::npos)
      << *text;
  auto entries = read_all(path, 1);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].log, "oops\n");
  EXPECT_EQ(entries[0].stream, "stderr");
  EXPECT_EQ(entries[1].log, "hello\n");
  EXPECT_EQ(entries[1].stream, "stdout");
  EXPECT_EQ(entries[2].log, "wor");                           // flushed partial line, no newline
  EXPECT_EQ(entries[0].time.size(), 30u) << entries[0].time;  // 2026-11-27T03:04:05.123456789Z
  EXPECT_GT(entries[0].time_ns, 1700000000LL * 1000000000LL);
  EXPECT_LE(entries[0].time_ns, entries[2].time_ns);
}

TEST(JsonLogTest, LongLinesAreSplitAt16KiB) {
  TempDir d;
  std::string path = d.path() + "/c.log";
  auto w = JsonLogWriter::open(path, -1, 1);
  ASSERT_TRUE(w);
  std::string big(40000, 'x');
  ASSERT_TRUE((*w)->write(JsonLogWriter::kStdout, big + "\n"));
  auto entries = read_all(path, 1);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].log.size(), 16384u);
  EXPECT_EQ(entries[1].log.size(), 16384u);
  EXPECT_EQ(entries[2].log, std::string(40000 - 2 * 16384, 'x') + "\n");
}

TEST(JsonLogTest, EscapesLikeGo) {
  std::string out;
  append_json_escaped(out, std::string("a\"b\\c<>&\x01\t\xff\xc3\xa9", 13));
  EXPECT_EQ(out, "a\\\"b\\\\c\\u003c\\u003e\\u0026\\u0001\\t\\ufffd\xc3\xa9");
  auto e = parse_log_line("{\"log\":\"" + out +
                          "\",\"stream\":\"stdout\",\"time\":\"2026-11-27T03:04:05.5Z\"}");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->log, "a\"b\\c<>&\x01\t\xef\xbf\xbd\xc3\xa9");
}

TEST(JsonLogTest, ParsesRfc3339) {
  auto t = parse_rfc3339_ns("1970-01-01T00:00:01.000000002Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1000000002);
  auto z = parse_rfc3339_ns("1970-01-01T01:00:01.5+01:00");
  ASSERT_TRUE(z);
  EXPECT_EQ(*z, 1500000000);
  EXPECT_FALSE(parse_rfc3339_ns("yesterday"));
}

TEST(JsonLogTest, RotatesBySizeKeepingMaxFileFiles) {
  TempDir d;
  std::string path = d.path() + "/c.log";
  auto w = JsonLogWriter::open(path, 1024, 3);
  ASSERT_TRUE(w);
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE((*w)->write(JsonLogWriter::kStdout, "line" + std::to_string(i) + "\n"));
  EXPECT_TRUE(path_exists(path));
  EXPECT_TRUE(path_exists(path + ".1"));
  EXPECT_TRUE(path_exists(path + ".2"));
  EXPECT_FALSE(path_exists(path + ".3"));
  for (const std::string& f : {path, path + ".1", path + ".2"}) {
    struct stat st;
    ASSERT_EQ(::stat(f.c_str(), &st), 0);
    EXPECT_LT(st.st_size, 1024 + 100) << f;
  }
  auto entries = read_all(path, 3);
  ASSERT_FALSE(entries.empty());
  EXPECT_LT(entries.size(), 200u);
  EXPECT_EQ(entries.back().log, "line199\n");
  // Oldest first and contiguous.
  int first = std::stoi(entries.front().log.substr(4));
  for (size_t i = 0; i < entries.size(); ++i)
    EXPECT_EQ(entries[i].log, "line" + std::to_string(first + static_cast<int>(i)) + "\n");
}

TEST(JsonLogTest, TailSinceAndUntil) {
  TempDir d;
  std::string path = d.path() + "/c.log";
  // Hand-written entries with known times, split over a rotated and the live file.
  auto line = [](int i) {
    return "{\"log\":\"m" + std::to_string(i) +
           "\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:0" + std::to_string(i) +
           ".000000000Z\"}\n";
  };
  ASSERT_TRUE(write_file_atomic(path + ".1", line(0) + line(1) + line(2)));
  ASSERT_TRUE(write_file_atomic(path, line(3) + line(4) + line(5)));
  auto all = read_all(path, 2);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[0].log, "m0\n");
  auto tail = read_all(path, 2, {.tail = 4});
  ASSERT_EQ(tail.size(), 4u);
  EXPECT_EQ(tail[0].log, "m2\n");
  EXPECT_EQ(tail[3].log, "m5\n");
  EXPECT_TRUE(read_all(path, 2, {.tail = 0}).empty());
  auto t2 = parse_rfc3339_ns("2026-01-01T00:00:02Z");
  auto t4 = parse_rfc3339_ns("2026-01-01T00:00:04Z");
  auto since = read_all(path, 2, {.since_ns = *t2});
  ASSERT_EQ(since.size(), 4u);
  EXPECT_EQ(since[0].log, "m2\n");
  auto range = read_all(path, 2, {.since_ns = *t2, .until_ns = *t4});
  ASSERT_EQ(range.size(), 3u);
  EXPECT_EQ(range[2].log, "m4\n");
  // Without rotated files considered (max_file 1) only the live file is read.
  EXPECT_EQ(read_all(path, 1).size(), 3u);
}

TEST(JsonLogTest, FollowReadsAcrossRotationUntilStopped) {
  TempDir d;
  std::string path = d.path() + "/c.log";
  auto w = JsonLogWriter::open(path, 512, 5);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write(JsonLogWriter::kStdout, "before\n"));
  std::atomic<bool> stop{false};
  std::vector<std::string> got;
  std::thread reader([&] {
    auto r = read_json_log(
        path, 5, {.follow = true},
        [&](const LogEntry& e) {
          got.push_back(e.log);
          return true;
        },
        [&] { return stop.load(); });
    EXPECT_TRUE(r);
  });
  // About one rotation every 6 lines, slower than the reader polls (docker's reader, too,
  // loses files that rotate away faster than it reads).
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE((*w)->write(JsonLogWriter::kStdout, "n" + std::to_string(i) + "\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(path_exists(path + ".2"));  // it did rotate while we followed
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  reader.join();
  ASSERT_EQ(got.size(), 61u);
  EXPECT_EQ(got[0], "before\n");
  for (int i = 0; i < 60; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i) + 1], "n" + std::to_string(i) + "\n");
}

TEST(JsonLogTest, FollowStopsWhenEmitReturnsFalse) {
  TempDir d;
  std::string path = d.path() + "/c.log";
  auto w = JsonLogWriter::open(path, -1, 1);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write(JsonLogWriter::kStdout, "a\nb\nc\n"));
  int n = 0;
  auto r = read_json_log(
      path, 1, {.follow = true}, [&](const LogEntry&) { return ++n < 2; }, [] { return false; });
  EXPECT_TRUE(r);
  EXPECT_EQ(n, 2);
}

TEST(DetachKeysTest, ParsesDockerSyntax) {
  EXPECT_EQ(*parse_detach_keys(""), std::string("\x10\x11"));
  EXPECT_EQ(*parse_detach_keys("ctrl-a,x"), std::string("\x01x"));
  EXPECT_EQ(*parse_detach_keys("ctrl-@,ctrl-[,ctrl-_"), std::string("\x00\x1b\x1f", 3));
  EXPECT_FALSE(parse_detach_keys("ctrl-1"));
  EXPECT_FALSE(parse_detach_keys("foo"));
}

TEST(DetachKeysTest, MatcherHoldsPrefixAndDetachesOnFullSequence) {
  DetachMatcher m(std::string("\x10\x11"));
  std::string out;
  EXPECT_FALSE(m.feed("ab\x10", out));
  EXPECT_EQ(out, "ab");
  EXPECT_FALSE(m.feed("c", out));  // broken sequence: the held byte goes on
  EXPECT_EQ(out,
            "ab\x10"
            "c");
  out.clear();
  EXPECT_FALSE(m.feed("\x10\x10", out));
  EXPECT_EQ(out, "\x10");
  EXPECT_TRUE(m.feed("\x11zz", out));
  EXPECT_EQ(out, "\x10");
}

}  // namespace
}  // namespace berth::shim
