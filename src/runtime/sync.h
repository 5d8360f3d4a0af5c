// The sync channel between the runtime and the container child: a SOCK_SEQPACKET socketpair,
// one message per packet. The child never logs; it reports errors here and _exits.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"

namespace berth::runtime {

enum class SyncType : uint32_t {
  kGo = 1,          // parent -> child: id maps written, cgroup joined; carry on
  kPrestart = 2,    // child -> parent: mounts done, before pivot_root: run parent-side hooks
  kHooksDone = 3,   // parent -> child
  kCreated = 4,     // child -> parent: ready, waiting to be started
  kStart = 5,       // parent -> child (foreground run; `start` uses the exec FIFO)
  kError = 6,       // child -> parent: payload is the message
  kPid = 7,         // child -> parent: payload is a pid (exec's grandchild)
};

struct SyncMsg {
  SyncType type;
  std::string payload;
};

Result<> sync_send(int fd, SyncType type, const std::string& payload = {});
// EOF is returned as NotFound "sync channel closed".
Result<SyncMsg> sync_recv(int fd);
// Receives and checks the type; a kError message becomes the returned Error.
Result<SyncMsg> sync_expect(int fd, SyncType type);

// Waits for the child's execve: EOF (the socket is close-on-exec) is success, kError is not.
Result<> sync_wait_exec(int fd);

// Child side: report err over fd and _exit(1). Never returns.
[[noreturn]] void child_fail(int fd, const Error& err);

}  // namespace berth::runtime
