// create, start, run, kill, delete.
#include "base/strings.h"
#include "commands.h"
#include "runtime/security/signals.h"

namespace berth::cli {
namespace {

void add_create_options(CLI::App* sub, runtime::CreateOptions& o) {
  sub->add_option("-b,--bundle", o.bundle, "path to the root of the bundle directory");
  sub->add_option("--pid-file", o.pid_file, "file to write the process id to");
  sub->add_option("--console-socket", o.console_socket,
                  "path to an AF_UNIX socket which will receive the pty master");
  sub->add_flag("--no-pivot", o.no_pivot, "do not use pivot_root to jail the process");
  sub->add_flag("--no-new-keyring", o.no_new_keyring, "do not create a new session keyring");
  sub->add_option("--preserve-fds", o.preserve_fds, "pass N additional file descriptors")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--pidfd-socket", "unsupported: a pidfd is not sent");
  sub->add_option("id", o.id, "container id")->required();
}

}  // namespace

void add_lifecycle_commands(CLI::App& app, Context& ctx) {
  static runtime::CreateOptions create_opts;
  auto* create = app.add_subcommand("create", "create a container");
  add_create_options(create, create_opts);
  static bool create_detach = false;
  create->add_flag("-d,--detach", create_detach, "accepted for compatibility; create always detaches");
  create->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::create_container(ctx.global, create_opts));
      return 0;
    };
  });

  static std::string start_id;
  auto* start = app.add_subcommand("start", "executes the user defined process in a created container");
  start->add_option("id", start_id, "container id")->required();
  start->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::start_container(ctx.global, start_id));
      return 0;
    };
  });

  static runtime::CreateOptions run_opts;
  static bool run_detach = false;
  auto* run = app.add_subcommand("run", "create and run a container");
  add_create_options(run, run_opts);
  run->add_flag("-d,--detach", run_detach, "detach from the container's process");
  static bool run_keep = false, run_no_subreaper = false;
  run->add_flag("--keep", run_keep, "accepted for compatibility");
  run->add_flag("--no-subreaper", run_no_subreaper, "accepted for compatibility");
  run->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> { return runtime::run_container(ctx.global, run_opts, run_detach); };
  });

  static std::string kill_id, kill_signal = "SIGTERM";
  static bool kill_all = false;
  auto* kill = app.add_subcommand("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process");
  kill->add_flag("-a,--all", kill_all, "send the signal to all processes in the container");
  kill->add_option("id", kill_id, "container id")->required();
  kill->add_option("signal", kill_signal, "signal name or number");
  kill->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      auto sig = runtime::security::parse_signal(kill_signal);
      if (!sig) return make_error(ErrorCode::kInvalidArgument, "unknown signal \"" + kill_signal + "\"");
      TRY(runtime::kill_container(ctx.global, kill_id, *sig, kill_all));
      return 0;
    };
  });

  static std::string delete_id;
  static bool delete_force = false;
  auto* del = app.add_subcommand("delete", "delete any resources held by the container");
  del->add_flag("-f,--force", delete_force, "forcibly delete the container if it is still running (uses SIGKILL)");
  del->add_option("id", delete_id, "container id")->required();
  del->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      auto r = runtime::delete_container(ctx.global, delete_id, delete_force);
      // runc: --force on a container that does not exist is not an error.
      if (!r && !(delete_force && r.error().code() == ErrorCode::kNotFound))
        return std::unexpected(r.error());
      return 0;
    };
  });
}

}  // namespace berth::cli
