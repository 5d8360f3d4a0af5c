// Image-spec models: parsing with errors that name the field, unknown fields kept on round trip.
#include "oci/image.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');

TEST(ImageModelTest, ManifestRoundTripKeepsUnknownFields) {
  std::string text = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                     kD1 +
                     R"(","size":7,"x-extra":1},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
                     kD2 +
                     R"(","size":9,"annotations":{"a":"b"}}],
    "subject":{"mediaType":"m","digest":")" +
                     kD1 + R"(","size":1},"annotations":{"k":"v"}})";
  auto m = Manifest::parse(text);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->config.digest, kD1);
  EXPECT_EQ(m->config.size, 7);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].media_type, media_type::kOciLayerGzip);
  EXPECT_EQ(m->layers[0].annotations.at("a"), "b");
  EXPECT_EQ(m->annotations.at("k"), "v");
  json::Json out = m->to_json();
  EXPECT_EQ(out["config"]["x-extra"], 1);
  EXPECT_TRUE(out.contains("subject"));
  EXPECT_EQ(out, json::parse(text, "t").value());
}

TEST(ImageModelTest, ManifestErrorsNameTheProblem) {
  auto bad_digest =
      Manifest::parse(R"({"schemaVersion":2,"config":{"digest":"sha256:xyz","size":1}})");
  ASSERT_FALSE(bad_digest);
  EXPECT_NE(bad_digest.error().message().find("invalid digest sha256:xyz"), std::string::npos);
  auto schema1 = Manifest::parse(R"({"schemaVersion":1})");
  ASSERT_FALSE(schema1);
  EXPECT_NE(schema1.error().message().find("schemaVersion 1"), std::string::npos);
  auto no_size = Manifest::parse(R"({"schemaVersion":2,"config":{"digest":")" + kD1 + R"("}})");
  ASSERT_FALSE(no_size);
  EXPECT_NE(no_size.error().message().find("size"), std::string::npos);
  EXPECT_FALSE(Manifest::parse("[1,2"));
}

TEST(ImageModelTest, IndexWithPlatforms) {
  std::string text =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
    "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kD1 +
      R"(","size":3,"platform":{"architecture":"arm","os":"linux","variant":"v7"}},
                 {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kD2 + R"(","size":4,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]})";
  auto idx = Index::parse(text);
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_EQ(idx->manifests.size(), 2u);
  ASSERT_TRUE(idx->manifests[0].platform);
  EXPECT_EQ(idx->manifests[0].platform->string(), "linux/arm/v7");
  EXPECT_FALSE(idx->manifests[1].platform);
  EXPECT_EQ(idx->manifests[1].annotations.at(std::string(kAnnotationRefName)), "latest");
  EXPECT_EQ(idx->to_json(), json::parse(text, "t").value());
  EXPECT_TRUE(is_index_media_type(media_type::kDockerManifestList));
  EXPECT_TRUE(is_manifest_media_type(media_type::kDockerManifest));
}

TEST(ImageModelTest, ConfigFieldsAndHistory) {
  std::string text = R"({"architecture":"amd64","os":"linux","created":"2023-11-14T22:13:20.5Z",
    "config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[")" +
                     kD1 + R"("]},
    "history":[{"created_by":"ADD x","empty_layer":false},{"comment":"c","empty_layer":true}],
    "unknown":{"kept":true}})";
  auto c = ImageConfig::parse(text);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->diff_ids, std::vector<std::string>{kD1});
  ASSERT_EQ(c->history.size(), 2u);
  EXPECT_EQ(c->history[0].created_by, "ADD x");
  EXPECT_TRUE(c->history[1].empty_layer);
  EXPECT_EQ(c->config["Cmd"][0], "sh");
  EXPECT_TRUE(c->raw["unknown"]["kept"]);
  EXPECT_EQ(parse_rfc3339(c->created), 1700000000);
  EXPECT_FALSE(ImageConfig::parse(R"({"rootfs":{"type":"other"}})"));
  EXPECT_FALSE(ImageConfig::parse(R"({"rootfs":{"type":"layers","diff_ids":["nope"]}})"));
}

TEST(ImageModelTest, TimeFormats) {
  EXPECT_EQ(parse_rfc3339("2023-11-14T22:13:20Z"), 1700000000);
  EXPECT_EQ(parse_rfc3339("2023-11-14T23:13:20+01:00"), 1700000000);
  EXPECT_EQ(parse_rfc3339("garbage"), 0);
  EXPECT_EQ(format_rfc3339(1700000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(format_rfc3339(1700000000, 5), "2023-11-14T22:13:20.000000005Z");
  EXPECT_EQ(go_arch("x86_64"), "amd64");
  EXPECT_EQ(go_arch("aarch64"), "arm64");
  EXPECT_EQ(host_platform().os, "linux");
}

}  // namespace
}  // namespace berth::oci
