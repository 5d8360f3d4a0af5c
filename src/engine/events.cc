// Events: a ring of the last 1024 events guarded by one mutex, with a sequence number per event
// so that a subscriber's cursor survives the ring wrapping; and docker's /events filter matcher.
#include "engine/events.h"

#include <algorithm>
#include <chrono>

#include "engine/event_filter.h"

namespace berth::engine {

namespace {

constexpr size_t kRingSize = 1024;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using Filters = std::map<std::string, std::vector<std::string>>;

const std::vector<std::string>* values_of(const Filters& f, const std::string& key) {
  auto it = f.find(key);
  if (it == f.end() || it->second.empty()) return nullptr;
  return &it->second;
}

// Args.ExactMatch: no values for key matches everything.
bool exact_match(const Filters& f, const std::string& key, const std::string& source) {
  const auto* vals = values_of(f, key);
  if (!vals) return true;
  return std::find(vals->begin(), vals->end(), source) != vals->end();
}

// Args.FuzzyMatch: exact, or a value that is a prefix of source.
bool fuzzy_match(const Filters& f, const std::string& key, const std::string& source) {
  const auto* vals = values_of(f, key);
  if (!vals) return true;
  for (const auto& v : *vals)
    if (source.compare(0, v.size(), v) == 0) return true;
  return false;
}

std::string attr(const json::Json& ev, const std::string& key) {
  const auto& actor = ev.value("Actor", json::Json::object());
  const auto& attrs = actor.value("Attributes", json::Json::object());
  auto it = attrs.find(key);
  return it != attrs.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool fuzzy_match_name(const Filters& f, const std::string& key, const json::Json& ev) {
  if (!values_of(f, key)) return true;
  std::string id = ev.value("Actor", json::Json::object()).value("ID", "");
  return fuzzy_match(f, key, id) || fuzzy_match(f, key, attr(ev, "name"));
}

// "busybox:latest" -> "busybox", "reg:5000/a/b:1" -> "reg:5000/a/b", "x@sha256:.." -> "x".
std::string strip_tag(const std::string& ref) {
  std::string s = ref.substr(0, ref.find('@'));
  auto slash = s.rfind('/');
  auto colon = s.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
    s = s.substr(0, colon);
  return s;
}

bool match_image(const Filters& f, const json::Json& ev) {
  if (!values_of(f, "image")) return true;
  std::string id = ev.value("Actor", json::Json::object()).value("ID", "");
  std::string name = attr(ev, ev.value("Type", "") == "image" ? "name" : "image");
  for (const auto& s : {id, name, strip_tag(id), strip_tag(name)})
    if (!s.empty() && exact_match(f, "image", s)) return true;
  return false;
}

// Args.MatchKVList: every label=k or label=k=v must hold.
bool match_labels(const Filters& f, const json::Json& ev) {
  const auto* vals = values_of(f, "label");
  if (!vals) return true;
  const auto& attrs =
      ev.value("Actor", json::Json::object()).value("Attributes", json::Json::object());
  if (attrs.empty()) return false;
  for (const auto& v : *vals) {
    auto eq = v.find('=');
    std::string k = v.substr(0, eq);
    auto it = attrs.find(k);
    if (it == attrs.end() || !it->is_string()) return false;
    if (eq != std::string::npos && it->get<std::string>() != v.substr(eq + 1)) return false;
  }
  return true;
}

bool match_event(const Filters& f, const std::string& action) {
  // docker (#25798): "exec_start", "exec_create" and "health_status" match their suffixed forms
  // ("exec_start: sh -c ...", "health_status: healthy") by prefix.
  for (const char* key : {"event", "action"}) {
    const auto* vals = values_of(f, key);
    if (!vals) continue;
    bool fuzzy = std::any_of(vals->begin(), vals->end(), [](const std::string& v) {
      return v == "health_status" || v == "exec_create" || v == "exec_start";
    });
    if (!(fuzzy ? fuzzy_match(f, key, action) : exact_match(f, key, action))) return false;
  }
  return true;
}

}  // namespace

bool event_matches(const json::Json& ev, const Filters& f) {
  if (f.empty()) return true;
  if (!ev.is_object()) return false;
  if (!match_event(f, ev.value("Action", ""))) return false;
  if (!exact_match(f, "type", ev.value("Type", ""))) return false;
  if (!exact_match(f, "scope", ev.value("scope", ""))) return false;
  for (const char* key : {"daemon", "container", "plugin", "volume", "network", "node", "service",
                          "secret", "config"})
    if (!fuzzy_match_name(f, key, ev)) return false;
  return match_image(f, ev) && match_labels(f, ev);
}

void Events::publish(const std::string& type, const std::string& action, const std::string& id,
                     std::map<std::string, std::string> attributes) {
  int64_t ns = now_ns();
  json::Json ev = {
      {"Type", type},
      {"Action", action},
      {"Actor", {{"ID", id}, {"Attributes", json::Json::object()}}},
      {"scope", "local"},
      {"time", ns / 1000000000},
      {"timeNano", ns},
  };
  for (auto& [k, v] : attributes) ev["Actor"]["Attributes"][k] = std::move(v);
  // The legacy fields docker still fills for container and image events (compose v1 reads them).
  if (type == "container" || type == "image") {
    ev["status"] = action;
    ev["id"] = id;
    if (type == "container") {
      auto it = ev["Actor"]["Attributes"].find("image");
      ev["from"] = it != ev["Actor"]["Attributes"].end() ? *it : json::Json("");
    }
  }
  {
    std::lock_guard lock(mu_);
    ring_.emplace_back(++seq_, std::move(ev));
    while (ring_.size() > kRingSize) ring_.pop_front();
  }
  cv_.notify_all();
}

bool Events::next(uint64_t* cursor, json::Json* event, int timeout_ms) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return seq_ > *cursor; }))
    return false;
  // The first event after the cursor; if the ring has moved past it, the oldest one kept.
  auto it = std::upper_bound(ring_.begin(), ring_.end(), *cursor,
                             [](uint64_t c, const auto& e) { return c < e.first; });
  if (it == ring_.end()) return false;  // unreachable while seq_ > *cursor and the ring is full
  *cursor = it->first;
  *event = it->second;
  return true;
}

std::vector<json::Json> Events::history(int64_t since_ns, int64_t until_ns, uint64_t* cursor) {
  std::lock_guard lock(mu_);
  std::vector<json::Json> out;
  for (const auto& [seq, ev] : ring_) {
    int64_t t = ev.value("timeNano", int64_t{0});
    if (t < since_ns) continue;
    if (until_ns > 0 && t >= until_ns) continue;
    out.push_back(ev);
  }
  if (cursor) *cursor = seq_;
  return out;
}

uint64_t Events::cursor_now() {
  std::lock_guard lock(mu_);
  return seq_;
}

}  // namespace berth::engine
