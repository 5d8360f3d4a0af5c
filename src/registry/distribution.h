// Pull and push: moving images between a registry (client.h) and the local image store.
//
// A pull resolves the reference to one manifest (an index is narrowed to the wanted platform),
// then downloads the layers in parallel, each in one pass: the bytes from the network go to the
// content store (which hashes them) and through a pipe to the unpacker at the same time, so a
// layer is on disk as soon as its last byte arrives. Layers commit bottom first; the image is
// recorded last. Anything written by a failed pull is removed; a daemon killed mid-pull leaves
// only ingest files and staging dirs, which the stores clear when they open.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/error.h"
#include "image/image_store.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "registry/client.h"

namespace berth::registry {

// One line of docker's progress stream: {"status":..,"id":..,"progressDetail":{..}}.
struct Progress {
  std::string id;                  // short layer id, tag, or "" for whole-image lines
  std::string status;              // "Pulling fs layer", "Downloading", "Pushed", ...
  int64_t current = 0, total = 0;  // set for Downloading, Extracting, Pushing
  bool has_detail = false;         // progressDetail present (layer lines)
};
using ProgressSink = std::function<void(const Progress&)>;

struct PullOptions {
  AuthConfig auth;
  std::optional<oci::Platform> platform;  // the host's when absent
  int parallel_layers = 3;
};

struct PullResult {
  std::string image_id;
  std::string digest;  // of what the reference named: the index when pulled through one
  bool up_to_date = false;
};

Result<PullResult> pull(Client& client, image::ImageStore& store, const oci::Reference& ref,
                        const PullOptions& opts, const ProgressSink& progress);

struct PushOptions {
  AuthConfig auth;
  int parallel_layers = 3;
};

struct PushResult {
  std::string tag, digest;
  int64_t size = 0;  // manifest bytes
};

// Pushes the local image named ref (which must carry a tag) to ref's registry and repository.
Result<PushResult> push(Client& client, image::ImageStore& store, const oci::Reference& ref,
                        const PushOptions& opts, const ProgressSink& progress);

// The manifest of index that fits platform ("no matching manifest for linux/amd64 in the
// manifest list entries" when none). Attestation manifests (unknown/unknown) never match.
Result<oci::Descriptor> select_platform(const oci::Index& index, const oci::Platform& platform);

}  // namespace berth::registry
