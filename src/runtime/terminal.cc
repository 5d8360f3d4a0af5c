// Console socket protocol (runc's): connect to the AF_UNIX stream socket, send one message whose
// payload is the pty's name and whose SCM_RIGHTS carries the master fd.
#include "runtime/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "base/path.h"

namespace berth::runtime {

Result<UniqueFd> connect_console_socket(const std::string& path) {
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return make_error(ErrorCode::kInvalidArgument, "--console-socket: path too long: " + path);
  memcpy(addr.sun_path, path.c_str(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("socket");
  UniqueFd sock(fd);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return errno_error("--console-socket: connect " + path);
  return sock;
}

Result<> send_fd(int sock, int fd, const std::string& name) {
  struct msghdr msg {};
  struct iovec iov;
  iov.iov_base = const_cast<char*>(name.data());
  iov.iov_len = name.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t r;
  do {
    r = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno_error("send console fd");
  return {};
}

Result<UniqueFd> recv_fd(int sock) {
  struct msghdr msg {};
  char name[256];
  struct iovec iov = {name, sizeof name};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t r;
  do {
    r = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno_error("receive fd");
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
    return make_error(ErrorCode::kInternal, "receive fd: no file descriptor in message");
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return UniqueFd(fd);
}

Result<UniqueFd> setup_console(int console_sock, const oci::Process& process, bool mount_console) {
  int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return errno_error("open /dev/ptmx");
  UniqueFd master_fd(master);
  if (::unlockpt(master) != 0) return errno_error("unlockpt");
  // TIOCGPTPEER opens the slave through the master: no path lookup an image could redirect.
  int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) return errno_error("open pty slave");
  UniqueFd slave_fd(slave);
  if (::fchown(slave, process.user.uid, process.user.gid) != 0 && errno != EPERM && errno != EINVAL)
    return errno_error("chown pty slave");
  if (process.console_size && (process.console_size->height || process.console_size->width)) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(process.console_size->height);
    ws.ws_col = static_cast<unsigned short>(process.console_size->width);
    ::ioctl(master, TIOCSWINSZ, &ws);
  }
  if (mount_console) {
    // /dev/console -> the pty slave, resolved inside the (already pivoted) root.
    int devfd = ::open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (devfd >= 0) {
      UniqueFd dev(devfd);
      int c = ::openat(devfd, "console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (c >= 0) ::close(c);
      auto target = open_in_root(devfd, "console", O_PATH | O_NOFOLLOW);
      if (target) {
        if (::mount(fd_path(slave).c_str(), fd_path(target->get()).c_str(), nullptr, MS_BIND,
                    nullptr) != 0)
          return errno_error("bind pty onto /dev/console");
      }
    }
  }
  if (console_sock >= 0) {
    char name[64] = "/dev/ptmx";
    ::ptsname_r(master, name, sizeof name);
    TRY(send_fd(console_sock, master, name));
    master_fd.reset();
  }
  if (::setsid() < 0) return errno_error("setsid");
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) return errno_error("set controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave, i) < 0) return errno_error("dup2 pty slave");
  return master_fd;
}

void proxy_terminal(int master) {
  struct termios saved {};
  bool raw = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
    struct winsize ws;
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
  }
  bool stdin_open = true;
  char buf[16384];
  for (;;) {
    struct pollfd fds[2] = {{master, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int n = ::poll(fds, stdin_open ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::read(master, buf, sizeof buf);
      if (r <= 0) break;
      ssize_t w = ::write(STDOUT_FILENO, buf, static_cast<size_t>(r));
      (void)w;
    }
    if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      ssize_t r = ::read(STDIN_FILENO, buf, sizeof buf);
      if (r <= 0) {
        stdin_open = false;
        char eot = 4;  // ^D: end of input for the program on the other side
        ssize_t w = ::write(master, &eot, 1);
        (void)w;
      } else {
        ssize_t w = ::write(master, buf, static_cast<size_t>(r));
        (void)w;
      }
    }
  }
  if (raw) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
}

}  // namespace berth::runtime
