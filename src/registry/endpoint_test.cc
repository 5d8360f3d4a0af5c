// URL resolution, the credentials origin rule, and docker's http/https choice for registries.
#include "registry/endpoint.h"

#include <gtest/gtest.h>

#include "registry/client.h"

namespace berth::registry {
namespace {

TEST(RegistryHost, DockerIoMapsToRegistry1) {
  EXPECT_EQ(registry_host("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(registry_host("index.docker.io"), "registry-1.docker.io");
  EXPECT_EQ(registry_host("localhost:5000"), "localhost:5000");
  EXPECT_EQ(registry_host("quay.io"), "quay.io");
}

TEST(InsecureHost, LoopbackIsAlwaysAnInsecureRegistry) {
  for (const char* h : {"localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000",
                        "127.8.9.10:1", "[::1]:5000", "::1", "foo.localhost:80"})
    EXPECT_TRUE(is_insecure_host(h, {})) << h;
  for (const char* h :
       {"128.0.0.1", "example.com", "example.com:5000", "[::2]:5000", "localhost.example.com"})
    EXPECT_FALSE(is_insecure_host(h, {})) << h;
  SchemeChoice c = choose_scheme("127.0.0.1:5000", {});
  EXPECT_EQ(c.scheme, "https");  // as docker: TLS first, plain http when the handshake fails
  EXPECT_TRUE(c.http_fallback);
  EXPECT_FALSE(c.tls_verify);
}

TEST(InsecureHost, ListMatchesHostPortExactlyAndCidrsByAddress) {
  std::vector<std::string> list{"myreg:5000", "10.0.0.0/8", "fd00::/8", "http://other.example/"};
  EXPECT_TRUE(is_insecure_host("myreg:5000", list));
  EXPECT_TRUE(is_insecure_host("MyReg:5000", list));
  EXPECT_FALSE(is_insecure_host("myreg:5001", list));
  EXPECT_FALSE(is_insecure_host("myreg", list));
  EXPECT_TRUE(is_insecure_host("10.1.2.3:5000", list));
  EXPECT_TRUE(is_insecure_host("10.255.255.255", list));
  EXPECT_FALSE(is_insecure_host("11.0.0.1:5000", list));
  EXPECT_TRUE(is_insecure_host("[fd12::1]:5000", list));
  EXPECT_FALSE(is_insecure_host("[fe80::1]:5000", list));
  EXPECT_TRUE(is_insecure_host("other.example", list));
  EXPECT_TRUE(is_insecure_host("192.168.1.7", {"192.168.1.0/24"}));
  EXPECT_FALSE(is_insecure_host("192.168.2.7", {"192.168.1.0/24"}));
  EXPECT_TRUE(is_insecure_host("192.168.1.7", {"192.168.1.7/32"}));
  EXPECT_TRUE(is_insecure_host("8.8.8.8", {"0.0.0.0/0"}));
  EXPECT_FALSE(is_insecure_host("8.8.8.8", {"8.8.8.0/33"}));  // bad prefix length

  SchemeChoice c = choose_scheme("10.1.2.3:5000", list);
  EXPECT_EQ(c.scheme, "https");
  EXPECT_TRUE(c.http_fallback);
  EXPECT_FALSE(c.tls_verify);
  SchemeChoice secure = choose_scheme("registry.example:443", list);
  EXPECT_EQ(secure.scheme, "https");
  EXPECT_FALSE(secure.http_fallback);
  EXPECT_TRUE(secure.tls_verify);
}

TEST(Url, ParsesSchemeHostPortAndTarget) {
  auto u = Url::parse("HTTPS://Reg.Example:5000/v2/x/blobs/uploads/u?_state=a#frag");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "reg.example");
  EXPECT_EQ(u->port, 5000);
  EXPECT_EQ(u->target, "/v2/x/blobs/uploads/u?_state=a");
  auto v6 = Url::parse("http://[::1]:8080");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->authority(), "[::1]:8080");
  EXPECT_EQ(v6->target, "/");
  EXPECT_FALSE(Url::parse("ftp://x/").has_value());
  EXPECT_FALSE(Url::parse("no-scheme").has_value());
  EXPECT_FALSE(Url::parse("http://h:99999/").has_value());
}

TEST(Url, ResolvesEveryShapeOfLocation) {
  const std::string base = "http://127.0.0.1:5000/v2/a/b/blobs/uploads/?mount=x";
  EXPECT_EQ(*resolve_url(base, "https://cdn.example/blob?sig=1"), "https://cdn.example/blob?sig=1");
  EXPECT_EQ(*resolve_url(base, "//cdn.example:81/p"), "http://cdn.example:81/p");
  EXPECT_EQ(*resolve_url(base, "/v2/a/b/blobs/uploads/uuid?_state=s"),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid?_state=s");
  EXPECT_EQ(*resolve_url(base, "uuid2"), "http://127.0.0.1:5000/v2/a/b/blobs/uploads/uuid2");
  EXPECT_EQ(*resolve_url("http://h/v2/a/blobs/uploads/u1?_state=1", "u1?_state=2"),
            "http://h/v2/a/blobs/uploads/u1?_state=2");
  EXPECT_EQ(*resolve_url("http://h/a/b?x", "?y"), "http://h/a/b?y");
}

TEST(Url, AddQueryPicksTheSeparatorAndEscapes) {
  EXPECT_EQ(add_query("http://h/u", "digest", "sha256:ab"), "http://h/u?digest=sha256%3Aab");
  EXPECT_EQ(add_query("http://h/u?_state=x", "digest", "sha256:ab"),
            "http://h/u?_state=x&digest=sha256%3Aab");
  EXPECT_EQ(add_query("http://h/u?", "a", "b c/d"), "http://h/u?a=b%20c%2Fd");
}

TEST(Url, SameHostComparesHostAndEffectivePort) {
  EXPECT_TRUE(same_host("http://h:80/a", "http://H/b"));
  EXPECT_TRUE(same_host("https://h/a", "https://h:443/b"));
  EXPECT_FALSE(same_host("http://h:5000/a", "http://h:5001/a"));
  EXPECT_FALSE(same_host("http://127.0.0.1:5000/a", "http://localhost:5000/a"));
  EXPECT_FALSE(same_host("http://h/a", "https://h/a"));  // 80 vs 443
}

TEST(NormalizeServer, AcceptsWhatUsersTypeForLogin) {
  std::string host, scheme;
  normalize_server("https://index.docker.io/v1/", &host, &scheme);
  EXPECT_EQ(host, "registry-1.docker.io");
  EXPECT_EQ(scheme, "https");
  normalize_server("localhost:5000", &host, &scheme);
  EXPECT_EQ(host, "localhost:5000");
  EXPECT_EQ(scheme, "");
  normalize_server("http://reg.example:81/", &host, &scheme);
  EXPECT_EQ(host, "reg.example:81");
  normalize_server("", &host, &scheme);
  EXPECT_EQ(host, "registry-1.docker.io");
}

}  // namespace
}  // namespace berth::registry
