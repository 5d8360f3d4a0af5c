// Blocking socket I/O shared by the HTTP server and client (internal to the http layer).
// Key idea: Beast's sync parsers only need a SyncReadStream/SyncWriteStream, so instead of Asio
// sockets we hand them a thin adapter over a raw blocking fd (optionally wrapped in TLS). That
// keeps hijack (give the fd away), client_gone (poll) and stop (shutdown) trivial and cheap.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <initializer_list>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::http {

class TlsSession;  // server-side TLS (tls.cc); null for plain sockets

// Non-owning view of a connected socket; what Beast's http::read/read_some operate on.
class SocketIo {
 public:
  SocketIo() = default;
  explicit SocketIo(int fd, TlsSession* tls = nullptr) : fd_(fd), tls_(tls) {}

  int fd() const { return fd_; }
  TlsSession* tls() const { return tls_; }

  // One read: bytes read, 0 at end of stream, -1 with errno set.
  ssize_t recv_some(void* buf, size_t len);
  // Writes everything in iov (gathered, one syscall when the kernel takes it all).
  Result<> send_all(const iovec* iov, int iovcnt);
  Result<> send_all(std::string_view data) {
    iovec v{const_cast<char*>(data.data()), data.size()};
    return send_all(&v, 1);
  }

  // --- Beast SyncReadStream / SyncWriteStream ---
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      ssize_t n = recv_some(b.data(), b.size());
      if (n < 0) {
        ec.assign(errno, boost::system::system_category());
        return 0;
      }
      if (n == 0) {
        ec = boost::asio::error::eof;
        return 0;
      }
      ec = {};
      return static_cast<size_t>(n);
    }
    ec = {};
    return 0;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    iovec iov[16];
    int n = 0;
    size_t total = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && n < 16; ++it) {
      boost::asio::const_buffer b = *it;
      if (b.size() == 0) continue;
      iov[n++] = iovec{const_cast<void*>(b.data()), b.size()};
      total += b.size();
    }
    auto r = send_all(iov, n);
    if (!r) {
      ec.assign(r.error().sys_errno() ? r.error().sys_errno() : EIO,
                boost::system::system_category());
      return 0;
    }
    ec = {};
    return total;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  int fd_ = -1;
  TlsSession* tls_ = nullptr;
};

// Sets SIGPIPE to SIG_IGN if it is still SIG_DFL: hijacked sockets are written with plain
// write(2) by handlers and callers (and OpenSSL writes with write(2) too), and a peer that went
// away must be an EPIPE error, not the death of berthd or the CLI (Go programs behave alike).
void ignore_sigpipe();

// Percent-decoding (with '+' as space when plus_is_space) and encoding helpers.
std::string percent_decode(std::string_view s, bool plus_is_space);
// Appends "<hex>\r\n" for a chunk of size n.
void append_chunk_size(std::string& out, size_t n);

}  // namespace berth::http
