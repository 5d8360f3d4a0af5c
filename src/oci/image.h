// OCI and Docker image-spec models: media types, platform, descriptor, manifest, index and the
// image config. Every model keeps the JSON it was parsed from (`raw`) and to_json() writes the
// known fields over it, so unknown fields survive a round trip (an image ID is the digest of the
// config bytes, so configs are never re-serialised at all: callers keep the original bytes).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace berth::oci {

namespace media_type {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
}  // namespace media_type

bool is_index_media_type(std::string_view mt);
bool is_manifest_media_type(std::string_view mt);
bool is_layer_media_type(std::string_view mt);

// Annotations used by image layouts and docker save.
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationContainerdName = "io.containerd.image.name";

struct Platform {
  std::string architecture, os, os_version, variant;
  std::vector<std::string> os_features, features;

  json::Json to_json() const;
  static Platform from_json(const json::Json& j);
  std::string string() const;  // "linux/amd64", "linux/arm/v7"
};
// The platform this process runs on ("linux", "amd64"/"arm64"/..., variant for arm).
Platform host_platform();
// Go's GOARCH name for a uname machine ("x86_64" -> "amd64").
std::string go_arch(std::string_view machine);

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::string artifact_type;
  json::Json raw = json::Json::object();

  json::Json to_json() const;
  static Result<Descriptor> from_json(const json::Json& j);
};

struct Manifest {
  int schema_version = 2;
  std::string media_type;  // may be empty in OCI manifests
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
  json::Json raw = json::Json::object();

  json::Json to_json() const;
  static Result<Manifest> from_json(const json::Json& j);
  static Result<Manifest> parse(std::string_view bytes);
};

struct Index {
  int schema_version = 2;
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
  json::Json raw = json::Json::object();

  json::Json to_json() const;
  static Result<Index> from_json(const json::Json& j);
  static Result<Index> parse(std::string_view bytes);
};

struct HistoryEntry {
  std::string created, created_by, author, comment;
  bool empty_layer = false;
  json::Json to_json() const;
  static HistoryEntry from_json(const json::Json& j);
};

// The image config. `raw` is the whole document; the fields are views of it for convenience.
struct ImageConfig {
  std::string architecture, os, variant, created, author;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids
  std::vector<HistoryEntry> history;
  json::Json config = json::Json::object();  // the runtime config ("config": Env, Cmd, ...)
  json::Json raw = json::Json::object();

  static Result<ImageConfig> from_json(const json::Json& j);
  static Result<ImageConfig> parse(std::string_view bytes);
};

// RFC 3339 "2024-01-02T03:04:05.123456789Z" (any offset) -> unix seconds; 0 when unparsable.
int64_t parse_rfc3339(std::string_view s);
// unix seconds -> "2024-01-02T03:04:05Z"; with nanos "…05.123456789Z".
std::string format_rfc3339(int64_t seconds, int64_t nanos = -1);

}  // namespace berth::oci
