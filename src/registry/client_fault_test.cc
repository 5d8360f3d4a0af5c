// The client against FakeHttpServer: the bearer token flow (one fetch shared by threads and
// repositories, refresh on 401, scopes, OAuth refresh grant, login), dropped connections
// resumed with Range, 5xx retries, redirects that must not carry credentials to another host,
// manifest refusals, and the upload protocol (relative Locations, Content-Range, mount).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "base/base64.h"
#include "image/digest.h"
#include "registry/client.h"
#include "registry/fake_http_server.h"

namespace berth::registry {
namespace {

using testing::FakeHttpServer;
using testing::FakeReply;
using testing::FakeRequest;

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";

Options fast_options() {
  Options o;
  o.retry_base = std::chrono::milliseconds(1);
  o.max_attempts = 4;
  return o;
}

std::unique_ptr<Client> make_client(Options o = fast_options()) {
  auto c = Client::create(std::move(o));
  EXPECT_TRUE(c.has_value()) << c.error().message();
  return std::move(*c);
}

oci::Reference ref_on(const FakeHttpServer& s, const std::string& path = "app") {
  return oci::Reference{.domain = s.host(), .path = path, .tag = "latest", .digest = ""};
}

std::string pattern(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

Result<std::string> fetch_all(Repository& repo, const std::string& digest, int64_t size) {
  std::string out;
  TRY(repo.fetch_blob(digest, size, [&](std::string_view b) -> Result<> {
    out.append(b);
    return {};
  }));
  return out;
}

std::string query_param(const std::string& target, const std::string& key) {
  size_t q = target.find('?');
  if (q == std::string::npos) return "";
  std::string rest = "&" + target.substr(q + 1);
  size_t p = rest.find("&" + key + "=");
  if (p == std::string::npos) return "";
  size_t b = p + key.size() + 2;
  return rest.substr(b, rest.find('&', b) - b);
}

FakeReply errors_reply(int status, const std::string& code, const std::string& message) {
  return {.status = status,
          .headers = {{"Content-Type", "application/json"}},
          .body = R"({"errors":[{"code":")" + code + R"(","message":")" + message + R"("}]})"};
}

// A registry that demands bearer tokens from its own /token endpoint for user:pass (or
// anonymous when allow_anonymous), and serves one manifest and one blob.
struct TokenRegistry {
  std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})";
  std::string blob = pattern(50000);
  std::string blob_digest = image::sha256_digest(blob);
  std::mutex mu;
  std::string valid_token;  // the one token the registry accepts now
  std::atomic<int> token_fetches{0};
  std::atomic<int> next_token{0};
  std::string realm;
  std::unique_ptr<FakeHttpServer> server;

  TokenRegistry() {
    server = std::make_unique<FakeHttpServer>([this](const FakeRequest& r) { return handle(r); });
    realm = server->url() + "/token";
  }

  FakeReply issue() {
    std::lock_guard lock(mu);
    valid_token = "tok-" + std::to_string(++next_token);
    return {
        .status = 200,
        .headers = {},
        .body = R"({"token":")" + valid_token + R"(","expires_in":300,"refresh_token":"rt-1"})"};
  }

  FakeReply handle(const FakeRequest& r) {
    if (r.path() == "/token") {
      ++token_fetches;
      if (r.method == "POST") {
        if (r.body.find("grant_type=refresh_token") == std::string::npos ||
            r.body.find("refresh_token=my-identity") == std::string::npos)
          return {.status = 400, .headers = {}, .body = R"({"error":"invalid_grant"})"};
        return issue();
      }
      if (r.header("authorization") != "Basic " + base64_encode("user:pass"))
        return {.status = 401,
                .headers = {},
                .body = R"({"details":"incorrect username or password"})"};
      return issue();
    }
    {
      std::lock_guard lock(mu);
      if (valid_token.empty() || r.header("authorization") != "Bearer " + valid_token) {
        FakeReply f = errors_reply(401, "UNAUTHORIZED", "authentication required");
        f.headers.push_back(
            {"WWW-Authenticate", "Bearer realm=\"" + realm +
                                     "\",service=\"fake-registry\",scope=\"repository:app:pull\""});
        return f;
      }
    }
    if (r.path() == "/v2/") return {.status = 200, .headers = {}, .body = "{}"};
    if (r.path() == "/v2/app/manifests/latest")
      return {.status = 200, .headers = {{"Content-Type", kOciManifest}}, .body = manifest};
    if (r.path() == "/v2/app/blobs/" + blob_digest)
      return {.status = 200, .headers = {}, .body = blob};
    if (r.method == "POST" && r.path() == "/v2/app/blobs/uploads/")
      return {.status = 201, .headers = {}, .body = ""};
    return errors_reply(404, "NOT_FOUND", "nothing here");
  }
};

const AuthConfig kUserPass{.username = "user", .password = "pass"};

TEST(RegistryBearer, OneTokenFetchServesThreadsAndRepositoriesOfOneClient) {
  TokenRegistry reg;
  auto client = make_client();
  auto repo = client->repository(ref_on(*reg.server), kUserPass, Access::kPull);
  ASSERT_TRUE(repo.has_value());
  auto m = (*repo)->get_manifest("latest");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->bytes, reg.manifest);
  EXPECT_EQ(m->media_type, kOciManifest);

  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto b = fetch_all(**repo, reg.blob_digest, static_cast<int64_t>(reg.blob.size()));
      if (b && *b == reg.blob) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);

  auto repo2 = client->repository(ref_on(*reg.server), kUserPass, Access::kPull);
  ASSERT_TRUE((*repo2)->get_manifest("latest").has_value());
  EXPECT_EQ(reg.token_fetches.load(), 1);

  auto tokens = reg.server->requests_to("/token");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(query_param(tokens[0].target, "service"), "fake-registry");
  EXPECT_EQ(query_param(tokens[0].target, "scope"), "repository%3Aapp%3Apull");
  EXPECT_EQ(tokens[0].header("authorization"), "Basic " + base64_encode("user:pass"));
}

TEST(RegistryBearer, RevokedTokenIsReplacedOnce) {
  TokenRegistry reg;
  auto client = make_client();
  auto repo = *client->repository(ref_on(*reg.server), kUserPass, Access::kPull);
  ASSERT_TRUE(repo->get_manifest("latest").has_value());
  {
    std::lock_guard lock(reg.mu);
    reg.valid_token = "revoked";
  }
  auto m = repo->get_manifest("latest");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(reg.token_fetches.load(), 2);
}

TEST(RegistryBearer, RefusedCredentialsGiveTheTokenServersReason) {
  TokenRegistry reg;
  auto client = make_client();
  auto repo = *client->repository(
      ref_on(*reg.server), AuthConfig{.username = "user", .password = "wrong"}, Access::kPull);
  auto m = repo->get_manifest("latest");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(m.error().message().find("unauthorized: incorrect username or password"),
            std::string::npos)
      << m.error().message();
}

TEST(RegistryBearer, MountAsksForTheSourceRepositoryScopeToo) {
  TokenRegistry reg;
  auto client = make_client();
  auto repo = *client->repository(ref_on(*reg.server), kUserPass, Access::kPushPull);
  auto mounted = repo->mount_blob(reg.blob_digest, "other/repo");
  ASSERT_TRUE(mounted.has_value()) << mounted.error().message();
  EXPECT_TRUE(*mounted);
  auto tokens = reg.server->requests_to("/token");
  ASSERT_FALSE(tokens.empty());
  const std::string& t = tokens.back().target;
  EXPECT_NE(t.find("scope=repository%3Aapp%3Apull%2Cpush"), std::string::npos) << t;
  EXPECT_NE(t.find("scope=repository%3Aother%2Frepo%3Apull"), std::string::npos) << t;
}

TEST(RegistryBearer, IdentityTokenUsesTheOAuthRefreshGrant) {
  TokenRegistry reg;
  auto client = make_client();
  auto repo = *client->repository(ref_on(*reg.server), AuthConfig{.identity_token = "my-identity"},
                                  Access::kPull);
  auto m = repo->get_manifest("latest");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  auto tokens = reg.server->requests_to("/token");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].method, "POST");
  EXPECT_EQ(tokens[0].header("content-type"), "application/x-www-form-urlencoded");
}

TEST(RegistryLogin, BearerLoginSucceedsWithGoodCredentialsAndReturnsRefreshToken) {
  TokenRegistry reg;
  auto client = make_client();
  auto ok = client->login(reg.server->host(), kUserPass);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_EQ(*ok, "rt-1");
  auto tokens = reg.server->requests_to("/token");
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(query_param(tokens[0].target, "offline_token"), "true");

  auto bad = client->login(reg.server->host(), AuthConfig{.username = "user", .password = "nope"});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(bad.error().message().find("incorrect username or password"), std::string::npos)
      << bad.error().message();
}

// A registry with Basic auth whose blob answers redirect: to another host (a "CDN" on another
// port) for one digest, and to another path on itself for the other.
TEST(RegistryRedirect, CredentialsNeverFollowARedirectToAnotherHost) {
  std::string blob = pattern(30000, 7), digest = image::sha256_digest(blob);
  std::string blob2 = pattern(1000, 8), digest2 = image::sha256_digest(blob2);
  FakeHttpServer cdn([&](const FakeRequest& r) -> FakeReply {
    if (r.path() == "/cdn/blob") return {.status = 200, .headers = {}, .body = blob};
    return {.status = 404};
  });
  const std::string basic = "Basic " + base64_encode("user:pass");
  FakeHttpServer reg([&](const FakeRequest& r) -> FakeReply {
    if (r.header("authorization") != basic)
      return {.status = 401, .headers = {{"WWW-Authenticate", "Basic realm=\"fake\""}}, .body = ""};
    if (r.path() == "/v2/app/blobs/" + digest)
      return {
          .status = 307, .headers = {{"Location", cdn.url() + "/cdn/blob?sig=abc"}}, .body = ""};
    if (r.path() == "/v2/app/blobs/" + digest2)
      return {.status = 302, .headers = {{"Location", "/storage/" + digest2}}, .body = ""};
    if (r.path() == "/storage/" + digest2) return {.status = 200, .headers = {}, .body = blob2};
    return {.status = 404};
  });
  auto client = make_client();
  auto repo = *client->repository(ref_on(reg), kUserPass, Access::kPull);
  auto got = fetch_all(*repo, digest, static_cast<int64_t>(blob.size()));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, blob);
  auto at_cdn = cdn.requests();
  ASSERT_EQ(at_cdn.size(), 1u);
  EXPECT_EQ(at_cdn[0].header("authorization"), "");
  EXPECT_EQ(at_cdn[0].target, "/cdn/blob?sig=abc");
  auto at_reg = reg.requests_to("/v2/app/blobs/" + digest);
  ASSERT_FALSE(at_reg.empty());
  EXPECT_EQ(at_reg.back().header("authorization"), basic);

  // Same host: the credentials stay.
  auto got2 = fetch_all(*repo, digest2, static_cast<int64_t>(blob2.size()));
  ASSERT_TRUE(got2.has_value()) << got2.error().message();
  EXPECT_EQ(*got2, blob2);
  auto storage = reg.requests_to("/storage/");
  ASSERT_EQ(storage.size(), 1u);
  EXPECT_EQ(storage[0].header("authorization"), basic);
}

// Serves a blob whose first answer hangs up after `drop` bytes; later answers honour Range
// (206) unless ignore_range, in which case they send the whole blob again (200).
struct FlakyBlobServer {
  std::string blob = pattern(200000, 3);
  std::string digest = image::sha256_digest(blob);
  std::atomic<int> gets{0};
  std::atomic<int> fail_with_500{0};  // this many leading answers are 500s
  bool ignore_range = false;
  long drop = 70000;
  FakeHttpServer server{[this](const FakeRequest& r) { return handle(r); }};

  FakeReply handle(const FakeRequest& r) {
    if (r.path() != "/v2/app/blobs/" + digest)
      return errors_reply(404, "BLOB_UNKNOWN", "blob unknown to registry");
    int n = ++gets;
    if (n <= fail_with_500.load()) return errors_reply(500, "UNKNOWN", "storage on fire");
    if (drop >= 0 && n == fail_with_500.load() + 1)
      return {.status = 200, .headers = {}, .body = blob, .drop_after = drop};
    std::string range = r.header("range");
    if (!range.empty() && !ignore_range) {
      size_t from = std::stoul(range.substr(6, range.find('-') - 6));
      return {.status = 206,
              .headers = {{"Content-Range", "bytes " + std::to_string(from) + "-" +
                                                std::to_string(blob.size() - 1) + "/" +
                                                std::to_string(blob.size())}},
              .body = blob.substr(from)};
    }
    return {.status = 200, .headers = {}, .body = blob};
  }
};

TEST(RegistryBlobFetch, DroppedConnectionResumesWithRangeAndSinkSeesEachByteOnce) {
  FlakyBlobServer s;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  int64_t last_done = 0;
  std::string out;
  auto r = repo->fetch_blob(
      s.digest, static_cast<int64_t>(s.blob.size()),
      [&](std::string_view b) -> Result<> {
        out.append(b);
        return {};
      },
      [&](int64_t done, int64_t) { last_done = done; });
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(out, s.blob);
  EXPECT_EQ(last_done, static_cast<int64_t>(s.blob.size()));
  auto reqs = s.server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].header("range"), "");
  EXPECT_EQ(reqs[1].header("range"), "bytes=70000-");
}

TEST(RegistryBlobFetch, ServerIgnoringRangeHasTheDeliveredPrefixSkipped) {
  FlakyBlobServer s;
  s.ignore_range = true;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  auto got = fetch_all(*repo, s.digest, static_cast<int64_t>(s.blob.size()));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, s.blob);
  EXPECT_EQ(s.gets.load(), 2);
}

TEST(RegistryBlobFetch, TwoServerErrorsThenSuccess) {
  FlakyBlobServer s;
  s.drop = -1;
  s.fail_with_500 = 2;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  auto got = fetch_all(*repo, s.digest, static_cast<int64_t>(s.blob.size()));
  ASSERT_TRUE(got.has_value()) << got.error().message();
  EXPECT_EQ(*got, s.blob);
  EXPECT_EQ(s.gets.load(), 3);
}

TEST(RegistryBlobFetch, PersistentServerErrorsGiveUpAfterMaxAttempts) {
  FlakyBlobServer s;
  s.drop = -1;
  s.fail_with_500 = 100;
  Options o = fast_options();
  o.max_attempts = 3;
  auto client = make_client(o);
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  auto got = fetch_all(*repo, s.digest, static_cast<int64_t>(s.blob.size()));
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(got.error().message().find("storage on fire"), std::string::npos)
      << got.error().message();
  EXPECT_EQ(s.gets.load(), 3);
}

TEST(RegistryBlobFetch, MissingBlobIsNotFoundWithoutRetries) {
  FlakyBlobServer s;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  std::string missing = image::sha256_digest("missing");
  auto got = fetch_all(*repo, missing, 7);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(got.error().message(), "blob " + missing + " not found in " + s.server.host() + "/app");
  EXPECT_EQ(s.server.requests().size(), 1u);
}

TEST(RegistryBlobFetch, OversizedBodyIsCutOff) {
  FlakyBlobServer s;
  s.drop = -1;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  auto got = fetch_all(*repo, s.digest, 1000);  // the registry sends 200000
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message().find("more than the expected 1000 bytes"), std::string::npos)
      << got.error().message();
}

struct ManifestServer {
  std::mutex mu;
  FakeReply reply;
  FakeHttpServer server{[this](const FakeRequest&) {
    std::lock_guard lock(mu);
    return reply;
  }};
  void set(FakeReply r) {
    std::lock_guard lock(mu);
    reply = std::move(r);
  }
};

TEST(RegistryManifest, AcceptsEveryManifestTypeAndTakesTheTypeFromTheBodyWhenGeneric) {
  ManifestServer s;
  std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})";
  s.set({.status = 200,
         .headers = {{"Content-Type", "application/json; charset=utf-8"}},
         .body = body});
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  auto m = repo->get_manifest("latest");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->media_type, "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(m->digest, image::sha256_digest(body));
  std::string accept = s.server.requests().back().header("accept");
  for (const char* t :
       {"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json"})
    EXPECT_NE(accept.find(t), std::string::npos) << t;

  auto by_digest = repo->get_manifest(m->digest);
  ASSERT_TRUE(by_digest.has_value()) << by_digest.error().message();
  auto wrong = repo->get_manifest(image::sha256_digest("other"));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kInvalidArgument);

  s.set({.status = 200,
         .headers = {{"Content-Type", kOciManifest},
                     {"Docker-Content-Digest", image::sha256_digest("not the body")}},
         .body = body});
  auto mismatch = repo->get_manifest("latest");
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_NE(mismatch.error().message().find("Docker-Content-Digest"), std::string::npos);

  s.set({.status = 200,
         .headers = {{"Content-Type", kOciManifest}, {"Docker-Content-Digest", m->digest}},
         .body = ""});
  auto head = repo->head_manifest_digest("latest");
  ASSERT_TRUE(head.has_value()) << head.error().message();
  EXPECT_EQ(*head, m->digest);
  EXPECT_EQ(s.server.requests().back().method, "HEAD");
}

TEST(RegistryManifest, SchemaOneIsRefusedByTypeOrBody) {
  ManifestServer s;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  s.set({.status = 200,
         .headers = {{"Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}},
         .body = R"({"schemaVersion":1,"name":"app","tag":"latest","fsLayers":[]})"});
  auto m = repo->get_manifest("latest");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(m.error().message().find("schema 1 is not supported"), std::string::npos)
      << m.error().message();
  s.set({.status = 200,
         .headers = {{"Content-Type", "application/json"}},
         .body = R"({"schemaVersion":1,"name":"app","tag":"latest","fsLayers":[]})"});
  m = repo->get_manifest("latest");
  ASSERT_FALSE(m.has_value());
  EXPECT_NE(m.error().message().find("schema 1 is not supported"), std::string::npos);
}

TEST(RegistryManifest, OversizedManifestIsRefused) {
  ManifestServer s;
  s.set({.status = 200,
         .headers = {{"Content-Type", kOciManifest}},
         .body = std::string(5000, ' ') + "{}"});
  Options o = fast_options();
  o.max_manifest_bytes = 1000;
  auto client = make_client(o);
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  auto m = repo->get_manifest("latest");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(m.error().message().find("larger than 1000 bytes"), std::string::npos)
      << m.error().message();
}

TEST(RegistryManifest, ErrorsReadAsDockerSaysThem) {
  ManifestServer s;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPull);
  s.set(errors_reply(404, "MANIFEST_UNKNOWN", "manifest unknown"));
  auto m = repo->get_manifest("nope");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(m.error().message(), "manifest for " + s.server.host() +
                                     "/app:nope not found: manifest unknown: manifest unknown");
  s.set(errors_reply(404, "NAME_UNKNOWN", "repository name not known to registry"));
  m = repo->get_manifest("latest");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(m.error().message(),
            "pull access denied for " + s.server.host() +
                "/app, repository does not exist or may require 'docker login': name unknown: "
                "repository name not known to registry");
  s.set(errors_reply(403, "DENIED", "requested access to the resource is denied"));
  m = repo->get_manifest("latest");
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(m.error().message().find("pull access denied"), std::string::npos);
}

// The upload side of a registry: sessions with relative Locations whose query changes after
// each PATCH, checking Content-Range against what it already holds.
struct UploadServer {
  std::mutex mu;
  std::string stored, committed_digest;
  int next_state = 0;
  bool mount_ok = false;
  std::vector<std::string> content_ranges;
  FakeHttpServer server{[this](const FakeRequest& r) { return handle(r); }};

  FakeReply handle(const FakeRequest& r) {
    std::lock_guard lock(mu);
    const std::string base = "/v2/app/blobs/uploads/";
    if (r.method == "POST" && r.path() == base) {
      if (!query_param(r.target, "mount").empty() && mount_ok) return {.status = 201};
      stored.clear();
      return {.status = 202,
              .headers = {{"Location", base + "u1?_state=" + std::to_string(next_state++)}}};
    }
    if (r.path() == base + "u1" && r.method == "PATCH") {
      content_ranges.push_back(r.header("content-range"));
      if (r.header("content-type") != "application/octet-stream") return {.status = 400};
      std::string cr = r.header("content-range");
      size_t from = std::stoul(cr.substr(0, cr.find('-')));
      if (from != stored.size()) return {.status = 416};
      stored += r.body;
      return {.status = 202,
              .headers = {{"Location", "u1?_state=" + std::to_string(next_state++)},
                          {"Range", "0-" + std::to_string(stored.size() - 1)}}};
    }
    if (r.path() == base + "u1" && r.method == "PUT") {
      if (query_param(r.target, "_state").empty()) return {.status = 400};
      stored += r.body;
      std::string d = query_param(r.target, "digest");
      if (d != "sha256%3A" + image::sha256_digest(stored).substr(7))
        return errors_reply(400, "DIGEST_INVALID",
                            "provided digest did not match uploaded content");
      committed_digest = image::sha256_digest(stored);
      return {.status = 201, .headers = {{"Docker-Content-Digest", committed_digest}}};
    }
    if (r.path() == base + "u1" && r.method == "DELETE") return {.status = 204};
    return {.status = 404};
  }
};

// A temp file holding "JUNK" + data, with the fd positioned after the junk.
struct BlobFile {
  int fd = -1;
  explicit BlobFile(const std::string& data) {
    char tmpl[] = "/tmp/berth-reg-blob-XXXXXX";
    fd = ::mkostemp(tmpl, O_CLOEXEC);
    ::unlink(tmpl);
    std::string all = "JUNK" + data;
    EXPECT_EQ(::write(fd, all.data(), all.size()), static_cast<ssize_t>(all.size()));
    ::lseek(fd, 4, SEEK_SET);
  }
  ~BlobFile() { ::close(fd); }
};

TEST(RegistryUpload, ChunkedUploadFollowsEachRelativeLocationWithInclusiveRanges) {
  UploadServer s;
  std::string data = pattern(10000, 5);
  BlobFile f(data);
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPushPull);
  int64_t last = 0;
  auto r = repo->push_blob(
      image::sha256_digest(data), static_cast<int64_t>(data.size()), f.fd,
      [&](int64_t done, int64_t total) {
        EXPECT_EQ(total, 10000);
        EXPECT_GE(done, last);
        last = done;
      },
      3000);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(s.stored, data);
  EXPECT_EQ(s.committed_digest, image::sha256_digest(data));
  EXPECT_EQ(s.content_ranges,
            (std::vector<std::string>{"0-2999", "3000-5999", "6000-8999", "9000-9999"}));
  EXPECT_EQ(last, 10000);
}

TEST(RegistryUpload, SmallBlobIsOnePutWithTheDigestAddedToTheLocationQuery) {
  UploadServer s;
  std::string data = pattern(5000, 6);
  BlobFile f(data);
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPushPull);
  auto r = repo->push_blob(image::sha256_digest(data), static_cast<int64_t>(data.size()), f.fd);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(s.stored, data);
  EXPECT_TRUE(s.content_ranges.empty());
  auto puts = s.server.requests();
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[1].method, "PUT");
  EXPECT_EQ(query_param(puts[1].target, "_state"), "0");

  auto bad = repo->push_blob(image::sha256_digest("something else"),
                             static_cast<int64_t>(data.size()), f.fd);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("digest invalid"), std::string::npos)
      << bad.error().message();
}

TEST(RegistryUpload, RefusedMountCancelsTheUploadTheRegistryStarted) {
  UploadServer s;
  auto client = make_client();
  auto repo = *client->repository(ref_on(s.server), {}, Access::kPushPull);
  auto m = repo->mount_blob(image::sha256_digest("x"), "other");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_FALSE(*m);
  auto reqs = s.server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(query_param(reqs[0].target, "from"), "other");
  EXPECT_EQ(reqs[1].method, "DELETE");
  EXPECT_EQ(reqs[1].path(), "/v2/app/blobs/uploads/u1");
  s.mount_ok = true;
  m = repo->mount_blob(image::sha256_digest("x"), "other");
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(*m);
}

TEST(RegistryUpload, UploadFailingMidwayStartsAgainWithAFreshSession) {
  UploadServer s;
  std::atomic<int> patches{0};
  FakeHttpServer front([&](const FakeRequest& r) -> FakeReply {
    if (r.method == "PATCH" && ++patches == 2) return errors_reply(503, "UNAVAILABLE", "busy");
    return s.handle(r);
  });
  std::string data = pattern(9000, 9);
  BlobFile f(data);
  auto client = make_client();
  auto repo = *client->repository(ref_on(front), {}, Access::kPushPull);
  auto r = repo->push_blob(image::sha256_digest(data), static_cast<int64_t>(data.size()), f.fd, {},
                           4000);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(s.stored, data);
  int posts = 0;
  for (auto& q : front.requests()) posts += q.method == "POST";
  EXPECT_EQ(posts, 2);
}

// 0.0.0.0 reaches the local listener but is not a loopback name, so the insecure-registry rule
// applies: https first (the fake server refuses the handshake), then plain http, remembered.
TEST(RegistryScheme, InsecureRegistryFallsBackToHttpWhenTlsFails) {
  ManifestServer s;
  std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})";
  s.set({.status = 200, .headers = {{"Content-Type", kOciManifest}}, .body = body});
  std::string host = "0.0.0.0:" + std::to_string(s.server.port());
  oci::Reference ref{.domain = host, .path = "app", .tag = "latest", .digest = ""};

  auto strict = make_client();
  auto refused = (*strict->repository(ref, {}, Access::kPull))->get_manifest("latest");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);

  Options o = fast_options();
  o.insecure_registries = {host};
  auto client = make_client(o);
  auto repo = *client->repository(ref, {}, Access::kPull);
  auto m = repo->get_manifest("latest");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->bytes, body);
  size_t before = s.server.requests().size();
  ASSERT_TRUE(repo->get_manifest("latest").has_value());
  EXPECT_EQ(s.server.requests().size(), before + 1);  // http straight away the second time
}

TEST(RegistryMirror, DockerHubPullsTryTheMirrorFirstWithoutHubCredentials) {
  ManifestServer s;
  std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})";
  s.set({.status = 200, .headers = {{"Content-Type", kOciManifest}}, .body = body});
  Options o = fast_options();
  o.mirrors = {s.server.url()};
  auto client = make_client(o);
  oci::Reference ref{
      .domain = "docker.io", .path = "library/busybox", .tag = "latest", .digest = ""};
  auto repo = *client->repository(ref, kUserPass, Access::kPull);
  auto m = repo->get_manifest("latest");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->bytes, body);
  auto reqs = s.server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path(), "/v2/library/busybox/manifests/latest");
  EXPECT_EQ(reqs[0].header("authorization"), "");
}

}  // namespace
}  // namespace berth::registry
