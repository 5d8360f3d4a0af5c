// Server-side TLS for TCP listeners (internal to the http layer): mutual TLS as dockerd's
// --tlsverify does (client certificate required and verified against the CA).
// Key idea: TLS is an optional layer under SocketIo; without BERTH_HTTP_TLS (libssl not linked)
// every entry point reports kUnimplemented and plain sockets are unaffected.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <memory>
#include <string>

#include "base/error.h"

namespace berth::http {

class TlsContext;
class TlsSession;

struct TlsContextDeleter {
  void operator()(TlsContext* c) const;
};
struct TlsSessionDeleter {
  void operator()(TlsSession* s) const;
};
using TlsContextPtr = std::shared_ptr<TlsContext>;
using TlsSessionPtr = std::unique_ptr<TlsSession, TlsSessionDeleter>;

bool tls_available();
// Loads cert/key and the CA that client certificates must chain to.
Result<TlsContextPtr> tls_server_context(const std::string& cert, const std::string& key,
                                         const std::string& ca);
// Server handshake on a connected blocking socket.
Result<TlsSessionPtr> tls_accept(TlsContext& ctx, int fd);
// Like recv(2): bytes read, 0 at a clean close, -1 with errno set.
ssize_t tls_read(TlsSession* s, void* buf, size_t len);
Result<> tls_write(TlsSession* s, const iovec* iov, int iovcnt);
// Sends close_notify (best effort).
void tls_close(TlsSession* s);
// Hijacked TLS connection: copies between the session (on tcp_fd) and local_fd (a socketpair end
// the handler holds) until both directions ended; a close_notify from the client becomes
// SHUT_WR on local_fd and EOF on local_fd becomes a close_notify. Closes local_fd.
void tls_relay(TlsSession* s, int tcp_fd, int local_fd);

}  // namespace berth::http
