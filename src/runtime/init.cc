// Container child set-up, in the order the kernel and the spec require:
//   wait for id maps + cgroup -> join/unshare namespaces -> hostname -> rootfs (mounts, /dev)
//   -> [parent: prestart, createRuntime hooks] -> createContainer hooks -> pivot_root
//   -> sysctl -> console -> masked/readonly paths -> cwd, executable lookup -> report created
//   -> wait for start -> startContainer hooks -> process attributes, user, caps, seccomp -> exec.
#include "runtime/init.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "base/file.h"
#include "base/path.h"
#include "base/syscalls.h"
#include "runtime/hooks.h"
#include "runtime/rootfs.h"
#include "runtime/security/security.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"

namespace berth::runtime {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string env_value(const std::vector<std::string>& env, const std::string& key) {
  for (auto& e : env)
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return e.substr(key.size() + 1);
  return {};
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

Result<> apply_sysctl(const std::map<std::string, std::string>& sysctl) {
  for (auto& [key, value] : sysctl) {
    std::string rel = key;
    for (char& c : rel)
      if (c == '.') c = '/';
    if (rel.find("..") != std::string::npos)
      return make_error(ErrorCode::kInvalidArgument, "linux.sysctl: invalid key \"" + key + "\"");
    auto r = write_file("/proc/sys/" + rel, value);
    if (!r) return std::unexpected(std::move(r).error().wrap("linux.sysctl." + key));
  }
  return {};
}

// HOME from the container's /etc/passwd when the config does not set it (runc does the same).
std::string home_for(uint32_t uid) {
  auto passwd = read_file("/etc/passwd");
  if (!passwd) return "/";
  size_t i = 0;
  while (i < passwd->size()) {
    size_t j = passwd->find('\n', i);
    if (j == std::string::npos) j = passwd->size();
    std::string line = passwd->substr(i, j - i);
    i = j + 1;
    // name:x:uid:gid:gecos:home:shell
    size_t f[6];
    size_t pos = 0;
    int n = 0;
    for (; n < 6; ++n) {
      pos = line.find(':', pos);
      if (pos == std::string::npos) break;
      f[n] = pos++;
    }
    if (n < 6) continue;
    if (line.substr(f[1] + 1, f[2] - f[1] - 1) == std::to_string(uid))
      return line.substr(f[4] + 1, f[5] - f[4] - 1);
  }
  return "/";
}

Result<> verify_cwd() {
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) {
    if (errno == ENOENT)
      return make_error(ErrorCode::kPermissionDenied,
                        "current working directory is outside of container mount namespace "
                        "root -- possible container breakout detected");
    return errno_error("getcwd");
  }
  if (buf[0] != '/')
    return make_error(ErrorCode::kPermissionDenied,
                      "current working directory is outside of container mount namespace root "
                      "-- possible container breakout detected");
  return {};
}

}  // namespace

std::string find_executable(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? name : "";
  std::string path = env_value(env, "PATH");
  if (path.empty()) path = kDefaultPath;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    i = j + 1;
  }
  return "";
}

// runc's (Go exec.LookPath's) wording, which callers such as the docker CLI map to exit codes:
// a missing path is 127 ("no such file or directory"), a directory or non-executable file 126
// ("permission denied"), a bare name not on PATH 127.
static Error lookup_error(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    struct stat st {};
    if (::stat(name.c_str(), &st) != 0) {
      std::string why = std::strerror(errno);  // Go's wording is lowercase
      if (!why.empty())
        why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
      return Error(ErrorCode::kNotFound, "exec: \"" + name + "\": stat " + name + ": " + why);
    }
    return Error(ErrorCode::kPermissionDenied, "exec: \"" + name + "\": permission denied");
  }
  return Error(ErrorCode::kNotFound, "exec: \"" + name + "\": executable file not found in $PATH");
}

bool has_seccomp_listener(const security::PreparedSecurity& prepared) {
  return (prepared.seccomp.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0;
}

Result<> apply_process_security(const oci::Process& p, const oci::Linux* linux,
                                const security::PreparedSecurity& prepared, int sync_fd) {
  ASSIGN_OR_RETURN(UniqueFd listener, security::apply_security(p, linux, prepared));
  if (listener) TRY_CTX(send_fd(sync_fd, listener.get(), "seccomp"), "linux.seccomp.listenerPath");
  return {};
}

Error exec_process(const oci::Process& p, int preserve_fds) {
  std::vector<std::string> env = p.env;
  if (env_value(env, "HOME").empty()) env.push_back("HOME=" + home_for(p.user.uid));
  std::string exe = find_executable(p.args[0], env);
  if (exe.empty()) return lookup_error(p.args[0]);
  // Nothing of the runtime's may reach the container: mark every fd past the preserved ones
  // close-on-exec (CVE-2024-21626); the sync socket stays usable if execve fails.
  sys::close_range(static_cast<unsigned>(3 + preserve_fds), ~0U, CLOSE_RANGE_CLOEXEC);
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  ::signal(SIGPIPE, SIG_DFL);

  std::vector<char*> argv, envp;
  for (auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(exe.c_str(), argv.data(), envp.data());
  int e = errno;
  return Error::from_errno(e, "exec " + p.args[0]);
}

void run_init(const InitConfig& cfg) {
  const oci::Spec& spec = *cfg.spec;
  const oci::Process& proc = *spec.process;
  int sync = cfg.sync_fd;
  auto check = [&](Result<> r, const char* ctx = nullptr) {
    if (!r) child_fail(sync, ctx ? std::move(r).error().wrap(ctx) : std::move(r).error());
  };

  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto go = sync_expect(sync, SyncType::kGo);
  if (!go) _exit(1);  // parent gone
  const std::string state_json = go->payload;

  if (cfg.new_userns) {
    if (::setresgid(0, 0, 0) != 0) child_fail(sync, Error::last("setresgid in user namespace"));
    if (::setresuid(0, 0, 0) != 0) child_fail(sync, Error::last("setresuid in user namespace"));
  }
  for (int fd : cfg.join_ns_fds)
    if (::setns(fd, 0) != 0) child_fail(sync, Error::last("join namespace"));
  if (cfg.unshare_after_join && ::unshare(cfg.unshare_after_join) != 0)
    child_fail(sync, Error::last("unshare namespaces"));

  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    child_fail(sync, Error::last("hostname: sethostname"));
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
    child_fail(sync, Error::last("domainname: setdomainname"));

  RootfsOptions ropts;
  ropts.rootfs = cfg.rootfs;
  ropts.no_pivot = cfg.no_pivot;
  ropts.in_user_namespace = cfg.new_userns;
  ropts.cgroup_path = cfg.cgroup_path;
  ropts.cgroup_dirs = cfg.cgroup_dirs;
  check(prepare_rootfs(spec, ropts));

  if (cfg.parent_hooks) {
    check(sync_send(sync, SyncType::kPrestart));
    auto done = sync_expect(sync, SyncType::kHooksDone);
    if (!done) _exit(1);
  }
  check(run_hooks(spec.hooks.create_container, "createContainer", state_json));
  check(enter_rootfs(ropts));
  if (spec.linux) check(apply_sysctl(spec.linux->sysctl));

  if (proc.terminal && (cfg.console_sock >= 0 || cfg.proxy_console)) {
    bool has_devpts = false;
    for (auto& m : spec.mounts)
      if (m.type == "devpts") has_devpts = true;
    auto master = setup_console(cfg.console_sock, proc, has_devpts);
    if (!master) child_fail(sync, master.error().wrap("console"));
    if (cfg.proxy_console) check(send_fd(sync, master->get(), "console"), "console");
    if (cfg.console_sock >= 0) ::close(cfg.console_sock);
  }
  check(finalize_rootfs(spec));

  if (::chdir(proc.cwd.c_str()) != 0)
    child_fail(sync, Error::last("chdir to cwd (\"" + proc.cwd + "\") set in config.json failed"));
  check(verify_cwd());
  {
    std::vector<std::string> env = proc.env;
    if (find_executable(proc.args[0], env).empty()) child_fail(sync, lookup_error(proc.args[0]));
  }
  if (!cfg.no_new_keyring) {
    // A fresh session keyring, so containers do not share the host's (runc does the same).
    ::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "_ses");
  }

  const oci::Linux* linux = spec.linux ? &*spec.linux : nullptr;
  // A seccomp listener fd must reach the parent while it still listens: with SCMP_ACT_NOTIFY the
  // security layer goes in now, before the start gate (runc loads seccomp before it too).
  bool early_security = has_seccomp_listener(*cfg.security);
  if (early_security) check(apply_process_security(proc, linux, *cfg.security, sync));
  // create: the parent exits as soon as it hears kCreated, so stop dying with it first.
  if (cfg.fifo_fd >= 0) ::prctl(PR_SET_PDEATHSIG, 0);
  check(sync_send(sync, SyncType::kCreated));
  if (cfg.fifo_fd >= 0) {
    // Block until `start` writes to the exec FIFO.
    ::close(sync);
    sync = -1;
    char c;
    ssize_t n;
    do {
      n = ::read(cfg.fifo_fd, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(1);
    // The FIFO stays open until execve closes it: `start` waits for that to return.
  } else {
    auto start = sync_expect(sync, SyncType::kStart);
    if (!start) _exit(1);
    // Started: the container outlives the runtime (run -d exits, a killed run leaves it).
    ::prctl(PR_SET_PDEATHSIG, 0);
  }
  if (!spec.hooks.start_container.empty()) {
    std::string created = state_json;
    auto pos = created.find("\"status\":\"creating\"");
    if (pos != std::string::npos) created.replace(pos, 19, "\"status\":\"created\"");
    check(run_hooks(spec.hooks.start_container, "startContainer", created));
  }
  if (!early_security) check(apply_process_security(proc, linux, *cfg.security, sync));
  child_fail(sync, exec_process(proc, cfg.preserve_fds));
}

}  // namespace berth::runtime
