// HTTP/1.1 client over a unix socket or TCP (no TLS yet).
// Key idea: requests are written by hand (one gathered write for headers and body) and responses
// are parsed by Beast's parsers over a raw blocking fd (SocketIo). One idle keep-alive connection
// is kept for sequential requests; stream() and hijack() take the connection away with them, so
// a later request opens a fresh one (docker run waits on one connection while starting on
// another). A reused connection that the server closed meanwhile is retried once.
#include "http/client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>

#include "http/socket_io.h"

namespace berth::http {

namespace bhttp = boost::beast::http;
using boost::beast::flat_buffer;

namespace {

constexpr size_t kHeaderLimit = 1 << 20;
// Boost 1.74's parser compares the body length against body_limit(boost::none) as "greater
// than none" and fails every body; an unreachable number disables the limit instead.
constexpr uint64_t kNoBodyLimit = ~uint64_t{0};
constexpr size_t kUploadChunk = 256 << 10;
constexpr size_t kReadChunk = 64 << 10;

struct Endpoint {
  bool is_unix = true;
  std::string path;  // unix
  std::string host, port;
  std::string host_header;
  std::string display;
};

Error io_error(const boost::system::error_code& ec, std::string_view what) {
  int e = ec.category() == boost::system::system_category() ? ec.value() : 0;
  return Error(e ? Error::from_errno(e, what).code() : ErrorCode::kUnavailable,
               std::string(what) + ": " + ec.message(), e);
}

ErrorCode code_for_status(int status) {
  switch (status) {
    case 400:
      return ErrorCode::kInvalidArgument;
    case 401:
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kConflict;
    case 501:
      return ErrorCode::kUnimplemented;
    case 503:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kInternal;
  }
}

// The {"message": "..."} text of an error body, or the body itself, or the status.
std::string error_message(int status, const std::string& body) {
  if (!body.empty()) {
    try {
      auto j = json::Json::parse(body);
      if (j.is_object() && j.contains("message") && j["message"].is_string())
        return j["message"].get<std::string>();
    } catch (const std::exception&) {
    }
    std::string_view t = body;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
    return std::string(t);
  }
  return "server returned status " + std::to_string(status);
}

template <class Fields>
std::string find_header(const Fields& f, std::string_view name) {
  auto it = f.find(boost::beast::string_view(name.data(), name.size()));
  if (it == f.end()) return "";
  return std::string(it->value());
}

Result<UniqueFd> dial(const Endpoint& ep) {
  if (ep.is_unix) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (ep.path.size() >= sizeof(addr.sun_path))
      return make_error(ErrorCode::kInvalidArgument, "socket path too long: " + ep.path);
    std::memcpy(addr.sun_path, ep.path.data(), ep.path.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return errno_error("socket");
    for (;;) {
      if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) break;
      if (errno == EINTR) continue;
      return errno_error("connecting to " + ep.display);
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(ep.host.c_str(), ep.port.c_str(), &hints, &res);
  if (rc != 0)
    return make_error(ErrorCode::kUnavailable,
                      "resolving " + ep.display + ": " + ::gai_strerror(rc));
  int last = ECONNREFUSED;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last = errno;
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ::freeaddrinfo(res);
      return fd;
    }
    last = errno;
  }
  ::freeaddrinfo(res);
  return errno_error(last, "connecting to " + ep.display);
}

struct Conn {
  UniqueFd fd;
  flat_buffer buf;
};

class StreamImpl : public BodyStream {
 public:
  using Parser = bhttp::response_parser<bhttp::buffer_body>;
  StreamImpl(Conn conn, std::unique_ptr<Parser> parser)
      : conn_(std::move(conn)), parser_(std::move(parser)) {}

  int status() const override { return parser_->get().result_int(); }
  std::string header(std::string_view name) const override {
    return find_header(parser_->get(), name);
  }

  Result<std::string> read_some() override {
    std::string out;
    if (done_) return out;
    out.resize(kReadChunk);
    SocketIo io(conn_.fd.get());
    size_t got = 0;
    while (got == 0) {
      if (parser_->is_done()) {
        done_ = true;
        break;
      }
      auto& body = parser_->get().body();
      body.data = out.data();
      body.size = out.size();
      boost::system::error_code ec;
      bhttp::read_some(io, conn_.buf, *parser_, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      got = out.size() - body.size;
      if (ec) {
        done_ = true;
        if (got > 0) break;  // hand out what arrived; the next call reports the end
        return std::unexpected(io_error(ec, "reading response body"));
      }
    }
    out.resize(got);
    return out;
  }

 private:
  Conn conn_;
  std::unique_ptr<Parser> parser_;
  bool done_ = false;
};

class ClientImpl : public Client {
 public:
  explicit ClientImpl(Endpoint ep) : ep_(std::move(ep)) {}

  Result<Response> request(std::string_view method, std::string_view target,
                           const RequestOptions& opts) override {
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      ASSIGN_OR_RETURN(Conn conn, acquire(&reused));
      SocketIo io(conn.fd.get());
      auto sent = send_request(io, method, target, opts, false);
      bhttp::response_parser<bhttp::string_body> p;
      p.header_limit(kHeaderLimit);
      p.body_limit(kNoBodyLimit);
      if (method == "HEAD") p.skip(true);
      boost::system::error_code ec;
      bhttp::read(io, conn.buf, p, ec);
      if (ec) {
        bool retry = reused && attempt == 0 && !opts.body_reader && !p.got_some();
        if (retry) continue;
        if (!sent) return std::unexpected(sent.error());
        return std::unexpected(io_error(ec, fmt_what("reading response to", method, target)));
      }
      Response r;
      auto& msg = p.get();
      r.status = msg.result_int();
      for (const auto& f : msg)
        r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      r.body = std::move(msg.body());
      if (msg.keep_alive() && conn.buf.size() == 0) release(std::move(conn));
      return r;
    }
  }

  Result<std::unique_ptr<BodyStream>> stream(std::string_view method, std::string_view target,
                                             const RequestOptions& opts) override {
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      ASSIGN_OR_RETURN(Conn conn, acquire(&reused));
      SocketIo io(conn.fd.get());
      auto sent = send_request(io, method, target, opts, false);
      auto p = std::make_unique<StreamImpl::Parser>();
      p->header_limit(kHeaderLimit);
      p->body_limit(kNoBodyLimit);
      if (method == "HEAD") p->skip(true);
      boost::system::error_code ec;
      bhttp::read_header(io, conn.buf, *p, ec);
      if (ec) {
        if (reused && attempt == 0 && !opts.body_reader && !p->got_some()) continue;
        if (!sent) return std::unexpected(sent.error());
        return std::unexpected(io_error(ec, fmt_what("reading response to", method, target)));
      }
      return std::unique_ptr<BodyStream>(new StreamImpl(std::move(conn), std::move(p)));
    }
  }

  Result<Hijacked> hijack(std::string_view method, std::string_view target,
                          const RequestOptions& opts) override {
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      ASSIGN_OR_RETURN(Conn conn, acquire(&reused));
      SocketIo io(conn.fd.get());
      auto sent = send_request(io, method, target, opts, true);
      bhttp::response_parser<bhttp::string_body> p;
      p.header_limit(kHeaderLimit);
      p.body_limit(kNoBodyLimit);
      boost::system::error_code ec;
      bhttp::read_header(io, conn.buf, p, ec);
      if (ec) {
        if (reused && attempt == 0 && !opts.body_reader && !p.got_some()) continue;
        if (!sent) return std::unexpected(sent.error());
        return std::unexpected(io_error(ec, fmt_what("reading response to", method, target)));
      }
      int status = p.get().result_int();
      if (status == 101 || status == 200) {
        ignore_sigpipe();
        Hijacked h;
        auto data = conn.buf.data();
        h.pending.assign(static_cast<const char*>(data.data()), data.size());
        h.fd = std::move(conn.fd);
        return h;
      }
      bhttp::read(io, conn.buf, p, ec);
      return make_error(code_for_status(status), error_message(status, p.get().body()));
    }
  }

 private:
  static std::string fmt_what(std::string_view what, std::string_view method,
                              std::string_view target) {
    std::string s(what);
    s += ' ';
    s += method;
    s += ' ';
    s += target;
    return s;
  }

  // The idle connection if it still looks usable, else a new one.
  Result<Conn> acquire(bool* reused) {
    if (idle_.fd) {
      pollfd pfd{idle_.fd.get(), POLLIN | POLLRDHUP, 0};
      int n = ::poll(&pfd, 1, 0);
      if (n == 0) {
        *reused = true;
        return std::move(idle_);
      }
      idle_ = Conn{};
    }
    ASSIGN_OR_RETURN(UniqueFd fd, dial(ep_));
    Conn c;
    c.fd = std::move(fd);
    return c;
  }
  void release(Conn conn) { idle_ = std::move(conn); }

  Result<> send_request(SocketIo& io, std::string_view method, std::string_view target,
                        const RequestOptions& opts, bool upgrade) {
    std::string h;
    h.reserve(256 + target.size());
    h.append(method).append(" ").append(target.empty() ? "/" : target).append(" HTTP/1.1\r\n");
    h.append("Host: ").append(ep_.host_header).append("\r\nUser-Agent: berth/0.1\r\n");
    bool has_ct = false;
    for (const auto& [k, v] : opts.headers) {
      if (strcasecmp(k.c_str(), "Content-Type") == 0) has_ct = true;
      h.append(k).append(": ").append(v).append("\r\n");
    }
    if (upgrade) h.append("Connection: Upgrade\r\nUpgrade: tcp\r\n");
    bool has_body = opts.body_reader || !opts.body.empty();
    if (has_body && !has_ct) {
      std::string_view ct = opts.content_type;
      if (ct.empty()) ct = opts.body_reader ? "application/octet-stream" : "application/json";
      h.append("Content-Type: ").append(ct).append("\r\n");
    }
    if (opts.body_reader) {
      h.append("Transfer-Encoding: chunked\r\n\r\n");
      TRY(io.send_all(h));
      return send_chunked(io, opts.body_reader);
    }
    if (!opts.body.empty() || method == "POST" || method == "PUT") {
      h.append("Content-Length: ").append(std::to_string(opts.body.size())).append("\r\n");
    }
    h.append("\r\n");
    iovec iov[2] = {{h.data(), h.size()}, {const_cast<char*>(opts.body.data()), opts.body.size()}};
    return io.send_all(iov, opts.body.empty() ? 1 : 2);
  }

  Result<> send_chunked(SocketIo& io, const std::function<Result<size_t>(char*, size_t)>& reader) {
    if (!upload_buf_) upload_buf_ = std::make_unique<char[]>(kUploadChunk);
    std::string size_line;
    for (;;) {
      ASSIGN_OR_RETURN(size_t n, reader(upload_buf_.get(), kUploadChunk));
      if (n == 0) break;
      size_line.clear();
      append_chunk_size(size_line, n);
      iovec iov[3] = {{size_line.data(), size_line.size()},
                      {upload_buf_.get(), n},
                      {const_cast<char*>("\r\n"), 2}};
      TRY(io.send_all(iov, 3));
    }
    return io.send_all("0\r\n\r\n");
  }

  Endpoint ep_;
  Conn idle_;
  std::unique_ptr<char[]> upload_buf_;
};

}  // namespace

std::string Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return "";
}

Result<std::string> BodyStream::read_all() {
  std::string all;
  for (;;) {
    ASSIGN_OR_RETURN(std::string piece, read_some());
    if (piece.empty()) return all;
    all += piece;
  }
}

Result<std::unique_ptr<Client>> Client::create(std::string host) {
  Endpoint ep;
  std::string_view h = host;
  if (h.starts_with("unix://")) {
    ep.path = std::string(h.substr(7));
  } else if (h.starts_with("/")) {
    ep.path = std::string(h);
  } else if (h.starts_with("tcp://") || h.starts_with("http://")) {
    std::string_view rest = h.substr(h.find("://") + 3);
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    ep.is_unix = false;
    size_t colon = rest.rfind(':');
    if (!rest.empty() && rest.front() == '[') {  // [::1]:2375
      size_t close = rest.find(']');
      if (close == std::string_view::npos)
        return make_error(ErrorCode::kInvalidArgument, "invalid host " + host);
      ep.host = std::string(rest.substr(1, close - 1));
      ep.port = close + 1 < rest.size() && rest[close + 1] == ':'
                    ? std::string(rest.substr(close + 2))
                    : "2375";
    } else if (colon != std::string_view::npos) {
      ep.host = std::string(rest.substr(0, colon));
      ep.port = std::string(rest.substr(colon + 1));
    } else {
      ep.host = std::string(rest);
      ep.port = "2375";
    }
    if (ep.host.empty()) ep.host = "127.0.0.1";
    ep.host_header = std::string(rest);
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "unsupported host " + host + " (want unix://, tcp:// or a socket path)");
  }
  if (ep.is_unix) {
    if (ep.path.empty()) return make_error(ErrorCode::kInvalidArgument, "empty socket path");
    ep.host_header = "docker";
  }
  ep.display = host;
  return std::unique_ptr<Client>(new ClientImpl(std::move(ep)));
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (v.empty()) continue;
    out += out.empty() ? '?' : '&';
    out += url_encode(k);
    out += '=';
    out += url_encode(v);
  }
  return out;
}

}  // namespace berth::http
