// Reference parsing and normalisation: docker's accepted and rejected forms, with its messages.
#include "oci/reference.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

struct Case {
  const char* input;
  const char* normalised;  // parse_reference(input).string()
  const char* familiar;
};

TEST(ReferenceTest, NormalisesAsDocker) {
  const std::string d = std::string(64, 'a');
  const Case cases[] = {
      {"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
      {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"},
      {"index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
      {"user/app:v1", "docker.io/user/app:v1", "user/app:v1"},
      {"docker.io/user/app", "docker.io/user/app:latest", "user/app:latest"},
      {"localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t"},
      {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
      {"quay.io/org/sub/app:1.0-rc_1", "quay.io/org/sub/app:1.0-rc_1",
       "quay.io/org/sub/app:1.0-rc_1"},
      {"my-registry.example.com:443/x", "my-registry.example.com:443/x:latest",
       "my-registry.example.com:443/x:latest"},
      {"[::1]:5000/img", "[::1]:5000/img:latest", "[::1]:5000/img:latest"},
      {"a__b/c.d-e---f", "docker.io/a__b/c.d-e---f:latest", "a__b/c.d-e---f:latest"},
      {"library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"},
      {"Foo.com/bar", "Foo.com/bar:latest", "Foo.com/bar:latest"},
  };
  for (const auto& c : cases) {
    auto r = parse_reference(c.input);
    ASSERT_TRUE(r) << c.input << ": " << r.error().message();
    EXPECT_EQ(r->string(), c.normalised) << c.input;
    EXPECT_EQ(r->familiar(), c.familiar) << c.input;
  }
}

TEST(ReferenceTest, DigestReferencesKeepNoDefaultTag) {
  const std::string hex(64, 'b');
  auto r = parse_reference("busybox@sha256:" + hex);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->digest, "sha256:" + hex);
  EXPECT_EQ(r->string(), "docker.io/library/busybox@sha256:" + hex);
  EXPECT_EQ(r->familiar(), "busybox@sha256:" + hex);

  auto both = parse_reference("localhost:5000/x:t@sha256:" + hex);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->domain, "localhost:5000");
  EXPECT_EQ(both->path, "x");
  EXPECT_EQ(both->tag, "t");
  EXPECT_EQ(both->familiar(), "localhost:5000/x:t@sha256:" + hex);
}

TEST(ReferenceTest, NameOnlyParseAddsNoTag) {
  auto r = parse_normalized_named("busybox");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->name_only());
  EXPECT_EQ(r->familiar(), "busybox");
  EXPECT_EQ(r->name(), "docker.io/library/busybox");
}

TEST(ReferenceTest, UppercaseRepositoryIsRejectedWithDockersMessage) {
  auto r = parse_reference("Busybox");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "invalid reference format: repository name (library/Busybox) must be lowercase");
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  auto r2 = parse_reference("user/App:tag");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().message(),
            "invalid reference format: repository name (user/App) must be lowercase");
}

TEST(ReferenceTest, BadReferencesAreInvalidFormat) {
  const char* bad[] = {"",
                       ":tag",
                       "busybox:",
                       "busybox:-x",
                       "a//b",
                       "/busybox",
                       "busybox/",
                       "-busybox",
                       "busy box",
                       "a:b:c",
                       "busybox@sha256:abc",
                       "x@",
                       "a/b_/c",
                       "a..b",
                       "localhost:port/x",
                       "busybox:t@t",
                       "UPPER.io:ab/x"};
  for (const char* b : bad) {
    auto r = parse_reference(b);
    EXPECT_FALSE(r) << "accepted " << b << " as " << (r ? r->string() : "");
    if (!r) {
      EXPECT_TRUE(r.error().message().starts_with("invalid")) << b << ": " << r.error().message();
    }
  }
  auto long_tag = parse_reference("busybox:" + std::string(129, 'a'));
  EXPECT_FALSE(long_tag);
  auto long_name = parse_reference(std::string(250, 'a') + "/b");
  ASSERT_FALSE(long_name);
  EXPECT_NE(long_name.error().message().find("255"), std::string::npos);
}

TEST(ReferenceTest, SixtyFourHexIsNotARepositoryName) {
  auto r = parse_reference(std::string(64, 'c'));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cannot specify 64-byte hexadecimal strings"),
            std::string::npos);
}

TEST(ReferenceTest, DigestValidation) {
  EXPECT_TRUE(is_valid_digest("sha256:" + std::string(64, 'a')));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(is_valid_digest("sha256" + std::string(64, 'a')));
  EXPECT_TRUE(is_valid_digest("sha512:" + std::string(128, '0')));
  EXPECT_TRUE(is_valid_tag("v1.0_rc-2"));
  EXPECT_FALSE(is_valid_tag(".hidden"));
  EXPECT_FALSE(is_valid_tag(""));
}

}  // namespace
}  // namespace berth::oci
