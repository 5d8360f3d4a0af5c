// exec, pause, resume, update.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <iterator>

#include "base/file.h"
#include "base/json.h"
#include "base/strings.h"
#include "commands.h"

namespace berth::cli {
namespace {

// "256m", "1G", "1048576" -> bytes (binary units, as runc's RAMInBytes); "-1" stays -1.
Result<int64_t> parse_bytes(const std::string& flag, const std::string& text) {
  if (text == "-1") return -1;
  std::string t(trim(text));
  int64_t mult = 1;
  while (!t.empty() && (t.back() == 'b' || t.back() == 'B')) t.pop_back();
  if (!t.empty()) {
    switch (t.back()) {
      case 'k': case 'K': mult = 1LL << 10; t.pop_back(); break;
      case 'm': case 'M': mult = 1LL << 20; t.pop_back(); break;
      case 'g': case 'G': mult = 1LL << 30; t.pop_back(); break;
      case 't': case 'T': mult = 1LL << 40; t.pop_back(); break;
      default: break;
    }
  }
  auto v = parse_int(t);
  if (!v || *v < 0)
    return make_error(ErrorCode::kInvalidArgument, flag + ": invalid size \"" + text + "\"");
  return *v * mult;
}

Result<int64_t> parse_number(const std::string& flag, const std::string& text) {
  auto v = parse_int(text);
  if (!v) return make_error(ErrorCode::kInvalidArgument, flag + ": invalid number \"" + text + "\"");
  return *v;
}

}  // namespace

void add_control_commands(CLI::App& app, Context& ctx) {
  static runtime::ExecOptions ex;
  static std::string process_file;
  auto* exec = app.add_subcommand("exec", "execute new process inside the container");
  exec->prefix_command();  // everything after the container id belongs to the process
  exec->add_option("--console-socket", ex.console_socket, "path to an AF_UNIX socket which will receive the pty master");
  exec->add_option("--cwd", ex.cwd, "current working directory in the container");
  exec->add_option("-e,--env", ex.env, "set environment variables")->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  exec->add_flag("-t,--tty", ex.tty, "allocate a pseudo-TTY");
  exec->add_option("-u,--user", ex.user, "UID (format: <uid>[:<gid>])");
  exec->add_option("-g,--additional-gids", ex.additional_gids, "additional gids")->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  exec->add_option("-p,--process", process_file, "path to the process.json");
  exec->add_flag("-d,--detach", ex.detach, "detach from the container's process");
  exec->add_option("--pid-file", ex.pid_file, "file to write the process id to");
  exec->add_option("--process-label", "set the asm process label (unsupported)");
  exec->add_option("--apparmor", "set the apparmor profile for the process");
  exec->add_flag("--no-new-privs", ex.no_new_privs, "set the no new privileges value for the process");
  exec->add_option("-c,--cap", ex.caps, "add a capability to the bounding set for the process")->expected(1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  exec->add_option("--preserve-fds", ex.preserve_fds, "pass N additional file descriptors")->check(CLI::NonNegativeNumber);
  exec->add_option("--cgroup", "run the process in a sub-cgroup (unsupported)");
  static bool ignore_paused = false;
  exec->add_flag("--ignore-paused", ignore_paused, "allow exec in a paused container");
  exec->callback([&ctx, exec] {
    ctx.action = [&ctx, exec]() -> Result<int> {
      auto rest = exec->remaining();
      if (rest.empty()) return make_error(ErrorCode::kInvalidArgument, "exec: container id is required");
      ex.id = rest[0];
      ex.args.assign(rest.begin() + 1, rest.end());
      if (!process_file.empty()) {
        ASSIGN_OR_RETURN(auto j, json::parse_file(process_file));
        auto p = oci::parse_process(j);
        if (!p) return std::unexpected(p.error().wrap(process_file));
        ex.process = std::move(*p);
      } else if (ex.args.empty()) {
        return make_error(ErrorCode::kInvalidArgument, "exec: args must not be empty");
      }
      return runtime::exec_in_container(ctx.global, ex);
    };
  });

  static std::string pause_id, resume_id;
  auto* pause = app.add_subcommand("pause", "pause suspends all processes inside the container");
  pause->add_option("id", pause_id, "container id")->required();
  pause->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::pause_container(ctx.global, pause_id));
      return 0;
    };
  });
  auto* resume = app.add_subcommand("resume", "resumes all processes that have been previously paused");
  resume->add_option("id", resume_id, "container id")->required();
  resume->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::resume_container(ctx.global, resume_id));
      return 0;
    };
  });

  static std::string up_id, up_resources, up_memory, up_swap, up_reservation, up_cpus, up_mems;
  static std::string up_quota, up_period, up_shares, up_pids;
  auto* update = app.add_subcommand("update", "update container resource constraints");
  update->add_option("-r,--resources", up_resources, "path to a file with LinuxResources JSON, or - for stdin");
  update->add_option("--memory", up_memory, "memory limit (in bytes, or with k/m/g)");
  update->add_option("--memory-swap", up_swap, "total memory usage (memory + swap); -1 for unlimited");
  update->add_option("--memory-reservation", up_reservation, "memory reservation or soft limit");
  update->add_option("--cpu-quota", up_quota, "CPU CFS quota in microseconds");
  update->add_option("--cpu-period", up_period, "CPU CFS period in microseconds");
  update->add_option("--cpu-share,--cpu-shares", up_shares, "CPU shares (relative weight)");
  update->add_option("--cpuset-cpus", up_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  update->add_option("--cpuset-mems", up_mems, "memory nodes in which to allow execution");
  update->add_option("--pids-limit", up_pids, "maximum number of pids allowed in the container");
  update->add_option("id", up_id, "container id")->required();
  update->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      oci::Resources r;
      if (!up_resources.empty()) {
        std::string text;
        if (up_resources == "-") {
          text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        } else {
          ASSIGN_OR_RETURN(text, read_file(up_resources));
        }
        ASSIGN_OR_RETURN(auto j, json::parse(text, up_resources == "-" ? "--resources (stdin)"
                                                                       : "--resources " + up_resources));
        auto parsed = oci::parse_resources(j);
        if (!parsed) return std::unexpected(parsed.error());
        r = std::move(*parsed);
      }
      auto mem = [&]() -> oci::MemoryResources& {
        if (!r.memory) r.memory.emplace();
        return *r.memory;
      };
      auto cpu = [&]() -> oci::CpuResources& {
        if (!r.cpu) r.cpu.emplace();
        return *r.cpu;
      };
      if (!up_memory.empty()) {
        ASSIGN_OR_RETURN(mem().limit, parse_bytes("--memory", up_memory));
      }
      if (!up_swap.empty()) {
        ASSIGN_OR_RETURN(mem().swap, parse_bytes("--memory-swap", up_swap));
      }
      if (!up_reservation.empty()) {
        ASSIGN_OR_RETURN(mem().reservation, parse_bytes("--memory-reservation", up_reservation));
      }
      if (!up_quota.empty()) {
        ASSIGN_OR_RETURN(cpu().quota, parse_number("--cpu-quota", up_quota));
      }
      if (!up_period.empty()) {
        ASSIGN_OR_RETURN(int64_t p, parse_number("--cpu-period", up_period));
        cpu().period = static_cast<uint64_t>(p);
      }
      if (!up_shares.empty()) {
        ASSIGN_OR_RETURN(int64_t s, parse_number("--cpu-share", up_shares));
        cpu().shares = static_cast<uint64_t>(s);
      }
      if (!up_cpus.empty()) cpu().cpus = up_cpus;
      if (!up_mems.empty()) cpu().mems = up_mems;
      if (!up_pids.empty()) {
        ASSIGN_OR_RETURN(int64_t p, parse_number("--pids-limit", up_pids));
        r.pids = oci::PidsResources{p};
      }
      TRY(runtime::update_container(ctx.global, up_id, r));
      return 0;
    };
  });
}

}  // namespace berth::cli
