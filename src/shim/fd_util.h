// Small fd helpers the shim's pieces share: close-on-exec pipes, listening unix sockets,
// non-blocking mode, pty window size, and one message with an optional fd (SCM_RIGHTS).
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace berth::shim {

struct Pipe {
  UniqueFd r, w;
};
Result<Pipe> make_pipe();
// Binds path (replacing a stale socket), mode 0600, listening. Paths longer than sun_path go
// through /proc/self/fd (both here and in connect_unix).
Result<UniqueFd> listen_unix(const std::string& path);
Result<UniqueFd> connect_unix(const std::string& path);
// Where a console socket for another process (the runtime, which cannot use our fds) goes:
// dir/name, or a fresh /tmp/berth-console-XXXXXX/name when that path is too long for sun_path.
Result<std::string> console_socket_path(const std::string& dir, const std::string& name);
void remove_console_socket(const std::string& path);
void set_nonblock(int fd);
void set_winsize(int master, uint16_t height, uint16_t width);
// Waits up to timeout_ms for a connection on listener and receives the fd it sends.
Result<UniqueFd> accept_fd(int listener, int timeout_ms);
// One datagram (SOCK_SEQPACKET) carrying payload and, if fd >= 0, the fd.
Result<> send_msg(int sock, const std::string& payload, int fd = -1);
// Receives one; fd is left invalid when none came. EOF yields an empty payload.
Result<std::string> recv_msg(int sock, UniqueFd* fd);

}  // namespace berth::shim
