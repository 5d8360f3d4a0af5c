// The image store: content (blobs by digest), image metadata and tags in SQLite, layers as
// overlay snapshots, and the ways images arrive and leave without a registry (load, save,
// import, commit). Thread-safe: every method may be called from any API thread.
//
// Names are normalised as docker does ("busybox" -> docker.io/library/busybox:latest) and shown
// in familiar form ("busybox:latest"), see oci/reference.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "image/archive.h"
#include "image/content_store.h"
#include "image/snapshotter.h"
#include "oci/reference.h"

namespace berth::image {

struct Image {
  std::string id;                         // "sha256:<hex>" = config digest
  std::string manifest_digest;            // "sha256:<hex>" of the stored OCI manifest
  std::vector<std::string> repo_tags;     // familiar: "busybox:latest"
  std::vector<std::string> repo_digests;  // familiar: "busybox@sha256:..."
  json::Json config;                      // the whole image config (architecture, os, config,
                                          // rootfs, history, created, ...)
  int64_t created = 0;                    // unix seconds (config.created; 0 if absent)
  int64_t size = 0;                       // unpacked bytes of all layers
  std::vector<std::string> diff_ids;      // "sha256:<hex>" bottom first
  std::vector<std::string> chain_ids;     // same order
  std::string top_chain_id() const { return chain_ids.empty() ? "" : chain_ids.back(); }
};

// What is needed to record one image: produced by load, import, commit and registry pulls.
struct NewImage {
  std::string config_bytes;  // exactly as stored (the image ID is their digest)
  std::string manifest_digest;
  std::vector<std::string> layer_digests;  // blob digests, bottom first
  std::vector<std::string> diff_ids, chain_ids;
  int64_t size = 0;
  std::string parent;                   // parent image ID (commit), or ""
  std::vector<oci::Reference> tags;     // normalised tags to point at this image
  std::vector<oci::Reference> digests;  // repository digests ("name@sha256:...") it answers to
};

struct DeleteItem {
  std::string untagged;  // familiar ref, or ""
  std::string deleted;   // image id, or ""
};

struct ImportOptions {
  std::string repo_tag;                    // "" = untagged
  json::Json config_overrides;             // container config fields (Cmd, Env, ...) from --change
  std::string message;                     // history comment
  std::string os = "linux", architecture;  // default: host
};

struct CommitOptions {
  std::string upper_dir;        // the container's overlay upper directory
  std::string parent_image_id;  // image the container runs ("" for none)
  json::Json container_config;  // docker Config of the container (becomes config.config,
                                // with overrides from changes already applied by the caller)
  std::string repo_tag, author, comment;
  std::string created_by;  // history created_by
};

struct PruneReport {
  std::vector<DeleteItem> deleted;
  int64_t space_reclaimed = 0;
};

struct DiskUsage {
  int64_t images_size = 0;  // unique bytes of layers + blobs
  int64_t layers_size = 0;
  struct PerImage {
    std::string id;
    int64_t size = 0, shared_size = 0;
    int containers = 0;
  };
  std::vector<PerImage> images;
};

class ImageStore {
 public:
  // data_root holds content/, snapshots/ and metadata.db (tables prefixed image_).
  static Result<std::unique_ptr<ImageStore>> open(const std::string& data_root);
  virtual ~ImageStore() = default;

  // ref_or_id: "busybox", "busybox:1.36", "docker.io/library/busybox:latest",
  // "name@sha256:...", a full "sha256:<hex>" id, or an unambiguous id prefix (>= 1 hex char as
  // docker accepts). Not found: NotFound "No such image: <ref as given>".
  virtual Result<Image> resolve(const std::string& ref_or_id) = 0;
  virtual Result<std::vector<Image>> list() = 0;
  virtual Result<> tag(const std::string& source, const std::string& target) = 0;
  // docker rmi: untags ref; deletes the image when no tag is left (or ref is an id). An image
  // used by a container (in_use(id) true) is refused with Conflict unless force.
  virtual Result<std::vector<DeleteItem>> remove(
      const std::string& ref, bool force,
      const std::function<bool(const std::string& image_id)>& in_use) = 0;
  // The same, with a callback that names a container using the image ("" = none), so that the
  // conflict message can name it as docker does ("container <id12> is using ...").
  virtual Result<std::vector<DeleteItem>> remove_image(
      const std::string& ref, bool force,
      const std::function<std::string(const std::string& image_id)>& container_using) = 0;

  using Progress = std::function<void(const std::string& message)>;
  // docker load: docker-save tarballs (manifest.json; old <layer>/layer.tar form too) and OCI
  // layouts (index.json). Returns one message per image: "Loaded image: busybox:latest" or
  // "Loaded image ID: sha256:...". On any error nothing of this load is visible.
  virtual Result<std::vector<std::string>> load(int fd, const Progress& progress) = 0;
  // docker save: writes both manifest.json (+ repositories) and an OCI layout, as docker 25+.
  virtual Result<> save(const std::vector<std::string>& refs, int out_fd) = 0;
  virtual Result<Image> import(int fd, const ImportOptions& opts) = 0;
  virtual Result<Image> commit(const CommitOptions& opts) = 0;
  // docker history: newest first, [{Id, Created, CreatedBy, Tags, Size, Comment}].
  virtual Result<json::Json> history(const std::string& ref) = 0;
  // docker image prune: dangling (untagged) images, or all unused with all=true.
  virtual Result<PruneReport> prune(bool all,
                                    const std::function<bool(const std::string& id)>& in_use) = 0;
  // Removes blobs and committed snapshots that no image references.
  virtual Result<int64_t> garbage_collect() = 0;
  virtual Result<DiskUsage> disk_usage(
      const std::function<int(const std::string& image_id)>& containers_using) = 0;

  // Container layers (active snapshots keyed by container id).
  virtual Snapshotter& snapshotter() = 0;

  // ---- for content that arrives from elsewhere (registry pulls and pushes) ----
  virtual ContentStore& content() = 0;
  // Held (shared) while adding content: no rmi, prune or garbage collection runs meanwhile, so
  // blobs and snapshots written but not yet recorded are never collected.
  virtual std::shared_lock<std::shared_mutex> add_lock() = 0;
  // Records images and points their tags and digests at them, in one transaction. Returns
  // docker's messages for tags moved away from another image.
  virtual Result<std::vector<std::string>> add_images(const std::vector<NewImage>& images) = 0;
  // Adds a repository digest ("name@sha256:...") to an image, as after a push.
  virtual Result<> add_digest(const std::string& image_id, const oci::Reference& ref) = 0;
  // After a failed add (outside add_lock): removes what it wrote that nothing references.
  virtual void cleanup_after_failure(const std::set<std::string>& blobs,
                                     const std::set<std::string>& chains) = 0;
};

}  // namespace berth::image
