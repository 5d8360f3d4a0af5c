// The shim end to end (root): real busybox containers through spawn() and Client, in-process
// and through runc. Each test has its own temp dir, runtime root and cgroup; TearDown kills the
// shim and force-deletes the container even when the test failed.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "base/file.h"
#include "base/stdcopy.h"
#include "oci/spec.h"
#include "runtime/container.h"
#include "shim/client.h"
#include "shim/json_log.h"

namespace berth::shim {
namespace {

using json::Json;
using namespace std::chrono_literals;

std::string self_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string p(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return p.substr(0, p.rfind('/'));
}

// Reads until EOF (or timeout); returns what came.
std::string read_stream(int fd, std::chrono::milliseconds timeout = 10s) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Reads until needle shows up (or timeout); returns everything read.
std::string read_until(int fd, const std::string& needle, std::chrono::milliseconds timeout = 10s) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct Demuxed {
  std::string out, err;
  bool ok = true;
};
Demuxed demux(const std::string& bytes) {
  Demuxed d;
  stdcopy::Decoder dec;
  dec.feed(bytes);
  stdcopy::Stream s;
  std::string data;
  while (dec.next(s, data)) (s == stdcopy::Stream::kStderr ? d.err : d.out) += data;
  d.ok = dec.buffered() == 0;
  return d;
}

// Alive and not a zombie (the shim's new parent may reap it late).
bool process_alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  size_t p = stat->rfind(')');
  return p != std::string::npos && p + 2 < stat->size() && (*stat)[p + 2] != 'Z';
}

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox";
    shim_path_ = self_dir() + "/berth-shim";
    ASSERT_EQ(::access(shim_path_.c_str(), X_OK), 0) << "build berth-shim next to the tests";
    char tmpl[] = "/tmp/berth-shim-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string rootfs = dir_ + "/bundle/rootfs";
    for (const char* d : {"/bin", "/proc", "/sys", "/dev", "/etc", "/tmp"})
      ASSERT_TRUE(mkdir_all(rootfs + d));
    ASSERT_EQ(::system(("cp /bin/busybox " + rootfs + "/bin/busybox").c_str()), 0);
    for (const char* a :
         {"sh", "cat", "echo", "sleep", "tail", "stty", "true", "head", "kill", "ls", "seq", "tr"})
      ASSERT_EQ(::symlink("busybox", (rootfs + "/bin/" + a).c_str()), 0);
    std::random_device rd;
    id_ = "shimtest-" + std::to_string(rd() % 1000000);
  }

  void TearDown() override {
    if (dir_.empty()) return;
    for (pid_t pid : shim_pids_)
      if (process_alive(pid)) ::kill(pid, SIGKILL);
    runtime::GlobalOptions g;
    g.root = dir_ + "/runtime";
    if (!runc_) {
      (void)runtime::delete_container(g, id_, true);
    } else {
      (void)::system(
          ("/usr/sbin/runc --root " + g.root + " delete -f " + id_ + " 2>/dev/null").c_str());
    }
    (void)remove_all(dir_);
  }

  Json config(const std::vector<std::string>& args, bool tty = false) {
    auto j = oci::default_spec_json(false);
    j["process"]["args"] = args;
    j["process"]["terminal"] = tty;
    j["root"] = {{"path", dir_ + "/bundle/rootfs"}, {"readonly", false}};
    j["linux"]["cgroupsPath"] = "/" + id_;
    return j;
  }

  SpawnOptions options(const Json& cfg) {
    EXPECT_TRUE(write_file_atomic(dir_ + "/bundle/config.json", cfg.dump()));
    SpawnOptions o;
    o.shim_path = shim_path_;
    o.id = id_;
    o.bundle = dir_ + "/bundle";
    o.state_dir = dir_ + "/state";
    o.runtime_root = dir_ + "/runtime";
    o.log_path = dir_ + "/ctr-json.log";
    o.tty = cfg["process"].value("terminal", false);
    return o;
  }

  Result<Started> spawn_shim(const SpawnOptions& o) {
    auto s = spawn(o);
    if (s) shim_pids_.push_back(s->shim_pid);
    return s;
  }

  Client connect() {
    auto c = Client::connect(dir_ + "/state");
    EXPECT_TRUE(c) << (c ? "" : c.error().message());
    return std::move(*c);
  }

  std::vector<LogEntry> log_entries(int max_file = 1) {
    std::vector<LogEntry> out;
    auto r = read_json_log(
        dir_ + "/ctr-json.log", max_file, {},
        [&](const LogEntry& e) {
          out.push_back(e);
          return true;
        },
        nullptr);
    EXPECT_TRUE(r);
    return out;
  }

  Json exec_process(const std::vector<std::string>& args, bool tty = false) {
    return {{"args", args},
            {"env", {"PATH=/bin"}},
            {"cwd", "/"},
            {"terminal", tty},
            {"user", {{"uid", 0}, {"gid", 0}}}};
  }

  // Waits for the shim to finish (its grace) and exit.
  void expect_shim_exits(pid_t pid) {
    for (int i = 0; i < 100 && process_alive(pid); ++i) std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(process_alive(pid)) << "shim " << pid << " still running";
  }

  std::string shim_path_, dir_, id_;
  std::vector<pid_t> shim_pids_;
  bool runc_ = false;
};

TEST_F(ShimTest, EchoOutputGoesToTheLogWithItsStream) {
  auto s = spawn_shim(options(config({"sh", "-c", "echo out; echo err >&2; echo more"})));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_GT(s->pid, 0);
  EXPECT_NE(s->shim_pid, ::getpid());
  Client c = connect();
  ASSERT_TRUE(c.start());
  auto st = c.wait();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->exit_code, 0);
  EXPECT_FALSE(st->oom_killed);
  EXPECT_FALSE(st->started_at.empty());
  EXPECT_FALSE(st->finished_at.empty());
  auto entries = log_entries();
  std::string out, err;
  for (auto& e : entries) (e.stream == "stdout" ? out : err) += e.log;
  EXPECT_EQ(out, "out\nmore\n");
  EXPECT_EQ(err, "err\n");
  // The exit record is on disk for a berthd that comes back later.
  auto rec = read_exit_file(dir_ + "/state");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->exit_code, 0);
  (void)c.shutdown();
  expect_shim_exits(s->shim_pid);
  // The runtime's container is gone.
  EXPECT_FALSE(path_exists(dir_ + "/runtime/" + id_));
}

TEST_F(ShimTest, ExitCodeIsRecordedAndStateShowsIt) {
  auto s = spawn_shim(options(config({"sh", "-c", "exit 3"})));
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  auto st = c.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 3);
  auto state = c.state();
  ASSERT_TRUE(state);
  EXPECT_FALSE(state->running);
  ASSERT_TRUE(state->exit);
  EXPECT_EQ(state->exit->exit_code, 3);
}

TEST_F(ShimTest, DeathBySignalIs128PlusTheSignal) {
  // Without a pid namespace the shell is not an init, so it can die of its own SIGTERM.
  auto cfg = config({"sh", "-c", "kill -TERM $$; sleep 5"});
  auto& ns = cfg["linux"]["namespaces"];
  for (auto it = ns.begin(); it != ns.end();) it = (*it)["type"] == "pid" ? ns.erase(it) : it + 1;
  auto s = spawn_shim(options(cfg));
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  auto st = c.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 128 + SIGTERM);
  EXPECT_FALSE(st->oom_killed);
}

TEST_F(ShimTest, KillAllEndsTheContainerWith128PlusSignal) {
  auto s = spawn_shim(options(config({"sleep", "100"})));
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  auto state = c.state();
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->running);
  EXPECT_EQ(state->pid, s->pid);
  // RSS of a shim with a running container, once idle (reported, not asserted: it depends on
  // linking and build type).
  std::this_thread::sleep_for(1500ms);
  if (auto status = read_file("/proc/" + std::to_string(s->shim_pid) + "/status")) {
    auto pos = status->find("VmRSS:");
    if (pos != std::string::npos)
      std::printf("shim %s\n", status->substr(pos, status->find('\n', pos) - pos).c_str());
  }
  if (getenv("SHIM_SMAPS")) {  // a breakdown of the RSS by mapping, for measurements
    std::string cmd =
        "awk '/^[0-9a-f]+-/{n=$6\" \"$2} /^Rss:/{if($2>0)a[n]+=$2} END{for(k in a)print a[k],k}' "
        "/proc/" +
        std::to_string(s->shim_pid) + "/smaps | sort -rn";
    (void)::system(cmd.c_str());
  }
  ASSERT_TRUE(c.pause());
  state = c.state();
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->paused);
  ASSERT_TRUE(c.resume());
  ASSERT_TRUE(c.kill(SIGKILL, true));
  auto st = c.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 137);
  EXPECT_FALSE(st->oom_killed);
}

TEST_F(ShimTest, AttachFramesBothStreamsAndStdinRoundTrips) {
  auto o = options(config({"sh", "-c", "cat; echo done >&2"}));
  o.open_stdin = true;
  o.stdin_once = true;
  auto s = spawn_shim(o);
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  auto fd = c.attach({.stdin = true});
  ASSERT_TRUE(fd) << fd.error().message();
  ASSERT_TRUE(c.start());
  std::string input = "hello\nworld\n";
  ASSERT_EQ(::write(fd->get(), input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ASSERT_EQ(::shutdown(fd->get(), SHUT_WR), 0);  // closes the container's stdin (stdin_once)
  auto got = demux(read_stream(fd->get()));
  EXPECT_TRUE(got.ok);
  EXPECT_EQ(got.out, input);
  EXPECT_EQ(got.err, "done\n");
  auto st = c.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 0);
  // The same output went to the log.
  std::string logged;
  for (auto& e : log_entries()) logged += e.stream + ":" + e.log;
  EXPECT_EQ(logged, "stdout:hello\nstdout:world\nstderr:done\n");
}

TEST_F(ShimTest, DetachKeysEndTheAttachButNotTheContainer) {
  auto o = options(config({"cat"}));
  o.open_stdin = true;
  auto s = spawn_shim(o);
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  auto fd = c.attach({.stdin = true, .detach_keys = "ctrl-x,y"});
  ASSERT_TRUE(fd);
  ASSERT_EQ(::write(fd->get(), "abc\n\x18", 5), 5);  // ctrl-x alone is held back
  EXPECT_EQ(demux(read_until(fd->get(), "abc\n")).out, "abc\n");
  ASSERT_EQ(::write(fd->get(), "y", 1), 1);
  auto start = std::chrono::steady_clock::now();
  auto got = demux(read_stream(fd->get(), 5s));  // ends: the shim closed our stream
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  EXPECT_EQ(got.out, "");
  auto state = c.state();
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->running);
  // A second client still reaches the same stdin.
  auto fd2 = c.attach({.stdin = true});
  ASSERT_TRUE(fd2);
  ASSERT_EQ(::write(fd2->get(), "again\n", 6), 6);
  EXPECT_EQ(demux(read_until(fd2->get(), "again\n")).out, "again\n");
  ASSERT_TRUE(c.kill(SIGKILL, true));
  ASSERT_TRUE(c.wait());
}

TEST_F(ShimTest, SlowAttachClientIsDroppedInsteadOfStallingTheContainer) {
  // 6 MiB of output to a client that never reads: the shim drops it past its buffer limit.
  auto s = spawn_shim(
      options(config({"sh", "-c", "head -c 6291456 /dev/zero | tr '\\0' x; echo; echo end"})));
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  auto fd = c.attach({});
  ASSERT_TRUE(fd);
  ASSERT_TRUE(c.start());
  auto st = c.wait();  // would hang if the shim blocked on the client
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 0);
  // The stream ends early (dropped) well short of everything.
  std::string got = read_stream(fd->get(), 5s);
  EXPECT_LT(got.size(), 5u << 20);
  auto entries = log_entries();
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries.back().log, "end\n");
}

TEST_F(ShimTest, AttachWithLogsReplaysEarlierOutput) {
  auto o = options(config({"sh", "-c", "echo early; cat"}));
  o.open_stdin = true;
  auto s = spawn_shim(o);
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  for (int i = 0; i < 100 && log_entries().empty(); ++i) std::this_thread::sleep_for(20ms);
  auto fd = c.attach({.stdin = true, .logs = true});
  ASSERT_TRUE(fd);
  ASSERT_EQ(::write(fd->get(), "late\n", 5), 5);
  EXPECT_EQ(demux(read_until(fd->get(), "late\n")).out, "early\nlate\n");
  ASSERT_TRUE(c.shutdown());  // kills the running container and exits
  std::this_thread::sleep_for(50ms);
  expect_shim_exits(s->shim_pid);
  auto rec = read_exit_file(dir_ + "/state");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->exit_code, 137);
  EXPECT_FALSE(path_exists(dir_ + "/runtime/" + id_));
}

TEST_F(ShimTest, TtyAttachAndResize) {
  auto o = options(config({"sh", "-c", "stty size; read x; stty size; echo bye"}, true));
  o.open_stdin = true;
  o.tty_height = 24;
  o.tty_width = 80;
  auto s = spawn_shim(o);
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  auto fd = c.attach({.stdin = true});
  ASSERT_TRUE(fd);
  ASSERT_TRUE(c.start());
  std::string first = read_until(fd->get(), "24 80");
  EXPECT_NE(first.find("24 80"), std::string::npos) << first;
  EXPECT_EQ(first.find(std::string("\x01\x00\x00\x00", 4)), std::string::npos)
      << "a TTY stream is raw, not framed";
  ASSERT_TRUE(c.resize(30, 100));
  ASSERT_EQ(::write(fd->get(), "\n", 1), 1);
  std::string rest = read_until(fd->get(), "bye");
  EXPECT_NE(rest.find("30 100"), std::string::npos) << rest;
  auto st = c.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 0);
  std::string logged;
  for (auto& e : log_entries()) logged += e.log;
  EXPECT_NE(logged.find("30 100\r\n"), std::string::npos) << logged;
}

TEST_F(ShimTest, ExecReportsItsExitCodeAndOutput) {
  auto s = spawn_shim(options(config({"sleep", "100"})));
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  ExecRequest req{.exec_id = "e1",
                  .process = exec_process({"sh", "-c", "echo hi; echo oops >&2; exit 7"})};
  auto fd = c.exec(req);
  ASSERT_TRUE(fd) << fd.error().message();
  auto got = demux(read_stream(fd->get()));
  EXPECT_EQ(got.out, "hi\n");
  EXPECT_EQ(got.err, "oops\n");
  auto es = c.exec_state("e1");
  ASSERT_TRUE(es);
  EXPECT_FALSE(es->running);
  ASSERT_TRUE(es->exit_code);
  EXPECT_EQ(*es->exit_code, 7);
  EXPECT_GT(es->pid, 0);
  // exec output is not the container's log.
  for (auto& e : log_entries()) EXPECT_EQ(e.log.find("hi"), std::string::npos);

  // stdin round trip through an exec'd cat.
  auto fd2 = c.exec({.exec_id = "e2", .process = exec_process({"cat"}), .attach_stdin = true});
  ASSERT_TRUE(fd2) << fd2.error().message();
  ASSERT_EQ(::write(fd2->get(), "ping\n", 5), 5);
  ::shutdown(fd2->get(), SHUT_WR);
  EXPECT_EQ(demux(read_stream(fd2->get())).out, "ping\n");
  auto es2 = c.exec_state("e2");
  ASSERT_TRUE(es2 && es2->exit_code);
  EXPECT_EQ(*es2->exit_code, 0);

  // A detached exec keeps running; exec_kill ends it.
  auto fd3 = c.exec({.exec_id = "e3", .process = exec_process({"sleep", "100"}), .detach = true});
  ASSERT_TRUE(fd3) << fd3.error().message();
  auto es3 = c.exec_state("e3");
  ASSERT_TRUE(es3);
  EXPECT_TRUE(es3->running);
  ASSERT_TRUE(c.exec_kill("e3", SIGKILL));
  for (int i = 0; i < 100; ++i) {
    es3 = c.exec_state("e3");
    if (es3 && !es3->running) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(es3 && es3->exit_code);
  EXPECT_EQ(*es3->exit_code, 137);

  // A missing executable fails the request with the runtime's message.
  auto bad = c.exec({.exec_id = "e4", .process = exec_process({"nosuch"})});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("executable file not found"), std::string::npos)
      << bad.error().message();
  EXPECT_FALSE(c.exec_state("nope"));
  ASSERT_TRUE(c.kill(SIGKILL, true));
  ASSERT_TRUE(c.wait());
}

TEST_F(ShimTest, ExecWithTtyAndResize) {
  auto s = spawn_shim(options(config({"sleep", "100"})));
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  auto fd = c.exec({.exec_id = "t1",
                    .process = exec_process({"sh", "-c", "stty size; read x; stty size"}, true),
                    .attach_stdin = true,
                    .tty_height = 10,
                    .tty_width = 40});
  ASSERT_TRUE(fd) << fd.error().message();
  std::string first = read_until(fd->get(), "10 40");
  EXPECT_NE(first.find("10 40"), std::string::npos) << first;
  ASSERT_TRUE(c.exec_resize("t1", 12, 50));
  ASSERT_EQ(::write(fd->get(), "\n", 1), 1);
  std::string rest = read_stream(fd->get());
  EXPECT_NE(rest.find("12 50"), std::string::npos) << rest;
  auto es = c.exec_state("t1");
  ASSERT_TRUE(es && es->exit_code);
  EXPECT_EQ(*es->exit_code, 0);
  ASSERT_TRUE(c.kill(SIGKILL, true));
  ASSERT_TRUE(c.wait());
}

TEST_F(ShimTest, OomKilledContainerExits137WithOomKilled) {
  auto cfg = config({"tail", "/dev/zero"});
  cfg["linux"]["resources"]["memory"] = {{"limit", 8 << 20}, {"swap", 8 << 20}};
  auto s = spawn_shim(options(cfg));
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  ASSERT_TRUE(c.start());
  auto st = c.wait();
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->exit_code, 137);
  EXPECT_TRUE(st->oom_killed);
}

TEST_F(ShimTest, ShimSurvivesItsSpawnerAndANewClientCanWait) {
  auto o = options(config({"sleep", "100"}));
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(p[0]);
    auto s = spawn(o);
    pid_t pids[2] = {s ? s->shim_pid : 0, s ? s->pid : 0};
    bool ok = s && Client::connect(o.state_dir) && Client::connect(o.state_dir)->start();
    if (!ok) pids[0] = -pids[0];
    (void)!::write(p[1], pids, sizeof pids);
    _exit(0);  // the spawner goes away, as a killed berthd would
  }
  ::close(p[1]);
  pid_t pids[2] = {0, 0};
  ASSERT_EQ(::read(p[0], pids, sizeof pids), static_cast<ssize_t>(sizeof pids));
  ::close(p[0]);
  int status;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  shim_pids_.push_back(pids[0] > 0 ? pids[0] : -pids[0]);
  ASSERT_GT(pids[0], 0) << "spawn or start failed in the spawner";
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(process_alive(pids[0]));
  auto stat = read_file("/proc/" + std::to_string(pids[0]) + "/stat");
  ASSERT_TRUE(stat);
  // Not a child of the dead spawner's parent (us): it went to init or a subreaper.
  int ppid = 0;
  ::sscanf(stat->substr(stat->rfind(')') + 2).c_str(), "%*c %d", &ppid);
  EXPECT_NE(ppid, child);
  Client c = connect();
  auto state = c.state();
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->running);
  EXPECT_EQ(state->pid, pids[1]);
  std::thread killer([&] {
    std::this_thread::sleep_for(200ms);
    (void)connect().kill(SIGKILL, true);
  });
  auto st = c.wait();
  killer.join();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 137);
}

TEST_F(ShimTest, LogRotationAndReadingItBack) {
  auto o = options(config(
      {"sh", "-c", "i=0; while [ $i -lt 150 ]; do echo line$i; i=$((i+1)); sleep 0.005; done"}));
  o.log_max_size = 1024;
  o.log_max_file = 3;
  auto s = spawn_shim(o);
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  // Follow from before the start, until the container exits.
  std::atomic<bool> exited{false};
  std::vector<std::string> followed;
  std::thread follower([&] {
    (void)read_json_log(
        o.log_path, 3, {.follow = true},
        [&](const LogEntry& e) {
          followed.push_back(e.log);
          return true;
        },
        [&] { return exited.load(); });
  });
  ASSERT_TRUE(c.start());
  auto st = c.wait();
  exited = true;
  follower.join();
  ASSERT_TRUE(st);
  EXPECT_TRUE(path_exists(o.log_path + ".1"));
  EXPECT_TRUE(path_exists(o.log_path + ".2"));
  EXPECT_FALSE(path_exists(o.log_path + ".3"));
  struct stat sb;
  ASSERT_EQ(::stat(o.log_path.c_str(), &sb), 0);
  EXPECT_LT(sb.st_size, 1024 + 200);
  auto all = log_entries(3);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().log, "line149\n");
  int first = std::stoi(all.front().log.substr(4));
  EXPECT_GT(first, 0);  // the oldest were rotated away
  for (size_t i = 0; i < all.size(); ++i)
    ASSERT_EQ(all[i].log, "line" + std::to_string(first + static_cast<int>(i)) + "\n");
  // tail and since.
  std::vector<std::string> tail;
  ASSERT_TRUE(read_json_log(
      o.log_path, 3, {.tail = 3},
      [&](const LogEntry& e) {
        tail.push_back(e.log);
        return true;
      },
      nullptr));
  EXPECT_EQ(tail, (std::vector<std::string>{"line147\n", "line148\n", "line149\n"}));
  int64_t since = all[all.size() - 5].time_ns;
  size_t n_since = 0;
  ASSERT_TRUE(read_json_log(
      o.log_path, 3, {.since_ns = since},
      [&](const LogEntry& e) {
        EXPECT_GE(e.time_ns, since);
        ++n_since;
        return true;
      },
      nullptr));
  EXPECT_GE(n_since, 5u);
  // The follower saw every line, across rotations.
  ASSERT_EQ(followed.size(), 150u);
  for (int i = 0; i < 150; ++i)
    EXPECT_EQ(followed[static_cast<size_t>(i)], "line" + std::to_string(i) + "\n");
}

TEST_F(ShimTest, BadExecutableFailsSpawnWithTheRuntimeMessageAndLeavesNothing) {
  auto s = spawn_shim(options(config({"nosuch"})));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("exec: \"nosuch\": executable file not found in $PATH"),
            std::string::npos)
      << s.error().message();
  EXPECT_FALSE(Client::connect(dir_ + "/state"));
  EXPECT_FALSE(path_exists(dir_ + "/runtime/" + id_));
  EXPECT_FALSE(path_exists("/sys/fs/cgroup/memory/" + id_));
  // No shim left: nothing holds the state dir's log open.
  std::this_thread::sleep_for(100ms);
  std::string cmd = "pgrep -f '[b]erth-shim " + dir_ + "/state' >/dev/null";
  EXPECT_NE(::system(cmd.c_str()), 0);
}

TEST_F(ShimTest, ExternalRuntimeRunc) {
  if (::access("/usr/sbin/runc", X_OK) != 0) GTEST_SKIP() << "needs /usr/sbin/runc";
  runc_ = true;
  auto o = options(config({"sh", "-c", "echo from-runc; read x; echo got $x >&2"}));
  o.runtime = "/usr/sbin/runc";
  o.open_stdin = true;
  o.stdin_once = true;
  auto s = spawn_shim(o);
  ASSERT_TRUE(s) << s.error().message();
  Client c = connect();
  auto fd = c.attach({.stdin = true});
  ASSERT_TRUE(fd);
  ASSERT_TRUE(c.start());
  auto es = c.exec({.exec_id = "r1", .process = exec_process({"sh", "-c", "exit 5"})});
  ASSERT_TRUE(es) << es.error().message();
  (void)read_stream(es->get());
  auto st5 = c.exec_state("r1");
  ASSERT_TRUE(st5 && st5->exit_code);
  EXPECT_EQ(*st5->exit_code, 5);
  ASSERT_EQ(::write(fd->get(), "x1\n", 3), 3);
  ::shutdown(fd->get(), SHUT_WR);
  auto got = demux(read_stream(fd->get()));
  EXPECT_EQ(got.out, "from-runc\n");
  EXPECT_EQ(got.err, "got x1\n");
  auto st = c.wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->exit_code, 0);
  // And a bad executable through runc: its own message.
  auto bad_opts = o;
  bad_opts.id = id_ + "-bad";
  ASSERT_TRUE(write_file_atomic(dir_ + "/bundle/config.json", config({"nosuch"}).dump()));
  bad_opts.state_dir = dir_ + "/state-bad";
  auto bad = spawn_shim(bad_opts);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("executable file not found"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace berth::shim
