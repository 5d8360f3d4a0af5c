// FakeHttpServer (tests only): a small HTTP/1.1 server on 127.0.0.1 with a port of its own,
// a thread per connection and keep-alive, answering through a handler. It can misbehave on
// purpose: drop the connection after part of a body. A TLS handshake gets a plain 400. Every
// request is recorded so tests can check what the client sent (Range, Authorization,
// Content-Range...).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::registry::testing {

struct FakeRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // names lowercase
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct FakeReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  long drop_after = -1;  // >= 0: announce the whole body, send this many bytes, then hang up
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeReply(const FakeRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~FakeHttpServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    {
      std::lock_guard lock(mu_);
      for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conn_threads_) t.join();
  }

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + host(); }

  std::vector<FakeRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<FakeRequest> requests_to(const std::string& path_prefix) const {
    std::vector<FakeRequest> out;
    for (auto& r : requests())
      if (r.path().starts_with(path_prefix)) out.push_back(r);
    return out;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      std::lock_guard lock(mu_);
      conn_fds_.push_back(fd);
      conn_threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  static bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void serve(int fd) {
    std::string buf;
    char chunk[65536];
    auto fill = [&]() {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<size_t>(n));
      return true;
    };
    while (!stopping_) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) return finish(fd);
        if (buf[0] == '\x16') {  // a TLS ClientHello: answer as Go's plain http server does
          send_all(fd, "HTTP/1.0 400 Bad Request\r\n\r\n");
          return finish(fd);
        }
      }
      FakeRequest req;
      std::string head = buf.substr(0, end);
      buf.erase(0, end + 4);
      size_t line_end = head.find("\r\n");
      std::string first = head.substr(0, line_end);
      size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
      req.method = first.substr(0, sp1);
      req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos) e = head.size();
        std::string line = head.substr(pos, e - pos);
        pos = e + 2;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = line.find_first_not_of(' ', colon + 1);
        req.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      size_t length = 0;
      if (!req.header("content-length").empty()) length = std::stoul(req.header("content-length"));
      while (buf.size() < length)
        if (!fill()) return finish(fd);
      req.body = buf.substr(0, length);
      buf.erase(0, length);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      FakeReply reply = handler_(req);
      std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " Fake\r\n";
      bool has_length = false;
      for (auto& [k, v] : reply.headers) {
        out += k + ": " + v + "\r\n";
        std::string lk = k;
        for (char& c : lk) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lk == "content-length") has_length = true;
      }
      if (!has_length) out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
      out += "\r\n";
      if (req.method != "HEAD") {
        if (reply.drop_after >= 0) {
          out += reply.body.substr(0, static_cast<size_t>(reply.drop_after));
          send_all(fd, out);
          return finish(fd);
        }
        out += reply.body;
      }
      if (!send_all(fd, out)) return finish(fd);
    }
    finish(fd);
  }

  void finish(int fd) {
    std::lock_guard lock(mu_);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    conn_fds_.erase(std::remove(conn_fds_.begin(), conn_fds_.end(), fd), conn_fds_.end());
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<int> conn_fds_;
  std::vector<std::thread> conn_threads_;
  std::vector<FakeRequest> requests_;
};

}  // namespace berth::registry::testing
