// Images made locally: docker import (a rootfs tar becomes a one-layer image) and docker commit
// (a container's upper directory becomes a new layer over its image). Both spool the layer into
// the content store first, so save can write it back byte for byte, then unpack that blob into
// a committed snapshot, write config and OCI manifest blobs, and record the image in one
// transaction. Anything failing leaves nothing recorded; what was written is collected.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "base/file.h"
#include "image/image_store_impl.h"

namespace berth::image {
namespace {

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  return oci::format_rfc3339(ns / 1000000000, ns % 1000000000);
}

// Rolls back what an add wrote unless dismissed.
struct AddGuard {
  LocalImageStore* store;
  std::set<std::string> blobs, chains;
  bool ok = false;
  ~AddGuard();
};

}  // namespace

std::string layer_media_type(const ContentStore& content, const std::string& digest) {
  unsigned char magic[4] = {};
  if (auto fd = content.open_blob(digest)) {
    ssize_t n = ::pread(fd->get(), magic, sizeof magic, 0);
    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
      return std::string(oci::media_type::kOciLayerGzip);
    if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
      return std::string(oci::media_type::kOciLayerZstd);
  }
  return std::string(oci::media_type::kOciLayer);
}

Result<CommittedInfo> LocalImageStore::apply_blob(const std::string& parent_chain,
                                                  const std::string& blob,
                                                  const std::string& diff_id) {
  if (!diff_id.empty()) {
    std::string chain = chain_id(parent_chain, diff_id);
    if (snapshotter_->has_committed(chain)) return snapshotter_->committed(chain);
  }
  ASSIGN_OR_RETURN(UniqueFd fd, content_->open_blob(blob));
  return snapshotter_->apply_layer(parent_chain, fd.get(), diff_id);
}

Result<std::string> LocalImageStore::write_manifest(const std::string& config_bytes,
                                                    const std::string& config_digest,
                                                    const std::vector<std::string>& layer_digests) {
  oci::Manifest m;
  m.media_type = std::string(oci::media_type::kOciManifest);
  m.config.media_type = std::string(oci::media_type::kOciConfig);
  m.config.digest = config_digest;
  m.config.size = static_cast<int64_t>(config_bytes.size());
  for (const auto& l : layer_digests) {
    oci::Descriptor d;
    d.media_type = layer_media_type(*content_, l);
    d.digest = l;
    ASSIGN_OR_RETURN(d.size, content_->size(l));
    m.layers.push_back(std::move(d));
  }
  return content_->write_blob(json::dump(m.to_json()));
}

namespace {
AddGuard::~AddGuard() {
  if (!ok) store->cleanup_after_failure(blobs, chains);
}
}  // namespace

Result<Image> LocalImageStore::import(int fd, const ImportOptions& opts) {
  std::vector<oci::Reference> tags;
  if (!opts.repo_tag.empty()) {
    ASSIGN_OR_RETURN(oci::Reference r, oci::parse_reference(opts.repo_tag));
    if (!r.digest.empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "refusing to create a tag with a digest reference");
    tags.push_back(r);
  }
  AddGuard guard{this, {}, {}};
  std::string id;
  {
    std::shared_lock lk(ops_mu_);
    // Spool the input: the blob is the layer as given (maybe compressed).
    ASSIGN_OR_RETURN(ContentStore::Writer w, content_->writer());
    std::vector<char> buf(1 << 20);
    while (true) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error("reading import stream");
      }
      if (n == 0) break;
      TRY(w.write(buf.data(), static_cast<size_t>(n)));
    }
    ASSIGN_OR_RETURN(std::string layer, w.commit());
    if (w.created()) guard.blobs.insert(layer);
    auto info = apply_blob("", layer, "");
    if (!info) return std::unexpected(std::move(info).error().wrap("importing layer"));
    guard.chains.insert(info->chain_id);

    oci::Platform host = oci::host_platform();
    std::string created = now_rfc3339();
    std::string comment = opts.message.empty() ? "Imported from -" : opts.message;
    json::Json cfg = json::Json::object();
    cfg["architecture"] = opts.architecture.empty() ? host.architecture : opts.architecture;
    cfg["comment"] = comment;
    cfg["config"] =
        opts.config_overrides.is_object() ? opts.config_overrides : json::Json::object();
    cfg["created"] = created;
    cfg["history"] = json::Json::array({{{"created", created}, {"comment", comment}}});
    cfg["os"] = opts.os.empty() ? "linux" : opts.os;
    cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", json::Json::array({info->diff_id})}};
    std::string config_bytes = json::dump(cfg);
    ASSIGN_OR_RETURN(id, content_->write_blob(config_bytes));
    guard.blobs.insert(id);
    ASSIGN_OR_RETURN(std::string manifest, write_manifest(config_bytes, id, {layer}));
    guard.blobs.insert(manifest);

    NewImage ni{.config_bytes = config_bytes,
                .manifest_digest = manifest,
                .layer_digests = {layer},
                .diff_ids = {info->diff_id},
                .chain_ids = {info->chain_id},
                .size = info->size,
                .parent = "",
                .tags = tags};
    TRY(record_images({ni}));
    guard.ok = true;
  }
  return get_by_id(id);
}

Result<Image> LocalImageStore::commit(const CommitOptions& opts) {
  std::vector<oci::Reference> tags;
  if (!opts.repo_tag.empty()) {
    ASSIGN_OR_RETURN(oci::Reference r, oci::parse_reference(opts.repo_tag));
    if (!r.digest.empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "refusing to create a tag with a digest reference");
    tags.push_back(r);
  }
  Image parent;
  if (!opts.parent_image_id.empty()) {
    ASSIGN_OR_RETURN(parent, resolve(opts.parent_image_id));
  }
  AddGuard guard{this, {}, {}};
  std::string id;
  {
    std::shared_lock lk(ops_mu_);
    ASSIGN_OR_RETURN(ContentStore::Writer w, content_->writer());
    TarOptions to;
    to.overlay_whiteouts = true;
    auto tar = write_tar(opts.upper_dir, w.fd(), to);
    if (!tar) return std::unexpected(std::move(tar).error().wrap("committing " + opts.upper_dir));
    ASSIGN_OR_RETURN(std::string layer, w.commit_trusted(tar->digest, tar->size));
    if (w.created()) guard.blobs.insert(layer);
    auto info = apply_blob(parent.top_chain_id(), layer, tar->diff_id);
    if (!info) return std::unexpected(std::move(info).error().wrap("committing layer"));
    guard.chains.insert(info->chain_id);

    json::Json cfg = parent.config.is_object() ? parent.config : json::Json::object();
    oci::Platform host = oci::host_platform();
    if (!cfg.contains("architecture")) cfg["architecture"] = host.architecture;
    if (!cfg.contains("os")) cfg["os"] = "linux";
    std::string created = now_rfc3339();
    cfg["created"] = created;
    cfg["config"] =
        opts.container_config.is_object() ? opts.container_config : json::Json::object();
    if (!opts.author.empty())
      cfg["author"] = opts.author;
    else
      cfg.erase("author");
    if (!opts.comment.empty())
      cfg["comment"] = opts.comment;
    else
      cfg.erase("comment");
    std::vector<std::string> diff_ids = parent.diff_ids;
    diff_ids.push_back(info->diff_id);
    cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    json::Json hist =
        cfg.contains("history") && cfg["history"].is_array() ? cfg["history"] : json::Json::array();
    json::Json h = {{"created", created}};
    if (!opts.author.empty()) h["author"] = opts.author;
    if (!opts.created_by.empty()) h["created_by"] = opts.created_by;
    if (!opts.comment.empty()) h["comment"] = opts.comment;
    hist.push_back(h);
    cfg["history"] = hist;
    std::string config_bytes = json::dump(cfg);
    ASSIGN_OR_RETURN(id, content_->write_blob(config_bytes));
    guard.blobs.insert(id);

    std::vector<std::string> layers;
    if (!parent.id.empty()) {
      std::lock_guard dl(db_->mutex());
      ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT layers FROM image_images WHERE id=?"));
      st.bind(1, parent.id);
      ASSIGN_OR_RETURN(bool row, st.step());
      if (row) {
        auto j = json::parse(st.text(0), "layers");
        if (j && j->is_array())
          for (const auto& l : *j) layers.push_back(l.get<std::string>());
      }
    }
    layers.push_back(layer);
    ASSIGN_OR_RETURN(std::string manifest, write_manifest(config_bytes, id, layers));
    guard.blobs.insert(manifest);
    std::vector<std::string> chains = parent.chain_ids;
    chains.push_back(info->chain_id);
    int64_t size = parent.size + info->size;
    NewImage ni{.config_bytes = config_bytes,
                .manifest_digest = manifest,
                .layer_digests = layers,
                .diff_ids = diff_ids,
                .chain_ids = chains,
                .size = size,
                .parent = parent.id,
                .tags = tags};
    TRY(record_images({ni}));
    guard.ok = true;
  }
  return get_by_id(id);
}

}  // namespace berth::image
