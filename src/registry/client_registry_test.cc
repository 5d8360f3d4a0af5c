// The client against Debian's real docker-registry (distribution 2.8) on 127.0.0.1: push blobs
// (monolithic and chunked), config and manifest, read them back by tag and digest, mount across
// repositories, 404s; then with htpasswd Basic auth: login, authorized push/pull, refusals.
// Each fixture starts its own registry on a free port with a temp storage dir and removes both.
// A third fixture serves TLS with a self-signed certificate.
// Skipped when docker-registry (or htpasswd for the auth fixture) is not installed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/subprocess.h"
#include "image/digest.h"
#include "registry/client.h"

namespace berth::registry {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRegistryBin = "/usr/bin/docker-registry";
constexpr const char* kHtpasswdBin = "/usr/bin/htpasswd";
constexpr const char* kOpensslBin = "/usr/bin/openssl";
constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 7;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// A docker-registry process with its own port and storage; htpasswd auth when asked.
class RegistryFixture : public ::testing::Test {
 protected:
  virtual bool with_auth() const { return false; }
  virtual bool with_tls() const { return false; }

  void SetUp() override {
    if (::access(kRegistryBin, X_OK) != 0) GTEST_SKIP() << kRegistryBin << " not installed";
    if (with_auth() && ::access(kHtpasswdBin, X_OK) != 0)
      GTEST_SKIP() << kHtpasswdBin << " not installed";
    char tmpl[] = "/tmp/berth-registry-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string auth;
    if (with_auth()) {
      auto h = run_subprocess({.path = kHtpasswdBin, .args = {"htpasswd", "-Bbn", "user", "pass"}});
      ASSERT_TRUE(h.has_value() && h->exit_code == 0);
      std::ofstream(dir_ + "/htpasswd") << h->output;
      auth = "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + dir_ + "/htpasswd\n";
    }
    std::string tls;
    if (with_tls()) {
      if (::access(kOpensslBin, X_OK) != 0) GTEST_SKIP() << kOpensslBin << " not installed";
      auto o =
          run_subprocess({.path = kOpensslBin,
                          .args = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                                   "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                   "-keyout", dir_ + "/key.pem", "-out", dir_ + "/cert.pem"}});
      ASSERT_TRUE(o.has_value() && o->exit_code == 0) << (o ? o->output : o.error().message());
      tls = "  tls:\n    certificate: " + dir_ + "/cert.pem\n    key: " + dir_ + "/key.pem\n";
    }
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = free_port();
      std::ofstream(dir_ + "/config.yml")
          << "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "
          << dir_ << "/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" << port_
          << "\n"
          << tls << auth;
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        int log = ::open((dir_ + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(log, 1);
        ::dup2(log, 2);
        ::execl(kRegistryBin, "docker-registry", "serve", (dir_ + "/config.yml").c_str(), nullptr);
        ::_exit(127);
      }
      // Ready when the port answers; gone if the process died (port taken meanwhile: retry).
      for (int i = 0; i < 200; ++i) {
        if (port_open(port_)) {
          pid_ = pid;
          break;
        }
        int status;
        if (::waitpid(pid, &status, WNOHANG) == pid) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (pid_ <= 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
      }
    }
    ASSERT_GT(pid_, 0) << "docker-registry did not start; see " << dir_ << "/registry.log";
    Options o;
    o.retry_base = std::chrono::milliseconds(10);
    auto c = Client::create(o);
    ASSERT_TRUE(c.has_value());
    client_ = std::move(*c);
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  oci::Reference ref(const std::string& path, const std::string& tag = "latest") const {
    return {.domain = host(), .path = path, .tag = tag, .digest = ""};
  }
  std::unique_ptr<Repository> repo(const std::string& path, Access access = Access::kPushPull,
                                   const AuthConfig& auth = {}) {
    auto r = client_->repository(ref(path), auth, access);
    EXPECT_TRUE(r.has_value());
    return std::move(*r);
  }

  // Pushes data as a blob from a temp file; returns its digest.
  std::string push(Repository& r, const std::string& data, int64_t chunk = 32 << 20) {
    std::string path = dir_ + "/blob-upload";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::string digest = image::sha256_digest(data);
    auto res = r.push_blob(digest, static_cast<int64_t>(data.size()), fd, {}, chunk);
    ::close(fd);
    EXPECT_TRUE(res.has_value()) << res.error().message();
    return digest;
  }

  static Result<std::string> fetch(Repository& r, const std::string& digest, int64_t size) {
    std::string out;
    TRY(r.fetch_blob(digest, size, [&](std::string_view b) -> Result<> {
      out.append(b);
      return {};
    }));
    return out;
  }

  // Pushes a one-layer image; returns the manifest bytes.
  std::string push_image(Repository& r, const std::string& tag, const std::string& layer) {
    std::string config =
        R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
    std::string cd = push(r, config);
    std::string ld = push(r, layer);
    std::string manifest =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
        cd + R"(","size":)" + std::to_string(config.size()) +
        R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
        ld + R"(","size":)" + std::to_string(layer.size()) + "}]}";
    auto d = r.put_manifest(tag, kOciManifest, manifest);
    EXPECT_TRUE(d.has_value()) << d.error().message();
    if (d) {
      EXPECT_EQ(*d, image::sha256_digest(manifest));
    }
    return manifest;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::unique_ptr<Client> client_;
};

TEST_F(RegistryFixture, PushedImageReadsBackByTagAndDigest) {
  auto r = repo("berth/app");
  std::string layer = pattern(300000, 1);
  std::string manifest = push_image(*r, "v1", layer);

  auto m = r->get_manifest("v1");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->bytes, manifest);
  EXPECT_EQ(m->media_type, kOciManifest);
  EXPECT_EQ(m->digest, image::sha256_digest(manifest));
  auto by_digest = r->get_manifest(m->digest);
  ASSERT_TRUE(by_digest.has_value()) << by_digest.error().message();
  EXPECT_EQ(by_digest->bytes, manifest);
  auto head = r->head_manifest_digest("v1");
  ASSERT_TRUE(head.has_value()) << head.error().message();
  EXPECT_EQ(*head, m->digest);

  auto got = fetch(*r, image::sha256_digest(layer), static_cast<int64_t>(layer.size()));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, layer);
  EXPECT_EQ(*r->blob_exists(image::sha256_digest(layer)), true);
  EXPECT_EQ(*r->blob_exists(image::sha256_digest("never pushed")), false);
}

TEST_F(RegistryFixture, ChunkedUploadWithSmallChunks) {
  auto r = repo("berth/chunked");
  std::string data = pattern(250000, 2);
  std::string d = push(*r, data, 64 << 10);
  EXPECT_TRUE(*r->blob_exists(d));
  auto got = fetch(*r, d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, data);
}

TEST_F(RegistryFixture, MountBetweenRepositories) {
  auto a = repo("berth/a");
  std::string data = pattern(40000, 3);
  std::string d = push(*a, data);
  auto b = repo("berth/b");
  EXPECT_FALSE(*b->blob_exists(d));
  auto mounted = b->mount_blob(d, "berth/a");
  ASSERT_TRUE(mounted.has_value()) << mounted.error().message();
  EXPECT_TRUE(*mounted);
  EXPECT_TRUE(*b->blob_exists(d));
  auto got = fetch(*b, d, static_cast<int64_t>(data.size()));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, data);
  auto not_there = b->mount_blob(image::sha256_digest("nowhere"), "berth/a");
  ASSERT_TRUE(not_there.has_value()) << not_there.error().message();
  EXPECT_FALSE(*not_there);
}

TEST_F(RegistryFixture, MissingThingsAreNotFoundInDockersWords) {
  auto r = repo("berth/app");
  push_image(*r, "v1", pattern(100, 4));
  auto tag = r->get_manifest("nope");
  ASSERT_FALSE(tag.has_value());
  EXPECT_EQ(tag.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(tag.error().message().rfind(
                "manifest for " + host() + "/berth/app:nope not found: manifest unknown", 0),
            0u)
      << tag.error().message();

  // distribution 2.8 answers MANIFEST_UNKNOWN (not NAME_UNKNOWN) for a repository it never
  // saw, and docker prints the same "manifest for ... not found" for it.
  auto other = repo("berth/nothing-here", Access::kPull);
  auto name = other->get_manifest("latest");
  ASSERT_FALSE(name.has_value());
  EXPECT_EQ(name.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(name.error().message(), "manifest for " + host() +
                                        "/berth/nothing-here:latest not found: manifest unknown: "
                                        "manifest unknown");

  std::string missing = image::sha256_digest("missing blob");
  auto blob = fetch(*r, missing, 12);
  ASSERT_FALSE(blob.has_value());
  EXPECT_EQ(blob.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(blob.error().message(), "blob " + missing + " not found in " + host() + "/berth/app");
}

TEST_F(RegistryFixture, ParallelDownloadsFromOneRepository) {
  auto r = repo("berth/par");
  std::vector<std::string> blobs;
  for (unsigned i = 0; i < 6; ++i) blobs.push_back(pattern(100000 + i * 1000, 10 + i));
  std::vector<std::string> digests;
  for (auto& b : blobs) digests.push_back(push(*r, b));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < blobs.size(); ++i)
    threads.emplace_back([&, i] {
      auto got = fetch(*r, digests[i], static_cast<int64_t>(blobs[i].size()));
      if (got && *got == blobs[i]) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
}

TEST_F(RegistryFixture, LoginWithoutAuthSucceeds) {
  auto r = client_->login(host(), {});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "");
}

class AuthRegistryFixture : public RegistryFixture {
 protected:
  bool with_auth() const override { return true; }
};

const AuthConfig kGood{.username = "user", .password = "pass"};

TEST_F(AuthRegistryFixture, LoginChecksTheCredentials) {
  auto ok = client_->login(host(), kGood);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  auto bad = client_->login(host(), AuthConfig{.username = "user", .password = "wrong"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(bad.error().message(),
            "login attempt to http://" + host() + "/v2/ failed with status: 401 Unauthorized");
  auto none = client_->login("http://" + host() + "/", {});
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(AuthRegistryFixture, PushAndPullWithBasicCredentials) {
  auto r = repo("berth/private", Access::kPushPull, kGood);
  std::string layer = pattern(70000, 5);
  std::string manifest = push_image(*r, "v1", layer);
  auto puller = repo("berth/private", Access::kPull, kGood);
  auto m = puller->get_manifest("v1");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->bytes, manifest);
  auto got = fetch(*puller, image::sha256_digest(layer), static_cast<int64_t>(layer.size()));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, layer);

  auto anonymous = repo("berth/private", Access::kPull);
  auto denied = anonymous->get_manifest("v1");
  ASSERT_FALSE(denied.has_value());
  EXPECT_EQ(denied.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(denied.error().message().find("pull access denied for " + host() + "/berth/private"),
            std::string::npos)
      << denied.error().message();
  auto wrong =
      repo("berth/private", Access::kPull, AuthConfig{.username = "user", .password = "x"});
  auto denied2 = wrong->get_manifest("v1");
  ASSERT_FALSE(denied2.has_value());
  EXPECT_EQ(denied2.error().code(), ErrorCode::kPermissionDenied);
}

// A registry on localhost that speaks only TLS (self-signed): reached over https without any
// option, as docker treats loopback as an insecure registry (no certificate check).
class TlsRegistryFixture : public RegistryFixture {
 protected:
  bool with_tls() const override { return true; }
};

TEST_F(TlsRegistryFixture, LoopbackRegistryWithTlsIsReachedOverHttps) {
  auto r = repo("berth/tls");
  std::string layer = pattern(20000, 6);
  std::string manifest = push_image(*r, "v1", layer);
  auto m = r->get_manifest("v1");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->bytes, manifest);
  auto got = fetch(*r, image::sha256_digest(layer), static_cast<int64_t>(layer.size()));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, layer);
  auto login = client_->login(host(), {});
  EXPECT_TRUE(login.has_value()) << login.error().message();
}

}  // namespace
}  // namespace berth::registry
