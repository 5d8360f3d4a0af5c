// Engine internals shared by engine*.cc: the in-memory container table, per-container locks,
// paths, and the helpers that lifecycle, exec and filesystem operations have in common.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/container_db.h"
#include "engine/engine.h"
#include "engine/volumes.h"

namespace berth::engine {

struct Entry {
  std::mutex op;       // serialises start/stop/remove/... on this container
  Container c;         // guarded by Impl::mu
  uint64_t exits = 0;  // bumped at every exit (wait next-exit)
  bool removed = false;
  bool monitored = false;
  // docker run attaches before it starts: start waits (briefly) for attach calls that arrived
  // first, which connect to the shim between its create and its start.
  int pending_attach = 0;
  bool shim_created = false;
};

struct ExecEntry {
  Exec e;
};

struct Engine::Impl {
  Engine* engine = nullptr;
  std::mutex mu;               // the table and every Entry::c
  std::condition_variable cv;  // any state change
  std::map<std::string, std::shared_ptr<Entry>> by_id;
  std::map<std::string, std::string> names;  // "/name" -> id
  std::map<std::string, std::shared_ptr<ExecEntry>> execs;
  std::unique_ptr<ContainerDb> db;
  std::unique_ptr<VolumeStore> volumes;
  std::atomic<bool> stopping{false};
  std::string runtime_root, shim_path, init_path;

  // Paths.
  std::string container_dir(const std::string& id) const;  // data: logs, hosts files
  std::string bundle_dir(const std::string& id) const;     // exec root: config.json, rootfs
  std::string rootfs_dir(const std::string& id) const { return bundle_dir(id) + "/rootfs"; }
  // Short on purpose: the shim's socket lives here and unix socket paths end at 108 bytes.
  std::string shim_dir(const std::string& id) const {
    return engine->opts_.exec_root + "/s/" + id.substr(0, 24);
  }
  std::string log_path(const std::string& id) const;

  // Lookup by full id, name, or unique id prefix. NotFound "No such container: <ref>".
  Result<std::shared_ptr<Entry>> find(const std::string& ref);
  Result<> persist(const Container& c);  // caller holds mu
  void publish(const Container& c, const std::string& action,
               std::map<std::string, std::string> extra = {});

  Result<> ensure_rootfs(Entry& e);  // mounts the container's snapshot (caller holds e.op)
  void release_rootfs(Entry& e);     // unmounts it when the container does not run
  Result<> start_locked(const std::shared_ptr<Entry>& e);
  void monitor(const std::shared_ptr<Entry>& e);  // starts the thread waiting on the shim
  void on_exit(const std::shared_ptr<Entry>& e, int code, bool oom, const std::string& finished);
  Result<> remove_locked(const std::shared_ptr<Entry>& e, bool remove_volumes);
  void schedule_restart(const std::shared_ptr<Entry>& e, int delay_ms);
};

// Under the data root and the exec root: directories of removed containers, deleted in the
// background (and at the next start after a crash).
inline constexpr const char* kTrashDir = "trash";

std::string random_hex(size_t bytes);
std::string generate_name();
int64_t parse_size(const std::string& s);  // "10m" -> bytes, -1 when empty/invalid
int64_t rfc3339_to_ns(const std::string& s);

}  // namespace berth::engine
