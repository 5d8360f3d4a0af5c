// Connection, version negotiation and error shaping shared by every command.
#include "cli/cli.h"

#include <unistd.h>
#include <cstdlib>

#include <fmt/format.h>

namespace berth::cli {

std::string resolve_host(std::string_view flag) {
  if (!flag.empty()) return std::string(flag);
  if (const char* e = std::getenv("DOCKER_HOST"); e && *e) return e;
  return std::string(kDefaultHost);
}

int compare_versions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    int v = 0;
    while (!s.empty() && s.front() != '.') {
      if (s.front() >= '0' && s.front() <= '9') v = v * 10 + (s.front() - '0');
      s.remove_prefix(1);
    }
    if (!s.empty()) s.remove_prefix(1);
    return v;
  };
  while (!a.empty() || !b.empty()) {
    const int x = next(a), y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

Result<Value> parse_json(std::string_view text, std::string_view what) {
  try {
    return Value::parse(text);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, fmt::format("parsing {}: {}", what, e.what()));
  }
}

Error daemon_error(int status, std::string_view body) {
  std::string msg;
  if (!body.empty()) {
    try {
      auto j = Value::parse(body);
      if (j.is_object() && j.contains("message") && j["message"].is_string())
        msg = j["message"].get<std::string>();
    } catch (const std::exception&) {
    }
    if (msg.empty()) {
      msg = std::string(body);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    }
  }
  if (msg.empty()) msg = fmt::format("server returned status {}", status);
  ErrorCode code = ErrorCode::kInternal;
  switch (status) {
    case 400:
      code = ErrorCode::kInvalidArgument;
      break;
    case 401:
    case 403:
      code = ErrorCode::kPermissionDenied;
      break;
    case 404:
      code = ErrorCode::kNotFound;
      break;
    case 409:
      code = ErrorCode::kConflict;
      break;
    case 501:
      code = ErrorCode::kUnimplemented;
      break;
    case 503:
      code = ErrorCode::kUnavailable;
      break;
    default:
      break;
  }
  return Error(code, "Error response from daemon: " + msg);
}

Result<void> Cli::negotiate() {
  if (negotiated_) return {};
  if (!client_) {
    auto c = http::Client::create(host_);
    if (!c)
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("Cannot connect to the berth daemon at {}. Is the daemon "
                                    "running?",
                                    host_));
    client_ = std::move(*c);
  }
  auto r = client_->request("HEAD", "/_ping");
  if (r && r->status != 200 && r->status != 500) r = client_->request("GET", "/_ping");
  if (!r)
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("Cannot connect to the berth daemon at {}. Is the daemon "
                                  "running?",
                                  host_));
  std::string server = r->header("Api-Version");
  version_ = std::string(kMaxApiVersion);
  if (const char* e = std::getenv("DOCKER_API_VERSION"); e && *e) version_ = e;
  if (!server.empty() && compare_versions(server, version_) < 0) version_ = server;
  negotiated_ = true;
  return {};
}

Result<http::Client*> Cli::client() {
  TRY(negotiate());
  return client_.get();
}

Result<std::string> Cli::api_version() {
  TRY(negotiate());
  return version_;
}

Result<std::string> Cli::versioned(std::string_view path) {
  TRY(negotiate());
  return "/v" + version_ + std::string(path);
}

Result<http::Response> Cli::call(std::string_view method, std::string_view path,
                                 const http::RequestOptions& opts) {
  ASSIGN_OR_RETURN(auto target, versioned(path));
  auto r = client_->request(method, target, opts);
  if (!r) return std::unexpected(std::move(r).error());
  if (r->status >= 400) return std::unexpected(daemon_error(r->status, r->body));
  return r;
}

Result<http::Response> Cli::call_json(std::string_view method, std::string_view path,
                                      const Value& body) {
  http::RequestOptions o;
  o.body = body.dump(-1, ' ', false, Value::error_handler_t::replace);
  o.content_type = "application/json";
  return call(method, path, o);
}

Result<Value> Cli::get_json(std::string_view path) {
  ASSIGN_OR_RETURN(auto r, call("GET", path));
  return parse_json(r.body, path);
}

Result<std::unique_ptr<http::BodyStream>> Cli::stream(std::string_view method,
                                                      std::string_view path,
                                                      const http::RequestOptions& opts) {
  ASSIGN_OR_RETURN(auto target, versioned(path));
  ASSIGN_OR_RETURN(auto s, client_->stream(method, target, opts));
  if (s->status() >= 400) {
    auto body = s->read_all();
    return std::unexpected(daemon_error(s->status(), body ? *body : ""));
  }
  return s;
}

Result<http::Hijacked> Cli::hijack(std::string_view method, std::string_view path,
                                   const http::RequestOptions& opts) {
  ASSIGN_OR_RETURN(auto target, versioned(path));
  auto h = client_->hijack(method, target, opts);
  if (!h) {
    // The client reports a refused upgrade as an error carrying the daemon's message (no errno);
    // transport failures carry an errno or name the step that failed.
    const auto& e = h.error();
    const std::string& m = e.message();
    const bool transport = e.sys_errno() != 0 || m.starts_with("connecting to") ||
                           m.starts_with("reading response") || m.starts_with("sending") ||
                           m.starts_with("resolving") || m.starts_with("socket path");
    if (!transport) return make_error(e.code(), "Error response from daemon: " + m);
    return std::unexpected(h.error());
  }
  return h;
}

void out(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

void err(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

}  // namespace berth::cli
