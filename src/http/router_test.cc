// Router matching: /v1.NN prefixes, {param} segments, {name*} spans with slashes and colons,
// registration order, HEAD falling back to GET, and method mismatches.
#include <gtest/gtest.h>

#include "http/server.h"

namespace berth::http {
namespace {

struct Fixture {
  Router router;
  std::string last;
  Fixture() {
    auto tag = [this](std::string name) {
      return [this, name](Request&, ResponseWriter&) { last = name; };
    };
    router.add("GET", "/_ping", tag("ping"));
    router.add("GET", "/containers/json", tag("ps"));
    router.add("GET", "/containers/{id}/json", tag("inspect"));
    router.add("POST", "/containers/{id}/start", tag("start"));
    router.add("GET", "/images/{name*}/json", tag("image-inspect"));
    router.add("POST", "/images/{name*}/tag", tag("image-tag"));
    router.add("GET", "/images/{name*}/history", tag("image-history"));
    router.add("DELETE", "/images/{name*}", tag("image-delete"));
    router.add("GET", "/distribution/{name*}/json", tag("distribution"));
    router.add("HEAD", "/_ping", tag("ping-head"));
  }
  // Returns the handler name matched for method+path, "" for no match.
  std::string run(std::string method, std::string path, Request* out = nullptr) {
    Request req;
    req.method = std::move(method);
    req.path = std::move(path);
    last.clear();
    auto m = router.match(req);
    if (!m) return "";
    struct Null : ResponseWriter {
      void send(int, std::string_view, std::string_view, const Headers&) override {}
      Result<> begin_stream(int, std::string_view, const Headers&) override { return {}; }
      Result<> write(std::string_view) override { return {}; }
      Result<> end_stream() override { return {}; }
      Result<Hijacked> hijack(std::string_view) override {
        return make_error(ErrorCode::kUnimplemented, "no");
      }
      bool client_gone() override { return false; }
      bool started() const override { return false; }
    } w;
    (*m->handler)(req, w);
    if (out) *out = req;
    return last;
  }
};

TEST(RouterTest, StripsVersionPrefixIntoApiVersion) {
  Fixture f;
  Request req;
  EXPECT_EQ(f.run("GET", "/v1.41/containers/json", &req), "ps");
  EXPECT_EQ(req.api_version, "1.41");
  EXPECT_EQ(req.path, "/containers/json");
  EXPECT_EQ(f.run("GET", "/v1.24/containers/abc/json", &req), "inspect");
  EXPECT_EQ(req.api_version, "1.24");
  EXPECT_EQ(req.params["id"], "abc");
  EXPECT_EQ(f.run("GET", "/containers/json", &req), "ps");
  EXPECT_EQ(req.api_version, "");
  EXPECT_EQ(f.run("GET", "/v1.51/_ping", &req), "ping");
}

TEST(RouterTest, RestParamSpansSlashesAndColons) {
  Fixture f;
  Request req;
  EXPECT_EQ(f.run("GET", "/v1.41/images/docker.io/library/busybox:latest/json", &req),
            "image-inspect");
  EXPECT_EQ(req.params["name"], "docker.io/library/busybox:latest");
  EXPECT_EQ(f.run("POST", "/images/busybox/tag", &req), "image-tag");
  EXPECT_EQ(req.params["name"], "busybox");
  EXPECT_EQ(f.run("DELETE", "/images/localhost:5000/a/b@sha256:abcd", &req), "image-delete");
  EXPECT_EQ(req.params["name"], "localhost:5000/a/b@sha256:abcd");
  EXPECT_EQ(f.run("GET", "/distribution/quay.io/x/y:1/json", &req), "distribution");
  EXPECT_EQ(req.params["name"], "quay.io/x/y:1");
}

TEST(RouterTest, RestParamTakesFewestSegmentsSoSuffixMatches) {
  Fixture f;
  Request req;
  // An image literally named ".../json/x/json": the {name*} must stop before the last "json".
  EXPECT_EQ(f.run("GET", "/images/json/x/json", &req), "image-inspect");
  EXPECT_EQ(req.params["name"], "json/x");
  // DELETE of a name ending in "/json" is still the delete route (method differs).
  EXPECT_EQ(f.run("DELETE", "/images/a/json", &req), "image-delete");
  EXPECT_EQ(req.params["name"], "a/json");
}

TEST(RouterTest, MethodMismatchAndUnknownPathsDoNotMatch) {
  Fixture f;
  EXPECT_EQ(f.run("POST", "/containers/json"), "");
  EXPECT_EQ(f.run("GET", "/containers/abc/start"), "");
  EXPECT_EQ(f.run("GET", "/nope"), "");
  EXPECT_EQ(f.run("GET", "/containers//json"), "");  // empty {id}
  EXPECT_EQ(f.run("GET", "/images/json"), "");       // {name*} needs at least one segment
}

TEST(RouterTest, HeadUsesExplicitRouteElseFallsBackToGet) {
  Fixture f;
  EXPECT_EQ(f.run("HEAD", "/_ping"), "ping-head");
  EXPECT_EQ(f.run("HEAD", "/containers/x/json"), "inspect");
  EXPECT_EQ(f.run("HEAD", "/containers/x/start"), "");
}

TEST(RouterTest, RegistrationOrderWinsForAmbiguousRoutes) {
  Router r;
  std::string hit;
  r.add("GET", "/images/{name*}/json", [&](Request&, ResponseWriter&) { hit = "inspect"; });
  r.add("GET", "/images/{name*}", [&](Request&, ResponseWriter&) { hit = "generic"; });
  Request req;
  req.method = "GET";
  req.path = "/images/a/b/json";
  auto m = r.match(req);
  ASSERT_TRUE(m);
  EXPECT_EQ(req.params["name"], "a/b");
  req.path = "/images/a/b";
  m = r.match(req);
  ASSERT_TRUE(m);
  EXPECT_EQ(req.params["name"], "a/b");
}

TEST(RouterTest, QueryBoolFollowsMoby) {
  Request req;
  req.query = {{"a", "1"}, {"b", "0"}, {"c", "true"}, {"d", "False"}, {"e", ""}, {"f", "no"}};
  EXPECT_TRUE(req.q_bool("a"));
  EXPECT_FALSE(req.q_bool("b", true));
  EXPECT_TRUE(req.q_bool("c"));
  EXPECT_FALSE(req.q_bool("d", true));
  EXPECT_FALSE(req.q_bool("e", true));
  EXPECT_FALSE(req.q_bool("f", true));
  EXPECT_TRUE(req.q_bool("missing", true));
  EXPECT_FALSE(req.q_bool("missing"));
  EXPECT_EQ(req.q("a"), "1");
  EXPECT_EQ(req.q("missing"), "");
}

TEST(RouterTest, HeaderLookupIsCaseInsensitive) {
  Request req;
  req.headers = {{"Content-Type", "application/json"}, {"x-registry-auth", "abc"}};
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("X-Registry-Auth"), "abc");
  EXPECT_EQ(req.header("Missing"), "");
}

}  // namespace
}  // namespace berth::http
