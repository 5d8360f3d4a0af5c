// One server connection: parse requests with Beast, route them, and write responses by hand.
// Key idea: responses are formatted directly into one string and written with one gathered
// syscall (status line + headers + body); streams are chunked and flushed per write(); hijack
// writes moby's exact 101/200 preamble and hands the handler a dup of the socket, so a server
// stop() can still shut the connection down under a long attach.
#include <fcntl.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <exception>
#include <thread>

#include "base/log.h"
#include "http/server_internal.h"
#include "http/socket_io.h"
#include "http/tls.h"

namespace berth::http {

namespace bhttp = boost::beast::http;
using boost::beast::flat_buffer;

namespace {

constexpr size_t kHeaderLimit = 1 << 20;
// Boost 1.74's parser compares the body length against body_limit(boost::none) as "greater
// than none" and fails every body; an unreachable number disables the limit instead.
constexpr uint64_t kNoBodyLimit = ~uint64_t{0};
constexpr size_t kMaxBody = 64ull << 20;
using Parser = bhttp::request_parser<bhttp::buffer_body>;

void append_status_line(std::string& h, int status) {
  h += "HTTP/1.1 ";
  h += std::to_string(status);
  h += ' ';
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  if (reason.empty() || reason == "<unknown-status>") {
    h += "Status";
  } else {
    h.append(reason.data(), reason.size());
  }
  h += "\r\n";
}

void append_header(std::string& h, std::string_view k, std::string_view v) {
  h.append(k).append(": ").append(v).append("\r\n");
}

Error io_error(const boost::system::error_code& ec, std::string_view what) {
  int e = ec.category() == boost::system::system_category() ? ec.value() : 0;
  return Error(ErrorCode::kUnavailable, std::string(what) + ": " + ec.message(), e);
}

class ConnWriter : public ResponseWriter {
 public:
  ConnWriter(SocketIo& io, flat_buffer& buf, bool keep_alive, bool http10, bool head, bool upgrade)
      : io_(io),
        buf_(buf),
        keep_alive_(keep_alive),
        http10_(http10),
        head_(head),
        upgrade_(upgrade) {}

  void send(int status, std::string_view content_type, std::string_view body,
            const Headers& headers) override {
    if (state_ != State::kNone) {
      log::debug("http: handler responded twice");
      return;
    }
    state_ = State::kWhole;
    bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
    std::string h;
    h.reserve(160);
    append_status_line(h, status);
    if (!content_type.empty() && !no_body) append_header(h, "Content-Type", content_type);
    for (const auto& [k, v] : headers) append_header(h, k, v);
    if (!no_body) append_header(h, "Content-Length", std::to_string(body.size()));
    if (!keep_alive_) {
      append_header(h, "Connection", "close");
    } else if (http10_) {
      append_header(h, "Connection", "keep-alive");
    }
    h += "\r\n";
    bool with_body = !no_body && !head_ && !body.empty();
    iovec iov[2] = {{h.data(), h.size()}, {const_cast<char*>(body.data()), body.size()}};
    if (!io_.send_all(iov, with_body ? 2 : 1)) broken_ = true;
  }

  Result<> begin_stream(int status, std::string_view content_type,
                        const Headers& headers) override {
    if (state_ != State::kNone)
      return make_error(ErrorCode::kFailedPrecondition, "response already started");
    state_ = State::kStream;
    std::string h;
    h.reserve(160);
    append_status_line(h, status);
    if (!content_type.empty()) append_header(h, "Content-Type", content_type);
    for (const auto& [k, v] : headers) append_header(h, k, v);
    if (http10_) {
      append_header(h, "Connection", "close");
      close_after_ = true;
    } else {
      append_header(h, "Transfer-Encoding", "chunked");
    }
    h += "\r\n";
    return checked(io_.send_all(h));
  }

  Result<> write(std::string_view chunk) override {
    if (state_ != State::kStream)
      return make_error(ErrorCode::kFailedPrecondition, "no stream started");
    if (broken_) return make_error(ErrorCode::kUnavailable, "client went away");
    if (head_) return make_error(ErrorCode::kUnavailable, "head request: no body wanted");
    if (chunk.empty()) return {};
    if (http10_) return checked(io_.send_all(chunk));
    char size_line[24];
    std::string tmp;
    tmp.reserve(20);
    append_chunk_size(tmp, chunk.size());
    std::memcpy(size_line, tmp.data(), tmp.size());
    iovec iov[3] = {{size_line, tmp.size()},
                    {const_cast<char*>(chunk.data()), chunk.size()},
                    {const_cast<char*>("\r\n"), 2}};
    return checked(io_.send_all(iov, 3));
  }

  Result<> end_stream() override {
    if (state_ != State::kStream)
      return make_error(ErrorCode::kFailedPrecondition, "no stream started");
    state_ = State::kStreamEnded;
    if (http10_ || head_) return {};
    if (broken_) return make_error(ErrorCode::kUnavailable, "client went away");
    return checked(io_.send_all("0\r\n\r\n"));
  }

  Result<Hijacked> hijack(std::string_view content_type) override {
    if (state_ != State::kNone)
      return make_error(ErrorCode::kFailedPrecondition, "response already started");
    state_ = State::kHijacked;
    std::string h;
    if (upgrade_) {
      h = "HTTP/1.1 101 UPGRADED\r\nContent-Type: ";
      h.append(content_type).append("\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
    } else {
      h = "HTTP/1.1 200 OK\r\nContent-Type: ";
      h.append(content_type).append("\r\n\r\n");
    }
    TRY(checked(io_.send_all(h)));
    Hijacked out;
    if (io_.tls()) {
      // The handler gets one end of a socketpair; a relay thread moves bytes between the other
      // end and the TLS session until both directions are closed.
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return errno_error("hijack: socketpair");
      out.fd = UniqueFd(sv[0]);
      try {
        relay_ = std::thread(tls_relay, io_.tls(), io_.fd(), sv[1]);
      } catch (const std::exception& e) {
        ::close(sv[1]);
        return make_error(ErrorCode::kResourceExhausted, std::string("hijack: ") + e.what());
      }
    } else {
      int dup = ::fcntl(io_.fd(), F_DUPFD_CLOEXEC, 3);
      if (dup < 0) return errno_error("hijack: dup socket");
      out.fd = UniqueFd(dup);
    }
    auto data = buf_.data();
    out.pending.assign(static_cast<const char*>(data.data()), data.size());
    buf_.consume(buf_.size());
    return out;
  }

  bool client_gone() override {
    if (broken_) return true;
    pollfd pfd{io_.fd(), POLLRDHUP, 0};
    int n = ::poll(&pfd, 1, 0);
    return n > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
  }

  bool started() const override { return state_ != State::kNone; }

  ~ConnWriter() override {
    if (relay_.joinable()) relay_.join();
  }

  // Ends a stream the handler left open, so the client still sees a complete body.
  void finish() {
    if (state_ == State::kStream && !broken_) (void)end_stream();
  }

  // The connection cannot serve another request after this response.
  bool must_close() const {
    return broken_ || close_after_ || state_ == State::kHijacked || state_ == State::kStream;
  }

 private:
  enum class State { kNone, kWhole, kStream, kStreamEnded, kHijacked };
  Result<> checked(Result<> r) {
    if (!r) broken_ = true;
    return r;
  }

  SocketIo& io_;
  flat_buffer& buf_;
  std::thread relay_;  // TLS hijack only; joined before the session is freed
  bool keep_alive_, http10_, head_, upgrade_;
  State state_ = State::kNone;
  bool broken_ = false;
  bool close_after_ = false;
};

void parse_target(std::string_view target, Request& req) {
  size_t q = target.find('?');
  req.path = percent_decode(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    std::string key = percent_decode(kv.substr(0, eq), true);
    std::string val =
        eq == std::string_view::npos ? std::string() : percent_decode(kv.substr(eq + 1), true);
    req.query_list.emplace_back(key, val);
    req.query[std::move(key)] = std::move(val);
  }
}

// Reads the whole request body into out (at most kMaxBody bytes).
Result<> read_whole_body(SocketIo& io, flat_buffer& buf, Parser& p, std::string& out) {
  if (p.is_done()) return {};
  auto len = p.content_length();
  if (len && *len > kMaxBody)
    return make_error(ErrorCode::kResourceExhausted, "request body too large");
  out.resize(len ? static_cast<size_t>(*len) : 64 << 10);
  size_t got = 0;
  while (!p.is_done()) {
    if (got == out.size()) {
      if (out.size() >= kMaxBody)
        return make_error(ErrorCode::kResourceExhausted, "request body too large");
      out.resize(std::min<size_t>(out.size() * 2, kMaxBody));
    }
    auto& body = p.get().body();
    body.data = out.data() + got;
    body.size = out.size() - got;
    size_t before = body.size;
    boost::system::error_code ec;
    bhttp::read(io, buf, p, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    got += before - body.size;
    if (ec) return std::unexpected(io_error(ec, "reading request body"));
  }
  out.resize(got);
  return {};
}

void send_message(ResponseWriter& w, int status, std::string_view message) {
  json::Json j = {{"message", message}};
  w.send_json(status, j);
}

void run_handler(const Handler& h, Request& req, ConnWriter& w) {
  try {
    h(req, w);
  } catch (const std::exception& e) {
    log::debug(std::string("http: handler for ") + req.method + " " + req.path +
               " threw: " + e.what());
    if (!w.started()) send_message(w, 500, e.what());
  } catch (...) {
    log::debug("http: handler for " + req.method + " " + req.path + " threw");
    if (!w.started()) send_message(w, 500, "internal error");
  }
}

}  // namespace

void serve_connection(std::shared_ptr<ServerShared> st, int fd, TlsContextPtr tls_ctx) {
  ScopeGuard cleanup([&] {
    std::lock_guard lock(st->mu);
    st->conns.erase(fd);
    ::close(fd);
    --st->active;
    st->cv.notify_all();
  });
  TlsSessionPtr tls;
  if (tls_ctx) {
    auto s = tls_accept(*tls_ctx, fd);
    if (!s) {
      log::debug("http: " + s.error().message());
      return;
    }
    tls = std::move(*s);
  }
  SocketIo io(fd, tls.get());
  flat_buffer buf;
  // Beast reads max(512, free capacity) bytes at a time: without room up front a streamed
  // upload (docker load) arrives 512 bytes per syscall.
  buf.reserve(64 * 1024);
  const Router& router = st->router;
  for (;;) {
    Parser p;
    p.header_limit(kHeaderLimit);
    p.body_limit(kNoBodyLimit);
    boost::system::error_code ec;
    bhttp::read_header(io, buf, p, ec);
    if (ec) {
      if (p.got_some() && ec != bhttp::error::end_of_stream &&
          ec.category() != boost::system::system_category()) {
        ConnWriter w(io, buf, false, false, false, false);
        send_message(w, 400, "bad request: " + ec.message());
      }
      break;
    }
    auto& msg = p.get();
    Request req;
    req.method = std::string(msg.method_string());
    parse_target(std::string_view(msg.target().data(), msg.target().size()), req);
    req.headers.reserve(8);
    for (const auto& f : msg)
      req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    bool keep_alive = msg.keep_alive() && !st->stopping;
    bool http10 = msg.version() < 11;
    bool head = req.method == "HEAD";
    bool upgrade = !req.header("Upgrade").empty();
    if (!p.is_done() && strcasecmp(req.header("Expect").c_str(), "100-continue") == 0) {
      if (!io.send_all("HTTP/1.1 100 Continue\r\n\r\n")) break;
    }

    auto match = router.match(req);
    ConnWriter w(io, buf, keep_alive, http10, head, upgrade);
    if (match && match->opts.stream_body) {
      req.read_body = [&io, &buf, &p](char* out, size_t len) -> Result<size_t> {
        while (!p.is_done()) {
          auto& body = p.get().body();
          body.data = out;
          body.size = len;
          boost::system::error_code rec;
          bhttp::read_some(io, buf, p, rec);
          if (rec == bhttp::error::need_buffer) rec = {};
          size_t n = len - body.size;
          if (rec) return std::unexpected(io_error(rec, "reading request body"));
          if (n > 0) return n;
        }
        return size_t{0};
      };
    } else {
      auto r = read_whole_body(io, buf, p, req.body);
      if (!r) {
        if (r.error().code() == ErrorCode::kResourceExhausted) {
          ConnWriter w413(io, buf, false, http10, head, false);
          send_message(w413, 413, r.error().message());
        }
        break;
      }
      // Buffered routes can still use the streaming interface: it reads from req.body.
      req.read_body = [&req, off = size_t{0}](char* out, size_t len) mutable -> Result<size_t> {
        size_t n = std::min(len, req.body.size() - off);
        std::memcpy(out, req.body.data() + off, n);
        off += n;
        return n;
      };
    }

    if (!match) {
      if (router.not_found()) {
        run_handler(router.not_found(), req, w);
      } else {
        send_message(w, 404, "page not found");
      }
    } else {
      bool go = true;
      if (router.middleware()) {
        try {
          go = router.middleware()(req, w);
        } catch (const std::exception& e) {
          if (!w.started()) send_message(w, 500, e.what());
          go = false;
        }
      }
      if (go) run_handler(*match->handler, req, w);
    }
    if (!w.started()) send_message(w, 500, "handler for " + req.path + " did not respond");
    w.finish();
    if (w.must_close() || !keep_alive || !p.is_done() || st->stopping) break;
  }
  if (tls) tls_close(tls.get());
}

}  // namespace berth::http
