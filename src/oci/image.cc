// OCI/Docker image-spec models: parsing with field-named errors (nlohmann exceptions stop here)
// and serialisation over the original JSON so unknown fields are kept.
#include "oci/image.h"

#include <sys/utsname.h>

#include <cstdio>
#include <ctime>

#include "oci/reference.h"

namespace berth::oci {
namespace {

using json::Json;

Result<std::string> get_string(const Json& j, const char* key, bool required, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required)
      return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": missing field " + key);
    return std::string();
  }
  if (!it->is_string())
    return make_error(ErrorCode::kInvalidArgument,
                      std::string(what) + ": field " + key + " is not a string");
  return it->get<std::string>();
}

std::map<std::string, std::string> get_string_map(const Json& j, const char* key) {
  std::map<std::string, std::string> m;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return m;
  for (auto& [k, v] : it->items())
    if (v.is_string()) m[k] = v.get<std::string>();
  return m;
}

std::vector<std::string> get_string_list(const Json& j, const char* key) {
  std::vector<std::string> v;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return v;
  for (const auto& e : *it)
    if (e.is_string()) v.push_back(e.get<std::string>());
  return v;
}

void put_if(Json& j, const char* key, const std::string& v) {
  if (v.empty())
    j.erase(key);
  else
    j[key] = v;
}

void put_map(Json& j, const char* key, const std::map<std::string, std::string>& m) {
  if (m.empty()) {
    j.erase(key);
    return;
  }
  Json o = Json::object();
  for (const auto& [k, v] : m) o[k] = v;
  j[key] = o;
}

Result<Json> parse_object(std::string_view bytes, std::string_view what) {
  ASSIGN_OR_RETURN(Json j, json::parse(bytes, what));
  if (!j.is_object())
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": not a json object");
  return j;
}

}  // namespace

bool is_index_media_type(std::string_view mt) {
  return mt == media_type::kOciIndex || mt == media_type::kDockerManifestList;
}
bool is_manifest_media_type(std::string_view mt) {
  return mt == media_type::kOciManifest || mt == media_type::kDockerManifest;
}
bool is_layer_media_type(std::string_view mt) {
  return mt.starts_with("application/vnd.oci.image.layer.") ||
         mt.starts_with("application/vnd.docker.image.rootfs.");
}

// ---- Platform ----

json::Json Platform::to_json() const {
  Json j = Json::object();
  j["architecture"] = architecture;
  j["os"] = os;
  if (!os_version.empty()) j["os.version"] = os_version;
  if (!os_features.empty()) j["os.features"] = os_features;
  if (!variant.empty()) j["variant"] = variant;
  if (!features.empty()) j["features"] = features;
  return j;
}

Platform Platform::from_json(const json::Json& j) {
  Platform p;
  if (!j.is_object()) return p;
  p.architecture = j.value("architecture", "");
  p.os = j.value("os", "");
  p.os_version = j.value("os.version", "");
  p.variant = j.value("variant", "");
  p.os_features = get_string_list(j, "os.features");
  p.features = get_string_list(j, "features");
  return p;
}

std::string Platform::string() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

std::string go_arch(std::string_view m) {
  if (m == "x86_64") return "amd64";
  if (m == "aarch64" || m == "arm64") return "arm64";
  if (m.starts_with("armv") || m == "arm") return "arm";
  if (m == "i386" || m == "i686") return "386";
  if (m == "ppc64le") return "ppc64le";
  if (m == "s390x") return "s390x";
  if (m == "riscv64") return "riscv64";
  return std::string(m);
}

Platform host_platform() {
  Platform p;
  p.os = "linux";
  struct utsname u {};
  if (uname(&u) == 0) {
    p.architecture = go_arch(u.machine);
    std::string_view m = u.machine;
    if (m.starts_with("armv7")) p.variant = "v7";
    if (m.starts_with("armv6")) p.variant = "v6";
  } else {
    p.architecture = "amd64";
  }
  return p;
}

// ---- Descriptor ----

json::Json Descriptor::to_json() const {
  Json j = raw.is_object() ? raw : Json::object();
  j["mediaType"] = media_type;
  j["digest"] = digest;
  j["size"] = size;
  if (urls.empty())
    j.erase("urls");
  else
    j["urls"] = urls;
  put_map(j, "annotations", annotations);
  if (platform)
    j["platform"] = platform->to_json();
  else
    j.erase("platform");
  put_if(j, "artifactType", artifact_type);
  return j;
}

Result<Descriptor> Descriptor::from_json(const json::Json& j) {
  if (!j.is_object()) return make_error(ErrorCode::kInvalidArgument, "descriptor: not an object");
  Descriptor d;
  d.raw = j;
  ASSIGN_OR_RETURN(d.media_type, get_string(j, "mediaType", false, "descriptor"));
  ASSIGN_OR_RETURN(d.digest, get_string(j, "digest", true, "descriptor"));
  if (!is_valid_digest(d.digest))
    return make_error(ErrorCode::kInvalidArgument, "descriptor: invalid digest " + d.digest);
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "descriptor " + d.digest + ": missing or invalid size");
  d.size = size->get<int64_t>();
  d.urls = get_string_list(j, "urls");
  d.annotations = get_string_map(j, "annotations");
  if (auto p = j.find("platform"); p != j.end() && p->is_object())
    d.platform = Platform::from_json(*p);
  ASSIGN_OR_RETURN(d.artifact_type, get_string(j, "artifactType", false, "descriptor"));
  return d;
}

// ---- Manifest ----

json::Json Manifest::to_json() const {
  Json j = raw.is_object() ? raw : Json::object();
  j["schemaVersion"] = schema_version;
  put_if(j, "mediaType", media_type);
  put_if(j, "artifactType", artifact_type);
  j["config"] = config.to_json();
  Json layers_json = Json::array();
  for (const auto& l : layers) layers_json.push_back(l.to_json());
  j["layers"] = layers_json;
  put_map(j, "annotations", annotations);
  return j;
}

Result<Manifest> Manifest::from_json(const json::Json& j) {
  if (!j.is_object()) return make_error(ErrorCode::kInvalidArgument, "manifest: not an object");
  Manifest m;
  m.raw = j;
  m.schema_version = j.value("schemaVersion", 0);
  if (m.schema_version != 2)
    return make_error(ErrorCode::kInvalidArgument,
                      "manifest: unsupported schemaVersion " + std::to_string(m.schema_version));
  ASSIGN_OR_RETURN(m.media_type, get_string(j, "mediaType", false, "manifest"));
  if (!m.media_type.empty() && !is_manifest_media_type(m.media_type))
    return make_error(ErrorCode::kInvalidArgument,
                      "manifest: unexpected media type " + m.media_type);
  ASSIGN_OR_RETURN(m.artifact_type, get_string(j, "artifactType", false, "manifest"));
  auto cfg = j.find("config");
  if (cfg == j.end()) return make_error(ErrorCode::kInvalidArgument, "manifest: missing config");
  {
    auto d = Descriptor::from_json(*cfg);
    if (!d) return std::unexpected(std::move(d).error().wrap("manifest config"));
    m.config = std::move(*d);
  }
  auto layers = j.find("layers");
  if (layers != j.end() && !layers->is_null()) {
    if (!layers->is_array())
      return make_error(ErrorCode::kInvalidArgument, "manifest: layers is not an array");
    for (const auto& l : *layers) {
      auto d = Descriptor::from_json(l);
      if (!d) return std::unexpected(std::move(d).error().wrap("manifest layer"));
      m.layers.push_back(std::move(*d));
    }
  }
  m.annotations = get_string_map(j, "annotations");
  return m;
}

Result<Manifest> Manifest::parse(std::string_view bytes) {
  ASSIGN_OR_RETURN(Json j, parse_object(bytes, "manifest"));
  return from_json(j);
}

// ---- Index ----

json::Json Index::to_json() const {
  Json j = raw.is_object() ? raw : Json::object();
  j["schemaVersion"] = schema_version;
  put_if(j, "mediaType", media_type);
  Json ms = Json::array();
  for (const auto& d : manifests) ms.push_back(d.to_json());
  j["manifests"] = ms;
  put_map(j, "annotations", annotations);
  return j;
}

Result<Index> Index::from_json(const json::Json& j) {
  if (!j.is_object()) return make_error(ErrorCode::kInvalidArgument, "index: not an object");
  Index idx;
  idx.raw = j;
  idx.schema_version = j.value("schemaVersion", 0);
  if (idx.schema_version != 2)
    return make_error(ErrorCode::kInvalidArgument,
                      "index: unsupported schemaVersion " + std::to_string(idx.schema_version));
  ASSIGN_OR_RETURN(idx.media_type, get_string(j, "mediaType", false, "index"));
  auto ms = j.find("manifests");
  if (ms == j.end() || !ms->is_array())
    return make_error(ErrorCode::kInvalidArgument, "index: missing manifests");
  for (const auto& e : *ms) {
    auto d = Descriptor::from_json(e);
    if (!d) return std::unexpected(std::move(d).error().wrap("index manifest"));
    idx.manifests.push_back(std::move(*d));
  }
  idx.annotations = get_string_map(j, "annotations");
  return idx;
}

Result<Index> Index::parse(std::string_view bytes) {
  ASSIGN_OR_RETURN(Json j, parse_object(bytes, "index"));
  return from_json(j);
}

// ---- Config ----

json::Json HistoryEntry::to_json() const {
  Json j = Json::object();
  if (!created.empty()) j["created"] = created;
  if (!created_by.empty()) j["created_by"] = created_by;
  if (!author.empty()) j["author"] = author;
  if (!comment.empty()) j["comment"] = comment;
  if (empty_layer) j["empty_layer"] = true;
  return j;
}

HistoryEntry HistoryEntry::from_json(const json::Json& j) {
  HistoryEntry h;
  if (!j.is_object()) return h;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  h.created = str("created");
  h.created_by = str("created_by");
  h.author = str("author");
  h.comment = str("comment");
  auto e = j.find("empty_layer");
  h.empty_layer = e != j.end() && e->is_boolean() && e->get<bool>();
  return h;
}

Result<ImageConfig> ImageConfig::from_json(const json::Json& j) {
  if (!j.is_object()) return make_error(ErrorCode::kInvalidArgument, "image config: not an object");
  ImageConfig c;
  c.raw = j;
  ASSIGN_OR_RETURN(c.architecture, get_string(j, "architecture", false, "image config"));
  ASSIGN_OR_RETURN(c.os, get_string(j, "os", false, "image config"));
  ASSIGN_OR_RETURN(c.variant, get_string(j, "variant", false, "image config"));
  ASSIGN_OR_RETURN(c.created, get_string(j, "created", false, "image config"));
  ASSIGN_OR_RETURN(c.author, get_string(j, "author", false, "image config"));
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object())
    return make_error(ErrorCode::kInvalidArgument, "image config: missing rootfs");
  if (rootfs->value("type", "") != "layers")
    return make_error(ErrorCode::kInvalidArgument, "image config: rootfs type is not layers");
  auto ids = rootfs->find("diff_ids");
  if (ids != rootfs->end() && !ids->is_null()) {
    if (!ids->is_array())
      return make_error(ErrorCode::kInvalidArgument,
                        "image config: rootfs.diff_ids is not an array");
    for (const auto& d : *ids) {
      if (!d.is_string() || !is_valid_digest(d.get<std::string>()))
        return make_error(ErrorCode::kInvalidArgument, "image config: invalid diff id " + d.dump());
      c.diff_ids.push_back(d.get<std::string>());
    }
  }
  if (auto h = j.find("history"); h != j.end() && h->is_array())
    for (const auto& e : *h) c.history.push_back(HistoryEntry::from_json(e));
  if (auto cfg = j.find("config"); cfg != j.end() && cfg->is_object()) c.config = *cfg;
  return c;
}

Result<ImageConfig> ImageConfig::parse(std::string_view bytes) {
  ASSIGN_OR_RETURN(Json j, parse_object(bytes, "image config"));
  return from_json(j);
}

// ---- time ----

int64_t parse_rfc3339(std::string_view s) {
  if (s.size() < 20) return 0;
  int y, mo, d, h, mi, sec;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
    return 0;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t t = timegm(&tm);
  size_t i = 19;
  if (i < str.size() && str[i] == '.') {
    ++i;
    while (i < str.size() && std::isdigit(static_cast<unsigned char>(str[i]))) ++i;
  }
  if (i < str.size() && (str[i] == '+' || str[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(str.c_str() + i + 1, "%2d:%2d", &oh, &om) == 2) {
      int64_t off = oh * 3600 + om * 60;
      t += str[i] == '+' ? -off : off;
    }
  }
  return t;
}

std::string format_rfc3339(int64_t seconds, int64_t nanos) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  if (nanos >= 0) {
    char frac[32];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos));
    s += frac;
  }
  return s + "Z";
}

}  // namespace berth::oci
