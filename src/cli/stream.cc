// A single-threaded poll loop over stdin, the hijacked socket and a self-pipe of signals: no
// threads means no locking, and a signal can never interrupt a half-written frame.
#include "cli/stream.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/stdcopy.h"

namespace berth::cli {

namespace {

int g_sig_pipe[2] = {-1, -1};

void on_signal_handler(int sig) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(sig);
  if (g_sig_pipe[1] >= 0) (void)!::write(g_sig_pipe[1], &b, 1);
  errno = saved;
}

}  // namespace

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (!isatty(fd) || tcgetattr(fd, &saved_) != 0) return;
  struct termios raw = saved_;
  // docker's term.MakeRaw (moby/term termios_unix.go).
  raw.c_iflag &=
      ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_oflag &= ~static_cast<tcflag_t>(OPOST);
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  raw.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB);
  raw.c_cflag |= CS8;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  active_ = tcsetattr(fd, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  if (active_) tcsetattr(fd_, TCSANOW, &saved_);
}

std::optional<std::pair<int, int>> terminal_size(int fd) {
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return std::nullopt;
  return std::pair<int, int>(ws.ws_row, ws.ws_col);
}

Result<std::string> parse_detach_keys(std::string_view keys) {
  std::string out;
  size_t i = 0;
  while (i <= keys.size()) {
    auto comma = keys.find(',', i);
    if (comma == std::string_view::npos) comma = keys.size();
    std::string_view k = keys.substr(i, comma - i);
    i = comma + 1;
    if (k.size() == 1) {
      out += k[0];
    } else if (k.size() == 6 && k.starts_with("ctrl-")) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(k[5])));
      if (c >= 'a' && c <= 'z') {
        out += static_cast<char>(c - 'a' + 1);
      } else if (c == '@') {
        out += '\0';
      } else if (c >= '[' && c <= '_') {
        out += static_cast<char>(c - '[' + 27);
      } else {
        return make_error(ErrorCode::kInvalidArgument,
                          "Unknown character: '" + std::string(k) + "'");
      }
    } else {
      return make_error(ErrorCode::kInvalidArgument, "Unknown character: '" + std::string(k) + "'");
    }
    if (comma == keys.size()) break;
  }
  return out;
}

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

void install_signal_forwarding(bool proxy_signals) {
  if (g_sig_pipe[0] < 0) {
    if (pipe2(g_sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGWINCH, &sa, nullptr);
  if (proxy_signals) {
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaction(s, &sa, nullptr);
  }
  signal(SIGPIPE, SIG_IGN);
}

int signal_pipe_fd() {
  return g_sig_pipe[0];
}

namespace {

// Writes demultiplexed or raw output.
class OutputSink {
 public:
  OutputSink(bool tty, int out_fd, int err_fd) : tty_(tty), out_(out_fd), err_(err_fd) {}
  Result<void> feed(std::string_view bytes) {
    if (tty_) return write_all(out_, bytes);
    dec_.feed(bytes);
    stdcopy::Stream s;
    std::string data;
    while (dec_.next(s, data)) {
      if (s == stdcopy::Stream::kStderr) {
        TRY(write_all(err_, data));
      } else if (s == stdcopy::Stream::kStdout || s == stdcopy::Stream::kStdin) {
        TRY(write_all(out_, data));
      } else {
        return make_error(ErrorCode::kInternal,
                          "Unrecognized input header: " + std::to_string(static_cast<int>(s)));
      }
    }
    return {};
  }

 private:
  bool tty_;
  int out_, err_;
  stdcopy::Decoder dec_;
};

void drain_signals(const PumpOptions& o) {
  unsigned char buf[64];
  const int fd = signal_pipe_fd();
  if (fd < 0) return;
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == SIGWINCH) {
        if (o.on_resize) o.on_resize();
      } else if (o.on_signal) {
        o.on_signal(buf[i]);
      }
    }
  }
}

}  // namespace

Result<PumpEnd> pump(http::Hijacked& conn, const PumpOptions& o) {
  OutputSink sink(o.tty, o.out_fd, o.err_fd);
  if (!conn.pending.empty()) TRY(sink.feed(conn.pending));
  const int sock = conn.fd.get();
  bool stdin_open = o.send_stdin;
  size_t detach_matched = 0;
  std::string held;  // bytes that may be the start of the detach sequence
  char buf[32 * 1024];
  while (true) {
    struct pollfd fds[3];
    int n = 0;
    fds[n++] = {sock, POLLIN, 0};
    const int sig_idx = signal_pipe_fd() >= 0 ? n : -1;
    if (sig_idx >= 0) fds[n++] = {signal_pipe_fd(), POLLIN, 0};
    const int in_idx = stdin_open ? n : -1;
    if (stdin_open) fds[n++] = {o.in_fd, POLLIN, 0};
    if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR) continue;
      return errno_error("poll");
    }
    if (sig_idx >= 0 && (fds[sig_idx].revents & POLLIN)) drain_signals(o);
    if (in_idx >= 0 && (fds[in_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t r = ::read(o.in_fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        stdin_open = false;
        if (!held.empty()) {
          TRY(write_all(sock, held));
          held.clear();
        }
        ::shutdown(sock, SHUT_WR);
      } else {
        std::string_view in(buf, static_cast<size_t>(r));
        if (o.detach_keys.empty()) {
          if (!write_all(sock, in)) stdin_open = false;
        } else {
          std::string to_send;
          for (char c : in) {
            if (c == o.detach_keys[detach_matched]) {
              held += c;
              if (++detach_matched == o.detach_keys.size()) return PumpEnd::kDetached;
            } else {
              to_send += held;
              held.clear();
              detach_matched = 0;
              if (c == o.detach_keys[0]) {
                held += c;
                if (++detach_matched == o.detach_keys.size()) return PumpEnd::kDetached;
              } else {
                to_send += c;
              }
            }
          }
          if (!to_send.empty() && !write_all(sock, to_send)) stdin_open = false;
        }
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t r = ::read(sock, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == ECONNRESET) return PumpEnd::kOutputDone;
      if (r < 0) return errno_error("reading from the container's stream");
      if (r == 0) return PumpEnd::kOutputDone;
      TRY(sink.feed(std::string_view(buf, static_cast<size_t>(r))));
    }
  }
}

Result<void> copy_body(http::BodyStream& body, bool tty, int out_fd, int err_fd) {
  OutputSink sink(tty, out_fd, err_fd);
  while (true) {
    ASSIGN_OR_RETURN(std::string chunk, body.read_some());
    if (chunk.empty()) return {};
    TRY(sink.feed(chunk));
  }
}

}  // namespace berth::cli
