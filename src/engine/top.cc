// top_processes: ps is run directly (fork/exec with pipes, no shell) so that its whole stdout is
// read, however many processes the host has; stderr is kept apart for the error message.
#include "engine/top.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <regex>

#include "base/strings.h"
#include "base/unique_fd.h"

namespace berth::engine {

namespace {

// ASCII-whitespace fields (moby's fieldsASCII: unicode spaces in commands stay inside fields).
std::vector<std::string> fields_ascii(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string find_ps() {
  for (const char* p : {"/usr/bin/ps", "/bin/ps", "/usr/local/bin/ps"})
    if (::access(p, X_OK) == 0) return p;
  return "ps";
}

struct Run {
  int status = 0;
  std::string out, err;
};

Result<Run> run_capture(const std::vector<std::string>& argv) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return errno_error("ps: pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return errno_error("ps: pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  static char kPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  static char kLang[] = "LC_ALL=C";
  char* env[] = {kPath, kLang, nullptr};
  pid_t pid = ::fork();
  if (pid < 0) return errno_error("ps: fork");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    ::execve(args[0], args.data(), env);
    ::_exit(127);
  }
  out_w.reset();
  err_w.reset();
  Run r;
  struct pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = status;
  return r;
}

bool ok(const Run& r) {
  return WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
}

}  // namespace

Result<json::Json> parse_ps_output(const std::string& output, const std::vector<pid_t>& pids) {
  auto lines = split(output, '\n');
  json::Json titles = json::Json::array();
  std::vector<std::string> t = lines.empty() ? std::vector<std::string>{} : fields_ascii(lines[0]);
  for (const auto& s : t) titles.push_back(s);
  auto it = std::find(t.begin(), t.end(), "PID");
  if (it == t.end())
    return make_error(ErrorCode::kInternal, "Couldn't find PID field in ps output");
  size_t pid_index = static_cast<size_t>(it - t.begin());
  json::Json procs = json::Json::array();
  auto append = [&](const std::vector<std::string>& f) {
    // As many columns as titles: the overhanging fields (the command's words) join the last.
    json::Json row = json::Json::array();
    for (size_t i = 0; i + 1 < t.size() && i < f.size(); ++i) row.push_back(f[i]);
    std::string last;
    for (size_t i = t.size() - 1; i < f.size(); ++i) last += (last.empty() ? "" : " ") + f[i];
    row.push_back(last);
    procs.push_back(std::move(row));
  };
  bool previous_kept = false;  // thread rows ("-" PID, ps -m) follow their process
  for (size_t l = 1; l < lines.size(); ++l) {
    if (lines[l].empty()) continue;
    auto f = fields_ascii(lines[l]);
    if (f.size() <= pid_index) continue;
    if (f[pid_index] == "-") {
      if (previous_kept) append(f);
      continue;
    }
    auto p = parse_int(f[pid_index]);
    if (!p) return make_error(ErrorCode::kInternal, "Unexpected pid '" + f[pid_index] + "'");
    previous_kept = std::find(pids.begin(), pids.end(), static_cast<pid_t>(*p)) != pids.end();
    if (previous_kept) append(f);
  }
  return json::Json{{"Titles", titles}, {"Processes", procs}};
}

Result<json::Json> top_processes(const std::vector<pid_t>& pids, const std::string& ps_args) {
  std::string args_text = ps_args.empty() ? "-ef" : ps_args;
  // docker refuses output formats that rename another column to PID (e.g. -o user=PID).
  static const std::regex kRenamed(R"(\s+(\S*)=\s*(PID\S*))");
  std::string padded = " " + args_text;
  for (std::sregex_iterator m(padded.begin(), padded.end(), kRenamed), end; m != end; ++m)
    if ((*m)[1].str() != "pid")
      return make_error(ErrorCode::kInvalidArgument, "specifying \"" + (*m)[1].str() + "=" +
                                                         (*m)[2].str() + "\" is not allowed");
  std::vector<std::string> argv = {find_ps()};
  for (const auto& a : fields_ascii(args_text)) argv.push_back(a);
  Run r;
  bool have = false;
  if (!pids.empty()) {
    std::string list;
    for (pid_t p : pids) list += (list.empty() ? "" : ",") + std::to_string(p);
    auto with_q = argv;
    with_q.push_back("-q");
    with_q.push_back(list);
    ASSIGN_OR_RETURN(r, run_capture(with_q));
    have = ok(r);
  }
  if (!have) {  // some options (f) cannot be combined with -q
    ASSIGN_OR_RETURN(r, run_capture(argv));
    if (!ok(r)) {
      std::string first = r.err.substr(0, r.err.find('\n'));
      return make_error(
          ErrorCode::kInternal,
          "ps: " +
              (first.empty() ? "exit status " + std::to_string(WEXITSTATUS(r.status)) : first));
    }
  }
  return parse_ps_output(r.out, pids);
}

}  // namespace berth::engine
