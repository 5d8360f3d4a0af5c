// One HTTP exchange over libcurl, nothing more: no redirects followed (the session decides where
// credentials may go), no retries, no auth. 2xx bodies stream to a sink as they arrive; other
// bodies are kept (bounded) for error messages. Uploads read from a string or with pread from an
// fd, so a request can be sent again after a 401 or a dropped connection.
//
// Thread safety: perform() may be called from any number of threads. Each call borrows an easy
// handle from a pool; a returned handle keeps its connections, so later requests reuse them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace berth::registry {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Request body: body_fd >= 0 reads body_size bytes at body_offset (pread); otherwise body is
  // sent when not empty or when the method is PUT, POST or PATCH (then Content-Length: 0).
  std::string body;
  int body_fd = -1;
  int64_t body_offset = 0;
  int64_t body_size = 0;
  // Receives 2xx bodies; without a sink they are collected into HttpResponse::body.
  std::function<Result<>(long status, std::string_view bytes)> sink;
  int64_t max_body = 1 << 20;  // a collected 2xx body above this fails the request
  bool tls_verify = true;
  std::function<void(int64_t sent)> upload_progress;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase, in order
  std::string body;       // collected body (2xx without sink; others, up to 64 KiB)
  int64_t delivered = 0;  // bytes handed to the sink
  std::string url;        // the URL requested
  // Set when the exchange failed below HTTP: refused or dropped connection, TLS failure,
  // timeout. Worth retrying. connect_failed: no HTTP answer at all on a new connection (the
  // case where an insecure registry is retried over plain http).
  std::string net_error;
  bool connect_failed = false;

  bool ok() const { return net_error.empty() && status >= 200 && status < 300; }
  std::optional<std::string> header(std::string_view name) const;
  std::vector<std::string> header_values(std::string_view name) const;
};

struct TransportOptions {
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds low_speed_timeout{60};
  std::string user_agent = "berth";
};

class Transport {
 public:
  static Result<std::unique_ptr<Transport>> create(TransportOptions opts);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Errors are local failures only (a sink error, an oversized body, a bad request); network
  // failures come back as a response with net_error set.
  Result<HttpResponse> perform(const HttpRequest& req);

 private:
  explicit Transport(TransportOptions opts) : opts_(std::move(opts)) {}
  void* acquire();
  void release(void* handle);

  TransportOptions opts_;
  std::mutex mu_;
  std::vector<void*> pool_;  // idle CURL easy handles
};

}  // namespace berth::registry
