// Sync channel framing: [u32 type][payload bytes] per SEQPACKET message.
#include "runtime/sync.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace berth::runtime {

Result<> sync_send(int fd, SyncType type, const std::string& payload) {
  char buf[4096];
  uint32_t t = static_cast<uint32_t>(type);
  size_t n = std::min(payload.size(), sizeof buf - sizeof t);
  memcpy(buf, &t, sizeof t);
  memcpy(buf + sizeof t, payload.data(), n);
  ssize_t r;
  do {
    r = ::send(fd, buf, sizeof t + n, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno_error("sync send");
  return {};
}

Result<SyncMsg> sync_recv(int fd) {
  char buf[4096];
  ssize_t r;
  do {
    r = ::recv(fd, buf, sizeof buf, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno_error("sync receive");
  if (r == 0) return make_error(ErrorCode::kNotFound, "sync channel closed");
  if (r < 4) return make_error(ErrorCode::kInternal, "sync: short message");
  uint32_t t;
  memcpy(&t, buf, sizeof t);
  return SyncMsg{static_cast<SyncType>(t), std::string(buf + 4, static_cast<size_t>(r - 4))};
}

Result<SyncMsg> sync_expect(int fd, SyncType type) {
  ASSIGN_OR_RETURN(SyncMsg msg, sync_recv(fd));
  if (msg.type == SyncType::kError) {
    // The child sends "<code>:<message>" so the category survives the trip.
    auto colon = msg.payload.find(':');
    int code = atoi(msg.payload.substr(0, colon).c_str());
    return make_error(static_cast<ErrorCode>(code), msg.payload.substr(colon + 1));
  }
  if (msg.type != type)
    return make_error(ErrorCode::kInternal, "sync: unexpected message " +
                                                std::to_string(static_cast<uint32_t>(msg.type)));
  return msg;
}

Result<> sync_wait_exec(int fd) {
  auto msg = sync_expect(fd, SyncType::kError);
  if (msg) return make_error(ErrorCode::kInternal, "sync: unexpected error message");
  if (msg.error().message() == "sync channel closed") return {};
  return std::unexpected(msg.error());
}

void child_fail(int fd, const Error& err) {
  std::string payload = std::to_string(static_cast<int>(err.code())) + ":" + err.message();
  if (fd < 0 || !sync_send(fd, SyncType::kError, payload)) {
    // Nobody listens (a started container): the container's stderr is the only place left.
    std::string line = "berth-runtime: " + err.message() + "\n";
    ssize_t w = ::write(STDERR_FILENO, line.data(), line.size());
    (void)w;
  }
  _exit(127);
}

}  // namespace berth::runtime
