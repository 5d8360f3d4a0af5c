// start: one byte into the exec FIFO releases the waiting init; then the FIFO is removed, which
// is what turns the status from "created" into "running". poststart hooks run after that.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "runtime/container_internal.h"
#include "runtime/hooks.h"

namespace berth::runtime {

Result<> start_container(const GlobalOptions& g, const std::string& id) {
  ASSIGN_OR_RETURN(ContainerState s, load_state(g.root, id));
  ASSIGN_OR_RETURN(Status st, container_status(g, s));
  switch (st) {
    case Status::kCreated: break;
    case Status::kStopped:
      return make_error(ErrorCode::kFailedPrecondition, "cannot start a container that has stopped");
    case Status::kRunning:
      return make_error(ErrorCode::kFailedPrecondition, "cannot start an already running container");
    default:
      return make_error(ErrorCode::kFailedPrecondition,
                        std::string("cannot start a container in the ") + status_name(st) + " state");
  }
  std::string fifo = exec_fifo_path(g.root, id);
  // The init holds the FIFO open read-write until its execve closes it. We keep a read end that
  // never reads: once the init has exec'd (or died) no writer is left and it reports POLLHUP, so
  // start returns after the container process runs, as the spec wants for poststart hooks.
  int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (rfd < 0) {
    if (errno == ENOENT)
      return make_error(ErrorCode::kFailedPrecondition, "cannot start an already running container");
    return errno_error("open exec fifo");
  }
  UniqueFd reader(rfd);
  // O_WRONLY|O_NONBLOCK succeeds even when the init is gone (our own reader counts), so
  // liveness is checked through the init itself.
  if (!init_alive(s))
    return make_error(ErrorCode::kFailedPrecondition, "cannot start a container that has stopped");
  int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno_error("open exec fifo");
  UniqueFd writer(fd);
  char c = 0;
  if (::write(fd, &c, 1) != 1) return errno_error("write exec fifo");
  writer.reset();
  struct pollfd p = {rfd, 0, 0};  // events 0: only POLLHUP/POLLERR wake us
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  reader.reset();
  ::unlink(fifo.c_str());
  // A process that exits right after execve looks the same as one that failed before it (whose
  // error went to the container's stderr), so neither is an error here, as with runc.
  auto spec = oci::parse_spec(s.config);
  if (spec && !spec->hooks.poststart.empty()) {
    std::string state = json::dump(spec_state_json(s, Status::kRunning));
    if (auto h = run_hooks(spec->hooks.poststart, "poststart", state); !h)
      log::warn(h.error().message());
  }
  return {};
}

}  // namespace berth::runtime
