// Registry error answers turned into berth Errors. Registries explain a failure in a JSON body
// ({"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}); docker prints each as
// "<code in lowercase words>: <message>" ("manifest unknown: manifest unknown"), and so do we.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::registry {

struct HttpResponse;

struct RegistryError {
  std::string code;  // "MANIFEST_UNKNOWN"
  std::string message;
};

// The errors in a registry's JSON body; empty when the body is not such a document.
std::vector<RegistryError> parse_error_body(std::string_view body);
// "manifest unknown: manifest unknown" (several joined by "; "); "" when there are none.
std::string describe_errors(const std::vector<RegistryError>& errors);
bool has_error_code(const std::vector<RegistryError>& errors, std::string_view code);
// "401 Unauthorized".
std::string status_line(long status);
// The category for an HTTP status (401/403 PermissionDenied, 404 NotFound, 5xx Unavailable...).
ErrorCode code_for_status(long status);
// "<what>: <registry's reason, or the status line>" with the category of the status.
Error http_error(const HttpResponse& resp, std::string_view what);

}  // namespace berth::registry
