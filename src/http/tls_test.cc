// TCP listeners: plain TCP with the berth Client, and mutual TLS as dockerd --tlsverify does it,
// checked with the real docker CLI and curl (with and without a client certificate). Certificates
// are made per test with the openssl CLI. TLS tests skip when berth was built without libssl.
#include <stdio.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "base/file.h"
#include "http/client.h"
#include "http/server.h"
#include "http/tls.h"

namespace berth::http {
namespace {

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

Router version_router() {
  Router r;
  auto ping = [](Request&, ResponseWriter& w) {
    w.send(200, "text/plain; charset=utf-8", "OK",
           {{"Api-Version", "1.41"}, {"OSType", "linux"}, {"Docker-Experimental", "false"}});
  };
  r.add("HEAD", "/_ping", ping);
  r.add("GET", "/_ping", ping);
  r.add("GET", "/version", [](Request&, ResponseWriter& w) {
    w.send_json(200, {{"Version", "28.0.0-berth"},
                      {"ApiVersion", "1.41"},
                      {"MinAPIVersion", "1.24"},
                      {"Os", "linux"},
                      {"Arch", "amd64"}});
  });
  return r;
}

// A server on 127.0.0.1:<ephemeral> serving on its own thread until destroyed.
struct TcpServer {
  std::unique_ptr<Server> server;
  std::thread thread;
  Result<> listened;
  TcpServer(const Router& r, TcpListener l) {
    server = std::move(*Server::create(r));
    listened = server->listen(l);
    if (listened) thread = std::thread([this] { (void)server->run(); });
  }
  ~TcpServer() {
    if (thread.joinable()) {
      server->stop();
      thread.join();
    }
  }
};

TEST(TcpTest, PlainTcpWithClient) {
  TcpServer s(version_router(), TcpListener{.address = "127.0.0.1", .port = 0});
  ASSERT_TRUE(s.listened) << s.listened.error().message();
  ASSERT_GT(s.server->tcp_port(), 0);
  auto c = Client::create("tcp://127.0.0.1:" + std::to_string(s.server->tcp_port()));
  ASSERT_TRUE(c);
  for (int i = 0; i < 3; ++i) {
    auto r = (*c)->request("GET", "/v1.41/version");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body, "")->at("Version"), "28.0.0-berth");
  }
}

TEST(TcpTest, PartialTlsConfigIsRejected) {
  auto s = Server::create(version_router());
  ASSERT_TRUE(s);
  auto r = (*s)->listen(TcpListener{.address = "127.0.0.1", .port = 0, .tls_cert = "/x.pem"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!tls_available()) GTEST_SKIP() << "built without BERTH_HTTP_TLS";
    if (::access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "no openssl CLI";
    char tmpl[] = "/tmp/berth-http-tls-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::string script =
        "set -e; cd " + dir_ +
        "; K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'"
        "; openssl req -x509 $K -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=berth-test-ca"
        "; openssl req $K -keyout key.pem -out server.csr -subj /CN=127.0.0.1"
        "; printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext"
        "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial"
        "   -out cert.pem -days 1 -extfile server.ext"
        "; openssl req $K -keyout client-key.pem -out client.csr -subj /CN=client"
        "; printf 'extendedKeyUsage=clientAuth\\n' > client.ext"
        "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial"
        "   -out client-cert.pem -days 1 -extfile client.ext";
    int status = -1;
    std::string out = run_capture("(" + script + ") 2>&1", &status);
    ASSERT_EQ(status, 0) << out;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)remove_all(dir_);
  }
  TcpListener listener() const {
    return TcpListener{.address = "127.0.0.1",
                       .port = 0,
                       .tls_cert = dir_ + "/cert.pem",
                       .tls_key = dir_ + "/key.pem",
                       .tls_ca = dir_ + "/ca.pem"};
  }
  std::string dir_;
};

TEST_F(TlsTest, DockerCliWithClientCertificateTalksToServer) {
  if (::access("/usr/local/bin/docker", X_OK) != 0) GTEST_SKIP() << "no docker CLI";
  TcpServer s(version_router(), listener());
  ASSERT_TRUE(s.listened) << s.listened.error().message();
  std::string port = std::to_string(s.server->tcp_port());
  std::string cmd =
      "env -u DOCKER_HOST -u DOCKER_CONTEXT -u DOCKER_CERT_PATH DOCKER_CONFIG=" + dir_ +
      "/cfg /usr/local/bin/docker --tlsverify --tlscacert " + dir_ + "/ca.pem --tlscert " + dir_ +
      "/client-cert.pem --tlskey " + dir_ + "/client-key.pem -H tcp://127.0.0.1:" + port +
      " version --format '{{.Server.Version}}' 2>&1";
  int status = -1;
  std::string out = run_capture(cmd, &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "28.0.0-berth\n");
}

TEST_F(TlsTest, ClientWithoutCertificateIsRefusedAndServerKeepsServing) {
  if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "no curl";
  TcpServer s(version_router(), listener());
  ASSERT_TRUE(s.listened) << s.listened.error().message();
  std::string url = "https://127.0.0.1:" + std::to_string(s.server->tcp_port()) + "/_ping";
  int status = -1;
  std::string out =
      run_capture("curl -sS --max-time 10 --cacert " + dir_ + "/ca.pem " + url + " 2>&1", &status);
  EXPECT_NE(status, 0) << out;
  out = run_capture("curl -sS --max-time 10 --cacert " + dir_ + "/ca.pem --cert " + dir_ +
                        "/client-cert.pem --key " + dir_ + "/client-key.pem " + url + " 2>&1",
                    &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "OK");
}

}  // namespace
}  // namespace berth::http

#ifdef BERTH_HTTP_TLS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

namespace berth::http {
namespace {

// Hijack over TLS: the handler's plain fd is relayed to the TLS session in both directions,
// and a client close_notify (Go's tls.Conn.CloseWrite) reaches the handler as EOF.
TEST_F(TlsTest, HijackRelaysBothWaysWithCloseNotifyAsHalfClose) {
  Router r;
  r.add("POST", "/containers/{id}/attach", [](Request&, ResponseWriter& w) {
    auto h = w.hijack("application/vnd.docker.raw-stream");
    if (!h) return;
    std::string echo = "pending[" + h->pending + "]";
    (void)!::write(h->fd.get(), echo.data(), echo.size());
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(h->fd.get(), buf, sizeof buf);
      if (n <= 0) break;
      (void)!::write(h->fd.get(), buf, static_cast<size_t>(n));
    }
    (void)!::write(h->fd.get(), "bye", 3);
  });
  TcpServer s(r, listener());
  ASSERT_TRUE(s.listened) << s.listened.error().message();

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  ScopeGuard free_ctx([&] { SSL_CTX_free(ctx); });
  ASSERT_EQ(SSL_CTX_load_verify_locations(ctx, (dir_ + "/ca.pem").c_str(), nullptr), 1);
  ASSERT_EQ(
      SSL_CTX_use_certificate_file(ctx, (dir_ + "/client-cert.pem").c_str(), SSL_FILETYPE_PEM), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx, (dir_ + "/client-key.pem").c_str(), SSL_FILETYPE_PEM),
            1);
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(s.server->tcp_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  SSL* ssl = SSL_new(ctx);
  ScopeGuard free_ssl([&] { SSL_free(ssl); });
  SSL_set_fd(ssl, fd.get());
  ASSERT_EQ(SSL_connect(ssl), 1);
  std::string req =
      "POST /v1.41/containers/x/attach HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
      "Upgrade: tcp\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(SSL_write(ssl, req.data(), static_cast<int>(req.size())), int(req.size()));
  std::string got;
  char buf[4096];
  while (got.find("pending[]") == std::string::npos) {
    int n = SSL_read(ssl, buf, sizeof buf);
    ASSERT_GT(n, 0) << got;
    got.append(buf, static_cast<size_t>(n));
  }
  ASSERT_EQ(SSL_write(ssl, "ping", 4), 4);
  SSL_shutdown(ssl);  // close_notify, keep reading
  for (;;) {
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got,
            "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\npending[]pingbye");
}

}  // namespace
}  // namespace berth::http
#endif
