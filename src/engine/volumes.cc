// VolumeStore: an in-memory map of records, written through to SQLite (one JSON document per
// volume, one statement per change) under one mutex. The data directory is created before its
// record is saved and removed before its record is deleted, so a crash leaves at worst an
// orphaned directory, never a record without data.
#include "engine/volumes.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>
#include <regex>
#include <set>

#include "base/file.h"
#include "base/strings.h"
#include "base/unique_fd.h"

namespace berth::engine {

namespace {

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

// docker's local volume name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+
bool valid_name(const std::string& n) {
  if (n.size() < 2) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(n[0])) return false;
  for (char c : n)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

std::string random_hex64() {
  std::string raw(32, '\0');
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd || ::read(fd.get(), raw.data(), raw.size()) != static_cast<ssize_t>(raw.size())) {
    std::random_device rd;
    for (auto& ch : raw) ch = static_cast<char>(rd());
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char ch : raw) out += hex[ch >> 4], out += hex[ch & 15];
  return out;
}

std::string rfc3339_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::map<std::string, std::string>> string_map(const json::Json& j,
                                                      const std::string& what) {
  std::map<std::string, std::string> out;
  if (j.is_null()) return out;
  if (!j.is_object()) return make_error(ErrorCode::kInvalidArgument, what + ": expected an object");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string())
      return make_error(ErrorCode::kInvalidArgument, what + ": value of " + k + " is not a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// The local driver's options: type=tmpfs [device=tmpfs] [o=size=..,uid=..], or a bind mount
// o=bind device=/host/dir [type=none]. Anything else (a block device, nfs) is refused.
struct MountSpec {
  bool bind = false, recursive = false;
  std::string type, device, data;
  unsigned long flags = 0;
};

Result<MountSpec> parse_options(const std::map<std::string, std::string>& opts) {
  MountSpec m;
  for (const auto& [k, v] : opts) {
    if (k == "size")
      return make_error(ErrorCode::kInvalidArgument, "quota size requested but no quota support");
    if (k != "type" && k != "device" && k != "o")
      return make_error(ErrorCode::kInvalidArgument, "invalid option: \"" + k + "\"");
  }
  auto get = [&](const char* k) {
    auto it = opts.find(k);
    return it == opts.end() ? std::string() : it->second;
  };
  m.type = get("type");
  m.device = get("device");
  static const std::map<std::string, std::pair<unsigned long, bool>> kFlags = {
      {"ro", {MS_RDONLY, true}},         {"rw", {MS_RDONLY, false}},
      {"nosuid", {MS_NOSUID, true}},     {"suid", {MS_NOSUID, false}},
      {"nodev", {MS_NODEV, true}},       {"dev", {MS_NODEV, false}},
      {"noexec", {MS_NOEXEC, true}},     {"exec", {MS_NOEXEC, false}},
      {"sync", {MS_SYNCHRONOUS, true}},  {"async", {MS_SYNCHRONOUS, false}},
      {"noatime", {MS_NOATIME, true}},   {"nodiratime", {MS_NODIRATIME, true}},
      {"relatime", {MS_RELATIME, true}}, {"strictatime", {MS_STRICTATIME, true}},
  };
  for (const auto& o : split(get("o"), ',')) {
    if (o.empty()) continue;
    if (o == "bind" || o == "rbind") {
      m.bind = true;
      m.recursive = o == "rbind";
    } else if (auto it = kFlags.find(o); it != kFlags.end()) {
      if (it->second.second)
        m.flags |= it->second.first;
      else
        m.flags &= ~it->second.first;
    } else {
      if (!m.data.empty()) m.data += ',';
      m.data += o;
    }
  }
  if (opts.empty()) return m;
  if (m.bind) {
    if (m.type != "" && m.type != "none" && m.type != "bind")
      return make_error(ErrorCode::kInvalidArgument,
                        "volume option type=" + m.type + " cannot be combined with o=bind");
    if (m.device.empty() || m.device[0] != '/')
      return make_error(ErrorCode::kInvalidArgument,
                        "bind volume needs an absolute device path, got \"" + m.device + "\"");
    return m;
  }
  if (m.type == "tmpfs") return m;
  return make_error(ErrorCode::kInvalidArgument,
                    "local volume option type=" + m.type +
                        " is not supported (supported: type=tmpfs, or o=bind with device=<dir>)");
}

bool is_mount_root(const std::string& path) {
  struct statx st {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, 0, &st) != 0) return false;
  return (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (st.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// Sum of st_size of everything below dir (symlinks not followed, hard links once), as docker's
// directory.Size does.
int64_t dir_size(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::set<std::pair<dev_t, ino_t>> seen;
  int64_t total = 0;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += st.st_size;
  }
  return total;
}

bool match_kv_list(const std::vector<std::string>& want,
                   const std::map<std::string, std::string>& labels) {
  for (const auto& w : want) {
    auto eq = w.find('=');
    auto it = labels.find(w.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != w.substr(eq + 1)) return false;
  }
  return true;
}

Result<bool> parse_bool_filter(const std::string& key, const std::vector<std::string>& vals) {
  bool out = false;
  for (const auto& v : vals) {
    if (v == "true" || v == "1")
      out = true;
    else if (v == "false" || v == "0")
      out = false;
    else
      return make_error(ErrorCode::kInvalidArgument, "invalid filter '" + key + "=" + v + "'");
  }
  return out;
}

Result<> check_keys(const VolumeFilters& f, std::initializer_list<const char*> allowed) {
  for (const auto& [k, v] : f) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) return make_error(ErrorCode::kInvalidArgument, "invalid filter '" + k + "'");
  }
  return {};
}

std::vector<std::string> users_of(const VolumeUsers& users, const std::string& name) {
  return users ? users(name) : std::vector<std::string>{};
}

}  // namespace

json::Json VolumeStore::Record::to_json(const std::string& mountpoint) const {
  return {
      {"Name", name},     {"Driver", driver}, {"Mountpoint", mountpoint}, {"CreatedAt", created_at},
      {"Labels", labels}, {"Scope", "local"}, {"Options", options}};
}

Result<std::unique_ptr<VolumeStore>> VolumeStore::open(const std::string& data_root) {
  std::unique_ptr<VolumeStore> vs(new VolumeStore());
  vs->root_ = data_root + "/volumes";
  TRY_CTX(mkdir_all(vs->root_, 0701), "creating " + vs->root_);
  std::string path = data_root + "/metadata.db";
  if (sqlite3_open_v2(path.c_str(), &vs->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return make_error(
        ErrorCode::kInternal,
        "opening " + path + ": " + (vs->db_ ? sqlite3_errmsg(vs->db_) : "out of memory"));
  sqlite3_busy_timeout(vs->db_, 10000);
  TRY(vs->exec("PRAGMA journal_mode=WAL"));
  TRY(vs->exec("PRAGMA synchronous=NORMAL"));
  TRY(vs->exec(
      "CREATE TABLE IF NOT EXISTS volume_records (name TEXT PRIMARY KEY, doc TEXT NOT NULL)"));
  TRY(vs->load());
  return vs;
}

VolumeStore::~VolumeStore() {
  if (db_) sqlite3_close_v2(db_);
}

Result<> VolumeStore::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return make_error(ErrorCode::kInternal, "metadata.db: " + msg);
  }
  return {};
}

Result<> VolumeStore::load() {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT name, doc FROM volume_records", -1, &st.s, nullptr) !=
      SQLITE_OK)
    return make_error(ErrorCode::kInternal, std::string("metadata.db: ") + sqlite3_errmsg(db_));
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    auto name = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
    auto text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 1));
    auto j = json::parse(text ? text : "", "volume record");
    if (!name || !j || !j->is_object()) continue;  // a damaged row hides one volume, not all
    Record r;
    r.name = name;
    r.driver = j->value("Driver", "local");
    r.created_at = j->value("CreatedAt", "");
    auto labels = string_map(j->value("Labels", json::Json()), "labels");
    auto options = string_map(j->value("Options", json::Json()), "options");
    if (labels) r.labels = std::move(*labels);
    if (options) r.options = std::move(*options);
    records_[r.name] = std::move(r);
  }
  if (rc != SQLITE_DONE)
    return make_error(ErrorCode::kInternal,
                      std::string("reading volume records: ") + sqlite3_errmsg(db_));
  return {};
}

Result<> VolumeStore::save(const Record& r) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO volume_records (name, doc) VALUES (?, ?)", -1,
                         &st.s, nullptr) != SQLITE_OK)
    return make_error(ErrorCode::kInternal, std::string("metadata.db: ") + sqlite3_errmsg(db_));
  json::Json doc = {{"Name", r.name},
                    {"Driver", r.driver},
                    {"CreatedAt", r.created_at},
                    {"Labels", r.labels},
                    {"Options", r.options}};
  std::string text = doc.dump();
  sqlite3_bind_text(st.s, 1, r.name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return make_error(ErrorCode::kInternal, "saving volume " + r.name + ": " + sqlite3_errmsg(db_));
  return {};
}

Result<> VolumeStore::erase(const std::string& name) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM volume_records WHERE name = ?", -1, &st.s, nullptr) !=
      SQLITE_OK)
    return make_error(ErrorCode::kInternal, std::string("metadata.db: ") + sqlite3_errmsg(db_));
  sqlite3_bind_text(st.s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE)
    return make_error(ErrorCode::kInternal, "removing volume " + name + ": " + sqlite3_errmsg(db_));
  return {};
}

Result<VolumeStore::Record> VolumeStore::create_locked(std::string name,
                                                       std::map<std::string, std::string> labels,
                                                       std::map<std::string, std::string> options) {
  if (name.empty()) {
    name = random_hex64();
    labels.emplace(kAnonymousLabel, "");
  }
  if (!valid_name(name))
    return make_error(ErrorCode::kInvalidArgument,
                      "\"" + name +
                          "\" includes invalid characters for a local volume name, only "
                          "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a "
                          "host directory, use absolute path");
  if (auto it = records_.find(name); it != records_.end()) return it->second;
  TRY(parse_options(options));
  Record r{.name = name,
           .driver = "local",
           .created_at = rfc3339_now(),
           .labels = std::move(labels),
           .options = std::move(options)};
  std::string dir = dir_of(name);
  if (::mkdir(dir.c_str(), 0701) != 0 && errno != EEXIST)
    return errno_error("creating volume directory " + dir);
  ScopeGuard undo([&] { (void)remove_all(dir); });
  std::string data = data_of(name);
  if (::mkdir(data.c_str(), 0755) != 0 && errno != EEXIST)
    return errno_error("creating volume directory " + data);
  TRY(save(r));
  undo.dismiss();
  records_[name] = r;
  return r;
}

Result<> VolumeStore::mount_locked(const Record& r) {
  if (r.options.empty()) return {};
  std::string data = data_of(r.name);
  if (is_mount_root(data)) return {};
  ASSIGN_OR_RETURN(MountSpec m, parse_options(r.options));
  if (m.bind) {
    unsigned long flags = MS_BIND | (m.recursive ? MS_REC : 0);
    if (::mount(m.device.c_str(), data.c_str(), nullptr, flags, nullptr) != 0)
      return errno_error("mounting volume " + r.name + ": bind " + m.device);
    if (m.flags) {
      if (::mount(nullptr, data.c_str(), nullptr, MS_REMOUNT | MS_BIND | m.flags, nullptr) != 0) {
        int err = errno;
        ::umount2(data.c_str(), MNT_DETACH);
        return errno_error(err, "mounting volume " + r.name + ": remounting " + data);
      }
    }
    return {};
  }
  std::string source = m.device.empty() ? "tmpfs" : m.device;
  if (::mount(source.c_str(), data.c_str(), m.type.c_str(), m.flags,
              m.data.empty() ? nullptr : m.data.c_str()) != 0)
    return errno_error("mounting volume " + r.name + ": " + m.type + " with options \"" + m.data +
                       "\"");
  return {};
}

Result<json::Json> VolumeStore::create(const json::Json& body) {
  if (!body.is_object() && !body.is_null())
    return make_error(ErrorCode::kInvalidArgument, "volume create: body is not a JSON object");
  json::Json b = body.is_null() ? json::Json::object() : body;
  auto str = [&](const char* k) -> Result<std::string> {
    auto it = b.find(k);
    if (it == b.end() || it->is_null()) return std::string();
    if (!it->is_string())
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("volume create: ") + k + " is not a string");
    return it->get<std::string>();
  };
  ASSIGN_OR_RETURN(std::string name, str("Name"));
  ASSIGN_OR_RETURN(std::string driver, str("Driver"));
  if (!driver.empty() && driver != "local")
    return make_error(ErrorCode::kInvalidArgument, "volume driver " + driver + " not supported");
  ASSIGN_OR_RETURN(auto labels, string_map(b.value("Labels", json::Json()), "volume labels"));
  ASSIGN_OR_RETURN(auto opts, string_map(b.value("DriverOpts", json::Json()), "volume options"));
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(Record r, create_locked(name, std::move(labels), std::move(opts)));
  return r.to_json(data_of(r.name));
}

Result<std::string> VolumeStore::ensure(const std::string& name, bool anonymous) {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "volume name is empty");
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> labels;
  if (anonymous) labels.emplace(kAnonymousLabel, "");
  ASSIGN_OR_RETURN(Record r, create_locked(name, std::move(labels), {}));
  TRY(mount_locked(r));
  return data_of(name);
}

Result<json::Json> VolumeStore::inspect(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = records_.find(name);
  if (it == records_.end())
    return make_error(ErrorCode::kNotFound, "get " + name + ": no such volume");
  return it->second.to_json(data_of(name));
}

Result<std::string> VolumeStore::mountpoint(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = records_.find(name);
  if (it == records_.end())
    return make_error(ErrorCode::kNotFound, "get " + name + ": no such volume");
  TRY(mount_locked(it->second));
  return data_of(name);
}

Result<json::Json> VolumeStore::list(const VolumeFilters& f, const VolumeUsers& users) {
  TRY(check_keys(f, {"name", "driver", "label", "dangling"}));
  std::optional<bool> dangling;
  if (auto it = f.find("dangling"); it != f.end() && !it->second.empty()) {
    ASSIGN_OR_RETURN(dangling, parse_bool_filter("dangling", it->second));
  }
  std::vector<std::regex> name_res;
  std::vector<std::string> names_exact;
  if (auto it = f.find("name"); it != f.end())
    for (const auto& n : it->second) {
      names_exact.push_back(n);
      try {
        name_res.emplace_back(n);
      } catch (const std::regex_error&) {
        // docker: an invalid regexp only matches exactly
      }
    }
  std::vector<Record> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [n, r] : records_) all.push_back(r);
  }
  json::Json out = json::Json::array();
  for (const auto& r : all) {
    if (!names_exact.empty()) {
      bool ok = std::find(names_exact.begin(), names_exact.end(), r.name) != names_exact.end();
      for (const auto& re : name_res) ok = ok || std::regex_search(r.name, re);
      if (!ok) continue;
    }
    if (auto it = f.find("driver");
        it != f.end() && !it->second.empty() &&
        std::find(it->second.begin(), it->second.end(), r.driver) == it->second.end())
      continue;
    if (auto it = f.find("label"); it != f.end() && !match_kv_list(it->second, r.labels)) continue;
    if (dangling && users_of(users, r.name).empty() != *dangling) continue;
    out.push_back(r.to_json(data_of(r.name)));
  }
  return json::Json{{"Volumes", out}, {"Warnings", json::Json::array()}};
}

Result<> VolumeStore::remove_locked(const std::string& name) {
  std::string data = data_of(name);
  // A bind or tmpfs volume is unmounted first: the tree below a bind mount is the host's.
  for (int i = 0; i < 8 && is_mount_root(data); ++i)
    if (::umount2(data.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
      return errno_error("remove " + name + ": unmounting " + data);
  if (is_mount_root(data))
    return make_error(ErrorCode::kInternal, "remove " + name + ": " + data + " is still mounted");
  TRY_CTX(remove_all(dir_of(name)), "remove " + name);
  TRY(erase(name));
  records_.erase(name);
  return {};
}

Result<> VolumeStore::remove(const std::string& name, bool force, const VolumeUsers& users) {
  // users is the engine's callback (it takes the engine's locks): never called under mu_.
  if (!exists(name)) {
    if (force) return {};
    return make_error(ErrorCode::kNotFound, "get " + name + ": no such volume");
  }
  auto ids = users_of(users, name);
  std::lock_guard lock(mu_);
  if (!records_.contains(name)) {
    if (force) return {};
    return make_error(ErrorCode::kNotFound, "get " + name + ": no such volume");
  }
  if (!ids.empty()) {
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : " ") + id;
    return make_error(ErrorCode::kConflict,
                      "remove " + name + ": volume is in use - [" + list + "]");
  }
  return remove_locked(name);
}

Result<json::Json> VolumeStore::prune(const VolumeFilters& f, const VolumeUsers& users) {
  TRY(check_keys(f, {"label", "label!", "all"}));
  bool all = false;
  if (auto it = f.find("all"); it != f.end() && !it->second.empty()) {
    ASSIGN_OR_RETURN(all, parse_bool_filter("all", it->second));
  }
  std::vector<std::string> candidates, victims;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, r] : records_) {
      if (!all && !r.labels.contains(kAnonymousLabel)) continue;
      if (auto it = f.find("label"); it != f.end() && !match_kv_list(it->second, r.labels))
        continue;
      if (auto it = f.find("label!");
          it != f.end() && !it->second.empty() && match_kv_list(it->second, r.labels))
        continue;
      candidates.push_back(name);
    }
  }
  // users takes the engine's locks: asked outside mu_.
  for (const auto& name : candidates)
    if (users_of(users, name).empty()) victims.push_back(name);
  std::lock_guard lock(mu_);
  json::Json deleted = json::Json::array();
  int64_t reclaimed = 0;
  for (const auto& name : victims) {
    if (!records_.contains(name)) continue;
    int64_t sz = dir_size(data_of(name));
    if (!remove_locked(name)) continue;  // docker skips a volume it cannot remove
    deleted.push_back(name);
    reclaimed += sz;
  }
  return json::Json{{"VolumesDeleted", deleted}, {"SpaceReclaimed", reclaimed}};
}

Result<json::Json> VolumeStore::usage(const VolumeUsers& users) {
  std::vector<Record> all;
  {
    std::lock_guard lock(mu_);
    for (const auto& [n, r] : records_) all.push_back(r);
  }
  json::Json out = json::Json::array();
  for (const auto& r : all) {
    json::Json v = r.to_json(data_of(r.name));
    v["UsageData"] = {{"Size", dir_size(data_of(r.name))},
                      {"RefCount", static_cast<int64_t>(users_of(users, r.name).size())}};
    out.push_back(std::move(v));
  }
  return out;
}

Result<int64_t> VolumeStore::size(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    if (!records_.contains(name))
      return make_error(ErrorCode::kNotFound, "get " + name + ": no such volume");
  }
  return dir_size(data_of(name));
}

bool VolumeStore::exists(const std::string& name) {
  std::lock_guard lock(mu_);
  return records_.contains(name);
}

bool VolumeStore::is_anonymous(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = records_.find(name);
  return it != records_.end() && it->second.labels.contains(kAnonymousLabel);
}

std::vector<std::string> VolumeStore::names() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [n, r] : records_) out.push_back(n);
  return out;
}

}  // namespace berth::engine
