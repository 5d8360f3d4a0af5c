// docker pull: registry -> content store + snapshots, one pass per layer (see distribution.h).
//
// Per layer, a download thread feeds the bytes to the content store writer (which hashes them
// for the digest check) and into a pipe; an unpack thread reads the pipe into a staging dir.
// The pipe's back-pressure keeps memory flat, and the layer is unpacked when its download ends.
// Staged layers commit bottom first once all have arrived, then the image is recorded.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "base/log.h"
#include "base/unique_fd.h"
#include "image/digest.h"
#include "image/snapshotter.h"
#include "registry/distribution.h"
#include "registry/transfer.h"

namespace berth::registry {

namespace {

using Clock = Reporter::Clock;

Result<> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("writing to the unpacker");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

bool platform_matches(const oci::Platform& have, const oci::Platform& want) {
  if (have.os != want.os || have.architecture != want.architecture) return false;
  if (want.variant.empty() || have.variant == want.variant) return true;
  // arm64 images are often published without a variant; v8 is implied.
  return want.architecture == "arm64" && want.variant == "v8" && have.variant.empty();
}

struct Layer {
  oci::Descriptor desc;
  std::string diff_id, chain_id, parent_chain;
  std::string id;            // short id shown in progress
  bool need_blob = false;    // the content store lacks it
  bool need_unpack = false;  // no snapshot for its chain yet
  image::StagedLayer staged;
  std::optional<Error> error;
};

class Puller {
 public:
  Puller(Client& client, image::ImageStore& store, const oci::Reference& ref,
         const PullOptions& opts, const ProgressSink& sink)
      : client_(client), store_(store), ref_(ref), opts_(opts), report_(sink) {}

  Result<PullResult> run();

  std::set<std::string> new_blobs;
  std::set<std::string> new_chains;

 private:
  Result<oci::Manifest> resolve_manifest();
  Result<std::string> fetch_small_blob(const oci::Descriptor& d, int64_t limit);
  Result<> download(Layer& l);
  Result<> unpack_local(Layer& l);
  void download_all();

  Client& client_;
  image::ImageStore& store_;
  oci::Reference ref_;
  const PullOptions& opts_;
  Reporter report_;
  std::unique_ptr<Repository> repo_;
  std::string top_digest_, manifest_digest_;
  std::vector<Layer> layers_;
  std::mutex mu_;  // new_blobs
};

Result<oci::Manifest> Puller::resolve_manifest() {
  std::string what = ref_.digest.empty() ? ref_.tag : ref_.digest;
  ASSIGN_OR_RETURN(Manifest m, repo_->get_manifest(what));
  top_digest_ = m.digest;
  if (oci::is_index_media_type(m.media_type)) {
    ASSIGN_OR_RETURN(oci::Index index, oci::Index::parse(m.bytes));
    oci::Platform want = opts_.platform.value_or(oci::host_platform());
    ASSIGN_OR_RETURN(oci::Descriptor d, select_platform(index, want));
    if (!store_.content().exists(m.digest)) {
      TRY(store_.content().write_blob(m.bytes, m.digest));
      new_blobs.insert(m.digest);
    }
    ASSIGN_OR_RETURN(m, repo_->get_manifest(d.digest));
    if (oci::is_index_media_type(m.media_type))
      return make_error(ErrorCode::kInvalidArgument,
                        "manifest " + d.digest + " is an index inside an index");
  }
  if (!oci::is_manifest_media_type(m.media_type) && !m.media_type.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "unsupported manifest media type " + m.media_type + " for " + ref_.string());
  manifest_digest_ = m.digest;
  ASSIGN_OR_RETURN(oci::Manifest manifest, oci::Manifest::parse(m.bytes));
  if (!store_.content().exists(m.digest)) {
    TRY(store_.content().write_blob(m.bytes, m.digest));
    new_blobs.insert(m.digest);
  }
  return manifest;
}

Result<std::string> Puller::fetch_small_blob(const oci::Descriptor& d, int64_t limit) {
  if (store_.content().exists(d.digest)) return store_.content().read_blob(d.digest);
  if (d.size > limit)
    return make_error(ErrorCode::kInvalidArgument,
                      "blob " + d.digest + " is too large (" + std::to_string(d.size) + " bytes)");
  std::string bytes;
  TRY(repo_->fetch_blob(d.digest, d.size, [&](std::string_view b) -> Result<> {
    if (static_cast<int64_t>(bytes.size() + b.size()) > limit)
      return make_error(ErrorCode::kInvalidArgument, "blob " + d.digest + " is too large");
    bytes.append(b);
    return {};
  }));
  TRY(store_.content().write_blob(bytes, d.digest));  // verifies the digest
  new_blobs.insert(d.digest);
  return bytes;
}

// One layer: network -> (content store writer, pipe -> unpacker), as needed.
Result<> Puller::download(Layer& l) {
  ASSIGN_OR_RETURN(image::ContentStore::Writer writer, store_.content().writer());
  UniqueFd rd, wr;
  std::thread unpacker;
  Result<image::StagedLayer> staged = make_error(ErrorCode::kInternal, "not unpacked");
  if (l.need_unpack) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
    rd = UniqueFd(p[0]);
    wr = UniqueFd(p[1]);
    (void)::fcntl(wr.get(), F_SETPIPE_SZ, 1 << 20);
    unpacker = std::thread([&] {
      staged = store_.snapshotter().stage_layer(rd.get());
      rd.reset();  // a writer still sending gets EPIPE instead of blocking forever
    });
  }
  auto finish_unpack = [&] {
    wr.reset();
    if (unpacker.joinable()) unpacker.join();
  };
  ScopeGuard join_guard(finish_unpack);

  Clock::time_point last{};
  Result<> fetched = repo_->fetch_blob(
      l.desc.digest, l.desc.size,
      [&](std::string_view bytes) -> Result<> {
        TRY(writer.write(bytes.data(), bytes.size()));
        if (wr) {
          if (auto r = write_all(wr.get(), bytes); !r) {
            finish_unpack();  // the unpacker stopped early: its error explains why
            if (!staged) return std::unexpected(staged.error());
            return r;
          }
        }
        return {};
      },
      [&](int64_t done, int64_t total) {
        report_.bytes(l.id, "Downloading", done, total > 0 ? total : l.desc.size, &last);
      });
  finish_unpack();
  join_guard.dismiss();
  if (!fetched) {
    if (l.need_unpack && staged) store_.snapshotter().discard_staged(*staged);
    return fetched;
  }
  report_.layer(l.id, "Verifying Checksum");
  auto committed = writer.commit(l.desc.digest, l.desc.size >= 0 ? l.desc.size : -1);
  if (!committed) {
    if (l.need_unpack && staged) store_.snapshotter().discard_staged(*staged);
    return make_error(ErrorCode::kInvalidArgument,
                      "filesystem layer verification failed for digest " + l.desc.digest);
  }
  if (writer.created()) {
    std::lock_guard lk(mu_);
    new_blobs.insert(l.desc.digest);
  }
  report_.layer(l.id, "Download complete");
  if (l.need_unpack) {
    if (!staged) return std::unexpected(staged.error());
    l.staged = std::move(*staged);
  }
  return {};
}

// A blob that is here already but was never unpacked (its snapshot was removed): from disk.
Result<> Puller::unpack_local(Layer& l) {
  ASSIGN_OR_RETURN(UniqueFd fd, store_.content().open_blob(l.desc.digest));
  report_.layer(l.id, "Extracting");
  ASSIGN_OR_RETURN(l.staged, store_.snapshotter().stage_layer(fd.get()));
  return {};
}

// Runs the layers that need work on opts_.parallel_layers threads; each records its own error.
void Puller::download_all() {
  std::vector<Layer*> work;
  for (auto& l : layers_)
    if (l.need_blob || l.need_unpack) work.push_back(&l);
  run_parallel(
      work.size(), opts_.parallel_layers,
      [&](size_t i) {
        Layer& l = *work[i];
        auto r = l.need_blob ? download(l) : unpack_local(l);
        if (!r) l.error = r.error();
      },
      [&](size_t i) { report_.layer(work[i]->id, "Waiting"); });
}

Result<PullResult> Puller::run() {
  ASSIGN_OR_RETURN(repo_, client_.repository(ref_, opts_.auth, Access::kPull));
  ASSIGN_OR_RETURN(oci::Manifest manifest, resolve_manifest());
  // Only now, as docker: an unknown or forbidden repository is an HTTP error, not a stream.
  report_.line("Pulling from " + ref_.path, ref_.digest.empty() ? ref_.tag : ref_.digest);
  if (!manifest.config.media_type.empty() &&
      manifest.config.media_type != oci::media_type::kOciConfig &&
      manifest.config.media_type != oci::media_type::kDockerConfig)
    return make_error(
        ErrorCode::kInvalidArgument,
        "unsupported config media type " + manifest.config.media_type + ": not a container image");
  ASSIGN_OR_RETURN(std::string config_bytes, fetch_small_blob(manifest.config, 16 << 20));
  ASSIGN_OR_RETURN(oci::ImageConfig config, oci::ImageConfig::parse(config_bytes));
  if (config.diff_ids.size() != manifest.layers.size())
    return make_error(ErrorCode::kInvalidArgument,
                      "image config lists " + std::to_string(config.diff_ids.size()) +
                          " layers but the manifest has " + std::to_string(manifest.layers.size()));

  std::string parent;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    Layer l;
    l.desc = manifest.layers[i];
    if (!image::is_sha256_digest(l.desc.digest))
      return make_error(ErrorCode::kInvalidArgument,
                        "layer digest " + l.desc.digest + " is not a sha256 digest");
    l.diff_id = config.diff_ids[i];
    l.parent_chain = parent;
    l.chain_id = image::chain_id(parent, l.diff_id);
    l.id = short_hex(l.desc.digest);
    l.need_blob = !store_.content().exists(l.desc.digest);
    l.need_unpack = !store_.snapshotter().has_committed(l.chain_id);
    parent = l.chain_id;
    layers_.push_back(std::move(l));
  }
  for (auto& l : layers_)
    report_.layer(l.id, l.need_blob || l.need_unpack ? "Pulling fs layer" : "Already exists");
  download_all();
  ScopeGuard discard([&] {
    for (auto& l : layers_) store_.snapshotter().discard_staged(l.staged);
  });
  for (auto& l : layers_)
    if (l.error) return std::unexpected(*l.error);

  std::vector<std::string> layer_digests, chain_ids;
  int64_t size = 0;
  for (auto& l : layers_) {
    if (l.need_unpack) {
      auto info = store_.snapshotter().commit_staged(l.parent_chain, l.staged, l.diff_id);
      if (!info)
        return make_error(ErrorCode::kInvalidArgument,
                          "layer " + l.desc.digest + ": " + info.error().message());
      new_chains.insert(l.chain_id);
      report_.layer(l.id, "Pull complete");
    }
    ASSIGN_OR_RETURN(image::CommittedInfo info, store_.snapshotter().committed(l.chain_id));
    size += info.size;
    layer_digests.push_back(l.desc.digest);
    chain_ids.push_back(l.chain_id);
  }

  std::string image_id = image::sha256_digest(config_bytes);
  PullResult result{.image_id = image_id, .digest = top_digest_};
  if (!ref_.tag.empty()) {
    auto existing = store_.resolve(ref_.string());
    result.up_to_date = existing && existing->id == image_id;
  } else {
    result.up_to_date = static_cast<bool>(store_.resolve(image_id));
  }

  image::NewImage img;
  img.config_bytes = std::move(config_bytes);
  img.manifest_digest = manifest_digest_;
  img.layer_digests = std::move(layer_digests);
  img.diff_ids = config.diff_ids;
  img.chain_ids = std::move(chain_ids);
  img.size = size;
  if (!ref_.tag.empty()) {
    oci::Reference tag = ref_;
    tag.digest.clear();
    img.tags.push_back(tag);
  }
  oci::Reference by_digest = ref_;
  by_digest.tag.clear();
  by_digest.digest = top_digest_;
  img.digests.push_back(by_digest);
  TRY(store_.add_images({img}));
  report_.line("Digest: " + top_digest_);
  return result;
}

}  // namespace

Result<oci::Descriptor> select_platform(const oci::Index& index, const oci::Platform& platform) {
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    if (d.platform->os == "unknown" || d.platform->architecture == "unknown") continue;
    auto rt = d.annotations.find("vnd.docker.reference.type");
    if (rt != d.annotations.end() && rt->second == "attestation-manifest") continue;
    if (platform_matches(*d.platform, platform)) return d;
  }
  return make_error(ErrorCode::kNotFound, "no matching manifest for " + platform.string() +
                                              " in the manifest list entries");
}

Result<PullResult> pull(Client& client, image::ImageStore& store, const oci::Reference& ref,
                        const PullOptions& opts, const ProgressSink& progress) {
  if (ref.tag.empty() && ref.digest.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "pull of " + ref.string() + " needs a tag or digest");
  Puller puller(client, store, ref, opts, progress);
  Result<PullResult> r;
  {
    auto lock = store.add_lock();
    r = puller.run();
  }
  if (!r) store.cleanup_after_failure(puller.new_blobs, puller.new_chains);
  return r;
}

}  // namespace berth::registry
