// The image store's implementation class, shared by the files that implement its parts:
// image_store.cc (open, metadata, resolve, tag, remove, history, prune, gc, disk usage),
// load.cc (docker load), save.cc (docker save), import_commit.cc (docker import, commit).
//
// Locking: ops_mu_ is shared by operations that add content (load, import, commit) and taken
// exclusively by those that delete it (remove, prune, garbage_collect), so a blob or snapshot
// that an in-flight load has written but not yet recorded is never collected. db_->mutex()
// guards the SQLite connection for single statements and transactions.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "image/content_store.h"
#include "image/db.h"
#include "image/image_store.h"
#include "oci/image.h"
#include "oci/reference.h"

namespace berth::image {

class LocalImageStore final : public ImageStore {
 public:
  static Result<std::unique_ptr<LocalImageStore>> create(const std::string& data_root);

  Result<Image> resolve(const std::string& ref_or_id) override;
  Result<std::vector<Image>> list() override;
  Result<> tag(const std::string& source, const std::string& target) override;
  Result<std::vector<DeleteItem>> remove(
      const std::string& ref, bool force,
      const std::function<bool(const std::string& image_id)>& in_use) override;
  Result<std::vector<DeleteItem>> remove_image(
      const std::string& ref, bool force,
      const std::function<std::string(const std::string& image_id)>& container_using) override;
  Result<std::vector<std::string>> load(int fd, const Progress& progress) override;
  Result<> save(const std::vector<std::string>& refs, int out_fd) override;
  Result<Image> import(int fd, const ImportOptions& opts) override;
  Result<Image> commit(const CommitOptions& opts) override;
  Result<json::Json> history(const std::string& ref) override;
  Result<PruneReport> prune(bool all,
                            const std::function<bool(const std::string& id)>& in_use) override;
  Result<int64_t> garbage_collect() override;
  Result<DiskUsage> disk_usage(
      const std::function<int(const std::string& image_id)>& containers_using) override;
  Snapshotter& snapshotter() override { return *snapshotter_; }
  ContentStore& content() override { return *content_; }
  std::shared_lock<std::shared_mutex> add_lock() override {
    return std::shared_lock<std::shared_mutex>(ops_mu_);
  }
  Result<std::vector<std::string>> add_images(const std::vector<NewImage>& images) override {
    return record_images(images);
  }
  Result<> add_digest(const std::string& image_id, const oci::Reference& ref) override;
  void cleanup_after_failure(const std::set<std::string>& blobs,
                             const std::set<std::string>& chains) override;

 private:
  LocalImageStore() = default;

  // ---- metadata (image_store.cc) ----
  Result<> init_schema();
  // Records images and points their tags at them, all in one transaction. Returns the
  // messages for tags moved away from another image.
  Result<std::vector<std::string>> record_images(const std::vector<NewImage>& images);
  Result<Image> get_by_id(const std::string& id);  // id: "sha256:<hex>"; NotFound if absent
  Result<std::vector<std::string>> all_ids();
  Result<std::vector<std::string>> refs_of(const std::string& id, bool digests);
  Result<std::vector<std::string>> children_of(const std::string& id);
  Result<std::string> id_for_ref(const oci::Reference& ref);        // "" when not tagged
  Result<std::string> search_id_prefix(const std::string& prefix);  // "" when none
  // Deletes an image row, then its blobs and snapshots no other image or container uses.
  // Appends "Deleted:" items for the image. Caller holds ops_mu_ exclusively.
  Result<int64_t> delete_image(const std::string& id, std::vector<DeleteItem>* items);
  // Removes blobs and committed snapshots not referenced by any image or active snapshot,
  // limited to `only` when given. Caller holds ops_mu_ exclusively.
  Result<int64_t> collect(const std::set<std::string>* only_blobs,
                          const std::set<std::string>* only_chains);
  Result<std::vector<DeleteItem>> remove_locked(
      const std::string& ref, bool force,
      const std::function<std::string(const std::string& image_id)>& container_using);

  // ---- helpers for adding content (import_commit.cc) ----
  // Applies the layer blob on top of parent chain, reusing an existing snapshot.
  Result<CommittedInfo> apply_blob(const std::string& parent_chain, const std::string& blob,
                                   const std::string& diff_id);
  // Writes the OCI manifest for config + layers and returns its digest.
  Result<std::string> write_manifest(const std::string& config_bytes,
                                     const std::string& config_digest,
                                     const std::vector<std::string>& layer_digests);

  friend class Loader;

  std::string root_;
  std::unique_ptr<ContentStore> content_;
  std::unique_ptr<Snapshotter> snapshotter_;
  std::unique_ptr<Db> db_;
  std::shared_mutex ops_mu_;
};

// Media type of a stored layer blob from its first bytes (gzip, zstd or plain tar).
std::string layer_media_type(const ContentStore& content, const std::string& digest);

}  // namespace berth::image
