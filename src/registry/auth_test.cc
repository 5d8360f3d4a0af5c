// WWW-Authenticate parsing, registry error bodies, and the token cache.
#include "registry/auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "registry/errors.h"

namespace berth::registry {
namespace {

TEST(WwwAuthenticate, ParsesDockerHubBearerChallenge) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].scheme, "bearer");
  EXPECT_EQ(c[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c[0].param("service"), "registry.docker.io");
  EXPECT_EQ(c[0].param("scope"), "repository:samalba/my-app:pull,push");
}

TEST(WwwAuthenticate, QuotedCommasAndEscapesStayInTheirValue) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="http://a/t?x=1,2" , service="s \"q\"",scope="repository:a:pull,push repository:b:pull", Basic realm="basic, realm")");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].param("realm"), "http://a/t?x=1,2");
  EXPECT_EQ(c[0].param("service"), "s \"q\"");
  EXPECT_EQ(c[0].param("scope"), "repository:a:pull,push repository:b:pull");
  EXPECT_EQ(c[1].scheme, "basic");
  EXPECT_EQ(c[1].param("realm"), "basic, realm");
}

TEST(WwwAuthenticate, SchemesAreCaseInsensitiveAndBareValuesAccepted) {
  auto c = parse_www_authenticate("BASIC realm=Registry, bearer REALM=http://t/token,service=x");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "basic");
  EXPECT_EQ(c[0].param("realm"), "Registry");
  EXPECT_EQ(c[1].scheme, "bearer");
  EXPECT_EQ(c[1].param("realm"), "http://t/token");
  EXPECT_EQ(c[1].param("service"), "x");
}

TEST(WwwAuthenticate, SchemeWithoutParamsAndEmptyHeader) {
  auto c = parse_www_authenticate("Negotiate, Basic");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].scheme, "negotiate");
  EXPECT_EQ(c[1].scheme, "basic");
  EXPECT_TRUE(c[1].params.empty());
  EXPECT_TRUE(parse_www_authenticate("").empty());
}

TEST(BasicAuthorization, IsBase64OfUserColonPassword) {
  EXPECT_EQ(basic_authorization("user", "pass"), "Basic dXNlcjpwYXNz");
}

TEST(RegistryErrors, BodyBecomesDockersWording) {
  auto e = parse_error_body(
      R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(describe_errors(e), "manifest unknown: manifest unknown");
  EXPECT_TRUE(has_error_code(e, "MANIFEST_UNKNOWN"));
  auto two = parse_error_body(
      R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"},{"code":"UNAUTHORIZED","message":"authentication required"}]})");
  EXPECT_EQ(describe_errors(two),
            "denied: requested access to the resource is denied; unauthorized: authentication "
            "required");
  EXPECT_EQ(describe_errors(parse_error_body(R"({"details":"incorrect username or password"})")),
            "unauthorized: incorrect username or password");
  EXPECT_TRUE(parse_error_body("<html>bad gateway</html>").empty());
  EXPECT_EQ(status_line(401), "401 Unauthorized");
  EXPECT_EQ(code_for_status(404), ErrorCode::kNotFound);
  EXPECT_EQ(code_for_status(503), ErrorCode::kUnavailable);
  EXPECT_EQ(code_for_status(403), ErrorCode::kPermissionDenied);
}

TEST(TokenCache, ConcurrentCallersShareOneFetchAndInvalidateRefetches) {
  TokenCache cache;
  std::atomic<int> fetches{0};
  auto fetch = [&]() -> Result<Token> {
    int n = ++fetches;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // others pile up meanwhile
    return Token{.token = "t" + std::to_string(n),
                 .refresh_token = "",
                 .expires = std::chrono::steady_clock::now() + std::chrono::minutes(1)};
  };
  std::vector<std::thread> threads;
  std::vector<std::string> got(8);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] { got[i] = cache.get("k", fetch).value_or("error"); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  for (auto& g : got) EXPECT_EQ(g, "t1");

  cache.invalidate("k", "some-other-token");  // not the cached one: kept
  EXPECT_EQ(*cache.get("k", fetch), "t1");
  cache.invalidate("k", "t1");
  EXPECT_EQ(*cache.get("k", fetch), "t2");
  EXPECT_EQ(*cache.get("other", fetch), "t3");
}

TEST(TokenCache, ExpiredTokensAreFetchedAgainAndFailuresNotCached) {
  TokenCache cache;
  int fetches = 0;
  auto expired = [&]() -> Result<Token> {
    ++fetches;
    return Token{.token = "old", .refresh_token = "", .expires = std::chrono::steady_clock::now()};
  };
  EXPECT_EQ(*cache.get("k", expired), "old");
  EXPECT_EQ(*cache.get("k", expired), "old");
  EXPECT_EQ(fetches, 2);
  auto failing = [&]() -> Result<Token> {
    return make_error(ErrorCode::kPermissionDenied, "unauthorized: no");
  };
  EXPECT_FALSE(cache.get("f", failing).has_value());
}

TEST(TokenCacheKey, DiffersByCredentialsAndScopesButNotScopeOrder) {
  TokenRequest a{.realm = "r", .service = "s", .scopes = {"x", "y"}, .auth = {}};
  TokenRequest b = a;
  b.scopes = {"y", "x"};
  EXPECT_EQ(token_cache_key("h", a), token_cache_key("h", b));
  b.auth.username = "u";
  EXPECT_NE(token_cache_key("h", a), token_cache_key("h", b));
  TokenRequest c = a;
  c.auth.password = "p";
  EXPECT_NE(token_cache_key("h", a), token_cache_key("h", c));
  EXPECT_NE(token_cache_key("h", a), token_cache_key("h2", a));
}

}  // namespace
}  // namespace berth::registry
