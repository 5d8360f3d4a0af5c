// Test helper (used only by the *_test.cc files here): runs a function in a forked child so that
// what it changes (uid, capabilities, seccomp filter, rlimits, personality) never touches the test
// process. The child reports a message over a pipe; an empty message means success.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace berth::runtime::security::testing {

struct ChildResult {
  int status = 0;       // raw waitpid status
  std::string message;  // what the child wrote ("" = success)
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0 && message.empty(); }
};

// fn returns "" on success or a description of what went wrong.
inline ChildResult run_in_child(const std::function<std::string()>& fn) {
  ChildResult res;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    res.message = "pipe2 failed";
    res.status = 1 << 8;
    return res;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    res.message = "fork failed";
    res.status = 1 << 8;
    return res;
  }
  if (pid == 0) {
    ::close(p[0]);
    std::string msg = fn();
    size_t off = 0;
    while (off < msg.size()) {
      ssize_t n = ::write(p[1], msg.data() + off, msg.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(msg.empty() ? 0 : 1);
  }
  ::close(p[1]);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) res.message.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  while (::waitpid(pid, &res.status, 0) < 0 && errno == EINTR) {
  }
  return res;
}

}  // namespace berth::runtime::security::testing
