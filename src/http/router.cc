// Router: Docker API path patterns ({id} segments, a {name*} that spans slashes) and the /v1.NN
// version prefix; plus the small Request/ResponseWriter helpers shared by every handler.
// Key idea: patterns are pre-split into segments; a {name*} takes as few segments as possible
// such that the fixed rest of the pattern still matches ("/images/{name*}/json" against
// "/images/docker.io/library/busybox:latest/json"). Routes are tried in registration order.
#include "http/server.h"

#include <strings.h>

#include <algorithm>

namespace berth::http {

namespace {

enum class SegKind { kLiteral, kParam, kRest };

struct Segment {
  SegKind kind;
  std::string text;  // literal text or parameter name
};

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool is_version_segment(std::string_view s) {
  if (s.size() < 2 || s[0] != 'v') return false;
  bool digit = false;
  for (char c : s.substr(1)) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '.') {
      return false;
    }
  }
  return digit;
}

}  // namespace

struct Router::Route {
  std::string method;
  std::vector<Segment> segs;
  Handler handler;
  RouteOptions opts;

  // Matches pattern segments [i..) against path segments [j..); fills params on success.
  bool match(size_t i, const std::vector<std::string_view>& path, size_t j,
             std::map<std::string, std::string>& params) const {
    if (i == segs.size()) return j == path.size();
    const Segment& s = segs[i];
    switch (s.kind) {
      case SegKind::kLiteral:
        return j < path.size() && path[j] == s.text && match(i + 1, path, j + 1, params);
      case SegKind::kParam:
        if (j >= path.size() || path[j].empty()) return false;
        if (!match(i + 1, path, j + 1, params)) return false;
        params[s.text] = std::string(path[j]);
        return true;
      case SegKind::kRest:
        for (size_t end = j + 1; end <= path.size(); ++end) {
          if (!match(i + 1, path, end, params)) continue;
          std::string v;
          for (size_t k = j; k < end; ++k) {
            if (k > j) v += '/';
            v += path[k];
          }
          params[s.text] = std::move(v);
          return true;
        }
        return false;
    }
    return false;
  }
};

void Router::add(std::string method, std::string pattern, Handler handler, RouteOptions opts) {
  auto r = std::make_shared<Route>();
  r->method = std::move(method);
  for (std::string_view seg : split_path(pattern)) {
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      std::string_view name = seg.substr(1, seg.size() - 2);
      if (!name.empty() && name.back() == '*') {
        name.remove_suffix(1);
        r->segs.push_back({SegKind::kRest, std::string(name)});
      } else {
        r->segs.push_back({SegKind::kParam, std::string(name)});
      }
    } else {
      r->segs.push_back({SegKind::kLiteral, std::string(seg)});
    }
  }
  r->handler = std::move(handler);
  r->opts = opts;
  routes_.push_back(std::move(r));
}

void Router::set_not_found(Handler handler) {
  not_found_ = std::move(handler);
}

void Router::set_middleware(std::function<bool(Request&, ResponseWriter&)> mw) {
  mw_ = std::move(mw);
}

std::optional<Router::Match> Router::match(Request& req) const {
  auto segs = split_path(req.path);
  if (!segs.empty() && is_version_segment(segs[0])) {
    req.api_version = std::string(segs[0].substr(1));
    std::string rest;
    for (size_t k = 1; k < segs.size(); ++k) {
      rest += '/';
      rest += segs[k];
    }
    if (rest.empty()) rest = "/";
    req.path = std::move(rest);
    segs = split_path(req.path);
  }
  // A HEAD request falls back to the GET route of the same path (served without a body).
  for (int pass = 0; pass < 2; ++pass) {
    std::string_view method = req.method;
    if (pass == 1) {
      if (req.method != "HEAD") break;
      method = "GET";
    }
    for (const auto& r : routes_) {
      if (r->method != method) continue;
      std::map<std::string, std::string> params;
      if (!r->match(0, segs, 0, params)) continue;
      req.params = std::move(params);
      return Match{&r->handler, r->opts};
    }
  }
  return std::nullopt;
}

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return "";
}

std::string Request::q(std::string_view key) const {
  auto it = query.find(std::string(key));
  return it == query.end() ? "" : it->second;
}

// Moby's httputils.BoolValue: present and not one of "", "0", "no", "false", "none".
bool Request::q_bool(std::string_view key, bool dflt) const {
  auto it = query.find(std::string(key));
  if (it == query.end()) return dflt;
  std::string v;
  for (char c : it->second)
    if (c != ' ' && c != '\t') v.push_back(static_cast<char>(std::tolower(c)));
  return !(v.empty() || v == "0" || v == "no" || v == "false" || v == "none");
}

void ResponseWriter::send_json(int status, const json::Json& body, const Headers& headers) {
  std::string text = json::dump(body);
  text.push_back('\n');  // moby's json.Encoder ends every document with a newline
  send(status, "application/json", text, headers);
}

void ResponseWriter::send_empty(int status, const Headers& headers) {
  send(status, "", "", headers);
}

}  // namespace berth::http
