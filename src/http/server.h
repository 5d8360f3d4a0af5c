// HTTP/1.1 server for the Docker Engine API: unix (and optionally TCP+TLS) listeners, a router
// with {param} path segments and the /v1.NN version prefix, and responses that are whole,
// streamed (chunked, flushed per write), or hijacked (101 upgrade, then a raw socket).
//
// Threading: one thread per connection, blocking I/O (Boost.Beast sync API). Handlers are plain
// blocking functions; a handler that streams (logs -f, events, wait, stats) simply keeps its
// thread until it returns or the client goes away.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"
#include "base/unique_fd.h"

namespace berth::http {

struct Request {
  std::string method;       // "GET", "POST", ...
  std::string path;         // percent-decoded, without query and without the /v1.NN prefix
  std::string api_version;  // "1.41" when the path had a /v1.41 prefix, else ""
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps the last value
  // Every decoded key=value in order, repeats included (docker sends names=a&names=b).
  std::vector<std::pair<std::string, std::string>> query_list;
  std::vector<std::string> query_all(std::string_view key) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : query_list)
      if (k == key) out.push_back(v);
    return out;
  }
  std::map<std::string, std::string> params;  // from the route pattern: {id} -> value
  // Header lookup is case-insensitive; missing -> "".
  std::string header(std::string_view name) const;
  std::vector<std::pair<std::string, std::string>> headers;
  // Whole body, for routes registered without stream_body.
  std::string body;
  // Routes registered with stream_body read the body here instead: returns bytes read into buf,
  // 0 at end of body. Handles Content-Length and chunked uploads.
  std::function<Result<size_t>(char* buf, size_t len)> read_body;

  // Query helpers: docker sends booleans as 1/0/true/false; "" when absent.
  std::string q(std::string_view key) const;
  bool q_bool(std::string_view key, bool dflt = false) const;
};

struct Hijacked {
  UniqueFd fd;          // the connection's socket, blocking, owned by the handler now
  std::string pending;  // bytes the client sent after the request that the server already read
};

class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // A whole response with Content-Length.
  virtual void send(int status, std::string_view content_type, std::string_view body,
                    const Headers& headers = {}) = 0;
  void send_json(int status, const json::Json& body, const Headers& headers = {});
  void send_empty(int status, const Headers& headers = {});  // 204, 304, ...

  // Streaming: status line and headers are flushed now (Transfer-Encoding: chunked); each
  // write() is flushed at once. An error means the client went away: stop producing.
  virtual Result<> begin_stream(int status, std::string_view content_type,
                                const Headers& headers = {}) = 0;
  virtual Result<> write(std::string_view chunk) = 0;
  virtual Result<> end_stream() = 0;

  // Hijack (attach, exec start): when the request asked for "Upgrade: tcp" the server writes
  // "HTTP/1.1 101 UPGRADED" with Content-Type, Connection: Upgrade, Upgrade: tcp; otherwise
  // "HTTP/1.1 200 OK" with Content-Type. Then the raw socket belongs to the handler, and the
  // connection is not reused.
  virtual Result<Hijacked> hijack(std::string_view content_type) = 0;

  // True once the peer has closed its side (for long polls such as wait and events).
  virtual bool client_gone() = 0;
  // True when a response (whole, stream or hijack) has been started.
  virtual bool started() const = 0;
};

using Handler = std::function<void(Request&, ResponseWriter&)>;

struct RouteOptions {
  bool stream_body = false;  // do not buffer the request body (image load, import, archive PUT)
};

class Router {
 public:
  // pattern: "/containers/{id}/json"; a {name*} last segment matches the rest of the path
  // including slashes (image names such as "/images/{name*}/json" are matched by trying routes
  // in registration order, so register the more specific suffix routes first).
  void add(std::string method, std::string pattern, Handler handler, RouteOptions opts = {});
  // Called for paths that match no route (default: 404 {"message":"page not found"}).
  void set_not_found(Handler handler);
  // Runs before every handler; returning false means it already responded (version checks).
  void set_middleware(std::function<bool(Request&, ResponseWriter&)> mw);

  struct Match {
    const Handler* handler;
    RouteOptions opts;
  };
  // Fills req.params; strips and records the /v1.NN prefix in req.path/api_version.
  std::optional<Match> match(Request& req) const;
  const Handler& not_found() const { return not_found_; }
  const std::function<bool(Request&, ResponseWriter&)>& middleware() const { return mw_; }

 private:
  struct Route;
  std::vector<std::shared_ptr<Route>> routes_;
  Handler not_found_;
  std::function<bool(Request&, ResponseWriter&)> mw_;
};

struct UnixListener {
  std::string path;  // removed and recreated
  int mode = 0660;
  int gid = -1;  // chown to this group when >= 0 (group "berth")
};

struct TcpListener {
  std::string address = "127.0.0.1";
  int port = 0;                           // 0: pick one (see Server::tcp_port)
  std::string tls_cert, tls_key, tls_ca;  // all three: TLS with client certificates required
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> create(const Router& router);
  virtual ~Server() = default;
  virtual Result<> listen(const UnixListener& l) = 0;
  virtual Result<> listen(const TcpListener& l) = 0;
  virtual int tcp_port() const = 0;
  // Serves until stop(); returns after in-flight connections were told to close.
  virtual Result<> run() = 0;
  virtual void stop() = 0;  // safe from a signal-handling thread
};

}  // namespace berth::http
