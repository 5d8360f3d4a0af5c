// Registry error bodies and HTTP statuses -> Error (see errors.h).
#include "registry/errors.h"

#include <cctype>

#include "base/json.h"
#include "registry/transport.h"

namespace berth::registry {

std::vector<RegistryError> parse_error_body(std::string_view body) {
  std::vector<RegistryError> out;
  auto j = json::parse(body, "registry error");
  if (!j || !j->is_object()) return out;
  auto add = [&](const json::Json& e) {
    if (!e.is_object()) return;
    RegistryError r;
    if (auto c = e.find("code"); c != e.end() && c->is_string()) r.code = c->get<std::string>();
    if (auto m = e.find("message"); m != e.end() && m->is_string())
      r.message = m->get<std::string>();
    if (!r.code.empty() || !r.message.empty()) out.push_back(std::move(r));
  };
  if (auto errs = j->find("errors"); errs != j->end() && errs->is_array()) {
    for (const auto& e : *errs) add(e);
  } else if (auto d = j->find("details"); d != j->end() && d->is_string()) {
    // Docker Hub's token server: {"details":"incorrect username or password"}.
    out.push_back({.code = "UNAUTHORIZED", .message = d->get<std::string>()});
  } else if (auto e = j->find("error"); e != j->end() && e->is_string()) {
    // OAuth-style token servers: {"error":"invalid_grant","error_description":"..."}.
    std::string msg = e->get<std::string>();
    if (auto d2 = j->find("error_description"); d2 != j->end() && d2->is_string())
      msg += ": " + d2->get<std::string>();
    out.push_back({.code = "UNAUTHORIZED", .message = msg});
  }
  return out;
}

std::string describe_errors(const std::vector<RegistryError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    std::string code;
    for (char c : e.code)
      code += c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (code.empty()) code = "unknown";
    out += e.message.empty() ? code : code + ": " + e.message;
  }
  return out;
}

bool has_error_code(const std::vector<RegistryError>& errors, std::string_view code) {
  for (const auto& e : errors)
    if (e.code == code) return true;
  return false;
}

std::string status_line(long status) {
  std::string_view text;
  switch (status) {
    case 200:
      text = "OK";
      break;
    case 201:
      text = "Created";
      break;
    case 202:
      text = "Accepted";
      break;
    case 204:
      text = "No Content";
      break;
    case 206:
      text = "Partial Content";
      break;
    case 307:
      text = "Temporary Redirect";
      break;
    case 400:
      text = "Bad Request";
      break;
    case 401:
      text = "Unauthorized";
      break;
    case 403:
      text = "Forbidden";
      break;
    case 404:
      text = "Not Found";
      break;
    case 405:
      text = "Method Not Allowed";
      break;
    case 408:
      text = "Request Timeout";
      break;
    case 409:
      text = "Conflict";
      break;
    case 413:
      text = "Payload Too Large";
      break;
    case 416:
      text = "Range Not Satisfiable";
      break;
    case 429:
      text = "Too Many Requests";
      break;
    case 500:
      text = "Internal Server Error";
      break;
    case 502:
      text = "Bad Gateway";
      break;
    case 503:
      text = "Service Unavailable";
      break;
    case 504:
      text = "Gateway Timeout";
      break;
    default:
      break;
  }
  std::string s = std::to_string(status);
  if (!text.empty()) s += " " + std::string(text);
  return s;
}

ErrorCode code_for_status(long status) {
  switch (status) {
    case 400:
    case 416:
      return ErrorCode::kInvalidArgument;
    case 401:
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 405:
      return ErrorCode::kUnimplemented;
    case 409:
      return ErrorCode::kConflict;
    case 408:
    case 429:
      return ErrorCode::kUnavailable;
    default:
      return status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInternal;
  }
}

Error http_error(const HttpResponse& resp, std::string_view what) {
  std::string reason = describe_errors(parse_error_body(resp.body));
  if (reason.empty()) reason = "unexpected status " + status_line(resp.status);
  return Error(code_for_status(resp.status), std::string(what) + ": " + reason);
}

}  // namespace berth::registry
