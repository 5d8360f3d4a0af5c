// The berth CLI's shared context: which daemon (-H, $DOCKER_HOST, default socket), the API
// version negotiated like the docker CLI (HEAD /_ping, fallback GET, min(1.41, server's)),
// request helpers that turn daemon errors into docker's "Error response from daemon: ..." text,
// and the exit-code convention (StatusError) every command returns through.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cli/template.h"
#include "http/client.h"

namespace berth::cli {

inline constexpr std::string_view kDefaultHost = "unix:///run/berth/berthd.sock";
inline constexpr std::string_view kMaxApiVersion = "1.41";

// Picks the daemon address: flag, then $DOCKER_HOST, then the berth socket.
std::string resolve_host(std::string_view flag);
// "1.41" vs "1.40": negative, zero, positive.
int compare_versions(std::string_view a, std::string_view b);

class Cli {
 public:
  explicit Cli(std::string host) : host_(std::move(host)) {}
  // For tests: an already connected client and a fixed version.
  Cli(std::unique_ptr<http::Client> client, std::string version)
      : client_(std::move(client)), version_(std::move(version)), negotiated_(true) {}

  const std::string& host() const { return host_; }
  // Connects and negotiates once; errors read "Cannot connect to the ... daemon at ...".
  Result<http::Client*> client();
  Result<std::string> api_version();
  // "/v1.41" + path (path starts with '/').
  Result<std::string> versioned(std::string_view path);

  // A request whose non-2xx status becomes an Error with the daemon's message prefixed by
  // "Error response from daemon: " and a category from the status (404 -> kNotFound).
  Result<http::Response> call(std::string_view method, std::string_view path,
                              const http::RequestOptions& opts = {});
  Result<http::Response> call_json(std::string_view method, std::string_view path,
                                   const Value& body);
  // call() + parse the body as JSON (key order kept).
  Result<Value> get_json(std::string_view path);
  Result<std::unique_ptr<http::BodyStream>> stream(std::string_view method, std::string_view path,
                                                   const http::RequestOptions& opts = {});
  Result<http::Hijacked> hijack(std::string_view method, std::string_view path,
                                const http::RequestOptions& opts = {});

  std::string client_version = "dev";  // set by main from the build

 private:
  Result<void> negotiate();

  std::string host_;
  std::unique_ptr<http::Client> client_;
  std::string version_;
  bool negotiated_ = false;
};

// Turns an HTTP error status + body into docker's error (used by call() and streams).
Error daemon_error(int status, std::string_view body);
Result<Value> parse_json(std::string_view text, std::string_view what);

// A command's outcome: the exit status, and a message for stderr when not empty.
struct Status {
  int code = 0;
  std::string message;
};
inline Status ok() {
  return {};
}
inline Status fail(int code, std::string message) {
  return {code, std::move(message)};
}
inline Status fail(const Error& e, int code = 1) {
  return {code, e.message()};
}

// Prints to stdout without surprises (fwrite, no formatting).
void out(std::string_view s);
void err(std::string_view s);

}  // namespace berth::cli
