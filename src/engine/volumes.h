// Named volumes of the "local" driver: <data-root>/volumes/<name>/_data, one metadata record per
// volume in metadata.db (table volume_records, one JSON document per row). Every method returns
// docker's JSON shapes (Name, Driver, Mountpoint, CreatedAt, Labels, Scope, Options) so the API
// layer only forwards them. Driver options type=tmpfs and o=bind (device=<host dir>) are mounted on
// _data the first time the volume is used and unmounted when it is removed.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

struct sqlite3;

namespace berth::engine {

// Ids of the containers that use a volume (empty: not in use). Supplied by the engine, which
// knows its containers; nullptr means "nobody uses it". Never called with the store's lock held,
// so it may take the engine's locks (and even call back into the store).
using VolumeUsers = std::function<std::vector<std::string>(const std::string& name)>;
using VolumeFilters = std::map<std::string, std::vector<std::string>>;

class VolumeStore {
 public:
  static constexpr const char* kAnonymousLabel = "com.docker.volume.anonymous";

  // Opens (creating) <data_root>/volumes and the volume_records table in <data_root>/metadata.db.
  static Result<std::unique_ptr<VolumeStore>> open(const std::string& data_root);
  ~VolumeStore();
  VolumeStore(const VolumeStore&) = delete;
  VolumeStore& operator=(const VolumeStore&) = delete;

  // POST /volumes/create body {Name, Driver, DriverOpts, Labels}. An empty Name makes an anonymous
  // volume (64 hex, labelled com.docker.volume.anonymous=""). An existing name is returned as is.
  Result<json::Json> create(const json::Json& body);
  // For container create (-v name:/dst, image VOLUMEs): the volume's mountpoint, creating the
  // volume first if it does not exist (labelled anonymous when anonymous) and mounting its
  // driver options. name must not be empty.
  Result<std::string> ensure(const std::string& name, bool anonymous);
  // NotFound "get <name>: no such volume".
  Result<json::Json> inspect(const std::string& name);
  // GET /volumes: {"Volumes": [...], "Warnings": []}; filters name (regexp), driver, label
  // (k or k=v), dangling (needs users).
  Result<json::Json> list(const VolumeFilters& filters, const VolumeUsers& users);
  // Conflict "remove <name>: volume is in use - [<ids>]"; force only ignores a missing volume.
  Result<> remove(const std::string& name, bool force, const VolumeUsers& users);
  // POST /volumes/prune: unused volumes, anonymous ones only unless all=true; filters label,
  // label!, all. {"VolumesDeleted": [...], "SpaceReclaimed": bytes}.
  Result<json::Json> prune(const VolumeFilters& filters, const VolumeUsers& users);
  // system df: every volume with "UsageData": {"Size": bytes, "RefCount": users}.
  Result<json::Json> usage(const VolumeUsers& users);
  // The host directory to bind into a container, mounting driver options if needed.
  Result<std::string> mountpoint(const std::string& name);
  // Bytes used by the volume's files (hard links counted once).
  Result<int64_t> size(const std::string& name);

  bool exists(const std::string& name);
  bool is_anonymous(const std::string& name);
  std::vector<std::string> names();

 private:
  struct Record {
    std::string name, driver = "local", created_at;
    std::map<std::string, std::string> labels, options;
    json::Json to_json(const std::string& mountpoint) const;
  };
  VolumeStore() = default;
  std::string dir_of(const std::string& name) const { return root_ + "/" + name; }
  std::string data_of(const std::string& name) const { return dir_of(name) + "/_data"; }
  Result<> exec(const std::string& sql);
  Result<> load();
  Result<> save(const Record& r);
  Result<> erase(const std::string& name);
  Result<Record> create_locked(std::string name, std::map<std::string, std::string> labels,
                               std::map<std::string, std::string> options);
  Result<> mount_locked(const Record& r);
  Result<> remove_locked(const std::string& name);

  std::mutex mu_;
  std::string root_;  // <data-root>/volumes
  sqlite3* db_ = nullptr;
  std::map<std::string, Record> records_;
};

}  // namespace berth::engine
