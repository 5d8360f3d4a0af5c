// Becoming a shim: re-exec from a sealed copy of our binary (exec puts processes into the
// container from a fork of us: CVE-2019-5736), fork so that the spawner reaps only the short-lived
// first process, new session, child subreaper (the container's init and exec processes come back
// to us when their runtime exits), stdio on /dev/null, errors to STATE_DIR/shim.log.
#include "shim/shim_main.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/json.h"
#include "base/log.h"
#include "base/syscalls.h"
#include "runtime/exe_seal.h"
#include "shim/protocol.h"
#include "shim/server.h"

extern char** environ;

namespace berth::shim {

int shim_main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] != '/') {
    std::fprintf(stderr, "usage: berth-shim STATE_DIR (absolute; started by berthd)\n");
    return 2;
  }
  std::string state_dir = argv[1];
  std::string seal_error;
  if (!runtime::exe_is_sealed())
    seal_error = runtime::reexec_sealed(argv, environ).message();  // returns only on failure
  pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid > 0) _exit(0);
  ::setsid();
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (::chdir("/") != 0) return 1;
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    if (null > 2) ::close(null);
  }
  // Nothing of the spawner's but the report pipe.
  sys::close_range(kReportFd + 1, ~0U, 0);
  ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  auto report = [&](const json::Json& j) {
    std::string line = json::dump(j) + "\n";
    (void)!::write(kReportFd, line.data(), line.size());
  };
  report({{"shim_pid", ::getpid()}});
  (void)log::configure(state_dir + "/" + kLogFile, log::Format::kText, false);
  if (!seal_error.empty()) log::error("running unsealed: " + seal_error);
  auto config = json::parse_file(state_dir + "/" + kConfigFile);
  Result<SpawnOptions> opts =
      config ? options_from_json(*config) : Result<SpawnOptions>(std::unexpected(config.error()));
  if (!opts) {
    report(error_to_json(opts.error()));
    return 1;
  }
  return run_shim(*opts, kReportFd);
}

}  // namespace berth::shim
