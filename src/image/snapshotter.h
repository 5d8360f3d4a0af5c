// Overlay snapshots: one committed read-only snapshot per layer chain ID, and one active
// (writable) snapshot per container on top of an image's top chain ID.
//
// Layout under root (<data-root>/snapshots):
//   committed/<chain hex>/{fs/,parent,diff_id,size}   parent holds the parent chain ID or ""
//   active/<key>/{fs/,work/,parent}
//   tmp/                                              unpack staging, cleaned at create()
// A committed snapshot appears by rename(2) of a fully unpacked directory: never half-written.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/archive.h"

namespace berth::image {

// ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(n)).
std::string chain_id(const std::string& parent_chain_id, const std::string& diff_id);

struct CommittedInfo {
  std::string chain_id;
  std::string parent;  // "" for a base layer
  std::string diff_id;
  int64_t size = 0;  // bytes unpacked
};

// A layer unpacked into a staging directory, not yet committed (see Snapshotter::stage_layer).
struct StagedLayer {
  std::string dir;  // under <root>/tmp; "" once committed or discarded
  std::string diff_id;
  int64_t size = 0;
};

class Snapshotter {
 public:
  static Result<std::unique_ptr<Snapshotter>> create(const std::string& root);
  virtual ~Snapshotter() = default;

  virtual bool has_committed(const std::string& chain_id) const = 0;
  virtual Result<CommittedInfo> committed(const std::string& chain_id) const = 0;
  virtual Result<std::vector<CommittedInfo>> list_committed() const = 0;

  // Unpacks the layer tar read from fd on top of parent (a committed chain ID, or "") into a new
  // committed snapshot. When expected_diff_id is set and the stream's digest differs, nothing is
  // kept and the error names both digests. An existing snapshot for the same chain is reused.
  virtual Result<CommittedInfo> apply_layer(const std::string& parent, int fd,
                                            const std::string& expected_diff_id = "") = 0;
  virtual Result<> remove_committed(const std::string& chain_id) = 0;
  // apply_layer in two steps, so that the layers of one image can unpack in parallel (a layer's
  // files do not depend on its parent's) and still commit bottom first: stage_layer unpacks fd
  // into a staging dir; commit_staged checks the diff id (when given) and moves it under
  // committed/ on top of parent, reusing an existing snapshot of the same chain. A staged layer
  // that is not committed must be discarded.
  virtual Result<StagedLayer> stage_layer(int fd) = 0;
  virtual Result<CommittedInfo> commit_staged(const std::string& parent, StagedLayer& staged,
                                              const std::string& expected_diff_id = "") = 0;
  virtual void discard_staged(StagedLayer& staged) = 0;

  // Active snapshot for a container: writable upper over parent's chain (parent "" = empty).
  virtual Result<> prepare(const std::string& key, const std::string& parent) = 0;
  // overlay mount options "lowerdir=...,upperdir=...,workdir=..." (or a bind of an empty dir
  // when there is no parent); mount() and unmount() do it on target.
  virtual Result<std::string> mount_options(const std::string& key) const = 0;
  // volatile_upper: overlay's "volatile" (no syncfs of the upper fs, and so no journal commit, at
  // unmount) for snapshots that are thrown away with their container (docker run --rm), as podman
  // does; such an upper must not be mounted again after a crash.
  virtual Result<> mount(const std::string& key, const std::string& target,
                         bool volatile_upper = false) const = 0;
  virtual Result<> unmount(const std::string& target) const = 0;  // lazy detach if busy
  virtual Result<> remove(const std::string& key) = 0;            // missing key is fine
  virtual bool has_active(const std::string& key) const = 0;
  virtual std::vector<std::string> list_active() const = 0;
  virtual std::string upper_dir(const std::string& key) const = 0;
  // Lower fs dirs of a chain, highest first (for overlay_changes and lowerdir=).
  virtual Result<std::vector<std::string>> lower_dirs(const std::string& chain_id) const = 0;
  // Bytes used by an active snapshot's upper dir.
  virtual Result<int64_t> active_usage(const std::string& key) const = 0;
};

}  // namespace berth::image
