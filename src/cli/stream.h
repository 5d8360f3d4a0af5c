// Moving bytes between the local terminal and a container: raw mode for -t, the hijacked
// attach/exec connection pumped in both directions (stdcopy demux without a TTY, stdin copied
// with a half-close at EOF, ctrl-p ctrl-q detach on a TTY), and signals turned into API calls
// (SIGINT/SIGTERM -> kill when proxying, SIGWINCH -> resize) through a self-pipe.
#pragma once

#include <termios.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "http/client.h"

namespace berth::cli {

// Puts a terminal fd into raw mode (docker's term.MakeRaw) and restores it when destroyed.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  bool active() const { return active_; }

 private:
  int fd_;
  bool active_ = false;
  struct termios saved_ {};
};

// Rows and columns of a terminal, or nullopt.
std::optional<std::pair<int, int>> terminal_size(int fd);

// "ctrl-p,ctrl-q" -> "\x10\x11"; errors name the bad key.
Result<std::string> parse_detach_keys(std::string_view keys);

struct PumpOptions {
  bool tty = false;         // raw stream; else stdcopy frames
  bool send_stdin = false;  // copy our stdin to the connection
  std::string detach_keys;  // client-side detach sequence (TTY only); empty: none
  int out_fd = 1, err_fd = 2, in_fd = 0;
  // Called for SIGINT/SIGTERM/etc. when proxying signals (signal number).
  std::function<void(int)> on_signal;
  // Called on SIGWINCH (and once at start when set).
  std::function<void()> on_resize;
};

enum class PumpEnd { kOutputDone, kDetached };

// Runs until the container's output ends (or the detach keys are typed).
Result<PumpEnd> pump(http::Hijacked& conn, const PumpOptions& opts);

// Copies a streamed body to stdout/stderr: raw for TTY containers, demultiplexed otherwise.
Result<void> copy_body(http::BodyStream& body, bool tty, int out_fd = 1, int err_fd = 2);

// Installs handlers that forward the given signals into the self-pipe read by pump(); also used
// by commands that wait without a connection (poll_signal).
void install_signal_forwarding(bool proxy_signals);
int signal_pipe_fd();

Result<void> write_all(int fd, std::string_view data);

}  // namespace berth::cli
