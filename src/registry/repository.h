// RepositoryImpl: the Repository of client.h over Sessions. The pull side (manifests, blob
// downloads) is in repository_pull.cc, the push side (existence, mount, uploads, manifest PUT)
// in repository_push.cc.
//
// A pull of a docker.io image may have several endpoints: the configured mirrors, then
// registry-1.docker.io. Each read tries them in order, starting with the last one that
// answered, and falls through to the next on "not found", "denied" or "unavailable".
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "registry/client.h"
#include "registry/session.h"

namespace berth::registry {

inline constexpr std::string_view kManifestAccept =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

// The schema 1 refusal: InvalidArgument when media_type or the body says schema 1.
Result<> refuse_schema1(std::string_view media_type, std::string_view body, std::string_view what);

class RepositoryImpl : public Repository {
 public:
  // sessions: the endpoints in the order to try; the last is the registry itself.
  RepositoryImpl(oci::Reference ref, std::vector<std::unique_ptr<Session>> sessions)
      : ref_(std::move(ref)), sessions_(std::move(sessions)) {}

  const oci::Reference& reference() const override { return ref_; }
  Result<Manifest> get_manifest(const std::string& tag_or_digest) override;
  Result<std::string> head_manifest_digest(const std::string& tag_or_digest) override;
  Result<> fetch_blob(const std::string& digest, int64_t size, const BlobSink& sink,
                      const ProgressFn& progress) override;
  Result<bool> blob_exists(const std::string& digest) override;
  Result<bool> mount_blob(const std::string& digest, const std::string& from_repo) override;
  Result<> push_blob(const std::string& digest, int64_t size, int fd, const ProgressFn& progress,
                     int64_t chunk_size) override;
  Result<std::string> put_manifest(const std::string& tag_or_digest, const std::string& media_type,
                                   const std::string& bytes) override;

 private:
  std::string path(std::string_view rest) const {
    return "/v2/" + ref_.path + "/" + std::string(rest);
  }
  Session& origin() { return *sessions_.back(); }
  // "busybox:tag" / "busybox@sha256:..": how docker names the manifest in messages.
  std::string familiar(const std::string& tag_or_digest) const;
  Error manifest_error(const HttpResponse& resp, const std::string& tag_or_digest) const;
  Result<Manifest> get_manifest_from(Session& s, const std::string& tag_or_digest);
  Result<std::string> head_manifest_from(Session& s, const std::string& tag_or_digest);
  Result<> fetch_blob_from(Session& s, const std::string& digest, int64_t size,
                           const BlobSink& sink, const ProgressFn& progress, int64_t* delivered);
  Result<> upload_once(const std::string& digest, int64_t size, int fd, int64_t offset,
                       const ProgressFn& progress, int64_t chunk_size);

  oci::Reference ref_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::atomic<size_t> preferred_{0};
};

}  // namespace berth::registry
