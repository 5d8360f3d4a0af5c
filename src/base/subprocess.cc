// fork + execve with a pipe for stdin and one for output, waited on through a pidfd so that the
// timeout needs no signals or threads.
#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/syscalls.h"
#include "base/unique_fd.h"

namespace berth {

namespace {
std::vector<char*> cstrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}
int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
}  // namespace

Result<SubprocessResult> run_subprocess(const SubprocessOptions& opts) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return errno_error("pipe");
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return errno_error("pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);

  std::vector<std::string> args = opts.args;
  if (args.empty()) args.push_back(opts.path);
  auto argv = cstrings(args);
  auto envp = cstrings(opts.env);

  pid_t pid = ::fork();
  if (pid < 0) return errno_error("fork " + opts.path);
  if (pid == 0) {
    ::dup2(in_r.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(out_w.get(), 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(opts.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  in_r.reset();
  out_w.reset();
  UniqueFd pidfd(sys::pidfd_open(pid));

  // Feed stdin without blocking on a child that never reads it.
  ::signal(SIGPIPE, SIG_IGN);
  ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  size_t written = 0;
  SubprocessResult res;
  int64_t deadline = opts.timeout ? now_ms() + opts.timeout->count() : -1;
  bool exited = false;
  while (!exited) {
    struct pollfd fds[3];
    int n = 0;
    int out_idx = -1, in_idx = -1, pid_idx = -1;
    if (out_r) { fds[n] = {out_r.get(), POLLIN, 0}; out_idx = n++; }
    if (in_w) {
      if (written >= opts.stdin_data.size()) {
        in_w.reset();
      } else {
        fds[n] = {in_w.get(), POLLOUT, 0};
        in_idx = n++;
      }
    }
    if (pidfd && !out_r) { fds[n] = {pidfd.get(), POLLIN, 0}; pid_idx = n++; }
    if (n == 0) break;
    int wait_ms = -1;
    if (deadline >= 0) {
      wait_ms = static_cast<int>(deadline - now_ms());
      if (wait_ms <= 0) {
        res.timed_out = true;
        ::kill(pid, SIGKILL);
        break;
      }
    }
    int r = ::poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) continue;
    if (out_idx >= 0 && fds[out_idx].revents) {
      char buf[4096];
      ssize_t k = ::read(out_r.get(), buf, sizeof buf);
      if (k <= 0) out_r.reset();
      else if (res.output.size() < 65536) res.output.append(buf, static_cast<size_t>(k));
    }
    if (in_idx >= 0 && fds[in_idx].revents) {
      ssize_t k = ::write(in_w.get(), opts.stdin_data.data() + written,
                          opts.stdin_data.size() - written);
      if (k < 0 && errno != EAGAIN) in_w.reset();
      else if (k > 0) written += static_cast<size_t>(k);
    }
    if (pid_idx >= 0 && fds[pid_idx].revents) exited = true;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) res.exit_code = 128 + WTERMSIG(status);
  return res;
}

}  // namespace berth
