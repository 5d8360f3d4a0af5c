// docker push: local image -> registry. The stored manifest is pushed byte for byte (so its
// digest stays the one `images --digests` shows), after every blob it names is there: blobs
// the registry has are skipped, blobs another repository of the same registry has are
// mounted, the rest are uploaded from the content store, several at a time.
#include <algorithm>

#include "base/json.h"
#include "image/digest.h"
#include "registry/distribution.h"
#include "registry/transfer.h"

namespace berth::registry {

namespace {

struct Blob {
  oci::Descriptor desc;
  std::string id;  // progress id: the layer's diff id, short (as docker shows it)
  std::optional<Error> error;
};

}  // namespace

Result<PushResult> push(Client& client, image::ImageStore& store, const oci::Reference& ref,
                        const PushOptions& opts, const ProgressSink& progress) {
  if (ref.tag.empty())
    return make_error(ErrorCode::kInvalidArgument, "push of " + ref.string() + " needs a tag");
  Reporter report(progress);
  report.line("The push refers to repository [" + ref.name() + "]");

  auto lock = store.add_lock();  // the image's blobs stay while they upload
  auto img = store.resolve(ref.string());
  if (!img)
    return make_error(ErrorCode::kNotFound,
                      "An image does not exist locally with the tag: " + ref.familiar_name());
  auto& content = store.content();
  ASSIGN_OR_RETURN(std::string manifest_bytes, content.read_blob(img->manifest_digest));
  ASSIGN_OR_RETURN(oci::Manifest manifest, oci::Manifest::parse(manifest_bytes));
  std::string media_type = manifest.media_type.empty() ? std::string(oci::media_type::kOciManifest)
                                                       : manifest.media_type;

  // Where a mount can come from: other repositories of this registry the image came from.
  std::vector<std::string> mount_from;
  for (const auto& d : img->repo_digests) {
    auto r = oci::parse_normalized_named(d);
    if (r && r->domain == ref.domain && r->path != ref.path) mount_from.push_back(r->path);
  }

  ASSIGN_OR_RETURN(auto repo, client.repository(ref, opts.auth, Access::kPushPull));

  std::vector<Blob> blobs;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    Blob b{.desc = manifest.layers[i]};
    b.id = short_hex(i < img->diff_ids.size() ? img->diff_ids[i] : b.desc.digest);
    blobs.push_back(std::move(b));
  }
  // docker lists the top layer first.
  for (auto it = blobs.rbegin(); it != blobs.rend(); ++it) report.layer(it->id, "Preparing");

  auto push_one = [&](Blob& b) -> Result<> {
    ASSIGN_OR_RETURN(bool exists, repo->blob_exists(b.desc.digest));
    if (exists) {
      report.layer(b.id, "Layer already exists");
      return {};
    }
    for (const auto& from : mount_from) {
      ASSIGN_OR_RETURN(bool mounted, repo->mount_blob(b.desc.digest, from));
      if (mounted) {
        report.layer(b.id, "Mounted from " + from);
        return {};
      }
    }
    ASSIGN_OR_RETURN(UniqueFd fd, content.open_blob(b.desc.digest));
    ASSIGN_OR_RETURN(int64_t size, content.size(b.desc.digest));
    Reporter::Clock::time_point last{};
    TRY(repo->push_blob(b.desc.digest, size, fd.get(), [&](int64_t done, int64_t total) {
      report.bytes(b.id, "Pushing", done, total, &last);
    }));
    report.layer(b.id, "Pushed");
    return {};
  };

  run_parallel(
      blobs.size(), opts.parallel_layers,
      [&](size_t i) {
        if (auto r = push_one(blobs[i]); !r) blobs[i].error = r.error();
      },
      [&](size_t i) { report.layer(blobs[i].id, "Waiting"); });
  for (auto& b : blobs)
    if (b.error) return std::unexpected(*b.error);

  // The config, then the manifest that names everything.
  ASSIGN_OR_RETURN(bool have_config, repo->blob_exists(manifest.config.digest));
  if (!have_config) {
    ASSIGN_OR_RETURN(UniqueFd fd, content.open_blob(manifest.config.digest));
    ASSIGN_OR_RETURN(int64_t size, content.size(manifest.config.digest));
    TRY(repo->push_blob(manifest.config.digest, size, fd.get()));
  }
  ASSIGN_OR_RETURN(std::string digest, repo->put_manifest(ref.tag, media_type, manifest_bytes));
  oci::Reference by_digest = ref;
  by_digest.tag.clear();
  by_digest.digest = digest;
  TRY(store.add_digest(img->id, by_digest));
  return PushResult{
      .tag = ref.tag, .digest = digest, .size = static_cast<int64_t>(manifest_bytes.size())};
}

}  // namespace berth::registry
