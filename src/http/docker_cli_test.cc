// The real docker CLI (/usr/local/bin/docker) against a tiny berth http server: HEAD/GET /_ping
// negotiation, then a versioned GET /v1.41/version. Skips when the CLI is not installed.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/stdcopy.h"
#include "http/test_server.h"

namespace berth::http {
namespace {

constexpr const char* kDocker = "/usr/local/bin/docker";

void ping_routes(Router& r) {
  auto ping = [](Request&, ResponseWriter& w) {
    w.send(200, "text/plain; charset=utf-8", "OK",
           {{"Api-Version", "1.41"}, {"OSType", "linux"}, {"Docker-Experimental", "false"}});
  };
  r.add("HEAD", "/_ping", ping);
  r.add("GET", "/_ping", ping);
}

std::string docker_cmd(const testing::TestServer& s, const std::string& args) {
  return "env -u DOCKER_HOST -u DOCKER_CONTEXT DOCKER_CONFIG=" + s.dir() + "/docker-config " +
         kDocker + " -H unix://" + s.path() + " " + args;
}

std::string run_capture(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = ::pclose(p);
  return out;
}

TEST(DockerCliTest, DockerVersionTalksToServer) {
  if (::access(kDocker, X_OK) != 0) GTEST_SKIP() << "docker CLI not installed";
  std::atomic<int> pings{0}, versions{0};
  std::string seen_version_path;
  Router r;
  ResponseWriter::Headers ping_headers = {{"Api-Version", "1.41"},
                                          {"OSType", "linux"},
                                          {"Docker-Experimental", "false"},
                                          {"Cache-Control", "no-cache, no-store, must-revalidate"},
                                          {"Pragma", "no-cache"}};
  auto ping = [&](Request&, ResponseWriter& w) {
    ++pings;
    w.send(200, "text/plain; charset=utf-8", "OK", ping_headers);
  };
  r.add("HEAD", "/_ping", ping);
  r.add("GET", "/_ping", ping);
  r.add("GET", "/version", [&](Request& req, ResponseWriter& w) {
    ++versions;
    seen_version_path = req.api_version;
    json::Json v = {{"Platform", {{"Name", "berth"}}},
                    {"Components", json::Json::array({{{"Name", "Engine"},
                                                       {"Version", "28.0.0-berth"},
                                                       {"Details", {{"ApiVersion", "1.41"}}}}})},
                    {"Version", "28.0.0-berth"},
                    {"ApiVersion", "1.41"},
                    {"MinAPIVersion", "1.24"},
                    {"GitCommit", "0000000"},
                    {"GoVersion", "n/a"},
                    {"Os", "linux"},
                    {"Arch", "amd64"},
                    {"KernelVersion", "6.18"},
                    {"BuildTime", "2026-11-27T00:00:00.000000000+00:00"}};
    w.send_json(200, v, {{"Api-Version", "1.41"}});
  });
  testing::TestServer s(r);
  std::string cmd = "env -u DOCKER_HOST -u DOCKER_CONTEXT DOCKER_CONFIG=" + s.dir() +
                    "/docker-config " + kDocker + " -H unix://" + s.path() +
                    " version --format '{{.Server.Version}}' 2>&1";
  int status = -1;
  std::string out = run_capture(cmd, &status);
  s.stop();  // handler threads are done: their writes are visible below
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "28.0.0-berth\n");
  EXPECT_GE(pings.load(), 1);
  EXPECT_EQ(versions.load(), 1);
  EXPECT_EQ(seen_version_path, "1.41");
}

// docker exec -i: hijack with 101, stdin relayed until the CLI half-closes, multiplexed
// stdout/stderr frames back, then the exit code from GET /exec/{id}/json.
TEST(DockerCliTest, DockerExecUsesHijackedStreamAndExitCode) {
  if (::access(kDocker, X_OK) != 0) GTEST_SKIP() << "docker CLI not installed";
  Router r;
  ping_routes(r);
  r.add("GET", "/containers/{id}/json", [](Request& req, ResponseWriter& w) {
    w.send_json(200, {{"Id", req.params["id"] + "0123456789"},
                      {"Name", "/" + req.params["id"]},
                      {"State", {{"Running", true}, {"Status", "running"}}},
                      {"Config", {{"Tty", false}}}});
  });
  r.add("POST", "/containers/{id}/exec", [](Request&, ResponseWriter& w) {
    w.send_json(201, {{"Id", "exec1"}});
  });
  r.add("POST", "/exec/{id}/start", [](Request& req, ResponseWriter& w) {
    auto h = w.hijack("application/vnd.docker.raw-stream");
    if (!h) return;
    std::string input = h->pending;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(h->fd.get(), buf, sizeof buf);
      if (n <= 0) break;
      input.append(buf, static_cast<size_t>(n));
    }
    std::string out = stdcopy::frame(stdcopy::Stream::kStdout, "got:" + input);
    stdcopy::append_frame(out, stdcopy::Stream::kStderr, "err:" + req.params["id"] + "\n");
    (void)!::write(h->fd.get(), out.data(), out.size());
  });
  r.add("GET", "/exec/{id}/json", [](Request&, ResponseWriter& w) {
    w.send_json(200, {{"ExitCode", 3}, {"Running", false}});
  });
  testing::TestServer s(r);
  int status = -1;
  std::string out = run_capture(
      "echo input | " + docker_cmd(s, "exec -i ctr cat") + " 2>" + s.dir() + "/stderr", &status);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(out, "got:input\n");
  int st2 = -1;
  EXPECT_EQ(run_capture("cat " + s.dir() + "/stderr", &st2), "err:exec1\n");
}

// docker events: a chunked stream whose lines the CLI prints as they arrive, ending with it.
TEST(DockerCliTest, DockerEventsReadsChunkedStream) {
  if (::access(kDocker, X_OK) != 0) GTEST_SKIP() << "docker CLI not installed";
  Router r;
  ping_routes(r);
  r.add("GET", "/events", [](Request&, ResponseWriter& w) {
    if (!w.begin_stream(200, "application/json")) return;
    for (const char* name : {"one", "two"}) {
      json::Json ev = {{"Type", "container"},
                       {"Action", "start"},
                       {"status", "start"},
                       {"id", name},
                       {"Actor", {{"ID", name}, {"Attributes", {{"name", name}}}}},
                       {"scope", "local"},
                       {"time", 1700000000},
                       {"timeNano", 1700000000000000000LL}};
      if (!w.write(json::dump(ev) + "\n")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    (void)w.end_stream();
  });
  testing::TestServer s(r);
  int status = -1;
  std::string out = run_capture(
      docker_cmd(s, "events --format '{{.Actor.Attributes.name}} {{.Action}}'") + " 2>&1", &status);
  EXPECT_EQ(out, "one start\ntwo start\n");
}

// docker load -i: Go's client uploads the file chunked to a stream_body route.
TEST(DockerCliTest, DockerLoadUploadsToStreamBodyRoute) {
  if (::access(kDocker, X_OK) != 0) GTEST_SKIP() << "docker CLI not installed";
  Router r;
  ping_routes(r);
  r.add(
      "POST", "/images/load",
      [](Request& req, ResponseWriter& w) {
        size_t total = 0;
        std::vector<char> buf(1 << 16);
        for (;;) {
          auto n = req.read_body(buf.data(), buf.size());
          if (!n) return w.send_json(500, {{"message", n.error().message()}});
          if (*n == 0) break;
          total += *n;
        }
        if (!w.begin_stream(200, "application/json")) return;
        json::Json msg = {{"stream", "Loaded image: bytes" + std::to_string(total) + "\n"}};
        (void)w.write(json::dump(msg) + "\n");
        (void)w.end_stream();
      },
      RouteOptions{.stream_body = true});
  testing::TestServer s(r);
  std::string tar = s.dir() + "/image.tar";
  {
    std::string data(3 << 20, 'z');
    ASSERT_TRUE(write_file_atomic(tar, data, 0644, false));
  }
  int status = -1;
  std::string out = run_capture(docker_cmd(s, "load -i " + tar) + " 2>&1", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "Loaded image: bytes" + std::to_string(3 << 20) + "\n");
}

}  // namespace
}  // namespace berth::http
