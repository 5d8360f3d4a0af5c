// HTTP/1.1 client for the berth CLI and tests: talks to berthd (or dockerd) over a unix socket or
// TCP, with whole responses, streamed response bodies (logs -f, events, pull progress), streamed
// request bodies (load, import, cp), and hijacked connections (attach, exec).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/unique_fd.h"
#include "http/server.h"

namespace berth::http {

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(std::string_view name) const;  // case-insensitive; "" when missing
};

// A response whose body is read as it arrives.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual int status() const = 0;
  virtual std::string header(std::string_view name) const = 0;
  // Next piece of the body (chunk boundaries are not preserved); "" at the end.
  virtual Result<std::string> read_some() = 0;
  // Reads the rest.
  Result<std::string> read_all();
};

struct RequestOptions {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // default application/json when body is non-empty
  // When set, the body is sent chunked from this reader (returns 0 at end) instead of `body`.
  std::function<Result<size_t>(char* buf, size_t len)> body_reader;
};

class Client {
 public:
  // host: "unix:///run/berth/berthd.sock", "tcp://127.0.0.1:2375", or a bare socket path.
  static Result<std::unique_ptr<Client>> create(std::string host);
  virtual ~Client() = default;

  // target: "/v1.41/containers/json?all=1" (the caller builds the query; see url_encode).
  virtual Result<Response> request(std::string_view method, std::string_view target,
                                   const RequestOptions& opts = {}) = 0;
  virtual Result<std::unique_ptr<BodyStream>> stream(std::string_view method,
                                                     std::string_view target,
                                                     const RequestOptions& opts = {}) = 0;
  // Sends Connection: Upgrade / Upgrade: tcp; expects 101 (or 200 from servers that do not
  // upgrade); a non-2xx/101 reply is returned as an error carrying the server's message.
  virtual Result<Hijacked> hijack(std::string_view method, std::string_view target,
                                  const RequestOptions& opts = {}) = 0;
};

std::string url_encode(std::string_view s);
// Builds "?k=v&k2=v2" (empty values skipped, "" when nothing to add).
std::string query_string(const std::vector<std::pair<std::string, std::string>>& kv);

}  // namespace berth::http
