// Client against Server, in process over a temp unix socket: JSON round trips, routing through
// the wire (versions, params, {name*}, 404), HEAD, keep-alive reuse and reconnects, streaming
// that reaches the client before the handler finishes, hijack in both directions (pending bytes,
// half-close), chunked uploads to stream_body routes, concurrency, client_gone, handler failures.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <cstring>
#include <future>
#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/test_server.h"

namespace berth::http {
namespace {

using testing::TestServer;

thread_local int g_requests_on_thread = 0;  // each server connection is one thread

std::unique_ptr<Client> connect(const TestServer& s) {
  auto c = Client::create(s.url());
  EXPECT_TRUE(c.has_value());
  return std::move(*c);
}

// A raw unix socket connection, for what the Client cannot do on purpose.
UniqueFd raw_connect(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    ASSERT_GT(n, 0);
    s.remove_prefix(static_cast<size_t>(n));
  }
}

std::string read_to_eof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

Router basic_router() {
  Router r;
  r.add("POST", "/echo", [](Request& req, ResponseWriter& w) {
    auto j = json::parse(req.body, "body");
    if (!j) return w.send_json(400, {{"message", j.error().message()}});
    (*j)["seen_version"] = req.api_version;
    (*j)["content_type"] = req.header("content-type");
    (*j)["q"] = req.q("q");
    (*j)["names"] = req.query_all("names");
    w.send_json(201, *j);
  });
  r.add("GET", "/containers/{id}/json", [](Request& req, ResponseWriter& w) {
    w.send_json(200, {{"Id", req.params["id"]}, {"version", req.api_version}});
  });
  r.add("GET", "/images/{name*}/json", [](Request& req, ResponseWriter& w) {
    w.send_json(200, {{"name", req.params["name"]}});
  });
  r.add("DELETE", "/images/{name*}", [](Request& req, ResponseWriter& w) {
    w.send_json(200, {{"deleted", req.params["name"]}});
  });
  r.add("GET", "/count", [](Request&, ResponseWriter& w) {
    ++g_requests_on_thread;
    w.send(200, "text/plain", std::to_string(g_requests_on_thread));
  });
  r.add("POST", "/start", [](Request&, ResponseWriter& w) { w.send_empty(204); });
  r.add("GET", "/throw", [](Request&, ResponseWriter&) { throw std::runtime_error("kaboom"); });
  r.add("GET", "/silent", [](Request&, ResponseWriter&) {});
  return r;
}

TEST(ClientServerTest, JsonRoundTripWithVersionAndQuery) {
  TestServer s(basic_router());
  auto c = connect(s);
  RequestOptions o;
  o.body = R"({"Image":"busybox","Cmd":["true"]})";
  auto r = c->request(
      "POST", "/v1.41/echo" + query_string({{"q", "a b&c=d/é"}, {"x", ""}}) + "&names=a&names=b+c",
      o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->header("content-type"), "application/json");
  auto j = json::parse(r->body, "response");
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["Image"], "busybox");
  EXPECT_EQ((*j)["seen_version"], "1.41");
  EXPECT_EQ((*j)["content_type"], "application/json");
  EXPECT_EQ((*j)["q"], "a b&c=d/é");
  EXPECT_EQ((*j)["names"], json::Json::array({"a", "b c"}));
}

TEST(ClientServerTest, ParamsAndRestParamsOverTheWire) {
  TestServer s(basic_router());
  auto c = connect(s);
  auto r = c->request("GET", "/v1.24/containers/abc123/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body, "")->at("Id"), "abc123");
  EXPECT_EQ(json::parse(r->body, "")->at("version"), "1.24");
  r = c->request("GET", "/containers/abc123/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body, "")->at("version"), "");
  r = c->request("GET", "/v1.41/images/docker.io/library/busybox:latest/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body, "")->at("name"), "docker.io/library/busybox:latest");
  r = c->request("DELETE", "/v1.41/images/localhost:5000/x%2Fy:1");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body, "")->at("deleted"), "localhost:5000/x/y:1");
}

TEST(ClientServerTest, UnknownPathAndWrongMethodAre404WithMessage) {
  TestServer s(basic_router());
  auto c = connect(s);
  for (auto [m, p] : {std::pair{"GET", "/v1.41/nope"}, std::pair{"PUT", "/containers/x/json"}}) {
    auto r = c->request(m, p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(json::parse(r->body, "")->at("message"), "page not found");
  }
}

TEST(ClientServerTest, CustomNotFoundHandler) {
  Router router = basic_router();
  router.set_not_found([](Request& req, ResponseWriter& w) {
    w.send_json(404, {{"message", "Path " + req.path + " is not supported"}});
  });
  TestServer s(router);
  auto r = connect(s)->request("GET", "/v1.41/swarm");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body, "")->at("message"), "Path /swarm is not supported");
}

TEST(ClientServerTest, MiddlewareCanRejectBeforeHandler) {
  Router router = basic_router();
  router.set_middleware([](Request& req, ResponseWriter& w) {
    if (req.api_version == "1.10") {
      w.send_json(400, {{"message", "client version 1.10 is too old"}});
      return false;
    }
    return true;
  });
  TestServer s(router);
  auto c = connect(s);
  auto r = c->request("GET", "/v1.10/containers/x/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = c->request("GET", "/v1.41/containers/x/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ClientServerTest, EmptyResponsesHaveNoBody) {
  TestServer s(basic_router());
  auto c = connect(s);
  auto r = c->request("POST", "/start");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->header("Content-Length"), "");
  // The connection is still usable afterwards.
  r = c->request("GET", "/containers/a/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ClientServerTest, HeadIsServedByGetRouteWithoutBody) {
  TestServer s(basic_router());
  auto c = connect(s);
  auto r = c->request("HEAD", "/v1.41/containers/abc/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_GT(std::stoi(r->header("Content-Length")), 0);
  // Next request on the same connection is not confused by a phantom body.
  r = c->request("GET", "/containers/abc/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body, "")->at("Id"), "abc");
}

TEST(ClientServerTest, KeepAliveReusesOneConnection) {
  TestServer s(basic_router());
  auto c = connect(s);
  for (int i = 1; i <= 5; ++i) {
    auto r = c->request("GET", "/count");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, std::to_string(i));
  }
}

TEST(ClientServerTest, ClientReconnectsAfterServerClosedIdleConnection) {
  char tmpl[] = "/tmp/berth-http-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ScopeGuard cleanup([&] { (void)remove_all(dir); });
  Router router = basic_router();
  std::unique_ptr<Client> c;
  {
    TestServer s1(router, dir);
    c = connect(s1);
    auto r = c->request("GET", "/count");
    ASSERT_TRUE(r);
  }
  TestServer s2(router, dir);
  auto r = c->request("GET", "/count");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "1");  // a new connection
}

TEST(ClientServerTest, ConnectFailureIsUnavailableError) {
  auto c = Client::create("unix:///tmp/berth-http-test-does-not-exist.sock");
  ASSERT_TRUE(c);
  auto r = (*c)->request("GET", "/_ping");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("berth-http-test-does-not-exist.sock"), std::string::npos);
  EXPECT_FALSE(Client::create("ftp://x").has_value());
}

TEST(ClientServerTest, HandlerThatThrowsOrStaysSilentGets500) {
  TestServer s(basic_router());
  auto c = connect(s);
  auto r = c->request("GET", "/throw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(json::parse(r->body, "")->at("message"), "kaboom");
  r = c->request("GET", "/silent");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  r = c->request("GET", "/containers/ok/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ClientServerTest, StreamReachesClientBeforeHandlerFinishes) {
  std::promise<void> release;
  auto released = release.get_future().share();
  std::atomic<bool> handler_done{false};
  Router r;
  r.add("POST", "/containers/{id}/wait", [&](Request&, ResponseWriter& w) {
    ASSERT_TRUE(w.begin_stream(200, "application/json"));
    ASSERT_TRUE(w.write("first\n"));
    released.wait();
    ASSERT_TRUE(w.write("second\n"));
    ASSERT_TRUE(w.end_stream());
    handler_done = true;
  });
  TestServer s(r);
  auto c = connect(s);
  auto st = c->stream("POST", "/v1.41/containers/x/wait?condition=next-exit");
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ((*st)->status(), 200);
  EXPECT_EQ((*st)->header("Transfer-Encoding"), "chunked");
  auto first = (*st)->read_some();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "first\n");
  EXPECT_FALSE(handler_done.load());
  release.set_value();
  auto rest = (*st)->read_all();
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, "second\n");
  // The client itself is free for other requests while/after streaming.
  EXPECT_TRUE(c->request("GET", "/nope").has_value());
}

TEST(ClientServerTest, Http10ClientGetsUnchunkedStreamAndClose) {
  Router r;
  r.add("GET", "/logs", [](Request&, ResponseWriter& w) {
    (void)w.begin_stream(200, "text/plain");
    (void)w.write("abc");
    (void)w.write("def");
    (void)w.end_stream();
  });
  TestServer s(r);
  UniqueFd fd = raw_connect(s.path());
  write_all(fd.get(), "GET /logs HTTP/1.0\r\n\r\n");
  std::string all = read_to_eof(fd.get());
  EXPECT_EQ(all.find("Transfer-Encoding"), std::string::npos);
  EXPECT_TRUE(all.ends_with("\r\n\r\nabcdef")) << all;
}

Router hijack_router() {
  Router r;
  // Echoes everything until the client half-closes, then says bye and closes.
  r.add("POST", "/containers/{id}/attach", [](Request&, ResponseWriter& w) {
    auto h = w.hijack("application/vnd.docker.raw-stream");
    if (!h) return;
    std::string echo = "pending[" + h->pending + "]";
    write_all(h->fd.get(), echo);
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(h->fd.get(), buf, sizeof buf);
      if (n <= 0) break;
      write_all(h->fd.get(), std::string_view(buf, static_cast<size_t>(n)));
    }
    write_all(h->fd.get(), "bye");
  });
  return r;
}

TEST(ClientServerTest, HijackEchoesBothWaysWithHalfClose) {
  TestServer s(hijack_router());
  auto c = connect(s);
  auto h = c->hijack("POST", "/v1.41/containers/x/attach?stream=1&stdin=1");
  ASSERT_TRUE(h) << h.error().message();
  write_all(h->fd.get(), "ping");
  ASSERT_EQ(::shutdown(h->fd.get(), SHUT_WR), 0);
  std::string got = h->pending + read_to_eof(h->fd.get());
  EXPECT_EQ(got, "pending[]pingbye");
}

TEST(ClientServerTest, HijackHandsPipelinedBytesToHandlerAsPending) {
  TestServer s(hijack_router());
  UniqueFd fd = raw_connect(s.path());
  write_all(fd.get(),
            "POST /v1.41/containers/x/attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
            "Upgrade: tcp\r\nContent-Length: 0\r\n\r\nEARLY");
  ::shutdown(fd.get(), SHUT_WR);
  std::string all = read_to_eof(fd.get());
  EXPECT_EQ(all,
            "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\npending[EARLY]bye");
}

TEST(ClientServerTest, HijackWithoutUpgradeAnswers200AndCloses) {
  TestServer s(hijack_router());
  UniqueFd fd = raw_connect(s.path());
  write_all(fd.get(), "POST /containers/x/attach HTTP/1.1\r\nHost: docker\r\n\r\nhi");
  ::shutdown(fd.get(), SHUT_WR);
  std::string all = read_to_eof(fd.get());
  EXPECT_EQ(all,
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
            "pending[hi]bye");
}

TEST(ClientServerTest, ClientHijackReportsServerErrorMessage) {
  Router r;
  r.add("POST", "/containers/{id}/attach", [](Request& req, ResponseWriter& w) {
    w.send_json(404, {{"message", "No such container: " + req.params["id"]}});
  });
  TestServer s(r);
  auto h = connect(s)->hijack("POST", "/containers/zz/attach");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(h.error().message(), "No such container: zz");
}

TEST(ClientServerTest, ChunkedUploadOf10MBToStreamBodyRoute) {
  Router r;
  r.add(
      "POST", "/images/load",
      [](Request& req, ResponseWriter& w) {
        EXPECT_TRUE(req.body.empty() || req.body == R"({"a":1})");
        uint64_t total = 0, sum = 0;
        std::vector<char> buf(100000);
        for (;;) {
          auto n = req.read_body(buf.data(), buf.size());
          if (!n) return w.send_json(500, {{"message", n.error().message()}});
          if (*n == 0) break;
          for (size_t i = 0; i < *n; ++i) sum += static_cast<unsigned char>(buf[i]);
          total += *n;
        }
        w.send_json(200, {{"total", total}, {"sum", sum}});
      },
      RouteOptions{.stream_body = true});
  TestServer s(r);
  auto c = connect(s);
  constexpr uint64_t kSize = 10 << 20;
  uint64_t sent = 0, expect_sum = 0;
  RequestOptions o;
  o.content_type = "application/x-tar";
  o.body_reader = [&](char* buf, size_t len) -> Result<size_t> {
    size_t n = std::min<uint64_t>(len, kSize - sent);
    for (size_t i = 0; i < n; ++i) {
      buf[i] = static_cast<char>((sent + i) * 7 % 251);
      expect_sum += static_cast<unsigned char>(buf[i]);
    }
    sent += n;
    return n;
  };
  auto resp = c->request("POST", "/v1.41/images/load?quiet=1", o);
  ASSERT_TRUE(resp) << resp.error().message();
  ASSERT_EQ(resp->status, 200) << resp->body;
  auto j = json::parse(resp->body, "");
  EXPECT_EQ(j->at("total"), kSize);
  EXPECT_EQ(j->at("sum"), expect_sum);
  // And a buffered route still gets the whole body afterwards on the same client.
  RequestOptions o2;
  o2.body = R"({"a":1})";
  auto r2 = c->request("POST", "/v1.41/images/load", o2);
  ASSERT_TRUE(r2);
  EXPECT_EQ(json::parse(r2->body, "")->at("total"), 7);
}

TEST(ClientServerTest, BufferedBodyOverLimitIs413) {
  TestServer s(basic_router());
  UniqueFd fd = raw_connect(s.path());
  write_all(fd.get(), "POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 999999999999\r\n\r\n");
  std::string all = read_to_eof(fd.get());
  EXPECT_TRUE(all.starts_with("HTTP/1.1 413 ")) << all;
}

TEST(ClientServerTest, TwentyConcurrentClients) {
  TestServer s(basic_router());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 20; ++t) {
    threads.emplace_back([&, t] {
      auto c = Client::create(s.url());
      if (!c) return;
      for (int i = 0; i < 50; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        auto r = (*c)->request("GET", "/v1.41/containers/" + id + "/json");
        if (r && r->status == 200 && json::parse(r->body, "")->at("Id") == id) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20 * 50);
}

TEST(ClientServerTest, ClientGoneAfterDisconnect) {
  std::promise<bool> gone_before, gone_after;
  std::promise<void> client_closed;
  auto closed = client_closed.get_future().share();
  Router r;
  r.add("GET", "/events", [&](Request&, ResponseWriter& w) {
    gone_before.set_value(w.client_gone());
    closed.wait();
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      gone = w.client_gone();
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    gone_after.set_value(gone);
    w.send_empty(204);
  });
  TestServer s(r);
  UniqueFd fd = raw_connect(s.path());
  // A pipelined second request must not count as "gone".
  write_all(fd.get(), "GET /events HTTP/1.1\r\nHost: d\r\n\r\nGET /x HTTP/1.1\r\n");
  auto before = gone_before.get_future();
  EXPECT_FALSE(before.get());
  fd.reset();
  client_closed.set_value();
  EXPECT_TRUE(gone_after.get_future().get());
}

TEST(ClientServerTest, StopShutsDownIdleAndStreamingConnections) {
  std::atomic<bool> stream_failed{false};
  Router r;
  r.add("GET", "/events", [&](Request&, ResponseWriter& w) {
    (void)w.begin_stream(200, "application/json");
    while (!w.client_gone()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stream_failed = !w.write("x");
  });
  auto s = std::make_unique<TestServer>(r);
  auto c = connect(*s);
  auto st = c->stream("GET", "/events");
  ASSERT_TRUE(st);
  auto start = std::chrono::steady_clock::now();
  s->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  auto rest = (*st)->read_all();  // ends (error or EOF), never hangs
  EXPECT_TRUE(stream_failed.load());
  EXPECT_FALSE(path_exists(s->path()));
}

}  // namespace
}  // namespace berth::http

namespace berth::http {
namespace {

// Per-request cost guard: keep-alive round trips and fresh connections stay cheap (the engine
// targets docker run in a fraction of docker's time). Bounds are loose for a loaded machine.
TEST(ClientServerTest, SequentialRequestsAreCheap) {
  testing::TestServer s(basic_router());
  auto c = connect(s);
  constexpr int kN = 2000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(c->request("GET", "/v1.41/containers/x/json"));
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN / 4; ++i) {
    auto fresh = connect(s);
    ASSERT_TRUE(fresh->request("GET", "/v1.41/containers/x/json"));
  }
  auto t2 = std::chrono::steady_clock::now();
  auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
  double keepalive_us = double(us(t1 - t0)) / kN, fresh_us = double(us(t2 - t1)) / (kN / 4);
  std::printf("keep-alive request: %.1f us, new connection + request: %.1f us\n", keepalive_us,
              fresh_us);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "timings are meaningless under sanitizers";
#endif
  EXPECT_LT(keepalive_us, 1000);
  EXPECT_LT(fresh_us, 3000);
}

}  // namespace
}  // namespace berth::http

namespace berth::http {
namespace {

TEST(ClientServerTest, BufferedRouteCanReadBodyThroughReadBody) {
  Router r;
  r.add("POST", "/archive", [](Request& req, ResponseWriter& w) {
    std::string got;
    char buf[3];
    for (;;) {
      auto n = req.read_body(buf, sizeof buf);
      if (!n || *n == 0) break;
      got.append(buf, *n);
    }
    w.send(200, "text/plain", got);
  });
  testing::TestServer s(r);
  RequestOptions o;
  o.body = "hello world";
  auto resp = connect(s)->request("POST", "/archive", o);
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->body, "hello world");
}

// Writing to a hijacked socket whose client went away is an EPIPE error, not a SIGPIPE death.
TEST(ClientServerTest, WritingToVanishedHijackedClientIsEpipeNotSignal) {
  std::promise<int> write_errno;
  Router r;
  r.add("POST", "/exec/{id}/start", [&](Request&, ResponseWriter& w) {
    auto h = w.hijack("application/vnd.docker.raw-stream");
    if (!h) return write_errno.set_value(-1);
    char c;
    while (::read(h->fd.get(), &c, 1) > 0) {
    }
    std::string big(1 << 20, 'x');
    int err = 0;
    for (int i = 0; i < 50 && err == 0; ++i)
      if (::write(h->fd.get(), big.data(), big.size()) < 0) err = errno;
    write_errno.set_value(err);
  });
  testing::TestServer s(r);
  {
    auto h = connect(s)->hijack("POST", "/exec/abc/start");
    ASSERT_TRUE(h) << h.error().message();
  }  // client closes its end
  EXPECT_EQ(write_errno.get_future().get(), EPIPE);
}

}  // namespace
}  // namespace berth::http

namespace berth::http {
namespace {

std::string read_until(int fd, std::string_view marker) {
  std::string out;
  char c;
  while (out.find(marker) == std::string::npos && ::read(fd, &c, 1) == 1) out.push_back(c);
  return out;
}

TEST(ClientServerTest, ExpectContinueGetsInterimResponseBeforeBody) {
  testing::TestServer s(basic_router());
  UniqueFd fd = raw_connect(s.path());
  write_all(fd.get(),
            "POST /echo HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
            "Content-Length: 7\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(read_until(fd.get(), "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  write_all(fd.get(), R"({"a":1})");
  std::string resp = read_until(fd.get(), "\"a\":1");
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 201 Created\r\n")) << resp;
}

TEST(ClientServerTest, ChunkedBodyToBufferedRouteIsAssembled) {
  testing::TestServer s(basic_router());
  auto c = connect(s);
  std::string doc = R"({"Image":")" + std::string(200000, 'x') + R"("})";
  size_t off = 0;
  RequestOptions o;
  o.content_type = "application/json";
  o.body_reader = [&](char* buf, size_t len) -> Result<size_t> {
    size_t n = std::min<size_t>({len, doc.size() - off, 777});
    std::memcpy(buf, doc.data() + off, n);
    off += n;
    return n;
  };
  auto r = c->request("POST", "/echo", o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(json::parse(r->body, "")->at("Image").get<std::string>().size(), 200000u);
}

TEST(ClientServerTest, MalformedRequestIs400AndClosed) {
  testing::TestServer s(basic_router());
  UniqueFd fd = raw_connect(s.path());
  write_all(fd.get(), "this is not http\r\n\r\n");
  std::string all = read_to_eof(fd.get());
  EXPECT_TRUE(all.starts_with("HTTP/1.1 400 Bad Request\r\n")) << all;
}

TEST(ClientServerTest, UnixListenerReplacesStaleSocketAndSetsModeAndGroup) {
  char tmpl[] = "/tmp/berth-http-test-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  ScopeGuard cleanup([&] { (void)remove_all(dir); });
  std::string path = dir + "/sub/berthd.sock";
  // A stale socket left by a crashed daemon.
  ASSERT_TRUE(mkdir_all(dir + "/sub"));
  {
    UniqueFd stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  auto s = Server::create(basic_router());
  ASSERT_TRUE(s);
  auto l = (*s)->listen(UnixListener{.path = path, .mode = 0660, .gid = 12345});
  ASSERT_TRUE(l) << l.error().message();
  struct stat sb;
  ASSERT_EQ(::stat(path.c_str(), &sb), 0);
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 07777, 0660u);
  EXPECT_EQ(sb.st_gid, 12345u);
  // A regular file in the way is not deleted.
  ASSERT_TRUE(write_file_atomic(dir + "/file", "x", 0644, false));
  auto bad = (*s)->listen(UnixListener{.path = dir + "/file"});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(path_exists(dir + "/file"));
}

}  // namespace
}  // namespace berth::http
