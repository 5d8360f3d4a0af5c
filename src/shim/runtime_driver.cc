// The two RuntimeDrivers. InProcessRuntime calls berth::runtime directly: the container's init is
// cloned from the shim and inherits its 0/1/2, so the stdio pipes are dup2'd there for the
// duration of create. ExternalRuntime runs `<runtime> --root R --log L --log-format json <cmd>`
// and takes a failure's message from the last error in that log, as containerd does with runc.
#include "shim/runtime_driver.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "base/file.h"
#include "base/strings.h"
#include "oci/spec.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace berth::shim {
namespace {

// Points 0/1/2 at stdio and back at /dev/null when destroyed.
class StdioSwap {
 public:
  explicit StdioSwap(const Stdio& s) {
    if (s.in >= 0) ::dup2(s.in, 0);
    if (s.out >= 0) ::dup2(s.out, 1);
    if (s.err >= 0) ::dup2(s.err, 2);
  }
  ~StdioSwap() {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return;
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    ::close(null);
  }
};

Result<pid_t> read_pid_file(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto pid = parse_int(trim(text));
  if (!pid || *pid <= 0)
    return make_error(ErrorCode::kInternal, "pid file " + path + ": bad content");
  return static_cast<pid_t>(*pid);
}

std::map<std::string, std::string> state_cgroup_paths(const std::string& root,
                                                      const std::string& id) {
  // berth's and runc's state.json both record "cgroup_paths".
  auto j = json::parse_file(runtime::state_dir(root, id) + "/state.json");
  std::map<std::string, std::string> out;
  if (!j || !j->is_object() || !j->contains("cgroup_paths")) return out;
  for (auto& [k, v] : (*j)["cgroup_paths"].items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

class InProcessRuntime : public RuntimeDriver {
 public:
  explicit InProcessRuntime(const SpawnOptions& o) : id_(o.id), bundle_(o.bundle) {
    g_.root = o.runtime_root;
  }

  Result<pid_t> create(const Stdio& stdio, const std::string& console_socket) override {
    runtime::CreateOptions co;
    co.id = id_;
    co.bundle = bundle_;
    co.console_socket = console_socket;
    Result<> r;
    {
      StdioSwap swap(stdio);
      r = runtime::create_container(g_, co);
    }
    (void)::chdir("/");  // create works from the bundle directory
    if (!r) return std::unexpected(r.error());
    ASSIGN_OR_RETURN(runtime::ContainerState s, runtime::load_state(g_.root, id_));
    return s.init_pid;
  }
  Result<> start() override { return runtime::start_container(g_, id_); }
  Result<> kill(int sig, bool all) override { return runtime::kill_container(g_, id_, sig, all); }
  Result<> pause() override { return runtime::pause_container(g_, id_); }
  Result<> resume() override { return runtime::resume_container(g_, id_); }
  Result<> destroy() override { return runtime::delete_container(g_, id_, true); }

  Result<pid_t> exec(const json::Json& process, const std::string& console_socket,
                     const std::string& pid_file) override {
    ASSIGN_OR_RETURN(oci::Process p, oci::parse_process(process));
    runtime::ExecOptions eo;
    eo.id = id_;
    eo.process = std::move(p);
    eo.detach = true;
    eo.console_socket = console_socket;
    eo.pid_file = pid_file;
    TRY(runtime::exec_in_container(g_, eo));
    return read_pid_file(pid_file);
  }

  std::map<std::string, std::string> cgroup_paths() override {
    return state_cgroup_paths(g_.root, id_);
  }

 private:
  runtime::GlobalOptions g_;
  std::string id_, bundle_;
};

class ExternalRuntime : public RuntimeDriver {
 public:
  explicit ExternalRuntime(const SpawnOptions& o)
      : binary_(o.runtime),
        root_(o.runtime_root),
        id_(o.id),
        bundle_(o.bundle),
        state_dir_(o.state_dir) {}

  Result<pid_t> create(const Stdio& stdio, const std::string& console_socket) override {
    std::string pid_file = state_dir_ + "/init.pid";
    std::vector<std::string> args = {"create", "--bundle", bundle_, "--pid-file", pid_file};
    if (!console_socket.empty()) args.insert(args.end(), {"--console-socket", console_socket});
    args.push_back(id_);
    TRY(run(args, stdio));
    return read_pid_file(pid_file);
  }
  Result<> start() override { return run({"start", id_}); }
  Result<> kill(int sig, bool all) override {
    std::vector<std::string> args = {"kill"};
    if (all) args.push_back("--all");
    args.insert(args.end(), {id_, std::to_string(sig)});
    return run(args);
  }
  Result<> pause() override { return run({"pause", id_}); }
  Result<> resume() override { return run({"resume", id_}); }
  Result<> destroy() override { return run({"delete", "--force", id_}); }

  Result<pid_t> exec(const json::Json& process, const std::string& console_socket,
                     const std::string& pid_file) override {
    std::string process_file = pid_file + ".process.json";
    TRY(write_file_atomic(process_file, json::dump(process), 0600, false));
    std::vector<std::string> args = {"exec",   "--detach",  "--pid-file",
                                     pid_file, "--process", process_file};
    if (!console_socket.empty()) args.insert(args.end(), {"--console-socket", console_socket});
    args.push_back(id_);
    auto r = run(args, Stdio{0, 1, 2});
    ::unlink(process_file.c_str());
    TRY(r);
    return read_pid_file(pid_file);
  }

  std::map<std::string, std::string> cgroup_paths() override {
    return state_cgroup_paths(root_, id_);
  }

 private:
  // Runs the runtime with stdio (default: the shim's own /dev/null) and waits for it.
  Result<> run(const std::vector<std::string>& cmd, const Stdio& stdio = {}) {
    std::string log = state_dir_ + "/runtime-" + std::to_string(::getpid()) + ".log";
    ::unlink(log.c_str());
    std::vector<std::string> args = {binary_, "--root",       root_, "--log",
                                     log,     "--log-format", "json"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return errno_error("fork " + binary_);
    if (pid == 0) {
      if (stdio.in >= 0 && stdio.in != 0) ::dup2(stdio.in, 0);
      if (stdio.out >= 0 && stdio.out != 1) ::dup2(stdio.out, 1);
      if (stdio.err >= 0 && stdio.err != 2) ::dup2(stdio.err, 2);
      ::signal(SIGPIPE, SIG_DFL);
      ::signal(SIGCHLD, SIG_DFL);
      ::execv(binary_.c_str(), argv.data());
      _exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string msg;
    if (auto text = read_file(log)) {
      for (const std::string& line : split(*text, '\n')) {
        auto j = json::parse(line, "runtime log");
        if (j && j->is_object() && j->value("level", "") == "error") msg = j->value("msg", "");
      }
    }
    ::unlink(log.c_str());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (msg.empty()) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        msg = "exec " + binary_ + ": no such file or directory";
      else
        msg = binary_ + " " + cmd[0] + " failed: exit status " +
              std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
    ErrorCode code = ErrorCode::kInternal;
    if (msg.find("executable file not found") != std::string::npos ||
        msg.find("no such file or directory") != std::string::npos ||
        msg.find("does not exist") != std::string::npos)
      code = ErrorCode::kNotFound;
    else if (msg.find("permission denied") != std::string::npos)
      code = ErrorCode::kPermissionDenied;
    return make_error(code, msg);
  }

  std::string binary_, root_, id_, bundle_, state_dir_;
};

}  // namespace

std::unique_ptr<RuntimeDriver> make_runtime_driver(const SpawnOptions& o) {
  if (o.runtime.empty()) return std::make_unique<InProcessRuntime>(o);
  return std::make_unique<ExternalRuntime>(o);
}

int64_t read_oom_kills(const std::map<std::string, std::string>& cgroup_paths) {
  auto field = [](const std::string& file) -> int64_t {
    auto text = read_file(file);
    if (!text) return -1;
    for (const std::string& line : split(*text, '\n')) {
      if (!starts_with(line, "oom_kill ")) continue;
      auto n = parse_int(trim(std::string_view(line).substr(9)));
      return n ? *n : -1;
    }
    return -1;
  };
  if (auto it = cgroup_paths.find("memory"); it != cgroup_paths.end()) {
    int64_t n = field(it->second + "/memory.oom_control");
    if (n < 0) n = field(it->second + "/memory.events");
    if (n >= 0) return n;
  }
  for (auto& [key, dir] : cgroup_paths) {
    int64_t n = field(dir + "/memory.events");
    if (n >= 0) return n;
  }
  return 0;
}

}  // namespace berth::shim
