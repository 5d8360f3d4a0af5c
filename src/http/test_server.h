// Test helper (tests only): an in-process Server on a unix socket in a fresh temp directory,
// serving on its own thread; the destructor stops it, joins and removes the directory.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <thread>

#include "base/file.h"
#include "http/server.h"

namespace berth::http::testing {

class TestServer {
 public:
  explicit TestServer(const Router& router, std::string dir = "") {
    if (dir.empty()) {
      char tmpl[] = "/tmp/berth-http-test-XXXXXX";
      dir_ = ::mkdtemp(tmpl);
      own_dir_ = true;
    } else {
      dir_ = dir;
    }
    path_ = dir_ + "/s.sock";
    auto s = Server::create(router);
    EXPECT_TRUE(s.has_value());
    server_ = std::move(*s);
    auto l = server_->listen(UnixListener{.path = path_, .mode = 0600});
    EXPECT_TRUE(l.has_value()) << l.error().message();
    thread_ = std::thread([this] { run_result_ = server_->run(); });
  }
  ~TestServer() {
    stop();
    if (own_dir_) (void)remove_all(dir_);
  }
  void stop() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }
  std::string url() const { return "unix://" + path_; }
  Server& server() { return *server_; }

 private:
  std::string dir_, path_;
  bool own_dir_ = false;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Result<> run_result_;
};

}  // namespace berth::http::testing
