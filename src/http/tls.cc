// Server-side TLS on OpenSSL (compiled when BERTH_HTTP_TLS is defined and libssl is linked).
// Sessions run over the same blocking fd as plain connections; reads/writes map SSL errors to
// errno-style failures so SocketIo callers need no TLS-specific handling.
#include "http/tls.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef BERTH_HTTP_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

namespace berth::http {

#ifdef BERTH_HTTP_TLS

class TlsContext {
 public:
  explicit TlsContext(SSL_CTX* c) : ctx(c) {}
  ~TlsContext() { SSL_CTX_free(ctx); }
  SSL_CTX* ctx;
};

class TlsSession {
 public:
  explicit TlsSession(SSL* s) : ssl(s) {}
  ~TlsSession() { SSL_free(ssl); }
  SSL* ssl;
  std::string scratch;  // coalesces small gathered writes into one record
};

namespace {

constexpr int kHandshakeTimeoutSec = 10;

// Drains OpenSSL's error queue into one message.
std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown tls error" : out;
}

Error tls_error(std::string_view what) {
  return Error(ErrorCode::kInvalidArgument, std::string(what) + ": " + ssl_errors());
}

}  // namespace

void TlsContextDeleter::operator()(TlsContext* c) const {
  delete c;
}
void TlsSessionDeleter::operator()(TlsSession* s) const {
  delete s;
}
bool tls_available() {
  return true;
}

Result<TlsContextPtr> tls_server_context(const std::string& cert, const std::string& key,
                                         const std::string& ca) {
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return std::unexpected(tls_error("tls: creating context"));
  TlsContextPtr ctx(new TlsContext(raw), TlsContextDeleter());
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_mode(raw, SSL_MODE_AUTO_RETRY | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(raw, cert.c_str()) != 1)
    return std::unexpected(tls_error("tls: loading certificate " + cert));
  if (SSL_CTX_use_PrivateKey_file(raw, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return std::unexpected(tls_error("tls: loading key " + key));
  if (SSL_CTX_check_private_key(raw) != 1)
    return std::unexpected(tls_error("tls: key " + key + " does not match " + cert));
  if (SSL_CTX_load_verify_locations(raw, ca.c_str(), nullptr) != 1)
    return std::unexpected(tls_error("tls: loading ca " + ca));
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str()))
    SSL_CTX_set_client_CA_list(raw, names);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

Result<TlsSessionPtr> tls_accept(TlsContext& ctx, int fd) {
  SSL* ssl = SSL_new(ctx.ctx);
  if (!ssl) return std::unexpected(tls_error("tls: new session"));
  TlsSessionPtr s(new TlsSession(ssl));
  SSL_set_fd(ssl, fd);
  // A peer that connects and never finishes the handshake must not hold a worker forever.
  timeval limit{kHandshakeTimeoutSec, 0}, none{0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ERR_clear_error();
  int rc = SSL_accept(ssl);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  if (rc != 1) {
    Error e = tls_error("tls handshake");
    return std::unexpected(Error(ErrorCode::kPermissionDenied, e.message()));
  }
  return s;
}

ssize_t tls_read(TlsSession* s, void* buf, size_t len) {
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(s->ssl, buf, static_cast<int>(std::min<size_t>(len, INT32_MAX)));
    if (n > 0) return n;
    int err = SSL_get_error(s->ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err == SSL_ERROR_SYSCALL) {
      if (errno == EINTR) continue;
      if (n == 0 || errno == 0) return 0;  // peer closed without close_notify
      return -1;
    }
    errno = EIO;
    return -1;
  }
}

Result<> tls_write(TlsSession* s, const iovec* iov, int iovcnt) {
  size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  auto write_one = [&](const void* data, size_t len) -> Result<> {
    while (len > 0) {
      ERR_clear_error();
      int n = SSL_write(s->ssl, data, static_cast<int>(std::min<size_t>(len, 1 << 30)));
      if (n <= 0) {
        int err = SSL_get_error(s->ssl, n);
        if (err == SSL_ERROR_SYSCALL && errno == EINTR) continue;
        return make_error(ErrorCode::kUnavailable, "tls write: " + ssl_errors(), EPIPE);
      }
      data = static_cast<const char*>(data) + n;
      len -= static_cast<size_t>(n);
    }
    return {};
  };
  if (iovcnt > 1 && total <= (64 << 10)) {
    s->scratch.clear();
    for (int i = 0; i < iovcnt; ++i)
      s->scratch.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return write_one(s->scratch.data(), s->scratch.size());
  }
  for (int i = 0; i < iovcnt; ++i) TRY(write_one(iov[i].iov_base, iov[i].iov_len));
  return {};
}

void tls_close(TlsSession* s) {
  // Once only: a second SSL_shutdown would block waiting for the peer's close_notify.
  if (SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN) return;
  ERR_clear_error();
  SSL_shutdown(s->ssl);
}

void tls_relay(TlsSession* s, int tcp_fd, int local_fd) {
  bool from_client = true;  // client -> handler still open
  bool to_client = true;    // handler -> client still open
  char buf[16384];
  while (from_client || to_client) {
    // Decrypted bytes may already wait inside OpenSSL: then do not block in poll.
    bool pending = from_client && SSL_pending(s->ssl) > 0;
    pollfd pfds[2] = {{tcp_fd, static_cast<short>(from_client ? POLLIN : 0), 0},
                      {local_fd, static_cast<short>(to_client ? POLLIN : 0), 0}};
    if (!pending) {
      int n = ::poll(pfds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
    }
    if (from_client && (pending || pfds[0].revents)) {
      ssize_t n = tls_read(s, buf, sizeof buf);
      if (n <= 0) {
        from_client = false;
        ::shutdown(local_fd, SHUT_WR);
        if (n < 0) break;  // connection broken (or server stopping): nothing more to send
      } else {
        size_t off = 0;
        while (off < static_cast<size_t>(n)) {
          ssize_t w = ::send(local_fd, buf + off, static_cast<size_t>(n) - off, MSG_NOSIGNAL);
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) {
            from_client = false;  // handler closed its end: drop the client's input
            break;
          }
          off += static_cast<size_t>(w);
        }
      }
    }
    if (to_client && pfds[1].revents) {
      ssize_t n = ::recv(local_fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        to_client = false;
        tls_close(s);  // close_notify: the TLS form of CloseWrite
        if (!from_client) break;
      } else {
        iovec v{buf, static_cast<size_t>(n)};
        if (!tls_write(s, &v, 1)) break;
      }
    }
  }
  ::close(local_fd);
}

#else

class TlsContext {};
class TlsSession {};

void TlsContextDeleter::operator()(TlsContext* c) const {
  delete c;
}
void TlsSessionDeleter::operator()(TlsSession* s) const {
  delete s;
}
bool tls_available() {
  return false;
}
Result<TlsContextPtr> tls_server_context(const std::string&, const std::string&,
                                         const std::string&) {
  return make_error(ErrorCode::kUnimplemented,
                    "tls listener: berth was built without TLS support (libssl)");
}
Result<TlsSessionPtr> tls_accept(TlsContext&, int) {
  return make_error(ErrorCode::kUnimplemented, "tls: not built in");
}
ssize_t tls_read(TlsSession*, void*, size_t) {
  errno = ENOTSUP;
  return -1;
}
Result<> tls_write(TlsSession*, const iovec*, int) {
  return make_error(ErrorCode::kUnimplemented, "tls: not built in");
}
void tls_close(TlsSession*) {}
void tls_relay(TlsSession*, int, int local_fd) {
  ::close(local_fd);
}

#endif

}  // namespace berth::http
