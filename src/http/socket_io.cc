// Blocking socket reads and gathered writes for the HTTP layer, plus URL codec helpers.
// Writes use sendmsg(MSG_NOSIGNAL) so a vanished peer is an EPIPE error, never a SIGPIPE.
#include "http/socket_io.h"

#include <signal.h>
#include <sys/socket.h>

#include <algorithm>

#include "http/tls.h"

namespace berth::http {

ssize_t SocketIo::recv_some(void* buf, size_t len) {
  if (tls_) return tls_read(tls_, buf, len);
  for (;;) {
    ssize_t n = ::recv(fd_, buf, len, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

Result<> SocketIo::send_all(const iovec* iov_in, int iovcnt) {
  if (tls_) return tls_write(tls_, iov_in, iovcnt);
  iovec local[32];
  int cnt = std::min(iovcnt, 32);
  std::copy(iov_in, iov_in + cnt, local);
  iovec* iov = local;
  while (cnt > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(cnt);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("writing to socket");
    }
    size_t left = static_cast<size_t>(n);
    while (cnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --cnt;
    }
    if (cnt > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  if (iovcnt > 32) return send_all(iov_in + 32, iovcnt - 32);
  return {};
}

void ignore_sigpipe() {
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGPIPE, &sa, nullptr);
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

void append_chunk_size(std::string& out, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  char tmp[20];
  int len = 0;
  do {
    tmp[len++] = kHex[n & 15];
    n >>= 4;
  } while (n);
  while (len) out.push_back(tmp[--len]);
  out += "\r\n";
}

}  // namespace berth::http
