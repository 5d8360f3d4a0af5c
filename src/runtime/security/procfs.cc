// Verified procfs writes for the container child (see procfs.h).
#include "runtime/security/procfs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/syscalls.h"

namespace berth::runtime::security {
namespace {

bool on_procfs(int fd) {
  struct statfs st;
  return ::fstatfs(fd, &st) == 0 && st.f_type == PROC_SUPER_MAGIC;
}

}  // namespace

Result<UniqueFd> open_procfs_file(const std::string& rel, int flags) {
  const std::string path = "/proc/" + rel;
  UniqueFd root(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return errno_error("open " + path);
  if (!on_procfs(root.get()))
    return make_error(ErrorCode::kFailedPrecondition, "open " + path + ": /proc is not procfs");
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
  int fd = sys::openat2(root.get(), rel.c_str(), &how);
  if (fd < 0 && errno == ENOSYS) fd = ::openat(root.get(), rel.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno_error("open " + path);
  UniqueFd file(fd);
  if (!on_procfs(file.get()))
    return make_error(ErrorCode::kFailedPrecondition, "open " + path + ": not on procfs");
  return file;
}

Result<> write_procfs_file(const std::string& rel, std::string_view data) {
  ASSIGN_OR_RETURN(UniqueFd fd, open_procfs_file(rel, O_WRONLY));
  ssize_t n;
  do {
    n = ::write(fd.get(), data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("write /proc/" + rel);
  if (static_cast<size_t>(n) != data.size())
    return make_error(ErrorCode::kInternal, "write /proc/" + rel + ": short write");
  return {};
}

}  // namespace berth::runtime::security
