// start: one byte into the exec FIFO releases the waiting init; then the FIFO is removed, which
// is what turns the status from "created" into "running". poststart hooks run after that.
#include <fcntl.h>
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
  // Non-blocking: with no reader left (the init died), open fails with ENXIO instead of hanging.
  int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENXIO || errno == ENOENT)
      return make_error(ErrorCode::kFailedPrecondition, "cannot start a container that has stopped");
    return errno_error("open exec fifo");
  }
  UniqueFd owned(fd);
  char c = 0;
  if (::write(fd, &c, 1) != 1) return errno_error("write exec fifo");
  owned.reset();
  ::unlink(fifo.c_str());
  auto spec = oci::parse_spec(s.config);
  if (spec && !spec->hooks.poststart.empty()) {
    std::string state = json::dump(spec_state_json(s, Status::kRunning));
    if (auto h = run_hooks(spec->hooks.poststart, "poststart", state); !h)
      log::warn(h.error().message());
  }
  return {};
}

}  // namespace berth::runtime
