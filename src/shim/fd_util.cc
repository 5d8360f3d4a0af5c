// fd helpers for the shim (see fd_util.h).
#include "shim/fd_util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

namespace berth::shim {
namespace {

// sun_path holds 107 bytes; longer paths (a 64-hex container id under a deep exec root) go
// through the parent directory's fd: /proc/self/fd/N/name. dir keeps that fd open.
Result<sockaddr_un> unix_addr(const std::string& path, UniqueFd& dir) {
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::string p = path;
  if (p.size() >= sizeof addr.sun_path) {
    size_t slash = p.rfind('/');
    std::string parent = slash == 0 ? "/" : p.substr(0, slash);
    int fd = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_error("open " + parent);
    dir.reset(fd);
    p = "/proc/self/fd/" + std::to_string(fd) + "/" + p.substr(slash + 1);
    if (p.size() >= sizeof addr.sun_path)
      return make_error(ErrorCode::kInvalidArgument, "socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, p.c_str(), p.size());
  return addr;
}

}  // namespace

Result<Pipe> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return errno_error("pipe");
  return Pipe{UniqueFd(p[0]), UniqueFd(p[1])};
}

Result<UniqueFd> listen_unix(const std::string& path) {
  UniqueFd dir;
  ASSIGN_OR_RETURN(sockaddr_un addr, unix_addr(path, dir));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("socket");
  UniqueFd sock(fd);
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return errno_error("bind " + path);
  ::chmod(path.c_str(), 0600);
  if (::listen(fd, 64) != 0) return errno_error("listen " + path);
  return sock;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  UniqueFd dir;
  ASSIGN_OR_RETURN(sockaddr_un addr, unix_addr(path, dir));
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("socket");
  UniqueFd sock(fd);
  int r;
  do {
    r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (r != 0 && errno == EINTR);
  if (r != 0) {
    int e = errno;
    // A socket file nobody listens on is a shim that is gone.
    if (e == ECONNREFUSED) e = ENOENT;
    return errno_error(e, "connect to shim " + path);
  }
  return sock;
}

Result<std::string> console_socket_path(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  if (path.size() < sizeof(sockaddr_un::sun_path)) return path;
  char tmpl[] = "/tmp/berth-console-XXXXXX";
  if (!::mkdtemp(tmpl)) return errno_error("mkdtemp /tmp/berth-console-XXXXXX");
  return std::string(tmpl) + "/" + name;
}

void remove_console_socket(const std::string& path) {
  ::unlink(path.c_str());
  if (path.starts_with("/tmp/berth-console-")) ::rmdir(path.substr(0, path.rfind('/')).c_str());
}

void set_nonblock(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

void set_winsize(int master, uint16_t height, uint16_t width) {
  if (master < 0 || (height == 0 && width == 0)) return;
  struct winsize ws {};
  ws.ws_row = height;
  ws.ws_col = width;
  ::ioctl(master, TIOCSWINSZ, &ws);
}

Result<UniqueFd> accept_fd(int listener, int timeout_ms) {
  struct pollfd p = {listener, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n != 1) return make_error(ErrorCode::kUnavailable, "console socket: no connection");
  int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return errno_error("accept console socket");
  UniqueFd conn(c);
  UniqueFd fd;
  ASSIGN_OR_RETURN(std::string name, recv_msg(c, &fd));
  if (!fd) return make_error(ErrorCode::kInternal, "console socket: no pty master received");
  return fd;
}

Result<> send_msg(int sock, const std::string& payload, int fd) {
  struct msghdr msg {};
  struct iovec iov = {const_cast<char*>(payload.data()), payload.size()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  ssize_t r;
  do {
    r = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno_error("sendmsg");
  return {};
}

Result<std::string> recv_msg(int sock, UniqueFd* fd) {
  char buf[8192];
  struct msghdr msg {};
  struct iovec iov = {buf, sizeof buf};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t r;
  do {
    r = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno_error("recvmsg");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int got;
      std::memcpy(&got, CMSG_DATA(c), sizeof got);
      if (fd)
        fd->reset(got);
      else
        ::close(got);
    }
  }
  return std::string(buf, static_cast<size_t>(r));
}

}  // namespace berth::shim
