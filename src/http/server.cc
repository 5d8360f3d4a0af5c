// Server: listeners (unix socket with mode/group, TCP with optional mutual TLS), the accept loop
// and shutdown. Key idea: run() polls the listening sockets plus an eventfd; stop() only writes
// that eventfd (async-signal-safe), and run() then closes the listeners, shuts down every live
// connection socket (waking blocked reads and long polls) and waits briefly for the threads.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "http/server_internal.h"
#include "http/socket_io.h"

namespace berth::http {

namespace {

constexpr auto kStopGrace = std::chrono::seconds(5);

struct ListenFd {
  UniqueFd fd;
  bool tcp = false;
  std::string unix_path;  // removed on stop
  TlsContextPtr tls;
};

std::string dirname_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class ServerImpl : public Server {
 public:
  ServerImpl(const Router& router, UniqueFd wake)
      : st_(std::make_shared<ServerShared>(router)), wake_(std::move(wake)) {}

  ~ServerImpl() override { close_listeners(); }

  Result<> listen(const UnixListener& l) override {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (l.path.empty() || l.path.size() >= sizeof(addr.sun_path))
      return make_error(ErrorCode::kInvalidArgument, "invalid socket path: " + l.path);
    std::memcpy(addr.sun_path, l.path.data(), l.path.size());
    struct stat sb;
    if (::lstat(l.path.c_str(), &sb) == 0) {
      if (!S_ISSOCK(sb.st_mode))
        return make_error(ErrorCode::kAlreadyExists, l.path + " exists and is not a socket");
      if (::unlink(l.path.c_str()) != 0) return errno_error("removing stale socket " + l.path);
    }
    TRY_CTX(mkdir_all(dirname_of(l.path)), "listening on " + l.path);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return errno_error("socket for " + l.path);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      return errno_error("binding " + l.path);
    if (::chmod(l.path.c_str(), static_cast<mode_t>(l.mode)) != 0)
      return errno_error("chmod " + l.path);
    if (l.gid >= 0 && ::chown(l.path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(l.gid)))
      return errno_error("chown " + l.path);
    if (::listen(fd.get(), SOMAXCONN) != 0) return errno_error("listening on " + l.path);
    ListenFd lf;
    lf.fd = std::move(fd);
    lf.unix_path = l.path;
    listeners_.push_back(std::move(lf));
    return {};
  }

  Result<> listen(const TcpListener& l) override {
    std::string where = l.address + ":" + std::to_string(l.port);
    TlsContextPtr tls;
    int tls_parts = !l.tls_cert.empty() + !l.tls_key.empty() + !l.tls_ca.empty();
    if (tls_parts != 0 && tls_parts != 3)
      return make_error(ErrorCode::kInvalidArgument,
                        "tcp listener " + where + ": tls needs cert, key and ca together");
    if (tls_parts == 3) {
      ASSIGN_OR_RETURN(tls, tls_server_context(l.tls_cert, l.tls_key, l.tls_ca));
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(l.port);
    const char* host = l.address.empty() ? nullptr : l.address.c_str();
    int rc = ::getaddrinfo(host, port.c_str(), &hints, &res);
    if (rc != 0)
      return make_error(ErrorCode::kInvalidArgument,
                        "tcp listener " + where + ": " + ::gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
    UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return errno_error("socket for " + where);
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0)
      return errno_error("binding " + where);
    if (::listen(fd.get(), SOMAXCONN) != 0) return errno_error("listening on " + where);
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      if (ss.ss_family == AF_INET)
        tcp_port_ = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
      else if (ss.ss_family == AF_INET6)
        tcp_port_ = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    }
    ListenFd lf;
    lf.fd = std::move(fd);
    lf.tcp = true;
    lf.tls = std::move(tls);
    listeners_.push_back(std::move(lf));
    return {};
  }

  int tcp_port() const override { return tcp_port_; }

  Result<> run() override {
    std::vector<pollfd> pfds;
    pfds.push_back({wake_.get(), POLLIN, 0});
    for (const auto& l : listeners_) pfds.push_back({l.fd.get(), POLLIN, 0});
    while (!stop_requested_.load()) {
      int n = ::poll(pfds.data(), pfds.size(), -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        auto err = errno_error("http server: poll");
        shutdown_all();
        return err;
      }
      if (pfds[0].revents) break;
      for (size_t i = 1; i < pfds.size(); ++i) {
        if (pfds[i].revents) accept_all(listeners_[i - 1]);
      }
    }
    shutdown_all();
    return {};
  }

  void stop() override {
    stop_requested_.store(true);
    uint64_t one = 1;
    ssize_t r = ::write(wake_.get(), &one, sizeof(one));
    (void)r;
  }

 private:
  void accept_all(const ListenFd& l) {
    for (;;) {
      int fd = ::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          log::debug("http: accept: " + std::string(std::strerror(errno)));
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return;  // EAGAIN: drained
      }
      if (l.tcp) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      {
        std::lock_guard lock(st_->mu);
        st_->conns.insert(fd);
        ++st_->active;
      }
      if (!dispatch_connection(st_, fd, l.tls)) {
        std::lock_guard lock(st_->mu);
        st_->conns.erase(fd);
        ::close(fd);
        --st_->active;
      }
    }
  }

  void close_listeners() {
    for (auto& l : listeners_) {
      if (!l.unix_path.empty() && l.fd) ::unlink(l.unix_path.c_str());
      l.fd.reset();
    }
    listeners_.clear();
  }

  void shutdown_all() {
    close_listeners();
    std::unique_lock lock(st_->mu);
    st_->stopping = true;
    for (int fd : st_->conns) ::shutdown(fd, SHUT_RDWR);
    st_->work_cv.notify_all();
    st_->cv.wait_for(lock, kStopGrace, [&] { return st_->active == 0; });
  }

  std::shared_ptr<ServerShared> st_;
  UniqueFd wake_;
  std::vector<ListenFd> listeners_;
  std::atomic<bool> stop_requested_{false};
  int tcp_port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::create(const Router& router) {
  ignore_sigpipe();
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return errno_error("http server: eventfd");
  return std::unique_ptr<Server>(new ServerImpl(router, std::move(wake)));
}

}  // namespace berth::http
